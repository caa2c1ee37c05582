/* test_raster.c - unit tests for common/raster: exact values of the 1-px box
 * coverage on a horizontal line, symmetry, dots, monotonicity in width,
 * compositing (max within a stroke, 1 - prod(1 - cov) across strokes),
 * untouched pixels out of reach, the frame transforms, and the coverage
 * compared with an independent brute-force 16x16 supersampling of the
 * exact capsule (written here, not taken from raster.c). */
#include "raster.h"
#include "t.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

enum { W = 64, H = 48 };
static float paper[H * W];
static raster_t R;

static void blank(void) {
    for (int i = 0; i < W * H; i++) paper[i] = 1.0f;
}
#define P(i, j) paper[(i)*W + (j)]

static double ink_sum(void) {
    double s = 0;
    for (int i = 0; i < W * H; i++) s += 1.0 - paper[i];
    return s;
}

static void test_hline(void) {
    blank();
    raster_stroke(&R, paper, (double[]){10, 40}, (double[]){20, 20}, 2, 2.0);
    int full = 1, none = 1, half = 1;
    for (int j = 10; j <= 40; j++) {
        if (P(20, j) != 0.0f) full = 0;                     /* d = 0: cov 1 */
        if (P(19, j) != 0.5f || P(21, j) != 0.5f) half = 0; /* d = 1: cov 0.5 */
        if (P(17, j) != 1.0f || P(23, j) != 1.0f) none = 0; /* d = 3: no ink */
    }
    CHECK(full, "width 2: full ink along the centre row");
    CHECK(half, "width 2: half ink one pixel off the centre");
    CHECK(none, "width 2: no ink 3 px away");
    CHECK(P(20, 10) == 0.0f && P(20, 9) == 0.5f && P(20, 8) == 1.0f,
          "round cap: end full, 1 px beyond half, 2 px none");
    int sym = 1;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            int mi = 40 - i, mj = 50 - j; /* mirror about y = 20 and x = 25 */
            if (mi >= 0 && mi < H && mj >= 0 && mj < W && (P(i, j) != P(i, mj) || P(i, j) != P(mi, j)))
                sym = 0;
        }
    CHECK(sym, "horizontal line symmetric about both its axes");
    /* a diagonal is symmetric under transposition */
    blank();
    raster_stroke(&R, paper, (double[]){5.3, 40.1}, (double[]){5.3, 40.1}, 2, 2.5);
    sym = 1;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < H; j++)
            if (P(i, j) != P(j, i)) sym = 0;
    CHECK(sym, "diagonal line symmetric about the diagonal");
}

static void test_dot(void) {
    blank();
    raster_stroke(&R, paper, (double[]){30}, (double[]){25}, 1, 4.0);
    int n = 0;
    for (int i = 0; i < W * H; i++) n += paper[i] < 1.0f;
    /* width 4: cov = 2.5 - d */
    CHECK(P(25, 30) == 0.0f && P(25, 31) == 0.0f && P(25, 32) == 0.5f && P(25, 33) == 1.0f &&
              P(24, 28) < 1.0f && P(24, 28) > 0.0f && P(23, 28) == 1.0f,
          "one-point stroke is a round dot (centre %g, d=2: %g)", P(25, 30), P(25, 32));
    CHECK(n > 20 && n < 45, "dot of width 4 inks %d pixels (area ~ pi*2.5^2)", n);
    /* a zero-length segment is the same dot */
    float first[W * H];
    memcpy(first, paper, sizeof first);
    blank();
    raster_stroke(&R, paper, (double[]){30, 30}, (double[]){25, 25}, 2, 4.0);
    CHECK(!memcmp(first, paper, sizeof first), "two coincident points = one dot");
}

static void test_width_monotone(void) {
    float prev[W * H];
    double prevsum = 0;
    int mono = 1, pix = 1;
    for (int k = 0; k <= 8; k++) {
        double w = 0.5 + 0.5 * k;
        blank();
        raster_stroke(&R, paper, (double[]){8.2, 30.7, 50}, (double[]){10.1, 35.4, 12}, 3, w);
        double s = ink_sum();
        if (k && !(s > prevsum)) mono = 0;
        for (int i = 0; k && i < W * H; i++)
            if (paper[i] > prev[i]) pix = 0;
        memcpy(prev, paper, sizeof prev);
        prevsum = s;
    }
    CHECK(mono, "total ink strictly increases with width");
    CHECK(pix, "every pixel gets darker (or stays) as width grows");
}

static void test_compositing(void) {
    double x[2] = {10, 40}, y[2] = {20, 20};
    blank();
    raster_stroke(&R, paper, x, y, 2, 2.0);
    float one = P(19, 25);
    raster_stroke(&R, paper, x, y, 2, 2.0);
    CHECK(one == 0.5f && P(19, 25) == 0.25f, "two overlapping strokes darker than one: %g -> %g", one,
          P(19, 25));
    /* within one stroke: going back over a segment does not darken */
    float single[W * H];
    blank();
    raster_stroke(&R, paper, x, y, 2, 2.0);
    memcpy(single, paper, sizeof single);
    blank();
    raster_stroke(&R, paper, (double[]){10, 40, 10, 40}, (double[]){20, 20, 20, 20}, 4, 2.0);
    CHECK(!memcmp(single, paper, sizeof single),
          "a stroke retracing itself = the single segment (max, no double ink)");
    /* a joint: the vertex pixel of an L is as dark as a straight line's */
    blank();
    raster_stroke(&R, paper, (double[]){10, 30, 30}, (double[]){10, 10, 30}, 3, 2.0);
    CHECK(P(10, 30) == 0.0f && P(9, 31) > 0.0f, "joint pixel full ink, outer corner rounded not doubled");
    /* drawing: paper reset to white, strokes composited */
    drawing_t d;
    drawing_init(&d);
    drawing_add(&d, 2, x, y, NULL);
    drawing_add(&d, 2, x, y, NULL);
    xform_t id = {1, 1, 0, 0};
    for (int i = 0; i < W * H; i++) paper[i] = 0.3f;
    raster_drawing(&R, paper, &d, &id, 2.0);
    CHECK(P(19, 25) == 0.25f && P(0, 0) == 1.0f, "raster_drawing starts white and composites strokes");
    drawing_free(&d);
}

static int touched(int i, int j, const double *x, const double *y, int n, double w) {
    for (int k = 0; k < n; k++) {
        int a = k ? k - 1 : 0;
        if (raster_seg_dist(j, i, x[a], y[a], x[k], y[k]) < w / 2 + 0.5) return 1;
    }
    return 0;
}

static void test_untouched(void) {
    for (int i = 0; i < W * H; i++) paper[i] = (float)((i * 7919) % 1000) / 1000.0f;
    float before[W * H];
    memcpy(before, paper, sizeof before);
    double x[4] = {3.5, 60.2, 20, 21}, y[4] = {4.1, 30.3, 44, 44.5};
    raster_stroke(&R, paper, x, y, 4, 3.0);
    int bad = 0, changed = 0;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            int in = touched(i, j, x, y, 4, 3.0);
            if (!in && paper[i * W + j] != before[i * W + j]) bad++;
            if (in && paper[i * W + j] < before[i * W + j]) changed++;
        }
    CHECK(bad == 0 && changed > 100, "pixels out of reach bit-identical (%d wrong), %d in reach inked", bad,
          changed);
    /* off-canvas and non-finite coordinates do not crash or spill */
    memcpy(before, paper, sizeof before);
    raster_stroke(&R, paper, (double[]){-1e300, 1e300, NAN, -50}, (double[]){-1e300, -5e299, 3, -50}, 4, 2.0);
    CHECK(!memcmp(before, paper, sizeof before), "off-canvas / non-finite strokes leave the canvas alone");
}

/* Independent reference: fraction of 16x16 sub-samples of pixel (i,j)
 * inside the capsule of radius w/2 around segment a-b. */
static double capsule_ss(int i, int j, double ax, double ay, double bx, double by, double w) {
    int in = 0;
    for (int u = 0; u < 16; u++)
        for (int v = 0; v < 16; v++) {
            double px = j - 0.5 + (v + 0.5) / 16, py = i - 0.5 + (u + 0.5) / 16;
            /* closest point by projection, written out independently */
            double ex = bx - ax, ey = by - ay, len2 = ex * ex + ey * ey, t = 0;
            if (len2 > 0) t = fmax(0, fmin(1, ((px - ax) * ex + (py - ay) * ey) / len2));
            double cx = ax + t * ex, cy = ay + t * ey;
            if ((px - cx) * (px - cx) + (py - cy) * (py - cy) <= w * w / 4) in++;
        }
    return in / 256.0;
}

static void test_vs_supersampling(void) {
    /* segments at several angles, widths and sub-pixel offsets */
    struct {
        double ax, ay, bx, by, w;
    } seg[] = {
        {8.0, 10.0, 55.0, 10.0, 2.0}, {8.3, 12.6, 55.1, 37.2, 2.0},  {30.4, 4.2, 31.9, 43.7, 3.0},
        {10.5, 40.5, 50.5, 5.5, 1.5}, {12.2, 22.7, 52.9, 24.1, 4.0}, {20.0, 20.0, 20.0, 20.0, 6.0},
    };
    double worst_body = 0, worst_all = 0, sum_abs = 0;
    long npix = 0;
    int area_ok = 1;
    for (size_t s = 0; s < sizeof seg / sizeof seg[0]; s++) {
        blank();
        raster_stroke(&R, paper, (double[]){seg[s].ax, seg[s].bx}, (double[]){seg[s].ay, seg[s].by}, 2,
                      seg[s].w);
        double ex = seg[s].bx - seg[s].ax, ey = seg[s].by - seg[s].ay, len = sqrt(ex * ex + ey * ey);
        double area = len * seg[s].w + M_PI * seg[s].w * seg[s].w / 4, sum = 0;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                double ref = capsule_ss(i, j, seg[s].ax, seg[s].ay, seg[s].bx, seg[s].by, seg[s].w);
                double got = 1.0 - P(i, j);
                sum += got;
                if (ref == 0 && got == 0) continue;
                double d = fabs(got - ref);
                /* "body": projection well inside the segment, away from the caps */
                double t = len > 0 ? ((j - seg[s].ax) * ex + (i - seg[s].ay) * ey) / (len * len) : -1;
                int body = len > 0 && t * len > 2 && (1 - t) * len > 2;
                if (body && d > worst_body) worst_body = d;
                if (d > worst_all) worst_all = d;
                sum_abs += d;
                npix++;
            }
        if (fabs(sum - area) > 0.02 * area) area_ok = 0;
    }
    printf("# box-filter coverage vs 16x16 supersampled capsule: worst %.3f (body %.3f), mean %.4f over %ld "
           "px\n",
           worst_all, worst_body, sum_abs / npix, npix);
    CHECK(worst_body <= 0.08, "along a segment the coverage is within 0.08 of supersampling (worst %.3f)",
          worst_body);
    CHECK(worst_all <= 0.15, "at caps and dots within 0.15 (worst %.3f)", worst_all);
    CHECK(sum_abs / npix <= 0.03, "mean |error| <= 0.03 (%.4f)", sum_abs / npix);
    CHECK(area_ok, "total ink within 2%% of the capsule area for every segment");
}

static void test_xform(void) {
    drawing_t d;
    drawing_init(&d);
    drawing_add(&d, 3, (double[]){5, 260, 100}, (double[]){50, 60, 150}, NULL);
    xform_t f;
    xform_fit(&d, 224, 10, &f);
    /* by hand, docs/study.md 1.3: w = 255+1e-6, h = 100+1e-6 */
    double w = 255 + 1e-6, h = 100 + 1e-6, sc = 204 / w, ox = (224 - sc * w) / 2, oy = (224 - sc * h) / 2;
    CHECK_CLOSE(5 * f.sx + f.ox, ox, 1e-9, 0, "fit: min x -> ox (=pad)");
    CHECK_CLOSE(260 * f.sx + f.ox, 214, 1e-4, 0, "fit: max x -> size - pad");
    CHECK_CLOSE(50 * f.sy + f.oy, oy, 1e-9, 0, "fit: min y -> oy (centred)");
    CHECK_CLOSE(150 * f.sy + f.oy, 224 - oy, 1e-4, 0, "fit: max y symmetric");
    CHECK(f.sx == f.sy, "fit keeps the aspect ratio");
    xform_canvas(224, 224, 224, &f);
    CHECK(f.sx == 1 && f.sy == 1 && f.ox == 0 && f.oy == 0, "canvas of the output size is the identity");
    xform_canvas(112, 56, 224, &f);
    CHECK_CLOSE(0 * f.sx + f.ox, 0.5, 1e-12, 0, "canvas 112 -> 224: pixel 0 centre -> 0.5");
    CHECK_CLOSE(55 * f.sy + f.oy, 221.5, 1e-12, 0, "canvas height 56 -> 224: pixel 55 centre -> 221.5");
    drawing_free(&d);
}

int main(void) {
    err_t e = {0};
    if (raster_init(&R, W, H, &e)) {
        printf("not ok - raster_init: %s\n", e.msg);
        return 1;
    }
    test_hline();
    test_dot();
    test_width_monotone();
    test_compositing();
    test_untouched();
    test_vs_supersampling();
    test_xform();
    CHECK(raster_init(&(raster_t){0}, 0, 5, &e) == EXIT_DATA, "raster_init refuses a 0-wide canvas");
    raster_free(&R);
    T_DONE();
}
