/* test_vectorize.c - raster to vector (common/vectorize.h).
 *
 * Synthetic pictures drawn with the project's rasteriser (raster.h, width 3,
 * grey 8-bit as rasterize writes them) or set pixel by pixel: a line, an L,
 * a plus, a T, a circle, separate blobs, an empty page, a spur; the thinning
 * on its own (one pixel wide, topology kept); despeckle; bad options; and
 * the round trip on real QuickDraw drawings (render at 224 px, width 3,
 * vectorise, symmetric chamfer distance to the original polylines), whose
 * numbers are printed as "# " lines (docs/vectorize.md quotes them).
 */
#include "input.h"
#include "raster.h"
#include "simplify.h"
#include "sketch.h"
#include "t.h"
#include "vectorize.h"
#include <glob.h>
#include <string.h>

static vec_ws_t ws;
static raster_t rs;
static float *paper;
static drawing_t out;

/* Render d (pixel coordinates) at width 3 into a size x size grey image. */
static void render(const drawing_t *d, int size, double width, image_t *im) {
    err_t e = {0};
    raster_free(&rs);
    raster_init(&rs, size, size, &e);
    free(paper);
    paper = malloc(sizeof(float) * (size_t)size * size);
    xform_t xf = {1, 1, 0, 0};
    raster_drawing(&rs, paper, d, &xf, width);
    image_free(im);
    image_init(im, size, size, 1, 255, &e);
    for (size_t i = 0; i < (size_t)size * size; i++) im->px[i] = (uint8_t)(paper[i] * 255.0f + 0.5f);
}

static int vec(const image_t *im, const vec_opts_t *o, vec_stats_t *st) {
    err_t e = {0};
    vec_opts_t def;
    vec_opts_default(&def);
    int rc = vectorize_image(&ws, im, o ? o : &def, &out, st, &e);
    if (rc) printf("# vectorize: %s\n", e.msg);
    return rc;
}

/* distance from (px,py) to the nearest segment of drawing d */
static double dist_to(const drawing_t *d, double px, double py) {
    double best = 1e30;
    for (int i = 0; i < d->nstrokes; i++) {
        const stroke_t *s = &d->s[i];
        if (s->n == 1) {
            double v = hypot(px - s->x[0], py - s->y[0]);
            if (v < best) best = v;
        }
        for (int j = 0; j + 1 < s->n; j++) {
            double v = raster_seg_dist(px, py, s->x[j], s->y[j], s->x[j + 1], s->y[j + 1]);
            if (v < best) best = v;
        }
    }
    return best;
}

/* mean and max over samples of a (every 0.5 px along its strokes) of the
 * distance to b */
static void chamfer(const drawing_t *a, const drawing_t *b, double *mean, double *mx) {
    double sum = 0, m = 0;
    long n = 0;
    for (int i = 0; i < a->nstrokes; i++) {
        const stroke_t *s = &a->s[i];
        int k = resample_count(s->x, s->y, s->n, 0.5);
        double *rx = malloc(sizeof(double) * (size_t)k), *ry = malloc(sizeof(double) * (size_t)k);
        resample_polyline(s->x, s->y, s->n, 0.5, rx, ry);
        for (int j = 0; j < k; j++) {
            double v = dist_to(b, rx[j], ry[j]);
            sum += v;
            if (v > m) m = v;
            n++;
        }
        free(rx);
        free(ry);
    }
    *mean = n ? sum / (double)n : 0;
    *mx = m;
}

static void add(drawing_t *d, int n, const double *xy) {
    double x[64], y[64];
    for (int i = 0; i < n; i++) x[i] = xy[2 * i], y[i] = xy[2 * i + 1];
    drawing_add(d, n, x, y, NULL);
}

static int near(const stroke_t *s, int i, double x, double y, double tol) {
    return hypot(s->x[i] - x, s->y[i] - y) <= tol;
}

static void test_shapes(void) {
    drawing_t d;
    drawing_init(&d);
    image_t im = {0};
    vec_stats_t st;

    /* a straight line -> one stroke of two points at its ends */
    add(&d, 2, (double[]){20, 50, 180, 70});
    render(&d, 224, 3, &im);
    CHECK(vec(&im, NULL, &st) == 0 && out.nstrokes == 1, "line: one stroke (got %d)", out.nstrokes);
    if (out.nstrokes == 1) {
        const stroke_t *s = &out.s[0];
        CHECK(s->n == 2, "line: two points (got %d)", s->n);
        int fwd = near(s, 0, 20, 50, 2) && near(s, s->n - 1, 180, 70, 2);
        int rev = near(s, 0, 180, 70, 2) && near(s, s->n - 1, 20, 50, 2);
        CHECK(fwd || rev, "line: ends within 2 px of the drawn ends (%.1f,%.1f)-(%.1f,%.1f)", s->x[0], s->y[0],
              s->x[s->n - 1], s->y[s->n - 1]);
    }
    CHECK(st.ink > 0 && st.skeleton > 100 && st.strokes == 1 && st.points == 2, "line: stats (ink %ld skel %ld)",
          st.ink, st.skeleton);

    /* an L -> one polyline with its corner */
    drawing_clear(&d);
    add(&d, 3, (double[]){40, 40, 40, 180, 180, 180});
    render(&d, 224, 3, &im);
    CHECK(vec(&im, NULL, NULL) == 0 && out.nstrokes == 1, "L: one stroke (got %d)", out.nstrokes);
    if (out.nstrokes == 1) {
        const stroke_t *s = &out.s[0];
        CHECK(s->n == 3, "L: three points (got %d)", s->n);
        CHECK(s->n == 3 && near(s, 1, 40, 180, 2.5), "L: the corner within 2.5 px of (40,180): (%.1f,%.1f)",
              s->x[1], s->y[1]);
    }

    /* a plus -> two straight strokes through the centre, meeting there */
    drawing_clear(&d);
    add(&d, 2, (double[]){112, 30, 112, 194});
    add(&d, 2, (double[]){30, 112, 194, 112});
    render(&d, 224, 3, &im);
    CHECK(vec(&im, NULL, &st) == 0 && out.nstrokes == 2, "plus: two strokes (got %d)", out.nstrokes);
    int through = 1;
    for (int i = 0; i < out.nstrokes; i++) {
        drawing_t one;
        drawing_init(&one);
        drawing_add(&one, out.s[i].n, out.s[i].x, out.s[i].y, NULL);
        through &= dist_to(&one, 112, 112) < 1.5;
        drawing_free(&one);
    }
    CHECK(out.nstrokes > 0 && through, "plus: every stroke passes within 1.5 px of the centre");
    CHECK(st.junctions == 1, "plus: one junction (got %ld)", st.junctions);
    {
        double m1, x1, m2, x2;
        chamfer(&d, &out, &m1, &x1);
        chamfer(&out, &d, &m2, &x2);
        CHECK(m1 < 0.6 && m2 < 0.6 && x1 < 2.5 && x2 < 2.5, "plus: chamfer %.2f/%.2f px (max %.2f/%.2f)", m1, m2,
              x1, x2);
    }

    /* plus with joining off: four arms, each ending at the same centre point */
    vec_opts_t o;
    vec_opts_default(&o);
    o.join_angle = 0;
    CHECK(vec(&im, &o, NULL) == 0 && out.nstrokes == 4, "plus, no joining: four strokes (got %d)", out.nstrokes);
    if (out.nstrokes == 4) {
        double cx = -1, cy = -1;
        int shared = 1;
        for (int i = 0; i < 4; i++) {
            const stroke_t *s = &out.s[i];
            /* the end nearer the centre */
            int k = hypot(s->x[0] - 112, s->y[0] - 112) < hypot(s->x[s->n - 1] - 112, s->y[s->n - 1] - 112) ? 0
                                                                                                         : s->n - 1;
            if (i == 0) cx = s->x[k], cy = s->y[k];
            shared &= s->x[k] == cx && s->y[k] == cy;
        }
        CHECK(shared && hypot(cx - 112, cy - 112) < 1.5, "plus, no joining: the arms share one point (%.2f,%.2f)",
              cx, cy);
    }

    /* a T -> the bar, and the stem ending on it */
    drawing_clear(&d);
    add(&d, 2, (double[]){30, 40, 190, 40});
    add(&d, 2, (double[]){110, 40, 110, 190});
    render(&d, 224, 3, &im);
    CHECK(vec(&im, NULL, NULL) == 0 && out.nstrokes == 2, "T: two strokes (got %d)", out.nstrokes);
    if (out.nstrokes == 2) {
        int bar = fabs(out.s[0].x[0] - out.s[0].x[out.s[0].n - 1]) > 150 ? 0 : 1;
        const stroke_t *b = &out.s[bar], *st2 = &out.s[1 - bar];
        CHECK(b->n == 2 && fabs(b->x[0] - b->x[1]) > 150, "T: the bar is one straight stroke");
        int k = st2->y[0] < st2->y[st2->n - 1] ? 0 : st2->n - 1;
        CHECK(near(st2, k, 110, 40, 1.5), "T: the stem ends on the bar (%.1f,%.1f)", st2->x[k], st2->y[k]);
    }

    /* a circle -> one closed loop */
    drawing_clear(&d);
    {
        double x[101], y[101];
        for (int i = 0; i <= 100; i++) {
            x[i] = 112 + 60 * cos(2 * M_PI * i / 100);
            y[i] = 112 + 60 * sin(2 * M_PI * i / 100);
        }
        drawing_add(&d, 101, x, y, NULL);
    }
    render(&d, 224, 3, &im);
    CHECK(vec(&im, NULL, NULL) == 0 && out.nstrokes == 1, "circle: one stroke (got %d)", out.nstrokes);
    if (out.nstrokes == 1) {
        const stroke_t *s = &out.s[0];
        CHECK(s->n >= 9 && s->x[0] == s->x[s->n - 1] && s->y[0] == s->y[s->n - 1],
              "circle: closed (first point repeated; %d points)", s->n);
        double worst = 0;
        for (int i = 0; i < s->n; i++) {
            double r = fabs(hypot(s->x[i] - 112, s->y[i] - 112) - 60);
            if (r > worst) worst = r;
        }
        CHECK(worst < 1.5, "circle: vertices within 1.5 px of the radius (worst %.2f)", worst);
    }

    /* two separate blobs -> two strokes; two separate lines -> two strokes */
    drawing_clear(&d);
    add(&d, 1, (double[]){50, 50});
    add(&d, 1, (double[]){150, 120});
    render(&d, 224, 8, &im);
    CHECK(vec(&im, NULL, NULL) == 0 && out.nstrokes == 2, "two blobs: two strokes (got %d)", out.nstrokes);
    if (out.nstrokes == 2) {
        int ok = 1;
        for (int i = 0; i < 2; i++) {
            drawing_t one;
            drawing_init(&one);
            drawing_add(&one, out.s[i].n, out.s[i].x, out.s[i].y, NULL);
            ok &= dist_to(&one, 50, 50) < 3 || dist_to(&one, 150, 120) < 3;
            drawing_free(&one);
        }
        CHECK(ok, "two blobs: each stroke at its blob's centre");
    }
    drawing_clear(&d);
    add(&d, 2, (double[]){20, 20, 100, 30});
    add(&d, 2, (double[]){40, 150, 200, 120});
    render(&d, 224, 3, &im);
    CHECK(vec(&im, NULL, NULL) == 0 && out.nstrokes == 2 && out.s[0].n == 2 && out.s[1].n == 2,
          "two lines: two strokes of two points");

    /* an empty page -> zero strokes */
    image_free(&im);
    image_init(&im, 64, 48, 1, 255, &(err_t){0});
    CHECK(vec(&im, NULL, &st) == 0 && out.nstrokes == 0 && st.ink == 0, "empty image: zero strokes");

    /* RGB is read through its luma: same strokes as grey */
    drawing_clear(&d);
    add(&d, 3, (double[]){40, 40, 40, 180, 180, 180});
    render(&d, 224, 3, &im);
    vec(&im, NULL, NULL);
    drawing_t grey;
    drawing_init(&grey);
    drawing_copy(&grey, &out);
    image_t rgb = {0};
    image_init(&rgb, 224, 224, 3, 255, &(err_t){0});
    for (size_t i = 0; i < 224 * 224; i++) rgb.px[3 * i] = rgb.px[3 * i + 1] = rgb.px[3 * i + 2] = im.px[i];
    vec(&rgb, NULL, NULL);
    int same = grey.nstrokes == out.nstrokes;
    for (int i = 0; same && i < grey.nstrokes; i++) {
        same &= grey.s[i].n == out.s[i].n;
        for (int j = 0; same && j < grey.s[i].n; j++) same &= grey.s[i].x[j] == out.s[i].x[j];
    }
    CHECK(same, "RGB grey image -> the same strokes as grey");
    image_free(&rgb);
    drawing_free(&grey);

    /* the threshold decides what is ink: a light grey line is ink at 0.9, not at 0.5 */
    image_free(&im);
    image_init(&im, 100, 20, 1, 255, &(err_t){0});
    for (int x = 10; x < 90; x++) im.px[10 * 100 + x] = 200;
    CHECK(vec(&im, NULL, NULL) == 0 && out.nstrokes == 0, "grey 200 is not ink at threshold 0.5");
    vec_opts_default(&o);
    o.threshold = 0.9;
    CHECK(vec(&im, &o, NULL) == 0 && out.nstrokes == 1 && out.s[0].n == 2, "grey 200 is ink at threshold 0.9");

    image_free(&im);
    drawing_free(&d);
}

/* a binary picture from rows of '#' */
static uint8_t *pic(const char *const *rows, int *w, int *h) {
    *h = 0;
    while (rows[*h]) (*h)++;
    *w = (int)strlen(rows[0]);
    uint8_t *b = calloc((size_t)*w * *h, 1);
    for (int y = 0; y < *h; y++)
        for (int x = 0; x < *w; x++) b[y * *w + x] = rows[y][x] == '#';
    return b;
}

/* 8- (or 4-) connected components of a binary picture (iterative flood fill) */
static int ncomp_c(const uint8_t *b, int w, int h, int four) {
    int *lab = calloc((size_t)w * h, sizeof(int)), *q = malloc(sizeof(int) * (size_t)w * h), n = 0;
    for (int i = 0; i < w * h; i++) {
        if (!b[i] || lab[i]) continue;
        n++;
        int t = 0;
        q[t++] = i;
        lab[i] = n;
        while (t) {
            int c = q[--t], cx = c % w, cy = c / w;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int x = cx + dx, y = cy + dy;
                    if (four && dx && dy) continue;
                    if (x < 0 || y < 0 || x >= w || y >= h || !b[y * w + x] || lab[y * w + x]) continue;
                    lab[y * w + x] = n;
                    q[t++] = y * w + x;
                }
        }
    }
    free(lab);
    free(q);
    return n;
}

static int ncomp(const uint8_t *b, int w, int h) { return ncomp_c(b, w, h, 0); }

/* pixels with more than two neighbours, and 2x2 blocks of ink */
static void thinness(const uint8_t *b, int w, int h, int *deg3, int *blocks) {
    *deg3 = *blocks = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            if (!b[y * w + x]) continue;
            int n = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if ((dx || dy) && xx >= 0 && yy >= 0 && xx < w && yy < h) n += b[yy * w + xx];
                }
            *deg3 += n > 2;
            if (x + 1 < w && y + 1 < h) *blocks += b[y * w + x + 1] && b[(y + 1) * w + x] && b[(y + 1) * w + x + 1];
        }
}

static void test_thin(void) {
    int w, h, d3, bl;
    /* a thick bar thins to a one-pixel line */
    static const char *bar[] = {"..............................", ".############################.",
                                ".############################.", ".############################.",
                                ".############################.", ".############################.",
                                "..............................", NULL};
    uint8_t *b = pic(bar, &w, &h);
    long n = vec_thin(&ws, b, w, h);
    thinness(b, w, h, &d3, &bl);
    CHECK(n >= 20 && n <= 28 && d3 == 0 && bl == 0 && ncomp(b, w, h) == 1,
          "thin: a 5-px bar -> one line of %ld pixels, no junctions, no 2x2 blocks", n);
    free(b);
    /* a 2x2 block keeps one pixel (Zhang-Suen would erase it) */
    static const char *blk[] = {"....", ".##.", ".##.", "....", NULL};
    b = pic(blk, &w, &h);
    n = vec_thin(&ws, b, w, h);
    CHECK(n == 1, "thin: a 2x2 block keeps one pixel (got %ld)", n);
    free(b);
    /* a ring keeps its hole; a staircase becomes a diagonal */
    static const char *ring[] = {"............", ".##########.", ".##########.", ".###....###.", ".###....###.",
                                 ".###....###.", ".##########.", ".##########.", "............", NULL};
    b = pic(ring, &w, &h);
    n = vec_thin(&ws, b, w, h);
    thinness(b, w, h, &d3, &bl);
    /* background components: the outside and the hole */
    uint8_t *inv = malloc((size_t)w * h);
    for (int i = 0; i < w * h; i++) inv[i] = !b[i];
    CHECK(ncomp(b, w, h) == 1 && d3 == 0 && bl == 0, "thin: a thick ring -> one closed curve, every pixel 2 neighbours");
    CHECK(ncomp_c(inv, w, h, 1) == 2, "thin: the ring's hole survives (two 4-connected background parts)");
    free(inv);
    free(b);
    static const char *stair[] = {"........", ".##.....", "..##....", "...##...", "....##..", ".....##.",
                                  "........", NULL};
    b = pic(stair, &w, &h);
    n = vec_thin(&ws, b, w, h);
    thinness(b, w, h, &d3, &bl);
    CHECK(n >= 5 && n <= 7 && d3 == 0 && ncomp(b, w, h) == 1, "thin: a staircase -> a diagonal of %ld pixels", n);
    free(b);
}

static void test_binary(void) {
    int w, h;
    vec_opts_t o;
    vec_opts_default(&o);
    vec_stats_t st;
    err_t e = {0};
    /* a line with a 3-px side branch: a spur; a 12-px branch is a stroke */
    static const char *spur[] = {"........................................", "..................#.....................",
                                 "..................#.....................", "..................#.....................",
                                 "..######################################", "........................................",
                                 NULL};
    uint8_t *b = pic(spur, &w, &h);
    o.min_length = 0;
    vectorize_binary(&ws, b, w, h, &o, &out, &st, &e);
    int with = out.nstrokes;
    CHECK(with == 2 && st.junctions == 1, "spur: without pruning the branch is a stroke (%d strokes)", with);
    vec_opts_default(&o);
    vectorize_binary(&ws, b, w, h, &o, &out, &st, &e);
    CHECK(out.nstrokes == 1 && out.s[0].n == 2 && st.spurs == 1, "spur: pruned -> one straight stroke (%d, %ld spurs)",
          out.nstrokes, st.spurs);
    free(b);
    static const char *branch[] = {"........................................", "..................#.....................",
                                   "..................#.....................", "..................#.....................",
                                   "..................#.....................", "..................#.....................",
                                   "..................#.....................", "..................#.....................",
                                   "..................#.....................", "..................#.....................",
                                   "..................#.....................", "..................#.....................",
                                   "..######################################", "........................................",
                                   NULL};
    b = pic(branch, &w, &h);
    vectorize_binary(&ws, b, w, h, &o, &out, &st, &e);
    CHECK(out.nstrokes == 2 && st.spurs == 0, "a 12-px branch is kept (%d strokes)", out.nstrokes);
    free(b);
    /* spurs at the thick ends and corners of rendered strokes: none left */
    drawing_t d;
    drawing_init(&d);
    add(&d, 4, (double[]){30, 30, 190, 40, 60, 190, 30, 30});
    image_t im0 = {0};
    render(&d, 224, 7, &im0);
    vec_opts_default(&o);
    o.min_length = 0;
    vectorize_image(&ws, &im0, &o, &out, &st, &e);
    int raw = out.nstrokes;
    vec_opts_default(&o);
    o.min_length = 10;
    vectorize_image(&ws, &im0, &o, &out, &st, &e);
    CHECK(out.nstrokes == 1 && out.s[0].x[0] == out.s[0].x[out.s[0].n - 1],
          "a thick triangle: %d strokes unpruned, one closed loop pruned (%d, %ld spurs)", raw, out.nstrokes, st.spurs);
    image_free(&im0);
    drawing_free(&d);

    /* despeckle: single pixels and a 3-pixel fleck go, a line stays */
    static const char *speck[] = {"..........................", ".#......................#.", "......##..................",
                                  "......#...................", "..........................", "..################........",
                                  "..........................", NULL};
    b = pic(speck, &w, &h);
    vec_opts_default(&o);
    vectorize_binary(&ws, b, w, h, &o, &out, &st, &e);
    CHECK(out.nstrokes == 1 && st.speckles == 3, "despeckle 4: three specks removed, the line kept (%d strokes, %ld)",
          out.nstrokes, st.speckles);
    o.despeckle = 0;
    vectorize_binary(&ws, b, w, h, &o, &out, &st, &e);
    CHECK(out.nstrokes == 4 && st.speckles == 0, "despeckle 0: every component kept (%d strokes)", out.nstrokes);
    int dots = 0;
    for (int i = 0; i < out.nstrokes; i++) dots += out.s[i].n == 1;
    CHECK(dots == 2, "a lone pixel is a one-point stroke (%d)", dots);
    free(b);

    /* a one-pixel image, ink and not */
    uint8_t one = 1;
    CHECK(vectorize_binary(&ws, &one, 1, 1, &o, &out, NULL, &e) == 0 && out.nstrokes == 1 && out.s[0].n == 1 &&
              out.s[0].x[0] == 0 && out.s[0].y[0] == 0,
          "1x1 ink -> a dot at (0,0)");
    /* ink touching the image border is traced like any other */
    uint8_t full[5 * 5];
    memset(full, 1, sizeof full);
    CHECK(vectorize_binary(&ws, full, 5, 5, &o, &out, NULL, &e) == 0 && out.nstrokes >= 1, "a full 5x5 image -> %d",
          out.nstrokes);

    /* bad options and sizes */
    vec_opts_default(&o);
    o.threshold = 0;
    image_t im = {0};
    image_init(&im, 4, 4, 1, 255, &e);
    CHECK(vectorize_image(&ws, &im, &o, &out, NULL, &e) == EXIT_USAGE && strstr(e.msg, "threshold"),
          "threshold 0 -> EXIT_USAGE: %s", e.msg);
    vec_opts_default(&o);
    o.epsilon = -1;
    CHECK(vectorize_image(&ws, &im, &o, &out, NULL, &e) == EXIT_USAGE, "negative epsilon -> EXIT_USAGE");
    vec_opts_default(&o);
    CHECK(vectorize_binary(&ws, &one, 0, 1, &o, &out, NULL, &e) == EXIT_DATA, "0-wide image -> EXIT_DATA: %s",
          e.msg);
    CHECK(vectorize_binary(&ws, &one, 20000, 1, &o, &out, NULL, &e) == EXIT_DATA && strstr(e.msg, "too large"),
          "20000-wide image -> EXIT_DATA: %s", e.msg);
    image_free(&im);
}

/* A big image is linear: 4096 x 4096 with long strokes and a filled disc. */
static void test_big(void) {
    drawing_t d;
    drawing_init(&d);
    add(&d, 2, (double[]){10, 10, 4000, 4050});
    add(&d, 3, (double[]){100, 4000, 2000, 100, 4000, 3900});
    add(&d, 1, (double[]){2000, 2000});
    image_t im = {0};
    render(&d, 4096, 3, &im);
    err_t e = {0};
    /* a 400-px dot, drawn by hand */
    for (int y = -200; y <= 200; y++)
        for (int x = -200; x <= 200; x++)
            if (x * x + y * y <= 200 * 200) im.px[(size_t)(1000 + y) * 4096 + (size_t)(3000 + x)] = 0;
    vec_opts_t o;
    vec_opts_default(&o);
    vec_stats_t st;
    double t0 = now_sec();
    int rc = vectorize_image(&ws, &im, &o, &out, &st, &e);
    double dt = now_sec() - t0;
    CHECK(rc == 0 && out.nstrokes >= 3 && out.nstrokes <= 6, "4096^2: %d strokes, %ld ink px, %.2f s", out.nstrokes,
          st.ink, dt);
    printf("# big image 4096x4096: %.3f s, %ld ink pixels, %ld skeleton pixels\n", dt, st.ink, st.skeleton);
    image_free(&im);
    drawing_free(&d);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The round trip on real drawings: every 7th word's first drawing (50 of
 * the 345 words), fitted into 224 px with the study's 10-px margin, drawn at
 * width 3 by raster.h, vectorised with the defaults. */
static void test_roundtrip(void) {
    glob_t g;
    if (glob("data/quickdraw/simplified/*.ndjson.gz", 0, NULL, &g) || g.gl_pathc < 345) {
        CHECK(0, "the shipped QuickDraw files are there");
        return;
    }
    enum { N = 50 };
    double fwd[N], bwd[N], sym[N], mx[N], ratio[N];
    int no[N], nv[N], cnt = 0;
    long pts_orig = 0, pts_vec = 0;
    sketch_t sk;
    sketch_init(&sk);
    image_t im = {0};
    vec_opts_t o;
    vec_opts_default(&o);
    for (size_t f = 0; f < g.gl_pathc && cnt < N; f += 7) {
        err_t e = {0};
        input_t *in = in_open(g.gl_pathv[f], &e);
        char *line;
        size_t len;
        if (!in || in_getline(in, &line, &len, &e) != 1 || sketch_parse(&sk, line, len, &e)) {
            CHECK(0, "%s: read: %s", g.gl_pathv[f], e.msg);
            if (in) in_close(in);
            continue;
        }
        in_close(in);
        xform_t xf;
        xform_fit(&sk.drawing, 224, 10, &xf);
        drawing_t orig;
        drawing_init(&orig);
        drawing_copy(&orig, &sk.drawing);
        for (int i = 0; i < orig.nstrokes; i++)
            for (int j = 0; j < orig.s[i].n; j++) {
                orig.s[i].x[j] = orig.s[i].x[j] * xf.sx + xf.ox;
                orig.s[i].y[j] = orig.s[i].y[j] * xf.sy + xf.oy;
            }
        render(&orig, 224, 3, &im);
        vec_stats_t st;
        if (vectorize_image(&ws, &im, &o, &out, &st, &e)) {
            CHECK(0, "%s: vectorize: %s", g.gl_pathv[f], e.msg);
            drawing_free(&orig);
            continue;
        }
        double x1, x2;
        chamfer(&orig, &out, &fwd[cnt], &x1);
        chamfer(&out, &orig, &bwd[cnt], &x2);
        sym[cnt] = (fwd[cnt] + bwd[cnt]) / 2;
        mx[cnt] = x1 > x2 ? x1 : x2;
        no[cnt] = orig.nstrokes;
        nv[cnt] = out.nstrokes;
        ratio[cnt] = (double)nv[cnt] / no[cnt];
        pts_orig += drawing_npoints(&orig);
        pts_vec += drawing_npoints(&out);
        printf("# %-28s strokes %2d -> %2d  chamfer orig->vec %.3f vec->orig %.3f  max %.2f px\n",
               strrchr(g.gl_pathv[f], '/') + 1, no[cnt], nv[cnt], fwd[cnt], bwd[cnt], mx[cnt]);
        cnt++;
        drawing_free(&orig);
    }
    globfree(&g);
    sketch_free(&sk);
    image_free(&im);
    CHECK(cnt == N, "round trip: %d drawings", cnt);
    if (!cnt) return;
    double mf = 0, mb = 0, ms = 0, worst_sym = 0, worst_max = 0;
    int within = 0, exact = 0;
    for (int i = 0; i < cnt; i++) {
        mf += fwd[i] / cnt;
        mb += bwd[i] / cnt;
        ms += sym[i] / cnt;
        if (sym[i] > worst_sym) worst_sym = sym[i];
        if (mx[i] > worst_max) worst_max = mx[i];
        within += ratio[i] >= 0.5 && ratio[i] <= 2;
        exact += nv[i] == no[i];
    }
    qsort(sym, (size_t)cnt, sizeof *sym, cmp_d);
    qsort(mx, (size_t)cnt, sizeof *mx, cmp_d);
    qsort(ratio, (size_t)cnt, sizeof *ratio, cmp_d);
    printf("# round trip over %d drawings (224 px, width 3, defaults):\n", cnt);
    printf("#   chamfer orig->vec mean %.3f px, vec->orig mean %.3f px, symmetric mean %.3f, median %.3f, worst %.3f\n",
           mf, mb, ms, sym[cnt / 2], worst_sym);
    printf("#   max distance: median %.2f px, 90th pct %.2f, worst %.2f\n", mx[cnt / 2], mx[cnt * 9 / 10], worst_max);
    printf("#   strokes vec/orig: min %.2f, quartiles %.2f %.2f %.2f, max %.2f; equal %d/%d, within x2 %d/%d\n",
           ratio[0], ratio[cnt / 4], ratio[cnt / 2], ratio[cnt * 3 / 4], ratio[cnt - 1], exact, cnt, within, cnt);
    printf("#   points: %ld original, %ld vectorised\n", pts_orig, pts_vec);
    CHECK(ms < 0.8, "round trip: symmetric chamfer mean %.3f px < 0.8", ms);
    CHECK(worst_sym < 1.5, "round trip: every drawing's symmetric chamfer < 1.5 px (worst %.3f)", worst_sym);
    CHECK(ratio[cnt / 2] >= 0.75 && ratio[cnt / 2] <= 1.5, "round trip: median stroke-count ratio %.2f in [0.75, 1.5]",
          ratio[cnt / 2]);
    CHECK(within >= cnt * 8 / 10, "round trip: stroke count within x2 for %d/%d drawings", within, cnt);
}

int main(void) {
    drawing_init(&out);
    test_shapes();
    test_thin();
    test_binary();
    test_big();
    test_roundtrip();
    drawing_free(&out);
    vec_ws_free(&ws);
    raster_free(&rs);
    free(paper);
    T_DONE();
}
