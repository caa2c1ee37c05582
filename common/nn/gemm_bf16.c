/* gemm_bf16.c - see gemm_bf16.h. */
#include "gemm_bf16.h"
#include "act_inl.h"
#include <string.h>

#define NR NN_BF16_NR
#define PAIR (2 * NR) /* uint16 per k-pair of a panel: 64 columns x 2 rows */

static inline int kpairs(int K) { return (K + 1) / 2; }
static inline int npanels(int N) { return (N + NR - 1) / NR; }

uint16_t nn_f2bf(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float nn_bf2f(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

size_t nn_bf16_packed_size(int K, int N) {
    return K <= 0 || N <= 0 ? 0 : (size_t)npanels(N) * (size_t)kpairs(K) * PAIR;
}

void nn_bf16_pack(uint16_t *dst, const float *src, int K, int N, int nk) {
    int P = npanels(N), Kh = kpairs(K);
    for (int p = 0; p < P; p++)
        for (int kk = 0; kk < Kh; kk++) {
            uint16_t *d = dst + ((size_t)p * Kh + kk) * PAIR;
            for (int c = 0; c < NR; c++) {
                int n = p * NR + c;
                for (int j = 0; j < 2; j++) {
                    int k = 2 * kk + j;
                    float v = 0.0f;
                    if (n < N && k < K) v = nk ? src[(size_t)n * K + k] : src[(size_t)k * N + n];
                    d[2 * c + j] = nn_f2bf(v);
                }
            }
        }
}

size_t nn_bf16_rows_size(int M, int K) { return M <= 0 || K <= 0 ? 0 : (size_t)M * (size_t)(2 * kpairs(K)); }

static void rows_plain(uint16_t *dst, const float *A, int lda, int K, int r0, int r1) {
    int Kp = 2 * kpairs(K);
    for (int r = r0; r < r1; r++) {
        uint16_t *d = dst + (size_t)r * Kp;
        const float *a = A + (size_t)r * lda;
        for (int k = 0; k < K; k++) d[k] = nn_f2bf(a[k]);
        if (Kp > K) d[K] = 0;
    }
}

/* 1 when out16 takes act(C) that no act_out keeps (see nn_bf16_epi_t) */
static inline int epi_act16(const nn_bf16_epi_t *e) {
    return e && e->out16 && !e->pre && !e->act_out && e->act.kind != NN_ACT_NONE;
}

/* out16's odd padding column (N odd) */
static void epi_pad16(const nn_bf16_epi_t *e, int M, int N) {
    if (!e || !e->out16 || !(N & 1)) return;
    int ld = 2 * kpairs(N);
    for (int m = 0; m < M; m++) e->out16[(size_t)m * ld + N] = 0;
}

/* The plain loop: for CPUs without AVX512_BF16 and builds without the
 * kernel.  The same rounded operands; float sums in k order; the epilogue
 * per tile of up to 6 rows, as the kernel's. */
void nn_bf16_gemm_panels_plain(float *C, int ldc, const uint16_t *A, int M, int K, const uint16_t *Bp, int N,
                               int p0, int p1, const nn_bf16_epi_t *e) {
    if (M <= 0 || K <= 0 || N <= 0) return;
    if (p1 > npanels(N)) p1 = npanels(N);
    int Kh = kpairs(K), Kp = 2 * Kh, ld16 = 2 * kpairs(N), over = e && e->overwrite, act16 = epi_act16(e);
    float tmp[6 * NR], t16[6 * NR];
    for (int p = p0; p < p1; p++) {
        const uint16_t *b = Bp + (size_t)p * Kh * PAIR;
        int c0 = p * NR, nc = N - c0 < NR ? N - c0 : NR;
        for (int m0 = 0; m0 < M; m0 += 6) {
            int rows = M - m0 < 6 ? M - m0 : 6;
            float *cw = C ? C + (size_t)m0 * ldc + c0 : tmp;
            int ldw = C ? ldc : NR;
            for (int i = 0; i < rows; i++)
                for (int c = 0; c < nc; c++) {
                    int m = m0 + i;
                    float s = 0.0f;
                    for (int kk = 0; kk < Kh; kk++) {
                        s += nn_bf2f(A[(size_t)m * Kp + 2 * kk]) * nn_bf2f(b[(size_t)kk * PAIR + 2 * c]);
                        s += nn_bf2f(A[(size_t)m * Kp + 2 * kk + 1]) * nn_bf2f(b[(size_t)kk * PAIR + 2 * c + 1]);
                    }
                    float *d = &cw[(size_t)i * ldw + c];
                    float v = over ? s : *d + s;
                    if (e && e->bias) v += e->bias[c0 + c];
                    if (e && e->res) v += e->res[(size_t)m * ldc + c0 + c];
                    if (e && e->dmul) v *= e->dmul[(size_t)m * ldc + c0 + c];
                    *d = v;
                }
            size_t off = (size_t)m0 * ldc + c0;
            float *ao = e && e->act_out ? e->act_out + off : NULL;
            if (e && (e->pre || ao)) nn_epi_act(e->act, cw, ldw, e->pre ? e->pre + off : NULL, ldc, ao, ldc, 0, rows, nc);
            if (!e || !e->out16) continue;
            const float *src = ao ? ao : cw;
            int lds = ao ? ldc : ldw;
            if (act16 && e->dact_out && C) nn_epi_act(e->act, cw, ldw, NULL, 0, t16, NR, 1, rows, nc), src = t16, lds = NR;
            else if (act16) nn_epi_act(e->act, (float *)src, lds, NULL, 0, t16, NR, 0, rows, nc), src = t16, lds = NR;
            for (int i = 0; i < rows; i++)
                for (int c = 0; c < nc; c++)
                    e->out16[(size_t)(m0 + i) * ld16 + c0 + c] = nn_f2bf(src[(size_t)i * lds + c]);
        }
    }
    if (p1 == npanels(N)) epi_pad16(e, M, N);
}

#if NN_DISPATCH
#include <immintrin.h>
#define BF16_TARGET                                                                                          \
    __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512bf16,prefer-vector-width=512")))
typedef int32_t nn_i32u __attribute__((may_alias, aligned(2)));

static int has_bf16(void) { return nn_has_avx512() && __builtin_cpu_supports("avx512bf16"); }

/* A tile: MR (<= 6) rows of A by the panel's 64 columns, over all k pairs;
 * nvalid columns of C written (masked stores past it), with the epilogue e
 * (its pointers already at the tile's first element; e NULL: C += A B). */
BF16_TARGET static inline __attribute__((always_inline)) void
bf_tile(const int MR, int Kh, const uint16_t *restrict A, int Kp, const uint16_t *restrict B,
        float *restrict C, int ldc, int nvalid, const uint16_t *pf, int npf, const nn_bf16_epi_t *e,
        const float *bias, const float *res, const float *pre, const float *dmul, float *act_out, uint16_t *out16,
        int ld16) {
    __m512 acc[6][4];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
    const nn_i32u *a = (const nn_i32u *)A;
    int la = Kp / 2;
    for (int kk = 0; kk < Kh; kk++) {
        if (kk < npf) _mm_prefetch((const char *)(pf + (size_t)kk * 32), _MM_HINT_T1);
        const uint16_t *b = B + (size_t)kk * PAIR;
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 32);
        __m512bh b2 = (__m512bh)_mm512_loadu_si512(b + 64), b3 = (__m512bh)_mm512_loadu_si512(b + 96);
        for (int i = 0; i < MR; i++) {
            __m512bh x = (__m512bh)_mm512_set1_epi32(a[(size_t)i * la + kk]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], x, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], x, b1);
            acc[i][2] = _mm512_dpbf16_ps(acc[i][2], x, b2);
            acc[i][3] = _mm512_dpbf16_ps(acc[i][3], x, b3);
        }
    }
    int over = e && e->overwrite;
    /* C NULL: the tile goes to tmp only (for out16); act16: act(C) goes to
     * tmp2 only (out16 without act_out) */
    float tmp[6 * 64] __attribute__((aligned(64))), tmp2[6 * 64] __attribute__((aligned(64)));
    float *cw = C ? C : tmp;
    int ldw = C ? ldc : 64;
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < 4; j++) {
            int n = nvalid - 16 * j;
            if (n <= 0) break;
            __mmask16 m = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
            float *c = cw + (size_t)i * ldw + 16 * j;
            __m512 v = acc[i][j];
            if (!over) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, c));
            if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + 16 * j));
            if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res + (size_t)i * ldc + 16 * j));
            if (dmul) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, dmul + (size_t)i * ldc + 16 * j));
            _mm512_mask_storeu_ps(c, m, v);
        }
    if (pre || act_out) nn_epi_act(e->act, cw, ldw, pre, ldc, act_out, ldc, 0, MR, nvalid);
    if (out16) { /* rounded as nn_bf16_rows rounds on this path */
        const float *from = act_out ? act_out : cw;
        int ldf = act_out ? ldc : ldw;
        if (epi_act16(e) && e->dact_out && C) nn_epi_act(e->act, cw, ldw, NULL, 0, tmp2, 64, 1, MR, nvalid), from = tmp2, ldf = 64;
        else if (epi_act16(e)) nn_epi_act(e->act, (float *)from, ldf, NULL, 0, tmp2, 64, 0, MR, nvalid), from = tmp2, ldf = 64;
        for (int i = 0; i < MR; i++) {
            const float *src = from + (size_t)i * ldf;
            for (int j = 0; j < 4; j++) {
                int n = nvalid - 16 * j;
                if (n <= 0) break;
                __mmask16 m = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
                __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + 16 * j));
                _mm256_mask_storeu_epi16(out16 + (size_t)i * ld16 + 16 * j, m, (__m256i)h);
            }
        }
    }
}

BF16_TARGET static void gemm_avx512bf16(float *C, int ldc, const uint16_t *A, int M, int K,
                                        const uint16_t *Bp, int N, int p0, int p1, const nn_bf16_epi_t *e) {
    int Kh = kpairs(K), Kp = 2 * Kh, ld16 = 2 * kpairs(N);
    /* The next panel is brought towards L2 while this one is computed: each
     * row tile prefetches its share of it, a cache line per k pair from the
     * start of its loop, so the first tile of a panel does not wait on
     * memory (the weights are read once a pass, never cache-resident).
     * Blocking k so that a block of B stays in L1 was tried (32 and 16 KB
     * blocks) and was no faster at ViT-B/32's shapes: B streams from L2 fast
     * enough for 24 VDPBF16PS a k pair. */
    int ntiles = (M + 5) / 6;
    long plines = (long)Kh * PAIR / 32; /* 64-byte lines in a panel */
    for (int p = p0; p < p1; p++) {
        const uint16_t *b = Bp + (size_t)p * Kh * PAIR;
        const uint16_t *next = p + 1 < p1 ? b + (size_t)Kh * PAIR : NULL;
        int c0 = p * NR, nvalid = N - c0 < NR ? N - c0 : NR;
        for (int m0 = 0, tile = 0; m0 < M; m0 += 6, tile++) {
            long first = 0;
            int npf = next ? nn_pf_share(plines, ntiles, tile, Kh, &first) : 0;
            const uint16_t *pf = next ? next + (size_t)first * 32 : b;
            const uint16_t *a = A + (size_t)m0 * Kp;
            size_t off = (size_t)m0 * ldc + c0;
            float *c = C ? C + off : NULL;
            const float *bias = e && e->bias ? e->bias + c0 : NULL, *res = e && e->res ? e->res + off : NULL;
            const float *pre = e && e->pre ? e->pre + off : NULL, *dmul = e && e->dmul ? e->dmul + off : NULL;
            float *ao = e && e->act_out ? e->act_out + off : NULL;
            uint16_t *o16 = e && e->out16 ? e->out16 + (size_t)m0 * ld16 + c0 : NULL;
#define TILE(R) bf_tile(R, Kh, a, Kp, b, c, ldc, nvalid, pf, npf, e, bias, res, pre, dmul, ao, o16, ld16)
            NN_MR_SWITCH(M - m0, TILE)
#undef TILE
        }
    }
    if (p1 == npanels(N)) epi_pad16(e, M, N);
}

/* 16 floats at a time through VCVTNEPS2BF16 (round to nearest even, as
 * nn_f2bf, except that it flushes denormals to zero) */
BF16_TARGET static void rows_avx512bf16(uint16_t *dst, const float *A, int lda, int K, int r0, int r1) {
    int Kp = 2 * kpairs(K);
    for (int r = r0; r < r1; r++) {
        uint16_t *d = dst + (size_t)r * Kp;
        const float *a = A + (size_t)r * lda;
        for (int k = 0; k < K; k += 16) {
            int n = K - k < 16 ? K - k : 16;
            __mmask16 m = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
            __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, a + k));
            _mm256_mask_storeu_epi16(d + k, m, (__m256i)h);
        }
        if (Kp > K) d[K] = 0;
    }
}
#endif

int nn_bf16_available(void) {
#if NN_DISPATCH
    return has_bf16();
#else
    return 0;
#endif
}

void nn_bf16_rows(uint16_t *dst, const float *A, int lda, int K, int r0, int r1) {
#if NN_DISPATCH
    if (has_bf16()) {
        rows_avx512bf16(dst, A, lda, K, r0, r1);
        return;
    }
#endif
    rows_plain(dst, A, lda, K, r0, r1);
}

void nn_bf16_gemm_panels(float *C, int ldc, const uint16_t *A, int M, int K, const uint16_t *Bp, int N,
                         int p0, int p1, const nn_bf16_epi_t *e) {
    if (M <= 0 || K <= 0 || N <= 0) return;
    if (p1 > npanels(N)) p1 = npanels(N);
    if (p0 >= p1) return;
#if NN_DISPATCH
    if (has_bf16()) {
        gemm_avx512bf16(C, ldc, A, M, K, Bp, N, p0, p1, e);
        return;
    }
#endif
    nn_bf16_gemm_panels_plain(C, ldc, A, M, K, Bp, N, p0, p1, e);
}

void nn_bf16_gemm_ref(float *C, int ldc, const float *A, int lda, int M, int K, const float *src, int N,
                      int nk) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = 0.0;
            for (int k = 0; k < K; k++) {
                float b = nk ? src[(size_t)n * K + k] : src[(size_t)k * N + n];
                s += (double)nn_bf2f(nn_f2bf(A[(size_t)m * lda + k])) * (double)nn_bf2f(nn_f2bf(b));
            }
            C[(size_t)m * ldc + n] += (float)s;
        }
}
