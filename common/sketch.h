/* sketch.h - the sketch record: one NDJSON line, a superset of a QuickDraw record.
 *
 *   {"key_id":"...","word":"fish","drawing":[[[x..],[y..]],[[x..],[y..],[t..]],...], ...}
 *
 * sketch_parse() validates a line (UTF-8, strict JSON, an object, a
 * well-formed "drawing") and keeps the original text.  Fields are rewritten with
 * sketch_set_*(); sketch_write() then emits the record with every field the
 * tool did not touch copied byte for byte from the input, in its original
 * order, followed by new fields.  So unknown fields (and numbers cJSON would
 * round, such as 20-digit integers) pass through unchanged.
 *
 * A drawing is a list of strokes; a stroke has n points (x[i], y[i]) and
 * optionally times t[i].  Coordinates are doubles.  The optional "canvas"
 * field ({"width":W,"height":H}) says the drawing is already in a W x H pixel
 * frame (x right, y down, pixel centres at integers); without it the drawing
 * is in QuickDraw's own coordinates.
 */
#ifndef SKETCH_H
#define SKETCH_H
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "util.h"

typedef struct {
    int n;            /* number of points (>= 1) */
    double *x, *y, *t; /* t is NULL when the stroke has no time array */
    int cap;          /* points the stroke's block holds (private: buffers are reused) */
} stroke_t;

typedef struct {
    int nstrokes, cap;
    stroke_t *s;
    int nalloc;       /* slots whose buffers are allocated (private) */
} drawing_t;

void drawing_init(drawing_t *d);
void drawing_free(drawing_t *d);
void drawing_clear(drawing_t *d);                 /* keep allocations for reuse */
/* Append a stroke of n points (copies; t may be NULL); returns it. */
stroke_t *drawing_add(drawing_t *d, int n, const double *x, const double *y, const double *t);
/* Append an uninitialised stroke of n points (with a t array if with_t). */
stroke_t *drawing_add_empty(drawing_t *d, int n, int with_t);
void drawing_copy(drawing_t *dst, const drawing_t *src);
long drawing_npoints(const drawing_t *d);
/* Bounding box over all points; returns 0 when there are no points. */
int drawing_bbox(const drawing_t *d, double *minx, double *miny, double *maxx, double *maxy);
/* Rotate every point by deg degrees about the centre of the bounding box
 * (the trainers' augmentation); nothing happens for deg 0 or no points. */
void drawing_rotate(drawing_t *d, double deg);
/* Append the drawing as JSON, numbers with at most dec decimals; times are
 * written when with_t and the stroke has them. */
void drawing_to_json(buf_t *b, const drawing_t *d, int dec, int with_t);

typedef struct {
    char *key;          /* decoded member name */
    size_t voff, vlen;  /* value span in text */
    char *repl;         /* replacement JSON text, or NULL */
    int removed;
    cJSON *cache;       /* parsed on first sketch_get, or NULL */
} sketch_field_t;

typedef struct {
    char *text;             /* the input line, owned */
    size_t len, cap;
    sketch_field_t *f;      /* one per member, in input order */
    int nf, fcap;
    char **xkey, **xval;    /* fields appended by the tool */
    int nx, xcap;
    const char *key_id;     /* whole, any length; "" when absent; numeric ids keep their digits */
    buf_t kid;              /* key_id's storage (private) */
    char *word;             /* NULL when absent (decoded) */
    drawing_t drawing;      /* the parsed "drawing" */
    struct { double *v[3]; size_t cap; } scratch; /* parser's reusable buffers */
} sketch_t;

void sketch_init(sketch_t *s);
void sketch_free(sketch_t *s);
/* Parse one line.  Errors (EXIT_DATA) name the key_id when known.  The line
 * is validated as strict JSON (RFC 8259) by a single-pass scanner; only
 * "drawing" is converted (numbers parsed directly, correctly rounded); other
 * fields are parsed with cJSON only when sketch_get asks for them. */
int sketch_parse(sketch_t *s, const char *line, size_t len, err_t *e);
const cJSON *sketch_get(const sketch_t *s, const char *key);
/* 1 if the record has this field (input or set), without parsing it. */
int sketch_has(const sketch_t *s, const char *key);
/* The raw JSON text of an input field (first occurrence, as read). */
int sketch_raw(const sketch_t *s, const char *key, const char **p, size_t *n);
/* Parse another drawing-shaped field (e.g. "target") into d. */
int sketch_get_drawing(const sketch_t *s, const char *key, drawing_t *d, err_t *e);
/* Replace (or append) a field with raw JSON text. */
void sketch_set_raw(sketch_t *s, const char *key, const char *json);
void sketch_set_str(sketch_t *s, const char *key, const char *val);
void sketch_set_num(sketch_t *s, const char *key, double v);
void sketch_set_drawing(sketch_t *s, const char *key, const drawing_t *d, int dec, int with_t);
void sketch_remove(sketch_t *s, const char *key);
/* Canvas frame: 1 and sets w,h if the record has a valid "canvas" field. */
int sketch_canvas(const sketch_t *s, double *w, double *h);
/* Serialise the record as one line ending in '\n'. */
void sketch_write(const sketch_t *s, buf_t *out);
/* m / 10^k correctly rounded (0 <= k <= 27); -1 if out of its exact range.
 * The number parser's slow path, exposed for its test. */
int div_pow10_exact(uint64_t m, int k, double *out);
/* "key_id K" for messages, or "record" when the record has no key_id. */
const char *sketch_label(const sketch_t *s);
#endif
