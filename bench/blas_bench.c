/* blas_bench.c - where the threads go: our pool splitting every product by
 * columns over single-threaded OpenBLAS (the project's choice, pool.h
 * blas_threads_init), against OpenBLAS's own threads with the model serial,
 * and both at once.  The measurement behind docs/benchmarks.md "One pool,
 * single-threaded OpenBLAS".
 *
 * Three ways, each on T threads (BLAS_THREADS, default 2):
 *   pool      a pool of T, OpenBLAS on 1 thread   (what the tools do)
 *   openblas  no pool (serial model), OpenBLAS on T threads
 *   both      a pool of T and OpenBLAS on T threads (T*T threads competing)
 * Two workloads, full-size ViT-B/32 with closed-form random weights:
 *   products  the weight products of one batch-4 image forward (12 blocks of
 *             qkv 768->2304, out 768->768, fc 768->3072 with QuickGELU,
 *             proj 3072->768 over 200 rows, and the 3072->768 patch
 *             embedding over 196 rows) through linear_forward, and their
 *             backward to the input through linear_backward (frozen
 *             weights, as when optimising strokes);
 *   model     clip_image_forward at batch 1 and 4, and forward + backward to
 *             the input at batch 4 (one optimisation step's CLIP work).
 * The three ways run interleaved within each repetition (three pools alive,
 * idle ones asleep), so a shift in the machine's load hits them alike.
 * Prints one "name value unit" line per measurement: the median of reps,
 * and the best run.
 *
 * Usage: blas_bench [reps]   (default 7) */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include "clip.h"
#include "nn/linear.h"
#include "pool.h"
#include "util.h"
#include "bench.h"


typedef struct {
    int N, IC, OC, count;
    nn_act_t act;
} shape_t;

static const shape_t shapes[] = {
    {196, 3072, 768, 1, {NN_ACT_NONE, 0}},      /* patch embedding */
    {200, 768, 2304, 12, {NN_ACT_NONE, 0}},     /* qkv */
    {200, 768, 768, 12, {NN_ACT_NONE, 0}},      /* attention out */
    {200, 768, 3072, 12, {NN_ACT_QUICKGELU, 0}}, /* fc + QuickGELU */
    {200, 3072, 768, 12, {NN_ACT_NONE, 0}},     /* proj */
};
enum { NSHAPES = sizeof shapes / sizeof *shapes };

typedef struct {
    float *x, *w, *b, *y, *ya, *dy, *dx;
} bufs_t;

static void products(const nn_par_t *par, bufs_t *u, int backward) {
    for (int s = 0; s < NSHAPES; s++) {
        const shape_t *h = &shapes[s];
        for (int c = 0; c < h->count; c++) {
            if (!backward)
                linear_forward(par, u->y, h->act.kind != NN_ACT_NONE ? u->ya : NULL, u->x, NULL, u->w, u->b, h->act,
                               h->N, h->IC, h->OC);
            else
                linear_backward(par, u->dx, NULL, NULL, u->dy, NULL, NULL, u->w, h->act, h->N, h->IC, h->OC, 0);
        }
    }
}

typedef struct {
    const char *name;
    int pool_threads, blas_threads;
} way_t;

int main(int argc, char **argv) {
    util_init(argv[0]);
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1) reps = 1;
    if (reps > 64) reps = 64;
    const char *th = getenv("BLAS_THREADS");
    int T = th && atoi(th) > 0 ? atoi(th) : 2;
    printf("threads %d\n", T);
    const way_t ways[] = {{"pool", T, 1}, {"openblas", 1, T}, {"both", T, T}};
    enum { NWAYS = sizeof ways / sizeof *ways };

    /* one pool per way, all alive at once (idle workers sleep), and the ways
     * interleaved within each repetition, so that a change in the machine's
     * load during the run falls on all three alike */
    err_t e = {0};
    pool_t pools[NWAYS];
    nn_par_t pars[NWAYS];
    for (int k = 0; k < NWAYS; k++) {
        if (pool_init(&pools[k], ways[k].pool_threads, &e)) die_err(&e);
        pars[k] = pool_par(&pools[k]);
    }
    double t[NWAYS][64];

    /* products */
    unsigned long long seed = 1;
    size_t mx = 200 * 3072, mw = 3072 * 2304;
    bufs_t u = {rnd(mx, &seed), rnd(mw, &seed), rnd(3072, &seed), xmalloc(sizeof(float) * mx),
                xmalloc(sizeof(float) * mx), rnd(mx, &seed), xmalloc(sizeof(float) * mx)};
    double flops = 0;
    for (int s = 0; s < NSHAPES; s++) flops += 2.0 * shapes[s].N * shapes[s].IC * shapes[s].OC * shapes[s].count;
    for (int bwd = 0; bwd < 2; bwd++) {
        for (int r = -1; r < reps; r++)
            for (int k = 0; k < NWAYS; k++) {
                openblas_set_num_threads(ways[k].blas_threads);
                double t0 = now_sec();
                products(&pars[k], &u, bwd);
                if (r >= 0) t[k][r] = now_sec() - t0;
            }
        for (int k = 0; k < NWAYS; k++) {
            double md = median(t[k], reps), best = t[k][0];
            printf("products_%s_%s %.4f s %.1f GFLOP/s (best %.4f s; %.1f GFLOP)\n", bwd ? "bwd" : "fwd",
                   ways[k].name, md, flops / md / 1e9, best, flops / 1e9);
        }
    }
    free(u.x), free(u.w), free(u.b), free(u.y), free(u.ya), free(u.dy), free(u.dx);

    /* the whole image tower: one model, lent each way's pool in turn */
    clip_config_t cfg = {.v_width = 768, .v_layers = 12, .v_heads = 12, .patch = 32, .image_size = 224,
                         .t_width = 512, .t_layers = 12, .t_heads = 8, .context = 77, .vocab = 49408,
                         .embed_dim = 512, .mlp_ratio = 4};
    clip_params_t w;
    if (clip_params_alloc(&w, &cfg)) die(EXIT_INTERNAL, "bad config");
    clip_params_closed_form(&w);
    clip_t m;
    clip_init(&m, &w, NULL);
    int S = 224, B = 4;
    float *img = xmalloc(sizeof(float) * B * 3 * S * S), *dimg = xmalloc(sizeof(float) * B * 3 * S * S);
    for (int i = 0; i < B * 3 * S * S; i++) img[i] = (float)(((unsigned)i * 7919u % 1000u) / 500.0 - 1.0);
    float emb[4 * 512], demb[4 * 512];
    for (int i = 0; i < 4 * 512; i++) demb[i] = (float)((i % 13) - 6) / 100.0f;
    const char *what[3] = {"clip_image_forward_b1", "clip_image_forward_b4", "clip_image_fwdbwd_b4"};
    for (int job = 0; job < 3; job++) {
        for (int r = -1; r < reps; r++)
            for (int k = 0; k < NWAYS; k++) {
                openblas_set_num_threads(ways[k].blas_threads);
                m.par = pars[k];
                double t0 = now_sec();
                int rc = clip_image_forward(&m, img, job ? B : 1, emb, &e);
                if (!rc && job == 2) {
                    memset(dimg, 0, sizeof(float) * B * 3 * S * S);
                    rc = clip_image_backward(&m, demb, NULL, dimg, 0, &e);
                }
                if (rc) die_err(&e);
                if (r >= 0) t[k][r] = now_sec() - t0;
            }
        for (int k = 0; k < NWAYS; k++) {
            double md = median(t[k], reps);
            printf("%s_%s %.4f s (best %.4f s)\n", what[job], ways[k].name, md, t[k][0]);
        }
    }
    blas_threads_init();
    for (int k = 0; k < NWAYS; k++) pool_free(&pools[k]);
    clip_free(&m);
    free(img);
    free(dimg);
    return 0;
}
