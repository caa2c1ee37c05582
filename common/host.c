/* host.c - see host.h. */
#include "host.h"
#include "imgprep.h"
#include "jpeg_io.h"
#include "plugin_host.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t s_u64(void *c) { return rng_u64(&((host_t *)c)->rng); }
static double s_uniform(void *c) { return rng_uniform(&((host_t *)c)->rng); }
static double s_normal(void *c) { return rng_normal(&((host_t *)c)->rng); }
static const scene_t *s_original(void *c) { return ((host_t *)c)->original; }

static int s_step(void *c, int *nsteps) {
    const host_t *hs = c;
    if (nsteps) *nsteps = hs->nsteps;
    return hs->step;
}

static void s_parallel_for(void *c, int n, plugin_task_fn fn, void *fctx) {
    host_t *hs = c;
    if (n <= 0) return;
    if (hs->pool) pool_run(hs->pool, n, fn, fctx);
    else fn(fctx, 0, n, 0);
}

static int perr(plugin_err_t *err, const err_t *e) {
    if (err) snprintf(err->msg, sizeof err->msg, "%.255s", e->msg);
    return e->code ? e->code : EXIT_INTERNAL;
}

static int pfail(plugin_err_t *err, int code, const char *msg) {
    if (err) snprintf(err->msg, sizeof err->msg, "%s", msg);
    return code;
}

/* ---- CLIP by handle ---- */

static void grow(float **p, size_t *cap, size_t need) {
    if (need <= *cap) return;
    free(*p);
    *p = xmalloc(sizeof(float) * need);
    *cap = need;
}

/* raw, draw (n,E) and dxn (n,3,S,S) for a model of that size */
static void scratch(host_t *hs, int n, const clip_config_t *cfg) {
    size_t S = (size_t)cfg->image_size, E = (size_t)cfg->embed_dim;
    size_t ne = E * (size_t)n, nx = 3 * S * S * (size_t)n;
    if (ne > hs->raw_cap) {
        free(hs->raw), free(hs->draw);
        hs->raw = xmalloc(sizeof(float) * ne);
        hs->draw = xmalloc(sizeof(float) * ne);
        hs->raw_cap = ne;
    }
    if (nx > hs->dxn_cap) {
        free(hs->dxn);
        hs->dxn = xmalloc(sizeof(float) * nx);
        hs->dxn_cap = nx;
    }
}

/* Model id's towers and its "whose activations" record; NULL if not open. */
static clip_t *model_get(host_t *hs, int id, unsigned long **act) {
    if (id == 0) {
        *act = &hs->act_seq;
        return hs->clip;
    }
    if (id < 1 || id > hs->nxm) return NULL;
    *act = &hs->xm[id - 1].act_seq;
    return &hs->xm[id - 1].cm.m;
}

static host_clip_t *handle_get(host_t *hs, int handle) {
    if (handle < 1 || handle > hs->nhd || !hs->hd[handle - 1].live) return NULL;
    return &hs->hd[handle - 1];
}

static int s_clip_encode_model(void *c, int model, const float *img, int n, uint64_t keep, int *handle, float *emb,
                               plugin_err_t *err) {
    host_t *hs = c;
    unsigned long *act;
    *handle = 0;
    clip_t *mdl = model_get(hs, model, &act);
    if (!mdl) return pfail(err, EXIT_USAGE, "clip_encode_model: no such model");
    const clip_config_t *cfg = &mdl->w.cfg;
    int S = cfg->image_size, E = cfg->embed_dim, L = clip_image_nblocks(mdl);
    size_t plane = (size_t)S * S;
    if (n < 1) return pfail(err, EXIT_INTERNAL, "clip_encode: no images");
    if (L < HOST_MAX_BLOCKS && (keep >> L)) {
        char m[128];
        snprintf(m, sizeof m, "clip_encode: keep_blocks asks for a block >= %d (the model has %d)", L, L);
        return pfail(err, EXIT_USAGE, m);
    }
    int k = 0;
    while (k < hs->nhd && hs->hd[k].live) k++;
    if (k == hs->nhd) {
        hs->hd = xrealloc(hs->hd, sizeof *hs->hd * (size_t)(hs->nhd + 1));
        memset(&hs->hd[hs->nhd++], 0, sizeof *hs->hd);
    }
    host_clip_t *h = &hs->hd[k];
    /* sized in floats: the slot may last have served another model */
    if (n > h->cap || 3 * plane * (size_t)n > h->xn_cap || (size_t)E * n > h->unit_cap) {
        size_t nc = (size_t)(n > h->cap ? n : h->cap);
        free(h->xn), free(h->unit), free(h->norm);
        h->xn_cap = 3 * plane * nc > h->xn_cap ? 3 * plane * nc : h->xn_cap;
        h->unit_cap = (size_t)E * nc > h->unit_cap ? (size_t)E * nc : h->unit_cap;
        h->xn = xmalloc(sizeof(float) * h->xn_cap);
        h->unit = xmalloc(sizeof(float) * h->unit_cap);
        h->norm = xmalloc(sizeof(float) * nc);
        h->cap = (int)nc;
    }
    scratch(hs, n, cfg);
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < 3; ch++) {
            const float *src = img + ((size_t)b * 3 + ch) * plane;
            float *dst = h->xn + ((size_t)b * 3 + ch) * plane;
            float m = clip_mean[ch], is = 1.0f / clip_std[ch];
            for (size_t i = 0; i < plane; i++) dst[i] = (src[i] - m) * is;
        }
    err_t e = {0};
    *act = 0;
    /* nobody asked for the top block's tokens: run its MLP on the class token only (clip.h) */
    mdl->pooled_top = L - 1 >= HOST_MAX_BLOCKS || !(keep >> (L - 1) & 1);
    if (clip_image_forward(mdl, h->xn, n, hs->raw, &e)) return perr(err, &e);
    h->seq = ++hs->seq;
    *act = h->seq;
    h->n = n;
    h->keep = keep;
    h->model = model;
    clip_normalize_forward(h->unit, h->norm, hs->raw, n, E);
    memcpy(emb, h->unit, sizeof(float) * (size_t)n * E);
    for (int l = 0; l < L && l < HOST_MAX_BLOCKS; l++) {
        if (!(keep >> l & 1)) continue;
        int B, T, C;
        const float *f = clip_image_block(mdl, l, &B, &T, &C);
        if (!f || B != n) return pfail(err, EXIT_INTERNAL, "clip_encode: block output missing");
        size_t sz = (size_t)n * T * C;
        grow(&h->feat[l], &h->feat_cap[l], sz);
        memcpy(h->feat[l], f, sizeof(float) * sz);
    }
    h->live = 1;
    *handle = k + 1;
    return 0;
}

static int s_clip_encode(void *c, const float *img, int n, uint64_t keep, int *handle, float *emb, plugin_err_t *err) {
    return s_clip_encode_model(c, 0, img, n, keep, handle, emb, err);
}

static int s_clip_model_open(void *c, const char *path, int *model, plugin_err_t *err) {
    host_t *hs = c;
    *model = 0;
    if (!path || !*path) return 0;
    for (int k = 0; k < hs->nxm; k++)
        if (!strcmp(hs->xm[k].path, path)) return *model = k + 1, 0;
    if (hs->nxm >= HOST_MAX_MODELS) return pfail(err, EXIT_USAGE, "clip_model_open: more than 8 models");
    host_model_t *x = &hs->xm[hs->nxm];
    err_t e = {0};
    clip_open_opts_t o = {0};
    if (clip_open(&x->cm, path, &o, hs->pool, &e)) return perr(err, &e);
    x->path = xstrdup(path);
    x->act_seq = 0;
    *model = ++hs->nxm;
    return 0;
}

static int s_clip_model_info(void *c, int model, int block, plugin_clip_info_t *info) {
    host_t *hs = c;
    unsigned long *act;
    memset(info, 0, sizeof *info);
    const clip_t *m = model_get(hs, model, &act);
    if (!m) return EXIT_USAGE;
    const clip_config_t *cfg = &m->w.cfg;
    info->dim = cfg->embed_dim;
    info->size = cfg->image_size;
    info->blocks = clip_image_nblocks(m);
    if (info->blocks > HOST_MAX_BLOCKS) info->blocks = HOST_MAX_BLOCKS;
    info->resnet = CLIP_IS_RESNET(cfg);
    if (block < 0) return 0;
    if (block >= info->blocks) return EXIT_USAGE;
    clip_image_block_shape(m, block, &info->C, &info->H, &info->W);
    return 0;
}

static const float *s_clip_features(void *c, int handle, int block) {
    host_t *hs = c;
    const host_clip_t *h = handle_get(hs, handle);
    if (!h || block < 0 || block >= HOST_MAX_BLOCKS || !(h->keep >> block & 1)) return NULL;
    return h->feat[block];
}

static int s_clip_backward(void *c, int handle, const float *demb, const float *const *dfeat, float *dimg,
                           plugin_err_t *err) {
    host_t *hs = c;
    host_clip_t *h = handle_get(hs, handle);
    if (!h) return pfail(err, EXIT_INTERNAL, "clip_backward: not a live handle");
    unsigned long *act;
    clip_t *mdl = model_get(hs, h->model, &act);
    if (!mdl) return pfail(err, EXIT_INTERNAL, "clip_backward: the handle's model is gone");
    const clip_config_t *cfg = &mdl->w.cfg;
    int n = h->n, S = cfg->image_size, E = cfg->embed_dim;
    size_t plane = (size_t)S * S;
    err_t e = {0};
    scratch(hs, n, cfg);
    if (*act != h->seq) {
        /* the model holds another forward's activations (or none): restore this one's */
        *act = 0;
        int L = clip_image_nblocks(mdl);
        mdl->pooled_top = L - 1 >= HOST_MAX_BLOCKS || !(h->keep >> (L - 1) & 1);
        if (clip_image_forward(mdl, h->xn, n, hs->raw, &e)) return perr(err, &e);
        *act = h->seq;
    }
    if (demb) {
        memset(hs->draw, 0, sizeof(float) * (size_t)n * E);
        clip_normalize_backward(hs->draw, demb, h->unit, h->norm, n, E);
    }
    memset(hs->dxn, 0, sizeof(float) * 3 * plane * (size_t)n); /* d/d normalised image */
    /* clip.h only reads dfeat; its prototype predates const */
    int rc = clip_image_backward(mdl, demb ? hs->draw : NULL, (float *const *)dfeat, hs->dxn, 0, &e);
    *act = 0; /* the backward reused the activations' buffers */
    if (rc) return perr(err, &e);
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < 3; ch++) {
            const float *src = hs->dxn + ((size_t)b * 3 + ch) * plane;
            float *dst = dimg + ((size_t)b * 3 + ch) * plane;
            float is = 1.0f / clip_std[ch];
            for (size_t i = 0; i < plane; i++) dst[i] += src[i] * is;
        }
    return 0;
}

static void s_clip_release(void *c, int handle) {
    host_t *hs = c;
    host_clip_t *h = handle_get(hs, handle);
    if (!h) return;
    h->live = 0;
    unsigned long *act;
    if (model_get(hs, h->model, &act) && *act == h->seq) *act = 0;
}

/* ---- text: one cache of raw embeddings, per prompt ---- */

/* The prompt's raw embedding in the cache, computed and added on a miss. */
static int text_raw(host_t *hs, const char *text, const float **raw, plugin_err_t *err) {
    size_t E = (size_t)hs->clip->w.cfg.embed_dim;
    if (!text) return pfail(err, EXIT_INTERNAL, "clip_text: no prompt (NULL)");
    for (int i = 0; i < hs->ntexts; i++)
        if (!strcmp(hs->texts[i].text, text)) {
            *raw = hs->texts[i].raw;
            return 0;
        }
    float *v = xmalloc(sizeof(float) * E);
    err_t e = {0};
    if (clip_embed_texts(hs->model, &text, 1, 1, v, &e)) {
        free(v);
        return perr(err, &e);
    }
    hs->texts = xrealloc(hs->texts, sizeof *hs->texts * (size_t)(hs->ntexts + 1));
    host_text_t *t = &hs->texts[hs->ntexts++];
    t->text = xstrdup(text);
    t->raw = v;
    *raw = v;
    return 0;
}

static int s_clip_text_raw(void *c, const char *text, float *emb, plugin_err_t *err) {
    host_t *hs = c;
    const float *raw;
    int rc = text_raw(hs, text, &raw, err);
    if (!rc) memcpy(emb, raw, sizeof(float) * (size_t)hs->clip->w.cfg.embed_dim);
    return rc;
}

/* unit(raw) as clip_embed_text computes it */
static int s_clip_text(void *c, const char *text, float *emb, plugin_err_t *err) {
    host_t *hs = c;
    const float *raw;
    float nrm;
    int rc = text_raw(hs, text, &raw, err);
    if (!rc) clip_normalize_forward(emb, &nrm, raw, 1, hs->clip->w.cfg.embed_dim);
    return rc;
}

/* ---- picture files ---- */

_Static_assert((int)PLUGIN_IMAGE_CLIP == (int)IMGPREP_CLIP && (int)PLUGIN_IMAGE_NORMALIZE == (int)IMGPREP_NORMALIZE &&
                   (int)PLUGIN_IMAGE_SQUASH == (int)IMGPREP_SQUASH &&
                   (int)PLUGIN_IMAGE_SQUASH_BICUBIC == (int)IMGPREP_SQUASH_BICUBIC,
               "plugin.h's PLUGIN_IMAGE_* are imgprep.h's IMGPREP_*");

static int s_load_image(void *c, const char *path, int S, int mode, int normalized, float *out, plugin_err_t *err) {
    (void)c;
    err_t e = {0};
    char m[200];
    if (!path || !*path) return pfail(err, EXIT_USAGE, "load_image: no file name");
    if (S < 1 || S > PNGIO_MAX_SIDE || mode < PLUGIN_IMAGE_CLIP || mode > PLUGIN_IMAGE_SQUASH_BICUBIC) {
        snprintf(m, sizeof m, "%.120s: load_image: bad size %d or mode %d", path, S, mode);
        return pfail(err, EXIT_USAGE, m);
    }
    image_t im = {0};
    if (image_load(path, &im, &e)) return perr(err, &e);
    float *tmp = out ? NULL : xmalloc(sizeof(float) * 3 * (size_t)S * S);
    int rc = imgprep_clip(&im, S, mode, normalized != 0, out ? out : tmp, &e);
    image_free(&im);
    free(tmp);
    if (rc) {
        /* imgprep's messages do not name the file */
        snprintf(m, sizeof m, "%.120s: %.70s", path, e.msg);
        return pfail(err, rc, m);
    }
    return 0;
}

void host_init(host_t *hs, uint64_t seed, clip_model_t *model) {
    memset(hs, 0, sizeof *hs);
    rng_seed(&hs->rng, seed);
    hs->model = model;
    hs->clip = model ? &model->m : NULL;
    const clip_t *clip = hs->clip;
    plugin_host_t *h = &hs->h;
    h->abi = INVCLIP_PLUGIN_ABI;
    h->ctx = hs;
    h->nthreads = 1;
    h->parallel_for = s_parallel_for;
    h->sgemm = plugin_host_sgemm;
    h->rng_u64 = s_u64;
    h->rng_uniform = s_uniform;
    h->rng_normal = s_normal;
    h->step = s_step;
    h->original = s_original;
    h->load_image = s_load_image;
    h->clip_model_open = s_clip_model_open;
    h->clip_model_info = s_clip_model_info;
    h->clip_encode_model = s_clip_encode_model;
    h->clip_features = s_clip_features;
    h->clip_backward = s_clip_backward;
    h->clip_release = s_clip_release;
    if (clip) {
        const clip_config_t *cfg = &clip->w.cfg;
        int nb = clip_image_nblocks(clip);
        h->clip_dim = cfg->embed_dim;
        h->clip_size = cfg->image_size;
        h->clip_blocks = nb < HOST_MAX_BLOCKS ? nb : HOST_MAX_BLOCKS;
        if (!CLIP_IS_RESNET(cfg)) { /* a ResNet's blocks differ in shape: clip_model_info */
            h->clip_tokens = (cfg->image_size / cfg->patch) * (cfg->image_size / cfg->patch) + 1;
            h->clip_width = cfg->v_width;
        }
        h->clip_encode = s_clip_encode;
        h->clip_features = s_clip_features;
        h->clip_backward = s_clip_backward;
        h->clip_release = s_clip_release;
        if (model->bpe && cfg->vocab >= BPE_VOCAB_SIZE) {
            h->clip_text = s_clip_text;
            h->clip_text_raw = s_clip_text_raw;
        }
    }
}

void host_set_pool(host_t *hs, pool_t *pool) {
    hs->pool = pool;
    hs->h.nthreads = pool && pool->nthreads > 1 ? pool->nthreads : 1;
}

void host_set_original(host_t *hs, const scene_t *original) { hs->original = original; }

void host_set_step(host_t *hs, int step, int nsteps) {
    hs->step = step;
    hs->nsteps = nsteps;
}

int host_live_handles(const host_t *hs) {
    int n = 0;
    for (int k = 0; k < hs->nhd; k++) n += hs->hd[k].live;
    return n;
}

void host_free(host_t *hs) {
    for (int k = 0; k < hs->nhd; k++) {
        host_clip_t *h = &hs->hd[k];
        free(h->xn), free(h->unit), free(h->norm);
        for (int l = 0; l < HOST_MAX_BLOCKS; l++) free(h->feat[l]);
    }
    free(hs->hd);
    for (int i = 0; i < hs->ntexts; i++) free(hs->texts[i].text), free(hs->texts[i].raw);
    free(hs->texts);
    free(hs->raw), free(hs->draw), free(hs->dxn);
    for (int k = 0; k < hs->nxm; k++) clip_close(&hs->xm[k].cm), free(hs->xm[k].path);
    memset(hs, 0, sizeof *hs);
}
