/* nn/warp.h - deterministic image warps and their exact adjoints (part of the
 * pure-maths layer, nn/nn.h), for the augmentation plugins
 * (plugins/clipaug.c) and their tests.
 *
 * Every geometric transform is first turned into a sampling map: one
 * warp_tap_t per output pixel, giving up to four source pixels with weights
 * and the weight of the constant fill value,
 *
 *     out[c][p] = sum_k w[k] * src[c][i[k]]  +  fill_w * fill,
 *
 * so applying it to C channels, and its adjoint (a scatter with the same
 * weights), are one loop each, and a map is computed once per drawn transform
 * and reused by forward and backward.  The maps follow torchvision's tensor
 * kernels exactly (docs/augmentations.md derives each formula):
 *
 *   - projective / rotation warps sample like grid_sample(align_corners=False,
 *     padding zeros) and then blend the fill the way torchvision's
 *     _apply_grid_transform does with its extra all-ones mask channel m:
 *     bilinear out = m*s + (1-m)*fill (s = zero-padded sample, so in-image
 *     weights are m*w, not w: a torchvision quirk kept for parity; it only
 *     touches the one-pixel band along the warped border); nearest out = the
 *     nearest pixel (round half to even) if it is inside, else fill;
 *   - crop-resize samples like F.interpolate(bilinear, align_corners=False,
 *     antialias=False) of the crop (source index clamped at 0 and at the
 *     crop's last row/column).
 *
 * Coordinates are pixel indices: pixel (row i, column j) has its centre at
 * (x=j, y=i) (plugin.h).  Images are planar (C,H,W) float.  A map's
 * transforms are linear in the image; the fill term is a constant, so the
 * adjoint of a warp is the adjoint of its linear part and fill pixels get
 * no gradient.  Nothing here allocates, prints or keeps state.
 *
 * Not here: random parameter draws (the plugin's job) and gradients w.r.t.
 * the geometry (the augmentations are not optimised).
 */
#ifndef WARP_H
#define WARP_H
#include <stdint.h>

typedef struct {
    int32_t i[4]; /* source pixel indices y*W+x (0 when unused) */
    float w[4];   /* their weights (0 when unused or outside the image) */
    float fill_w; /* weight of the fill value */
} warp_tap_t;

typedef enum { WARP_NEAREST = 0, WARP_BILINEAR = 1 } warp_interp_t;

/* The homography h (3x3 row-major, h[8] = 1) with h*(from_k,1) ~ (to_k,1)
 * for the 4 point pairs (x,y interleaved).  Returns 0, or -1 if the points
 * are degenerate (three collinear). */
int warp_homography(const double from[8], const double to[8], double h[9]);

/* torchvision.transforms.functional.perspective(img, startpoints, endpoints)
 * as a map from OUTPUT pixel indices (x=j, y=i, 1) to homogeneous SOURCE pixel
 * indices.  torchvision solves the coefficients mapping endpoints to
 * startpoints and evaluates them at pixel corners-origin coordinates
 * (j+0.5, i+0.5), subtracting 0.5 after the division; h includes those shifts.
 * Points are (x,y) interleaved, in the order TL, TR, BR, BL. Returns 0 or -1. */
int warp_perspective_matrix(const double start[8], const double end[8], double h[9]);

/* torchvision.transforms.functional.rotate(img, deg) (expand=False, centre of
 * the image): positive deg turns the content counter-clockwise on screen.
 * Output pixel (j,i) samples the source at
 *   u = cos t*X - sin t*Y + (W-1)/2,  v = sin t*X + cos t*Y + (H-1)/2,
 * X = j + 0.5 - W/2, Y = i + 0.5 - H/2, t = deg in radians. */
void warp_rotation_matrix(double deg, int H, int W, double h[9]);

/* The sampling map of a projective warp h (output index -> source index),
 * source and output both H x W.  map: (H*W). */
void warp_map_projective(const double h[9], int H, int W, warp_interp_t interp, warp_tap_t *map);

/* The crop rows [top, top+ch) x columns [left, left+cw) of an H x W image,
 * resized back to H x W (bilinear, align_corners=False, no antialias).
 * Requires 1 <= ch, 0 <= top, top+ch <= H (and the same for columns). */
void warp_map_crop_resize(int top, int left, int ch, int cw, int H, int W, warp_tap_t *map);

/* dst (C,H,W) = map applied to src (C,H,W); dst must not alias src. */
void warp_apply(const warp_tap_t *map, int C, int H, int W, const float *src, float fill, float *dst);
/* The adjoint of warp_apply's linear part: ADDS the scatter of ddst (C,H,W)
 * into dsrc (C,H,W).  The fill term has no image gradient. */
void warp_apply_adjoint(const warp_tap_t *map, int C, int H, int W, const float *ddst, float *dsrc);

/* Colour jitter, per channel c over its H*W pixels:
 *   b = beta*x;  mu_c = mean(b);  z = gamma*(b - mu_c) + mu_c;  y = clamp(z, lo, hi)
 * mask (C,H,W) records lo <= z <= hi (torch.clamp's gradient passes at equality).
 * y may alias x.  mask may be NULL (no backward wanted). */
void jitter_forward(int C, int H, int W, const float *x, double beta, double gamma, float lo, float hi,
                    float *y, uint8_t *mask);
/* ADDS the adjoint into dx: g = mask*dy;
 * dx += beta*(gamma*g + (1-gamma)*mean_c(g)).  dx must not alias dy. */
void jitter_backward(int C, int H, int W, const float *dy, double beta, double gamma, const uint8_t *mask,
                     float *dx);
#endif
