/* svg.c - sketch drawings as SVG documents (see svg.h). */
#include "svg.h"
#include <math.h>
#include <string.h>

int svg_colour_ok(const char *s) {
    size_t n = strlen(s);
    if (s[0] == '#') {
        if (n != 4 && n != 7) return 0;
        for (size_t i = 1; i < n; i++)
            if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
                return 0;
        return 1;
    }
    if (n < 1 || n > 31) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) return 0;
    return 1;
}

static void xml_text(buf_t *b, const char *s) {
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '&') buf_puts(b, "&amp;");
        else if (ch == '<') buf_puts(b, "&lt;");
        else if (ch == '>') buf_puts(b, "&gt;");
        else if (ch < 0x20 && ch != '\t' && ch != '\n') buf_puts(b, " "); /* not allowed in XML 1.0 */
        else buf_put(b, s, 1);
    }
}

void svg_drawing(buf_t *b, const drawing_t *d, const xform_t *xf, const svg_opts_t *o, const char *word,
                 const char *key_id) {
    /* the image spans pixel coordinates [-0.5, size - 0.5]; back to drawing units */
    double x0 = (-0.5 - xf->ox) / xf->sx, y0 = (-0.5 - xf->oy) / xf->sy;
    double vw = o->size / xf->sx, vh = o->size / xf->sy;
    double sw = o->width / sqrt(xf->sx * xf->sy);
    buf_printf(b,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
               "viewBox=\"%.9g %.9g %.9g %.9g\" preserveAspectRatio=\"none\">\n",
               o->size, o->size, x0, y0, vw, vh);
    if ((word && word[0]) || (key_id && key_id[0])) {
        buf_puts(b, "<title>");
        if (word) xml_text(b, word);
        if (word && word[0] && key_id && key_id[0]) buf_puts(b, " ");
        if (key_id) xml_text(b, key_id);
        buf_puts(b, "</title>\n");
    }
    buf_printf(b,
               "<g fill=\"none\" stroke=\"%s\" stroke-width=\"%.9g\" stroke-linecap=\"round\" "
               "stroke-linejoin=\"round\">\n",
               o->colour, sw);
    for (int s = 0; s < d->nstrokes; s++) {
        const stroke_t *st = &d->s[s];
        int k = 0;
        for (int i = 0; i < st->n; i++) {
            if (!isfinite(st->x[i]) || !isfinite(st->y[i])) continue;
            buf_printf(b, k == 0 ? "<path d=\"M%.9g %.9g" : k == 1 ? " L%.9g %.9g" : " %.9g %.9g", st->x[i], st->y[i]);
            if (k == 0) {
                /* keep the first point for a one-point stroke's dot */
                double fx = st->x[i], fy = st->y[i];
                int more = 0;
                for (int j = i + 1; j < st->n; j++) more |= isfinite(st->x[j]) && isfinite(st->y[j]);
                if (!more) buf_printf(b, " L%.9g %.9g", fx, fy);
            }
            k++;
        }
        if (k) buf_puts(b, "\"/>\n");
    }
    buf_puts(b, "</g>\n</svg>\n");
}

int svg_save(const char *path, const drawing_t *d, const xform_t *xf, const svg_opts_t *o, const char *word,
             const char *key_id, err_t *e) {
    buf_t b = {0};
    svg_drawing(&b, d, xf, o, word, key_id);
    afile_t a;
    int rc = afile_open(&a, path, e);
    if (!rc) {
        if (fwrite(b.s, 1, b.len, a.fp) != b.len) {
            afile_abort(&a);
            rc = err_set(e, EXIT_IO, "%s: write failed", path);
        } else {
            rc = afile_commit(&a, e);
        }
    }
    buf_free(&b);
    return rc;
}
