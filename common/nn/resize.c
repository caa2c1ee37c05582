/* nn/resize.c - see resize.h. */
#include "resize.h"
#include <math.h>
#include <string.h>

int resize_plan(resize_axis_t *ax, int n_in, int n_out) {
    if (n_in < 1 || n_out < 1) return NN_EINVAL;
    ax->n_in = n_in;
    ax->n_out = n_out;
    ax->ntaps = RESIZE_TAPS(n_in, n_out);
    double scale = (double)n_in / n_out, s = scale > 1 ? scale : 1;
    for (int i = 0; i < n_out; i++) {
        float *w = ax->w + (size_t)i * ax->ntaps;
        if (n_in == n_out) {
            ax->first[i] = i, ax->count[i] = 1, w[0] = 1;
            continue;
        }
        double c = (i + 0.5) * scale;
        int lo = (int)floor(c - s - 0.5), hi = (int)ceil(c + s - 0.5);
        if (lo < 0) lo = 0;
        if (hi > n_in - 1) hi = n_in - 1;
        double sum = 0;
        int k = 0, first = -1;
        float *tw = w;
        for (int j = lo; j <= hi && k < ax->ntaps; j++) {
            double t = fabs(j + 0.5 - c) / s, v = t < 1 ? 1 - t : 0;
            if (v <= 0 && first < 0) continue; /* leading zeros */
            if (first < 0) first = j;
            tw[k++] = (float)v;
            sum += v;
        }
        while (k > 1 && tw[k - 1] <= 0) k--; /* trailing zeros */
        if (first < 0 || sum <= 0) {
            /* an output centre outside every input sample's reach: nearest edge */
            first = c < 0.5 ? 0 : n_in - 1, k = 1, tw[0] = sum = 1;
        }
        ax->first[i] = first;
        ax->count[i] = k;
        for (int q = 0; q < k; q++) w[q] = (float)(tw[q] / sum);
    }
    return NN_OK;
}

void resize_forward(float *out, float *tmp, const float *in, const resize_axis_t *ay, const resize_axis_t *ax,
                    int C) {
    int H = ay->n_in, W = ax->n_in, h = ay->n_out, w = ax->n_out;
    for (int c = 0; c < C; c++) {
        const float *src = in + (size_t)c * H * W;
        float *t = tmp + (size_t)c * H * w;
        for (int r = 0; r < H; r++)
            for (int j = 0; j < w; j++) {
                const float *wt = ax->w + (size_t)j * ax->ntaps, *row = src + (size_t)r * W + ax->first[j];
                float acc = 0;
                for (int q = 0; q < ax->count[j]; q++) acc += wt[q] * row[q];
                t[(size_t)r * w + j] = acc;
            }
        float *dst = out + (size_t)c * h * w;
        for (int i = 0; i < h; i++) {
            const float *wt = ay->w + (size_t)i * ay->ntaps;
            float *o = dst + (size_t)i * w;
            memset(o, 0, sizeof(float) * (size_t)w);
            for (int q = 0; q < ay->count[i]; q++) {
                const float *row = t + (size_t)(ay->first[i] + q) * w;
                for (int j = 0; j < w; j++) o[j] += wt[q] * row[j];
            }
        }
    }
}

void resize_backward(float *din, float *tmp, const float *dout, const resize_axis_t *ay, const resize_axis_t *ax,
                     int C) {
    int H = ay->n_in, W = ax->n_in, h = ay->n_out, w = ax->n_out;
    for (int c = 0; c < C; c++) {
        float *t = tmp + (size_t)c * H * w;
        memset(t, 0, sizeof(float) * (size_t)H * w);
        const float *g = dout + (size_t)c * h * w;
        for (int i = 0; i < h; i++) {
            const float *wt = ay->w + (size_t)i * ay->ntaps, *gi = g + (size_t)i * w;
            for (int q = 0; q < ay->count[i]; q++) {
                float *row = t + (size_t)(ay->first[i] + q) * w;
                for (int j = 0; j < w; j++) row[j] += wt[q] * gi[j];
            }
        }
        float *dst = din + (size_t)c * H * W;
        for (int r = 0; r < H; r++)
            for (int j = 0; j < w; j++) {
                const float *wt = ax->w + (size_t)j * ax->ntaps;
                float gv = t[(size_t)r * w + j], *row = dst + (size_t)r * W + ax->first[j];
                for (int q = 0; q < ax->count[j]; q++) row[q] += wt[q] * gv;
            }
    }
}
