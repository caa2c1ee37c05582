/* unet.c - see unet.h. */
#include "unet.h"
#include "nn/act.h"
#include "nn/adamw.h"
#include "nn/dropout.h"
#include "nn/norm2d.h"
#include "nn/resize.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { NORM_NONE = 0, NORM_BATCH = 1, NORM_INSTANCE = 2 };

/* ------------------------------------------------------------ shared parts */

/* A bump allocator run twice: with base NULL it only counts. */
typedef struct {
    float *base;
    size_t n;
} arena_t;

static float *take(arena_t *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    float *p = a->base ? a->base + a->n : NULL;
    a->n += n;
    return p;
}

static void layer_geom(unet_layer_t *L, int transposed, int cin, int cout, int hin, int stride, int bias,
                       int norm) {
    L->transposed = transposed;
    L->cin = cin;
    L->cout = cout;
    L->hin = hin;
    L->hout = transposed ? 2 * hin : (hin + 2 - 4) / stride + 1;
    L->has_bias = bias;
    L->norm = norm;
    memset(&L->dims, 0, sizeof L->dims);
    L->dims.C = cin;
    L->dims.H = L->dims.W = hin;
    L->dims.OC = cout;
    L->dims.KH = L->dims.KW = 4;
    L->dims.stride_h = L->dims.stride_w = stride;
    L->dims.pad_h = L->dims.pad_w = 1;
}

static size_t plane_out(const unet_layer_t *L) { return (size_t)L->cout * L->hout * L->hout; }
static size_t plane_in(const unet_layer_t *L) { return (size_t)L->cin * L->hin * L->hin; }

static void layer_declare(params_t *ps, const unet_layer_t *L, const char *pfx) {
    char n[PARAMS_NAME_MAX];
    int k = 4;
    int wshape[4] = {L->transposed ? L->cin : L->cout, L->transposed ? L->cout : L->cin, k, k};
    snprintf(n, sizeof n, "%s.conv.weight", pfx);
    params_add(ps, n, 4, wshape, PARAM_DECAY_AUTO, NULL);
    if (L->has_bias) {
        snprintf(n, sizeof n, "%s.conv.bias", pfx);
        params_add(ps, n, 1, &L->cout, PARAM_DECAY_AUTO, NULL);
    }
    if (L->norm == NORM_BATCH) {
        static const char *nm[4] = {"weight", "bias", "running_mean", "running_var"};
        for (int i = 0; i < 4; i++) {
            snprintf(n, sizeof n, "%s.norm.%s", pfx, nm[i]);
            params_add(ps, n, 1, &L->cout, PARAM_DECAY_OFF, NULL);
        }
    }
}

static void layer_bind(params_t *ps, unet_layer_t *L, const char *pfx) {
    char n[PARAMS_NAME_MAX];
    param_view_t v;
    snprintf(n, sizeof n, "%s.conv.weight", pfx);
    v = params_view(ps, n);
    L->w = v.data, L->dw = v.grad;
    L->b = L->db = NULL;
    if (L->has_bias) {
        snprintf(n, sizeof n, "%s.conv.bias", pfx);
        v = params_view(ps, n);
        L->b = v.data, L->db = v.grad;
    }
    L->nw = L->nb = L->dnw = L->dnb = L->rm = L->rv = NULL;
    if (L->norm == NORM_BATCH) {
        snprintf(n, sizeof n, "%s.norm.weight", pfx);
        v = params_view(ps, n);
        L->nw = v.data, L->dnw = v.grad;
        snprintf(n, sizeof n, "%s.norm.bias", pfx);
        v = params_view(ps, n);
        L->nb = v.data, L->dnb = v.grad;
        snprintf(n, sizeof n, "%s.norm.running_mean", pfx);
        L->rm = params_view(ps, n).data;
        snprintf(n, sizeof n, "%s.norm.running_var", pfx);
        L->rv = params_view(ps, n).data;
    }
}

/* The layer's activations: z, f (separate only with a norm), statistics, mask. */
static void layer_acts(arena_t *a, unet_layer_t *L, int cap) {
    size_t n = (size_t)cap * plane_out(L);
    L->z = take(a, n);
    L->f = L->norm ? take(a, n) : L->z;
    size_t ns = L->norm == NORM_INSTANCE ? (size_t)cap * L->cout : (size_t)L->cout;
    L->mean = L->norm ? take(a, ns) : NULL;
    L->rstd = L->norm ? take(a, ns) : NULL;
}

static size_t layer_ws(const unet_layer_t *L, int cap, int nt) {
    size_t best = 0;
    conv2d_dims_t d = L->dims;
    for (int N = 1; N <= cap; N++) {
        d.N = N;
        size_t s = L->transposed ? conv_transpose2d_ws_size(&d, nt) : conv2d_ws_size(&d, nt);
        if (s > best) best = s;
    }
    return best;
}

static void fill_uniform(float *x, size_t n, double bound, rng_t *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_range(r, -bound, bound);
}
static void fill_normal(float *x, size_t n, double mean, double std, rng_t *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(mean + std * rng_normal(r));
}

static void layer_init(unet_layer_t *L, int kind, rng_t *r) {
    size_t nw = (size_t)L->cin * L->cout * 16;
    if (kind == UNET_INIT_TORCH) {
        double fan_in = (double)(L->transposed ? L->cout : L->cin) * 16, bound = 1 / sqrt(fan_in);
        fill_uniform(L->w, nw, bound, r);
        if (L->b) fill_uniform(L->b, (size_t)L->cout, bound, r);
        if (L->nw)
            for (int c = 0; c < L->cout; c++) L->nw[c] = 1, L->nb[c] = 0;
    } else {
        fill_normal(L->w, nw, 0, 0.02, r);
        if (L->b) memset(L->b, 0, sizeof(float) * (size_t)L->cout);
        if (L->nw) {
            fill_normal(L->nw, (size_t)L->cout, 1, 0.02, r);
            memset(L->nb, 0, sizeof(float) * (size_t)L->cout);
        }
    }
    if (L->rm)
        for (int c = 0; c < L->cout; c++) L->rm[c] = 0, L->rv[c] = 1;
}

#define KERR_SET (-1000) /* the callee has set e (a data-parallel collective failed) */
static int kerr(err_t *e, int rc, const char *what, int k) {
    if (rc == KERR_SET) return err_prefix(e, "%s%d", what, k);
    return rc ? err_set(e, EXIT_INTERNAL, "%s%d: a kernel refused its arguments (code %d)", what, k, rc) : 0;
}

static int conv_fwd(const nn_par_t *par, unet_layer_t *L, const float *in, int B, float *ws, size_t nws) {
    conv2d_dims_t d = L->dims;
    d.N = B;
    return L->transposed ? conv_transpose2d_forward(par, L->z, in, L->w, L->b, &d, ws, nws)
                         : conv2d_forward(par, L->z, in, L->w, L->b, &d, ws, nws);
}

static int conv_bwd(const nn_par_t *par, unet_layer_t *L, float *din, const float *dz, const float *in, int B,
                    int frozen, float *ws, size_t nws) {
    conv2d_dims_t d = L->dims;
    d.N = B;
    float *dw = frozen ? NULL : L->dw, *db = frozen ? NULL : L->db;
    return L->transposed ? conv_transpose2d_backward(par, din, dw, db, dz, in, L->w, &d, ws, nws)
                         : conv2d_backward(par, din, dw, db, dz, in, L->w, &d, ws, nws);
}

static int norm_fwd(const nn_par_t *par, unet_layer_t *L, int B, int train, float eps, float mom, err_t *e) {
    int C = L->cout, HW = L->hout * L->hout;
    if (L->norm == NORM_BATCH && train && L->dist && L->dist->size > 1) /* the global batch's statistics */
        return dist_bn_forward(L->dist, L->f, L->mean, L->rstd, L->z, L->nw, L->nb, L->rm, L->rv, B, C, HW, eps, mom,
                               L->dsum, e) ? KERR_SET : 0;
    if (L->norm == NORM_BATCH)
        return train ? batchnorm2d_forward(par, L->f, L->mean, L->rstd, L->z, L->nw, L->nb, L->rm, L->rv, B, C, HW,
                                           eps, mom)
                     : batchnorm2d_forward_eval(par, L->f, L->z, L->nw, L->nb, L->rm, L->rv, B, C, HW, eps);
    return instancenorm2d_forward(par, L->f, L->mean, L->rstd, L->z, NULL, NULL, B, C, HW, eps);
}

static int norm_bwd(const nn_par_t *par, unet_layer_t *L, float *dz, const float *df, int B, int train,
                    int frozen, float eps, err_t *e) {
    int C = L->cout, HW = L->hout * L->hout;
    float *dw = frozen ? NULL : L->dnw, *db = frozen ? NULL : L->dnb;
    if (L->norm == NORM_BATCH && train && L->dist && L->dist->size > 1)
        return dist_bn_backward(L->dist, dz, dw, db, df, L->z, L->mean, L->rstd, L->nw, B, C, HW, L->dsum, e) ? KERR_SET
                                                                                                         : 0;
    if (L->norm == NORM_BATCH)
        return train ? batchnorm2d_backward(par, dz, dw, db, df, L->z, L->mean, L->rstd, L->nw, B, C, HW)
                     : batchnorm2d_backward_eval(par, dz, dw, db, df, L->z, L->rm, L->rv, L->nw, B, C, HW, eps);
    return instancenorm2d_backward(par, dz, NULL, NULL, df, L->z, L->mean, L->rstd, NULL, B, C, HW);
}

/* Training-mode norms need two values per statistic (PyTorch refuses too). */
static int norm_batch_check(const unet_layer_t *L, int n, int B, int train, const char *pfx, int base, err_t *e) {
    for (int i = 0; i < n; i++) {
        int hw = L[i].hout * L[i].hout;
        if ((L[i].norm == NORM_BATCH && train && B * hw < 2) || (L[i].norm == NORM_INSTANCE && hw < 2))
            return err_set(e, EXIT_USAGE,
                           "%s%d: %s norm over a %dx%d map needs more than one value per channel (batch %d)", pfx,
                           i + base, L[i].norm == NORM_BATCH ? "batch" : "instance", L[i].hout, L[i].hout, B);
    }
    return 0;
}

static void zero(const nn_par_t *par, float *x, size_t n) { adamw_zero(x, n, par); }

/* a free gradient buffer: one of g[0..ng) that is none of the busy ones */
static float *other(float *const *g, int ng, const float *b0, const float *b1, const float *b2) {
    for (int i = 0; i < ng; i++)
        if (g[i] != b0 && g[i] != b1 && g[i] != b2) return g[i];
    return NULL;
}

static int grow_ws(float **ws, size_t *nws, int *ws_threads, const unet_layer_t *L, int n, int cap,
                   const nn_par_t *par, err_t *e) {
    int nt = nn_nthreads(par);
    if (*ws && nt == *ws_threads) return 0;
    size_t need = 0;
    for (int i = 0; i < n; i++) {
        size_t s = layer_ws(&L[i], cap, nt);
        if (s > need) need = s;
    }
    if (!*ws || need > *nws) {
        float *p = malloc(sizeof(float) * (need ? need : 1));
        if (!p) return err_set(e, EXIT_INTERNAL, "out of memory (convolution scratch, %zu floats)", need);
        free(*ws);
        *ws = p;
        *nws = need;
    }
    *ws_threads = nt;
    return 0;
}

static float *alloc_block(size_t n, err_t *e, const char *what) {
    float *p = NULL;
    if (posix_memalign((void **)&p, 64, sizeof(float) * (n ? n : 1))) {
        err_set(e, EXIT_INTERNAL, "out of memory (%s, %zu floats)", what, n);
        return NULL;
    }
    memset(p, 0, sizeof(float) * (n ? n : 1));
    return p;
}

/* ---------------------------------------------------- bilinear resizing */

/* F.interpolate(mode='bilinear', align_corners=False, antialias=False) as a
 * resize.h plan: source = (i + 0.5) * in/out - 0.5, clamped at 0, two taps. */
typedef struct {
    resize_axis_t in_ax, out_ax; /* io -> S and S -> io */
} rplans_t;

static int bilinear_plan(resize_axis_t *ax, int n_in, int n_out) {
    ax->n_in = n_in;
    ax->n_out = n_out;
    ax->ntaps = RESIZE_TAPS(n_in, n_out);
    ax->first = malloc(sizeof(int) * (size_t)n_out);
    ax->count = malloc(sizeof(int) * (size_t)n_out);
    ax->w = calloc((size_t)n_out * ax->ntaps, sizeof(float));
    if (!ax->first || !ax->count || !ax->w) return 1;
    float scale = (float)n_in / (float)n_out;
    for (int i = 0; i < n_out; i++) {
        float src = scale * ((float)i + 0.5f) - 0.5f;
        if (src < 0) src = 0;
        int x0 = (int)src;
        if (x0 > n_in - 1) x0 = n_in - 1;
        int x1 = x0 + 1 < n_in ? x0 + 1 : n_in - 1;
        float l1 = src - (float)x0, l0 = 1.0f - l1;
        float *w = ax->w + (size_t)i * ax->ntaps;
        ax->first[i] = x0;
        if (x1 == x0) {
            ax->count[i] = 1;
            w[0] = 1;
        } else {
            ax->count[i] = 2;
            w[0] = l0;
            w[1] = l1;
        }
    }
    return 0;
}

static void plan_free(resize_axis_t *ax) {
    free(ax->first);
    free(ax->count);
    free(ax->w);
}

/* ============================================================ generator */

unet_config_t unet_study_config(int base) {
    unet_config_t c = {.arch = UNET_ARCH_STUDY, .norm = UNET_NORM_BATCH, .init = UNET_INIT_TORCH,
                       .in_ch = 1, .out_ch = 1, .base = base, .depth = 8, .size = 256, .io_size = 224,
                       .n_dropout = 3, .dropout = 0.5f, .slope = 0.2f, .bn_eps = 1e-5f, .bn_momentum = 0.1f};
    return c;
}

unet_config_t unet_pix2pix_config(int in_ch, int out_ch, int base) {
    unet_config_t c = {.arch = UNET_ARCH_PIX2PIX, .norm = UNET_NORM_BATCH, .init = UNET_INIT_NORMAL,
                       .in_ch = in_ch, .out_ch = out_ch, .base = base, .depth = 8, .size = 256, .io_size = 0,
                       .n_dropout = -1, .dropout = 0.5f, .slope = 0.2f, .bn_eps = 1e-5f, .bn_momentum = 0.1f};
    return c;
}

static int unet_check(const unet_config_t *c, err_t *e) {
    if (c->arch != UNET_ARCH_STUDY && c->arch != UNET_ARCH_PIX2PIX)
        return err_set(e, EXIT_USAGE, "unknown U-Net architecture %d", c->arch);
    if (c->norm != UNET_NORM_BATCH && c->norm != UNET_NORM_INSTANCE)
        return err_set(e, EXIT_USAGE, "unknown norm %d", c->norm);
    if (c->init != UNET_INIT_TORCH && c->init != UNET_INIT_NORMAL)
        return err_set(e, EXIT_USAGE, "unknown initialisation %d", c->init);
    const struct {
        const char *name;
        int v, lo, hi;
    } r[] = {{"input channels", c->in_ch, 1, 64}, {"output channels", c->out_ch, 1, 64},
             {"base width", c->base, 1, 1024},    {"depth", c->depth, 2, UNET_MAX_DEPTH},
             {"size", c->size, 2, 4096},          {"io size", c->io_size, 0, 4096},
             {"dropout levels", c->n_dropout, -1, UNET_MAX_DEPTH}};
    for (size_t i = 0; i < sizeof r / sizeof *r; i++)
        if (r[i].v < r[i].lo || r[i].v > r[i].hi)
            return err_set(e, EXIT_USAGE, "%s %d is out of range (%d..%d)", r[i].name, r[i].v, r[i].lo, r[i].hi);
    if (c->size % (1 << c->depth))
        return err_set(e, EXIT_USAGE, "size %d is not a multiple of 2^depth = %d", c->size, 1 << c->depth);
    if (c->n_dropout > c->depth - 1)
        return err_set(e, EXIT_USAGE, "dropout levels %d: at most depth - 1 = %d", c->n_dropout, c->depth - 1);
    if (!(c->dropout >= 0 && c->dropout <= 1)) return err_set(e, EXIT_USAGE, "dropout %g is not in [0,1]", c->dropout);
    if (!(c->slope >= 0 && c->slope < 1e3)) return err_set(e, EXIT_USAGE, "LeakyReLU slope %g", c->slope);
    if (!(c->bn_eps > 0 && c->bn_eps < 1)) return err_set(e, EXIT_USAGE, "norm eps %g", c->bn_eps);
    if (!(c->bn_momentum >= 0 && c->bn_momentum <= 1))
        return err_set(e, EXIT_USAGE, "batch-norm momentum %g is not in [0,1]", c->bn_momentum);
    return 0;
}

static int chan(const unet_config_t *c, int k) { /* c_k, k = 1..depth */
    int m = k - 1 < 3 ? 1 << (k - 1) : 8;
    return c->base * m;
}

/* Fill the layer geometry of every level. */
static void unet_geom(unet_t *m, const unet_config_t *c) {
    int d = c->depth, S = c->size, nrm = c->norm == UNET_NORM_BATCH ? NORM_BATCH : NORM_INSTANCE;
    int inst = nrm == NORM_INSTANCE, study = c->arch == UNET_ARCH_STUDY;
    int ndrop = c->n_dropout >= 0 ? c->n_dropout : (d - 5 > 0 ? d - 5 : 0);
    for (int k = 1; k <= d; k++) {
        int norm = (k == 1 || k == d) ? NORM_NONE : nrm;
        int bias = inst || (study && !norm);
        layer_geom(&m->enc[k - 1], 0, k == 1 ? c->in_ch : chan(c, k - 1), chan(c, k), S >> (k - 1), 2, bias, norm);
        m->enc[k - 1].drop = 0;
    }
    for (int k = d; k >= 1; k--) {
        int norm = k == 1 ? NORM_NONE : nrm;
        int bias = k == 1 || inst;
        int cin = k == d ? chan(c, d) : 2 * chan(c, k);
        int cout = k == 1 ? c->out_ch : chan(c, k - 1);
        unet_layer_t *L = &m->dec[k - 1];
        layer_geom(L, 1, cin, cout, S >> k, 2, bias, norm);
        /* study: the ndrop innermost decoders d, d-1, ...; pix2pix: d-1, d-2, ... */
        int top = study ? d : d - 1;
        L->drop = k >= 2 && k <= top && k > top - ndrop;
    }
}

static void unet_declare(unet_t *m) {
    char p[32];
    for (int k = 1; k <= m->cfg.depth; k++) {
        snprintf(p, sizeof p, "enc%d", k);
        layer_declare(&m->ps, &m->enc[k - 1], p);
    }
    for (int k = m->cfg.depth; k >= 1; k--) {
        snprintf(p, sizeof p, "dec%d", k);
        layer_declare(&m->ps, &m->dec[k - 1], p);
    }
}

static size_t trainable(const params_t *ps) {
    size_t n = 0;
    for (int i = 0; i < ps->n; i++)
        if (!strstr(ps->t[i].name, ".running_")) n += ps->t[i].numel;
    return n;
}

size_t unet_param_count(const unet_config_t *cfg) {
    if (unet_check(cfg, NULL)) return 0;
    unet_t m;
    memset(&m, 0, sizeof m);
    m.cfg = *cfg;
    params_init(&m.ps);
    unet_geom(&m, cfg);
    unet_declare(&m);
    size_t n = m.ps.err.code ? 0 : trainable(&m.ps);
    params_free(&m.ps);
    return n;
}

/* Lay out the activations (a.base NULL: count only). */
static void unet_layout(unet_t *m, arena_t *a) {
    const unet_config_t *c = &m->cfg;
    int d = c->depth, S = c->size, cap = m->cap;
    m->x0 = take(a, (size_t)cap * c->in_ch * S * S);
    for (int k = 1; k <= d; k++) {
        unet_layer_t *L = &m->enc[k - 1];
        layer_acts(a, L, cap);
        m->a[k - 1] = L->f; /* lrelu in place: its sign is f's, which is all the backward needs */
    }
    for (int k = d; k >= 1; k--) {
        unet_layer_t *L = &m->dec[k - 1];
        m->cat[k - 1] = take(a, (size_t)cap * plane_in(L));
        layer_acts(a, L, cap);
        L->mask = NULL;
    }
    m->out = take(a, (size_t)cap * c->out_ch * S * S);
    if (c->io_size && c->io_size != S) {
        size_t io = (size_t)c->io_size, ch = (size_t)(c->in_ch > c->out_ch ? c->in_ch : c->out_ch);
        size_t t1 = (size_t)cap * ch * io * S, t2 = (size_t)cap * ch * S * io; /* (C,H,w) of each direction */
        m->rtmp = take(a, t1 > t2 ? t1 : t2);
    } else {
        m->rtmp = NULL;
    }
}

static int unet_ws(unet_t *m, err_t *e);

int unet_init(unet_t *m, const unet_config_t *cfg, int cap, const nn_par_t *par, err_t *e) {
    memset(m, 0, sizeof *m);
    int rc = unet_check(cfg, e);
    if (rc) return rc;
    if (cap < 1 || cap > 4096) return err_set(e, EXIT_USAGE, "batch %d is out of range (1..4096)", cap);
    m->cfg = *cfg;
    m->cap = cap;
    m->par = par ? *par : (nn_par_t){0};
    m->train = 1;
    m->nd = cfg->depth;
    m->S = cfg->size;
    m->io = cfg->io_size ? cfg->io_size : cfg->size;
    unet_geom(m, cfg);
    params_init(&m->ps);
    unet_declare(m);
    if ((rc = params_alloc(&m->ps, PARAMS_TRAIN, e))) {
        params_free(&m->ps);
        return rc;
    }
    char p[32];
    for (int k = 1; k <= cfg->depth; k++) {
        snprintf(p, sizeof p, "enc%d", k);
        layer_bind(&m->ps, &m->enc[k - 1], p);
        snprintf(p, sizeof p, "dec%d", k);
        layer_bind(&m->ps, &m->dec[k - 1], p);
    }
    arena_t a = {0};
    unet_layout(m, &a);
    m->act_floats = a.n;
    if (!(m->act = alloc_block(a.n, e, "U-Net activations"))) goto fail;
    a.base = m->act;
    a.n = 0;
    unet_layout(m, &a);
    /* dropout masks */
    size_t nmask = 0;
    for (int k = 1; k <= cfg->depth; k++)
        if (m->dec[k - 1].drop) nmask += (size_t)cap * plane_out(&m->dec[k - 1]);
    if (!(m->masks = malloc(nmask ? nmask : 1))) {
        rc = err_set(e, EXIT_INTERNAL, "out of memory (dropout masks)");
        goto fail;
    }
    size_t off = 0;
    for (int k = 1; k <= cfg->depth; k++)
        if (m->dec[k - 1].drop) {
            m->dec[k - 1].mask = m->masks + off;
            off += (size_t)cap * plane_out(&m->dec[k - 1]);
        }
    /* gradient block: four scratch buffers of the largest activation, and the skips' gradients */
    size_t gmax = (size_t)cap * cfg->in_ch * m->S * m->S;
    for (int k = 0; k < cfg->depth; k++) {
        const unet_layer_t *L2[2] = {&m->enc[k], &m->dec[k]};
        for (int j = 0; j < 2; j++) {
            size_t s1 = (size_t)cap * plane_in(L2[j]), s2 = (size_t)cap * plane_out(L2[j]);
            if (s1 > gmax) gmax = s1;
            if (s2 > gmax) gmax = s2;
        }
    }
    gmax = (gmax + 15) & ~(size_t)15;
    size_t gn = 4 * gmax;
    for (int k = 1; k < cfg->depth; k++) gn += ((size_t)cap * plane_out(&m->enc[k - 1]) + 15) & ~(size_t)15;
    m->gmax = gmax;
    m->gblock_floats = gn;
    if (!(m->gblock = alloc_block(gn, e, "U-Net gradients"))) goto fail;
    for (int i = 0; i < 4; i++) m->g[i] = m->gblock + (size_t)i * gmax;
    off = 4 * gmax;
    for (int k = 1; k < cfg->depth; k++) {
        m->dskip[k - 1] = m->gblock + off;
        off += ((size_t)cap * plane_out(&m->enc[k - 1]) + 15) & ~(size_t)15;
    }
    if (m->io != m->S) {
        rplans_t *rp = calloc(1, sizeof *rp);
        m->rplan = rp;
        if (!rp || bilinear_plan(&rp->in_ax, m->io, m->S) || bilinear_plan(&rp->out_ax, m->S, m->io)) {
            rc = err_set(e, EXIT_INTERNAL, "out of memory (resize plans)");
            goto fail;
        }
    }
    if ((rc = unet_ws(m, e))) goto fail;
    return 0;
fail:
    if (!rc) rc = EXIT_INTERNAL;
    unet_free(m);
    return rc;
}

static void layers_set_dist(unet_layer_t *L, int n, const dist_t *d, double **dsum) {
    int maxc = 1;
    for (int i = 0; i < n; i++) maxc = L[i].cout > maxc ? L[i].cout : maxc;
    free(*dsum);
    *dsum = d && d->size > 1 ? xcalloc(2 * (size_t)maxc, sizeof **dsum) : NULL;
    for (int i = 0; i < n; i++) L[i].dist = d, L[i].dsum = *dsum;
}

void unet_set_dist(unet_t *m, const dist_t *d, int row0) {
    int maxc = 1;
    for (int i = 0; i < UNET_MAX_DEPTH; i++) {
        maxc = m->enc[i].cout > maxc ? m->enc[i].cout : maxc;
        maxc = m->dec[i].cout > maxc ? m->dec[i].cout : maxc;
    }
    free(m->dsum);
    m->dsum = d && d->size > 1 ? xcalloc(2 * (size_t)maxc, sizeof *m->dsum) : NULL;
    for (int i = 0; i < UNET_MAX_DEPTH; i++) {
        m->enc[i].dist = m->dec[i].dist = d;
        m->enc[i].dsum = m->dec[i].dsum = m->dsum;
    }
    m->dropout_row0 = d && d->size > 1 ? row0 : 0;
}

void patchgan_set_dist(patchgan_t *p, const dist_t *d) { layers_set_dist(p->l, p->nl, d, &p->dsum); }

void unet_free(unet_t *m) {
    free(m->dsum);
    params_free(&m->ps);
    free(m->act);
    free(m->gblock);
    free(m->masks);
    free(m->ws);
    if (m->rplan) {
        rplans_t *rp = m->rplan;
        plan_free(&rp->in_ax);
        plan_free(&rp->out_ax);
        free(rp);
    }
    memset(m, 0, sizeof *m);
}

void unet_init_weights(unet_t *m, rng_t *r) {
    for (int k = 1; k <= m->nd; k++) layer_init(&m->enc[k - 1], m->cfg.init, r);
    for (int k = m->nd; k >= 1; k--) layer_init(&m->dec[k - 1], m->cfg.init, r);
}

/* Make sure the conv scratch fits the current thread count (allocates only
 * when the count changed). */
static int unet_ws(unet_t *m, err_t *e) {
    int nt = nn_nthreads(&m->par);
    if (m->ws && nt == m->ws_threads) return 0;
    size_t need = 0;
    for (int k = 0; k < m->nd; k++) {
        size_t s1 = layer_ws(&m->enc[k], m->cap, nt), s2 = layer_ws(&m->dec[k], m->cap, nt);
        if (s1 > need) need = s1;
        if (s2 > need) need = s2;
    }
    if (need > m->nws) {
        float *q = malloc(sizeof(float) * need);
        if (!q) return err_set(e, EXIT_INTERNAL, "out of memory (convolution scratch)");
        free(m->ws);
        m->ws = q;
        m->nws = need;
    }
    m->ws_threads = nt;
    return 0;
}

int unet_forward(unet_t *m, const float *x, int B, float *out, err_t *e) {
    const unet_config_t *c = &m->cfg;
    const nn_par_t *par = &m->par;
    int d = m->nd, S = m->S, rc;
    if (B < 1 || B > m->cap) return err_set(e, EXIT_USAGE, "batch %d is out of range (1..%d)", B, m->cap);
    if (!x || !out) return err_set(e, EXIT_INTERNAL, "unet_forward: NULL input or output");
    if ((rc = norm_batch_check(m->enc, d, B, m->train, "enc", 1, e)) ||
        (rc = norm_batch_check(m->dec, d, B, m->train, "dec", 1, e)) || (rc = unet_ws(m, e)))
        return rc;
    m->B = 0;
    int train = m->train;
    nn_act_t lrelu = {NN_ACT_LEAKY_RELU, c->slope}, relu = {NN_ACT_RELU, 0}, none = {NN_ACT_NONE, 0};
    int study = c->arch == UNET_ARCH_STUDY;
    nn_act_t a_skip = study ? none : relu;
    size_t nin = (size_t)B * c->in_ch * S * S;
    if (m->rplan) {
        rplans_t *rp = m->rplan;
        resize_forward(m->x0, m->rtmp, x, &rp->in_ax, &rp->in_ax, B * c->in_ch);
    } else {
        memcpy(m->x0, x, sizeof(float) * nin);
    }
    const float *in = m->x0;
    for (int k = 1; k <= d; k++) {
        unet_layer_t *L = &m->enc[k - 1];
        if ((rc = kerr(e, conv_fwd(par, L, in, B, m->ws, m->nws), "enc", k))) return rc;
        if (L->norm && (rc = kerr(e, norm_fwd(par, L, B, train, c->bn_eps, c->bn_momentum, e), "enc", k))) return rc;
        act_forward(par, m->a[k - 1], L->f, lrelu, (size_t)B * plane_out(L));
        in = m->a[k - 1];
    }
    /* the innermost decoder's input A(f_d), from a_d = lrelu(f_d): the study's A is
     * that lrelu (a copy), pix2pix's relu(a_d) = relu(f_d) */
    act_forward(par, m->cat[d - 1], m->a[d - 1], study ? none : relu, (size_t)B * plane_out(&m->enc[d - 1]));
    for (int k = d; k >= 1; k--) {
        unet_layer_t *L = &m->dec[k - 1];
        if ((rc = kerr(e, conv_fwd(par, L, m->cat[k - 1], B, m->ws, m->nws), "dec", k))) return rc;
        size_t n = (size_t)B * plane_out(L);
        if (k == 1) {
            act_forward(par, m->out, L->z, (nn_act_t){NN_ACT_TANH, 0}, n);
            break;
        }
        if ((rc = kerr(e, norm_fwd(par, L, B, train, c->bn_eps, c->bn_momentum, e), "dec", k))) return rc;
        if (L->drop && (train || m->eval_dropout) && m->dropout_row0) { /* a slice of a global batch */
            uint64_t off = (uint64_t)m->dropout_row0 * plane_out(L);
            float sc = c->dropout < 1 ? 1.0f / (1.0f - c->dropout) : 0.0f;
            for (size_t i = 0; i < n; i++) {
                L->mask[i] = (unsigned char)dropout_keep(m->dropout_seed, (uint64_t)k, off + i, c->dropout);
                L->f[i] = L->mask[i] ? L->f[i] * sc : 0.0f;
            }
        } else if (L->drop && (train || m->eval_dropout) &&
            (rc = kerr(e, dropout_forward(par, L->f, L->mask, L->f, n, c->dropout, m->dropout_seed, (uint64_t)k),
                       "dec", k)))
            return rc;
        /* cat_{k-1}: [relu(u_k), skip] (study) or [relu(skip), relu(u_k)] (pix2pix) */
        size_t P = plane_out(L);
        float *cat = m->cat[k - 2];
        const float *skip = m->a[k - 2];
        for (int b = 0; b < B; b++) {
            float *dst = cat + (size_t)b * 2 * P;
            act_forward(par, dst + (study ? 0 : P), L->f + (size_t)b * P, relu, P);
            act_forward(par, dst + (study ? P : 0), skip + (size_t)b * P, a_skip, P);
        }
    }
    size_t nout = (size_t)B * c->out_ch * S * S;
    if (m->rplan) {
        rplans_t *rp = m->rplan;
        resize_forward(out, m->rtmp, m->out, &rp->out_ax, &rp->out_ax, B * c->out_ch);
    } else {
        memcpy(out, m->out, sizeof(float) * nout);
    }
    m->B = B;
    m->last_train = train;
    m->last_drop = train || m->eval_dropout;
    return 0;
}

int unet_backward(unet_t *m, const float *dout, float *dx, err_t *e) {
    const unet_config_t *c = &m->cfg;
    const nn_par_t *par = &m->par;
    int d = m->nd, S = m->S, B = m->B, train = m->last_train, fz = m->frozen, rc;
    if (!B) return err_set(e, EXIT_INTERNAL, "unet_backward without a forward");
    if (!dout) return err_set(e, EXIT_INTERNAL, "unet_backward: NULL gradient");
    if ((rc = unet_ws(m, e))) return rc;
    nn_act_t lrelu = {NN_ACT_LEAKY_RELU, c->slope}, relu = {NN_ACT_RELU, 0}, none = {NN_ACT_NONE, 0};
    int study = c->arch == UNET_ARCH_STUDY;
    nn_act_t a_inner = study ? lrelu : relu, a_skip = study ? none : relu;
    float *const *g = m->g;
    /* d out (inside size) -> d pre-tanh */
    size_t nout = (size_t)B * c->out_ch * S * S;
    float *gO = g[0], *gY = g[1];
    if (m->rplan) {
        rplans_t *rp = m->rplan;
        zero(par, gO, nout);
        resize_backward(gO, m->rtmp, dout, &rp->out_ax, &rp->out_ax, B * c->out_ch);
    } else {
        memcpy(gO, dout, sizeof(float) * nout);
    }
    zero(par, gY, nout);
    act_backward(par, gY, gO, m->dec[0].z, (nn_act_t){NN_ACT_TANH, 0}, nout);
    float *gcat = g[2];
    zero(par, gcat, (size_t)B * plane_in(&m->dec[0]));
    if ((rc = kerr(e, conv_bwd(par, &m->dec[0], gcat, gY, m->cat[0], B, fz, m->ws, m->nws), "dec", 1))) return rc;
    for (int k = 2; k <= d; k++) {
        unet_layer_t *L = &m->dec[k - 1];
        size_t P = plane_out(L), n = (size_t)B * P;
        /* split d cat_{k-1} into d relu(u_k) -> d u_k, and the skip's gradient */
        float *gU = other(g, 4, gcat, NULL, NULL), *ds = m->dskip[k - 2];
        zero(par, gU, n);
        zero(par, ds, n);
        for (int b = 0; b < B; b++) {
            const float *src = gcat + (size_t)b * 2 * P;
            act_backward(par, gU + (size_t)b * P, src + (study ? 0 : P), L->f + (size_t)b * P, relu, P);
            act_backward(par, ds + (size_t)b * P, src + (study ? P : 0), m->a[k - 2] + (size_t)b * P, a_skip, P);
        }
        float *gN = gU;
        if (L->drop && m->last_drop) {
            gN = other(g, 4, gcat, gU, NULL);
            zero(par, gN, n);
            if ((rc = kerr(e, dropout_backward(par, gN, gU, L->mask, n, c->dropout), "dec", k))) return rc;
        }
        float *gZ = other(g, 4, gcat, gU, gN);
        zero(par, gZ, n);
        if ((rc = kerr(e, norm_bwd(par, L, gZ, gN, B, train, fz, c->bn_eps, e), "dec", k))) return rc;
        float *gIn = other(g, 4, gZ, gcat, NULL); /* gU/gN are free now */
        zero(par, gIn, (size_t)B * plane_in(L));
        if ((rc = kerr(e, conv_bwd(par, L, gIn, gZ, m->cat[k - 1], B, fz, m->ws, m->nws), "dec", k))) return rc;
        gcat = gIn;
    }
    /* encoder: gcat = d A(f_d) */
    unet_layer_t *Ld = &m->enc[d - 1];
    float *gF = other(g, 4, gcat, NULL, NULL);
    zero(par, gF, (size_t)B * plane_out(Ld));
    act_backward(par, gF, gcat, Ld->f, a_inner, (size_t)B * plane_out(Ld));
    for (int k = d; k >= 1; k--) {
        unet_layer_t *L = &m->enc[k - 1];
        float *gZ = gF;
        if (L->norm) {
            gZ = other(g, 4, gF, NULL, NULL);
            zero(par, gZ, (size_t)B * plane_out(L));
            if ((rc = kerr(e, norm_bwd(par, L, gZ, gF, B, train, fz, c->bn_eps, e), "enc", k))) return rc;
        }
        if (k > 1) {
            size_t n = (size_t)B * plane_in(L);
            float *gA = other(g, 4, gZ, gF, NULL);
            zero(par, gA, n);
            if ((rc = kerr(e, conv_bwd(par, L, gA, gZ, m->a[k - 2], B, fz, m->ws, m->nws), "enc", k))) return rc;
            const float *ds = m->dskip[k - 2];
            for (size_t i = 0; i < n; i++) gA[i] += ds[i];
            float *gF2 = other(g, 4, gA, NULL, NULL);
            zero(par, gF2, n);
            act_backward(par, gF2, gA, m->enc[k - 2].f, lrelu, n);
            gF = gF2;
        } else {
            float *gx = NULL;
            size_t nin = (size_t)B * c->in_ch * S * S;
            if (dx) {
                gx = m->rplan ? other(g, 4, gZ, NULL, NULL) : dx;
                if (m->rplan) zero(par, gx, nin);
            }
            if ((rc = kerr(e, conv_bwd(par, L, gx, gZ, m->x0, B, fz, m->ws, m->nws), "enc", 1))) return rc;
            if (dx && m->rplan) {
                rplans_t *rp = m->rplan;
                resize_backward(dx, m->rtmp, gx, &rp->in_ax, &rp->in_ax, B * c->in_ch);
            }
        }
    }
    return 0;
}

/* ============================================================ PatchGAN */

patchgan_config_t patchgan_default_config(int a_ch, int b_ch, int size) {
    patchgan_config_t c = {.norm = UNET_NORM_BATCH, .init = UNET_INIT_NORMAL, .a_ch = a_ch, .b_ch = b_ch,
                           .ndf = 64, .n_layers = 3, .size = size, .slope = 0.2f, .bn_eps = 1e-5f,
                           .bn_momentum = 0.1f};
    return c;
}

static void pg_geom(patchgan_t *d, const patchgan_config_t *c, int *oh) {
    int nrm = c->norm == UNET_NORM_BATCH ? NORM_BATCH : NORM_INSTANCE, inst = nrm == NORM_INSTANCE;
    int h = c->size, cin = c->a_ch + c->b_ch, nf = c->ndf, n = c->n_layers;
    layer_geom(&d->l[0], 0, cin, nf, h, 2, 1, NORM_NONE);
    h = d->l[0].hout;
    int prev = nf;
    for (int i = 1; i <= n; i++) {
        int mult = i < 3 ? 1 << i : 8, stride = i < n ? 2 : 1;
        layer_geom(&d->l[i], 0, prev, c->ndf * mult, h, stride, inst, nrm);
        h = d->l[i].hout;
        prev = c->ndf * mult;
    }
    layer_geom(&d->l[n + 1], 0, prev, 1, h, 1, 1, NORM_NONE);
    *oh = d->l[n + 1].hout;
    d->nl = n + 2;
    for (int i = 0; i < d->nl; i++) d->l[i].drop = 0, d->l[i].mask = NULL;
}

static int pg_check(const patchgan_config_t *c, err_t *e) {
    if (c->norm != UNET_NORM_BATCH && c->norm != UNET_NORM_INSTANCE)
        return err_set(e, EXIT_USAGE, "unknown norm %d", c->norm);
    if (c->init != UNET_INIT_TORCH && c->init != UNET_INIT_NORMAL)
        return err_set(e, EXIT_USAGE, "unknown initialisation %d", c->init);
    const struct {
        const char *name;
        int v, lo, hi;
    } r[] = {{"condition channels", c->a_ch, 0, 64}, {"judged channels", c->b_ch, 1, 64},
             {"discriminator width", c->ndf, 1, 1024}, {"discriminator layers", c->n_layers, 1, PATCHGAN_MAX_LAYERS},
             {"size", c->size, 2, 4096}};
    for (size_t i = 0; i < sizeof r / sizeof *r; i++)
        if (r[i].v < r[i].lo || r[i].v > r[i].hi)
            return err_set(e, EXIT_USAGE, "%s %d is out of range (%d..%d)", r[i].name, r[i].v, r[i].lo, r[i].hi);
    if (!(c->slope >= 0 && c->slope < 1e3)) return err_set(e, EXIT_USAGE, "LeakyReLU slope %g", c->slope);
    if (!(c->bn_eps > 0 && c->bn_eps < 1)) return err_set(e, EXIT_USAGE, "norm eps %g", c->bn_eps);
    if (!(c->bn_momentum >= 0 && c->bn_momentum <= 1))
        return err_set(e, EXIT_USAGE, "batch-norm momentum %g is not in [0,1]", c->bn_momentum);
    /* every map must keep at least one pixel */
    int h = c->size;
    for (int i = 0; i <= c->n_layers + 1; i++) {
        int stride = (i == 0 || i < c->n_layers) ? 2 : 1;
        h = (h + 2 - 4) / stride + 1;
        if (h < 1)
            return err_set(e, EXIT_USAGE, "size %d is too small for a %d-layer discriminator", c->size, c->n_layers);
    }
    return 0;
}

static void pg_declare(patchgan_t *d) {
    char p[32];
    for (int i = 0; i < d->nl; i++) {
        snprintf(p, sizeof p, "layer%d", i);
        layer_declare(&d->ps, &d->l[i], p);
    }
}

int patchgan_out_size(const patchgan_config_t *cfg) {
    if (pg_check(cfg, NULL)) return 0;
    patchgan_t d;
    int oh;
    pg_geom(&d, cfg, &oh);
    return oh;
}

size_t patchgan_param_count(const patchgan_config_t *cfg) {
    if (pg_check(cfg, NULL)) return 0;
    patchgan_t d;
    memset(&d, 0, sizeof d);
    int oh;
    pg_geom(&d, cfg, &oh);
    params_init(&d.ps);
    pg_declare(&d);
    size_t n = d.ps.err.code ? 0 : trainable(&d.ps);
    params_free(&d.ps);
    return n;
}

static void pg_layout(patchgan_t *d, arena_t *a) {
    const patchgan_config_t *c = &d->cfg;
    d->x0 = take(a, (size_t)d->cap * (c->a_ch + c->b_ch) * c->size * c->size);
    for (int i = 0; i < d->nl; i++) {
        layer_acts(a, &d->l[i], d->cap);
        d->a[i] = i < d->nl - 1 ? take(a, (size_t)d->cap * plane_out(&d->l[i])) : NULL;
    }
}

int patchgan_init(patchgan_t *d, const patchgan_config_t *cfg, int cap, const nn_par_t *par, err_t *e) {
    memset(d, 0, sizeof *d);
    int rc = pg_check(cfg, e);
    if (rc) return rc;
    if (cap < 1 || cap > 4096) return err_set(e, EXIT_USAGE, "batch %d is out of range (1..4096)", cap);
    d->cfg = *cfg;
    d->cap = cap;
    d->par = par ? *par : (nn_par_t){0};
    d->train = 1;
    pg_geom(d, cfg, &d->oh);
    params_init(&d->ps);
    pg_declare(d);
    if ((rc = params_alloc(&d->ps, PARAMS_TRAIN, e))) {
        params_free(&d->ps);
        return rc;
    }
    char p[32];
    for (int i = 0; i < d->nl; i++) {
        snprintf(p, sizeof p, "layer%d", i);
        layer_bind(&d->ps, &d->l[i], p);
    }
    arena_t a = {0};
    pg_layout(d, &a);
    d->act_floats = a.n;
    if (!(d->act = alloc_block(a.n, e, "discriminator activations"))) goto fail;
    a.base = d->act;
    a.n = 0;
    pg_layout(d, &a);
    size_t gmax = (size_t)cap * (cfg->a_ch + cfg->b_ch) * cfg->size * cfg->size;
    for (int i = 0; i < d->nl; i++) {
        size_t s = (size_t)cap * plane_out(&d->l[i]);
        if (s > gmax) gmax = s;
    }
    gmax = (gmax + 15) & ~(size_t)15;
    d->gmax = gmax;
    d->gblock_floats = 3 * gmax;
    if (!(d->gblock = alloc_block(3 * gmax, e, "discriminator gradients"))) goto fail;
    for (int i = 0; i < 3; i++) d->g[i] = d->gblock + (size_t)i * gmax;
    if ((rc = grow_ws(&d->ws, &d->nws, &d->ws_threads, d->l, d->nl, cap, &d->par, e))) goto fail;
    return 0;
fail:
    if (!rc) rc = EXIT_INTERNAL;
    patchgan_free(d);
    return rc;
}

void patchgan_free(patchgan_t *d) {
    free(d->dsum);
    params_free(&d->ps);
    free(d->act);
    free(d->gblock);
    free(d->ws);
    memset(d, 0, sizeof *d);
}

void patchgan_init_weights(patchgan_t *d, rng_t *r) {
    for (int i = 0; i < d->nl; i++) layer_init(&d->l[i], d->cfg.init, r);
}

int patchgan_forward(patchgan_t *d, const float *a, const float *b, int B, float *logits, err_t *e) {
    const patchgan_config_t *c = &d->cfg;
    const nn_par_t *par = &d->par;
    int rc;
    if (B < 1 || B > d->cap) return err_set(e, EXIT_USAGE, "batch %d is out of range (1..%d)", B, d->cap);
    if ((c->a_ch && !a) || !b) return err_set(e, EXIT_INTERNAL, "patchgan_forward: NULL input");
    if ((rc = norm_batch_check(d->l, d->nl, B, d->train, "layer", 0, e)) ||
        (rc = grow_ws(&d->ws, &d->nws, &d->ws_threads, d->l, d->nl, d->cap, par, e)))
        return rc;
    d->B = 0;
    size_t HW = (size_t)c->size * c->size, pa = (size_t)c->a_ch * HW, pb = (size_t)c->b_ch * HW;
    for (int n = 0; n < B; n++) {
        float *dst = d->x0 + (size_t)n * (pa + pb);
        if (pa) memcpy(dst, a + (size_t)n * pa, sizeof(float) * pa);
        memcpy(dst + pa, b + (size_t)n * pb, sizeof(float) * pb);
    }
    nn_act_t lrelu = {NN_ACT_LEAKY_RELU, c->slope};
    const float *in = d->x0;
    for (int i = 0; i < d->nl; i++) {
        unet_layer_t *L = &d->l[i];
        if ((rc = kerr(e, conv_fwd(par, L, in, B, d->ws, d->nws), "layer", i))) return rc;
        if (L->norm && (rc = kerr(e, norm_fwd(par, L, B, d->train, c->bn_eps, c->bn_momentum, e), "layer", i)))
            return rc;
        if (i < d->nl - 1) {
            act_forward(par, d->a[i], L->f, lrelu, (size_t)B * plane_out(L));
            in = d->a[i];
        }
    }
    if (logits) memcpy(logits, d->l[d->nl - 1].z, sizeof(float) * (size_t)B * d->oh * d->oh);
    d->B = B;
    d->last_train = d->train;
    return 0;
}

int patchgan_backward(patchgan_t *d, const float *dlogits, float *da, float *db, err_t *e) {
    const patchgan_config_t *c = &d->cfg;
    const nn_par_t *par = &d->par;
    int B = d->B, train = d->last_train, fz = d->frozen, rc;
    if (!B) return err_set(e, EXIT_INTERNAL, "patchgan_backward without a forward");
    if (!dlogits) return err_set(e, EXIT_INTERNAL, "patchgan_backward: NULL gradient");
    if ((rc = grow_ws(&d->ws, &d->nws, &d->ws_threads, d->l, d->nl, d->cap, par, e))) return rc;
    nn_act_t lrelu = {NN_ACT_LEAKY_RELU, c->slope};
    float *const *g = d->g;
    size_t no = (size_t)B * d->oh * d->oh;
    float *gOut = g[0];
    memcpy(gOut, dlogits, sizeof(float) * no);
    for (int i = d->nl - 1; i >= 0; i--) {
        unet_layer_t *L = &d->l[i];
        size_t n = (size_t)B * plane_out(L);
        float *gF = gOut;
        if (i < d->nl - 1) {
            gF = other(g, 3, gOut, NULL, NULL);
            zero(par, gF, n);
            act_backward(par, gF, gOut, L->f, lrelu, n);
        }
        float *gZ = gF;
        if (L->norm) {
            gZ = other(g, 3, gF, NULL, NULL);
            zero(par, gZ, n);
            if ((rc = kerr(e, norm_bwd(par, L, gZ, gF, B, train, fz, c->bn_eps, e), "layer", i))) return rc;
        }
        float *gIn = NULL;
        if (i > 0 || da || db) {
            gIn = other(g, 3, gZ, NULL, NULL);
            zero(par, gIn, (size_t)B * plane_in(L));
        }
        const float *in = i > 0 ? d->a[i - 1] : d->x0;
        if ((rc = kerr(e, conv_bwd(par, L, gIn, gZ, in, B, fz, d->ws, d->nws), "layer", i))) return rc;
        gOut = gIn;
    }
    if (gOut) {
        size_t HW = (size_t)c->size * c->size, pa = (size_t)c->a_ch * HW, pb = (size_t)c->b_ch * HW;
        for (int n = 0; n < B; n++) {
            const float *src = gOut + (size_t)n * (pa + pb);
            if (da)
                for (size_t i = 0; i < pa; i++) da[(size_t)n * pa + i] += src[i];
            if (db)
                for (size_t i = 0; i < pb; i++) db[(size_t)n * pb + i] += src[pa + i];
        }
    }
    return 0;
}
