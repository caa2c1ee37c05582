/* nn/softline.h - soft anti-aliased polyline rendering with exact gradients
 * (a renderer core of the pure-maths layer, nn/nn.h).
 *
 * The shared core of the `softline` renderer and of the `bezier` renderer
 * (which samples its curves into polylines and renders those).  Input is a
 * softline_scene_t (the same arrays as plugin.h's scene_t) whose points are
 * polyline vertices, with per-stroke width (px) and opacity; output a grey
 * image (H,W), 1 = white, 0 = ink.
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
 * size asked for that scene.  Nothing is allocated, no thread is started and
 * nothing is printed: the backward pass splits its strokes over the caller's
 * nn_par_t (NULL = serial; the result is bit-identical either way).  The
 * distance is a hard min over the stroke's segments; at an exact tie the
 * gradient goes to the lower segment index.
 *
 * Errors are SOFTLINE_E* codes with the offending stroke/point and a one-line
 * message in a softline_fault_t (may be NULL): softness <= 0 or a bad canvas
 * (ESOFTNESS, ECANVAS: the caller's usage), a negative count (ECOUNT: bad
 * data), a non-finite point, width or opacity (ENONFINITE), backward without
 * a matching forward (ESTATE).
 */
#ifndef SOFTLINE_H
#define SOFTLINE_H
#include <stddef.h>
#include "nn.h"

typedef struct {
    float softness; /* width of the anti-aliasing ramp in px (1 = one pixel) */
} softline_cfg_t;

/* Stroke s uses points xy[2*off[s] .. 2*(off[s]+npts[s])) as (x,y) pairs. */
typedef struct {
    int nstrokes;
    const int *npts;      /* (nstrokes) */
    const int *off;       /* (nstrokes) */
    const float *xy;      /* (2*P) */
    const float *width;   /* (nstrokes) px */
    const float *opacity; /* (nstrokes) */
} softline_scene_t;

/* Gradients w.r.t. the scene, same shapes; any pointer may be NULL. */
typedef struct {
    float *xy, *width, *opacity;
} softline_grad_t;

enum {
    SOFTLINE_OK = 0,
    SOFTLINE_ESOFTNESS = 1,  /* softness not finite and > 0 */
    SOFTLINE_ECANVAS = 2,    /* W or H <= 0, or W*H > INT32_MAX */
    SOFTLINE_ECOUNT = 3,     /* a negative stroke or point count */
    SOFTLINE_ENONFINITE = 4, /* a point, width or opacity is NaN or Inf */
    SOFTLINE_ESTATE = 5,     /* backward without a matching forward on this workspace */
};

typedef struct {
    int code;      /* SOFTLINE_E*, 0 = none */
    int stroke;    /* the offending stroke, -1 if none */
    int point;     /* the offending point of that stroke, -1 if none */
    char msg[160]; /* "softline: stroke 2 point 1 is not finite" */
} softline_fault_t;

size_t softline_ws_size(const softline_cfg_t *cfg, const softline_scene_t *sc, int W, int H);
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
/* img (H,W).  Returns 0 or a SOFTLINE_E* code (f filled when not NULL). */
int softline_forward(const softline_cfg_t *cfg, void *ws, const softline_scene_t *sc, int W, int H, float *img,
                     softline_fault_t *f);
/* dimg (H,W) = dL/dimg of the last forward on ws; ADDS into g.  par: the
 * caller's parallelism (NULL = serial), used on scenes with at least
 * SOFTLINE_PAR_MIN saved entries. */
int softline_backward(const softline_cfg_t *cfg, void *ws, const softline_scene_t *sc, int W, int H,
                      const float *dimg, softline_grad_t *g, const nn_par_t *par, softline_fault_t *f);

/* Below this many saved entries a split costs more than it saves (measured,
 * docs/renderers.md). */
#define SOFTLINE_PAR_MIN 60000
#endif
