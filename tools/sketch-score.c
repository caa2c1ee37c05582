/* sketch-score - the evaluator: how recognisable is a sketch, and how far did
 * an enhancer move it?  And the trainer of the classifier it uses.
 *
 * Scoring (the default): reads sketch NDJSON (files or stdin, .gz ok) or,
 * with --input png, a PNG stream, renders each drawing as the classifier was
 * trained (the model's renderer, frame and stroke width, no augmentation),
 * runs the recognisability CNN (common/evalnet.h) and writes each record
 * back with a "score" field: the top-k words with their probabilities, the
 * probability and rank of the record's own word ("word"), stroke and point
 * counts, and -- when --reference FIELD names a drawing-shaped field the
 * record has (initial: optimize's input; target: qd-degrade's clean
 * drawing) -- structure figures against it in a 256-pixel frame: the mean
 * symmetric chamfer distance, the ink ratio (output ink / reference ink),
 * the reference's strokes and points.  --summary FILE (.md: Markdown,
 * otherwise one NDJSON line) adds top-1/top-5 accuracy, mean chamfer,
 * ink-ratio statistics and the blank outputs counted.
 *
 * Training (--train): reads QuickDraw records into memory, holds out the
 * key_ids of --val-keys, and trains the CNN from scratch on the 345 words
 * with cross-entropy (label smoothing), AdamW, warmup + cosine (nn/lr.h),
 * global-norm clipping; each drawing rendered on the fly through a renderer
 * plugin with clip-train's light augmentation.  Everything random in step k
 * is a function of (--seed, k, slot), so --resume continues bit for bit.
 * Files in --out DIR: checkpoint.safetensors (weights + AdamW moments + step),
 * model.safetensors (weights and batch-norm statistics, config and words in
 * its metadata), config.json, log.ndjson (one line per validation).
 * docs/evaluator.md.
 */
#include "chamfer.h"
#include "cli.h"
#include "degrade.h"
#include "dist.h"
#include "evalnet.h"
#include "keylist.h"
#include "nn/lr.h"
#include "nn/resize.h"
#include "png_io.h"
#include "pool.h"
#include "raster.h"
#include "records.h"
#include "render.h"
#include "sketch.h"
#include "util.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_MODEL "models/evaluator/model.safetensors"
#define MAX_TOP 50

typedef struct {
    /* common */
    int train, threads, progress, keep_going;
    const char *model;
    /* scoring */
    int top, input_png, score_batch;
    const char *reference, *field;
    strlist_t summary;
    /* model */
    int image_size;
    const char *channels;
    double dropout;
    /* training */
    int batch, resume;
    long long steps, eval_every, save_every, stop_after, seed, val_limit;
    double epochs, lr, wd, beta2, clip_norm, warmup_frac, min_lr_frac, smoothing;
    const char *schedule, *out, *val_keys, *renderer, *augment, *classes_file;
    double line_width, width_lo, width_hi, rotate, scale_lo, scale_hi, shift, aug_p;
} opts_t;

/* ------------------------------------------------------------------ small helpers */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A growable list of metadata pairs (owned strings). */
typedef struct {
    ckpt_kv_t kv[48];
    char *own[96];
    int n, nown;
} meta_t;

static void meta_add(meta_t *m, const char *k, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void meta_add(meta_t *m, const char *k, const char *fmt, ...) {
    if (m->n == 48) die(EXIT_INTERNAL, "too many metadata keys");
    buf_t b = {0};
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    buf_reserve(&b, (size_t)need + 1);
    va_start(ap, fmt);
    vsnprintf(b.s, (size_t)need + 1, fmt, ap);
    va_end(ap);
    m->own[m->nown++] = xstrdup(k);
    m->own[m->nown++] = b.s;
    m->kv[m->n++] = (ckpt_kv_t){m->own[m->nown - 2], m->own[m->nown - 1]};
}
static void meta_free(meta_t *m) {
    for (int i = 0; i < m->nown; i++) free(m->own[i]);
    m->n = m->nown = 0;
}

/* ------------------------------------------------------------------ rendering */

typedef struct {
    raster_t r;
    render_t rp;
    int use_plugin;
    drawing_t d;
    float *paper; /* (S,S) */
    rng_t rng;
    buf_t dj;
    err_t err;
} worker_t;

static void worker_open(worker_t *w, const char *renderer, int S) {
    err_t e = {0};
    w->use_plugin = strcmp(renderer, "builtin") != 0;
    if (w->use_plugin && render_open(&w->rp, renderer, NULL, &e)) die_err(&e);
    if (raster_init(&w->r, S, S, &e)) die_err(&e);
    w->paper = xmalloc((size_t)S * S * sizeof *w->paper);
    drawing_init(&w->d);
}
static void worker_close(worker_t *w) {
    if (w->use_plugin) render_close(&w->rp);
    raster_free(&w->r);
    drawing_free(&w->d);
    buf_free(&w->dj);
    free(w->paper);
}

/* Render d through xf at width into w->paper (S x S); x (S*S) = ink (1 - paper). */
static int render_ink(worker_t *w, const drawing_t *d, const xform_t *xf, double width, int S, float *x, err_t *e) {
    if (drawing_npoints(d) < 1) {
        for (int i = 0; i < S * S; i++) w->paper[i] = 1;
    } else if (w->use_plugin) {
        if (render_drawing(&w->rp, d, xf->sx, xf->sy, xf->ox, xf->oy, (float)width, S, S, w->paper, e)) return e->code;
    } else {
        raster_drawing(&w->r, w->paper, d, xf, width);
    }
    double ink = 0;
    for (int i = 0; i < S * S; i++) {
        float v = 1 - w->paper[i];
        x[i] = v < 0 ? 0 : v > 1 ? 1 : v;
        ink += x[i];
    }
    return ink > 1e-3 ? 0 : -1; /* -1: nothing visible */
}

/* ================================================================== training */

typedef struct {
    int word;
    int s0, ns;
    char *key_id, *wname;
} item_t;

typedef struct {
    item_t *it;
    int n, cap;
} itemlist_t;

typedef struct {
    char **words;
    int nwords, wcap, fixed;
    strset_t wordset;
    int *st_p0, *st_np;
    int nst, stcap;
    float *xy;
    size_t npt, ptcap;
    itemlist_t train, val;
    strset_t valkeys;
} data_t;

/* the raw word of each item until the classes are sorted */
static int word_lookup(const data_t *d, const char *w) {
    int lo = 0, hi = d->nwords - 1;
    while (lo <= hi) {
        int m = (lo + hi) / 2, c = strcmp(d->words[m], w);
        if (!c) return m;
        if (c < 0) lo = m + 1;
        else hi = m - 1;
    }
    return -1;
}

static int valid_word(const char *w) {
    for (const unsigned char *p = (const unsigned char *)w; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return 0;
    return w[0] != 0;
}

static int load_one(sketch_t *s, records_pos_t *pos, void *vd, err_t *e) {
    (void)pos;
    data_t *d = vd;
    if (!s->word || !s->word[0]) return err_set(e, EXIT_DATA, "%s: no \"word\" (the label)", sketch_label(s));
    if (!valid_word(s->word)) return err_set(e, EXIT_DATA, "%s: the word has control characters", sketch_label(s));
    if (d->fixed) {
        if (!strset_has(&d->wordset, s->word))
            return err_set(e, EXIT_DATA, "%s: word \"%.80s\" is not one of the --classes", sketch_label(s), s->word);
    } else if (strset_add(&d->wordset, s->word)) {
        if (d->nwords == d->wcap) d->wcap = d->wcap ? 2 * d->wcap : 512, d->words = xrealloc(d->words, (size_t)d->wcap * sizeof *d->words);
        d->words[d->nwords++] = xstrdup(s->word);
    }
    const drawing_t *dr = &s->drawing;
    double x0, y0, x1, y1;
    if (drawing_npoints(dr) < 1 || !drawing_bbox(dr, &x0, &y0, &x1, &y1))
        return err_set(e, EXIT_DATA, "%s: the drawing is empty: it would render blank", sketch_label(s));
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
        return err_set(e, EXIT_DATA, "%s: the drawing has a non-finite coordinate", sketch_label(s));
    itemlist_t *L = s->key_id[0] && strset_has(&d->valkeys, s->key_id) ? &d->val : &d->train;
    if (L->n == L->cap) L->cap = L->cap ? 2 * L->cap : 1024, L->it = xrealloc(L->it, (size_t)L->cap * sizeof *L->it);
    item_t *it = &L->it[L->n++];
    it->word = -1;
    it->s0 = d->nst;
    it->ns = dr->nstrokes;
    it->key_id = xstrdup(s->key_id);
    it->wname = xstrdup(s->word); /* resolved to an index once the classes are sorted */
    for (int k = 0; k < dr->nstrokes; k++) {
        const stroke_t *st = &dr->s[k];
        if (d->nst == d->stcap) {
            d->stcap = d->stcap ? 2 * d->stcap : 4096;
            d->st_p0 = xrealloc(d->st_p0, (size_t)d->stcap * sizeof *d->st_p0);
            d->st_np = xrealloc(d->st_np, (size_t)d->stcap * sizeof *d->st_np);
        }
        while (d->npt + (size_t)st->n > d->ptcap) {
            d->ptcap = d->ptcap ? 2 * d->ptcap : 1 << 16;
            d->xy = xrealloc(d->xy, 2 * d->ptcap * sizeof *d->xy);
        }
        d->st_p0[d->nst] = (int)d->npt;
        d->st_np[d->nst++] = st->n;
        for (int i = 0; i < st->n; i++) {
            d->xy[2 * (d->npt + (size_t)i)] = (float)st->x[i];
            d->xy[2 * (d->npt + (size_t)i) + 1] = (float)st->y[i];
        }
        d->npt += (size_t)st->n;
    }
    return 0;
}

static void resolve_words(data_t *d, itemlist_t *L) {
    for (int i = 0; i < L->n; i++) {
        item_t *it = &L->it[i];
        it->word = word_lookup(d, it->wname);
        if (it->word < 0) die(EXIT_INTERNAL, "word \"%s\" lost", it->wname);
        free(it->wname);
        it->wname = NULL;
    }
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

typedef struct {
    const opts_t *o;
    data_t *d;
    degrade_plan_t plan;
    int S;
    worker_t *w;
    int nw;
    long long step;
    const item_t **items; /* (batch) the global batch */
    int slot0;  /* this rank's first slot of it (data-parallel training, dist.h) */
    float *x;   /* (cap,1,S,S) this rank's slots */
    int *labels;
    int fail;
    /* epoch permutation */
    long long perm_epoch;
    int *perm;
    /* validation renders */
    uint8_t *val_u8;
    int nval;
} run_t;

static int make_sample(run_t *R, worker_t *w, int i) {
    const opts_t *o = R->o;
    const item_t *it = R->items[R->slot0 + i];
    int S = R->S;
    rng_seed2(&w->rng, (uint64_t)o->seed ^ 0x5c0e5a3b1e5ULL, (uint64_t)R->step * 65536u + (uint64_t)(R->slot0 + i));
    item_drawing(R->d, it, &w->d);
    if (R->plan.nmix && rng_uniform(&w->rng) < o->aug_p) {
        w->dj.len = 0;
        if (degrade_plan_run(&R->plan, &w->d, degrade_rel_unit(&w->d), &w->rng, &w->dj, &w->err))
            return err_prefix(&w->err, "key_id %s", it->key_id);
    }
    drawing_rotate(&w->d, rng_range(&w->rng, -o->rotate, o->rotate));
    double scale = rng_range(&w->rng, o->scale_lo, o->scale_hi), f = S / 256.0;
    xform_t xf;
    xform_fit(&w->d, S, 10 * f, &xf);
    double c = (S - 1) / 2.0, dx = rng_range(&w->rng, -o->shift, o->shift) * f,
           dy = rng_range(&w->rng, -o->shift, o->shift) * f;
    xf.sx *= scale, xf.sy *= scale;
    xf.ox = c + (xf.ox - c) * scale + dx;
    xf.oy = c + (xf.oy - c) * scale + dy;
    double width = o->line_width * f * rng_range(&w->rng, o->width_lo, o->width_hi);
    int rc = render_ink(w, &w->d, &xf, width, S, R->x + (size_t)i * S * S, &w->err);
    if (rc > 0) return err_prefix(&w->err, "key_id %s", it->key_id);
    if (rc < 0) return err_set(&w->err, EXIT_DATA, "key_id %s: the drawing renders empty", it->key_id);
    R->labels[i] = it->word;
    return 0;
}

static void sample_job(void *vr, int begin, int end, int tid) {
    run_t *R = vr;
    for (int i = begin; i < end; i++)
        if (make_sample(R, &R->w[tid], i)) {
            __atomic_store_n(&R->fail, tid + 1, __ATOMIC_RELAXED);
            return;
        }
}

/* the unaugmented render scoring uses, at S */
static void score_xform(const drawing_t *d, int S, xform_t *xf) { xform_fit(d, S, 10.0 * S / 256.0, xf); }

static int make_val(run_t *R, worker_t *w, int i) {
    const item_t *it = &R->d->val.it[i];
    int S = R->S;
    item_drawing(R->d, it, &w->d);
    xform_t xf;
    score_xform(&w->d, S, &xf);
    /* x aliases paper: render_ink reads each pixel before it writes its ink */
    int rc = render_ink(w, &w->d, &xf, R->o->line_width * S / 256.0, S, w->paper, &w->err);
    if (rc > 0) return err_prefix(&w->err, "key_id %s", it->key_id);
    uint8_t *u = R->val_u8 + (size_t)i * S * S; /* ink, 8 bits */
    for (int k = 0; k < S * S; k++) u[k] = (uint8_t)(w->paper[k] * 255.0f + 0.5f);
    return 0;
}

static void val_job(void *vr, int begin, int end, int tid) {
    run_t *R = vr;
    for (int i = begin; i < end; i++)
        if (make_val(R, &R->w[tid], i)) {
            __atomic_store_n(&R->fail, tid + 1, __ATOMIC_RELAXED);
            return;
        }
}

/* Step k's records: positions k*B .. k*B+B-1 of an endless sequence of
 * epochs, each a permutation of the training records drawn from (--seed,
 * epoch) alone. */
static void pick_batch(run_t *R, long long k, int B) {
    data_t *d = R->d;
    long long N = d->train.n;
    for (int i = 0; i < B; i++) {
        long long pos = k * B + i, ep = pos / N;
        if (ep != R->perm_epoch) {
            rng_t r;
            rng_seed2(&r, (uint64_t)R->o->seed ^ 0xe90c4ULL, (uint64_t)ep);
            for (int a = 0; a < N; a++) R->perm[a] = a;
            for (int a = 0; a < N - 1; a++) {
                int b = a + (int)rng_below(&r, (uint64_t)(N - a)), t = R->perm[a];
                R->perm[a] = R->perm[b], R->perm[b] = t;
            }
            R->perm_epoch = ep;
        }
        R->items[i] = &d->train.it[R->perm[pos % N]];
    }
}

typedef struct {
    double top1, top5, loss;
    long n;
} eval_t;

#define VAL_PICK(j) ((long long)(j) * R->nval / n)

static int evaluate(run_t *R, evalnet_t *net, int n, eval_t *ev, err_t *e) {
    int S = R->S, K = net->cfg.classes;
    memset(ev, 0, sizeof *ev);
    if (!R->nval) return 0;
    if (n <= 0 || n > R->nval) n = R->nval;
    long c1 = 0, c5 = 0;
    double ls = 0;
    for (int i0 = 0; i0 < n; i0 += net->cap) {
        int B = n - i0 < net->cap ? n - i0 : net->cap;
        for (int i = 0; i < B; i++) {
            const uint8_t *u = R->val_u8 + (size_t)VAL_PICK(i0 + i) * S * S;
            for (int k = 0; k < S * S; k++) R->x[(size_t)i * S * S + k] = u[k] / 255.0f;
        }
        int rc = evalnet_forward(net, R->x, B, 0, 0, e);
        if (rc) return rc;
        for (int i = 0; i < B; i++) {
            const float *l = net->logits + (size_t)i * K;
            int truth = R->d->val.it[VAL_PICK(i0 + i)].word, above = 0;
            double mx = l[0], se = 0;
            for (int k = 0; k < K; k++) above += l[k] > l[truth], mx = l[k] > mx ? l[k] : mx;
            for (int k = 0; k < K; k++) se += exp(l[k] - mx);
            ls += mx + log(se) - l[truth];
            c1 += above == 0;
            c5 += above < 5;
        }
    }
    ev->n = n;
    ev->top1 = (double)c1 / n;
    ev->top5 = (double)c5 / n;
    ev->loss = ls / n;
    return 0;
}

static void write_config_json(const char *dir, const evalnet_config_t *c, const opts_t *o, char **words, err_t *e) {
    char *path = path_join(dir, "config.json");
    buf_t b = {0};
    buf_printf(&b, "{\n  \"architecture\": \"invclip-evalnet\",\n  \"image_size\": %d,\n  \"channels\": [", c->image_size);
    for (int i = 0; i < c->nblocks; i++) buf_printf(&b, i ? ", %d" : "%d", c->ch[i]);
    buf_printf(&b, "],\n  \"block\": \"conv3x3(bias=False) + BatchNorm2d + ReLU + MaxPool2d(2)\",\n"
                   "  \"head\": \"global average pool + Dropout + Linear\",\n  \"num_classes\": %d,\n"
                   "  \"dropout\": %.9g,\n  \"bn_eps\": %.9g,\n  \"bn_momentum\": %.9g,\n  \"input\": \"ink = 1 - paper, "
                   "grey, drawing fitted with pad 10/256 of the side\",\n  \"renderer\": ",
               c->classes, c->dropout, c->bn_eps, c->bn_momentum);
    buf_jstr(&b, o->renderer);
    buf_printf(&b, ",\n  \"line_width_256\": %.9g,\n  \"words\": [", o->line_width);
    for (int i = 0; i < c->classes; i++) {
        if (i) buf_puts(&b, ", ");
        buf_jstr(&b, words[i]);
    }
    buf_puts(&b, "]\n}\n");
    afile_t af;
    if (afile_open(&af, path, e)) die_err(e);
    fwrite(b.s, 1, b.len, af.fp);
    if (afile_commit(&af, e)) die_err(e);
    buf_free(&b);
    free(path);
}

static int train_main(opts_t *o, strlist_t *files, const dist_t *D) {
    err_t e = {0};
    data_t d = {0};
    if (o->val_keys && keylist_read(o->val_keys, &d.valkeys, NULL, &e)) die(e.code, "--val-keys: %s", e.msg);
    if (o->classes_file) {
        FILE *f = fopen(o->classes_file, "r");
        if (!f) die(EXIT_IO, "--classes %s: cannot open: %s", o->classes_file, strerror(errno));
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) >= 0) {
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
            if (!n) continue;
            if (!valid_word(line)) die(EXIT_DATA, "--classes %s: a word with control characters", o->classes_file);
            if (strset_add(&d.wordset, line)) {
                if (d.nwords == d.wcap) d.wcap = d.wcap ? 2 * d.wcap : 512, d.words = xrealloc(d.words, (size_t)d.wcap * sizeof *d.words);
                d.words[d.nwords++] = xstrdup(line);
            }
        }
        free(line);
        fclose(f);
        if (d.nwords < 2) die(EXIT_USAGE, "--classes %s: fewer than two words", o->classes_file);
        d.fixed = 1;
    }
    records_opts_t ro = {.keep_going = o->keep_going, .progress = o->progress};
    records_run(files, &ro, load_one, &d);
    if (d.train.n < 1) die(EXIT_DATA, "no training records (all held out, or no input)");
    if (d.nwords < 2) die(EXIT_DATA, "only one word in the data: a classifier needs at least two");
    qsort(d.words, (size_t)d.nwords, sizeof *d.words, cmp_str);
    resolve_words(&d, &d.train);
    resolve_words(&d, &d.val);

    evalnet_config_t cfg = {.image_size = o->image_size, .classes = d.nwords, .dropout = (float)o->dropout};
    if (evalnet_parse_channels(o->channels, &cfg)) die(EXIT_USAGE, "--channels \"%s\": want 1..%d comma-separated counts in 1..4096", o->channels, EVALNET_MAX_BLOCKS);
    evalnet_config_defaults(&cfg);
    if (evalnet_config_check(&cfg, &e)) die_err(&e);

    /* data-parallel: rank r computes slots r*b .. r*b+b-1 of every global batch */
    if (o->batch % D->size)
        die(EXIT_USAGE, "--batch %d does not split evenly over %d ranks (give a multiple)", o->batch, D->size);
    int lb = o->batch / D->size, root = D->rank == 0;
    long long steps_per_epoch = (d.train.n + o->batch - 1) / o->batch;
    long long total = o->steps ? o->steps : (long long)ceil(o->epochs * (double)d.train.n / o->batch);
    if (total < 1) total = 1;
    long long eval_every = o->eval_every ? o->eval_every : steps_per_epoch;
    long long save_every = o->save_every ? o->save_every : eval_every;
    lr_sched_t sched;
    char msg[256], sched_spec[256];
    {
        char def[256];
        snprintf(def, sizeof def, "cosine:warmup=%lld,min=%.17g", (long long)(o->warmup_frac * (double)total),
                 o->lr * o->min_lr_frac);
        if (lr_parse(&sched, o->schedule ? o->schedule : def, o->lr, total, msg, sizeof msg))
            die(EXIT_USAGE, "--schedule: %s", msg);
    }
    lr_format(&sched, sched_spec, sizeof sched_spec);

    pool_t pool;
    if (pool_init(&pool, o->threads ? o->threads : pool_cores(), &e)) die_err(&e);
    nn_par_t par = pool_par(&pool);
    evalnet_t net;
    if (evalnet_init(&net, &cfg, lb, PARAMS_TRAIN, &par, &e)) die_err(&e);
    net.dist = D;
    net.row0 = D->rank * lb;
    rng_t init_rng;
    rng_seed2(&init_rng, (uint64_t)o->seed, 0xe7a1);
    evalnet_init_weights(&net, &init_rng);

    run_t R = {.o = o, .d = &d, .S = o->image_size, .nw = pool.nthreads > 0 ? pool.nthreads : 1, .perm_epoch = -1};
    degrade_plan_init(&R.plan);
    if (o->augment[0] && degrade_plan_add_mix(&R.plan, o->augment, &e)) die(EXIT_USAGE, "--augment: %s", e.msg);
    R.w = xcalloc((size_t)R.nw, sizeof *R.w);
    for (int i = 0; i < R.nw; i++) worker_open(&R.w[i], o->renderer, R.S);
    R.items = xcalloc((size_t)o->batch, sizeof *R.items);
    R.x = xmalloc((size_t)lb * R.S * R.S * sizeof *R.x);
    R.labels = xcalloc((size_t)lb, sizeof *R.labels);
    R.slot0 = D->rank * lb;
    R.perm = xmalloc((size_t)d.train.n * sizeof *R.perm);
    R.nval = root ? d.val.n : 0; /* rank 0 alone validates */
    if (R.nval) {
        R.val_u8 = xmalloc((size_t)R.nval * R.S * R.S);
        pool_run(&pool, R.nval, val_job, &R);
        if (R.fail) die_err(&R.w[R.fail - 1].err);
    }

    if (root && mkdir_p(o->out, &e)) die_err(&e);
    char *ckpt_path = path_join(o->out, "checkpoint.safetensors"), *model_path = path_join(o->out, "model.safetensors"),
         *log_path = path_join(o->out, "log.ndjson");
    meta_t meta = {0};
    {
        ckpt_kv_t kv[EVALNET_META];
        char buf[EVALNET_META][2][160];
        int m = evalnet_config_meta(&cfg, kv, buf);
        for (int i = 0; i < m; i++) meta_add(&meta, kv[i].key, "%s", kv[i].value);
    }
    buf_t wl = {0};
    for (int i = 0; i < d.nwords; i++) buf_printf(&wl, i ? "\n%s" : "%s", d.words[i]);
    meta_add(&meta, "evalnet.words", "%s", wl.s);
    buf_free(&wl);
    meta_add(&meta, "render.renderer", "%s", o->renderer);
    meta_add(&meta, "render.line_width", "%.17g", o->line_width);
    meta_add(&meta, "train.seed", "%lld", o->seed);
    meta_add(&meta, "train.batch", "%d", o->batch);
    meta_add(&meta, "train.steps", "%lld", total);
    meta_add(&meta, "train.schedule", "%s", sched_spec);
    meta_add(&meta, "train.wd", "%.17g", o->wd);
    meta_add(&meta, "train.beta2", "%.17g", o->beta2);
    meta_add(&meta, "train.clip_norm", "%.17g", o->clip_norm);
    meta_add(&meta, "train.smoothing", "%.17g", o->smoothing);
    meta_add(&meta, "train.augment", "%s", o->augment);
    meta_add(&meta, "train.augment_p", "%.17g", o->aug_p);
    meta_add(&meta, "train.geometry", "rotate=%.17g,scale=%.17g..%.17g,shift=%.17g,width=%.17g..%.17g", o->rotate,
             o->scale_lo, o->scale_hi, o->shift, o->width_lo, o->width_hi);
    meta_add(&meta, "train.records", "%d", d.train.n);
    meta_add(&meta, "train.val_records", "%d", d.val.n);

    long long step = 0;
    if (o->resume) {
        ckpt_t *c = ckpt_open(ckpt_path, &e);
        if (!c) die(EXIT_MODEL, "--resume: %s", e.msg);
        for (int i = 0; i < meta.n; i++) {
            const char *v = ckpt_meta(c, meta.kv[i].key);
            if (!v || strcmp(v, meta.kv[i].value))
                die(EXIT_MODEL, "%s: %s is \"%.60s\" there, \"%.60s\" in this run: resume with the options that started it",
                    ckpt_path, meta.kv[i].key, v ? v : "(absent)", meta.kv[i].value);
        }
        ckpt_close(c);
        ckpt_state_t st = {0};
        if (ckpt_load(ckpt_path, &net.ps, &st, CKPT_OPTIM, &e)) die_err(&e);
        step = st.step;
        if (step < 0 || step > total) die(EXIT_MODEL, "%s: step %lld is outside 0..%lld", ckpt_path, step, total);
        if (root) fprintf(stderr, "%s: resuming %s at step %lld of %lld\n", progname, ckpt_path, step, total);
    }
    if (D->size > 1 && root)
        fprintf(stderr, "%s: data-parallel over %d ranks (%s), %d drawings a rank a step\n", progname, D->size,
                dist_impl(), lb);
    if (root) fprintf(stderr,
            "%s: %d training / %d validation records, %d words; CNN %.2fM parameters (%d px, channels %s, dropout "
            "%g); %lld steps of %d (%.2f epochs), schedule %s\n",
            progname, d.train.n, d.val.n, d.nwords, evalnet_params_count(&cfg) / 1e6, cfg.image_size, o->channels,
            cfg.dropout, total, o->batch, (double)total * o->batch / d.train.n, sched_spec);

    adamw_hparams_t hp = adamw_defaults(o->lr);
    hp.beta2 = o->beta2, hp.weight_decay = o->wd;
    double t0 = now_sec(), tlast = 0, loss_ema = 0, acc_ema = 0, t_data = 0, t_model = 0;
    long long step0 = step, stop = o->stop_after && step + o->stop_after < total ? step + o->stop_after : total;
    ckpt_state_t st = {.meta = meta.kv, .nmeta = meta.n};
    while (step < stop) {
        double ta = now_sec();
        pick_batch(&R, step, o->batch);
        R.step = step;
        R.fail = 0;
        pool_run(&pool, lb, sample_job, &R);
        if (R.fail) die_err(&R.w[R.fail - 1].err);
        double tb = now_sec();
        t_data += tb - ta;
        float loss;
        int correct;
        uint64_t dseed = (uint64_t)o->seed * 0x9E3779B97F4A7C15ULL ^ (uint64_t)step;
        if (evalnet_train_grads(&net, R.x, R.labels, lb, (float)o->smoothing, dseed, &loss, &correct, &e))
            die(e.code, "step %lld: %s", step + 1, e.msg);
        if (D->size > 1) { /* the one gradient allreduce; the loss and hits for the log */
            double st2[2] = {loss, correct};
            if (dist_sum_f(D, net.ps.grad, net.ps.size, &e) || dist_sum_d(D, st2, 2, &e))
                die(e.code, "step %lld: %s", step + 1, e.msg);
            loss = (float)(st2[0] / D->size), correct = (int)st2[1];
        }
        if (!isfinite(loss)) die(EXIT_NUMERIC, "step %lld: the loss is %g", step + 1, loss);
        double gn = o->clip_norm > 0 ? params_clip_grad(&net.ps, o->clip_norm, &par) : 0;
        if (!isfinite(gn) && params_check_finite(&net.ps, net.ps.grad, "gradient", &par, &e))
            die(e.code, "step %lld: %s", step + 1, e.msg);
        hp.lr = lr_at(&sched, step);
        if (params_step(&net.ps, &hp, step + 1, &par, &e)) die(e.code, "step %lld: %s", step + 1, e.msg);
        step++;
        t_model += now_sec() - tb;
        double acc = (double)correct / o->batch;
        loss_ema = step == step0 + 1 ? loss : 0.98 * loss_ema + 0.02 * loss;
        acc_ema = step == step0 + 1 ? acc : 0.98 * acc_ema + 0.02 * acc;
        double t = now_sec() - t0;
        if (root && (o->progress || isatty(2)) && (t - tlast > 2 || step == stop)) {
            double per = t / (double)(step - step0);
            fprintf(stderr,
                    "\r%s: step %lld/%lld epoch %.2f loss %.4f (avg %.4f) acc %.2f lr %.2e |g| %.2f  %.2f steps/s "
                    "(data %.0f%%) ETA %.1f min   ",
                    progname, step, total, (double)step * o->batch / d.train.n, loss, loss_ema, acc_ema, hp.lr, gn,
                    1 / per, 100 * t_data / (t_data + t_model), per * (double)(total - step) / 60);
            tlast = t;
        }
        int do_eval = step % eval_every == 0 || step == total,
            do_save = step % save_every == 0 || step == total || step == stop;
        if (root && do_eval) {
            eval_t ev;
            if (evaluate(&R, &net, step == total ? 0 : (int)o->val_limit, &ev, &e)) die_err(&e);
            buf_t b = {0};
            buf_printf(&b,
                       "{\"step\":%lld,\"epoch\":%.4f,\"loss\":%.6f,\"loss_avg\":%.6f,\"train_acc_avg\":%.4f,"
                       "\"lr\":%.6g,\"val_n\":%ld,\"val_top1\":%.6f,\"val_top5\":%.6f,\"val_loss\":%.6f,"
                       "\"steps_per_s\":%.4f,\"seconds\":%.1f}\n",
                       step, (double)step * o->batch / d.train.n, loss, loss_ema, acc_ema, hp.lr, ev.n, ev.top1,
                       ev.top5, ev.loss, (double)(step - step0) / t, t);
            log_append(log_path, b.s);
            buf_free(&b);
            fprintf(stderr, "\n%s: step %lld: validation top-1 %.4f top-5 %.4f loss %.4f on %ld records (%d words)\n",
                    progname, step, ev.top1, ev.top5, ev.loss, ev.n, d.nwords);
        }
        if (root && do_save) {
            st.step = step;
            if (ckpt_save(ckpt_path, &net.ps, &st, CKPT_OPTIM, &e)) die_err(&e);
            dist_note_checkpoint(ckpt_path, step);
        }
    }
    if (!root) {
        /* nothing to write */
    } else if (step < total) {
        fprintf(stderr, "\n%s: stopped after step %lld of %lld (--stop-after); continue with --resume\n", progname,
                step, total);
    } else {
        ckpt_state_t ms = {.step = step, .meta = meta.kv, .nmeta = meta.n};
        if (ckpt_save(model_path, &net.ps, &ms, CKPT_WEIGHTS, &e)) die_err(&e);
        write_config_json(o->out, &cfg, o, d.words, &e);
        fprintf(stderr, "\n%s: %lld steps in %.1f s (%.3f steps/s, data %.0f%%); wrote %s\n", progname, step - step0,
                now_sec() - t0, (double)(step - step0) / (now_sec() - t0), 100 * t_data / (t_data + t_model),
                model_path);
    }

    meta_free(&meta);
    free(R.items), free(R.x), free(R.labels), free(R.perm), free(R.val_u8);
    for (int i = 0; i < R.nw; i++) worker_close(&R.w[i]);
    free(R.w);
    degrade_plan_free(&R.plan);
    evalnet_free(&net);
    pool_free(&pool);
    itemlist_t *ls[] = {&d.train, &d.val};
    for (int l = 0; l < 2; l++) {
        for (int i = 0; i < ls[l]->n; i++) free(ls[l]->it[i].key_id);
        free(ls[l]->it);
    }
    for (int w = 0; w < d.nwords; w++) free(d.words[w]);
    free(d.words), free(d.st_p0), free(d.st_np), free(d.xy);
    strset_free(&d.valkeys);
    strset_free(&d.wordset);
    free(ckpt_path), free(model_path), free(log_path);
    return 0;
}

/* ================================================================== scoring */

typedef struct {
    const opts_t *o;
    evalnet_t net;
    char **words;
    int K, S;
    double line_width;
    worker_t w;
    raster_t r256;
    float *paper256, *x, *probs;
    int *order;
    drawing_t ref, fd; /* the reference; the scored field when it is not "drawing" */
    buf_t out, js;
    /* the pending batch: slot i's ink image is x + i*S*S */
    int nb;
    buf_t *pre, *rest; /* (cap) output before the score / the score's structure part */
    char **bword;      /* (cap) the record's word or NULL */
    int *bblank;       /* (cap) */
    /* summary */
    long n, n_word, n_unknown, c1, c5, n_blank, n_ref, n_ratio_out;
    double p_word_sum, strokes_sum, points_sum;
    double *chamfer, *ratio;
    long nch, nra, chcap, racap;
} score_t;

static char *model_default(void) {
    const char *env = getenv("INVCLIP_EVALUATOR");
    if (env && *env) return xstrdup(env);
    char *p = data_path(DEFAULT_MODEL);
    if (p) return p;
    return xstrdup("data/" DEFAULT_MODEL);
}

static void load_model(score_t *c, const char *path, const nn_par_t *par) {
    err_t e = {0};
    if (access(path, R_OK))
        die(EXIT_MODEL,
            "evaluator model %s: %s; make it with `make train-evaluator` (about 30 minutes on 2 cores) or give "
            "--model FILE",
            path, strerror(errno));
    ckpt_t *ck = ckpt_open(path, &e);
    if (!ck) {
        e.code = EXIT_MODEL;
        die_err(&e);
    }
    if (evalnet_open_model(ck, path, c->o->score_batch, par, &c->net, &c->words, &e)) die_err(&e);
    const char *rn = ckpt_meta(ck, "render.renderer"), *lw = ckpt_meta(ck, "render.line_width");
    if (!rn || !lw) die(EXIT_MODEL, "%s: no render.renderer / render.line_width metadata (not an evaluator model)", path);
    char *end;
    c->line_width = strtod(lw, &end);
    if (*end || !(c->line_width > 0 && c->line_width < 100)) die(EXIT_MODEL, "%s: bad render.line_width \"%.30s\"", path, lw);
    const evalnet_config_t cfg = c->net.cfg;
    c->K = cfg.classes;
    c->S = cfg.image_size;
    worker_open(&c->w, rn, c->S);
    ckpt_close(ck);
}

static int word_of(const score_t *c, const char *w) {
    if (!w) return -1;
    int lo = 0, hi = c->K - 1;
    while (lo <= hi) {
        int m = (lo + hi) / 2, r = strcmp(c->words[m], w);
        if (!r) return m;
        if (r < 0) lo = m + 1;
        else hi = m - 1;
    }
    return -1;
}

static double ink_256(score_t *c, const drawing_t *d, const xform_t *xf) {
    if (drawing_npoints(d) < 1) return 0;
    raster_drawing(&c->r256, c->paper256, d, xf, 3);
    double s = 0;
    for (int i = 0; i < 256 * 256; i++) s += 1 - c->paper256[i];
    return s;
}

static void push_d(double **v, long *n, long *cap, double x) {
    if (*n == *cap) *cap = *cap ? 2 * *cap : 256, *v = xrealloc(*v, (size_t)*cap * sizeof **v);
    (*v)[(*n)++] = x;
}

/* The classifier part of slot i's score (its probabilities at c->probs + i*K) into c->js. */
static void classify_row(score_t *c, int i, const char *word, int blank) {
    const float *probs = c->probs + (size_t)i * c->K;
    int K = c->K, top = c->o->top < K ? c->o->top : K;
    /* partial selection of the top entries, ties to the lower index */
    for (int k = 0; k < K; k++) c->order[k] = k;
    for (int j = 0; j < top; j++) {
        int b = j;
        for (int k = j + 1; k < K; k++)
            if (probs[c->order[k]] > probs[c->order[b]]) b = k;
        int t = c->order[j];
        c->order[j] = c->order[b], c->order[b] = t;
    }
    buf_puts(&c->js, "{\"top\":[");
    for (int j = 0; j < top; j++) {
        buf_puts(&c->js, j ? ",{\"word\":" : "{\"word\":");
        buf_jstr(&c->js, c->words[c->order[j]]);
        buf_puts(&c->js, ",\"p\":");
        buf_num(&c->js, probs[c->order[j]], 6);
        buf_puts(&c->js, "}");
    }
    buf_puts(&c->js, "]");
    c->n++;
    int w = word_of(c, word);
    if (w >= 0) {
        int above = 0;
        for (int k = 0; k < K; k++) above += probs[k] > probs[w];
        buf_puts(&c->js, ",\"p_word\":");
        buf_num(&c->js, probs[w], 6);
        buf_printf(&c->js, ",\"rank\":%d", above + 1);
        c->n_word++;
        c->c1 += above == 0;
        c->c5 += above < 5;
        c->p_word_sum += probs[w];
    } else if (word) {
        c->n_unknown++;
        buf_puts(&c->js, ",\"p_word\":null,\"rank\":null");
    }
    buf_printf(&c->js, ",\"blank\":%s", blank ? "true" : "false");
    c->n_blank += blank;
}

/* Classify the pending batch and write its lines: pre + ,"score":{classifier + rest} + }. */
static int flush(score_t *c, err_t *e) {
    if (!c->nb) return 0;
    int rc = evalnet_forward(&c->net, c->x, c->nb, 0, 0, e);
    if (rc) return rc;
    evalnet_probs(&c->net, c->nb, c->probs);
    for (int i = 0; i < c->nb; i++) {
        c->js.len = 0;
        classify_row(c, i, c->bword[i], c->bblank[i]);
        c->out.len = 0;
        buf_put(&c->out, c->pre[i].s, c->pre[i].len);
        buf_puts(&c->out, ",\"score\":");
        buf_put(&c->out, c->js.s, c->js.len);
        buf_put(&c->out, c->rest[i].s, c->rest[i].len);
        buf_puts(&c->out, "}}\n");
        if (fwrite(c->out.s, 1, c->out.len, stdout) != c->out.len) return err_set(e, EXIT_IO, "stdout: write error");
        free(c->bword[i]);
        c->bword[i] = NULL;
    }
    c->nb = 0;
    return 0;
}

/* Take slot c->nb for a record: word and blank flag kept; returns the slot. */
static int slot_take(score_t *c, const char *word, int blank) {
    int i = c->nb++;
    c->bword[i] = word ? xstrdup(word) : NULL;
    c->bblank[i] = blank;
    c->pre[i].len = c->rest[i].len = 0;
    return i;
}

static int score_one(sketch_t *s, records_pos_t *pos, void *vc, err_t *e) {
    (void)pos;
    score_t *c = vc;
    const drawing_t *d = &s->drawing;
    if (c->o->field && strcmp(c->o->field, "drawing")) {
        if (!sketch_has(s, c->o->field))
            return err_set(e, EXIT_DATA, "%s: no field \"%s\" to score", sketch_label(s), c->o->field);
        if (sketch_get_drawing(s, c->o->field, &c->fd, e))
            return err_prefix(e, "%s: field \"%s\"", sketch_label(s), c->o->field);
        d = &c->fd;
    }
    long np = drawing_npoints(d);
    /* (the record parser refuses a drawing without points: exit 1, "empty drawing") */
    int S = c->S;
    xform_t xf;
    score_xform(d, S, &xf);
    int rc = render_ink(&c->w, d, &xf, c->line_width * S / 256.0, S, c->x + (size_t)c->nb * S * S, e);
    if (rc > 0) return err_prefix(e, "%s", sketch_label(s));
    int has_ref = c->o->reference && sketch_has(s, c->o->reference);
    if (has_ref && sketch_get_drawing(s, c->o->reference, &c->ref, e))
        return err_prefix(e, "%s: field \"%s\"", sketch_label(s), c->o->reference);
    /* the 256-pixel frame of the structure figures: the canvas when the record
     * has one, else the reference's (or the drawing's) bounding box fitted with pad 10 */
    xform_t f256;
    double cw, ch;
    if (sketch_canvas(s, &cw, &ch)) xform_canvas(cw, ch, 256, &f256);
    else xform_fit(has_ref && drawing_npoints(&c->ref) ? &c->ref : d, 256, 10, &f256);
    double ink = ink_256(c, d, &f256);
    long rp = has_ref ? drawing_npoints(&c->ref) : 0;
    double rink = has_ref ? ink_256(c, &c->ref, &f256) : 0;
    /* blank: nothing visible at the classifier's size, or under 1% of the reference's ink */
    int blank = np < 1 || rc < 0 || (has_ref && rink > 0 && ink < 0.01 * rink);
    int slot = slot_take(c, s->word, blank);
    buf_t *js = &c->rest[slot];
    buf_printf(js, ",\"strokes\":%d,\"points\":%ld,\"ink\":", d->nstrokes, np);
    buf_num(js, ink, 1);
    c->strokes_sum += d->nstrokes;
    c->points_sum += (double)np;
    if (has_ref) {
        double ch_d = NAN;
        if (np > 0 && rp > 0) ch_d = drawing_chamfer(d, &c->ref, &f256);
        double ratio = rink > 0 ? ink / rink : NAN;
        buf_puts(js, ",\"reference\":");
        buf_jstr(js, c->o->reference);
        buf_puts(js, ",\"chamfer\":");
        buf_num(js, ch_d, 4);
        buf_puts(js, ",\"ink_ratio\":");
        buf_num(js, ratio, 4);
        buf_printf(js, ",\"ref_strokes\":%d,\"ref_points\":%ld", c->ref.nstrokes, rp);
        c->n_ref++;
        if (isfinite(ch_d)) push_d(&c->chamfer, &c->nch, &c->chcap, ch_d);
        if (isfinite(ratio)) {
            push_d(&c->ratio, &c->nra, &c->racap, ratio);
            c->n_ratio_out += ratio < 0.5 || ratio > 2;
        }
    }
    /* the record without a score field (an old one is dropped: the new one goes last) */
    if (sketch_has(s, "score")) sketch_remove(s, "score");
    buf_t *pre = &c->pre[slot];
    sketch_write(s, pre);
    while (pre->len && (pre->s[pre->len - 1] == '\n' || pre->s[pre->len - 1] == '}')) {
        int brace = pre->s[pre->len - 1] == '}';
        pre->len--;
        if (brace) break;
    }
    return c->nb == c->net.cap ? flush(c, e) : 0;
}

static void score_pngs(score_t *c, strlist_t *files) {
    err_t e = {0};
    int S = c->S;
    image_t im = {0};
    pngtext_t text = {0};
    resize_axis_t ay = {0}, ax = {0};
    float *grey = NULL, *tmp = NULL;
    int gw = 0, gh = 0;
    int nf = files->n ? files->n : 1;
    for (int f = 0; f < nf; f++) {
        const char *path = files->n ? files->v[f] : "-";
        pngstream_t *ps = pngs_open(path, &e);
        if (!ps) die_err(&e);
        int r;
        while ((r = pngs_next(ps, &im, &text, &e)) == 1) {
            const char *kid = pngtext_get(&text, "key_id"), *word = pngtext_get(&text, "word");
            if (im.w != gw || im.h != gh) {
                gw = im.w, gh = im.h;
                grey = xrealloc(grey, (size_t)gw * gh * sizeof *grey);
                tmp = xrealloc(tmp, (size_t)gh * S * sizeof *tmp);
                free(ay.first), free(ay.count), free(ay.w), free(ax.first), free(ax.count), free(ax.w);
                ay.first = xmalloc((size_t)S * sizeof(int)), ay.count = xmalloc((size_t)S * sizeof(int));
                ax.first = xmalloc((size_t)S * sizeof(int)), ax.count = xmalloc((size_t)S * sizeof(int));
                ay.w = xmalloc((size_t)S * RESIZE_TAPS(gh, S) * sizeof(float));
                ax.w = xmalloc((size_t)S * RESIZE_TAPS(gw, S) * sizeof(float));
                if (resize_plan(&ay, gh, S) || resize_plan(&ax, gw, S))
                    die(EXIT_DATA, "%s: image %ld: cannot resize %dx%d", pngs_name(ps), pngs_index(ps), gw, gh);
            }
            double ink = 0;
            for (long i = 0; i < (long)gw * gh; i++) {
                const uint8_t *p = im.px + (size_t)i * im.c;
                double v = im.c >= 3 ? (p[0] + p[1] + p[2]) / 3.0 : p[0];
                grey[i] = (float)(1 - v / 255.0);
                ink += grey[i];
            }
            resize_forward(c->x + (size_t)c->nb * S * S, tmp, grey, &ay, &ax, 1);
            int slot = slot_take(c, word, ink < 1e-3);
            buf_printf(&c->rest[slot], ",\"ink\":");
            buf_num(&c->rest[slot], ink * (256.0 * 256.0) / ((double)gw * gh), 1);
            buf_t *pre = &c->pre[slot];
            buf_puts(pre, "{\"key_id\":");
            buf_jstr(pre, kid ? kid : "");
            if (word) {
                buf_puts(pre, ",\"word\":");
                buf_jstr(pre, word);
            }
            buf_printf(pre, ",\"image\":%ld", pngs_index(ps));
            if (c->nb == c->net.cap && flush(c, &e)) die_err(&e);
        }
        if (r < 0) die_err(&e);
        pngs_close(ps);
    }
    free(ay.first), free(ay.count), free(ay.w), free(ax.first), free(ax.count), free(ax.w);
    free(grey), free(tmp);
    image_free(&im);
    pngtext_free(&text);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, long n) {
    if (!n) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
static double mean(const double *v, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += v[i];
    return n ? s / n : NAN;
}

static void write_summary(score_t *c, const char *model) {
    err_t e = {0};
    double top1 = c->n_word ? (double)c->c1 / c->n_word : NAN, top5 = c->n_word ? (double)c->c5 / c->n_word : NAN;
    double mch = mean(c->chamfer, c->nch), medch = median(c->chamfer, c->nch);
    double mra = mean(c->ratio, c->nra), medra = median(c->ratio, c->nra);
    double mnra = c->nra ? c->ratio[0] : NAN, mxra = c->nra ? c->ratio[c->nra - 1] : NAN;
    fprintf(stderr, "%s: %ld records: top-1 %.4f top-5 %.4f on %ld with a known word", progname, c->n, top1, top5,
            c->n_word);
    if (c->n_ref)
        fprintf(stderr, "; against %s: mean chamfer %.3f px, ink ratio mean %.3f median %.3f", c->o->reference, mch,
                mra, medra);
    fprintf(stderr, "; %ld blank\n", c->n_blank);
    for (int i = 0; i < c->o->summary.n; i++) {
        const char *path = c->o->summary.v[i];
        size_t len = strlen(path);
        int md = len >= 3 && !strcmp(path + len - 3, ".md");
        buf_t b = {0};
        if (md) {
            buf_printf(&b, "# sketch-score summary\n\nModel: `%s`", model);
            if (c->o->reference) buf_printf(&b, "; reference field: `%s`", c->o->reference);
            buf_printf(&b, "\n\n| figure | value |\n|---|---|\n| records | %ld |\n| with a known word | %ld |\n",
                       c->n, c->n_word);
            buf_printf(&b, "| top-1 | %.1f%% |\n| top-5 | %.1f%% |\n| mean p(word) | %.4f |\n", 100 * top1, 100 * top5,
                       c->n_word ? c->p_word_sum / c->n_word : NAN);
            buf_printf(&b, "| blank outputs | %ld |\n| mean strokes | %.2f |\n| mean points | %.1f |\n", c->n_blank,
                       c->n ? c->strokes_sum / c->n : NAN, c->n ? c->points_sum / c->n : NAN);
            if (c->n_ref)
                buf_printf(&b,
                           "| with the reference | %ld |\n| mean chamfer (px of 256) | %.3f |\n| median chamfer | %.3f |\n"
                           "| ink ratio mean | %.3f |\n| ink ratio median | %.3f |\n| ink ratio min / max | %.3f / %.3f |\n"
                           "| ink ratio outside 0.5-2 | %ld |\n",
                           c->n_ref, mch, medch, mra, medra, mnra, mxra, c->n_ratio_out);
        } else {
            buf_printf(&b, "{\"model\":");
            buf_jstr(&b, model);
            buf_printf(&b, ",\"n\":%ld,\"n_word\":%ld,\"n_unknown_word\":%ld,\"top1\":", c->n, c->n_word, c->n_unknown);
            buf_num(&b, top1, 6);
            buf_puts(&b, ",\"top5\":");
            buf_num(&b, top5, 6);
            buf_puts(&b, ",\"mean_p_word\":");
            buf_num(&b, c->n_word ? c->p_word_sum / c->n_word : NAN, 6);
            buf_printf(&b, ",\"blank\":%ld,\"mean_strokes\":", c->n_blank);
            buf_num(&b, c->n ? c->strokes_sum / c->n : NAN, 4);
            buf_puts(&b, ",\"mean_points\":");
            buf_num(&b, c->n ? c->points_sum / c->n : NAN, 3);
            if (c->o->reference) {
                buf_puts(&b, ",\"reference\":");
                buf_jstr(&b, c->o->reference);
                buf_printf(&b, ",\"n_reference\":%ld,\"mean_chamfer\":", c->n_ref);
                buf_num(&b, mch, 4);
                buf_puts(&b, ",\"median_chamfer\":");
                buf_num(&b, medch, 4);
                buf_puts(&b, ",\"ink_ratio_mean\":");
                buf_num(&b, mra, 4);
                buf_puts(&b, ",\"ink_ratio_median\":");
                buf_num(&b, medra, 4);
                buf_puts(&b, ",\"ink_ratio_min\":");
                buf_num(&b, mnra, 4);
                buf_puts(&b, ",\"ink_ratio_max\":");
                buf_num(&b, mxra, 4);
                buf_printf(&b, ",\"ink_ratio_outside_0.5_2\":%ld", c->n_ratio_out);
            }
            buf_puts(&b, "}\n");
        }
        afile_t af;
        if (afile_open(&af, path, &e)) die_err(&e);
        fwrite(b.s, 1, b.len, af.fp);
        if (afile_commit(&af, &e)) die_err(&e);
        buf_free(&b);
    }
}

static int score_main(opts_t *o, strlist_t *files) {
    err_t e = {0};
    char *model = o->model ? xstrdup(o->model) : model_default();
    pool_t pool;
    if (pool_init(&pool, o->threads ? o->threads : pool_cores(), &e)) die_err(&e);
    nn_par_t par = pool_par(&pool);
    score_t c = {.o = o};
    load_model(&c, model, &par);
    if (raster_init(&c.r256, 256, 256, &e)) die_err(&e);
    c.paper256 = xmalloc(256 * 256 * sizeof *c.paper256);
    int cap = c.net.cap;
    c.x = xmalloc((size_t)cap * c.S * c.S * sizeof *c.x);
    c.probs = xmalloc((size_t)cap * c.K * sizeof *c.probs);
    c.pre = xcalloc((size_t)cap, sizeof *c.pre);
    c.rest = xcalloc((size_t)cap, sizeof *c.rest);
    c.bword = xcalloc((size_t)cap, sizeof *c.bword);
    c.bblank = xcalloc((size_t)cap, sizeof *c.bblank);
    c.order = xmalloc((size_t)c.K * sizeof *c.order);
    drawing_init(&c.ref);
    drawing_init(&c.fd);
    if (o->input_png) {
        score_pngs(&c, files);
    } else {
        records_opts_t ro = {.keep_going = o->keep_going, .progress = o->progress};
        records_run(files, &ro, score_one, &c);
    }
    if (flush(&c, &e)) die_err(&e);
    write_summary(&c, model);
    close_stdout();
    for (int k = 0; k < c.K; k++) free(c.words[k]);
    free(c.words), free(c.paper256), free(c.x), free(c.probs), free(c.order), free(c.chamfer), free(c.ratio);
    drawing_free(&c.ref);
    drawing_free(&c.fd);
    raster_free(&c.r256);
    worker_close(&c.w);
    buf_free(&c.out), buf_free(&c.js);
    for (int i = 0; i < cap; i++) buf_free(&c.pre[i]), buf_free(&c.rest[i]), free(c.bword[i]);
    free(c.pre), free(c.rest), free(c.bword), free(c.bblank);
    evalnet_free(&c.net);
    pool_free(&pool);
    free(model);
    return 0;
}

/* ================================================================== main */

int main(int argc, char **argv) {
    util_init(argv[0]);
    opts_t o = {.top = 5, .score_batch = 32, .image_size = 64, .channels = "32,64,128,256", .dropout = 0.2,
                .batch = 128, .epochs = 1, .lr = 2e-3, .wd = 0.05, .beta2 = 0.999, .clip_norm = 2.0,
                .warmup_frac = 0.03, .min_lr_frac = 0.01, .smoothing = 0.1, .seed = 1, .out = "outputs/evaluator",
                .renderer = "softline",
                .augment = "jitter:amount=0..3;noise:level=0..1.5;tremor:amplitude=0..2;dropout:p=0..0.15;"
                           "overshoot:amount=-0.1..0.15;affine:rotate=0..4,scale=0..0.05,shift=0..3;"
                           "elastic:amplitude=0..6",
                .aug_p = 0.5, .line_width = 3, .width_lo = 0.7, .width_hi = 1.5, .rotate = 8, .scale_lo = 0.85,
                .scale_hi = 1.08, .shift = 8};
    int input_kind = 0;
    const opt_t table[] = {
        {"train", 0, OPT_FLAG, &o.train, NULL, "train a classifier instead of scoring (the options below 'out')",
         OPT_NORANGE},
        {"model", 'm', OPT_STR, &o.model, "FILE",
         "evaluator model (default: $INVCLIP_EVALUATOR, else data/" DEFAULT_MODEL ")", OPT_NORANGE},
        {"input", 0, OPT_ENUM, &input_kind, "ndjson|png", "scoring input: sketch NDJSON records or a PNG stream",
         OPT_NORANGE},
        {"top", 'k', OPT_INT, &o.top, "K", "words listed per record, most probable first", 1, MAX_TOP},
        {"field", 'f', OPT_STR, &o.field, "FIELD",
         "the drawing-shaped field to score (default drawing; e.g. initial: the optimiser's start)", OPT_NORANGE},
        {"reference", 0, OPT_STR, &o.reference, "FIELD",
         "drawing-shaped field to measure structure against (initial, target) when a record has it", OPT_NORANGE},
        {"summary", 0, OPT_LIST, &o.summary, "FILE",
         "write the summary to FILE: Markdown when it ends in .md, else one NDJSON line (repeatable)", OPT_NORANGE},
        {"out", 'o', OPT_STR, &o.out, "DIR", "training: checkpoints, model, config.json and log.ndjson go here",
         OPT_NORANGE},
        {"resume", 0, OPT_FLAG, &o.resume, NULL, "continue from DIR/checkpoint.safetensors (same options)",
         OPT_NORANGE},
        {"val-keys", 0, OPT_STR, &o.val_keys, "FILE", "hold out these key_ids (one per line) for validation",
         OPT_NORANGE},
        {"classes", 0, OPT_STR, &o.classes_file, "FILE",
         "the words, one per line (default: every word in the data); other words are errors", OPT_NORANGE},
        {"image-size", 0, OPT_INT, &o.image_size, "S", "input side in pixels", 8, 1024},
        {"channels", 0, OPT_STR, &o.channels, "C,C,..", "output channels of each conv block (one block each)",
         OPT_NORANGE},
        {"dropout", 0, OPT_DOUBLE, &o.dropout, "P", "dropout before the classifier", 0, 0.95},
        {"batch", 'b', OPT_INT, &o.batch, "B", "drawings per step", 2, 4096},
        {"epochs", 'e', OPT_DOUBLE, &o.epochs, "E", "training length in passes over the training records", 0.0001,
         10000},
        {"steps", 'n', OPT_INT, &o.steps, "N", "training length in steps (overrides --epochs)", 0, 1e12},
        {"lr", 0, OPT_DOUBLE, &o.lr, "LR", "peak learning rate (AdamW)", 0, 10},
        {"schedule", 0, OPT_STR, &o.schedule, "SPEC",
         "learning-rate schedule (nn/lr.h; default cosine, 3% warmup, down to 1% of --lr)", OPT_NORANGE},
        {"wd", 0, OPT_DOUBLE, &o.wd, "WD", "AdamW decoupled weight decay (kernels and the classifier matrix)", 0, 10},
        {"beta2", 0, OPT_DOUBLE, &o.beta2, "B2", "AdamW beta2", 0, 0.99999},
        {"clip-norm", 0, OPT_DOUBLE, &o.clip_norm, "N", "clip the gradient's global norm (0 = off)", 0, 1e9},
        {"smoothing", 0, OPT_DOUBLE, &o.smoothing, "EPS", "label smoothing of the cross-entropy", 0, 0.99},
        {"seed", 's', OPT_INT, &o.seed, "S", "seed of the initial weights and every random draw", 0, 1e15},
        {"renderer", 'r', OPT_STR, &o.renderer, "SPEC",
         "renderer plugin NAME[:key=value,...] for the images, or 'builtin' (kept in the model for scoring)",
         OPT_NORANGE},
        {"line-width", 0, OPT_DOUBLE, &o.line_width, "W", "stroke width in a 256-pixel frame", 0.1, 50},
        {"augment", 0, OPT_STR, &o.augment, "SPEC;SPEC..",
         "degradations (qd-degrade --mix syntax, units rel), one per augmented sample; '' = none", OPT_NORANGE},
        {"augment-p", 0, OPT_DOUBLE, &o.aug_p, "P", "probability that a sample gets one of the degradations", 0, 1},
        {"rotate", 0, OPT_DOUBLE, &o.rotate, "DEG", "random rotation of the whole drawing, +-DEG", 0, 180},
        {"shift", 0, OPT_DOUBLE, &o.shift, "PX", "random shift, +-PX in the 256-pixel frame", 0, 128},
        {"eval-every", 0, OPT_INT, &o.eval_every, "N", "validate every N steps (0: once per epoch)", 0, 1e12},
        {"val-limit", 0, OPT_INT, &o.val_limit, "N",
         "validate on N evenly spaced held-out records, all of them at the end (0: all)", 0, 1e12},
        {"save-every", 0, OPT_INT, &o.save_every, "N", "write the checkpoint every N steps (0: at each validation)",
         0, 1e12},
        {"stop-after", 0, OPT_INT, &o.stop_after, "N",
         "end this invocation after N steps (checkpoint written; continue with --resume)", 0, 1e12},
        {"threads", 'j', OPT_INT, &o.threads, "N", "threads (0: one per online core)", 0, POOL_MAX_THREADS},
        OPT_KEEP_GOING(&o.keep_going),
        OPT_PROGRESS(&o.progress),
        {0},
    };
    const optspec_t spec = {
        .usage = "[options] [FILE...]",
        .summary =
            "Score sketches with the evaluator, a recognisability CNN over the 345 QuickDraw words: reads sketch\n"
            "NDJSON (FILEs or stdin, .gz ok) or a PNG stream (--input png), renders each drawing as the classifier\n"
            "was trained, and writes each record with a \"score\" field: top-k words and probabilities, the\n"
            "probability and rank of its own word, strokes, points, and with --reference FIELD the mean symmetric\n"
            "chamfer distance (pixels of a 256 canvas) and ink ratio against that field; --summary adds top-1/top-5,\n"
            "chamfer and ink-ratio statistics and blank outputs.  With --train, trains the classifier instead\n"
            "(cross-entropy, AdamW, warmup + cosine; on-the-fly rendering with light augmentation; --val-keys held\n"
            "out; DIR/checkpoint.safetensors, model.safetensors, config.json, log.ndjson; --resume bit for bit).",
        .opts = table,
        .epilog = "Examples:\n"
                  "  sketch-score --reference initial --summary out.md < optimized.ndjson > scored.ndjson\n"
                  "  rasterize --size 64 < sketches.ndjson | sketch-score --input png\n"
                  "  sketch-score --train --val-keys data/quickdraw/val-keys.txt --epochs 4 -o outputs/evaluator \\\n"
                  "      data/quickdraw/simplified/*.ndjson.gz\n"
                  "Exit codes: 1 bad record (malformed JSON, empty drawing), 2 usage, 3 I/O, 4 renderer plugin,\n"
                  "5 model missing or bad (make train-evaluator), 6 NaN/Inf in training.  See docs/evaluator.md.",
    };
    strlist_t files = {0};
    opt_parse(&spec, argc, argv, &files);
    o.input_png = input_kind == 1;
    dist_t D = {.rank = 0, .size = 1};
    err_t de = {0};
    if (o.train && dist_init(&D, &argc, &argv, &de)) die_err(&de); /* one process unless built with MPI */
    int rc = o.train ? train_main(&o, &files, &D) : score_main(&o, &files);
    dist_finalize(&D);
    strlist_free(&files);
    strlist_free(&o.summary);
    return rc;
}
