/* nn/resize.h - separable antialiased bilinear resizing and its exact
 * adjoint (pure maths, nn/nn.h rules).
 *
 * The optimiser renders on its canvas (224 px, the study's) and hands the
 * losses the picture at the CLIP model's input size S; when the two differ
 * (the shipped model reads 64 px) this resize sits between them, and its
 * adjoint carries the gradient back.  The filter is the triangle ("bilinear"
 * with antialiasing, PIL's and torchvision antialias=True's choice): output
 * sample i of an axis of n_in -> n_out has its centre at c = (i + 0.5) *
 * n_in / n_out in input coordinates, support s = max(n_in / n_out, 1), and
 * weights w_j = max(0, 1 - |j + 0.5 - c| / s) over the input samples j,
 * normalised to sum 1 (samples outside the image are dropped and the rest
 * renormalised).  Upsampling (n_out > n_in) is plain bilinear with edge
 * clamping.  Equal sizes are the identity (one tap of weight 1).
 *
 * A plan holds one axis' taps: RESIZE_TAPS(n_in, n_out) floats and ints per
 * output sample at most.  Forward: out = Ry * in * Rx^T on every channel,
 * through a (C, n_in_h, n_out_w) scratch; adjoint: din += Ry^T * dout * Rx.
 */
#ifndef NN_RESIZE_H
#define NN_RESIZE_H
#include <stddef.h>
#include "nn.h"

/* Most taps an output sample of an n_in -> n_out axis can have. */
#define RESIZE_TAPS(n_in, n_out) (2 * ((n_in) / (n_out) + 2) + 1)

typedef struct {
    int n_in, n_out, ntaps; /* ntaps = RESIZE_TAPS(n_in, n_out) */
    int *first;             /* (n_out) first input sample */
    int *count;             /* (n_out) taps used */
    float *w;               /* (n_out, ntaps) weights */
} resize_axis_t;

/* Fill ax's taps (ax->first, ->count, ->w allocated by the caller for
 * n_out and RESIZE_TAPS(n_in, n_out)).  NN_EINVAL for sizes < 1. */
int resize_plan(resize_axis_t *ax, int n_in, int n_out);

/* in (C,H,W) -> out (C,h,w) with ax_y (H -> h), ax_x (W -> w); tmp (C,H,w). */
void resize_forward(float *out, float *tmp, const float *in, const resize_axis_t *ax_y, const resize_axis_t *ax_x,
                    int C);
/* The adjoint: ADDS Ry^T dout Rx into din (C,H,W); tmp (C,H,w) is overwritten. */
void resize_backward(float *din, float *tmp, const float *dout, const resize_axis_t *ax_y,
                     const resize_axis_t *ax_x, int C);
#endif
