/* nn/bezier.c - cubic Bezier chains: Schneider fitting, the study's
 * conversions, sampling and its adjoint.  See bezier.h for the layouts and
 * conventions. */
#include "bezier.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---------------- layouts, sampling, adjoint ---------------- */

int bezier_nseg(int layout, int npts) {
    if (layout == BEZIER_INDEPENDENT) return npts >= 4 && npts % 4 == 0 ? npts / 4 : -1;
    return npts >= 1 && (npts - 1) % 3 == 0 ? (npts - 1) / 3 : -1;
}

int bezier_nsamples(int layout, int npts, int m) {
    int k = bezier_nseg(layout, npts);
    if (k < 0 || m < 2) return -1;
    return layout == BEZIER_INDEPENDENT ? k * m : k * (m - 1) + 1;
}

void bezier_weights(double t, double w[4]) {
    double s = 1.0 - t;
    w[0] = s * s * s;
    w[1] = 3.0 * s * s * t;
    w[2] = 3.0 * s * t * t;
    w[3] = t * t * t;
}

void bezier_point(const float *P, int j, int m, float out[2]) {
    double w[4];
    bezier_weights((double)j / (m - 1), w);
    for (int c = 0; c < 2; c++)
        out[c] = (float)(w[0] * P[c] + w[1] * P[2 + c] + w[2] * P[4 + c] + w[3] * P[6 + c]);
}

void bezier_sample(float *out, const float *ctrl, int npts, int m, int layout) {
    int k = bezier_nseg(layout, npts);
    if (k < 0 || m < 2) return;
    if (k == 0) { /* a one-point chain is a dot */
        out[0] = ctrl[0], out[1] = ctrl[1];
        return;
    }
    int stride = layout == BEZIER_INDEPENDENT ? 4 : 3, o = 0;
    for (int s = 0; s < k; s++) {
        const float *P = ctrl + 2 * stride * s; /* (4,2) */
        /* a chain emits each joint once: the t=0 sample of segment s>0 is P0 = previous P3 */
        for (int j = (layout == BEZIER_CHAIN && s > 0); j < m; j++, o++) bezier_point(P, j, m, out + 2 * o);
    }
}

void bezier_sample_backward(float *dctrl, const float *dout, int npts, int m, int layout) {
    int k = bezier_nseg(layout, npts);
    if (k < 0 || m < 2) return;
    if (k == 0) {
        dctrl[0] += dout[0], dctrl[1] += dout[1];
        return;
    }
    int stride = layout == BEZIER_INDEPENDENT ? 4 : 3, o = 0;
    for (int s = 0; s < k; s++) {
        float *dP = dctrl + 2 * stride * s; /* (4,2) */
        double acc[8] = {0};               /* accumulate the segment in double, add once */
        for (int j = (layout == BEZIER_CHAIN && s > 0); j < m; j++, o++) {
            double w[4];
            bezier_weights((double)j / (m - 1), w);
            for (int i = 0; i < 4; i++)
                for (int c = 0; c < 2; c++) acc[2 * i + c] += w[i] * dout[2 * o + c];
        }
        for (int i = 0; i < 8; i++) dP[i] += (float)acc[i];
    }
}

/* ---------------- Schneider's fit ---------------- */

typedef struct {
    double x, y;
} v2;

static inline v2 vadd(v2 a, v2 b) { return (v2){a.x + b.x, a.y + b.y}; }
static inline v2 vsub(v2 a, v2 b) { return (v2){a.x - b.x, a.y - b.y}; }
static inline v2 vmul(v2 a, double s) { return (v2){a.x * s, a.y * s}; }
static inline double vdot(v2 a, v2 b) { return a.x * b.x + a.y * b.y; }
static inline double vlen(v2 a) { return sqrt(a.x * a.x + a.y * a.y); }
static inline v2 vunit(v2 a) {
    double l = vlen(a);
    return l > 0 ? vmul(a, 1.0 / l) : (v2){0, 0};
}

static v2 bez_at(const v2 P[4], double t) {
    double w[4];
    bezier_weights(t, w);
    return (v2){w[0] * P[0].x + w[1] * P[1].x + w[2] * P[2].x + w[3] * P[3].x,
                w[0] * P[0].y + w[1] * P[1].y + w[2] * P[2].y + w[3] * P[3].y};
}

typedef struct {
    int first, last; /* vertex range, inclusive */
    v2 t1, t2;       /* unit tangents: t1 at first pointing along the curve, t2 at last pointing back */
} piece_t;

typedef struct {
    const bezier_fit_cfg_t *cfg;
    const v2 *d; /* (n) the polyline, consecutive duplicates removed */
    double *u;   /* (n) curve parameter of each vertex within its piece */
    v2 *out;     /* (3(n-1)+1) control points written so far */
    int n, nout;
    double max_err;
} fit_t;

static void chord_params(fit_t *F, int first, int last) {
    double *u = F->u;
    u[first] = 0;
    for (int i = first + 1; i <= last; i++) u[i] = u[i - 1] + vlen(vsub(F->d[i], F->d[i - 1]));
    double L = u[last];
    for (int i = first + 1; i <= last; i++) u[i] /= L; /* L > 0: consecutive points differ */
    u[last] = 1.0;
}

/* Inner control points by least squares along the fixed end tangents
 * (the 2x2 normal equations of Schneider's GenerateBezier).  When the
 * system is singular or the arms come out non-positive or absurdly long
 * (longer than the data's own arc length: a wild overshoot), fall back to
 * arms of a third of the chord, which the error test then judges. */
static void gen_bezier(const fit_t *F, const piece_t *pc, v2 P[4]) {
    const v2 *d = F->d;
    v2 p0 = d[pc->first], p3 = d[pc->last];
    double c00 = 0, c01 = 0, c11 = 0, x0 = 0, x1 = 0, arc = 0;
    for (int i = pc->first; i <= pc->last; i++) {
        double w[4];
        bezier_weights(F->u[i], w);
        v2 a1 = vmul(pc->t1, w[1]), a2 = vmul(pc->t2, w[2]);
        c00 += vdot(a1, a1), c01 += vdot(a1, a2), c11 += vdot(a2, a2);
        v2 r = vsub(d[i], vadd(vmul(p0, w[0] + w[1]), vmul(p3, w[2] + w[3])));
        x0 += vdot(a1, r), x1 += vdot(a2, r);
        if (i > pc->first) arc += vlen(vsub(d[i], d[i - 1]));
    }
    double det = c00 * c11 - c01 * c01, al = 0, ar = 0;
    if (fabs(det) > 1e-12 * c00 * c11) {
        al = (x0 * c11 - x1 * c01) / det;
        ar = (c00 * x1 - c01 * x0) / det;
    }
    double seg = vlen(vsub(p3, p0)), eps = 1e-6 * seg;
    if (!(al > eps && ar > eps && al <= arc && ar <= arc)) al = ar = seg / 3.0;
    P[0] = p0, P[3] = p3;
    P[1] = vadd(p0, vmul(pc->t1, al));
    P[2] = vadd(p3, vmul(pc->t2, ar));
}

/* Distance from p to the segment a-b. */
static double seg_dist(v2 p, v2 a, v2 b) {
    v2 ab = vsub(b, a), ap = vsub(p, a);
    double L = vdot(ab, ab), t = L > 0 ? vdot(ap, ab) / L : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return vlen(vsub(ap, vmul(ab, t)));
}

/* Distance from curve points between vertices i and i+1 (at 1/8, 2/8, ..
 * 7/8 of their parameter interval) to the polyline near that chord (chords
 * i-1..i+1). */
static double chord_dev(const fit_t *F, const v2 P[4], int i) {
    double worst = 0;
    int lo = i > 0 ? i - 1 : 0, hi = i + 1 < F->n - 1 ? i + 1 : F->n - 2;
    for (int q = 1; q <= 7; q++) {
        v2 b = bez_at(P, F->u[i] + (F->u[i + 1] - F->u[i]) * 0.125 * q);
        double best = INFINITY;
        for (int c = lo; c <= hi; c++) {
            double e = seg_dist(b, F->d[c], F->d[c + 1]);
            if (e < best) best = e;
        }
        if (best > worst) worst = best;
    }
    return worst;
}

/* The error of a piece: the worst |B(u_i) - d_i| over its inner vertices
 * and the worst chord_dev over its chords.  *split = an inner vertex at the
 * worst place (for a chord: its end, or its start when the end is the last). */
static double max_error(const fit_t *F, const piece_t *pc, const v2 P[4], int *split) {
    double worst = 0;
    *split = (pc->first + pc->last) / 2;
    for (int i = pc->first + 1; i < pc->last; i++) {
        double e = vlen(vsub(bez_at(P, F->u[i]), F->d[i]));
        if (e > worst) worst = e, *split = i;
    }
    if (pc->last - pc->first >= 2)
        for (int i = pc->first; i < pc->last; i++) {
            double e = chord_dev(F, P, i);
            if (e > worst) worst = e, *split = i + 1 < pc->last ? i + 1 : i;
        }
    return worst;
}

/* Move each inner vertex's parameter towards its closest curve point by
 * Newton-Raphson on f(u) = (B(u)-d).B'(u), f' = B'.B' + (B(u)-d).B''(u);
 * up to three steps, each kept only if it brings B(u) closer to d, so the
 * error measured afterwards never grows and stays a true upper bound on the
 * vertex-to-curve distance. */
static void reparam(fit_t *F, const piece_t *pc, const v2 P[4]) {
    v2 d1[3] = {vmul(vsub(P[1], P[0]), 3), vmul(vsub(P[2], P[1]), 3), vmul(vsub(P[3], P[2]), 3)};
    v2 d2[2] = {vmul(vsub(d1[1], d1[0]), 2), vmul(vsub(d1[2], d1[1]), 2)};
    for (int i = pc->first + 1; i < pc->last; i++) {
        double t = F->u[i];
        v2 q = vsub(bez_at(P, t), F->d[i]);
        double e = vdot(q, q);
        for (int k = 0; k < 3; k++) {
            double s = 1 - t;
            v2 q1 = vadd(vadd(vmul(d1[0], s * s), vmul(d1[1], 2 * s * t)), vmul(d1[2], t * t));
            v2 q2 = vadd(vmul(d2[0], s), vmul(d2[1], t));
            double num = vdot(q, q1), den = vdot(q1, q1) + vdot(q, q2);
            if (!(fabs(den) > 1e-12)) break;
            double tn = t - num / den;
            tn = tn < 0 ? 0 : tn > 1 ? 1 : tn;
            v2 qn = vsub(bez_at(P, tn), F->d[i]);
            double en = vdot(qn, qn);
            if (!(en < e)) break;
            t = tn, q = qn, e = en;
        }
        F->u[i] = t;
    }
}

static void emit(fit_t *F, const v2 P[4], double err) {
    F->out[F->nout++] = P[1];
    F->out[F->nout++] = P[2];
    F->out[F->nout++] = P[3];
    if (err > F->max_err) F->max_err = err;
}

/* Fit vertices [first,last] (a corner-free run) with an explicit stack:
 * the left half of a split is always finished before the right half, so
 * segments come out in order. */
static void fit_run(fit_t *F, piece_t *stack, piece_t whole) {
    double E = F->cfg->max_error;
    int sp = 0;
    stack[sp++] = whole;
    while (sp > 0) {
        piece_t pc = stack[--sp];
        v2 P[4];
        int split;
        if (pc.last - pc.first == 1) { /* no inner vertex: Schneider's heuristic arms, exact at the ends */
            /* arms of a third of the chord, halved while the curve bulges
             * further than the bound from the polyline */
            double a = vlen(vsub(F->d[pc.last], F->d[pc.first])) / 3.0, err;
            F->u[pc.first] = 0, F->u[pc.last] = 1;
            P[0] = F->d[pc.first], P[3] = F->d[pc.last];
            for (int it = 0;; it++, a *= 0.5) {
                P[1] = vadd(P[0], vmul(pc.t1, a));
                P[2] = vadd(P[3], vmul(pc.t2, a));
                err = chord_dev(F, P, pc.first);
                if (err <= E || it == 30) break;
            }
            emit(F, P, err);
            continue;
        }
        /* Least squares on chord-length parameters, then alternate
         * reparameterisation and least squares before giving up on one
         * segment.  The error is measured after projecting the vertices on
         * the new curve, so it is the distance to the curve, not to where
         * the stale parameters point.  (Schneider reparameterises only
         * within 2x the bound; chord-length parameters of dense, unevenly
         * fast data are often further off although one cubic fits.) */
        chord_params(F, pc.first, pc.last);
        gen_bezier(F, &pc, P);
        reparam(F, &pc, P);
        double err = max_error(F, &pc, P, &split);
        /* this alternation converges slowly but steadily when one cubic
         * fits; stop when it stalls (< 0.5% better over 4 rounds) */
        double hist[4] = {err, err, err, err};
        for (int it = 0; err > E && it < F->cfg->max_newton; it++) {
            v2 Q[4] = {P[0], P[1], P[2], P[3]};
            gen_bezier(F, &pc, P);
            reparam(F, &pc, P);
            double e2 = max_error(F, &pc, P, &split);
            if (!(e2 < err)) { /* worse: keep the previous curve (its parameters are close enough to split on) */
                memcpy(P, Q, sizeof Q);
                err = max_error(F, &pc, P, &split);
                break;
            }
            err = e2;
            if (err > 0.995 * hist[it & 3]) break;
            hist[it & 3] = err;
        }
        if (err <= E) {
            emit(F, P, err);
            continue;
        }
        /* split at the worst vertex; both sides share the chord tangent there (G1 joint) */
        v2 tc = vunit(vsub(F->d[split - 1], F->d[split + 1]));
        if (tc.x == 0 && tc.y == 0) tc = vunit(vsub(F->d[split - 1], F->d[split]));
        stack[sp++] = (piece_t){split, pc.last, vmul(tc, -1), pc.t2};
        stack[sp++] = (piece_t){pc.first, split, pc.t1, tc};
    }
}

/* Turning angle at vertex b on the path a -> b -> c, degrees in [0,180]. */
static double turn_deg(v2 a, v2 b, v2 c) {
    v2 p = vsub(b, a), q = vsub(c, b);
    return atan2(fabs(p.x * q.y - p.y * q.x), vdot(p, q)) * (180.0 / M_PI);
}

/* The fit's scratch, carved from the caller's workspace: d (n), u (n),
 * corner (n), stack (n+1), res (3n+4). */
#define FIT_AL(x) (((x) + 15) & ~(size_t)15)
static size_t fit_layout(size_t nn, char *b, v2 **d, double **u, int **corner, piece_t **stack, v2 **res) {
    size_t o = 0, o_d, o_u, o_c, o_s, o_r;
    o_d = o, o += FIT_AL(nn * sizeof(v2));
    o_u = o, o += FIT_AL(nn * sizeof(double));
    o_c = o, o += FIT_AL(nn * sizeof(int));
    o_s = o, o += FIT_AL((nn + 1) * sizeof(piece_t));
    o_r = o, o += FIT_AL((3 * nn + 4) * sizeof(v2));
    if (b) {
        *d = (v2 *)(b + o_d), *u = (double *)(b + o_u), *corner = (int *)(b + o_c);
        *stack = (piece_t *)(b + o_s), *res = (v2 *)(b + o_r);
    }
    return o;
}

size_t bezier_fit_ws_size(int n) { return n < 1 ? 0 : fit_layout((size_t)n, NULL, NULL, NULL, NULL, NULL, NULL); }

int bezier_fit(const bezier_fit_cfg_t *cfg, const float *xy, int n, float *out, int cap, bezier_fit_stats_t *st,
               void *ws) {
    if (st) memset(st, 0, sizeof *st);
    if (n < 1) return -2;
    for (int i = 0; i < 2 * n; i++)
        if (!isfinite(xy[i])) return -2;
    if (!ws || ((uintptr_t)ws & 15)) return -1;
    double E = cfg->max_error > 0 ? cfg->max_error : 1e-9;
    bezier_fit_cfg_t c = *cfg;
    c.max_error = E;

    v2 *d, *res;
    double *u;
    int *corner;
    piece_t *stack;
    fit_layout((size_t)n, ws, &d, &u, &corner, &stack, &res);
    int m = 0; /* drop consecutive duplicates */
    for (int i = 0; i < n; i++) {
        v2 p = {xy[2 * i], xy[2 * i + 1]};
        if (m == 0 || p.x != d[m - 1].x || p.y != d[m - 1].y) d[m++] = p;
    }
    fit_t F = {.cfg = &c, .d = d, .n = 0, .u = u, .out = res, .nout = 0, .max_err = 0};
    int closed = 0, ncorner = 0, closing_corner = 0;
    double gap = m >= 4 ? vlen(vsub(d[m - 1], d[0])) : INFINITY;
    if (gap <= 0.5 * E) {
        /* A closed loop: snap the end onto the start so the curve really
         * closes, share one tangent across the closing joint, and fit the
         * snapped polyline within E - gap, so that both bounds still hold
         * for the polyline as given (it moved by at most gap). */
        closed = 1;
        F.max_err = gap;
        d[m - 1] = d[0];
        if (d[m - 2].x == d[0].x && d[m - 2].y == d[0].y) m--;
        if (m < 4) closed = 0;
        else c.max_error = E - gap;
    }
    F.n = m;
    res[F.nout++] = d[0];
    if (m == 1) {
        for (int k = 0; k < 3; k++) res[F.nout++] = d[0]; /* [p,p,p,p] */
    } else if (m == 2) {
        v2 q = vsub(d[1], d[0]);
        res[F.nout++] = vadd(d[0], vmul(q, 1.0 / 3.0));
        res[F.nout++] = vadd(d[0], vmul(q, 2.0 / 3.0));
        res[F.nout++] = d[1];
    } else {
        int nc = 0; /* corner vertices, including both ends */
        corner[nc++] = 0;
        for (int i = 1; i < m - 1; i++)
            if (turn_deg(d[i - 1], d[i], d[i + 1]) > c.corner_angle) corner[nc++] = i;
        corner[nc++] = m - 1;
        ncorner = nc - 2;
        v2 tclose = {0, 0};
        if (closed) {
            closing_corner = turn_deg(d[m - 2], d[0], d[1]) > c.corner_angle;
            ncorner += closing_corner;
            if (!closing_corner) tclose = vunit(vsub(d[1], d[m - 2]));
        }
        for (int r = 0; r + 1 < nc; r++) {
            int a = corner[r], b = corner[r + 1];
            piece_t pc = {a, b, vunit(vsub(d[a + 1], d[a])), vunit(vsub(d[b - 1], d[b]))};
            if (closed && !closing_corner) {
                if (r == 0) pc.t1 = tclose;
                if (r + 2 == nc) pc.t2 = vmul(tclose, -1);
            }
            fit_run(&F, stack, pc);
        }
    }
    int npts = F.nout;
    if (st) {
        st->nseg = (npts - 1) / 3;
        st->ncorner = ncorner;
        st->closed = closed;
        st->max_err = F.max_err;
    }
    if (out && cap >= npts)
        for (int i = 0; i < npts; i++) out[2 * i] = (float)res[i].x, out[2 * i + 1] = (float)res[i].y;
    return npts;
}

/* ---------------- the study's conversions (parity) ---------------- */

int bezier_study(const float *xy, int n, float *out) {
    if (n < 1) return -2;
    if (n >= 4) {
        /* floor(linspace(0, n-1, 4)): k(n-1)/3 is either an integer or at
         * least 1/3 away from one, so integer division is exact */
        for (int k = 0; k < 4; k++) {
            int i = k * (n - 1) / 3;
            out[2 * k] = xy[2 * i], out[2 * k + 1] = xy[2 * i + 1];
        }
    } else if (n == 3) {
        const int idx[4] = {0, 1, 1, 2};
        for (int k = 0; k < 4; k++) out[2 * k] = xy[2 * idx[k]], out[2 * k + 1] = xy[2 * idx[k] + 1];
    } else if (n == 2) {
        const float f[4] = {0.0f, 0.33f, 0.67f, 1.0f}; /* sic: 0.33/0.67, not thirds */
        for (int k = 0; k < 4; k++)
            for (int c = 0; c < 2; c++) out[2 * k + c] = xy[c] + (xy[2 + c] - xy[c]) * f[k];
        out[6] = xy[2], out[7] = xy[3];
    } else {
        const float o[4] = {-10.0f, -5.0f, 5.0f, 10.0f}; /* p -/+ offset, -/+ offset/2, offset = (10,10) */
        for (int k = 0; k < 4; k++) out[2 * k] = xy[0] + o[k], out[2 * k + 1] = xy[1] + o[k];
    }
    return 4;
}

int bezier_study_multi(const float *xy, int n, float *out, int cap) {
    enum { MAXP = 6 }; /* max_points_per_segment */
    if (n < 1) return -2;
    if (n <= 4) {
        if (out && cap >= 4) bezier_study(xy, n, out);
        return 4;
    }
    int k = 0;
    for (int pass = 0; pass < 2; pass++) { /* pass 0 counts, pass 1 writes */
        if (pass == 1 && (!out || cap < 4 * k)) break;
        int start = 0, w = 0;
        while (start < n - 1) {
            int end = start + MAXP < n ? start + MAXP : n;
            if (end - start >= 2) {
                if (pass == 1) bezier_study(xy + 2 * start, end - start, out + 8 * w);
                w++;
            }
            start = end - 1;
            if (start >= n - 2) break; /* the quirk: a last lone chord is dropped */
        }
        k = w;
    }
    return 4 * k;
}
