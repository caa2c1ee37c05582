/* test_softline.c - the softline core (nn/softline.c) and plugin.
 *
 * 1. Golden: every pixel against an independent brute-force double-precision
 *    implementation of the formula (all segments, whole canvas, no reach).
 * 2. Gradients: L = sum dimg * img for a fixed random dimg;
 *    (a) analytic vs central differences of the float renderer itself,
 *        step h = 2e-3 px (the step actually taken after float rounding is
 *        used), tolerance |a - b| <= 4e-3 + 2e-3 |b|;
 *    (b) analytic vs central differences of the double reference, h = 1e-5,
 *        tolerance |a - b| <= 2e-4 + 1e-4 |b| (float rounding of the analytic
 *        sums only).
 *    The FD scenes are checked kink-free first: no pixel centre within 4h of
 *    a tie between two segments (unless the rival's nearest point is on the
 *    winner, i.e. the shared vertex: a tangential contact, not a kink), nor
 *    (for lines thinner than the ramp) of the centre line.  Ramp ends are C1 (smoothstep), so they
 *    only cost O(h) and need no exclusion.
 * 3. Properties: a horizontal line (centre ink 1, 0 beyond w/2 + s/2),
 *    transpose symmetry, overlaps darker (exactly 1 - (1-c1)(1-c2)), opacity
 *    scaling, untouched pixels outside the reach, dots, zero-length segments,
 *    a pool-split backward bit-identical to serial, the plugin through the
 *    ABI, errors (the core's codes and the plugin's exit codes).
 */
#include "nn/softline.h"
#include "plugin_host.h"
#include "pool.h"
#include "rng.h"
#include "t.h"
#include <stdlib.h>
#include <string.h>

/* ---- scenes ---- */

#define MAXS 16
#define MAXP 256
#include "tscene.h"

/* Random walks with non-integer coordinates inside a W x W canvas. */
static void sc_random(sc_t *s, rng_t *r, int W, int ns, int maxpts, float wmin, float wmax) {
    s->ns = ns;
    int o = 0;
    for (int k = 0; k < ns; k++) {
        int n = 2 + (int)rng_below(r, (uint64_t)maxpts - 1);
        s->npts[k] = n;
        double x = rng_range(r, 8, W - 8), y = rng_range(r, 8, W - 8);
        for (int i = 0; i < n; i++) {
            s->xy[2 * (o + i)] = (float)x, s->xy[2 * (o + i) + 1] = (float)y;
            x += rng_range(r, -12, 12), y += rng_range(r, -12, 12);
            x = x < 3 ? 6 - x : x > W - 3 ? 2 * (W - 3) - x : x; /* reflect: no repeated points */
            y = y < 3 ? 6 - y : y > W - 3 ? 2 * (W - 3) - y : y;
        }
        o += n;
        s->width[k] = (float)rng_range(r, wmin, wmax);
        s->opacity[k] = (float)rng_range(r, 0.4, 1.0);
    }
    sc_bind(s);
}

/* ---- the independent reference (double, brute force) ---- */

typedef struct {
    double d, qx, qy;
} near_t;

static near_t seg_near(double px, double py, double ax, double ay, double bx, double by) {
    double vx = bx - ax, vy = by - ay, l2 = vx * vx + vy * vy, t = 0;
    if (l2 > 0) t = ((px - ax) * vx + (py - ay) * vy) / l2;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    near_t n = {0, ax + t * vx, ay + t * vy};
    n.d = hypot(px - n.qx, py - n.qy);
    return n;
}

static double ref_phi(double u, double s) {
    double t = (u + s / 2) / s;
    if (t <= 0) return 1;
    if (t >= 1) return 0;
    return 1 - t * t * (3 - 2 * t);
}

/* img (H,W) in double from a double copy of the scene. */
static void ref_render(const sc_t *s, const double *xy, const double *w, const double *a, double soft, int W,
                       int H, double *img) {
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            double v = 1;
            for (int k = 0; k < s->ns; k++) {
                const double *p = xy + 2 * s->off[k];
                int n = s->npts[k];
                double d = INFINITY;
                if (n == 1) d = hypot(j - p[0], i - p[1]);
                for (int m = 0; m + 1 < n; m++) {
                    near_t q = seg_near(j, i, p[2 * m], p[2 * m + 1], p[2 * m + 2], p[2 * m + 3]);
                    if (q.d < d) d = q.d;
                }
                if (n < 1) continue;
                double hw = w[k] > 0 ? w[k] / 2 : 0;
                v *= 1 - a[k] * ref_phi(d - hw, soft);
            }
            img[(size_t)i * W + j] = v;
        }
}

static double dot_d(const double *img, const float *dimg, size_t n) {
    double L = 0;
    for (size_t q = 0; q < n; q++) L += img[q] * dimg[q];
    return L;
}

static double dot_f(const float *img, const float *dimg, size_t n) {
    double L = 0;
    for (size_t q = 0; q < n; q++) L += (double)img[q] * dimg[q];
    return L;
}

/* 1 if no pixel centre is within `margin` of a kink of the coverage. */
static int kink_free(const sc_t *s, double soft, int W, int H, double margin, int verbose) {
    /* a zero-length segment is a kink of the min for its end points */
    for (int k = 0; k < s->ns; k++)
        for (int m = 0; m + 1 < s->npts[k]; m++) {
            const float *p = s->xy + 2 * (s->off[k] + m);
            if (hypot(p[2] - p[0], p[3] - p[1]) < 10 * margin) {
                if (verbose) printf("#   stroke %d segment %d has (almost) zero length\n", k, m);
                return 0;
            }
        }
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++)
            for (int k = 0; k < s->ns; k++) {
                const float *p = s->xy + 2 * s->off[k];
                int n = s->npts[k];
                double hw = s->width[k] / 2;
                near_t best = {INFINITY, 0, 0};
                int bm = 0;
                for (int m = 0; m + 1 < n; m++) {
                    near_t q = seg_near(j, i, p[2 * m], p[2 * m + 1], p[2 * m + 2], p[2 * m + 3]);
                    if (q.d < best.d) best = q, bm = m;
                }
                if (n == 1) best = seg_near(j, i, p[0], p[1], p[0], p[1]);
                /* only where the ramp is live */
                if (best.d - hw > soft / 2 + margin || best.d - hw < -soft / 2 - margin) continue;
                if (best.d < margin) { /* on the centre line of a thin stroke */
                    if (verbose) printf("#   pixel (%d,%d) on the centre line of stroke %d\n", i, j, k);
                    return 0;
                }
                for (int m = 0; m + 1 < n; m++) {
                    near_t q = seg_near(j, i, p[2 * m], p[2 * m + 1], p[2 * m + 2], p[2 * m + 3]);
                    /* a rival whose nearest point lies on the best segment
                     * (the shared vertex) only touches it tangentially */
                    const float *b = p + 2 * bm;
                    if (q.d < best.d + margin && seg_near(q.qx, q.qy, b[0], b[1], b[2], b[3]).d > 1e-9) {
                        if (verbose) printf("#   pixel (%d,%d): stroke %d segment %d ties\n", i, j, k, m);
                        return 0;
                    }
                }
            }
    return 1;
}

/* ---- helpers around the core ---- */

typedef struct {
    softline_cfg_t cfg;
    void *ws;
    size_t cap;
    const nn_par_t *par; /* backward's parallelism (NULL = serial) */
} rend_t;

/* The core's view of a test scene (the same arrays). */
static softline_scene_t cs(const sc_t *s) {
    return (softline_scene_t){s->sc.nstrokes, s->sc.npts, s->sc.off, s->sc.xy, s->sc.width, s->sc.opacity};
}

static int render(rend_t *r, const sc_t *s, int W, int H, float *img) {
    softline_scene_t sc = cs(s);
    size_t need = softline_ws_size(&r->cfg, &sc, W, H);
    if (need > r->cap) {
        /* exact size so that ASan (make check) catches any overflow */
        free(r->ws);
        r->ws = calloc(1, need);
        r->cap = need;
    }
    softline_fault_t e;
    int rc = softline_forward(&r->cfg, r->ws, &sc, W, H, img, &e);
    if (rc) printf("# forward: %s\n", e.msg);
    return rc;
}

static int grads(rend_t *r, const sc_t *s, int W, int H, const float *dimg, float *gxy, float *gw,
                 float *ga) {
    softline_fault_t e;
    softline_grad_t g = {gxy, gw, ga};
    softline_scene_t sc = cs(s);
    int rc = softline_backward(&r->cfg, r->ws, &sc, W, H, dimg, &g, r->par, &e);
    if (rc) printf("# backward: %s\n", e.msg);
    return rc;
}

/* ---- 1. golden against the brute-force reference ---- */

static void to_double(const sc_t *s, double *xy, double *w, double *a) {
    for (int q = 0; q < 2 * sc_total(s); q++) xy[q] = s->xy[q];
    for (int k = 0; k < s->ns; k++) w[k] = s->width[k], a[k] = s->opacity[k];
}

static void test_golden(void) {
    rng_t r;
    rng_seed(&r, 11);
    const int W = 72, H = 64;
    static float img[72 * 64];
    static double ref[72 * 64], xy[2 * MAXP], w[MAXS], a[MAXS];
    rend_t R = {{1.0f}, NULL, 0, NULL};
    for (int trial = 0; trial < 4; trial++) {
        sc_t s;
        sc_random(&s, &r, 64, 6, 7, 0.3f + trial, 2.f + trial);
        /* one dot, one stroke with a zero-length segment */
        s.npts[0] = 1;
        s.xy[2 * (s.off[2] + 1)] = s.xy[2 * s.off[2]], s.xy[2 * (s.off[2] + 1) + 1] = s.xy[2 * s.off[2] + 1];
        sc_bind(&s);
        R.cfg.softness = 0.5f + 0.7f * trial;
        CHECK(render(&R, &s, W, H, img) == 0, "golden %d: forward", trial);
        to_double(&s, xy, w, a);
        ref_render(&s, xy, w, a, R.cfg.softness, W, H, ref);
        double worst = 0;
        for (int q = 0; q < W * H; q++) worst = fmax(worst, fabs(img[q] - ref[q]));
        CHECK(worst <= 2e-5,
              "golden %d (softness %.1f, widths %.1f..%.1f, dot, zero-length segment): max |img - "
              "double reference| = %.2g <= 2e-5",
              trial, R.cfg.softness, 0.3 + trial, 2.0 + trial, worst);
    }
    free(R.ws);
}

/* ---- 2. gradients ---- */

static void fd_case(const char *name, sc_t *s, float soft, int W, int H, uint64_t seed) {
    size_t hw = (size_t)W * H;
    float *img = malloc(hw * sizeof(float)), *dimg = malloc(hw * sizeof(float));
    double *ref = malloc(hw * sizeof(double));
    rng_t r;
    rng_seed(&r, seed);
    for (size_t q = 0; q < hw; q++) dimg[q] = (float)rng_range(&r, -1, 1);
    rend_t R = {{soft}, NULL, 0, NULL};
    const double h = 2e-3, h2 = 1e-5;
    CHECK(kink_free(s, soft, W, H, 4 * h, 1), "%s: scene has no pixel within %g px of a kink", name, 4 * h);
    int P = sc_total(s);
    float gxy[2 * MAXP] = {0}, gw[MAXS] = {0}, ga[MAXS] = {0};
    render(&R, s, W, H, img);
    grads(&R, s, W, H, dimg, gxy, gw, ga);
    /* every parameter: 2P coordinates, then widths, then opacities */
    int npar = 2 * P + 2 * s->ns;
    double worst_a = 0, worst_b = 0, gmax = 0;
    int bad_a = 0, bad_b = 0;
    static double dxy[2 * MAXP], dw[MAXS], da[MAXS];
    for (int q = 0; q < npar; q++) {
        float *par = q < 2 * P           ? &s->xy[q]
                     : q < 2 * P + s->ns ? &s->width[q - 2 * P]
                                         : &s->opacity[q - 2 * P - s->ns];
        double an = q < 2 * P ? gxy[q] : q < 2 * P + s->ns ? gw[q - 2 * P] : ga[q - 2 * P - s->ns];
        gmax = fmax(gmax, fabs(an));
        /* (a) the float renderer */
        float v0 = *par, vp = (float)(v0 + h), vm = (float)(v0 - h);
        *par = vp;
        render(&R, s, W, H, img);
        double Lp = dot_f(img, dimg, hw);
        *par = vm;
        render(&R, s, W, H, img);
        double Lm = dot_f(img, dimg, hw);
        *par = v0;
        double fd = (Lp - Lm) / ((double)vp - (double)vm);
        double ea = fabs(an - fd);
        worst_a = fmax(worst_a, ea);
        if (ea > 4e-3 + 2e-3 * fabs(fd)) {
            if (bad_a++ < 5) printf("#   (a) param %d: analytic %.6g fd %.6g\n", q, an, fd);
        }
        /* (b) the double reference */
        to_double(s, dxy, dw, da);
        double *dv = q < 2 * P ? &dxy[q] : q < 2 * P + s->ns ? &dw[q - 2 * P] : &da[q - 2 * P - s->ns];
        double b0 = *dv;
        *dv = b0 + h2;
        ref_render(s, dxy, dw, da, soft, W, H, ref);
        Lp = dot_d(ref, dimg, hw);
        *dv = b0 - h2;
        ref_render(s, dxy, dw, da, soft, W, H, ref);
        Lm = dot_d(ref, dimg, hw);
        fd = (Lp - Lm) / (2 * h2);
        double eb = fabs(an - fd);
        worst_b = fmax(worst_b, eb);
        if (eb > 2e-4 + 1e-4 * fabs(fd)) {
            if (bad_b++ < 5) printf("#   (b) param %d: analytic %.6g fd %.6g\n", q, an, fd);
        }
    }
    CHECK(bad_a == 0,
          "%s: %d gradients (xy, width, opacity) vs float FD h=%g: worst |err| %.2g (max |g| %.3g)", name,
          npar, h, worst_a, gmax);
    CHECK(bad_b == 0, "%s: %d gradients vs double-reference FD h=%g: worst |err| %.2g", name, npar, h2,
          worst_b);
    free(img), free(dimg), free(ref), free(R.ws);
}

static void test_gradients(void) {
    rng_t r;
    /* search deterministically for kink-free random scenes */
    const struct {
        const char *name;
        int W, ns, maxpts;
        float wmin, wmax, soft;
    } cases[] = {
        {"fd random walks (w 1.5-4, softness 1)", 48, 4, 5, 1.5f, 4.f, 1.f},
        {"fd thin lines (w 0.4-0.9 < softness 1.5)", 40, 3, 4, 0.4f, 0.9f, 1.5f},
        {"fd wide soft lines (w 3-7, softness 3)", 48, 3, 5, 3.f, 7.f, 3.f},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sc_t s;
        int tries = 0;
        do {
            rng_seed(&r, 100 + 37 * c + (uint64_t)tries);
            sc_random(&s, &r, cases[c].W, cases[c].ns, cases[c].maxpts, cases[c].wmin, cases[c].wmax);
            tries++;
        } while (!kink_free(&s, cases[c].soft, cases[c].W, cases[c].W, 8e-3, 0) && tries < 200);
        fd_case(cases[c].name, &s, cases[c].soft, cases[c].W, cases[c].W, 7 + c);
    }
    /* a dot and a two-point stroke overlapping a polyline */
    sc_t s = {.ns = 3, .npts = {1, 2, 4}};
    float xy[] = {20.3f, 18.6f, 8.2f,  9.7f,  30.9f, 27.4f, 12.1f,
                  30.3f, 19.7f, 15.2f, 27.3f, 22.4f, 33.4f, 9.8f};
    memcpy(s.xy, xy, sizeof xy);
    s.width[0] = 5.2f, s.width[1] = 2.3f, s.width[2] = 3.1f;
    s.opacity[0] = 0.8f, s.opacity[1] = 1.0f, s.opacity[2] = 0.7f;
    sc_bind(&s);
    fd_case("fd dot + segment + polyline", &s, 1.2f, 40, 40, 99);
}

/* ---- 3. properties ---- */

static void test_properties(void) {
    const int W = 64, H = 48;
    static float img[64 * 48], img2[64 * 48], img3[64 * 48];
    rend_t R = {{1.0f}, NULL, 0, NULL};
    /* horizontal line y = 20.25, x 10.3 .. 50.3, width 3, softness 1 */
    sc_t s = {.ns = 1, .npts = {2}};
    float line[] = {10.3f, 20.25f, 50.3f, 20.25f};
    memcpy(s.xy, line, sizeof line);
    s.width[0] = 3, s.opacity[0] = 1;
    sc_bind(&s);
    render(&R, &s, W, H, img);
    CHECK(img[20 * W + 30] == 0.f, "line: centre pixel is full ink (img %g)", img[20 * W + 30]);
    CHECK(img[21 * W + 30] == 0.f, "line: d = 0.75 < w/2 - s/2 is full ink");
    /* row 22: d = 1.75, u = 0.25, t = 0.75, phi = 1 - 0.5625*1.5 */
    CHECK_CLOSE(img[22 * W + 30], 0.84375, 1e-6, 0, "line: ramp value at d = 1.75 (formula)");
    CHECK(img[18 * W + 30] == 1.f, "line: d = 2.25 > w/2 + s/2 is white");
    int outside_white = 1, inside_ok = 1;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            near_t q = seg_near(j, i, 10.3, 20.25, 50.3, 20.25);
            if (q.d >= 2.0 + 1e-4 && img[i * W + j] != 1.f) outside_white = 0;
            if (q.d <= 1.0 - 1e-4 && img[i * W + j] != 0.f) inside_ok = 0;
        }
    CHECK(outside_white, "line: every pixel at d >= w/2 + s/2 is exactly white (untouched)");
    CHECK(inside_ok, "line: every pixel at d <= w/2 - s/2 is exactly black");
    /* opacity scaling */
    s.opacity[0] = 0.5f;
    render(&R, &s, W, H, img2);
    int scaled = 1;
    for (int q = 0; q < W * H; q++) scaled &= fabsf((1 - img2[q]) - 0.5f * (1 - img[q])) <= 1e-6f;
    CHECK(scaled, "opacity 0.5 halves the ink everywhere");
    /* transpose symmetry of a diagonal */
    sc_t d = {.ns = 1, .npts = {3}};
    float diag[] = {5.5f, 5.5f, 20.25f, 20.25f, 40.75f, 40.75f};
    memcpy(d.xy, diag, sizeof diag);
    d.width[0] = 2.6f, d.opacity[0] = 0.9f;
    sc_bind(&d);
    render(&R, &d, 48, 48, img);
    double asym = 0;
    for (int i = 0; i < 48; i++)
        for (int j = 0; j < 48; j++) asym = fmax(asym, fabs(img[i * 48 + j] - img[j * 48 + i]));
    CHECK(asym <= 1e-6, "diagonal line: image symmetric under transpose (max diff %.2g)", asym);
    /* overlap: crossing strokes composite as 1 - (1-c1)(1-c2) and darker than either */
    sc_t a = {.ns = 1, .npts = {2}}, b = {.ns = 1, .npts = {2}}, ab = {.ns = 2, .npts = {2, 2}};
    float la[] = {10.2f, 24.3f, 50.1f, 24.3f}, lb[] = {30.4f, 5.1f, 30.4f, 44.7f};
    memcpy(a.xy, la, sizeof la), memcpy(b.xy, lb, sizeof lb);
    memcpy(ab.xy, la, sizeof la), memcpy(ab.xy + 4, lb, sizeof lb);
    a.width[0] = b.width[0] = ab.width[0] = ab.width[1] = 4;
    a.opacity[0] = b.opacity[0] = ab.opacity[0] = ab.opacity[1] = 0.6f;
    sc_bind(&a), sc_bind(&b), sc_bind(&ab);
    render(&R, &a, W, H, img), render(&R, &b, W, H, img2), render(&R, &ab, W, H, img3);
    int comp = 1;
    for (int q = 0; q < W * H; q++) comp &= fabsf(img3[q] - img[q] * img2[q]) <= 1e-6f;
    CHECK(comp, "two strokes: img = (1 - c1)(1 - c2) at every pixel");
    float ov = 1 - img3[24 * W + 30];
    CHECK(ov > 1 - img[24 * W + 30] && ov > 1 - img2[24 * W + 30] && fabsf(ov - 0.84f) < 1e-5f,
          "crossing: ink 0.84 = 1 - 0.4^2, darker than either stroke (%g)", ov);
    /* a dot: disc of radius w/2 */
    sc_t dot = {.ns = 1, .npts = {1}};
    dot.xy[0] = 20.5f, dot.xy[1] = 30.5f, dot.width[0] = 4, dot.opacity[0] = 1;
    sc_bind(&dot);
    render(&R, &dot, W, H, img);
    int dot_ok = 1;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            double dd = hypot(j - 20.5, i - 30.5), want = 1 - ref_phi(dd - 2, 1);
            dot_ok &= fabs(img[i * W + j] - want) <= 2e-6;
        }
    CHECK(dot_ok, "single-point stroke: a round dot of diameter w");
    float gd[2] = {0}, gdw = 0, gda = 0;
    static float ones[64 * 48];
    for (int q = 0; q < W * H; q++) ones[q] = 1;
    grads(&R, &dot, W, H, ones, gd, &gdw, &gda);
    CHECK(gdw < 0 && gda < 0 && fabsf(gd[0]) < 1e-5f * -gdw && fabsf(gd[1]) < 1e-5f * -gdw,
          "dot on a lattice-symmetric centre: d(sum img)/d(width, opacity) < 0, d/dxy = 0 (%.2g, %.2g)",
          gd[0], gd[1]);
    /* zero-length segments and a fully repeated stroke stay finite */
    sc_t z = {.ns = 2, .npts = {3, 2}};
    float zz[] = {10.5f, 10.5f, 10.5f, 10.5f, 30.2f, 12.7f, 40.1f, 40.1f, 40.1f, 40.1f};
    memcpy(z.xy, zz, sizeof zz);
    z.width[0] = z.width[1] = 3, z.opacity[0] = z.opacity[1] = 1;
    sc_bind(&z);
    render(&R, &z, W, H, img);
    float gz[10] = {0}, gzw[2] = {0}, gza[2] = {0};
    grads(&R, &z, W, H, ones, gz, gzw, gza);
    int fin = 1;
    for (int q = 0; q < 10; q++) fin &= isfinite(gz[q]);
    CHECK(fin && img[40 * W + 40] == 0.f && img[10 * W + 10] == 0.f,
          "zero-length segments: finite gradients, dot-like coverage");
    /* outside the canvas: strokes partly or fully off the canvas */
    sc_t off = {.ns = 2, .npts = {2, 2}};
    float oo[] = {-50.f, -20.f, 200.f, -20.f, -10.3f, 10.f, 30.7f, 10.f};
    memcpy(off.xy, oo, sizeof oo);
    off.width[0] = off.width[1] = 3, off.opacity[0] = off.opacity[1] = 1;
    sc_bind(&off);
    render(&R, &off, W, H, img);
    CHECK(img[10 * W + 0] == 0.f && fabsf(img[10 * W + 32] - 0.216f) < 1e-5f && img[10 * W + 33] == 1.f &&
              img[0] == 1.f,
          "strokes off the canvas are clipped, not wrapped");
    free(R.ws);
}

static void test_threads_and_errors(void) {
    /* a scene large enough for the split backward (>= SOFTLINE_PAR_MIN entries) */
    const int W = 400, H = 400;
    sc_t s;
    rng_t r;
    rng_seed(&r, 5);
    s.ns = 8;
    int o = 0;
    for (int k = 0; k < 8; k++) {
        s.npts[k] = 20;
        for (int i = 0; i < 20; i++) {
            s.xy[2 * (o + i)] = (float)rng_range(&r, 10, 390);
            s.xy[2 * (o + i) + 1] = (float)rng_range(&r, 10, 390);
        }
        o += 20;
        s.width[k] = 6, s.opacity[k] = 0.8f;
    }
    sc_bind(&s);
    float *img = malloc(sizeof(float) * W * H), *dimg = malloc(sizeof(float) * W * H);
    for (int q = 0; q < W * H; q++) dimg[q] = (float)rng_range(&r, -1, 1);
    static float g1[2 * MAXP], g2[2 * MAXP], w1[MAXS], w2[MAXS], a1[MAXS], a2[MAXS];
    rend_t R = {{1.0f}, NULL, 0, NULL};
    render(&R, &s, W, H, img);
    grads(&R, &s, W, H, dimg, g1, w1, a1);
    pool_t pool;
    pool_init(&pool, 4, NULL);
    nn_par_t par = pool_par(&pool);
    R.par = &par;
    grads(&R, &s, W, H, dimg, g2, w2, a2);
    R.par = NULL;
    pool_free(&pool);
    CHECK(!memcmp(g1, g2, sizeof g1) && !memcmp(w1, w2, sizeof w1) && !memcmp(a1, a2, sizeof a1),
          "a backward split over a 4-thread pool is bit-identical to serial (and backward is repeatable)");
    /* the same ws reused on a smaller canvas */
    sc_t t = s;
    t.ns = 2;
    sc_bind(&t);
    CHECK(render(&R, &t, 64, 64, img) == 0, "ws reused across canvas sizes");
    softline_fault_t e;
    softline_cfg_t bad = {0.f};
    softline_scene_t ts = cs(&t), ss = cs(&s);
    CHECK(softline_forward(&bad, R.ws, &ts, 64, 64, img, &e) == SOFTLINE_ESOFTNESS && e.code == SOFTLINE_ESOFTNESS &&
              strstr(e.msg, "softness"),
          "softness 0 is refused: %s", e.msg);
    t.xy[3] = NAN;
    CHECK(softline_forward(&R.cfg, R.ws, &ts, 64, 64, img, &e) == SOFTLINE_ENONFINITE && e.stroke == 0 &&
              e.point == 1 && strstr(e.msg, "point 1"),
          "a NaN point is refused: %s", e.msg);
    CHECK(softline_forward(&R.cfg, R.ws, &ts, 0, 64, img, NULL) == SOFTLINE_ECANVAS, "a 0-wide canvas is refused");
    void *fresh = calloc(1, softline_ws_size(&R.cfg, &ss, W, H));
    softline_grad_t g = {g1, w1, a1};
    CHECK(softline_backward(&R.cfg, fresh, &ss, W, H, dimg, &g, NULL, &e) == SOFTLINE_ESTATE,
          "backward before any forward is refused: %s", e.msg);
    free(fresh), free(img), free(dimg), free(R.ws);
}

static void test_plugin(void) {
    const char *dir = getenv("PLUGINS");
    char path[512];
    snprintf(path, sizeof path, "%s/softline.so:softness=1.5", dir ? dir : "build/plugins");
    plugin_t p;
    err_t e = {0};
    int rc = plugin_open(&p, path, PLUGIN_RENDERER, &e);
    CHECK(rc == 0, "plugin opens as a renderer (%s)", rc ? e.msg : p.path);
    if (rc) return;
    plugin_host_t host = {.abi = INVCLIP_PLUGIN_ABI};
    CHECK(plugin_init(&p, &host, &e) == 0, "plugin init");
    sc_t s;
    rng_t r;
    rng_seed(&r, 3);
    sc_random(&s, &r, 64, 4, 6, 1, 4);
    const renderer_vt *vt = p.d->renderer;
    static float img[64 * 64], img2[64 * 64];
    void *ws = plugin_ws(&p, vt->ws_size(p.state, &s.sc, 64, 64));
    plugin_err_t pe = {{0}};
    CHECK(vt->forward(p.state, ws, &host, &s.sc, 64, 64, img, &pe) == 0, "plugin forward");
    rend_t R = {{1.5f}, NULL, 0, NULL};
    render(&R, &s, 64, 64, img2);
    CHECK(!memcmp(img, img2, sizeof img), "plugin = core with softness=1.5");
    float gxy[2 * MAXP] = {0};
    scene_grad_t g = {gxy, NULL, NULL};
    CHECK(vt->backward(p.state, ws, &host, &s.sc, 64, 64, img2, &g, &pe) == 0,
          "plugin backward with NULL width/opacity "
          "gradients");
    /* the core's refusals become exit codes with its message */
    float keep = s.xy[3];
    s.xy[3] = NAN;
    CHECK(vt->forward(p.state, ws, &host, &s.sc, 64, 64, img, &pe) == EXIT_NUMERIC && strstr(pe.msg, "point 1"),
          "plugin: a NaN point is EXIT_NUMERIC: %s", pe.msg);
    s.xy[3] = keep;
    CHECK(vt->forward(p.state, ws, &host, &s.sc, 0, 64, img, &pe) == EXIT_USAGE && strstr(pe.msg, "canvas"),
          "plugin: a bad canvas is EXIT_USAGE: %s", pe.msg);
    plugin_close(&p);
    err_t e2 = {0};
    snprintf(path, sizeof path, "%s/softline.so:softness=0", dir ? dir : "build/plugins");
    CHECK(plugin_open(&p, path, PLUGIN_RENDERER, &e2) == EXIT_USAGE, "softness=0 out of range: %s", e2.msg);
    free(R.ws);
}

int main(void) {
    test_golden();
    test_gradients();
    test_properties();
    test_threads_and_errors();
    test_plugin();
    T_DONE();
}
