/* conv_bench.c - times the convolution kernels of common/nn/conv.c at the
 * shapes of a pix2pix U-Net layer (batch 4, 64x64 maps):
 *   down   conv2d           64 -> 128 channels, 64x64 -> 32x32, k4 s2 p1
 *   up     conv_transpose2d 128 -> 64 channels, 32x32 -> 64x64, k4 s2 p1
 *   same   conv2d           64 -> 64 channels, 64x64, k3 s1 p1 (a classifier layer)
 *   down_b1 the down step on one 128x128 image (the split over pixels, not images)
 * forward, backward (d input, d weight, d bias) and both, on a pool of
 * CONV_THREADS threads (default 2; OpenBLAS itself single-threaded, as the
 * kernels expect), and the rate of one cblas_sgemm of the layer's whole
 * product (M=OC, N=batch*pixels, K=C*KH*KW) with OpenBLAS on the same number
 * of threads - the ceiling the lowering and the split pay against.
 * FLOPs are counted as 2*MACs of the convolution (forward 1x, backward 2x).
 * Prints one "name value unit" line per measurement (median of reps);
 * bench/torch_conv.py prints the same lines for PyTorch.
 *
 * Usage: conv_bench [reps]   (default 10) */
#include "nn/conv.h"
#include "pool.h"
#include "util.h"
#include "bench.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>


typedef struct {
    const char *name;
    int transposed;
    conv2d_dims_t d;
} shape_t;

static void run(const shape_t *sh, const nn_par_t *par, int nth, int reps) {
    const conv2d_dims_t *d = &sh->d;
    int OH, OW;
    if (sh->transposed ? conv_transpose2d_out_size(d, &OH, &OW) : conv2d_out_size(d, &OH, &OW))
        die(EXIT_INTERNAL, "bad shape");
    size_t nx = (size_t)d->N * d->C * d->H * d->W, nw = (size_t)d->OC * d->C * d->KH * d->KW,
           ny = (size_t)d->N * d->OC * OH * OW;
    size_t nws = sh->transposed ? conv_transpose2d_ws_size(d, nth) : conv2d_ws_size(d, nth);
    unsigned long long s = 42;
    float *x = rnd(nx, &s), *w = rnd(nw, &s), *b = rnd(d->OC, &s), *dy = rnd(ny, &s);
    float *y = xmalloc(sizeof(float) * ny), *dx = xcalloc(nx, sizeof(float)),
          *dw = xcalloc(nw, sizeof(float)), *db = xcalloc(d->OC, sizeof(float)),
          *ws = xmalloc(sizeof(float) * (nws ? nws : 1));
    /* MACs of the convolution: every (output pixel, weight) pair of conv2d;
     * every (input pixel, weight) pair of the transposed one */
    double macs = sh->transposed ? (double)nx * d->OC * d->KH * d->KW : (double)ny * d->C * d->KH * d->KW;
    double *tf = xmalloc(sizeof(double) * reps), *tb = xmalloc(sizeof(double) * reps);
    for (int r = -1; r < reps; r++) {
        double t0 = now_sec();
        int rc = sh->transposed ? conv_transpose2d_forward(par, y, x, w, b, d, ws, nws)
                                : conv2d_forward(par, y, x, w, b, d, ws, nws);
        double t1 = now_sec();
        rc |= sh->transposed ? conv_transpose2d_backward(par, dx, dw, db, dy, x, w, d, ws, nws)
                             : conv2d_backward(par, dx, dw, db, dy, x, w, d, ws, nws);
        double t2 = now_sec();
        if (rc) die(EXIT_INTERNAL, "conv kernel refused the shape");
        if (r >= 0) tf[r] = t1 - t0, tb[r] = t2 - t1;
    }
    double f = median(tf, reps), bw = median(tb, reps);
    printf("conv_%s_forward %.4f s %.1f GFLOP/s\n", sh->name, f, 2 * macs / f / 1e9);
    printf("conv_%s_backward %.4f s %.1f GFLOP/s\n", sh->name, bw, 4 * macs / bw / 1e9);
    printf("conv_%s_fwdbwd %.4f s %.1f GFLOP/s (%.2f GFLOP)\n", sh->name, f + bw, 6 * macs / (f + bw) / 1e9,
           6 * macs / 1e9);
    /* the layer's product as one sgemm, OpenBLAS threaded */
    int M = sh->transposed ? d->C : d->OC, K = (sh->transposed ? d->OC : d->C) * d->KH * d->KW;
    int Ncol = (int)(macs / ((double)M * K));
    float *A = rnd((size_t)M * K, &s), *B = rnd((size_t)K * Ncol, &s),
          *Cm = xmalloc(sizeof(float) * (size_t)M * Ncol);
    openblas_set_num_threads(nth);
    for (int r = -1; r < reps; r++) {
        double t0 = now_sec();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, Ncol, K, 1.0f, A, K, B, Ncol, 0.0f, Cm,
                    Ncol);
        if (r >= 0) tf[r] = now_sec() - t0;
    }
    blas_threads_init();
    f = median(tf, reps);
    printf("sgemm_%s %.4f s %.1f GFLOP/s (M=%d N=%d K=%d, OpenBLAS %d threads)\n", sh->name, f,
           2 * macs / f / 1e9, M, Ncol, K, nth);
    free(A);
    free(B);
    free(Cm);
    free(x);
    free(w);
    free(b);
    free(dy);
    free(y);
    free(dx);
    free(dw);
    free(db);
    free(ws);
    free(tf);
    free(tb);
}

int main(int argc, char **argv) {
    util_init(argv[0]);
    int reps = argc > 1 ? atoi(argv[1]) : 10;
    if (reps < 1) reps = 1;
    const char *th = getenv("CONV_THREADS");
    int nth = th ? atoi(th) : 2;
    if (nth < 1) nth = 1;
    printf("threads %d\n", nth);
    pool_t pool;
    err_t e = {0};
    if (pool_init(&pool, nth, &e)) die_err(&e);
    nn_par_t par = pool_par(&pool);
    shape_t shapes[] = {
        {"down",
         0,
         {.N = 4,
          .C = 64,
          .H = 64,
          .W = 64,
          .OC = 128,
          .KH = 4,
          .KW = 4,
          .stride_h = 2,
          .stride_w = 2,
          .pad_h = 1,
          .pad_w = 1}},
        {"up",
         1,
         {.N = 4,
          .C = 128,
          .H = 32,
          .W = 32,
          .OC = 64,
          .KH = 4,
          .KW = 4,
          .stride_h = 2,
          .stride_w = 2,
          .pad_h = 1,
          .pad_w = 1}},
        {"same", 0, {.N = 4, .C = 64, .H = 64, .W = 64, .OC = 64, .KH = 3, .KW = 3, .pad_h = 1, .pad_w = 1}},
        {"down_b1",
         0,
         {.N = 1,
          .C = 64,
          .H = 128,
          .W = 128,
          .OC = 128,
          .KH = 4,
          .KW = 4,
          .stride_h = 2,
          .stride_w = 2,
          .pad_h = 1,
          .pad_w = 1}},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) run(&shapes[i], &par, nth, reps);
    pool_free(&pool);
    return 0;
}
