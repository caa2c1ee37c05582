/* test_nn_xf.c - the transformer kernels of the pure-maths layer
 * (common/nn/act.c, layernorm.c, linear.c, attention.c) against the
 * independent PyTorch reference of tests/gen_nn_ref.py
 * (tests/fixtures/nn/xf_ref.safetensors, float64 maths on float32 inputs).
 *
 * 1. Fixtures: every kernel, in five variants - the plain reference
 *    (foo_*_ref), the fast one serial (a serial nn_par_t, and a NULL one),
 *    the fast one on a 2-thread and a 3-thread pool (pool_par; 3 threads
 *    leave some threads an empty column block) - forward outputs and saved
 *    buffers, backward gradients.
 *    Each tensor is compared with |a-b| <= atol + rtol*|b|; the worst element
 *    is printed and any mismatch fails.  Outputs start as NaN, so an element
 *    a kernel forgets to write fails; gradients documented as ADDED start at
 *    0.5 (checked as 0.5 + the reference), gradients documented as
 *    OVERWRITTEN start at 7.
 * 2. Finite differences: each fast backward against central differences of
 *    the fast forward, L = sum(dy * out) in double, a spread of entries of
 *    every input and weight (the step actually taken after float rounding is
 *    the divisor).
 * 3. Errors: the NN_EINVAL cases of linear_backward and attention.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "nn/act.h"
#include "nn/attention.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "pool.h"
#include "t.h"
#include "tensorfile.h"

static tensorfile_t *ref;

/* tensor printf(fmt) of the fixture, malloc'd; shape into dims (may be NULL);
 * NULL (and a "# missing" line) if absent */
static float *fx(int64_t *dims, size_t *numel, const char *fmt, ...) {
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const tf_info_t *ti = tf_find(ref, name);
    if (!ti) {
        printf("# missing %s\n", name);
        return NULL;
    }
    float *d = malloc(sizeof(float) * ti->numel);
    err_t e = {0};
    if (tf_read_f32(ref, ti, d, &e)) {
        printf("# %s\n", e.msg);
        free(d);
        return NULL;
    }
    if (dims)
        for (int i = 0; i < ti->ndim; i++) dims[i] = ti->shape[i];
    if (numel) *numel = ti->numel;
    return d;
}

static float *filled(size_t n, float v) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = v;
    return p;
}

/* a (minus `base`, the value it started from) against b */
static int close_all(const char *what, const char *var, const float *a, float base, const float *b, size_t n,
                     double atol, double rtol) {
    if (!a || !b) {
        CHECK(0, "%s [%s]: data present", what, var);
        return 0;
    }
    double worst = 0, wa = 0, wb = 0;
    size_t bad = 0, wi = 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)a[i] - base, d = fabs(x - b[i]), lim = atol + rtol * fabs(b[i]);
        if (!(d <= lim)) bad++;
        if (!(d / lim <= worst) || i == 0) {
            worst = d / lim;
            wi = i;
            wa = x;
            wb = b[i];
        }
    }
    CHECK(bad == 0, "%s [%s]: %zu values within atol %g rtol %g (worst [%zu] %.8g vs %.8g, %.2f of tolerance)", what,
          var, n, atol, rtol, wi, wa, wb, worst);
    return bad == 0;
}

typedef struct {
    const char *name;
    int ref;             /* 1: the _ref kernels */
    const nn_par_t *par; /* parallelism handed to the kernel */
    int blas;            /* 1: attention through attention_*_blas (the path without AVX-512) */
} variant_t;

/* ------------------------------------------------------------ activations */

static const nn_act_kind_t kinds[] = {NN_ACT_QUICKGELU, NN_ACT_GELU,  NN_ACT_GELU_TANH, NN_ACT_RELU,
                                      NN_ACT_LEAKY_RELU, NN_ACT_TANH, NN_ACT_SIGMOID};
#define NKINDS (int)(sizeof kinds / sizeof kinds[0])

static void test_act(const variant_t *v) {
    size_t n = 0;
    float *x = fx(NULL, &n, "act.x"), *dy = fx(NULL, NULL, "act.dy"), *sl = fx(NULL, NULL, "act.leaky_slope");
    if (!x || !dy || !sl) {
        CHECK(0, "act fixtures present");
        return;
    }
    for (int k = 0; k < NKINDS; k++) {
        nn_act_t a = {kinds[k], sl[0]};
        const char *nm = act_name(kinds[k]);
        float *y = filled(n, NAN), *dx = filled(n, 0.5f), *wy = fx(NULL, NULL, "act.%s.y", nm),
              *wdx = fx(NULL, NULL, "act.%s.dx", nm);
        char what[64];
        (v->ref ? act_forward_ref : act_forward)(v->par, y, x, a, n);
        snprintf(what, sizeof what, "act %s forward", nm);
        close_all(what, v->name, y, 0, wy, n, 1e-6, 2e-6);
        (v->ref ? act_backward_ref : act_backward)(v->par, dx, dy, x, a, n);
        snprintf(what, sizeof what, "act %s backward (added)", nm);
        close_all(what, v->name, dx, 0.5f, wdx, n, 2e-6, 1e-5);
        /* in place */
        memcpy(y, x, sizeof(float) * n);
        (v->ref ? act_forward_ref : act_forward)(v->par, y, y, a, n);
        snprintf(what, sizeof what, "act %s forward in place", nm);
        close_all(what, v->name, y, 0, wy, n, 1e-6, 2e-6);
        free(y), free(dx), free(wy), free(wdx);
    }
    /* NN_ACT_NONE: the identity */
    float *y = filled(n, NAN), *dx = filled(n, 0.5f);
    (v->ref ? act_forward_ref : act_forward)(v->par, y, x, (nn_act_t){NN_ACT_NONE, 0}, n);
    close_all("act none forward", v->name, y, 0, x, n, 0, 0);
    (v->ref ? act_backward_ref : act_backward)(v->par, dx, dy, x, (nn_act_t){NN_ACT_NONE, 0}, n);
    close_all("act none backward (added)", v->name, dx, 0.5f, dy, n, 3e-7, 0); /* the rounding of 0.5 + dy */
    free(y), free(dx);
    free(x), free(dy), free(sl);
}

/* ------------------------------------------------------------ layernorm */

static void test_ln(const variant_t *v, const char *c) {
    int64_t s[2];
    float *x = fx(s, NULL, "ln.%s.x", c), *w = fx(NULL, NULL, "ln.%s.w", c), *b = fx(NULL, NULL, "ln.%s.b", c),
          *dy = fx(NULL, NULL, "ln.%s.dy", c);
    int N = (int)s[0], C = (int)s[1];
    size_t n = (size_t)N * C;
    float *y = filled(n, NAN), *mean = filled(N, NAN), *rstd = filled(N, NAN);
    float *dx = filled(n, 0.5f), *dw = filled(C, 0.5f), *db = filled(C, 0.5f);
    char what[64];
    (v->ref ? layernorm_forward_ref : layernorm_forward)(v->par, y, mean, rstd, x, w, b, N, C, 1e-5f);
    (v->ref ? layernorm_backward_ref : layernorm_backward)(v->par, dx, dw, db, dy, x, mean, rstd, w, N, C);
    struct { const char *nm; float *got; float base; size_t n; double atol, rtol; } t[] = {
        {"y", y, 0, n, 1e-5, 1e-5},     {"mean", mean, 0, N, 1e-5, 1e-6}, {"rstd", rstd, 0, N, 1e-6, 1e-5},
        {"dx", dx, 0.5f, n, 1e-5, 1e-4}, {"dw", dw, 0.5f, C, 1e-5, 1e-4},  {"db", db, 0.5f, C, 1e-5, 1e-5}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        float *want = fx(NULL, NULL, "ln.%s.%s", c, t[i].nm);
        snprintf(what, sizeof what, "layernorm %s (%dx%d) %s", c, N, C, t[i].nm);
        close_all(what, v->name, t[i].got, t[i].base, want, t[i].n, t[i].atol, t[i].rtol);
        free(want);
    }
    /* no weight gradients wanted: dinp alone is the same */
    memset(dx, 0, sizeof(float) * n);
    (v->ref ? layernorm_backward_ref : layernorm_backward)(v->par, dx, NULL, NULL, dy, x, mean, rstd, w, N, C);
    float *want = fx(NULL, NULL, "ln.%s.dx", c);
    snprintf(what, sizeof what, "layernorm %s dx without dw, db", c);
    close_all(what, v->name, dx, 0, want, n, 1e-5, 1e-4);
    free(want);
    free(x), free(w), free(b), free(dy), free(y), free(mean), free(rstd), free(dx), free(dw), free(db);
}

/* ------------------------------------------------------------ linear */

typedef struct {
    const char *c;
    int bias, res;
    nn_act_t act, pre;
} lin_case_t;

static const lin_case_t lin_cases[] = {
    {"a", 1, 0, {NN_ACT_NONE, 0}, {NN_ACT_NONE, 0}},
    {"b", 1, 1, {NN_ACT_QUICKGELU, 0}, {NN_ACT_NONE, 0}},
    {"c", 0, 1, {NN_ACT_GELU_TANH, 0}, {NN_ACT_NONE, 0}},
    {"d", 1, 0, {NN_ACT_NONE, 0}, {NN_ACT_QUICKGELU, 0}},
    {"e", 1, 0, {NN_ACT_RELU, 0}, {NN_ACT_GELU, 0}},
};

static void test_linear(const variant_t *v, const lin_case_t *lc) {
    int64_t sx[2], sw[2];
    int pre = lc->pre.kind != NN_ACT_NONE;
    float *x = fx(sx, NULL, "lin.%s.x", lc->c), *w = fx(sw, NULL, "lin.%s.w", lc->c);
    float *xp = pre ? fx(NULL, NULL, "lin.%s.x_pre", lc->c) : NULL;
    float *b = lc->bias ? fx(NULL, NULL, "lin.%s.b", lc->c) : NULL;
    float *r = lc->res ? fx(NULL, NULL, "lin.%s.res", lc->c) : NULL;
    float *dy = fx(NULL, NULL, "lin.%s.dy", lc->c);
    int N = (int)sx[0], IC = (int)sx[1], OC = (int)sw[0];
    size_t nx = (size_t)N * IC, ny = (size_t)N * OC, nw = (size_t)OC * IC;
    char what[96];
    float *y = filled(ny, NAN), *a = lc->act.kind != NN_ACT_NONE ? filled(ny, NAN) : NULL;
    (v->ref ? linear_forward_ref : linear_forward)(v->par, y, a, x, r, w, b, lc->act, N, IC, OC);
    float *want = fx(NULL, NULL, "lin.%s.y", lc->c);
    snprintf(what, sizeof what, "linear %s (%d,%d->%d) y", lc->c, N, IC, OC);
    close_all(what, v->name, y, 0, want, ny, 1e-5, 1e-4);
    free(want);
    if (a) {
        want = fx(NULL, NULL, "lin.%s.a", lc->c);
        snprintf(what, sizeof what, "linear %s %s(y)", lc->c, act_name(lc->act.kind));
        close_all(what, v->name, a, 0, want, ny, 1e-5, 1e-4);
        free(want);
    }
    if (r) { /* residual in place: out == res */
        float *yy = malloc(sizeof(float) * ny);
        memcpy(yy, r, sizeof(float) * ny);
        (v->ref ? linear_forward_ref : linear_forward)(v->par, yy, NULL, x, yy, w, b, lc->act, N, IC, OC);
        want = fx(NULL, NULL, "lin.%s.y", lc->c);
        snprintf(what, sizeof what, "linear %s y with out == res", lc->c);
        close_all(what, v->name, yy, 0, want, ny, 1e-5, 1e-4);
        free(want), free(yy);
    }
    /* backward: dinp overwritten (or through the input's activation) */
    float *dx = filled(nx, 7.0f), *dw = filled(nw, 0.5f), *db = b ? filled(OC, 0.5f) : NULL;
    int rc = (v->ref ? linear_backward_ref : linear_backward)(v->par, dx, dw, db, dy, x, xp, w, lc->pre, N, IC, OC, 0);
    CHECK(rc == NN_OK, "linear %s backward returns NN_OK [%s]", lc->c, v->name);
    want = fx(NULL, NULL, "lin.%s.dx", lc->c);
    snprintf(what, sizeof what, "linear %s d%s (overwritten)", lc->c, pre ? "x_pre" : "x");
    close_all(what, v->name, dx, 0, want, nx, 1e-5, 1e-4);
    if (!pre) { /* accumulate: dinp += */
        for (size_t i = 0; i < nx; i++) dx[i] = 0.5f;
        rc = (v->ref ? linear_backward_ref : linear_backward)(v->par, dx, NULL, NULL, dy, x, NULL, w, lc->pre, N, IC, OC,
                                                             1);
        snprintf(what, sizeof what, "linear %s dx (accumulated)", lc->c);
        close_all(what, v->name, dx, 0.5f, want, nx, 1e-5, 1e-4);
    }
    free(want);
    want = fx(NULL, NULL, "lin.%s.dw", lc->c);
    snprintf(what, sizeof what, "linear %s dw (added)", lc->c);
    close_all(what, v->name, dw, 0.5f, want, nw, 1e-5, 1e-4);
    free(want);
    if (db) {
        want = fx(NULL, NULL, "lin.%s.db", lc->c);
        snprintf(what, sizeof what, "linear %s db (added)", lc->c);
        close_all(what, v->name, db, 0.5f, want, OC, 1e-5, 1e-4);
        free(want);
    }
    free(x), free(w), free(xp), free(b), free(r), free(dy), free(y), free(a), free(dx), free(dw), free(db);
}

/* Many rows (the fast kernels go through them in blocks of 1024): the fast
 * linear, forward with bias + residual + QuickGELU and backward through an
 * input QuickGELU and accumulating, against the reference on 2085 rows
 * (two full blocks and a partial one). */
static void test_linear_many_rows(const variant_t *v) {
    int N = 2085, IC = 24, OC = 40;
    size_t nx = (size_t)N * IC, ny = (size_t)N * OC, nw = (size_t)OC * IC;
    float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw), *b = malloc(sizeof(float) * OC);
    float *r = malloc(sizeof(float) * ny), *dy = malloc(sizeof(float) * ny);
    for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 37 % 101) / 50.0 - 1.0);
    for (size_t i = 0; i < nw; i++) w[i] = (float)((i * 53 % 89) / 200.0 - 0.22);
    for (int i = 0; i < OC; i++) b[i] = (float)(i % 7) * 0.1f - 0.3f;
    for (size_t i = 0; i < ny; i++) r[i] = (float)((i * 29 % 61) / 30.0 - 1.0);
    for (size_t i = 0; i < ny; i++) dy[i] = (float)((i * 17 % 43) / 20.0 - 1.0);
    nn_act_t qg = {NN_ACT_QUICKGELU, 0};
    float *y = filled(ny, NAN), *a = filled(ny, NAN), *y0 = filled(ny, NAN), *a0 = filled(ny, NAN);
    linear_forward(v->par, y, a, x, r, w, b, qg, N, IC, OC);
    linear_forward_ref(NULL, y0, a0, x, r, w, b, qg, N, IC, OC);
    close_all("linear, 2085 rows, y", v->name, y, 0, y0, ny, 1e-5, 1e-5);
    close_all("linear, 2085 rows, QuickGELU(y)", v->name, a, 0, a0, ny, 1e-5, 1e-5);
    float *dx = filled(nx, 7.0f), *dx0 = filled(nx, 7.0f), *dw = filled(nw, 0.5f), *dw0 = filled(nw, 0.5f);
    CHECK(linear_backward(v->par, dx, dw, NULL, dy, x, r, w, qg, N, IC, OC, 0) == NN_OK &&
              linear_backward_ref(NULL, dx0, dw0, NULL, dy, x, r, w, qg, N, IC, OC, 0) == NN_OK,
          "linear backward, 2085 rows [%s]", v->name);
    close_all("linear, 2085 rows, dx_pre", v->name, dx, 0, dx0, nx, 1e-5, 1e-5);
    close_all("linear, 2085 rows, dw", v->name, dw, 0, dw0, nw, 1e-4, 1e-5);
    for (size_t i = 0; i < nx; i++) dx[i] = dx0[i] = 0.5f;
    CHECK(linear_backward(v->par, dx, NULL, NULL, dy, NULL, NULL, w, qg, N, IC, OC, 1) == NN_OK &&
              linear_backward_ref(NULL, dx0, NULL, NULL, dy, NULL, NULL, w, qg, N, IC, OC, 1) == NN_OK,
          "linear backward accumulating, 2085 rows [%s]", v->name);
    close_all("linear, 2085 rows, dx (accumulated)", v->name, dx, 0, dx0, nx, 1e-5, 1e-5);
    free(x), free(w), free(b), free(r), free(dy), free(y), free(a), free(y0), free(a0), free(dx), free(dx0),
        free(dw), free(dw0);
}

/* ------------------------------------------------------------ attention */

static void test_attn(const variant_t *v, const char *c) {
    int64_t s[3];
    float *qkv = fx(s, NULL, "attn.%s.qkv", c), *dy = fx(NULL, NULL, "attn.%s.dy", c);
    float *nh = fx(NULL, NULL, "attn.%s.nh", c), *cz = fx(NULL, NULL, "attn.%s.causal", c);
    if (!qkv || !dy || !nh || !cz) {
        CHECK(0, "attention %s fixtures present", c);
        return;
    }
    int B = (int)s[0], T = (int)s[1], C = (int)s[2] / 3, NH = (int)nh[0], causal = cz[0] != 0;
    size_t ny = (size_t)B * T * C, na = (size_t)B * NH * T * T;
    float *y = filled(ny, NAN), *att = filled(na, NAN), *dqkv = filled(3 * ny, 7.0f);
    /* a NaN anywhere outside the blocks (padding read by mistake) would show */
    float *scratch = filled(attention_scratch_floats(v->par, T, C / NH), NAN);
    char what[96];
    int rc = (v->ref ? attention_forward_ref : v->blas ? attention_forward_blas : attention_forward)(
        v->par, y, att, scratch, qkv, B, T, C, NH, causal);
    rc |= (v->ref ? attention_backward_ref : v->blas ? attention_backward_blas : attention_backward)(
        v->par, dqkv, scratch, dy, qkv, att, B, T, C, NH, causal);
    CHECK(rc == NN_OK, "attention %s returns NN_OK [%s]", c, v->name);
    struct { const char *nm; float *got; size_t n; } t[] = {{"y", y, ny}, {"att", att, na}, {"dqkv", dqkv, 3 * ny}};
    for (int i = 0; i < 3; i++) {
        float *want = fx(NULL, NULL, "attn.%s.%s", c, t[i].nm);
        snprintf(what, sizeof what, "attention %s (B%d T%d C%d NH%d%s) %s", c, B, T, C, NH, causal ? " causal" : "",
                 t[i].nm);
        close_all(what, v->name, t[i].got, 0, want, t[i].n, 1e-5, 1e-4);
        free(want);
    }
    free(qkv), free(dy), free(nh), free(cz), free(y), free(att), free(dqkv), free(scratch);
}

/* ------------------------------------------------------ finite differences */

/* Step 1e-2: the float32 forward's rounding, summed over a few hundred
 * outputs, moves L by ~1e-6, i.e. ~5e-5 in the quotient; the truncation
 * error of the central difference is ~h^2/6 |f'''| ~ 2e-5 for these maps. */
#define FD_ATOL 2e-4
#define FD_RTOL 2e-3
typedef double (*loss_fn)(void *ctx);

/* d loss/d p[i] for a spread of i against central differences */
static void fd_check(const char *what, float *p, size_t n, const float *grad, loss_fn f, void *ctx, float h,
                     double atol, double rtol) {
    int k = n < 16 ? (int)n : 16, bad = 0;
    double worst = 0, wa = 0, wf = 0;
    size_t wi = 0;
    for (int j = 0; j < k; j++) {
        size_t i = (size_t)(((unsigned long long)j * 7919u + 3) % n);
        float v = p[i], up = v + h, dn = v - h;
        p[i] = up;
        double lp = f(ctx);
        p[i] = dn;
        double lm = f(ctx);
        p[i] = v;
        double fd = (lp - lm) / ((double)up - dn), d = fabs(fd - grad[i]), lim = atol + rtol * fabs(fd);
        if (!(d <= lim)) bad++;
        if (!(d / lim <= worst) || j == 0) {
            worst = d / lim;
            wi = i;
            wa = grad[i];
            wf = fd;
        }
    }
    CHECK(bad == 0, "finite differences: %s, %d entries (worst [%zu] %.6g vs fd %.6g, %.2f of tolerance)", what, k, wi,
          wa, wf, worst);
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

typedef struct {
    const nn_par_t *par;
    float *x, *xp, *w, *b, *out, *act_out, *mean, *rstd, *dy;
    nn_act_t act, pre;
    int N, IC, OC;   /* attention: B, T, C */
    int NH, causal;  /* attention */
} fd_ctx_t;

static double act_loss(void *vc) {
    fd_ctx_t *c = vc;
    act_forward(c->par, c->out, c->x, c->act, (size_t)c->N);
    return dot(c->out, c->dy, (size_t)c->N);
}

static double ln_loss(void *vc) {
    fd_ctx_t *c = vc;
    layernorm_forward(c->par, c->out, c->mean, c->rstd, c->x, c->w, c->b, c->N, c->IC, 1e-5f);
    return dot(c->out, c->dy, (size_t)c->N * c->IC);
}

static double lin_loss(void *vc) {
    fd_ctx_t *c = vc;
    if (c->xp) act_forward(c->par, c->x, c->xp, c->pre, (size_t)c->N * c->IC);
    linear_forward(c->par, c->out, NULL, c->x, NULL, c->w, c->b, c->act, c->N, c->IC, c->OC);
    return dot(c->out, c->dy, (size_t)c->N * c->OC);
}

static double attn_loss(void *vc) {
    fd_ctx_t *c = vc;
    attention_forward(c->par, c->out, c->mean, c->w /* scratch */, c->x, c->N, c->IC, c->OC, c->NH, c->causal);
    return dot(c->out, c->dy, (size_t)c->N * c->IC * c->OC);
}

static void test_fd(const nn_par_t *par) {
    char what[96];
    { /* activations: away from ReLU's kink (|x| > 2h) */
        size_t n = 0;
        float *x = fx(NULL, &n, "act.x"), *dy = fx(NULL, NULL, "act.dy");
        for (int k = 0; k < NKINDS; k++) {
            float *xs = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * n), *g = filled(n, 0);
            int m = 0;
            for (size_t i = 0; i < n; i++)
                if (fabsf(x[i]) > 0.05f && fabsf(x[i]) < 8) xs[m++] = x[i];
            fd_ctx_t c = {.par = par, .x = xs, .out = out, .dy = dy, .act = {kinds[k], 0.1f}, .N = m};
            act_backward(par, g, dy, xs, c.act, (size_t)m);
            snprintf(what, sizeof what, "act %s", act_name(kinds[k]));
            fd_check(what, xs, (size_t)m, g, act_loss, &c, 1e-2f, FD_ATOL, FD_RTOL);
            free(xs), free(out), free(g);
        }
        free(x), free(dy);
    }
    { /* layernorm */
        int64_t s[2];
        float *x = fx(s, NULL, "ln.a.x"), *w = fx(NULL, NULL, "ln.a.w"), *b = fx(NULL, NULL, "ln.a.b"),
              *dy = fx(NULL, NULL, "ln.a.dy");
        int N = (int)s[0], C = (int)s[1];
        float *out = malloc(sizeof(float) * N * C), *mean = malloc(sizeof(float) * N), *rstd = malloc(sizeof(float) * N);
        float *dx = filled((size_t)N * C, 0), *dw = filled(C, 0), *db = filled(C, 0);
        fd_ctx_t c = {.par = par, .x = x, .w = w, .b = b, .out = out, .mean = mean, .rstd = rstd, .dy = dy, .N = N,
                      .IC = C};
        ln_loss(&c);
        layernorm_backward(par, dx, dw, db, dy, x, mean, rstd, w, N, C);
        fd_check("layernorm dx", x, (size_t)N * C, dx, ln_loss, &c, 1e-2f, FD_ATOL, FD_RTOL);
        fd_check("layernorm dw", w, C, dw, ln_loss, &c, 1e-2f, FD_ATOL, FD_RTOL);
        fd_check("layernorm db", b, C, db, ln_loss, &c, 1e-2f, FD_ATOL, FD_RTOL);
        free(x), free(w), free(b), free(dy), free(out), free(mean), free(rstd), free(dx), free(dw), free(db);
    }
    for (int li = 0; li < (int)(sizeof lin_cases / sizeof lin_cases[0]); li++) { /* linear */
        const lin_case_t *lc = &lin_cases[li];
        int64_t sx[2], sw[2];
        int pre = lc->pre.kind != NN_ACT_NONE;
        float *x = fx(sx, NULL, "lin.%s.x", lc->c), *w = fx(sw, NULL, "lin.%s.w", lc->c);
        float *xp = pre ? fx(NULL, NULL, "lin.%s.x_pre", lc->c) : NULL;
        float *b = lc->bias ? fx(NULL, NULL, "lin.%s.b", lc->c) : NULL, *dy = fx(NULL, NULL, "lin.%s.dy", lc->c);
        int N = (int)sx[0], IC = (int)sx[1], OC = (int)sw[0];
        float *out = malloc(sizeof(float) * N * OC), *dx = filled((size_t)N * IC, 0), *dw = filled((size_t)OC * IC, 0),
              *db = filled(OC, 0);
        fd_ctx_t c = {.par = par, .x = x, .xp = xp, .w = w, .b = b, .out = out, .dy = dy, .pre = lc->pre, .N = N,
                      .IC = IC, .OC = OC};
        linear_backward(par, dx, dw, b ? db : NULL, dy, x, xp, w, lc->pre, N, IC, OC, 0);
        snprintf(what, sizeof what, "linear %s d%s", lc->c, pre ? "x_pre" : "x");
        fd_check(what, pre ? xp : x, (size_t)N * IC, dx, lin_loss, &c, 1e-2f, FD_ATOL, FD_RTOL);
        snprintf(what, sizeof what, "linear %s dw", lc->c);
        fd_check(what, w, (size_t)OC * IC, dw, lin_loss, &c, 1e-2f, FD_ATOL, FD_RTOL);
        if (b) {
            snprintf(what, sizeof what, "linear %s db", lc->c);
            fd_check(what, b, OC, db, lin_loss, &c, 1e-2f, FD_ATOL, FD_RTOL);
        }
        free(x), free(w), free(xp), free(b), free(dy), free(out), free(dx), free(dw), free(db);
    }
    const char *ac[] = {"a", "b", "c", "g"};
    for (int ai = 0; ai < 4; ai++) { /* attention (g: head width 24, fused kernel's padded operands) */
        int64_t s[3];
        float *qkv = fx(s, NULL, "attn.%s.qkv", ac[ai]), *dy = fx(NULL, NULL, "attn.%s.dy", ac[ai]);
        float *nh = fx(NULL, NULL, "attn.%s.nh", ac[ai]), *cz = fx(NULL, NULL, "attn.%s.causal", ac[ai]);
        int B = (int)s[0], T = (int)s[1], C = (int)s[2] / 3, NH = (int)nh[0];
        float *out = malloc(sizeof(float) * B * T * C), *att = malloc(sizeof(float) * B * NH * T * T);
        float *dq = malloc(sizeof(float) * B * T * 3 * C), *scr = malloc(sizeof(float) * attention_scratch_floats(par, T, C / NH));
        fd_ctx_t c = {.par = par, .x = qkv, .w = scr, .out = out, .mean = att /* the saved probabilities */, .dy = dy, .N = B,
                      .IC = T, .OC = C, .NH = NH, .causal = cz[0] != 0};
        attn_loss(&c);
        attention_backward(par, dq, scr, dy, qkv, att, B, T, C, NH, cz[0] != 0);
        snprintf(what, sizeof what, "attention %s dqkv", ac[ai]);
        fd_check(what, qkv, (size_t)B * T * 3 * C, dq, attn_loss, &c, 1e-2f, FD_ATOL, FD_RTOL);
        free(qkv), free(dy), free(nh), free(cz), free(out), free(att), free(dq), free(scr);
    }
}

static void test_errors(void) {
    float z[64] = {0};
    nn_act_t q = {NN_ACT_QUICKGELU, 0};
    CHECK(linear_backward(NULL, z, NULL, NULL, z, z, z, z, q, 2, 2, 2, 1) == NN_EINVAL,
          "linear_backward refuses an input activation with accumulate");
    CHECK(linear_backward_ref(NULL, z, NULL, NULL, z, z, z, z, q, 2, 2, 2, 1) == NN_EINVAL,
          "linear_backward_ref refuses an input activation with accumulate");
    CHECK(linear_backward(NULL, z, NULL, NULL, z, z, NULL, z, q, -1, 2, 2, 0) == NN_EINVAL,
          "linear_backward refuses a negative size");
    CHECK(attention_forward(NULL, z, z, z, z, 1, 2, 6, 4, 0) == NN_EINVAL, "attention refuses heads not dividing C");
    CHECK(attention_backward(NULL, z, z, z, z, z, 1, 0, 4, 2, 0) == NN_EINVAL, "attention refuses T = 0");
    CHECK(attention_forward_blas(NULL, z, z, z, z, 1, 2, 6, 4, 0) == NN_EINVAL,
          "attention_blas refuses heads not dividing C");
    CHECK(attention_backward_blas(NULL, z, z, z, z, z, 1, 0, 4, 2, 0) == NN_EINVAL, "attention_blas refuses T = 0");
    CHECK(attention_forward_ref(NULL, z, z, z, z, 1, 2, 6, 4, 0) == NN_EINVAL,
          "attention_ref refuses heads not dividing C");
}

int main(void) {
    err_t e = {0};
    ref = tf_open("tests/fixtures/nn/xf_ref.safetensors", &e);
    CHECK(ref != NULL, "open tests/fixtures/nn/xf_ref.safetensors (%s)", e.msg);
    if (!ref) T_DONE();
    pool_t pool, pool3;
    pool_init(&pool, 2, NULL);
    pool_init(&pool3, 3, NULL);
    nn_par_t serial = pool_par(NULL), two = pool_par(&pool), three = pool_par(&pool3);
    CHECK(two.nthreads == 2 && nn_nthreads(&two) == 2, "a 2-thread pool lends 2 threads");
    variant_t vs[] = {{"ref", 1, &serial, 0},          {"fast serial", 0, &serial, 0}, {"fast 2 threads", 0, &two, 0},
                      {"fast 3 threads", 0, &three, 0}, {"fast NULL par", 0, NULL, 0},   {"blas serial", 0, &serial, 1},
                      {"blas 3 threads", 0, &three, 1}};
    const char *ac[] = {"a", "b", "c", "d", "e", "f", "g"};
    for (int i = 0; i < (int)(sizeof vs / sizeof vs[0]); i++) {
        if (vs[i].blas) { /* only attention has a second fast path */
            for (int k = 0; k < 7; k++) test_attn(&vs[i], ac[k]);
            continue;
        }
        test_act(&vs[i]);
        test_ln(&vs[i], "a");
        test_ln(&vs[i], "b");
        for (int k = 0; k < (int)(sizeof lin_cases / sizeof lin_cases[0]); k++) test_linear(&vs[i], &lin_cases[k]);
        if (!vs[i].ref) test_linear_many_rows(&vs[i]);
        for (int k = 0; k < 7; k++) test_attn(&vs[i], ac[k]);
    }
    test_fd(&serial);
    test_fd(&two);
    test_errors();
    pool_free(&pool);
    pool_free(&pool3);
    tf_close(ref);
    T_DONE();
}
