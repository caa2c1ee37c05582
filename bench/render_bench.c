/* render_bench.c - time renderer plugins, forward and forward+backward,
 * through the plugin ABI, on real QuickDraw drawings and on the study's
 * Bezier benchmark scene.  Driven by bench/render.sh, which runs the PyTorch
 * peer (bench/torch_render.py) on the same inputs and prints the comparison.
 *
 *   render_bench [--limit N] [--reps R] [--size S] [--width W] FILE PLUGIN_SPEC...
 *
 * FILE: QuickDraw/sketch NDJSON (.gz ok).  The first N drawings are fitted to
 * S x S with pad 10 (docs/study.md 1.3), width W, opacity 1.  Every
 * stroke's polyline goes through the plugin's encode() when it has one
 * (bezier: polyline -> control points) before timing.  Then, per drawing,
 * R timed forwards and R timed forward+backward passes (after one warm-up),
 * and the median of each; the line printed per renderer and scene is the
 * median over drawings of those medians.
 *
 * "poly8x100": those 8 cubics (below) sampled at 12-13 points each, an
 * 8-stroke 100-point drawing, the size of the study's optimisation runs.
 * The Bezier scene ("bezier8"): 8 cubics whose control points come from a
 * fixed LCG (the same numbers bench/torch_render.py draws), uniform in
 * [0.1 S, 0.9 S].  A renderer with encode() (bezier) takes the control
 * points as they are (one 4-point chain per curve); the polyline renderers
 * get each cubic sampled at 50 points, as the study renders Beziers (their
 * time then excludes the sampling and its adjoint, which are negligible).
 *
 * Output (stdout), one tab-separated line per renderer and scene:
 *   impl  scene  n_drawings  median_points  fwd_ms  fwdbwd_ms
 * Deliberately not a general tool: no PNG output, no options beyond timing.
 */
#define _GNU_SOURCE
#include "input.h"
#include "plugin_host.h"

static plugin_host_t bhost = {.abi = INVCLIP_PLUGIN_ABI}; /* serial: one thread, as the peer */
#include "raster.h"
#include "sketch.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    int ns;
    int *npts, *off;
    float *xy, *width, *opacity;
    int np;
} scn_t;

static double tnow(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void scn_free(scn_t *s) {
    free(s->npts), free(s->off), free(s->xy), free(s->width), free(s->opacity);
    memset(s, 0, sizeof *s);
}

/* Encode every stroke through the plugin (identity when it has no encode). */
static int encode_scene(plugin_t *p, const scn_t *in, scn_t *out, err_t *e) {
    memset(out, 0, sizeof *out);
    out->ns = in->ns;
    out->npts = xcalloc((size_t)in->ns, sizeof(int));
    out->off = xcalloc((size_t)in->ns, sizeof(int));
    out->width = xcalloc((size_t)in->ns, sizeof(float));
    out->opacity = xcalloc((size_t)in->ns, sizeof(float));
    int total = 0, cap = 0;
    for (int s = 0; s < in->ns; s++) {
        const float *xy = in->xy + 2 * in->off[s];
        int n = in->npts[s], m = n;
        plugin_err_t pe = {{0}};
        m = plugin_encode(p, xy, n, NULL, 0, &pe);
        if (m < 0) return err_set(e, EXIT_DATA, "%s: encode: %s", p->d->name, pe.msg);
        if (total + m > cap) {
            cap = 2 * (total + m) + 64;
            out->xy = xrealloc(out->xy, sizeof(float) * 2 * (size_t)cap);
        }
        int got = plugin_encode(p, xy, n, out->xy + 2 * total, m, &pe);
        if (got < 0 || got > m) return err_set(e, EXIT_DATA, "%s: encode: %s", p->d->name, pe.msg);
        m = got;
        out->npts[s] = m, out->off[s] = total;
        out->width[s] = in->width[s], out->opacity[s] = in->opacity[s];
        total += m;
    }
    out->np = total;
    return 0;
}

/* Median forward and forward+backward times (ms) of one scene. */
static int time_scene(plugin_t *p, const scn_t *s, int S, int reps, float *img, float *dimg, double *fwd_ms,
                      double *fb_ms, err_t *e) {
    const renderer_vt *vt = p->d->renderer;
    scene_t sc = {s->ns, s->npts, s->off, s->xy, s->width, s->opacity};
    float *gxy = xcalloc(2 * (size_t)(s->np + 1), sizeof(float));
    float *gw = xcalloc((size_t)s->ns + 1, sizeof(float)), *ga = xcalloc((size_t)s->ns + 1, sizeof(float));
    scene_grad_t g = {gxy, gw, ga};
    double *tf = xmalloc(sizeof(double) * (size_t)reps), *tb = xmalloc(sizeof(double) * (size_t)reps);
    plugin_err_t pe = {{0}};
    int rc = 0;
    for (int r = -1; r < reps && !rc; r++) { /* r = -1: warm-up */
        double t0 = tnow();
        void *ws = plugin_ws(p, vt->ws_size(p->state, &sc, S, S));
        rc = vt->forward(p->state, ws, &bhost, &sc, S, S, img, &pe);
        double t1 = tnow();
        if (r >= 0) tf[r] = (t1 - t0) * 1e3;
    }
    for (int r = -1; r < reps && !rc; r++) {
        double t0 = tnow();
        void *ws = plugin_ws(p, vt->ws_size(p->state, &sc, S, S));
        rc = vt->forward(p->state, ws, &bhost, &sc, S, S, img, &pe);
        if (!rc) rc = vt->backward(p->state, ws, &bhost, &sc, S, S, dimg, &g, &pe);
        double t1 = tnow();
        if (r >= 0) tb[r] = (t1 - t0) * 1e3;
    }
    if (rc)
        err_set(e, rc, "%s: %s", p->d->name, pe.msg);
    else
        *fwd_ms = median(tf, reps), *fb_ms = median(tb, reps);
    free(gxy), free(gw), free(ga), free(tf), free(tb);
    return rc;
}

/* The benchmark's Bezier scene: 8 cubics from an LCG shared with torch_render.py. */
static void bezier8(int S, float width, scn_t *ctrl, scn_t *poly) {
    uint64_t st = 12345;
    memset(ctrl, 0, sizeof *ctrl), memset(poly, 0, sizeof *poly);
    const int nc = 8, ns = 50;
    ctrl->ns = poly->ns = nc;
    ctrl->np = 4 * nc, poly->np = ns * nc;
    ctrl->npts = xmalloc(sizeof(int) * nc), ctrl->off = xmalloc(sizeof(int) * nc);
    poly->npts = xmalloc(sizeof(int) * nc), poly->off = xmalloc(sizeof(int) * nc);
    ctrl->width = xmalloc(sizeof(float) * nc), ctrl->opacity = xmalloc(sizeof(float) * nc);
    poly->width = xmalloc(sizeof(float) * nc), poly->opacity = xmalloc(sizeof(float) * nc);
    ctrl->xy = xmalloc(sizeof(float) * 2 * 4 * nc), poly->xy = xmalloc(sizeof(float) * 2 * ns * nc);
    for (int c = 0; c < nc; c++) {
        for (int q = 0; q < 8; q++) {
            st = (st * 1103515245u + 12345u) % 2147483648u;
            ctrl->xy[8 * c + q] = (float)(0.1 * S + 0.8 * S * ((double)st / 2147483648.0));
        }
        ctrl->npts[c] = 4, ctrl->off[c] = 4 * c;
        poly->npts[c] = ns, poly->off[c] = ns * c;
        ctrl->width[c] = poly->width[c] = width, ctrl->opacity[c] = poly->opacity[c] = 1;
        const float *P = ctrl->xy + 8 * c;
        for (int k = 0; k < ns; k++) {
            double t = (double)k / (ns - 1), u = 1 - t;
            double b0 = u * u * u, b1 = 3 * u * u * t, b2 = 3 * u * t * t, b3 = t * t * t;
            poly->xy[2 * (ns * c + k)] = (float)(b0 * P[0] + b1 * P[2] + b2 * P[4] + b3 * P[6]);
            poly->xy[2 * (ns * c + k) + 1] = (float)(b0 * P[1] + b1 * P[3] + b2 * P[5] + b3 * P[7]);
        }
    }
}

/* The same 8 cubics sampled at 13,13,13,13,12,12,12,12 points: an 8-stroke,
 * 100-point polyline drawing (the size the study's optimiser works with). */
static void poly100(const scn_t *ctrl, scn_t *out) {
    memset(out, 0, sizeof *out);
    out->ns = 8, out->np = 100;
    out->npts = xmalloc(sizeof(int) * 8), out->off = xmalloc(sizeof(int) * 8);
    out->width = xmalloc(sizeof(float) * 8), out->opacity = xmalloc(sizeof(float) * 8);
    out->xy = xmalloc(sizeof(float) * 200);
    int o = 0;
    for (int c = 0; c < 8; c++) {
        int n = c < 4 ? 13 : 12;
        const float *P = ctrl->xy + 8 * c;
        out->npts[c] = n, out->off[c] = o, out->width[c] = ctrl->width[c], out->opacity[c] = 1;
        for (int k = 0; k < n; k++) {
            double t = (double)k / (n - 1), u = 1 - t;
            double b0 = u * u * u, b1 = 3 * u * u * t, b2 = 3 * u * t * t, b3 = t * t * t;
            out->xy[2 * (o + k)] = (float)(b0 * P[0] + b1 * P[2] + b2 * P[4] + b3 * P[6]);
            out->xy[2 * (o + k) + 1] = (float)(b0 * P[1] + b1 * P[3] + b2 * P[5] + b3 * P[7]);
        }
        o += n;
    }
}

static void copy_scene(const scn_t *in, scn_t *out) {
    memset(out, 0, sizeof *out);
    out->ns = in->ns, out->np = in->np;
    out->npts = xmalloc(sizeof(int) * (size_t)(in->ns + 1)),
    out->off = xmalloc(sizeof(int) * (size_t)(in->ns + 1));
    out->width = xmalloc(sizeof(float) * (size_t)(in->ns + 1));
    out->opacity = xmalloc(sizeof(float) * (size_t)(in->ns + 1));
    out->xy = xmalloc(sizeof(float) * 2 * (size_t)(in->np + 1));
    memcpy(out->npts, in->npts, sizeof(int) * (size_t)in->ns),
        memcpy(out->off, in->off, sizeof(int) * (size_t)in->ns);
    memcpy(out->width, in->width, sizeof(float) * (size_t)in->ns);
    memcpy(out->opacity, in->opacity, sizeof(float) * (size_t)in->ns);
    memcpy(out->xy, in->xy, sizeof(float) * 2 * (size_t)in->np);
}

int main(int argc, char **argv) {
    util_init(argv[0]);
    int limit = 32, reps = 15, S = 224;
    double width = 3;
    int a = 1;
    for (; a < argc && argv[a][0] == '-' && argv[a][1]; a++) {
        if (!strcmp(argv[a], "--limit") && a + 1 < argc)
            limit = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--reps") && a + 1 < argc)
            reps = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--size") && a + 1 < argc)
            S = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--width") && a + 1 < argc)
            width = atof(argv[++a]);
        else
            die(EXIT_USAGE,
                "usage: render_bench [--limit N] [--reps R] [--size S] [--width W] FILE PLUGIN...");
    }
    if (a + 2 > argc || limit < 1 || reps < 1 || S < 8)
        die(EXIT_USAGE, "usage: render_bench [--limit N] [--reps R] [--size S] [--width W] FILE PLUGIN...");
    err_t e = {0};
    /* read and fit the drawings */
    input_t *in = in_open(argv[a], &e);
    if (!in) die_err(&e);
    scn_t *dr = xcalloc((size_t)limit, sizeof *dr);
    int nd = 0;
    char *line;
    size_t len;
    sketch_t sk;
    sketch_init(&sk);
    while (nd < limit) {
        int got = in_getline(in, &line, &len, &e);
        if (got < 0) die_err(&e);
        if (!got) break;
        if (sketch_parse(&sk, line, len, &e)) die(e.code, "%s: line %lld: %s", argv[a], in_lineno(in), e.msg);
        const drawing_t *d = &sk.drawing;
        if (d->nstrokes < 1) continue;
        xform_t xf;
        xform_fit(d, S, 10, &xf);
        scn_t *s = &dr[nd++];
        s->ns = d->nstrokes;
        s->np = (int)drawing_npoints(d);
        s->npts = xmalloc(sizeof(int) * (size_t)s->ns), s->off = xmalloc(sizeof(int) * (size_t)s->ns);
        s->width = xmalloc(sizeof(float) * (size_t)s->ns),
        s->opacity = xmalloc(sizeof(float) * (size_t)s->ns);
        s->xy = xmalloc(sizeof(float) * 2 * (size_t)s->np);
        int o = 0;
        for (int k = 0; k < d->nstrokes; k++) {
            const stroke_t *st = &d->s[k];
            s->npts[k] = st->n, s->off[k] = o;
            s->width[k] = (float)width, s->opacity[k] = 1;
            for (int q = 0; q < st->n; q++) {
                s->xy[2 * (o + q)] = (float)(st->x[q] * xf.sx + xf.ox);
                s->xy[2 * (o + q) + 1] = (float)(st->y[q] * xf.sy + xf.oy);
            }
            o += st->n;
        }
    }
    sketch_free(&sk);
    in_close(in);
    if (!nd) die(EXIT_DATA, "%s: no drawings", argv[a]);
    double *np = xmalloc(sizeof(double) * (size_t)nd);
    for (int d = 0; d < nd; d++) np[d] = dr[d].np;
    double med_pts = median(np, nd);
    scn_t bz_ctrl, bz_poly, p100;
    bezier8(S, (float)width, &bz_ctrl, &bz_poly);
    poly100(&bz_ctrl, &p100);

    size_t hw = (size_t)S * S;
    float *img = xmalloc(sizeof(float) * hw), *dimg = xmalloc(sizeof(float) * hw);
    for (size_t q = 0; q < hw; q++) dimg[q] = (float)((q * 2654435761u) % 2001) / 1000.f - 1.f;
    double *tf = xmalloc(sizeof(double) * (size_t)nd), *tb = xmalloc(sizeof(double) * (size_t)nd);
    for (int k = a + 1; k < argc; k++) {
        plugin_t p;
        if (plugin_open(&p, argv[k], PLUGIN_RENDERER, &e) || plugin_init(&p, &bhost, &e)) die_err(&e);
        /* label: the plugin's name and its arguments, not its path */
        char label[256];
        const char *args = strchr(argv[k], ':');
        snprintf(label, sizeof label, "%s%s", p.d->name, args ? args : "");
        /* fish polylines */
        for (int d = 0; d < nd; d++) {
            scn_t enc;
            if (encode_scene(&p, &dr[d], &enc, &e) ||
                time_scene(&p, &enc, S, reps, img, dimg, &tf[d], &tb[d], &e))
                die_err(&e);
            scn_free(&enc);
        }
        printf("%s\tpolylines\t%d\t%.0f\t%.4f\t%.4f\n", label, nd, med_pts, median(tf, nd), median(tb, nd));
        /* 8 strokes, 100 points (through encode, like the drawings) */
        {
            scn_t enc;
            double f1[1], b1[1];
            if (encode_scene(&p, &p100, &enc, &e) || time_scene(&p, &enc, S, reps, img, dimg, f1, b1, &e))
                die_err(&e);
            printf("%s\tpoly8x100\t1\t100\t%.4f\t%.4f\n", label, f1[0], b1[0]);
            scn_free(&enc);
        }
        /* the Bezier scene: control points for an encoding renderer, 50-point polylines otherwise */
        scn_t bz;
        copy_scene(p.d->renderer->encode ? &bz_ctrl : &bz_poly, &bz);
        double f1[1], b1[1];
        if (time_scene(&p, &bz, S, reps, img, dimg, f1, b1, &e)) die_err(&e);
        printf("%s\tbezier8\t1\t%d\t%.4f\t%.4f\n", label, bz.np, f1[0], b1[0]);
        fflush(stdout);
        scn_free(&bz);
        plugin_close(&p);
    }
    for (int d = 0; d < nd; d++) scn_free(&dr[d]);
    scn_free(&bz_ctrl), scn_free(&bz_poly), scn_free(&p100);
    free(dr), free(np), free(img), free(dimg), free(tf), free(tb);
    close_stdout();
    return 0;
}
