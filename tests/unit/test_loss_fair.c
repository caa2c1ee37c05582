/* test_loss_fair.c - the `fair` prior: each term by hand (a right-angle
 * corner's bending, an end 4 px from another stroke, a nearly closed loop, a
 * nearly straight stroke; far ends and clearly curved strokes flat),
 * gradients by central differences (each term alone and all together), NaN
 * input, bad parameters -- and on real drawings: the first 60 QuickDraw fish
 * and cats, fitted to 224 px as the study did, against copies degraded by
 * qd-degrade's transforms (--units rel); the prior must prefer the clean
 * drawing in most pairs, and the numbers are printed (docs/losses.md). */
#include "../plugins/tloss.h"
#include "degrade.h"
#include "input.h"
#include "simplify.h"
#include "sketch.h"

enum { MAXPTS = 20000, MAXS = 512 };

typedef struct {
    int ns, npts[MAXS], off[MAXS];
    float xy[2 * MAXPTS], w[MAXS], o[MAXS];
    scene_t sc;
} tsc_t;

static int to_scene(const drawing_t *d, tsc_t *t) {
    int P = 0;
    t->ns = 0;
    for (int s = 0; s < d->nstrokes && s < MAXS; s++) {
        const stroke_t *k = &d->s[s];
        if (P + k->n > MAXPTS) return -1;
        t->npts[s] = k->n, t->off[s] = P, t->w[s] = 3, t->o[s] = 1;
        for (int i = 0; i < k->n; i++) t->xy[2 * P] = (float)k->x[i], t->xy[2 * P + 1] = (float)k->y[i], P++;
        t->ns++;
    }
    t->sc = (scene_t){t->ns, t->npts, t->off, t->xy, t->w, t->o};
    return 0;
}

static double value_of(plugin_t *p, tl_host_t *t, const scene_t *sc, double *m) {
    float img[1] = {1};
    loss_in_t in = {.img = img, .C = 1, .H = 1, .W = 1, .scene = sc};
    loss_out_t o = {0};
    plugin_err_t pe;
    if (tl_eval(p, t, &in, &o, &pe)) return NAN;
    if (m) memcpy(m, o.metric, sizeof(double) * 4);
    return o.value;
}

/* one term alone ("bending=1,snap=0,..."), value and FD on a scene */
static void fd_scene(tl_host_t *t, const char *spec, scene_t *sc, float *xy, int P, uint64_t seed, const char *what) {
    plugin_t p;
    err_t e;
    if (tl_open(&p, "fair", spec, t, &e)) {
        CHECK(0, "load %s: %s", spec, e.msg);
        return;
    }
    float img[1] = {1}, *g = calloc(2 * (size_t)P, sizeof(float));
    loss_in_t in = {.img = img, .C = 1, .H = 1, .W = 1, .scene = sc};
    loss_out_t o = {.dscene = {.xy = g}};
    plugin_err_t pe;
    tl_eval(&p, t, &in, &o, &pe);
    tl_fd(&p, t, &in, xy, g, 2 * (size_t)P, 1e-2, 2e-3, 1e-6, seed, what);
    free(g);
    plugin_close(&p);
}

/* real drawings: fraction of pairs where clean < degraded, and the means */
static void real(tl_host_t *t, plugin_t *p, const char *file, const char *spec, int limit, int strict) {
    err_t e = {0};
    input_t *in = in_open(file, &e);
    if (!in) {
        CHECK(0, "%s: %s", file, e.msg);
        return;
    }
    degrade_chain_t ch = {0};
    if (degrade_parse_chain(spec, &ch, &e)) {
        CHECK(0, "%s: %s", spec, e.msg);
        in_close(in);
        return;
    }
    sketch_t sk;
    sketch_init(&sk);
    drawing_t d, dd;
    drawing_init(&d), drawing_init(&dd);
    tsc_t *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    char *line;
    size_t len;
    int n = 0, better = 0, worse = 0;
    double sa = 0, sb = 0, ma[4], mb[4], ta[4] = {0}, tb[4] = {0};
    rng_t r;
    rng_seed(&r, 12345);
    while (n < limit && in_getline(in, &line, &len, &e) > 0) {
        if (sketch_parse(&sk, line, len, &e) || sketch_get_drawing(&sk, "drawing", &d, &e)) continue;
        simplify_fit(&d, 224, 10);
        drawing_copy(&dd, &d);
        double unit = degrade_rel_unit(&d);
        int bad = 0;
        for (int k = 0; k < ch.n && !bad; k++) {
            double v[DEGRADE_MAXP];
            degrade_draw(&ch.v[k], &r, v);
            bad = degrade_apply(ch.v[k].d, &dd, v, unit, &r, &e) != 0;
        }
        if (bad || to_scene(&d, a) || to_scene(&dd, b)) continue;
        double va = value_of(p, t, &a->sc, ma), vb = value_of(p, t, &b->sc, mb);
        sa += va, sb += vb, better += va < vb, worse += va > vb, n++;
        for (int k = 0; k < 4; k++) ta[k] += ma[k], tb[k] += mb[k];
    }
    printf("# %-16s %-24s n=%d clean lower %2d, degraded lower %2d; mean clean %.3f degraded %.3f"
           "  [bend %.3f/%.3f snap %.2f/%.2f close %.2f/%.2f straight %.2f/%.2f]\n",
           strrchr(file, '/') + 1, spec, n, better, worse, sa / n, sb / n, ta[0] / n, tb[0] / n,
           ta[1] / n, tb[1] / n, ta[2] / n, tb[2] / n, ta[3] / n, tb[3] / n);
    /* strict 2: nearly always; 1: clearly more often and on average; 0: reported only */
    if (strict == 2)
        CHECK(n >= limit / 2 && better >= 0.95 * n, "%s, %s: the prior prefers the clean drawing in %d of %d pairs",
              strrchr(file, '/') + 1, spec, better, n);
    else if (strict == 1)
        CHECK(n >= limit / 2 && better >= 1.4 * worse && sa < sb,
              "%s, %s: clean lower in %d pairs, degraded lower in %d; means %.3f < %.3f", strrchr(file, '/') + 1, spec,
              better, worse, sa / n, sb / n);
    else CHECK(n >= limit / 2, "%s, %s: %d pairs measured", strrchr(file, '/') + 1, spec, n);
    free(a), free(b);
    drawing_free(&d), drawing_free(&dd);
    sketch_free(&sk);
    degrade_chain_free(&ch);
    in_close(in);
}

int main(void) {
    tl_host_t t;
    tl_host_init(&t, 0);
    plugin_t p;
    err_t e;
    const char *only[4] = {"bending=1,snap=0,close=0,straight=0", "bending=0,snap=1,close=0,straight=0",
                           "bending=0,snap=0,close=1,straight=0", "bending=0,snap=0,close=0,straight=1"};
    /* 1. bending: a right-angle corner between segments of 10 and 20: 2(1-0)/15 */
    int n1[1] = {3}, o1[1] = {0};
    float xy1[6] = {0, 0, 10, 0, 10, 20}, w1[1] = {3}, op1[1] = {1};
    scene_t s1 = {1, n1, o1, xy1, w1, op1};
    CHECK(tl_open(&p, "fair", only[0], &t, &e) == 0, "load fair (%s)", e.msg);
    double m[4];
    CHECK_CLOSE(value_of(&p, &t, &s1, m), 2.0 / 15, 1e-9, 0, "bending: a right angle between 10 and 20 px: 2/15");
    float xys[6] = {0, 0, 10, 0, 20, 0};
    s1.xy = xys;
    CHECK_CLOSE(value_of(&p, &t, &s1, NULL), 0, 1e-12, 0, "bending: a straight stroke costs nothing");
    s1.xy = xy1;
    plugin_close(&p);
    /* 2. snap: stroke 1's start is 4 px from stroke 0's segment; radius 8 -> x = 1/4, psi = -9/16;
     *    the other ends are over 20 px from the other stroke -> 0 */
    int n2[2] = {2, 2}, o2[2] = {0, 2};
    float xy2[8] = {0, 0, 40, 0, 20, 4, 20, 30}, w2[2] = {3, 3}, op2[2] = {1, 1};
    scene_t s2 = {2, n2, o2, xy2, w2, op2};
    CHECK(tl_open(&p, "fair", only[1], &t, &e) == 0, "load snap only");
    /* ends: (0,0) to stroke 1: nearest (20,4), d2 = 416 -> 0; (40,0) likewise 0; (20,4) -> -9/16; (20,30) d2 900 -> 0 */
    CHECK_CLOSE(value_of(&p, &t, &s2, m), -0.5625, 1e-9, 0, "snap: psi(16/64) = -(3/4)^2 for the near end, 0 for the far ones");
    plugin_close(&p);
    /* 3. close: a 3-point loop of length >= 48 whose ends are 6 px apart: phi(36/144) */
    int n3[1] = {4}, o3[1] = {0};
    float xy3[8] = {0, 0, 40, 0, 20, 30, 6, 0};
    scene_t s3 = {1, n3, o3, xy3, w1, op1};
    CHECK(tl_open(&p, "fair", only[2], &t, &e) == 0, "load close only");
    CHECK_CLOSE(value_of(&p, &t, &s3, NULL), -0.5625, 1e-9, 0, "close: ends 6 px apart, radius 12: psi(1/4)");
    float xy3s[8] = {0, 0, 4, 0, 4, 3, 1, 0};
    s3.xy = xy3s;
    CHECK_CLOSE(value_of(&p, &t, &s3, NULL), 0, 1e-12, 0, "close: a short stroke (under 4 radii) is never closed");
    s3.xy = xy3;
    plugin_close(&p);
    /* 4. straight: chord 20 over length 2*sqrt(101) = 20.0998: rho = 0.995037, x = (1-rho)/0.03 */
    float xy4[6] = {0, 0, 10, 1, 20, 0};
    s1.xy = xy4;
    CHECK(tl_open(&p, "fair", only[3], &t, &e) == 0, "load straight only");
    double rho = 20 / (2 * sqrt(101.0)), x = (1 - rho) / 0.03;
    CHECK_CLOSE(value_of(&p, &t, &s1, NULL), -(1 - x * x) * (1 - x * x), 1e-7, 0, "straight: psi(((1-rho)/(1-0.97))^2)");
    s1.xy = xy1; /* the right angle: rho = sqrt(500)/30 = 0.745: flat 0 */
    CHECK_CLOSE(value_of(&p, &t, &s1, NULL), 0, 1e-12, 0, "straight: a clearly bent stroke sits at 0");
    plugin_close(&p);
    /* 5. gradients: each term alone and all together, on scenes where every term is active */
    {
        int np[3] = {5, 4, 3}, off[3] = {0, 5, 9};
        float xy[24] = {10, 10, 30, 12, 50, 15, 70, 13, 90, 11, /* nearly straight */
                        60, 18, 100, 40, 80, 80, 57, 22,        /* a nearly closed loop, starts near stroke 0 */
                        20, 16, 25, 40, 33, 60},                /* starts 4 px below stroke 0 */
            w[3] = {3, 3, 3}, o[3] = {1, 1, 1};
        scene_t sc = {3, np, off, xy, w, o};
        double v[4];
        CHECK(tl_open(&p, "fair", "", &t, &e) == 0, "load defaults");
        value_of(&p, &t, &sc, v);
        CHECK(v[0] > 0 && v[1] < 0 && v[2] < 0 && v[3] < 0,
              "the test scene exercises every term (bend %.3f snap %.3f close %.3f straight %.3f)", v[0], v[1], v[2], v[3]);
        plugin_close(&p);
        const char *names[4] = {"bending alone: d/dxy", "snap alone: d/dxy", "close alone: d/dxy", "straight alone: d/dxy"};
        for (int k = 0; k < 4; k++) fd_scene(&t, only[k], &sc, xy, 12, 40 + k, names[k]);
        fd_scene(&t, "", &sc, xy, 12, 50, "defaults: d/dxy");
        fd_scene(&t, "bending=0,snap=0,close=0,straight=0,smooth=1", &sc, xy, 12, 51, "smooth alone: d/dxy");
        fd_scene(&t, "smooth=0.3", &sc, xy, 12, 52, "defaults + smooth: d/dxy");
        fd_scene(&t, "bending=0,snap=0,close=0,straight=0,smooth=1,smooth_scale=5", &sc, xy, 12, 53,
                 "robust smooth alone: d/dxy");
    }
    /* 5b. smooth: mean over interior vertices of |p[i-1] - 2p[i] + p[i+1]|^2.  The right angle (0,0),(10,0),(10,20):
     *     one interior vertex, (0 - 20 + 10, 0 - 0 + 20) = (-10, 20): 500.  Add a 2-point stroke (no interior
     *     vertex) and a straight evenly spaced one (interior vertex, Laplacian 0): the mean is 500/2 */
    {
        CHECK(tl_open(&p, "fair", "bending=0,snap=0,close=0,straight=0,smooth=1", &t, &e) == 0, "load smooth only");
        CHECK_CLOSE(value_of(&p, &t, &s1, NULL), 500, 1e-9, 0, "smooth: the right angle's second difference (-10,20): 500");
        int n5[3] = {3, 2, 3}, o5[3] = {0, 3, 5};
        float xy5[16] = {0, 0, 10, 0, 10, 20, 50, 50, 60, 60, 0, 90, 10, 90, 20, 90}, w5[3] = {3, 3, 3}, op5[3] = {1, 1, 1};
        scene_t s5 = {3, n5, o5, xy5, w5, op5};
        CHECK_CLOSE(value_of(&p, &t, &s5, NULL), 250, 1e-9, 0, "smooth: a mean over interior vertices (500 + 0) / 2");
        float xy6[4] = {0, 0, 5, 5};
        int n6[1] = {2}, o6[1] = {0};
        scene_t s6 = {1, n6, o6, xy6, w1, op1};
        CHECK_CLOSE(value_of(&p, &t, &s6, NULL), 0, 1e-12, 0, "smooth: no interior vertex, no cost");
        plugin_close(&p);
        /* smooth_scale 10: the right angle's q = 500 costs 100*500/600; a wobble of q = 1 costs 100/101 ~ q */
        CHECK(tl_open(&p, "fair", "bending=0,snap=0,close=0,straight=0,smooth=1,smooth_scale=10", &t, &e) == 0,
              "load robust smooth");
        CHECK_CLOSE(value_of(&p, &t, &s1, NULL), 100.0 * 500 / 600, 1e-9, 0, "robust smooth: d^2 q/(q+d^2) for the corner");
        float xy7[6] = {0, 0, 10, 1, 20, 0};
        s1.xy = xy7; /* second difference (0, -2): q = 4 */
        CHECK_CLOSE(value_of(&p, &t, &s1, NULL), 100.0 * 4 / 104, 1e-9, 0, "robust smooth: a small wobble costs about q");
        s1.xy = xy1;
        plugin_close(&p);
    }
    /* 6. bad input, parameters */
    CHECK(tl_open(&p, "fair", "", &t, &e) == 0, "reload");
    xy2[5] = NAN;
    float img[1] = {1};
    loss_in_t in = {.img = img, .C = 1, .H = 1, .W = 1, .scene = &s2};
    loss_out_t o = {0};
    plugin_err_t pe;
    int rc = tl_eval(&p, &t, &in, &o, &pe);
    CHECK(rc == EXIT_NUMERIC && strstr(pe.msg, "fair: stroke 1: point 0"), "NaN: %s", pe.msg);
    xy2[5] = 4;
    plugin_t q;
    rc = tl_open(&q, "fair", "snap_radius=0", &t, &e);
    CHECK(rc == EXIT_USAGE && strstr(e.msg, "fair") && strstr(e.msg, "snap_radius"), "zero radius: %s", e.msg);
    rc = tl_open(&q, "fair", "straight_ratio=1", &t, &e);
    CHECK(rc == EXIT_USAGE && strstr(e.msg, "straight_ratio"), "ratio 1: %s", e.msg);
    /* 7. real drawings: clean vs degraded (default weights) */
    const char *deg[] = {"tremor", "noise:level=2", "jitter:amount=4", "overshoot:amount=0.15", "elastic",
                         "tremor+jitter:amount=3"};
    const int strict[] = {2, 1, 1, 1, 0, 2};
    const char *files[] = {"data/quickdraw/simplified/fish.ndjson.gz", "data/quickdraw/simplified/cat.ndjson.gz"};
    for (int f = 0; f < 2; f++)
        for (size_t k = 0; k < sizeof deg / sizeof deg[0]; k++) real(&t, &p, files[f], deg[k], 60, strict[k]);
    plugin_close(&p);
    tl_host_free(&t);
    T_DONE();
}
