/* simplify.h - stroke geometry for normalising sketches: bounding-box fit,
 * arc-length resampling, Ramer-Douglas-Peucker, and Google's QuickDraw
 * "simplified" recipe built from them.
 *
 * simplify_fit() is the study's canvas normalisation (docs/study.md
 * 1.3): the drawing's bounding box is scaled uniformly into an S x S canvas
 * with `pad` pixels of margin and centred.  simplify_google() turns a raw
 * QuickDraw drawing into the simplified format: align to the top-left, scale
 * so the largest coordinate is 255, resample every stroke at 1-pixel spacing,
 * RDP with epsilon 2.0, round to integers.  Google never published the code;
 * the exact arithmetic below (the order of the scale, linear interpolation in
 * the form a*(1-u) + b*u, line distance as |cross|/|chord|, first maximum wins,
 * round half to even) was chosen by measuring it against Google's own output
 * (docs/benchmarks.md, "qd-extract --simplify"): most remaining mismatches are
 * ties between points exactly the same distance from a chord, which only the
 * original's floating-point noise decides.
 *
 * Works on drawing_t (sketch.h).  Time arrays are dropped by the resampling
 * functions and kept (unchanged) by the fit.  Nothing here allocates per call
 * once a simplify_ws_t has grown to the largest stroke; nothing prints or exits.
 */
#ifndef SIMPLIFY_H
#define SIMPLIFY_H
#include "sketch.h"

/* The affine map X = (x - minx)*scale + ox, Y = (y - miny)*scale + oy. */
typedef struct {
    double minx, miny, scale, ox, oy;
} fit_t;

/* The bounding-box fit into a size x size canvas with `pad` margin:
 * w = maxx - minx + 1e-6 (h likewise), scale = (size - 2 pad) / max(w, h),
 * ox = (size - scale w)/2, oy = (size - scale h)/2.  Returns 0 when the
 * drawing has no points (f is then the identity). */
int fit_compute(const drawing_t *d, double size, double pad, fit_t *f);
/* Apply f to every point of d in place (times untouched). */
void fit_apply(drawing_t *d, const fit_t *f);
/* fit_compute + fit_apply. */
void simplify_fit(drawing_t *d, double size, double pad);

/* Scratch space reused across strokes and records; zero-initialise, then
 * simplify_ws_free() at the end. */
typedef struct {
    double *buf;          /* (cap) scaled stroke, then resampled x and y */
    unsigned char *keep;  /* (cap) RDP marks */
    int *stack;           /* (2*cap) RDP work list */
    size_t cap;
} simplify_ws_t;
void simplify_ws_free(simplify_ws_t *ws);

/* Number of points resample_polyline() writes for this polyline. */
int resample_count(const double *x, const double *y, int n, double step);
/* Resample a polyline (n >= 1 points) along its arc length: points at
 * distances 0, step, 2 step, ... strictly below the total length, then the
 * last input point.  Writes resample_count() points to ox, oy and returns
 * that count.  A polyline of zero length gives just its last point, and so
 * does one whose length is not finite or would need more than 1e8 samples
 * (resample_count agrees). */
int resample_polyline(const double *x, const double *y, int n, double step, double *ox, double *oy);

/* Ramer-Douglas-Peucker: set keep[i] = 1 for the points of the simplified
 * polyline (always the first and last), 0 for the rest; returns how many were
 * kept.  The distance of a point to a chord is the distance to the chord's
 * line (to its start point when the chord has zero length); a chord is split
 * at its farthest point (the first one, on ties) when that distance is
 * greater than eps.  stack must hold 2*n ints. */
int rdp_mark(const double *x, const double *y, int n, double eps, unsigned char *keep, int *stack);

/* Google's QuickDraw simplification of src into dst (cleared first; integer
 * coordinates in 0..255, no times).  A stroke that reduces to a single point
 * comes out as that point twice, as in Google's files. */
void simplify_google(drawing_t *dst, const drawing_t *src, simplify_ws_t *ws);
#endif
