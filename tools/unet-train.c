/* unet-train - train the sketch enhancer (a U-Net generator with a
 * conditional PatchGAN, pix2pix) on degraded/clean pairs, and apply it.
 *
 * Training input: qd-degrade pair records (sketch NDJSON with the degraded
 * "drawing" and the clean "target"; files or stdin, .gz ok), rendered on the
 * fly at --size through a renderer plugin (softline by default) with the
 * study's variations -- target width 2, input width drawn from 1..3, a
 * Gaussian blur of radius 0.5 on 30% of the inputs, in the study's 224-pixel
 * frame scaled to --size (docs/study.md 1.4) -- or, with --png, PNG
 * streams of alternating input and target images (the pair tagged by the
 * input's key_id).  Records whose key_id is in --val-keys (or, without it,
 * whose key_id hashes into the --val-frac fraction) are held out.
 *
 * Loss (pix2pix): G = 100 L1 + BCE-with-logits(D(x, G(x)), 1); D = half of
 * BCE(D(x, y), 1) + BCE(D(x, G(x)), 0); Adam 2e-4 (0.5, 0.999) for both;
 * --no-gan trains the generator on 100 L1 alone (the study's run).
 *
 * Each evaluation (every --eval-every steps, default once per epoch, and at
 * the end) reports the train L1 (mean over the steps since the last one,
 * train mode) and, on the held-out pairs in eval mode, L1, the ink ratio
 * of the outputs and of the targets, the IoU of inked pixels (threshold
 * 0.5), the L1 of the all-white predictor -- the figures that expose a
 * blank output (docs/study.md 7.3) -- and the L1 of the input itself
 * (a model that only copies its input).  On stderr and in DIR/log.ndjson.
 *
 * Randomness: one master generator, checkpointed; each step draws its
 * sample seeds and its dropout seed from it, and the epoch's order is a
 * function of (--seed, epoch).  So --stop-after + --resume gives the same
 * checkpoint, byte for byte, as an uninterrupted run (with the same -j).
 *
 * Files in --out DIR: checkpoint.safetensors ("gen.*" and "disc.*" tensors,
 * both Adam states, step, master RNG, config; every --save-every steps and
 * at the end, atomically), model.safetensors (the generator's weights and
 * config: what --apply reads), log.ndjson, samples_epochNNN.png (input |
 * output | target rows of the first held-out pairs, every --sample-every
 * epochs and at the end).
 *
 * --apply FILE: a model (or checkpoint) maps PNG streams (or, with
 * --records, sketch records rasterised as the training inputs were) to an
 * enhanced PNG stream with the same text chunks; with --vectorize to sketch
 * records instead (common/vectorize.h).  docs/unet.md, "unet-train".
 */
#include "checkpoint.h"
#include "cli.h"
#include "dist.h"
#include "keylist.h"
#include "nn/loss.h"
#include "nn/lr.h"
#include "png_io.h"
#include "pool.h"
#include "raster.h"
#include "records.h"
#include "render.h"
#include "sketch.h"
#include "unet.h"
#include "unet_train.h"
#include "util.h"
#include "vectorize.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int arch, norm, base, depth, size, ndf, dlayers, no_gan;
    int timing;          /* --timing: report the median wall time of a step */
    int batch, threads, progress, keep_going, resume, png, records, vec, f16;
    long long steps, eval_every, save_every, stop_after, seed, sample_every, nsamples;
    double epochs, lr, beta1, beta2, lambda, val_frac;
    const char *schedule, *decay, *out, *val_keys, *renderer, *apply, *targets;
    double frame, pad, twidth, iw_lo, iw_hi, blur_p, blur;
    double eval_iwidth;
    vec_opts_t vo;
} opts_t;

/* ------------------------------------------------------------------ data */

typedef struct {
    drawing_t in, tg;   /* records: the degraded drawing and the clean target */
    uint8_t *pin, *ptg; /* --png: (S,S) grey images */
    int canvas;         /* records: both in a cw x ch pixel frame */
    double cw, ch;
    char *key;
} item_t;

typedef struct {
    item_t *it;
    int n, cap;
} itemlist_t;

typedef struct {
    const opts_t *o;
    itemlist_t train, val;
    strset_t valkeys;
    int S;
} data_t;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int is_val(const data_t *d, const char *key) {
    if (d->o->val_keys) return key[0] && strset_has(&d->valkeys, key);
    if (!key[0] || d->o->val_frac <= 0) return 0;
    return (double)(hash_str(key) >> 11) * 0x1p-53 < d->o->val_frac;
}

static item_t *push(data_t *d, const char *key) {
    itemlist_t *L = is_val(d, key) ? &d->val : &d->train;
    if (L->n == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 256;
        L->it = xrealloc(L->it, (size_t)L->cap * sizeof *L->it);
    }
    item_t *it = &L->it[L->n++];
    memset(it, 0, sizeof *it);
    it->key = xstrdup(key);
    return it;
}

static int drawing_ok(const sketch_t *s, const drawing_t *dr, const char *what, err_t *e) {
    double x0, y0, x1, y1;
    if (drawing_npoints(dr) < 1 || !drawing_bbox(dr, &x0, &y0, &x1, &y1))
        return err_set(e, EXIT_DATA, "%s: %s: empty drawing (it would render blank)", sketch_label(s), what);
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
        return err_set(e, EXIT_DATA, "%s: %s: a coordinate is not finite", sketch_label(s), what);
    return 0;
}

static int load_pair(sketch_t *s, records_pos_t *pos, void *vd, err_t *e) {
    (void)pos;
    data_t *d = vd;
    if (!sketch_has(s, "target"))
        return err_set(e, EXIT_DATA, "%s: no \"target\": not a pair record (pipe the sketches through qd-degrade)",
                       sketch_label(s));
    drawing_t tg;
    drawing_init(&tg);
    int rc = sketch_get_drawing(s, "target", &tg, e);
    if (!rc) rc = drawing_ok(s, &s->drawing, "drawing", e);
    if (!rc) rc = drawing_ok(s, &tg, "target", e);
    if (rc) {
        drawing_free(&tg);
        return rc;
    }
    item_t *it = push(d, s->key_id);
    drawing_init(&it->in);
    drawing_copy(&it->in, &s->drawing);
    it->tg = tg;
    it->canvas = sketch_canvas(s, &it->cw, &it->ch);
    return 0;
}

static void to_grey(const image_t *im, uint8_t *dst) {
    size_t n = (size_t)im->w * im->h;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = im->px + i * im->c;
        dst[i] = im->c < 3 ? p[0] : (uint8_t)((299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000);
    }
}

/* --png: images 2k+1 (input) and 2k+2 (target) of each stream are a pair;
 * with --targets, image k of the input streams and image k of the target
 * stream.  ps2 NULL: alternating. */
static void load_png(data_t *d, pngstream_t *ps, pngstream_t *ps2) {
    err_t e = {0};
    image_t a = {0}, b = {0};
    pngtext_t ta = {0}, tb = {0};
    int r, S = d->S;
    pngstream_t *pt = ps2 ? ps2 : ps;
    while ((r = pngs_next(ps, &a, &ta, &e)) == 1) {
        long ia = pngs_index(ps);
        const char *k = pngtext_get(&ta, "key_id");
        char key[160];
        snprintf(key, sizeof key, "%s", k ? k : "");
        char who[256];
        if (key[0]) snprintf(who, sizeof who, "%s: image %ld (key_id %s)", pngs_name(ps), ia, key);
        else snprintf(who, sizeof who, "%s: image %ld", pngs_name(ps), ia);
        r = pngs_next(pt, &b, &tb, &e);
        if (r < 0) die_err(&e);
        if (r == 0) die(EXIT_DATA, "%s: an input image without its target (%s ends)", who, pngs_name(pt));
        const char *k2 = pngtext_get(&tb, "key_id");
        if (k && k2 && strcmp(k, k2))
            die(EXIT_DATA, "%s: its target (%s image %ld) is key_id %s: the streams are not paired", who,
                pngs_name(pt), pngs_index(pt), k2);
        if (a.w != b.w || a.h != b.h)
            die(EXIT_DATA, "%s: the pair's images differ in size: input %dx%d, target %dx%d", who, a.w, a.h, b.w,
                b.h);
        if (a.w != S || a.h != S)
            die(EXIT_DATA, "%s: the pair is %dx%d, --size is %d (rasterize --size %d)", who, a.w, a.h, S, S);
        item_t *it = push(d, key);
        it->pin = xmalloc((size_t)S * S);
        it->ptg = xmalloc((size_t)S * S);
        to_grey(&a, it->pin);
        to_grey(&b, it->ptg);
    }
    if (r < 0) die_err(&e);
    image_free(&a), image_free(&b);
    pngtext_free(&ta), pngtext_free(&tb);
}

/* ------------------------------------------------------------------ rendering */

typedef struct {
    render_t rp;
    raster_t r;
    int use_plugin;
    float *paper, *tmp;
    drawing_t dr;
    err_t err;
} worker_t;

static void worker_init(worker_t *w, const char *renderer, int S) {
    err_t e = {0};
    memset(w, 0, sizeof *w);
    w->use_plugin = strcmp(renderer, "builtin") != 0;
    if (w->use_plugin && render_open(&w->rp, renderer, NULL, &e)) die_err(&e);
    if (raster_init(&w->r, S, S, &e)) die_err(&e);
    w->paper = xmalloc((size_t)S * S * sizeof *w->paper);
    w->tmp = xmalloc((size_t)S * S * sizeof *w->tmp);
    drawing_init(&w->dr);
}

static void worker_free(worker_t *w) {
    if (w->use_plugin) render_close(&w->rp);
    raster_free(&w->r);
    free(w->paper), free(w->tmp);
    drawing_free(&w->dr);
}

/* Separable Gaussian blur of paper (S,S), sigma in pixels, edges clamped. */
static void blur(float *p, float *tmp, int S, double sigma) {
    if (sigma <= 0) return;
    int R = (int)ceil(3 * sigma);
    if (R > 16) R = 16;
    float k[33];
    double sum = 0;
    for (int i = -R; i <= R; i++) sum += k[i + R] = (float)exp(-0.5 * i * i / (sigma * sigma));
    for (int i = 0; i < 2 * R + 1; i++) k[i] = (float)(k[i] / sum);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            float a = 0;
            for (int i = -R; i <= R; i++) {
                int xx = x + i < 0 ? 0 : x + i >= S ? S - 1 : x + i;
                a += k[i + R] * p[y * S + xx];
            }
            tmp[y * S + x] = a;
        }
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            float a = 0;
            for (int i = -R; i <= R; i++) {
                int yy = y + i < 0 ? 0 : y + i >= S ? S - 1 : y + i;
                a += k[i + R] * tmp[yy * S + x];
            }
            p[y * S + x] = a;
        }
}

/* The transform a record's drawing is drawn through: its canvas frame, or
 * the study's fit to its own bounding box. */
static void frame_of(const opts_t *o, const drawing_t *dr, int canvas, double cw, double ch, int S, xform_t *xf) {
    if (canvas) xform_canvas(cw, ch, S, xf);
    else xform_fit(dr, S, o->pad * S / o->frame, xf);
}

/* Draw dr at S x S (width in pixels, blur sigma) into out as [-1,1]. */
static int draw(worker_t *w, const opts_t *o, const drawing_t *dr, int canvas, double cw, double ch, int S,
                double width, double sigma, float *out, const char *key) {
    xform_t xf;
    frame_of(o, dr, canvas, cw, ch, S, &xf);
    if (w->use_plugin) {
        if (render_drawing(&w->rp, dr, xf.sx, xf.sy, xf.ox, xf.oy, (float)width, S, S, w->paper, &w->err))
            return err_prefix(&w->err, "key_id %s", key);
    } else {
        raster_drawing(&w->r, w->paper, dr, &xf, width);
    }
    blur(w->paper, w->tmp, S, sigma);
    size_t n = (size_t)S * S;
    for (size_t i = 0; i < n; i++) {
        float v = w->paper[i];
        v = v < 0 ? 0 : v > 1 ? 1 : v;
        out[i] = 2 * v - 1;
    }
    return 0;
}

static void from_u8(const uint8_t *p, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = p[i] * (2.0f / 255.0f) - 1;
}

/* One pair into A (input) and Bt (target): rendered with the variations
 * drawn from r (NULL: the fixed evaluation widths, no blur). */
static int make_pair(worker_t *w, const opts_t *o, int S, const item_t *it, rng_t *r, float *A, float *Bt) {
    if (it->pin) {
        from_u8(it->pin, (size_t)S * S, A);
        from_u8(it->ptg, (size_t)S * S, Bt);
        return 0;
    }
    double f = S / o->frame;
    double iw = o->eval_iwidth, sig = 0;
    if (r) {
        iw = o->iw_lo + rng_uniform(r) * (o->iw_hi - o->iw_lo);
        if (rng_uniform(r) < o->blur_p) sig = o->blur * f;
    }
    int rc = draw(w, o, &it->in, it->canvas, it->cw, it->ch, S, iw * f, sig, A, it->key);
    if (!rc) rc = draw(w, o, &it->tg, it->canvas, it->cw, it->ch, S, o->twidth * f, 0, Bt, it->key);
    if (rc) return rc;
    float ink = 0;
    for (size_t i = 0; i < (size_t)S * S; i++) ink += 1 - Bt[i];
    if (!(ink > 1e-3f)) return err_set(&w->err, EXIT_DATA, "key_id %s: the target renders blank", it->key);
    return 0;
}

/* ------------------------------------------------------------------ the run */

typedef struct {
    const opts_t *o;
    data_t *d;
    int S, B, nw;
    worker_t *w;
    const item_t **items; /* (batch) the global batch */
    uint64_t *seeds;      /* (batch) */
    int slot0;            /* this rank's first slot (data-parallel, dist.h) */
    float *A, *Bt;        /* (B,S,S) this rank's slots */
    int fail;
    /* evaluation batch */
    const itemlist_t *L;
    int base;
} run_t;

static void sample_job(void *vr, int begin, int end, int tid) {
    run_t *R = vr;
    worker_t *w = &R->w[tid];
    size_t n = (size_t)R->S * R->S;
    for (int i = begin; i < end; i++) {
        rng_t r;
        rng_seed(&r, R->seeds[R->slot0 + i]);
        if (make_pair(w, R->o, R->S, R->items[R->slot0 + i], &r, R->A + i * n, R->Bt + i * n)) {
            __atomic_store_n(&R->fail, tid + 1, __ATOMIC_RELAXED);
            return;
        }
    }
}

static void eval_job(void *vr, int begin, int end, int tid) {
    run_t *R = vr;
    worker_t *w = &R->w[tid];
    size_t n = (size_t)R->S * R->S;
    for (int i = begin; i < end; i++)
        if (make_pair(w, R->o, R->S, &R->L->it[R->base + i], NULL, R->A + i * n, R->Bt + i * n)) {
            __atomic_store_n(&R->fail, tid + 1, __ATOMIC_RELAXED);
            return;
        }
}

/* The epoch's order: a Fisher-Yates shuffle seeded by (seed, epoch). */
static void epoch_order(int *perm, int n, uint64_t seed, long long epoch) {
    rng_t r;
    rng_seed2(&r, seed ^ 0x0de5eedULL, (uint64_t)epoch);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = 0; i < n - 1; i++) {
        int j = i + (int)rng_below(&r, (uint64_t)(n - i));
        int t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
}

typedef struct {
    double l1, white, copy, ink_out, ink_tg, iou;
    long n;
} metrics_t;

/* Accumulate out vs target (both [-1,1]): ink = value below 0 (grey < 0.5). */
static void metrics_add(metrics_t *m, const float *out, const float *tg, const float *inp, size_t n, double *inter,
                        double *uni) {
    double l1 = 0, wh = 0, cp = 0;
    long io = 0, it = 0, in = 0, un = 0;
    for (size_t i = 0; i < n; i++) {
        l1 += fabsf(out[i] - tg[i]);
        wh += 1 - tg[i];
        cp += fabsf(inp[i] - tg[i]);
        int a = out[i] < 0, b = tg[i] < 0;
        io += a, it += b, in += a & b, un += a | b;
    }
    m->l1 += l1, m->white += wh, m->copy += cp, m->ink_out += (double)io, m->ink_tg += (double)it;
    *inter += (double)in, *uni += (double)un;
    m->n += (long)n;
}

/* The generator (eval mode) over a list: metrics, and the first rows of
 * (input, output, target) kept for the sample grid. */
static int evaluate(run_t *R, pool_t *pool, unet_t *G, const itemlist_t *L, float *out, metrics_t *m, float *keep,
                    int nkeep, err_t *e) {
    memset(m, 0, sizeof *m);
    double inter = 0, uni = 0;
    size_t n = (size_t)R->S * R->S;
    int train = G->train;
    G->train = 0;
    for (int b0 = 0; b0 < L->n; b0 += R->B) {
        int nb = L->n - b0 < R->B ? L->n - b0 : R->B;
        R->L = L, R->base = b0, R->fail = 0;
        pool_run(pool, nb, eval_job, R);
        if (R->fail) {
            *e = R->w[R->fail - 1].err;
            G->train = train;
            return e->code;
        }
        if (unet_forward(G, R->A, nb, out, e)) {
            G->train = train;
            return e->code;
        }
        metrics_add(m, out, R->Bt, R->A, (size_t)nb * n, &inter, &uni);
        for (int i = 0; i < nb && b0 + i < nkeep; i++) {
            float *k = keep + (size_t)(b0 + i) * 3 * n;
            memcpy(k, R->A + i * n, n * sizeof *k);
            memcpy(k + n, out + i * n, n * sizeof *k);
            memcpy(k + 2 * n, R->Bt + i * n, n * sizeof *k);
        }
    }
    G->train = train;
    if (m->n) {
        m->l1 /= (double)m->n, m->white /= (double)m->n, m->copy /= (double)m->n;
        m->ink_out /= (double)m->n, m->ink_tg /= (double)m->n;
    }
    m->iou = uni > 0 ? inter / uni : 1;
    return 0;
}

/* rows of (input | output | target), 2-pixel grey gutters */
static int save_grid(const char *path, const float *keep, int rows, int S, err_t *e) {
    int g = 2, W = 3 * S + 4 * g, H = rows * S + (rows + 1) * g;
    image_t im;
    if (image_init(&im, W, H, 1, 160, e)) return e->code;
    size_t n = (size_t)S * S;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < 3; c++) {
            const float *p = keep + ((size_t)r * 3 + c) * n;
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++) {
                    float v = (p[y * S + x] + 1) * 0.5f;
                    v = v != v ? 0 : v < 0 ? 0 : v > 1 ? 1 : v;
                    im.px[(size_t)(g + r * (S + g) + y) * W + g + c * (S + g) + x] = (uint8_t)(v * 255 + 0.5f);
                }
        }
    pngtext_t t = {0};
    pngtext_set(&t, "columns", "input | output | target");
    int rc = pngio_save(path, &im, &t, e);
    pngtext_free(&t);
    image_free(&im);
    return rc;
}

/* ------------------------------------------------------------------ apply */

typedef struct {
    const opts_t *o;
    unet_t G;
    worker_t w;
    int S;
    float *x, *y;
    image_t im;
    pngtext_t text;
    vec_ws_t ws;
    drawing_t vd;
    buf_t out;
    long n, skipped;
    progress_t prog;
} apply_t;

static void enhance(apply_t *a) {
    err_t e = {0};
    if (unet_forward(&a->G, a->x, 1, a->y, &e)) die_err(&e);
    if (a->im.c != 1 || a->im.w != a->S || a->im.h != a->S) {
        image_free(&a->im);
        if (image_init(&a->im, a->S, a->S, 1, 255, &e)) die_err(&e);
    }
    size_t n = (size_t)a->S * a->S;
    for (size_t i = 0; i < n; i++) a->y[i] = (a->y[i] + 1) * 0.5f;
    image_from_float(&a->im, a->y);
}

/* Emit the enhanced image: as PNG with the text, or vectorised into rec
 * (a record to rewrite) or a fresh record from the text.  0, or EXIT_DATA
 * (no ink) with e filled. */
static int emit(apply_t *a, sketch_t *rec, const xform_t *xf, err_t *e) {
    if (!a->o->vec) {
        if (pngio_write(stdout, "<stdout>", &a->im, &a->text, e)) die_err(e);
        fflush(stdout);
        return 0;
    }
    if (vectorize_image(&a->ws, &a->im, &a->o->vo, &a->vd, NULL, e)) return e->code;
    if (!a->vd.nstrokes) return err_set(e, EXIT_DATA, "the enhanced image has no ink: no strokes to give back");
    buf_t *b = &a->out;
    b->len = 0;
    char cv[80];
    snprintf(cv, sizeof cv, "{\"width\":%d,\"height\":%d}", a->S, a->S);
    if (rec) {
        drawing_t init;
        drawing_init(&init);
        drawing_copy(&init, &rec->drawing);
        for (int k = 0; k < init.nstrokes; k++)
            for (int i = 0; i < init.s[k].n; i++) {
                init.s[k].x[i] = init.s[k].x[i] * xf->sx + xf->ox;
                init.s[k].y[i] = init.s[k].y[i] * xf->sy + xf->oy;
            }
        sketch_set_drawing(rec, "initial", &init, 3, 0);
        drawing_free(&init);
        sketch_set_drawing(rec, "drawing", &a->vd, 2, 0);
        sketch_set_raw(rec, "canvas", cv);
        sketch_write(rec, b);
    } else {
        const char *kid = pngtext_get(&a->text, "key_id");
        buf_puts(b, "{");
        int first = 1;
        if (kid) buf_puts(b, "\"key_id\":"), buf_jstr(b, kid), first = 0;
        for (int i = 0; i < a->text.n; i++) {
            const char *k = a->text.key[i];
            if (!strcmp(k, "key_id") || !strcmp(k, "drawing") || !strcmp(k, "canvas")) continue;
            buf_puts(b, first ? "" : ",");
            first = 0;
            buf_jstr(b, k);
            buf_puts(b, ":");
            buf_jstr(b, a->text.val[i]);
        }
        buf_puts(b, first ? "\"drawing\":" : ",\"drawing\":");
        drawing_to_json(b, &a->vd, 2, 0);
        buf_printf(b, ",\"canvas\":%s}\n", cv);
    }
    fwrite(b->s, 1, b->len, stdout);
    fflush(stdout);
    return 0;
}

static int apply_record(sketch_t *s, records_pos_t *pos, void *va, err_t *e) {
    apply_t *a = va;
    const opts_t *o = a->o;
    int rc = drawing_ok(s, &s->drawing, "drawing", e);
    if (rc) return rc;
    double cw = 0, ch = 0;
    int canvas = sketch_canvas(s, &cw, &ch);
    xform_t xf;
    frame_of(o, &s->drawing, canvas, cw, ch, a->S, &xf);
    if (draw(&a->w, o, &s->drawing, canvas, cw, ch, a->S, o->eval_iwidth * a->S / o->frame, 0, a->x, s->key_id)) {
        *e = a->w.err;
        return e->code;
    }
    enhance(a);
    pngtext_clear(&a->text);
    if (s->key_id[0]) pngtext_set(&a->text, "key_id", s->key_id);
    if (s->word) pngtext_set(&a->text, "word", s->word);
    if ((rc = emit(a, s, &xf, e))) return err_prefix(e, "%s", sketch_label(s));
    a->n++;
    progress_tick(&a->prog, a->n);
    return 0;
}

static void apply_png(apply_t *a, const char *path) {
    err_t e = {0};
    pngstream_t *ps = pngs_open(path, &e);
    if (!ps) die_err(&e);
    int r;
    long got = 0;
    while ((r = pngs_next(ps, &a->im, &a->text, &e)) == 1) {
        got++;
        const char *kid = pngtext_get(&a->text, "key_id");
        char who[256];
        if (kid) snprintf(who, sizeof who, "%s: image %ld (key_id %s)", pngs_name(ps), pngs_index(ps), kid);
        else snprintf(who, sizeof who, "%s: image %ld", pngs_name(ps), pngs_index(ps));
        if (a->im.w != a->S || a->im.h != a->S)
            die(EXIT_DATA, "%s: the image is %dx%d, the model takes %dx%d (rasterize --size %d)", who, a->im.w,
                a->im.h, a->S, a->S, a->S);
        uint8_t *g = xmalloc((size_t)a->S * a->S);
        to_grey(&a->im, g);
        from_u8(g, (size_t)a->S * a->S, a->x);
        free(g);
        enhance(a);
        if (emit(a, NULL, NULL, &e)) {
            if (!a->o->keep_going) die(e.code, "%s: %s", who, e.msg);
            warn("%s: %s (skipped)", who, e.msg);
            a->skipped++;
        }
        a->n++;
        progress_tick(&a->prog, a->n);
    }
    if (r < 0) die_err(&e); /* what was written before the damage stays written */
    if (!got && strcmp(path, "-")) die(EXIT_DATA, "%s: no image in the file (empty, or not a PNG)", path);
    pngs_close(ps);
}

static int run_apply(const opts_t *o, strlist_t *files) {
    err_t e = {0};
    ckpt_t *c = ckpt_open(o->apply, &e);
    if (!c) die_err(&e);
    unet_model_cfg_t m;
    apply_t a = {.o = o};
    if (unet_model_read(c, o->apply, &a.G, 1, NULL, &m, 0, &e)) die_err(&e);
    /* how the training inputs were drawn (model files of record-trained runs say), unless given */
    opts_t ro = *o;
    const char *mv;
    double x;
    char *end;
    static char rend[UNET_META_LEN];
    if (!ro.renderer) {
        ro.renderer = "softline";
        if ((mv = ckpt_meta(c, "render.renderer")) && mv[0]) ro.renderer = strncpy(rend, mv, sizeof rend - 1);
    }
    double *dst[3] = {&ro.frame, &ro.pad, &ro.eval_iwidth};
    const char *keys[3] = {"render.frame", "render.pad", "render.eval_width"};
    const double defs[3] = {224, 10, 2}, mins[3] = {1, 0, 0.01};
    for (int i = 0; i < 3; i++) {
        if (*dst[i] >= 0) continue;
        *dst[i] = defs[i];
        if ((mv = ckpt_meta(c, keys[i]))) {
            x = strtod(mv, &end);
            if (end == mv || *end || !(x >= mins[i] && x <= 1e5))
                die(EXIT_MODEL, "%s: metadata %s = \"%.40s\" is not a number in range", o->apply, keys[i], mv);
            *dst[i] = x;
        }
    }
    o = &ro;
    a.o = o;
    ckpt_close(c);
    a.S = unet_model_size(&m);
    a.G.train = 0;
    worker_init(&a.w, o->renderer, a.S);
    a.x = xmalloc((size_t)a.S * a.S * sizeof *a.x);
    a.y = xmalloc((size_t)a.S * a.S * sizeof *a.y);
    drawing_init(&a.vd);
    progress_init(&a.prog, "images", 0, o->progress);
    if (o->records) {
        records_opts_t rop = {.keep_going = o->keep_going, .progress = 0};
        records_run(files, &rop, apply_record, &a);
    } else {
        if (!files->n) apply_png(&a, "-");
        for (int i = 0; i < files->n; i++) apply_png(&a, files->v[i]);
    }
    progress_done(&a.prog);
    if (a.skipped) warn("skipped %ld image%s with no ink", a.skipped, a.skipped == 1 ? "" : "s");
    unet_free(&a.G);
    worker_free(&a.w);
    free(a.x), free(a.y);
    image_free(&a.im);
    pngtext_free(&a.text);
    vec_ws_free(&a.ws);
    drawing_free(&a.vd);
    buf_free(&a.out);
    close_stdout();
    return 0;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv) {
    util_init(argv[0]);
    opts_t o = {.arch = UNET_ARCH_PIX2PIX, .norm = UNET_NORM_BATCH, .base = 16, .depth = 6, .size = 64,
                .ndf = 16, .dlayers = 3, .batch = 8, .epochs = 5, .lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999,
                .lambda = 100, .val_frac = 0.1, .decay = "constant", .seed = 1,
                .sample_every = 1, .nsamples = 8, .frame = -1, .pad = -1, .twidth = 2, .iw_lo = 1, .iw_hi = 3,
                .blur_p = 0.3, .blur = 0.5, .eval_iwidth = -1};
    vec_opts_default(&o.vo);
    const char *iwidth = NULL;
    const opt_t table[] = {
        {"out", 'o', OPT_STR, &o.out, "DIR", "where the checkpoint, model, log and samples go (training)",
         OPT_NORANGE},
        {"arch", 0, OPT_ENUM, &o.arch, "study|pix2pix",
         "generator blocks: the study's post-activation U-Net or pix2pix's unet (default pix2pix)", OPT_NORANGE},
        {"base", 0, OPT_INT, &o.base, "C", "channels of the first level (the study and pix2pix: 64)", 1, 1024},
        {"depth", 0, OPT_INT, &o.depth, "D", "down-samplings (the presets: 8); --size is rounded up to 2^D inside",
         2, UNET_MAX_DEPTH},
        {"norm", 0, OPT_ENUM, &o.norm, "batch|instance", "normalisation of both networks", OPT_NORANGE},
        {"size", 's', OPT_INT, &o.size, "PX", "image side (the study: 224)", 8, 4096},
        {"ndf", 0, OPT_INT, &o.ndf, "C", "discriminator channels (pix2pix: 64)", 1, 1024},
        {"d-layers", 0, OPT_INT, &o.dlayers, "N", "discriminator stride-2 layers (3: the 70x70 PatchGAN)", 1,
         PATCHGAN_MAX_LAYERS},
        {"no-gan", 0, OPT_FLAG, &o.no_gan, NULL, "L1 alone, no discriminator (the study's run)", OPT_NORANGE},
        {"lambda", 0, OPT_DOUBLE, &o.lambda, "W", "weight of the L1 term", 0, 1e6},
        {"batch", 'b', OPT_INT, &o.batch, "N", "pairs per step", 1, 4096},
        {"epochs", 'e', OPT_DOUBLE, &o.epochs, "E", "training length in epochs (unless --steps)", 0, 1e6},
        {"steps", 0, OPT_INT, &o.steps, "N", "training length in steps (overrides --epochs)", 0, 1e12},
        {"lr", 0, OPT_DOUBLE, &o.lr, "LR", "Adam learning rate of both networks", 0, 1},
        {"beta1", 0, OPT_DOUBLE, &o.beta1, "B", "Adam beta1", 0, 0.999999},
        {"beta2", 0, OPT_DOUBLE, &o.beta2, "B", "Adam beta2", 0, 0.999999},
        {"lr-decay", 0, OPT_STR, &o.decay, "KIND",
         "constant, linear (to 0 at the end) or step (x0.5 every 20 epochs, the study's StepLR)", OPT_NORANGE},
        {"schedule", 0, OPT_STR, &o.schedule, "SPEC", "an lr schedule spec (nn/lr.h), overrides --lr-decay",
         OPT_NORANGE},
        {"val-keys", 0, OPT_STR, &o.val_keys, "FILE", "hold out the records whose key_id is listed", OPT_NORANGE},
        {"val-frac", 0, OPT_DOUBLE, &o.val_frac, "F",
         "without --val-keys: hold out the key_ids whose hash falls in this fraction", 0, 1},
        {"png", 0, OPT_FLAG, &o.png, NULL, "training input is PNG streams of alternating input / target images",
         OPT_NORANGE},
        {"targets", 0, OPT_STR, &o.targets, "FILE",
         "PNG pairs from two streams: the inputs (FILEs or stdin) and their targets, image for image",
         OPT_NORANGE},
        {"renderer", 'r', OPT_STR, &o.renderer, "SPEC",
         "renderer plugin, or builtin (default softline; --apply: the model's)",
         OPT_NORANGE},
        {"frame", 0, OPT_DOUBLE, &o.frame, "PX",
         "the frame widths and pad are given in (default the study's 224; --apply: the model's)", 1, 1e5},
        {"pad", 0, OPT_DOUBLE, &o.pad, "PX", "margin of the bounding-box fit, in the frame (default 10)", 0, 1e4},
        {"target-width", 0, OPT_DOUBLE, &o.twidth, "W", "target stroke width in the frame (the study: 2)", 0.01,
         1e4},
        {"input-width", 0, OPT_STR, &iwidth, "LO..HI",
         "training input width drawn from this range, in the frame (the study: 1..3)", OPT_NORANGE},
        {"eval-width", 0, OPT_DOUBLE, &o.eval_iwidth, "W",
         "input width for validation and --apply --records, in the frame (default 2; --apply: the model's)", 0.01,
         1e4},
        {"blur-p", 0, OPT_DOUBLE, &o.blur_p, "P", "probability of blurring a training input (the study: 0.3)", 0, 1},
        {"blur", 0, OPT_DOUBLE, &o.blur, "R", "Gaussian blur radius (sigma) in the frame (the study: 0.5)", 0, 100},
        {"seed", 0, OPT_INT, &o.seed, "S", "initial weights, data order, variations, dropout", 0, 9e18},
        {"eval-every", 0, OPT_INT, &o.eval_every, "N", "evaluate every N steps (0: once per epoch)", 0, 1e12},
        {"save-every", 0, OPT_INT, &o.save_every, "N", "write the checkpoint every N steps (0: at each evaluation)",
         0, 1e12},
        {"sample-every", 0, OPT_INT, &o.sample_every, "E", "write a sample grid every E epochs (0: at the end only)",
         0, 1e9},
        {"samples", 0, OPT_INT, &o.nsamples, "N", "rows of the sample grid", 1, 64},
        {"stop-after", 0, OPT_INT, &o.stop_after, "N",
         "end this invocation after N steps (checkpoint written; continue with --resume)", 0, 1e12},
        {"resume", 0, OPT_FLAG, &o.resume, NULL, "continue from DIR/checkpoint.safetensors", OPT_NORANGE},
        {"f16", 0, OPT_FLAG, &o.f16, NULL, "store model.safetensors as F16 (half the size; a model to ship)",
         OPT_NORANGE},
        {"apply", 0, OPT_STR, &o.apply, "MODEL",
         "enhance instead of training: PNG stream (or --records) in, PNG stream out", OPT_NORANGE},
        {"records", 0, OPT_FLAG, &o.records, NULL,
         "--apply: input is sketch records, each \"drawing\" rasterised at the model's size", OPT_NORANGE},
        {"vectorize", 0, OPT_FLAG, &o.vec, NULL,
         "--apply: emit sketch records (strokes traced from the enhanced image) instead of PNGs", OPT_NORANGE},
        {"threshold", 0, OPT_DOUBLE, &o.vo.threshold, "T", "--vectorize: ink is grey below T of white", 1e-6, 1},
        {"epsilon", 0, OPT_DOUBLE, &o.vo.epsilon, "PX", "--vectorize: RDP tolerance in pixels", 0, 1e6},
        {"min-length", 0, OPT_DOUBLE, &o.vo.min_length, "PX", "--vectorize: drop spurs shorter than this", 0, 1e6},
        {"threads", 'j', OPT_INT, &o.threads, "N", "threads (0: one per online core)", 0, POOL_MAX_THREADS},
        {"timing", 0, OPT_FLAG, &o.timing, NULL,
         "at the end, the median wall time of a training step (its pairs' rendering included; evaluation and "
         "checkpoints not; the first step left out) on stderr",
         OPT_NORANGE},
        OPT_KEEP_GOING(&o.keep_going),
        OPT_PROGRESS(&o.progress),
        {0},
    };
    const optspec_t spec = {
        .usage = "[options] [FILE...]",
        .summary =
            "Train the sketch enhancer -- a U-Net generator and a conditional PatchGAN (pix2pix: 100 L1 +\n"
            "BCE-with-logits, Adam 2e-4 (0.5, 0.999)) -- on qd-degrade pair records (FILEs or stdin, .gz ok)\n"
            "rendered on the fly, or on PNG pairs (--png); or apply a trained model (--apply).  Reports train\n"
            "and held-out L1, ink ratios, IoU of inked pixels and the all-white baseline; writes\n"
            "DIR/checkpoint.safetensors, DIR/model.safetensors, DIR/log.ndjson, DIR/samples_epochNNN.png.",
        .opts = table,
        .epilog =
            "Examples:\n"
            "  qd-extract --fit 256 data/quickdraw/simplified/fish.ndjson.gz | qd-degrade --seed 1 |\n"
            "      unet-train --size 64 --base 16 --epochs 5 --batch 8 -o outputs/unet\n"
            "  unet-train --apply outputs/unet/model.safetensors < degraded.pngs > enhanced.pngs\n"
            "  unet-train --apply outputs/unet/model.safetensors --records --vectorize < pairs.ndjson\n"
            "Exit codes: 1 bad data (a record, pair or PNG, named), 2 usage, 3 I/O, 5 a model or checkpoint\n"
            "that does not fit (the tensor or setting named), 6 NaN.  See docs/unet.md.",
    };
    strlist_t files = {0};
    opt_parse(&spec, argc, argv, &files);
    if (iwidth && unet_width_range(iwidth, &o.iw_lo, &o.iw_hi))
        die(EXIT_USAGE, "--input-width '%s': want W or LO..HI with 0 < LO <= HI <= 10000", iwidth);
    if (o.apply) return run_apply(&o, &files);
    if (!o.renderer) o.renderer = "softline";
    if (o.frame < 0) o.frame = 224;
    if (o.pad < 0) o.pad = 10;
    if (o.eval_iwidth < 0) o.eval_iwidth = 2;
    if (o.records || o.vec) die(EXIT_USAGE, "--records and --vectorize go with --apply");
    if (!o.out) die(EXIT_USAGE, "give --out DIR (where the checkpoint and the model go)");
    err_t e = {0};

    /* data */
    data_t d = {.o = &o, .S = o.size};
    if (o.val_keys && keylist_read(o.val_keys, &d.valkeys, NULL, &e)) die(e.code, "--val-keys: %s", e.msg);
    if (o.png || o.targets) {
        pngstream_t *pt = NULL;
        if (o.targets && !(pt = pngs_open(o.targets, &e))) die_err(&e);
        for (int i = 0; i < (files.n ? files.n : 1); i++) {
            const char *path = files.n ? files.v[i] : "-";
            pngstream_t *ps = pngs_open(path, &e);
            if (!ps) die_err(&e);
            load_png(&d, ps, pt);
            pngs_close(ps);
        }
        if (pt) {
            image_t x = {0};
            int r = pngs_next(pt, &x, NULL, &e);
            if (r < 0) die_err(&e);
            if (r) die(EXIT_DATA, "%s: image %ld: a target without its input (the inputs end)", o.targets, pngs_index(pt));
            pngs_close(pt);
        }
        o.png = 1;
    } else {
        records_opts_t ro = {.keep_going = o.keep_going, .progress = o.progress};
        records_run(&files, &ro, load_pair, &d);
    }
    if (d.train.n < 1) die(EXIT_DATA, "no training pairs (all held out, or no input)");
    int S = o.size, B = o.batch;
    /* data-parallel (bin/unet-train-mpi): rank r computes slots r*lb .. of every global batch */
    dist_t DP = {.rank = 0, .size = 1};
    if (dist_init(&DP, &argc, &argv, &e)) die_err(&e);
    if (B % DP.size) die(EXIT_USAGE, "--batch %d does not split evenly over %d ranks (give a multiple)", B, DP.size);
    int lb = B / DP.size, root = DP.rank == 0;
    float share = 1.0f / (float)DP.size; /* each rank's losses are means over its slice */
    long long spe = (d.train.n + B - 1) / B;
    long long total = o.steps ? o.steps : (long long)ceil(o.epochs * (double)spe);
    if (total < 1) total = 1;
    long long eval_every = o.eval_every ? o.eval_every : spe;
    long long save_every = o.save_every ? o.save_every : eval_every;

    lr_sched_t sched;
    char msg[256], def[256];
    if (!strcmp(o.decay, "constant")) snprintf(def, sizeof def, "constant");
    else if (!strcmp(o.decay, "linear")) snprintf(def, sizeof def, "linear:min=0");
    else if (!strcmp(o.decay, "step")) snprintf(def, sizeof def, "step:every=%lld,gamma=0.5", 20 * spe);
    else die(EXIT_USAGE, "--lr-decay '%s': constant, linear or step", o.decay);
    if (lr_parse(&sched, o.schedule ? o.schedule : def, o.lr, total, msg, sizeof msg))
        die(EXIT_USAGE, "--schedule: %s", msg);
    char sched_spec[256];
    lr_format(&sched, sched_spec, sizeof sched_spec);

    pool_t pool;
    if (pool_init(&pool, o.threads ? o.threads : pool_cores(), &e)) die_err(&e);
    nn_par_t par = pool_par(&pool);

    unet_model_cfg_t mc = unet_model_config(o.arch, o.norm, o.base, o.depth, o.size, o.ndf, o.dlayers, !o.no_gan);
    unet_t G;
    patchgan_t D;
    if (unet_init(&G, &mc.g, lb, &par, &e)) die_err(&e);
    if (mc.gan && patchgan_init(&D, &mc.d, lb, &par, &e)) die_err(&e);
    unet_set_dist(&G, &DP, DP.rank * lb); /* batch norm and dropout over the global batch */
    if (mc.gan) patchgan_set_dist(&D, &DP);
    rng_t init_rng;
    rng_seed2(&init_rng, (uint64_t)o.seed, 0x0e7);
    unet_init_weights(&G, &init_rng);
    if (mc.gan) patchgan_init_weights(&D, &init_rng);
    params_t all;
    params_init(&all);
    unet_ckpt_declare(&all, &G.ps, mc.gan ? &D.ps : NULL);
    if (params_alloc(&all, PARAMS_TRAIN, &e)) die_err(&e);

    run_t R = {.o = &o, .d = &d, .S = S, .B = lb, .slot0 = DP.rank * lb, .nw = pool.nthreads > 0 ? pool.nthreads : 1};
    R.w = xcalloc((size_t)R.nw, sizeof *R.w);
    for (int i = 0; i < R.nw; i++) worker_init(&R.w[i], o.renderer, S);
    size_t n = (size_t)S * S;
    R.items = xcalloc((size_t)B, sizeof *R.items);
    R.seeds = xcalloc((size_t)B, sizeof *R.seeds);
    R.A = xmalloc((size_t)B * n * sizeof *R.A);
    R.Bt = xmalloc((size_t)B * n * sizeof *R.Bt);
    float *fake = xmalloc((size_t)B * n * sizeof *fake), *dfake = xmalloc((size_t)B * n * sizeof *dfake);
    int oh = mc.gan ? patchgan_out_size(&mc.d) : 1;
    size_t nl = (size_t)lb * oh * oh;
    float *logits = xmalloc(nl * sizeof *logits), *dlog = xmalloc(nl * sizeof *dlog);
    int *perm = xmalloc((size_t)d.train.n * sizeof *perm);
    int nkeep = (int)o.nsamples;
    float *keep = xcalloc((size_t)nkeep * 3 * n, sizeof *keep);

    if (root && mkdir_p(o.out, &e)) die_err(&e);
    char *ckpt_path = path_join(o.out, "checkpoint.safetensors"), *model_path = path_join(o.out, "model.safetensors"),
         *log_path = path_join(o.out, "log.ndjson");

    char mv[40][2][UNET_META_LEN];
    ckpt_kv_t kv[40], kvm[40];
    int ncfg = unet_model_meta(&mc, mv, kv, 0), nmeta = ncfg;
#define META(k, ...)                                                                                          \
    (snprintf(mv[nmeta][0], UNET_META_LEN, "%s", k), snprintf(mv[nmeta][1], UNET_META_LEN, __VA_ARGS__),     \
     kv[nmeta] = (ckpt_kv_t){mv[nmeta][0], mv[nmeta][1]}, nmeta++)
    META("train.seed", "%lld", o.seed);
    META("train.batch", "%d", B);
    META("train.steps", "%lld", total);
    META("train.schedule", "%s", sched_spec);
    META("train.beta1", "%.17g", o.beta1);
    META("train.beta2", "%.17g", o.beta2);
    META("train.lambda", "%.17g", o.lambda);
    META("train.pairs", "%d", d.train.n);
    META("train.val_pairs", "%d", d.val.n);
    META("train.renderer", "%s", o.png ? "png" : o.renderer);
    META("train.widths", "%.9g,%.9g..%.9g,%.9g,blur %.9g@%.9g,frame %.9g,pad %.9g", o.twidth, o.iw_lo, o.iw_hi,
         o.eval_iwidth, o.blur, o.blur_p, o.frame, o.pad);
    int nmeta_ckpt = nmeta;
    META("unet.file", "checkpoint");
#undef META
    /* the model file also says how its inputs were drawn, for --apply --records */
    char rv[4][UNET_META_LEN];
    snprintf(rv[0], UNET_META_LEN, "%s", o.png ? "" : o.renderer);
    snprintf(rv[1], UNET_META_LEN, "%.17g", o.frame);
    snprintf(rv[2], UNET_META_LEN, "%.17g", o.pad);
    snprintf(rv[3], UNET_META_LEN, "%.17g", o.eval_iwidth);
    for (int i = 0; i < ncfg; i++) kvm[i] = kv[i];
    int nkvm = ncfg;
    kvm[nkvm++] = (ckpt_kv_t){"unet.file", "model"};
    if (!o.png) {
        kvm[nkvm++] = (ckpt_kv_t){"render.renderer", rv[0]};
        kvm[nkvm++] = (ckpt_kv_t){"render.frame", rv[1]};
        kvm[nkvm++] = (ckpt_kv_t){"render.pad", rv[2]};
        kvm[nkvm++] = (ckpt_kv_t){"render.eval_width", rv[3]};
    }

    if (root && !o.resume && unlink(log_path) && errno != ENOENT) die(EXIT_IO, "%s: cannot remove: %s", log_path, strerror(errno));
    rng_t master;
    rng_seed2(&master, (uint64_t)o.seed, 0x7a1);
    ckpt_rng_t rngs[1] = {{"master", &master}};
    long long step = 0;
    if (o.resume) {
        ckpt_t *c = ckpt_open(ckpt_path, &e);
        if (!c) die_err(&e);
        if (ckpt_read(c, &all, CKPT_OPTIM, &e) || ckpt_rng(c, "master", &master, &e)) die_err(&e);
        for (int i = 0; i < nmeta_ckpt; i++) {
            const char *v = ckpt_meta(c, kv[i].key);
            if (!v || strcmp(v, kv[i].value))
                die(EXIT_MODEL, "%s: %s is \"%s\" there, \"%s\" in this run: resume with the options that started it",
                    ckpt_path, kv[i].key, v ? v : "(absent)", kv[i].value);
        }
        step = ckpt_step(c);
        ckpt_close(c);
        if (step < 0 || step > total) die(EXIT_MODEL, "%s: step %lld is outside this run's %lld", ckpt_path, step, total);
        unet_ckpt_copy(&all, &G.ps, "gen.", 0);
        if (mc.gan) unet_ckpt_copy(&all, &D.ps, "disc.", 0);
        if (root) fprintf(stderr, "%s: resuming %s at step %lld of %lld\n", progname, ckpt_path, step, total);
    }
    if (root && DP.size > 1)
        fprintf(stderr, "%s: data-parallel over %d ranks (%s), %d pairs a rank a step\n", progname, DP.size,
                dist_impl(), lb);
    if (root) fprintf(stderr,
            "%s: %d training / %d held-out pairs; generator %s %s base %d depth %d at %d px (%.2fM parameters)%s; "
            "%lld steps of %d (%.2f epochs), schedule %s\n",
            progname, d.train.n, d.val.n, unet_arch_names[o.arch], unet_norm_names[o.norm], o.base, o.depth, S,
            unet_param_count(&mc.g) / 1e6, mc.gan ? ", PatchGAN" : ", no GAN", total, B, (double)total / spe,
            sched_spec);

    adamw_hparams_t hp = adamw_defaults(o.lr);
    hp.beta1 = o.beta1, hp.beta2 = o.beta2, hp.weight_decay = 0;
    ckpt_state_t st = {.rng = rngs, .nrng = 1, .meta = kv, .nmeta = nmeta};
    long long stop = o.stop_after && step + o.stop_after < total ? step + o.stop_after : total;
    double t0 = now_sec(), tlast = 0, l1_sum = 0, g_sum = 0, d_sum = 0;
    long long nsum = 0, step0 = step;
    const itemlist_t *EL = d.val.n ? &d.val : &d.train;
    int nshow = EL->n < nkeep ? EL->n : nkeep;
    double *st_sec = o.timing ? xcalloc((size_t)(stop - step) + 1, sizeof(double)) : NULL;
    int nst = 0;
    while (step < stop) {
        double ts0 = now_sec();
        long long epoch = step / spe, k = step % spe;
        if (k == 0 || step == step0) epoch_order(perm, d.train.n, (uint64_t)o.seed, epoch);
        for (int i = 0; i < B; i++) {
            long long p = (k * B + i) % d.train.n;
            R.items[i] = &d.train.it[perm[p]];
            R.seeds[i] = rng_u64(&master);
        }
        G.dropout_seed = rng_u64(&master);
        R.fail = 0;
        pool_run(&pool, lb, sample_job, &R);
        if (R.fail) die_err(&R.w[R.fail - 1].err);
        hp.lr = lr_at(&sched, step);
        float l1 = 0, lgan = 0, ld = 0;
        G.train = 1;
        if (unet_forward(&G, R.A, lb, fake, &e)) die(e.code, "step %lld: %s", step + 1, e.msg);
        if (mc.gan) {
            float lf, lr;
            D.train = 1, D.frozen = 0;
            params_zero_grad(&D.ps, &par);
            if (patchgan_forward(&D, R.A, fake, lb, logits, &e)) die_err(&e);
            bce_logits_loss(&par, &lf, dlog, logits, NULL, 0.0f, nl, 0.5f * share);
            if (patchgan_backward(&D, dlog, NULL, NULL, &e) || patchgan_forward(&D, R.A, R.Bt, lb, logits, &e))
                die_err(&e);
            bce_logits_loss(&par, &lr, dlog, logits, NULL, 1.0f, nl, 0.5f * share);
            if (patchgan_backward(&D, dlog, NULL, NULL, &e)) die_err(&e);
            ld = 0.5f * (lf + lr);
            if (!isfinite(ld) && params_check_finite(&D.ps, D.ps.grad, "discriminator gradient", &par, &e))
                die_err(&e);
            /* the discriminator's gradient allreduce (no-op alone) */
            if (dist_sum_f(&DP, D.ps.grad, D.ps.size, &e)) die(e.code, "step %lld: %s", step + 1, e.msg);
            if (params_step(&D.ps, &hp, step + 1, &par, &e)) die_err(&e);
            D.frozen = 1;
        }
        params_zero_grad(&G.ps, &par);
        l1_loss(&par, &l1, dfake, fake, R.Bt, (size_t)lb * n, (float)o.lambda * share);
        if (mc.gan) {
            if (patchgan_forward(&D, R.A, fake, lb, logits, &e)) die_err(&e);
            bce_logits_loss(&par, &lgan, dlog, logits, NULL, 1.0f, nl, share);
            if (patchgan_backward(&D, dlog, NULL, dfake, &e)) die_err(&e);
        }
        if (unet_backward(&G, dfake, NULL, &e)) die_err(&e);
        if (!isfinite(l1) || !isfinite(lgan)) {
            if (params_check_finite(&G.ps, G.ps.grad, "generator gradient", &par, &e)) die_err(&e);
            die(EXIT_NUMERIC, "step %lld: the loss is not finite (L1 %g, GAN %g)", step + 1, l1, lgan);
        }
        if (DP.size > 1) { /* the generator's gradient allreduce; the losses for the log */
            double ls[3] = {l1, lgan, ld};
            if (dist_sum_f(&DP, G.ps.grad, G.ps.size, &e) || dist_sum_d(&DP, ls, 3, &e))
                die(e.code, "step %lld: %s", step + 1, e.msg);
            l1 = (float)(ls[0] / DP.size), lgan = (float)(ls[1] / DP.size), ld = (float)(ls[2] / DP.size);
        }
        if (params_step(&G.ps, &hp, step + 1, &par, &e)) die_err(&e);
        if (st_sec) st_sec[nst++] = now_sec() - ts0;
        step++;
        l1_sum += l1, g_sum += lgan, d_sum += ld, nsum++;
        double t = now_sec() - t0;
        if (root && (o.progress || isatty(2)) && (t - tlast > 2 || step == stop)) {
            double per = t / (double)(step - step0);
            fprintf(stderr, "\r%s: step %lld/%lld epoch %.2f L1 %.4f G_GAN %.3f D %.3f lr %.2e  %.2f s/step ETA %.1f min   ",
                    progname, step, total, (double)step / spe, l1, lgan, ld, hp.lr, per,
                    per * (double)(stop - step) / 60);
            tlast = t;
        }
        int do_eval = step % eval_every == 0 || step == total;
        int do_save = step % save_every == 0 || step == total || step == stop;
        if (root && do_eval) {
            metrics_t m;
            if (evaluate(&R, &pool, &G, EL, fake, &m, keep, nshow, &e)) die_err(&e);
            buf_t b = {0};
            buf_printf(&b,
                       "{\"step\":%lld,\"epoch\":%.4f,\"lr\":%.6g,\"train_l1\":%.6f,\"train_g_gan\":%.6f,\"train_d\":%.6f,"
                       "\"%s_n\":%d,\"%s_l1\":%.6f,\"white_l1\":%.6f,\"input_l1\":%.6f,\"ink_out\":%.6f,\"ink_target\":%.6f,\"iou\":%.6f,"
                       "\"seconds\":%.1f}\n",
                       step, (double)step / spe, hp.lr, nsum ? l1_sum / nsum : 0, nsum ? g_sum / nsum : 0,
                       nsum ? d_sum / nsum : 0, d.val.n ? "val" : "train_eval", EL->n, d.val.n ? "val" : "train_eval",
                       m.l1, m.white, m.copy, m.ink_out, m.ink_tg, m.iou, t);
            log_append(log_path, b.s);
            buf_free(&b);
            fprintf(stderr,
                    "\n%s: step %lld (epoch %.2f): train L1 %.4f; %s L1 %.4f (all-white %.4f, input %.4f), ink %.4f vs target "
                    "%.4f, IoU %.3f on %d pairs\n",
                    progname, step, (double)step / spe, nsum ? l1_sum / nsum : 0, d.val.n ? "held-out" : "train (eval)",
                    m.l1, m.white, m.copy, m.ink_out, m.ink_tg, m.iou, EL->n);
            l1_sum = g_sum = d_sum = 0, nsum = 0;
            long long ep = step / spe;
            int grid = step == total || (o.sample_every && step % spe == 0 && ep % o.sample_every == 0);
            if (grid && nshow) {
                char nm[64];
                snprintf(nm, sizeof nm, "samples_epoch%03lld.png", step % spe ? ep + 1 : ep);
                char *gp = path_join(o.out, nm);
                if (save_grid(gp, keep, nshow, S, &e)) die_err(&e);
                free(gp);
            }
        }
        if (root && do_save) {
            unet_ckpt_copy(&all, &G.ps, "gen.", 1);
            if (mc.gan) unet_ckpt_copy(&all, &D.ps, "disc.", 1);
            st.step = step;
            if (ckpt_save(ckpt_path, &all, &st, CKPT_OPTIM, &e)) die_err(&e);
            dist_note_checkpoint(ckpt_path, step);
        }
    }
    if (!root) {
        /* rank 0 writes */
    } else if (step < total) {
        fprintf(stderr, "\n%s: stopped after step %lld of %lld (--stop-after); continue with --resume\n", progname,
                step, total);
    } else {
        ckpt_state_t sm = {.step = step, .meta = kvm, .nmeta = nkvm};
        if (ckpt_save(model_path, &G.ps, &sm, o.f16 ? CKPT_F16 : CKPT_WEIGHTS, &e)) die_err(&e);
        fprintf(stderr, "%s: %lld steps in %.1f s; wrote %s and %s\n", progname, step - step0, now_sec() - t0,
                model_path, ckpt_path);
    }

    if (st_sec && root && nst > 0) { /* --timing: the first step (first touch of every buffer) left out */
        int first = nst > 1, nt = nst - first;
        qsort(st_sec + first, (size_t)nt, sizeof *st_sec, cmp_double);
        double med = nt % 2 ? st_sec[first + nt / 2] : 0.5 * (st_sec[first + nt / 2 - 1] + st_sec[first + nt / 2]);
        fprintf(stderr, "%s: timing: %.4f s a step (median of %d steps%s; min %.4f, max %.4f)\n", progname, med, nt,
                first ? ", the first left out" : "", st_sec[first], st_sec[first + nt - 1]);
    }
    free(st_sec);
    free(perm), free(keep), free(fake), free(dfake), free(logits), free(dlog);
    free(R.items), free(R.seeds), free(R.A), free(R.Bt);
    for (int i = 0; i < R.nw; i++) worker_free(&R.w[i]);
    free(R.w);
    params_free(&all);
    unet_free(&G);
    if (mc.gan) patchgan_free(&D);
    pool_free(&pool);
    itemlist_t *Ls[2] = {&d.train, &d.val};
    for (int l = 0; l < 2; l++) {
        for (int i = 0; i < Ls[l]->n; i++) {
            item_t *it = &Ls[l]->it[i];
            drawing_free(&it->in), drawing_free(&it->tg);
            free(it->pin), free(it->ptg), free(it->key);
        }
        free(Ls[l]->it);
    }
    strset_free(&d.valkeys);
    free(ckpt_path), free(model_path), free(log_path);
    strlist_free(&files);
    dist_finalize(&DP);
    return 0;
}
