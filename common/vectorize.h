/* vectorize.h - raster to vector: a grey image of ink on white -> strokes.
 *
 * The inverse of rasterize, so that an image (an enhancer's output, a scan)
 * becomes a sketch record again.  Four steps, each linear in the pixels:
 *
 *  1. Binarise: a pixel is ink when its grey value (Rec. 601 luma for RGB)
 *     is below threshold * 255.  Optional despeckle: ink components
 *     (8-connected) of fewer than `despeckle` pixels are removed.
 *  2. Thin to a one-pixel 8-connected skeleton with Guo and Hall's
 *     two-subiteration parallel algorithm A1 (Z. Guo, R. W. Hall, "Parallel
 *     thinning with two-subiteration algorithms", Communications of the ACM
 *     32(3):359-373, 1989), run over a work list of border pixels rather than
 *     whole-image sweeps; then redundant staircase pixels (a pixel with two
 *     perpendicular 4-neighbours whose removal keeps the neighbourhood one
 *     8-component: Yokoi's connectivity number 1) are removed, so that every
 *     pixel inside a curve has exactly two neighbours.
 *  3. Trace: skeleton pixels with one neighbour are ends, with three or more
 *     junction pixels; 8-connected clusters of junction pixels are junction
 *     nodes placed at the cluster's centroid.  Paths are traced between nodes
 *     and ends, and cycles without either as closed loops.  Every path that
 *     meets a junction starts (or ends) at the node's point, so strokes that
 *     meet share it.  Then: junctions joined by a path shorter than
 *     `merge_dist` are one junction (a crossing thins to two close
 *     junctions); spurs (paths from a junction to a free end shorter than
 *     `min_length`) are dropped, shortest first, while the junction keeps two
 *     other branches; at every junction the two most nearly opposite
 *     branches are joined into one stroke (always when only two are left, a
 *     degree-2 artefact; otherwise when they deviate from a straight line by
 *     less than `join_angle` degrees), repeatedly; joined paths are chained
 *     into polylines, open or closed (first point repeated at the end).
 *  4. Simplify each polyline with Ramer-Douglas-Peucker (simplify.h),
 *     tolerance `epsilon` pixels.
 *
 * Output coordinates are in the image's pixel frame: x = column, y = row,
 * pixel centres at integers (sketch.h's "canvas" frame, {"width":W,
 * "height":H}).  An isolated skeleton pixel is a one-point stroke (a dot).
 *
 * Everything is iterative (work lists, no recursion) and the workspace is
 * reused across images: nothing is allocated per image once it has grown to
 * the largest one.  14 bytes per pixel of (w+2) x (h+2).  Nothing here
 * prints or exits.
 */
#ifndef VECTORIZE_H
#define VECTORIZE_H
#include "png_io.h"
#include "simplify.h"
#include "sketch.h"
#include "util.h"
#include <stdint.h>

typedef struct {
    double threshold;  /* ink: grey < threshold * 255, in (0, 1]; default 0.5 */
    int despeckle;     /* remove ink components of fewer pixels (0: off) */
    double min_length; /* drop spurs shorter than this many pixels (0: keep all) */
    double merge_dist; /* merge junctions joined by a path shorter than this (0: off) */
    double join_angle; /* join branches at a junction that deviate less (degrees) */
    double epsilon;    /* RDP tolerance in pixels (0: every skeleton pixel kept) */
} vec_opts_t;

/* The defaults above: threshold 0.5, despeckle 4, min_length 6,
 * merge_dist 3, join_angle 60, epsilon 1. */
void vec_opts_default(vec_opts_t *o);

typedef struct {
    long ink;          /* ink pixels after despeckle */
    long speckles;     /* components removed by despeckle */
    long skeleton;     /* skeleton pixels */
    long ends, junctions; /* free ends, junction nodes (after merging) */
    long paths, spurs, merged; /* traced paths, spurs dropped, junction pairs merged */
    long strokes, points; /* output */
} vec_stats_t;

/* Scratch reused across images; zero-initialise, vec_ws_free() at the end. */
typedef struct {
    size_t cap;          /* padded pixels the per-pixel arrays hold */
    uint8_t *img;        /* (h+2)(w+2) ink / skeleton, border 0 */
    uint8_t *age;        /* thinning: evaluations since the neighbourhood changed */
    int32_t *lab;        /* component / node labels, list stamps */
    int32_t *qa, *qb;    /* work lists of pixel indices */
    /* tracing */
    int32_t *pix; size_t npix, pixcap;   /* path pixels, path after path */
    void *paths; size_t npaths, pathcap; /* path records (vectorize.c) */
    void *nodes; size_t nnodes, nodecap; /* junction nodes */
    int32_t *ends; size_t endcap;        /* path ends grouped by node */
    int32_t *link; size_t linkcap;       /* 2 per path: the joined path end, or -1 */
    double *x, *y; size_t xycap;         /* one polyline */
    unsigned char *keep; int *stack;      /* RDP marks and work list (xycap, 2 xycap) */
    uint8_t lut[2][256]; int lut_ok;     /* Guo-Hall deletion tables */
} vec_ws_t;
void vec_ws_free(vec_ws_t *ws);

/* Image (1 or 3 channels; 4 is read as RGB, alpha ignored) -> strokes in out
 * (cleared first).  st may be NULL.  Errors: EXIT_USAGE for bad options,
 * EXIT_DATA for an empty or oversized image (more than PNGIO_MAX_PIXELS). */
int vectorize_image(vec_ws_t *ws, const image_t *im, const vec_opts_t *o, drawing_t *out, vec_stats_t *st,
                    err_t *e);

/* The steps alone, for tests, on a binary image bin (h, w) of 0/1 bytes:
 * thin it in place to the skeleton (returns its pixel count). */
long vec_thin(vec_ws_t *ws, uint8_t *bin, int w, int h);
/* Binary image -> strokes (despeckle, thin, trace, simplify as in o;
 * threshold unused). */
int vectorize_binary(vec_ws_t *ws, const uint8_t *bin, int w, int h, const vec_opts_t *o, drawing_t *out,
                     vec_stats_t *st, err_t *e);
#endif
