/* gemm_bench.c - what the machine can do and how close the weight products
 * get to it: the measurement behind docs/benchmarks.md "The bfloat16 step
 * and the arithmetic bound" and docs/architecture.md's bf16 kernel figures.
 *
 *   peak_fp32_core   24 independent vfmadd231ps on zmm registers in a loop,
 *                    one thread: the float32 FMA peak of a core (GFLOP/s);
 *   peak_bf16_core   the same with vdpbf16ps (two products a lane): the
 *                    bfloat16 peak;
 *   peak_bf16_all    that loop on each of BENCH_THREADS (2) threads at once:
 *                    the bfloat16 peak of the cores the chain runs on;
 *   peak_avx2_core / peak_avx2_all
 *                    12 independent vfmadd231ps on ymm registers: the
 *                    float32 peak of an AVX2 core, and of the chain's cores;
 *   sgemm_<shape>    one single-threaded cblas_sgemm out = inp W^T at one
 *                    of ViT-B/32's batch-4 shapes (200 rows), warm caches;
 *   bf16_<shape>     nn_bf16 kernel, the same product from packed weights;
 *   f32p_<shape>     nn_f32 kernel (AVX2+FMA), the same product in float32
 *                    from packed weights;
 *   chain_f32 / chain_f32p / chain_bf16
 *                    the 48 weight products of one batch-4 forward (12
 *                    blocks of qkv, out, fc with QuickGELU, proj) and their
 *                    backward to the input, on a pool of BENCH_THREADS (2):
 *                    linear_forward/backward (OpenBLAS, column blocks)
 *                    against linear_forward_f32p/backward_f32p and
 *                    linear_forward_bf16/backward_bf16 -
 *                    the weights cold (36-170 MB, read once a pass), as in
 *                    the model.
 * One "name value unit" line each (GFLOP/s; the median of reps, default 5).
 * The peaks need AVX-512 (and AVX512_BF16), or AVX2 and FMA: without, those
 * lines say n/a.
 *
 * Usage: gemm_bench [reps] */
#include "bench.h"
#include "nn/gemm_bf16.h"
#include "nn/gemm_f32.h"
#include "nn/linear.h"
#include "pool.h"
#include "util.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
#define HAVE_PEAK 1
/* the 24 accumulators summed, so the loop's work is not dead code */
__attribute__((target("avx512f"), always_inline)) static inline float sum24(const __m512 *a) {
    __m512 s = a[0];
    for (int i = 1; i < 24; i++) s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}
__attribute__((target("avx512f,fma"), noinline)) static float loop_fma(long n) {
    __m512 a[24], x = _mm512_set1_ps(1.0001f), y = _mm512_set1_ps(0.9999f);
    for (int i = 0; i < 24; i++) a[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < n; k++)
#pragma GCC unroll 24
        for (int i = 0; i < 24; i++) a[i] = _mm512_fmadd_ps(a[i], x, y);
    return sum24(a);
}
__attribute__((target("avx512f,avx512bw,avx512bf16"), noinline)) static float loop_dp(long n) {
    __m512 a[24];
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80), y = (__m512bh)_mm512_set1_epi32(0x3f803f81);
    for (int i = 0; i < 24; i++) a[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < n; k++)
#pragma GCC unroll 24
        for (int i = 0; i < 24; i++) a[i] = _mm512_dpbf16_ps(a[i], x, y);
    return sum24(a);
}
/* twelve named accumulators: GCC keeps an array of ymm accumulators in
 * memory here (a store per FMA), which would measure the stores */
__attribute__((target("avx2,fma"), noinline)) static float loop_fma2(long n) {
    __m256 x = _mm256_set1_ps(1.0001f), y = _mm256_set1_ps(0.9999f);
#define A_(i) __m256 a##i = _mm256_set1_ps((float)i);
    A_(0) A_(1) A_(2) A_(3) A_(4) A_(5) A_(6) A_(7) A_(8) A_(9) A_(10) A_(11)
#undef A_
    for (long k = 0; k < n; k++) {
#define F_(i) a##i = _mm256_fmadd_ps(a##i, x, y);
        F_(0) F_(1) F_(2) F_(3) F_(4) F_(5) F_(6) F_(7) F_(8) F_(9) F_(10) F_(11)
#undef F_
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7),
                         "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float v[8];
    _mm256_storeu_ps(v, s);
    return v[0] + v[7];
}
static volatile float sink;

typedef struct {
    float (*loop)(long);
    long n;
} peak_job_t;
static void peak_task(void *v, int b, int e, int tid) {
    const peak_job_t *j = v;
    (void)tid;
    for (int i = b; i < e; i++) sink = j->loop(j->n);
}

/* name: the median GFLOP/s of reps runs of loop (flops an iteration) on
 * every thread of pool at once (NULL: the calling thread), or n/a */
static void peak(const char *name, int ok, float (*loop)(long), double flops, double *t, int reps, pool_t *pool) {
    peak_job_t j = {loop, 20000000};
    int nth = pool && pool->nthreads > 1 ? pool->nthreads : 1;
    if (!ok) {
        printf("%s n/a GFLOP/s\n", name);
        return;
    }
    for (int r = 0; r < reps; r++) {
        double t0 = now_sec();
        if (pool) pool_run(pool, nth, peak_task, &j);
        else peak_task(&j, 0, 1, 0);
        t[r] = now_sec() - t0;
    }
    printf("%s %.1f GFLOP/s\n", name, nth * flops * j.n / median(t, reps) / 1e9);
}
#else
#define HAVE_PEAK 0
#endif

typedef struct {
    const char *name;
    int IC, OC;
    nn_act_t act;
} shape_t;

int main(int argc, char **argv) {
    util_init(argv[0]);
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1) reps = 1;
    int nth = getenv("BENCH_THREADS") ? atoi(getenv("BENCH_THREADS")) : 2;
    double *t = xmalloc(sizeof(double) * (size_t)reps);
    blas_threads_init(); /* OpenBLAS on one thread, as every tool runs it (pool.h) */

    pool_t pool;
    err_t e = {0};
    if (pool_init(&pool, nth, &e)) die_err(&e);
#if HAVE_PEAK
    peak("peak_fp32_core", __builtin_cpu_supports("avx512f"), loop_fma, 24.0 * 32, t, reps, NULL);
    peak("peak_bf16_core", nn_bf16_available(), loop_dp, 24.0 * 64, t, reps, NULL);
    peak("peak_bf16_all", nn_bf16_available(), loop_dp, 24.0 * 64, t, reps, &pool);
    peak("peak_avx2_core", nn_f32_available(), loop_fma2, 12.0 * 16, t, reps, NULL);
    peak("peak_avx2_all", nn_f32_available(), loop_fma2, 12.0 * 16, t, reps, &pool);
#else
    printf("peak_fp32_core n/a GFLOP/s\npeak_bf16_core n/a GFLOP/s\npeak_bf16_all n/a GFLOP/s\n");
    printf("peak_avx2_core n/a GFLOP/s\npeak_avx2_all n/a GFLOP/s\n");
#endif

    const int N = 200, C = 768, H4 = 3072;
    const nn_act_t none = {NN_ACT_NONE, 0}, qg = {NN_ACT_QUICKGELU, 0};
    shape_t sh[] = {{"qkv", C, 3 * C, none}, {"out", C, C, none}, {"fc", C, H4, qg}, {"proj", H4, C, none}};
    unsigned long long seed = 7;
    float *x = rnd((size_t)N * H4, &seed), *y = xmalloc(sizeof(float) * (size_t)N * H4 * 3);
    uint16_t *scr = xmalloc(sizeof(uint16_t) * nn_bf16_rows_size(N, H4));
    /* warm, one thread */
    for (int s = 0; s < 4; s++) {
        int IC = sh[s].IC, OC = sh[s].OC;
        float *w = rnd((size_t)IC * OC, &seed);
        double fl = 2.0 * N * IC * OC;
        for (int r = 0; r < reps; r++) {
            double t0 = now_sec();
            for (int k = 0; k < 10; k++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, x, IC, w, IC, 0.0f, y,
                            OC);
            t[r] = (now_sec() - t0) / 10;
        }
        printf("sgemm_%s %.1f GFLOP/s\n", sh[s].name, fl / median(t, reps) / 1e9);
        if (nn_bf16_available()) {
            uint16_t *wp = xmalloc(sizeof(uint16_t) * nn_bf16_packed_size(IC, OC));
            nn_bf16_pack(wp, w, IC, OC, 1);
            nn_bf16_rows(scr, x, IC, IC, 0, N);
            nn_bf16_epi_t epi = {.overwrite = 1};
            for (int r = 0; r < reps; r++) {
                double t0 = now_sec();
                for (int k = 0; k < 10; k++) nn_bf16_gemm_panels(y, OC, scr, N, IC, wp, OC, 0, OC, &epi);
                t[r] = (now_sec() - t0) / 10;
            }
            printf("bf16_%s %.1f GFLOP/s\n", sh[s].name, fl / median(t, reps) / 1e9);
            free(wp);
        } else
            printf("bf16_%s n/a GFLOP/s\n", sh[s].name);
        if (nn_f32_available()) {
            float *wp = aligned_alloc(64, (sizeof(float) * nn_f32_packed_size(IC, OC) + 63) / 64 * 64);
            nn_f32_pack(wp, w, IC, OC, 1);
            nn_f32_epi_t epi = {.overwrite = 1};
            for (int r = 0; r < reps; r++) {
                double t0 = now_sec();
                for (int k = 0; k < 10; k++) nn_f32_gemm_panels(y, OC, x, IC, N, IC, wp, OC, 0, OC, &epi);
                t[r] = (now_sec() - t0) / 10;
            }
            printf("f32p_%s %.1f GFLOP/s\n", sh[s].name, fl / median(t, reps) / 1e9);
            free(wp);
        } else
            printf("f32p_%s n/a GFLOP/s\n", sh[s].name);
        free(w);
    }

    /* the chain: 12 blocks, cold weights, a pool of nth */
    nn_par_t par = pool_par(&pool);
    const int L = 12;
    float *wf[48];
    linear_bf16_t wb[48];
    linear_f32p_t wq[48];
    uint16_t *wm[48];
    float *wqm[48];
    double fl = 0;
    for (int l = 0; l < L; l++)
        for (int s = 0; s < 4; s++) {
            int i = 4 * l + s;
            wf[i] = rnd((size_t)sh[s].IC * sh[s].OC, &seed);
            for (size_t k = 0; k < (size_t)sh[s].IC * sh[s].OC; k++) wf[i][k] *= 0.05f;
            wm[i] = NULL;
            wqm[i] = NULL;
            if (nn_f32_available()) {
                wqm[i] = aligned_alloc(64, sizeof(float) * linear_f32p_pack_size(sh[s].IC, sh[s].OC));
                linear_f32p_pack(&wq[i], wqm[i], wf[i], sh[s].IC, sh[s].OC);
            }
            if (nn_bf16_available()) {
                wm[i] = xmalloc(sizeof(uint16_t) * linear_bf16_pack_size(sh[s].IC, sh[s].OC));
                linear_bf16_pack(&wb[i], wm[i], wf[i], sh[s].IC, sh[s].OC);
            }
            fl += 4.0 * N * sh[s].IC * sh[s].OC; /* forward and backward */
        }
    float *act = xmalloc(sizeof(float) * (size_t)N * H4), *dx = xmalloc(sizeof(float) * (size_t)N * H4);
    static const char *const mname[3] = {"f32", "bf16", "f32p"};
    for (int mode = 0; mode < 3; mode++) {
        if ((mode == 1 && !nn_bf16_available()) || (mode == 2 && !nn_f32_available())) {
            printf("chain_%s n/a GFLOP/s\n", mname[mode]);
            continue;
        }
        for (int r = 0; r < reps; r++) {
            double t0 = now_sec();
            for (int i = 0; i < 48; i++) {
                const shape_t *q = &sh[i % 4];
                if (mode == 0)
                    linear_forward(&par, y, q->act.kind ? act : NULL, x, NULL, wf[i], NULL, q->act, N, q->IC,
                                   q->OC);
                else if (mode == 1)
                    linear_forward_bf16(&par, y, q->act.kind ? act : NULL, x, NULL, &wb[i], NULL, q->act, N,
                                        q->IC, q->OC, scr, NULL, NULL);
                else
                    linear_forward_f32p(&par, y, q->act.kind ? act : NULL, x, NULL, &wq[i], NULL, q->act, N, q->IC,
                                        q->OC, 0);
            }
            for (int i = 47; i >= 0; i--) {
                const shape_t *q = &sh[i % 4];
                if (mode == 0)
                    linear_backward(&par, dx, NULL, NULL, y, NULL, NULL, wf[i], none, N, q->IC, q->OC, 0);
                else if (mode == 1)
                    linear_backward_bf16(&par, dx, y, NULL, &wb[i], none, N, q->IC, q->OC, 0, scr, NULL,
                                         NULL);
                else
                    linear_backward_f32p(&par, dx, y, NULL, NULL, &wq[i], none, N, q->IC, q->OC, 0);
            }
            t[r] = now_sec() - t0;
        }
        printf("chain_%s %.1f GFLOP/s\n", mname[mode], fl / median(t, reps) / 1e9);
    }
    printf("chain_threads %d threads\n", nth);
    for (int i = 0; i < 48; i++) free(wf[i]), free(wm[i]), free(wqm[i]);
    pool_free(&pool);
    free(t), free(x), free(y), free(scr), free(act), free(dx);
    return 0;
}
