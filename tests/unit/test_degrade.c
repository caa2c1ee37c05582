/* test_degrade.c - unit tests for common/degrade: each degradation's defining
 * property (statistics, hand-computed simplify indices, geometry of
 * overshoot/affine/tremor, smoothness and bound of the elastic field), value
 * drawing, range and spec parsing, plans (mix frequencies, JSON, rel units). */
#include <stdlib.h>
#include <string.h>
#include "degrade.h"
#include "t.h"

static void line_stroke(drawing_t *d, int n, const double *x, const double *y) { drawing_add(d, n, x, y, NULL); }

static double stroke_len(const stroke_t *s) {
    double L = 0;
    for (int j = 0; j + 1 < s->n; j++) L += hypot(s->x[j + 1] - s->x[j], s->y[j + 1] - s->y[j]);
    return L;
}

/* Distance from (px,py) to the polyline s. */
static double dist_polyline(const stroke_t *s, double px, double py) {
    double best = hypot(px - s->x[0], py - s->y[0]);
    for (int j = 0; j + 1 < s->n; j++) {
        double ax = s->x[j], ay = s->y[j], bx = s->x[j + 1] - ax, by = s->y[j + 1] - ay;
        double l2 = bx * bx + by * by, f = l2 > 0 ? ((px - ax) * bx + (py - ay) * by) / l2 : 0;
        if (f < 0) f = 0;
        if (f > 1) f = 1;
        double dd = hypot(px - ax - f * bx, py - ay - f * by);
        if (dd < best) best = dd;
    }
    return best;
}

static void test_noise(void) {
    drawing_t d;
    drawing_init(&d);
    int n = 40000;
    drawing_add_empty(&d, n, 0);
    for (int j = 0; j < n; j++) d.s[0].x[j] = d.s[0].y[j] = 100;
    rng_t r;
    rng_seed(&r, 3);
    degrade_noise(&d, 5, &r);
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    for (int j = 0; j < n; j++) {
        double x = d.s[0].x[j] - 100, y = d.s[0].y[j] - 100;
        sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y;
    }
    double stdx = sqrt(sxx / n - (sx / n) * (sx / n)), stdy = sqrt(syy / n - (sy / n) * (sy / n));
    CHECK_CLOSE(stdx, 5, 0, 0.02, "noise: std of x ~ level 5 (%.4f)", stdx);
    CHECK_CLOSE(stdy, 5, 0, 0.02, "noise: std of y ~ level 5 (%.4f)", stdy);
    CHECK(fabs(sx / n) < 0.1 && fabs(sy / n) < 0.1, "noise: mean ~ 0 (%.4f, %.4f)", sx / n, sy / n);
    CHECK(fabs(sxy / n) / 25 < 0.02, "noise: x and y independent (corr %.4f)", sxy / n / 25);
    drawing_free(&d);
}

static void test_simplify(void) {
    struct { int n; double keep; int k; int idx[16]; } c[] = {
        {10, 0.5, 5, {0, 2, 4, 6, 9}},          /* step 9/4 = 2.25 */
        {7, 0.3, 2, {0, 6}},                    /* floor(2.1) = 2 */
        {3, 0.5, 2, {0, 2}},                    /* max(2, 1) = 2 < 3 */
        {2, 0.9, 2, {0, 1}},                    /* n <= k: unchanged */
        {5, 1.0, 5, {0, 1, 2, 3, 4}},           /* n <= k: unchanged */
        {1, 0.5, 1, {0}},                       /* a dot */
        {18, 0.7, 12, {0, 1, 3, 4, 6, 7, 9, 10, 12, 13, 15, 17}}, /* step 17/11 */
        {11, 0.3, 3, {0, 5, 10}},               /* step 5 */
        {6, 0.0, 2, {0, 5}},                    /* keep 0 still keeps the ends */
    };
    int idx[32];
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int k = degrade_simplify_indices(c[i].n, c[i].keep, idx);
        int same = k == c[i].k;
        for (int q = 0; same && q < k; q++) same = idx[q] == c[i].idx[q];
        CHECK(same, "simplify indices n=%d keep=%g -> k=%d (got k=%d, idx[1]=%d)", c[i].n, c[i].keep, c[i].k, k,
              k > 1 ? idx[1] : -1);
    }
    /* on a drawing, with times: points and times at those indices */
    drawing_t d;
    drawing_init(&d);
    double x[10], y[10], t[10];
    for (int j = 0; j < 10; j++) { x[j] = j; y[j] = 10 * j; t[j] = 100 * j; }
    drawing_add(&d, 10, x, y, t);
    drawing_add(&d, 2, x, y, NULL);
    degrade_simplify(&d, 0.5);
    int want[5] = {0, 2, 4, 6, 9}, ok = d.s[0].n == 5 && d.s[0].t && d.s[1].n == 2 && !d.s[1].t;
    for (int q = 0; ok && q < 5; q++)
        ok = d.s[0].x[q] == want[q] && d.s[0].y[q] == 10 * want[q] && d.s[0].t[q] == 100 * want[q];
    CHECK(ok, "simplify keeps x, y and t at the indices; a 2-point stroke is unchanged");
    drawing_free(&d);
}

static void test_jitter(void) {
    drawing_t d, o;
    drawing_init(&d);
    drawing_init(&o);
    int ns = 4000;
    double x[5] = {0, 1, 5, 2, 7}, y[5] = {3, 1, 4, 1, 5};
    for (int i = 0; i < ns; i++) line_stroke(&d, 5, x, y);
    drawing_copy(&o, &d);
    rng_t r;
    rng_seed(&r, 9);
    degrade_jitter(&d, 4, &r);
    int rigid = 1;
    double s2 = 0;
    for (int i = 0; i < ns; i++) {
        double dx = d.s[i].x[0] - o.s[i].x[0], dy = d.s[i].y[0] - o.s[i].y[0];
        for (int j = 1; j < 5; j++)
            if (fabs(d.s[i].x[j] - o.s[i].x[j] - dx) > 1e-12 || fabs(d.s[i].y[j] - o.s[i].y[j] - dy) > 1e-12) rigid = 0;
        s2 += dx * dx + dy * dy;
    }
    CHECK(rigid, "jitter: one offset for all points of a stroke");
    CHECK_CLOSE(sqrt(s2 / (2 * ns)), 4, 0, 0.04, "jitter: offset std ~ amount 4");
    CHECK(d.s[0].x[0] != d.s[1].x[0], "jitter: strokes get different offsets");
    drawing_free(&d);
    drawing_free(&o);
}

static void test_dropout(void) {
    drawing_t d;
    drawing_init(&d);
    int ns = 2000;
    for (int i = 0; i < ns; i++) {
        double v = i;
        line_stroke(&d, 1, &v, &v);
    }
    rng_t r;
    rng_seed(&r, 5);
    degrade_dropout(&d, 0.3, &r);
    double rate = 1 - (double)d.nstrokes / ns; /* sigma = sqrt(.21/2000) ~ 0.010 */
    CHECK(fabs(rate - 0.3) < 0.035, "dropout: empirical rate %.4f ~ p 0.3", rate);
    int ordered = 1;
    for (int i = 1; i < d.nstrokes; i++) ordered &= d.s[i].x[0] > d.s[i - 1].x[0];
    CHECK(ordered, "dropout: kept strokes keep their order");
    /* p = 1: never all dropped; the survivor is uniform over the strokes */
    int hist[4] = {0}, always1 = 1;
    for (int k = 0; k < 4000; k++) {
        drawing_clear(&d);
        for (int i = 0; i < 4; i++) {
            double v = i;
            line_stroke(&d, 1, &v, &v);
        }
        degrade_dropout(&d, 1, &r);
        always1 &= d.nstrokes == 1;
        hist[(int)d.s[0].x[0]]++;
    }
    CHECK(always1, "dropout p=1 keeps exactly one stroke");
    CHECK(abs(hist[0] - 1000) < 120 && abs(hist[3] - 1000) < 120, "dropout p=1 survivor uniform (%d %d %d %d)", hist[0],
          hist[1], hist[2], hist[3]);
    drawing_clear(&d);
    double v = 1;
    line_stroke(&d, 1, &v, &v);
    line_stroke(&d, 1, &v, &v);
    degrade_dropout(&d, 0, &r);
    CHECK(d.nstrokes == 2, "dropout p=0 keeps everything");
    drawing_free(&d);
}

static void test_overshoot(void) {
    /* an L: (0,0) -> (10,0) -> (10,10); length 20 */
    double x[3] = {0, 10, 10}, y[3] = {0, 0, 10};
    drawing_t d;
    drawing_init(&d);
    rng_t r;
    rng_seed(&r, 1);
    line_stroke(&d, 3, x, y);
    degrade_overshoot(&d, 0.1, 0, 1000, &r);
    const stroke_t *s = &d.s[0];
    CHECK(s->n == 3 && fabs(s->x[0] + 2) < 1e-12 && fabs(s->y[0]) < 1e-12 && fabs(s->x[2] - 10) < 1e-12 &&
              fabs(s->y[2] - 12) < 1e-12,
          "overshoot +0.1: ends move 2 units along their tangents: (%g,%g) (%g,%g)", s->x[0], s->y[0], s->x[2], s->y[2]);
    CHECK_CLOSE(stroke_len(s), 24, 1e-12, 0, "overshoot +0.1: length 20 -> 24");
    drawing_clear(&d);
    line_stroke(&d, 3, x, y);
    degrade_overshoot(&d, -0.2, 0, 1000, &r);
    s = &d.s[0];
    CHECK(s->n == 3 && fabs(s->x[0] - 4) < 1e-12 && fabs(s->y[0]) < 1e-12 && s->x[1] == 10 && s->y[1] == 0 &&
              fabs(s->x[2] - 10) < 1e-12 && fabs(s->y[2] - 6) < 1e-12,
          "overshoot -0.2: cut 4 units off each end, corner kept");
    CHECK_CLOSE(stroke_len(s), 12, 1e-12, 0, "overshoot -0.2: length 20 -> 12");
    /* the strongest undershoot never goes below 2 points and 10% of the length */
    int ok = 1;
    for (int k = 0; k < 200; k++) {
        drawing_clear(&d);
        line_stroke(&d, 3, x, y);
        degrade_overshoot(&d, -0.45, 1, 1000, &r);
        double L = stroke_len(&d.s[0]);
        if (d.s[0].n < 2 || L < 2 - 1e-9) ok = 0;
    }
    CHECK(ok, "overshoot -0.45 spread 1: >= 2 points and >= 10%% of the length");
    /* spread: mean extension over many strokes ~ amount */
    drawing_clear(&d);
    double sx[2] = {0, 100}, sy[2] = {0, 0};
    for (int k = 0; k < 2000; k++) line_stroke(&d, 2, sx, sy);
    degrade_overshoot(&d, 0.2, 0.5, 1000, &r);
    double mean = 0, lo = 1e9, hi = -1e9;
    for (int k = 0; k < 2000; k++) {
        double e = d.s[k].x[1] - 100;
        mean += e / 2000;
        lo = fmin(lo, e);
        hi = fmax(hi, e);
    }
    CHECK(fabs(mean - 20) < 0.5 && lo >= 10 - 1e-9 && hi <= 30 + 1e-9,
          "overshoot 0.2 spread 0.5: end extension in [10,30], mean %.3f ~ 20", mean);
    /* the cap: a long stroke changes by at most max at each end */
    drawing_clear(&d);
    sx[1] = 1000;
    line_stroke(&d, 2, sx, sy);
    line_stroke(&d, 2, sx, sy);
    degrade_overshoot(&d, 0.3, 0, 12, &r);
    double l1 = stroke_len(&d.s[0]);
    degrade_overshoot(&d, -0.3, 0, 12, &r);
    CHECK(fabs(l1 - 1024) < 1e-9 && fabs(stroke_len(&d.s[1]) - 1000) < 1e-9 && fabs(stroke_len(&d.s[0]) - 1000) < 1e-9,
          "overshoot max=12: +0.3 of 1000 -> 1024, then -0.3 -> 1000 (%.3f)", l1);
    drawing_clear(&d);
    double px = 3, py = 4;
    line_stroke(&d, 1, &px, &py);
    degrade_overshoot(&d, 0.5, 0, 1000, &r);
    CHECK(d.s[0].n == 1 && d.s[0].x[0] == 3, "overshoot leaves a dot alone");
    drawing_free(&d);
}

static void test_overdraw(void) {
    drawing_t d;
    drawing_init(&d);
    for (int i = 0; i < 5; i++) { /* stroke i has its own shape: a peak of height i+1 */
        double x[3] = {i, i + 1, i + 2}, y[3] = {0, i + 1, 0};
        line_stroke(&d, 3, x, y);
    }
    rng_t r;
    rng_seed(&r, 2);
    degrade_overdraw(&d, 2, 1.5, 0, &r);
    int ok = d.nstrokes == 7, next = 0, ncopy = 0;
    for (int i = 0; ok && i < d.nstrokes; i++) {
        const stroke_t *b = &d.s[i];
        int shape = (int)lround(b->y[1] - b->y[0]) - 1;
        if (shape == next && b->x[0] == next && b->y[0] == 0) { next++; continue; } /* the next original */
        /* otherwise a copy of the previous stroke: same shape, one rigid offset */
        const stroke_t *a = &d.s[i - 1];
        double ox = b->x[0] - a->x[0], oy = b->y[0] - a->y[0];
        for (int j = 0; j < 3; j++)
            if (fabs(b->x[j] - a->x[j] - ox) > 1e-9 || fabs(b->y[j] - a->y[j] - oy) > 1e-9) ok = 0;
        if (i >= 2 && d.s[i - 2].y[1] - d.s[i - 2].y[0] == a->y[1] - a->y[0]) ok = 0; /* no copy of a copy */
        ncopy++;
    }
    CHECK(ok && next == 5 && ncopy == 2,
          "overdraw count=2: originals in order, each copy right after its original, rigidly offset (%d copies)", ncopy);
    degrade_overdraw(&d, 50, 1, 0.5, &r);
    CHECK(d.nstrokes == 14, "overdraw count > strokes retraces every stroke once (%d)", d.nstrokes);
    drawing_free(&d);
}

static void test_affine(void) {
    drawing_t d, o;
    drawing_init(&d);
    drawing_init(&o);
    rng_t r;
    rng_seed(&r, 11);
    for (int i = 0; i < 500; i++) {
        double x[6], y[6];
        for (int j = 0; j < 6; j++) { x[j] = rng_range(&r, 0, 255); y[j] = rng_range(&r, 0, 255); }
        line_stroke(&d, 6, x, y);
    }
    drawing_copy(&o, &d);
    degrade_affine(&d, 20, 0.2, 5, &r);
    int sim = 1, moved = 0;
    double s2 = 0;
    for (int i = 0; i < d.nstrokes; i++) {
        const stroke_t *a = &o.s[i], *b = &d.s[i];
        /* similarity: every vector p_j - p_0 maps by one complex factor z */
        double ax = a->x[1] - a->x[0], ay = a->y[1] - a->y[0], bx = b->x[1] - b->x[0], by = b->y[1] - b->y[0];
        double den = ax * ax + ay * ay;
        double zr = (bx * ax + by * ay) / den, zi = (by * ax - bx * ay) / den;
        for (int j = 2; j < 6; j++) {
            double ux = a->x[j] - a->x[0], uy = a->y[j] - a->y[0];
            double wx = zr * ux - zi * uy, wy = zi * ux + zr * uy;
            if (hypot(wx - (b->x[j] - b->x[0]), wy - (b->y[j] - b->y[0])) > 1e-9 * (1 + hypot(ux, uy))) sim = 0;
        }
        if (fabs(zr - 1) > 1e-6 || fabs(zi) > 1e-6) moved++;
        double cax = 0, cay = 0, cbx = 0, cby = 0;
        for (int j = 0; j < 6; j++) { cax += a->x[j]; cay += a->y[j]; cbx += b->x[j]; cby += b->y[j]; }
        s2 += pow((cbx - cax) / 6, 2) + pow((cby - cay) / 6, 2);
    }
    CHECK(sim, "affine: each stroke maps by a similarity (rotation+scale+shift)");
    CHECK(moved == d.nstrokes, "affine: every stroke actually rotated/scaled");
    CHECK_CLOSE(sqrt(s2 / (2 * d.nstrokes)), 5, 0, 0.1, "affine: centroids move by N(0, shift^2) only");
    drawing_free(&d);
    drawing_free(&o);
}

static void test_elastic(void) {
    drawing_t d;
    drawing_init(&d);
    double x[2] = {0, 255}, y[2] = {0, 200};
    line_stroke(&d, 2, x, y);
    rng_t r;
    rng_seed(&r, 4);
    double A = 6, S = 40;
    elastic_field_t f;
    elastic_field_init(&f, &d, A, S, &r);
    double maxd = 0, worst = 0;
    rng_t q;
    rng_seed(&q, 8);
    for (int k = 0; k < 20000; k++) {
        double px = rng_range(&q, -20, 275), py = rng_range(&q, -20, 220);
        double h = rng_range(&q, 0.01, 5), a = rng_range(&q, 0, 6.283);
        double dx, dy, ex, ey;
        elastic_field_eval(&f, px, py, &dx, &dy);
        elastic_field_eval(&f, px + h * cos(a), py + h * sin(a), &ex, &ey);
        maxd = fmax(maxd, hypot(dx, dy));
        /* Lipschitz bound of smoothstep-bilinear interpolation: 3*sqrt(2)*A/S */
        worst = fmax(worst, hypot(ex - dx, ey - dy) / (h * 3 * sqrt(2) * A / S));
    }
    CHECK(maxd <= A + 1e-12 && maxd > 0.3 * A, "elastic: |displacement| <= amplitude (max %.3f of %g)", maxd, A);
    CHECK(worst <= 1 + 1e-9, "elastic: smooth, |D(p)-D(q)| <= 3*sqrt(2)*A/S*|p-q| (worst ratio %.3f)", worst);
    /* neighbouring points on a stroke move alike: 1 unit apart vs. 200 apart */
    double near = 0, far = 0;
    for (int k = 0; k < 200; k++) {
        double dx, dy, ex, ey;
        elastic_field_eval(&f, k, 100, &dx, &dy);
        elastic_field_eval(&f, k + 1, 100, &ex, &ey);
        near += hypot(ex - dx, ey - dy) / 200;
        elastic_field_eval(&f, 255 - k, 0, &ex, &ey);
        far += hypot(ex - dx, ey - dy) / 200;
    }
    CHECK(near < 0.1 * far, "elastic: neighbours move alike (mean diff %.4f at 1 unit, %.4f far)", near, far);
    /* degrade_elastic applies exactly that field */
    rng_t r1, r2;
    rng_seed(&r1, 77);
    r2 = r1;
    elastic_field_init(&f, &d, A, S, &r1);
    double dx, dy;
    elastic_field_eval(&f, 255, 200, &dx, &dy);
    degrade_elastic(&d, A, S, &r2);
    CHECK(fabs(d.s[0].x[1] - 255 - dx) < 1e-12 && fabs(d.s[0].y[1] - 200 - dy) < 1e-12, "elastic moves points by the field");
    drawing_free(&d);
}

static void test_tremor(void) {
    drawing_t d, o;
    drawing_init(&d);
    drawing_init(&o);
    double x[5] = {0, 60, 60, 120, 30}, y[5] = {0, 0, 80, 20, 20}, t[5] = {0, 10, 20, 30, 40};
    drawing_add(&d, 5, x, y, t);
    double px = 7, py = 7;
    line_stroke(&d, 1, &px, &py);
    drawing_copy(&o, &d);
    rng_t r;
    rng_seed(&r, 6);
    degrade_tremor(&d, 3, 20, 2, &r);
    const stroke_t *s = &d.s[0];
    double L = stroke_len(&o.s[0]), maxd = 0, mind = 1e9;
    int mono = 1;
    for (int j = 0; j < s->n; j++) {
        double dd = dist_polyline(&o.s[0], s->x[j], s->y[j]);
        maxd = fmax(maxd, dd);
        mind = fmin(mind, dd);
        if (j && s->t[j] < s->t[j - 1]) mono = 0;
    }
    CHECK(maxd <= 3 + 1e-9 && maxd > 1, "tremor: within amplitude 3 of the polyline (max %.3f)", maxd);
    CHECK(s->n >= L / 2 && s->n <= L / 2 + 6, "tremor: resampled at spacing 2 (%d points, length %.1f)", s->n, L);
    CHECK(mono && s->t[0] == 0 && s->t[s->n - 1] == 40, "tremor: times interpolated, monotone");
    CHECK(d.s[1].n == 1 && d.s[1].x[0] == 7, "tremor leaves a dot alone");
    /* amplitude 0: the points lie on the polyline and include its vertices */
    drawing_copy(&d, &o);
    degrade_tremor(&d, 0, 20, 2, &r);
    int found = 0;
    maxd = 0;
    for (int j = 0; j < d.s[0].n; j++) {
        maxd = fmax(maxd, dist_polyline(&o.s[0], d.s[0].x[j], d.s[0].y[j]));
        for (int v = 0; v < 5; v++)
            if (fabs(d.s[0].x[j] - x[v]) < 1e-9 && fabs(d.s[0].y[j] - y[v]) < 1e-9) { found |= 1 << v; break; }
    }
    CHECK(maxd < 1e-9 && found == 31, "tremor amplitude 0: resampling only, vertices kept");
    /* smooth: consecutive displacements differ little compared with the amplitude */
    drawing_clear(&d);
    double lx[2] = {0, 1000}, ly[2] = {0, 0};
    line_stroke(&d, 2, lx, ly);
    degrade_tremor(&d, 3, 40, 1, &r);
    double jump = 0;
    for (int j = 1; j < d.s[0].n; j++) jump = fmax(jump, fabs(d.s[0].y[j] - d.s[0].y[j - 1]));
    /* value noise slope <= 1.5 * 2A / (wavelength/2) per unit = 0.45 */
    CHECK(jump <= 0.45 + 1e-9 && jump > 0.05, "tremor: smooth wobble (largest step %.3f per unit)", jump);
    drawing_free(&d);
    drawing_free(&o);
}

static void test_parse(void) {
    double lo, hi;
    err_t e = {0};
    struct { const char *s; double lo, hi; } good[] = {
        {"5", 5, 5}, {"3..10", 3, 10}, {"-0.2..0.3", -0.2, 0.3}, {"1e-3..2e+1", 0.001, 20}, {"-5..-1", -5, -1}, {"2..2", 2, 2},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(!degrade_parse_range(good[i].s, &lo, &hi, &e) && lo == good[i].lo && hi == good[i].hi, "range '%s'", good[i].s);
    const char *bad[] = {"", "..", "3..", "..3", "abc", "10..3", "1..2..3", "nan", "inf", "1e999", " 3", "3 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e.code = 0;
        CHECK(degrade_parse_range(bad[i], &lo, &hi, &e) == EXIT_USAGE, "bad range '%s' refused: %s", bad[i], e.msg);
    }
    degrade_step_t st;
    CHECK(!degrade_parse_step("noise", &st, &e) && st.lo[0] == 5 && st.hi[0] == 5, "'noise' takes the default level");
    CHECK(!degrade_parse_step("tremor:wavelength=20,amplitude=1..3", &st, &e) && st.lo[0] == 1 && st.hi[0] == 3 &&
              st.lo[1] == 20 && st.lo[2] == 2,
          "tremor keys in any order, others default");
    struct { const char *s, *want; } errs[] = {
        {"foo", "unknown degradation 'foo'"},
        {"noise:lvl=3", "noise has no parameter 'lvl' (it has: level)"},
        {"noise:level=200", "out of range"},
        {"noise:level=3..200", "out of range"},
        {"overdraw:count=1.5", "must be an integer"},
        {"overdraw:count=1..2.5", "must be an integer"},
        {"noise:level", "is not key=value"},
        {"noise:", "empty parameter list"},
        {"noise:level=1,level=2", "given twice"},
        {"noise:level=1,", "trailing ','"},
        {":level=1", "no degradation name"},
        {"noise:level=abc", "not a number or a range"},
        {"noise:level=8..3", "lo > hi"},
        {"dropout:p=-0.1", "out of range"},
    };
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        e.code = 0;
        e.msg[0] = 0;
        int rc = degrade_parse_step(errs[i].s, &st, &e);
        char quoted[128];
        snprintf(quoted, sizeof quoted, "'%s'", errs[i].s);
        CHECK(rc == EXIT_USAGE && strstr(e.msg, errs[i].want) && strstr(e.msg, quoted), "spec '%s' -> %s (got: %s)",
              errs[i].s, errs[i].want, e.msg);
    }
    degrade_chain_t c = {0};
    CHECK(!degrade_parse_chain("tremor:amplitude=1+overshoot:amount=-0.1..1e+0", &c, &e) && c.n == 2 &&
              c.v[1].hi[0] == 1 && !strcmp(c.v[1].d->name, "overshoot"),
          "chain with '+', '1e+0' stays a number");
    degrade_chain_free(&c);
    CHECK(degrade_parse_chain("noise+", &c, &e) == EXIT_USAGE, "chain 'noise+' refused: %s", e.msg);
    CHECK(degrade_parse_chain("jitter+noise++jitter", &c, &e) == EXIT_USAGE, "chain 'jitter+noise++jitter' refused: %s", e.msg);
    degrade_chain_free(&c);
    degrade_plan_t p;
    degrade_plan_init(&p);
    CHECK(degrade_plan_add_mix(&p, "noise;;jitter", &e) == EXIT_USAGE && strstr(e.msg, "empty spec"), "mix with an empty spec refused");
    degrade_plan_free(&p);
}

static void test_draw(void) {
    degrade_step_t st;
    err_t e = {0};
    rng_t r;
    rng_seed(&r, 12);
    degrade_parse_step("overdraw:count=2..5,offset=1..2,noise=0.7", &st, &e);
    int hist[8] = {0}, ok = 1;
    for (int k = 0; k < 8000; k++) {
        double v[DEGRADE_MAXP];
        degrade_draw(&st, &r, v);
        if (v[0] < 2 || v[0] > 5 || v[0] != floor(v[0])) ok = 0;
        else hist[(int)v[0]]++;
        if (v[1] < 1 || v[1] > 2 || fabs(v[1] * 1e4 - round(v[1] * 1e4)) > 1e-6) ok = 0;
        if (v[2] != 0.7) ok = 0;
    }
    CHECK(ok, "draw: integer in 2..5, real in [1,2] at 4 decimals, fixed value exact");
    CHECK(abs(hist[2] - 2000) < 200 && abs(hist[5] - 2000) < 200, "draw: integer range inclusive and uniform (%d %d %d %d)",
          hist[2], hist[3], hist[4], hist[5]);
    buf_t b = {0};
    double v[3] = {3, 1.25, 0.7};
    degrade_json(&b, st.d, v, 1);
    CHECK(!strcmp(b.s, "{\"name\":\"overdraw\",\"count\":3,\"offset\":1.25,\"noise\":0.7}"), "json: %s", b.s);
    buf_free(&b);
}

static void test_plan(void) {
    degrade_plan_t p;
    degrade_plan_init(&p);
    err_t e = {0};
    CHECK(!degrade_plan_add_mix(&p, "noise:level=3..10;simplify:keep=0.3..0.7;jitter:amount=2..8", &e) && p.nmix == 3, "study mix parses");
    int hist[3] = {0};
    drawing_t d;
    drawing_init(&d);
    double x[4] = {0, 10, 20, 30}, y[4] = {0, 5, 0, 5};
    buf_t j = {0};
    for (int k = 0; k < 3000; k++) {
        drawing_clear(&d);
        line_stroke(&d, 4, x, y);
        rng_t r;
        rng_seed2(&r, 0, (uint64_t)k);
        j.len = 0;
        if (degrade_plan_run(&p, &d, 1, &r, &j, &e)) break;
        hist[strstr(j.s, "noise") ? 0 : strstr(j.s, "simplify") ? 1 : 2]++;
    }
    CHECK(abs(hist[0] - 1000) < 100 && abs(hist[1] - 1000) < 100 && abs(hist[2] - 1000) < 100,
          "mix picks uniformly (%d %d %d)", hist[0], hist[1], hist[2]);
    degrade_plan_free(&p);

    /* rel units: degrading 10x the drawing gives 10x the result, for every degradation */
    degrade_plan_init(&p);
    CHECK(!degrade_plan_add_fixed(&p, "noise:level=2+simplify:keep=0.8+jitter:amount=3+tremor+dropout:p=0.1+overshoot:amount=-0.2..0.3"
                                      "+overdraw:count=2+affine+elastic:amplitude=5,scale=30", &e),
          "fixed chain of all nine: %s", e.msg);
    drawing_t a, b;
    drawing_init(&a);
    drawing_init(&b);
    rng_t r;
    rng_seed(&r, 99);
    for (int i = 0; i < 6; i++) {
        double xs[8], ys[8];
        for (int k = 0; k < 8; k++) { xs[k] = rng_range(&r, 0, 255); ys[k] = rng_range(&r, 0, 180); }
        line_stroke(&a, 8, xs, ys);
        for (int k = 0; k < 8; k++) { xs[k] *= 10; ys[k] *= 10; }
        line_stroke(&b, 8, xs, ys);
    }
    double ua = degrade_rel_unit(&a), ub = degrade_rel_unit(&b);
    CHECK_CLOSE(ub, 10 * ua, 0, 1e-12, "rel unit scales with the drawing");
    rng_t ra, rb;
    rng_seed(&ra, 5);
    rb = ra;
    buf_t ja = {0}, jb = {0};
    int rc = degrade_plan_run(&p, &a, ua, &ra, &ja, &e) || degrade_plan_run(&p, &b, ub, &rb, &jb, &e);
    int same = !rc && a.nstrokes == b.nstrokes;
    double worst = 0;
    for (int i = 0; same && i < a.nstrokes; i++) {
        same = a.s[i].n == b.s[i].n;
        for (int k = 0; same && k < a.s[i].n; k++)
            worst = fmax(worst, fmax(fabs(10 * a.s[i].x[k] - b.s[i].x[k]), fabs(10 * a.s[i].y[k] - b.s[i].y[k])));
    }
    CHECK(same && worst < 1e-7, "rel units: all nine degradations scale-equivariant (worst %.3g, %d strokes)", worst, a.nstrokes);
    CHECK(strstr(ja.s, "\"unit\":") && strstr(ja.s, "{\"name\":\"elastic\",\"amplitude\":5,\"scale\":30,\"unit\":"),
          "rel units recorded: %.120s", ja.s);
    /* appending after the caller's text: no leading comma, one between steps */
    ja.len = 0;
    buf_puts(&ja, "[{\"old\":1},");
    degrade_plan_t p2;
    degrade_plan_init(&p2);
    degrade_plan_add_fixed(&p2, "jitter:amount=0+noise:level=0", &e);
    rc = degrade_plan_run(&p2, &a, 1, &ra, &ja, &e);
    CHECK(!rc && !strcmp(ja.s, "[{\"old\":1},{\"name\":\"jitter\",\"amount\":0},{\"name\":\"noise\",\"level\":0}"),
          "plan appends after the caller's text: %s", ja.s);
    /* on error nothing is appended */
    drawing_clear(&a);
    size_t before = ja.len;
    rc = degrade_plan_run(&p2, &a, 1, &ra, &ja, &e);
    CHECK(rc == EXIT_NUMERIC && ja.len == before, "failed plan appends nothing (%d)", rc);
    degrade_plan_free(&p2);
    drawing_free(&a);
    drawing_free(&b);
    buf_free(&ja);
    buf_free(&jb);
    buf_free(&j);
    degrade_plan_free(&p);

    /* validity check */
    drawing_clear(&d);
    double bad = NAN, one = 1;
    line_stroke(&d, 1, &one, &bad);
    CHECK(degrade_check(&d, &e) == EXIT_NUMERIC && strstr(e.msg, "not finite"), "non-finite result refused");
    drawing_clear(&d);
    CHECK(degrade_check(&d, &e) == EXIT_NUMERIC, "empty result refused");
    drawing_free(&d);
}

int main(void) {
    test_noise();
    test_simplify();
    test_jitter();
    test_dropout();
    test_overshoot();
    test_overdraw();
    test_affine();
    test_elastic();
    test_tremor();
    test_parse();
    test_draw();
    test_plan();
    T_DONE();
}
