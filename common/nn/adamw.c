/* adamw.c - see adamw.h.  Every operation is cut into chunks whose size
 * depends only on the block's length; the caller's nn_par_t runs contiguous
 * ranges of chunks.  Element-wise work does not care how it is split;
 * reductions keep one partial per chunk (on the stack) and combine them in
 * chunk order, which is what makes them thread-count independent. */
#include "adamw.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Floats per chunk for a block of n, so that there are at most ADAMW_MAX_CHUNKS. */
static size_t chunk_size(size_t n) {
    size_t c = (n + ADAMW_MAX_CHUNKS - 1) / ADAMW_MAX_CHUNKS;
    return c < ADAMW_CHUNK ? ADAMW_CHUNK : c;
}
static int chunk_count(size_t n, size_t cs) { return (int)((n + cs - 1) / cs); }

adamw_hparams_t adamw_defaults(double lr) {
    adamw_hparams_t h = {.lr = lr, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-2};
    return h;
}

/* ------------------------------------------------------------------ zero */

typedef struct {
    float *x;
    size_t n, cs;
} zero_ctx_t;

static void zero_task(void *vc, int b, int e, int tid) {
    const zero_ctx_t *c = vc;
    size_t lo = (size_t)b * c->cs, hi = (size_t)e * c->cs;
    if (hi > c->n) hi = c->n;
    if (lo < hi) memset(c->x + lo, 0, (hi - lo) * sizeof(float));
}

void adamw_zero(float *x, size_t n, const nn_par_t *par) {
    zero_ctx_t c = {x, n, chunk_size(n)};
    nn_parallel_for(par, chunk_count(n, c.cs), zero_task, &c);
}

/* ------------------------------------------------------------------ step */

typedef struct {
    float *p, *m, *v;
    const float *g;
    const adamw_span_t *spans;
    int nspans;
    size_t n, cs;
    float dec;         /* 1 - lr*wd, for decayed spans */
    float b1, c1;      /* beta1, 1 - beta1 */
    float b2, c2;      /* beta2, 1 - beta2 */
    float bc2_sqrt;    /* sqrt(1 - beta2^t) */
    float eps;
    float neg_step;    /* -lr / (1 - beta1^t) */
} step_ctx_t;

/* Scalar on purpose: the step streams 7 floats per parameter and is bound by
 * memory bandwidth (measured: an -O3 SIMD build of this loop is no faster). */
static void update(const step_ctx_t *c, size_t lo, size_t hi, int decay) {
    float *restrict p = c->p, *restrict m = c->m, *restrict v = c->v;
    const float *restrict g = c->g;
    const float dec = decay ? c->dec : 1.0f;
    const float b1 = c->b1, c1 = c->c1, b2 = c->b2, c2 = c->c2, bc2 = c->bc2_sqrt, eps = c->eps, ns = c->neg_step;
    for (size_t i = lo; i < hi; i++) {
        float gi = g[i];
        float mi = m[i] * b1 + c1 * gi;
        float vi = v[i] * b2 + c2 * gi * gi;
        float denom = sqrtf(vi) / bc2 + eps;
        m[i] = mi;
        v[i] = vi;
        /* torch multiplies by 1 - lr*0 = 1 when decay is off: identical to skipping it */
        p[i] = p[i] * dec + ns * (mi / denom);
    }
}

static void step_task(void *vc, int b, int e, int tid) {
    const step_ctx_t *c = vc;
    size_t lo = (size_t)b * c->cs, hi = (size_t)e * c->cs;
    if (hi > c->n) hi = c->n;
    /* first span that ends after lo */
    int a = 0, z = c->nspans;
    while (a < z) {
        int mid = (a + z) / 2;
        if (c->spans[mid].end <= lo) a = mid + 1;
        else z = mid;
    }
    for (int s = a; s < c->nspans && c->spans[s].begin < hi; s++) {
        size_t sb = c->spans[s].begin > lo ? c->spans[s].begin : lo;
        size_t se = c->spans[s].end < hi ? c->spans[s].end : hi;
        if (sb < se) update(c, sb, se, c->spans[s].decay);
    }
}

int adamw_step(float *param, const float *grad, float *m, float *v, const adamw_span_t *spans, int nspans,
               const adamw_hparams_t *hp, long long t, const nn_par_t *par) {
    if (t < 1 || nspans < 0 || (nspans && !spans) || !(hp->beta1 >= 0 && hp->beta1 < 1) ||
        !(hp->beta2 >= 0 && hp->beta2 < 1) || !(hp->eps >= 0) || !isfinite(hp->eps) || !isfinite(hp->lr) ||
        !isfinite(hp->weight_decay))
        return NN_EINVAL;
    for (int s = 0; s < nspans; s++)
        if (spans[s].begin > spans[s].end || (s && spans[s].begin < spans[s - 1].end)) return NN_EINVAL;
    if (!nspans) return NN_OK;
    double bc1 = 1.0 - pow(hp->beta1, (double)t), bc2 = 1.0 - pow(hp->beta2, (double)t);
    step_ctx_t c = {
        .p = param,
        .m = m,
        .v = v,
        .g = grad,
        .spans = spans,
        .nspans = nspans,
        .n = spans[nspans - 1].end,
        .dec = (float)(1.0 - hp->lr * hp->weight_decay),
        .b1 = (float)hp->beta1,
        .c1 = (float)(1.0 - hp->beta1),
        .b2 = (float)hp->beta2,
        .c2 = (float)(1.0 - hp->beta2),
        .bc2_sqrt = (float)sqrt(bc2),
        .eps = (float)hp->eps,
        .neg_step = (float)(-(hp->lr / bc1)),
    };
    c.cs = chunk_size(c.n);
    nn_parallel_for(par, chunk_count(c.n, c.cs), step_task, &c);
    return NN_OK;
}

/* ------------------------------------------------------------------ norm */

typedef struct {
    const float *g;
    size_t n, cs;
    double part[ADAMW_MAX_CHUNKS];
} norm_ctx_t;

static void norm_task(void *vc, int b, int e, int tid) {
    norm_ctx_t *c = vc;
    for (int k = b; k < e; k++) {
        size_t lo = (size_t)k * c->cs, hi = lo + c->cs < c->n ? lo + c->cs : c->n;
        /* Groups of 64: 16 float lanes each add 4 squares (fixed counts, so
         * -O2 vectorises them), then go into 8 double accumulators combined
         * in a fixed order.  The pattern depends on the position in the
         * chunk only; float partials of 4 terms cost ~1e-11 relative. */
        const float *restrict g = c->g;
        double a[8] = {0};
        size_t i = lo;
        for (; i + 64 <= hi; i += 64) {
            float f[16] = {0};
            for (int r = 0; r < 4; r++)
                for (int j = 0; j < 16; j++) f[j] += g[i + 16 * r + j] * g[i + 16 * r + j];
            for (int j = 0; j < 8; j++) a[j] += (double)f[j] + (double)f[j + 8];
        }
        for (int j = 0; i < hi; i++, j = (j + 1) & 7) a[j] += (double)g[i] * g[i];
        c->part[k] = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    }
}

double adamw_grad_norm(const float *g, size_t n, const nn_par_t *par) {
    norm_ctx_t c;
    c.g = g;
    c.n = n;
    c.cs = chunk_size(n);
    int nc = chunk_count(n, c.cs);
    nn_parallel_for(par, nc, norm_task, &c);
    double s = 0;
    for (int k = 0; k < nc; k++) s += c.part[k];
    return sqrt(s);
}

typedef struct {
    float *g;
    size_t n, cs;
    float coef;
} scale_ctx_t;

static void scale_task(void *vc, int b, int e, int tid) {
    const scale_ctx_t *c = vc;
    size_t lo = (size_t)b * c->cs, hi = (size_t)e * c->cs;
    if (hi > c->n) hi = c->n;
    float *restrict g = c->g;
    const float coef = c->coef;
    size_t i = lo;
    for (; i + 16 <= hi; i += 16) /* a fixed count: -O2 vectorises it */
        for (int j = 0; j < 16; j++) g[i + j] *= coef;
    for (; i < hi; i++) g[i] *= coef;
}

double adamw_clip_grad_norm(float *g, size_t n, double max_norm, const nn_par_t *par) {
    double norm = adamw_grad_norm(g, n, par);
    if (!isfinite(norm)) return norm;
    /* torch: total_norm is a float32 tensor; max_norm / (total_norm + 1e-6)
     * is reciprocal() * max_norm in float32; clamp(max=1) */
    float coef = (1.0f / ((float)norm + 1e-6f)) * (float)max_norm;
    if (coef < 1.0f) {
        scale_ctx_t c = {g, n, chunk_size(n), coef};
        nn_parallel_for(par, chunk_count(n, c.cs), scale_task, &c);
    }
    return norm;
}

/* ------------------------------------------------------------------ scan */

typedef struct {
    const float *x;
    size_t n, cs;
    ptrdiff_t first[ADAMW_MAX_CHUNKS];
} scan_ctx_t;

/* 1 if *f is Inf or NaN (exponent all ones), else 0; branch-free */
static uint32_t exp_ones(const float *f) {
    uint32_t u;
    memcpy(&u, f, 4);
    return ((u & 0x7f800000u) + 0x00800000u) >> 31; /* all-ones exponent carries into bit 31 */
}
static int bad_bits(float f) { return exp_ones(&f) != 0; }

static void scan_task(void *vc, int b, int e, int tid) {
    scan_ctx_t *c = vc;
    for (int k = b; k < e; k++) {
        size_t lo = (size_t)k * c->cs, hi = lo + c->cs < c->n ? lo + c->cs : c->n;
        c->first[k] = -1;
        /* the usual case is clean: test 64 at a time without branching, then look closer */
        for (size_t i = lo; i < hi; i += 64) {
            size_t end = i + 64 < hi ? i + 64 : hi;
            uint32_t any = 0;
            if (end - i == 64) /* a fixed count: -O2 vectorises it */
                for (int j = 0; j < 64; j++) any |= exp_ones(c->x + i + j);
            else
                for (size_t j = i; j < end; j++) any |= exp_ones(c->x + j);
            if (!any) continue;
            for (size_t j = i; j < end; j++)
                if (bad_bits(c->x[j])) {
                    c->first[k] = (ptrdiff_t)j;
                    break;
                }
            break;
        }
    }
}

ptrdiff_t adamw_find_nonfinite(const float *x, size_t n, const nn_par_t *par) {
    scan_ctx_t c;
    c.x = x;
    c.n = n;
    c.cs = chunk_size(n);
    int nc = chunk_count(n, c.cs);
    nn_parallel_for(par, nc, scan_task, &c);
    for (int k = 0; k < nc; k++)
        if (c.first[k] >= 0) return c.first[k];
    return -1;
}
