/* test_bf16.c - the bfloat16 products (common/nn/gemm_bf16.c, linear.c's
 * linear_forward_bf16 / linear_backward_bf16) against the independent
 * PyTorch reference of tests/gen_bf16_ref.py
 * (tests/fixtures/nn/bf16_ref.safetensors: operands rounded by PyTorch's
 * Tensor.bfloat16(), sums in float64).
 *
 * 1. Rounding: nn_f2bf and nn_bf16_rows (the vector path on AVX512_BF16)
 *    give PyTorch's bfloat16 of every fixture value bit for bit; NaN stays
 *    NaN.
 * 2. Products: nn_bf16_gemm_panels (the AVX512_BF16 kernel where the CPU has
 *    it), nn_bf16_gemm_panels_plain and nn_bf16_gemm_ref, each adding into a
 *    fixture C; all panels at once and split into two calls; both packings;
 *    the epilogue (overwrite, bias, residual, QuickGELU out, its derivative,
 *    the bfloat16 copy for the next product) in the kernel and the plain
 *    loop, against the fixture sum with the epilogue computed here.
 * 3. Linear: forward with bias + residual + QuickGELU (also out == res, and
 *    from an input given already rounded), backward to the input through
 *    QuickGELU (overwritten; also from a rounded dout) and without it
 *    (accumulated and overwritten), the out16 copies, on serial, NULL, 2- and
 *    3-thread pars.
 *    Outputs start as NaN / 7 / 0.5 so an element not written, or written
 *    when it should be added to, fails.
 * 4. Errors and sizes.
 */
#include "nn/gemm_bf16.h"
#include "nn/linear.h"
#include "pool.h"
#include "t.h"
#include "tfix.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static tensorfile_t *ref;

static float *fx(const char *name, size_t want) { return t_tensor(ref, name, want); }

static float *filled(size_t n, float v) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = v;
    return p;
}

/* a - base against b, |d| <= atol + rtol |b| everywhere */
static void close_all(const char *what, const float *a, float base, const float *b, size_t n, double atol,
                      double rtol) {
    size_t bad = 0, wi = 0;
    double worst = -1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - base - b[i]), lim = atol + rtol * fabs(b[i]);
        if (!(d <= lim)) bad++;
        if (!(d / lim <= worst)) worst = d / lim, wi = i;
    }
    CHECK(bad == 0, "%s: %zu values within atol %g rtol %g (worst [%zu] %.8g vs %.8g)", what, n, atol, rtol,
          wi, (double)a[wi] - base, (double)b[wi]);
}

static void test_round(void) {
    size_t n = 0;
    const tf_info_t *ti = tf_find(ref, "round.x");
    n = ti ? ti->numel : 0;
    float *x = fx("round.x", 0), *y = fx("round.y", n);
    if (!x || !y) {
        CHECK(0, "round fixtures present");
        return;
    }
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float r = nn_bf2f(nn_f2bf(x[i]));
        if (memcmp(&r, &y[i], sizeof r)) {
            bad++;
            printf("#   nn_f2bf(%.9g) = %.9g, PyTorch %.9g\n", x[i], r, y[i]);
        }
    }
    CHECK(bad == 0, "nn_f2bf rounds %zu values as PyTorch's bfloat16 (ties to even, carries, inf)", n);
    uint16_t *h = malloc(sizeof(uint16_t) * nn_bf16_rows_size(1, (int)n));
    nn_bf16_rows(h, x, (int)n, (int)n, 0, 1);
    bad = 0;
    for (size_t i = 0; i < n; i++) {
        float r = nn_bf2f(h[i]);
        if (memcmp(&r, &y[i], sizeof r)) bad++;
    }
    CHECK(bad == 0, "nn_bf16_rows (%s) rounds them alike", nn_bf16_available() ? "VCVTNEPS2BF16" : "plain");
    CHECK(n % 2 == 0 || h[n] == 0, "the odd column's padding is zero");
    float qn = nn_bf2f(nn_f2bf(NAN));
    CHECK(isnan(qn), "NaN stays NaN");
    free(h), free(x), free(y);
}

/* QuickGELU and its derivative, written from the definition x * sigmoid(1.702 x) */
static float qgelu(float x) { return x / (1.0f + expf(-1.702f * x)); }
static float qgelu_d(float x) {
    float sg = 1.0f / (1.0f + expf(-1.702f * x));
    return sg + 1.702f * x * sg * (1.0f - sg);
}

static void test_gemm(const char *c) {
    char nm[64];
    snprintf(nm, sizeof nm, "gemm.%s.dims", c);
    float *dims = fx(nm, 4);
    if (!dims) {
        CHECK(0, "gemm %s fixtures present", c);
        return;
    }
    int M = (int)dims[0], K = (int)dims[1], N = (int)dims[2], nk = (int)dims[3];
    size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    snprintf(nm, sizeof nm, "gemm.%s.a", c);
    float *a = fx(nm, na);
    snprintf(nm, sizeof nm, "gemm.%s.src", c);
    float *src = fx(nm, nb);
    snprintf(nm, sizeof nm, "gemm.%s.c0", c);
    float *c0 = fx(nm, nc);
    snprintf(nm, sizeof nm, "gemm.%s.c", c);
    float *want = fx(nm, nc);
    if (!a || !src || !c0 || !want) {
        CHECK(0, "gemm %s fixtures present", c);
        free(dims), free(a), free(src), free(c0), free(want);
        return;
    }
    uint16_t *bp = malloc(sizeof(uint16_t) * nn_bf16_packed_size(K, N));
    uint16_t *ah = malloc(sizeof(uint16_t) * nn_bf16_rows_size(M, K));
    nn_bf16_pack(bp, src, K, N, nk);
    nn_bf16_rows(ah, a, K, K, 0, M / 2);
    nn_bf16_rows(ah, a, K, K, M / 2, M); /* in two row ranges */
    int P = (N + NN_BF16_NR - 1) / NN_BF16_NR;
    float *got = malloc(sizeof(float) * nc);
    double tol = 2e-7 * K; /* float sums of K products of O(1) terms */
    char what[128];
    memcpy(got, c0, sizeof(float) * nc);
    nn_bf16_gemm_panels(got, N, ah, M, K, bp, N, 0, P, NULL);
    snprintf(what, sizeof what, "gemm %s (%d,%d,%d, %s) %s", c, M, K, N, nk ? "W^T" : "B",
             nn_bf16_available() ? "AVX512_BF16" : "plain");
    close_all(what, got, 0, want, nc, tol, 1e-6);
    memcpy(got, c0, sizeof(float) * nc);
    nn_bf16_gemm_panels(got, N, ah, M, K, bp, N, 0, 1, NULL);
    nn_bf16_gemm_panels(got, N, ah, M, K, bp, N, 1, P + 3, NULL); /* past the end: clipped */
    snprintf(what, sizeof what, "gemm %s, panels [0,1) then [1,P)", c);
    close_all(what, got, 0, want, nc, tol, 1e-6);
    memcpy(got, c0, sizeof(float) * nc);
    nn_bf16_gemm_panels_plain(got, N, ah, M, K, bp, N, 0, P, NULL);
    snprintf(what, sizeof what, "gemm %s, the plain loop", c);
    close_all(what, got, 0, want, nc, tol, 1e-6);
    /* the epilogue, kernel and plain loop alike: overwrite + bias + res (res = c0),
     * act_out = QuickGELU, out16 = its bf16 rows; then the backward form C *= act'(pre) */
    {
        float *bias = malloc(sizeof(float) * N), *ao = malloc(sizeof(float) * nc),
              *ao2 = malloc(sizeof(float) * nc);
        float *g2 = malloc(sizeof(float) * nc), *want2 = malloc(sizeof(float) * nc);
        size_t n16 = nn_bf16_rows_size(M, N);
        uint16_t *o16 = malloc(sizeof(uint16_t) * n16),
                 *w16 = malloc(sizeof(uint16_t) * n16);
        for (int i = 0; i < N; i++) bias[i] = 0.25f * (float)((i % 7) - 3);
        const nn_act_t qg = {NN_ACT_QUICKGELU, 0};
        /* the product over every panel, by the kernel (pass 0) or the plain loop (pass 1) */
#define GEMM(Cm, ep) (pass ? nn_bf16_gemm_panels_plain : nn_bf16_gemm_panels)(Cm, N, ah, M, K, bp, N, 0, P, ep)
        for (int pass = 0; pass < 2; pass++) {
            memset(o16, 0xff, sizeof(uint16_t) * n16);
            for (size_t i = 0; i < nc; i++) got[i] = NAN, ao[i] = NAN;
            nn_bf16_epi_t ep = {
                .overwrite = 1, .bias = bias, .res = c0, .act = qg, .act_out = ao, .out16 = o16};
            GEMM(got, &ep);
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) {
                    size_t i = (size_t)m * N + n;
                    want2[i] = want[i] + bias[n]; /* want = c0 + AB */
                    ao2[i] = qgelu(want2[i]);
                }
            snprintf(what, sizeof what, "gemm %s, epilogue %s: C = AB + bias + res", c,
                     pass ? "plain" : "kernel");
            close_all(what, got, 0, want2, nc, tol, 1e-6);
            snprintf(what, sizeof what, "gemm %s, epilogue %s: act_out = QuickGELU(C)", c,
                     pass ? "plain" : "kernel");
            close_all(what, ao, 0, ao2, nc, tol, 1e-5);
            nn_bf16_rows(w16, ao, N, N, 0, M);
            int same16 = 1;
            for (size_t i = 0; i < n16; i++) same16 &= o16[i] == w16[i];
            CHECK(same16, "gemm %s, epilogue %s: out16 = nn_bf16_rows(act_out), padding included", c,
                  pass ? "plain" : "kernel");
            /* act without act_out: out16 still takes bf16(act(C)), and C is the same */
            memset(w16, 0xff, sizeof(uint16_t) * n16);
            for (size_t i = 0; i < nc; i++) g2[i] = NAN;
            nn_bf16_epi_t ea = {.overwrite = 1, .bias = bias, .res = c0, .act = qg, .out16 = w16};
            GEMM(g2, &ea);
            CHECK(!memcmp(w16, o16, sizeof(uint16_t) * n16) && !memcmp(g2, got, sizeof(float) * nc),
                  "gemm %s, epilogue %s: act without act_out - C the same, out16 = bf16(act(C)) the same", c,
                  pass ? "plain" : "kernel");
            /* C NULL: nothing kept in float, out16 the same as with C (here bf16(act(C)) again) */
            memset(w16, 0xff, sizeof(uint16_t) * n16);
            GEMM(NULL, &ea);
            CHECK(!memcmp(w16, o16, sizeof(uint16_t) * n16), "gemm %s, epilogue %s: C NULL - out16 the same", c,
                  pass ? "plain" : "kernel");
            /* the backward form: C = AB (overwrite), then C *= QuickGELU'(pre = c0) */
            nn_bf16_epi_t eb = {.overwrite = 1, .pre = c0, .act = qg, .out16 = o16};
            GEMM(g2, &eb);
            memset(w16, 0xff, sizeof(uint16_t) * n16);
            eb.out16 = w16;
            GEMM(NULL, &eb);
            CHECK(!memcmp(w16, o16, sizeof(uint16_t) * n16),
                  "gemm %s, epilogue %s: the backward form with C NULL - out16 = bf16(C * act'(pre)) the same", c,
                  pass ? "plain" : "kernel");
            for (size_t i = 0; i < nc; i++) want2[i] = (want[i] - c0[i]) * qgelu_d(c0[i]);
            snprintf(what, sizeof what, "gemm %s, epilogue %s: C = AB * QuickGELU'(pre)", c,
                     pass ? "plain" : "kernel");
            close_all(what, g2, 0, want2, nc, tol * 4, 1e-4);
            /* dact_out: out16 = bf16(act(C)) the same, C := act'(C) instead of C */
            float *dv = malloc(sizeof(float) * nc), *x1 = malloc(sizeof(float) * nc),
                  *x2 = malloc(sizeof(float) * nc);
            GEMM(NULL, &ea);
            memcpy(o16, w16, sizeof(uint16_t) * n16); /* the forward's out16 again */
            memset(w16, 0xff, sizeof(uint16_t) * n16);
            for (size_t i = 0; i < nc; i++) dv[i] = NAN;
            nn_bf16_epi_t ed = {.overwrite = 1, .bias = bias, .res = c0, .act = qg, .out16 = w16, .dact_out = 1};
            GEMM(dv, &ed);
            CHECK(!memcmp(w16, o16, sizeof(uint16_t) * n16),
                  "gemm %s, epilogue %s: dact_out - out16 = bf16(act(C)) the same", c, pass ? "plain" : "kernel");
            for (size_t i = 0; i < nc; i++) want2[i] = qgelu_d(got[i]);
            snprintf(what, sizeof what, "gemm %s, epilogue %s: dact_out - C = QuickGELU'(AB + bias + res)", c,
                     pass ? "plain" : "kernel");
            close_all(what, dv, 0, want2, nc, 1e-6, 1e-5);
            /* the backward by dmul = that derivative: C and out16 byte for byte the backward by pre */
            nn_bf16_epi_t ep1 = {.overwrite = 1, .pre = got, .act = qg, .out16 = o16};
            nn_bf16_epi_t ep2 = {.overwrite = 1, .dmul = dv, .out16 = w16};
            memset(w16, 0xff, sizeof(uint16_t) * n16);
            GEMM(x1, &ep1);
            GEMM(x2, &ep2);
            CHECK(!memcmp(x1, x2, sizeof(float) * nc) && !memcmp(w16, o16, sizeof(uint16_t) * n16),
                  "gemm %s, epilogue %s: C *= dmul (dact_out's) = C *= act'(pre), C and out16 byte for byte", c,
                  pass ? "plain" : "kernel");
            memset(w16, 0xff, sizeof(uint16_t) * n16);
            GEMM(NULL, &ep2);
            CHECK(!memcmp(w16, o16, sizeof(uint16_t) * n16), "gemm %s, epilogue %s: dmul with C NULL - out16 the same",
                  c, pass ? "plain" : "kernel");
            free(dv), free(x1), free(x2);
        }
#undef GEMM
        free(bias), free(ao), free(ao2), free(g2), free(want2), free(o16), free(w16);
    }
    memcpy(got, c0, sizeof(float) * nc);
    nn_bf16_gemm_ref(got, N, a, K, M, K, src, N, nk);
    snprintf(what, sizeof what, "gemm %s, nn_bf16_gemm_ref", c);
    close_all(what, got, 0, want, nc, 1e-6, 1e-6);
    free(bp), free(ah), free(got), free(dims), free(a), free(src), free(c0), free(want);
}

typedef struct {
    const char *name;
    const nn_par_t *par;
} variant_t;

static void test_linear(const variant_t *v, const char *c) {
    char nm[64];
#define FX(var, part, n)                                                                                     \
    snprintf(nm, sizeof nm, "lin.%s." part, c);                                                              \
    float *var = fx(nm, n);
    FX(dims, "dims", 3)
    if (!dims) {
        CHECK(0, "lin %s fixtures present", c);
        return;
    }
    int N = (int)dims[0], IC = (int)dims[1], OC = (int)dims[2];
    size_t nx = (size_t)N * IC, ny = (size_t)N * OC;
    FX(xp, "x_pre", nx)
    FX(x, "x", nx)
    FX(w, "w", (size_t)OC * IC)
    FX(b, "b", (size_t)OC)
    FX(r, "res", ny)
    FX(wy, "y", ny)
    FX(wa, "a", ny)
    FX(dy, "dy", ny)
    FX(wdx, "dx", nx)
    FX(wdxp, "dx_pre", nx)
#undef FX
    if (!xp || !x || !w || !b || !r || !wy || !wa || !dy || !wdx || !wdxp) {
        CHECK(0, "lin %s fixtures present", c);
        goto out;
    }
    linear_bf16_t lw;
    uint16_t *mem = malloc(sizeof(uint16_t) * linear_bf16_pack_size(IC, OC));
    size_t ns = nn_bf16_rows_size(N, IC > OC ? IC : OC);
    uint16_t *scr = malloc(sizeof(uint16_t) * ns);
    linear_bf16_pack(&lw, mem, w, IC, OC);
    const nn_act_t qg = {NN_ACT_QUICKGELU, 0};
    float *y = filled(ny, NAN), *a = filled(ny, NAN), *dx = filled(nx, 7.0f);
    char what[128];
    double ty = 2e-7 * IC, tx = 2e-7 * OC;
    size_t n16 = nn_bf16_rows_size(N, OC);
    uint16_t *o16 = malloc(sizeof(uint16_t) * n16), *w16 = malloc(sizeof(uint16_t) * n16);
    linear_forward_bf16(v->par, y, a, x, r, &lw, b, qg, N, IC, OC, scr, NULL, o16);
    snprintf(what, sizeof what, "linear_forward_bf16 %s (%d,%d->%d) y [%s]", c, N, IC, OC, v->name);
    close_all(what, y, 0, wy, ny, ty, 1e-6);
    snprintf(what, sizeof what, "linear_forward_bf16 %s QuickGELU(y) [%s]", c, v->name);
    close_all(what, a, 0, wa, ny, ty, 1e-6);
    nn_bf16_rows(w16, a, OC, OC, 0, N);
    CHECK(!memcmp(o16, w16, sizeof(uint16_t) * n16),
          "linear_forward_bf16 %s: out16 = bf16 rows of QuickGELU(y) [%s]", c, v->name);
    /* the activation not kept (act_out NULL): out16 still bf16 rows of QuickGELU(y), y the same */
    memset(o16, 0xff, sizeof(uint16_t) * n16);
    for (size_t i = 0; i < ny; i++) a[i] = y[i], y[i] = NAN;
    linear_forward_bf16(v->par, y, NULL, x, r, &lw, b, qg, N, IC, OC, scr, NULL, o16);
    CHECK(!memcmp(o16, w16, sizeof(uint16_t) * n16) && !memcmp(y, a, sizeof(float) * ny),
          "linear_forward_bf16 %s with act_out NULL: y and out16 = bf16 rows of QuickGELU(y) the same [%s]", c,
          v->name);
    /* the derivative kept instead of y (frozen weights: nothing else reads y) */
    {
        float *da = filled(ny, NAN), *wd = malloc(sizeof(float) * ny);
        linear_forward_bf16(v->par, y, NULL, x, NULL, &lw, b, qg, N, IC, OC, scr, NULL, w16);
        memset(o16, 0xff, sizeof(uint16_t) * n16);
        CHECK(linear_forward_bf16_dact(v->par, da, x, &lw, b, qg, N, IC, OC, scr, NULL, o16) == NN_OK,
              "linear_forward_bf16_dact %s returns NN_OK [%s]", c, v->name);
        const nn_act_t none = {NN_ACT_NONE, 0};
        CHECK(linear_forward_bf16_dact(v->par, da, x, &lw, b, qg, N, IC, OC, scr, NULL, NULL) == NN_EINVAL &&
                  linear_forward_bf16_dact(v->par, da, x, &lw, b, none, N, IC, OC, scr, NULL, o16) == NN_EINVAL &&
                  linear_forward_bf16_dact(v->par, NULL, x, &lw, b, qg, N, IC, OC, scr, NULL, o16) == NN_EINVAL,
              "linear_forward_bf16_dact %s: no out16, no activation or no dact is NN_EINVAL [%s]", c, v->name);
        CHECK(!memcmp(o16, w16, sizeof(uint16_t) * n16),
              "linear_forward_bf16_dact %s: out16 = linear_forward_bf16's (no residual) [%s]", c, v->name);
        for (size_t i = 0; i < ny; i++) wd[i] = qgelu_d(y[i]);
        snprintf(what, sizeof what, "linear_forward_bf16_dact %s: dact = QuickGELU'(y) [%s]", c, v->name);
        close_all(what, da, 0, wd, ny, 1e-6, 1e-5);
        /* backward through it: dinp and out16 byte for byte linear_backward_bf16's with inp_pre = y */
        size_t nd16 = nn_bf16_rows_size(N, OC);
        float *ga = filled(ny, 7.0f), *gb = filled(ny, 8.0f);
        uint16_t *g16 = malloc(sizeof(uint16_t) * nd16), *h16 = malloc(sizeof(uint16_t) * nd16);
        /* y (N,OC) is then the input side of a product OC -> IC, dout = x */
        linear_bf16_t lt;
        uint16_t *memt = malloc(sizeof(uint16_t) * linear_bf16_pack_size(OC, IC));
        linear_bf16_pack(&lt, memt, w, OC, IC); /* w (OC,IC) read as a (IC,OC) weight: any matrix will do */
        uint16_t *scr2 = malloc(sizeof(uint16_t) * nn_bf16_rows_size(N, IC > OC ? IC : OC));
        CHECK(linear_backward_bf16(v->par, ga, x, y, &lt, qg, N, OC, IC, 0, scr2, NULL, g16) == NN_OK &&
                  linear_backward_bf16_dact(v->par, gb, x, da, &lt, N, OC, IC, scr2, NULL, h16) == NN_OK,
              "linear_backward_bf16_dact %s returns NN_OK [%s]", c, v->name);
        CHECK(!memcmp(ga, gb, sizeof(float) * ny) && !memcmp(g16, h16, sizeof(uint16_t) * nd16),
              "linear_backward_bf16_dact %s: dinp and out16 byte for byte linear_backward_bf16's through "
              "QuickGELU [%s]",
              c, v->name);
        memset(h16, 0xff, sizeof(uint16_t) * nd16);
        CHECK(linear_backward_bf16_dact(v->par, NULL, x, da, &lt, N, OC, IC, scr2, NULL, h16) == NN_OK &&
                  !memcmp(g16, h16, sizeof(uint16_t) * nd16),
              "linear_backward_bf16_dact %s with dinp NULL: out16 alone, the same [%s]", c, v->name);
        CHECK(linear_backward_bf16_dact(v->par, gb, x, NULL, &lt, N, OC, IC, scr2, NULL, NULL) == NN_EINVAL,
              "linear_backward_bf16_dact %s without dact is NN_EINVAL [%s]", c, v->name);
        free(da), free(wd), free(ga), free(gb), free(g16), free(h16), free(memt), free(scr2);
    }
    memcpy(y, r, sizeof(float) * ny);
    linear_forward_bf16(v->par, y, NULL, x, y, &lw, b, qg, N, IC, OC, scr, NULL, NULL);
    snprintf(what, sizeof what, "linear_forward_bf16 %s with out == res [%s]", c, v->name);
    close_all(what, y, 0, wy, ny, ty, 1e-6);
    /* the input given already rounded (in16): scratch untouched */
    uint16_t *x16 = malloc(sizeof(uint16_t) * nn_bf16_rows_size(N, IC));
    nn_bf16_rows(x16, x, IC, IC, 0, N);
    memset(scr, 0xff, sizeof(uint16_t) * ns);
    for (size_t i = 0; i < ny; i++) y[i] = NAN;
    linear_forward_bf16(v->par, y, NULL, NULL, r, &lw, b, qg, N, IC, OC, scr, x16, NULL);
    snprintf(what, sizeof what, "linear_forward_bf16 %s from in16 [%s]", c, v->name);
    close_all(what, y, 0, wy, ny, ty, 1e-6);
    int untouched = 1;
    for (size_t i = 0; i < ns; i++) untouched &= scr[i] == 0xffff;
    CHECK(untouched, "linear_forward_bf16 %s from in16 leaves scratch alone [%s]", c, v->name);
    free(x16);
    size_t nx16 = nn_bf16_rows_size(N, IC);
    uint16_t *dx16 = malloc(sizeof(uint16_t) * nx16), *wdx16 = malloc(sizeof(uint16_t) * nx16);
    CHECK(linear_backward_bf16(v->par, dx, dy, xp, &lw, qg, N, IC, OC, 0, scr, NULL, dx16) == NN_OK,
          "linear_backward_bf16 %s returns NN_OK [%s]", c, v->name);
    snprintf(what, sizeof what, "linear_backward_bf16 %s dx_pre through QuickGELU (overwritten) [%s]", c,
             v->name);
    close_all(what, dx, 0, wdxp, nx, tx, 1e-5);
    nn_bf16_rows(wdx16, dx, IC, IC, 0, N);
    CHECK(!memcmp(dx16, wdx16, sizeof(uint16_t) * nx16),
          "linear_backward_bf16 %s: out16 = bf16 rows of dx_pre [%s]", c, v->name);
    /* no float gradient kept (dinp NULL): the same out16 */
    memset(dx16, 0xff, sizeof(uint16_t) * nx16);
    CHECK(linear_backward_bf16(v->par, NULL, dy, xp, &lw, qg, N, IC, OC, 0, scr, NULL, dx16) == NN_OK &&
              !memcmp(dx16, wdx16, sizeof(uint16_t) * nx16),
          "linear_backward_bf16 %s with dinp NULL: out16 alone, the same [%s]", c, v->name);
    CHECK(linear_backward_bf16(v->par, NULL, dy, NULL, &lw, qg, N, IC, OC, 1, scr, NULL, dx16) == NN_EINVAL,
          "linear_backward_bf16 %s: dinp NULL with accumulate is NN_EINVAL [%s]", c, v->name);
    /* dout given rounded (in16) */
    uint16_t *dy16 = malloc(sizeof(uint16_t) * nn_bf16_rows_size(N, OC));
    nn_bf16_rows(dy16, dy, OC, OC, 0, N);
    for (size_t i = 0; i < nx; i++) dx[i] = 7.0f;
    linear_backward_bf16(v->par, dx, NULL, xp, &lw, qg, N, IC, OC, 0, scr, dy16, NULL);
    snprintf(what, sizeof what, "linear_backward_bf16 %s from in16 [%s]", c, v->name);
    close_all(what, dx, 0, wdxp, nx, tx, 1e-5);
    free(dy16), free(dx16), free(wdx16);
    for (size_t i = 0; i < nx; i++) dx[i] = 0.5f;
    linear_backward_bf16(v->par, dx, dy, NULL, &lw, qg, N, IC, OC, 1, scr, NULL, NULL);
    snprintf(what, sizeof what, "linear_backward_bf16 %s dx (accumulated) [%s]", c, v->name);
    close_all(what, dx, 0.5f, wdx, nx, tx, 1e-5);
    for (size_t i = 0; i < nx; i++) dx[i] = 7.0f;
    linear_backward_bf16(v->par, dx, dy, NULL, &lw, qg, N, IC, OC, 0, scr, NULL, NULL);
    snprintf(what, sizeof what, "linear_backward_bf16 %s dx (overwritten) [%s]", c, v->name);
    close_all(what, dx, 0, wdx, nx, tx, 1e-5);
    free(mem), free(scr), free(y), free(a), free(dx), free(o16), free(w16);
out:
    free(dims), free(xp), free(x), free(w), free(b), free(r), free(wy), free(wa), free(dy), free(wdx),
        free(wdxp);
}

static void test_errors(void) {
    linear_bf16_t lw = {0};
    float d[4] = {0}, dy[4] = {0}, pre[4] = {0};
    uint16_t s[8];
    const nn_act_t qg = {NN_ACT_QUICKGELU, 0};
    CHECK(linear_backward_bf16(NULL, d, dy, pre, &lw, qg, 2, 2, 2, 1, s, NULL, NULL) == NN_EINVAL,
          "linear_backward_bf16: an activation's backward with accumulate is NN_EINVAL");
    CHECK(linear_backward_bf16(NULL, d, dy, NULL, &lw, qg, -1, 2, 2, 0, s, NULL, NULL) == NN_EINVAL,
          "linear_backward_bf16: a negative size is NN_EINVAL");
    for (int i = 0; i < 4; i++) d[i] = 3;
    CHECK(linear_backward_bf16(NULL, d, dy, NULL, &lw, qg, 2, 2, 0, 0, s, NULL, NULL) == NN_OK && d[0] == 0 &&
              d[3] == 0,
          "linear_backward_bf16 with no outputs overwrites dx with zeros");
    CHECK(nn_bf16_packed_size(0, 5) == 0 && nn_bf16_rows_size(3, 0) == 0, "empty operands take no space");
    CHECK(nn_bf16_packed_size(3, 65) == (size_t)2 * 2 * 128, "a (3,65) operand: 2 panels of 2 k-pairs");
}

int main(void) {
    err_t e = {0};
    ref = tf_open("tests/fixtures/nn/bf16_ref.safetensors", &e);
    CHECK(ref != NULL, "open tests/fixtures/nn/bf16_ref.safetensors (%s)", e.msg);
    if (!ref) T_DONE();
    printf("# AVX512_BF16 on this CPU: %s\n",
           nn_bf16_available() ? "yes (the kernel is tested)" : "no (the plain loop is)");
    test_round();
    const char *gc[] = {"a", "b", "c", "d", "e"};
    for (int k = 0; k < 5; k++) test_gemm(gc[k]);
    pool_t pool, pool3;
    pool_init(&pool, 2, NULL);
    pool_init(&pool3, 3, NULL);
    nn_par_t serial = pool_par(NULL), two = pool_par(&pool), three = pool_par(&pool3);
    variant_t vs[] = {{"serial", &serial}, {"NULL par", NULL}, {"2 threads", &two}, {"3 threads", &three}};
    for (int i = 0; i < 4; i++) {
        test_linear(&vs[i], "a");
        test_linear(&vs[i], "b");
    }
    test_errors();
    pool_free(&pool);
    pool_free(&pool3);
    tf_close(ref);
    T_DONE();
}
