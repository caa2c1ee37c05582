/* host.c - see host.h. */
#include "host.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t s_u64(void *c) { return rng_u64(&((host_t *)c)->rng); }
static double s_uniform(void *c) { return rng_uniform(&((host_t *)c)->rng); }
static double s_normal(void *c) { return rng_normal(&((host_t *)c)->rng); }
static const scene_t *s_original(void *c) { return ((host_t *)c)->original; }

static void perr(plugin_err_t *err, const err_t *e) {
    if (err) snprintf(err->msg, sizeof err->msg, "%.255s", e->msg);
}

static int s_clip_image(void *c, const float *img, int n, float *emb, plugin_err_t *err) {
    host_t *hs = c;
    const clip_config_t *cfg = &hs->clip->w.cfg;
    int S = cfg->image_size, E = cfg->embed_dim;
    size_t plane = (size_t)S * S;
    if (n > hs->cap) {
        hs->cap = n;
        free(hs->xn); free(hs->raw); free(hs->unit); free(hs->norm);
        hs->xn = xmalloc(sizeof(float) * 3 * plane * (size_t)n);
        hs->raw = xmalloc(sizeof(float) * (size_t)E * (size_t)n);
        hs->unit = xmalloc(sizeof(float) * (size_t)E * (size_t)n);
        hs->norm = xmalloc(sizeof(float) * (size_t)n);
    }
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < 3; ch++) {
            const float *src = img + ((size_t)b * 3 + ch) * plane;
            float *dst = hs->xn + ((size_t)b * 3 + ch) * plane;
            float m = clip_mean[ch], is = 1.0f / clip_std[ch];
            for (size_t i = 0; i < plane; i++) dst[i] = (src[i] - m) * is;
        }
    err_t e = {0};
    if (clip_image_forward(hs->clip, hs->xn, n, hs->raw, &e)) {
        perr(err, &e);
        return e.code;
    }
    clip_normalize_forward(hs->unit, hs->norm, hs->raw, n, E);
    memcpy(emb, hs->unit, sizeof(float) * (size_t)n * E);
    hs->last_n = n;
    return 0;
}

static int s_clip_image_backward(void *c, const float *demb, float *dimg, plugin_err_t *err) {
    host_t *hs = c;
    const clip_config_t *cfg = &hs->clip->w.cfg;
    int n = hs->last_n, S = cfg->image_size, E = cfg->embed_dim;
    if (!n) {
        if (err) snprintf(err->msg, sizeof err->msg, "clip_image_backward without a clip_image call");
        return EXIT_INTERNAL;
    }
    size_t plane = (size_t)S * S;
    float *draw = hs->raw; /* the raw embeddings are no longer needed */
    memset(draw, 0, sizeof(float) * (size_t)n * E);
    clip_normalize_backward(draw, demb, hs->unit, hs->norm, n, E);
    memset(hs->xn, 0, sizeof(float) * 3 * plane * (size_t)n); /* becomes d/d normalised image */
    err_t e = {0};
    if (clip_image_backward(hs->clip, draw, NULL, hs->xn, 0, &e)) {
        perr(err, &e);
        return e.code;
    }
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < 3; ch++) {
            const float *src = hs->xn + ((size_t)b * 3 + ch) * plane;
            float *dst = dimg + ((size_t)b * 3 + ch) * plane;
            float is = 1.0f / clip_std[ch];
            for (size_t i = 0; i < plane; i++) dst[i] += src[i] * is;
        }
    hs->last_n = 0; /* one backward per forward (the model reuses its buffers) */
    return 0;
}

static int s_clip_text(void *c, const char *text, float *emb, plugin_err_t *err) {
    host_t *hs = c;
    const clip_config_t *cfg = &hs->clip->w.cfg;
    int *ids = xmalloc(sizeof(int) * (size_t)cfg->context);
    float *raw = xmalloc(sizeof(float) * (size_t)cfg->embed_dim), nrm;
    err_t e = {0};
    int rc = 0;
    if (clip_tokenize(hs->bpe, text, cfg->context, ids, 1, &e) < 0 || clip_text_forward(hs->clip, ids, 1, raw, &e)) {
        perr(err, &e);
        rc = e.code ? e.code : EXIT_DATA;
    } else {
        clip_normalize_forward(emb, &nrm, raw, 1, cfg->embed_dim);
    }
    free(ids);
    free(raw);
    return rc;
}

void host_init(host_t *hs, uint64_t seed, clip_t *clip, bpe_t *bpe) {
    memset(hs, 0, sizeof *hs);
    rng_seed(&hs->rng, seed);
    hs->clip = clip;
    hs->bpe = bpe;
    plugin_host_t *h = &hs->h;
    h->abi = INVCLIP_PLUGIN_ABI;
    h->ctx = hs;
    h->rng_u64 = s_u64;
    h->rng_uniform = s_uniform;
    h->rng_normal = s_normal;
    h->original = s_original;
    if (clip) {
        h->clip_dim = clip->w.cfg.embed_dim;
        h->clip_size = clip->w.cfg.image_size;
        h->clip_image = s_clip_image;
        h->clip_image_backward = s_clip_image_backward;
        if (bpe && clip->w.cfg.vocab >= BPE_VOCAB_SIZE) h->clip_text = s_clip_text;
    }
}

void host_set_original(host_t *hs, const scene_t *original) { hs->original = original; }

void host_free(host_t *hs) {
    free(hs->xn); free(hs->raw); free(hs->unit); free(hs->norm);
    memset(hs, 0, sizeof *hs);
}
