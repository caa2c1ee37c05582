/* loss.c - see loss.h.  The fast kernels split rows over threads; each row
 * writes its own term and the terms are summed afterwards in row order, so
 * the loss does not depend on the thread count.  InfoNCE's products go
 * through cblas_sgemm on row blocks. */
#include "loss.h"
#include <cblas.h>
#include <math.h>

static void split(int n, int T, int i, int *b, int *e) {
    *b = (int)((long long)n * i / T);
    *e = (int)((long long)n * (i + 1) / T);
}

/* ------------------------------------------------------- cross-entropy */

typedef struct {
    float *row_loss, *dlogits;
    const float *logits;
    const int *labels;
    int N, K, T;
    float smoothing, inv_count;
} xent_job;

static void xent_task(void *vj, int begin, int end, int tid) {
    const xent_job *j = vj;
    (void)tid;
    const int K = j->K;
    const float on = 1.0f - j->smoothing, off = j->smoothing / (float)K;
    for (int part = begin; part < end; part++) {
        int r0, r1;
        split(j->N, j->T, part, &r0, &r1);
        for (int i = r0; i < r1; i++) {
            const float *x = j->logits + (size_t)i * K;
            float *d = j->dlogits ? j->dlogits + (size_t)i * K : NULL;
            int y = j->labels[i];
            if (y < 0) {
                j->row_loss[i] = 0.0f;
                if (d)
                    for (int k = 0; k < K; k++) d[k] = 0.0f;
                continue;
            }
            float mx = x[0], sx = 0.0f;
            for (int k = 1; k < K; k++) mx = x[k] > mx ? x[k] : mx;
            double se = 0.0;
            for (int k = 0; k < K; k++) {
                se += expf(x[k] - mx);
                sx += x[k];
            }
            float lse = mx + (float)log(se), xy = x[y];
            j->row_loss[i] = lse - on * xy - off * sx;
            if (d) {
                for (int k = 0; k < K; k++) d[k] = (expf(x[k] - lse) - off) * j->inv_count;
                d[y] -= on * j->inv_count;
            }
        }
    }
}

/* argument checks shared by softmax_xent and softmax_xent_ref; *count is the
 * number of rows with a label (labels[i] >= 0) */
static int xent_check(const float *loss, const float *row_loss, const float *logits, const int *labels, int N,
                      int K, float smoothing, int *count) {
    if (N < 1 || K < 1 || !loss || !row_loss || !logits || !labels ||
        !(smoothing >= 0.0f && smoothing <= 1.0f))
        return NN_EINVAL;
    *count = 0;
    for (int i = 0; i < N; i++) {
        if (labels[i] >= K) return NN_EINVAL;
        *count += labels[i] >= 0;
    }
    return NN_OK;
}

int softmax_xent(const nn_par_t *par, float *loss, float *row_loss, float *dlogits, const float *logits,
                 const int *labels, int N, int K, float smoothing) {
    int count;
    if (xent_check(loss, row_loss, logits, labels, N, K, smoothing, &count)) return NN_EINVAL;
    int T = nn_nthreads(par);
    xent_job j = {.row_loss = row_loss,
                  .dlogits = dlogits,
                  .logits = logits,
                  .labels = labels,
                  .N = N,
                  .K = K,
                  .T = T,
                  .smoothing = smoothing,
                  .inv_count = count ? 1.0f / (float)count : 0.0f};
    nn_parallel_for(par, T, xent_task, &j);
    double s = 0;
    for (int i = 0; i < N; i++) s += row_loss[i];
    *loss = count ? (float)(s / count) : 0.0f;
    return NN_OK;
}

int softmax_xent_ref(const nn_par_t *par, float *loss, float *row_loss, float *dlogits, const float *logits,
                     const int *labels, int N, int K, float smoothing) {
    int count;
    if (xent_check(loss, row_loss, logits, labels, N, K, smoothing, &count)) return NN_EINVAL;
    double total = 0;
    for (int i = 0; i < N; i++) {
        const float *x = logits + (size_t)i * K;
        int y = labels[i];
        double mx = x[0], se = 0, l = 0;
        for (int k = 1; k < K; k++) mx = fmax(mx, x[k]);
        for (int k = 0; k < K; k++) se += exp(x[k] - mx);
        double lse = mx + log(se);
        for (int k = 0; k < K; k++) {
            double t = y < 0 ? 0.0 : (k == y) * (1.0 - smoothing) + smoothing / K;
            l += t * (lse - x[k]);
            if (dlogits) dlogits[(size_t)i * K + k] = y < 0 ? 0.0f : (float)((exp(x[k] - lse) - t) / count);
        }
        row_loss[i] = (float)l;
        total += l;
    }
    *loss = count ? (float)(total / count) : 0.0f;
    return NN_OK;
}

/* ------------------------------------------------------------ InfoNCE */

/* ws layout: L (N,N) logits then their gradient in place; lse_r (N) row
 * log-sum-exps; lse_c (N) column log-sum-exps; part (N) per-row sums of
 * dL*L (the logit_scale gradient) */
size_t infonce_ws_size(int N) { return N < 1 ? 0 : (size_t)N * N + 3 * (size_t)N; }

/* The rows are cut into at least NCE_BLOCKS blocks (more on a machine of
 * more cores: nn_par_t.width) whatever the thread count, and the threads
 * take contiguous runs of them: the sgemm calls of stages 0 and 3 then have
 * the same shapes on any -j, and OpenBLAS's sums, which depend on a call's
 * shape, the same bits (tests/unit/test_thread_bits.c). */
#define NCE_BLOCKS 4

typedef struct {
    float *L, *lse_r, *lse_c, *part, *dimg, *dtxt;
    const float *img, *txt;
    int N, E, nb, stage; /* nb: the row blocks */
    float s;
} nce_job;

static void nce_task(void *vj, int begin, int end, int tid) {
    const nce_job *j = vj;
    (void)tid;
    const int N = j->N, E = j->E;
    for (int pt = begin; pt < end; pt++) {
        int r0, r1;
        split(N, j->nb, pt, &r0, &r1);
        if (r0 >= r1) continue;
        if (j->stage == 0) { /* logits rows r0..r1 */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, N, E, j->s, j->img + (size_t)r0 * E,
                        E, j->txt, E, 0.0f, j->L + (size_t)r0 * N, N);
        } else if (j->stage == 1) { /* log-sum-exp of rows and of columns r0..r1 */
            for (int i = r0; i < r1; i++) {
                const float *x = j->L + (size_t)i * N;
                float mx = x[0];
                for (int k = 1; k < N; k++) mx = x[k] > mx ? x[k] : mx;
                double se = 0;
                for (int k = 0; k < N; k++) se += expf(x[k] - mx);
                j->lse_r[i] = mx + (float)log(se);
                float my = j->L[i];
                for (int k = 1; k < N; k++) my = j->L[(size_t)k * N + i] > my ? j->L[(size_t)k * N + i] : my;
                se = 0;
                for (int k = 0; k < N; k++) se += expf(j->L[(size_t)k * N + i] - my);
                j->lse_c[i] = my + (float)log(se);
            }
        } else if (j->stage == 2) { /* dL = (softmax_rows + softmax_cols - 2I) / 2N, in place */
            float inv = 0.5f / (float)N;
            for (int i = r0; i < r1; i++) {
                float *x = j->L + (size_t)i * N;
                double acc = 0;
                for (int k = 0; k < N; k++) {
                    float g =
                        (expf(x[k] - j->lse_r[i]) + expf(x[k] - j->lse_c[k]) - (k == i ? 2.0f : 0.0f)) * inv;
                    acc += (double)g * x[k];
                    x[k] = g;
                }
                j->part[i] = (float)acc;
            }
        } else { /* dimg rows = s dL @ txt; dtxt rows = s dL^T @ img */
            if (j->dimg)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, E, N, j->s,
                            j->L + (size_t)r0 * N, N, j->txt, E, 0.0f, j->dimg + (size_t)r0 * E, E);
            if (j->dtxt)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1 - r0, E, N, j->s, j->L + r0, N,
                            j->img, E, 0.0f, j->dtxt + (size_t)r0 * E, E);
        }
    }
}

int infonce(const nn_par_t *par, float *loss, float *dimg, float *dtxt, float *dlogit_scale, const float *img,
            const float *txt, float logit_scale, int N, int E, float *ws, size_t nws) {
    if (N < 1 || E < 1 || !loss || !img || !txt || !ws || nws < infonce_ws_size(N) || !isfinite(logit_scale))
        return NN_EINVAL;
    int nb = nn_width(par) > NCE_BLOCKS ? nn_width(par) : NCE_BLOCKS;
    nce_job j = {.L = ws,
                 .lse_r = ws + (size_t)N * N,
                 .lse_c = ws + (size_t)N * N + N,
                 .part = ws + (size_t)N * N + 2 * (size_t)N,
                 .dimg = dimg,
                 .dtxt = dtxt,
                 .img = img,
                 .txt = txt,
                 .N = N,
                 .E = E,
                 .nb = nb,
                 .s = expf(logit_scale)};
    for (j.stage = 0; j.stage < 2; j.stage++) nn_parallel_for(par, nb, nce_task, &j);
    double l = 0;
    for (int i = 0; i < N; i++) l += (double)j.lse_r[i] + j.lse_c[i] - 2.0 * j.L[(size_t)i * N + i];
    *loss = (float)(l / (2.0 * N));
    if (!dimg && !dtxt && !dlogit_scale) return NN_OK;
    nn_parallel_for(par, nb, nce_task, &j); /* stage 2 */
    if (dlogit_scale) {
        double g = 0;
        for (int i = 0; i < N; i++) g += j.part[i];
        *dlogit_scale += (float)g;
    }
    j.stage = 3;
    if (dimg || dtxt) nn_parallel_for(par, nb, nce_task, &j);
    return NN_OK;
}

static double dotd(const float *a, const float *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

int infonce_ref(const nn_par_t *par, float *loss, float *dimg, float *dtxt, float *dlogit_scale,
                const float *img, const float *txt, float logit_scale, int N, int E, float *ws, size_t nws) {
    if (N < 1 || E < 1 || !loss || !img || !txt || !isfinite(logit_scale)) return NN_EINVAL;
    double s = exp((double)logit_scale), l = 0, gs = 0;
    /* logit(i,k) recomputed as needed: this is the readable version */
#define LOGIT(i, k) (s * dotd(img + (size_t)(i)*E, txt + (size_t)(k)*E, E))
    if (dimg)
        for (size_t q = 0; q < (size_t)N * E; q++) dimg[q] = 0.0f;
    if (dtxt)
        for (size_t q = 0; q < (size_t)N * E; q++) dtxt[q] = 0.0f;
    for (int i = 0; i < N; i++) {
        double mr = -INFINITY, mc = -INFINITY, sr = 0, sc = 0;
        for (int k = 0; k < N; k++) mr = fmax(mr, LOGIT(i, k)), mc = fmax(mc, LOGIT(k, i));
        for (int k = 0; k < N; k++) sr += exp(LOGIT(i, k) - mr), sc += exp(LOGIT(k, i) - mc);
        double lr = mr + log(sr), lc = mc + log(sc); /* row i of logits, column i of logits */
        l += (lr - LOGIT(i, i)) + (lc - LOGIT(i, i));
        /* d/dlogit(i,k) of the row term and d/dlogit(k,i) of the column term */
        for (int k = 0; k < N; k++) {
            double gr = (exp(LOGIT(i, k) - lr) - (k == i)) / (2.0 * N); /* at logit(i,k) */
            double gc = (exp(LOGIT(k, i) - lc) - (k == i)) / (2.0 * N); /* at logit(k,i) */
            gs += gr * LOGIT(i, k) + gc * LOGIT(k, i);
            for (int e = 0; e < E; e++) {
                if (dimg) dimg[(size_t)i * E + e] += (float)(gr * s * txt[(size_t)k * E + e]);
                if (dtxt) dtxt[(size_t)k * E + e] += (float)(gr * s * img[(size_t)i * E + e]);
                if (dimg) dimg[(size_t)k * E + e] += (float)(gc * s * txt[(size_t)i * E + e]);
                if (dtxt) dtxt[(size_t)i * E + e] += (float)(gc * s * img[(size_t)k * E + e]);
            }
        }
    }
#undef LOGIT
    *loss = (float)(l / (2.0 * N));
    if (dlogit_scale) *dlogit_scale += (float)gs;
    return NN_OK;
}

/* ---------------------------------------------------- element-wise losses */

#define EW_BLOCKS 64
enum { EW_BCE, EW_L1, EW_MSE };

typedef struct {
    float *dpred;
    const float *x, *t;
    float tv, gs; /* target value when t is NULL; gradient scale / n */
    size_t n;
    int kind, nb;
    double part[EW_BLOCKS];
} ew_job;

/* loss term at (x, t), and d term / d x into *g */
static inline double ew_term(int kind, float x, float t, float *g) {
    if (kind == EW_BCE) {
        float e = expf(-fabsf(x)); /* in (0,1]: no overflow */
        float sig = x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
        *g = sig - t;
        return (double)(x > 0 ? x : 0.0f) - (double)x * t + log1p((double)e);
    }
    float d = x - t;
    if (kind == EW_L1) {
        *g = (float)((d > 0) - (d < 0));
        return fabs((double)d);
    }
    *g = 2.0f * d;
    return (double)d * d;
}

static void ew_task(void *vj, int begin, int end, int tid) {
    ew_job *j = vj;
    (void)tid;
    for (int blk = begin; blk < end; blk++) {
        size_t b = j->n * (size_t)blk / (size_t)j->nb, e = j->n * (size_t)(blk + 1) / (size_t)j->nb;
        double s = 0;
        for (size_t i = b; i < e; i++) {
            float g;
            s += ew_term(j->kind, j->x[i], j->t ? j->t[i] : j->tv, &g);
            if (j->dpred) j->dpred[i] = g * j->gs;
        }
        j->part[blk] = s;
    }
}

static int ew_run(const nn_par_t *par, int kind, float *loss, float *dpred, const float *x, const float *t,
                  float tv, size_t n, float gscale) {
    if (!n || !loss || !x || (!t && kind != EW_BCE) || n > (size_t)1 << 56) return NN_EINVAL;
    ew_job *j = &(ew_job){.dpred = dpred,
                          .x = x,
                          .t = t,
                          .tv = tv,
                          .gs = (float)(gscale / (double)n),
                          .n = n,
                          .kind = kind,
                          .nb = n < EW_BLOCKS ? (int)n : EW_BLOCKS};
    nn_parallel_for(par, j->nb, ew_task, j);
    double s = 0;
    for (int i = 0; i < j->nb; i++) s += j->part[i];
    *loss = (float)(s / (double)n);
    return NN_OK;
}

int bce_logits_loss(const nn_par_t *par, float *loss, float *dpred, const float *logits, const float *target,
                    float target_value, size_t n, float gscale) {
    return ew_run(par, EW_BCE, loss, dpred, logits, target, target_value, n, gscale);
}
int l1_loss(const nn_par_t *par, float *loss, float *dpred, const float *pred, const float *target, size_t n,
            float gscale) {
    return ew_run(par, EW_L1, loss, dpred, pred, target, 0.0f, n, gscale);
}
int mse_loss(const nn_par_t *par, float *loss, float *dpred, const float *pred, const float *target, size_t n,
             float gscale) {
    return ew_run(par, EW_MSE, loss, dpred, pred, target, 0.0f, n, gscale);
}

int bce_logits_loss_ref(const nn_par_t *par, float *loss, float *dpred, const float *logits,
                        const float *target, float target_value, size_t n, float gscale) {
    if (!n || !loss || !logits) return NN_EINVAL;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double x = logits[i], t = target ? target[i] : target_value;
        s += fmax(x, 0.0) - x * t + log(1.0 + exp(-fabs(x)));
        if (dpred) dpred[i] = (float)((1.0 / (1.0 + exp(-x)) - t) * gscale / (double)n);
    }
    *loss = (float)(s / (double)n);
    return NN_OK;
}

int l1_loss_ref(const nn_par_t *par, float *loss, float *dpred, const float *pred, const float *target,
                size_t n, float gscale) {
    if (!n || !loss || !pred || !target) return NN_EINVAL;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)pred[i] - target[i];
        s += fabs(d);
        if (dpred) dpred[i] = (float)(((d > 0) - (d < 0)) * gscale / (double)n);
    }
    *loss = (float)(s / (double)n);
    return NN_OK;
}

int mse_loss_ref(const nn_par_t *par, float *loss, float *dpred, const float *pred, const float *target,
                 size_t n, float gscale) {
    if (!n || !loss || !pred || !target) return NN_EINVAL;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)pred[i] - target[i];
        s += d * d;
        if (dpred) dpred[i] = (float)(2.0 * d * gscale / (double)n);
    }
    *loss = (float)(s / (double)n);
    return NN_OK;
}
