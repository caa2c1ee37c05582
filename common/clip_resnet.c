/* clip_resnet.c - see clip_resnet.h.  Shapes: B batch, w stem width, p a
 * block's planes, D = 32 w attention-pool width, E output dim, g = S/32. */
#include "clip_resnet.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nn/act.h"
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/pool2d.h"

#define RN_BN_EPS 1e-5f
static const nn_act_t relu = {NN_ACT_RELU, 0}, no_act = {NN_ACT_NONE, 0};

void clip_rn_geom(const int layers[4], int width, int i, clip_rn_geom_t *g) {
    int inplanes = width;
    for (int s = 0; s < 4; s++)
        for (int j = 0; j < layers[s]; j++, i--) {
            int planes = width << s, stride = j == 0 && s > 0 ? 2 : 1;
            if (!i) {
                g->stage = s, g->index = j, g->inplanes = inplanes, g->planes = planes, g->stride = stride;
                g->down = stride > 1 || inplanes != 4 * planes;
                return;
            }
            inplanes = 4 * planes;
        }
    memset(g, 0, sizeof *g);
}

/* ------------------------------------------------------------ parameters */

/* One walk names, shapes and (when binding) places every tensor. */
typedef struct {
    float **cur;      /* bind: advance through memory (NULL: pointers NULL) */
    int bind;
    clip_rn_fn fn;    /* visit (when not binding) */
    void *ctx;
    size_t count;
} walk_t;

static int tensor(walk_t *k, float **field, const char *name, int nd, int d0, int d1, int d2, int d3) {
    int sh[4] = {d0, d1, d2, d3};
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)sh[i];
    k->count += n;
    if (k->bind) {
        if (k->cur) {
            *field = *k->cur;
            *k->cur += n;
        } else
            *field = NULL;
        return 0;
    }
    return k->fn ? k->fn(name, *field, nd, sh, k->ctx) : 0;
}

static int bn(walk_t *k, clip_bn_t *b, const char *pre, int C) {
    char n[160];
    int rc;
    snprintf(n, sizeof n, "%sweight", pre);
    if ((rc = tensor(k, &b->w, n, 1, C, 0, 0, 0))) return rc;
    snprintf(n, sizeof n, "%sbias", pre);
    if ((rc = tensor(k, &b->b, n, 1, C, 0, 0, 0))) return rc;
    snprintf(n, sizeof n, "%srunning_mean", pre);
    if ((rc = tensor(k, &b->mean, n, 1, C, 0, 0, 0))) return rc;
    snprintf(n, sizeof n, "%srunning_var", pre);
    return tensor(k, &b->var, n, 1, C, 0, 0, 0);
}

static int walk(walk_t *k, clip_rn_params_t *r, int w, const int layers[4], int S, int E) {
    int rc, h = w / 2, g = S / 32, D = 32 * w, nb = layers[0] + layers[1] + layers[2] + layers[3];
    char n[160];
#define TRY(x) do { if ((rc = (x))) return rc; } while (0)
    TRY(tensor(k, &r->conv1, "visual.conv1.weight", 4, h, 3, 3, 3));
    TRY(bn(k, &r->bn1, "visual.bn1.", h));
    TRY(tensor(k, &r->conv2, "visual.conv2.weight", 4, h, h, 3, 3));
    TRY(bn(k, &r->bn2, "visual.bn2.", h));
    TRY(tensor(k, &r->conv3, "visual.conv3.weight", 4, w, h, 3, 3));
    TRY(bn(k, &r->bn3, "visual.bn3.", w));
    for (int i = 0; i < nb; i++) {
        clip_rn_geom_t G;
        clip_rn_geom(layers, w, i, &G);
        clip_rn_block_t *b = &r->blocks[i];
        char pre[96];
        snprintf(pre, sizeof pre, "visual.layer%d.%d.", G.stage + 1, G.index);
        int p = G.planes;
        snprintf(n, sizeof n, "%sconv1.weight", pre);
        TRY(tensor(k, &b->conv1, n, 4, p, G.inplanes, 1, 1));
        snprintf(n, sizeof n, "%sbn1.", pre);
        TRY(bn(k, &b->bn1, n, p));
        snprintf(n, sizeof n, "%sconv2.weight", pre);
        TRY(tensor(k, &b->conv2, n, 4, p, p, 3, 3));
        snprintf(n, sizeof n, "%sbn2.", pre);
        TRY(bn(k, &b->bn2, n, p));
        snprintf(n, sizeof n, "%sconv3.weight", pre);
        TRY(tensor(k, &b->conv3, n, 4, 4 * p, p, 1, 1));
        snprintf(n, sizeof n, "%sbn3.", pre);
        TRY(bn(k, &b->bn3, n, 4 * p));
        if (G.down) {
            snprintf(n, sizeof n, "%sdownsample.0.weight", pre);
            TRY(tensor(k, &b->down, n, 4, 4 * p, G.inplanes, 1, 1));
            snprintf(n, sizeof n, "%sdownsample.1.", pre);
            TRY(bn(k, &b->dbn, n, 4 * p));
        } else if (k->bind) {
            b->down = NULL;
        }
    }
    TRY(tensor(k, &r->pos, "visual.attnpool.positional_embedding", 2, g * g + 1, D, 0, 0));
    TRY(tensor(k, &r->q_w, "visual.attnpool.q_proj.weight", 2, D, D, 0, 0));
    TRY(tensor(k, &r->q_b, "visual.attnpool.q_proj.bias", 1, D, 0, 0, 0));
    TRY(tensor(k, &r->k_w, "visual.attnpool.k_proj.weight", 2, D, D, 0, 0));
    TRY(tensor(k, &r->k_b, "visual.attnpool.k_proj.bias", 1, D, 0, 0, 0));
    TRY(tensor(k, &r->v_w, "visual.attnpool.v_proj.weight", 2, D, D, 0, 0));
    TRY(tensor(k, &r->v_b, "visual.attnpool.v_proj.bias", 1, D, 0, 0, 0));
    TRY(tensor(k, &r->c_w, "visual.attnpool.c_proj.weight", 2, E, D, 0, 0));
    TRY(tensor(k, &r->c_b, "visual.attnpool.c_proj.bias", 1, E, 0, 0, 0));
#undef TRY
    return 0;
}

size_t clip_rn_count(int w, const int layers[4], int S, int E) {
    clip_rn_params_t r;
    memset(&r, 0, sizeof r);
    int nb = layers[0] + layers[1] + layers[2] + layers[3];
    r.blocks = xcalloc((size_t)(nb ? nb : 1), sizeof *r.blocks);
    walk_t k = {.bind = 1};
    walk(&k, &r, w, layers, S, E);
    free(r.blocks);
    return k.count;
}

void clip_rn_bind(clip_rn_params_t *r, int w, const int layers[4], int S, int E, float **cur) {
    int nb = layers[0] + layers[1] + layers[2] + layers[3];
    if (!r->blocks) r->blocks = xcalloc((size_t)(nb ? nb : 1), sizeof *r->blocks);
    r->nblocks = nb;
    walk_t k = {.bind = 1, .cur = cur};
    walk(&k, r, w, layers, S, E);
}

int clip_rn_each(clip_rn_params_t *r, int w, const int layers[4], int S, int E, clip_rn_fn fn, void *ctx) {
    walk_t k = {.fn = fn, .ctx = ctx};
    return walk(&k, r, w, layers, S, E);
}

/* ------------------------------------------------------------ activations */

typedef struct {
    float *y1, *a1, *y2, *a2, *pa, *y3, *px, *yd, *out; /* pa, px: NULL when stride 1 */
    int H, W, OH, OW;                                      /* input and output sizes */
} rn_act_t;

struct clip_rn {
    int Bcap, B, nb;
    size_t bigsz;               /* floats of the largest per-batch activation */
    /* stem */
    float *s_y1, *s_a1, *s_y2, *s_a2, *s_y3, *s_a3, *f0;
    rn_act_t *blk;
    /* head */
    float *X, *X0, *q, *k, *v, *att, *O; /* (B,T,D), (B,D), (B,D), (B,T,D) x2, (B,NH,T), (B,D) */
    /* scratch */
    float *ws;
    size_t nws;
    float *t[6];                /* bigsz each */
    float *imgcopy;             /* the last forward's input (B,3,S,S) */
    int layers[4];
};

void clip_rn_free(clip_rn_t *t) {
    if (!t) return;
    free(t->s_y1); free(t->s_a1); free(t->s_y2); free(t->s_a2); free(t->s_y3); free(t->s_a3); free(t->f0);
    for (int i = 0; t->blk && i < t->nb; i++) {
        rn_act_t *a = &t->blk[i];
        free(a->y1); free(a->a1); free(a->y2); free(a->a2); free(a->pa); free(a->y3); free(a->px); free(a->yd);
        free(a->out);
    }
    free(t->blk);
    free(t->X); free(t->X0); free(t->q); free(t->k); free(t->v); free(t->att); free(t->O);
    free(t->ws);
    for (int i = 0; i < 6; i++) free(t->t[i]);
    free(t->imgcopy);
    free(t);
}

static float *fa(size_t n) { return xmalloc(sizeof(float) * (n ? n : 1)); }

static size_t upd(size_t *m, size_t v) { return *m = v > *m ? v : *m; }

/* conv dims of the tower's convolutions, for ws sizing and calls */
static conv2d_dims_t cd(int B, int C, int H, int W, int OC, int K, int stride) {
    conv2d_dims_t d = {.N = B, .C = C, .H = H, .W = W, .OC = OC, .KH = K, .KW = K, .stride_h = stride,
                       .stride_w = stride, .pad_h = K / 2, .pad_w = K / 2};
    return d;
}

static size_t ws_need(const clip_rn_cfg_t *c, int B, int nth) {
    size_t m = 0;
    int S = c->S, h = c->width / 2, H = S / 2;
    conv2d_dims_t d = cd(B, 3, S, S, h, 3, 2);
    upd(&m, conv2d_ws_size(&d, nth));
    d = cd(B, h, H, H, h, 3, 1);
    upd(&m, conv2d_ws_size(&d, nth));
    d = cd(B, h, H, H, c->width, 3, 1);
    upd(&m, conv2d_ws_size(&d, nth));
    int nb = c->layers[0] + c->layers[1] + c->layers[2] + c->layers[3], sz = S / 4;
    for (int i = 0; i < nb; i++) {
        clip_rn_geom_t g;
        clip_rn_geom(c->layers, c->width, i, &g);
        d = cd(B, g.inplanes, sz, sz, g.planes, 1, 1);
        upd(&m, conv2d_ws_size(&d, nth));
        d = cd(B, g.planes, sz, sz, g.planes, 3, 1);
        upd(&m, conv2d_ws_size(&d, nth));
        int o = sz / g.stride;
        d = cd(B, g.planes, o, o, 4 * g.planes, 1, 1);
        upd(&m, conv2d_ws_size(&d, nth));
        d = cd(B, g.inplanes, o, o, 4 * g.planes, 1, 1);
        upd(&m, conv2d_ws_size(&d, nth));
        sz = o;
    }
    return m;
}

static clip_rn_t *ensure(clip_rn_t *t, const clip_rn_cfg_t *c, int B, const nn_par_t *par) {
    size_t need = ws_need(c, B, nn_nthreads(par));
    if (t && t->Bcap >= B) {
        if (need > t->nws) {
            free(t->ws);
            t->ws = fa(need);
            t->nws = need;
        }
        return t;
    }
    clip_rn_free(t);
    t = xcalloc(1, sizeof *t);
    t->Bcap = B;
    int S = c->S, h = c->width / 2, H = S / 2, nb = c->layers[0] + c->layers[1] + c->layers[2] + c->layers[3];
    size_t b = (size_t)B, big = 0;
    t->s_y1 = fa(b * h * H * H);
    t->s_a1 = fa(b * h * H * H);
    t->s_y2 = fa(b * h * H * H);
    t->s_a2 = fa(b * h * H * H);
    t->s_y3 = fa(b * c->width * H * H);
    t->s_a3 = fa(b * c->width * H * H);
    upd(&big, b * c->width * H * H);
    t->f0 = fa(b * c->width * (H / 2) * (H / 2));
    t->nb = nb;
    t->blk = xcalloc((size_t)(nb ? nb : 1), sizeof *t->blk);
    int sz = S / 4;
    for (int i = 0; i < nb; i++) {
        clip_rn_geom_t g;
        clip_rn_geom(c->layers, c->width, i, &g);
        rn_act_t *a = &t->blk[i];
        int o = sz / g.stride;
        size_t in = b * g.inplanes * sz * sz, p = b * g.planes * sz * sz, po = b * g.planes * o * o,
               out = b * 4 * g.planes * o * o;
        a->H = a->W = sz, a->OH = a->OW = o;
        a->y1 = fa(p), a->a1 = fa(p), a->y2 = fa(p), a->a2 = fa(p);
        if (g.stride > 1) a->pa = fa(po);
        a->y3 = fa(out);
        if (g.down) {
            if (g.stride > 1) a->px = fa(b * g.inplanes * o * o);
            a->yd = fa(out);
        }
        a->out = fa(out);
        upd(&big, in), upd(&big, p), upd(&big, out);
        sz = o;
    }
    int g0 = S / 32;
    upd(&big, b * (size_t)(g0 * g0 + 1) * 32 * c->width);
    memcpy(t->layers, c->layers, sizeof t->layers);
    t->bigsz = big;
    for (int i = 0; i < 6; i++) t->t[i] = fa(big);
    int g = S / 32, T = g * g + 1, D = 32 * c->width;
    t->X = fa(b * T * D);
    t->X0 = fa(b * D);
    t->q = fa(b * D);
    t->k = fa(b * T * D);
    t->v = fa(b * T * D);
    t->att = fa(b * c->heads * T);
    t->O = fa(b * D);
    t->imgcopy = fa(b * 3 * S * S);
    t->ws = fa(need);
    t->nws = need;
    return t;
}

/* ------------------------------------------------------------ pieces */

/* Frozen batch norm fused with the ReLU that follows it (one pass over the
 * map instead of two), and its backward fused with that ReLU's mask and the
 * batch norm's parameter gradients: the same maths as nn/norm2d.h's eval
 * kernels followed by nn/act.h's ReLU, split over channels like them. */
typedef struct {
    float *out, *gw, *gb;
    const float *in, *mask, *y;
    const clip_bn_t *b;
    int N, C, HW, relu;
} bnx_t;

static void bn_fwd_task(void *vc, int c0, int c1, int tid) {
    (void)tid;
    const bnx_t *k = vc;
    for (int c = c0; c < c1; c++) {
        float r = 1.0f / sqrtf(k->b->var[c] + RN_BN_EPS), sc = r * k->b->w[c], m = k->b->mean[c], bb = k->b->b[c];
        for (int n = 0; n < k->N; n++) {
            const float *x = k->in + ((size_t)n * k->C + c) * k->HW;
            float *o = k->out + ((size_t)n * k->C + c) * k->HW;
            if (k->relu)
                for (int i = 0; i < k->HW; i++) {
                    float v = (x[i] - m) * sc + bb;
                    o[i] = v > 0 ? v : 0;
                }
            else
                for (int i = 0; i < k->HW; i++) o[i] = (x[i] - m) * sc + bb;
        }
    }
}

/* out = dz masked by mask > 0 (mask NULL: no mask) times w/sqrt(var+eps),
 * OVERWRITTEN; gw += sum dz' (y - mean)/sqrt(var+eps), gb += sum dz' */
static void bn_bwd_task(void *vc, int c0, int c1, int tid) {
    (void)tid;
    const bnx_t *k = vc;
    for (int c = c0; c < c1; c++) {
        float r = 1.0f / sqrtf(k->b->var[c] + RN_BN_EPS), sc = r * k->b->w[c], m = k->b->mean[c];
        double sw = 0, sb = 0;
        for (int n = 0; n < k->N; n++) {
            size_t o0 = ((size_t)n * k->C + c) * k->HW;
            const float *dz = k->in + o0, *mk = k->mask ? k->mask + o0 : NULL, *y = k->y + o0;
            float *dy = k->out + o0;
            for (int i = 0; i < k->HW; i++) {
                float g = mk && !(mk[i] > 0) ? 0.0f : dz[i];
                dy[i] = g * sc;
                if (k->gw) sw += (double)g * (y[i] - m) * r, sb += g;
            }
        }
        if (k->gw) k->gw[c] += (float)sw, k->gb[c] += (float)sb;
    }
}

/* y = conv(x); a = act(bn(y)) */
static void cbr_forward(const nn_par_t *par, clip_rn_t *t, float *y, float *a, const float *x, const float *w,
                        const clip_bn_t *b, const conv2d_dims_t *d, int use_relu) {
    int OH, OW;
    conv2d_out_size(d, &OH, &OW);
    conv2d_forward(par, y, x, w, NULL, d, t->ws, t->nws);
    bnx_t k = {.out = a, .in = y, .b = b, .N = d->N, .C = d->OC, .HW = OH * OW, .relu = use_relu};
    nn_parallel_for(par, d->OC, bn_fwd_task, &k);
}

/* Backward of cbr_forward given dz = dL/d(its output a): masked by mask > 0
 * (the ReLU's output a; NULL: no ReLU or already masked), through the batch
 * norm into dy (scratch, overwritten), then dx ADDED into (may be NULL). */
static void cb_backward(const nn_par_t *par, clip_rn_t *t, float *dx, float *dy, const float *dz, const float *mask,
                        const float *x, const float *y, const float *w, const clip_bn_t *b, float *gw, clip_bn_t *gb,
                        const conv2d_dims_t *d) {
    int OH, OW;
    conv2d_out_size(d, &OH, &OW);
    bnx_t k = {.out = dy, .gw = gb ? gb->w : NULL, .gb = gb ? gb->b : NULL, .in = dz, .mask = mask, .y = y, .b = b,
               .N = d->N, .C = d->OC, .HW = OH * OW};
    nn_parallel_for(par, d->OC, bn_bwd_task, &k);
    conv2d_backward(par, dx, gw, NULL, dy, x, w, d, t->ws, t->nws);
}

/* dz = da * (a > 0) (overwrites dz) */
typedef struct {
    float *dz;
    const float *da, *a;
    size_t n;
} mask_t;
static void mask_task(void *vc, int b0, int b1, int tid) {
    (void)tid;
    const mask_t *k = vc;
    size_t per = (k->n + 63) / 64;
    for (int b = b0; b < b1; b++)
        for (size_t i = (size_t)b * per; i < (size_t)(b + 1) * per && i < k->n; i++)
            k->dz[i] = k->a[i] > 0 ? k->da[i] : 0.0f;
}
static void relu_mask(const nn_par_t *par, float *dz, const float *da, const float *a, size_t n) {
    mask_t k = {dz, da, a, n};
    nn_parallel_for(par, 64, mask_task, &k);
}

static pool2d_dims_t pd(int B, int C, int H, int k) {
    pool2d_dims_t d = {.N = B, .C = C, .H = H, .W = H, .KH = k, .KW = k};
    return d;
}

/* ------------------------------------------------------------ forward */

int clip_rn_forward(clip_rn_t **tp, const nn_par_t *par, const clip_rn_cfg_t *c, const clip_rn_params_t *w,
                    const float *img, int B, float *emb, err_t *e) {
    if (B <= 0) return err_set(e, EXIT_INTERNAL, "clip_rn_forward: batch %d", B);
    clip_rn_t *t = *tp = ensure(*tp, c, B, par);
    int S = c->S, h = c->width / 2, H = S / 2;
    t->B = B;
    memcpy(t->imgcopy, img, sizeof(float) * (size_t)B * 3 * S * S);
    conv2d_dims_t d = cd(B, 3, S, S, h, 3, 2);
    cbr_forward(par, t, t->s_y1, t->s_a1, t->imgcopy, w->conv1, &w->bn1, &d, 1);
    d = cd(B, h, H, H, h, 3, 1);
    cbr_forward(par, t, t->s_y2, t->s_a2, t->s_a1, w->conv2, &w->bn2, &d, 1);
    d = cd(B, h, H, H, c->width, 3, 1);
    cbr_forward(par, t, t->s_y3, t->s_a3, t->s_a2, w->conv3, &w->bn3, &d, 1);
    pool2d_dims_t p = pd(B, c->width, H, 2);
    avgpool2d_forward(par, t->f0, t->s_a3, &p);
    const float *x = t->f0;
    for (int i = 0; i < t->nb; i++) {
        clip_rn_geom_t g;
        clip_rn_geom(c->layers, c->width, i, &g);
        const clip_rn_block_t *k = &w->blocks[i];
        rn_act_t *a = &t->blk[i];
        int sz = a->H, o = a->OH, P = g.planes;
        d = cd(B, g.inplanes, sz, sz, P, 1, 1);
        cbr_forward(par, t, a->y1, a->a1, x, k->conv1, &k->bn1, &d, 1);
        d = cd(B, P, sz, sz, P, 3, 1);
        cbr_forward(par, t, a->y2, a->a2, a->a1, k->conv2, &k->bn2, &d, 1);
        const float *pa = a->a2;
        if (g.stride > 1) {
            p = pd(B, P, sz, g.stride);
            avgpool2d_forward(par, a->pa, a->a2, &p);
            pa = a->pa;
        }
        d = cd(B, P, o, o, 4 * P, 1, 1);
        cbr_forward(par, t, a->y3, a->out, pa, k->conv3, &k->bn3, &d, 0);
        size_t n = (size_t)B * 4 * P * o * o;
        if (g.down) {
            const float *px = x;
            if (g.stride > 1) {
                p = pd(B, g.inplanes, sz, g.stride);
                avgpool2d_forward(par, a->px, x, &p);
                px = a->px;
            }
            d = cd(B, g.inplanes, o, o, 4 * P, 1, 1);
            float *zd = t->t[0];
            cbr_forward(par, t, a->yd, zd, px, k->down, &k->dbn, &d, 0);
            for (size_t j = 0; j < n; j++) a->out[j] += zd[j];
        } else {
            for (size_t j = 0; j < n; j++) a->out[j] += x[j];
        }
        act_forward(par, a->out, a->out, relu, n);
        x = a->out;
    }
    /* attention pooling */
    int G = S / 32, HW = G * G, T = HW + 1, D = 32 * c->width, NH = c->heads, hd = D / NH, E = c->E;
    for (int b = 0; b < B; b++) {
        const float *f = x + (size_t)b * D * HW;
        float *X = t->X + (size_t)b * T * D;
        for (int ch = 0; ch < D; ch++) {
            double s = 0;
            for (int j = 0; j < HW; j++) {
                s += f[(size_t)ch * HW + j];
                X[(size_t)(1 + j) * D + ch] = f[(size_t)ch * HW + j];
            }
            X[ch] = (float)(s / HW);
        }
        for (size_t j = 0; j < (size_t)T * D; j++) X[j] += w->pos[j];
        memcpy(t->X0 + (size_t)b * D, X, sizeof(float) * D);
    }
    linear_forward(par, t->q, NULL, t->X0, NULL, w->q_w, w->q_b, no_act, B, D, D);
    linear_forward(par, t->k, NULL, t->X, NULL, w->k_w, w->k_b, no_act, B * T, D, D);
    linear_forward(par, t->v, NULL, t->X, NULL, w->v_w, w->v_b, no_act, B * T, D, D);
    double sc = 1 / sqrt((double)hd);
    for (int b = 0; b < B; b++)
        for (int hh = 0; hh < NH; hh++) {
            const float *q = t->q + (size_t)b * D + hh * hd;
            float *a = t->att + ((size_t)b * NH + hh) * T, *o = t->O + (size_t)b * D + hh * hd;
            double mx = -INFINITY, z = 0;
            for (int j = 0; j < T; j++) {
                const float *kk = t->k + ((size_t)b * T + j) * D + hh * hd;
                double s = 0;
                for (int u = 0; u < hd; u++) s += (double)q[u] * kk[u];
                a[j] = (float)(s * sc);
                if (a[j] > mx) mx = a[j];
            }
            for (int j = 0; j < T; j++) z += a[j] = (float)exp(a[j] - mx);
            for (int j = 0; j < T; j++) a[j] = (float)(a[j] / z);
            for (int u = 0; u < hd; u++) o[u] = 0;
            for (int j = 0; j < T; j++) {
                const float *vv = t->v + ((size_t)b * T + j) * D + hh * hd;
                for (int u = 0; u < hd; u++) o[u] += a[j] * vv[u];
            }
        }
    linear_forward(par, emb, NULL, t->O, NULL, w->c_w, w->c_b, no_act, B, D, E);
    return 0;
}

/* ------------------------------------------------------------ backward */

int clip_rn_backward(clip_rn_t *t, const nn_par_t *par, const clip_rn_cfg_t *c, const clip_rn_params_t *w,
                     clip_rn_params_t *g, const float *demb, float *const *dfeat, float *dimg, err_t *e) {
    if (!t || !t->B) return err_set(e, EXIT_INTERNAL, "clip_rn_backward without a forward");
    int B = t->B, S = c->S, h = c->width / 2, H = S / 2;
    int G = S / 32, HW = G * G, T = HW + 1, D = 32 * c->width, NH = c->heads, hd = D / NH, E = c->E;
    float *gin = t->t[4], *gout = t->t[5]; /* gradient entering a block / leaving it */
    size_t nl = (size_t)B * D * HW;
    memset(gin, 0, sizeof(float) * nl);
    if (demb) {
        /* emb = O c^T + cb */
        float *dO = t->t[0], *dq = t->t[1], *dk = t->t[2], *dv = t->t[3];
        linear_backward(par, dO, g ? g->c_w : NULL, g ? g->c_b : NULL, demb, t->O, NULL, w->c_w, no_act, B, D, E, 0);
        double sc = 1 / sqrt((double)hd);
        for (int b = 0; b < B; b++)
            for (int hh = 0; hh < NH; hh++) {
                const float *a = t->att + ((size_t)b * NH + hh) * T, *q = t->q + (size_t)b * D + hh * hd;
                const float *go = dO + (size_t)b * D + hh * hd;
                float *gq = dq + (size_t)b * D + hh * hd;
                double dot = 0;
                /* da_j = go . v_j; ds_j = a_j (da_j - sum a da) */
                double das[4096];
                double *da = T <= 4096 ? das : NULL;
                if (!da) return err_set(e, EXIT_INTERNAL, "clip_rn_backward: %d tokens", T);
                for (int j = 0; j < T; j++) {
                    const float *vv = t->v + ((size_t)b * T + j) * D + hh * hd;
                    float *gv = dv + ((size_t)b * T + j) * D + hh * hd;
                    double s = 0;
                    for (int u = 0; u < hd; u++) s += (double)go[u] * vv[u], gv[u] = a[j] * go[u];
                    da[j] = s;
                    dot += a[j] * s;
                }
                for (int u = 0; u < hd; u++) gq[u] = 0;
                for (int j = 0; j < T; j++) {
                    const float *kk = t->k + ((size_t)b * T + j) * D + hh * hd;
                    float *gk = dk + ((size_t)b * T + j) * D + hh * hd;
                    double ds = a[j] * (da[j] - dot) * sc;
                    for (int u = 0; u < hd; u++) gq[u] += (float)(ds * kk[u]), gk[u] = (float)(ds * q[u]);
                }
            }
        /* X -> k, v; X0 -> q */
        float *dX = t->t[0]; /* dO is consumed */
        linear_backward(par, dX, g ? g->k_w : NULL, g ? g->k_b : NULL, dk, t->X, NULL, w->k_w, no_act, B * T, D, D, 0);
        linear_backward(par, dX, g ? g->v_w : NULL, g ? g->v_b : NULL, dv, t->X, NULL, w->v_w, no_act, B * T, D, D, 1);
        float *dx0 = t->t[2]; /* dk consumed */
        linear_backward(par, dx0, g ? g->q_w : NULL, g ? g->q_b : NULL, dq, t->X0, NULL, w->q_w, no_act, B, D, D, 0);
        for (int b = 0; b < B; b++) {
            float *d = dX + (size_t)b * T * D;
            for (int ch = 0; ch < D; ch++) d[ch] += dx0[(size_t)b * D + ch];
            if (g)
                for (size_t j = 0; j < (size_t)T * D; j++) g->pos[j] += d[j];
            float *f = gin + (size_t)b * D * HW;
            for (int ch = 0; ch < D; ch++) {
                float m = d[ch] / HW;
                for (int j = 0; j < HW; j++) f[(size_t)ch * HW + j] = d[(size_t)(1 + j) * D + ch] + m;
            }
        }
    }
    /* stages, from the top; features 1..4 are the last blocks of the stages */
    for (int i = t->nb - 1; i >= 0; i--) {
        clip_rn_geom_t gm;
        clip_rn_geom(c->layers, c->width, i, &gm);
        const clip_rn_block_t *k = &w->blocks[i];
        clip_rn_block_t *gk = g ? &g->blocks[i] : NULL;
        rn_act_t *a = &t->blk[i];
        int sz = a->H, o = a->OH, P = gm.planes;
        size_t nout = (size_t)B * 4 * P * o * o, nin = (size_t)B * gm.inplanes * sz * sz, np = (size_t)B * P * sz * sz;
        if (gm.index == c->layers[gm.stage] - 1 && dfeat && dfeat[gm.stage + 1])
            for (size_t j = 0; j < nout; j++) gin[j] += dfeat[gm.stage + 1][j];
        const float *x = i ? t->blk[i - 1].out : t->f0;
        float *T1 = t->t[0], *T2 = t->t[1], *T3 = t->t[2], *T4 = t->t[3];
        relu_mask(par, T1, gin, a->out, nout); /* dz */
        memset(gout, 0, sizeof(float) * nin);
        conv2d_dims_t d;
        pool2d_dims_t p;
        if (gm.down) {
            const float *px = gm.stride > 1 ? a->px : x;
            d = cd(B, gm.inplanes, o, o, 4 * P, 1, 1);
            if (gm.stride > 1) {
                memset(T4, 0, sizeof(float) * (size_t)B * gm.inplanes * o * o);
                cb_backward(par, t, T4, T3, T1, NULL, px, a->yd, k->down, &k->dbn, gk ? gk->down : NULL,
                            gk ? &gk->dbn : NULL, &d);
                p = pd(B, gm.inplanes, sz, gm.stride);
                avgpool2d_backward(par, gout, T4, &p);
            } else {
                cb_backward(par, t, gout, T3, T1, NULL, px, a->yd, k->down, &k->dbn, gk ? gk->down : NULL,
                            gk ? &gk->dbn : NULL, &d);
            }
        } else {
            for (size_t j = 0; j < nin; j++) gout[j] += T1[j];
        }
        /* main path: conv3 */
        const float *pa = gm.stride > 1 ? a->pa : a->a2;
        size_t npo = (size_t)B * P * o * o;
        memset(T3, 0, sizeof(float) * npo);
        d = cd(B, P, o, o, 4 * P, 1, 1);
        cb_backward(par, t, T3, T2, T1, NULL, pa, a->y3, k->conv3, &k->bn3, gk ? gk->conv3 : NULL,
                    gk ? &gk->bn3 : NULL, &d);
        float *da2 = T3;
        if (gm.stride > 1) {
            memset(T4, 0, sizeof(float) * np);
            p = pd(B, P, sz, gm.stride);
            avgpool2d_backward(par, T4, T3, &p);
            da2 = T4;
        }
        d = cd(B, P, sz, sz, P, 3, 1);
        float *da1 = da2 == T3 ? T4 : T3;
        memset(da1, 0, sizeof(float) * np);
        cb_backward(par, t, da1, T2, da2, a->a2, a->a1, a->y2, k->conv2, &k->bn2, gk ? gk->conv2 : NULL,
                    gk ? &gk->bn2 : NULL, &d);
        d = cd(B, gm.inplanes, sz, sz, P, 1, 1);
        cb_backward(par, t, gout, T2, da1, a->a1, x, a->y1, k->conv1, &k->bn1, gk ? gk->conv1 : NULL,
                    gk ? &gk->bn1 : NULL, &d);
        float *sw = gin;
        gin = gout, gout = sw;
    }
    /* stem: gin is dL/d f0 */
    size_t nf0 = (size_t)B * c->width * (H / 2) * (H / 2);
    if (dfeat && dfeat[0])
        for (size_t j = 0; j < nf0; j++) gin[j] += dfeat[0][j];
    if (!dimg && !g) return 0;
    float *T1 = t->t[0], *T2 = t->t[1], *T3 = t->t[2];
    size_t n3 = (size_t)B * c->width * H * H, nh = (size_t)B * h * H * H;
    memset(T3, 0, sizeof(float) * n3);
    pool2d_dims_t p = pd(B, c->width, H, 2);
    avgpool2d_backward(par, T3, gin, &p);
    conv2d_dims_t d = cd(B, h, H, H, c->width, 3, 1);
    memset(T1, 0, sizeof(float) * nh);
    cb_backward(par, t, T1, T2, T3, t->s_a3, t->s_a2, t->s_y3, w->conv3, &w->bn3, g ? g->conv3 : NULL,
                g ? &g->bn3 : NULL, &d);
    d = cd(B, h, H, H, h, 3, 1);
    memset(T3, 0, sizeof(float) * nh);
    cb_backward(par, t, T3, T2, T1, t->s_a2, t->s_a1, t->s_y2, w->conv2, &w->bn2, g ? g->conv2 : NULL,
                g ? &g->bn2 : NULL, &d);
    d = cd(B, 3, S, S, h, 3, 2);
    cb_backward(par, t, dimg, T2, T3, t->s_a1, t->imgcopy, t->s_y1, w->conv1, &w->bn1, g ? g->conv1 : NULL,
                g ? &g->bn1 : NULL, &d);
    return 0;
}

const float *clip_rn_feature(const clip_rn_t *t, int l, int *B) {
    if (!t || l < 0 || l >= CLIP_RN_FEATS) return NULL;
    if (B) *B = t->B;
    if (l == 0) return t->f0;
    int last = -1; /* the last block of stage l-1 */
    for (int s = 0; s < l; s++) last += t->layers[s];
    return last >= 0 && last < t->nb ? t->blk[last].out : NULL;
}

void clip_rn_feature_shape(const clip_rn_cfg_t *c, int l, int *C, int *H, int *W) {
    int S = c->S;
    if (l == 0) {
        *C = c->width, *H = *W = S / 4;
        return;
    }
    *C = 4 * (c->width << (l - 1));
    *H = *W = S / 4 >> (l > 1 ? l - 1 : 0);
}
