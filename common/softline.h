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
 * workspace; backward ADDS into the gradient arrays (any may be NULL) and may
 * be called several times after one forward.
 *
 * Workspace: at least softline_ws_size() bytes for this scene and canvas,
 * zeroed before its first use (host-allocated workspaces are); it may be
 * reused across scenes and canvas sizes as long as each forward gets the
 * size asked for that scene.  Nothing is allocated per call.  The distance
 * is a hard min over the stroke's segments; at an exact tie the gradient goes
 * to the lower segment index.  Errors: softness <= 0 or a bad canvas
 * (EXIT_USAGE), a negative point count (EXIT_DATA), a non-finite point,
 * width or opacity (EXIT_NUMERIC), backward without a forward (EXIT_INTERNAL).
 */
#ifndef SOFTLINE_H
#define SOFTLINE_H
#include <stddef.h>
#include "plugin.h"

typedef struct {
    float softness;  /* width of the anti-aliasing ramp in px (1 = one pixel) */
    int threads;     /* backward worker threads (<= 1: none; used on scenes
                        with >= 60000 covered stroke-pixels) */
} softline_cfg_t;

size_t softline_ws_size(const softline_cfg_t *cfg, const scene_t *sc, int W, int H);
/* The pieces of softline_ws_size, for a caller that makes its polylines on
 * the fly (the bezier renderer) and would otherwise need a temporary scene:
 * the entry bound of one segment A->B (A = B: a dot) of a stroke of this
 * width, and the workspace bytes for nstrokes strokes and nentries entries.
 * softline_ws_size = softline_ws_bytes(W, H, nstrokes, cap), cap = the sum,
 * over the strokes with points and a finite width and opacity, of
 * min(H*W, the sum of the stroke's segment bounds). */
size_t softline_seg_bound(const softline_cfg_t *cfg, float width, float ax, float ay, float bx, float by, int W,
                          int H);
size_t softline_ws_bytes(int W, int H, int nstrokes, size_t nentries);
int softline_forward(const softline_cfg_t *cfg, void *ws, const scene_t *sc, int W, int H, float *img,
                     plugin_err_t *err);
int softline_backward(const softline_cfg_t *cfg, void *ws, const scene_t *sc, int W, int H, const float *dimg,
                      scene_grad_t *g, plugin_err_t *err);
#endif
