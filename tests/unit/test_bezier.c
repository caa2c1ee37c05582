/* test_bezier.c - common/bezier (fit, study conversions, sampling, adjoint)
 * and the `bezier` renderer plugin.
 *
 *  - sampling equals the Bernstein formula evaluated here with pow();
 *    sampling and its adjoint equal an independent PyTorch float64 autograd
 *    reference (tests/fixtures/bezier/ref.txt, from tests/gen_bezier_ref.py);
 *  - adjoint dot-product test <J v, w> = <v, J^T w> for both layouts;
 *  - the fit of a polyline sampled from one known cubic gives one segment
 *    with the original control points; chains of known cubics stay within
 *    the bound; joints are G1 except at corners; loops close with a G1 joint;
 *    1-point, 2-point and duplicate-point strokes;
 *  - every stroke of the shipped simplified fish set, fitted to 224 px:
 *    vertex-to-curve distance (measured here on a dense resampling) within
 *    max_error, curve-to-polyline distance within 1.25 max_error (checked
 *    by the fit at quarter points of each chord; measured here densely);
 *  - the study's conversions on hand-computed cases (n = 1, 2, 3, 5, 7, 8,
 *    12 incl. the dropped last point) and against the PyTorch reference,
 *    including its float32 linspace index rule for n = 4..1000;
 *  - the plugin: forward equals softline on the sampled polyline; decode,
 *    encode protocol, bad point counts; central finite differences of
 *    L = sum(dimg * img) for every control point, width and opacity
 *    (float32 images, h = 0.01 px; tolerance |a - fd| <= 0.01 max|g| +
 *    0.03 |fd| per coordinate, smooth curves well away from kinks).
 */
#include <stdlib.h>
#include <string.h>
#include "nn/bezier.h"
#include "input.h"
#include "plugin_host.h"
#include "raster.h"
#include "rng.h"
#include "sketch.h"
#include "nn/softline.h"
#include "t.h"

/* ---------------- helpers ---------------- */

static double seg_dist(double px, double py, double ax, double ay, double bx, double by) {
    double vx = bx - ax, vy = by - ay, L = vx * vx + vy * vy, t = 0;
    if (L > 0) t = ((px - ax) * vx + (py - ay) * vy) / L;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return hypot(px - ax - t * vx, py - ay - t * vy);
}
/* distance from (x,y) to the polyline p (n points) */
static double poly_dist(double x, double y, const float *p, int n) {
    if (n == 1) return hypot(x - p[0], y - p[1]);
    double best = INFINITY;
    for (int i = 0; i + 1 < n; i++) {
        double d = seg_dist(x, y, p[2 * i], p[2 * i + 1], p[2 * i + 2], p[2 * i + 3]);
        if (d < best) best = d;
    }
    return best;
}
/* B(t) of segment P (4,2) by the textbook formula with pow() */
static void bern(const float *P, double t, double *x, double *y) {
    double a = pow(1 - t, 3), b = 3 * pow(1 - t, 2) * t, c = 3 * (1 - t) * pow(t, 2), d = pow(t, 3);
    *x = a * P[0] + b * P[2] + c * P[4] + d * P[6];
    *y = a * P[1] + b * P[3] + c * P[5] + d * P[7];
}
/* dense samples of a chain (3k+1 points), 400 per segment; returns count */
static int dense(const float *ctrl, int npts, float *out) {
    return bezier_sample(out, ctrl, npts, 400, BEZIER_CHAIN), bezier_nsamples(BEZIER_CHAIN, npts, 400);
}

/* ---------------- fixture ---------------- */

typedef struct {
    char name[64];
    int n;
    double *v;
} arr_t;
static arr_t fx[128];
static int nfx;

static void load_fixture(void) {
    FILE *f = fopen("tests/fixtures/bezier/ref.txt", "r");
    CHECK(f != NULL, "open tests/fixtures/bezier/ref.txt");
    if (!f) return;
    char name[64];
    while (nfx < 128 && fscanf(f, " %63s", name) == 1) {
        if (name[0] == '#') {
            int c;
            while ((c = fgetc(f)) != '\n' && c != EOF) {}
            continue;
        }
        arr_t *a = &fx[nfx++];
        snprintf(a->name, sizeof a->name, "%s", name);
        if (fscanf(f, "%d", &a->n) != 1) break;
        a->v = malloc(sizeof(double) * (size_t)(a->n ? a->n : 1));
        for (int i = 0; i < a->n; i++)
            if (fscanf(f, "%lf", &a->v[i]) != 1) a->v[i] = NAN;
    }
    fclose(f);
}
static const arr_t *fxget(const char *name) {
    for (int i = 0; i < nfx; i++)
        if (!strcmp(fx[i].name, name)) return &fx[i];
    return NULL;
}
static float *fxf(const arr_t *a) {
    float *p = malloc(sizeof(float) * (size_t)(a->n + 1));
    for (int i = 0; i < a->n; i++) p[i] = (float)a->v[i];
    return p;
}

/* ---------------- sampling and adjoint ---------------- */

static void test_counts(void) {
    CHECK(bezier_nseg(BEZIER_CHAIN, 1) == 0 && bezier_nseg(BEZIER_CHAIN, 4) == 1 && bezier_nseg(BEZIER_CHAIN, 10) == 3 &&
              bezier_nseg(BEZIER_CHAIN, 5) == -1 && bezier_nseg(BEZIER_CHAIN, 0) == -1,
          "chain segment counts (1->0, 4->1, 10->3, 5 and 0 invalid)");
    CHECK(bezier_nseg(BEZIER_INDEPENDENT, 8) == 2 && bezier_nseg(BEZIER_INDEPENDENT, 7) == -1 &&
              bezier_nseg(BEZIER_INDEPENDENT, 0) == -1,
          "independent segment counts (8->2, 7 and 0 invalid)");
    CHECK(bezier_nsamples(BEZIER_CHAIN, 10, 50) == 148 && bezier_nsamples(BEZIER_CHAIN, 1, 50) == 1 &&
              bezier_nsamples(BEZIER_INDEPENDENT, 8, 50) == 100 && bezier_nsamples(BEZIER_CHAIN, 4, 1) == -1,
          "sample counts: k(m-1)+1 for chains, km independent");
}

static void test_sample_formula(void) {
    rng_t r;
    rng_seed(&r, 7);
    float ctrl[20], out[2 * 200];
    for (int i = 0; i < 20; i++) ctrl[i] = (float)rng_range(&r, 0, 224);
    int m = 11, ns = bezier_nsamples(BEZIER_CHAIN, 10, m);
    bezier_sample(out, ctrl, 10, m, BEZIER_CHAIN);
    double worst = 0;
    for (int s = 0, o = 0; s < 3; s++)
        for (int j = s > 0; j < m; j++, o++) {
            double x, y;
            bern(ctrl + 6 * s, (double)j / (m - 1), &x, &y);
            worst = fmax(worst, fmax(fabs(x - out[2 * o]), fabs(y - out[2 * o + 1])));
        }
    CHECK(ns == 31 && worst < 1e-4, "chain samples = Bernstein formula (worst %.3g px)", worst);
    CHECK(out[0] == ctrl[0] && out[1] == ctrl[1] && out[2 * 10] == ctrl[6] && out[2 * 30 + 1] == ctrl[19],
          "chain samples interpolate the joints exactly, each once");
    bezier_sample(out, ctrl, 8, m, BEZIER_INDEPENDENT);
    worst = 0;
    for (int s = 0, o = 0; s < 2; s++)
        for (int j = 0; j < m; j++, o++) {
            double x, y;
            bern(ctrl + 8 * s, (double)j / (m - 1), &x, &y);
            worst = fmax(worst, fmax(fabs(x - out[2 * o]), fabs(y - out[2 * o + 1])));
        }
    CHECK(worst < 1e-4, "independent samples = Bernstein formula, m per segment (worst %.3g px)", worst);
    float dot[2] = {3.5f, 4.25f}, o1[2] = {0};
    bezier_sample(o1, dot, 1, 50, BEZIER_CHAIN);
    CHECK(o1[0] == 3.5f && o1[1] == 4.25f, "a one-point chain samples to its point");
}

static void test_adjoint_dot(void) {
    rng_t r;
    rng_seed(&r, 11);
    for (int layout = 0; layout < 2; layout++) {
        int npts = layout == BEZIER_CHAIN ? 13 : 16, m = 9, ns = bezier_nsamples(layout, npts, m);
        float v[32], w[2 * 64], Jv[2 * 64], JTw[32] = {0};
        for (int i = 0; i < 2 * npts; i++) v[i] = (float)rng_normal(&r);
        for (int i = 0; i < 2 * ns; i++) w[i] = (float)rng_normal(&r);
        bezier_sample(Jv, v, npts, m, layout); /* linear: J v is sampling v */
        bezier_sample_backward(JTw, w, npts, m, layout);
        double a = 0, b = 0;
        for (int i = 0; i < 2 * ns; i++) a += (double)Jv[i] * w[i];
        for (int i = 0; i < 2 * npts; i++) b += (double)v[i] * JTw[i];
        CHECK_CLOSE(a, b, 1e-4, 1e-5, "%s: <J v, w> = <v, J^T w> (%.6f vs %.6f)",
                    layout ? "independent" : "chain", a, b);
    }
    float g[2] = {1, 2}, d[2] = {0.5f, -0.25f};
    bezier_sample_backward(g, d, 1, 10, BEZIER_CHAIN);
    CHECK(g[0] == 1.5f && g[1] == 1.75f, "backward adds (one-point chain)");
}

static void test_torch_sampling(void) {
    const char *names[] = {"chain", "chain1", "indep"};
    for (int c = 0; c < 3; c++) {
        char b[5][64];
        const char *suf[5] = {"ctrl", "m", "out", "wt", "grad"};
        const arr_t *a[5];
        int ok = 1;
        for (int i = 0; i < 5; i++) {
            snprintf(b[i], 64, "sample_%s_%s", names[c], suf[i]);
            a[i] = fxget(b[i]);
            if (!a[i]) ok = 0;
        }
        CHECK(ok, "fixture has sample_%s_*", names[c]);
        if (!ok) continue;
        int npts = a[0]->n / 2, m = (int)a[1]->v[0], layout = (int)a[1]->v[1];
        int ns = bezier_nsamples(layout, npts, m);
        float *ctrl = fxf(a[0]), *wt = fxf(a[3]), *out = malloc(sizeof(float) * 2 * (size_t)(ns > 0 ? ns : 1));
        float *grad = calloc((size_t)a[0]->n, sizeof(float));
        CHECK(2 * ns == a[2]->n, "%s: %d samples, as torch", names[c], ns);
        if (2 * ns == a[2]->n) {
            bezier_sample(out, ctrl, npts, m, layout);
            bezier_sample_backward(grad, wt, npts, m, layout);
            double w1 = 0, w2 = 0;
            int bad = 0;
            for (int i = 0; i < 2 * ns; i++) {
                double e = fabs(out[i] - a[2]->v[i]);
                w1 = fmax(w1, e);
                if (e > 1e-4 + 1e-6 * fabs(a[2]->v[i])) bad++;
            }
            CHECK(!bad, "%s: samples match torch float64 (worst %.3g px; atol 1e-4)", names[c], w1);
            bad = 0;
            for (int i = 0; i < a[0]->n; i++) {
                double e = fabs(grad[i] - a[4]->v[i]);
                w2 = fmax(w2, e);
                if (e > 1e-5 + 1e-5 * fabs(a[4]->v[i])) bad++;
            }
            CHECK(!bad, "%s: adjoint matches torch autograd (worst %.3g; atol 1e-5, rtol 1e-5)", names[c], w2);
        }
        free(ctrl), free(wt), free(out), free(grad);
    }
}

/* ---------------- the study's conversions ---------------- */

static int same(const float *a, const float *b, int n, double tol) {
    for (int i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= tol)) return 0;
    return 1;
}

static void test_study_hand(void) {
    /* vertex i at (i, 100 + 2i): control points reveal which vertices were taken */
    float p[2 * 16], o[4 * 2 * 4];
    for (int i = 0; i < 16; i++) p[2 * i] = (float)i, p[2 * i + 1] = 100.0f + 2.0f * i;
    CHECK(bezier_study(p, 1, o) == 4 && same(o, (float[]){-10, 90, -5, 95, 5, 105, 10, 110}, 8, 0),
          "study n=1: p -/+ (10,10), -/+ (5,5)");
    float q[4] = {10, 20, 110, 70};
    CHECK(bezier_study(q, 2, o) == 4 && same(o, (float[]){10, 20, 43, 36.5f, 77, 53.5f, 110, 70}, 8, 1e-4),
          "study n=2: 0.33 and 0.67 of the way (not thirds)");
    CHECK(bezier_study(p, 3, o) == 4 && same(o, (float[]){0, 100, 1, 102, 1, 102, 2, 104}, 8, 0),
          "study n=3: [p0, p1, p1, p2]");
    bezier_study(p, 5, o); /* floor(linspace(0,4,4)) = 0, 1, 2, 4 */
    CHECK(same(o, (float[]){0, 100, 1, 102, 2, 104, 4, 108}, 8, 0), "study n=5: vertices 0,1,2,4");
    bezier_study(p, 7, o); /* 0, 2, 4, 6 */
    CHECK(same(o, (float[]){0, 100, 2, 104, 4, 108, 6, 112}, 8, 0), "study n=7: vertices 0,2,4,6");
    bezier_study(p, 11, o); /* 0, 3.33->3, 6.67->6, 10 */
    CHECK(same(o, (float[]){0, 100, 3, 106, 6, 112, 10, 120}, 8, 0), "study n=11: vertices 0,3,6,10");
    /* multi: n=7 -> one window [0,6): vertices 0,1,3,5 (floor(linspace(0,5,4))); vertex 6 dropped */
    int r = bezier_study_multi(p, 7, o, 16);
    CHECK(r == 4 && same(o, (float[]){0, 100, 1, 102, 3, 106, 5, 110}, 8, 0),
          "study_multi n=7: one window 0..5, the last point (6) is dropped");
    r = bezier_study_multi(p, 8, o, 16); /* windows [0,6) and [5,8) (n=3 rule) */
    CHECK(r == 8 && same(o, (float[]){0, 100, 1, 102, 3, 106, 5, 110, 5, 110, 6, 112, 6, 112, 7, 114}, 16, 0),
          "study_multi n=8: windows 0..5 and 5..7, joint duplicated");
    r = bezier_study_multi(p, 12, o, 16); /* [0,6), [5,11); 11 dropped */
    CHECK(r == 8 && same(o + 8, (float[]){5, 110, 6, 112, 8, 116, 10, 120}, 8, 0),
          "study_multi n=12: windows 0..5, 5..10; point 11 dropped");
    r = bezier_study_multi(p, 6, o, 16);
    CHECK(r == 4 && same(o, (float[]){0, 100, 1, 102, 3, 106, 5, 110}, 8, 0), "study_multi n=6: one window, all kept");
    r = bezier_study_multi(p, 4, o, 16);
    CHECK(r == 4 && same(o, (float[]){0, 100, 1, 102, 2, 104, 3, 106}, 8, 0), "study_multi n=4: the single rule");
    CHECK(bezier_study_multi(p, 12, NULL, 0) == 8 && bezier_study_multi(p, 12, o, 4) == 8,
          "study_multi reports the size needed when out is NULL or short");
    CHECK(bezier_study(p, 0, o) == -2 && bezier_study_multi(p, 0, o, 16) == -2, "n = 0 refused");
}

static void test_study_torch(void) {
    int ns[] = {1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 16, 17, 25};
    int bad1 = 0, bad2 = 0, miss = 0;
    for (unsigned c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        char b1[64], b2[64], b3[64];
        snprintf(b1, 64, "study_in_%d", ns[c]), snprintf(b2, 64, "study_one_%d", ns[c]);
        snprintf(b3, 64, "study_multi_%d", ns[c]);
        const arr_t *in = fxget(b1), *one = fxget(b2), *mul = fxget(b3);
        if (!in || !one || !mul) { miss++; continue; }
        float *p = fxf(in), o[2 * 64];
        bezier_study(p, ns[c], o);
        for (int i = 0; i < 8; i++)
            if (fabs(o[i] - one->v[i]) > 1e-4) bad1++;
        int r = bezier_study_multi(p, ns[c], o, 64);
        if (2 * r != mul->n) bad2++;
        else
            for (int i = 0; i < mul->n; i++)
                if (fabs(o[i] - mul->v[i]) > 1e-4) bad2++;
        free(p);
    }
    CHECK(!miss && !bad1, "study single cubic = torch reference on 15 lengths (%d mismatches)", bad1);
    CHECK(!miss && !bad2, "study multi-segment = torch reference on 15 lengths (%d mismatches)", bad2);
    const arr_t *idx = fxget("idx");
    int bad = !idx || idx->n != 4 * 997;
    for (int n = 4; !bad && n <= 1000; n++) {
        float p[2 * 1000], o[8];
        for (int i = 0; i < n; i++) p[2 * i] = (float)i, p[2 * i + 1] = 0;
        bezier_study(p, n, o);
        for (int k = 0; k < 4; k++)
            if (o[2 * k] != (float)idx->v[4 * (n - 4) + k]) bad = 1;
    }
    CHECK(!bad, "floor(linspace(0,n-1,4)) = torch float32 linspace().long() for n = 4..1000");
}

/* ---------------- the fit ---------------- */

/* bezier_fit with its scratch sized exactly (so ASan catches an overrun). */
static int fit(const bezier_fit_cfg_t *c, const float *xy, int n, float *out, int cap, bezier_fit_stats_t *st) {
    void *ws = n > 0 ? malloc(bezier_fit_ws_size(n)) : NULL;
    int r = bezier_fit(c, xy, n, out, cap, st, ws);
    free(ws);
    return r;
}

static bezier_fit_cfg_t cfg_of(double E, double ang) {
    bezier_fit_cfg_t c = BEZIER_FIT_DEFAULTS;
    c.max_error = E, c.corner_angle = ang;
    return c;
}

/* max distance of polyline vertices to the (densely sampled) chain, and of the chain to the polyline */
static void fit_errors(const float *poly, int n, const float *ctrl, int npts, double *vert, double *curve) {
    static float d[2 * (400 * 2000 + 1)];
    int nd = dense(ctrl, npts, d);
    *vert = *curve = 0;
    for (int i = 0; i < n; i++) *vert = fmax(*vert, poly_dist(poly[2 * i], poly[2 * i + 1], d, nd));
    for (int j = 0; j < nd; j += 4) *curve = fmax(*curve, poly_dist(d[2 * j], d[2 * j + 1], poly, n));
}

/* joints that must be G1: arms (P[3j]-P[3j-1]) and (P[3j+1]-P[3j]) parallel and same direction */
static double worst_g1(const float *c, int npts, const float *poly, int n, double corner, int *checked) {
    double worst = 0;
    *checked = 0;
    for (int j = 3; j + 1 < npts; j += 3) {
        double ax = c[2 * j] - c[2 * j - 2], ay = c[2 * j + 1] - c[2 * j - 1];
        double bx = c[2 * j + 2] - c[2 * j], by = c[2 * j + 3] - c[2 * j + 1];
        double la = hypot(ax, ay), lb = hypot(bx, by);
        /* the joint is a vertex of the polyline: skip it when it is a corner
         * (turning angle between its distinct neighbours; every copy of it) */
        int found = 0;
        double turn = 0;
        for (int i = 1; i + 1 < n; i++) {
            if (poly[2 * i] != c[2 * j] || poly[2 * i + 1] != c[2 * j + 1]) continue;
            int a = i - 1, b = i + 1;
            while (a > 0 && poly[2 * a] == poly[2 * i] && poly[2 * a + 1] == poly[2 * i + 1]) a--;
            while (b < n - 1 && poly[2 * b] == poly[2 * i] && poly[2 * b + 1] == poly[2 * i + 1]) b++;
            double px = poly[2 * i] - poly[2 * a], py = poly[2 * i + 1] - poly[2 * a + 1];
            double qx = poly[2 * b] - poly[2 * i], qy = poly[2 * b + 1] - poly[2 * i + 1];
            turn = fmax(turn, atan2(fabs(px * qy - py * qx), px * qx + py * qy) * 180 / M_PI);
            found = 1;
        }
        if (!found) continue;
        if (turn > corner || la < 0.05 || lb < 0.05) continue; /* float rounding swamps tiny arms */
        double s = (ax * by - ay * bx) / (la * lb), dt = (ax * bx + ay * by) / (la * lb);
        worst = fmax(worst, dt > 0 ? fabs(s) : 2.0);
        (*checked)++;
    }
    return worst;
}

static void test_fit_one_cubic(void) {
    float P[8] = {20, 150, 60, 20, 170, 40, 200, 180}, poly[2 * 300], out[3 * 300 * 2];
    int n = 300;
    for (int i = 0; i < n; i++) {
        double x, y;
        bern(P, (double)i / (n - 1), &x, &y);
        poly[2 * i] = (float)x, poly[2 * i + 1] = (float)y;
    }
    bezier_fit_cfg_t c = cfg_of(0.25, 75);
    bezier_fit_stats_t st;
    int np = fit(&c, poly, n, out, 3 * 300, &st);
    CHECK(np == 4 && st.nseg == 1, "a polyline sampled from one cubic fits with one segment (%d)", st.nseg);
    double w = 0;
    for (int i = 0; np == 4 && i < 8; i++) w = fmax(w, fabs(out[i] - P[i]));
    /* the arms are ~140 px long and poorly conditioned along the tangent:
     * a 0.25 px curve bound allows a few px of arm length */
    CHECK(np == 4 && w < 3.0, "its control points are recovered within 3 px (worst %.3f px)", w);
    bezier_fit_cfg_t tight = cfg_of(0.1, 75);
    tight.max_newton = 200;
    np = fit(&tight, poly, n, out, 3 * 300, &st);
    w = 0;
    for (int i = 0; np == 4 && i < 8; i++) w = fmax(w, fabs(out[i] - P[i]));
    CHECK(np == 4 && w < 1.0, "max_error 0.1, 200 rounds: one segment, control points within 1 px (%.3f)", w);
    double ve, ce;
    fit_errors(poly, n, out, np, &ve, &ce);
    CHECK(ve <= 0.25 + 1e-3 && st.max_err <= 0.25, "vertex error %.4f (reported %.4f) <= 0.25", ve, st.max_err);
    /* unevenly spaced samples of the same cubic (dense enough that the
     * chords stay within the bound of the curve) */
    int m = 0;
    for (double t = 0; t < 1; t += 0.01 + 0.02 * t) {
        double x, y;
        bern(P, t, &x, &y);
        poly[2 * m] = (float)x, poly[2 * m + 1] = (float)y, m++;
    }
    poly[2 * m] = P[6], poly[2 * m + 1] = P[7], m++;
    c = cfg_of(1.0, 75);
    np = fit(&c, poly, m, out, 3 * 300, &st);
    fit_errors(poly, m, out, np, &ve, &ce);
    CHECK(st.nseg == 1 && ve <= 1.0 + 1e-3 && ce <= 1.25, "%d uneven samples: %d segment(s), errors %.3f / %.3f px",
          m, st.nseg, ve, ce);
    /* sparse samples: the chords cut the curve by more than the bound, so
     * the fit must split to stay near the polyline */
    m = 0;
    for (double t = 0; t < 1; t += 0.04 + 0.05 * t) {
        double x, y;
        bern(P, t, &x, &y);
        poly[2 * m] = (float)x, poly[2 * m + 1] = (float)y, m++;
    }
    poly[2 * m] = P[6], poly[2 * m + 1] = P[7], m++;
    np = fit(&c, poly, m, out, 3 * 300, &st);
    fit_errors(poly, m, out, np, &ve, &ce);
    CHECK(st.nseg >= 2 && ve <= 1.0 + 1e-3 && ce <= 1.25, "%d sparse samples: %d segments, errors %.3f / %.3f px", m,
          st.nseg, ve, ce);
}

static void test_fit_chain(void) {
    /* three cubics joined G1 and one corner, sampled at 40 points each */
    float C[] = {10, 100, 30, 40, 70, 40, 90, 90, /* G1 into the next: */ 90, 90, 100, 115, 130, 140, 150, 120,
                 /* corner at (150,120): */ 150, 120, 100, 80, 190, 40, 210, 110};
    float poly[2 * 200], out[2 * 600];
    int n = 0;
    for (int s = 0; s < 3; s++)
        for (int i = s > 0; i < 40; i++) {
            double x, y;
            bern(C + 8 * s, i / 39.0, &x, &y);
            poly[2 * n] = (float)x, poly[2 * n + 1] = (float)y, n++;
        }
    double E[] = {0.1, 0.5, 1.0, 2.0};
    for (int e = 0; e < 4; e++) {
        bezier_fit_cfg_t c = cfg_of(E[e], 75);
        bezier_fit_stats_t st;
        int np = fit(&c, poly, n, out, 600, &st);
        double ve, ce;
        fit_errors(poly, n, out, np, &ve, &ce);
        int chk;
        double g1 = worst_g1(out, np, poly, n, 75, &chk);
        CHECK(np == 3 * st.nseg + 1 && ve <= E[e] + 1e-3 && ce <= 1.25 * E[e] && st.max_err <= E[e],
              "3 known cubics, max_error %.1f: %d segments, vertex error %.3f, curve error %.3f", E[e], st.nseg, ve, ce);
        CHECK(st.ncorner == 1 && out[0] == poly[0] && out[2 * np - 1] == poly[2 * n - 1],
              "  one corner found (%d); ends interpolated", st.ncorner);
        CHECK(g1 < 1e-3, "  %d smooth joints are G1 (worst |sin| %.2g)", chk, g1);
    }
}

static void test_fit_special(void) {
    bezier_fit_cfg_t c = cfg_of(1.0, 75);
    bezier_fit_stats_t st;
    float out[64];
    float one[2] = {5, 6};
    CHECK(fit(&c, one, 1, out, 32, &st) == 4 && same(out, (float[]){5, 6, 5, 6, 5, 6, 5, 6}, 8, 0),
          "1 point -> [p,p,p,p]");
    float dup[6] = {5, 6, 5, 6, 5, 6};
    CHECK(fit(&c, dup, 3, out, 32, &st) == 4 && same(out, (float[]){5, 6, 5, 6, 5, 6, 5, 6}, 8, 0),
          "3 equal points -> [p,p,p,p]");
    float two[4] = {0, 0, 30, 60};
    CHECK(fit(&c, two, 2, out, 32, &st) == 4 && same(out, (float[]){0, 0, 10, 20, 20, 40, 30, 60}, 8, 1e-5),
          "2 points -> straight cubic at thirds");
    float twod[8] = {0, 0, 0, 0, 30, 60, 30, 60};
    CHECK(fit(&c, twod, 4, out, 32, &st) == 4 && same(out, (float[]){0, 0, 10, 20, 20, 40, 30, 60}, 8, 1e-5),
          "consecutive duplicates dropped");
    CHECK(fit(&c, two, 2, NULL, 0, &st) == 4 && fit(&c, two, 2, out, 3, &st) == 4,
          "size query with out NULL or short");
    float nan[4] = {0, NAN, 1, 1};
    CHECK(fit(&c, nan, 2, out, 32, &st) == -2 && fit(&c, two, 0, out, 32, &st) == -2,
          "non-finite input and n = 0 refused");
    CHECK(bezier_fit(&c, two, 2, out, 32, &st, NULL) == -1, "no scratch: refused, nothing allocated");
    /* straight polyline with many points: one segment */
    float line[2 * 20];
    for (int i = 0; i < 20; i++) line[2 * i] = 3.0f * i, line[2 * i + 1] = 10 + 1.5f * i;
    int np = fit(&c, line, 20, out, 32, &st);
    CHECK(np == 4 && st.max_err < 1e-3, "a straight 20-point line is one segment (err %.2g)", st.max_err);
    /* closed loop: a circle of 24 vertices, last = first */
    float circ[2 * 25], big[2 * 100];
    for (int i = 0; i <= 24; i++) {
        double a = 2 * M_PI * i / 24;
        circ[2 * i] = (float)(100 + 60 * cos(a)), circ[2 * i + 1] = (float)(100 + 60 * sin(a));
    }
    circ[48] = circ[0], circ[49] = circ[1];
    np = fit(&c, circ, 25, big, 100, &st);
    double ve, ce;
    fit_errors(circ, 25, big, np, &ve, &ce);
    double ax = big[2] - big[0], ay = big[3] - big[1], bx = big[2 * np - 2] - big[2 * np - 4],
           by = big[2 * np - 1] - big[2 * np - 3];
    double s = (ax * by - ay * bx) / (hypot(ax, ay) * hypot(bx, by));
    CHECK(st.closed && st.ncorner == 0 && np >= 7, "circle: closed loop, %d segments, no corners", st.nseg);
    CHECK(fabs(s) < 1e-4 && ax * bx + ay * by > 0 && big[0] == big[2 * np - 2] && big[1] == big[2 * np - 1],
          "circle: the closing joint is G1 (|sin| %.2g) and closed", fabs(s));
    CHECK(ve <= 1.0 + 1e-3 && ce <= 1.25, "circle: errors %.3f / %.3f px", ve, ce);
    /* almost closed (gap 0.6 px <= max_error): snapped */
    circ[48] += 0.4f;
    np = fit(&c, circ, 25, big, 100, &st);
    fit_errors(circ, 25, big, np, &ve, &ce);
    CHECK(st.closed && big[2 * np - 2] == circ[0] && st.max_err <= 1.0 && ve <= 1.001 && ce <= 1.25,
          "gap 0.4 px: closed by snapping, bounds kept for the given polyline (%.3f / %.3f)", ve, ce);
    circ[48] += 0.2f; /* gap 0.6 px > max_error/2: open */
    np = fit(&c, circ, 25, big, 100, &st);
    CHECK(!st.closed && big[2 * np - 2] == circ[48], "gap 0.6 px: open, ends kept");
    /* square: 4 corners of 90 degrees */
    float sq[] = {10, 10, 50, 10, 90, 10, 90, 50, 90, 90, 50, 90, 10, 90, 10, 50, 10, 10};
    np = fit(&c, sq, 9, big, 100, &st);
    fit_errors(sq, 9, big, np, &ve, &ce);
    CHECK(st.closed && st.ncorner == 4 && ce <= 1.25 && ve <= 1.001,
          "square: closed, 4 corners (%d), %d segments, curve error %.3f", st.ncorner, st.nseg, ce);
    c.corner_angle = 180;
    np = fit(&c, sq, 9, big, 100, &st);
    fit_errors(sq, 9, big, np, &ve, &ce);
    CHECK(st.ncorner == 0 && ce <= 1.25 && ve <= 1.001,
          "square, corner_angle 180: no corners, still within the bound (%d segments, %.3f)", st.nseg, ce);
}

static void test_fit_fish(void) {
    err_t e = {0};
    input_t *in = in_open("data/quickdraw/simplified/fish.ndjson.gz", &e);
    CHECK(in != NULL, "open fish set (%s)", e.msg);
    if (!in) return;
    double E[] = {1.0, 2.0, 0.5};
    for (int k = 0; k < 3; k++) {
        static float poly[2 * 4096], out[2 * 3 * 4096];
        char *line;
        size_t len;
        long strokes = 0, segs = 0, pts = 0, corners = 0, g1checked = 0;
        double vmax = 0, cmax = 0, rmax = 0, g1 = 0;
        int ok = 1;
        in_close(in);
        in = in_open("data/quickdraw/simplified/fish.ndjson.gz", &e);
        int recs = 0;
        while (in_getline(in, &line, &len, &e) == 1) {
            sketch_t s;
            sketch_init(&s);
            if (sketch_parse(&s, line, len, &e)) { ok = 0; break; }
            recs++;
            xform_t xf;
            xform_fit(&s.drawing, 224, 10, &xf);
            for (int j = 0; j < s.drawing.nstrokes; j++) {
                const stroke_t *t = &s.drawing.s[j];
                if (t->n > 4096) continue;
                for (int i = 0; i < t->n; i++)
                    poly[2 * i] = (float)(t->x[i] * xf.sx + xf.ox), poly[2 * i + 1] = (float)(t->y[i] * xf.sy + xf.oy);
                bezier_fit_cfg_t c = cfg_of(E[k], 75);
                bezier_fit_stats_t st;
                int np = fit(&c, poly, t->n, out, 3 * 4096, &st);
                if (np < 1 || np != 3 * st.nseg + 1) { ok = 0; continue; }
                double ve, ce;
                fit_errors(poly, t->n, out, np, &ve, &ce);
                int chk;
                g1 = fmax(g1, worst_g1(out, np, poly, t->n, 75, &chk));
                g1checked += chk;
                strokes++, segs += st.nseg, pts += t->n, corners += st.ncorner;
                vmax = fmax(vmax, ve), cmax = fmax(cmax, ce), rmax = fmax(rmax, st.max_err);
            }
            sketch_free(&s);
        }
        CHECK(ok && recs > 300, "fish max_error %.1f: %d drawings, %ld strokes, %.2f points/stroke", E[k], recs, strokes,
              (double)pts / strokes);
        printf("# fish max_error %.1f: mean %.3f cubic segments per stroke, %ld corners, worst vertex error %.4f px"
               " (reported %.4f), worst curve-to-polyline %.4f px\n",
               E[k], (double)segs / strokes, corners, vmax, rmax, cmax);
        CHECK(vmax <= E[k] + 1e-3 && rmax <= E[k], "fish max_error %.1f: every vertex within the bound (%.4f)", E[k],
              vmax);
        CHECK(cmax <= 1.25 * E[k], "fish max_error %.1f: the curve within 1.25x the bound of the polyline (%.4f)", E[k],
              cmax);
        CHECK(g1 < 1e-3, "fish max_error %.1f: %ld smooth joints are G1 (worst |sin| %.2g)", E[k], g1checked, g1);
    }
    in_close(in);
}

/* ---------------- the plugin ---------------- */

static rng_t g_rng;
static plugin_host_t host; /* plugin_host_init(&host, &g_rng) in main */

enum { W = 64, H = 56 };

static int open_bezier(plugin_t *p, const char *params) {
    const char *dir = getenv("PLUGINS");
    char spec[1200];
    snprintf(spec, sizeof spec, "%s/bezier.so%s%s", dir ? dir : "build/plugins", params[0] ? ":" : "", params);
    err_t e = {0};
    int rc = plugin_open(p, spec, PLUGIN_RENDERER, &e);
    if (!rc) rc = plugin_init(p, &host, &e);
    CHECK(rc == 0, "open %s (%s)", spec, e.msg);
    return rc;
}

static double loss(plugin_t *p, const scene_t *sc, const float *dimg, float *img) {
    plugin_err_t pe = {{0}};
    void *ws = plugin_ws(p, p->d->renderer->ws_size(p->state, sc, W, H));
    if (p->d->renderer->forward(p->state, ws, &host, sc, W, H, img, &pe)) return NAN;
    double L = 0;
    for (int i = 0; i < W * H; i++) L += (double)dimg[i] * img[i];
    return L;
}

/* central differences for every coordinate, width and opacity */
static void fd_check(plugin_t *p, const char *what, int ns, int *npts, int *off, float *xy, int P) {
    float width[4] = {3.0f, 2.5f, 3.5f, 2.0f}, opac[4] = {0.9f, 0.7f, 1.0f, 0.8f};
    scene_t sc = {ns, npts, off, xy, width, opac};
    float *img = malloc(sizeof(float) * W * H), *dimg = malloc(sizeof(float) * W * H);
    rng_t r;
    rng_seed(&r, 5);
    for (int i = 0; i < W * H; i++) dimg[i] = (float)rng_range(&r, -1, 1);
    double L0 = loss(p, &sc, dimg, img);
    CHECK(isfinite(L0), "%s: forward", what);
    float gxy[2 * 64] = {0}, gw[4] = {0}, go[4] = {0};
    scene_grad_t g = {gxy, gw, go};
    plugin_err_t pe = {{0}};
    int rc = p->d->renderer->backward(p->state, p->ws, &host, &sc, W, H, dimg, &g, &pe);
    CHECK(rc == 0, "%s: backward (%s)", what, pe.msg);
    const double h = 0.01;
    double gmax = 0, worst = 0;
    int bad = 0, n = 0;
    double fd[2 * 64 + 8];
    float *par[2 * 64 + 8];
    for (int i = 0; i < 2 * P; i++) par[n++] = &xy[i];
    for (int s = 0; s < ns; s++) par[n++] = &width[s];
    for (int s = 0; s < ns; s++) par[n++] = &opac[s];
    for (int i = 0; i < n; i++) {
        float v = *par[i];
        *par[i] = (float)(v + h);
        double Lp = loss(p, &sc, dimg, img);
        *par[i] = (float)(v - h);
        double Lm = loss(p, &sc, dimg, img);
        *par[i] = v;
        fd[i] = (Lp - Lm) / (2 * h);
    }
    for (int i = 0; i < n; i++) {
        double a = i < 2 * P ? gxy[i] : i < 2 * P + ns ? gw[i - 2 * P] : go[i - 2 * P - ns];
        gmax = fmax(gmax, fabs(a));
    }
    for (int i = 0; i < n; i++) {
        double a = i < 2 * P ? gxy[i] : i < 2 * P + ns ? gw[i - 2 * P] : go[i - 2 * P - ns];
        double err = fabs(a - fd[i]);
        if (err > 0.01 * gmax + 0.03 * fabs(fd[i])) {
            bad++;
            if (bad <= 5) printf("#   %s param %d: analytic %.6g fd %.6g\n", what, i, a, fd[i]);
        }
        worst = fmax(worst, err / (0.01 * gmax + 0.03 * fabs(fd[i])));
    }
    CHECK(!bad, "%s: %d parameters match central differences (worst %.2f of tolerance, max|g| %.3g)", what, n,
          worst, gmax);
    int wnz = 1;
    for (int s = 0; s < ns; s++)
        if (gw[s] == 0 || go[s] == 0) wnz = 0;
    CHECK(wnz, "%s: every width and opacity gets a gradient", what);
    free(img), free(dimg);
}

static void test_plugin(void) {
    plugin_t p;
    if (open_bezier(&p, "")) return;
    const renderer_vt *vt = p.d->renderer;
    plugin_err_t pe = {{0}};
    /* an S-curve (2 segments), a loop-ish single cubic, a dot */
    float xy[2 * 12] = {8, 40, 14, 10, 30, 12, 32, 28, 34, 44, 50, 48, 56, 20,
                        20, 50, 50, 52, 44, 30, 26, 40,
                        40, 8};
    int npts[3] = {7, 4, 1}, off[3] = {0, 7, 11};
    float width[3] = {3, 2.5f, 4}, opac[3] = {1, 0.8f, 0.9f};
    scene_t sc = {3, npts, off, xy, width, opac};
    float *img = malloc(sizeof(float) * W * H), *ref = malloc(sizeof(float) * W * H);
    void *ws = plugin_ws(&p, vt->ws_size(p.state, &sc, W, H));
    CHECK(vt->forward(p.state, ws, &host, &sc, W, H, img, &pe) == 0, "forward (%s)", pe.msg);
    /* the same picture straight from softline on the sampled polylines (samples = 16) */
    float poly[2 * 64];
    int pn[3], po[3], q = 0;
    for (int s = 0; s < 3; s++) {
        pn[s] = bezier_nsamples(BEZIER_CHAIN, npts[s], 16), po[s] = q;
        bezier_sample(poly + 2 * q, xy + 2 * off[s], npts[s], 16, BEZIER_CHAIN);
        q += pn[s];
    }
    softline_scene_t s2 = {3, pn, po, poly, width, opac};
    softline_cfg_t cfg = {1.0f};
    size_t sl_need = softline_ws_size(&cfg, &s2, W, H);
    CHECK(vt->ws_size(p.state, &sc, W, H) >= sl_need, "ws_size covers softline's need on the sampled polylines");
    void *ws2 = calloc(1, sl_need);
    softline_forward(&cfg, ws2, &s2, W, H, ref, NULL);
    CHECK(!memcmp(img, ref, sizeof(float) * W * H), "forward = softline on the sampled polylines (bit-identical)");
    free(ws2);
    /* decode */
    float dec[2 * 64];
    CHECK(plugin_decode(&p, xy, 7, NULL, 0, &pe) == 31 && plugin_decode(&p, xy, 7, dec, 64, &pe) == 31 &&
              !memcmp(dec, poly, sizeof(float) * 2 * 31),
          "decode = the 31 samples of a 2-segment chain");
    CHECK(plugin_decode(&p, xy, 5, dec, 64, &pe) < 0 && strstr(pe.msg, "3k+1"), "decode refuses 5 points: %s",
          pe.msg);
    /* encode protocol */
    float line[2 * 5] = {10, 10, 20, 14, 30, 20, 40, 30, 50, 44}, enc[64];
    int need = plugin_encode(&p, line, 5, NULL, 0, &pe);
    CHECK(need >= 4 && (need - 1) % 3 == 0 && plugin_encode(&p, line, 5, enc, need, &pe) == need,
          "encode: size query then write (%d points)", need);
    /* a bad count is a data error naming the stroke */
    npts[0] = 6;
    ws = plugin_ws(&p, vt->ws_size(p.state, &sc, W, H));
    int rc = vt->forward(p.state, ws, &host, &sc, W, H, img, &pe);
    CHECK(rc == EXIT_DATA && strstr(pe.msg, "stroke 0"), "6 control points refused: %s", pe.msg);
    npts[0] = 7;
    /* gradients */
    float fxy[2 * 12];
    memcpy(fxy, xy, sizeof fxy);
    fd_check(&p, "bezier chain (2+1 segments, a dot)", 3, npts, off, fxy, 12);
    plugin_close(&p);

    /* the study's layout: 4k points, independent segments, samples=50 */
    if (open_bezier(&p, "fit=study_multi,samples=50,softness=1.5")) return;
    float sx[2 * 12];
    float mline[2 * 8] = {6, 30, 12, 12, 24, 8, 34, 18, 38, 34, 46, 44, 56, 40, 60, 26};
    int n1 = plugin_encode(&p, mline, 8, sx, 12, &pe);
    CHECK(n1 == 8, "study_multi encode of 8 points: 2 segments, 8 points (%d)", n1);
    float s3[8] = {14, 46, 24, 52, 36, 50, 44, 42};
    memcpy(sx + 16, s3, sizeof s3);
    int mn[2] = {8, 4}, mo[2] = {0, 8};
    CHECK(plugin_decode(&p, sx, 8, NULL, 0, &pe) == 100, "study_multi decode: 50 samples per segment");
    fd_check(&p, "bezier study_multi (independent segments)", 2, mn, mo, sx, 12);
    plugin_close(&p);
    free(img), free(ref);
}

int main(void) {
    plugin_host_init(&host, &g_rng);
    load_fixture();
    test_counts();
    test_sample_formula();
    test_adjoint_dot();
    test_torch_sampling();
    test_study_hand();
    test_study_torch();
    test_fit_one_cubic();
    test_fit_chain();
    test_fit_special();
    test_fit_fish();
    test_plugin();
    for (int i = 0; i < nfx; i++) free(fx[i].v);
    T_DONE();
}
