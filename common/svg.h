/* svg.h - sketch drawings as SVG documents, the format CLIPasso's users open.
 *
 * One <path> per stroke (an absolute moveto and linetos over the stroke's
 * points, numbers as the record has them, %.9g), inside one <g> that carries
 * the style: no fill, the stroke colour, round caps and joins, and the stroke
 * width.  A one-point stroke is "M x y L x y", which round caps draw as a dot.
 * The picture is the same one rasterize draws into a size x size PNG: the
 * viewBox is the drawing frame that the transform xf (X = x*sx + ox) maps onto
 * the image, pixel centres at integers -- so for a record with a canvas W x H
 * it is "-0.5 -0.5 W H", and for a fitted drawing the fitted window in the
 * drawing's own units -- width and height are size, preserveAspectRatio is
 * "none" (rasterize stretches a non-square canvas too), and the stroke width
 * is the PNG's width in pixels divided by sqrt(sx*sy).  Points that are not
 * finite are left out; a stroke with none is left out.  A <title> holds the
 * record's word and key_id, XML-escaped.
 *
 * Not here: reading SVG (tests/cli/svg.sh parses the output back), curves
 * (the bezier renderer's control points are not kept in records), fills.
 */
#ifndef SVG_H
#define SVG_H
#include "raster.h"
#include "sketch.h"
#include "util.h"

typedef struct {
    int size;           /* width and height attributes, pixels */
    double width;       /* stroke width in output pixels (rasterize --width) */
    const char *colour; /* "#rgb", "#rrggbb" or a CSS colour name (svg_colour_ok) */
} svg_opts_t;

/* 1 if s is "#rgb", "#rrggbb" or 1..31 ASCII letters (a CSS colour name). */
int svg_colour_ok(const char *s);
/* Append the SVG document for d (through xf) to b.  word, key_id: for the
 * title (either may be NULL or ""). */
void svg_drawing(buf_t *b, const drawing_t *d, const xform_t *xf, const svg_opts_t *o, const char *word,
                 const char *key_id);
/* svg_drawing into path, atomically (util.h afile). */
int svg_save(const char *path, const drawing_t *d, const xform_t *xf, const svg_opts_t *o, const char *word,
             const char *key_id, err_t *e);
#endif
