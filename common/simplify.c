/* simplify.c - see simplify.h. */
#include "simplify.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The Google recipe is matched to the last bit, so a fused multiply-add must
 * not change the rounding of a*(1-u) + b*u or of the cross product. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

int fit_compute(const drawing_t *d, double size, double pad, fit_t *f) {
    double x0, y0, x1, y1;
    if (!drawing_bbox(d, &x0, &y0, &x1, &y1)) {
        *f = (fit_t){0, 0, 1, 0, 0};
        return 0;
    }
    double w = x1 - x0 + 1e-6, h = y1 - y0 + 1e-6;
    double scale = (size - 2 * pad) / (w > h ? w : h);
    f->minx = x0;
    f->miny = y0;
    f->scale = scale;
    f->ox = (size - scale * w) / 2;
    f->oy = (size - scale * h) / 2;
    return 1;
}

void fit_apply(drawing_t *d, const fit_t *f) {
    for (int i = 0; i < d->nstrokes; i++) {
        stroke_t *s = &d->s[i];
        for (int j = 0; j < s->n; j++) {
            s->x[j] = (s->x[j] - f->minx) * f->scale + f->ox;
            s->y[j] = (s->y[j] - f->miny) * f->scale + f->oy;
        }
    }
}

void simplify_fit(drawing_t *d, double size, double pad) {
    fit_t f;
    fit_compute(d, size, pad, &f);
    fit_apply(d, &f);
}

void simplify_ws_free(simplify_ws_t *ws) {
    free(ws->buf);
    free(ws->keep);
    free(ws->stack);
    memset(ws, 0, sizeof *ws);
}

/* Room for n doubles in buf (contents kept), n RDP marks and 2n stack slots. */
static void ws_reserve(simplify_ws_t *ws, size_t n) {
    if (n <= ws->cap) return;
    size_t cap = ws->cap ? ws->cap : 1024;
    while (cap < n) cap *= 2;
    ws->buf = xrealloc(ws->buf, cap * sizeof(double));
    free(ws->keep);
    free(ws->stack);
    ws->keep = xmalloc(cap);
    ws->stack = xmalloc(2 * cap * sizeof(int));
    ws->cap = cap;
}

static double seg_len(const double *x, const double *y, int i) {
    double dx = x[i + 1] - x[i], dy = y[i + 1] - y[i];
    return sqrt(dx * dx + dy * dy);
}

/* Arc length of the polyline; 0 when it is not finite or would need more
 * than RESAMPLE_MAX samples (the caller then gets just the last point). */
#define RESAMPLE_MAX 1e8
static double arc_total(const double *x, const double *y, int n, double step) {
    double total = 0;
    for (int i = 0; i + 1 < n; i++) total += seg_len(x, y, i);
    return total / step < RESAMPLE_MAX ? total : 0;
}

int resample_count(const double *x, const double *y, int n, double step) {
    double total = arc_total(x, y, n, step);
    int k = 0;
    while (k * step < total) k++; /* distances 0, step, ... < total */
    return k + 1;
}

int resample_polyline(const double *x, const double *y, int n, double step, double *ox, double *oy) {
    /* Walk the segments once; d0..d1 is the arc-length span of segment j.
     * Cumulative distances are summed left to right so that a sample lands on
     * the same segment (and gets the same u) as in a cumsum-based resampler. */
    int m = 0, j = 0;
    double total = arc_total(x, y, n, step);
    double d0 = 0, d1 = n > 1 ? seg_len(x, y, 0) : 0;
    for (int k = 0; k * step < total; k++) {
        double t = k * step;
        while (j + 2 < n && d1 <= t) { /* rightmost segment starting at or before t */
            j++;
            d0 = d1;
            d1 = d0 + seg_len(x, y, j);
        }
        double u = (t - d0) / (d1 - d0); /* d1 > t >= d0 here, so no 0/0 */
        ox[m] = x[j] * (1 - u) + x[j + 1] * u;
        oy[m] = y[j] * (1 - u) + y[j + 1] * u;
        m++;
    }
    ox[m] = x[n - 1];
    oy[m] = y[n - 1];
    return m + 1;
}

/* Distance of (px,py) from the line through a and b: |cross(b-a, a-p)|/|b-a|. */
static double line_dist(double px, double py, double ax, double ay, double bx, double by) {
    double ex = bx - ax, ey = by - ay;
    if (ex == 0 && ey == 0) {
        double dx = px - ax, dy = py - ay;
        return sqrt(dx * dx + dy * dy);
    }
    double sx = ax - px, sy = ay - py;
    return fabs(ex * sy - ey * sx) / sqrt(ex * ex + ey * ey);
}

int rdp_mark(const double *x, const double *y, int n, double eps, unsigned char *keep, int *stack) {
    if (n <= 0) return 0;
    memset(keep, 0, (size_t)n);
    keep[0] = keep[n - 1] = 1;
    if (n <= 2) return n == 1 ? 1 : 2;
    int kept = 2, top = 0;
    stack[top++] = 0;
    stack[top++] = n - 1;
    while (top) {
        int b = stack[--top], a = stack[--top];
        double dmax = 0;
        int imax = -1;
        for (int i = a + 1; i < b; i++) {
            double dd = line_dist(x[i], y[i], x[a], y[a], x[b], y[b]);
            if (dd > dmax) {
                dmax = dd;
                imax = i;
            }
        }
        if (imax >= 0 && dmax > eps) {
            keep[imax] = 1;
            kept++;
            /* each split leaves two shorter chords; at most n-1 are ever open */
            stack[top++] = a;
            stack[top++] = imax;
            stack[top++] = imax;
            stack[top++] = b;
        }
    }
    return kept;
}

void simplify_google(drawing_t *dst, const drawing_t *src, simplify_ws_t *ws) {
    drawing_clear(dst);
    double x0, y0, x1, y1;
    if (!drawing_bbox(src, &x0, &y0, &x1, &y1)) return;
    double m = x1 - x0 > y1 - y0 ? x1 - x0 : y1 - y0;
    /* Coordinates near the double range: (v - min) * 255 would overflow to
     * inf, so scale by halves instead (only such drawings take this path,
     * so ordinary ones still round as Google's do). */
    int halves = !isfinite(m * 255.0);
    if (halves) m = fmax(x1 / 2 - x0 / 2, y1 / 2 - y0 / 2);
    for (int i = 0; i < src->nstrokes; i++) {
        const stroke_t *s = &src->s[i];
        if (s->n <= 0) continue;
        /* aligned and scaled stroke, then the resampled one after it */
        size_t n = (size_t)s->n;
        ws_reserve(ws, 2 * n);
        for (size_t j = 0; j < n; j++) {
            /* (v - min) * 255 / max, in this order: it decides which
             * coordinates land exactly on .5 and so how they round */
            if (halves) {
                ws->buf[j] = (s->x[j] / 2 - x0 / 2) / m * 255.0;
                ws->buf[n + j] = (s->y[j] / 2 - y0 / 2) / m * 255.0;
            } else {
                ws->buf[j] = m > 0 ? (s->x[j] - x0) * 255.0 / m : 0;
                ws->buf[n + j] = m > 0 ? (s->y[j] - y0) * 255.0 / m : 0;
            }
        }
        int nr = resample_count(ws->buf, ws->buf + n, s->n, 1.0);
        ws_reserve(ws, 2 * n + 2 * (size_t)nr);
        double *rx = ws->buf + 2 * n, *ry = rx + nr;
        nr = resample_polyline(ws->buf, ws->buf + n, s->n, 1.0, rx, ry);
        int kept = rdp_mark(rx, ry, nr, 2.0, ws->keep, ws->stack);
        /* a one-point result is written as the point twice (Google's files do) */
        stroke_t *o = drawing_add_empty(dst, kept < 2 ? 2 : kept, 0);
        int k = 0;
        for (int j = 0; j < nr; j++)
            if (ws->keep[j]) {
                o->x[k] = nearbyint(rx[j]); /* round half to even */
                o->y[k] = nearbyint(ry[j]);
                k++;
            }
        if (k == 1) {
            o->x[1] = o->x[0];
            o->y[1] = o->y[0];
        }
    }
}
