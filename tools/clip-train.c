/* clip-train - contrastive training of a CLIP-architecture model on sketches.
 *
 * Reads sketch NDJSON (QuickDraw records with "word" and "drawing"; files or
 * stdin, .gz ok) into memory, holds out the records whose key_id is listed
 * in --val-keys, and trains image and text towers from scratch with CLIP's
 * objective (common/clip_train.h): each step takes B records of B different
 * words, renders each at the model's input size through a renderer plugin
 * (or the built-in rasteriser) after light augmentation (a global affine,
 * the stroke width, one low-strength degradation of qd-degrade), pairs it
 * with a caption from a template over its word ("a sketch of a {}", ...),
 * tokenised by CLIP's BPE, and makes one AdamW update.
 *
 * Everything random in a step -- which words and records, the augmentation,
 * the captions -- is a function of (--seed, step, slot) alone, so a run
 * resumed from a checkpoint makes the same updates, bit for bit, as one
 * that never stopped (with the same -j: the thread split fixes the order of
 * some float sums), and the thread count never changes what is drawn.
 *
 * Validation (each --eval-every steps, default once per epoch, and at the
 * end): zero-shot classification of the held-out records among all the
 * words, rendered as the study rendered them (256 px, width 3, pad 10,
 * built-in rasteriser, CLIP's resize + centre crop to the input size) and
 * classified with the study's five templates ensembled -- the same numbers
 * `make zeroshot` reports -- printed and appended to DIR/log.ndjson.
 *
 * Files in --out DIR: checkpoint.safetensors (Hugging Face names, AdamW
 * moments, step; rewritten every --save-every steps and at the end, through
 * a temporary file), model.safetensors (the weights alone; F16 with --f16)
 * at the end, config.json (Hugging Face CLIPConfig) beside them, log.ndjson,
 * and samples.ndjson (replaced at each validation): up to 16 held-out
 * drawings of different words, fixed by the data, with the model's top-3
 * zero-shot guesses -- what summarize --train draws as a sample grid.
 * --samples-from MODEL writes samples.ndjson for an existing model and
 * exits without training.
 */
#include "bpe.h"
#include "cli.h"
#include "dist.h"
#include "clip_load.h"
#include "clip_train.h"
#include "degrade.h"
#include "imgprep.h"
#include "keylist.h"
#include "nn/lr.h"
#include "pool.h"
#include "raster.h"
#include "records.h"
#include "render.h"
#include "sketch.h"
#include "util.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TEMPLATES 64

static const char *const default_train_templates[] = {
    "{}", "a sketch of a {}", "a line drawing of a {}", "a simple doodle of a {}", "an outline of a {}",
    "a drawing of a {}", "a doodle of a {}", "a {}",
};
/* docs/study.md 3.3: the zero-shot scripts' templates */
static const char *const study_templates[] = {
    "{}", "a sketch of a {}", "a line drawing of a {}", "a simple doodle of a {}", "an outline of a {}",
};
static const char *const study_words[] = {"apple", "bird", "car",    "cat",   "chair",
                                          "dog",   "fish", "flower", "house", "tree"};

typedef struct {
    /* model */
    int width, layers, heads, patch, image_size, t_width, t_layers, t_heads, context, embed;
    /* optimisation */
    int batch, threads, progress, keep_going, f16, resume;
    long long steps, eval_every, save_every, stop_after;
    double epochs, lr, wd, beta1, beta2, eps, clip_norm, min_lr_frac, warmup_frac;
    long long warmup, seed;
    const char *schedule, *out, *val_keys, *renderer, *augment, *classes_file, *vocab, *samples_from;
    double line_width, width_lo, width_hi, rotate, scale_lo, scale_hi, shift, aug_p;
    long long val_limit;
    strlist_t templates;
} opts_t;

/* ------------------------------------------------------------------ data */

typedef struct {
    int word;
    int s0, ns;   /* strokes [s0, s0 + ns) of the stroke table */
    char *key_id;
} item_t;

typedef struct {
    item_t *it;
    int n, cap;
} itemlist_t;

typedef struct {
    /* classes */
    char **words;
    int nwords, wcap;
    int fixed_classes; /* --classes given: other words are errors */
    /* drawings */
    int *st_p0, *st_np; /* per stroke: first point, point count */
    int nst, stcap;
    float *xy;
    size_t npt, ptcap;
    itemlist_t train, val;
    strset_t valkeys;
    int *by_word_n, **by_word; /* training items of each word */
} data_t;

static int word_index(data_t *d, const char *w) {
    for (int i = 0; i < d->nwords; i++)
        if (!strcmp(d->words[i], w)) return i;
    return -1;
}

static int word_add(data_t *d, const char *w) {
    if (d->nwords == d->wcap) {
        d->wcap = d->wcap ? 2 * d->wcap : 64;
        d->words = xrealloc(d->words, (size_t)d->wcap * sizeof *d->words);
    }
    d->words[d->nwords] = xstrdup(w);
    return d->nwords++;
}

static int load_one(sketch_t *s, records_pos_t *pos, void *vd, err_t *e) {
    (void)pos;
    data_t *d = vd;
    if (!s->word || !s->word[0]) return err_set(e, EXIT_DATA, "%s: no \"word\" (the caption needs it)", sketch_label(s));
    int w = word_index(d, s->word);
    if (w < 0) {
        if (d->fixed_classes)
            return err_set(e, EXIT_DATA, "%s: word \"%.80s\" is not one of the --classes", sketch_label(s), s->word);
        w = word_add(d, s->word);
    }
    const drawing_t *dr = &s->drawing;
    long np = drawing_npoints(dr);
    double x0, y0, x1, y1;
    if (np < 1 || !drawing_bbox(dr, &x0, &y0, &x1, &y1))
        return err_set(e, EXIT_DATA, "%s: the drawing has no points: it would render empty", sketch_label(s));
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
        return err_set(e, EXIT_DATA, "%s: the drawing has a non-finite coordinate", sketch_label(s));
    itemlist_t *L = s->key_id[0] && strset_has(&d->valkeys, s->key_id) ? &d->val : &d->train;
    if (L->n == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 1024;
        L->it = xrealloc(L->it, (size_t)L->cap * sizeof *L->it);
    }
    item_t *it = &L->it[L->n++];
    it->word = w;
    it->s0 = d->nst;
    it->ns = dr->nstrokes;
    it->key_id = xstrdup(s->key_id);
    for (int k = 0; k < dr->nstrokes; k++) {
        const stroke_t *st = &dr->s[k];
        if (d->nst == d->stcap) {
            d->stcap = d->stcap ? 2 * d->stcap : 4096;
            d->st_p0 = xrealloc(d->st_p0, (size_t)d->stcap * sizeof *d->st_p0);
            d->st_np = xrealloc(d->st_np, (size_t)d->stcap * sizeof *d->st_np);
        }
        if (d->npt + (size_t)st->n > d->ptcap) {
            while (d->npt + (size_t)st->n > d->ptcap) d->ptcap = d->ptcap ? 2 * d->ptcap : 1 << 16;
            d->xy = xrealloc(d->xy, 2 * d->ptcap * sizeof *d->xy);
        }
        d->st_p0[d->nst] = (int)d->npt;
        d->st_np[d->nst] = st->n;
        d->nst++;
        for (int i = 0; i < st->n; i++) {
            d->xy[2 * (d->npt + (size_t)i)] = (float)st->x[i];
            d->xy[2 * (d->npt + (size_t)i) + 1] = (float)st->y[i];
        }
        d->npt += (size_t)st->n;
    }
    return 0;
}

static void item_drawing(const data_t *d, const item_t *it, drawing_t *out) {
    drawing_clear(out);
    for (int k = 0; k < it->ns; k++) {
        int s = it->s0 + k, n = d->st_np[s];
        stroke_t *st = drawing_add_empty(out, n, 0);
        const float *p = d->xy + 2 * (size_t)d->st_p0[s];
        for (int i = 0; i < n; i++) st->x[i] = p[2 * i], st->y[i] = p[2 * i + 1];
    }
}

static int read_lines(const char *path, strlist_t *out, err_t *e) {
    FILE *f = fopen(path, "r");
    if (!f) return err_set(e, EXIT_IO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n) strlist_push(out, xstrdup(line));
    }
    int bad = ferror(f);
    free(line);
    fclose(f);
    return bad ? err_set(e, EXIT_IO, "%s: read error", path) : 0;
}

/* ------------------------------------------------------------------ captions */

typedef struct {
    int ntpl;
    int *ids; /* (nwords, ntpl, context) */
} captions_t;

static int fill_template(const char *tpl, const char *word, buf_t *b) {
    const char *p = strstr(tpl, "{}");
    b->len = 0;
    if (!p) return -1;
    buf_put(b, tpl, (size_t)(p - tpl));
    buf_puts(b, word);
    buf_puts(b, p + 2);
    return 0;
}

static int captions_make(captions_t *c, bpe_t *bpe, const data_t *d, const char *const *tpl, int ntpl, int ctx,
                         err_t *e) {
    c->ntpl = ntpl;
    c->ids = xcalloc((size_t)d->nwords * (size_t)ntpl * (size_t)ctx, sizeof *c->ids);
    buf_t b = {0};
    int rc = 0;
    for (int w = 0; w < d->nwords && !rc; w++)
        for (int t = 0; t < ntpl && !rc; t++) {
            if (fill_template(tpl[t], d->words[w], &b)) {
                rc = err_set(e, EXIT_USAGE, "template \"%s\" has no {}", tpl[t]);
                break;
            }
            if (clip_tokenize(bpe, b.s, ctx, c->ids + ((size_t)w * ntpl + t) * ctx, 0, e) < 0)
                rc = err_prefix(e, "caption \"%s\" (raise --context)", b.s);
        }
    buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------------ rendering */

typedef struct {
    raster_t r;
    render_t rp;
    int use_plugin;
    drawing_t d;
    float *paper;
    rng_t rng;
    imgprep_t prep;
    image_t im, out;
    buf_t dj;
    err_t err;
} worker_t;

typedef struct {
    const opts_t *o;
    data_t *d;
    const captions_t *cap;
    degrade_plan_t plan;
    int S;
    worker_t *w;
    int nw;
    /* the current batch */
    long long step;
    const item_t **items; /* (batch) the global batch */
    int slot0;            /* this rank's first slot of it (data-parallel, dist.h) */
    float *img;   /* (cap,3,S,S) */
    int *ids;     /* (cap,ctx) */
    int fail;
    /* validation */
    uint8_t *val_u8; /* (nval, S, S) */
    int nval;
} run_t;

static void to_input(const float *paper, int S, float *img) {
    size_t n = (size_t)S * S;
    for (int c = 0; c < 3; c++) {
        float m = clip_mean[c], is = 1.0f / clip_std[c];
        for (size_t i = 0; i < n; i++) img[c * n + i] = (paper[i] - m) * is;
    }
}

/* One training sample: slot i of the current step. */
static int make_sample(run_t *R, worker_t *w, int i) {
    const opts_t *o = R->o;
    const item_t *it = R->items[R->slot0 + i];
    int S = R->S;
    rng_seed2(&w->rng, (uint64_t)o->seed ^ 0x5eed5a3b1e5ULL, (uint64_t)R->step * 65536u + (uint64_t)(R->slot0 + i));
    item_drawing(R->d, it, &w->d);
    if (R->plan.nmix && rng_uniform(&w->rng) < o->aug_p) {
        w->dj.len = 0;
        int rc = degrade_plan_run(&R->plan, &w->d, degrade_rel_unit(&w->d), &w->rng, &w->dj, &w->err);
        if (rc) return err_prefix(&w->err, "key_id %s", it->key_id);
    }
    drawing_rotate(&w->d, rng_range(&w->rng, -o->rotate, o->rotate));
    double scale = rng_range(&w->rng, o->scale_lo, o->scale_hi);
    double f = S / 256.0; /* the study's 256-pixel frame -> the input size */
    xform_t xf;
    xform_fit(&w->d, S, 10 * f, &xf);
    double c = (S - 1) / 2.0, dx = rng_range(&w->rng, -o->shift, o->shift) * f,
           dy = rng_range(&w->rng, -o->shift, o->shift) * f;
    xf.sx *= scale, xf.sy *= scale;
    xf.ox = c + (xf.ox - c) * scale + dx;
    xf.oy = c + (xf.oy - c) * scale + dy;
    double width = o->line_width * f * rng_range(&w->rng, o->width_lo, o->width_hi);
    if (w->use_plugin) {
        int rc = render_drawing(&w->rp, &w->d, xf.sx, xf.sy, xf.ox, xf.oy, (float)width, S, S, w->paper, &w->err);
        if (rc) return err_prefix(&w->err, "key_id %s", it->key_id);
    } else {
        raster_drawing(&w->r, w->paper, &w->d, &xf, width);
    }
    size_t n = (size_t)S * S;
    float ink = 0;
    for (size_t k = 0; k < n; k++) ink += 1 - w->paper[k];
    if (!(ink > 1e-3f)) return err_set(&w->err, EXIT_DATA, "key_id %s: the drawing renders empty", it->key_id);
    to_input(w->paper, S, R->img + (size_t)i * 3 * n);
    const captions_t *cp = R->cap;
    int t = (int)rng_below(&w->rng, (uint64_t)cp->ntpl), ctx = o->context;
    memcpy(R->ids + (size_t)i * ctx, cp->ids + ((size_t)it->word * cp->ntpl + t) * ctx, (size_t)ctx * sizeof(int));
    return 0;
}

static void sample_job(void *vr, int begin, int end, int tid) {
    run_t *R = vr;
    worker_t *w = &R->w[tid];
    for (int i = begin; i < end; i++)
        if (make_sample(R, w, i)) {
            __atomic_store_n(&R->fail, tid + 1, __ATOMIC_RELAXED);
            return;
        }
}

/* The study's zero-shot render of an item, to S x S uint8 at out (w's raster is 256 x 256). */
static int study_render(run_t *R, worker_t *w, const item_t *it, uint8_t *out) {
    item_drawing(R->d, it, &w->d);
    xform_t xf;
    xform_fit(&w->d, 256, 10, &xf);
    raster_drawing(&w->r, w->paper, &w->d, &xf, 3);
    for (size_t k = 0; k < 256 * 256; k++) {
        float v = w->paper[k];
        w->im.px[k] = (uint8_t)((v < 0 ? 0 : v > 1 ? 1 : v) * 255.0f + 0.5f);
    }
    int rc = imgprep_u8(&w->prep, &w->im, R->S, IMGPREP_CLIP, &w->out, &w->err);
    if (rc) return err_prefix(&w->err, "key_id %s", it->key_id);
    memcpy(out, w->out.px, (size_t)R->S * R->S);
    return 0;
}

/* Validation item i, to its slot of R->val_u8. */
static int make_val(run_t *R, worker_t *w, int i) {
    return study_render(R, w, &R->d->val.it[i], R->val_u8 + (size_t)i * R->S * R->S);
}

static void val_job(void *vr, int begin, int end, int tid) {
    run_t *R = vr;
    for (int i = begin; i < end; i++)
        if (make_val(R, &R->w[tid], i)) {
            __atomic_store_n(&R->fail, tid + 1, __ATOMIC_RELAXED);
            return;
        }
}

/* ------------------------------------------------------------------ sampling */

/* Step k's batch: B distinct words (partial Fisher-Yates over all words), a
 * uniformly drawn training record of each.  With fewer words than B the
 * words repeat as little as possible. */
static void pick_batch(run_t *R, long long k, int B, int *perm) {
    data_t *d = R->d;
    rng_t r;
    rng_seed2(&r, (uint64_t)R->o->seed, (uint64_t)k);
    int W = 0;
    for (int w = 0; w < d->nwords; w++)
        if (d->by_word_n[w]) perm[W++] = w;
    for (int i = 0; i < B; i++) {
        int j = i % W;
        if (j == 0) /* a fresh shuffle for each round over the words */
            for (int a = 0; a < W - 1; a++) {
                int b = a + (int)rng_below(&r, (uint64_t)(W - a));
                int t = perm[a];
                perm[a] = perm[b], perm[b] = t;
            }
        int w = perm[j];
        R->items[i] = &d->train.it[d->by_word[w][rng_below(&r, (uint64_t)d->by_word_n[w])]];
    }
}

/* ------------------------------------------------------------------ evaluation */

/* the j-th of n evenly spaced validation records */
#define VAL_PICK(j) ((long long)(j) * R->nval / n)

typedef struct {
    double top1, top5, top1_study;
    long n, n_study;
} eval_t;

/* The zero-shot class embeddings (W,E): for each word the mean of its unit
 * embeddings under the study's five templates, renormalised.  The caller
 * frees the result; NULL on error. */
static float *class_embed(run_t *R, clip_trainer_t *T, bpe_t *bpe, err_t *e) {
    const opts_t *o = R->o;
    data_t *d = R->d;
    int E = T->cfg.embed_dim, ctx = o->context, W = d->nwords, nt = 5;
    float *cls = xcalloc((size_t)W * E, sizeof *cls), *tmp = xmalloc((size_t)nt * E * sizeof *tmp);
    int *ids = xcalloc((size_t)nt * ctx, sizeof *ids);
    buf_t b = {0};
    int rc = 0;
    for (int w = 0; w < W && !rc; w++) {
        for (int t = 0; t < nt && !rc; t++) {
            fill_template(study_templates[t], d->words[w], &b);
            if (clip_tokenize(bpe, b.s, ctx, ids + (size_t)t * ctx, 0, e) < 0)
                rc = err_prefix(e, "zero-shot prompt \"%s\" (raise --context)", b.s);
        }
        if (!rc) rc = clip_trainer_embed_texts(T, ids, nt, tmp, e);
        for (int t = 0; t < nt && !rc; t++)
            for (int k = 0; k < E; k++) cls[(size_t)w * E + k] += tmp[(size_t)t * E + k];
        double nn = 0;
        for (int k = 0; k < E; k++) nn += (double)cls[(size_t)w * E + k] * cls[(size_t)w * E + k];
        for (int k = 0; k < E; k++) cls[(size_t)w * E + k] /= (float)(sqrt(nn) + 1e-12);
    }
    free(tmp), free(ids);
    buf_free(&b);
    if (rc) free(cls), cls = NULL;
    return cls;
}

/* Zero-shot accuracy on n of the validation records, evenly spaced over
 * them (all when n >= their count), against the class embeddings cls. */
static int evaluate(run_t *R, clip_trainer_t *T, const float *cls, int n, eval_t *ev, err_t *e) {
    data_t *d = R->d;
    int E = T->cfg.embed_dim, S = R->S, W = d->nwords;
    memset(ev, 0, sizeof *ev);
    if (!R->nval) return 0;
    if (n <= 0 || n > R->nval) n = R->nval;
    float *tmp = xmalloc((size_t)T->cap * E * sizeof *tmp);
    int rc = 0;
    /* the study's 10 words among the classes */
    int sidx[10], ns = 0;
    for (int i = 0; i < 10; i++) {
        int w = word_index(d, study_words[i]);
        if (w >= 0) sidx[ns++] = w;
    }
    float *img = xmalloc((size_t)T->cap * 3 * S * S * sizeof *img);
    image_t im = {.w = S, .h = S, .c = 1};
    float *score = xmalloc((size_t)W * sizeof *score);
    long c1 = 0, c5 = 0, cs = 0, nsn = 0;
    for (int i0 = 0; i0 < n && !rc; i0 += T->cap) {
        int B = n - i0 < T->cap ? n - i0 : T->cap;
        for (int i = 0; i < B; i++) {
            im.px = R->val_u8 + (size_t)VAL_PICK(i0 + i) * S * S;
            imgprep_to_tensor(&im, 1, img + (size_t)i * 3 * S * S);
        }
        if ((rc = clip_trainer_embed_images(T, img, B, tmp, e))) break;
        for (int i = 0; i < B; i++) {
            const float *a = tmp + (size_t)i * E;
            int truth = d->val.it[VAL_PICK(i0 + i)].word;
            for (int w = 0; w < W; w++) {
                float s = 0;
                for (int k = 0; k < E; k++) s += a[k] * cls[(size_t)w * E + k];
                score[w] = s;
            }
            int above = 0;
            for (int w = 0; w < W; w++) above += score[w] > score[truth];
            c1 += above == 0;
            c5 += above < 5;
            int in_study = 0;
            for (int j = 0; j < ns; j++) in_study |= sidx[j] == truth;
            if (ns == 10 && in_study) {
                int ab = 0;
                for (int j = 0; j < ns; j++) ab += score[sidx[j]] > score[truth];
                cs += ab == 0;
                nsn++;
            }
        }
    }
    ev->n = n;
    ev->top1 = (double)c1 / n;
    ev->top5 = (double)c5 / n;
    ev->n_study = nsn;
    ev->top1_study = nsn ? (double)cs / nsn : 0;
    free(tmp), free(img), free(score);
    return rc;
}

/* ------------------------------------------------------------------ samples */

#define SAMPLES_MAX 16
#define SAMPLES_TOP 3

/* The validation records shown as samples, fixed by the data alone: the
 * first record of each word in validation (input) order, and of those words
 * up to SAMPLES_MAX evenly spaced over them.  Returns how many (<= SAMPLES_MAX). */
static int sample_picks(const data_t *d, int *pick) {
    int *first = xmalloc(((size_t)d->nwords + 1) * sizeof *first), *order = xmalloc(((size_t)d->nwords + 1) * sizeof *order);
    int nd = 0;
    for (int w = 0; w < d->nwords; w++) first[w] = -1;
    for (int i = 0; i < d->val.n; i++) {
        int w = d->val.it[i].word;
        if (first[w] < 0) first[w] = i, order[nd++] = w;
    }
    int n = nd < SAMPLES_MAX ? nd : SAMPLES_MAX;
    for (int j = 0; j < n; j++) pick[j] = first[order[(long long)j * nd / n]];
    free(first), free(order);
    return n;
}

/* Write DIR/samples.ndjson (atomically, replacing the last evaluation's):
 * one line a sample, {"step","key_id","word","top":[{"word","p"} x3],
 * "correct","drawing"}, p the softmax over every word of the cosine times
 * the model's logit scale (CLIP's zero-shot probabilities).  Each image is
 * embedded alone, so the numbers do not depend on the batch capacity. */
static int write_samples(run_t *R, clip_trainer_t *T, const float *cls, worker_t *w, long long step, const char *path,
                         err_t *e) {
    data_t *d = R->d;
    int pick[SAMPLES_MAX], n = sample_picks(d, pick), E = T->cfg.embed_dim, S = R->S, W = d->nwords;
    uint8_t *u8 = xmalloc((size_t)S * S);
    float *img = xmalloc((size_t)3 * S * S * sizeof *img), emb[4096], *score = xmalloc((size_t)W * sizeof *score);
    double scale = exp((double)T->m.w.logit_scale[0]);
    image_t im = {.w = S, .h = S, .c = 1, .px = u8};
    buf_t b = {0};
    drawing_t dr;
    drawing_init(&dr);
    int rc = E > 4096 ? err_set(e, EXIT_INTERNAL, "embedding of %d > 4096", E) : 0;
    for (int j = 0; j < n && !rc; j++) {
        const item_t *it = &d->val.it[pick[j]];
        if (study_render(R, w, it, u8)) {
            rc = err_set(e, w->err.code, "%s", w->err.msg);
            break;
        }
        imgprep_to_tensor(&im, 1, img);
        if ((rc = clip_trainer_embed_images(T, img, 1, emb, e))) break;
        double mx = -INFINITY, z = 0;
        for (int c = 0; c < W; c++) {
            float s = 0;
            for (int k = 0; k < E; k++) s += emb[k] * cls[(size_t)c * E + k];
            score[c] = s;
            if (scale * s > mx) mx = scale * s;
        }
        for (int c = 0; c < W; c++) z += exp(scale * score[c] - mx);
        int top[SAMPLES_TOP], nt = W < SAMPLES_TOP ? W : SAMPLES_TOP;
        for (int t = 0; t < nt; t++) { /* best first; ties to the earlier word */
            int best = -1;
            for (int c = 0; c < W; c++) {
                int used = 0;
                for (int u = 0; u < t; u++) used |= top[u] == c;
                if (!used && (best < 0 || score[c] > score[best])) best = c;
            }
            top[t] = best;
        }
        buf_printf(&b, "{\"step\":%lld,\"key_id\":", step);
        buf_jstr(&b, it->key_id);
        buf_puts(&b, ",\"word\":");
        buf_jstr(&b, d->words[it->word]);
        buf_puts(&b, ",\"top\":[");
        for (int t = 0; t < nt; t++) {
            buf_puts(&b, t ? ",{\"word\":" : "{\"word\":");
            buf_jstr(&b, d->words[top[t]]);
            buf_printf(&b, ",\"p\":%.6f}", exp(scale * score[top[t]] - mx) / z);
        }
        buf_printf(&b, "],\"correct\":%s,\"drawing\":", top[0] == it->word ? "true" : "false");
        item_drawing(d, it, &dr);
        drawing_to_json(&b, &dr, 3, 0);
        buf_puts(&b, "}\n");
    }
    if (!rc) {
        afile_t af;
        if (!(rc = afile_open(&af, path, e))) {
            if (b.len && fwrite(b.s, 1, b.len, af.fp) != b.len) {
                afile_abort(&af);
                rc = err_set(e, EXIT_IO, "%s: write error: %s", path, strerror(errno));
            } else {
                rc = afile_commit(&af, e);
            }
        }
    }
    drawing_free(&dr);
    buf_free(&b);
    free(u8), free(img), free(score);
    return rc;
}

/* A worker for the study's render alone (the built-in rasteriser at 256). */
static void study_worker_init(worker_t *w) {
    err_t e = {0};
    memset(w, 0, sizeof *w);
    if (raster_init(&w->r, 256, 256, &e) || image_init(&w->im, 256, 256, 1, 255, &e)) die_err(&e);
    w->paper = xmalloc(256 * 256 * sizeof *w->paper);
    drawing_init(&w->d);
    imgprep_init(&w->prep);
}

static void worker_free(worker_t *w) {
    if (w->use_plugin) render_close(&w->rp);
    raster_free(&w->r);
    image_free(&w->im);
    image_free(&w->out);
    imgprep_free(&w->prep);
    drawing_free(&w->d);
    buf_free(&w->dj);
    free(w->paper);
}

static void data_free(data_t *d) {
    for (int i = 0; i < d->train.n; i++) free(d->train.it[i].key_id);
    for (int i = 0; i < d->val.n; i++) free(d->val.it[i].key_id);
    free(d->train.it), free(d->val.it);
    for (int w = 0; w < d->nwords; w++) free(d->words[w]), free(d->by_word[w]);
    free(d->words), free(d->by_word), free(d->by_word_n);
    free(d->st_p0), free(d->st_np), free(d->xy);
    strset_free(&d->valkeys);
}

/* --samples-from MODEL: the model's samples of the held-out records, no training. */
static int samples_only(opts_t *o, data_t *d, bpe_t *bpe, pool_t *pool, err_t *e) {
    clip_params_t p;
    if (clip_load(o->samples_from, &p, e)) return e->code;
    clip_config_t cfg = p.cfg;
    clip_params_free(&p);
    if (CLIP_IS_RESNET(&cfg))
        return err_set(e, EXIT_MODEL, "%s: a ResNet CLIP; clip-train's models are vision transformers", o->samples_from);
    nn_par_t par = pool_par(pool);
    clip_trainer_t T;
    long long step = 0;
    int rc = clip_trainer_init(&T, &cfg, SAMPLES_MAX, &par, e);
    if (rc) return rc;
    rc = clip_trainer_load_weights(&T, o->samples_from, &step, e);
    o->context = cfg.context;
    run_t R = {.o = o, .d = d, .S = cfg.image_size};
    worker_t sw;
    study_worker_init(&sw);
    float *cls = rc ? NULL : class_embed(&R, &T, bpe, e);
    char *path = path_join(o->out, "samples.ndjson");
    if (!rc && !cls) rc = e->code;
    if (!rc) rc = mkdir_p(o->out, e);
    if (!rc) rc = write_samples(&R, &T, cls, &sw, step, path, e);
    int pick[SAMPLES_MAX];
    if (!rc)
        fprintf(stderr, "%s: %s (step %lld): %d samples of %d held-out records, %d words -> %s\n", progname,
                o->samples_from, step, sample_picks(d, pick), d->val.n, d->nwords, path);
    free(cls), free(path);
    worker_free(&sw);
    clip_trainer_free(&T);
    return rc;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv) {
    util_init(argv[0]);
    opts_t o = {.width = 256, .layers = 6, .heads = 4, .patch = 8, .image_size = 64, .t_width = 128,
                .t_layers = 4, .t_heads = 2, .context = 16, .embed = 256, .batch = 128, .epochs = 1,
                .lr = 1e-3, .wd = 0.1, .beta1 = 0.9, .beta2 = 0.98, .eps = 1e-6, .clip_norm = 1.0,
                .warmup_frac = 0.05, .min_lr_frac = 0.01, .seed = 1, .out = "outputs/clip-train",
                .renderer = "softline",
                .augment = "jitter:amount=0..3;noise:level=0..1.5;tremor:amplitude=0..2;dropout:p=0..0.15;"
                           "overshoot:amount=-0.1..0.15;affine:rotate=0..4,scale=0..0.05,shift=0..3;"
                           "elastic:amplitude=0..6",
                .aug_p = 0.5, .line_width = 3, .width_lo = 0.7, .width_hi = 1.5, .rotate = 8, .scale_lo = 0.85,
                .scale_hi = 1.08, .shift = 8};
    const opt_t table[] = {
        {"out", 'o', OPT_STR, &o.out, "DIR", "write checkpoints, the model, config.json and log.ndjson here",
         OPT_NORANGE},
        {"resume", 0, OPT_FLAG, &o.resume, NULL, "continue from DIR/checkpoint.safetensors (same options)",
         OPT_NORANGE},
        {"val-keys", 0, OPT_STR, &o.val_keys, "FILE",
         "hold out the records whose key_id is listed (one per line) for validation", OPT_NORANGE},
        {"classes", 0, OPT_STR, &o.classes_file, "FILE",
         "the words, one per line (default: every word in the data); other words are errors", OPT_NORANGE},
        {"width", 0, OPT_INT, &o.width, "N", "vision tower width", 8, 4096},
        {"layers", 0, OPT_INT, &o.layers, "N", "vision tower layers", 1, 64},
        {"heads", 0, OPT_INT, &o.heads, "N", "vision tower attention heads", 1, 256},
        {"patch", 0, OPT_INT, &o.patch, "P", "patch size in pixels", 1, 256},
        {"image-size", 0, OPT_INT, &o.image_size, "S", "input image side in pixels", 8, 1024},
        {"text-width", 0, OPT_INT, &o.t_width, "N", "text tower width", 8, 4096},
        {"text-layers", 0, OPT_INT, &o.t_layers, "N", "text tower layers", 1, 64},
        {"text-heads", 0, OPT_INT, &o.t_heads, "N", "text tower attention heads", 1, 256},
        {"context", 0, OPT_INT, &o.context, "N", "text context length in tokens", 4, 77},
        {"embed", 0, OPT_INT, &o.embed, "N", "joint embedding dimension", 8, 4096},
        {"batch", 'b', OPT_INT, &o.batch, "B", "image-caption pairs per step", 2, 4096},
        {"epochs", 'e', OPT_DOUBLE, &o.epochs, "E", "training length in passes over the training records", 0.001,
         10000},
        {"steps", 'n', OPT_INT, &o.steps, "N", "training length in steps (overrides --epochs; 0 = use --epochs)", 0,
         1e12},
        {"lr", 0, OPT_DOUBLE, &o.lr, "LR", "peak learning rate", 0, 10},
        {"schedule", 0, OPT_STR, &o.schedule, "SPEC",
         "learning-rate schedule (nn/lr.h; default cosine with 5% warmup down to 1% of --lr)", OPT_NORANGE},
        {"wd", 0, OPT_DOUBLE, &o.wd, "WD", "AdamW decoupled weight decay (matrices and kernels)", 0, 10},
        {"beta2", 0, OPT_DOUBLE, &o.beta2, "B2", "AdamW beta2", 0, 0.99999},
        {"clip-norm", 0, OPT_DOUBLE, &o.clip_norm, "N", "clip the gradient's global norm (0 = off)", 0, 1e9},
        {"seed", 's', OPT_INT, &o.seed, "S", "seed of the initial weights and every random draw", 0, 1e15},
        {"renderer", 'r', OPT_STR, &o.renderer, "SPEC",
         "renderer plugin NAME[:key=value,...] for training images, or 'builtin'", OPT_NORANGE},
        {"line-width", 0, OPT_DOUBLE, &o.line_width, "W", "stroke width in a 256-pixel frame (the study's 3)", 0.1,
         50},
        {"augment", 0, OPT_STR, &o.augment, "SPEC;SPEC..",
         "degradations (qd-degrade --mix syntax, units rel), one picked per augmented sample; '' = none",
         OPT_NORANGE},
        {"augment-p", 0, OPT_DOUBLE, &o.aug_p, "P", "probability that a sample gets one of the degradations", 0, 1},
        {"rotate", 0, OPT_DOUBLE, &o.rotate, "DEG", "random rotation of the whole drawing, +-DEG", 0, 180},
        {"shift", 0, OPT_DOUBLE, &o.shift, "PX", "random shift, +-PX in the 256-pixel frame", 0, 128},
        {"template", 't', OPT_LIST, &o.templates, "T",
         "caption template with {} for the word (repeatable; default: 8 sketch templates)", OPT_NORANGE},
        {"eval-every", 0, OPT_INT, &o.eval_every, "N", "validate every N steps (0: once per epoch)", 0, 1e12},
        {"val-limit", 0, OPT_INT, &o.val_limit, "N",
         "validate on N evenly spaced held-out records, all of them at the end (0: all)", 0, 1e12},
        {"save-every", 0, OPT_INT, &o.save_every, "N", "write the checkpoint every N steps (0: at each validation)",
         0, 1e12},
        {"stop-after", 0, OPT_INT, &o.stop_after, "N",
         "end this invocation after N steps (checkpoint written; continue with --resume)", 0, 1e12},
        {"f16", 0, OPT_FLAG, &o.f16, NULL, "store model.safetensors as F16", OPT_NORANGE},
        {"vocab", 0, OPT_STR, &o.vocab, "FILE", "BPE merges (default: the shipped bpe_simple_vocab_16e6.txt.gz)",
         OPT_NORANGE},
        {"samples-from", 0, OPT_STR, &o.samples_from, "MODEL",
         "no training: write DIR/samples.ndjson for MODEL (a clip-train model or checkpoint, e.g. "
         "data/models/sketch-clip/model.safetensors; its shape read from the file) from the --val-keys records, "
         "and exit",
         OPT_NORANGE},
        {"threads", 'j', OPT_INT, &o.threads, "N", "threads (0: one per online core)", 0, POOL_MAX_THREADS},
        OPT_KEEP_GOING(&o.keep_going),
        OPT_PROGRESS(&o.progress),
        {0},
    };
    const optspec_t spec = {
        .usage = "[options] [FILE...]",
        .summary =
            "Train a CLIP-architecture model (vision transformer + text transformer) from scratch on sketch\n"
            "NDJSON records (FILEs or stdin, .gz ok): contrastive InfoNCE between each drawing, rendered\n"
            "on the fly with light augmentation, and a caption from a template over its word; AdamW,\n"
            "warmup + cosine, global-norm clipping.  Validation is zero-shot classification of the\n"
            "--val-keys records, rendered as the study rendered them.  Writes DIR/checkpoint.safetensors\n"
            "(Hugging Face naming + optimiser state), DIR/model.safetensors, DIR/config.json,\n"
            "DIR/log.ndjson and DIR/samples.ndjson (at each validation, replaced: up to 16 held-out\n"
            "drawings of different words with the model's top-3 zero-shot words and probabilities, which\n"
            "summarize --train draws as a sample grid); --resume continues a run bit for bit;\n"
            "--samples-from MODEL writes DIR/samples.ndjson for an existing model without training.",
        .opts = table,
        .epilog = "Examples:\n"
                  "  clip-train --val-keys data/quickdraw/val-keys.txt --epochs 4 -o outputs/sketch-clip \\\n"
                  "      data/quickdraw/simplified/*.ndjson.gz\n"
                  "  clip-train --resume --val-keys data/quickdraw/val-keys.txt --epochs 4 -o outputs/sketch-clip \\\n"
                  "      data/quickdraw/simplified/*.ndjson.gz\n"
                  "  clip-embed --model outputs/sketch-clip/model.safetensors --zero-shot-file words.txt < imgs.png\n"
                  "  clip-train --samples-from data/models/sketch-clip/model.safetensors --val-keys \\\n"
                  "      data/quickdraw/val-keys.txt -o data/models/sketch-clip data/quickdraw/simplified/*.ndjson.gz\n"
                  "Exit codes: 1 bad record, 2 usage, 3 I/O, 4 plugin, 5 model, 6 NaN/Inf, 7 internal.\n"
                  "See docs/clip-train.md.",
    };
    strlist_t files = {0};
    opt_parse(&spec, argc, argv, &files);
    err_t e = {0};

    /* configuration */
    clip_config_t cfg = {.v_width = o.width, .v_layers = o.layers, .v_heads = o.heads, .patch = o.patch,
                         .image_size = o.image_size, .t_width = o.t_width, .t_layers = o.t_layers,
                         .t_heads = o.t_heads, .context = o.context, .vocab = 49408, .embed_dim = o.embed,
                         .mlp_ratio = 4};
    const char *tpl[MAX_TEMPLATES];
    int ntpl = 0;
    if (o.templates.n > MAX_TEMPLATES) die(EXIT_USAGE, "--template: at most %d", MAX_TEMPLATES);
    for (int i = 0; i < o.templates.n; i++) tpl[ntpl++] = o.templates.v[i];
    if (!ntpl)
        for (size_t i = 0; i < sizeof default_train_templates / sizeof *default_train_templates; i++)
            tpl[ntpl++] = default_train_templates[i];

    /* data */
    data_t d = {0};
    if (o.val_keys && keylist_read(o.val_keys, &d.valkeys, NULL, &e)) die(e.code, "--val-keys: %s", e.msg);
    if (o.classes_file) {
        strlist_t cl = {0};
        if (read_lines(o.classes_file, &cl, &e)) die_err(&e);
        for (int i = 0; i < cl.n; i++)
            if (word_index(&d, cl.v[i]) < 0) word_add(&d, cl.v[i]);
        strlist_free_items(&cl);
        if (!d.nwords) die(EXIT_USAGE, "--classes %s: no words", o.classes_file);
        d.fixed_classes = 1;
    }
    records_opts_t ro = {.keep_going = o.keep_going, .progress = o.progress};
    records_run(&files, &ro, load_one, &d);
    if (o.samples_from && d.val.n < 1)
        die(o.val_keys ? EXIT_DATA : EXIT_USAGE, "--samples-from: no held-out records (%s)",
            o.val_keys ? "none of the input's key_ids is in --val-keys" : "give --val-keys FILE");
    if (!o.samples_from && d.train.n < 1) die(EXIT_DATA, "no training records (all held out, or no input)");
    if (d.nwords < 2) die(EXIT_DATA, "only one word in the data: contrastive training needs at least two");
    d.by_word_n = xcalloc((size_t)d.nwords, sizeof *d.by_word_n);
    d.by_word = xcalloc((size_t)d.nwords, sizeof *d.by_word);
    for (int i = 0; i < d.train.n; i++) d.by_word_n[d.train.it[i].word]++;
    for (int w = 0; w < d.nwords; w++) d.by_word[w] = xmalloc(((size_t)d.by_word_n[w] + 1) * sizeof(int));
    int *fillc = xcalloc((size_t)d.nwords, sizeof *fillc);
    for (int i = 0; i < d.train.n; i++) {
        int w = d.train.it[i].word;
        d.by_word[w][fillc[w]++] = i;
    }
    free(fillc);
    /* data-parallel (bin/clip-train-mpi): rank r computes slots r*lb .. of every global batch */
    dist_t D = {.rank = 0, .size = 1};
    if (dist_init(&D, &argc, &argv, &e)) die_err(&e);
    if (o.batch % D.size) die(EXIT_USAGE, "--batch %d does not split evenly over %d ranks (give a multiple)", o.batch, D.size);
    int lb = o.batch / D.size, root = D.rank == 0;
    long long steps_per_epoch = (d.train.n + o.batch - 1) / o.batch;
    long long total = o.steps ? o.steps : (long long)ceil(o.epochs * (double)d.train.n / o.batch);
    if (total < 1) total = 1;
    long long eval_every = o.eval_every ? o.eval_every : steps_per_epoch;
    long long save_every = o.save_every ? o.save_every : eval_every;

    lr_sched_t sched;
    char msg[256];
    {
        char def[256];
        long long wu = (long long)(o.warmup_frac * (double)total);
        snprintf(def, sizeof def, "cosine:warmup=%lld,min=%.17g", wu, o.lr * o.min_lr_frac);
        if (lr_parse(&sched, o.schedule ? o.schedule : def, o.lr, total, msg, sizeof msg))
            die(EXIT_USAGE, "--schedule: %s", msg);
    }
    char sched_spec[256];
    lr_format(&sched, sched_spec, sizeof sched_spec);

    pool_t pool;
    if (pool_init(&pool, o.threads ? o.threads : pool_cores(), &e)) die_err(&e);
    nn_par_t par = pool_par(&pool);
    char *vocab = o.vocab ? xstrdup(o.vocab) : data_path("clip/bpe_simple_vocab_16e6.txt.gz");
    if (!vocab) die(EXIT_IO, "cannot find the BPE vocabulary clip/bpe_simple_vocab_16e6.txt.gz (give --vocab)");
    bpe_t *bpe = bpe_load(vocab, &e);
    if (!bpe) die_err(&e);
    if (o.samples_from) {
        if (samples_only(&o, &d, bpe, &pool, &e)) die_err(&e);
        bpe_free(bpe);
        free(vocab);
        pool_free(&pool);
        data_free(&d);
        strlist_free(&files);
        strlist_free(&o.templates);
        dist_finalize(&D);
        close_stdout();
        return 0;
    }
    captions_t cap = {0};
    if (captions_make(&cap, bpe, &d, tpl, ntpl, o.context, &e)) die_err(&e);

    clip_trainer_t T;
    if (clip_trainer_init(&T, &cfg, lb, &par, &e)) die_err(&e);
    clip_trainer_set_dist(&T, &D);
    rng_t init_rng;
    rng_seed2(&init_rng, (uint64_t)o.seed, 0x1417);
    clip_trainer_init_weights(&T, &init_rng);

    run_t R = {.o = &o, .d = &d, .cap = &cap, .S = o.image_size, .nw = pool.nthreads > 0 ? pool.nthreads : 1};
    degrade_plan_init(&R.plan);
    if (o.augment[0] && degrade_plan_add_mix(&R.plan, o.augment, &e)) die(EXIT_USAGE, "--augment: %s", e.msg);
    R.w = xcalloc((size_t)R.nw, sizeof *R.w);
    int use_plugin = strcmp(o.renderer, "builtin") != 0;
    for (int i = 0; i < R.nw; i++) {
        worker_t *w = &R.w[i];
        w->use_plugin = use_plugin;
        if (use_plugin && render_open(&w->rp, o.renderer, NULL, &e)) die_err(&e);
        if (raster_init(&w->r, 256, 256, &e) || image_init(&w->im, 256, 256, 1, 255, &e)) die_err(&e);
        w->paper = xmalloc(256 * 256 * sizeof *w->paper);
        drawing_init(&w->d);
        imgprep_init(&w->prep);
    }
    R.items = xcalloc((size_t)o.batch, sizeof *R.items);
    R.img = xmalloc((size_t)lb * 3 * o.image_size * o.image_size * sizeof *R.img);
    R.ids = xcalloc((size_t)lb * o.context, sizeof *R.ids);
    R.slot0 = D.rank * lb;
    int *perm = xmalloc((size_t)d.nwords * sizeof *perm);

    /* validation images, rendered once (rank 0 alone validates) */
    R.nval = root ? d.val.n : 0;
    if (R.nval) {
        R.val_u8 = xmalloc((size_t)R.nval * o.image_size * o.image_size);
        R.fail = 0;
        pool_run(&pool, R.nval, val_job, &R);
        if (R.fail) die_err(&R.w[R.fail - 1].err);
    }
    for (int i = 0; i < R.nw; i++) {
        raster_free(&R.w[i].r);
        if (raster_init(&R.w[i].r, o.image_size, o.image_size, &e)) die_err(&e);
    }

    if (root && mkdir_p(o.out, &e)) die_err(&e);
    char *ckpt_path = path_join(o.out, "checkpoint.safetensors"), *model_path = path_join(o.out, "model.safetensors"),
         *log_path = path_join(o.out, "log.ndjson"), *samples_path = path_join(o.out, "samples.ndjson");
    worker_t sw; /* renders the samples */
    study_worker_init(&sw);

    /* what a resumed run must agree with */
    char mv[32][2][320];
    int nmeta = 0;
#define META(k, ...) (snprintf(mv[nmeta][0], 320, "%s", k), snprintf(mv[nmeta][1], 320, __VA_ARGS__), nmeta++)
    META("train.seed", "%lld", o.seed);
    META("train.batch", "%d", o.batch);
    META("train.steps", "%lld", total);
    META("train.schedule", "%s", sched_spec);
    META("train.wd", "%.17g", o.wd);
    META("train.beta2", "%.17g", o.beta2);
    META("train.clip_norm", "%.17g", o.clip_norm);
    META("train.renderer", "%s", o.renderer);
    META("train.augment", "%.300s", o.augment);
    META("train.records", "%d", d.train.n);
    META("train.words", "%d", d.nwords);
    ckpt_kv_t kv[32];
    for (int i = 0; i < nmeta; i++) kv[i] = (ckpt_kv_t){mv[i][0], mv[i][1]};

    long long step = 0;
    if (o.resume) {
        ckpt_state_t st = {0};
        if (clip_trainer_load(&T, ckpt_path, &st, &e)) die_err(&e);
        ckpt_t *c = ckpt_open(ckpt_path, &e);
        if (!c) die_err(&e);
        for (int i = 0; i < nmeta; i++) {
            const char *v = ckpt_meta(c, kv[i].key);
            if (!v || strcmp(v, kv[i].value))
                die(EXIT_MODEL, "%s: %s is \"%s\" there, \"%s\" in this run: resume with the options that started it",
                    ckpt_path, kv[i].key, v ? v : "(absent)", kv[i].value);
        }
        ckpt_close(c);
        step = st.step;
        if (root) fprintf(stderr, "%s: resuming %s at step %lld of %lld\n", progname, ckpt_path, step, total);
    }
    if (root && D.size > 1)
        fprintf(stderr, "%s: data-parallel over %d ranks (%s), %d pairs a rank a step\n", progname, D.size, dist_impl(), lb);

    if (root) fprintf(stderr,
            "%s: %d training / %d validation records, %d words; model %.2fM parameters (vision %dx%d, patch %d, "
            "%d px; text %dx%d, context %d; embed %d); %lld steps of %d (%.2f epochs), schedule %s\n",
            progname, d.train.n, R.nval, d.nwords, clip_params_count(&cfg) / 1e6, o.layers, o.width, o.patch,
            o.image_size, o.t_layers, o.t_width, o.context, o.embed, total, o.batch,
            (double)total * o.batch / d.train.n, sched_spec);

    adamw_hparams_t hp = adamw_defaults(o.lr);
    hp.beta1 = o.beta1, hp.beta2 = o.beta2, hp.eps = o.eps, hp.weight_decay = o.wd;
    double t0 = now_sec(), tlast = 0, loss_ema = 0, t_data = 0, t_model = 0;
    long long step0 = step;
    ckpt_state_t st = {.meta = kv, .nmeta = nmeta};
    long long stop = o.stop_after && step + o.stop_after < total ? step + o.stop_after : total;
    while (step < stop) {
        double ta = now_sec();
        pick_batch(&R, step, o.batch, perm);
        R.step = step;
        R.fail = 0;
        pool_run(&pool, lb, sample_job, &R);
        if (R.fail) die_err(&R.w[R.fail - 1].err);
        float loss, acc;
        double gn;
        hp.lr = lr_at(&sched, step);
        double tb = now_sec();
        t_data += tb - ta;
        if (clip_trainer_grads(&T, R.img, R.ids, lb, &loss, &acc, &e) ||
            dist_sum_f(&D, T.ps.grad, T.ps.size, &e) || /* the one gradient allreduce (no-op alone) */
            clip_trainer_update(&T, &hp, step + 1, o.clip_norm, &gn, &e))
            die(e.code, "step %lld: %s", step + 1, e.msg);
        step++;
        t_model += now_sec() - tb;
        loss_ema = step == step0 + 1 ? loss : 0.98 * loss_ema + 0.02 * loss;
        double t = now_sec() - t0;
        if (root && (o.progress || isatty(2))) {
            if (t - tlast > 2 || step == total || getenv("CT_DEBUG")) {
                double per = t / (double)(step - step0);
                fprintf(stderr,
                        "\r%s: step %lld/%lld epoch %.2f loss %.4f (avg %.4f) batch-acc %.2f lr %.2e |g| %.2f "
                        "T %.1f  %.2f s/step (data %.0f%%) ETA %.0f min   ",
                        progname, step, total, (double)step * o.batch / d.train.n, loss, loss_ema, acc, hp.lr, gn,
                        exp(T.m.w.logit_scale[0]), per, 100 * t_data / (t_data + t_model), per * (double)(total - step) / 60);
                tlast = t;
            }
        }
        int do_eval = step % eval_every == 0 || step == total,
            do_save = step % save_every == 0 || step == total || step == stop;
        if (root && do_eval) {
            eval_t ev = {0};
            if (R.nval) {
                float *cls = class_embed(&R, &T, bpe, &e);
                if (!cls || evaluate(&R, &T, cls, step == total ? 0 : (int)o.val_limit, &ev, &e) ||
                    write_samples(&R, &T, cls, &sw, step, samples_path, &e))
                    die_err(&e);
                free(cls);
            }
            buf_t b = {0};
            buf_printf(&b,
                       "{\"step\":%lld,\"epoch\":%.4f,\"loss\":%.6f,\"loss_avg\":%.6f,\"lr\":%.6g,\"temperature\":%.4f,"
                       "\"val_n\":%ld,\"val_top1\":%.6f,\"val_top5\":%.6f,\"study10_n\":%ld,\"study10_top1\":%.6f,"
                       "\"seconds\":%.1f}\n",
                       step, (double)step * o.batch / d.train.n, loss, loss_ema, hp.lr, exp(T.m.w.logit_scale[0]),
                       ev.n, ev.top1, ev.top5, ev.n_study, ev.top1_study, t);
            log_append(log_path, b.s);
            fprintf(stderr,
                    "\n%s: step %lld: validation zero-shot top-1 %.4f top-5 %.4f on %ld records (%d words); "
                    "study's 10 words top-1 %.4f on %ld\n",
                    progname, step, ev.top1, ev.top5, ev.n, d.nwords, ev.top1_study, ev.n_study);
            buf_free(&b);
        }
        if (root && do_save) {
            st.step = step;
            if (clip_trainer_save(&T, ckpt_path, &st, CKPT_OPTIM, &e)) die_err(&e);
            dist_note_checkpoint(ckpt_path, step);
        }
    }
    if (!root) {
        /* rank 0 writes */
    } else if (step < total) {
        fprintf(stderr, "\n%s: stopped after step %lld of %lld (--stop-after); continue with --resume\n", progname,
                step, total);
    } else {
        st.step = step;
        if (clip_trainer_save(&T, model_path, &st, o.f16 ? CKPT_F16 : CKPT_WEIGHTS, &e)) die_err(&e);
        fprintf(stderr, "\n%s: %lld steps in %.1f s; wrote %s and %s\n", progname, step - step0, now_sec() - t0,
                model_path, ckpt_path);
    }

    free(perm), free(R.items), free(R.img), free(R.ids), free(R.val_u8);
    for (int i = 0; i < R.nw; i++) worker_free(&R.w[i]);
    worker_free(&sw);
    free(R.w);
    degrade_plan_free(&R.plan);
    clip_trainer_free(&T);
    free(cap.ids);
    bpe_free(bpe);
    free(vocab);
    pool_free(&pool);
    data_free(&d);
    free(ckpt_path), free(model_path), free(log_path), free(samples_path);
    strlist_free(&files);
    strlist_free(&o.templates);
    dist_finalize(&D);
    return 0;
}
