/* clip_bench.c - times the C CLIP on a full-size ViT-B/32 with closed-form
 * random weights: image forward at batch 1 and 4, forward+backward w.r.t. the
 * input at batch 4 (one optimisation step's CLIP work), text forward of 5
 * prompts; then how fast its matrix products run inside the model against
 * cblas_sgemm called directly on the same shapes with the same thread count.
 * Prints one "name value unit" line per measurement (median of reps).
 *
 * Usage: clip_bench [reps] [small]   (threads: CLIP_THREADS, default 2;
 *   CLIP_BENCH_ATTN=blas runs the model's attention through the BLAS path)
 *   small: the sketch-CLIP training configuration instead (small_bench)
 *
 * GEMM accounting: this program defines cblas_sgemm itself, so the model's
 * calls (libinvclip.a is linked statically) come here first; each call is
 * timed and forwarded to OpenBLAS's (dlsym RTLD_NEXT).  The model's GEMM
 * time is the wall time during which at least one thread is inside sgemm
 * (the union of the calls' intervals over all threads), so a thread waiting
 * for the other's half counts as GEMM time.  Calls of at least 4 MFLOP are
 * the weight products (patch embedding, qkv, out, fc, proj); the smaller
 * ones are the per-head attention products, reported apart.  The standalone
 * rate calls OpenBLAS threaded on the same number of threads, on the full
 * (not column-split) shapes of one forward+backward at batch 4, weighted as
 * in the model, cache-warm. */
#define _GNU_SOURCE
#include <cblas.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "clip.h"
#include "nn/attention.h"
#include "bench.h"

typedef void (*sgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE, const enum CBLAS_TRANSPOSE,
                         const blasint, const blasint, const blasint, const float, const float *, const blasint,
                         const float *, const blasint, const float, float *, const blasint);
static sgemm_fn real_sgemm;

/* call log: preallocated, filled lock-free; enabled only around timed runs */
#define LOG_CAP 200000
typedef struct { double t0, t1, flops; } call_t;
static call_t *calls;
static int ncalls, logging;

void cblas_sgemm(const enum CBLAS_ORDER o, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb,
                 const blasint M, const blasint N, const blasint K, const float alpha, const float *A,
                 const blasint lda, const float *B, const blasint ldb, const float beta, float *C, const blasint ldc) {
    if (!__atomic_load_n(&logging, __ATOMIC_RELAXED)) {
        real_sgemm(o, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    double t0 = now_sec();
    real_sgemm(o, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    double t1 = now_sec();
    int i = __atomic_fetch_add(&ncalls, 1, __ATOMIC_RELAXED);
    if (i < LOG_CAP) calls[i] = (call_t){t0, t1, 2.0 * M * N * K};
}

static int cmp_t0(const void *a, const void *b) {
    const call_t *x = a, *y = b;
    return (x->t0 > y->t0) - (x->t0 < y->t0);
}

/* union of the logged intervals of calls with flops in [lo,hi); adds flops */
static double busy(double lo, double hi, double *flops) {
    int n = ncalls < LOG_CAP ? ncalls : LOG_CAP;
    qsort(calls, (size_t)n, sizeof *calls, cmp_t0);
    double tot = 0, end = -1;
    for (int i = 0; i < n; i++) {
        if (calls[i].flops < lo || calls[i].flops >= hi) continue;
        *flops += calls[i].flops;
        double a = calls[i].t0 > end ? calls[i].t0 : end;
        if (calls[i].t1 > a) tot += calls[i].t1 - a;
        if (calls[i].t1 > end) end = calls[i].t1;
    }
    return tot;
}

/* The attention kernel's calls from the model: the link wraps
 * attention_forward/backward (-Wl,--wrap, see the Makefile) so each call of
 * a timed run is timed whole -- products, softmax, packing -- and credited
 * with the products' flops alone (forward 2 products, backward 4, each
 * 2*T*T*hd a (image, head) pair).  On a CPU with AVX-512 that is the fused
 * kernel, which calls no sgemm; elsewhere (or with CLIP_BENCH_ATTN=blas,
 * which routes the model's calls to attention_*_blas) its sgemm calls also
 * show among the small calls above. */
int __real_attention_forward(const nn_par_t *par, float *out, float *att, float *scratch, const float *qkv, int B,
                             int T, int C, int NH, int causal);
int __real_attention_backward(const nn_par_t *par, float *dqkv, float *scratch, const float *dout, const float *qkv,
                              const float *att, int B, int T, int C, int NH, int causal);
static double attn_sec, attn_flops;
static int attn_blas; /* CLIP_BENCH_ATTN=blas: the model's attention through the BLAS path (what other CPUs run) */
int __wrap_attention_forward(const nn_par_t *par, float *out, float *att, float *scratch, const float *qkv, int B,
                             int T, int C, int NH, int causal);
int __wrap_attention_forward(const nn_par_t *par, float *out, float *att, float *scratch, const float *qkv, int B,
                             int T, int C, int NH, int causal) {
    double t0 = now_sec();
    int rc = attn_blas ? attention_forward_blas(par, out, att, scratch, qkv, B, T, C, NH, causal)
                       : __real_attention_forward(par, out, att, scratch, qkv, B, T, C, NH, causal);
    if (__atomic_load_n(&logging, __ATOMIC_RELAXED))
        attn_sec += now_sec() - t0, attn_flops += 4.0 * B * T * (double)T * C;
    return rc;
}
int __wrap_attention_backward(const nn_par_t *par, float *dqkv, float *scratch, const float *dout, const float *qkv,
                              const float *att, int B, int T, int C, int NH, int causal);
int __wrap_attention_backward(const nn_par_t *par, float *dqkv, float *scratch, const float *dout, const float *qkv,
                              const float *att, int B, int T, int C, int NH, int causal) {
    double t0 = now_sec();
    int rc = attn_blas ? attention_backward_blas(par, dqkv, scratch, dout, qkv, att, B, T, C, NH, causal)
                       : __real_attention_backward(par, dqkv, scratch, dout, qkv, att, B, T, C, NH, causal);
    if (__atomic_load_n(&logging, __ATOMIC_RELAXED))
        attn_sec += now_sec() - t0, attn_flops += 8.0 * B * T * (double)T * C;
    return rc;
}

/* The per-head attention products of one batch-4 forward+backward (B*NH =
 * 48 (image, head) pairs, T = 50, hd = 64, the strides of the packed qkv
 * rows), the pairs split over the pool's threads as the model splits them,
 * each call a single-threaded sgemm: the standalone rate at the attention
 * shapes. */
typedef struct { float *q, *a, *b, *y; int pairs; } attn_job_t;
static void attn_alone(void *ctx, int p0, int p1, int tid) {
    attn_job_t *j = ctx;
    int T = 50, hd = 64, C3 = 3 * 768, C = 768;
    float *q = j->q + (size_t)tid * T * C3, *A = j->a + (size_t)tid * T * T, *dA = j->b + (size_t)tid * T * T;
    float *y = j->y + (size_t)tid * T * C;
    for (int p = p0; p < p1; p++) {
        real_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, 0.125f, q, C3, q + C, C3, 0, A, T);
        real_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1, A, T, q + 2 * C, C3, 0, y, C);
        real_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, 1, y, C, q + 2 * C, C3, 0, dA, T);
        real_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1, A, T, y, C, 0, q + 2 * C, C3);
        real_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1, dA, T, q + C, C3, 0, q, C3);
        real_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1, dA, T, q, C3, 0, q + C, C3);
    }
}

/* user + system CPU time of the process: on a shared machine, with one
 * thread, a steadier measure than the wall clock */
static double cpu_sec(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

/* The sketch-CLIP training configuration (vision width 256, 6 layers, 4
 * heads, patch 8 on 64x64 images = 65 tokens; text width 256, 4 layers, 4
 * heads, context 16; embed 256; batch 128): one training step's CLIP work =
 * zero the gradients, image and text forward, image and text backward with
 * every parameter's gradient.  Prints clip_small_* lines. */
static int small_bench(int reps, int nth) {
    clip_config_t cfg = {.v_width = 256, .v_layers = 6, .v_heads = 4, .patch = 8, .image_size = 64,
                         .t_width = 256, .t_layers = 4, .t_heads = 4, .context = 16, .vocab = 49408,
                         .embed_dim = 256, .mlp_ratio = 4};
    clip_params_t w;
    if (clip_params_alloc(&w, &cfg)) die(EXIT_INTERNAL, "bad config");
    clip_params_closed_form(&w);
    err_t e = {0};
    pool_t pool;
    if (pool_init(&pool, nth, &e)) die_err(&e);
    nn_par_t par = pool_par(&pool);
    clip_t m;
    clip_init(&m, &w, &par);
    clip_alloc_grad(&m);
    m.pooled_top = 1; /* as clip-train runs it: the embeddings alone are needed */
    int B = 128, S = 64, T = 16, E = 256;
    float *img = xmalloc(sizeof(float) * B * 3 * S * S);
    for (int i = 0; i < B * 3 * S * S; i++) img[i] = (float)(((unsigned)i * 7919u % 1000u) / 500.0 - 1.0);
    float *iemb = xmalloc(sizeof(float) * B * E), *temb = xmalloc(sizeof(float) * B * E);
    float *demb = xmalloc(sizeof(float) * B * E);
    for (int i = 0; i < B * E; i++) demb[i] = (float)((i % 13) - 6) / 1000.0f;
    int *ids = xcalloc((size_t)B * T, sizeof(int));
    for (int b = 0; b < B; b++) {
        int n = 2 + b % 12;
        ids[b * T] = 49406;
        for (int i = 1; i <= n; i++) ids[b * T + i] = 320 + 37 * i + b;
        ids[b * T + n + 1] = 49407;
    }
    double t[64], tif[64], tib[64], ttf[64], ttb[64], cpu[64];
    double gflop_w = 0, busy_w = 0, gflop_a = 0, busy_a = 0, wall = 0;
    attn_sec = attn_flops = 0;
    for (int r = -1; r < reps; r++) {
        if (r >= 0) {
            ncalls = 0;
            __atomic_store_n(&logging, 1, __ATOMIC_SEQ_CST);
        }
        double c0 = cpu_sec(), t0 = now_sec();
        clip_zero_grad(&m);
        double t1 = now_sec();
        if (clip_image_forward(&m, img, B, iemb, &e)) die(EXIT_INTERNAL, "%s", e.msg);
        double t2 = now_sec();
        if (clip_text_forward(&m, ids, B, temb, &e)) die(EXIT_INTERNAL, "%s", e.msg);
        double t3 = now_sec();
        if (clip_image_backward(&m, demb, NULL, NULL, 1, &e)) die(EXIT_INTERNAL, "%s", e.msg);
        double t4 = now_sec();
        if (clip_text_backward(&m, demb, 1, &e)) die(EXIT_INTERNAL, "%s", e.msg);
        double t5 = now_sec(), c5 = cpu_sec();
        if (r < 0) continue;
        cpu[r] = c5 - c0;
        __atomic_store_n(&logging, 0, __ATOMIC_SEQ_CST);
        t[r] = t5 - t0;
        tif[r] = t2 - t1;
        ttf[r] = t3 - t2;
        tib[r] = t4 - t3;
        ttb[r] = t5 - t4;
        wall += t[r];
        busy_w += busy(4e6, 1e30, &gflop_w);
        busy_a += busy(0, 4e6, &gflop_a);
    }
    if (ncalls > LOG_CAP) die(EXIT_INTERNAL, "sgemm call log overflow (%d calls)", ncalls);
    printf("clip_small_step %.4f s\n", median(t, reps));
    printf("clip_small_step_cpu %.4f s (CPU time of all threads, spinning included)\n", median(cpu, reps));
    printf("clip_small_image_fwd %.4f s\n", median(tif, reps));
    printf("clip_small_text_fwd %.4f s\n", median(ttf, reps));
    printf("clip_small_image_bwd %.4f s\n", median(tib, reps));
    printf("clip_small_text_bwd %.4f s\n", median(ttb, reps));
    printf("clip_small_gemm %.1f GFLOP/s (%.2f GFLOP in %.4f s of %.4f s per step)\n", gflop_w / busy_w / 1e9,
           gflop_w / reps / 1e9, busy_w / reps, wall / reps);
    printf("clip_small_attn_gemm %.1f GFLOP/s (%.2f GFLOP in %.4f s per step)\n", gflop_a / busy_a / 1e9,
           gflop_a / reps / 1e9, busy_a / reps);
    printf("clip_small_attn_kernel %.1f GFLOP/s (%s, whole calls: %.2f GFLOP of products in %.4f s per step)\n",
           attn_flops / attn_sec / 1e9, attention_fused() && !attn_blas ? "fused" : "sgemm per pair", attn_flops / reps / 1e9,
           attn_sec / reps);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss %.0f MB\n", ru.ru_maxrss / 1024.0);
    clip_free(&m);
    pool_free(&pool);
    free(img);
    free(iemb);
    free(temb);
    free(demb);
    free(ids);
    return 0;
}

int main(int argc, char **argv) {
    util_init(argv[0]);
    real_sgemm = (sgemm_fn)dlsym(RTLD_NEXT, "cblas_sgemm");
    if (!real_sgemm) die(EXIT_INTERNAL, "cannot find OpenBLAS's cblas_sgemm: %s", dlerror());
    calls = xmalloc(sizeof *calls * LOG_CAP);
    memset(calls, 0, sizeof *calls * LOG_CAP); /* touched once, before any timing */
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1) reps = 1;
    if (reps > 64) reps = 64;
    const char *th0 = getenv("CLIP_THREADS");
    if (argc > 2 && !strcmp(argv[2], "small")) return small_bench(reps, th0 && atoi(th0) > 0 ? atoi(th0) : 2);
    clip_config_t cfg = {.v_width = 768, .v_layers = 12, .v_heads = 12, .patch = 32, .image_size = 224,
                         .t_width = 512, .t_layers = 12, .t_heads = 8, .context = 77, .vocab = 49408,
                         .embed_dim = 512, .mlp_ratio = 4};
    clip_params_t w;
    if (clip_params_alloc(&w, &cfg)) die(EXIT_INTERNAL, "bad config");
    clip_params_closed_form(&w);
    clip_t m;
    err_t e = {0};
    const char *ab = getenv("CLIP_BENCH_ATTN");
    attn_blas = ab && !strcmp(ab, "blas");
    const char *th = getenv("CLIP_THREADS");
    int nth = th && atoi(th) > 0 ? atoi(th) : 2;
    pool_t pool;
    if (pool_init(&pool, nth, &e)) die_err(&e);
    nn_par_t par = pool_par(&pool);
    clip_init(&m, &w, &par);
    printf("threads %d\n", nth);
    int S = 224, B = 4;
    float *img = xmalloc(sizeof(float) * B * 3 * S * S), *dimg = xmalloc(sizeof(float) * B * 3 * S * S);
    for (int i = 0; i < B * 3 * S * S; i++) img[i] = (float)(((unsigned)i * 7919u % 1000u) / 500.0 - 1.0);
    float emb[4 * 512], demb[4 * 512];
    for (int i = 0; i < 4 * 512; i++) demb[i] = (float)((i % 13) - 6) / 100.0f;
    double t[64];
    /* warm up: allocates (and touches) activations for batch 4 */
    if (clip_image_forward(&m, img, 4, emb, &e) || clip_image_backward(&m, demb, NULL, dimg, 0, &e))
        die(EXIT_INTERNAL, "%s", e.msg);
    for (int bb = 1; bb <= 4; bb *= 4) {
        for (int r = 0; r < reps; r++) {
            double t0 = now_sec();
            clip_image_forward(&m, img, bb, emb, &e);
            t[r] = now_sec() - t0;
        }
        printf("clip_image_forward_b%d %.4f s\n", bb, median(t, reps));
    }
    /* forward+backward, logging every sgemm call of the timed runs */
    double gflop_w = 0, busy_w = 0, gflop_a = 0, busy_a = 0, wall = 0;
    attn_sec = attn_flops = 0;
    for (int r = 0; r < reps; r++) {
        ncalls = 0;
        __atomic_store_n(&logging, 1, __ATOMIC_SEQ_CST);
        double t0 = now_sec();
        clip_image_forward(&m, img, B, emb, &e);
        memset(dimg, 0, sizeof(float) * B * 3 * S * S);
        clip_image_backward(&m, demb, NULL, dimg, 0, &e);
        t[r] = now_sec() - t0;
        __atomic_store_n(&logging, 0, __ATOMIC_SEQ_CST);
        wall += t[r];
        busy_w += busy(4e6, 1e30, &gflop_w);
        busy_a += busy(0, 4e6, &gflop_a);
    }
    if (ncalls > LOG_CAP) die(EXIT_INTERNAL, "sgemm call log overflow (%d calls)", ncalls);
    printf("clip_image_fwdbwd_b4 %.4f s\n", median(t, reps));
    /* the same with pooled_top (clip.h): what optimize's host runs when no
     * loss reads the top block's tokens; the same embedding and gradient */
    m.pooled_top = 1;
    double tp[64];
    for (int r = 0; r < reps; r++) {
        double t0 = now_sec();
        clip_image_forward(&m, img, B, emb, &e);
        memset(dimg, 0, sizeof(float) * B * 3 * S * S);
        clip_image_backward(&m, demb, NULL, dimg, 0, &e);
        tp[r] = now_sec() - t0;
    }
    m.pooled_top = 0;
    printf("clip_image_fwdbwd_b4_pooled %.4f s\n", median(tp, reps));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss %.0f MB\n", ru.ru_maxrss / 1024.0);
    printf("clip_gemm_fwdbwd_b4 %.1f GFLOP/s (%.1f GFLOP in %.4f s of %.4f s per step)\n", gflop_w / busy_w / 1e9,
           gflop_w / reps / 1e9, busy_w / reps, wall / reps);
    printf("clip_attn_gemm_fwdbwd_b4 %.1f GFLOP/s (%.2f GFLOP in %.4f s per step)\n", gflop_a / busy_a / 1e9,
           gflop_a / reps / 1e9, busy_a / reps);
    printf("clip_attn_kernel_fwdbwd_b4 %.1f GFLOP/s (%s, whole calls: %.2f GFLOP of products in %.4f s per step)\n",
           attn_flops / attn_sec / 1e9, attention_fused() && !attn_blas ? "fused" : "sgemm per pair", attn_flops / reps / 1e9,
           attn_sec / reps);
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

    /* standalone: OpenBLAS threaded on nth threads, the full shapes of one
     * batch-4 forward+backward (M rows, N outputs, K inner, NN or NT, count) */
    struct { int M, N, K, nt, count; } sh[] = {
        {196, 768, 3072, 1, 1},  /* patch embedding */
        {200, 2304, 768, 1, 12}, /* qkv */
        {200, 768, 768, 1, 12},  /* attention out */
        {200, 3072, 768, 1, 12}, /* fc */
        {200, 768, 3072, 1, 12}, /* proj */
        {200, 768, 768, 0, 11},  /* backward: d atty (top block: pooled rows only) */
        {200, 768, 2304, 0, 12}, /* d ln1 */
        {200, 768, 3072, 0, 11}, /* d ln2 */
        {200, 3072, 768, 0, 11}, /* d fcg */
        {196, 3072, 768, 0, 1},  /* d patches */
    };
    int nsh = (int)(sizeof sh / sizeof sh[0]);
    size_t maxa = 200 * 3072, maxb = 3072 * 768;
    float *A = xcalloc(maxa, 4), *Bm = xcalloc(maxb, 4), *Cm = xcalloc(maxa, 4);
    for (size_t i = 0; i < maxa; i++) A[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < maxb; i++) Bm[i] = (float)(i % 5) * 0.01f;
    openblas_set_num_threads(nth);
    double flops = 0;
    for (int s = 0; s < nsh; s++) flops += 2.0 * sh[s].M * sh[s].N * sh[s].K * sh[s].count;
    for (int r = -1; r < reps; r++) {
        double t0 = now_sec();
        for (int s = 0; s < nsh; s++)
            for (int c = 0; c < sh[s].count; c++)
                if (sh[s].nt)
                    real_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, sh[s].M, sh[s].N, sh[s].K, 1, A, sh[s].K, Bm,
                               sh[s].K, 0, Cm, sh[s].N);
                else
                    real_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, sh[s].M, sh[s].N, sh[s].K, 1, A, sh[s].K,
                               Bm, sh[s].N, 0, Cm, sh[s].N);
        if (r >= 0) t[r] = now_sec() - t0;
    }
    blas_threads_init();
    {
        attn_job_t aj = {xcalloc((size_t)nth * 50 * 2304, 4), xcalloc((size_t)nth * 2500, 4),
                         xcalloc((size_t)nth * 2500, 4), xcalloc((size_t)nth * 50 * 768, 4), 48 * 12};
        for (size_t i = 0; i < (size_t)nth * 50 * 2304; i++) aj.q[i] = (float)(i % 11) * 0.01f;
        double af = 2.0 * 50 * 50 * 64 * 6 * aj.pairs;
        double ta[64];
        for (int r = -1; r < reps; r++) {
            double t0 = now_sec();
            pool_run(&pool, aj.pairs, attn_alone, &aj);
            if (r >= 0) ta[r] = now_sec() - t0;
        }
        printf("sgemm_attn_shapes %.1f GFLOP/s (single-threaded sgemm per (image, head) on %d threads, %.2f GFLOP)\n",
               af / median(ta, reps) / 1e9, nth, af / 1e9);
        /* the attention calls alone, cache-warm, on the same shapes (B 4, T 50, C 768, 12 heads):
         * forward + backward through the dispatching entry points and through the BLAS path */
        {
            int B4 = 4, T = 50, C = 768, NH = 12;
            size_t nq = (size_t)B4 * T * 3 * C, ny = (size_t)B4 * T * C;
            float *q = xcalloc(nq, 4), *dq = xcalloc(nq, 4), *y = xcalloc(ny, 4), *dy = xcalloc(ny, 4);
            float *att = xcalloc((size_t)B4 * NH * T * T, 4), *scr = xcalloc(attention_scratch_floats(&par, T, C / NH), 4);
            for (size_t i = 0; i < nq; i++) q[i] = (float)(i % 11) * 0.01f;
            for (size_t i = 0; i < ny; i++) dy[i] = (float)(i % 7) * 0.01f;
            for (int blas = 0; blas < 2; blas++) {
                double tb[64];
                for (int r = -1; r < reps; r++) {
                    double t0 = now_sec();
                    (blas ? attention_forward_blas : attention_forward)(&par, y, att, scr, q, B4, T, C, NH, 0);
                    (blas ? attention_backward_blas : attention_backward)(&par, dq, scr, dy, q, att, B4, T, C, NH, 0);
                    if (r >= 0) tb[r] = now_sec() - t0;
                }
                printf("attn_alone_%s %.1f GFLOP/s (forward + backward calls, cache-warm, %s)\n", blas ? "blas" : "dispatch",
                       12.0 * B4 * T * (double)T * C / median(tb, reps) / 1e9,
                       blas ? "the BLAS path" : attention_fused() ? "fused" : "the BLAS path");
            }
            free(q), free(dq), free(y), free(dy), free(att), free(scr);
        }
        free(aj.q), free(aj.a), free(aj.b), free(aj.y);
    }
    printf("sgemm_clip_shapes %.1f GFLOP/s (OpenBLAS, %d threads, %.1f GFLOP)\n", flops / median(t, reps) / 1e9, nth,
           flops / 1e9);
    clip_free(&m);
    pool_free(&pool);
    free(img);
    free(dimg);
    free(A);
    free(Bm);
    free(Cm);
    free(calls);
    return 0;
}
