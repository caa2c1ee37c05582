/* softline.c - the `softline` renderer plugin: anti-aliased soft polylines by
 * true distance to each segment, with exact gradients for every point, width
 * and opacity.  A thin wrapper over common/softline.c (the core that the
 * bezier renderer shares); formulas in docs/renderers.md.
 *
 * Scene points are polyline vertices (encode/decode are the identity); width
 * (px) and opacity come from the scene.  Never prints, keeps no globals.
 */
#include "softline.h"
#include "plugin.h"
#include "util.h"

static const plugin_param_t params[] = {
    {.name = "softness",
     .type = PARAM_FLOAT,
     .def = 1.0,
     .min = 0.05,
     .max = 32,
     .help = "width in px of the edge ramp (coverage goes 1 -> 0 over it, centred on the edge)"},
    {.name = "threads",
     .type = PARAM_INT,
     .def = 1,
     .min = 1,
     .max = 64,
     .help = "worker threads for the backward pass (used only on large scenes)"},
};

static int sl_init(void *state, const plugin_value_t *vals, const plugin_host_t *host, plugin_err_t *err) {
    softline_cfg_t *cfg = state;
    cfg->softness = (float)vals[0].f;
    cfg->threads = (int)vals[1].i;
    return 0;
}

static size_t sl_ws_size(const void *state, const scene_t *sc, int W, int H) {
    return softline_ws_size(state, sc, W, H);
}

static int sl_forward(void *state, void *ws, const scene_t *sc, int W, int H, float *img, plugin_err_t *err) {
    return softline_forward(state, ws, sc, W, H, img, err);
}

static int sl_backward(void *state, void *ws, const scene_t *sc, int W, int H, const float *dimg,
                       scene_grad_t *g, plugin_err_t *err) {
    return softline_backward(state, ws, sc, W, H, dimg, g, err);
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
    .version = "1.0",
    .summary = "anti-aliased soft polylines by true distance, exact gradients (points, width, opacity)",
    .help = "Coverage of pixel p by stroke s: c = opacity * phi(d - width/2), d = distance from the pixel\n"
            "centre to the nearest segment of the stroke (a one-point stroke is a dot), phi(u) = 1 -\n"
            "smoothstep(-softness/2, softness/2, u).  Strokes composite as img = prod_s (1 - c_s)\n"
            "(1 = white).  Each segment touches only the pixels within width/2 + softness/2 of it.\n"
            "Gradients: every point coordinate, width and opacity (exact adjoint; at a tie between\n"
            "two segments the gradient goes to the lower segment index).  Not the study's renderer:\n"
            "that is `splat`.",
    .params = params,
    .nparams = (int)(sizeof params / sizeof params[0]),
    .state_size = sizeof(softline_cfg_t),
    .init = sl_init,
    .renderer = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
