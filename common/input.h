/* input.h - buffered input with transparent gzip and no line-length limit.
 *
 * in_open("-") reads stdin.  Plain and gzip-compressed data (also several gzip
 * members back to back) are read the same way through zlib; a truncated or
 * corrupt .gz is reported as an error, never as a short file -- after every
 * complete line before the damage has been returned.  Lines grow a heap
 * buffer up to IN_MAX_LINE bytes (256 MB, far beyond any real record); a
 * longer line is refused with EXIT_DATA instead of growing until memory runs
 * out.  '\n' and a trailing '\r' are stripped.
 */
#ifndef INPUT_H
#define INPUT_H
#include <stddef.h>
#include "util.h"

#define IN_MAX_LINE ((size_t)256 << 20)

typedef struct input input_t;

input_t *in_open(const char *path, err_t *e);   /* NULL on error */
/* Next line: 1 = got a line (*line NUL-terminated, valid until the next call),
 * 0 = end of input, -1 = error (e filled). */
int in_getline(input_t *in, char **line, size_t *len, err_t *e);
/* Read up to n bytes; returns bytes read (0 = EOF), -1 on error. */
long in_read(input_t *in, void *dst, size_t n, err_t *e);
/* Look at the first byte without consuming it: byte value, -1 at EOF, -2 error. */
int in_peek(input_t *in, err_t *e);
/* Change the line-length limit (default IN_MAX_LINE). */
void in_set_max_line(input_t *in, size_t n);
const char *in_name(const input_t *in);   /* "<stdin>" or the path */
long long in_lineno(const input_t *in);   /* number of the last line returned */
int in_is_gzip(const input_t *in);
/* A look at the first bytes (after gzip decompression) for a file format
 * that is not text: returns 1 and sets *what ("a PNG image", ...) and *hint
 * (which tool reads it, or how to unpack it) when they match a known magic
 * number (PNG, JPEG, GIF, gzip inside gzip, zip / PyTorch .pt, safetensors,
 * Python pickle, bzip2, xz, zstd, PDF, Google's QuickDraw .bin), 0 when
 * they do not, -1 on a read error (e filled).  Reads no further than the
 * first buffer; consumes nothing. */
int in_sniff(input_t *in, const char **what, const char **hint, err_t *e);
/* The same over a buffer of the first n bytes of a file. */
int sniff_magic(const unsigned char *p, size_t n, const char **what, const char **hint);
void in_close(input_t *in);
#endif
