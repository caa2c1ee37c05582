/* layernorm.c - see layernorm.h.  Shapes: N rows, C columns.
 *
 * Backward, with xh = (x - mean) rstd and g = w * dout:
 *   dx = rstd (g - mean_c(g) - xh mean_c(g xh)),  dw += sum_i dout xh,
 *   db += sum_i dout.
 * The fast version runs the input gradient by rows and then the weight
 * gradients by column blocks (nn_col_range), so no two threads add into the
 * same dw/db entries and no per-thread partial sums need a buffer. */
#include "layernorm.h"
#include <math.h>
#include "simd.h"

typedef struct {
    float *out, *mean, *rstd, *dinp, *dw, *db;
    const float *inp, *w, *b, *dout;
    const float *cmean, *crstd;
    int N, C, nt;
    float eps;
} ln_job_t;

NN_BODY ln_fwd_rows_body(void *vj, int r0, int r1, int tid) {
    ln_job_t *j = vj;
    int C = j->C;
    const float *restrict w = j->w, *restrict bb = j->b;
    for (int i = r0; i < r1; i++) {
        const float *restrict x = j->inp + (size_t)i * C;
        float *restrict o = j->out + (size_t)i * C;
        float m = nn_vsum(x, C) / C;
        for (int c = 0; c < C; c++) o[c] = (x[c] - m) * (x[c] - m); /* o as scratch for the variance */
        float v = nn_vsum(o, C) / C;
        float sc = 1.0f / sqrtf(v + j->eps);
        for (int c = 0; c < C; c++) o[c] = (x[c] - m) * sc * w[c] + bb[c];
        j->mean[i] = m;
        j->rstd[i] = sc;
    }
}
NN_KERNEL(ln_fwd_rows)

void layernorm_forward(const nn_par_t *par, float *out, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, int N, int C, float eps) {
    ln_job_t j = {.out = out, .mean = mean, .rstd = rstd, .inp = inp, .w = w, .b = b, .N = N, .C = C, .eps = eps};
    nn_parallel_for(par, N, NN_PICK(ln_fwd_rows), &j);
}

NN_BODY ln_bwd_rows_body(void *vj, int r0, int r1, int tid) {
    ln_job_t *j = vj;
    int C = j->C;
    const float *restrict w = j->w;
    for (int i = r0; i < r1; i++) {
        const float *restrict x = j->inp + (size_t)i * C, *restrict dy = j->dout + (size_t)i * C;
        float m = j->cmean[i], sc = j->crstd[i];
        float a[NN_LANES] = {0}, bb[NN_LANES] = {0}, fa = 0, fb = 0;
        int c = 0;
        for (; c + NN_LANES <= C; c += NN_LANES)
            for (int k = 0; k < NN_LANES; k++) {
                float dn = w[c + k] * dy[c + k];
                a[k] += dn;
                bb[k] += dn * (x[c + k] - m) * sc;
            }
        for (; c < C; c++) {
            float dn = w[c] * dy[c];
            fa += dn;
            fb += dn * (x[c] - m) * sc;
        }
        for (int k = 0; k < NN_LANES; k++) {
            fa += a[k];
            fb += bb[k];
        }
        fa /= C;
        fb /= C;
        float *restrict dx = j->dinp + (size_t)i * C;
        for (c = 0; c < C; c++) dx[c] += (w[c] * dy[c] - fa - (x[c] - m) * sc * fb) * sc;
    }
}
NN_KERNEL(ln_bwd_rows)

/* tasks are thread indices: thread tid owns columns nn_col_range(C, nt, tid) */
static void ln_bwd_cols(void *vj, int tid0, int tid1, int unused) {
    ln_job_t *j = vj;
    (void)unused;
    for (int tid = tid0; tid < tid1; tid++) {
        int c0, c1;
        nn_col_range(j->C, j->nt, tid, &c0, &c1);
        for (int i = 0; i < j->N; i++) {
            const float *x = j->inp + (size_t)i * j->C, *dy = j->dout + (size_t)i * j->C;
            float m = j->cmean[i], sc = j->crstd[i];
            for (int c = c0; c < c1; c++) {
                if (j->dw) j->dw[c] += (x[c] - m) * sc * dy[c];
                if (j->db) j->db[c] += dy[c];
            }
        }
    }
}

void layernorm_backward(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *mean, const float *rstd, const float *w, int N, int C) {
    int nt = nn_nthreads(par);
    ln_job_t j = {.dinp = dinp, .dw = dw, .db = db, .dout = dout, .inp = inp, .w = w, .cmean = mean, .crstd = rstd,
                  .N = N, .C = C, .nt = nt};
    if (dinp) nn_parallel_for(par, N, NN_PICK(ln_bwd_rows), &j);
    if (dw || db) nn_parallel_for(par, nt, ln_bwd_cols, &j);
}

/* ------------------------------------------------------------ references */

void layernorm_forward_ref(const nn_par_t *par, float *out, float *mean, float *rstd, const float *inp, const float *w,
                           const float *b, int N, int C, float eps) {
    (void)par;
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        double m = 0, v = 0; /* sums in double: the reference should not need lane tricks */
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= C;
        float s = (float)(1.0 / sqrt(v + eps));
        for (int c = 0; c < C; c++) out[(size_t)i * C + c] = (float)(x[c] - m) * s * w[c] + b[c];
        mean[i] = (float)m;
        rstd[i] = s;
    }
}

void layernorm_backward_ref(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *mean, const float *rstd, const float *w, int N, int C) {
    (void)par;
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
        float m = mean[i], s = rstd[i];
        double g_mean = 0, gxh_mean = 0; /* means over c of g = w dy and of g * xh */
        for (int c = 0; c < C; c++) {
            float xh = (x[c] - m) * s, g = w[c] * dy[c];
            g_mean += g;
            gxh_mean += g * xh;
            if (dw) dw[c] += dy[c] * xh;
            if (db) db[c] += dy[c];
        }
        g_mean /= C;
        gxh_mean /= C;
        if (dinp)
            for (int c = 0; c < C; c++) {
                float xh = (x[c] - m) * s;
                dinp[(size_t)i * C + c] += (float)(s * (w[c] * dy[c] - g_mean - xh * gxh_mean));
            }
    }
}
