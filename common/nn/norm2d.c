/* norm2d.c - see norm2d.h.
 *
 * Every kernel here reduces over planes of HW contiguous floats (one (n,c)
 * plane of an NCHW tensor).  Sums run in eight double lanes (vectorisable,
 * and precise enough that the one-pass forms below lose nothing visible in
 * float); the element-wise passes are affine maps y = a*x + c (forward) and
 * dx += a*dy + k*x + c (backward), with the per-channel coefficients folded
 * in double first.  Threads own whole channels. */
#include "norm2d.h"
#include <math.h>
#include <stddef.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

#define LANES 8

static double psum(const float *restrict x, int n) {
    double acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += x[i + l];
    for (; i < n; i++) acc[0] += x[i];
    double s = 0;
    for (int l = 0; l < LANES; l++) s += acc[l];
    return s;
}

/* sum of (x - m)^2 */
static double psqdev(const float *restrict x, int n, double m) {
    double acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            double d = x[i + l] - m;
            acc[l] += d * d;
        }
    for (; i < n; i++) acc[0] += (x[i] - m) * (x[i] - m);
    double s = 0;
    for (int l = 0; l < LANES; l++) s += acc[l];
    return s;
}

/* sum of dy and of dy*x */
static void pdot(const float *restrict dy, const float *restrict x, int n, double *sdy, double *sdyx) {
    double a[LANES] = {0}, b[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            a[l] += dy[i + l];
            b[l] += (double)dy[i + l] * x[i + l];
        }
    for (; i < n; i++) {
        a[0] += dy[i];
        b[0] += (double)dy[i] * x[i];
    }
    double s = 0, t = 0;
    for (int l = 0; l < LANES; l++) s += a[l], t += b[l];
    *sdy = s;
    *sdyx = t;
}

static void paffine(float *y, const float *x, int n, float a, float c) {
    for (int i = 0; i < n; i++) y[i] = a * x[i] + c;
}

static void pgrad(float *restrict dx, const float *restrict dy, const float *restrict x, int n, float a,
                  float k, float c) {
    for (int i = 0; i < n; i++) dx[i] += a * dy[i] + k * x[i] + c;
}

static void split(int n, int T, int i, int *b, int *e) {
    *b = (int)((long long)n * i / T);
    *e = (int)((long long)n * (i + 1) / T);
}

typedef struct {
    float *out, *mean, *rstd, *run_mean, *run_var, *dinp, *dw, *db;
    const float *inp, *dout, *w, *b, *cmean, *crstd;
    int N, C, HW, T;
    float eps, momentum;
} job_t;

#define PLANE(p, n, c) ((p) + ((size_t)(n)*j->C + (c)) * (size_t)j->HW)

/* ---------------------------------------------------------- batch norm */

/* channel c over N planes: the statistics, then y = a*x + (b - mean*a) */
static void bn_fwd_task(void *vj, int begin, int end, int tid) {
    const job_t *j = vj;
    (void)tid;
    for (int part = begin; part < end; part++) {
        int c0, c1;
        split(j->C, j->T, part, &c0, &c1);
        for (int c = c0; c < c1; c++) {
            double M = (double)j->N * j->HW, s = 0, v = 0;
            for (int n = 0; n < j->N; n++) s += psum(PLANE(j->inp, n, c), j->HW);
            double m = s / M;
            for (int n = 0; n < j->N; n++) v += psqdev(PLANE(j->inp, n, c), j->HW, m);
            double var = v / M, r = 1.0 / sqrt(var + j->eps);
            j->mean[c] = (float)m;
            j->rstd[c] = (float)r;
            if (j->run_mean) j->run_mean[c] = (float)((1.0 - j->momentum) * j->run_mean[c] + j->momentum * m);
            if (j->run_var)
                j->run_var[c] = (float)((1.0 - j->momentum) * j->run_var[c] + j->momentum * v / (M - 1.0));
            double a = r * (j->w ? j->w[c] : 1.0), sh = (j->b ? j->b[c] : 0.0) - m * a;
            for (int n = 0; n < j->N; n++)
                paffine(PLANE(j->out, n, c), PLANE(j->inp, n, c), j->HW, (float)a, (float)sh);
        }
    }
}

/* dx = w*rstd*(dy - mean(dy) - xhat*mean(dy*xhat)), as dx += a*dy + k*x + c */
static void bn_bwd_task(void *vj, int begin, int end, int tid) {
    const job_t *j = vj;
    (void)tid;
    for (int part = begin; part < end; part++) {
        int c0, c1;
        split(j->C, j->T, part, &c0, &c1);
        for (int c = c0; c < c1; c++) {
            double M = (double)j->N * j->HW, sdy = 0, sdyx = 0, m = j->cmean[c], r = j->crstd[c];
            for (int n = 0; n < j->N; n++) {
                double a, b;
                pdot(PLANE(j->dout, n, c), PLANE(j->inp, n, c), j->HW, &a, &b);
                sdy += a;
                sdyx += b;
            }
            double sdyxh = r * (sdyx - m * sdy); /* sum dy*xhat */
            if (j->db) j->db[c] += (float)sdy;
            if (j->dw) j->dw[c] += (float)sdyxh;
            if (!j->dinp) continue;
            double g = (j->w ? j->w[c] : 1.0) * r;
            double k = -g * r * sdyxh / M, cc = -g * sdy / M - k * m;
            for (int n = 0; n < j->N; n++)
                pgrad(PLANE(j->dinp, n, c), PLANE(j->dout, n, c), PLANE(j->inp, n, c), j->HW, (float)g,
                      (float)k, (float)cc);
        }
    }
}

static void bn_eval_fwd_task(void *vj, int begin, int end, int tid) {
    const job_t *j = vj;
    (void)tid;
    for (int part = begin; part < end; part++) {
        int c0, c1;
        split(j->C, j->T, part, &c0, &c1);
        for (int c = c0; c < c1; c++) {
            double r = 1.0 / sqrt((double)j->crstd[c] + j->eps); /* crstd holds run_var here */
            double a = r * (j->w ? j->w[c] : 1.0), sh = (j->b ? j->b[c] : 0.0) - j->cmean[c] * a;
            for (int n = 0; n < j->N; n++)
                paffine(PLANE(j->out, n, c), PLANE(j->inp, n, c), j->HW, (float)a, (float)sh);
        }
    }
}

static void bn_eval_bwd_task(void *vj, int begin, int end, int tid) {
    const job_t *j = vj;
    (void)tid;
    for (int part = begin; part < end; part++) {
        int c0, c1;
        split(j->C, j->T, part, &c0, &c1);
        for (int c = c0; c < c1; c++) {
            double r = 1.0 / sqrt((double)j->crstd[c] + j->eps), m = j->cmean[c];
            if (j->db || j->dw) {
                double sdy = 0, sdyx = 0;
                for (int n = 0; n < j->N; n++) {
                    double a, b;
                    pdot(PLANE(j->dout, n, c), PLANE(j->inp, n, c), j->HW, &a, &b);
                    sdy += a;
                    sdyx += b;
                }
                if (j->db) j->db[c] += (float)sdy;
                if (j->dw) j->dw[c] += (float)(r * (sdyx - m * sdy));
            }
            if (!j->dinp) continue;
            float g = (float)((j->w ? j->w[c] : 1.0) * r);
            for (int n = 0; n < j->N; n++)
                pgrad(PLANE(j->dinp, n, c), PLANE(j->dout, n, c), PLANE(j->inp, n, c), j->HW, g, 0.0f, 0.0f);
        }
    }
}

static int sizes_ok(int N, int C, int HW) { return N >= 1 && C >= 1 && HW >= 1; }

/* argument checks shared by each fast kernel and its _ref; nonzero = refuse */
static int stats_fwd_bad(int N, int C, int HW, const float *out, const float *mean, const float *rstd,
                         const float *inp, float eps) {
    return !sizes_ok(N, C, HW) || !out || !mean || !rstd || !inp || !(eps >= 0);
}

static int bn_fwd_bad(int N, int C, int HW, const float *out, const float *mean, const float *rstd,
                      const float *inp, float eps) {
    return (long long)N * HW < 2 || stats_fwd_bad(N, C, HW, out, mean, rstd, inp, eps);
}

static int stats_bwd_bad(int N, int C, int HW, const float *dout, const float *inp, const float *mean,
                         const float *rstd) {
    return !sizes_ok(N, C, HW) || !dout || !inp || !mean || !rstd;
}

/* y is out (forward) or dout (backward) */
static int eval_bad(int N, int C, int HW, const float *y, const float *inp, const float *run_mean,
                    const float *run_var, float eps) {
    return !sizes_ok(N, C, HW) || !y || !inp || !run_mean || !run_var || !(eps >= 0);
}

/* fill in the sizes and the part count, run task over the parts */
static int run(const nn_par_t *par, job_t *j, nn_task_fn task, int N, int C, int HW) {
    j->N = N;
    j->C = C;
    j->HW = HW;
    j->T = nn_nthreads(par);
    nn_parallel_for(par, j->T, task, j);
    return NN_OK;
}

int batchnorm2d_forward(const nn_par_t *par, float *out, float *mean, float *rstd, const float *inp,
                        const float *w, const float *b, float *run_mean, float *run_var, int N, int C, int HW,
                        float eps, float momentum) {
    if (bn_fwd_bad(N, C, HW, out, mean, rstd, inp, eps)) return NN_EINVAL;
    job_t j = {.out = out,
               .mean = mean,
               .rstd = rstd,
               .run_mean = run_mean,
               .run_var = run_var,
               .inp = inp,
               .w = w,
               .b = b,
               .eps = eps,
               .momentum = momentum};
    return run(par, &j, bn_fwd_task, N, C, HW);
}

int batchnorm2d_backward(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                         const float *inp, const float *mean, const float *rstd, const float *w, int N, int C,
                         int HW) {
    if (stats_bwd_bad(N, C, HW, dout, inp, mean, rstd)) return NN_EINVAL;
    job_t j = {
        .dinp = dinp, .dw = dw, .db = db, .dout = dout, .inp = inp, .cmean = mean, .crstd = rstd, .w = w};
    return run(par, &j, bn_bwd_task, N, C, HW);
}

int batchnorm2d_forward_eval(const nn_par_t *par, float *out, const float *inp, const float *w,
                             const float *b, const float *run_mean, const float *run_var, int N, int C,
                             int HW, float eps) {
    if (eval_bad(N, C, HW, out, inp, run_mean, run_var, eps)) return NN_EINVAL;
    job_t j = {.out = out, .inp = inp, .w = w, .b = b, .cmean = run_mean, .crstd = run_var, .eps = eps};
    return run(par, &j, bn_eval_fwd_task, N, C, HW);
}

int batchnorm2d_backward_eval(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                              const float *inp, const float *run_mean, const float *run_var, const float *w,
                              int N, int C, int HW, float eps) {
    if (eval_bad(N, C, HW, dout, inp, run_mean, run_var, eps)) return NN_EINVAL;
    job_t j = {.dinp = dinp,
               .dw = dw,
               .db = db,
               .dout = dout,
               .inp = inp,
               .cmean = run_mean,
               .crstd = run_var,
               .w = w,
               .eps = eps};
    return run(par, &j, bn_eval_bwd_task, N, C, HW);
}

/* ------------------------------------------------------- instance norm */

static void in_fwd_task(void *vj, int begin, int end, int tid) {
    const job_t *j = vj;
    (void)tid;
    for (int part = begin; part < end; part++) {
        int c0, c1;
        split(j->C, j->T, part, &c0, &c1);
        for (int c = c0; c < c1; c++)
            for (int n = 0; n < j->N; n++) {
                const float *x = PLANE(j->inp, n, c);
                double m = psum(x, j->HW) / j->HW, var = psqdev(x, j->HW, m) / j->HW,
                       r = 1.0 / sqrt(var + j->eps);
                j->mean[(size_t)n * j->C + c] = (float)m;
                j->rstd[(size_t)n * j->C + c] = (float)r;
                double a = r * (j->w ? j->w[c] : 1.0), sh = (j->b ? j->b[c] : 0.0) - m * a;
                paffine(PLANE(j->out, n, c), x, j->HW, (float)a, (float)sh);
            }
    }
}

static void in_bwd_task(void *vj, int begin, int end, int tid) {
    const job_t *j = vj;
    (void)tid;
    for (int part = begin; part < end; part++) {
        int c0, c1;
        split(j->C, j->T, part, &c0, &c1);
        for (int c = c0; c < c1; c++) {
            double dwc = 0, dbc = 0;
            for (int n = 0; n < j->N; n++) {
                double sdy, sdyx, M = j->HW, m = j->cmean[(size_t)n * j->C + c],
                                  r = j->crstd[(size_t)n * j->C + c];
                pdot(PLANE(j->dout, n, c), PLANE(j->inp, n, c), j->HW, &sdy, &sdyx);
                double sdyxh = r * (sdyx - m * sdy);
                dbc += sdy;
                dwc += sdyxh;
                if (!j->dinp) continue;
                double g = (j->w ? j->w[c] : 1.0) * r;
                double k = -g * r * sdyxh / M, cc = -g * sdy / M - k * m;
                pgrad(PLANE(j->dinp, n, c), PLANE(j->dout, n, c), PLANE(j->inp, n, c), j->HW, (float)g,
                      (float)k, (float)cc);
            }
            if (j->db) j->db[c] += (float)dbc;
            if (j->dw) j->dw[c] += (float)dwc;
        }
    }
}

int instancenorm2d_forward(const nn_par_t *par, float *out, float *mean, float *rstd, const float *inp,
                           const float *w, const float *b, int N, int C, int HW, float eps) {
    if (stats_fwd_bad(N, C, HW, out, mean, rstd, inp, eps)) return NN_EINVAL;
    job_t j = {.out = out, .mean = mean, .rstd = rstd, .inp = inp, .w = w, .b = b, .eps = eps};
    return run(par, &j, in_fwd_task, N, C, HW);
}

int instancenorm2d_backward(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *mean, const float *rstd, const float *w, int N,
                            int C, int HW) {
    if (stats_bwd_bad(N, C, HW, dout, inp, mean, rstd)) return NN_EINVAL;
    job_t j = {
        .dinp = dinp, .dw = dw, .db = db, .dout = dout, .inp = inp, .cmean = mean, .crstd = rstd, .w = w};
    return run(par, &j, in_bwd_task, N, C, HW);
}

/* ---------------------------------------------------------- references */

#define AT(p, n, c, i) (p)[((size_t)(n)*C + (c)) * HW + (i)]

int batchnorm2d_forward_ref(const nn_par_t *par, float *out, float *mean, float *rstd, const float *inp,
                            const float *w, const float *b, float *run_mean, float *run_var, int N, int C,
                            int HW, float eps, float momentum) {
    if (bn_fwd_bad(N, C, HW, out, mean, rstd, inp, eps)) return NN_EINVAL;
    double M = (double)N * HW;
    for (int c = 0; c < C; c++) {
        double s = 0, v = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) s += AT(inp, n, c, i);
        double m = s / M;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) v += (AT(inp, n, c, i) - m) * (AT(inp, n, c, i) - m);
        double r = 1.0 / sqrt(v / M + eps);
        mean[c] = (float)m;
        rstd[c] = (float)r;
        if (run_mean) run_mean[c] = (float)((1 - momentum) * run_mean[c] + momentum * m);
        if (run_var) run_var[c] = (float)((1 - momentum) * run_var[c] + momentum * v / (M - 1));
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++)
                AT(out, n, c, i) = (float)((AT(inp, n, c, i) - m) * r * (w ? w[c] : 1.0) + (b ? b[c] : 0.0));
    }
    return NN_OK;
}

int batchnorm2d_backward_ref(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                             const float *inp, const float *mean, const float *rstd, const float *w, int N,
                             int C, int HW) {
    if (stats_bwd_bad(N, C, HW, dout, inp, mean, rstd)) return NN_EINVAL;
    double M = (double)N * HW;
    for (int c = 0; c < C; c++) {
        double wc = w ? w[c] : 1.0, mdx = 0, mdxx = 0, sdy = 0, sdyx = 0; /* dxhat = dy * w */
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                double xh = (AT(inp, n, c, i) - mean[c]) * rstd[c], dy = AT(dout, n, c, i);
                sdy += dy;
                sdyx += dy * xh;
                mdx += dy * wc / M;
                mdxx += dy * wc * xh / M;
            }
        if (db) db[c] += (float)sdy;
        if (dw) dw[c] += (float)sdyx;
        if (dinp)
            for (int n = 0; n < N; n++)
                for (int i = 0; i < HW; i++) {
                    double xh = (AT(inp, n, c, i) - mean[c]) * rstd[c];
                    AT(dinp, n, c, i) += (float)(rstd[c] * (AT(dout, n, c, i) * wc - mdx - xh * mdxx));
                }
    }
    return NN_OK;
}

int batchnorm2d_forward_eval_ref(const nn_par_t *par, float *out, const float *inp, const float *w,
                                 const float *b, const float *run_mean, const float *run_var, int N, int C,
                                 int HW, float eps) {
    if (eval_bad(N, C, HW, out, inp, run_mean, run_var, eps)) return NN_EINVAL;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < HW; i++)
                AT(out, n, c, i) = (float)((AT(inp, n, c, i) - run_mean[c]) / sqrt((double)run_var[c] + eps) *
                                               (w ? w[c] : 1.0) +
                                           (b ? b[c] : 0.0));
    return NN_OK;
}

int batchnorm2d_backward_eval_ref(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                                  const float *inp, const float *run_mean, const float *run_var,
                                  const float *w, int N, int C, int HW, float eps) {
    if (eval_bad(N, C, HW, dout, inp, run_mean, run_var, eps)) return NN_EINVAL;
    for (int c = 0; c < C; c++) {
        double r = 1.0 / sqrt((double)run_var[c] + eps), sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                double dy = AT(dout, n, c, i);
                sdy += dy;
                sdyx += dy * (AT(inp, n, c, i) - run_mean[c]) * r;
                if (dinp) AT(dinp, n, c, i) += (float)(dy * r * (w ? w[c] : 1.0));
            }
        if (db) db[c] += (float)sdy;
        if (dw) dw[c] += (float)sdyx;
    }
    return NN_OK;
}

int instancenorm2d_forward_ref(const nn_par_t *par, float *out, float *mean, float *rstd, const float *inp,
                               const float *w, const float *b, int N, int C, int HW, float eps) {
    if (stats_fwd_bad(N, C, HW, out, mean, rstd, inp, eps)) return NN_EINVAL;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            double s = 0, v = 0;
            for (int i = 0; i < HW; i++) s += AT(inp, n, c, i);
            double m = s / HW;
            for (int i = 0; i < HW; i++) v += (AT(inp, n, c, i) - m) * (AT(inp, n, c, i) - m);
            double r = 1.0 / sqrt(v / HW + eps);
            mean[(size_t)n * C + c] = (float)m;
            rstd[(size_t)n * C + c] = (float)r;
            for (int i = 0; i < HW; i++)
                AT(out, n, c, i) = (float)((AT(inp, n, c, i) - m) * r * (w ? w[c] : 1.0) + (b ? b[c] : 0.0));
        }
    return NN_OK;
}

int instancenorm2d_backward_ref(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                                const float *inp, const float *mean, const float *rstd, const float *w, int N,
                                int C, int HW) {
    if (stats_bwd_bad(N, C, HW, dout, inp, mean, rstd)) return NN_EINVAL;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            double m = mean[(size_t)n * C + c], r = rstd[(size_t)n * C + c], wc = w ? w[c] : 1.0;
            double mdx = 0, mdxx = 0, sdy = 0, sdyx = 0;
            for (int i = 0; i < HW; i++) {
                double xh = (AT(inp, n, c, i) - m) * r, dy = AT(dout, n, c, i);
                sdy += dy;
                sdyx += dy * xh;
                mdx += dy * wc / HW;
                mdxx += dy * wc * xh / HW;
            }
            if (db) db[c] += (float)sdy;
            if (dw) dw[c] += (float)sdyx;
            if (dinp)
                for (int i = 0; i < HW; i++) {
                    double xh = (AT(inp, n, c, i) - m) * r;
                    AT(dinp, n, c, i) += (float)(r * (AT(dout, n, c, i) * wc - mdx - xh * mdxx));
                }
        }
    return NN_OK;
}
