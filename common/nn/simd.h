/* simd.h - internal to common/nn/: the vectorisation helpers the kernels
 * share (one copy of each, used by linear.c, layernorm.c, attention.c,
 * act.c).  Not part of any public interface: a kernel's header never
 * includes it, and nothing outside common/nn/ should.
 *
 * What it gives:
 *   NN_KERNEL(name)  defines the task `name` (an nn_task_fn) from the
 *                    always-inline body NN_BODY name##_body(ctx, b, e, tid),
 *                    compiled three times with GCC on x86-64: for AVX-512,
 *                    for AVX2 with FMA (every x86-64 CPU of the last decade
 *                    without AVX-512: AMD before Zen 4, most Intel desktops)
 *                    and for the baseline ISA (SSE2).  NN_PICK(name) is the
 *                    widest this CPU runs.  Elsewhere (clang, other CPUs)
 *                    only the baseline copy exists and NN_PICK returns it.
 *                    The AVX-512 and AVX2 copies contract a*b+c into FMAs,
 *                    so their last bits differ from the baseline's; on one
 *                    CPU the same copy always runs.
 *   nn_vsum          a sum written with NN_LANES independent accumulators,
 *                    so that it vectorises (the order of additions is fixed
 *                    by n alone, not by the ISA);
 *   nn_exp_poly      a branch-free exp (relative error ~2e-7) that
 *                    vectorises where libm's expf does not;
 *   nn_sigmoid       1 / (1 + exp(-x)) through nn_exp_poly.
 *
 * Including this header also switches the rest of the including file to
 * -O3 under GCC (the element-wise loops need the vectoriser, which -O2 runs
 * only in its cheap mode on older compilers), as clip.c did before the
 * kernels moved here.  It deliberately keeps no state: the CPU test is asked
 * each time (__builtin_cpu_supports reads a word libgcc filled at start-up),
 * so there is no cached flag that two threads could race to write.
 */
#ifndef NN_SIMD_H
#define NN_SIMD_H
#include <string.h>
#include "nn.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

#define NN_BODY static inline __attribute__((always_inline)) void
#define NN_INLINE static inline __attribute__((always_inline))

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NN_DISPATCH 1
#define NN_TARGET_AVX512 \
    __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,fma,prefer-vector-width=512")))
static inline int nn_has_avx512(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("fma");
}
#define NN_TARGET_AVX2 __attribute__((target("avx2,fma")))
static inline int nn_has_avx2(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#define NN_KERNEL(name)                                                                                   \
    static void name##_base(void *j, int b, int e, int tid) { name##_body(j, b, e, tid); }                \
    NN_TARGET_AVX2 static void name##_avx2(void *j, int b, int e, int tid) { name##_body(j, b, e, tid); } \
    NN_TARGET_AVX512 static void name##_avx512(void *j, int b, int e, int tid) { name##_body(j, b, e, tid); }
#define NN_PICK(name) (nn_has_avx512() ? name##_avx512 : nn_has_avx2() ? name##_avx2 : name##_base)
#else
#define NN_KERNEL(name) \
    static void name##_base(void *j, int b, int e, int tid) { name##_body(j, b, e, tid); }
#define NN_PICK(name) name##_base
#endif

#define NN_LANES 16

/* x[0] + ... + x[n-1] in NN_LANES interleaved partial sums, then the tail. */
NN_INLINE float nn_vsum(const float *restrict x, int n) {
    float acc[NN_LANES] = {0};
    int c = 0;
    for (; c + NN_LANES <= n; c += NN_LANES)
        for (int k = 0; k < NN_LANES; k++) acc[k] += x[c + k];
    float s = 0;
    for (; c < n; c++) s += x[c];
    for (int k = 0; k < NN_LANES; k++) s += acc[k];
    return s;
}

/* exp(x) for x in [-87.3, 88.3] (clamped outside, a NaN stays NaN):
 * 2^n * p(g) with x = n ln2 + g, |g| <= ln2/2, p the degree-7 Taylor
 * polynomial; relative error ~2e-7, no branches, so loops over it
 * vectorise. */
NN_INLINE float nn_exp_poly(float x0) {
    float x = x0 >= -87.3f ? x0 : -87.3f; /* NaN -> -87.3: the int conversion below stays defined */
    x = x <= 88.3f ? x : 88.3f;
    float r = x * 1.44269504f + 12582912.0f; /* 1.5*2^23: rounds to nearest */
    float n = r - 12582912.0f;
    float g = x - n * 0.693145752f;         /* ln2 in two parts (Cody-Waite) */
    g = g - n * 1.42860677e-6f + (x0 - x0); /* + 0, or NaN for a NaN (or infinite) x0 */
    float p = 1.0f / 5040;
    p = p * g + 1.0f / 720;
    p = p * g + 1.0f / 120;
    p = p * g + 1.0f / 24;
    p = p * g + 1.0f / 6;
    p = p * g + 0.5f;
    p = p * g + 1.0f;
    p = p * g + 1.0f;
    int bits = ((int)n + 127) << 23;
    float s;
    memcpy(&s, &bits, sizeof s);
    return p * s;
}

NN_INLINE float nn_sigmoid(float x) { return 1.0f / (1.0f + nn_exp_poly(-x)); }

/* The register-tiled kernels (gemm_f32.c, gemm_bf16.c) walk C in tiles of
 * up to 6 rows; their tile functions take the row count as a compile-time
 * constant.  NN_MR_SWITCH(left, TILE) runs TILE(R) for R = min(left, 6) with
 * R a constant. */
#define NN_MR_SWITCH(left, TILE)                                                                             \
    switch ((left) < 6 ? (left) : 6) {                                                                       \
    case 6: TILE(6); break;                                                                                  \
    case 5: TILE(5); break;                                                                                  \
    case 4: TILE(4); break;                                                                                  \
    case 3: TILE(3); break;                                                                                  \
    case 2: TILE(2); break;                                                                                  \
    default: TILE(1); break;                                                                                 \
    }

/* The next panel's prefetch, spread over the row tiles of this one: of a
 * panel's `lines` 64-byte lines, row tile `tile` of `ntiles` prefetches
 * the ones from *first on, as many as it returns (at most `most`, one a
 * step of its k loop), so the first tile of the next panel does not wait on
 * memory. */
NN_INLINE int nn_pf_share(long lines, int ntiles, int tile, int most, long *first) {
    long share = (lines + ntiles - 1) / ntiles, left = lines - tile * share;
    long n = left <= 0 ? 0 : left < share ? left : share;
    *first = tile * share;
    return (int)(n < most ? n : most);
}

/* Columns [*b,*e) of n that thread tid of nt owns when a product is split by
 * output columns: chunks rounded up to 16 columns (one cache line of floats,
 * so threads never write the same line), the last thread(s) taking what is
 * left (possibly nothing). */
static inline void nn_col_range(int n, int nt, int tid, int *b, int *e) {
    int per = ((n + nt - 1) / nt + 15) / 16 * 16;
    *b = tid * per < n ? tid * per : n;
    *e = (tid + 1) * per < n ? (tid + 1) * per : n;
}
#endif
