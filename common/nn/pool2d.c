/* pool2d.c - see pool2d.h.  One plane (n,c) at a time: the window bounds
 * are clipped to the image once per output row and column, so the inner
 * loops carry no padding tests. */
#include "pool2d.h"
#include <limits.h>
#include <math.h>
#include <stddef.h>

typedef struct {
    int H, W, OH, OW, KH, KW, sh, sw, ph, pw;
} geo_t;

static int geo(const pool2d_dims_t *d, geo_t *g) {
    if (!d || d->N < 1 || d->C < 1 || d->H < 1 || d->W < 1 || d->KH < 1 || d->KW < 1 || d->stride_h < 0 ||
        d->stride_w < 0 || d->pad_h < 0 || d->pad_w < 0 || 2 * d->pad_h > d->KH || 2 * d->pad_w > d->KW)
        return NN_EINVAL;
    g->H = d->H, g->W = d->W, g->KH = d->KH, g->KW = d->KW, g->ph = d->pad_h, g->pw = d->pad_w;
    g->sh = d->stride_h ? d->stride_h : d->KH;
    g->sw = d->stride_w ? d->stride_w : d->KW;
    long long ih = (long long)d->H + 2LL * d->pad_h, iw = (long long)d->W + 2LL * d->pad_w;
    if (ih < d->KH || iw < d->KW) return NN_EINVAL;
    g->OH = (int)((ih - d->KH) / g->sh + 1);
    g->OW = (int)((iw - d->KW) / g->sw + 1);
    if ((long long)d->N * d->C > INT_MAX || (long long)d->H * d->W > INT_MAX) return NN_EINVAL;
    return NN_OK;
}

int pool2d_out_size(const pool2d_dims_t *d, int *OH, int *OW) {
    geo_t g;
    if (geo(d, &g)) return NN_EINVAL;
    if (OH) *OH = g.OH;
    if (OW) *OW = g.OW;
    return NN_OK;
}

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }

/* one plane; mode 0 max fwd, 1 max bwd, 2 avg fwd, 3 avg bwd */
static void plane(const geo_t *g, int mode, float *restrict out, int *restrict idx, const float *restrict inp,
                  float *restrict dinp, const float *restrict dout, const int *restrict cidx) {
    const float inv = 1.0f / (float)(g->KH * g->KW);
    for (int oh = 0; oh < g->OH; oh++) {
        int h0 = oh * g->sh - g->ph, h1 = imin(h0 + g->KH, g->H);
        h0 = imax(h0, 0);
        for (int ow = 0; ow < g->OW; ow++) {
            int w0 = ow * g->sw - g->pw, w1 = imin(w0 + g->KW, g->W), o = oh * g->OW + ow;
            w0 = imax(w0, 0);
            if (mode == 0) {
                int best = h0 * g->W + w0;
                float m = inp[best];
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) {
                        float v = inp[h * g->W + w]; /* the first NaN wins and stays, as in PyTorch */
                        if (v > m || (isnan(v) && !isnan(m))) m = v, best = h * g->W + w;
                    }
                out[o] = m;
                idx[o] = best;
            } else if (mode == 1) {
                dinp[cidx[o]] += dout[o];
            } else if (mode == 2) {
                float s = 0.0f;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) s += inp[h * g->W + w];
                out[o] = s * inv;
            } else {
                float v = dout[o] * inv;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) dinp[h * g->W + w] += v;
            }
        }
    }
}

typedef struct {
    const geo_t *g;
    int mode, planes, T;
    float *out, *dinp;
    int *idx;
    const float *inp, *dout;
    const int *cidx;
} job_t;

static void task(void *vj, int begin, int end, int tid) {
    const job_t *j = vj;
    (void)tid;
    size_t ip = (size_t)j->g->H * j->g->W, op = (size_t)j->g->OH * j->g->OW;
    for (int part = begin; part < end; part++) {
        int p0 = (int)((long long)j->planes * part / j->T),
            p1 = (int)((long long)j->planes * (part + 1) / j->T);
        for (int p = p0; p < p1; p++)
            plane(j->g, j->mode, j->out ? j->out + p * op : NULL, j->idx ? j->idx + p * op : NULL,
                  j->inp ? j->inp + p * ip : NULL, j->dinp ? j->dinp + p * ip : NULL,
                  j->dout ? j->dout + p * op : NULL, j->cidx ? j->cidx + p * op : NULL);
    }
}

static int run(const nn_par_t *par, const pool2d_dims_t *d, int mode, float *out, int *idx, const float *inp,
               float *dinp, const float *dout, const int *cidx) {
    geo_t g;
    if (geo(d, &g)) return NN_EINVAL;
    int T = nn_nthreads(par);
    job_t j = {.g = &g,
               .mode = mode,
               .planes = d->N * d->C,
               .T = T,
               .out = out,
               .dinp = dinp,
               .idx = idx,
               .inp = inp,
               .dout = dout,
               .cidx = cidx};
    nn_parallel_for(par, T, task, &j);
    return NN_OK;
}

int maxpool2d_forward(const nn_par_t *par, float *out, int *idx, const float *inp, const pool2d_dims_t *d) {
    if (!out || !idx || !inp) return NN_EINVAL;
    return run(par, d, 0, out, idx, inp, NULL, NULL, NULL);
}
int maxpool2d_backward(const nn_par_t *par, float *dinp, const float *dout, const int *idx,
                       const pool2d_dims_t *d) {
    if (!dinp || !dout || !idx) return NN_EINVAL;
    return run(par, d, 1, NULL, NULL, NULL, dinp, dout, idx);
}
int avgpool2d_forward(const nn_par_t *par, float *out, const float *inp, const pool2d_dims_t *d) {
    if (!out || !inp) return NN_EINVAL;
    return run(par, d, 2, out, NULL, inp, NULL, NULL, NULL);
}
int avgpool2d_backward(const nn_par_t *par, float *dinp, const float *dout, const pool2d_dims_t *d) {
    if (!dinp || !dout) return NN_EINVAL;
    return run(par, d, 3, NULL, NULL, NULL, dinp, dout, NULL);
}

/* ---------------------------------------------------------- references */

int maxpool2d_forward_ref(const nn_par_t *par, float *out, int *idx, const float *inp,
                          const pool2d_dims_t *d) {
    geo_t g;
    if (geo(d, &g) || !out || !idx || !inp) return NN_EINVAL;
    for (int p = 0; p < d->N * d->C; p++)
        for (int oh = 0; oh < g.OH; oh++)
            for (int ow = 0; ow < g.OW; ow++) {
                float m = NAN;
                int best = -1;
                for (int kh = 0; kh < g.KH; kh++)
                    for (int kw = 0; kw < g.KW; kw++) {
                        int h = oh * g.sh - g.ph + kh, w = ow * g.sw - g.pw + kw;
                        if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
                        float v = inp[(size_t)p * g.H * g.W + (size_t)h * g.W + w];
                        if (best < 0 || v > m || (isnan(v) && !isnan(m))) m = v, best = h * g.W + w;
                    }
                out[((size_t)p * g.OH + oh) * g.OW + ow] = m;
                idx[((size_t)p * g.OH + oh) * g.OW + ow] = best;
            }
    return NN_OK;
}

int maxpool2d_backward_ref(const nn_par_t *par, float *dinp, const float *dout, const int *idx,
                           const pool2d_dims_t *d) {
    geo_t g;
    if (geo(d, &g) || !dinp || !dout || !idx) return NN_EINVAL;
    for (int p = 0; p < d->N * d->C; p++)
        for (int o = 0; o < g.OH * g.OW; o++)
            dinp[(size_t)p * g.H * g.W + idx[(size_t)p * g.OH * g.OW + o]] +=
                dout[(size_t)p * g.OH * g.OW + o];
    return NN_OK;
}

int avgpool2d_forward_ref(const nn_par_t *par, float *out, const float *inp, const pool2d_dims_t *d) {
    geo_t g;
    if (geo(d, &g) || !out || !inp) return NN_EINVAL;
    for (int p = 0; p < d->N * d->C; p++)
        for (int oh = 0; oh < g.OH; oh++)
            for (int ow = 0; ow < g.OW; ow++) {
                double s = 0;
                for (int kh = 0; kh < g.KH; kh++)
                    for (int kw = 0; kw < g.KW; kw++) {
                        int h = oh * g.sh - g.ph + kh, w = ow * g.sw - g.pw + kw;
                        if (h >= 0 && h < g.H && w >= 0 && w < g.W)
                            s += inp[(size_t)p * g.H * g.W + (size_t)h * g.W + w];
                    }
                out[((size_t)p * g.OH + oh) * g.OW + ow] = (float)(s / (g.KH * g.KW));
            }
    return NN_OK;
}

int avgpool2d_backward_ref(const nn_par_t *par, float *dinp, const float *dout, const pool2d_dims_t *d) {
    geo_t g;
    if (geo(d, &g) || !dinp || !dout) return NN_EINVAL;
    for (int p = 0; p < d->N * d->C; p++)
        for (int oh = 0; oh < g.OH; oh++)
            for (int ow = 0; ow < g.OW; ow++)
                for (int kh = 0; kh < g.KH; kh++)
                    for (int kw = 0; kw < g.KW; kw++) {
                        int h = oh * g.sh - g.ph + kh, w = ow * g.sw - g.pw + kw;
                        if (h >= 0 && h < g.H && w >= 0 && w < g.W)
                            dinp[(size_t)p * g.H * g.W + (size_t)h * g.W + w] +=
                                dout[((size_t)p * g.OH + oh) * g.OW + ow] / (float)(g.KH * g.KW);
                    }
    return NN_OK;
}
