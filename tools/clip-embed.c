/* clip-embed - images and text prompts -> CLIP embeddings; zero-shot classification.
 *
 * Images: each FILE (or stdin, "-") is a PNG stream (one or more PNGs back to
 * back, as rasterize writes) or a single JPEG/PNG file.  Every image is
 * preprocessed (--preprocess: CLIP's resize-shorter-side + centre crop, the
 * optimiser's normalise-only, or the study's squash for reference images),
 * embedded by the image tower in batches, and written as one NDJSON line:
 *   {"id":..,"key_id":..,"word":..,"file":..,"index":N,"model":..,"dim":D,"embedding":[..]}
 * (key_id and word come from the PNG's text chunks; embeddings are unit
 * vectors unless --raw; with --precision bf16 the image tower's matrix
 * products run in bfloat16 and each image line says "precision":"bf16"
 * after "model").  Text: --text/--text-file prompts give
 *   {"text":..,"model":..,"dim":D,"embedding":[..]}
 * Zero-shot (--zero-shot WORD,... or --zero-shot-file): each class's text
 * embedding is the study's ensemble (the mean of the unit embeddings of its
 * prompt templates, renormalised); each image gets its top-k classes by
 * cosine similarity instead of its embedding, and when images carry their
 * word, the rank of the true class, and a per-class and overall top-1 and
 * top-5 accuracy summary goes to stderr (and to --summary FILE as JSON).
 *
 * The model: --model FILE, or with no --model the default of clip_model.h
 * ($INVCLIP_MODEL, else the shipped sketch-domain CLIP), announced once on
 * stderr.
 *
 * The model runs on one pool of -j threads (default: every online core),
 * created here and lent to CLIP.  It does not render sketches (rasterize
 * does) and does not train.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "clip_model.h"
#include "imgprep.h"
#include "input.h"
#include "jpeg_io.h"
#include "cli.h"
#include "png_io.h"
#include "pool.h"
#include "util.h"

/* The study's zero-shot templates (docs/study.md 3.3), "{}" = the class. */
static const char *default_templates[] = {"{}", "a sketch of a {}", "a line drawing of a {}",
                                          "a simple doodle of a {}", "an outline of a {}"};

typedef struct {
    const char *model, *vocab, *preprocess, *summary, *text_file, *zs_file, *heads, *precision, *gemm;
    strlist_t texts, zs, templates;
    int batch, threads, topk, raw, progress, keep_going;
} opts_t;

typedef struct {
    char *id, *key_id, *word, *file;
    long index;
} meta_t;

typedef struct {
    const opts_t *o;
    clip_model_t cm;
    int S, E, mode;
    imgprep_t prep;
    float *batch_img, *emb, *unit, *norm; /* (B,3,S,S), (B,E) x2, (B) */
    meta_t *meta;
    int nb;
    /* zero-shot */
    int nclass;
    const char **cls;
    float *cls_emb; /* (nclass, E) unit */
    float *scores;                          /* (nclass) one image's cosine similarities */
    long *correct, *correct5, *total, n_correct, n_correct5, n_total, n_unlabelled;
    progress_t prog;
    long nimages, nskipped;
    buf_t out;
} ctx_t;

static void put_vec(buf_t *b, const float *v, int n) {
    char tmp[32];
    buf_put(b, "[", 1);
    for (int i = 0; i < n; i++) {
        int k = snprintf(tmp, sizeof tmp, i ? ",%.7g" : "%.7g", (double)v[i]);
        buf_put(b, tmp, (size_t)k);
    }
    buf_put(b, "]", 1);
}

static void emit(ctx_t *c) {
    fwrite(c->out.s, 1, c->out.len, stdout);
    c->out.len = 0;
    fflush(stdout);
}

static int check_finite(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

/* Text embeddings of n prompts into out (n,E): unit vectors, or raw when !unit. */
static void embed_texts(ctx_t *c, const char *const *texts, int n, int unit, float *out) {
    err_t e = {0};
    if (clip_embed_texts(&c->cm, texts, n, !unit, out, &e)) die_err(&e);
}

static char *fill_template(const char *tpl, const char *word) {
    const char *at = strstr(tpl, "{}");
    buf_t b = {0};
    if (!at) buf_puts(&b, tpl);
    else {
        buf_put(&b, tpl, (size_t)(at - tpl));
        buf_puts(&b, word);
        buf_puts(&b, at + 2);
    }
    return b.s;
}

/* The class embeddings: mean of the unit prompt embeddings, renormalised. */
static void build_classes(ctx_t *c) {
    const strlist_t *tl = &c->o->templates;
    int nt = tl->n ? tl->n : (int)(sizeof default_templates / sizeof *default_templates);
    const char *const *tv = tl->n ? tl->v : default_templates;
    c->cls_emb = xcalloc((size_t)c->nclass * (size_t)c->E, sizeof(float));
    float *pe = xmalloc(sizeof(float) * (size_t)nt * (size_t)c->E), nrm;
    char **prompts = xmalloc(sizeof(char *) * (size_t)nt);
    for (int k = 0; k < c->nclass; k++) {
        for (int t = 0; t < nt; t++) prompts[t] = fill_template(tv[t], c->cls[k]);
        embed_texts(c, (const char *const *)prompts, nt, 1, pe); /* ensembling uses unit vectors */
        float *ce = c->cls_emb + (size_t)k * c->E;
        for (int t = 0; t < nt; t++)
            for (int i = 0; i < c->E; i++) ce[i] += pe[(size_t)t * c->E + i] / (float)nt;
        clip_normalize_forward(ce, &nrm, ce, 1, c->E);
        for (int t = 0; t < nt; t++) free(prompts[t]);
    }
    free(prompts);
    free(pe);
    c->correct = xcalloc((size_t)c->nclass, sizeof(long));
    c->correct5 = xcalloc((size_t)c->nclass, sizeof(long));
    c->scores = xmalloc(sizeof(float) * (size_t)c->nclass);
    c->total = xcalloc((size_t)c->nclass, sizeof(long));
}

static void meta_free(meta_t *m) {
    free(m->id); free(m->key_id); free(m->word); free(m->file);
    memset(m, 0, sizeof *m);
}

/* Embed and write the images collected so far. */
static void flush_batch(ctx_t *c) {
    if (!c->nb) return;
    err_t e = {0};
    int B = c->nb, E = c->E;
    if (clip_image_forward(&c->cm.m, c->batch_img, B, c->emb, &e)) die_err(&e);
    for (int b = 0; b < B; b++) {
        meta_t *mt = &c->meta[b];
        float *raw = c->emb + (size_t)b * E, *u = c->unit + (size_t)b * E;
        if (!check_finite(raw, (size_t)E)) die(EXIT_NUMERIC, "%s: image %ld: the embedding is not finite", mt->file, mt->index);
        clip_normalize_forward(u, &c->norm[b], raw, 1, E);
        buf_t *o = &c->out;
        buf_puts(o, "{\"id\":");
        buf_jstr(o, mt->id);
        if (mt->key_id) { buf_puts(o, ",\"key_id\":"); buf_jstr(o, mt->key_id); }
        if (mt->word) { buf_puts(o, ",\"word\":"); buf_jstr(o, mt->word); }
        buf_puts(o, ",\"file\":");
        buf_jstr(o, mt->file);
        buf_printf(o, ",\"index\":%ld,\"model\":", mt->index);
        buf_jstr(o, c->cm.name);
        if (c->cm.m.bf16) buf_puts(o, ",\"precision\":\"bf16\"");
        else if (c->cm.m.f32pack) buf_puts(o, ",\"gemm\":\"packed\"");
        if (c->nclass) {
            /* top-k by cosine similarity */
            int k = c->o->topk < c->nclass ? c->o->topk : c->nclass;
            int best[64];
            float sc[64];
            int nbest = 0;
            for (int j = 0; j < c->nclass; j++) {
                float s = 0;
                for (int i = 0; i < E; i++) s += u[i] * c->cls_emb[(size_t)j * E + i];
                c->scores[j] = s;
                int pos = nbest < k ? nbest++ : k;
                if (pos == k && s <= sc[k - 1]) continue;
                if (pos == k) pos = k - 1;
                while (pos > 0 && sc[pos - 1] < s) {
                    sc[pos] = sc[pos - 1];
                    best[pos] = best[pos - 1];
                    pos--;
                }
                sc[pos] = s;
                best[pos] = j;
            }
            buf_puts(o, ",\"top\":[");
            for (int j = 0; j < nbest; j++) {
                buf_puts(o, j ? ",{\"label\":" : "{\"label\":");
                buf_jstr(o, c->cls[best[j]]);
                buf_printf(o, ",\"score\":%.6f}", (double)sc[j]);
            }
            buf_puts(o, "],\"pred\":");
            buf_jstr(o, c->cls[best[0]]);
            if (mt->word) {
                int truth = -1;
                for (int j = 0; j < c->nclass; j++)
                    if (!strcmp(c->cls[j], mt->word)) truth = j;
                if (truth >= 0) {
                    /* the true class's rank in the order of the top list:
                     * higher score first, the earlier class on a tie */
                    int rank = 0;
                    float st = c->scores[truth];
                    for (int j = 0; j < c->nclass; j++) rank += c->scores[j] > st || (j < truth && c->scores[j] == st);
                    int ok = rank == 0, ok5 = rank < 5;
                    c->total[truth]++;
                    c->correct[truth] += ok;
                    c->correct5[truth] += ok5;
                    c->n_total++;
                    c->n_correct += ok;
                    c->n_correct5 += ok5;
                    buf_printf(o, ",\"correct\":%s,\"correct5\":%s,\"rank\":%d", ok ? "true" : "false",
                               ok5 ? "true" : "false", rank + 1);
                } else {
                    c->n_unlabelled++;
                }
            } else {
                c->n_unlabelled++;
            }
        } else {
            buf_printf(o, ",\"dim\":%d,\"embedding\":", E);
            put_vec(o, c->o->raw ? raw : u, E);
        }
        buf_puts(o, "}\n");
        emit(c);
        meta_free(mt);
    }
    c->nb = 0;
}

static void add_image(ctx_t *c, const image_t *im, const pngtext_t *text, const char *file, long index) {
    err_t e = {0};
    size_t per = (size_t)3 * c->S * c->S;
    if (imgprep_run(&c->prep, im, c->S, c->mode, 1, c->batch_img + (size_t)c->nb * per, &e)) {
        if (!c->o->keep_going) die(e.code, "%s: image %ld: %s", file, index, e.msg);
        warn("%s: image %ld: %s (skipped)", file, index, e.msg);
        c->nskipped++;
        return;
    }
    meta_t *mt = &c->meta[c->nb];
    const char *kid = text ? pngtext_get(text, "key_id") : NULL;
    const char *word = text ? pngtext_get(text, "word") : NULL;
    mt->key_id = kid ? xstrdup(kid) : NULL;
    mt->word = word ? xstrdup(word) : NULL;
    mt->file = xstrdup(file);
    mt->index = index;
    if (kid) mt->id = xstrdup(kid);
    else {
        buf_t b = {0};
        buf_printf(&b, "%s#%ld", file, index);
        mt->id = b.s;
    }
    c->nimages++;
    progress_tick(&c->prog, c->nimages);
    if (++c->nb == c->o->batch) flush_batch(c);
}

/* One input: a PNG stream (one or more PNGs) or a single JPEG. */
static void read_input(ctx_t *c, const char *path) {
    err_t e = {0};
    unsigned char magic[4] = {0};
    int is_jpeg = 0;
    if (strcmp(path, "-")) {
        FILE *f = fopen(path, "rb");
        if (!f) die(EXIT_IO, "%s: cannot open: %s", path, strerror(errno));
        size_t n = fread(magic, 1, 4, f);
        fclose(f);
        is_jpeg = n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF;
    }
    if (is_jpeg) {
        image_t im = {0};
        if (image_load(path, &im, &e)) {
            if (!c->o->keep_going) die_err(&e);
            warn("%s (skipped)", e.msg);
            c->nskipped++;
            return;
        }
        add_image(c, &im, NULL, path, 1);
        image_free(&im);
        return;
    }
    pngstream_t *ps = pngs_open(path, &e);
    if (!ps) die_err(&e);
    image_t im = {0};
    pngtext_t text = {0};
    int r;
    long got = 0;
    while ((r = pngs_next(ps, &im, &text, &e)) == 1) {
        add_image(c, &im, &text, pngs_name(ps), pngs_index(ps));
        got++;
    }
    if (r < 0) {
        /* a damaged PNG stream cannot be resynchronised: what came before is kept */
        flush_batch(c);
        die_err(&e);
    }
    /* A named file was meant to hold an image; an empty stdin is an empty
     * stream (an upstream filter that selected nothing). */
    if (!got && strcmp(path, "-")) {
        err_set(&e, EXIT_DATA, "%s: no image in the file (empty, or not a PNG or JPEG)", path);
        if (!c->o->keep_going) {
            flush_batch(c);
            die_err(&e);
        }
        warn("%s (skipped)", e.msg);
        c->nskipped++;
    }
    image_free(&im);
    pngtext_free(&text);
    pngs_close(ps);
}

static void read_lines(const char *path, strlist_t *l) {
    err_t e = {0};
    input_t *in = in_open(path, &e);
    if (!in) die_err(&e);
    char *line;
    size_t len;
    int r;
    while ((r = in_getline(in, &line, &len, &e)) == 1)
        if (len) strlist_push(l, xstrdup(line));
    if (r < 0) die_err(&e);
    in_close(in);
}

static double frac(long a, long b) { return b ? (double)a / (double)b : 0; }

/* Top-1 and top-5 accuracy, overall and per class, on stderr and in --summary. */
static void print_summary(ctx_t *c) {
    if (!c->nclass || !c->n_total) return;
    fprintf(stderr, "%s: zero-shot top-1: %.4f (%ld/%ld), top-5: %.4f (%ld/%ld)", progname,
            frac(c->n_correct, c->n_total), c->n_correct, c->n_total, frac(c->n_correct5, c->n_total), c->n_correct5,
            c->n_total);
    if (c->n_unlabelled) fprintf(stderr, "; %ld images without a known word not scored", c->n_unlabelled);
    fputc('\n', stderr);
    for (int k = 0; k < c->nclass; k++)
        if (c->total[k])
            fprintf(stderr, "  %-24s top-1 %.4f (%ld/%ld)  top-5 %.4f (%ld/%ld)\n", c->cls[k],
                    frac(c->correct[k], c->total[k]), c->correct[k], c->total[k], frac(c->correct5[k], c->total[k]),
                    c->correct5[k], c->total[k]);
    if (c->o->summary) {
        buf_t b = {0};
        buf_puts(&b, "{\"model\":");
        buf_jstr(&b, c->cm.name);
        buf_printf(&b,
                   ",\"top1\":%.6f,\"top5\":%.6f,\"correct\":%ld,\"correct5\":%ld,\"total\":%ld,\"unscored\":%ld,"
                   "\"nclasses\":%d,\"classes\":[",
                   frac(c->n_correct, c->n_total), frac(c->n_correct5, c->n_total), c->n_correct, c->n_correct5,
                   c->n_total, c->n_unlabelled, c->nclass);
        for (int k = 0, first = 1; k < c->nclass; k++) {
            if (!c->total[k]) continue;
            buf_puts(&b, first ? "{\"label\":" : ",{\"label\":");
            first = 0;
            buf_jstr(&b, c->cls[k]);
            buf_printf(&b,
                       ",\"accuracy\":%.6f,\"top1\":%.6f,\"top5\":%.6f,\"correct\":%ld,\"correct5\":%ld,"
                       "\"total\":%ld}",
                       frac(c->correct[k], c->total[k]), frac(c->correct[k], c->total[k]),
                       frac(c->correct5[k], c->total[k]), c->correct[k], c->correct5[k], c->total[k]);
        }
        buf_puts(&b, "]}\n");
        afile_t af;
        err_t e = {0};
        if (afile_open(&af, c->o->summary, &e)) die_err(&e);
        fwrite(b.s, 1, b.len, af.fp);
        if (afile_commit(&af, &e)) die_err(&e);
        buf_free(&b);
    }
}

int main(int argc, char **argv) {
    util_init(argv[0]);
    opts_t o = {.preprocess = "clip", .batch = 8, .topk = 5, .precision = "float32", .gemm = "openblas"};
    const opt_t table[] = {
        {"model", 'm', OPT_STR, &o.model, "FILE",
         "CLIP weights: safetensors (HF or OpenAI naming), pytorch_model.bin or .pt (default: $INVCLIP_MODEL, else "
         "the shipped sketch-domain CLIP data/models/sketch-clip/model.safetensors)",
         OPT_NORANGE},
        {"text", 't', OPT_LIST, &o.texts, "TEXT", "embed a text prompt (repeatable)", OPT_NORANGE},
        {"text-file", 0, OPT_STR, &o.text_file, "FILE", "embed every non-empty line of FILE", OPT_NORANGE},
        {"zero-shot", 'z', OPT_LIST, &o.zs, "W,W,..", "classify images among these classes (repeatable)", OPT_NORANGE},
        {"zero-shot-file", 0, OPT_STR, &o.zs_file, "FILE", "classes, one per line", OPT_NORANGE},
        {"template", 0, OPT_LIST, &o.templates, "T",
         "prompt template with {} for the class (repeatable; default: the study's five)", OPT_NORANGE},
        {"top-k", 'k', OPT_INT, &o.topk, "K", "classes listed per image", 1, 64},
        {"summary", 0, OPT_STR, &o.summary, "FILE", "write the zero-shot accuracy summary as JSON", OPT_NORANGE},
        {"preprocess", 'p', OPT_STR, &o.preprocess, "MODE",
         "clip (resize shorter side, centre crop) | normalize (already SxS) | squash (bilinear to SxS)", OPT_NORANGE},
        {"raw", 0, OPT_FLAG, &o.raw, NULL, "write unnormalised embeddings", OPT_NORANGE},
        {"batch", 'b', OPT_INT, &o.batch, "N", "images per forward pass", 1, 256},
        {"precision", 0, OPT_STR, &o.precision, "P",
         "float32 (default) | bf16: the image tower's matrix products in bfloat16 with float sums (a ViT on an "
         "AVX512_BF16 CPU; image lines then say \"precision\":\"bf16\"; text stays float32)",
         OPT_NORANGE},
        {"gemm", 0, OPT_STR, &o.gemm, "G",
         "float32 image products: openblas | packed: the weights packed once for the project's AVX2+FMA "
         "kernel (a ViT): an image's embedding is then the same bits in any --batch (image lines say "
         "\"gemm\":\"packed\"; packing ViT-B/32 adds ~700 MB and start-up time)",
         OPT_NORANGE},
        {"threads", 'j', OPT_INT, &o.threads, "N", "threads (0: one per online core)", 0, POOL_MAX_THREADS},
        {"heads", 0, OPT_STR, &o.heads, "V,T", "attention heads of the vision and text towers (default: inferred)",
         OPT_NORANGE},
        {"vocab", 0, OPT_STR, &o.vocab, "FILE", "BPE merges (default: the shipped bpe_simple_vocab_16e6.txt.gz)",
         OPT_NORANGE},
        {"keep-going", 0, OPT_FLAG, &o.keep_going, NULL, "skip images that cannot be used (counted)", OPT_NORANGE},
        OPT_PROGRESS(&o.progress),
        {0},
    };
    const optspec_t spec = {
        .usage = "[--model FILE] [options] [FILE...]",
        .summary = "Embed images (PNG streams, PNG or JPEG files; stdin '-' is a PNG stream) and text prompts with\n"
                   "CLIP, one NDJSON line each; or classify images zero-shot among given classes.",
        .opts = table,
        .epilog = "Examples:\n"
                  "  rasterize < fish.ndjson | clip-embed > fish.emb.ndjson            (the shipped model)\n"
                  "  rasterize < fish.ndjson | clip-embed --model ViT-B-32.safetensors > fish.emb.ndjson\n"
                  "  clip-embed --model ViT-B-32.pt --text 'a sketch of a fish' --text 'a fish'\n"
                  "  qd-extract --sample 500 --seed 1 data/quickdraw/simplified/*.ndjson.gz | rasterize --size 256 --width 3 \\\n"
                  "    | clip-embed --zero-shot apple,bird,car,cat,chair,dog,fish,flower,house,tree\n"
                  "With no image FILE and no --text, images are read from stdin.\n"
                  "With no --model: $INVCLIP_MODEL when set, else the shipped sketch-domain CLIP (trained by the\n"
                  "project on QuickDraw; `make train-clip` rebuilds it); a missing default is exit 5.\n"
                  "Zero-shot lines carry \"top\" (the top-k classes) and \"pred\"; an image whose word is a class\n"
                  "also \"correct\" (top-1), \"correct5\" (top-5) and \"rank\" (1 = best) of its true class.",
    };
    strlist_t files = {0};
    opt_parse(&spec, argc, argv, &files);
    ctx_t c = {.o = &o};
    if (!strcmp(o.preprocess, "clip")) c.mode = IMGPREP_CLIP;
    else if (!strcmp(o.preprocess, "normalize")) c.mode = IMGPREP_NORMALIZE;
    else if (!strcmp(o.preprocess, "squash")) c.mode = IMGPREP_SQUASH;
    else
        die(EXIT_USAGE, "--preprocess: '%s' is not clip, normalize or squash", o.preprocess);
    int bf16 = !strcmp(o.precision, "bf16");
    if (!bf16 && strcmp(o.precision, "float32"))
        die(EXIT_USAGE, "--precision '%s': not one of float32, bf16", o.precision);
    int f32pack = !strcmp(o.gemm, "packed");
    if (!f32pack && strcmp(o.gemm, "openblas")) die(EXIT_USAGE, "--gemm '%s': not one of openblas, packed", o.gemm);
    clip_open_opts_t co = {.vocab = o.vocab};
    if (o.heads && (sscanf(o.heads, "%d,%d", &co.load.v_heads, &co.load.t_heads) != 2 ||
                    co.load.v_heads < 1 || co.load.t_heads < 1))
        die(EXIT_USAGE, "--heads: '%s' is not V,T (two positive integers)", o.heads);
    strlist_t owned = {0}; /* lines read from files */
    if (o.text_file) {
        read_lines(o.text_file, &owned);
        for (int i = 0; i < owned.n; i++) strlist_push(&o.texts, owned.v[i]);
    }
    strlist_t classes = {0};
    strlist_split(&o.zs, ',', &classes);
    if (o.zs_file) read_lines(o.zs_file, &classes);
    c.nclass = classes.n;
    c.cls = classes.v;

    err_t e = {0};
    pool_t pool;
    if (pool_init(&pool, o.threads ? o.threads : pool_cores(), &e)) die_err(&e);
    co.text = o.texts.n || c.nclass;
    if (!o.model) {
        int from_env;
        const char *dm = clip_default_model(&from_env);
        if (from_env) warn("no --model: using $INVCLIP_MODEL %s", dm);
        else warn("no --model: using the shipped sketch-domain CLIP %s", dm);
    }
    if (clip_open(&c.cm, o.model, &co, &pool, &e)) die_err(&e);
    c.cm.m.pooled_top = 1; /* embeddings only (clip.h) */
    if (bf16 || f32pack) {
        c.cm.m.bf16 = bf16;
        c.cm.m.f32pack = !bf16 && f32pack;
        if (clip_bf16_prepare(&c.cm.m, &e)) die_err(&e);
    }
    c.S = c.cm.m.w.cfg.image_size;
    c.E = c.cm.m.w.cfg.embed_dim;
    /* text embeddings first */
    if (o.texts.n) {
        float *te = xmalloc(sizeof(float) * (size_t)o.texts.n * (size_t)c.E);
        embed_texts(&c, o.texts.v, o.texts.n, !o.raw, te);
        for (int i = 0; i < o.texts.n; i++) {
            buf_puts(&c.out, "{\"text\":");
            buf_jstr(&c.out, o.texts.v[i]);
            buf_puts(&c.out, ",\"model\":");
            buf_jstr(&c.out, c.cm.name);
            buf_printf(&c.out, ",\"dim\":%d,\"embedding\":", c.E);
            put_vec(&c.out, te + (size_t)i * c.E, c.E);
            buf_puts(&c.out, "}\n");
            emit(&c);
        }
        free(te);
    }
    if (c.nclass) build_classes(&c);
    /* images: named files, or stdin when there is nothing else to do */
    if (files.n || (!o.texts.n)) {
        size_t per = (size_t)3 * c.S * c.S;
        c.batch_img = xmalloc(sizeof(float) * per * (size_t)o.batch);
        c.emb = xmalloc(sizeof(float) * (size_t)o.batch * (size_t)c.E);
        c.unit = xmalloc(sizeof(float) * (size_t)o.batch * (size_t)c.E);
        c.norm = xmalloc(sizeof(float) * (size_t)o.batch);
        c.meta = xcalloc((size_t)o.batch, sizeof *c.meta);
        imgprep_init(&c.prep);
        progress_init(&c.prog, "images", 0, o.progress);
        if (!files.n) read_input(&c, "-");
        for (int i = 0; i < files.n; i++) read_input(&c, files.v[i]);
        flush_batch(&c);
        progress_done(&c.prog);
        if (c.nskipped) warn("skipped %ld image%s", c.nskipped, c.nskipped == 1 ? "" : "s");
        print_summary(&c);
        imgprep_free(&c.prep);
    }
    free(c.batch_img); free(c.emb); free(c.unit); free(c.norm); free(c.meta);
    free(c.cls_emb); free(c.correct); free(c.correct5); free(c.total); free(c.scores);
    strlist_free_items(&classes);
    strlist_free_items(&owned);
    strlist_free(&o.texts);
    strlist_free(&o.zs);
    strlist_free(&o.templates);
    strlist_free(&files);
    buf_free(&c.out);
    clip_close(&c.cm);
    pool_free(&pool);
    close_stdout();
    return 0;
}
