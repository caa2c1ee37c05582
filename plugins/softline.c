/* softline.c - the `softline` renderer plugin: anti-aliased soft polylines by
 * true distance to each segment, with exact gradients for every point, width
 * and opacity.  A thin wrapper over nn/softline.c (the core that the bezier
 * renderer shares); formulas in docs/renderers.md.
 *
 * Scene points are polyline vertices (encode/decode are the identity); width
 * (px) and opacity come from the scene.  The backward pass splits large
 * scenes over the host's parallel_for (bit-identical to serial).  Never
 * prints, keeps no globals, links only the pure-maths layer.
 */
#include <stdio.h>
#include "nn/softline.h"
#include "plugin.h"

static const plugin_param_t params[] = {
    {.name = "softness",
     .type = PARAM_FLOAT,
     .def = 1.0,
     .min = 0.05,
     .max = 32,
     .help = "width in px of the edge ramp (coverage goes 1 -> 0 over it, centred on the edge)"},
};

static int sl_init(void *state, const plugin_value_t *vals, const plugin_host_t *host, plugin_err_t *err) {
    softline_cfg_t *cfg = state;
    cfg->softness = (float)vals[0].f;
    return 0;
}

static softline_scene_t core_scene(const scene_t *sc) {
    return (softline_scene_t){sc->nstrokes, sc->npts, sc->off, sc->xy, sc->width, sc->opacity};
}

/* The core's refusal as an exit code and message. */
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

static size_t sl_ws_size(const void *state, const scene_t *sc, int W, int H) {
    softline_scene_t s = core_scene(sc);
    return softline_ws_size(state, &s, W, H);
}

static int sl_forward(void *state, void *ws, const plugin_host_t *host, const scene_t *sc, int W, int H, float *img,
                      plugin_err_t *err) {
    softline_scene_t s = core_scene(sc);
    softline_fault_t f;
    return softline_forward(state, ws, &s, W, H, img, &f) ? sl_error(&f, err) : 0;
}

static int sl_backward(void *state, void *ws, const plugin_host_t *host, const scene_t *sc, int W, int H,
                       const float *dimg, scene_grad_t *g, plugin_err_t *err) {
    softline_scene_t s = core_scene(sc);
    softline_grad_t cg = {g->xy, g->width, g->opacity};
    nn_par_t par = {.run = host ? host->parallel_for : NULL, .impl = host ? host->ctx : NULL, .nthreads = host ? host->nthreads : 1};
    softline_fault_t f;
    return softline_backward(state, ws, &s, W, H, dimg, &cg, &par, &f) ? sl_error(&f, err) : 0;
}

static const renderer_vt vt = {
    .ws_size = sl_ws_size,
    .forward = sl_forward,
    .backward = sl_backward,
};

static const plugin_desc_t desc = {
    .abi = INVCLIP_PLUGIN_ABI,
    .kind = PLUGIN_RENDERER,
    .name = "softline",
    .version = "2.0",
    .summary = "anti-aliased soft polylines by true distance, exact gradients (points, width, opacity)",
    .help = "Coverage of pixel p by stroke s: c = opacity * phi(d - width/2), d = distance from the pixel\n"
            "centre to the nearest segment of the stroke (a one-point stroke is a dot), phi(u) = 1 -\n"
            "smoothstep(-softness/2, softness/2, u).  Strokes composite as img = prod_s (1 - c_s)\n"
            "(1 = white).  Each segment touches only the pixels within width/2 + softness/2 of it.\n"
            "Gradients: every point coordinate, width and opacity (exact adjoint; at a tie between\n"
            "two segments the gradient goes to the lower segment index).  Large scenes split their\n"
            "backward pass over the tool's thread pool.  Not the study's renderer: that is `splat`.",
    .params = params,
    .nparams = (int)(sizeof params / sizeof params[0]),
    .state_size = sizeof(softline_cfg_t),
    .init = sl_init,
    .renderer = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
