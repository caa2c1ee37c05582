/* clip.c - see clip.h.  Shapes in comments: B batch, T tokens, C width,
 * NH heads, hd = C/NH, H4 = mlp_ratio*C, E embed dim. */
#include "clip.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

/* ---------------------------------------------------------------- kernels
 * Every kernel splits its work over the model's thread pool: rows for layer
 * norms and activations, output columns for matrix products (each thread
 * calls a single-threaded cblas_sgemm on its column block and then applies
 * the element-wise epilogue - bias, residual, QuickGELU - to that block
 * while it is still in its cache), (batch, head) pairs for attention (small
 * sgemm calls per head).  Threads write disjoint outputs, so results do not
 * depend on the thread count except through the order of float sums inside
 * sgemm.
 *
 * The element-wise loops are written to auto-vectorise (fixed-width lane
 * accumulators for sums, a polynomial exp without branches).  With GCC on
 * x86-64 each pool task is compiled twice, for AVX-512 and for the baseline
 * ISA, and the AVX-512 one is picked at run time when the CPU has it
 * (KERNEL below); the plain-C reference of every kernel is the same source. */

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CLIP_DISPATCH 1
#define TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,fma,prefer-vector-width=512")))
static int has_avx512(void) {
    static int v = -1;
    if (v < 0) v = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("fma");
    return v;
}
/* KERNEL(name) defines pool task `name` from the always-inline body
 * name##_body in two ISAs; PICK(name) is the one to run on this CPU. */
#define KERNEL(name)                                                                       \
    static void name##_base(void *j, int b, int e, int tid) { name##_body(j, b, e, tid); } \
    TARGET_AVX512 static void name##_avx512(void *j, int b, int e, int tid) { name##_body(j, b, e, tid); }
#define PICK(name) (has_avx512() ? name##_avx512 : name##_base)
#else
#define KERNEL(name) \
    static void name##_base(void *j, int b, int e, int tid) { name##_body(j, b, e, tid); }
#define PICK(name) name##_base
#endif
#define BODY static inline __attribute__((always_inline)) void

#define LANES 16

static inline __attribute__((always_inline)) float vsum(const float *restrict x, int n) {
    float acc[LANES] = {0};
    int c = 0;
    for (; c + LANES <= n; c += LANES)
        for (int k = 0; k < LANES; k++) acc[k] += x[c + k];
    float s = 0;
    for (; c < n; c++) s += x[c];
    for (int k = 0; k < LANES; k++) s += acc[k];
    return s;
}

/* exp(x) for x in [-87.3, 88.3] (clamped outside, a NaN stays NaN):
 * 2^n * p(g) with x = n ln2 + g, |g| <= ln2/2, p the degree-7 Taylor
 * polynomial; relative error ~2e-7, no branches, so loops over it
 * vectorise. */
static inline __attribute__((always_inline)) float exp_poly(float x0) {
    float x = x0 >= -87.3f ? x0 : -87.3f; /* NaN -> -87.3: the int conversion below stays defined */
    x = x <= 88.3f ? x : 88.3f;
    float r = x * 1.44269504f + 12582912.0f; /* 1.5*2^23: rounds to nearest */
    float n = r - 12582912.0f;
    float g = x - n * 0.693145752f; /* ln2 in two parts (Cody-Waite) */
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

typedef struct {
    float *out, *mean, *rstd, *dinp, *dw, *db, *gelu;
    const float *inp, *w, *b, *dout, *res;
    int N, C, IC, OC, accumulate, nt;
} job_t;

/* columns [b,e) of n split into thread chunks aligned to 16 */
static void col_range(int n, int nt, int tid, int *b, int *e) {
    int per = ((n + nt - 1) / nt + 15) / 16 * 16;
    *b = tid * per < n ? tid * per : n;
    *e = (tid + 1) * per < n ? (tid + 1) * per : n;
}

BODY ln_fwd_rows_body(void *vj, int r0, int r1, int tid) {
    job_t *j = vj;
    int C = j->C;
    const float *restrict w = j->w, *restrict bb = j->b;
    for (int i = r0; i < r1; i++) {
        const float *restrict x = j->inp + (size_t)i * C;
        float *restrict o = j->out + (size_t)i * C;
        float m = vsum(x, C) / C;
        for (int c = 0; c < C; c++) o[c] = (x[c] - m) * (x[c] - m); /* o as scratch for the variance */
        float v = vsum(o, C) / C;
        float sc = 1.0f / sqrtf(v + 1e-5f);
        for (int c = 0; c < C; c++) o[c] = (x[c] - m) * sc * w[c] + bb[c];
        j->mean[i] = m;
        j->rstd[i] = sc;
    }
}
KERNEL(ln_fwd_rows)

/* out (N,C) = layernorm(inp (N,C)) * w + b; saves mean, rstd (N). */
static void layernorm_forward(pool_t *p, float *out, float *mean, float *rstd, const float *inp, const float *w,
                              const float *b, int N, int C) {
    job_t j = {.out = out, .mean = mean, .rstd = rstd, .inp = inp, .w = w, .b = b, .N = N, .C = C};
    pool_run(p, N, PICK(ln_fwd_rows), &j);
}

BODY ln_bwd_rows_body(void *vj, int r0, int r1, int tid) {
    job_t *j = vj;
    int C = j->C;
    const float *restrict w = j->w;
    for (int i = r0; i < r1; i++) {
        const float *restrict x = j->inp + (size_t)i * C, *restrict dy = j->dout + (size_t)i * C;
        float m = j->mean[i], sc = j->rstd[i];
        float a[LANES] = {0}, bb[LANES] = {0}, fa = 0, fb = 0;
        int c = 0;
        for (; c + LANES <= C; c += LANES)
            for (int k = 0; k < LANES; k++) {
                float dn = w[c + k] * dy[c + k];
                a[k] += dn;
                bb[k] += dn * (x[c + k] - m) * sc;
            }
        for (; c < C; c++) {
            float dn = w[c] * dy[c];
            fa += dn;
            fb += dn * (x[c] - m) * sc;
        }
        for (int k = 0; k < LANES; k++) {
            fa += a[k];
            fb += bb[k];
        }
        fa /= C;
        fb /= C;
        float *restrict dx = j->dinp + (size_t)i * C;
        for (c = 0; c < C; c++) dx[c] += (w[c] * dy[c] - fa - (x[c] - m) * sc * fb) * sc;
    }
}
KERNEL(ln_bwd_rows)

static void ln_bwd_cols(void *vj, int tid0, int tid1, int unused) {
    job_t *j = vj;
    (void)unused;
    for (int tid = tid0; tid < tid1; tid++) {
        int c0, c1;
        col_range(j->C, j->nt, tid, &c0, &c1);
        for (int i = 0; i < j->N; i++) {
            const float *x = j->inp + (size_t)i * j->C, *dy = j->dout + (size_t)i * j->C;
            float m = j->mean[i], sc = j->rstd[i];
            for (int c = c0; c < c1; c++) {
                if (j->dw) j->dw[c] += (x[c] - m) * sc * dy[c];
                if (j->db) j->db[c] += dy[c];
            }
        }
    }
}

/* dinp (N,C) += ...; dw, db (C) += ... when not NULL. */
static void layernorm_backward(pool_t *p, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                               const float *w, const float *mean, const float *rstd, int N, int C) {
    job_t j = {.dinp = dinp, .dw = dw, .db = db, .dout = dout, .inp = inp, .w = w, .mean = (float *)mean,
               .rstd = (float *)rstd, .N = N, .C = C, .nt = p->nthreads};
    pool_run(p, N, PICK(ln_bwd_rows), &j);
    if (dw || db) pool_run(p, p->nthreads, ln_bwd_cols, &j);
}

/* QuickGELU x * sigmoid(1.702 x) and its derivative */
static inline __attribute__((always_inline)) float sigm(float x) { return 1.0f / (1.0f + exp_poly(-1.702f * x)); }

BODY mm_fwd_cols_body(void *vj, int t0, int t1, int unused) {
    job_t *j = vj;
    (void)unused;
    for (int tid = t0; tid < t1; tid++) {
        int o0, o1;
        col_range(j->OC, j->nt, tid, &o0, &o1);
        if (o0 >= o1) continue;
        float beta = 0.0f;
        if (j->b || j->res) {
            const float *restrict bias = j->b;
            for (int i = 0; i < j->N; i++) {
                float *restrict o = j->out + (size_t)i * j->OC;
                const float *restrict r = j->res ? j->res + (size_t)i * j->OC : NULL;
                if (bias && r)
                    for (int c = o0; c < o1; c++) o[c] = bias[c] + r[c];
                else if (bias)
                    for (int c = o0; c < o1; c++) o[c] = bias[c];
                else
                    for (int c = o0; c < o1; c++) o[c] = r[c];
            }
            beta = 1.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->N, o1 - o0, j->IC, 1.0f, j->inp, j->IC,
                    j->w + (size_t)o0 * j->IC, j->IC, beta, j->out + o0, j->OC);
        if (j->gelu)
            for (int i = 0; i < j->N; i++) {
                const float *restrict x = j->out + (size_t)i * j->OC;
                float *restrict g = j->gelu + (size_t)i * j->OC;
                for (int c = o0; c < o1; c++) g[c] = x[c] * sigm(x[c]);
            }
    }
}
KERNEL(mm_fwd_cols)

/* out (N,OC) = [res (N,OC) +] inp (N,IC) @ w (OC,IC)^T [+ b (OC)];
 * gelu (N,OC) = QuickGELU(out) when not NULL. */
static void matmul_forward(pool_t *p, float *out, float *gelu, const float *inp, const float *w, const float *b,
                           const float *res, int N, int IC, int OC) {
    job_t j = {.out = out, .gelu = gelu, .inp = inp, .w = w, .b = b, .res = res, .N = N, .IC = IC, .OC = OC,
               .nt = p->nthreads};
    pool_run(p, p->nthreads, PICK(mm_fwd_cols), &j);
}

BODY mm_bwd_cols_body(void *vj, int t0, int t1, int unused) {
    job_t *j = vj;
    (void)unused;
    for (int tid = t0; tid < t1; tid++) {
        int k0, k1, o0, o1;
        col_range(j->IC, j->nt, tid, &k0, &k1);
        col_range(j->OC, j->nt, tid, &o0, &o1);
        if (j->dw && o0 < o1)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o1 - o0, j->IC, j->N, 1.0f, j->dout + o0, j->OC,
                        j->inp, j->IC, 1.0f, j->dw + (size_t)o0 * j->IC, j->IC);
        if (j->db)
            for (int i = 0; i < j->N; i++) {
                const float *d = j->dout + (size_t)i * j->OC;
                for (int o = o0; o < o1; o++) j->db[o] += d[o];
            }
        if (j->dinp && k0 < k1) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->N, k1 - k0, j->OC, 1.0f, j->dout, j->OC,
                        j->w + k0, j->IC, j->accumulate ? 1.0f : 0.0f, j->dinp + k0, j->IC);
            if (j->gelu) /* dinp is d QuickGELU-output: through the activation at gelu (pre-activation) */
                for (int i = 0; i < j->N; i++) {
                    const float *restrict x = j->gelu + (size_t)i * j->IC;
                    float *restrict d = j->dinp + (size_t)i * j->IC;
                    for (int c = k0; c < k1; c++) {
                        float s = sigm(x[c]);
                        d[c] *= s + 1.702f * x[c] * s * (1.0f - s);
                    }
                }
        }
    }
}
KERNEL(mm_bwd_cols)

/* dinp (N,IC) (+)= dout (N,OC) @ w (OC,IC)  [accumulate selects += vs =];
 * then, when pre (N,IC) is given, dinp is taken through QuickGELU at pre
 * (dinp *= gelu'(pre); needs accumulate == 0);
 * dw (OC,IC) += dout^T @ inp; db (OC) += column sums of dout.  Any may be NULL.
 * (dout must not be modified by the epilogue: the weight gradient reads it,
 * which is why dw comes first in each thread.) */
static void matmul_backward(pool_t *p, float *dinp, const float *pre, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, int N, int IC, int OC, int accumulate) {
    job_t j = {.dinp = dinp, .gelu = (float *)pre, .dw = dw, .db = db, .dout = dout, .inp = inp, .w = w, .N = N,
               .IC = IC, .OC = OC, .accumulate = accumulate, .nt = p->nthreads};
    pool_run(p, p->nthreads, PICK(mm_bwd_cols), &j);
}

typedef struct {
    float *out, *att, *dqkv, *scratch; /* scratch (backward): per thread T*T floats */
    const float *qkv, *dout;
    int B, T, C, NH, causal;
} attn_job_t;

/* row-wise softmax of A (T,T) in place, causal: row t keeps u <= t */
BODY softmax_rows(float *restrict A, int T, int causal) {
    for (int t = 0; t < T; t++) {
        float *restrict row = A + (size_t)t * T;
        int n = causal ? t + 1 : T;
        float mx = row[0];
        for (int u = 1; u < n; u++) mx = row[u] > mx ? row[u] : mx;
        float sum = 0;
        for (int u = 0; u < n; u++) {
            row[u] = exp_poly(row[u] - mx);
            sum += row[u];
        }
        float inv = 1.0f / sum;
        for (int u = 0; u < n; u++) row[u] *= inv;
        for (int u = n; u < T; u++) row[u] = 0;
    }
}

BODY attn_fwd_part_body(void *vj, int p0, int p1, int tid) {
    attn_job_t *j = vj;
    int T = j->T, C = j->C, NH = j->NH, hd = C / NH;
    float scale = 1.0f / sqrtf((float)hd);
    for (int pair = p0; pair < p1; pair++) {
        int b = pair / NH, h = pair % NH;
        const float *q = j->qkv + (size_t)b * T * 3 * C + h * hd, *k = q + C, *v = q + 2 * C;
        float *A = j->att + ((size_t)b * NH + h) * T * T;
        /* A = softmax(scale q k^T) (T,T); out_h = A v (T,hd) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, q, 3 * C, k, 3 * C, 0.0f, A, T);
        softmax_rows(A, T, j->causal);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, A, T, v, 3 * C, 0.0f,
                    j->out + (size_t)b * T * C + h * hd, C);
    }
}
KERNEL(attn_fwd_part)

/* Multi-head attention over qkv (B,T,3C) [q|k|v per token] ->
 * out (B,T,C); att (B,NH,T,T) softmax probabilities (saved). */
static void attention_forward(pool_t *p, float *out, float *att, const float *qkv, int B, int T, int C,
                              int NH, int causal) {
    attn_job_t j = {.out = out, .att = att, .qkv = qkv, .B = B, .T = T, .C = C, .NH = NH, .causal = causal};
    pool_run(p, B * NH, PICK(attn_fwd_part), &j);
}

BODY attn_bwd_part_body(void *vj, int p0, int p1, int tid) {
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
        /* dA = dy v^T; dv = A^T dy */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, 1.0f, dyo, C, v, 3 * C, 0.0f, dA, T);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, A, T, dyo, C, 0.0f, dv, 3 * C);
        /* softmax backward, with the score scale: dS = scale A (dA - rowsum(A dA)) */
        for (int t = 0; t < T; t++) {
            const float *restrict a = A + (size_t)t * T;
            float *restrict d = dA + (size_t)t * T;
            float acc[LANES] = {0}, dot = 0;
            int u = 0;
            for (; u + LANES <= T; u += LANES)
                for (int l = 0; l < LANES; l++) acc[l] += a[u + l] * d[u + l];
            for (; u < T; u++) dot += a[u] * d[u];
            for (int l = 0; l < LANES; l++) dot += acc[l];
            for (u = 0; u < T; u++) d[u] = scale * a[u] * (d[u] - dot);
        }
        /* dq = dS k; dk = dS^T q */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, dA, T, k, 3 * C, 0.0f, dq, 3 * C);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, dA, T, q, 3 * C, 0.0f, dk, 3 * C);
    }
}
KERNEL(attn_bwd_part)

/* dqkv (B,T,3C) = gradient from dout (B,T,C) (overwritten, not added). */
static void attention_backward(pool_t *p, float *dqkv, const float *dout, const float *qkv, const float *att,
                               float *scratch, int B, int T, int C, int NH, int causal) {
    attn_job_t j = {.dqkv = dqkv, .dout = dout, .qkv = qkv, .att = (float *)att, .scratch = scratch, .B = B, .T = T,
                    .C = C, .NH = NH, .causal = causal};
    pool_run(p, B * NH, PICK(attn_bwd_part), &j);
}

/* ------------------------------------------------------- transformer tower */

struct clip_tower {
    int L, C, NH, H4, T, Bcap, causal;
    /* activations for Bcap (per layer slices) */
    float *res;                  /* (L+1,B,T,C) residual stream entering block l; res[L] = tower output */
    float *ln1, *ln1_m, *ln1_r;  /* (L,B,T,C), (L,B,T) x2 */
    float *qkv;                  /* (L,B,T,3C) */
    float *att;                  /* (L,B,NH,T,T) */
    float *atty;                 /* (L,B,T,C) */
    float *mid;                  /* (L,B,T,C) residual after attention */
    float *ln2, *ln2_m, *ln2_r;
    float *fch, *fcg;            /* (L,B,T,H4) pre/post QuickGELU */
    /* backward scratch (one layer) */
    float *dres, *dmid, *dbig, *dqkv, *dsmall, *scratch;
    float *gat;                  /* top-block rows gathered: (B,H4) x2, (B,C) x6, (B) x2 */
    /* head */
    float *pooled, *pool_m, *pool_r; /* (B,C) after final LN, (B) */
    float *lnf_in;                   /* (B,C) final LN input (copy) */
    int *pool_idx;                   /* (B) token pooled (text) */
    int *prow;                       /* (B) row of the pooled token in (B*Tr) */
    int *ids;                        /* (B,T) token ids of the last text forward */
    /* vision front */
    float *patches;                  /* (B,G*G,3PP) im2col */
    float *pemb;                     /* (B,T,C) embedding before ln_pre */
    float *pre_m, *pre_r;            /* (B,T) */
    int B;                           /* batch of the last forward */
    int Tlast;                       /* tokens of the last forward (text may be shorter than T) */
};

#define L_(t, p, l, sz) ((p) + (size_t)(l) * (size_t)(t)->Bcap * (sz))

static void tower_free(clip_tower_t *t) {
    if (!t) return;
    free(t->res); free(t->ln1); free(t->ln1_m); free(t->ln1_r); free(t->qkv); free(t->att); free(t->atty);
    free(t->mid); free(t->ln2); free(t->ln2_m); free(t->ln2_r); free(t->fch); free(t->fcg);
    free(t->dres); free(t->dmid); free(t->dbig); free(t->dqkv); free(t->dsmall); free(t->scratch); free(t->gat);
    free(t->pooled); free(t->pool_m); free(t->pool_r); free(t->lnf_in); free(t->pool_idx); free(t->prow); free(t->ids);
    free(t->patches); free(t->pemb); free(t->pre_m); free(t->pre_r);
    free(t);
}

/* (Re)allocate a tower for batch B (grows only). patchdim = 3PP for vision, 0 for text. */
static clip_tower_t *tower_ensure(clip_tower_t *t, int L, int C, int NH, int H4, int T, int B, int causal,
                                  int npatch, int patchdim, int nthreads) {
    if (t && t->Bcap >= B) return t;
    tower_free(t);
    t = xcalloc(1, sizeof *t);
    t->L = L; t->C = C; t->NH = NH; t->H4 = H4; t->T = T; t->Bcap = B; t->causal = causal;
    size_t BT = (size_t)B * T;
    t->res = xmalloc(sizeof(float) * (L + 1) * BT * C);
    t->ln1 = xmalloc(sizeof(float) * L * BT * C);
    t->ln1_m = xmalloc(sizeof(float) * L * BT);
    t->ln1_r = xmalloc(sizeof(float) * L * BT);
    t->qkv = xmalloc(sizeof(float) * L * BT * 3 * C);
    t->att = xmalloc(sizeof(float) * L * (size_t)B * NH * T * T);
    t->atty = xmalloc(sizeof(float) * L * BT * C);
    t->mid = xmalloc(sizeof(float) * L * BT * C);
    t->ln2 = xmalloc(sizeof(float) * L * BT * C);
    t->ln2_m = xmalloc(sizeof(float) * L * BT);
    t->ln2_r = xmalloc(sizeof(float) * L * BT);
    t->fch = xmalloc(sizeof(float) * L * BT * H4);
    t->fcg = xmalloc(sizeof(float) * L * BT * H4);
    t->dres = xmalloc(sizeof(float) * BT * C);
    t->dmid = xmalloc(sizeof(float) * BT * C);
    t->dbig = xmalloc(sizeof(float) * BT * H4);
    t->dqkv = xmalloc(sizeof(float) * BT * 3 * C);
    t->dsmall = xmalloc(sizeof(float) * BT * C);
    t->gat = xmalloc(sizeof(float) * ((size_t)B * (2 * (size_t)H4 + 6 * (size_t)C) + 2 * (size_t)B));
    t->scratch = xmalloc(sizeof(float) * (size_t)nthreads * T * T);
    t->pooled = xmalloc(sizeof(float) * B * C);
    t->pool_m = xmalloc(sizeof(float) * B);
    t->pool_r = xmalloc(sizeof(float) * B);
    t->lnf_in = xmalloc(sizeof(float) * B * C);
    t->pool_idx = xmalloc(sizeof(int) * B);
    t->prow = xmalloc(sizeof(int) * B);
    t->ids = xmalloc(sizeof(int) * BT);
    if (patchdim) {
        t->patches = xmalloc(sizeof(float) * B * (size_t)npatch * patchdim);
        t->pemb = xmalloc(sizeof(float) * BT * C);
        t->pre_m = xmalloc(sizeof(float) * BT);
        t->pre_r = xmalloc(sizeof(float) * BT);
    }
    return t;
}

/* Blocks forward over res[0] (B,T,C) with the tower's batch and T = Tr (<= t->T). */
static void blocks_forward(pool_t *p, clip_tower_t *t, const clip_block_t *bl, int B, int Tr) {
    int C = t->C, H4 = t->H4, NH = t->NH;
    int BT = B * Tr;
    size_t sBTC = (size_t)t->Bcap * t->T * C, sBT = (size_t)t->Bcap * t->T;
    for (int l = 0; l < t->L; l++) {
        const clip_block_t *k = &bl[l];
        float *x = t->res + l * sBTC, *xo = t->res + (l + 1) * sBTC;
        float *ln1 = t->ln1 + l * sBTC, *ln1m = t->ln1_m + l * sBT, *ln1r = t->ln1_r + l * sBT;
        float *qkv = t->qkv + l * sBTC * 3, *att = t->att + l * (size_t)t->Bcap * NH * t->T * t->T;
        float *atty = t->atty + l * sBTC, *mid = t->mid + l * sBTC;
        float *ln2 = t->ln2 + l * sBTC, *ln2m = t->ln2_m + l * sBT, *ln2r = t->ln2_r + l * sBT;
        float *fch = t->fch + l * sBTC / C * H4, *fcg = t->fcg + l * sBTC / C * H4;
        layernorm_forward(p, ln1, ln1m, ln1r, x, k->ln1_w, k->ln1_b, BT, C);
        matmul_forward(p, qkv, NULL, ln1, k->attn_in_w, k->attn_in_b, NULL, BT, C, 3 * C);
        attention_forward(p, atty, att, qkv, B, Tr, C, NH, t->causal);
        matmul_forward(p, mid, NULL, atty, k->attn_out_w, k->attn_out_b, x, BT, C, C);
        layernorm_forward(p, ln2, ln2m, ln2r, mid, k->ln2_w, k->ln2_b, BT, C);
        matmul_forward(p, fch, fcg, ln2, k->fc_w, k->fc_b, NULL, BT, C, H4);
        matmul_forward(p, xo, NULL, fcg, k->proj_w, k->proj_b, mid, BT, H4, C);
    }
}

/* Top block, MLP and output projection, when the gradient entering it is
 * non-zero only at one token per sequence (row rows[b] of (B*Tr) - the token
 * the head pools, and no feature gradient on the top block): these maps act
 * per token, so they run on those B rows only (gathered into t->gat), and
 * the B*Tr-row products of the dense path shrink to B rows.  On entry t->dres
 * is zero off those rows; on exit t->dres = dL/d mid and t->dsmall =
 * dL/d atty, both zero off the rows, as after the dense path. */
static void top_backward_rows(pool_t *p, clip_tower_t *t, const clip_block_t *k, clip_block_t *g, int l, int B,
                              const int *rows) {
    int C = t->C, H4 = t->H4;
    size_t sBTC = (size_t)t->Bcap * t->T * C, sBT = (size_t)t->Bcap * t->T;
    const float *ln2 = t->ln2 + l * sBTC, *ln2m = t->ln2_m + l * sBT, *ln2r = t->ln2_r + l * sBT;
    const float *mid = t->mid + l * sBTC, *atty = t->atty + l * sBTC;
    const float *fch = t->fch + l * sBTC / C * H4, *fcg = t->fcg + l * sBTC / C * H4;
    float *g_fch = t->gat, *g_fcg = g_fch + (size_t)B * H4, *g_ln2 = g_fcg + (size_t)B * H4;
    float *g_mid = g_ln2 + (size_t)B * C, *g_atty = g_mid + (size_t)B * C, *g_dres = g_atty + (size_t)B * C;
    float *g_dmid = g_dres + (size_t)B * C, *g_ds = g_dmid + (size_t)B * C, *g_m = g_ds + (size_t)B * C,
          *g_r = g_m + B;
    for (int b = 0; b < B; b++) {
        size_t r = (size_t)rows[b];
        memcpy(g_fch + (size_t)b * H4, fch + r * H4, sizeof(float) * H4);
        memcpy(g_fcg + (size_t)b * H4, fcg + r * H4, sizeof(float) * H4);
        memcpy(g_ln2 + (size_t)b * C, ln2 + r * C, sizeof(float) * C);
        memcpy(g_mid + (size_t)b * C, mid + r * C, sizeof(float) * C);
        memcpy(g_atty + (size_t)b * C, atty + r * C, sizeof(float) * C);
        memcpy(g_dres + (size_t)b * C, t->dres + r * C, sizeof(float) * C);
        g_m[b] = ln2m[r];
        g_r[b] = ln2r[r];
    }
    memcpy(g_dmid, g_dres, sizeof(float) * B * C);
    matmul_backward(p, t->dbig, g_fch, g ? g->proj_w : NULL, g ? g->proj_b : NULL, g_dres, g_fcg, k->proj_w, B, H4, C,
                    0);
    matmul_backward(p, g_ds, NULL, g ? g->fc_w : NULL, g ? g->fc_b : NULL, t->dbig, g_ln2, k->fc_w, B, C, H4, 0);
    layernorm_backward(p, g_dmid, g ? g->ln2_w : NULL, g ? g->ln2_b : NULL, g_ds, g_mid, k->ln2_w, g_m, g_r, B, C);
    matmul_backward(p, g_ds, NULL, g ? g->attn_out_w : NULL, g ? g->attn_out_b : NULL, g_dmid, g_atty, k->attn_out_w,
                    B, C, C, 0);
    memset(t->dsmall, 0, sizeof(float) * (size_t)B * t->Tlast * C);
    for (int b = 0; b < B; b++) {
        size_t r = (size_t)rows[b];
        memcpy(t->dres + r * C, g_dmid + (size_t)b * C, sizeof(float) * C);
        memcpy(t->dsmall + r * C, g_ds + (size_t)b * C, sizeof(float) * C);
    }
}

/* Backward through the blocks.  On entry t->dres holds dL/d res[L] (B,Tr,C);
 * on exit dL/d res[0].  dfeat[l] (if given) is added to dL/d res[l+1].
 * rows (B) not NULL: dL/d res[L] is zero except at row rows[b] of each
 * sequence (see top_backward_rows; ignored when dfeat[L-1] is given). */
static void blocks_backward(pool_t *p, clip_tower_t *t, const clip_block_t *bl, clip_block_t *gb, int B, int Tr,
                            float *const *dfeat, const int *rows) {
    int C = t->C, H4 = t->H4, NH = t->NH;
    int BT = B * Tr;
    size_t sBTC = (size_t)t->Bcap * t->T * C, sBT = (size_t)t->Bcap * t->T;
    size_t n = (size_t)BT * C;
    if (dfeat && dfeat[t->L - 1]) rows = NULL;
    for (int l = t->L - 1; l >= 0; l--) {
        const clip_block_t *k = &bl[l];
        clip_block_t *g = gb ? &gb[l] : NULL;
        float *x = t->res + l * sBTC;
        float *ln1 = t->ln1 + l * sBTC, *ln1m = t->ln1_m + l * sBT, *ln1r = t->ln1_r + l * sBT;
        float *qkv = t->qkv + l * sBTC * 3, *att = t->att + l * (size_t)t->Bcap * NH * t->T * t->T;
        float *atty = t->atty + l * sBTC, *mid = t->mid + l * sBTC;
        float *ln2 = t->ln2 + l * sBTC, *ln2m = t->ln2_m + l * sBT, *ln2r = t->ln2_r + l * sBT;
        float *fch = t->fch + l * sBTC / C * H4, *fcg = t->fcg + l * sBTC / C * H4;
        if (l == t->L - 1 && rows) {
            top_backward_rows(p, t, k, g, l, B, rows);
        } else {
            if (dfeat && dfeat[l])
                for (size_t i = 0; i < n; i++) t->dres[i] += dfeat[l][i];
            /* xo = mid + fcg Wp^T + bp; fcg = QuickGELU(fch) */
            memcpy(t->dmid, t->dres, sizeof(float) * n);
            matmul_backward(p, t->dbig, fch, g ? g->proj_w : NULL, g ? g->proj_b : NULL, t->dres, fcg, k->proj_w, BT,
                            H4, C, 0);
            matmul_backward(p, t->dsmall, NULL, g ? g->fc_w : NULL, g ? g->fc_b : NULL, t->dbig, ln2, k->fc_w, BT, C,
                            H4, 0);
            layernorm_backward(p, t->dmid, g ? g->ln2_w : NULL, g ? g->ln2_b : NULL, t->dsmall, mid, k->ln2_w, ln2m,
                               ln2r, BT, C);
            /* mid = x + atty Wo^T + bo */
            memcpy(t->dres, t->dmid, sizeof(float) * n);
            matmul_backward(p, t->dsmall, NULL, g ? g->attn_out_w : NULL, g ? g->attn_out_b : NULL, t->dmid, atty,
                            k->attn_out_w, BT, C, C, 0);
        }
        attention_backward(p, t->dqkv, t->dsmall, qkv, att, t->scratch, B, Tr, C, NH, t->causal);
        matmul_backward(p, t->dsmall, NULL, g ? g->attn_in_w : NULL, g ? g->attn_in_b : NULL, t->dqkv, ln1,
                        k->attn_in_w, BT, C, 3 * C, 0);
        layernorm_backward(p, t->dres, g ? g->ln1_w : NULL, g ? g->ln1_b : NULL, t->dsmall, x, k->ln1_w, ln1m, ln1r,
                           BT, C);
    }
}

/* ------------------------------------------------------------- public API */

void clip_init(clip_t *m, clip_params_t *w, int threads) {
    memset(m, 0, sizeof *m);
    m->w = *w;
    memset(w, 0, sizeof *w);
    /* one level of parallelism: our pool splits every product into
     * single-threaded sgemm calls, so OpenBLAS's own threads stay idle */
    openblas_set_num_threads(1);
    pool_init(&m->pool, threads);
}

void clip_free(clip_t *m) {
    clip_params_free(&m->w);
    clip_params_free(&m->g);
    tower_free(m->vis);
    tower_free(m->txt);
    pool_free(&m->pool);
    memset(m, 0, sizeof *m);
}

void clip_alloc_grad(clip_t *m) {
    if (m->g.mem) return;
    clip_params_alloc(&m->g, &m->w.cfg);
}

void clip_zero_grad(clip_t *m) {
    if (m->g.mem) memset(m->g.mem, 0, sizeof(float) * m->g.n);
}

int clip_image_forward(clip_t *m, const float *img, int B, float *emb, err_t *e) {
    const clip_config_t *c = &m->w.cfg;
    if (B <= 0) return err_set(e, EXIT_INTERNAL, "clip_image_forward: batch %d", B);
    int P = c->patch, S = c->image_size, G = S / P, NP = G * G, T = NP + 1, C = c->v_width;
    int PD = 3 * P * P;
    m->vis = tower_ensure(m->vis, c->v_layers, C, c->v_heads, c->mlp_ratio * C, T, B, 0, NP, PD, m->pool.nthreads);
    clip_tower_t *t = m->vis;
    t->B = B;
    t->Tlast = T;
    /* im2col: patches (B, NP, 3PP), element (ch, ky, kx) of patch (gy, gx) */
    for (int b = 0; b < B; b++)
        for (int gy = 0; gy < G; gy++)
            for (int gx = 0; gx < G; gx++) {
                float *dst = t->patches + ((size_t)b * NP + gy * G + gx) * PD;
                for (int ch = 0; ch < 3; ch++)
                    for (int ky = 0; ky < P; ky++) {
                        const float *src = img + (((size_t)b * 3 + ch) * S + gy * P + ky) * S + gx * P;
                        memcpy(dst + (ch * P + ky) * P, src, sizeof(float) * P);
                    }
            }
    /* patch embeddings of the whole batch in one product (into scratch), then
     * placed at tokens 1..NP after the class token */
    float *pz = t->dsmall; /* (B*NP, C) scratch */
    matmul_forward(&m->pool, pz, NULL, t->patches, m->w.v_conv, NULL, NULL, B * NP, PD, C);
    for (int b = 0; b < B; b++) {
        float *pe = t->pemb + (size_t)b * T * C;
        memcpy(pe, m->w.v_class, sizeof(float) * C);
        memcpy(pe + C, pz + (size_t)b * NP * C, sizeof(float) * NP * C);
        for (size_t i = 0; i < (size_t)T * C; i++) pe[i] += m->w.v_pos[i];
    }
    layernorm_forward(&m->pool, t->res, t->pre_m, t->pre_r, t->pemb, m->w.v_ln_pre_w, m->w.v_ln_pre_b, B * T, C);
    blocks_forward(&m->pool, t, m->w.v_blocks, B, T);
    const float *out = t->res + (size_t)c->v_layers * t->Bcap * T * C;
    for (int b = 0; b < B; b++) memcpy(t->lnf_in + (size_t)b * C, out + (size_t)b * T * C, sizeof(float) * C);
    layernorm_forward(&m->pool, t->pooled, t->pool_m, t->pool_r, t->lnf_in, m->w.v_ln_post_w, m->w.v_ln_post_b, B, C);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, c->embed_dim, C, 1.0f, t->pooled, C, m->w.v_proj,
                c->embed_dim, 0.0f, emb, c->embed_dim);
    return 0;
}

int clip_image_backward(clip_t *m, const float *demb, float *const *dfeat, float *dimg, int param_grads, err_t *e) {
    const clip_config_t *c = &m->w.cfg;
    clip_tower_t *t = m->vis;
    if (!t || !t->B) return err_set(e, EXIT_INTERNAL, "clip_image_backward without a forward");
    if (param_grads && !m->g.mem) return err_set(e, EXIT_INTERNAL, "clip_image_backward: gradients not allocated");
    int B = t->B, P = c->patch, S = c->image_size, G = S / P, NP = G * G, T = NP + 1, C = c->v_width, E = c->embed_dim;
    int PD = 3 * P * P;
    clip_params_t *g = param_grads ? &m->g : NULL;
    memset(t->dres, 0, sizeof(float) * (size_t)B * T * C);
    if (demb) {
        /* emb = pooled @ proj: dpooled = demb proj^T; dproj += pooled^T demb */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, C, E, 1.0f, demb, E, m->w.v_proj, E, 0.0f, t->dsmall,
                    C);
        if (g)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, E, B, 1.0f, t->pooled, C, demb, E, 1.0f, g->v_proj,
                        E);
        /* ln_post on the class token; its input gradient lands on token 0 of the stream */
        memset(t->dmid, 0, sizeof(float) * (size_t)B * C);
        layernorm_backward(&m->pool, t->dmid, g ? g->v_ln_post_w : NULL, g ? g->v_ln_post_b : NULL, t->dsmall, t->lnf_in,
                           m->w.v_ln_post_w, t->pool_m, t->pool_r, B, C);
        for (int b = 0; b < B; b++) memcpy(t->dres + (size_t)b * T * C, t->dmid + (size_t)b * C, sizeof(float) * C);
    }
    for (int b = 0; b < B; b++) t->prow[b] = b * T; /* the class token */
    blocks_backward(&m->pool, t, m->w.v_blocks, g ? g->v_blocks : NULL, B, T, dfeat, t->prow);
    /* ln_pre: dres -> d pemb (into dmid-sized scratch: reuse dsmall (B,T,C)) */
    memset(t->dsmall, 0, sizeof(float) * (size_t)B * T * C);
    layernorm_backward(&m->pool, t->dsmall, g ? g->v_ln_pre_w : NULL, g ? g->v_ln_pre_b : NULL, t->dres, t->pemb,
                       m->w.v_ln_pre_w, t->pre_m, t->pre_r, B * T, C);
    if (g)
        for (int b = 0; b < B; b++) {
            const float *d = t->dsmall + (size_t)b * T * C;
            for (size_t i = 0; i < (size_t)T * C; i++) g->v_pos[i] += d[i];
            for (int i = 0; i < C; i++) g->v_class[i] += d[i];
        }
    if (dimg || g) {
        /* patch tokens gathered contiguous: dz (B*NP, C); d patches = dz @ conv;
         * dconv += dz^T patches */
        float *dz = t->dres; /* (B*NP, C) scratch: dres is no longer needed */
        for (int b = 0; b < B; b++)
            memcpy(dz + (size_t)b * NP * C, t->dsmall + ((size_t)b * T + 1) * C, sizeof(float) * NP * C);
        float *dpatch = t->patches; /* reuse: patches are needed for dconv first */
        if (g) matmul_backward(&m->pool, NULL, NULL, g->v_conv, NULL, dz, t->patches, m->w.v_conv, B * NP, PD, C, 0);
        if (dimg) {
            matmul_backward(&m->pool, dpatch, NULL, NULL, NULL, dz, NULL, m->w.v_conv, B * NP, PD, C, 0);
            /* col2im (patches do not overlap) */
            for (int b = 0; b < B; b++)
                for (int gy = 0; gy < G; gy++)
                    for (int gx = 0; gx < G; gx++) {
                        const float *src = dpatch + ((size_t)b * NP + gy * G + gx) * PD;
                        for (int ch = 0; ch < 3; ch++)
                            for (int ky = 0; ky < P; ky++) {
                                float *dst = dimg + (((size_t)b * 3 + ch) * S + gy * P + ky) * S + gx * P;
                                const float *s = src + (ch * P + ky) * P;
                                for (int kx = 0; kx < P; kx++) dst[kx] += s[kx];
                            }
                    }
            t->B = 0; /* patches were overwritten: a second backward needs a new forward */
        }
    }
    return 0;
}

const float *clip_image_block(const clip_t *m, int l, int *B, int *T, int *C) {
    const clip_tower_t *t = m->vis;
    if (!t || l < 0 || l >= t->L) return NULL;
    if (B) *B = t->B;
    if (T) *T = t->T;
    if (C) *C = t->C;
    return t->res + (size_t)(l + 1) * t->Bcap * t->T * t->C;
}

int clip_text_forward(clip_t *m, const int *ids, int B, float *emb, err_t *e) {
    const clip_config_t *c = &m->w.cfg;
    int T = c->context, C = c->t_width;
    if (B <= 0) return err_set(e, EXIT_INTERNAL, "clip_text_forward: batch %d", B);
    m->txt = tower_ensure(m->txt, c->t_layers, C, c->t_heads, c->mlp_ratio * C, T, B, 1, 0, 0, m->pool.nthreads);
    clip_tower_t *t = m->txt;
    t->B = B;
    /* pool at argmax(ids) (EOT has the largest id); with the causal mask the
     * tokens after the last pooled position cannot influence it, so the
     * blocks run only over Tr = max pooled index + 1 tokens. */
    int Tr = 1;
    for (int b = 0; b < B; b++) {
        int best = 0;
        for (int i = 0; i < T; i++) {
            if (ids[(size_t)b * T + i] < 0 || ids[(size_t)b * T + i] >= c->vocab)
                return err_set(e, EXIT_DATA, "token id %d out of range [0,%d)", ids[(size_t)b * T + i], c->vocab);
            if (ids[(size_t)b * T + i] > ids[(size_t)b * T + best]) best = i;
        }
        t->pool_idx[b] = best;
        if (best + 1 > Tr) Tr = best + 1;
    }
    t->Tlast = Tr;
    /* res[0] is laid out (B,Tr,C) */
    for (int b = 0; b < B; b++)
        for (int i = 0; i < Tr; i++) {
            const float *te = m->w.t_tok + (size_t)ids[(size_t)b * T + i] * C, *pe = m->w.t_pos + (size_t)i * C;
            float *x = t->res + ((size_t)b * Tr + i) * C;
            for (int k = 0; k < C; k++) x[k] = te[k] + pe[k];
        }
    blocks_forward(&m->pool, t, m->w.t_blocks, B, Tr);
    const float *out = t->res + (size_t)c->t_layers * t->Bcap * T * C;
    for (int b = 0; b < B; b++)
        memcpy(t->lnf_in + (size_t)b * C, out + ((size_t)b * Tr + t->pool_idx[b]) * C, sizeof(float) * C);
    layernorm_forward(&m->pool, t->pooled, t->pool_m, t->pool_r, t->lnf_in, m->w.t_ln_w, m->w.t_ln_b, B, C);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, c->embed_dim, C, 1.0f, t->pooled, C, m->w.t_proj,
                c->embed_dim, 0.0f, emb, c->embed_dim);
    memcpy(t->ids, ids, sizeof(int) * (size_t)B * T);
    return 0;
}

int clip_text_backward(clip_t *m, const float *demb, int param_grads, err_t *e) {
    const clip_config_t *c = &m->w.cfg;
    clip_tower_t *t = m->txt;
    if (!t || !t->B) return err_set(e, EXIT_INTERNAL, "clip_text_backward without a forward");
    if (!param_grads) return 0; /* text ids have no gradient: only parameters do */
    if (!m->g.mem) return err_set(e, EXIT_INTERNAL, "clip_text_backward: gradients not allocated");
    int B = t->B, T = c->context, Tr = t->Tlast, C = c->t_width, E = c->embed_dim;
    clip_params_t *g = &m->g;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, C, E, 1.0f, demb, E, m->w.t_proj, E, 0.0f, t->dsmall, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, E, B, 1.0f, t->pooled, C, demb, E, 1.0f, g->t_proj, E);
    memset(t->dmid, 0, sizeof(float) * (size_t)B * C);
    layernorm_backward(&m->pool, t->dmid, g->t_ln_w, g->t_ln_b, t->dsmall, t->lnf_in, m->w.t_ln_w, t->pool_m, t->pool_r, B, C);
    memset(t->dres, 0, sizeof(float) * (size_t)B * Tr * C);
    for (int b = 0; b < B; b++)
        memcpy(t->dres + ((size_t)b * Tr + t->pool_idx[b]) * C, t->dmid + (size_t)b * C, sizeof(float) * C);
    for (int b = 0; b < B; b++) t->prow[b] = b * Tr + t->pool_idx[b];
    blocks_backward(&m->pool, t, m->w.t_blocks, g->t_blocks, B, Tr, NULL, t->prow);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < Tr; i++) {
            const float *d = t->dres + ((size_t)b * Tr + i) * C;
            float *gt = g->t_tok + (size_t)t->ids[(size_t)b * T + i] * C, *gp = g->t_pos + (size_t)i * C;
            for (int k = 0; k < C; k++) {
                gt[k] += d[k];
                gp[k] += d[k];
            }
        }
    return 0;
}

void clip_normalize_forward(float *y, float *norm, const float *x, int B, int E) {
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int i = 0; i < E; i++) s += (double)x[(size_t)b * E + i] * x[(size_t)b * E + i];
        float n = (float)sqrt(s);
        if (n < 1e-12f) n = 1e-12f;
        norm[b] = n;
        for (int i = 0; i < E; i++) y[(size_t)b * E + i] = x[(size_t)b * E + i] / n;
    }
}

void clip_normalize_backward(float *dx, const float *dy, const float *y, const float *norm, int B, int E) {
    for (int b = 0; b < B; b++) {
        double d = 0;
        for (int i = 0; i < E; i++) d += (double)y[(size_t)b * E + i] * dy[(size_t)b * E + i];
        for (int i = 0; i < E; i++)
            dx[(size_t)b * E + i] += (dy[(size_t)b * E + i] - y[(size_t)b * E + i] * (float)d) / norm[b];
    }
}
