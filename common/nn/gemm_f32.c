/* gemm_f32.c - see gemm_f32.h. */
#include "gemm_f32.h"
#include "act_inl.h"
#include <string.h>

#define NR NN_F32_NR

static inline int npanels(int N) { return (N + NR - 1) / NR; }

size_t nn_f32_packed_size(int K, int N) { return K <= 0 || N <= 0 ? 0 : (size_t)npanels(N) * (size_t)K * NR; }

void nn_f32_pack(float *dst, const float *src, int K, int N, int nk) {
    int P = npanels(N);
    for (int p = 0; p < P; p++) {
        float *d = dst + (size_t)p * K * NR;
        int nc = N - p * NR < NR ? N - p * NR : NR;
        if (nk) /* column n of B is row n of src: read each in order */
            for (int c = 0; c < NR; c++)
                for (int k = 0; k < K; k++) d[(size_t)k * NR + c] = c < nc ? src[(size_t)(p * NR + c) * K + k] : 0.0f;
        else /* a panel's row k is 16 consecutive floats of src's row k */
            for (int k = 0; k < K; k++)
                for (int c = 0; c < NR; c++) d[(size_t)k * NR + c] = c < nc ? src[(size_t)k * N + p * NR + c] : 0.0f;
    }
}

/* one finished value: the sum s of element (i, c) of a tile combined as the
 * epilogue says (the kernel's vector epilogue does the same operations in
 * the same order) */
NN_INLINE float epi_one(float s, const float *c, int over, const float *bias, const float *res,
                        const float *dmul) {
    float v = over ? s : s + *c;
    if (bias) v += *bias;
    if (res) v += *res;
    if (dmul) v *= *dmul;
    return v;
}

void nn_f32_gemm_panels_plain(float *C, int ldc, const float *A, int lda, int M, int K, const float *Bp, int N,
                              int p0, int p1, const nn_f32_epi_t *e) {
    if (M <= 0 || N <= 0) return;
    if (p1 > npanels(N)) p1 = npanels(N);
    int over = e && e->overwrite;
    for (int p = p0; p < p1; p++) {
        const float *b = Bp + (size_t)p * K * NR;
        int c0 = p * NR, nc = N - c0 < NR ? N - c0 : NR;
        for (int m0 = 0; m0 < M; m0 += 6) {
            int rows = M - m0 < 6 ? M - m0 : 6;
            size_t off = (size_t)m0 * ldc + c0;
            for (int i = 0; i < rows; i++)
                for (int c = 0; c < nc; c++) {
                    const float *a = A + (size_t)(m0 + i) * lda;
                    float s = 0.0f;
                    for (int k = 0; k < K; k++) s += a[k] * b[(size_t)k * NR + c];
                    size_t o = off + (size_t)i * ldc + c;
                    C[o] = epi_one(s, C + o, over, e && e->bias ? e->bias + c0 + c : NULL,
                                   e && e->res ? e->res + o : NULL, e && e->dmul ? e->dmul + o : NULL);
                }
            if (e && (e->pre || e->act_out))
                nn_epi_act(e->act, C + off, ldc, e->pre ? e->pre + off : NULL, ldc,
                           e->act_out ? e->act_out + off : NULL, ldc, e->dact, rows, nc);
        }
    }
}

#if NN_DISPATCH
#include <immintrin.h>
#define F32_TARGET __attribute__((target("avx2,fma")))

static int has_kernel(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

/* A tile: MR (<= 6) rows of A by the panel's 16 columns, k = 0..K-1 in
 * order; nvalid columns of C kept; the epilogue's pointers already at the
 * tile's first element.  pf/npf: lines of the next panel to prefetch (one a
 * k, from the start of the loop). */
F32_TARGET static inline __attribute__((always_inline)) void
f32_tile(const int MR, int K, const float *restrict A, int lda, const float *restrict B, float *restrict C, int ldc,
         int nvalid, const float *pf, int npf, const nn_f32_epi_t *e, const float *bias, const float *res,
         const float *dmul, const float *pre, float *act_out) {
    /* twelve named accumulators (an array of them is kept in memory by
     * GCC, a store per FMA) */
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
        if (k < npf) _mm_prefetch((const char *)(pf + (size_t)k * NR), _MM_HINT_T1);
        __m256 b0 = _mm256_loadu_ps(B + (size_t)k * NR), b1 = _mm256_loadu_ps(B + (size_t)k * NR + 8);
#define ROW(i)                                                                                               \
    if (MR > i) {                                                                                            \
        __m256 x = _mm256_broadcast_ss(A + (size_t)i * lda + k);                                             \
        c##i##0 = _mm256_fmadd_ps(x, b0, c##i##0);                                                           \
        c##i##1 = _mm256_fmadd_ps(x, b1, c##i##1);                                                           \
    }
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
    }
    __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    int over = e && e->overwrite;
    if (nvalid == NR) {
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < 2; j++) {
                size_t o = (size_t)i * ldc + 8 * j;
                __m256 v = acc[i][j];
                if (!over) v = _mm256_add_ps(v, _mm256_loadu_ps(C + o));
                if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + 8 * j));
                if (res) v = _mm256_add_ps(v, _mm256_loadu_ps(res + o));
                if (dmul) v = _mm256_mul_ps(v, _mm256_loadu_ps(dmul + o));
                _mm256_storeu_ps(C + o, v);
            }
    } else {
        float s[6 * NR] __attribute__((aligned(32)));
        for (int i = 0; i < MR; i++) {
            _mm256_store_ps(s + i * NR, acc[i][0]);
            _mm256_store_ps(s + i * NR + 8, acc[i][1]);
            for (int c = 0; c < nvalid; c++) {
                size_t o = (size_t)i * ldc + c;
                C[o] = epi_one(s[i * NR + c], C + o, over, bias ? bias + c : NULL, res ? res + o : NULL,
                               dmul ? dmul + o : NULL);
            }
        }
    }
    if (pre || act_out) nn_epi_act(e->act, C, ldc, pre, ldc, act_out, ldc, e->dact, MR, nvalid);
}

F32_TARGET static void gemm_avx2(float *C, int ldc, const float *A, int lda, int M, int K, const float *Bp, int N,
                                 int p0, int p1, const nn_f32_epi_t *e) {
    /* The next panel (K lines of 64 bytes) is brought towards L2 while this
     * one is computed, each row tile prefetching its share from the start of
     * its k loop, so the first tile of a panel does not wait on memory (the
     * weights stream from memory once a pass; a panel is then re-read from
     * L2 by every row tile, A from L2/L3 by every panel). */
    int ntiles = (M + 5) / 6;
    for (int p = p0; p < p1; p++) {
        const float *b = Bp + (size_t)p * K * NR;
        const float *next = p + 1 < p1 ? b + (size_t)K * NR : NULL;
        int c0 = p * NR, nvalid = N - c0 < NR ? N - c0 : NR;
        for (int m0 = 0, tile = 0; m0 < M; m0 += 6, tile++) {
            long first = 0; /* a panel's line k is row k: K lines */
            int npf = next ? nn_pf_share(K, ntiles, tile, K, &first) : 0;
            const float *pf = next ? next + (size_t)first * NR : b;
            size_t off = (size_t)m0 * ldc + c0;
            const float *a = A + (size_t)m0 * lda;
            const float *bias = e && e->bias ? e->bias + c0 : NULL, *res = e && e->res ? e->res + off : NULL;
            const float *dmul = e && e->dmul ? e->dmul + off : NULL, *pre = e && e->pre ? e->pre + off : NULL;
            float *ao = e && e->act_out ? e->act_out + off : NULL;
#define TILE(R) f32_tile(R, K, a, lda, b, C + off, ldc, nvalid, pf, npf, e, bias, res, dmul, pre, ao)
            NN_MR_SWITCH(M - m0, TILE)
#undef TILE
        }
    }
}
#endif

int nn_f32_available(void) {
#if NN_DISPATCH
    return has_kernel();
#else
    return 0;
#endif
}

void nn_f32_gemm_panels(float *C, int ldc, const float *A, int lda, int M, int K, const float *Bp, int N, int p0,
                        int p1, const nn_f32_epi_t *e) {
    if (M <= 0 || N <= 0) return;
    if (p1 > npanels(N)) p1 = npanels(N);
    if (p0 >= p1) return;
#if NN_DISPATCH
    if (has_kernel()) {
        gemm_avx2(C, ldc, A, lda, M, K, Bp, N, p0, p1, e);
        return;
    }
#endif
    nn_f32_gemm_panels_plain(C, ldc, A, lda, M, K, Bp, N, p0, p1, e);
}
