/* bezier.c - the `bezier` renderer plugin: strokes are chains of cubic Bezier
 * segments, drawn by sampling each chain into a polyline and rendering that
 * with the softline core (nn/softline.c); gradients flow back through the
 * exact adjoint of the sampling (nn/bezier.c) to every control point, and
 * straight through to each stroke's width and opacity.
 *
 * Scene points are control points: 3k+1 per stroke (shared joints) with
 * fit=schneider|study, 4k per stroke (independent segments, the study's
 * multi-segment layout) with fit=study_multi.  encode() turns a polyline into
 * control points (Schneider's least-squares fit, or the study's lossy
 * conversions for parity); decode() samples the curves back to a polyline.
 * The fit works in the host's codec workspace; the softline backward splits
 * over the host's parallel_for.  Never prints, keeps no globals, allocates
 * nothing, links only the pure-maths layer.  docs/renderers.md ("## bezier")
 * has the details.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "nn/bezier.h"
#include "nn/softline.h"
#include "plugin.h"

enum { FIT_SCHNEIDER, FIT_STUDY, FIT_STUDY_MULTI };

static const plugin_param_t params[] = {
    {.name = "max_error", .type = PARAM_FLOAT, .def = 1.0, .min = 0.01, .max = 1000,
     .help = "fit bound in px: every vertex within it of the curve, the curve within it of the polyline"},
    {.name = "corner_angle", .type = PARAM_FLOAT, .def = 75, .min = 0, .max = 180,
     .help = "a vertex turning by more than this (degrees) is a C0 corner; 180 = no corners"},
    {.name = "samples", .type = PARAM_INT, .def = 16, .min = 2, .max = 1000,
     .help = "points per cubic segment, for rendering and for decode (the study used 50)"},
    {.name = "fit", .type = PARAM_ENUM, .sdef = "schneider", .choices = "schneider|study|study_multi",
     .help = "polyline -> curves: least-squares fit, or the study's one-cubic / 6-point-window conversion"},
    {.name = "softness", .type = PARAM_FLOAT, .def = 1.0, .min = 0.05, .max = 32,
     .help = "width in px of the softline edge ramp"},
};

typedef struct {
    softline_cfg_t sl;
    bezier_fit_cfg_t fit;
    int samples, mode, layout;
} bz_state_t;

static int bz_init(void *state, const plugin_value_t *vals, const plugin_host_t *host, plugin_err_t *err) {
    bz_state_t *st = state;
    st->fit = (bezier_fit_cfg_t)BEZIER_FIT_DEFAULTS;
    st->fit.max_error = vals[0].f;
    st->fit.corner_angle = vals[1].f;
    st->samples = (int)vals[2].i;
    st->mode = (int)vals[3].i;
    st->layout = st->mode == FIT_STUDY_MULTI ? BEZIER_INDEPENDENT : BEZIER_CHAIN;
    st->sl.softness = (float)vals[4].f;
    return 0;
}

/* ---- the sampled polyline scene, kept in the workspace ----
 * ws: hdr | npts2, off2 (ns2 ints) | w2, o2, dw2, do2 (ns2 floats) |
 *     xy2, dxy2 (2*np2 floats) | softline's workspace.
 * A chain stroke becomes one polyline of k(m-1)+1 points; an independent
 * stroke becomes k polylines of m points (its segments are separate, as in
 * the study, so their ends may part without a connecting line). */

#define BZ_MAGIC 0x42455a31u
#define ALIGN_UP(n) (((n) + 63) & ~(size_t)63)

typedef struct {
    uint32_t magic;
    int valid;         /* a forward has run on this ws */
    int ns2, np2;      /* polylines and points of the sampled scene */
    size_t sl_off;     /* where softline's workspace starts */
} bz_hdr_t;

typedef struct {
    int ns2, np2;
    size_t o_npts, o_off, o_w, o_o, o_dw, o_do, o_xy, o_dxy, sl_off;
} bz_layout_t;

/* Polylines/points of stroke s once sampled (0,0 when its point count is invalid). */
static void stroke_counts(const bz_state_t *st, int npts, int *ns, int *np) {
    int k = bezier_nseg(st->layout, npts);
    *ns = *np = 0;
    if (npts == 0) *ns = 1; /* an empty stroke stays an empty polyline */
    else if (k == 0) *ns = 1, *np = 1;
    else if (k > 0) {
        *ns = st->layout == BEZIER_INDEPENDENT ? k : 1;
        *np = bezier_nsamples(st->layout, npts, st->samples);
    }
}

static void get_layout(const bz_state_t *st, const scene_t *sc, bz_layout_t *L) {
    long ns2 = 0, np2 = 0;
    for (int s = 0; s < sc->nstrokes; s++) {
        int a, b;
        stroke_counts(st, sc->npts[s], &a, &b);
        ns2 += a, np2 += b;
    }
    L->ns2 = (int)ns2, L->np2 = (int)np2;
    size_t o = ALIGN_UP(sizeof(bz_hdr_t)), ni = (size_t)ns2 * sizeof(int), nf = (size_t)ns2 * sizeof(float);
    size_t nxy = 2 * (size_t)np2 * sizeof(float);
    L->o_npts = o, o += ALIGN_UP(ni);
    L->o_off = o, o += ALIGN_UP(ni);
    L->o_w = o, o += ALIGN_UP(nf);
    L->o_o = o, o += ALIGN_UP(nf);
    L->o_dw = o, o += ALIGN_UP(nf);
    L->o_do = o, o += ALIGN_UP(nf);
    L->o_xy = o, o += ALIGN_UP(nxy);
    L->o_dxy = o, o += ALIGN_UP(nxy);
    L->sl_off = o;
}

/* Fill the sampled scene arrays; returns 0 or EXIT_DATA (message in err). */
static int build_scene(const bz_state_t *st, const scene_t *sc, int *npts2, int *off2, float *w2, float *o2,
                       float *xy2, plugin_err_t *err) {
    int q = 0, P = 0;
    for (int s = 0; s < sc->nstrokes; s++) {
        int n = sc->npts[s], k = bezier_nseg(st->layout, n);
        const float *ctrl = sc->xy + 2 * (size_t)sc->off[s];
        if (n != 0 && k < 0) {
            if (err)
                snprintf(err->msg, sizeof err->msg, "bezier: stroke %d has %d control points (want %s)", s, n,
                         st->layout == BEZIER_INDEPENDENT ? "4k, fit=study_multi" : "3k+1");
            return EXIT_DATA;
        }
        if (n == 0) {
            npts2[q] = 0, off2[q] = P, w2[q] = sc->width[s], o2[q] = sc->opacity[s], q++;
            continue;
        }
        bezier_sample(xy2 + 2 * (size_t)P, ctrl, n, st->samples, st->layout);
        int nsub = st->layout == BEZIER_INDEPENDENT ? k : 1;
        int per = st->layout == BEZIER_INDEPENDENT ? st->samples : bezier_nsamples(st->layout, n, st->samples);
        for (int j = 0; j < nsub; j++, q++, P += per)
            npts2[q] = per, off2[q] = P, w2[q] = sc->width[s], o2[q] = sc->opacity[s];
    }
    return 0;
}

/* softline's entry bound for one sampled polyline: nseg cubics (stride 3:
 * a chain, joints emitted once; one cubic: an independent segment), m
 * samples each, capped at H*W like softline_ws_size's per-stroke bound. */
static size_t poly_bound(const bz_state_t *st, const float *ctrl, int nseg, int stride, float width, int W, int H) {
    size_t n = 0, hw = (size_t)W * H;
    const int m = st->samples;
    float a[2], b[2];
    bezier_point(ctrl, 0, m, a);
    for (int s = 0; s < nseg && n < hw; s++)
        for (int j = 1; j < m && n < hw; j++) {
            bezier_point(ctrl + 2 * stride * s, j, m, b);
            n += softline_seg_bound(&st->sl, width, a[0], a[1], b[0], b[1], W, H);
            a[0] = b[0], a[1] = b[1];
        }
    return n < hw ? n : hw;
}

/* softline_ws_size of the scene build_scene makes, computed sample by sample
 * (the bound looks at the sampled coordinates) so that no temporary scene is
 * allocated on every call. */
static size_t bz_ws_size(const void *state, const scene_t *sc, int W, int H) {
    const bz_state_t *st = state;
    bz_layout_t L;
    get_layout(st, sc, &L);
    size_t cap = 0, hw = (size_t)W * H;
    for (int s = 0; s < sc->nstrokes; s++) {
        int n = sc->npts[s], k = bezier_nseg(st->layout, n);
        if (n != 0 && k < 0) return L.sl_off; /* forward reports the bad stroke */
        if (n == 0 || !isfinite(sc->width[s]) || !isfinite(sc->opacity[s])) continue; /* softline skips it */
        const float *ctrl = sc->xy + 2 * (size_t)sc->off[s];
        float w = sc->width[s];
        if (k == 0) { /* a dot */
            size_t d = softline_seg_bound(&st->sl, w, ctrl[0], ctrl[1], ctrl[0], ctrl[1], W, H);
            cap += d < hw ? d : hw;
        } else if (st->layout == BEZIER_INDEPENDENT) { /* k one-cubic polylines */
            for (int j = 0; j < k; j++) cap += poly_bound(st, ctrl + 8 * j, 1, 4, w, W, H);
        } else {
            cap += poly_bound(st, ctrl, k, 3, w, W, H);
        }
    }
    return L.sl_off + softline_ws_bytes(W, H, L.ns2, cap);
}

/* softline's refusal as an exit code and message. */
static int sl_error(const softline_fault_t *f, plugin_err_t *err) {
    snprintf(err->msg, sizeof err->msg, "%s", f->msg);
    switch (f->code) {
    case SOFTLINE_ESOFTNESS:
    case SOFTLINE_ECANVAS: return EXIT_USAGE;
    case SOFTLINE_ECOUNT: return EXIT_DATA;
    case SOFTLINE_ENONFINITE: return EXIT_NUMERIC;
    default: return EXIT_INTERNAL;
    }
}

static int bz_forward(void *state, void *ws, const plugin_host_t *host, const scene_t *sc, int W, int H, float *img,
                      plugin_err_t *err) {
    bz_state_t *st = state;
    bz_layout_t L;
    get_layout(st, sc, &L);
    char *b = ws;
    bz_hdr_t *h = ws;
    int moved = h->magic != BZ_MAGIC || h->sl_off != L.sl_off;
    h->magic = BZ_MAGIC, h->valid = 0, h->ns2 = L.ns2, h->np2 = L.np2, h->sl_off = L.sl_off;
    int *npts2 = (int *)(b + L.o_npts), *off2 = (int *)(b + L.o_off);
    float *w2 = (float *)(b + L.o_w), *o2 = (float *)(b + L.o_o), *xy2 = (float *)(b + L.o_xy);
    int rc = build_scene(st, sc, npts2, off2, w2, o2, xy2, err);
    if (rc) return rc;
    /* softline's workspace moved: make sure it does not mistake our old
     * arrays for its initialised header (its header is 64 bytes) */
    if (moved) memset(b + L.sl_off, 0, 64);
    softline_scene_t s2 = {L.ns2, npts2, off2, xy2, w2, o2};
    softline_fault_t f;
    if (softline_forward(&st->sl, b + L.sl_off, &s2, W, H, img, &f)) return sl_error(&f, err);
    h->valid = 1;
    return 0;
}

static int bz_backward(void *state, void *ws, const plugin_host_t *host, const scene_t *sc, int W, int H,
                       const float *dimg, scene_grad_t *g, plugin_err_t *err) {
    bz_state_t *st = state;
    bz_layout_t L;
    get_layout(st, sc, &L);
    char *b = ws;
    bz_hdr_t *h = ws;
    if (h->magic != BZ_MAGIC || !h->valid || h->ns2 != L.ns2 || h->np2 != L.np2 || h->sl_off != L.sl_off) {
        snprintf(err->msg, sizeof err->msg, "bezier: backward without a matching forward on this workspace");
        return EXIT_INTERNAL;
    }
    int *npts2 = (int *)(b + L.o_npts), *off2 = (int *)(b + L.o_off);
    float *w2 = (float *)(b + L.o_w), *o2 = (float *)(b + L.o_o), *xy2 = (float *)(b + L.o_xy);
    float *dw2 = (float *)(b + L.o_dw), *do2 = (float *)(b + L.o_do), *dxy2 = (float *)(b + L.o_dxy);
    memset(dxy2, 0, 2 * (size_t)L.np2 * sizeof(float));
    memset(dw2, 0, (size_t)L.ns2 * sizeof(float));
    memset(do2, 0, (size_t)L.ns2 * sizeof(float));
    softline_scene_t s2 = {L.ns2, npts2, off2, xy2, w2, o2};
    softline_grad_t g2 = {g->xy ? dxy2 : NULL, g->width ? dw2 : NULL, g->opacity ? do2 : NULL};
    nn_par_t par = {.run = host ? host->parallel_for : NULL, .impl = host ? host->ctx : NULL, .nthreads = host ? host->nthreads : 1};
    softline_fault_t f;
    if (softline_backward(&st->sl, b + L.sl_off, &s2, W, H, dimg, &g2, &par, &f)) return sl_error(&f, err);
    /* samples -> control points (transpose of the Bernstein weights); each
     * stroke's width/opacity gradient is the sum over its polylines */
    int q = 0;
    for (int s = 0; s < sc->nstrokes; s++) {
        int n = sc->npts[s], nsub, np;
        stroke_counts(st, n, &nsub, &np);
        if (g->xy && n > 0) bezier_sample_backward(g->xy + 2 * (size_t)sc->off[s], dxy2 + 2 * (size_t)off2[q], n,
                                                   st->samples, st->layout);
        for (int j = 0; j < nsub; j++, q++) {
            if (g->width) g->width[s] += dw2[q];
            if (g->opacity) g->opacity[s] += do2[q];
        }
    }
    return 0;
}

/* Only Schneider's fit needs scratch (nn/bezier.h). */
static size_t bz_codec_ws_size(const void *state, int n) {
    const bz_state_t *st = state;
    return st->mode == FIT_SCHNEIDER ? bezier_fit_ws_size(n) : 0;
}

static int bz_encode(void *state, void *ws, const float *xy, int n, float *out, int cap, plugin_err_t *err) {
    const bz_state_t *st = state;
    int r;
    if (n < 1) {
        snprintf(err->msg, sizeof err->msg, "bezier: cannot encode a stroke of %d points", n);
        return -EXIT_DATA;
    }
    if (st->mode == FIT_STUDY) {
        if (!out || cap < 4) return 4;
        r = bezier_study(xy, n, out);
    } else if (st->mode == FIT_STUDY_MULTI) {
        r = bezier_study_multi(xy, n, out, cap);
    } else {
        r = bezier_fit(&st->fit, xy, n, out, cap, NULL, ws);
    }
    if (r == -1) snprintf(err->msg, sizeof err->msg, "bezier: no (aligned) codec workspace for %d points", n);
    if (r == -2) snprintf(err->msg, sizeof err->msg, "bezier: stroke has non-finite coordinates");
    return r;
}

static int bz_decode(void *state, void *ws, const float *pts, int n, float *out, int cap, plugin_err_t *err) {
    const bz_state_t *st = state;
    if (n == 0) return 0;
    int need = bezier_nsamples(st->layout, n, st->samples);
    if (need < 0) {
        snprintf(err->msg, sizeof err->msg, "bezier: %d control points is not %s", n,
                 st->layout == BEZIER_INDEPENDENT ? "a multiple of 4 (fit=study_multi)" : "3k+1");
        return -EXIT_DATA;
    }
    if (out && cap >= need) bezier_sample(out, pts, n, st->samples, st->layout);
    return need;
}

static const renderer_vt vt = {
    .ws_size = bz_ws_size,
    .forward = bz_forward,
    .backward = bz_backward,
    .codec_ws_size = bz_codec_ws_size,
    .encode = bz_encode,
    .decode = bz_decode,
};

static const plugin_desc_t desc = {
    .abi = INVCLIP_PLUGIN_ABI,
    .kind = PLUGIN_RENDERER,
    .name = "bezier",
    .version = "2.0",
    .summary = "chains of cubic Bezier curves, sampled and drawn by softline; gradients to control points",
    .help = "Each stroke is a chain of cubics B(t) = (1-t)^3 P0 + 3(1-t)^2 t P1 + 3(1-t) t^2 P2 + t^3 P3\n"
            "stored as 3k+1 control points (joints shared).  Forward samples every segment at `samples`\n"
            "points (t = linspace(0,1,m)) and renders the polylines with softline (same width, opacity,\n"
            "softness); backward is softline's adjoint followed by the exact transpose of the sampling, so\n"
            "control points, widths and opacities all get gradients (the study's widths and opacities got\n"
            "none).  encode: polyline -> chain by Schneider's least-squares fit within max_error px (G1\n"
            "joints, C0 at corners sharper than corner_angle); fit=study is the study's lossy one-cubic\n"
            "rule (vertices floor(linspace(0,n-1,4))), fit=study_multi its 6-point windows (4k points,\n"
            "independent segments, the last point dropped when one chord remains).  decode: the chain\n"
            "sampled at `samples` points per segment (samples=50 is the study's output).",
    .params = params,
    .nparams = (int)(sizeof params / sizeof params[0]),
    .state_size = sizeof(bz_state_t),
    .init = bz_init,
    .renderer = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
