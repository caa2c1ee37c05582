/* test_simplify.c - unit tests for common/simplify: RDP on hand-computed
 * polylines (splits, the strict epsilon, ties, closed chords), arc-length
 * resampling (spacing, corners, zero length), the bounding-box fit against
 * the formula worked by hand, and Google's recipe on a drawing small enough
 * to follow on paper (alignment, scale, which resampled point survives, round
 * half to even). */
#include <stdlib.h>
#include <string.h>
#include "simplify.h"
#include "t.h"

static int kept_list(const unsigned char *keep, int n, char *out) {
    int k = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++)
        if (keep[i]) k += sprintf(out + k, "%s%d", k ? "," : "", i);
    return k;
}

static void rdp_case(const char *name, const double *x, const double *y, int n, double eps, const char *want) {
    unsigned char keep[64];
    int stack[128];
    char got[256];
    int nk = rdp_mark(x, y, n, eps, keep, stack);
    kept_list(keep, n, got);
    int count = 0;
    for (int i = 0; i < n; i++) count += keep[i];
    CHECK(!strcmp(got, want) && nk == count, "rdp %s: kept {%s} want {%s} (returned %d)", name, got, want, nk);
}

static void test_rdp(void) {
    /* chord (0,0)-(4,0): distances 1, 3, 1 -> split at 2; then (1,1) is
     * 1/sqrt(13) from (0,0)-(2,3) and (3,1) likewise: both dropped */
    rdp_case("bump", (double[]){0, 1, 2, 3, 4}, (double[]){0, 1, 3, 1, 0}, 5, 2.0, "0,2,4");
    rdp_case("bump eps 0.2", (double[]){0, 1, 2, 3, 4}, (double[]){0, 1, 3, 1, 0}, 5, 0.2, "0,1,2,3,4");
    /* a distance exactly equal to epsilon does not split */
    rdp_case("equal to eps", (double[]){0, 1, 2}, (double[]){0, 2, 0}, 3, 2.0, "0,2");
    rdp_case("just above eps", (double[]){0, 1, 2}, (double[]){0, 2.001, 0}, 3, 2.0, "0,1,2");
    /* (1,3) and (2,3) tie at 3: the first wins; (2,3) is then 3/sqrt(13)
     * from (1,3)-(3,0) */
    rdp_case("tie", (double[]){0, 1, 2, 3}, (double[]){0, 3, 3, 0}, 4, 2.0, "0,1,3");
    /* closed stroke: zero-length chord, distance to its start point (5) */
    rdp_case("closed", (double[]){0, 3, 0}, (double[]){0, 4, 0}, 3, 2.0, "0,1,2");
    rdp_case("closed small", (double[]){0, 1, 0}, (double[]){0, 1, 0}, 3, 2.0, "0,2");
    /* collinear points far from nothing */
    rdp_case("line", (double[]){0, 1, 2, 3, 10}, (double[]){0, 2, 4, 6, 20}, 5, 0.001, "0,4");
    rdp_case("one point", (double[]){5}, (double[]){5}, 1, 2.0, "0");
    rdp_case("two points", (double[]){5, 6}, (double[]){5, 6}, 2, 2.0, "0,1");
    /* a zigzag keeps every corner */
    rdp_case("zigzag", (double[]){0, 10, 20, 30, 40}, (double[]){0, 10, 0, 10, 0}, 5, 2.0, "0,1,2,3,4");
}

static void test_resample(void) {
    double ox[64], oy[64];
    /* L shape, length 3 + 2.5: samples at arc 0..5, then the end point */
    double x[] = {0, 3, 3}, y[] = {0, 0, 2.5};
    int n = resample_count(x, y, 3, 1.0);
    int m = resample_polyline(x, y, 3, 1.0, ox, oy);
    double wx[] = {0, 1, 2, 3, 3, 3, 3}, wy[] = {0, 0, 0, 0, 1, 2, 2.5};
    int same = m == 7;
    for (int i = 0; same && i < 7; i++) same = fabs(ox[i] - wx[i]) < 1e-12 && fabs(oy[i] - wy[i]) < 1e-12;
    CHECK(n == 7 && same, "L shape resampled at arc 0,1,..,5 + end (%d/%d points)", n, m);
    /* diagonal 3-4-5: five unit steps of (0.6, 0.8), the end point once more
     * after the sample at arc 4 (arc 5 is not < 5) */
    double dx[] = {0, 3}, dy[] = {0, 4};
    m = resample_polyline(dx, dy, 2, 1.0, ox, oy);
    int spaced = m == 6;
    for (int i = 1; spaced && i < m; i++)
        spaced = fabs(hypot(ox[i] - ox[i - 1], oy[i] - oy[i - 1]) - 1) < 1e-12;
    CHECK(spaced && ox[5] == 3 && oy[5] == 4, "diagonal: %d points, all 1 px apart, ends on (3,4)", m);
    /* a sample lands past a corner on the next segment at the right arc */
    double cx[] = {0, 1.5, 1.5}, cy[] = {0, 0, 5};
    m = resample_polyline(cx, cy, 3, 1.0, ox, oy);
    CHECK(m == 8 && ox[2] == 1.5 && fabs(oy[2] - 0.5) < 1e-12, "corner: arc 2 is (1.5, 0.5), got (%g, %g)", ox[2], oy[2]);
    /* step 2 halves the samples */
    CHECK(resample_count(x, y, 3, 2.0) == 4, "step 2: arc 0,2,4 + end");
    /* zero length: just the point; repeated vertices are skipped over */
    double zx[] = {2, 2}, zy[] = {7, 7};
    m = resample_polyline(zx, zy, 2, 1.0, ox, oy);
    CHECK(m == 1 && ox[0] == 2 && oy[0] == 7, "zero-length stroke -> one point");
    CHECK(resample_polyline(zx, zy, 1, 1.0, ox, oy) == 1, "single point -> one point");
    double rx[] = {0, 0, 2, 2}, ry[] = {0, 0, 0, 0};
    m = resample_polyline(rx, ry, 4, 1.0, ox, oy);
    CHECK(m == 3 && ox[1] == 1 && ox[2] == 2, "duplicate vertices: 0,1 then end 2 (%d points)", m);
}

static void test_fit(void) {
    drawing_t d;
    drawing_init(&d);
    drawing_add(&d, 2, (double[]){10, 30}, (double[]){20, 60}, (double[]){0, 5});
    fit_t f;
    CHECK(fit_compute(&d, 224, 10, &f), "fit_compute");
    /* w = 20+1e-6, h = 40+1e-6: scale = 204/h, ox = (224 - scale w)/2 = 61, oy = 10 */
    CHECK_CLOSE(f.scale, 204 / (40 + 1e-6), 1e-12, 0, "fit scale");
    CHECK_CLOSE(f.ox, (224 - f.scale * (20 + 1e-6)) / 2, 1e-9, 0, "fit ox formula");
    fit_apply(&d, &f);
    CHECK_CLOSE(d.s[0].x[0], 61, 1e-4, 0, "x0 -> 61");
    CHECK_CLOSE(d.s[0].y[0], 10, 1e-4, 0, "y0 -> pad");
    CHECK_CLOSE(d.s[0].x[1], 163, 1e-4, 0, "x1 -> 163");
    CHECK_CLOSE(d.s[0].y[1], 214, 1e-4, 0, "y1 -> 224 - pad");
    CHECK(d.s[0].t && d.s[0].t[1] == 5, "times untouched");
    /* one point: w = h = 1e-6, scale = 80/1e-6, ox = (100 - 80)/2: the
     * formula puts it at (pad, pad), not at the centre */
    drawing_clear(&d);
    drawing_add(&d, 1, (double[]){5}, (double[]){5}, NULL);
    simplify_fit(&d, 100, 10);
    CHECK_CLOSE(d.s[0].x[0], 10, 1e-6, 0, "single point -> x = pad");
    CHECK_CLOSE(d.s[0].y[0], 10, 1e-6, 0, "single point -> y = pad");
    drawing_free(&d);
}

static void test_google(void) {
    simplify_ws_t ws = {0};
    drawing_t src, dst;
    drawing_init(&src);
    drawing_init(&dst);
    /* offset (100, 50), max extent 20 -> scale 12.75: the corner lands on
     * (127.5, 0).  The sample at arc 128 is (127.5, 0.5), farther from the
     * chord (0,0)-(127.5,255) than the one at arc 127 (127, 0), and rounds
     * half to even to (128, 0). */
    drawing_add(&src, 3, (double[]){100, 110, 110}, (double[]){50, 50, 70}, (double[]){0, 10, 20});
    /* a tap: one point -> that point twice */
    drawing_add(&src, 1, (double[]){102}, (double[]){52}, (double[]){30});
    simplify_google(&dst, &src, &ws);
    CHECK(dst.nstrokes == 2, "two strokes out");
    if (dst.nstrokes == 2) {
        const stroke_t *s = &dst.s[0];
        CHECK(s->n == 3 && s->x[0] == 0 && s->y[0] == 0 && s->x[1] == 128 && s->y[1] == 0 && s->x[2] == 128 &&
                  s->y[2] == 255 && !s->t,
              "corner stroke -> (0,0) (128,0) (128,255) without times");
        s = &dst.s[1];
        CHECK(s->n == 2 && s->x[0] == 26 && s->y[0] == 26 && s->x[1] == 26 && s->y[1] == 26,
              "tap -> (25.5 -> 26, 25.5 -> 26) twice, got (%g,%g)", s->x[0], s->y[0]);
    }
    /* a single-point drawing has no extent: everything at 0 */
    drawing_clear(&src);
    drawing_add(&src, 1, (double[]){7}, (double[]){9}, NULL);
    simplify_google(&dst, &src, &ws);
    CHECK(dst.nstrokes == 1 && dst.s[0].n == 2 && dst.s[0].x[0] == 0 && dst.s[0].y[1] == 0, "one-point drawing -> (0,0) twice");
    /* a long stroke grows the workspace; the result stays within 0..255 */
    drawing_clear(&src);
    stroke_t *s = drawing_add_empty(&src, 5000, 0);
    for (int i = 0; i < 5000; i++) {
        s->x[i] = i;
        s->y[i] = 1000 * sin(i * 0.01);
    }
    simplify_google(&dst, &src, &ws);
    int inside = dst.nstrokes == 1 && dst.s[0].n > 10 && dst.s[0].n < 200;
    for (int i = 0; inside && i < dst.s[0].n; i++)
        inside = dst.s[0].x[i] >= 0 && dst.s[0].x[i] <= 255 && dst.s[0].y[i] >= 0 && dst.s[0].y[i] <= 255 &&
                 dst.s[0].x[i] == floor(dst.s[0].x[i]);
    CHECK(inside, "long sine stroke -> %d integer points in 0..255", dst.nstrokes ? dst.s[0].n : 0);
    drawing_free(&src);
    drawing_free(&dst);
    simplify_ws_free(&ws);
}

int main(void) {
    test_rdp();
    test_resample();
    test_fit();
    test_google();
    T_DONE();
}
