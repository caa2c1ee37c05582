/* resnet_bench.c - CLIP RN101's image tower (common/clip_resnet.c), forward
 * and backward to the input image (weights frozen: what an optimisation of
 * the image runs), batch 4 at 224, random (closed-form) weights, on a pool of
 * CLIP_THREADS threads (default 2).  The PyTorch peer is
 * bench/torch_resnet.py; bench/resnet.sh runs both in alternating rounds.
 * Usage: resnet_bench [reps] [batch]
 * Prints: rn101_fwdbwd_b<B> <median seconds of reps after one warm-up>,
 *         rn101_fwd_b<B> <median seconds, forward alone>, rn101_fwdbwd_cpu_b<B>
 *         <median process CPU seconds of a forward + backward, all threads>,
 *         peak_rss <KB>. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "bench.h"
#include "clip.h"

static double clk(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
static double now(void) { return clk(CLOCK_MONOTONIC); }

/* closed-form convolutions scaled to He's variance (activations keep their size) */
static int he(const char *name, float *d, int nd, const int *sh, void *ctx) {
    (void)name, (void)ctx;
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)sh[i];
    if (nd == 4)
        for (size_t i = 0; i < n; i++) d[i] *= 2.449f;
    return 0;
}

int main(int argc, char **argv) {
    util_init(argv[0]);
    int reps = argc > 1 ? atoi(argv[1]) : 5, B = argc > 2 ? atoi(argv[2]) : 4;
    int th = getenv("CLIP_THREADS") ? atoi(getenv("CLIP_THREADS")) : 2;
    if (reps < 1 || B < 1 || th < 1) die(EXIT_USAGE, "usage: resnet_bench [reps] [batch]");
    /* RN101; a one-token text tower (not benchmarked, kept out of the memory figure) */
    clip_config_t cfg = {.v_width = 64, .v_heads = 32, .patch = 32, .image_size = 224, .t_width = 64, .t_layers = 0,
                         .t_heads = 1, .context = 1, .vocab = 1, .embed_dim = 512, .mlp_ratio = 4,
                         .rn_layers = {3, 4, 23, 3}};
    clip_params_t w;
    if (clip_params_alloc(&w, &cfg)) die(EXIT_INTERNAL, "bad config");
    clip_params_closed_form(&w);
    clip_params_each(&w, he, NULL);
    err_t e = {0};
    pool_t pool;
    if (pool_init(&pool, th, &e)) die_err(&e);
    nn_par_t par = pool_par(&pool);
    clip_t m;
    clip_init(&m, &w, &par);
    unsigned long long s = 1;
    size_t ni = (size_t)B * 3 * 224 * 224;
    float *img = rnd(ni, &s), *demb = rnd((size_t)B * 512, &s), *dimg = xmalloc(sizeof(float) * ni);
    float *emb = xmalloc(sizeof(float) * (size_t)B * 512);
    double *tf = xmalloc(sizeof(double) * (size_t)reps), *tb = xmalloc(sizeof(double) * (size_t)reps);
    double *tc = xmalloc(sizeof(double) * (size_t)reps);
    for (int r = -1; r < reps; r++) {
        double c0 = clk(CLOCK_PROCESS_CPUTIME_ID), t0 = now();
        if (clip_image_forward(&m, img, B, emb, &e)) die_err(&e);
        double t1 = now();
        memset(dimg, 0, sizeof(float) * ni);
        if (clip_image_backward(&m, demb, NULL, dimg, 0, &e)) die_err(&e);
        double t2 = now();
        if (r >= 0) tf[r] = t1 - t0, tb[r] = t2 - t0, tc[r] = clk(CLOCK_PROCESS_CPUTIME_ID) - c0;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("rn101_fwdbwd_b%d %.4f\nrn101_fwd_b%d %.4f\nrn101_fwdbwd_cpu_b%d %.4f\npeak_rss %ld\n", B, median(tb, reps), B,
           median(tf, reps), B, median(tc, reps), ru.ru_maxrss);
    free(img), free(demb), free(dimg), free(emb), free(tf), free(tb), free(tc);
    clip_free(&m);
    pool_free(&pool);
    return 0;
}
