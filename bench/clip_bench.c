/* clip_bench.c - times the C CLIP on a full-size ViT-B/32 with closed-form
 * random weights: image forward at batch 1 and 4, forward+backward w.r.t. the
 * input at batch 4 (one optimisation step's CLIP work), text forward of 5
 * prompts, and the raw cblas_sgemm rate on CLIP's shapes for reference.
 * Prints one "name value unit" line per measurement (median of --reps).
 * Usage: clip_bench [reps]   (threads: OPENBLAS_NUM_THREADS) */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "clip.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[n / 2];
}

int main(int argc, char **argv) {
    util_init(argv[0]);
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1) reps = 1;
    clip_config_t cfg = {.v_width = 768, .v_layers = 12, .v_heads = 12, .patch = 32, .image_size = 224,
                         .t_width = 512, .t_layers = 12, .t_heads = 8, .context = 77, .vocab = 49408,
                         .embed_dim = 512, .mlp_ratio = 4};
    clip_params_t w;
    if (clip_params_alloc(&w, &cfg)) die(EXIT_INTERNAL, "bad config");
    clip_params_closed_form(&w);
    clip_t m;
    const char *th = getenv("CLIP_THREADS");
    clip_init(&m, &w, th ? atoi(th) : 2);
    int S = 224, B = 4;
    float *img = malloc(sizeof(float) * B * 3 * S * S), *dimg = malloc(sizeof(float) * B * 3 * S * S);
    for (int i = 0; i < B * 3 * S * S; i++) img[i] = (float)(((unsigned)i * 7919u % 1000u) / 500.0 - 1.0);
    float emb[4 * 512], demb[4 * 512];
    for (int i = 0; i < 4 * 512; i++) demb[i] = (float)((i % 13) - 6) / 100.0f;
    err_t e = {0};
    double t[64];
    /* warm up: allocates activations for batch 4 */
    clip_image_forward(&m, img, 4, emb, &e);
    for (int bb = 1; bb <= 4; bb *= 4) {
        for (int r = 0; r < reps; r++) {
            double t0 = now_sec();
            clip_image_forward(&m, img, bb, emb, &e);
            t[r] = now_sec() - t0;
        }
        printf("clip_image_forward_b%d %.4f s\n", bb, median(t, reps));
    }
    for (int r = 0; r < reps; r++) {
        double t0 = now_sec();
        clip_image_forward(&m, img, B, emb, &e);
        memset(dimg, 0, sizeof(float) * B * 3 * S * S);
        clip_image_backward(&m, demb, NULL, dimg, 0, &e);
        t[r] = now_sec() - t0;
    }
    printf("clip_image_fwdbwd_b4 %.4f s\n", median(t, reps));
    int ids[5 * 77];
    memset(ids, 0, sizeof ids);
    for (int b = 0; b < 5; b++) {
        int n = 4 + b;
        ids[b * 77] = 49406;
        for (int i = 1; i <= n; i++) ids[b * 77 + i] = 320 + 37 * i + b;
        ids[b * 77 + n + 1] = 49407;
    }
    float temb[5 * 512];
    clip_text_forward(&m, ids, 5, temb, &e);
    for (int r = 0; r < reps; r++) {
        double t0 = now_sec();
        clip_text_forward(&m, ids, 5, temb, &e);
        t[r] = now_sec() - t0;
    }
    printf("clip_text_forward_5 %.4f s\n", median(t, reps));
    /* raw sgemm on the largest CLIP shape at batch 4: (200,768) x (3072,768)^T */
    int M = 200, K = 768, N = 3072;
    float *A = calloc((size_t)M * K, 4), *Bm = calloc((size_t)N * K, 4), *Cm = calloc((size_t)M * N, 4);
    for (int r = 0; r < reps; r++) {
        double t0 = now_sec();
        for (int k = 0; k < 10; k++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, A, K, Bm, K, 0, Cm, N);
        t[r] = (now_sec() - t0) / 10;
    }
    printf("sgemm_200x3072x768 %.1f GFLOP/s\n", 2.0 * M * N * K / median(t, reps) / 1e9);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss %.0f MB\n", ru.ru_maxrss / 1024.0);
    clip_free(&m);
    free(img); free(dimg); free(A); free(Bm); free(Cm);
    return 0;
}
