/* jpeg_io.h - JPEG decoding (libjpeg / libjpeg-turbo) and image_load(), which
 * opens a PNG or a JPEG by its magic bytes.
 *
 * Decoding gives 8-bit RGB (image_t with c = 3, see png_io.h), decoded the way
 * PIL's Image.open(path).convert("RGB") decodes it, because that is how the
 * study read its reference and photo images (docs/study.md 1.6):
 * libjpeg's default (accurate integer) IDCT and fancy upsampling, greyscale
 * replicated to three channels, CMYK and YCCK read as Adobe-inverted CMYK and
 * converted with PIL's formula R = (255-K) - (255-K)*C/255 (likewise G, B).
 * Baseline and progressive files are fine.  The EXIF orientation tag is
 * ignored, as PIL ignores it unless asked.  On Debian PIL links the same
 * libjpeg-turbo, and tests/unit/test_imgprep.c checks the decode is
 * byte-identical to PIL's.
 *
 * Errors never crash or exit: libjpeg's fatal errors are caught (error_exit
 * longjmps back) and become EXIT_DATA with a message naming the file, e.g.
 *   "ref.jpg: bad JPEG: Bogus marker length"
 *   "ref.jpg: truncated JPEG (unexpected end of data)"
 * A premature end of data is fatal (libjpeg only warns and pads with grey;
 * PIL raises "image file is truncated"); libjpeg's other corrupt-data
 * warnings are ignored, as PIL ignores them (the damaged blocks are filled
 * in exactly as PIL fills them).  Refused before any pixel buffer is
 * allocated: more than PNGIO_MAX_SIDE per side or PNGIO_MAX_PIXELS in all, a
 * progressive file whose whole-image coefficient buffer would exceed 1 GB
 * (only huge 4:4:4 ones), and -- while decoding -- more than 500 progressive
 * scans (a few kB of tiny scans could otherwise take minutes).  A file that
 * cannot be opened or read is EXIT_IO.
 *
 * Not here: encoding JPEG, colour management (ICC profiles are ignored, as in
 * PIL's convert), 12-bit JPEG, lossless JPEG.
 */
#ifndef JPEG_IO_H
#define JPEG_IO_H
#include "png_io.h"
#include "util.h"
#include <stddef.h>
#include <stdint.h>

/* Largest file image_load() and jpegio_load() read into memory. */
#define JPEGIO_MAX_FILE (256L << 20)

/* Decode a JPEG held in memory; name is used in messages.  im must be empty
 * (zeroed or freed); on success it holds w x h x 3. */
int jpegio_decode(const uint8_t *data, size_t n, const char *name, image_t *im, err_t *e);
/* Read and decode a JPEG file ("-" = stdin). */
int jpegio_load(const char *path, image_t *im, err_t *e);

/* Load a PNG (also gzip-compressed, as png_io reads it) or a JPEG file ("-" =
 * stdin), chosen by the first bytes, as 8-bit RGB (c = 3; grey is expanded,
 * PNG alpha is composited over white by png_io).  Anything else is
 * EXIT_DATA "<path>: not a PNG or JPEG image".  For planar floats (3,h,w) in
 * [0,1] (torchvision's ToTensor) use image_to_float() from png_io.h. */
int image_load(const char *path, image_t *im, err_t *e);

/* image_load() of data already in memory (what it does for stdin); name is
 * used in messages.  max_pixels > 0 lowers the pixel limit (default and
 * ceiling PNGIO_MAX_PIXELS), e.g. for a fuzzer or a caller that wants small
 * images only: larger ones are refused before any pixel buffer exists. */
int image_decode(const uint8_t *data, size_t n, const char *name, long max_pixels, image_t *im, err_t *e);

/* Expand a grey image (c = 1) to RGB in place; RGB is left alone; RGBA (and
 * anything else) is EXIT_DATA. */
int image_to_rgb(image_t *im, err_t *e);
#endif
