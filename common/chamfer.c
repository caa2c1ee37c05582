/* chamfer.c - mean symmetric chamfer distance between two drawings (chamfer.h). */
#include "chamfer.h"
#include <math.h>
#include <stdlib.h>
#include "util.h"

typedef struct {
    double *x, *y;
    long n, cap;
} pts_t;

static void pts_push(pts_t *p, double x, double y) {
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 1024;
        p->x = xrealloc(p->x, (size_t)p->cap * sizeof *p->x);
        p->y = xrealloc(p->y, (size_t)p->cap * sizeof *p->y);
    }
    p->x[p->n] = x, p->y[p->n++] = y;
}

/* samples along the polylines of d (through xf) at most 1 px apart */
static void sample(const drawing_t *d, const xform_t *xf, pts_t *p) {
    for (int k = 0; k < d->nstrokes; k++) {
        const stroke_t *s = &d->s[k];
        for (int i = 0; i < s->n; i++) {
            double x = s->x[i] * xf->sx + xf->ox, y = s->y[i] * xf->sy + xf->oy;
            if (!isfinite(x) || !isfinite(y)) continue;
            double px = i ? s->x[i - 1] * xf->sx + xf->ox : NAN, py = i ? s->y[i - 1] * xf->sy + xf->oy : NAN;
            if (!isfinite(px) || !isfinite(py)) {
                pts_push(p, x, y);
                continue;
            }
            double len = hypot(x - px, y - py);
            int m = len > 1 ? (int)ceil(len) : 1;
            if (m > 100000) m = 100000;
            for (int j = 1; j <= m; j++) pts_push(p, px + (x - px) * j / m, py + (y - py) * j / m);
        }
    }
}

/* mean over the samples of a of the distance to the nearest segment (or lone point) of d */
static double directed(const pts_t *a, const drawing_t *d, const xform_t *xf) {
    double sum = 0;
    for (long i = 0; i < a->n; i++) {
        double best = INFINITY;
        for (int k = 0; k < d->nstrokes; k++) {
            const stroke_t *s = &d->s[k];
            double qx = s->x[0] * xf->sx + xf->ox, qy = s->y[0] * xf->sy + xf->oy;
            if (s->n == 1) best = fmin(best, hypot(a->x[i] - qx, a->y[i] - qy));
            for (int j = 1; j < s->n; j++) {
                double rx = s->x[j] * xf->sx + xf->ox, ry = s->y[j] * xf->sy + xf->oy;
                double dd = raster_seg_dist(a->x[i], a->y[i], qx, qy, rx, ry);
                if (dd < best) best = dd;
                qx = rx, qy = ry;
            }
        }
        if (isfinite(best)) sum += best;
    }
    return a->n ? sum / a->n : NAN;
}

double drawing_chamfer(const drawing_t *a, const drawing_t *b, const xform_t *xf) {
    if (drawing_npoints(a) < 1 || drawing_npoints(b) < 1) return NAN;
    pts_t pa = {0}, pb = {0};
    sample(a, xf, &pa);
    sample(b, xf, &pb);
    double r = (directed(&pa, b, xf) + directed(&pb, a, xf)) / 2;
    free(pa.x), free(pa.y), free(pb.x), free(pb.y);
    return r;
}
