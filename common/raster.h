/* raster.h - the built-in anti-aliased polyline rasteriser.
 *
 * Draws strokes (polylines of width w, round caps and joins) as black ink on a
 * "paper" plane of floats in [0,1] (1 = white), shape (h,w), pixel (i,j)
 * centred at x = j, y = i (the study's convention, docs/study.md ).
 * A pixel's coverage by one segment is a 1-px box-filter approximation from
 * the true distance d between its centre and the segment:
 *     cov = clamp(w/2 + 0.5 - d, 0, 1)
 * Within a stroke the coverage is the max over its segments (joints are not
 * darkened twice); strokes are composited as paper *= (1 - cov), i.e.
 * ink = 1 - prod(1 - cov_stroke).  A one-point stroke is a round dot.  Only
 * pixels inside each segment's capsule bounding box are touched.
 *
 * This renderer is not differentiable; renderer plugins replace it later.
 * Nothing here allocates per stroke: raster_t owns its scratch buffers.
 */
#ifndef RASTER_H
#define RASTER_H
#include "sketch.h"
#include "util.h"

typedef struct {
    int w, h;
    float *cov;   /* (h,w) per-stroke max coverage; all zero between strokes */
    int *touched; /* indices of pixels with cov > 0 in the current stroke */
    int ntouched;
    double *px, *py; /* transformed points of one stroke, grown as needed */
    int pcap;
} raster_t;

/* Maps drawing coordinates to pixels: X = x*sx + ox, Y = y*sy + oy. */
typedef struct {
    double sx, sy, ox, oy;
} xform_t;

int raster_init(raster_t *r, int w, int h, err_t *e);
void raster_free(raster_t *r);

/* Coverage of a pixel whose centre is at distance d from a line of width w. */
static inline double raster_coverage(double d, double width) {
    double c = width * 0.5 + 0.5 - d;
    return c < 0 ? 0 : c > 1 ? 1 : c;
}
/* Distance from (px,py) to the segment (ax,ay)-(bx,by) (a point if a == b). */
double raster_seg_dist(double px, double py, double ax, double ay, double bx, double by);

/* Composite one stroke of n points (already in pixel coordinates) into
 * paper (h,w).  Non-finite points are skipped. */
void raster_stroke(raster_t *r, float *paper, const double *x, const double *y, int n, double width);
/* paper = 1 (white), then every stroke of d through xf. */
void raster_drawing(raster_t *r, float *paper, const drawing_t *d, const xform_t *xf, double width);

/* The study's fit (docs/study.md 1.3): bounding box with 1e-6 added to
 * each extent, uniform scale (size - 2*pad) / max(w,h), centred in size x size. */
void xform_fit(const drawing_t *d, int size, double pad, xform_t *xf);
/* A drawing already in a cw x ch pixel frame (pixel centres at integers),
 * stretched to size x size: X = (x + 0.5) * size/cw - 0.5. */
void xform_canvas(double cw, double ch, int size, xform_t *xf);
#endif
