/* plot.h - pictures for people: panels, line charts, text, PNG and GIF files.
 *
 * A thin layer over cairo (text through cairo's toy font API on the system's
 * sans-serif face, fontconfig picks it: DejaVu Sans on Debian) and giflib.
 * It lives in common/gfx/, outside libinvclip.a, because only `summarize`
 * links cairo and giflib; the Makefile compiles it with cairo's flags.
 *
 * Coordinates are cairo user units = pixels.  Colours are 0xRRGGBB.
 * Every file is written atomically (temp file + rename, util.h's afile).
 * Nothing here prints or exits; errors come back in an err_t.
 */
#ifndef PLOT_H
#define PLOT_H
#include <cairo.h>
#include <stdint.h>
#include "png_io.h"
#include "sketch.h"
#include "util.h"

typedef struct {
    cairo_surface_t *s;
    cairo_t *cr;
    int w, h;
} canvas_t;

/* Release cairo's static caches (fonts) at the end of a program, so leak checkers see none. */
void plot_shutdown(void);

/* A w x h RGB canvas painted with bg.  EXIT_DATA for absurd sizes, EXIT_INTERNAL when cairo fails. */
int canvas_new(canvas_t *c, int w, int h, uint32_t bg, err_t *e);
void canvas_free(canvas_t *c);
/* Write as PNG, atomically.  EXIT_IO on failure. */
int canvas_save_png(canvas_t *c, const char *path, err_t *e);
/* The canvas as an 8-bit grey image_t (luma), for the GIF writer and tests. */
void canvas_to_grey(canvas_t *c, image_t *im);

void plot_rgb(cairo_t *cr, uint32_t rgb);
/* Text with its baseline at y; align 0 left, 1 centre, 2 right of x.  Returns its width. */
double plot_text(cairo_t *cr, double x, double y, const char *s, double size, int bold, int align, uint32_t rgb);
/* Text shortened with an ellipsis to fit max_w. */
double plot_text_fit(cairo_t *cr, double x, double y, const char *s, double size, int bold, int align, uint32_t rgb,
                     double max_w);
void plot_rect(cairo_t *cr, double x, double y, double w, double h, uint32_t fill);
void plot_frame(cairo_t *cr, double x, double y, double w, double h, uint32_t line, double lw);

/* A drawing into the box (x,y,w,h): with cw,ch > 0 the drawing is in a cw x ch
 * pixel frame, scaled uniformly to fit; otherwise its bounding box is fitted with
 * a margin.  Strokes are polylines of width lw (in box pixels), round caps. */
void plot_drawing(cairo_t *cr, const drawing_t *d, double cw, double ch, double x, double y, double w, double h,
                  double lw, uint32_t rgb);
/* An image scaled (bilinear, aspect kept, centred) into the box. */
void plot_image(cairo_t *cr, const image_t *im, double x, double y, double w, double h);

typedef struct {
    const char *name; /* legend text; NULL = no legend entry */
    const double *x, *y;
    int n;
    uint32_t rgb;
    int dots; /* 1: markers instead of a line */
} series_t;

/* A line chart in the box: axes with nice ticks, grid, the series (non-finite
 * points skipped), an optional title, axis labels, and a legend when more than
 * one series has a name.  ylog: logarithmic y when every finite y is > 0. */
void plot_chart(cairo_t *cr, double x, double y, double w, double h, const char *title, const char *xlabel,
                const series_t *s, int ns, int ylog);

/* The i-th colour of a qualitative palette (Tableau 10). */
uint32_t plot_palette(int i);

/* An animated GIF of n grey frames (all w x h, 1 channel), delay in
 * centiseconds, looping forever, 256-grey palette.  Atomic.  EXIT_IO on write
 * failure, EXIT_DATA on mismatched frames. */
int gif_write(const char *path, image_t *const *frames, int n, int delay_cs, err_t *e);
#endif
