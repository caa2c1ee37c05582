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
 *    fixture C; all panels at once and split into two calls; both packings.
 * 3. Linear: forward with bias + residual + QuickGELU (also out == res),
 *    backward to the input through QuickGELU (overwritten) and without it
 *    (accumulated and overwritten), on serial, NULL, 2- and 3-thread pars.
 *    Outputs start as NaN / 7 / 0.5 so an element not written, or written
 *    when it should be added to, fails.
 * 4. Errors and sizes.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "nn/gemm_bf16.h"
#include "nn/linear.h"
#include "pool.h"
#include "t.h"
#include "tfix.h"

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
    CHECK(bad == 0, "%s: %zu values within atol %g rtol %g (worst [%zu] %.8g vs %.8g)", what, n, atol, rtol, wi,
          (double)a[wi] - base, (double)b[wi]);
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
    nn_bf16_gemm_panels(got, N, ah, M, K, bp, N, 0, P);
    snprintf(what, sizeof what, "gemm %s (%d,%d,%d, %s) %s", c, M, K, N, nk ? "W^T" : "B",
             nn_bf16_available() ? "AVX512_BF16" : "plain");
    close_all(what, got, 0, want, nc, tol, 1e-6);
    memcpy(got, c0, sizeof(float) * nc);
    nn_bf16_gemm_panels(got, N, ah, M, K, bp, N, 0, 1);
    nn_bf16_gemm_panels(got, N, ah, M, K, bp, N, 1, P + 3); /* past the end: clipped */
    snprintf(what, sizeof what, "gemm %s, panels [0,1) then [1,P)", c);
    close_all(what, got, 0, want, nc, tol, 1e-6);
    memcpy(got, c0, sizeof(float) * nc);
    nn_bf16_gemm_panels_plain(got, N, ah, M, K, bp, N, 0, P);
    snprintf(what, sizeof what, "gemm %s, the plain loop", c);
    close_all(what, got, 0, want, nc, tol, 1e-6);
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
#define FX(var, part, n)                                   \
    snprintf(nm, sizeof nm, "lin.%s." part, c);            \
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
    linear_forward_bf16(v->par, y, a, x, r, &lw, b, qg, N, IC, OC, scr);
    snprintf(what, sizeof what, "linear_forward_bf16 %s (%d,%d->%d) y [%s]", c, N, IC, OC, v->name);
    close_all(what, y, 0, wy, ny, ty, 1e-6);
    snprintf(what, sizeof what, "linear_forward_bf16 %s QuickGELU(y) [%s]", c, v->name);
    close_all(what, a, 0, wa, ny, ty, 1e-6);
    memcpy(y, r, sizeof(float) * ny);
    linear_forward_bf16(v->par, y, NULL, x, y, &lw, b, qg, N, IC, OC, scr);
    snprintf(what, sizeof what, "linear_forward_bf16 %s with out == res [%s]", c, v->name);
    close_all(what, y, 0, wy, ny, ty, 1e-6);
    CHECK(linear_backward_bf16(v->par, dx, dy, xp, &lw, qg, N, IC, OC, 0, scr) == NN_OK,
          "linear_backward_bf16 %s returns NN_OK [%s]", c, v->name);
    snprintf(what, sizeof what, "linear_backward_bf16 %s dx_pre through QuickGELU (overwritten) [%s]", c, v->name);
    close_all(what, dx, 0, wdxp, nx, tx, 1e-5);
    for (size_t i = 0; i < nx; i++) dx[i] = 0.5f;
    linear_backward_bf16(v->par, dx, dy, NULL, &lw, qg, N, IC, OC, 1, scr);
    snprintf(what, sizeof what, "linear_backward_bf16 %s dx (accumulated) [%s]", c, v->name);
    close_all(what, dx, 0.5f, wdx, nx, tx, 1e-5);
    for (size_t i = 0; i < nx; i++) dx[i] = 7.0f;
    linear_backward_bf16(v->par, dx, dy, NULL, &lw, qg, N, IC, OC, 0, scr);
    snprintf(what, sizeof what, "linear_backward_bf16 %s dx (overwritten) [%s]", c, v->name);
    close_all(what, dx, 0, wdx, nx, tx, 1e-5);
    free(mem), free(scr), free(y), free(a), free(dx);
out:
    free(dims), free(xp), free(x), free(w), free(b), free(r), free(wy), free(wa), free(dy), free(wdx), free(wdxp);
}

static void test_errors(void) {
    linear_bf16_t lw = {0};
    float d[4] = {0}, dy[4] = {0}, pre[4] = {0};
    uint16_t s[8];
    const nn_act_t qg = {NN_ACT_QUICKGELU, 0};
    CHECK(linear_backward_bf16(NULL, d, dy, pre, &lw, qg, 2, 2, 2, 1, s) == NN_EINVAL,
          "linear_backward_bf16: an activation's backward with accumulate is NN_EINVAL");
    CHECK(linear_backward_bf16(NULL, d, dy, NULL, &lw, qg, -1, 2, 2, 0, s) == NN_EINVAL,
          "linear_backward_bf16: a negative size is NN_EINVAL");
    for (int i = 0; i < 4; i++) d[i] = 3;
    CHECK(linear_backward_bf16(NULL, d, dy, NULL, &lw, qg, 2, 2, 0, 0, s) == NN_OK && d[0] == 0 && d[3] == 0,
          "linear_backward_bf16 with no outputs overwrites dx with zeros");
    CHECK(nn_bf16_packed_size(0, 5) == 0 && nn_bf16_rows_size(3, 0) == 0, "empty operands take no space");
    CHECK(nn_bf16_packed_size(3, 65) == (size_t)2 * 2 * 128, "a (3,65) operand: 2 panels of 2 k-pairs");
}

int main(void) {
    err_t e = {0};
    ref = tf_open("tests/fixtures/nn/bf16_ref.safetensors", &e);
    CHECK(ref != NULL, "open tests/fixtures/nn/bf16_ref.safetensors (%s)", e.msg);
    if (!ref) T_DONE();
    printf("# AVX512_BF16 on this CPU: %s\n", nn_bf16_available() ? "yes (the kernel is tested)" : "no (the plain loop is)");
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
