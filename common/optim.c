/* optim.c - see optim.h. */
#include "optim.h"
#include "checkpoint.h"
#include "imgprep.h"
#include "jpeg_io.h"
#include "saliency.h"
#include "nn/adamw.h"
#include "nn/resize.h"
#include "paramtab.h"
#include "png_io.h"
#include "raster.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- schedules ---- */

double optim_lr_mult(optim_sched_t k, int s, int T, int W, double f) {
    double p = (double)s / (T - 1 > 1 ? T - 1 : 1);
    switch (k) {
    case OSCHED_CONSTANT: return 1;
    case OSCHED_LINEAR: return 1 + (f - 1) * p;
    case OSCHED_COSINE: return f + (1 - f) * 0.5 * (1 + cos(M_PI * p));
    case OSCHED_WARMUP_COSINE:
        if (s < W) return f + (1 - f) * (double)s / W;
        p = (double)(s - W) / (T - W - 1 > 1 ? T - W - 1 : 1);
        return f + (1 - f) * 0.5 * (1 + cos(M_PI * p));
    }
    return 1;
}

double optim_weight_at(optim_wsched_t k, double from, double to, int s, int T) {
    double p = (double)s / (T - 1 > 1 ? T - 1 : 1);
    switch (k) {
    case WSCHED_CONSTANT: return to;
    case WSCHED_LINEAR: return from + (to - from) * p;
    case WSCHED_COSINE: return from + (to - from) * (1 - cos(M_PI * p)) / 2;
    }
    return to;
}

/* ---- --loss specs ---- */

enum { LK_WEIGHT, LK_FROM, LK_SCHED, LK_AS, LK_N };
static const plugin_param_t loss_keys[LK_N] = {
    [LK_WEIGHT] = {"weight", PARAM_FLOAT, 1, -1e6, 1e6, NULL, NULL, "the loss's weight", 0},
    [LK_FROM] = {"weight_from", PARAM_FLOAT, NAN, -1e6, 1e6, NULL, NULL, "weight at the first step", 0},
    [LK_SCHED] = {"weight_schedule", PARAM_ENUM, 0, 0, 0, "constant", "constant|linear|cosine", "weight schedule", 0},
    [LK_AS] = {"as", PARAM_STRING, 0, 0, 0, "", NULL, "name in the history", 0},
};

int optim_loss_spec_parse(const char *arg, optim_loss_spec_t *out, err_t *e) {
    memset(out, 0, sizeof *out);
    const char *colon = strchr(arg, ':');
    size_t nl = colon ? (size_t)(colon - arg) : strlen(arg);
    if (!nl) return err_set(e, EXIT_USAGE, "--loss '%s': no plugin name", arg);
    buf_t mine = {0}, theirs = {0};
    buf_put(&theirs, arg, nl);
    buf_puts(&theirs, "");
    int nt = 0;
    if (colon) {
        char *copy = xstrdup(colon + 1), *save = NULL;
        for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
            size_t kl = strcspn(kv, "=");
            int own = 0;
            for (int k = 0; k < LK_N; k++)
                if (strlen(loss_keys[k].name) == kl && !strncmp(kv, loss_keys[k].name, kl)) own = 1;
            buf_t *b = own ? &mine : &theirs;
            if (own) buf_printf(b, "%s%s", mine.len ? "," : "", kv);
            else buf_printf(b, "%s%s", nt++ ? "," : ":", kv);
        }
        free(copy);
    }
    plugin_value_t v[LK_N];
    char *strs[LK_N] = {0};
    char who[96];
    snprintf(who, sizeof who, "--loss %.*s: ", (int)(nl < 60 ? nl : 60), arg);
    int rc = paramtab_list(loss_keys, LK_N, mine.s ? mine.s : "", v, strs, who, e);
    if (!rc) {
        out->spec = theirs.s;
        theirs.s = NULL;
        out->weight = v[LK_WEIGHT].f;
        out->weight_from = isnan(v[LK_FROM].f) ? out->weight : v[LK_FROM].f;
        out->wsched = (int)v[LK_SCHED].i;
        const char *as = v[LK_AS].s && v[LK_AS].s[0] ? v[LK_AS].s : NULL;
        if (as) {
            for (const char *p = as; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
                    rc = err_set(e, EXIT_USAGE, "%sas='%s': names are [a-z0-9_-]", who, as);
            out->label = xstrdup(as);
        } else {
            /* the plugin's name; for a path, its file name without .so, '_' read as '-' */
            const char *b = arg, *end = arg + nl;
            for (const char *p = arg; p < end; p++)
                if (*p == '/') b = p + 1;
            if (end - b > 3 && !strncmp(end - 3, ".so", 3)) end -= 3;
            out->label = xmalloc((size_t)(end - b) + 1);
            for (size_t i = 0; i < (size_t)(end - b); i++) out->label[i] = b[i] == '_' ? '-' : b[i];
            out->label[end - b] = 0;
        }
        if (!rc && out->wsched == WSCHED_CONSTANT && !isnan(v[LK_FROM].f))
            rc = err_set(e, EXIT_USAGE, "%sweight_from needs weight_schedule=linear or cosine", who);
    }
    for (int k = 0; k < LK_N; k++) free(strs[k]);
    buf_free(&mine);
    buf_free(&theirs);
    if (rc) optim_loss_spec_free(out);
    return rc;
}

void optim_loss_spec_free(optim_loss_spec_t *s) {
    free(s->spec);
    free(s->label);
    memset(s, 0, sizeof *s);
}

static const char *sched_names[] = {"constant", "linear", "cosine", "warmup_cosine"};
static const char *init_names[] = {"drawing", "random", "saliency"};
static const char *add_names[] = {"random", "center", "edge"};
static const char *wsched_names[] = {"constant", "linear", "cosine"};

void optim_cfg_text(const optim_cfg_t *c, const char *model, buf_t *b) {
    buf_printf(b, "model=%s;renderer=%s;augment=%s;steps=%d;canvas=%d;pad=%a;width=%a;", model ? model : "none",
               c->renderer, c->augment ? c->augment : "none", c->steps, c->canvas, c->pad, c->width);
    buf_printf(b, "init=%s:%d:%d:%a:%a:%s;", init_names[c->init], c->init_strokes, c->init_points, c->init_jitter,
               c->init_temp, c->init_image ? c->init_image : "");
    buf_printf(b, "lr=%a:%a:%a:%a:%s:%d;clip=%a;noise=%a:%a;", c->lr, c->min_lr, c->lr_width, c->lr_opacity,
               sched_names[c->sched], c->warmup, c->clip_norm, c->noise, c->noise_decay);
    buf_printf(b, "add=%d:%d:%d:%s;eval=%d:%d:%d:%a;restarts=%d;seed=%llu;", c->add_interval, c->add_max,
               c->add_points, add_names[c->add_init], c->eval_every, c->patience, c->keep_best, c->min_delta,
               c->restarts, (unsigned long long)c->seed);
    for (int i = 0; i < c->nlosses; i++) {
        const optim_loss_spec_t *l = &c->losses[i];
        buf_printf(b, "loss=%s|%s|%a|%a|%s;", l->spec, l->label, l->weight, l->weight_from, wsched_names[l->wsched]);
    }
    if (c->bf16) buf_puts(b, "precision=bf16;"); /* absent for float32: older checkpoints still match */
    else if (c->f32pack) buf_puts(b, "gemm=packed;"); /* other bits than OpenBLAS's products */
}

uint64_t optim_seed(uint64_t seed, const char *key) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) h = (h ^ *p) * 1099511628211ULL;
    h ^= seed + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

void optim_result_init(optim_result_t *r) {
    memset(r, 0, sizeof *r);
    drawing_init(&r->initial);
    drawing_init(&r->final);
}

void optim_result_free(optim_result_t *r) {
    drawing_free(&r->initial);
    drawing_free(&r->final);
    buf_free(&r->history);
    buf_free(&r->frames);
    memset(r, 0, sizeof *r);
}

/* ---- the strokes being optimised ---- */

typedef struct {
    int ns, P;           /* strokes, points */
    int scap, pcap;
    int *npts, *off, *birth;
    float *xy, *width, *opacity;        /* (2P), (ns), (ns) */
    float *mxy, *vxy, *mw, *vw, *mo, *vo; /* Adam moments */
} strokes_t;

static void st_reserve(strokes_t *s, int ns, int P) {
    if (ns > s->scap) {
        int c = ns * 2 + 8;
        s->npts = xrealloc(s->npts, sizeof(int) * c);
        s->off = xrealloc(s->off, sizeof(int) * c);
        s->birth = xrealloc(s->birth, sizeof(int) * c);
        float **f[] = {&s->width, &s->opacity, &s->mw, &s->vw, &s->mo, &s->vo};
        for (size_t k = 0; k < sizeof f / sizeof *f; k++) *f[k] = xrealloc(*f[k], sizeof(float) * c);
        s->scap = c;
    }
    if (P > s->pcap) {
        int c = P * 2 + 64;
        float **f[] = {&s->xy, &s->mxy, &s->vxy};
        for (size_t k = 0; k < sizeof f / sizeof *f; k++) *f[k] = xrealloc(*f[k], sizeof(float) * 2 * c);
        s->pcap = c;
    }
}

static void st_clear(strokes_t *s) { s->ns = s->P = 0; }

static void st_free(strokes_t *s) {
    free(s->npts), free(s->off), free(s->birth);
    free(s->xy), free(s->width), free(s->opacity);
    free(s->mxy), free(s->vxy), free(s->mw), free(s->vw), free(s->mo), free(s->vo);
    memset(s, 0, sizeof *s);
}

/* Append a stroke of n points (xy (2n)) with zero moments. */
static void st_add(strokes_t *s, const float *xy, int n, float width, int birth) {
    st_reserve(s, s->ns + 1, s->P + n);
    int k = s->ns++;
    s->npts[k] = n;
    s->off[k] = s->P;
    s->birth[k] = birth;
    s->width[k] = width;
    s->opacity[k] = 1;
    s->mw[k] = s->vw[k] = s->mo[k] = s->vo[k] = 0;
    memcpy(s->xy + 2 * (size_t)s->P, xy, sizeof(float) * 2 * n);
    memset(s->mxy + 2 * (size_t)s->P, 0, sizeof(float) * 2 * n);
    memset(s->vxy + 2 * (size_t)s->P, 0, sizeof(float) * 2 * n);
    s->P += n;
}

static void st_copy(strokes_t *d, const strokes_t *s) {
    st_clear(d);
    st_reserve(d, s->ns, s->P);
    d->ns = s->ns, d->P = s->P;
    size_t n = (size_t)s->ns, p2 = 2 * (size_t)s->P;
    memcpy(d->npts, s->npts, sizeof(int) * n), memcpy(d->off, s->off, sizeof(int) * n);
    memcpy(d->birth, s->birth, sizeof(int) * n);
    memcpy(d->width, s->width, sizeof(float) * n), memcpy(d->opacity, s->opacity, sizeof(float) * n);
    memcpy(d->mw, s->mw, sizeof(float) * n), memcpy(d->vw, s->vw, sizeof(float) * n);
    memcpy(d->mo, s->mo, sizeof(float) * n), memcpy(d->vo, s->vo, sizeof(float) * n);
    memcpy(d->xy, s->xy, sizeof(float) * p2), memcpy(d->mxy, s->mxy, sizeof(float) * p2);
    memcpy(d->vxy, s->vxy, sizeof(float) * p2);
}

static scene_t st_scene(const strokes_t *s) {
    return (scene_t){s->ns, s->npts, s->off, s->xy, s->width, s->opacity};
}

/* ---- the job ---- */

typedef struct {
    plugin_t p;
    const optim_loss_spec_t *spec;
    int sim_metric; /* index of its "similarity" metric, or -1 */
    int per_word;   /* the spec names {word}: opened again for each new word */
    char *word;     /* the word it is open for (per_word), NULL before the first record */
} job_loss_t;

struct optim_job {
    const optim_cfg_t *cfg;
    host_t host;
    clip_model_t *model;
    pool_t *pool;
    nn_par_t par;
    plugin_t rend, aug;
    int has_aug, N;      /* views */
    job_loss_t loss[OPTIM_MAX_LOSSES];
    int nloss;
    int C, S;            /* canvas, loss image side */
    resize_axis_t ry, rx;
    int resize;
    /* buffers */
    float *canvas, *img, *views, *dimg, *dviews, *dcanvas, *limg, *lviews, *rtmp;
    size_t gcap;
    float *gxy, *gw, *go, *lxy, *lw, *lo; /* (gcap) each (points: 2*gcap) */
    float *tmpxy;
    int tmpcap;
    strokes_t cur, best, orig;
    optim_timing_t tm;
    image_t frame;
    pngtext_t ftext;
    char *sal_image;      /* saliency map of cfg->init_image (C x C), or NULL */
    float *sal;
};

const optim_timing_t *optim_job_timing(const optim_job_t *j) { return &j->tm; }
const char *optim_job_label(const optim_job_t *j, int i) { return i < j->nloss ? j->loss[i].spec->label : NULL; }

static int pl_err(err_t *e, int rc, const plugin_t *p, const char *what, const plugin_err_t *pe) {
    return err_set(e, rc ? rc : EXIT_INTERNAL, "%s%s'%s': %s", what, what[0] ? " " : "", p->d->name,
                   pe->msg[0] ? pe->msg : "failed");
}

void optim_job_close(optim_job_t *j) {
    if (!j) return;
    if (j->rend.d) plugin_close(&j->rend);
    if (j->aug.d) plugin_close(&j->aug);
    for (int i = 0; i < j->nloss; i++) {
        if (j->loss[i].p.d) plugin_close(&j->loss[i].p);
        free(j->loss[i].word);
    }
    host_free(&j->host);
    free(j->ry.first), free(j->ry.count), free(j->ry.w);
    free(j->rx.first), free(j->rx.count), free(j->rx.w);
    free(j->canvas), free(j->img), free(j->views), free(j->dimg), free(j->dviews), free(j->dcanvas);
    free(j->limg), free(j->lviews), free(j->rtmp);
    free(j->gxy), free(j->gw), free(j->go), free(j->lxy), free(j->lw), free(j->lo), free(j->tmpxy);
    st_free(&j->cur), st_free(&j->best), st_free(&j->orig);
    image_free(&j->frame);
    pngtext_free(&j->ftext);
    free(j->sal);
    free(j);
}

static void plan_axis(resize_axis_t *a, int n_in, int n_out) {
    int nt = RESIZE_TAPS(n_in, n_out);
    a->first = xmalloc(sizeof(int) * n_out);
    a->count = xmalloc(sizeof(int) * n_out);
    a->w = xmalloc(sizeof(float) * (size_t)n_out * nt);
    resize_plan(a, n_in, n_out);
}

/* CLIPasso's saliency map of the --init picture on the canvas (docs/study.md
 * 3.7, 4.9): the picture as CLIPasso loads its target (a square one bicubic
 * to C and centre-cropped, another squashed bicubic to C x C), in [0,1]. */
static int saliency_open(optim_job_t *j, err_t *e) {
    const optim_cfg_t *cfg = j->cfg;
    if (!j->model) return err_set(e, EXIT_USAGE, "--init saliency needs a CLIP model (not --model none)");
    image_t im = {0};
    int rc = image_load(cfg->init_image, &im, e);
    if (rc) return rc;
    size_t cc = (size_t)j->C * j->C;
    float *rgb = xmalloc(sizeof(float) * 3 * cc);
    int mode = im.w == im.h ? IMGPREP_CLIP : IMGPREP_SQUASH_BICUBIC;
    rc = imgprep_clip(&im, j->C, mode, 0, rgb, e);
    image_free(&im);
    if (rc) err_prefix(e, "%s: ", cfg->init_image);
    if (!rc) {
        j->sal = xmalloc(sizeof(float) * cc);
        j->model->m.bf16 = 0; /* the start, like the evaluations, does not depend on --precision */
        j->model->m.f32pack = 0; /* nor on --gemm */
        rc = saliency_map(&j->model->m, rgb, j->C, j->C, j->sal, e);
        j->model->m.bf16 = cfg->bf16;
        j->model->m.f32pack = cfg->f32pack;
        if (rc) err_prefix(e, "--init saliency: %s: ", cfg->init_image);
    }
    free(rgb);
    if (!rc) {
        size_t pos = 0;
        for (size_t i = 0; i < cc; i++) pos += j->sal[i] > 0;
        if (pos < (size_t)cfg->init_strokes)
            rc = err_set(e, EXIT_DATA, "--init saliency: %s: the map has %zu salient pixels, fewer than %d strokes",
                         cfg->init_image, pos, cfg->init_strokes);
    }
    return rc;
}

/* spec with every "{word}" replaced by word (a new string) */
static char *spec_for_word(const char *spec, const char *word) {
    buf_t b = {0};
    for (const char *p = spec, *q; *p; p = q + 6) {
        if (!(q = strstr(p, "{word}"))) {
            buf_puts(&b, p);
            break;
        }
        buf_put(&b, p, (size_t)(q - p));
        buf_puts(&b, word);
    }
    if (!b.s) buf_puts(&b, "");
    return b.s;
}

/* Loss specs that name {word} are opened and initialised for the record's word when it differs from the
 * word they are open for (the host caches text embeddings per prompt, so a word seen before costs no encoding). */
static int bind_word(optim_job_t *j, const char *word, err_t *e) {
    for (int i = 0; i < j->nloss; i++) {
        job_loss_t *l = &j->loss[i];
        if (!l->per_word || (l->word && word && !strcmp(l->word, word))) continue;
        if (!word || !*word)
            return err_set(e, EXIT_DATA, "loss '%s' names {word}, but the record has no \"word\"", l->spec->label);
        if (strchr(word, ','))
            return err_set(e, EXIT_DATA, "loss '%s': the word '%.60s' has a comma, which a loss spec cannot hold",
                           l->spec->label, word);
        if (l->p.d) plugin_close(&l->p);
        free(l->word);
        l->word = NULL;
        char *sp = spec_for_word(l->spec->spec, word);
        int rc = plugin_open(&l->p, sp, PLUGIN_LOSS, e);
        free(sp);
        if (!rc) rc = plugin_init(&l->p, &j->host.h, e);
        if (rc) {
            if (l->p.d) plugin_close(&l->p);
            return err_prefix(e, "word '%.60s': ", word), rc;
        }
        l->word = xstrdup(word);
        l->sim_metric = -1;
    }
    return 0;
}

int optim_job_open(optim_job_t **out, const optim_cfg_t *cfg, clip_model_t *model, pool_t *pool, err_t *e) {
    optim_job_t *j = xcalloc(1, sizeof *j);
    *out = NULL;
    j->cfg = cfg;
    j->model = model;
    if (model) model->m.bf16 = cfg->bf16, model->m.f32pack = cfg->f32pack;
    j->pool = pool;
    j->par = pool_par(pool);
    host_init(&j->host, cfg->seed, model);
    host_set_pool(&j->host, pool);
    j->C = cfg->canvas;
    j->S = model ? j->host.h.clip_size : cfg->canvas;
    int rc = 0;
    if (cfg->nlosses < 1 || cfg->nlosses > OPTIM_MAX_LOSSES) {
        rc = err_set(e, EXIT_USAGE, "between 1 and %d --loss options are needed", OPTIM_MAX_LOSSES);
        goto fail;
    }
    if ((rc = plugin_open(&j->rend, cfg->renderer, PLUGIN_RENDERER, e))) goto fail;
    if ((rc = plugin_init(&j->rend, &j->host.h, e))) goto fail;
    if (cfg->augment) {
        if ((rc = plugin_open(&j->aug, cfg->augment, PLUGIN_AUGMENT, e))) goto fail;
        if ((rc = plugin_init(&j->aug, &j->host.h, e))) goto fail;
        j->has_aug = 1;
        j->N = j->aug.d->augment->nviews(j->aug.state);
        if (j->N < 1) {
            rc = err_set(e, EXIT_PLUGIN, "augmentation '%s' makes %d views", j->aug.d->name, j->N);
            goto fail;
        }
    }
    for (int i = 0; i < cfg->nlosses; i++) {
        job_loss_t *l = &j->loss[i];
        l->spec = &cfg->losses[i];
        for (int k = 0; k < i; k++)
            if (!strcmp(cfg->losses[k].label, l->spec->label)) {
                rc = err_set(e, EXIT_USAGE, "two losses are named '%s' in the history; give one as=NAME",
                             l->spec->label);
                goto fail;
            }
        l->sim_metric = -1;
        l->per_word = strstr(l->spec->spec, "{word}") != NULL;
        if (l->per_word) {
            /* checked now (name, keys, values) with a stand-in word; opened for real per record */
            char *sp = spec_for_word(l->spec->spec, "word");
            rc = plugin_open(&l->p, sp, PLUGIN_LOSS, e);
            free(sp);
            j->nloss = i + 1;
            if (rc) goto fail;
            continue;
        }
        if ((rc = plugin_open(&l->p, l->spec->spec, PLUGIN_LOSS, e))) goto fail;
        j->nloss = i + 1;
        if ((rc = plugin_init(&l->p, &j->host.h, e))) goto fail;
    }
    j->resize = j->S != j->C;
    if (j->resize) {
        plan_axis(&j->ry, j->C, j->S);
        plan_axis(&j->rx, j->C, j->S);
    }
    size_t cc = (size_t)j->C * j->C, ss = (size_t)j->S * j->S, nv = (size_t)(j->N ? j->N : 1);
    j->canvas = xmalloc(sizeof(float) * cc);
    j->dcanvas = xmalloc(sizeof(float) * cc);
    j->rtmp = xmalloc(sizeof(float) * (size_t)j->C * j->S);
    j->img = xmalloc(sizeof(float) * ss);
    j->dimg = xmalloc(sizeof(float) * ss);
    j->limg = xmalloc(sizeof(float) * ss);
    j->views = xmalloc(sizeof(float) * ss * nv);
    j->dviews = xmalloc(sizeof(float) * ss * nv);
    j->lviews = xmalloc(sizeof(float) * ss * nv);
    if ((rc = image_init(&j->frame, j->C, j->C, 1, 255, e))) goto fail;
    if (cfg->init == OINIT_SALIENCY && (rc = saliency_open(j, e))) goto fail;
    *out = j;
    return 0;
fail:
    optim_job_close(j);
    return rc;
}

static void grad_reserve(optim_job_t *j, int ns, int P) {
    size_t need = (size_t)(ns > P ? ns : P);
    if (need <= j->gcap) return;
    size_t c = need * 2 + 64;
    float **f[] = {&j->gxy, &j->lxy};
    for (int k = 0; k < 2; k++) *f[k] = xrealloc(*f[k], sizeof(float) * 2 * c);
    float **g[] = {&j->gw, &j->go, &j->lw, &j->lo};
    for (int k = 0; k < 4; k++) *g[k] = xrealloc(*g[k], sizeof(float) * c);
    j->gcap = c;
}

/* ---- encode / decode between polylines (canvas px) and the renderer's points ---- */

static int encode_stroke(optim_job_t *j, const float *xy, int n, strokes_t *s, int birth, err_t *e) {
    plugin_err_t pe = {{0}};
    int need = plugin_encode(&j->rend, xy, n, NULL, 0, &pe);
    if (need < 0) return pl_err(e, EXIT_DATA, &j->rend, "renderer", &pe);
    if (need > j->tmpcap) {
        j->tmpcap = need + 64;
        j->tmpxy = xrealloc(j->tmpxy, sizeof(float) * 2 * j->tmpcap);
    }
    int got = plugin_encode(&j->rend, xy, n, j->tmpxy, j->tmpcap, &pe);
    if (got < 0) return pl_err(e, EXIT_DATA, &j->rend, "renderer", &pe);
    st_add(s, j->tmpxy, got, (float)j->cfg->width, birth);
    return 0;
}

static int decode_strokes(optim_job_t *j, const strokes_t *s, drawing_t *d, err_t *e) {
    drawing_clear(d);
    plugin_err_t pe = {{0}};
    for (int k = 0; k < s->ns; k++) {
        const float *pts = s->xy + 2 * (size_t)s->off[k];
        int need = plugin_decode(&j->rend, pts, s->npts[k], NULL, 0, &pe);
        if (need < 0) return pl_err(e, EXIT_DATA, &j->rend, "renderer", &pe);
        if (need > j->tmpcap) {
            j->tmpcap = need + 64;
            j->tmpxy = xrealloc(j->tmpxy, sizeof(float) * 2 * j->tmpcap);
        }
        int got = plugin_decode(&j->rend, pts, s->npts[k], j->tmpxy, j->tmpcap, &pe);
        if (got < 0) return pl_err(e, EXIT_DATA, &j->rend, "renderer", &pe);
        stroke_t *st = drawing_add_empty(d, got, 0);
        for (int i = 0; i < got; i++) st->x[i] = j->tmpxy[2 * i], st->y[i] = j->tmpxy[2 * i + 1];
    }
    return 0;
}

/* ---- one forward (+ backward) ---- */

static int render(optim_job_t *j, err_t *e) {
    const renderer_vt *vt = j->rend.d->renderer;
    scene_t sc = st_scene(&j->cur);
    void *ws = plugin_ws(&j->rend, vt->ws_size(j->rend.state, &sc, j->C, j->C));
    plugin_err_t pe = {{0}};
    int rc = vt->forward(j->rend.state, ws, &j->host.h, &sc, j->C, j->C, j->canvas, &pe);
    if (rc) return pl_err(e, rc, &j->rend, "renderer", &pe);
    if (j->resize) resize_forward(j->img, j->rtmp, j->canvas, &j->ry, &j->rx, 1);
    else memcpy(j->img, j->canvas, sizeof(float) * (size_t)j->C * j->C);
    return 0;
}

/* The augmentation: img -> views, or (backward) dviews -> ADDED into dimg. */
static int augment(optim_job_t *j, int backward, err_t *e) {
    const augment_vt *av = j->aug.d->augment;
    void *ws = plugin_ws(&j->aug, av->ws_size(j->aug.state, 1, j->S, j->S));
    plugin_err_t pe = {{0}};
    int rc = backward ? av->backward(j->aug.state, ws, &j->host.h, 1, j->S, j->S, j->dviews, j->dimg, &pe)
                      : av->forward(j->aug.state, ws, &j->host.h, 1, j->S, j->S, j->img, j->views, &pe);
    return rc ? pl_err(e, rc, &j->aug, "augmentation", &pe) : 0;
}

static int check_finite(const float *x, size_t n, const char *what, const char *who, int step, err_t *e) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return err_set(e, EXIT_NUMERIC, "step %d: %s '%s' gave a non-finite %s (element %zu is %s)", step,
                           "loss", who, what, i, isnan(x[i]) ? "NaN" : "Inf");
    return 0;
}

/* Evaluate every loss at step s.  grad: accumulate weighted gradients into
 * dimg, dviews (when views) and gxy/gw/go; N views (0 = the image alone). */
static int losses(optim_job_t *j, int s, int N, int grad, optim_eval_t *ev, buf_t *hist, err_t *e) {
    const optim_cfg_t *c = j->cfg;
    size_t ss = (size_t)j->S * j->S;
    scene_t sc = st_scene(&j->cur);
    loss_in_t in = {j->img, 1, j->S, j->S, N ? j->views : NULL, N, &sc};
    ev->total = 0;
    ev->similarity = NAN;
    for (int i = 0; i < j->nloss; i++) {
        job_loss_t *l = &j->loss[i];
        const loss_vt *vt = l->p.d->loss;
        double w = optim_weight_at(l->spec->wsched, l->spec->weight_from, l->spec->weight, s, c->steps);
        void *ws = plugin_ws(&l->p, vt->ws_size(l->p.state, &in));
        loss_out_t o = {0};
        if (grad) {
            memset(j->limg, 0, sizeof(float) * ss);
            if (N) memset(j->lviews, 0, sizeof(float) * ss * N);
            memset(j->lxy, 0, sizeof(float) * 2 * j->cur.P);
            memset(j->lw, 0, sizeof(float) * j->cur.ns);
            memset(j->lo, 0, sizeof(float) * j->cur.ns);
            o.dimg = j->limg;
            o.dviews = N ? j->lviews : NULL;
            o.dscene = (scene_grad_t){j->lxy, c->lr_width > 0 ? j->lw : NULL, c->lr_opacity > 0 ? j->lo : NULL};
        }
        plugin_err_t pe = {{0}};
        int rc = vt->eval(l->p.state, ws, &j->host.h, &in, &o, &pe);
        if (rc) return err_set(e, rc, "step %d: loss '%s': %s", s, l->spec->label, pe.msg[0] ? pe.msg : "failed");
        if (!isfinite(o.value))
            return err_set(e, EXIT_NUMERIC, "step %d: loss '%s' is %s", s, l->spec->label,
                           isnan(o.value) ? "NaN" : "Inf");
        ev->value[i] = o.value;
        ev->total += w * o.value;
        for (int m = 0; m < o.nmetrics && m < LOSS_MAX_METRICS; m++)
            if (o.metric_name[m] && !strcmp(o.metric_name[m], "similarity") && isnan(ev->similarity))
                ev->similarity = o.metric[m];
        if (hist) {
            buf_printf(hist, ",\"%s\":", l->spec->label);
            buf_num(hist, o.value, 7);
            for (int m = 0; m < o.nmetrics && m < LOSS_MAX_METRICS; m++) {
                if (!o.metric_name[m]) continue;
                buf_printf(hist, ",\"%s.%s\":", l->spec->label, o.metric_name[m]);
                buf_num(hist, o.metric[m], 7);
            }
            if (l->spec->wsched != WSCHED_CONSTANT) {
                buf_printf(hist, ",\"%s.weight\":", l->spec->label);
                buf_num(hist, w, 7);
            }
        }
        if (!grad) continue;
        const char *who = l->spec->label;
        if ((rc = check_finite(j->limg, ss, "image gradient", who, s, e))) return rc;
        if (N && (rc = check_finite(j->lviews, ss * N, "view gradient", who, s, e))) return rc;
        if ((rc = check_finite(j->lxy, 2 * (size_t)j->cur.P, "point gradient", who, s, e))) return rc;
        float fw = (float)w;
        for (size_t k = 0; k < ss; k++) j->dimg[k] += fw * j->limg[k];
        if (N)
            for (size_t k = 0; k < ss * N; k++) j->dviews[k] += fw * j->lviews[k];
        for (size_t k = 0; k < 2 * (size_t)j->cur.P; k++) j->gxy[k] += fw * j->lxy[k];
        for (int k = 0; k < j->cur.ns; k++) j->gw[k] += fw * j->lw[k], j->go[k] += fw * j->lo[k];
    }
    return 0;
}

/* An un-augmented evaluation of the current strokes at step s.  Always in
 * float32 (with --precision bf16 too): the losses a record reports, the
 * best iterate and the restarts' choice do not depend on the steps'
 * precision. */
static int evaluate(optim_job_t *j, int s, optim_eval_t *ev, err_t *e) {
    double t0 = now_sec();
    int T = j->cfg->steps;
    if (s > T - 1) s = T > 0 ? T - 1 : 0; /* after the last update: the last step's weights */
    host_set_step(&j->host, s, T);
    if (j->model) j->model->m.bf16 = 0;
    int rc = render(j, e);
    if (!rc) rc = losses(j, s, 0, 0, ev, NULL, e);
    if (j->model) j->model->m.bf16 = j->cfg->bf16;
    j->tm.eval += now_sec() - t0;
    return rc;
}

/* ---- random strokes (docs/study.md 4.5 and 3.7) ---- */

static float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }

static void new_stroke(optim_job_t *j, float *xy, int n) {
    const optim_cfg_t *c = j->cfg;
    rng_t *r = &j->host.rng;
    double S = c->canvas, k = S / 224.0, pad = 20 * k;
    switch (c->add_init) {
    case OADD_CENTER:
        for (int i = 0; i < n; i++) {
            xy[2 * i] = (float)(S / 2 + (i - n / 2.0) * 10 * k + rng_range(r, 0, 5 * k));
            xy[2 * i + 1] = (float)(S / 2 + rng_range(r, -10 * k, 10 * k));
        }
        break;
    case OADD_EDGE: {
        int edge = (int)rng_below(r, 4);
        double u = rng_uniform(r), x0, y0;
        if (edge == 0) x0 = u * S, y0 = pad;
        else if (edge == 1) x0 = S - pad, y0 = u * S;
        else if (edge == 2) x0 = u * S, y0 = S - pad;
        else x0 = pad, y0 = u * S;
        double dx = rng_uniform(r) - 0.5, dy = rng_uniform(r) - 0.5, len = sqrt(dx * dx + dy * dy);
        if (len < 1e-12) dx = 1, dy = 0, len = 1;
        dx = dx / len * 15 * k, dy = dy / len * 15 * k;
        for (int i = 0; i < n; i++) xy[2 * i] = (float)(x0 + i * dx), xy[2 * i + 1] = (float)(y0 + i * dy);
        break;
    }
    default: {
        double cx = rng_range(r, pad, S - pad), cy = rng_range(r, pad, S - pad), r0 = rng_range(r, 15 * k, 35 * k);
        for (int i = 0; i < n; i++) {
            double a = 2 * M_PI * i / n, rr = r0 * rng_range(r, 0.8, 1.2);
            xy[2 * i] = (float)(cx + rr * cos(a));
            xy[2 * i + 1] = (float)(cy + rr * sin(a));
        }
    }
    }
    for (int i = 0; i < 2 * n; i++) xy[i] = clampf(xy[i], (float)pad, (float)(S - pad));
}

/* CLIPasso's start: p0 uniform (or sampled from the saliency map), then
 * each next point the previous plus jitter*(U-0.5)*canvas per axis. */
static int init_strokes(optim_job_t *j, err_t *e) {
    const optim_cfg_t *c = j->cfg;
    rng_t *r = &j->host.rng;
    int n = c->init_points;
    float *xy = xmalloc(sizeof(float) * 2 * (size_t)n);
    double S = c->canvas;
    for (int k = 0; k < c->init_strokes; k++) {
        double x0 = rng_uniform(r) * S, y0 = rng_uniform(r) * S;
        xy[0] = (float)x0, xy[1] = (float)y0;
        for (int i = 1; i < n; i++) {
            xy[2 * i] = xy[2 * i - 2] + (float)(c->init_jitter * (rng_uniform(r) - 0.5) * S);
            xy[2 * i + 1] = xy[2 * i - 1] + (float)(c->init_jitter * (rng_uniform(r) - 0.5) * S);
        }
        for (int i = 0; i < 2 * n; i++) xy[i] = clampf(xy[i], 0, (float)S);
        st_add(&j->cur, xy, n, (float)c->width, 0);
    }
    free(xy);
    (void)e;
    return 0;
}

/* ---- frames ---- */

static int frame(optim_job_t *j, const char *key, const char *word, int step, int restart, const optim_eval_t *ev,
                 buf_t *out, err_t *e) {
    size_t n = (size_t)j->C * j->C;
    for (size_t i = 0; i < n; i++) {
        float v = j->canvas[i];
        j->frame.px[i] = (uint8_t)((v < 0 ? 0 : v > 1 ? 1 : v) * 255.0f + 0.5f);
    }
    char num[64];
    pngtext_clear(&j->ftext);
    if (key[0]) pngtext_set(&j->ftext, "key_id", key);
    if (word) pngtext_set(&j->ftext, "word", word);
    snprintf(num, sizeof num, "%d", step);
    pngtext_set(&j->ftext, "step", num);
    snprintf(num, sizeof num, "%d", restart);
    pngtext_set(&j->ftext, "restart", num);
    snprintf(num, sizeof num, "%.9g", ev->total);
    pngtext_set(&j->ftext, "loss", num);
    if (!isnan(ev->similarity)) {
        snprintf(num, sizeof num, "%.9g", ev->similarity);
        pngtext_set(&j->ftext, "similarity", num);
    }
    char *mem = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&mem, &len);
    if (!fp) return err_set(e, EXIT_INTERNAL, "out of memory for a frame");
    int rc = pngio_write(fp, "<frames>", &j->frame, &j->ftext, e);
    fclose(fp);
    if (!rc) buf_put(out, mem, len);
    free(mem);
    return rc;
}

/* ---- checkpoints ---- */

static void ints_text(buf_t *b, const int *v, int n) {
    for (int i = 0; i < n; i++) buf_printf(b, "%s%d", i ? "," : "", v[i]);
}

static int ints_parse(const char *s, int *v, int n, long lo, long hi) {
    if (!s) return -1;
    for (int i = 0; i < n; i++) {
        char *end;
        if (!(*s >= '0' && *s <= '9') && *s != '-') return -1;
        long x = strtol(s, &end, 10);
        if (end == s || x < lo || x > hi) return -1;
        v[i] = (int)x;
        s = end;
        if (i < n - 1) {
            if (*s != ',') return -1;
            s++;
        }
    }
    return *s ? -1 : 0;
}

static int count_list(const char *s) {
    if (!s || !*s) return 0;
    int n = 1;
    for (; *s; s++) n += *s == ',';
    return n;
}

/* The run's mutable state besides the strokes. */
typedef struct {
    int step;            /* updates done */
    double noise;
    double best_loss;
    int best_step, bad, stopped_early;
    optim_eval_t eval0;
} runstate_t;

static void eval_text(buf_t *b, const optim_eval_t *ev, int n) {
    buf_printf(b, "%a;%a", ev->total, ev->similarity);
    for (int i = 0; i < n; i++) buf_printf(b, ";%a", ev->value[i]);
}

static int eval_parse(const char *s, optim_eval_t *ev, int n) {
    if (!s) return -1;
    char *end;
    ev->total = strtod(s, &end);
    if (end == s || *end != ';') return -1;
    s = end + 1;
    ev->similarity = strtod(s, &end);
    if (end == s) return -1;
    s = end;
    for (int i = 0; i < n; i++) {
        if (*s != ';') return -1;
        s++;
        ev->value[i] = strtod(s, &end);
        if (end == s) return -1;
        s = end;
    }
    return *s ? -1 : 0;
}

static int ckpt_write(optim_job_t *j, const char *path, const char *cfgtext, const runstate_t *rs,
                      const buf_t *hist, err_t *e) {
    const strokes_t *s = &j->cur, *b = &j->best;
    params_t ps;
    params_init(&ps);
    ps.align = 1;
    int P = s->P > 0 ? s->P : 1, ns = s->ns > 0 ? s->ns : 1, bP = b->P > 0 ? b->P : 1, bns = b->ns > 0 ? b->ns : 1;
    PARAMS_ADD(&ps, "xy", P, 2);
    PARAMS_ADD(&ps, "width", ns);
    PARAMS_ADD(&ps, "opacity", ns);
    PARAMS_ADD(&ps, "best.xy", bP, 2);
    PARAMS_ADD(&ps, "best.width", bns);
    PARAMS_ADD(&ps, "best.opacity", bns);
    int rc = params_alloc(&ps, PARAMS_TRAIN, e);
    if (rc) {
        params_free(&ps);
        return rc;
    }
    param_view_t v;
    v = params_view(&ps, "xy");
    memcpy(v.data, s->xy, sizeof(float) * 2 * s->P), memcpy(v.m, s->mxy, sizeof(float) * 2 * s->P);
    memcpy(v.v, s->vxy, sizeof(float) * 2 * s->P);
    v = params_view(&ps, "width");
    memcpy(v.data, s->width, sizeof(float) * s->ns), memcpy(v.m, s->mw, sizeof(float) * s->ns);
    memcpy(v.v, s->vw, sizeof(float) * s->ns);
    v = params_view(&ps, "opacity");
    memcpy(v.data, s->opacity, sizeof(float) * s->ns), memcpy(v.m, s->mo, sizeof(float) * s->ns);
    memcpy(v.v, s->vo, sizeof(float) * s->ns);
    memcpy(params_view(&ps, "best.xy").data, b->xy, sizeof(float) * 2 * b->P);
    memcpy(params_view(&ps, "best.width").data, b->width, sizeof(float) * b->ns);
    memcpy(params_view(&ps, "best.opacity").data, b->opacity, sizeof(float) * b->ns);
    buf_t npts = {0}, birth = {0}, bnpts = {0}, num = {0}, ev0 = {0};
    ints_text(&npts, s->npts, s->ns);
    ints_text(&birth, s->birth, s->ns);
    ints_text(&bnpts, b->npts, b->ns);
    buf_printf(&num, "%a;%a;%d;%d;%d", rs->noise, rs->best_loss, rs->best_step, rs->bad, rs->stopped_early);
    eval_text(&ev0, &rs->eval0, j->nloss);
    ckpt_kv_t kv[] = {
        {"optimize.config", cfgtext},
        {"optimize.npts", npts.s ? npts.s : ""},
        {"optimize.birth", birth.s ? birth.s : ""},
        {"optimize.best_npts", bnpts.s ? bnpts.s : ""},
        {"optimize.state", num.s},
        {"optimize.eval0", ev0.s},
        {"optimize.history", hist->s ? hist->s : ""},
    };
    ckpt_rng_t rng = {"host", &j->host.rng};
    ckpt_state_t st = {.step = rs->step, .rng = &rng, .nrng = 1, .meta = kv, .nmeta = (int)(sizeof kv / sizeof *kv)};
    rc = ckpt_save(path, &ps, &st, CKPT_OPTIM, e);
    buf_free(&npts), buf_free(&birth), buf_free(&bnpts), buf_free(&num), buf_free(&ev0);
    params_free(&ps);
    return rc;
}

/* An open checkpoint -> the strokes, best iterate, run state, history and
 * RNG of a run with these settings (cfgtext), steps and losses.  0 or an
 * EXIT_* code naming path; on error the outputs are partly written. */
static int ckpt_decode(ckpt_t *c, const char *path, const char *cfgtext, int steps, int nloss, strokes_t *s,
                       strokes_t *b, runstate_t *rs, buf_t *hist, rng_t *rng, err_t *e) {
    int rc = 0;
    params_t ps;
    params_init(&ps);
    ps.align = 1;
    const char *cfg = ckpt_meta(c, "optimize.config"), *np = ckpt_meta(c, "optimize.npts"),
               *bi = ckpt_meta(c, "optimize.birth"), *bnp = ckpt_meta(c, "optimize.best_npts"),
               *sta = ckpt_meta(c, "optimize.state"), *ev0 = ckpt_meta(c, "optimize.eval0"),
               *hi = ckpt_meta(c, "optimize.history");
    if (!cfg || !np || !bi || !bnp || !sta || !ev0 || !hi) {
        rc = err_set(e, EXIT_MODEL, "%s: not an optimize checkpoint (metadata missing)", path);
        goto out;
    }
    if (cfgtext && strcmp(cfg, cfgtext)) {
        rc = err_set(e, EXIT_USAGE, "%s: made with other settings than this run's; remove it or run without --resume",
                     path);
        goto out;
    }
    int ns = count_list(np), bns = count_list(bnp);
    int64_t step = ckpt_step(c);
    if (ns > 1000000 || bns > 1000000 || count_list(bi) != ns || step < 0 || step > steps) {
        rc = err_set(e, EXIT_MODEL, "%s: inconsistent stroke lists or step", path);
        goto out;
    }
    st_clear(s), st_clear(b);
    st_reserve(s, ns + 1, 1), st_reserve(b, bns + 1, 1);
    if (ints_parse(np, s->npts, ns, 1, 1000000) || ints_parse(bi, s->birth, ns, 0, steps) ||
        ints_parse(bnp, b->npts, bns, 1, 1000000)) {
        rc = err_set(e, EXIT_MODEL, "%s: malformed stroke lists", path);
        goto out;
    }
    long P = 0, bP = 0;
    for (int k = 0; k < ns; k++) s->off[k] = (int)P, P += s->npts[k];
    for (int k = 0; k < bns; k++) b->off[k] = (int)bP, bP += b->npts[k];
    if (P > 100000000 || bP > 100000000) {
        rc = err_set(e, EXIT_MODEL, "%s: too many points", path);
        goto out;
    }
    s->ns = ns, b->ns = bns;
    st_reserve(s, ns, (int)P), st_reserve(b, bns, (int)bP);
    s->P = (int)P, b->P = (int)bP;
    PARAMS_ADD(&ps, "xy", P > 0 ? (int)P : 1, 2);
    PARAMS_ADD(&ps, "width", ns > 0 ? ns : 1);
    PARAMS_ADD(&ps, "opacity", ns > 0 ? ns : 1);
    PARAMS_ADD(&ps, "best.xy", bP > 0 ? (int)bP : 1, 2);
    PARAMS_ADD(&ps, "best.width", bns > 0 ? bns : 1);
    PARAMS_ADD(&ps, "best.opacity", bns > 0 ? bns : 1);
    if ((rc = params_alloc(&ps, PARAMS_TRAIN, e))) goto out;
    if ((rc = ckpt_read(c, &ps, CKPT_OPTIM, e))) goto out;
    if ((rc = ckpt_rng(c, "host", rng, e))) goto out;
    param_view_t v = params_view(&ps, "xy");
    memcpy(s->xy, v.data, sizeof(float) * 2 * P), memcpy(s->mxy, v.m, sizeof(float) * 2 * P);
    memcpy(s->vxy, v.v, sizeof(float) * 2 * P);
    v = params_view(&ps, "width");
    memcpy(s->width, v.data, sizeof(float) * ns), memcpy(s->mw, v.m, sizeof(float) * ns);
    memcpy(s->vw, v.v, sizeof(float) * ns);
    v = params_view(&ps, "opacity");
    memcpy(s->opacity, v.data, sizeof(float) * ns), memcpy(s->mo, v.m, sizeof(float) * ns);
    memcpy(s->vo, v.v, sizeof(float) * ns);
    memcpy(b->xy, params_view(&ps, "best.xy").data, sizeof(float) * 2 * bP);
    memcpy(b->width, params_view(&ps, "best.width").data, sizeof(float) * bns);
    memcpy(b->opacity, params_view(&ps, "best.opacity").data, sizeof(float) * bns);
    for (int k = 0; k < bns; k++) b->birth[k] = 0;
    char *end;
    const char *q = sta;
    rs->noise = strtod(q, &end);
    if (end == q || *end != ';') goto bad;
    q = end + 1;
    rs->best_loss = strtod(q, &end);
    if (end == q || *end != ';') goto bad;
    q = end + 1;
    if (sscanf(q, "%d;%d;%d", &rs->best_step, &rs->bad, &rs->stopped_early) != 3) goto bad;
    if (eval_parse(ev0, &rs->eval0, nloss)) goto bad;
    if (rs->best_step < -1 || rs->best_step > steps || rs->bad < 0 || isnan(rs->noise) || rs->noise < 0) goto bad;
    for (int k = 0; k < ns; k++)
        if (s->birth[k] > step || !isfinite(s->width[k]) || !isfinite(s->opacity[k])) goto bad;
    if (adamw_find_nonfinite(s->xy, 2 * (size_t)P, NULL) >= 0 || adamw_find_nonfinite(b->xy, 2 * (size_t)bP, NULL) >= 0)
        goto bad;
    rs->step = (int)step;
    hist->len = 0;
    buf_puts(hist, hi);
    params_free(&ps);
    return 0;
bad:
    rc = err_set(e, EXIT_MODEL, "%s: malformed optimiser state", path);
out:
    params_free(&ps);
    return rc;
}

/* 1 = resumed, 0 = no checkpoint, else < 0 with e set (rc in *code). */
static int ckpt_resume(optim_job_t *j, const char *path, const char *cfgtext, runstate_t *rs, buf_t *hist,
                       int *code, err_t *e) {
    if (access(path, F_OK)) return 0;
    ckpt_t *c = ckpt_open(path, e);
    int rc = c ? ckpt_decode(c, path, cfgtext, j->cfg->steps, j->nloss, &j->cur, &j->best, rs, hist, &j->host.rng, e)
               : e->code;
    ckpt_close(c);
    if (!rc) return 1;
    *code = rc;
    return -1;
}

int optim_ckpt_check(const void *data, size_t size, const char *cfgtext, int steps, int nloss, err_t *e) {
    ckpt_t *c = ckpt_open_mem(data, size, "fuzz", e);
    if (!c) return e->code ? e->code : EXIT_MODEL;
    strokes_t s = {0}, b = {0};
    runstate_t rs = {0};
    buf_t hist = {0};
    rng_t rng;
    int rc = ckpt_decode(c, "fuzz", cfgtext, steps, nloss, &s, &b, &rs, &hist, &rng, e);
    if (!rc) {
        /* what a resumed run relies on: offsets inside the blocks, finite values */
        long P = 0;
        for (int k = 0; k < s.ns; k++) {
            if (s.off[k] != P || s.npts[k] < 1) rc = err_set(e, EXIT_INTERNAL, "fuzz: bad stroke layout");
            P += s.npts[k];
        }
        if (P != s.P) rc = err_set(e, EXIT_INTERNAL, "fuzz: bad point count");
    }
    ckpt_close(c);
    st_free(&s), st_free(&b);
    buf_free(&hist);
    return rc;
}


/* ---- one run (one restart) ---- */

/* A drawing in its own frame, mapped to canvas pixels by xf, into j->cur. */
static int encode_drawing(optim_job_t *j, const drawing_t *d, const xform_t *xf, err_t *e) {
    if (drawing_npoints(d) < 1) return err_set(e, EXIT_DATA, "the drawing has no points");
    float *xy = NULL;
    int cap = 0, rc = 0;
    for (int k = 0; k < d->nstrokes && !rc; k++) {
        const stroke_t *s = &d->s[k];
        if (s->n > cap) cap = s->n * 2, xy = xrealloc(xy, sizeof(float) * 2 * cap);
        for (int i = 0; i < s->n; i++) {
            xy[2 * i] = (float)(s->x[i] * xf->sx + xf->ox);
            xy[2 * i + 1] = (float)(s->y[i] * xf->sy + xf->oy);
        }
        if ((rc = encode_stroke(j, xy, s->n, &j->cur, 0, e))) err_prefix(e, "stroke %d: ", k);
    }
    free(xy);
    return rc;
}

static int adam_groups(optim_job_t *j, int step, double lr_mult, err_t *e) {
    const optim_cfg_t *c = j->cfg;
    strokes_t *s = &j->cur;
    /* strokes of one birth step form one torch param group: contiguous, since
     * strokes are only ever appended */
    for (int k = 0; k < s->ns;) {
        int k1 = k;
        while (k1 < s->ns && s->birth[k1] == s->birth[k]) k1++;
        long long t = step - s->birth[k] + 1;
        if (t < 1) t = 1;
        size_t p0 = 2 * (size_t)s->off[k], p1 = 2 * (size_t)(s->off[k1 - 1] + s->npts[k1 - 1]);
        adamw_span_t sp = {0, p1 - p0, 0};
        adamw_hparams_t hp = adamw_defaults(c->lr * lr_mult);
        hp.weight_decay = 0;
        int rc = adamw_step(s->xy + p0, j->gxy + p0, s->mxy + p0, s->vxy + p0, &sp, 1, &hp, t, &j->par);
        if (!rc && c->lr_width > 0) {
            adamw_span_t sw = {0, (size_t)(k1 - k), 0};
            hp.lr = c->lr_width * lr_mult;
            rc = adamw_step(s->width + k, j->gw + k, s->mw + k, s->vw + k, &sw, 1, &hp, t, NULL);
        }
        if (!rc && c->lr_opacity > 0) {
            adamw_span_t so = {0, (size_t)(k1 - k), 0};
            hp.lr = c->lr_opacity * lr_mult;
            rc = adamw_step(s->opacity + k, j->go + k, s->mo + k, s->vo + k, &so, 1, &hp, t, NULL);
        }
        if (rc) return err_set(e, EXIT_INTERNAL, "Adam step refused its settings (lr %g)", c->lr * lr_mult);
        k = k1;
    }
    float C = (float)c->canvas;
    for (size_t i = 0; i < 2 * (size_t)s->P; i++) s->xy[i] = clampf(s->xy[i], 0, C);
    for (int k = 0; k < s->ns; k++) s->width[k] = clampf(s->width[k], 0.1f, C), s->opacity[k] = clampf(s->opacity[k], 0, 1);
    return 0;
}

static void hist_eval(buf_t *h, const char *name, const optim_eval_t *ev) {
    buf_printf(h, ",\"%s\":", name);
    buf_num(h, ev->total, 7);
}

static int one_run(optim_job_t *j, const strokes_t *start, const char *key, const char *word, int restart,
                   const char *ckpt, int resume, progress_t *prog, optim_result_t *res, optim_eval_t *final,
                   err_t *e) {
    const optim_cfg_t *c = j->cfg;
    int T = c->steps, rc = 0;
    size_t ss = (size_t)j->S * j->S, cc = (size_t)j->C * j->C;
    runstate_t rs = {.noise = c->noise, .best_loss = INFINITY, .best_step = -1};
    buf_t hist = {0}, cfgtext = {0};
    optim_cfg_text(c, j->model ? j->model->name : NULL, &cfgtext);
    buf_printf(&cfgtext, ";key=%s;restart=%d", key, restart);
    int resumed = 0;
    if (ckpt && resume) {
        int code = 0;
        resumed = ckpt_resume(j, ckpt, cfgtext.s, &rs, &hist, &code, e);
        if (resumed < 0) {
            rc = code;
            goto out;
        }
    }
    if (!resumed) {
        st_copy(&j->cur, start);
        st_copy(&j->best, start);
        if ((rc = evaluate(j, 0, &rs.eval0, e))) goto out;
        if (c->frame_every && (rc = frame(j, key, word, 0, restart, &rs.eval0, &res->frames, e))) goto out;
        rs.best_loss = rs.eval0.total;
        rs.best_step = 0;
    }
    res->resumed |= resumed;
    double t_all = now_sec();
    int s_first = rs.step;
    for (int s = rs.step; s < T; s++) {
        if (c->stop_after && s >= c->stop_after) {
            res->stopped = 1;
            goto out;
        }
        host_set_step(&j->host, s, T);
        strokes_t *st = &j->cur;
        grad_reserve(j, st->ns, st->P);
        double mult = optim_lr_mult(c->sched, s, T, c->warmup, c->lr > 0 ? c->min_lr / c->lr : 1);
        double t0 = now_sec();
        if ((rc = render(j, e))) goto out;
        double t1 = now_sec();
        j->tm.render += t1 - t0;
        int N = j->has_aug ? j->N : 0;
        if (N) {
            if ((rc = augment(j, 0, e))) goto out;
            memset(j->dviews, 0, sizeof(float) * ss * N);
        }
        double t2 = now_sec();
        j->tm.augment += t2 - t1;
        memset(j->dimg, 0, sizeof(float) * ss);
        memset(j->gxy, 0, sizeof(float) * 2 * st->P);
        memset(j->gw, 0, sizeof(float) * st->ns);
        memset(j->go, 0, sizeof(float) * st->ns);
        optim_eval_t ev;
        if (c->history) {
            if (!hist.len) buf_puts(&hist, "[");
            else buf_puts(&hist, ",");
            buf_printf(&hist, "{\"step\":%d", s);
        }
        buf_t *hp = c->history ? &hist : NULL;
        if ((rc = losses(j, s, N, 1, &ev, hp, e))) goto out;
        double t3 = now_sec();
        j->tm.losses += t3 - t2;
        if (N && (rc = augment(j, 1, e))) goto out;
        double t4 = now_sec();
        j->tm.augment += t4 - t3;
        if (j->resize) {
            memset(j->dcanvas, 0, sizeof(float) * cc);
            resize_backward(j->dcanvas, j->rtmp, j->dimg, &j->ry, &j->rx, 1);
        } else {
            memcpy(j->dcanvas, j->dimg, sizeof(float) * cc);
        }
        double t5 = now_sec();
        j->tm.resize += t5 - t4;
        {
            const renderer_vt *vt = j->rend.d->renderer;
            scene_t sc = st_scene(st);
            void *ws = plugin_ws(&j->rend, vt->ws_size(j->rend.state, &sc, j->C, j->C));
            scene_grad_t g = {j->gxy, c->lr_width > 0 ? j->gw : NULL, c->lr_opacity > 0 ? j->go : NULL};
            plugin_err_t pe = {{0}};
            int r2 = vt->backward(j->rend.state, ws, &j->host.h, &sc, j->C, j->C, j->dcanvas, &g, &pe);
            if (r2) {
                rc = pl_err(e, r2, &j->rend, "renderer", &pe);
                goto out;
            }
        }
        double t6 = now_sec();
        j->tm.render += t6 - t5;
        ptrdiff_t bad = adamw_find_nonfinite(j->gxy, 2 * (size_t)st->P, &j->par);
        if (bad >= 0) {
            rc = err_set(e, EXIT_NUMERIC, "step %d: the gradient of point %td is not finite (renderer '%s')", s, bad / 2,
                         j->rend.d->name);
            goto out;
        }
        if (rs.noise > 0) {
            for (size_t i = 0; i < 2 * (size_t)st->P; i++) j->gxy[i] += (float)(rs.noise * rng_normal(&j->host.rng));
            rs.noise *= c->noise_decay;
        }
        double gn = c->clip_norm > 0 ? adamw_clip_grad_norm(j->gxy, 2 * (size_t)st->P, c->clip_norm, &j->par)
                                     : adamw_grad_norm(j->gxy, 2 * (size_t)st->P, &j->par);
        if (!isfinite(gn)) {
            rc = err_set(e, EXIT_NUMERIC, "step %d: the gradient norm is not finite", s);
            goto out;
        }
        if ((rc = adam_groups(j, s, mult, e))) goto out;
        if (c->history) {
            buf_puts(&hist, ",\"total\":");
            buf_num(&hist, ev.total, 7);
            if (!isnan(ev.similarity)) {
                buf_puts(&hist, ",\"similarity\":");
                buf_num(&hist, ev.similarity, 7);
            }
            buf_puts(&hist, ",\"lr\":");
            buf_num(&hist, c->lr * mult, 7);
            buf_printf(&hist, ",\"strokes\":%d,\"grad_norm\":", st->ns);
            buf_num(&hist, gn, 7);
        }
        /* progressive strokes (after the update, as the study) */
        if (c->add_interval > 0 && s > 0 && s % c->add_interval == 0 && st->ns < c->add_max) {
            float xy[2 * 64];
            int n = c->add_points;
            new_stroke(j, xy, n);
            st_add(st, xy, n, (float)c->width, s + 1);
        }
        double t7 = now_sec();
        j->tm.update += t7 - t6;
        j->tm.steps++;
        if (s == s_first) j->tm.first += t7 - t_all;
        rs.step = s + 1;
        int last = s + 1 == T;
        if (c->eval_every && ((s + 1) % c->eval_every == 0 || last)) {
            optim_eval_t ee;
            if ((rc = evaluate(j, s + 1, &ee, e))) goto out;
            if (c->history) hist_eval(&hist, "eval", &ee);
            if (ee.total < rs.best_loss - c->min_delta) {
                rs.best_loss = ee.total;
                rs.best_step = s + 1;
                rs.bad = 0;
                st_copy(&j->best, st);
            } else {
                rs.bad++;
            }
            if (c->patience && rs.bad >= c->patience) {
                rs.stopped_early = 1;
            }
        }
        if (c->history) buf_puts(&hist, "}");
        if (c->frame_every && ((s + 1) % c->frame_every == 0 || last || rs.stopped_early)) {
            optim_eval_t fe;
            if ((rc = evaluate(j, s + 1, &fe, e))) goto out;
            if ((rc = frame(j, key, word, s + 1, restart, &fe, &res->frames, e))) goto out;
        }
        if (prog) progress_tick(prog, prog->n + 1);
        if (ckpt && c->ckpt_every && ((s + 1) % c->ckpt_every == 0 || last || rs.stopped_early))
            if ((rc = ckpt_write(j, ckpt, cfgtext.s, &rs, &hist, e))) goto out;
        if (rs.stopped_early) break;
    }
    j->tm.total += now_sec() - t_all;
    if (c->history && !hist.len) buf_puts(&hist, "[");
    if (c->history) buf_puts(&hist, "]");
    /* what is returned: the best evaluated iterate, or the last */
    if (c->keep_best && rs.best_step >= 0) st_copy(&j->cur, &j->best);
    if ((rc = evaluate(j, T > 0 ? T - 1 : 0, final, e))) goto out;
    res->eval0 = rs.eval0;
    res->steps_run = rs.step;
    res->best_step = c->keep_best ? rs.best_step : rs.step;
    res->stopped_early = rs.stopped_early;
    buf_free(&res->history);
    res->history = hist;
    hist = (buf_t){0};
out:
    buf_free(&hist);
    buf_free(&cfgtext);
    return rc;
}

int optim_record(optim_job_t *j, const drawing_t *d, const drawing_t *target, const xform_t *xf, const char *key,
                 const char *word, const char *ckpt_path, int resume, progress_t *prog, optim_result_t *res, err_t *e) {
    const optim_cfg_t *c = j->cfg;
    int rc = 0;
    uint64_t seed = optim_seed(c->seed, key);
    strokes_t start = {0}, win = {0}, wstart = {0};
    optim_eval_t w_eval0 = {0};
    drawing_t tmpd;
    drawing_init(&tmpd);
    buf_t cp = {0}, frames = {0}, whist = {0};
    double best = INFINITY;
    int w_steps = 0, w_best = 0, w_early = 0;
    if ((rc = bind_word(j, word, e))) goto out;
    for (int r = 0; r < c->restarts; r++) {
        rng_seed2(&j->host.rng, seed, (uint64_t)r);
        st_clear(&j->cur);
        if (c->init == OINIT_DRAWING) {
            if ((rc = encode_drawing(j, d, xf, e))) goto out;
        } else if (c->init == OINIT_RANDOM) {
            if ((rc = init_strokes(j, e))) goto out;
        } else {
            int n = c->init_points;
            float *xy = xmalloc(sizeof(float) * 2 * (size_t)n * c->init_strokes);
            rc = saliency_strokes(j->sal, j->C, j->C, c->init_strokes, n, c->init_temp, c->init_jitter, &j->host.rng,
                                  xy, e);
            for (int k = 0; !rc && k < c->init_strokes; k++) st_add(&j->cur, xy + 2 * (size_t)k * n, n, (float)c->width, 0);
            free(xy);
            if (rc) goto out;
        }
        st_copy(&start, &j->cur);
        st_copy(&j->orig, &j->cur);
        scene_t orig = st_scene(&j->orig);
        host_set_original(&j->host, &orig);
        const char *path = NULL;
        if (ckpt_path) {
            cp.len = 0;
            if (r) buf_printf(&cp, "%s.r%d", ckpt_path, r);
            else buf_puts(&cp, ckpt_path);
            path = cp.s;
        }
        optim_eval_t fin;
        buf_free(&res->frames);
        rc = one_run(j, &start, key, word, r, path, resume, prog, res, &fin, e);
        host_set_original(&j->host, NULL);
        if (rc) goto out;
        if (res->stopped) goto out;
        if (res->frames.len) buf_put(&frames, res->frames.s, res->frames.len);
        if (r < 64) res->restart_eval[r] = fin.total, res->nrestart_eval = r + 1;
        if (r == 0 || fin.total < best) {
            best = fin.total;
            res->restart = r;
            res->eval1 = fin;
            w_steps = res->steps_run, w_best = res->best_step, w_early = res->stopped_early;
            w_eval0 = res->eval0;
            st_copy(&win, &j->cur);
            st_copy(&wstart, &start);
            buf_free(&whist);
            whist = res->history;
            res->history = (buf_t){0};
        }
    }
    if (target) {
        /* the clean drawing, evaluated as the start was (restart 0's seed, step 0's weights, no
         * augmentation); losses that compare with the original strokes compare it with the start of
         * the strokes returned, as they did for "final" */
        rng_seed2(&j->host.rng, seed, 0);
        st_clear(&j->cur);
        if ((rc = encode_drawing(j, target, xf, e))) {
            err_prefix(e, "field \"target\"");
            goto out;
        }
        st_copy(&j->orig, &wstart);
        scene_t orig = st_scene(&j->orig);
        host_set_original(&j->host, &orig);
        rc = evaluate(j, 0, &res->eval_target, e);
        host_set_original(&j->host, NULL);
        if (rc) {
            err_prefix(e, "field \"target\"");
            goto out;
        }
        res->has_target = 1;
    }
    if ((rc = decode_strokes(j, &win, &res->final, e))) goto out;
    if ((rc = decode_strokes(j, &wstart, &res->initial, e))) goto out;
    res->eval0 = w_eval0;
    res->steps_run = w_steps, res->best_step = w_best, res->stopped_early = w_early;
    buf_free(&res->history);
    res->history = whist;
    whist = (buf_t){0};
    buf_free(&res->frames);
    res->frames = frames;
    frames = (buf_t){0};
out:
    st_free(&start), st_free(&win), st_free(&wstart);
    drawing_free(&tmpd);
    buf_free(&cp), buf_free(&frames), buf_free(&whist);
    host_set_original(&j->host, NULL);
    return rc;
}
