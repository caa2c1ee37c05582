/* plot.c - see plot.h. */
#include "plot.h"
#include <errno.h>
#include <fontconfig/fontconfig.h>
#include <gif_lib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FONT "DejaVu Sans"

void plot_shutdown(void) {
    cairo_debug_reset_static_data();
    FcFini();
}

int canvas_new(canvas_t *c, int w, int h, uint32_t bg, err_t *e) {
    memset(c, 0, sizeof *c);
    if (w < 1 || h < 1 || w > 16384 || h > 16384) return err_set(e, EXIT_DATA, "canvas %dx%d out of range", w, h);
    c->s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(c->s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(c->s);
        c->s = NULL;
        return err_set(e, EXIT_INTERNAL, "cairo: cannot make a %dx%d surface", w, h);
    }
    c->cr = cairo_create(c->s);
    c->w = w, c->h = h;
    plot_rect(c->cr, 0, 0, w, h, bg);
    return 0;
}

void canvas_free(canvas_t *c) {
    if (c->cr) cairo_destroy(c->cr);
    if (c->s) cairo_surface_destroy(c->s);
    memset(c, 0, sizeof *c);
}

static cairo_status_t write_fp(void *closure, const unsigned char *data, unsigned int n) {
    return fwrite(data, 1, n, (FILE *)closure) == n ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

int canvas_save_png(canvas_t *c, const char *path, err_t *e) {
    afile_t a;
    if (afile_open(&a, path, e)) return e->code;
    cairo_surface_flush(c->s);
    if (cairo_surface_write_to_png_stream(c->s, write_fp, a.fp) != CAIRO_STATUS_SUCCESS) {
        afile_abort(&a);
        return err_set(e, EXIT_IO, "%s: cannot write PNG: %s", path, strerror(errno ? errno : EIO));
    }
    return afile_commit(&a, e);
}

void canvas_to_grey(canvas_t *c, image_t *im) {
    cairo_surface_flush(c->s);
    const unsigned char *d = cairo_image_surface_get_data(c->s);
    int st = cairo_image_surface_get_stride(c->s);
    image_free(im);
    image_init(im, c->w, c->h, 1, 255, NULL);
    for (int y = 0; y < c->h; y++) {
        const uint32_t *row = (const uint32_t *)(d + (size_t)y * st);
        for (int x = 0; x < c->w; x++) {
            uint32_t p = row[x];
            double r = (p >> 16) & 255, g = (p >> 8) & 255, b = p & 255;
            im->px[(size_t)y * c->w + x] = (uint8_t)lround(0.299 * r + 0.587 * g + 0.114 * b);
        }
    }
}

void plot_rgb(cairo_t *cr, uint32_t rgb) {
    cairo_set_source_rgb(cr, ((rgb >> 16) & 255) / 255.0, ((rgb >> 8) & 255) / 255.0, (rgb & 255) / 255.0);
}

double plot_text(cairo_t *cr, double x, double y, const char *s, double size, int bold, int align, uint32_t rgb) {
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    double w = te.x_advance;
    double x0 = align == 1 ? x - w / 2 : align == 2 ? x - w : x;
    plot_rgb(cr, rgb);
    cairo_move_to(cr, x0, y);
    cairo_show_text(cr, s);
    cairo_new_path(cr);
    return w;
}

double plot_text_fit(cairo_t *cr, double x, double y, const char *s, double size, int bold, int align, uint32_t rgb,
                     double max_w) {
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    if (te.x_advance <= max_w) return plot_text(cr, x, y, s, size, bold, align, rgb);
    size_t n = strlen(s);
    char *t = xmalloc(n + 4);
    while (n > 0) {
        n--;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* whole UTF-8 characters */
        memcpy(t, s, n);
        memcpy(t + n, "\xE2\x80\xA6", 4);
        cairo_text_extents(cr, t, &te);
        if (te.x_advance <= max_w) break;
    }
    double w = plot_text(cr, x, y, n ? t : "\xE2\x80\xA6", size, bold, align, rgb);
    free(t);
    return w;
}

void plot_rect(cairo_t *cr, double x, double y, double w, double h, uint32_t fill) {
    plot_rgb(cr, fill);
    cairo_rectangle(cr, x, y, w, h);
    cairo_fill(cr);
}

void plot_frame(cairo_t *cr, double x, double y, double w, double h, uint32_t line, double lw) {
    plot_rgb(cr, line);
    cairo_set_line_width(cr, lw);
    cairo_rectangle(cr, x, y, w, h);
    cairo_stroke(cr);
}

void plot_drawing(cairo_t *cr, const drawing_t *d, double cw, double ch, double x, double y, double w, double h,
                  double lw, uint32_t rgb) {
    double sx, ox, oy;
    if (cw > 0 && ch > 0) {
        sx = fmin(w / cw, h / ch);
        ox = x + (w - cw * sx) / 2, oy = y + (h - ch * sx) / 2;
    } else {
        double x0, y0, x1, y1;
        if (!drawing_bbox(d, &x0, &y0, &x1, &y1)) return;
        double m = 0.08 * fmin(w, h), bw = fmax(x1 - x0, 1e-6), bh = fmax(y1 - y0, 1e-6);
        sx = fmin((w - 2 * m) / bw, (h - 2 * m) / bh);
        ox = x + (w - bw * sx) / 2 - x0 * sx, oy = y + (h - bh * sx) / 2 - y0 * sx;
    }
    cairo_save(cr);
    cairo_rectangle(cr, x, y, w, h);
    cairo_clip(cr);
    plot_rgb(cr, rgb);
    cairo_set_line_width(cr, lw);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (int k = 0; k < d->nstrokes; k++) {
        const stroke_t *s = &d->s[k];
        int started = 0;
        for (int i = 0; i < s->n; i++) {
            double px = s->x[i] * sx + ox, py = s->y[i] * sx + oy;
            if (!isfinite(px) || !isfinite(py)) continue;
            if (!started) cairo_move_to(cr, px, py), started = 1;
            else cairo_line_to(cr, px, py);
        }
        if (started && s->n == 1) cairo_rel_line_to(cr, 0, 0); /* a dot: round caps draw it */
        cairo_stroke(cr);
    }
    cairo_restore(cr);
}

void plot_image(cairo_t *cr, const image_t *im, double x, double y, double w, double h) {
    if (!im || !im->px || im->w < 1 || im->h < 1) return;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, im->w, im->h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return;
    }
    cairo_surface_flush(s);
    unsigned char *d = cairo_image_surface_get_data(s);
    int st = cairo_image_surface_get_stride(s);
    for (int yy = 0; yy < im->h; yy++) {
        uint32_t *row = (uint32_t *)(d + (size_t)yy * st);
        for (int xx = 0; xx < im->w; xx++) {
            const uint8_t *p = im->px + ((size_t)yy * im->w + xx) * im->c;
            uint32_t r = p[0], g = im->c >= 3 ? p[1] : p[0], b = im->c >= 3 ? p[2] : p[0];
            row[xx] = r << 16 | g << 8 | b;
        }
    }
    cairo_surface_mark_dirty(s);
    double sc = fmin(w / im->w, h / im->h);
    cairo_save(cr);
    cairo_translate(cr, x + (w - im->w * sc) / 2, y + (h - im->h * sc) / 2);
    cairo_scale(cr, sc, sc);
    cairo_set_source_surface(cr, s, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), sc < 1 ? CAIRO_FILTER_GOOD : CAIRO_FILTER_BILINEAR);
    cairo_paint(cr);
    cairo_restore(cr);
    cairo_surface_destroy(s);
}

uint32_t plot_palette(int i) {
    static const uint32_t p[10] = {0x4e79a7, 0xf28e2b, 0xe15759, 0x76b7b2, 0x59a14f,
                                   0xedc948, 0xb07aa1, 0xff9da7, 0x9c755f, 0xbab0ac};
    return p[((i % 10) + 10) % 10];
}

/* A "nice" tick step for a range spanning about n ticks. */
static double nice_step(double range, int n) {
    if (!(range > 0)) return 1;
    double raw = range / n, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

static void fmt_tick(char *b, size_t n, double v, double step) {
    if (fabs(v) < step * 1e-6) v = 0;
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 6) dec = 6;
    if (fabs(v) >= 1e5 || (v != 0 && fabs(v) < 1e-4)) snprintf(b, n, "%.1e", v);
    else snprintf(b, n, "%.*f", dec, v);
}

void plot_chart(cairo_t *cr, double x, double y, double w, double h, const char *title, const char *xlabel,
                const series_t *s, int ns, int ylog) {
    const uint32_t ink = 0x333333, grid = 0xe6e6e6, muted = 0x777777;
    /* legend: rows of entries under the title, wrapped to the chart's width */
    int named = 0;
    for (int k = 0; k < ns; k++) named += s[k].name != NULL;
    double lx0 = x + 58, lmax = x + w - 12, lx = lx0, lrows = named > 1 ? 1 : 0;
    double ew[64];
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 12);
    for (int k = 0; k < ns && k < 64; k++) {
        if (!s[k].name || named < 2) continue;
        cairo_text_extents_t te;
        cairo_text_extents(cr, s[k].name, &te);
        ew[k] = 22 + fmin(te.x_advance, lmax - lx0 - 22) + 14;
        if (lx > lx0 && lx + ew[k] > lmax) lrows++, lx = lx0;
        lx += ew[k];
    }
    double ttop = y + (title ? 24 : 6);
    double top = ttop + lrows * 18 + (lrows ? 4 : 0), left = x + 58, right = x + w - 12, bottom = y + h - (xlabel ? 40 : 26);
    if (title) plot_text(cr, x + 4, y + 16, title, 14, 1, 0, ink);
    if (named > 1) {
        lx = lx0;
        double ly = ttop + 9;
        for (int k = 0; k < ns && k < 64; k++) {
            if (!s[k].name) continue;
            if (lx > lx0 && lx + ew[k] > lmax) ly += 18, lx = lx0;
            plot_rgb(cr, s[k].rgb);
            cairo_set_line_width(cr, 3);
            cairo_move_to(cr, lx, ly), cairo_line_to(cr, lx + 16, ly), cairo_stroke(cr);
            plot_text_fit(cr, lx + 21, ly + 4, s[k].name, 12, 0, 0, ink, ew[k] - 36);
            lx += ew[k];
        }
    }
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    int allpos = 1, any = 0;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) {
            double a = s[k].x[i], b = s[k].y[i];
            if (!isfinite(a) || !isfinite(b)) continue;
            any = 1;
            x0 = fmin(x0, a), x1 = fmax(x1, a), y0 = fmin(y0, b), y1 = fmax(y1, b);
            if (b <= 0) allpos = 0;
        }
    if (!any) {
        plot_frame(cr, left, top, right - left, bottom - top, grid, 1);
        plot_text(cr, (left + right) / 2, (top + bottom) / 2, "no data", 13, 0, 1, muted);
        return;
    }
    int lg = ylog && allpos && y1 / y0 > 20;
    double ly0 = lg ? log10(y0) : y0, ly1 = lg ? log10(y1) : y1;
    if (x1 <= x0) x0 -= 0.5, x1 += 0.5;
    if (ly1 - ly0 < 1e-12 * fmax(1, fabs(ly1))) {
        double d = fabs(ly0) > 0 ? fabs(ly0) * 0.05 : 0.5;
        ly0 -= d, ly1 += d;
    } else {
        double pad = (ly1 - ly0) * 0.06;
        ly0 -= pad, ly1 += pad;
    }
#define MX(v) (left + ((v) - x0) / (x1 - x0) * (right - left))
#define MY(v) (bottom - (((lg ? log10(v) : (v))) - ly0) / (ly1 - ly0) * (bottom - top))
    /* grid and y ticks */
    cairo_set_line_width(cr, 1);
    char b[64];
    if (lg) {
        for (int p = (int)floor(ly0); p <= (int)ceil(ly1); p++) {
            double v = pow(10, p);
            if (log10(v) < ly0 || log10(v) > ly1) continue;
            double yy = floor(MY(v)) + 0.5;
            plot_rgb(cr, grid);
            cairo_move_to(cr, left, yy), cairo_line_to(cr, right, yy), cairo_stroke(cr);
            snprintf(b, sizeof b, "1e%d", p);
            plot_text(cr, left - 6, yy + 4, b, 11, 0, 2, muted);
        }
    } else {
        double st = nice_step(ly1 - ly0, 5);
        for (double v = ceil(ly0 / st) * st; v <= ly1 + st * 1e-9; v += st) {
            double yy = floor(MY(v)) + 0.5;
            plot_rgb(cr, grid);
            cairo_move_to(cr, left, yy), cairo_line_to(cr, right, yy), cairo_stroke(cr);
            fmt_tick(b, sizeof b, v, st);
            plot_text(cr, left - 6, yy + 4, b, 11, 0, 2, muted);
        }
    }
    double xs = nice_step(x1 - x0, 6);
    for (double v = ceil(x0 / xs) * xs; v <= x1 + xs * 1e-9; v += xs) {
        double xx = floor(MX(v)) + 0.5;
        plot_rgb(cr, grid);
        cairo_move_to(cr, xx, top), cairo_line_to(cr, xx, bottom), cairo_stroke(cr);
        fmt_tick(b, sizeof b, v, xs);
        plot_text(cr, xx, bottom + 15, b, 11, 0, 1, muted);
    }
    plot_rgb(cr, 0xaaaaaa);
    cairo_move_to(cr, left, top), cairo_line_to(cr, left, bottom), cairo_line_to(cr, right, bottom);
    cairo_stroke(cr);
    if (xlabel) plot_text(cr, (left + right) / 2, y + h - 8, xlabel, 12, 0, 1, muted);
    /* series */
    cairo_save(cr);
    cairo_rectangle(cr, left, top - 2, right - left + 2, bottom - top + 4);
    cairo_clip(cr);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (int k = 0; k < ns; k++) {
        plot_rgb(cr, s[k].rgb);
        cairo_set_line_width(cr, 2);
        int pen = 0;
        for (int i = 0; i < s[k].n; i++) {
            double a = s[k].x[i], v = s[k].y[i];
            if (!isfinite(a) || !isfinite(v) || (lg && v <= 0)) {
                pen = 0;
                continue;
            }
            if (s[k].dots) {
                cairo_new_path(cr);
                cairo_arc(cr, MX(a), MY(v), 3.5, 0, 2 * M_PI);
                cairo_fill(cr);
            } else if (!pen) cairo_move_to(cr, MX(a), MY(v)), pen = 1;
            else cairo_line_to(cr, MX(a), MY(v));
        }
        if (!s[k].dots) {
            if (s[k].n == 1) cairo_arc(cr, MX(s[k].x[0]), MY(s[k].y[0]), 2.5, 0, 2 * M_PI);
            cairo_stroke(cr);
        }
    }
    cairo_restore(cr);
#undef MX
#undef MY
}

/* ------------------------------------------------------------------ GIF */

static int gif_out(GifFileType *g, const GifByteType *data, int n) {
    return (int)fwrite(data, 1, (size_t)n, (FILE *)g->UserData);
}

int gif_write(const char *path, image_t *const *frames, int n, int delay_cs, err_t *e) {
    if (n < 1) return err_set(e, EXIT_DATA, "%s: no frames", path);
    int w = frames[0]->w, h = frames[0]->h;
    for (int i = 0; i < n; i++)
        if (frames[i]->w != w || frames[i]->h != h || frames[i]->c != 1)
            return err_set(e, EXIT_DATA, "%s: frame %d is %dx%dx%d, frame 1 %dx%dx1", path, i + 1, frames[i]->w,
                           frames[i]->h, frames[i]->c, w, h);
    if (w > 65535 || h > 65535) return err_set(e, EXIT_DATA, "%s: %dx%d too large for GIF", path, w, h);
    afile_t a;
    if (afile_open(&a, path, e)) return e->code;
    int gerr = 0;
    GifFileType *g = EGifOpen(a.fp, gif_out, &gerr);
    if (!g) {
        afile_abort(&a);
        return err_set(e, EXIT_IO, "%s: giflib: %s", path, GifErrorString(gerr));
    }
    GifColorType pal[256];
    for (int i = 0; i < 256; i++) pal[i].Red = pal[i].Green = pal[i].Blue = (GifByteType)i;
    ColorMapObject *cm = GifMakeMapObject(256, pal);
    EGifSetGifVersion(g, true); /* GIF89a: the header is written with the screen descriptor */
    int ok = cm && EGifPutScreenDesc(g, w, h, 8, 0, cm) == GIF_OK;
    /* loop forever: the NETSCAPE2.0 application extension */
    if (ok) {
        static const GifByteType app[11] = {'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0'};
        static const GifByteType loop[3] = {1, 0, 0};
        ok = EGifPutExtensionLeader(g, APPLICATION_EXT_FUNC_CODE) == GIF_OK &&
             EGifPutExtensionBlock(g, 11, app) == GIF_OK && EGifPutExtensionBlock(g, 3, loop) == GIF_OK &&
             EGifPutExtensionTrailer(g) == GIF_OK;
    }
    for (int i = 0; ok && i < n; i++) {
        GraphicsControlBlock gcb = {.DisposalMode = DISPOSE_DO_NOT,
                                    .UserInputFlag = false,
                                    .DelayTime = i == n - 1 ? delay_cs * 8 : delay_cs,
                                    .TransparentColor = NO_TRANSPARENT_COLOR};
        GifByteType ext[4];
        EGifGCBToExtension(&gcb, ext);
        ok = EGifPutExtension(g, GRAPHICS_EXT_FUNC_CODE, 4, ext) == GIF_OK &&
             EGifPutImageDesc(g, 0, 0, w, h, false, NULL) == GIF_OK;
        for (int y = 0; ok && y < h; y++) ok = EGifPutLine(g, frames[i]->px + (size_t)y * w, w) == GIF_OK;
    }
    int cerr = 0;
    int closed = EGifCloseFile(g, &cerr) == GIF_OK;
    GifFreeMapObject(cm);
    if (!ok || !closed) {
        afile_abort(&a);
        return err_set(e, EXIT_IO, "%s: cannot write GIF: %s", path, ok ? GifErrorString(cerr) : "giflib refused a block");
    }
    return afile_commit(&a, e);
}
