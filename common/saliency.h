/* saliency.h - CLIPasso's saliency-based stroke initialisation
 * (docs/study.md 3.7), host side: it allocates its own scratch, never
 * prints or exits, and reports errors through err_t with the EXIT_* codes.
 *
 * The map (saliency_map) is the product of two pictures of the target, both
 * at the canvas size H x W:
 *
 *   relevancy (saliency_attention): the target, resized to the model's input
 *     size S when H or W differs from S (nn/resize.h, the optimiser's
 *     canvas-to-CLIP resize: antialiased bilinear as torch's F.interpolate(
 *     mode="bilinear", antialias=True) and PIL's float bilinear resampling,
 *     the triangle kernel stretched by the scale when shrinking, taps
 *     normalised to sum 1), is CLIP-normalised and run through the image
 *     tower; for each block the attention
 *     probabilities are clamped at >= 0 and averaged over the heads, the
 *     blocks' averages are averaged, and the class token's row over the g x g
 *     patch tokens is upsampled to H x W as torch's F.interpolate(
 *     mode="bicubic", align_corners=False) does (Keys' cubic with a = -0.75,
 *     source x = (i + 0.5) * g / W - 0.5, taps clamped to the grid, no
 *     antialiasing) and min-max normalised to [0, 1].  A constant result
 *     (max == min) becomes 1 everywhere (no preference), never NaN.
 *
 *   edges (saliency_xdog, saliency_otsu): XDoG of the grey target.  As in
 *     CLIPasso, the picture XDoG sees is the CLIP-normalised target (it runs
 *     on the normalised CLIP input), turned grey with skimage's rgb2gray
 *     weights 0.2125 R + 0.7154 G + 0.0721 B (saliency_grey).  g1, g2 =
 *     Gaussian blurs with sigma 0.8 and 0.8 * 10, each as scipy's
 *     gaussian_filter: separable, kernel exp(-x^2 / 2 sigma^2) on
 *     x = -r..r, r = floor(4 sigma + 0.5) (3 and 32), normalised to sum 1,
 *     borders mirrored half-sample ("reflect": d c b a | a b c d | d c b a,
 *     repeated for kernels longer than the image); D = g1 - 0.98 g2;
 *     X = 1 where D < -0.1, else 1 + tanh(200 D); min-max normalised.  The
 *     edge mask E = [X >= Otsu threshold of X] (skimage's threshold_otsu: 256
 *     bins over [min, max], the first bin centre maximising the between-class
 *     variance).  A constant X (a flat target) gives E = 0 everywhere: the map
 *     is then the relevancy alone.
 *
 *   map = (1 - E) * relevancy.
 *
 * Sampling (saliency_strokes): over the pixels with map > 0, probabilities
 * softmax(map / temp); nstrokes pixels drawn without replacement (one after
 * another, each from the remaining pixels renormalised: the distribution
 * numpy's choice(replace=False, p=...) samples) with the caller's rng_t, one
 * rng_uniform per pixel, all pixels first; then for each stroke in order,
 * point 0 = the pixel (x = column, y = row, the pixel index as CLIPasso uses
 * it) and points 1..npts-1 each the previous plus jitter * (U - 0.5) * W in x
 * and jitter * (U - 0.5) * H in y (x drawn before y) -- the walk as CLIPasso
 * takes it -- and every point written clamped to [0, W] x [0, H].
 * CLIPasso: 16 strokes, 4 points, temp 0.3, jitter 0.05.
 * Fewer than nstrokes positive pixels is an error (EXIT_DATA, as numpy's
 * choice refuses it): the caller decides on a fallback (e.g. uniform random
 * strokes), none is made up here.
 */
#ifndef SALIENCY_H
#define SALIENCY_H
#include <stddef.h>
#include "clip.h"
#include "rng.h"
#include "util.h"

#define SALIENCY_TEMP 0.3    /* CLIPasso's softmax_temp */
#define SALIENCY_JITTER 0.05 /* CLIPasso's point spread ("radius"), a fraction of the canvas */
#define SALIENCY_MAX_SIDE 16384

/* The whole map: rgb (3,H,W) in [0,1] -> map (H,W) in [0,1].  m: any CLIP
 * (its image tower runs once with batch 1; its last-forward state is
 * overwritten).  EXIT_USAGE for bad sizes or NULL arrays, EXIT_NUMERIC for a
 * non-finite input value or model output, EXIT_INTERNAL when out of memory. */
int saliency_map(clip_t *m, const float *rgb, int H, int W, float *map, err_t *e);

/* The relevancy part: attn (H,W) in [0,1]; grid (g,g) (may be NULL) gets the
 * class-token row averaged over heads and blocks, before upsampling. */
int saliency_attention(clip_t *m, const float *rgb, int H, int W, float *attn, float *grid, err_t *e);

/* CLIP-normalised grey: grey (H,W) from rgb (3,H,W) in [0,1]. */
void saliency_grey(const float *rgb, int H, int W, float *grey);

/* Min-max normalised XDoG response X (H,W) of grey (H,W), before
 * binarisation.  *flat (may be NULL) = 1 when the response is constant (X is
 * then 0 everywhere and the target has no edges), else 0. */
int saliency_xdog(const float *grey, int H, int W, float *x, int *flat, err_t *e);

/* skimage's threshold_otsu(x, nbins=256) of n finite values (n >= 1). */
double saliency_otsu(const float *x, size_t n);

/* The edge mask E (H,W) (0 or 1) of rgb (3,H,W): grey, XDoG, Otsu. */
int saliency_edges(const float *rgb, int H, int W, float *edges, err_t *e);

/* Strokes from a map (H,W) (values <= 0 are never chosen; NaN/Inf is
 * EXIT_NUMERIC): xy (nstrokes, npts, 2) in canvas pixels.  EXIT_USAGE for
 * nstrokes < 1, npts < 1, temp not > 0, jitter < 0 or non-finite, bad sizes;
 * EXIT_DATA for fewer than nstrokes positive pixels. */
int saliency_strokes(const float *map, int H, int W, int nstrokes, int npts, double temp, double jitter, rng_t *rng,
                     float *xy, err_t *e);
#endif
