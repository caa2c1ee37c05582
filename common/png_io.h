/* png_io.h - 8-bit images, PNG files and PNG streams (libpng).
 *
 * An image_t is an 8-bit raster of 1 (grey), 3 (RGB) or 4 (RGBA) interleaved
 * channels, rows top to bottom: px[(y*w + x)*c + k].  image_to_float() and
 * image_from_float() convert to and from planar float (c,h,w) in [0,1], the
 * layout model code wants.
 *
 * A PNG stream is PNG files written back to back (DESIGN.md, Streams): each
 * image ends with its IEND chunk and carries text chunks (key/value pairs such
 * as key_id and word) that tie it to its sketch record.  pngio_write() writes
 * one image with its text chunks before the image data, so a reader knows the
 * key_id even when the pixels that follow are damaged.  Values that are plain
 * ASCII go in tEXt chunks, others in iTXt (UTF-8); reading converts Latin-1
 * tEXt/zTXt to UTF-8, so callers always see UTF-8.
 *
 * pngs_next() reads exactly one image: libpng pulls bytes chunk by chunk and
 * never past IEND, so the next call starts at the next signature.  End of
 * input right between two images is a clean end (0); anything else -- a cut
 * inside a chunk, a bad signature, a CRC or zlib error, absurd dimensions
 * (more than PNGIO_MAX_SIDE per side or PNGIO_MAX_PIXELS in all) -- is
 * EXIT_DATA with a message naming the stream, the 1-based image index and
 * the key_id when its text chunk was already read:
 *   "<stdin>: image 2 (key_id 123): truncated PNG (unexpected end of data)"
 * After an error the stream cannot be resynchronised; stop reading it.
 *
 * Reading accepts every PNG colour type and depth and converts to 8 bits:
 * palette -> RGB, grey < 8 bits expanded, 16 bits scaled (rounded), Adam7
 * de-interlaced, and alpha (or tRNS) composited over white -- sketches are
 * ink on white paper.  The result has 1 channel (grey sources) or 3 (colour).
 * Nothing here prints or exits.
 */
#ifndef PNG_IO_H
#define PNG_IO_H
#include "util.h"
#include <stdint.h>
#include <stdio.h>

#define PNGIO_MAX_SIDE 16384
#define PNGIO_MAX_PIXELS (1L << 28)

typedef struct {
    int w, h, c; /* c = 1, 3 or 4 */
    uint8_t *px; /* (h, w, c) interleaved */
} image_t;

/* Allocate w x h x c filled with val (255 = white).  EXIT_DATA for bad sizes. */
int image_init(image_t *im, int w, int h, int c, uint8_t val, err_t *e);
void image_free(image_t *im);
/* (c,h,w) planar floats in [0,1]; dst holds w*h*c floats. */
void image_to_float(const image_t *im, float *dst);
/* From (c,h,w) planar floats: clamped to [0,1], rounded to 8 bits, NaN -> 0. */
void image_from_float(image_t *im, const float *src);

/* Text chunks: an ordered key/value list, keys unique. */
typedef struct {
    char **key, **val;
    int n, cap;
} pngtext_t;
/* Replaces an existing key.  Bytes of val that are not valid UTF-8 (e.g. a
 * file name in another encoding) are stored as U+FFFD, so text set here
 * can always be written. */
void pngtext_set(pngtext_t *t, const char *key, const char *val);
const char *pngtext_get(const pngtext_t *t, const char *key);     /* NULL when absent */
void pngtext_clear(pngtext_t *t);                                 /* keep allocations */
void pngtext_free(pngtext_t *t);

/* Write one PNG (with text, may be NULL) to fp; name is used in messages.
 * Errors: EXIT_DATA for an invalid image or text key, EXIT_IO for a write
 * failure. */
int pngio_write(FILE *fp, const char *name, const image_t *im, const pngtext_t *text, err_t *e);
/* Write a PNG file atomically (temp file + rename). */
int pngio_save(const char *path, const image_t *im, const pngtext_t *text, err_t *e);
/* Read a single-image PNG file ("-" = stdin); text may be NULL. */
int pngio_load(const char *path, image_t *im, pngtext_t *text, err_t *e);

/* PNG stream reader. */
typedef struct pngstream pngstream_t;
/* Open a named stream ("-" = stdin; gzip is transparent). NULL on error (EXIT_IO). */
pngstream_t *pngs_open(const char *path, err_t *e);
/* Read from an open FILE* (not closed by pngs_close); name for messages. */
pngstream_t *pngs_open_fp(FILE *fp, const char *name);
/* Next image: 1 = got one (im and text replaced; text may be NULL),
 * 0 = clean end of stream, -1 = error (e filled; the stream is then dead). */
int pngs_next(pngstream_t *s, image_t *im, pngtext_t *text, err_t *e);
/* Lower this stream's pixel limit (default PNGIO_MAX_PIXELS), e.g. a tool
 * that only expects 224x224 images, or a fuzzer. */
void pngs_set_max_pixels(pngstream_t *s, long max_pixels);
const char *pngs_name(const pngstream_t *s);
long pngs_index(const pngstream_t *s); /* 1-based index of the last image attempted */
void pngs_close(pngstream_t *s);
#endif
