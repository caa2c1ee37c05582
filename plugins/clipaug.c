/* clipaug.c - augmentation plugin "clipaug": the CLIP view augmentations of
 * the study (doodleBot's CLIPAugmentations) and of CLIPasso, with their exact
 * adjoint.
 *
 * forward: in (C,H,W) in [0,1] -> out (nviews,C,H,W).  View 0 is the input
 * itself when keep_original is set; every other view applies, in this order,
 * each independently with its probability: a random perspective warp
 * (bilinear, fill), a random resized crop (bilinear back to H x W), a random
 * rotation about the centre (nearest or bilinear, fill) and a colour jitter
 * (brightness, contrast, clamp).  The formulas are torchvision's tensor
 * kernels (nn/warp.h); docs/augmentations.md gives them all, with the
 * presets and the study's normalisation quirk (after_normalize).
 *
 * Randomness comes only from host->rng_uniform, in a fixed documented order
 * per augmented view (gate = one uniform u, the transform applies iff u < p):
 *   gate_perspective [8 corner uniforms: TL x,y, TR x,y, BR x,y, BL x,y]
 *   gate_crop [s, top, left; area mode: s again on each failed attempt]
 *   gate_rotation [angle]   gate_jitter [brightness, contrast]
 * so a seeded host gives reproducible views, and a scripted host fixes them.
 * The drawn transforms and their sampling maps stay in the workspace;
 * backward replays them exactly (scatter with the same weights, jitter mean
 * term, clamp mask) and ADDS into din.
 *
 * Not here: the same transform applied to a second image (CLIPasso augments
 * the [sketch, target] pair together; a loss wanting that must warp its
 * target itself) and gradients w.r.t. the transform parameters.
 */
#include "nn/warp.h"
#include "plugin.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_VIEWS 64
#define WS_MAGIC 0x434c4950u /* "CLIP" */

enum { CORNERS_SYMMETRIC = 0, CORNERS_INWARD = 1 };
enum { CROP_SIDE = 0, CROP_AREA = 1 };
enum { PRESET_DOODLEBOT = 0, PRESET_DOODLEBOT_OPT = 1, PRESET_CLIPASSO = 2 };

typedef struct {
    int nviews, keep, after_norm;
    double persp_p, persp_d, fill;
    int corners;
    double crop_p, crop_min, crop_max;
    int crop_mode;
    double rot_p, rot_deg;
    int rot_interp;
    double jit_p, bright, contrast;
} clipaug_t;

/* The values each preset gives the parameters left at -1 / "preset".  The
 * study's optimiser differs from its CLIPAugmentations defaults only in the
 * perspective scale and the rotation range; fields left out are 0. */
#define DOODLEBOT(persp_scale, rot_range)                                                                  \
    {.nviews = 4, .persp_p = 0.5, .persp_d = (persp_scale), .fill = 1.0, .corners = CORNERS_SYMMETRIC,      \
     .crop_p = 0.7, .crop_min = 0.7, .crop_max = 1.0, .crop_mode = CROP_SIDE, .rot_p = 0.3,                \
     .rot_deg = (rot_range), .jit_p = 0.3, .bright = 0.1, .contrast = 0.1}
static const clipaug_t presets[3] = {
    [PRESET_DOODLEBOT] = DOODLEBOT(0.2, 15),
    [PRESET_DOODLEBOT_OPT] = DOODLEBOT(0.15, 10),
    [PRESET_CLIPASSO] = {.nviews = 5, .persp_p = 1.0, .persp_d = 0.5, .fill = 0.0, .corners = CORNERS_INWARD,
                         .crop_p = 1.0, .crop_min = 0.8, .crop_max = 0.8, .crop_mode = CROP_AREA},
};
#undef DOODLEBOT

enum {
    P_PRESET,
    P_NVIEWS,
    P_KEEP,
    P_AFTER_NORM,
    P_PERSP_P,
    P_PERSP_SCALE,
    P_CORNERS,
    P_FILL,
    P_CROP_P,
    P_CROP_MIN,
    P_CROP_MAX,
    P_CROP_MODE,
    P_ROT_P,
    P_ROT_DEG,
    P_ROT_INTERP,
    P_JIT_P,
    P_BRIGHT,
    P_CONTRAST,
    NPARAMS
};

static const plugin_param_t params[NPARAMS] = {
    [P_PRESET] = {"preset", PARAM_ENUM, 0, 0, 0, "doodlebot", "doodlebot|doodlebot-optimizer|clipasso",
                  "defaults for every parameter left at -1/preset (see docs/augmentations.md)"},
    [P_NVIEWS] = {"nviews", PARAM_INT, -1, -1, MAX_VIEWS, NULL, NULL,
                  "views written, the original included (-1: doodlebot 4, clipasso 5)"},
    [P_KEEP] = {"keep_original", PARAM_BOOL, 1, 0, 1, NULL, NULL, "view 0 is the un-augmented input"},
    [P_AFTER_NORM] =
        {"after_normalize", PARAM_BOOL, 0, 0, 1, NULL, NULL,
         "study's quirk: augment the CLIP-normalised image (fill, clamp in normalised units); C=3"},
    [P_PERSP_P] = {"persp_p", PARAM_FLOAT, -1, -1, 1, NULL, NULL,
                   "probability of the perspective warp (-1: doodlebot 0.5, clipasso 1)"},
    [P_PERSP_SCALE] =
        {"persp_scale", PARAM_FLOAT, -1, -1, 1, NULL, NULL,
         "distortion scale d: corners move up to d*half-size (-1: 0.2 / optimizer 0.15 / clipasso 0.5)"},
    [P_CORNERS] = {"corners", PARAM_ENUM, 0, 0, 0, "preset", "preset|symmetric|inward",
                   "symmetric: U(-d,d)*(W//2) per coordinate (doodlebot); inward: torchvision integer draws "
                   "(clipasso)"},
    [P_FILL] = {"fill", PARAM_FLOAT, -1, -1, 1, NULL, NULL,
                "value outside the warped image (-1: doodlebot 1 = white, clipasso 0 = black)"},
    [P_CROP_P] = {"crop_p", PARAM_FLOAT, -1, -1, 1, NULL, NULL,
                  "probability of the resized crop (-1: doodlebot 0.7, clipasso 1)"},
    [P_CROP_MIN] = {"crop_min", PARAM_FLOAT, -1, -1, 1, NULL, NULL,
                    "smallest crop scale s (-1: 0.7 / clipasso 0.8)"},
    [P_CROP_MAX] = {"crop_max", PARAM_FLOAT, -1, -1, 1, NULL, NULL,
                    "largest crop scale s (-1: 1.0 / clipasso 0.8)"},
    [P_CROP_MODE] = {"crop_mode", PARAM_ENUM, 0, 0, 0, "preset", "preset|side|area",
                     "side: crop int(s*H) x int(s*W) (doodlebot); area: square of side round(sqrt(s*H*W)) "
                     "(torchvision RandomResizedCrop ratio 1, clipasso)"},
    [P_ROT_P] = {"rot_p", PARAM_FLOAT, -1, -1, 1, NULL, NULL,
                 "probability of the rotation (-1: doodlebot 0.3, clipasso 0)"},
    [P_ROT_DEG] = {"rot_deg", PARAM_FLOAT, -1, -1, 180, NULL, NULL,
                   "rotation angle ~ U(-deg, deg) degrees (-1: 15 / optimizer 10)"},
    [P_ROT_INTERP] = {"rot_interp", PARAM_ENUM, 0, 0, 0, "nearest", "nearest|bilinear",
                      "rotation sampling (the study: nearest)"},
    [P_JIT_P] = {"jitter_p", PARAM_FLOAT, -1, -1, 1, NULL, NULL,
                 "probability of the colour jitter (-1: doodlebot 0.3, clipasso 0)"},
    [P_BRIGHT] = {"brightness", PARAM_FLOAT, -1, -1, 1, NULL, NULL, "x *= 1 + U(-b, b) (-1: 0.1)"},
    [P_CONTRAST] = {"contrast", PARAM_FLOAT, -1, -1, 1, NULL, NULL,
                    "x = (x - mean_HW)(1 + U(-c, c)) + mean_HW per channel, then clamp [0,1] (-1: 0.1)"},
};

/* CLIP's normalisation (docs/study.md 3.2). */
static const double clip_mean[3] = {0.48145466, 0.4578275, 0.40821073};
static const double clip_std[3] = {0.26862954, 0.26130258, 0.27577711};

/* One augmented view's drawn transforms. */
typedef struct {
    int persp, crop, rot, jit;
    double end[8];         /* perspective end points (TL, TR, BR, BL), start = image corners */
    int top, left, ch, cw; /* crop box */
    double angle;          /* degrees */
    double beta, gamma;    /* jitter factors */
} view_t;

typedef struct {
    uint32_t magic;
    int C, H, W, nviews, naug;
    view_t v[MAX_VIEWS];
} ws_hdr_t;

/* Workspace layout (byte offsets), a pure function of (state, C, H, W). */
typedef struct {
    size_t maps;   /* (naug, 3, H*W) warp_tap_t: perspective, crop, rotation */
    size_t masks;  /* (naug, C*H*W) uint8 jitter clamp masks */
    size_t s0, s1; /* (max(naug,1), C*H*W) float scratch each: a pair per view, so views run in parallel */
    size_t nin;    /* (C*H*W) float: normalised input (after_normalize) */
    size_t total;
} layout_t;

static size_t al64(size_t n) { return (n + 63) & ~(size_t)63; }

static int naug_of(const clipaug_t *st) { return st->nviews - (st->keep ? 1 : 0); }

static layout_t layout(const clipaug_t *st, int C, int H, int W) {
    layout_t l;
    size_t hw = (size_t)H * W, chw = (size_t)C * hw, na = (size_t)naug_of(st);
    size_t o = al64(sizeof(ws_hdr_t));
    l.maps = o;
    o += al64(na * 3 * hw * sizeof(warp_tap_t));
    l.masks = o;
    o += al64(na * chw);
    size_t ns = na ? na : 1;
    l.s0 = o;
    o += al64(ns * chw * sizeof(float));
    l.s1 = o;
    o += al64(ns * chw * sizeof(float));
    l.nin = o;
    if (st->after_norm) o += al64(chw * sizeof(float));
    l.total = o;
    return l;
}

static int perr(plugin_err_t *err, int code, const char *msg) {
    snprintf(err->msg, sizeof err->msg, "clipaug: %s", msg);
    return code;
}

static double pick(double v, double preset) { return v < 0 ? preset : v; }

static int clipaug_init(void *state, const plugin_value_t *vals, const plugin_host_t *host,
                        plugin_err_t *err) {
    clipaug_t *st = state;
    const clipaug_t *ps = &presets[vals[P_PRESET].i];
    st->nviews = vals[P_NVIEWS].i < 0 ? ps->nviews : (int)vals[P_NVIEWS].i;
    st->keep = (int)vals[P_KEEP].i;
    st->after_norm = (int)vals[P_AFTER_NORM].i;
    st->persp_p = pick(vals[P_PERSP_P].f, ps->persp_p);
    st->persp_d = pick(vals[P_PERSP_SCALE].f, ps->persp_d);
    st->corners = vals[P_CORNERS].i == 0 ? ps->corners : (int)vals[P_CORNERS].i - 1;
    st->fill = pick(vals[P_FILL].f, ps->fill);
    st->crop_p = pick(vals[P_CROP_P].f, ps->crop_p);
    st->crop_min = pick(vals[P_CROP_MIN].f, ps->crop_min);
    st->crop_max = pick(vals[P_CROP_MAX].f, ps->crop_max);
    st->crop_mode = vals[P_CROP_MODE].i == 0 ? ps->crop_mode : (int)vals[P_CROP_MODE].i - 1;
    st->rot_p = pick(vals[P_ROT_P].f, ps->rot_p);
    st->rot_deg = pick(vals[P_ROT_DEG].f, ps->rot_deg);
    st->rot_interp = vals[P_ROT_INTERP].i == 0 ? WARP_NEAREST : WARP_BILINEAR;
    st->jit_p = pick(vals[P_JIT_P].f, ps->jit_p);
    st->bright = pick(vals[P_BRIGHT].f, ps->bright);
    st->contrast = pick(vals[P_CONTRAST].f, ps->contrast);
    if (st->nviews < 1) return perr(err, EXIT_USAGE, "nviews must be at least 1");
    if (st->crop_p > 0 && !(st->crop_min > 0 && st->crop_min <= st->crop_max))
        return perr(err, EXIT_USAGE, "crop scales need 0 < crop_min <= crop_max");
    return 0;
}

static int clipaug_nviews(const void *state) { return ((const clipaug_t *)state)->nviews; }

static size_t clipaug_ws_size(const void *state, int C, int H, int W) {
    if (C <= 0 || H <= 0 || W <= 0) return al64(sizeof(ws_hdr_t));
    return layout(state, C, H, W).total;
}

static double U(const plugin_host_t *h) { return h->rng_uniform(h->ctx); }
/* torch.randint(lo, hi) from one uniform: lo + floor(u*(hi-lo)). */
static int randint(const plugin_host_t *h, int lo, int hi) {
    int k = (int)(U(h) * (hi - lo));
    if (k > hi - lo - 1) k = hi - lo - 1;
    return lo + (k < 0 ? 0 : k);
}

static void draw_view(const clipaug_t *st, const plugin_host_t *h, int H, int W, view_t *v) {
    memset(v, 0, sizeof *v);
    v->persp = U(h) < st->persp_p;
    if (v->persp) {
        const double start[8] = {0, 0, W - 1, 0, W - 1, H - 1, 0, H - 1};
        int hw = W / 2, hh = H / 2;
        if (st->corners == CORNERS_SYMMETRIC) {
            double d = st->persp_d;
            for (int k = 0; k < 4; k++) {
                v->end[2 * k] = start[2 * k] + (-d + 2 * d * U(h)) * hw;
                v->end[2 * k + 1] = start[2 * k + 1] + (-d + 2 * d * U(h)) * hh;
            }
        } else { /* torchvision RandomPerspective.get_params */
            int dw = (int)(st->persp_d * hw), dh = (int)(st->persp_d * hh);
            v->end[0] = randint(h, 0, dw + 1);
            v->end[1] = randint(h, 0, dh + 1);
            v->end[2] = randint(h, W - dw - 1, W);
            v->end[3] = randint(h, 0, dh + 1);
            v->end[4] = randint(h, W - dw - 1, W);
            v->end[5] = randint(h, H - dh - 1, H);
            v->end[6] = randint(h, 0, dw + 1);
            v->end[7] = randint(h, H - dh - 1, H);
        }
    }
    v->crop = U(h) < st->crop_p;
    if (v->crop) {
        int found = 0;
        for (int attempt = 0; attempt < (st->crop_mode == CROP_AREA ? 10 : 1) && !found; attempt++) {
            double s = st->crop_min + (st->crop_max - st->crop_min) * U(h);
            if (st->crop_mode == CROP_SIDE) {
                v->ch = (int)(s * H);
                v->cw = (int)(s * W);
                if (v->ch < 1) v->ch = 1;
                if (v->cw < 1) v->cw = 1;
                found = 1;
            } else {
                int side = (int)nearbyint(sqrt(s * H * W));
                v->ch = v->cw = side;
                found = side > 0 && side <= W && side <= H;
            }
        }
        if (found) {
            v->top = randint(h, 0, H - v->ch + 1);
            v->left = randint(h, 0, W - v->cw + 1);
        } else { /* torchvision's fallback: central crop of ratio 1 */
            v->ch = v->cw = W < H ? W : H;
            v->top = (H - v->ch) / 2;
            v->left = (W - v->cw) / 2;
        }
    }
    v->rot = U(h) < st->rot_p;
    if (v->rot) v->angle = -st->rot_deg + 2 * st->rot_deg * U(h);
    v->jit = U(h) < st->jit_p;
    if (v->jit) {
        v->beta = 1 + (-st->bright + 2 * st->bright * U(h));
        v->gamma = 1 + (-st->contrast + 2 * st->contrast * U(h));
    }
}

/* One augmented view, forward or backward, on its own scratch pair: views
 * are independent once their random parameters are drawn (in view order,
 * before any of them runs), so they run in parallel on the host's threads
 * with the same results as one after another. */
typedef struct {
    const clipaug_t *st;
    char *base;
    layout_t l;
    int C, H, W;
    const float *src; /* forward: the (normalised) input */
    float *out;       /* forward: (nviews, C, H, W) */
    const float *dout;
    const float *res[MAX_VIEWS]; /* backward: each view's gradient w.r.t. the input space */
} job_t;

static void view_forward(job_t *j, int a) {
    const clipaug_t *st = j->st;
    int C = j->C, H = j->H, W = j->W;
    size_t hw = (size_t)H * W, chw = (size_t)C * hw;
    ws_hdr_t *hd = (ws_hdr_t *)j->base;
    view_t *v = &hd->v[a];
    float *s0 = (float *)(j->base + j->l.s0) + (size_t)a * chw, *s1 = (float *)(j->base + j->l.s1) + (size_t)a * chw;
    float *o = j->out + (size_t)(a + (st->keep ? 1 : 0)) * chw;
    float lo = 0, hi = 1, fill = (float)st->fill;
    warp_tap_t *maps = (warp_tap_t *)(j->base + j->l.maps) + (size_t)a * 3 * hw;
    if (v->persp) {
        const double start[8] = {0, 0, W - 1, 0, W - 1, H - 1, 0, H - 1};
        double hm[9];
        if (warp_perspective_matrix(start, v->end, hm) == 0)
            warp_map_projective(hm, H, W, WARP_BILINEAR, maps);
        else
            v->persp = 0; /* degenerate corners: no warp */
    }
    if (v->crop) warp_map_crop_resize(v->top, v->left, v->ch, v->cw, H, W, maps + hw);
    if (v->rot) {
        double hm[9];
        warp_rotation_matrix(v->angle, H, W, hm);
        warp_map_projective(hm, H, W, st->rot_interp, maps + 2 * hw);
    }
    const float *cur = j->src;
    int on[3] = {v->persp, v->crop, v->rot};
    for (int k = 0; k < 3; k++) {
        if (!on[k]) continue;
        float *dst = cur == s0 ? s1 : s0;
        warp_apply(maps + k * hw, C, H, W, cur, fill, dst);
        cur = dst;
    }
    if (v->jit) {
        float *dst = cur == s0 ? s1 : s0;
        jitter_forward(C, H, W, cur, v->beta, v->gamma, lo, hi, dst, (uint8_t *)(j->base + j->l.masks) + a * chw);
        cur = dst;
    }
    if (st->after_norm) {
        for (int c = 0; c < 3; c++)
            for (size_t p = 0; p < hw; p++) o[c * hw + p] = (float)(cur[c * hw + p] * clip_std[c] + clip_mean[c]);
    } else
        memcpy(o, cur, chw * sizeof(float));
}

static void view_backward(job_t *j, int a) {
    const clipaug_t *st = j->st;
    int C = j->C, H = j->H, W = j->W;
    size_t hw = (size_t)H * W, chw = (size_t)C * hw;
    const view_t *v = &((const ws_hdr_t *)j->base)->v[a];
    const float *g = j->dout + (size_t)(a + (st->keep ? 1 : 0)) * chw;
    const warp_tap_t *maps = (const warp_tap_t *)(j->base + j->l.maps) + (size_t)a * 3 * hw;
    float *cur = (float *)(j->base + j->l.s0) + (size_t)a * chw, *nxt = (float *)(j->base + j->l.s1) + (size_t)a * chw;
    if (st->after_norm) {
        for (int c = 0; c < 3; c++)
            for (size_t p = 0; p < hw; p++) cur[c * hw + p] = (float)(g[c * hw + p] * clip_std[c]);
    } else
        memcpy(cur, g, chw * sizeof(float));
    if (v->jit) {
        memset(nxt, 0, chw * sizeof(float));
        jitter_backward(C, H, W, cur, v->beta, v->gamma, (const uint8_t *)(j->base + j->l.masks) + a * chw, nxt);
        float *t = cur;
        cur = nxt;
        nxt = t;
    }
    int on[3] = {v->persp, v->crop, v->rot};
    for (int k = 2; k >= 0; k--) {
        if (!on[k]) continue;
        memset(nxt, 0, chw * sizeof(float));
        warp_apply_adjoint(maps + k * hw, C, H, W, cur, nxt);
        float *t = cur;
        cur = nxt;
        nxt = t;
    }
    j->res[a] = cur;
}

static void task_forward(void *fctx, int b, int e, int tid) {
    (void)tid;
    for (int a = b; a < e; a++) view_forward(fctx, a);
}
static void task_backward(void *fctx, int b, int e, int tid) {
    (void)tid;
    for (int a = b; a < e; a++) view_backward(fctx, a);
}

static void run_views(const plugin_host_t *host, int n, plugin_task_fn fn, job_t *j) {
    if (n <= 0) return;
    if (host && host->parallel_for && host->nthreads > 1)
        host->parallel_for(host->ctx, n, fn, j);
    else
        fn(j, 0, n, 0);
}

static int clipaug_forward(void *state, void *ws, const plugin_host_t *host, int C, int H, int W,
                           const float *in, float *out, plugin_err_t *err) {
    const clipaug_t *st = state;
    if (C <= 0 || H <= 0 || W <= 0) return perr(err, EXIT_DATA, "empty image");
    if (st->after_norm && C != 3)
        return perr(err, EXIT_USAGE, "after_normalize needs C=3 (replicate a grey image to RGB first)");
    if (naug_of(st) > 0 && (!host || !host->rng_uniform))
        return perr(err, EXIT_INTERNAL, "the host provides no rng_uniform");
    job_t j = {.st = st, .base = ws, .l = layout(st, C, H, W), .C = C, .H = H, .W = W, .out = out};
    ws_hdr_t *hd = ws;
    size_t hw = (size_t)H * W, chw = (size_t)C * hw;
    hd->magic = 0;
    hd->C = C;
    hd->H = H;
    hd->W = W;
    hd->nviews = st->nviews;
    hd->naug = naug_of(st);

    j.src = in;
    if (st->after_norm) { /* the study's space: (x - mean)/std, fill and clamp there */
        float *nin = (float *)(j.base + j.l.nin);
        for (int c = 0; c < 3; c++)
            for (size_t p = 0; p < hw; p++)
                nin[c * hw + p] = (float)((in[c * hw + p] - clip_mean[c]) / clip_std[c]);
        j.src = nin;
    }
    if (st->keep) memcpy(out, in, chw * sizeof(float));
    for (int a = 0; a < hd->naug; a++) draw_view(st, host, H, W, &hd->v[a]); /* the random draws, in view order */
    run_views(host, hd->naug, task_forward, &j);
    hd->magic = WS_MAGIC;
    return 0;
}

/* din += each view's gradient, in view order for every pixel (the sums of a
 * serial loop over views), pixels split over the threads */
typedef struct {
    const job_t *j;
    const float *g0; /* the kept view's gradient, or NULL */
    float *din;
    size_t n, chunk;
    int naug;
} sum_t;

static void task_sum(void *fctx, int b, int e, int tid) {
    (void)tid;
    const sum_t *u = fctx;
    const clipaug_t *st = u->j->st;
    size_t hw = (size_t)u->j->H * u->j->W;
    for (int t = b; t < e; t++) {
        size_t p0 = (size_t)t * u->chunk, p1 = p0 + u->chunk < u->n ? p0 + u->chunk : u->n;
        for (size_t p = p0; p < p1; p++) {
            float d = u->din[p];
            if (u->g0) d += u->g0[p];
            for (int a = 0; a < u->naug; a++)
                d += st->after_norm ? (float)(u->j->res[a][p] / clip_std[p / hw]) : u->j->res[a][p];
            u->din[p] = d;
        }
    }
}

static int clipaug_backward(void *state, void *ws, const plugin_host_t *host, int C, int H, int W, const float *dout,
                            float *din, plugin_err_t *err) {
    const clipaug_t *st = state;
    ws_hdr_t *hd = ws;
    if (!hd || hd->magic != WS_MAGIC || hd->C != C || hd->H != H || hd->W != W || hd->nviews != st->nviews)
        return perr(err, EXIT_INTERNAL, "backward without a matching forward on this workspace");
    job_t j = {.st = st, .base = ws, .l = layout(st, C, H, W), .C = C, .H = H, .W = W, .dout = dout};
    int na = naug_of(st);
    run_views(host, na, task_backward, &j);
    size_t chw = (size_t)C * H * W;
    int nt = host && host->parallel_for && host->nthreads > 1 ? host->nthreads : 1;
    sum_t u = {.j = &j, .g0 = st->keep ? dout : NULL, .din = din, .n = chw, .naug = na};
    u.chunk = (chw + (size_t)nt * 4 - 1) / ((size_t)nt * 4);
    int nchunks = (int)((chw + u.chunk - 1) / u.chunk);
    if (nt > 1)
        host->parallel_for(host->ctx, nchunks, task_sum, &u);
    else
        task_sum(&u, 0, nchunks, 0);
    return 0;
}

static const augment_vt vt = {
    .nviews = clipaug_nviews,
    .ws_size = clipaug_ws_size,
    .forward = clipaug_forward,
    .backward = clipaug_backward,
};

static const plugin_desc_t desc = {
    .abi = INVCLIP_PLUGIN_ABI,
    .kind = PLUGIN_AUGMENT,
    .name = "clipaug",
    .version = "1.0",
    .summary =
        "CLIP view augmentations of the study and of CLIPasso: perspective, resized crop, rotation, jitter",
    .help =
        "Writes nviews views of a (C,H,W) image in [0,1]: view 0 the input (keep_original), the others each "
        "apply, in order and independently with their probabilities, a perspective warp (4 corners moved, "
        "bilinear, fill), a resized crop (bilinear back to HxW, align_corners=false, no antialias), a "
        "rotation "
        "about the centre (nearest by default, fill) and a colour jitter (x*(1+U(-b,b)); "
        "(x-mean)*(1+U(-c,c))+mean per channel; clamp [0,1]), all as torchvision's tensor kernels compute "
        "them. preset=doodlebot is the study's CLIPAugmentations class defaults, doodlebot-optimizer its "
        "optimiser's values (perspective 0.15, rotation 10), clipasso CLIPasso's (perspective p=1 scale 0.5 "
        "black fill, crop area 0.8 ratio 1, 4 augmented + original). after_normalize=true reproduces the "
        "study's quirk of augmenting the CLIP-normalised image (fill 1.0 and the clamp in normalised units) "
        "and maps the result back to [0,1] so the host's normalisation yields the study's tensor. "
        "backward is the exact adjoint w.r.t. the image. See docs/augmentations.md.",
    .params = params,
    .nparams = NPARAMS,
    .state_size = sizeof(clipaug_t),
    .init = clipaug_init,
    .augment = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
