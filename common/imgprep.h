/* imgprep.h - image preprocessing for CLIP, bit-exact with PIL + torchvision.
 *
 * The study fed CLIP through three different paths (docs/study.md 3.2)
 * and this module reproduces each one exactly, so that an embedding computed
 * here equals the study's for the same picture:
 *
 *   IMGPREP_CLIP            CLIP's own preprocess (zero-shot scripts):
 *                           torchvision Resize(S, BICUBIC) -- the shorter side
 *                           becomes S, the longer int(S * long / short) -- then
 *                           CenterCrop(S) with top = int(round((H - S) / 2.0))
 *                           (Python's round: halves go to even), ToTensor,
 *                           Normalize.
 *   IMGPREP_NORMALIZE       the optimiser's path: the image already is S x S;
 *                           ToTensor and Normalize only.
 *   IMGPREP_SQUASH          reference / photo images (study 1.6): PIL resize to
 *                           exactly S x S with BILINEAR, no crop, ToTensor,
 *                           Normalize.
 *   IMGPREP_SQUASH_BICUBIC  the same with BICUBIC (CLIPasso's non-square
 *                           target path).
 *
 * Resizing is PIL's Image.resize (Pillow's libImaging/Resample.c), written
 * from its documented algorithm: separable, the horizontal pass first (only
 * when the width changes), then the vertical pass (only when the height
 * changes), each on 8-bit data.  Output pixel i of an axis is centred at
 * (i + 0.5) * in / out; when shrinking, the kernel is stretched by in / out
 * (antialiasing); the taps of each output pixel are normalised to sum 1 and
 * turned into fixed point with 22 fractional bits (PIL's PRECISION_BITS =
 * 32 - 8 - 2), accumulated in int32 from a rounding bias of 2^21, and clipped
 * to 0..255 after each pass.  Kernels: bicubic with a = -0.5, bilinear
 * (triangle), box, Hamming, Lanczos-3, as PIL's.  tests/unit/test_imgprep.c
 * compares the uint8 results with PIL 9.4 byte for byte.
 *
 * ToTensor is v / 255 in float32; Normalize is (x - clip_mean[c]) /
 * clip_std[c] in float32 (clip.h), the operations torchvision performs.  Grey
 * inputs (c = 1) give three equal channels, as PIL's convert("RGB") after
 * Resize does.  Inputs must be grey or RGB: alpha must already be resolved
 * (png_io composites it over white; note that PIL's convert("RGB") instead
 * drops it, so a transparent PNG is where the study's and our pixels differ).
 *
 * Not here: NEAREST resampling, PIL's reducing_gap shortcut (off by default in
 * Image.resize, and off in torchvision), the float/16-bit PIL modes.
 */
#ifndef IMGPREP_H
#define IMGPREP_H
#include "png_io.h"
#include "util.h"
#include <stdint.h>

/* Resampling filters, numbered as PIL's Image.Resampling. */
enum { IMGPREP_LANCZOS = 1, IMGPREP_BILINEAR = 2, IMGPREP_BICUBIC = 3, IMGPREP_BOX = 4, IMGPREP_HAMMING = 5 };

/* Preprocessing paths (see above). */
enum { IMGPREP_CLIP = 0, IMGPREP_NORMALIZE = 1, IMGPREP_SQUASH = 2, IMGPREP_SQUASH_BICUBIC = 3 };

/* One axis of a resize: output pixels [i0, i0 + cnt) of a resize from `in`
 * to `out` pixels; output i0 + j reads in[lo[j] .. lo[j] + n[j]) with the
 * fixed-point weights k[j * ksize ..]. */
typedef struct {
    int in, out, filter, i0, cnt, ksize;
    int *lo, *n;
    int32_t *k;
} imgprep_axis_t;

/* Reusable state: both axes' coefficients (recomputed only when a size, the
 * filter or the window changes) and the scratch buffers, so preprocessing a
 * stream of equally sized images allocates nothing after the first.  Zero it
 * or call imgprep_init(); one per thread. */
typedef struct {
    imgprep_axis_t ax, ay;
    uint8_t *tmp; /* horizontal pass output */
    size_t tmp_cap;
    int32_t *acc; /* vertical pass accumulators, one row */
    size_t acc_cap;
    image_t img;          /* the last S x S uint8 result of imgprep_run() */
    float lut[2][3][256]; /* [normalized][channel][value] */
    int lut_ok;
} imgprep_t;

void imgprep_init(imgprep_t *p);
void imgprep_free(imgprep_t *p);

/* torchvision Resize(S) on a w x h image: the size it resizes to. */
void imgprep_resize_size(int w, int h, int S, int *ow, int *oh);
/* torchvision CenterCrop(S) on a w x h image (w, h >= S): the window's corner. */
void imgprep_crop_box(int w, int h, int S, int *left, int *top);

/* PIL resize of in (any channel count) to ow x oh with filter, then keep the
 * window (x0, y0, cw, ch) of that result -- computing only the window's
 * pixels.  out is allocated (or reused when it already has that size and
 * channel count; never the input); pass it zeroed the first time, and
 * image_free() it at the end.
 * p may be NULL (a temporary state is used).  EXIT_DATA for bad sizes. */
int imgprep_resample(imgprep_t *p, const image_t *in, int ow, int oh, int filter, int x0, int y0, int cw,
                     int ch, image_t *out, err_t *e);
/* The whole resize: PIL's im.resize((ow, oh), filter). */
int imgprep_resize(imgprep_t *p, const image_t *in, int ow, int oh, int filter, image_t *out, err_t *e);

/* The uint8 S x S image a path gives before ToTensor (c as the input's),
 * into out (allocated or reused as for imgprep_resample). */
int imgprep_u8(imgprep_t *p, const image_t *in, int S, int mode, image_t *out, err_t *e);

/* ToTensor (+ Normalize when normalized) of a grey or RGB image:
 * out (3, h, w). */
void imgprep_to_tensor(const image_t *im, int normalized, float *out);

/* The full path: in (grey or RGB, any size) -> out (3, S, S), CLIP-normalised
 * when normalized, else in [0, 1] (the optimiser normalises later).
 * EXIT_DATA for an unusable image (wrong channel count, NORMALIZE on an
 * image that is not S x S), EXIT_USAGE for a bad S or mode. */
int imgprep_run(imgprep_t *p, const image_t *in, int S, int mode, int normalized, float *out, err_t *e);
/* One-shot imgprep_run() with a temporary state. */
int imgprep_clip(const image_t *in, int S, int mode, int normalized, float *out, err_t *e);
#endif
