/* raster.c - see raster.h. */
#include "raster.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int raster_init(raster_t *r, int w, int h, err_t *e) {
    memset(r, 0, sizeof *r);
    if (w < 1 || h < 1 || w > 16384 || h > 16384 || (long)w * h > (1L << 28))
        return err_set(e, EXIT_DATA, "bad raster size %d x %d", w, h);
    r->w = w;
    r->h = h;
    r->cov = xcalloc((size_t)w * (size_t)h, sizeof *r->cov);
    r->touched = xmalloc((size_t)w * (size_t)h * sizeof *r->touched);
    return 0;
}

void raster_free(raster_t *r) {
    free(r->cov);
    free(r->touched);
    free(r->px);
    free(r->py);
    memset(r, 0, sizeof *r);
}

double raster_seg_dist(double px, double py, double ax, double ay, double bx, double by) {
    double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
    double t = l2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / l2 : 0;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    double qx = ax + t * dx - px, qy = ay + t * dy - py;
    return sqrt(qx * qx + qy * qy);
}

/* Pixel index range [lo,hi] whose centres lie within [a - reach, b + reach],
 * clipped to [0, n-1]; empty when lo > hi.  Clamping in double first keeps
 * the int conversion defined for huge coordinates. */
static void span(double a, double b, double reach, int n, int *lo, int *hi) {
    double l = ceil(a - reach), h = floor(b + reach);
    if (l < 0) l = 0;
    if (h > n - 1) h = n - 1;
    if (l > h) {
        *lo = 1;
        *hi = 0;
        return;
    }
    *lo = (int)l;
    *hi = (int)h;
}

/* Max-accumulate one segment's coverage into r->cov. */
static void segment(raster_t *r, double ax, double ay, double bx, double by, double width) {
    double reach = width * 0.5 + 0.5; /* cov > 0 only for d < reach */
    int x0, x1, y0, y1;
    span(fmin(ax, bx), fmax(ax, bx), reach, r->w, &x0, &x1);
    span(fmin(ay, by), fmax(ay, by), reach, r->h, &y0, &y1);
    for (int i = y0; i <= y1; i++) {
        float *row = r->cov + (size_t)i * (size_t)r->w;
        for (int j = x0; j <= x1; j++) {
            float c = (float)raster_coverage(raster_seg_dist(j, i, ax, ay, bx, by), width);
            if (c > row[j]) {
                if (row[j] == 0) r->touched[r->ntouched++] = i * r->w + j;
                row[j] = c;
            }
        }
    }
}

void raster_stroke(raster_t *r, float *paper, const double *x, const double *y, int n, double width) {
    r->ntouched = 0;
    int prev = -1; /* last finite point */
    for (int k = 0; k < n; k++) {
        if (!isfinite(x[k]) || !isfinite(y[k])) continue;
        if (prev < 0) {
            /* the first point: a dot, so one-point strokes show up; later
             * segments cover it anyway */
            segment(r, x[k], y[k], x[k], y[k], width);
        } else {
            segment(r, x[prev], y[prev], x[k], y[k], width);
        }
        prev = k;
    }
    for (int t = 0; t < r->ntouched; t++) {
        int idx = r->touched[t];
        paper[idx] *= 1.0f - r->cov[idx];
        r->cov[idx] = 0;
    }
    r->ntouched = 0;
}

void raster_drawing(raster_t *r, float *paper, const drawing_t *d, const xform_t *xf, double width) {
    size_t np = (size_t)r->w * (size_t)r->h;
    for (size_t i = 0; i < np; i++) paper[i] = 1.0f;
    for (int s = 0; s < d->nstrokes; s++) {
        const stroke_t *st = &d->s[s];
        if (st->n > r->pcap) {
            r->pcap = st->n;
            r->px = xrealloc(r->px, (size_t)r->pcap * sizeof *r->px);
            r->py = xrealloc(r->py, (size_t)r->pcap * sizeof *r->py);
        }
        for (int k = 0; k < st->n; k++) {
            r->px[k] = st->x[k] * xf->sx + xf->ox;
            r->py[k] = st->y[k] * xf->sy + xf->oy;
        }
        raster_stroke(r, paper, r->px, r->py, st->n, width);
    }
}

void xform_fit(const drawing_t *d, int size, double pad, xform_t *xf) {
    double minx = 0, miny = 0, maxx = 0, maxy = 0;
    drawing_bbox(d, &minx, &miny, &maxx, &maxy);
    double w = maxx - minx + 1e-6, h = maxy - miny + 1e-6;
    double scale = (size - 2 * pad) / (w > h ? w : h);
    double ox = (size - scale * w) / 2, oy = (size - scale * h) / 2;
    xf->sx = xf->sy = scale;
    xf->ox = ox - minx * scale;
    xf->oy = oy - miny * scale;
}

void xform_canvas(double cw, double ch, int size, xform_t *xf) {
    xf->sx = size / cw;
    xf->sy = size / ch;
    xf->ox = 0.5 * xf->sx - 0.5;
    xf->oy = 0.5 * xf->sy - 0.5;
}
