/* evalnet.c - see evalnet.h. */
#include "evalnet.h"
#include "nn/act.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/norm2d.h"
#include "nn/pool2d.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const nn_act_t RELU = {NN_ACT_RELU, 0};

void evalnet_config_defaults(evalnet_config_t *c) {
    if (c->bn_eps == 0) c->bn_eps = 1e-5f;
    if (c->bn_momentum == 0) c->bn_momentum = 0.1f;
}

int evalnet_config_check(const evalnet_config_t *c, err_t *e) {
    if (c->nblocks < 1 || c->nblocks > EVALNET_MAX_BLOCKS)
        return err_set(e, EXIT_USAGE, "evalnet: %d blocks is out of range (1..%d)", c->nblocks, EVALNET_MAX_BLOCKS);
    for (int i = 0; i < c->nblocks; i++)
        if (c->ch[i] < 1 || c->ch[i] > 4096)
            return err_set(e, EXIT_USAGE, "evalnet: block %d has %d channels (1..4096)", i, c->ch[i]);
    if (c->image_size < 2 || c->image_size > 1024 || (c->image_size >> c->nblocks) < 1)
        return err_set(e, EXIT_USAGE, "evalnet: image size %d cannot be halved %d times (2..1024)", c->image_size,
                       c->nblocks);
    if (c->classes < 2 || c->classes > 1 << 20)
        return err_set(e, EXIT_USAGE, "evalnet: %d classes is out of range (2..%d)", c->classes, 1 << 20);
    if (!(c->dropout >= 0 && c->dropout < 1))
        return err_set(e, EXIT_USAGE, "evalnet: dropout %g is outside [0, 1)", c->dropout);
    if (!(c->bn_eps > 0 && c->bn_eps < 1) || !(c->bn_momentum > 0 && c->bn_momentum <= 1))
        return err_set(e, EXIT_USAGE, "evalnet: batch-norm eps %g / momentum %g out of range", c->bn_eps,
                       c->bn_momentum);
    return 0;
}

size_t evalnet_params_count(const evalnet_config_t *c) {
    size_t n = 0;
    int cin = 1;
    for (int i = 0; i < c->nblocks; i++) {
        n += (size_t)c->ch[i] * cin * 9 + 4 * (size_t)c->ch[i];
        cin = c->ch[i];
    }
    return n + (size_t)c->classes * cin + (size_t)c->classes;
}

static conv2d_dims_t conv_dims(const evalnet_block_t *b, int B) {
    return (conv2d_dims_t){.N = B, .C = b->cin, .H = b->H, .W = b->W, .OC = b->c, .KH = 3, .KW = 3, .pad_h = 1,
                           .pad_w = 1};
}
static pool2d_dims_t pool_dims(const evalnet_block_t *b, int B) {
    return (pool2d_dims_t){.N = B, .C = b->c, .H = b->H, .W = b->W, .KH = 2, .KW = 2};
}
static pool2d_dims_t gap_dims(const evalnet_t *n, int B) {
    const evalnet_block_t *b = &n->blk[n->cfg.nblocks - 1];
    return (pool2d_dims_t){.N = B, .C = b->c, .H = b->OH, .W = b->OW, .KH = b->OH, .KW = b->OW};
}

int evalnet_init(evalnet_t *n, const evalnet_config_t *cfg, int cap, int flags, const nn_par_t *par, err_t *e) {
    memset(n, 0, sizeof *n);
    int rc = evalnet_config_check(cfg, e);
    if (rc) return rc;
    if (cap < 1 || cap > 1 << 16) return err_set(e, EXIT_USAGE, "evalnet: batch %d is out of range (1..65536)", cap);
    n->cfg = *cfg;
    n->cap = cap;
    if (par) n->par = *par;
    params_init(&n->ps);
    char name[PARAMS_NAME_MAX];
    int cin = 1, H = cfg->image_size;
    for (int i = 0; i < cfg->nblocks; i++) {
        int c = cfg->ch[i];
        snprintf(name, sizeof name, "features.%d.conv.weight", i);
        PARAMS_ADD(&n->ps, name, c, cin, 3, 3);
        const char *bn[] = {"weight", "bias", "running_mean", "running_var"};
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "features.%d.bn.%s", i, bn[k]);
            params_add(&n->ps, name, 1, (const int[]){c}, PARAM_DECAY_OFF, NULL);
        }
        evalnet_block_t *b = &n->blk[i];
        b->cin = cin, b->c = c, b->H = b->W = H, b->OH = b->OW = H / 2;
        cin = c, H /= 2;
    }
    n->feat = cin;
    PARAMS_ADD(&n->ps, "fc.weight", cfg->classes, cin);
    PARAMS_ADD(&n->ps, "fc.bias", cfg->classes);
    if ((rc = params_alloc(&n->ps, flags, e))) {
        params_free(&n->ps);
        return rc;
    }
    for (int i = 0; i < cfg->nblocks; i++) {
        evalnet_block_t *b = &n->blk[i];
        param_view_t v;
        snprintf(name, sizeof name, "features.%d.conv.weight", i);
        v = params_view(&n->ps, name), b->w = v.data, b->dw = v.grad;
        snprintf(name, sizeof name, "features.%d.bn.weight", i);
        v = params_view(&n->ps, name), b->g = v.data, b->dg = v.grad;
        for (int k = 0; k < b->c; k++) b->g[k] = 1;
        snprintf(name, sizeof name, "features.%d.bn.bias", i);
        v = params_view(&n->ps, name), b->b = v.data, b->db = v.grad;
        snprintf(name, sizeof name, "features.%d.bn.running_mean", i);
        b->rmean = params_view(&n->ps, name).data;
        snprintf(name, sizeof name, "features.%d.bn.running_var", i);
        b->rvar = params_view(&n->ps, name).data;
        for (int k = 0; k < b->c; k++) b->rvar[k] = 1;
    }
    param_view_t v = params_view(&n->ps, "fc.weight");
    n->fc_w = v.data, n->fc_dw = v.grad;
    v = params_view(&n->ps, "fc.bias");
    n->fc_b = v.data, n->fc_db = v.grad;

    /* activations: count, allocate once, carve */
    size_t C = (size_t)cap, K = (size_t)cfg->classes, F = (size_t)n->feat, nf = 0, ni = 0;
    int T = nn_nthreads(par);
    for (int i = 0; i < cfg->nblocks; i++) {
        evalnet_block_t *b = &n->blk[i];
        size_t full = C * b->c * b->H * b->W, pooled = C * b->c * b->OH * b->OW;
        nf += 2 * full + pooled + 2 * (size_t)b->c;
        ni += pooled;
        if (full > n->gmax) n->gmax = full;
        for (int bb = 1; bb <= cap; bb = bb < cap && 2 * bb > cap ? cap : 2 * bb) {
            conv2d_dims_t d = conv_dims(b, bb);
            size_t ws = conv2d_ws_size(&d, T);
            if (ws > n->nws) n->nws = ws;
        }
    }
    nf += 2 * C * F + 2 * C * K + 2 * C * F + 2 * n->gmax + n->nws + C;
    n->fblock = xcalloc(nf, sizeof(float));
    n->iblock = xcalloc(ni ? ni : 1, sizeof(int));
    n->mask = xcalloc(C * F, 1);
    int maxc = 1;
    for (int i = 0; i < cfg->nblocks; i++) maxc = cfg->ch[i] > maxc ? cfg->ch[i] : maxc;
    n->dsum = xcalloc(2 * (size_t)maxc, sizeof(double)); /* data-parallel batch-norm sums */
    float *p = n->fblock;
    int *q = n->iblock;
#define TAKE(ptr, cnt) (ptr = p, p += (cnt))
    for (int i = 0; i < cfg->nblocks; i++) {
        evalnet_block_t *b = &n->blk[i];
        size_t full = C * b->c * b->H * b->W, pooled = C * b->c * b->OH * b->OW;
        TAKE(b->conv, full);
        TAKE(b->act, full);
        TAKE(b->pool, pooled);
        TAKE(b->mean, (size_t)b->c);
        TAKE(b->rstd, (size_t)b->c);
        b->idx = q, q += pooled;
    }
    TAKE(n->gap, C * F);
    TAKE(n->drop, C * F);
    TAKE(n->logits, C * K);
    TAKE(n->dlogits, C * K);
    TAKE(n->dfeat, C * F);
    TAKE(n->dgap, C * F);
    TAKE(n->gx, n->gmax);
    TAKE(n->gy, n->gmax);
    TAKE(n->ws, n->nws);
    TAKE(n->rowloss, C);
#undef TAKE
    return 0;
}

void evalnet_free(evalnet_t *n) {
    params_free(&n->ps);
    free(n->fblock);
    free(n->iblock);
    free(n->mask);
    free(n->dsum);
    memset(n, 0, sizeof *n);
}

void evalnet_init_weights(evalnet_t *n, rng_t *r) {
    for (int i = 0; i < n->cfg.nblocks; i++) {
        evalnet_block_t *b = &n->blk[i];
        size_t cnt = (size_t)b->c * b->cin * 9;
        double sd = sqrt(2.0 / (9.0 * b->c));
        for (size_t k = 0; k < cnt; k++) b->w[k] = (float)(sd * rng_normal(r));
        for (int k = 0; k < b->c; k++) b->g[k] = 1, b->b[k] = 0, b->rmean[k] = 0, b->rvar[k] = 1;
    }
    double a = 1.0 / sqrt((double)n->feat);
    size_t cnt = (size_t)n->cfg.classes * n->feat;
    for (size_t k = 0; k < cnt; k++) n->fc_w[k] = (float)rng_range(r, -a, a);
    for (int k = 0; k < n->cfg.classes; k++) n->fc_b[k] = (float)rng_range(r, -a, a);
}

/* ---- data-parallel batch norm and dropout (evalnet.h: dist) ---- */

static int distributed(const evalnet_t *n) { return n->dist && n->dist->size > 1; }

#define KCALL(x)                                                                                               \
    do {                                                                                                       \
        if ((x) != NN_OK) return err_set(e, EXIT_INTERNAL, "evalnet: kernel refused: %s", #x);                 \
    } while (0)

int evalnet_forward(evalnet_t *n, const float *x, int B, int train, uint64_t seed, err_t *e) {
    const evalnet_config_t *c = &n->cfg;
    const nn_par_t *par = &n->par;
    if (B < 1 || B > n->cap) return err_set(e, EXIT_USAGE, "evalnet: batch %d is out of range (1..%d)", B, n->cap);
    if (train && B * n->blk[c->nblocks - 1].H * n->blk[c->nblocks - 1].W < 2)
        return err_set(e, EXIT_USAGE, "evalnet: a training batch of %d image(s) gives batch norm one value", B);
    const float *in = x;
    for (int i = 0; i < c->nblocks; i++) {
        evalnet_block_t *b = &n->blk[i];
        conv2d_dims_t d = conv_dims(b, B);
        pool2d_dims_t pd = pool_dims(b, B);
        int HW = b->H * b->W;
        KCALL(conv2d_forward(par, b->conv, in, b->w, NULL, &d, n->ws, n->nws));
        if (train && distributed(n)) { /* the global batch's statistics (dist.h) */
            int rc = dist_bn_forward(n->dist, b->act, b->mean, b->rstd, b->conv, b->g, b->b, b->rmean, b->rvar, B,
                                     b->c, HW, c->bn_eps, c->bn_momentum, n->dsum, e);
            if (rc) return rc;
        } else if (train)
            KCALL(batchnorm2d_forward(par, b->act, b->mean, b->rstd, b->conv, b->g, b->b, b->rmean, b->rvar, B, b->c,
                                      HW, c->bn_eps, c->bn_momentum));
        else
            KCALL(batchnorm2d_forward_eval(par, b->act, b->conv, b->g, b->b, b->rmean, b->rvar, B, b->c, HW,
                                           c->bn_eps));
        act_forward(par, b->act, b->act, RELU, (size_t)B * b->c * HW);
        KCALL(maxpool2d_forward(par, b->pool, b->idx, b->act, &pd));
        in = b->pool;
    }
    pool2d_dims_t gd = gap_dims(n, B);
    KCALL(avgpool2d_forward(par, n->gap, in, &gd));
    const float *feat = n->gap;
    size_t nfeat = (size_t)B * n->feat;
    n->last_drop = train && c->dropout > 0;
    if (n->last_drop && distributed(n)) { /* the global batch's mask: elements from row0 * feat */
        uint64_t off = (uint64_t)n->row0 * (uint64_t)n->feat;
        float sc = c->dropout < 1 ? 1.0f / (1.0f - c->dropout) : 0.0f;
        for (size_t i = 0; i < nfeat; i++) {
            n->mask[i] = (unsigned char)dropout_keep(seed, 0, off + i, c->dropout);
            n->drop[i] = n->mask[i] ? n->gap[i] * sc : 0.0f;
        }
        feat = n->drop;
    } else if (n->last_drop) {
        KCALL(dropout_forward(par, n->drop, n->mask, n->gap, nfeat, c->dropout, seed, 0));
        feat = n->drop;
    }
    linear_forward(par, n->logits, NULL, feat, NULL, n->fc_w, n->fc_b, (nn_act_t){NN_ACT_NONE, 0}, B, n->feat,
                   c->classes);
    n->x = x;
    n->lastB = B;
    n->last_train = train;
    return 0;
}

int evalnet_backward(evalnet_t *n, const float *dlogits, int B, err_t *e) {
    const evalnet_config_t *c = &n->cfg;
    const nn_par_t *par = &n->par;
    if (!n->last_train || B != n->lastB || !n->ps.grad)
        return err_set(e, EXIT_INTERNAL, "evalnet: backward without a training forward of %d rows", B);
    size_t nfeat = (size_t)B * n->feat;
    const float *feat = n->last_drop ? n->drop : n->gap;
    KCALL(linear_backward(par, n->dfeat, n->fc_dw, n->fc_db, dlogits, feat, NULL, n->fc_w,
                          (nn_act_t){NN_ACT_NONE, 0}, B, n->feat, c->classes, 0));
    const float *dgap = n->dfeat;
    if (n->last_drop) {
        memset(n->dgap, 0, nfeat * sizeof(float));
        KCALL(dropout_backward(par, n->dgap, n->dfeat, n->mask, nfeat, c->dropout));
        dgap = n->dgap;
    }
    const evalnet_block_t *last = &n->blk[c->nblocks - 1];
    pool2d_dims_t gd = gap_dims(n, B);
    memset(n->gx, 0, (size_t)B * last->c * last->OH * last->OW * sizeof(float));
    KCALL(avgpool2d_backward(par, n->gx, dgap, &gd));
    /* gx: d pooled output of block i */
    for (int i = c->nblocks - 1; i >= 0; i--) {
        evalnet_block_t *b = &n->blk[i];
        conv2d_dims_t d = conv_dims(b, B);
        pool2d_dims_t pd = pool_dims(b, B);
        size_t HW = (size_t)b->H * b->W, full = (size_t)B * b->c * HW;
        memset(n->gy, 0, full * sizeof(float));
        KCALL(maxpool2d_backward(par, n->gy, n->gx, b->idx, &pd)); /* d relu output */
        memset(n->gx, 0, full * sizeof(float));
        /* ReLU's derivative read from its output: act > 0 exactly when its input was */
        act_backward(par, n->gx, n->gy, b->act, RELU, full); /* d bn output */
        memset(n->gy, 0, full * sizeof(float));
        if (distributed(n)) {
            int rc = dist_bn_backward(n->dist, n->gy, b->dg, b->db, n->gx, b->conv, b->mean, b->rstd, b->g, B, b->c,
                                      (int)HW, n->dsum, e);
            if (rc) return rc;
        } else
            KCALL(batchnorm2d_backward(par, n->gy, b->dg, b->db, n->gx, b->conv, b->mean, b->rstd, b->g, B, b->c,
                                       (int)HW)); /* d conv output */
        const float *in = i ? n->blk[i - 1].pool : n->x;
        float *din = NULL;
        if (i) {
            din = n->gx;
            memset(din, 0, (size_t)B * b->cin * HW * sizeof(float));
        }
        KCALL(conv2d_backward(par, din, b->dw, NULL, n->gy, in, b->w, &d, n->ws, n->nws));
    }
    return 0;
}

int evalnet_train_grads(evalnet_t *n, const float *x, const int *labels, int B, float smoothing, uint64_t seed,
                        float *loss, int *correct, err_t *e) {
    params_zero_grad(&n->ps, &n->par);
    int rc = evalnet_forward(n, x, B, 1, seed, e);
    if (rc) return rc;
    const int K = n->cfg.classes;
    int krc = softmax_xent(&n->par, loss, n->rowloss, n->dlogits, n->logits, labels, B, K, smoothing);
    if (krc != NN_OK) return err_set(e, EXIT_INTERNAL, "evalnet: cross-entropy refused its input (a label outside 0..%d?)", K - 1);
    if (correct) {
        int ok = 0;
        for (int i = 0; i < B; i++) {
            const float *l = n->logits + (size_t)i * K;
            int best = 0;
            for (int k = 1; k < K; k++)
                if (l[k] > l[best]) best = k;
            ok += best == labels[i];
        }
        *correct = ok;
    }
    if (distributed(n)) { /* d(global mean)/d logits: each row weighs 1/(B*size) */
        float f = 1.0f / (float)n->dist->size;
        for (size_t i = 0; i < (size_t)B * K; i++) n->dlogits[i] *= f;
    }
    return evalnet_backward(n, n->dlogits, B, e);
}

void evalnet_probs(const evalnet_t *n, int B, float *probs) {
    int K = n->cfg.classes;
    for (int i = 0; i < B; i++) {
        const float *l = n->logits + (size_t)i * K;
        float *p = probs + (size_t)i * K, mx = l[0];
        for (int k = 1; k < K; k++)
            if (l[k] > mx) mx = l[k];
        double s = 0;
        for (int k = 0; k < K; k++) s += p[k] = expf(l[k] - mx);
        for (int k = 0; k < K; k++) p[k] = (float)(p[k] / s);
    }
}

int evalnet_config_meta(const evalnet_config_t *c, ckpt_kv_t *kv, char buf[][2][160]) {
    int m = 0;
#define PUT(k, ...) (snprintf(buf[m][0], 160, "%s", k), snprintf(buf[m][1], 160, __VA_ARGS__), m++)
    PUT("evalnet.image_size", "%d", c->image_size);
    char ch[160] = "";
    size_t used = 0;
    for (int i = 0; i < c->nblocks; i++) used += (size_t)snprintf(ch + used, sizeof ch - used, i ? ",%d" : "%d", c->ch[i]);
    PUT("evalnet.channels", "%s", ch);
    PUT("evalnet.classes", "%d", c->classes);
    PUT("evalnet.dropout", "%.9g", c->dropout);
    PUT("evalnet.bn_eps", "%.9g", c->bn_eps);
    PUT("evalnet.bn_momentum", "%.9g", c->bn_momentum);
#undef PUT
    for (int i = 0; i < m; i++) kv[i] = (ckpt_kv_t){buf[i][0], buf[i][1]};
    return m;
}

/* a decimal integer in [lo, hi] spanning the whole of s..end */
static int int_in(const char *s, const char *end, long lo, long hi, long *out) {
    if (s == end || end - s > 12) return -1;
    long v = 0;
    for (const char *p = s; p < end; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int evalnet_parse_channels(const char *s, evalnet_config_t *c) {
    int n = 0, ch[EVALNET_MAX_BLOCKS];
    const char *p = s;
    for (;;) {
        const char *q = strchr(p, ',');
        if (!q) q = p + strlen(p);
        long x;
        if (n == EVALNET_MAX_BLOCKS || int_in(p, q, 1, 4096, &x)) return -1;
        ch[n++] = (int)x;
        if (!*q) break;
        p = q + 1;
    }
    c->nblocks = n;
    memcpy(c->ch, ch, (size_t)n * sizeof *ch);
    return 0;
}

static int meta_int(const ckpt_t *ck, const char *name, const char *key, long lo, long hi, int *out, err_t *e) {
    const char *v = ckpt_meta(ck, key);
    long x;
    if (!v) return err_set(e, EXIT_MODEL, "%s: no \"%s\" in the metadata (not an evaluator model?)", name, key);
    if (int_in(v, v + strlen(v), lo, hi, &x))
        return err_set(e, EXIT_MODEL, "%s: metadata %s = \"%.40s\" is not an integer in %ld..%ld", name, key, v, lo, hi);
    *out = (int)x;
    return 0;
}

static int meta_float(const ckpt_t *ck, const char *name, const char *key, float *out, err_t *e) {
    const char *v = ckpt_meta(ck, key);
    if (!v) return err_set(e, EXIT_MODEL, "%s: no \"%s\" in the metadata (not an evaluator model?)", name, key);
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d))
        return err_set(e, EXIT_MODEL, "%s: metadata %s = \"%.40s\" is not a number", name, key, v);
    *out = (float)d;
    return 0;
}

int evalnet_config_from_ckpt(const ckpt_t *ck, const char *name, evalnet_config_t *c, err_t *e) {
    memset(c, 0, sizeof *c);
    int rc;
    if ((rc = meta_int(ck, name, "evalnet.image_size", 2, 1024, &c->image_size, e)) ||
        (rc = meta_int(ck, name, "evalnet.classes", 2, 1 << 20, &c->classes, e)) ||
        (rc = meta_float(ck, name, "evalnet.dropout", &c->dropout, e)) ||
        (rc = meta_float(ck, name, "evalnet.bn_eps", &c->bn_eps, e)) ||
        (rc = meta_float(ck, name, "evalnet.bn_momentum", &c->bn_momentum, e)))
        return rc;
    const char *v = ckpt_meta(ck, "evalnet.channels");
    if (!v) return err_set(e, EXIT_MODEL, "%s: no \"evalnet.channels\" in the metadata (not an evaluator model?)", name);
    if (evalnet_parse_channels(v, c))
        return err_set(e, EXIT_MODEL, "%s: metadata evalnet.channels = \"%.60s\" is not a list of 1..%d channel counts",
                       name, v, EVALNET_MAX_BLOCKS);
    if ((rc = evalnet_config_check(c, e))) {
        e->code = EXIT_MODEL;
        return err_prefix(e, "%s", name);
    }
    return 0;
}

int evalnet_words_from_ckpt(const ckpt_t *ck, const char *name, int K, char ***words, err_t *e) {
    const char *wl = ckpt_meta(ck, "evalnet.words");
    if (!wl) return err_set(e, EXIT_MODEL, "%s: no \"evalnet.words\" in the metadata (not an evaluator model?)", name);
    char **w = xcalloc((size_t)K, sizeof *w);
    int k = 0, rc = 0;
    for (const char *p = wl;; p++) {
        const char *q = strchr(p, '\n');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (k == K || !len) {
            rc = err_set(e, EXIT_MODEL, "%s: evalnet.words does not list %d non-empty words, one a line", name, K);
            break;
        }
        w[k] = xmalloc(len + 1);
        memcpy(w[k], p, len);
        w[k][len] = 0;
        if (k && strcmp(w[k - 1], w[k]) >= 0) {
            rc = err_set(e, EXIT_MODEL, "%s: evalnet.words is not sorted without repeats at word %d", name, k + 1);
            k++;
            break;
        }
        k++;
        if (!q) break;
        p = q;
    }
    if (!rc && k != K) rc = err_set(e, EXIT_MODEL, "%s: evalnet.words lists %d words, the model has %d classes", name, k, K);
    if (rc) {
        for (int i = 0; i < K; i++) free(w[i]);
        free(w);
        return rc;
    }
    *words = w;
    return 0;
}

int evalnet_open_model(ckpt_t *ck, const char *name, int cap, const nn_par_t *par, evalnet_t *n, char ***words,
                       err_t *e) {
    evalnet_config_t cfg;
    int rc = evalnet_config_from_ckpt(ck, name, &cfg, e);
    if (rc) return rc;
    if ((rc = evalnet_words_from_ckpt(ck, name, cfg.classes, words, e))) return rc;
    if ((rc = evalnet_init(n, &cfg, cap, PARAMS_DATA_ONLY, par, e)) == 0 &&
        (rc = ckpt_read(ck, &n->ps, CKPT_WEIGHTS, e)) != 0)
        evalnet_free(n);
    if (rc) {
        for (int i = 0; i < cfg.classes; i++) free((*words)[i]);
        free(*words);
        *words = NULL;
        if (rc == EXIT_USAGE) e->code = EXIT_MODEL;
    }
    return rc;
}
