/* fuzz_svg.c - libFuzzer target for the SVG writer (common/svg.c) and its
 * one parameter string, rasterize's --colour.
 *
 * The first line is a colour string, every further line a sketch record.
 * Properties, besides "no crash, no sanitizer report": an accepted colour is
 * "#" and 3 or 6 hex digits or 1..31 ASCII letters (nothing that could end
 * an XML attribute); for every record that parses, the document has one
 * <svg>, one <g> and one <path> per stroke with finite points, holds no
 * control byte but newline, the title holds no '<' and no '&' that does not
 * start an entity, and every path's numbers read back to the stroke's points
 * (%.9g: within 1e-8 relative). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "raster.h"
#include "sketch.h"
#include "svg.h"

static int count(const char *s, const char *pat) {
    int n = 0;
    for (const char *p = strstr(s, pat); p; p = strstr(p + 1, pat)) n++;
    return n;
}

static void check_doc(const char *doc, const drawing_t *d) {
    int want = 0;
    for (int i = 0; i < d->nstrokes; i++) {
        int fin = 0;
        for (int j = 0; j < d->s[i].n; j++) fin |= isfinite(d->s[i].x[j]) && isfinite(d->s[i].y[j]);
        want += fin;
    }
    if (count(doc, "<svg ") != 1 || count(doc, "</svg>") != 1 || count(doc, "<g ") != 1) abort();
    if (count(doc, "<path ") != want) abort();
    for (const unsigned char *p = (const unsigned char *)doc; *p; p++)
        if (*p < 0x20 && *p != '\n') abort();
    const char *t = strstr(doc, "<title>");
    if (t) {
        const char *end = strstr(t, "</title>");
        if (!end) abort();
        for (const char *p = t + 7; p < end; p++) {
            if (*p == '<') abort();
            if (*p == '&' && strncmp(p, "&amp;", 5) && strncmp(p, "&lt;", 4) && strncmp(p, "&gt;", 4)) abort();
        }
    }
    /* the paths' numbers, in order, are the finite points (a one-point stroke repeats its point) */
    const char *p = doc;
    for (int i = 0; i < d->nstrokes; i++) {
        const stroke_t *st = &d->s[i];
        int nf = 0;
        for (int j = 0; j < st->n; j++) nf += isfinite(st->x[j]) && isfinite(st->y[j]);
        if (!nf) continue;
        p = strstr(p, "<path d=\"");
        if (!p) abort();
        p += 9;
        int k = 0;
        for (int j = 0; j < st->n; j++) {
            if (!isfinite(st->x[j]) || !isfinite(st->y[j])) continue;
            while (*p == ' ' || *p == 'M' || *p == 'L') p++;
            char *e1, *e2;
            double x = strtod(p, &e1), y = strtod(e1, &e2);
            if (e1 == p || e2 == e1) abort();
            if (fabs(x - st->x[j]) > 1e-8 * (1 + fabs(st->x[j])) || fabs(y - st->y[j]) > 1e-8 * (1 + fabs(st->y[j])))
                abort();
            p = e2;
            k++;
        }
        if (k != nf) abort();
        if (nf == 1 && strncmp(p, " L", 2)) abort(); /* the dot's second point */
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    const unsigned char *nl = memchr(data, '\n', size);
    size_t clen = nl ? (size_t)(nl - data) : size;
    char colour[64];
    if (clen >= sizeof colour) clen = sizeof colour - 1;
    memcpy(colour, data, clen);
    colour[clen] = 0;
    if (strlen(colour) != clen) return 0; /* an embedded NUL: not a command-line string */
    if (svg_colour_ok(colour)) {
        size_t n = strlen(colour);
        if (colour[0] == '#' ? n != 4 && n != 7 : n < 1 || n > 31) abort();
        for (size_t i = 0; i < n; i++)
            if (colour[i] == '"' || colour[i] == '<' || colour[i] == '&' || colour[i] == '\'' || colour[i] == ' ') abort();
    } else {
        strcpy(colour, "#000000");
    }
    sketch_t s;
    sketch_init(&s);
    buf_t doc = {0};
    size_t i = nl ? clen + 1 : size;
    while (i < size) {
        const unsigned char *e = memchr(data + i, '\n', size - i);
        size_t len = e ? (size_t)(e - (data + i)) : size - i;
        err_t er = {0};
        if (sketch_parse(&s, (const char *)data + i, len, &er) == 0) {
            xform_t xf;
            double cw, ch;
            if (sketch_canvas(&s, &cw, &ch)) xform_canvas(cw, ch, 64, &xf);
            else xform_fit(&s.drawing, 64, 4, &xf);
            svg_opts_t o = {.size = 64, .width = 2, .colour = colour};
            doc.len = 0;
            svg_drawing(&doc, &s.drawing, &xf, &o, s.word, s.key_id);
            check_doc(doc.s, &s.drawing);
        }
        i += len + 1;
    }
    buf_free(&doc);
    sketch_free(&s);
    return 0;
}
