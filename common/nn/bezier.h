/* nn/bezier.h - cubic Bezier chains: fitting polylines, sampling, and the
 * adjoint (a renderer core of the pure-maths layer, nn/nn.h).
 *
 * A stroke is a list of cubic segments stored in one of two layouts:
 *
 *   BEZIER_CHAIN        3k+1 points; segment j is pts[3j .. 3j+3], so
 *                       neighbouring segments share their joint point (the
 *                       curve is C0 by construction).  A single point (k = 0)
 *                       is a dot.  This is what bezier_fit() writes.
 *   BEZIER_INDEPENDENT  4k points; segment j is pts[4j .. 4j+3], every
 *                       segment owns its endpoints.  This is the study's
 *                       multi-segment layout (docs/study.md 2.2): its
 *                       windows are separate 4x2 tensors, so the joint point
 *                       is duplicated and the copies may drift apart.
 *
 * Points are (x,y) float pairs in canvas pixels.  A segment is
 *   B(t) = (1-t)^3 P0 + 3(1-t)^2 t P1 + 3(1-t) t^2 P2 + t^3 P3,
 * sampled at m points t = linspace(0,1,m) (both ends included).  In a chain
 * the joint sample is emitted once: k(m-1)+1 samples; independent segments
 * give k*m samples (m per segment, each segment its own polyline).  The
 * samples are linear in the control points, so bezier_sample_backward() is
 * exactly the transpose of the Bernstein weight matrix.
 *
 * Polyline -> chain (bezier_fit) is Schneider's least-squares fit (Graphics
 * Gems, 1990): chord-length parameters, the two inner control points placed
 * by least squares along fixed end tangents, Newton-Raphson
 * reparameterisation, and a split at the worst point when the error is above
 * the bound, recursively.  The joint of a split gets one tangent shared by
 * both sides (G1: P[3j-1], P[3j], P[3j+1] collinear, P[3j] between them; the
 * two arms may differ in length, so it is C1 in the geometric sense).  A
 * vertex whose turning angle exceeds corner_angle is a corner: the polyline
 * is cut there first and the joint is only C0.  The error is the distance
 * from each polyline vertex to the curve point at its parameter (an upper
 * bound of its distance to the curve) and, so that sparse polylines are not
 * bridged by bulging arcs, the distance from curve points between two
 * vertices to the polyline; both end within max_error.
 *
 * The study's lossy conversions (bezier_study, bezier_study_multi) are kept
 * bit-for-bit as parity options, quirks included (see the functions).
 *
 * Nothing here prints, keeps state or allocates: the fit works in a scratch
 * buffer the caller passes (bezier_fit_ws_size bytes, 16-byte aligned, any
 * contents).
 */
#ifndef BEZIER_H
#define BEZIER_H
#include <stddef.h>

enum { BEZIER_CHAIN = 0, BEZIER_INDEPENDENT = 1 };

/* Number of cubic segments of a stroke of npts points in this layout, or -1
 * if npts is not a valid count (chain: 3k+1 with k >= 0; independent: 4k, k >= 1). */
int bezier_nseg(int layout, int npts);
/* Number of sample points bezier_sample writes (m >= 2 per segment); -1 if
 * npts is invalid.  A one-point chain gives 1 sample. */
int bezier_nsamples(int layout, int npts, int m);

/* out (nsamples,2) <- samples of the stroke ctrl (npts,2), m per segment. */
void bezier_sample(float *out, const float *ctrl, int npts, int m, int layout);
/* out (2) <- sample j of m (t = j/(m-1)) of the one segment P (4,2): the
 * very value bezier_sample writes for it. */
void bezier_point(const float *P, int j, int m, float out[2]);
/* dctrl (npts,2) += J^T dout, with dout (nsamples,2) the gradient w.r.t. the
 * samples of bezier_sample.  Adds; the caller zeroes. */
void bezier_sample_backward(float *dctrl, const float *dout, int npts, int m, int layout);
/* The Bernstein weights of one sample: w[0..3] at t. */
void bezier_weights(double t, double w[4]);

typedef struct {
    double max_error;    /* px: bound on vertex-to-curve distance (> 0) */
    double corner_angle; /* degrees: turning angle above which a vertex is a C0 corner; >= 180: none */
    int max_newton;      /* least-squares + Newton-Raphson rounds per piece before splitting (Schneider: 4) */
} bezier_fit_cfg_t;

#define BEZIER_FIT_DEFAULTS {.max_error = 1.0, .corner_angle = 75.0, .max_newton = 64}

typedef struct {
    int nseg;        /* cubic segments written */
    int ncorner;     /* C0 joints (corners, and the closing joint of a loop that turns sharply) */
    int closed;      /* the polyline was a closed loop (first point == last point within max_error/2) */
    double max_err;  /* worst vertex distance to B(u_i), px */
} bezier_fit_stats_t;

/* Scratch bytes bezier_fit needs for a polyline of n points. */
size_t bezier_fit_ws_size(int n);
/* Fit the polyline xy (n,2) with a chain, working in ws (bezier_fit_ws_size(n)
 * bytes).  Writes 3k+1 points to out when cap >= that; returns the number of
 * points (also when out is NULL or cap is too small, as plugin.h's encode
 * does), -1 when ws is NULL or misaligned and -2 on bad input (n < 1,
 * non-finite coordinates).  st may be NULL.
 * Bounds: every vertex is within max_error of the curve; every curve point
 * checked (7 per chord) is within max_error of the polyline.
 *   n = 1 (or all points equal): the degenerate cubic [p,p,p,p] (a dot that
 *   an optimiser can pull open); n = 2: the straight cubic with inner points
 *   at 1/3 and 2/3; consecutive duplicate points are dropped first.  A closed
 *   loop (|first - last| = gap <= max_error/2, n >= 4) ends exactly on its
 *   start, shares one tangent across the closing joint unless that joint is
 *   a corner, and is fitted within max_error - gap. */
int bezier_fit(const bezier_fit_cfg_t *cfg, const float *xy, int n, float *out, int cap, bezier_fit_stats_t *st,
               void *ws);

/* The study's polyline_to_bezier: always one cubic (4 points written to
 * out, which must hold 4).  n >= 4: the vertices at floor(linspace(0,n-1,4));
 * n = 3: [p0,p1,p1,p2]; n = 2: [p0, p0+0.33(p1-p0), p0+0.67(p1-p0), p1];
 * n = 1: [p-o, p-o/2, p+o/2, p+o], o = (10,10).  Returns 4, or -2 if n < 1. */
int bezier_study(const float *xy, int n, float *out);
/* The study's polyline_to_bezier_segments(max_points_per_segment = 6):
 * n <= 4: one cubic as above; else windows [start, min(start+6,n)) with
 * start advancing to end-1, stopping once start >= n-2 -- so when exactly one
 * chord remains it is dropped with the last point (n = 7: one window, point 6
 * lost).  Writes 4k points in the BEZIER_INDEPENDENT layout; returns 4k
 * (also when out is NULL or cap is too small), -2 if n < 1. */
int bezier_study_multi(const float *xy, int n, float *out, int cap);
#endif
