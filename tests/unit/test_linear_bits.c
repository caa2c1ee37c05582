/* test_linear_bits.c - linear_forward and linear_backward give the same bits
 * on 1, 2 and 3 threads (docs/optimize.md: a record's result does not depend
 * on the thread count).
 *
 * OpenBLAS picks its sgemm code by the product's size (a small-matrix kernel,
 * a direct kernel), and those sum in another order; a product split into
 * column blocks by the thread count used to meet them on one thread count and
 * not on another - seen on the text tower of ViT-B/32 (3 tokens, 512 wide:
 * the image embeddings matched, the text embeddings differed in the last
 * bits, and so did every optimised drawing).  The shapes below are that
 * tower's and its neighbours', rows from 1 to past two row tiles.
 *
 * OpenBLAS reads OPENBLAS_CORETYPE once, when it loads; with it set (this
 * environment pins AVX2 kernels, which have no small-matrix path) the bug
 * cannot show, so the binary first re-executes itself without it: the checks
 * run on the kernels OpenBLAS picks for this CPU. */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "nn/linear.h"
#include "pool.h"
#include "rng.h"
#include "t.h"

static float *rnd(rng_t *r, size_t n) {
    float *p = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) p[i] = (float)(rng_uniform(r) - 0.5);
    return p;
}

static int same(const float *a, const float *b, size_t n) { return !memcmp(a, b, sizeof(float) * n); }

static void shape(const nn_par_t *pars, int npar, int N, int IC, int OC) {
    rng_t r;
    rng_seed(&r, (uint64_t)N * 1000003u + (uint64_t)IC * 1009u + (uint64_t)OC);
    size_t nx = (size_t)N * IC, ny = (size_t)N * OC, nw = (size_t)OC * IC;
    float *x = rnd(&r, nx), *w = rnd(&r, nw), *b = rnd(&r, (size_t)OC), *dy = rnd(&r, ny), *res = rnd(&r, ny);
    float *y[3], *a[3], *dx[3], *dxa[3], *dw[3], *db[3];
    const nn_act_t qg = {NN_ACT_QUICKGELU, 0};
    for (int v = 0; v < npar; v++) {
        y[v] = malloc(sizeof(float) * ny), a[v] = malloc(sizeof(float) * ny);
        dx[v] = malloc(sizeof(float) * nx), dxa[v] = malloc(sizeof(float) * nx);
        dw[v] = calloc(nw, sizeof(float)), db[v] = calloc((size_t)OC, sizeof(float));
        linear_forward(&pars[v], y[v], a[v], x, res, w, b, qg, N, IC, OC);
        linear_backward(&pars[v], dx[v], dw[v], db[v], dy, x, NULL, w, qg, N, IC, OC, 0);
        memcpy(dxa[v], x, sizeof(float) * nx);
        linear_backward(&pars[v], dxa[v], NULL, NULL, dy, x, NULL, w, qg, N, IC, OC, 1);
    }
    for (int v = 1; v < npar; v++) {
        int t = pars[v].nthreads;
        CHECK(same(y[0], y[v], ny) && same(a[0], a[v], ny),
              "linear_forward (%d,%d->%d): %d threads give the bits of 1 (output and activation)", N, IC, OC, t);
        CHECK(same(dx[0], dx[v], nx), "linear_backward (%d,%d->%d) input gradient: %d threads = 1, bit for bit", N,
              IC, OC, t);
        CHECK(same(dxa[0], dxa[v], nx), "linear_backward (%d,%d->%d) accumulated input gradient: %d threads = 1", N,
              IC, OC, t);
        CHECK(same(dw[0], dw[v], nw) && same(db[0], db[v], (size_t)OC),
              "linear_backward (%d,%d->%d) weight and bias gradients: %d threads = 1, bit for bit", N, IC, OC, t);
    }
    for (int v = 0; v < npar; v++) free(y[v]), free(a[v]), free(dx[v]), free(dxa[v]), free(dw[v]), free(db[v]);
    free(x), free(w), free(b), free(dy), free(res);
}

int main(int argc, char **argv) {
    (void)argc;
    if (getenv("OPENBLAS_CORETYPE") && !getenv("T_LINEAR_BITS_REEXEC")) {
        unsetenv("OPENBLAS_CORETYPE");
        unsetenv("OPENBLAS_L2_SIZE");
        setenv("T_LINEAR_BITS_REEXEC", "1", 1);
        execv("/proc/self/exe", argv);
        printf("# could not re-execute without OPENBLAS_CORETYPE; running under it\n");
    }
    pool_t p2, p3;
    if (pool_init(&p2, 2, NULL) || pool_init(&p3, 3, NULL)) {
        CHECK(0, "pools of 2 and 3 threads start");
        T_DONE();
    }
    nn_par_t pars[3] = {{0}, pool_par(&p2), pool_par(&p3)};
    pars[0].nthreads = 1;
    static const int shapes[][3] = {
        {3, 512, 512},  {3, 512, 1536},  {3, 512, 2048}, {3, 2048, 512}, {1, 768, 768},   {7, 512, 512},
        {10, 512, 512}, {50, 768, 768},  {50, 768, 96},  {200, 64, 48},  {4, 3072, 768},  {77, 512, 512},
        {1100, 64, 96}, {2100, 32, 128}, {16, 200, 72},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        shape(pars, 3, shapes[i][0], shapes[i][1], shapes[i][2]);
    pool_free(&p2);
    pool_free(&p3);
    T_DONE();
}
