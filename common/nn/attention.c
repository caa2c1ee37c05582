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
NN_BODY softmax_rows(float *restrict A, int T, int causal) {
    for (int t = 0; t < T; t++) {
        float *restrict row = A + (size_t)t * T;
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

NN_BODY attn_fwd_pairs_body(void *vj, int p0, int p1, int tid) {
    attn_job_t *j = vj;
    int T = j->T, C = j->C, NH = j->NH, hd = C / NH;
    float scale = 1.0f / sqrtf((float)hd);
    for (int pair = p0; pair < p1; pair++) {
        int b = pair / NH, h = pair % NH;
        const float *q = j->qkv + (size_t)b * T * 3 * C + h * hd, *k = q + C, *v = q + 2 * C;
        float *A = j->att + ((size_t)b * NH + h) * T * T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, q, 3 * C, k, 3 * C, 0.0f, A, T);
        softmax_rows(A, T, j->causal);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, A, T, v, 3 * C, 0.0f,
                    j->out + (size_t)b * T * C + h * hd, C);
    }
}
NN_KERNEL(attn_fwd_pairs)

int attention_forward(const nn_par_t *par, float *out, float *att, const float *qkv, int B, int T, int C, int NH,
                       int causal) {
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
            float acc[NN_LANES] = {0}, dot = 0;
            int u = 0;
            for (; u + NN_LANES <= T; u += NN_LANES)
                for (int l = 0; l < NN_LANES; l++) acc[l] += a[u + l] * d[u + l];
            for (; u < T; u++) dot += a[u] * d[u];
            for (int l = 0; l < NN_LANES; l++) dot += acc[l];
            for (u = 0; u < T; u++) d[u] = scale * a[u] * (d[u] - dot);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, dA, T, k, 3 * C, 0.0f, dq, 3 * C);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, dA, T, q, 3 * C, 0.0f, dk, 3 * C);
    }
}
NN_KERNEL(attn_bwd_pairs)

int attention_backward(const nn_par_t *par, float *dqkv, float *scratch, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int NH, int causal) {
    if (B < 0 || T <= 0 || NH <= 0 || C <= 0 || C % NH) return NN_EINVAL;
    attn_job_t j = {.dqkv = dqkv, .dout = dout, .qkv = qkv, .att = (float *)att, .scratch = scratch, .B = B, .T = T,
                    .C = C, .NH = NH, .causal = causal};
    nn_parallel_for(par, B * NH, NN_PICK(attn_bwd_pairs), &j);
    return NN_OK;
}

/* ------------------------------------------------------------ references */

int attention_forward_ref(const nn_par_t *par, float *out, float *att, const float *qkv, int B, int T, int C, int NH,
                           int causal) {
    (void)par;
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
