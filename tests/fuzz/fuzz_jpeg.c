/* fuzz_jpeg.c - libFuzzer target for image decoding and CLIP preprocessing.
 *
 * The first byte is a setting: S = 1 + (b & 31) (a small CLIP input side),
 * the preprocessing path (b >> 5) & 3 (imgprep.h's IMGPREP_*), normalised
 * when b & 128.  The rest goes to image_decode() (jpeg_io.h: JPEG or PNG by
 * magic, as image_load() reads stdin) with the pixel limit lowered to 2^16,
 * so that a tiny header cannot make a run allocate and fill ~1 GB.  A decoded
 * image is preprocessed twice, with a state kept across runs (its cached
 * coefficients and buffers must not leak into the next image) and with a
 * fresh one.  Properties, besides "no crash, no sanitizer report": an error
 * is EXIT_DATA naming the input; a decoded image is RGB with a sane shape;
 * both preprocessing runs give the same tensor, finite and (unnormalised) in
 * [0, 1]; only the normalise-only path may refuse, and only for a non-S x S
 * image.
 */
#include "imgprep.h"
#include "jpeg_io.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PIXELS (1L << 16)

static imgprep_t kept; /* reused across runs, as a tool reuses it across a stream */

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 1) return 0;
    const int S = 1 + (data[0] & 31), mode = (data[0] >> 5) & 3, normalized = data[0] >> 7;
    image_t im = {0};
    err_t e = {0};
    if (image_decode(data + 1, size - 1, "fuzz", MAX_PIXELS, &im, &e)) {
        if (e.code != EXIT_DATA || strncmp(e.msg, "fuzz", 4)) abort();
        if (im.px) abort();
        return 0;
    }
    if (im.c != 3 || im.w < 1 || im.h < 1 || (long)im.w * im.h > MAX_PIXELS || !im.px) abort();

    size_t np = (size_t)3 * S * S;
    float *a = malloc(np * sizeof *a), *b = malloc(np * sizeof *b);
    int ra = imgprep_run(&kept, &im, S, mode, normalized, a, &e);
    int rb = imgprep_clip(&im, S, mode, normalized, b, &e);
    if (ra != rb) abort();
    if (ra) {
        if (mode != IMGPREP_NORMALIZE || ra != EXIT_DATA || (im.w == S && im.h == S)) abort();
    } else {
        if (memcmp(a, b, np * sizeof *a)) abort();
        for (size_t i = 0; i < np; i++)
            if (!isfinite(a[i]) || (!normalized && (a[i] < 0.0f || a[i] > 1.0f))) abort();
    }
    free(a);
    free(b);
    image_free(&im);
    return 0;
}
