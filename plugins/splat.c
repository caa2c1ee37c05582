/* splat.c - the `splat` renderer plugin: the study's soft renderer exactly
 * (docs/study.md 2.1, doodleBot render_strokes_soft), with its exact
 * adjoint.  Formulas and parity notes in docs/renderers.md ("## splat").
 *
 *   samples  every stroke with >= 2 points, every segment P_k -> P_{k+1}:
 *            S points P_k + t (P_{k+1} - P_k), t = linspace(0, 1, S) inclusive
 *            (S = samples_per_segment, default 10; shared vertices are thus
 *            sampled twice, as in the study).  One-point strokes are skipped.
 *   ink(p)   = sum over all samples q of exp(-|p - q|^2 / (2 sigma^2)),
 *            sigma = width/2 of the sample's stroke (the study has one global
 *            width; with equal widths this is the same thing)
 *   n(p)     = clamp(ink(p) / M, 0, 1), M = max_p ink(p) (no division when
 *            M = 0)
 *   img(p)   = 1 - n(p)
 * Each splat is evaluated on the square window |x - q.x|, |y - q.y| <= R,
 * R = cutoff * sigma (default 5 sigma; cutoff 0 = the whole canvas), as a
 * separable product exp(-dx^2/2s^2) exp(-dy^2/2s^2).
 *
 * Backward: dL/dn = -dimg.  The clamp passes the gradient everywhere (n is in
 * [0,1] by construction; torch.clamp's gradient mask is inclusive, so the
 * argmax pixel at exactly 1 passes too).  Division by the max:
 * dL/dink(p) = dL/dn(p) / M, plus dL/dM = -sum_p dL/dn(p) ink(p) / M^2 added
 * to the argmax pixel (split evenly among exact ties, as torch's max()).
 * Then dL/dq = sum_p dL/dink(p) G(p) (p - q) / sigma^2,
 * dL/dsigma = sum_p dL/dink(p) G(p) |p - q|^2 / sigma^3, dsigma/dwidth = 1/2,
 * and a sample's gradient goes (1-t, t) to its segment's endpoints.  Opacity
 * is not used by the study's renderer: its gradient is zero.
 *
 * Workspace: header | ink (H*W) | dL/dink (H*W) | ex (W) | ey (H).
 */
#include "plugin.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    int samples;  /* per segment */
    float cutoff; /* in sigmas; 0 = whole canvas */
} splat_cfg_t;

#define SPLAT_MAGIC 0x53504c54u

typedef struct {
    uint32_t magic;
    int W, H, nstrokes;
    float M; /* max ink of the last forward */
    int valid;
} hdr_t;

#define ALIGN_UP(n) (((n) + 63) & ~(size_t)63)

typedef struct {
    hdr_t *h;
    float *ink, *gink, *ex, *ey;
} layout_t;

static size_t layout(void *ws, int W, int H, layout_t *L) {
    size_t hw = (size_t)W * H, o = 0;
    size_t o_ink = (o += ALIGN_UP(sizeof(hdr_t)));
    size_t o_gink = (o += ALIGN_UP(hw * sizeof(float)));
    size_t o_ex = (o += ALIGN_UP(hw * sizeof(float)));
    size_t o_ey = (o += ALIGN_UP((size_t)W * sizeof(float)));
    o += ALIGN_UP((size_t)H * sizeof(float));
    if (L && ws) {
        char *b = ws;
        L->h = ws;
        L->ink = (float *)(b + o_ink);
        L->gink = (float *)(b + o_gink);
        L->ex = (float *)(b + o_ex);
        L->ey = (float *)(b + o_ey);
    }
    return o;
}

static const plugin_param_t params[] = {
    {.name = "samples_per_segment",
     .type = PARAM_INT,
     .def = 10,
     .min = 2,
     .max = 10000,
     .help = "splats per segment, t = linspace(0,1,S) inclusive (the study: 10)"},
    {.name = "cutoff",
     .type = PARAM_FLOAT,
     .def = 5,
     .min = 0,
     .max = 1000,
     .help = "evaluate each splat within this many sigmas (0 = whole canvas, as the study)"},
};

static int sp_init(void *state, const plugin_value_t *vals, const plugin_host_t *host, plugin_err_t *err) {
    splat_cfg_t *cfg = state;
    cfg->samples = (int)vals[0].i;
    cfg->cutoff = (float)vals[1].f;
    return 0;
}

static size_t sp_ws_size(const void *state, const scene_t *sc, int W, int H) {
    return layout(NULL, W, H, NULL);
}

static int check_args(const scene_t *sc, int W, int H, plugin_err_t *err) {
    if (W <= 0 || H <= 0 || (size_t)W * (size_t)H > (size_t)INT32_MAX) {
        snprintf(err->msg, sizeof err->msg, "splat: bad canvas %dx%d", W, H);
        return EXIT_USAGE;
    }
    for (int s = 0; s < sc->nstrokes; s++) {
        if (sc->npts[s] < 0) {
            snprintf(err->msg, sizeof err->msg, "splat: stroke %d has %d points", s, sc->npts[s]);
            return EXIT_DATA;
        }
        if (sc->npts[s] < 2) continue;
        if (!(sc->width[s] > 0) || !isfinite(sc->width[s])) {
            snprintf(err->msg, sizeof err->msg, "splat: stroke %d: width %g is not > 0", s,
                     (double)sc->width[s]);
            return EXIT_DATA;
        }
        const float *p = sc->xy + 2 * (size_t)sc->off[s];
        for (int k = 0; k < 2 * sc->npts[s]; k++)
            if (!isfinite(p[k])) {
                snprintf(err->msg, sizeof err->msg, "splat: stroke %d point %d is not finite", s, k / 2);
                return EXIT_NUMERIC;
            }
    }
    return 0;
}

/* torch.linspace(0, 1, S) in float32: the first half counts up from 0, the
 * second half down from 1 (so both ends are exact). */
static inline float lin_t(int m, int S) {
    float step = 1.f / (float)(S - 1);
    return m < S / 2 ? (float)m * step : 1.f - (float)(S - 1 - m) * step;
}

/* Window [lo, hi] of integer coordinates within R of c, clipped to [0, n-1]. */
static inline int window(float c, float R, int n, int *lo, int *hi) {
    double a = ceil((double)c - R), b = floor((double)c + R);
    if (a < 0) a = 0;
    if (b > n - 1) b = n - 1;
    if (a > b) return 0;
    *lo = (int)a, *hi = (int)b;
    return 1;
}

/* Splat m of S on the segment ab = (ax, ay, bx, by), shared by forward and
 * backward so that both walk the very same splats and windows. */
typedef struct {
    float t, qx, qy; /* its parameter on the segment and its centre */
    int j0, j1, i0, i1; /* its window on the canvas */
} splat_t;

/* Fills *q and ex[j0..j1] = exp(-(j - qx)^2 k2); returns 0 when the window is
 * off the canvas. */
static inline int splat_at(const float *ab, int m, int S, float R, float k2, int W, int H, float *ex, splat_t *q) {
    float dx = ab[2] - ab[0], dy = ab[3] - ab[1];
    q->t = lin_t(m, S);
    q->qx = ab[0] + q->t * dx, q->qy = ab[1] + q->t * dy;
    if (!window(q->qx, R, W, &q->j0, &q->j1) || !window(q->qy, R, H, &q->i0, &q->i1)) return 0;
    for (int j = q->j0; j <= q->j1; j++) {
        float u = (float)j - q->qx;
        ex[j] = expf(-u * u * k2);
    }
    return 1;
}

static int sp_forward(void *state, void *ws, const plugin_host_t *host, const scene_t *sc, int W, int H, float *img,
                      plugin_err_t *err) {
    const splat_cfg_t *cfg = state;
    int rc = check_args(sc, W, H, err);
    if (rc) return rc;
    layout_t L;
    layout(ws, W, H, &L);
    size_t hw = (size_t)W * H;
    memset(L.ink, 0, hw * sizeof(float));
    const int S = cfg->samples;
    for (int s = 0; s < sc->nstrokes; s++) {
        int n = sc->npts[s];
        if (n < 2) continue;
        const float *p = sc->xy + 2 * (size_t)sc->off[s];
        float sig = 0.5f * sc->width[s], k2 = 1.f / (2.f * sig * sig);
        float R = cfg->cutoff > 0 ? cfg->cutoff * sig : (float)(W + H);
        for (int k = 0; k + 1 < n; k++)
            for (int m = 0; m < S; m++) {
                splat_t q;
                if (!splat_at(p + 2 * k, m, S, R, k2, W, H, L.ex, &q)) continue;
                for (int i = q.i0; i <= q.i1; i++) {
                    float v = (float)i - q.qy, ey = expf(-v * v * k2);
                    float *row = L.ink + (size_t)i * W;
                    for (int j = q.j0; j <= q.j1; j++) row[j] += ey * L.ex[j];
                }
            }
    }
    float M = 0.f;
    for (size_t q = 0; q < hw; q++)
        if (L.ink[q] > M) M = L.ink[q];
    for (size_t q = 0; q < hw; q++) {
        float v = M > 0.f ? L.ink[q] / M : L.ink[q];
        v = v < 0.f ? 0.f : v > 1.f ? 1.f : v;
        img[q] = 1.f - v;
    }
    L.h->magic = SPLAT_MAGIC;
    L.h->W = W, L.h->H = H, L.h->nstrokes = sc->nstrokes;
    L.h->M = M;
    L.h->valid = 1;
    return 0;
}

static int sp_backward(void *state, void *ws, const plugin_host_t *host, const scene_t *sc, int W, int H,
                       const float *dimg, scene_grad_t *g, plugin_err_t *err) {
    const splat_cfg_t *cfg = state;
    int rc = check_args(sc, W, H, err);
    if (rc) return rc;
    layout_t L;
    layout(ws, W, H, &L);
    if (L.h->magic != SPLAT_MAGIC || !L.h->valid || L.h->W != W || L.h->H != H ||
        L.h->nstrokes != sc->nstrokes) {
        snprintf(err->msg, sizeof err->msg, "splat: backward without a matching forward");
        return EXIT_INTERNAL;
    }
    size_t hw = (size_t)W * H;
    const float M = L.h->M;
    if (M > 0.f) {
        /* n = ink / M: both paths of the division */
        double gM = 0;
        size_t nties = 0;
        for (size_t q = 0; q < hw; q++) {
            float gn = -dimg[q];
            L.gink[q] = gn / M;
            gM -= (double)gn * L.ink[q];
            nties += L.ink[q] == M;
        }
        gM /= (double)M * M;
        float share = (float)(gM / (double)nties);
        for (size_t q = 0; q < hw; q++)
            if (L.ink[q] == M) L.gink[q] += share;
    } else {
        /* ink is 0 everywhere; clamp at 0 passes the gradient (inclusive mask) */
        for (size_t q = 0; q < hw; q++) L.gink[q] = -dimg[q];
    }
    const int S = cfg->samples;
    for (int s = 0; s < sc->nstrokes; s++) {
        int n = sc->npts[s];
        if (n < 2) continue;
        const float *p = sc->xy + 2 * (size_t)sc->off[s];
        float *gp = g->xy ? g->xy + 2 * (size_t)sc->off[s] : NULL;
        float sig = 0.5f * sc->width[s], k2 = 1.f / (2.f * sig * sig), is2 = 1.f / (sig * sig);
        float R = cfg->cutoff > 0 ? cfg->cutoff * sig : (float)(W + H);
        double gsig = 0;
        for (int k = 0; k + 1 < n; k++)
            for (int m = 0; m < S; m++) {
                splat_t q;
                if (!splat_at(p + 2 * k, m, S, R, k2, W, H, L.ex, &q)) continue;
                double ax = 0, ay = 0, ar = 0;
                for (int i = q.i0; i <= q.i1; i++) {
                    float v = (float)i - q.qy, ey = expf(-v * v * k2);
                    const float *row = L.gink + (size_t)i * W;
                    float s0 = 0, s1 = 0, s2 = 0;
                    for (int j = q.j0; j <= q.j1; j++) {
                        float u = (float)j - q.qx, a = row[j] * L.ex[j];
                        s0 += a, s1 += a * u, s2 += a * u * u;
                    }
                    ax += (double)ey * s1;
                    ay += (double)ey * v * s0;
                    ar += (double)ey * (s2 + v * v * s0);
                }
                /* dL/dq = sum g G (p - q) / sigma^2 */
                float gx = (float)ax * is2, gy = (float)ay * is2, t = q.t;
                gsig += ar * is2 / sig;
                if (gp) {
                    gp[2 * k] += (1.f - t) * gx, gp[2 * k + 1] += (1.f - t) * gy;
                    gp[2 * k + 2] += t * gx, gp[2 * k + 3] += t * gy;
                }
            }
        if (g->width) g->width[s] += (float)(0.5 * gsig);
    }
    return 0;
}

static const renderer_vt vt = {
    .ws_size = sp_ws_size,
    .forward = sp_forward,
    .backward = sp_backward,
};

static const plugin_desc_t desc = {
    .abi = INVCLIP_PLUGIN_ABI,
    .kind = PLUGIN_RENDERER,
    .name = "splat",
    .version = "2.0",
    .summary = "the study's renderer: Gaussian point splats, 10 per segment, normalised by the max",
    .help = "The study's soft renderer (doodleBot render_strokes_soft) exactly: every segment of every\n"
            "stroke with >= 2 points gets S splats at t = linspace(0,1,S) (shared vertices twice),\n"
            "ink = sum exp(-r^2 / (2 sigma^2)) with sigma = width/2, ink /= max(ink) (when > 0),\n"
            "clamp to [0,1], img = 1 - ink.  One-point strokes are skipped.  Per-stroke widths are\n"
            "honoured (the study had one global width).  Splats are cut off at `cutoff` sigmas\n"
            "(5: < 1e-5 from the whole-canvas sum).  Gradients: points and width, through the max;\n"
            "opacity is unused (gradient 0).",
    .params = params,
    .nparams = (int)(sizeof params / sizeof params[0]),
    .state_size = sizeof(splat_cfg_t),
    .init = sp_init,
    .renderer = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
