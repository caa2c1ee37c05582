/* attention.c - see attention.h.  Shapes: B sequences, T tokens, C width,
 * NH heads, hd = C/NH.
 *
 * Backward of one head, with dY = dout_h (T,hd):
 *   dA = dY v^T,  dv = A^T dY,
 *   dS = scale * A * (dA - rowsum(A * dA))   (softmax backward; scale = 1/sqrt(hd)),
 *   dq = dS k,  dk = dS^T q.
 * Above the diagonal of a causal A the probabilities are exactly 0, so dS is
 * 0 there too and the products need no mask. */
#include "attention.h"
#include <cblas.h>
#include <math.h>
#include "simd.h"

typedef struct {
    float *out, *att, *dqkv, *scratch; /* scratch (backward): per thread T*T floats */
    const float *qkv, *dout;
    int B, T, C, NH, causal;
} attn_job_t;

/* row-wise softmax of A (T,T) in place; causal: row t keeps u <= t and the
 * rest is set to 0 */
NN_BODY softmax_rows(float *restrict A, int T, int lda, int causal) {
    for (int t = 0; t < T; t++) {
        float *restrict row = A + (size_t)t * lda;
        int n = causal ? t + 1 : T;
        float mx = row[0];
        for (int u = 1; u < n; u++) mx = row[u] > mx ? row[u] : mx;
        float sum = 0;
        for (int u = 0; u < n; u++) {
            row[u] = nn_exp_poly(row[u] - mx);
            sum += row[u];
        }
        float inv = 1.0f / sum;
        for (int u = 0; u < n; u++) row[u] *= inv;
        for (int u = n; u < T; u++) row[u] = 0;
    }
}

/* a . d over n floats in NN_LANES partial sums (vectorises; the order is
 * fixed by n alone) */
NN_INLINE float rowdot(const float *restrict a, const float *restrict d, int n) {
    float acc[NN_LANES] = {0}, dot = 0;
    int u = 0;
    for (; u + NN_LANES <= n; u += NN_LANES)
        for (int l = 0; l < NN_LANES; l++) acc[l] += a[u + l] * d[u + l];
    for (; u < n; u++) dot += a[u] * d[u];
    for (int l = 0; l < NN_LANES; l++) dot += acc[l];
    return dot;
}

NN_BODY attn_fwd_pairs_body(void *vj, int p0, int p1, int tid) {
    attn_job_t *j = vj;
    int T = j->T, C = j->C, NH = j->NH, hd = C / NH;
    float scale = 1.0f / sqrtf((float)hd);
    for (int pair = p0; pair < p1; pair++) {
        int b = pair / NH, h = pair % NH;
        const float *q = j->qkv + (size_t)b * T * 3 * C + h * hd, *k = q + C, *v = q + 2 * C;
        float *A = j->att + ((size_t)b * NH + h) * T * T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, q, 3 * C, k, 3 * C, 0.0f, A, T);
        softmax_rows(A, T, T, j->causal);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, A, T, v, 3 * C, 0.0f,
                    j->out + (size_t)b * T * C + h * hd, C);
    }
}
NN_KERNEL(attn_fwd_pairs)

int attention_forward_blas(const nn_par_t *par, float *out, float *att, float *scratch, const float *qkv, int B, int T,
                           int C, int NH, int causal) {
    (void)scratch;
    if (B < 0 || T <= 0 || NH <= 0 || C <= 0 || C % NH) return NN_EINVAL;
    attn_job_t j = {.out = out, .att = att, .qkv = qkv, .B = B, .T = T, .C = C, .NH = NH, .causal = causal};
    nn_parallel_for(par, B * NH, NN_PICK(attn_fwd_pairs), &j);
    return NN_OK;
}

NN_BODY attn_bwd_pairs_body(void *vj, int p0, int p1, int tid) {
    attn_job_t *j = vj;
    int T = j->T, C = j->C, NH = j->NH, hd = C / NH;
    float scale = 1.0f / sqrtf((float)hd);
    float *restrict dA = j->scratch + (size_t)tid * T * T; /* (T,T) */
    for (int pair = p0; pair < p1; pair++) {
        int b = pair / NH, h = pair % NH;
        const float *q = j->qkv + (size_t)b * T * 3 * C + h * hd, *k = q + C, *v = q + 2 * C;
        float *dq = j->dqkv + (size_t)b * T * 3 * C + h * hd, *dk = dq + C, *dv = dq + 2 * C;
        const float *restrict A = j->att + ((size_t)b * NH + h) * T * T;
        const float *dyo = j->dout + (size_t)b * T * C + h * hd;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, 1.0f, dyo, C, v, 3 * C, 0.0f, dA, T);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, A, T, dyo, C, 0.0f, dv, 3 * C);
        for (int t = 0; t < T; t++) {
            const float *restrict a = A + (size_t)t * T;
            float *restrict d = dA + (size_t)t * T;
            float dot = rowdot(a, d, T);
            for (int u = 0; u < T; u++) d[u] = scale * a[u] * (d[u] - dot);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, dA, T, k, 3 * C, 0.0f, dq, 3 * C);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, dA, T, q, 3 * C, 0.0f, dk, 3 * C);
    }
}
NN_KERNEL(attn_bwd_pairs)

int attention_backward_blas(const nn_par_t *par, float *dqkv, float *scratch, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int NH, int causal) {
    if (B < 0 || T <= 0 || NH <= 0 || C <= 0 || C % NH) return NN_EINVAL;
    attn_job_t j = {.dqkv = dqkv, .dout = dout, .qkv = qkv, .att = (float *)att, .scratch = scratch, .B = B, .T = T,
                    .C = C, .NH = NH, .causal = causal};
    nn_parallel_for(par, B * NH, NN_PICK(attn_bwd_pairs), &j);
    return NN_OK;
}

/* ------------------------------------------------- the fused AVX-512 path
 *
 * One (sequence, head) pair at a time, in the thread's slice of scratch; all
 * six products of a pair go through one register-blocked micro-kernel
 *   Y (M,N) = alpha X (M,K) Z (K,N),
 * X read one element at a time (broadcast; any row and column strides, so
 * Aᵀ and dSᵀ need no copy), Z by 16-float vectors from row-major rows padded
 * to a multiple of 16 floats (zeros in the padding, so padded columns of Y
 * come out 0).  A tile is up to 6 rows by 4 vectors: 24 accumulators in zmm
 * registers.  Operands with hd % 16 == 0 are used in place (q, k, v rows of
 * qkv, rows of dout); others are first copied into a padded block; kᵀ and vᵀ
 * always are, 16x16 blocks at a time through registers.  At T = 50, hd = 64
 * (ViT-B/32) a pair's operands fit in L1.  Compiled only for AVX-512 (the
 * functions carry the target attribute, so the intrinsics need no global
 * flag): elsewhere the BLAS path above runs. */
#if NN_DISPATCH
#include <immintrin.h>
typedef float nn_v16 __attribute__((vector_size(64), aligned(4), may_alias));

static inline int ru16(int n) { return (n + 15) & ~15; }

/* one tile: MR rows (<= 6) by NV vectors (<= 4); X element (i, k) at
 * X[i*xr + k*xk]; full vectors stored when the destination is padded
 * (nvalid = NV*16), else the last one partially */
NN_INLINE void mk_tile(const int MR, const int NV, int K, float alpha, const float *restrict X, int xr, int xk,
                       const float *restrict Z, int ldz, float *restrict Y, int ldy, int nvalid) {
    nn_v16 acc[6][4];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NV; j++) acc[i][j] = (nn_v16){0};
    for (int k = 0; k < K; k++) {
        nn_v16 z[4];
        for (int j = 0; j < NV; j++) z[j] = *(const nn_v16 *)(Z + (size_t)k * ldz + 16 * j);
        for (int i = 0; i < MR; i++) {
            float xv = X[(size_t)i * xr + (size_t)k * xk];
            for (int j = 0; j < NV; j++) acc[i][j] += xv * z[j];
        }
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NV; j++) {
            nn_v16 r = acc[i][j] * alpha;
            float *y = Y + (size_t)i * ldy + 16 * j;
            int n = nvalid - 16 * j;
            if (n >= 16) *(nn_v16 *)y = r;
            else if (n > 0) memcpy(y, &r, sizeof(float) * (size_t)n);
        }
}

/* MR and NV as compile-time constants, so each tile's loops unroll */
#define MK_NV(MR, NV) mk_tile(MR, NV, K, alpha, x, xr, xk, z, ldz, y, ldy, nv)
#define MK_ROWS(MR)                       \
    switch (nvec) {                       \
    case 1: MK_NV(MR, 1); break;          \
    case 2: MK_NV(MR, 2); break;          \
    case 3: MK_NV(MR, 3); break;          \
    default: MK_NV(MR, 4); break;         \
    }

/* Y = alpha X Z; X (M,K) with row stride xr and column stride xk; Z (K, N)
 * rows of ldz floats, readable up to ru16(N); padded: Y's rows may take
 * ru16(N) floats */
NN_TARGET_AVX512 static void mm_avx512(int M, int N, int K, float alpha, const float *X, int xr, int xk,
                                       const float *Z, int ldz, float *Y, int ldy, int padded) {
    for (int n0 = 0; n0 < N; n0 += 64) {
        int nc = N - n0 < 64 ? N - n0 : 64, nvec = (nc + 15) / 16, nv = padded ? nvec * 16 : nc;
        const float *z = Z + n0;
        for (int m0 = 0; m0 < M; m0 += 6) {
            const float *x = X + (size_t)m0 * xr;
            float *y = Y + (size_t)m0 * ldy + n0;
            switch (M - m0 < 6 ? M - m0 : 6) {
            case 1: MK_ROWS(1); break;
            case 2: MK_ROWS(2); break;
            case 3: MK_ROWS(3); break;
            case 4: MK_ROWS(4); break;
            case 5: MK_ROWS(5); break;
            default: MK_ROWS(6); break;
            }
        }
    }
}
#undef MK_ROWS
#undef MK_NV

/* dst (rows, ru16(cols)) = src (rows, cols; leading dimension ld), zero padding */
static void pack_rows(float *restrict dst, const float *restrict src, int rows, int cols, int ld) {
    int lp = ru16(cols);
    for (int r = 0; r < rows; r++) {
        memcpy(dst + (size_t)r * lp, src + (size_t)r * ld, sizeof(float) * (size_t)cols);
        for (int c = cols; c < lp; c++) dst[(size_t)r * lp + c] = 0;
    }
}

/* dst (cols, ru16(rows)) = src^T, src (rows, cols; leading dimension ld);
 * zeros in dst's padding.  16x16 blocks: 16 (masked) row loads, the
 * transpose in registers (unpack pairs, unpack quads, then two rounds of
 * 128-bit lane shuffles), 16 column stores. */
NN_TARGET_AVX512 static void pack_trans(float *restrict dst, const float *restrict src, int rows, int cols, int ld) {
    int lp = ru16(rows);
    for (int r0 = 0; r0 < lp; r0 += 16)
        for (int c0 = 0; c0 < cols; c0 += 16) {
            int nc = cols - c0 < 16 ? cols - c0 : 16;
            __mmask16 m = (__mmask16)((1u << nc) - 1);
            __m512 r[16], t[16], u[16];
            for (int i = 0; i < 16; i++)
                r[i] = r0 + i < rows ? _mm512_maskz_loadu_ps(m, src + (size_t)(r0 + i) * ld + c0) : _mm512_setzero_ps();
            for (int i = 0; i < 8; i++) {
                t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
                t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
            }
            for (int i = 0; i < 4; i++) { /* u[4i+j], 128-bit lane l: column 4l+j of rows 4i..4i+3 */
                __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
                __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
                u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
                u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
                u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
                u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
            }
            for (int j = 0; j < 4; j++) {
                __m512 a = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88), b = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
                __m512 c = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
                __m512 d = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
                __m512 col[4] = {_mm512_shuffle_f32x4(a, c, 0x88), _mm512_shuffle_f32x4(b, d, 0x88),
                                 _mm512_shuffle_f32x4(a, c, 0xDD), _mm512_shuffle_f32x4(b, d, 0xDD)};
                for (int l = 0; l < 4; l++)
                    if (4 * l + j < nc) _mm512_storeu_ps(dst + (size_t)(c0 + 4 * l + j) * lp + r0, col[l]);
            }
        }
}

/* Z operand (T, hd) rows with leading dimension ld: in place when hd is a
 * multiple of 16, else packed into buf; returns the block and its ld */
static const float *zop(const float *src, int T, int hd, int ld, float *buf, int *ldz) {
    if (hd % 16 == 0) {
        *ldz = ld;
        return src;
    }
    pack_rows(buf, src, T, hd, ld);
    *ldz = ru16(hd);
    return buf;
}

/* softmax of the first n of a row, in place, the rest of its T set to 0;
 * max and sum in 16 lanes */
NN_INLINE void softmax_row16(float *restrict row, int n, int T) {
    float m16[16], s16[16];
    for (int l = 0; l < 16; l++) m16[l] = -INFINITY, s16[l] = 0;
    int u = 0;
    for (; u + 16 <= n; u += 16)
        for (int l = 0; l < 16; l++) m16[l] = row[u + l] > m16[l] ? row[u + l] : m16[l];
    float mx = -INFINITY;
    for (; u < n; u++) mx = row[u] > mx ? row[u] : mx;
    for (int l = 0; l < 16; l++) mx = m16[l] > mx ? m16[l] : mx;
    for (u = 0; u + 16 <= n; u += 16)
        for (int l = 0; l < 16; l++) s16[l] += row[u + l] = nn_exp_poly(row[u + l] - mx);
    float sum = 0;
    for (; u < n; u++) sum += row[u] = nn_exp_poly(row[u] - mx);
    for (int l = 0; l < 16; l++) sum += s16[l];
    float inv = 1.0f / sum;
    for (u = 0; u < n; u++) row[u] *= inv;
    for (u = n; u < T; u++) row[u] = 0;
}

/* Ask for the rows (hd floats each, leading dimension ld) of the next pair's
 * operands while this pair computes: in the model they come cold from the
 * layer before, and a head's rows are 4 cache lines a row 9 KB apart. */
static void prefetch_rows(const float *p, int rows, int hd, int ld) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < hd; c += 16) __builtin_prefetch(p + (size_t)r * ld + c);
}

/* pair's q, k, v rows; for the backward (bwd) also its dout rows and saved probabilities */
static void prefetch_pair(const attn_job_t *j, int pair, int bwd) {
    int T = j->T, C = j->C, NH = j->NH, hd = C / NH, b = pair / NH, h = pair % NH;
    const float *q = j->qkv + (size_t)b * T * 3 * C + h * hd;
    prefetch_rows(q, T, hd, 3 * C), prefetch_rows(q + C, T, hd, 3 * C), prefetch_rows(q + 2 * C, T, hd, 3 * C);
    if (bwd) {
        prefetch_rows(j->dout + (size_t)b * T * C + h * hd, T, hd, C);
        prefetch_rows(j->att + ((size_t)b * NH + h) * T * T, 1, T * T, 0);
    }
}

NN_TARGET_AVX512 static void attn_fwd_fused(void *vj, int p0, int p1, int tid) {
    attn_job_t *j = vj;
    int T = j->T, C = j->C, NH = j->NH, hd = C / NH, Tp = ru16(T), ldz;
    float scale = 1.0f / sqrtf((float)hd);
    float *kT = j->scratch + (size_t)tid * attention_slice_floats(T, hd), *S = kT + (size_t)hd * Tp;
    float *pk = S + 2 * (size_t)T * Tp;
    for (int pair = p0; pair < p1; pair++) {
        int b = pair / NH, h = pair % NH;
        const float *q = j->qkv + (size_t)b * T * 3 * C + h * hd, *k = q + C, *v = q + 2 * C;
        float *A = j->att + ((size_t)b * NH + h) * T * T;
        if (pair + 1 < p1) prefetch_pair(j, pair + 1, 0);
        pack_trans(kT, k, T, hd, 3 * C);
        mm_avx512(T, T, hd, scale, q, 3 * C, 1, kT, Tp, S, Tp, 1);
        for (int t = 0; t < T; t++) {
            float *row = S + (size_t)t * Tp;
            softmax_row16(row, j->causal ? t + 1 : T, T);
            memcpy(A + (size_t)t * T, row, sizeof(float) * (size_t)T);
        }
        const float *vz = zop(v, T, hd, 3 * C, pk, &ldz);
        mm_avx512(T, hd, T, 1.0f, S, Tp, 1, vz, ldz, j->out + (size_t)b * T * C + h * hd, C, 0);
    }
}

NN_TARGET_AVX512 static void attn_bwd_fused(void *vj, int p0, int p1, int tid) {
    attn_job_t *j = vj;
    int T = j->T, C = j->C, NH = j->NH, hd = C / NH, Tp = ru16(T), ldz;
    float scale = 1.0f / sqrtf((float)hd);
    float *vT = j->scratch + (size_t)tid * attention_slice_floats(T, hd), *dA = vT + (size_t)hd * Tp;
    float *pk = dA + 2 * (size_t)T * Tp;
    for (int pair = p0; pair < p1; pair++) {
        int b = pair / NH, h = pair % NH;
        const float *q = j->qkv + (size_t)b * T * 3 * C + h * hd, *k = q + C, *v = q + 2 * C;
        float *dq = j->dqkv + (size_t)b * T * 3 * C + h * hd, *dk = dq + C, *dv = dq + 2 * C;
        const float *restrict A = j->att + ((size_t)b * NH + h) * T * T;
        const float *dyo = j->dout + (size_t)b * T * C + h * hd;
        if (pair + 1 < p1) prefetch_pair(j, pair + 1, 1);
        /* dA = dY v^T */
        pack_trans(vT, v, T, hd, 3 * C);
        mm_avx512(T, T, hd, 1.0f, dyo, C, 1, vT, Tp, dA, Tp, 1);
        /* dv = A^T dY: X element (u, t) = A[t][u] */
        const float *dyz = zop(dyo, T, hd, C, pk, &ldz);
        mm_avx512(T, hd, T, 1.0f, A, 1, T, dyz, ldz, dv, 3 * C, 0);
        /* dS = scale A (dA - rowsum(A dA)) */
        for (int t = 0; t < T; t++) {
            const float *restrict a = A + (size_t)t * T;
            float *restrict d = dA + (size_t)t * Tp;
            float dot = rowdot(a, d, T);
            for (int u = 0; u < T; u++) d[u] = scale * a[u] * (d[u] - dot);
        }
        /* dq = dS k, dk = dS^T q */
        const float *kz = zop(k, T, hd, 3 * C, pk, &ldz);
        mm_avx512(T, hd, T, 1.0f, dA, Tp, 1, kz, ldz, dq, 3 * C, 0);
        const float *qz = zop(q, T, hd, 3 * C, pk, &ldz);
        mm_avx512(T, hd, T, 1.0f, dA, 1, Tp, qz, ldz, dk, 3 * C, 0);
    }
}
#endif

int attention_fused(void) {
#if NN_DISPATCH
    return nn_has_avx512();
#else
    return 0;
#endif
}

int attention_forward(const nn_par_t *par, float *out, float *att, float *scratch, const float *qkv, int B, int T, int C,
                      int NH, int causal) {
#if NN_DISPATCH
    if (nn_has_avx512()) {
        if (B < 0 || T <= 0 || NH <= 0 || C <= 0 || C % NH) return NN_EINVAL;
        attn_job_t j = {.out = out, .att = att, .scratch = scratch, .qkv = qkv, .B = B, .T = T, .C = C, .NH = NH,
                        .causal = causal};
        nn_parallel_for(par, B * NH, attn_fwd_fused, &j);
        return NN_OK;
    }
#endif
    return attention_forward_blas(par, out, att, scratch, qkv, B, T, C, NH, causal);
}

int attention_backward(const nn_par_t *par, float *dqkv, float *scratch, const float *dout, const float *qkv,
                       const float *att, int B, int T, int C, int NH, int causal) {
#if NN_DISPATCH
    if (nn_has_avx512()) {
        if (B < 0 || T <= 0 || NH <= 0 || C <= 0 || C % NH) return NN_EINVAL;
        attn_job_t j = {.dqkv = dqkv, .dout = dout, .qkv = qkv, .att = (float *)att, .scratch = scratch, .B = B,
                        .T = T, .C = C, .NH = NH, .causal = causal};
        nn_parallel_for(par, B * NH, attn_bwd_fused, &j);
        return NN_OK;
    }
#endif
    return attention_backward_blas(par, dqkv, scratch, dout, qkv, att, B, T, C, NH, causal);
}


/* ------------------------------------------------------------ references */

int attention_forward_ref(const nn_par_t *par, float *out, float *att, float *scratch, const float *qkv, int B, int T,
                          int C, int NH, int causal) {
    (void)par, (void)scratch;
    if (B < 0 || T <= 0 || NH <= 0 || C <= 0 || C % NH) return NN_EINVAL;
    int hd = C / NH;
    float scale = 1.0f / sqrtf((float)hd);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *q = qkv + ((size_t)b * T + t) * 3 * C + h * hd;
                float *a = att + (((size_t)b * NH + h) * T + t) * T;
                int n = causal ? t + 1 : T; /* keys this query sees */
                float mx = -INFINITY, sum = 0;
                for (int u = 0; u < n; u++) {
                    const float *k = qkv + ((size_t)b * T + u) * 3 * C + C + h * hd;
                    float s = 0;
                    for (int i = 0; i < hd; i++) s += q[i] * k[i];
                    a[u] = s * scale;
                    if (a[u] > mx) mx = a[u];
                }
                for (int u = 0; u < n; u++) sum += (a[u] = expf(a[u] - mx));
                for (int u = 0; u < T; u++) a[u] = u < n ? a[u] / sum : 0.0f;
                float *o = out + ((size_t)b * T + t) * C + h * hd;
                for (int i = 0; i < hd; i++) {
                    float s = 0;
                    for (int u = 0; u < n; u++) s += a[u] * qkv[((size_t)b * T + u) * 3 * C + 2 * C + h * hd + i];
                    o[i] = s;
                }
            }
    return NN_OK;
}

int attention_backward_ref(const nn_par_t *par, float *dqkv, float *scratch, const float *dout, const float *qkv,
                            const float *att, int B, int T, int C, int NH, int causal) {
    (void)par;
    if (B < 0 || T <= 0 || NH <= 0 || C <= 0 || C % NH) return NN_EINVAL;
    int hd = C / NH;
    float scale = 1.0f / sqrtf((float)hd);
    for (size_t i = 0; i < (size_t)B * T * 3 * C; i++) dqkv[i] = 0;
    float *dS = scratch; /* (T) one row of d loss/d scores */
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *a = att + (((size_t)b * NH + h) * T + t) * T;
                const float *dy = dout + ((size_t)b * T + t) * C + h * hd;
                int n = causal ? t + 1 : T;
                /* dA[u] = dy . v_u; dv_u += a[u] dy */
                float dot = 0;
                for (int u = 0; u < n; u++) {
                    const float *v = qkv + ((size_t)b * T + u) * 3 * C + 2 * C + h * hd;
                    float *dv = dqkv + ((size_t)b * T + u) * 3 * C + 2 * C + h * hd;
                    float s = 0;
                    for (int i = 0; i < hd; i++) {
                        s += dy[i] * v[i];
                        dv[i] += a[u] * dy[i];
                    }
                    dS[u] = s;
                    dot += a[u] * s;
                }
                for (int u = 0; u < n; u++) dS[u] = scale * a[u] * (dS[u] - dot);
                /* scores[t,u] = scale q_t . k_u (scale already in dS) */
                const float *q = qkv + ((size_t)b * T + t) * 3 * C + h * hd;
                float *dq = dqkv + ((size_t)b * T + t) * 3 * C + h * hd;
                for (int u = 0; u < n; u++) {
                    const float *k = qkv + ((size_t)b * T + u) * 3 * C + C + h * hd;
                    float *dk = dqkv + ((size_t)b * T + u) * 3 * C + C + h * hd;
                    for (int i = 0; i < hd; i++) {
                        dq[i] += dS[u] * k[i];
                        dk[i] += dS[u] * q[i];
                    }
                }
            }
    return NN_OK;
}
