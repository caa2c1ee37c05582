/* test_f32p.c - the packed float32 products (common/nn/gemm_f32.c, linear.c's
 * linear_forward_f32p / linear_backward_f32p).
 *
 * The reference is independent of the code under test: sums in double by a
 * plain triple loop written here, the epilogue applied to them here, and
 * the float path's linear_forward_ref / linear_backward_ref (the layer the
 * PyTorch fixtures of test_nn_xf and test_clip check).
 *
 * 1. Packing: both layouts of the same matrix pack to the same bits; the
 *    padding columns are zero.
 * 2. Products: the kernel (AVX2+FMA where the CPU has it) and the plain
 *    loop against the double sums, on shapes with ragged row tiles and
 *    panels (M, N not multiples of 6 and 16; K = 1); every epilogue
 *    (overwrite or add, bias, residual, residual == C, dmul, act'(pre),
 *    act_out, dact) against the same epilogue on the double sums.
 * 3. The promise of the order: each element of C has the same bits whatever
 *    rows are computed with it (a row alone, the batch), the panels a call
 *    takes, and the thread count (1, 2, 3).
 * 4. linear: forward (bias + residual + QuickGELU, in place residual, dact)
 *    and backward (through act'(pre), through dmul, accumulated) against
 *    the float references; errors.
 * Outputs start as NaN or 7 so an element not written, or written when it
 * should be added to, fails.
 */
#include "nn/gemm_f32.h"
#include "nn/linear.h"
#include "pool.h"
#include "t.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static unsigned rs = 12345;
static float urand(void) {
    rs = rs * 1103515245u + 12345u;
    return (float)((rs >> 8) & 0xffff) / 65536.0f * 2.0f - 1.0f;
}
static float *rnd(size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = urand();
    return p;
}
static float *filled(size_t n, float v) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = v;
    return p;
}
static float *packed(const float *w, int K, int N, int nk) {
    float *p = aligned_alloc(64, (nn_f32_packed_size(K, N) * sizeof(float) + 63) / 64 * 64);
    nn_f32_pack(p, w, K, N, nk);
    return p;
}

static double qgelu(double x) { return x / (1.0 + exp(-1.702 * x)); }
static double qgelu_d(double x) {
    double s = 1.0 / (1.0 + exp(-1.702 * x));
    return s + 1.702 * x * s * (1.0 - s);
}

/* |a - b| <= atol + rtol |b| everywhere; prints the worst */
static void close_all(const char *what, const float *a, const double *b, size_t n, double atol, double rtol) {
    size_t bad = 0, wi = 0;
    double worst = -1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]), lim = atol + rtol * fabs(b[i]);
        if (!(d <= lim)) bad++;
        if (!(d / lim <= worst)) worst = d / lim, wi = i;
    }
    CHECK(bad == 0, "%s: %zu values within atol %g rtol %g (worst [%zu] %.8g vs %.8g)", what, n, atol, rtol, wi,
          n ? (double)a[wi] : 0.0, n ? b[wi] : 0.0);
}

static void test_pack(void) {
    int K = 37, N = 41;
    float *w = rnd((size_t)K * N), *wt = malloc(sizeof(float) * K * N);
    for (int k = 0; k < K; k++)
        for (int n = 0; n < N; n++) wt[(size_t)n * K + k] = w[(size_t)k * N + n];
    float *a = packed(w, K, N, 0), *b = packed(wt, K, N, 1);
    size_t sz = nn_f32_packed_size(K, N);
    CHECK(sz == (size_t)3 * K * 16, "packed size: 3 panels of (K, 16) (%zu)", sz);
    CHECK(!memcmp(a, b, sizeof(float) * sz), "(K,N) and (N,K) sources pack to the same bits");
    int ok = 1, z = 1;
    for (int k = 0; k < K; k++)
        for (int n = 0; n < 48; n++) {
            float v = a[((size_t)(n / 16) * K + k) * 16 + n % 16];
            if (n < N && v != w[(size_t)k * N + n]) ok = 0;
            if (n >= N && v != 0.0f) z = 0;
        }
    CHECK(ok, "panel p row k column c holds B[k][16p + c]");
    CHECK(z, "the last panel's columns past N are zero");
    CHECK(nn_f32_packed_size(0, 5) == 0 && nn_f32_packed_size(5, 0) == 0, "empty operands pack to nothing");
    free(w), free(wt), free(a), free(b);
}

/* the epilogue e on the double sums s (M,N), as gemm_f32.h defines it; c0:
 * C before the call */
static void epi_ref(double *out, double *aout, const double *s, const float *c0, const nn_f32_epi_t *e, int M,
                    int N) {
    for (int i = 0; i < M * N; i++) {
        double v = s[i];
        if (!e->overwrite) v += c0[i];
        if (e->bias) v += e->bias[i % N];
        if (e->res) v += e->res[i];
        if (e->dmul) v *= e->dmul[i];
        if (e->pre) v *= qgelu_d(e->pre[i]);
        if (aout) aout[i] = qgelu(v);
        if (e->dact) v = qgelu_d(v);
        out[i] = v;
    }
}

typedef void (*gemm_fn)(float *, int, const float *, int, int, int, const float *, int, int, int,
                        const nn_f32_epi_t *);

static void test_gemm(gemm_fn fn, const char *name) {
    static const int shapes[][3] = {{1, 1, 1}, {6, 8, 16}, {7, 5, 17}, {13, 64, 33}, {5, 1, 40}, {50, 96, 70}};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        int M = shapes[si][0], K = shapes[si][1], N = shapes[si][2];
        int lda = K + 3, P = (N + 15) / 16;
        float *A = rnd((size_t)M * lda), *W = rnd((size_t)N * K), *Bp = packed(W, K, N, 1);
        double *s = malloc(sizeof(double) * M * N), *want = malloc(sizeof(double) * M * N),
               *awant = malloc(sizeof(double) * M * N);
        for (int i = 0; i < M; i++)
            for (int n = 0; n < N; n++) {
                double acc = 0;
                for (int k = 0; k < K; k++) acc += (double)A[(size_t)i * lda + k] * W[(size_t)n * K + k];
                s[i * N + n] = acc;
            }
        float *bias = rnd(N), *res = rnd((size_t)M * N), *dmul = rnd((size_t)M * N), *pre = rnd((size_t)M * N);
        double tol = 2e-6 * (K + 4);
        struct {
            const char *what;
            nn_f32_epi_t e;
            int act_out, res_is_c;
        } cases[] = {
            {"C += A B", {0}, 0, 0},
            {"C = A B", {.overwrite = 1}, 0, 0},
            {"+ bias + res", {.overwrite = 1, .bias = bias, .res = res}, 0, 0},
            {"C += A B + bias", {.bias = bias}, 0, 0},
            {"res == C (in place)", {.overwrite = 1, .bias = bias}, 0, 1},
            {"* dmul", {.overwrite = 1, .dmul = dmul}, 0, 0},
            {"* act'(pre)", {.overwrite = 1, .pre = pre, .act = {NN_ACT_QUICKGELU, 0}}, 0, 0},
            {"act_out = act(C)", {.overwrite = 1, .bias = bias, .act = {NN_ACT_QUICKGELU, 0}}, 1, 0},
            {"dact", {.overwrite = 1, .bias = bias, .act = {NN_ACT_QUICKGELU, 0}, .dact = 1}, 1, 0},
        };
        for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
            nn_f32_epi_t e = cases[ci].e;
            float *C = cases[ci].e.overwrite && !cases[ci].res_is_c ? filled((size_t)M * N, NAN) : rnd((size_t)M * N);
            float *c0 = malloc(sizeof(float) * M * N), *ao = NULL;
            memcpy(c0, C, sizeof(float) * M * N);
            if (cases[ci].res_is_c) e.res = C;
            if (cases[ci].act_out) e.act_out = ao = filled((size_t)M * N, NAN);
            nn_f32_epi_t er = e;
            if (cases[ci].res_is_c) er.res = c0;
            epi_ref(want, ao ? awant : NULL, s, c0, &er, M, N);
            /* all panels in one call, or one call a panel */
            if (si & 1)
                for (int p = 0; p < P; p++) fn(C, N, A, lda, M, K, Bp, N, p, p + 1, &e);
            else
                fn(C, N, A, lda, M, K, Bp, N, 0, P, &e);
            char what[160];
            snprintf(what, sizeof what, "%s (%d,%d,%d) %s", name, M, K, N, cases[ci].what);
            close_all(what, C, want, (size_t)M * N, tol, 1e-5);
            if (ao) {
                snprintf(what, sizeof what, "%s (%d,%d,%d) %s: act_out", name, M, K, N, cases[ci].what);
                close_all(what, ao, awant, (size_t)M * N, tol, 1e-5);
            }
            free(C), free(c0), free(ao);
        }
        free(A), free(W), free(Bp), free(s), free(want), free(awant), free(bias), free(res), free(dmul), free(pre);
    }
}

/* each row's bits do not depend on the rows computed with it or on the
 * panels a call takes */
static void test_order(void) {
    int M = 23, K = 300, N = 75, P = (N + 15) / 16;
    float *A = rnd((size_t)M * K), *W = rnd((size_t)N * K), *Bp = packed(W, K, N, 1), *bias = rnd(N);
    nn_f32_epi_t e = {.overwrite = 1, .bias = bias};
    float *all = filled((size_t)M * N, NAN), *one = filled((size_t)N, NAN), *split = filled((size_t)M * N, NAN);
    nn_f32_gemm_panels(all, N, A, K, M, K, Bp, N, 0, P, &e);
    int same = 1;
    for (int i = 0; i < M; i++) {
        nn_f32_gemm_panels(one, N, A + (size_t)i * K, K, 1, K, Bp, N, 0, P, &e);
        if (memcmp(one, all + (size_t)i * N, sizeof(float) * N)) same = 0;
    }
    CHECK(same, "each of %d rows alone has the bits it has in the batch", M);
    nn_f32_gemm_panels(split, N, A, K, 10, K, Bp, N, 0, 2, &e);
    nn_f32_gemm_panels(split + 10 * N, N, A + 10 * K, K, M - 10, K, Bp, N, 0, 2, &e);
    nn_f32_gemm_panels(split, N, A, K, M, K, Bp, N, 2, P, &e);
    CHECK(!memcmp(split, all, sizeof(float) * M * N), "rows and panels split over calls: the same bits");
    free(A), free(W), free(Bp), free(bias), free(all), free(one), free(split);
}

static void test_linear(void) {
    pool_t p2, p3;
    pool_init(&p2, 2, NULL);
    pool_init(&p3, 3, NULL);
    nn_par_t pars[3] = {pool_par(NULL), pool_par(&p2), pool_par(&p3)};
    int N = 37, IC = 70, OC = 100;
    float *x = rnd((size_t)N * IC), *w = rnd((size_t)OC * IC), *b = rnd(OC), *res = rnd((size_t)N * OC);
    float *mem = aligned_alloc(64, sizeof(float) * linear_f32p_pack_size(IC, OC));
    CHECK(linear_f32p_pack_size(IC, OC) % 16 == 0, "pack size a multiple of 16 floats");
    linear_f32p_t pk;
    linear_f32p_pack(&pk, mem, w, IC, OC);
    nn_act_t qg = {NN_ACT_QUICKGELU, 0}, none = {NN_ACT_NONE, 0};
    float *ref = malloc(sizeof(float) * N * OC), *aref = malloc(sizeof(float) * N * OC);
    linear_forward_ref(NULL, ref, aref, x, res, w, b, qg, N, IC, OC);
    double *dref = malloc(sizeof(double) * N * OC), *daref = malloc(sizeof(double) * N * OC);
    for (int i = 0; i < N * OC; i++) dref[i] = ref[i], daref[i] = aref[i];
    float *first = NULL, *firsta = NULL;
    for (int pi = 0; pi < 3; pi++) {
        float *out = filled((size_t)N * OC, NAN), *ao = filled((size_t)N * OC, NAN);
        CHECK(linear_forward_f32p(&pars[pi], out, ao, x, res, &pk, b, qg, N, IC, OC, 0) == NN_OK,
              "forward on %d thread(s)", pi + 1);
        close_all("forward: out", out, dref, (size_t)N * OC, 1e-5, 1e-5);
        close_all("forward: QuickGELU(out)", ao, daref, (size_t)N * OC, 1e-5, 1e-5);
        if (!first) first = out, firsta = ao;
        else {
            CHECK(!memcmp(out, first, sizeof(float) * N * OC) && !memcmp(ao, firsta, sizeof(float) * N * OC),
                  "forward on %d threads: the bits of 1 thread", pi + 1);
            free(out), free(ao);
        }
    }
    /* in place residual */
    float *io = malloc(sizeof(float) * N * OC);
    memcpy(io, res, sizeof(float) * N * OC);
    linear_forward_f32p(&pars[1], io, NULL, x, io, &pk, b, none, N, IC, OC, 0);
    CHECK(!memcmp(io, first, sizeof(float) * N * OC), "out == res (in place): the same bits");
    /* dact: out = act'(y), act_out = act(y) */
    float *y = malloc(sizeof(float) * N * OC), *dy = filled((size_t)N * OC, NAN), *gy = filled((size_t)N * OC, NAN);
    linear_forward_ref(NULL, y, NULL, x, NULL, w, b, none, N, IC, OC);
    CHECK(linear_forward_f32p(&pars[1], dy, gy, x, NULL, &pk, b, qg, N, IC, OC, 1) == NN_OK, "dact forward");
    for (int i = 0; i < N * OC; i++) dref[i] = qgelu_d(y[i]), daref[i] = qgelu(y[i]);
    close_all("dact: out = QuickGELU'(y)", dy, dref, (size_t)N * OC, 1e-5, 1e-4);
    close_all("dact: act_out = QuickGELU(y)", gy, daref, (size_t)N * OC, 1e-5, 1e-5);

    /* backward: dinp = dout w (* act'(pre)) */
    float *dout = rnd((size_t)N * OC), *pre = rnd((size_t)N * IC), *dmul = malloc(sizeof(float) * N * IC);
    for (int i = 0; i < N * IC; i++) dmul[i] = (float)qgelu_d(pre[i]);
    float *dref1 = filled((size_t)N * IC, 0.0f);
    linear_backward_ref(NULL, dref1, NULL, NULL, dout, NULL, pre, w, qg, N, IC, OC, 0);
    double *dd = malloc(sizeof(double) * N * IC);
    for (int i = 0; i < N * IC; i++) dd[i] = dref1[i];
    float *bfirst = NULL;
    for (int pi = 0; pi < 3; pi++) {
        float *di = filled((size_t)N * IC, NAN);
        CHECK(linear_backward_f32p(&pars[pi], di, dout, pre, NULL, &pk, qg, N, IC, OC, 0) == NN_OK,
              "backward through act'(pre) on %d thread(s)", pi + 1);
        close_all("backward: dinp", di, dd, (size_t)N * IC, 1e-5, 1e-4);
        if (!bfirst) bfirst = di;
        else {
            CHECK(!memcmp(di, bfirst, sizeof(float) * N * IC), "backward on %d threads: the bits of 1 thread",
                  pi + 1);
            free(di);
        }
    }
    float *dm = filled((size_t)N * IC, NAN);
    linear_backward_f32p(&pars[1], dm, dout, NULL, dmul, &pk, none, N, IC, OC, 0);
    close_all("backward through dmul = act'(pre)", dm, dd, (size_t)N * IC, 1e-5, 1e-4);
    /* accumulate */
    float *acc = filled((size_t)N * IC, 7.0f), *plain = filled((size_t)N * IC, 0.0f);
    linear_backward_ref(NULL, plain, NULL, NULL, dout, NULL, NULL, w, none, N, IC, OC, 0);
    for (int i = 0; i < N * IC; i++) dd[i] = 7.0 + plain[i];
    linear_backward_f32p(&pars[2], acc, dout, NULL, NULL, &pk, none, N, IC, OC, 1);
    close_all("backward accumulated into 7", acc, dd, (size_t)N * IC, 1e-5, 1e-4);

    /* errors and empty sizes */
    CHECK(linear_forward_f32p(&pars[0], dy, NULL, x, NULL, &pk, b, qg, N, IC, OC, 1) == NN_EINVAL,
          "dact without act_out: NN_EINVAL");
    CHECK(linear_forward_f32p(&pars[0], dy, gy, x, NULL, &pk, b, none, N, IC, OC, 1) == NN_EINVAL,
          "dact without an activation: NN_EINVAL");
    CHECK(linear_forward_f32p(&pars[0], dy, gy, x, res, &pk, b, qg, N, IC, OC, 1) == NN_EINVAL,
          "dact with a residual: NN_EINVAL");
    CHECK(linear_forward_f32p(&pars[0], dy, NULL, x, NULL, &pk, b, none, -1, IC, OC, 0) == NN_EINVAL,
          "a negative size: NN_EINVAL");
    CHECK(linear_backward_f32p(&pars[0], dm, dout, pre, dmul, &pk, qg, N, IC, OC, 0) == NN_EINVAL,
          "backward with both pre and dmul: NN_EINVAL");
    CHECK(linear_backward_f32p(&pars[0], dm, dout, NULL, dmul, &pk, none, N, IC, OC, 1) == NN_EINVAL,
          "backward through dmul, accumulated: NN_EINVAL");
    CHECK(linear_backward_f32p(&pars[0], NULL, dout, NULL, NULL, &pk, none, N, IC, OC, 0) == NN_OK,
          "backward with no dinp: nothing to do");
    float z[6] = {1, 2, 3, 4, 5, 6}, bb[3] = {0.5f, -1, 2}, rr[6] = {1, 1, 1, 1, 1, 1};
    CHECK(linear_forward_f32p(&pars[0], z, NULL, x, rr, &pk, bb, none, 2, 0, 3, 0) == NN_OK && z[0] == 1.5f &&
              z[1] == 0.0f && z[5] == 3.0f,
          "IC = 0: out = bias + res");
    float zz[4] = {3, 3, 3, 3};
    linear_backward_f32p(&pars[0], zz, dout, NULL, NULL, &pk, none, 2, 2, 0, 0);
    CHECK(zz[0] == 0 && zz[3] == 0, "OC = 0: dinp overwritten with zeros");

    free(x), free(w), free(b), free(res), free(mem), free(ref), free(aref), free(dref), free(daref), free(first),
        free(firsta), free(io), free(y), free(dy), free(gy), free(dout), free(pre), free(dmul), free(dref1), free(dd),
        free(bfirst), free(dm), free(acc), free(plain);
    pool_free(&p2), pool_free(&p3);
}

int main(void) {
    printf("# AVX2+FMA kernel here: %s\n", nn_f32_available() ? "yes" : "no (the plain loop twice)");
    test_pack();
    test_gemm(nn_f32_gemm_panels, "gemm");
    test_gemm(nn_f32_gemm_panels_plain, "plain");
    test_order();
    test_linear();
    T_DONE();
}
