/* test_thread_bits.c - the products whose results the docs promise do not
 * depend on the thread count give the same bits on 1, 2 and 3 threads:
 * linear_forward and linear_backward (every CLIP and evaluator product;
 * docs/optimize.md, docs/clip.md) and the convolutions, forward and
 * backward, plain and transposed (the evaluator's scores, docs/evaluator.md;
 * the U-Net and its training, docs/unet.md), and the contrastive loss of
 * clip-train (docs/clip-train.md).
 *
 * OpenBLAS picks its sgemm code by a call's size (a small-matrix kernel, a
 * direct kernel, edge kernels), and those sum in another order; work split
 * into blocks by the thread count used to meet them on one thread count and
 * not on another - seen on the text tower of ViT-B/32 (3 tokens, 512 wide:
 * the text embeddings, and every drawing optimised against them, differed in
 * the last bits between -j 1 and -j 2) and on sketch-score at -j 3 under the
 * AVX2 kernels.  The linear shapes are that tower's and its neighbours',
 * rows from 1 to past two row tiles; the convolutions the evaluator's and
 * small odd ones, batches of 1 to 5.
 *
 * OpenBLAS reads OPENBLAS_CORETYPE once, when it loads: with it set (this
 * environment pins AVX2 kernels) the checks run under the pin, and then the
 * binary runs itself again without it, so they also run on the kernels
 * OpenBLAS picks for this CPU (where the small-matrix kernel lives). */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/loss.h"
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

static void conv_shape(const nn_par_t *pars, int npar, conv2d_dims_t d, int bias) {
    rng_t r;
    rng_seed(&r, (uint64_t)d.N * 7919u + (uint64_t)d.C * 104729u + (uint64_t)d.H * 31u + (uint64_t)d.OC);
    int OH, OW;
    if (conv2d_out_size(&d, &OH, &OW)) {
        CHECK(0, "conv dims valid");
        return;
    }
    size_t nx = (size_t)d.N * d.C * d.H * d.W, ny = (size_t)d.N * d.OC * OH * OW,
           nw = (size_t)d.OC * d.C * d.KH * d.KW;
    float *x = rnd(&r, nx), *w = rnd(&r, nw), *b = rnd(&r, (size_t)d.OC), *dy = rnd(&r, ny);
    float *y[3], *dx[3], *dw[3], *db[3];
    /* the transposed convolution with the same weights: (N,OC,OH,OW) -> (N,C,H',W') */
    conv2d_dims_t t = d;
    t.C = d.OC, t.OC = d.C, t.H = OH, t.W = OW;
    int TH, TW;
    if (conv_transpose2d_out_size(&t, &TH, &TW)) {
        CHECK(0, "transposed conv dims valid");
        return;
    }
    size_t nt = (size_t)d.N * d.C * TH * TW;
    float *dt = rnd(&r, nt), *ty[3], *tdx[3], *tdw[3], *tdb[3];
    for (int v = 0; v < npar; v++) {
        int T = pars[v].nthreads;
        size_t na = conv2d_ws_size(&d, T), nb = conv_transpose2d_ws_size(&t, T), nws = na > nb ? na : nb;
        float *ws = malloc(sizeof(float) * (nws ? nws : 1));
        y[v] = malloc(sizeof(float) * ny), dx[v] = calloc(nx, sizeof(float)), dw[v] = calloc(nw, sizeof(float));
        db[v] = calloc((size_t)d.OC, sizeof(float));
        ty[v] = malloc(sizeof(float) * nt), tdx[v] = calloc(ny, sizeof(float)), tdw[v] = calloc(nw, sizeof(float));
        tdb[v] = calloc((size_t)d.C, sizeof(float));
        int rc = conv2d_forward(&pars[v], y[v], x, w, bias ? b : NULL, &d, ws, nws);
        rc = rc ? rc : conv2d_backward(&pars[v], dx[v], dw[v], db[v], dy, x, w, &d, ws, nws);
        rc = rc ? rc : conv_transpose2d_forward(&pars[v], ty[v], dy, w, bias ? x : NULL, &t, ws, nws);
        rc = rc ? rc : conv_transpose2d_backward(&pars[v], tdx[v], tdw[v], tdb[v], dt, dy, w, &t, ws, nws);
        if (rc) CHECK(0, "the convolutions run (%d threads)", T);
        free(ws);
    }
    for (int v = 1; v < npar; v++) {
        int T = pars[v].nthreads;
        char what[160];
        snprintf(what, sizeof what, "N=%d C=%d %dx%d -> OC=%d k%dx%d s%d p%d%s: %d threads give the bits of 1",
                 d.N, d.C, d.H, d.W, d.OC, d.KH, d.KW, d.stride_h, d.pad_h, bias ? " +bias" : "", T);
        CHECK(same(y[0], y[v], ny), "conv2d_forward %s", what);
        CHECK(same(dx[0], dx[v], nx) && same(dw[0], dw[v], nw) && same(db[0], db[v], (size_t)d.OC),
              "conv2d_backward (input, weight and bias gradients) %s", what);
        CHECK(same(ty[0], ty[v], nt), "conv_transpose2d_forward %s", what);
        CHECK(same(tdx[0], tdx[v], ny) && same(tdw[0], tdw[v], nw) && same(tdb[0], tdb[v], (size_t)d.C),
              "conv_transpose2d_backward %s", what);
    }
    for (int v = 0; v < npar; v++)
        free(y[v]), free(dx[v]), free(dw[v]), free(db[v]), free(ty[v]), free(tdx[v]), free(tdw[v]), free(tdb[v]);
    free(x), free(w), free(b), free(dy), free(dt);
}

/* the contrastive loss of clip-train: logits, both softmaxes, gradients */
static void nce_shape(const nn_par_t *pars, int npar, int N, int E) {
    rng_t r;
    rng_seed(&r, (uint64_t)N * 65537u + (uint64_t)E);
    float *img = rnd(&r, (size_t)N * E), *txt = rnd(&r, (size_t)N * E), loss[3], dls[3], *di[3], *dt[3];
    size_t nws = infonce_ws_size(N);
    float *ws = malloc(sizeof(float) * nws);
    for (int v = 0; v < npar; v++) {
        di[v] = malloc(sizeof(float) * N * E), dt[v] = malloc(sizeof(float) * N * E), dls[v] = 0;
        if (infonce(&pars[v], &loss[v], di[v], dt[v], &dls[v], img, txt, 2.6592f, N, E, ws, nws))
            CHECK(0, "infonce runs (%d threads)", pars[v].nthreads);
    }
    for (int v = 1; v < npar; v++)
        CHECK(same(&loss[0], &loss[v], 1) && same(&dls[0], &dls[v], 1) && same(di[0], di[v], (size_t)N * E) &&
                  same(dt[0], dt[v], (size_t)N * E),
              "infonce N=%d E=%d (loss, logit-scale, image and text gradients): %d threads give the bits of 1", N, E,
              pars[v].nthreads);
    for (int v = 0; v < npar; v++) free(di[v]), free(dt[v]);
    free(img), free(txt), free(ws);
}

int main(int argc, char **argv) {
    (void)argc;
    int child = -1;
    fflush(stdout);
    if (getenv("OPENBLAS_CORETYPE") && !getenv("T_THREAD_BITS_CHILD")) {
        printf("# under OPENBLAS_CORETYPE=%s, then again without it\n", getenv("OPENBLAS_CORETYPE"));
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            unsetenv("OPENBLAS_CORETYPE");
            unsetenv("OPENBLAS_L2_SIZE");
            setenv("T_THREAD_BITS_CHILD", "1", 1);
            execv("/proc/self/exe", argv);
            _exit(127);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) < 0) child = 127;
        else child = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        CHECK(child != 127 && child != 128, "the run without OPENBLAS_CORETYPE started and finished");
    }
    pool_t p2, p3;
    if (pool_init(&p2, 2, NULL) || pool_init(&p3, 3, NULL)) {
        CHECK(0, "pools of 2 and 3 threads start");
        T_DONE();
    }
    nn_par_t pars[3] = {pool_par(NULL), pool_par(&p2), pool_par(&p3)}; /* serial, 2, 3 threads */
    static const int shapes[][3] = {
        {3, 512, 512},  {3, 512, 1536},  {3, 512, 2048}, {3, 2048, 512}, {1, 768, 768},   {7, 512, 512},
        {10, 512, 512}, {50, 768, 768},  {50, 768, 96},  {200, 64, 48},  {4, 3072, 768},  {77, 512, 512},
        {1100, 64, 96}, {2100, 32, 128}, {16, 200, 72},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        shape(pars, 3, shapes[i][0], shapes[i][1], shapes[i][2]);
    /* N, C, H, W, OC, KH, KW, stride, pad: the evaluator's stem and blocks at 64x64, odd sizes, 1x1 (direct) */
    static const int convs[][9] = {
        {1, 1, 64, 64, 32, 3, 3, 1, 1}, {5, 1, 64, 64, 32, 3, 3, 1, 1}, {3, 32, 32, 32, 64, 3, 3, 1, 1},
        {2, 64, 16, 16, 128, 3, 3, 2, 1}, {1, 3, 37, 29, 8, 5, 5, 1, 2}, {4, 16, 23, 23, 24, 1, 1, 1, 0},
        {1, 128, 8, 8, 128, 3, 3, 1, 1},  {2, 8, 70, 70, 16, 4, 4, 2, 1},
    };
    /* as on a machine of 5 and of 8 cores (the cuts follow nn_par_t.width, the machine's cores) */
    for (int wd = 5; wd <= 8; wd += 3) {
        nn_par_t wp[3] = {pars[0], pars[1], pars[2]};
        for (int v = 0; v < 3; v++) wp[v].width = wd;
        printf("# width %d\n", wd);
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i += 3) shape(wp, 3, shapes[i][0], shapes[i][1], shapes[i][2]);
        nce_shape(wp, 3, 37, 16);
        for (size_t i = 2; i < sizeof convs / sizeof convs[0]; i += 3) {
            const int *c = convs[i];
            conv2d_dims_t d = {.N = c[0], .C = c[1], .H = c[2], .W = c[3], .OC = c[4], .KH = c[5], .KW = c[6],
                               .stride_h = c[7], .stride_w = c[7], .pad_h = c[8], .pad_w = c[8]};
            conv_shape(wp, 3, d, 1);
        }
    }
    nce_shape(pars, 3, 128, 64);
    nce_shape(pars, 3, 37, 16);
    nce_shape(pars, 3, 5, 512);
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) {
        const int *c = convs[i];
        conv2d_dims_t d = {.N = c[0], .C = c[1], .H = c[2], .W = c[3], .OC = c[4], .KH = c[5], .KW = c[6],
                           .stride_h = c[7], .stride_w = c[7], .pad_h = c[8], .pad_w = c[8]};
        conv_shape(pars, 3, d, (int)(i & 1));
    }
    pool_free(&p2);
    pool_free(&p3);
    return t_fail || (child > 0) ? 1 : 0;
}
