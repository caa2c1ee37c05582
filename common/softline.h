/* softline.h - soft anti-aliased polyline rendering with exact gradients.
 *
 * The shared core of the `softline` renderer and of the `bezier` renderer
 * (which samples its curves into polylines and renders those).  Input is a
 * scene_t (plugin.h) whose points are polyline vertices, with per-stroke
 * width (px) and opacity; output a grey image (H,W), 1 = white, 0 = ink.
 *
 * Coverage of a pixel by a stroke is a smooth function of the true distance
 * from the pixel centre to the nearest segment of the stroke and of the
 * half-width; strokes composite so overlaps darken and saturate smoothly.
 * The exact formulas are in docs/renderers.md and in softline.c.  Each
 * segment touches only the pixels within its reach (half-width + edge
 * softness).  softline_forward saves what softline_backward needs in the
 * workspace; backward ADDS into the gradient arrays.
 */
#ifndef SOFTLINE_H
#define SOFTLINE_H
#include <stddef.h>
#include "plugin.h"

typedef struct {
    float softness;  /* width of the anti-aliasing ramp in px (1 = one pixel) */
    int threads;     /* worker threads (<= 1: none) */
} softline_cfg_t;

size_t softline_ws_size(const softline_cfg_t *cfg, const scene_t *sc, int W, int H);
int softline_forward(const softline_cfg_t *cfg, void *ws, const scene_t *sc, int W, int H, float *img,
                     plugin_err_t *err);
int softline_backward(const softline_cfg_t *cfg, void *ws, const scene_t *sc, int W, int H, const float *dimg,
                      scene_grad_t *g, plugin_err_t *err);
#endif
