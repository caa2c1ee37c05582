/* sketch.c - see sketch.h. */
#include "sketch.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void drawing_init(drawing_t *d) { memset(d, 0, sizeof *d); }

void drawing_clear(drawing_t *d) {
    for (int i = 0; i < d->nstrokes; i++) {
        free(d->s[i].x);
        d->s[i].x = d->s[i].y = d->s[i].t = NULL;
    }
    d->nstrokes = 0;
}

void drawing_free(drawing_t *d) {
    drawing_clear(d);
    free(d->s);
    memset(d, 0, sizeof *d);
}

stroke_t *drawing_add(drawing_t *d, int n, const double *x, const double *y, const double *t) {
    stroke_t *s = drawing_add_empty(d, n, t != NULL);
    if (n > 0) {
        if (x) memcpy(s->x, x, (size_t)n * sizeof(double));
        if (y) memcpy(s->y, y, (size_t)n * sizeof(double));
        if (t) memcpy(s->t, t, (size_t)n * sizeof(double));
    }
    return s;
}

stroke_t *drawing_add_empty(drawing_t *d, int n, int with_t) {
    if (d->nstrokes == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 8;
        d->s = xrealloc(d->s, (size_t)d->cap * sizeof *d->s);
    }
    stroke_t *s = &d->s[d->nstrokes++];
    /* one block per stroke: x | y | t */
    size_t m = (size_t)(n > 0 ? n : 1);
    s->n = n;
    s->x = xmalloc((with_t ? 3 : 2) * m * sizeof(double));
    s->y = s->x + m;
    s->t = with_t ? s->y + m : NULL;
    return s;
}

void drawing_copy(drawing_t *dst, const drawing_t *src) {
    drawing_clear(dst);
    for (int i = 0; i < src->nstrokes; i++)
        drawing_add(dst, src->s[i].n, src->s[i].x, src->s[i].y, src->s[i].t);
}

long drawing_npoints(const drawing_t *d) {
    long n = 0;
    for (int i = 0; i < d->nstrokes; i++) n += d->s[i].n;
    return n;
}

int drawing_bbox(const drawing_t *d, double *minx, double *miny, double *maxx, double *maxy) {
    double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
    int any = 0;
    for (int i = 0; i < d->nstrokes; i++)
        for (int j = 0; j < d->s[i].n; j++) {
            double x = d->s[i].x[j], y = d->s[i].y[j];
            if (x < x0) x0 = x;
            if (x > x1) x1 = x;
            if (y < y0) y0 = y;
            if (y > y1) y1 = y;
            any = 1;
        }
    if (!any) x0 = y0 = x1 = y1 = 0;
    *minx = x0; *miny = y0; *maxx = x1; *maxy = y1;
    return any;
}

int drawing_from_json(drawing_t *d, const cJSON *arr, err_t *e) {
    drawing_clear(d);
    if (!cJSON_IsArray(arr)) return err_set(e, EXIT_DATA, "drawing is not an array");
    int si = 0;
    for (const cJSON *st = arr->child; st; st = st->next, si++) {
        if (!cJSON_IsArray(st))
            return err_set(e, EXIT_DATA, "stroke %d is not an array", si);
        int ncomp = cJSON_GetArraySize(st);
        if (ncomp < 2 || ncomp > 3)
            return err_set(e, EXIT_DATA, "stroke %d has %d coordinate arrays (want 2 or 3: x, y[, t])", si, ncomp);
        const cJSON *c[3] = {st->child, st->child->next, ncomp == 3 ? st->child->next->next : NULL};
        int n = -1;
        for (int k = 0; k < ncomp; k++) {
            if (!cJSON_IsArray(c[k]))
                return err_set(e, EXIT_DATA, "stroke %d: %c is not an array", si, "xyt"[k]);
            int m = cJSON_GetArraySize(c[k]);
            if (n >= 0 && m != n)
                return err_set(e, EXIT_DATA, "stroke %d: x has %d values but %c has %d", si, n, "xyt"[k], m);
            n = m;
        }
        if (n == 0) return err_set(e, EXIT_DATA, "stroke %d has no points", si);
        stroke_t *s = drawing_add_empty(d, n, ncomp == 3);
        double *dst[3] = {s->x, s->y, s->t};
        for (int k = 0; k < ncomp; k++) {
            int j = 0;
            for (const cJSON *v = c[k]->child; v; v = v->next, j++) {
                if (!cJSON_IsNumber(v))
                    return err_set(e, EXIT_DATA, "stroke %d: %c[%d] is not a number", si, "xyt"[k], j);
                if (!isfinite(v->valuedouble))
                    return err_set(e, EXIT_DATA, "stroke %d: %c[%d] is not finite", si, "xyt"[k], j);
                dst[k][j] = v->valuedouble;
            }
        }
    }
    return 0;
}

void drawing_to_json(buf_t *b, const drawing_t *d, int dec, int with_t) {
    buf_put(b, "[", 1);
    for (int i = 0; i < d->nstrokes; i++) {
        const stroke_t *s = &d->s[i];
        const double *c[3] = {s->x, s->y, with_t ? s->t : NULL};
        if (i) buf_put(b, ",", 1);
        buf_put(b, "[", 1);
        for (int k = 0; k < 3 && c[k]; k++) {
            if (k) buf_put(b, ",", 1);
            buf_put(b, "[", 1);
            for (int j = 0; j < s->n; j++) {
                if (j) buf_put(b, ",", 1);
                buf_num(b, c[k][j], dec);
            }
            buf_put(b, "]", 1);
        }
        buf_put(b, "]", 1);
    }
    buf_put(b, "]", 1);
}

/* ---- records ---- */

void sketch_init(sketch_t *s) {
    memset(s, 0, sizeof *s);
    drawing_init(&s->drawing);
}

static void sketch_reset(sketch_t *s) {
    free(s->text);
    s->text = NULL;
    if (s->root) cJSON_Delete(s->root);
    s->root = NULL;
    for (int i = 0; i < s->nf; i++) free(s->f[i].repl);
    free(s->f);
    s->f = NULL;
    s->nf = 0;
    for (int i = 0; i < s->nx; i++) { free(s->xkey[i]); free(s->xval[i]); }
    s->nx = 0;
    s->key_id[0] = 0;
    s->word = NULL;
    drawing_clear(&s->drawing);
}

void sketch_free(sketch_t *s) {
    sketch_reset(s);
    free(s->xkey);
    free(s->xval);
    drawing_free(&s->drawing);
    memset(s, 0, sizeof *s);
}

/* The text was validated by cJSON, so these scanners only need to find ends.
 * Like cJSON, every byte 1..32 counts as white space. */
static size_t skip_ws(const char *t, size_t i) {
    while (t[i] && (unsigned char)t[i] <= 32) i++;
    return i;
}
static size_t skip_string(const char *t, size_t i) { /* t[i] == '"' */
    for (i++; t[i] != '"'; i++)
        if (t[i] == '\\') i++;
    return i + 1;
}
static size_t skip_value(const char *t, size_t i) {
    if (t[i] == '"') return skip_string(t, i);
    if (t[i] == '{' || t[i] == '[') {
        int depth = 0;
        for (;;) {
            char c = t[i];
            if (c == '"') { i = skip_string(t, i); continue; }
            if (c == '{' || c == '[') depth++;
            else if (c == '}' || c == ']') {
                if (--depth == 0) return i + 1;
            }
            i++;
        }
    }
    while ((unsigned char)t[i] > 32 && t[i] != ',' && t[i] != '}' && t[i] != ']') i++;
    return i;
}

const char *sketch_label(const sketch_t *s) {
    static __thread char lab[96];
    if (s->key_id[0]) snprintf(lab, sizeof lab, "key_id %s", s->key_id);
    else snprintf(lab, sizeof lab, "record");
    return lab;
}

int sketch_parse(sketch_t *s, const char *line, size_t len, err_t *e) {
    sketch_reset(s);
    size_t bad;
    if (memchr(line, 0, len)) return err_set(e, EXIT_DATA, "NUL byte in line");
    if (!utf8_valid(line, len, &bad))
        return err_set(e, EXIT_DATA, "invalid UTF-8 at byte %zu", bad + 1);
    s->text = xmalloc(len + 1);
    memcpy(s->text, line, len);
    s->text[len] = 0;
    s->len = len;
    const char *end = NULL;
    s->root = cJSON_ParseWithLengthOpts(s->text, len, &end, 0);
    if (!s->root) {
        size_t at = end ? (size_t)(end - s->text) : 0;
        if (at + 1 >= len) return err_set(e, EXIT_DATA, "malformed JSON: unexpected end of line (truncated record?)");
        return err_set(e, EXIT_DATA, "malformed JSON near byte %zu", at + 1);
    }
    size_t i = end ? skip_ws(s->text, (size_t)(end - s->text)) : len;
    if (i < len) return err_set(e, EXIT_DATA, "trailing data after JSON value at byte %zu", i + 1);
    if (!cJSON_IsObject(s->root)) return err_set(e, EXIT_DATA, "record is not a JSON object");

    /* member value spans, in order */
    int n = cJSON_GetArraySize(s->root);
    s->f = xcalloc((size_t)(n ? n : 1), sizeof *s->f);
    i = skip_ws(s->text, 0) + 1; /* past '{' */
    for (int k = 0; k < n; k++) {
        i = skip_ws(s->text, i);
        i = skip_string(s->text, i);
        i = skip_ws(s->text, i) + 1; /* ':' */
        i = skip_ws(s->text, i);
        size_t v = i;
        i = skip_value(s->text, i);
        s->f[k].voff = v;
        s->f[k].vlen = i - v;
        i = skip_ws(s->text, i) + 1; /* ',' or '}' */
    }
    s->nf = n;

    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(s->root, "key_id");
    if (cJSON_IsString(kid)) {
        snprintf(s->key_id, sizeof s->key_id, "%s", kid->valuestring);
    } else if (cJSON_IsNumber(kid)) {
        int k = 0;
        for (const cJSON *c = s->root->child; c; c = c->next, k++)
            if (c == kid) {
                size_t m = s->f[k].vlen < sizeof s->key_id - 1 ? s->f[k].vlen : sizeof s->key_id - 1;
                memcpy(s->key_id, s->text + s->f[k].voff, m);
                s->key_id[m] = 0;
            }
    } else if (kid) {
        return err_set(e, EXIT_DATA, "key_id is neither a string nor a number");
    }
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(s->root, "word");
    if (w && !cJSON_IsString(w))
        return err_set(e, EXIT_DATA, "%s: word is not a string", sketch_label(s));
    s->word = w ? w->valuestring : NULL;

    const cJSON *dr = cJSON_GetObjectItemCaseSensitive(s->root, "drawing");
    if (!dr) dr = cJSON_GetObjectItemCaseSensitive(s->root, "strokes"); /* doodleBot accepts this alias */
    if (!dr) return err_set(e, EXIT_DATA, "%s: missing \"drawing\"", sketch_label(s));
    err_t de = {0};
    if (drawing_from_json(&s->drawing, dr, &de))
        return err_set(e, EXIT_DATA, "%s: %s", sketch_label(s), de.msg);
    if (s->drawing.nstrokes == 0) return err_set(e, EXIT_DATA, "%s: empty drawing", sketch_label(s));
    return 0;
}

const cJSON *sketch_get(const sketch_t *s, const char *key) {
    for (int i = 0; i < s->nx; i++)
        if (!strcmp(s->xkey[i], key)) return NULL; /* appended: not parsed */
    return s->root ? cJSON_GetObjectItemCaseSensitive(s->root, key) : NULL;
}

int sketch_get_drawing(const sketch_t *s, const char *key, drawing_t *d, err_t *e) {
    const cJSON *v = sketch_get(s, key);
    if (!v) return err_set(e, EXIT_DATA, "%s: missing \"%s\"", sketch_label(s), key);
    err_t de = {0};
    if (drawing_from_json(d, v, &de)) return err_set(e, EXIT_DATA, "%s: %s: %s", sketch_label(s), key, de.msg);
    if (d->nstrokes == 0) return err_set(e, EXIT_DATA, "%s: %s: empty drawing", sketch_label(s), key);
    return 0;
}

void sketch_set_raw(sketch_t *s, const char *key, const char *json) {
    int k = 0;
    for (const cJSON *c = s->root ? s->root->child : NULL; c; c = c->next, k++)
        if (c->string && !strcmp(c->string, key)) {
            free(s->f[k].repl);
            s->f[k].repl = xstrdup(json);
            s->f[k].removed = 0;
            return;
        }
    for (int i = 0; i < s->nx; i++)
        if (!strcmp(s->xkey[i], key)) {
            free(s->xval[i]);
            s->xval[i] = xstrdup(json);
            return;
        }
    if (s->nx == s->xcap) {
        s->xcap = s->xcap ? 2 * s->xcap : 4;
        s->xkey = xrealloc(s->xkey, (size_t)s->xcap * sizeof *s->xkey);
        s->xval = xrealloc(s->xval, (size_t)s->xcap * sizeof *s->xval);
    }
    s->xkey[s->nx] = xstrdup(key);
    s->xval[s->nx] = xstrdup(json);
    s->nx++;
}

void sketch_set_str(sketch_t *s, const char *key, const char *val) {
    buf_t b = {0};
    buf_jstr(&b, val);
    sketch_set_raw(s, key, b.s);
    buf_free(&b);
}

void sketch_set_num(sketch_t *s, const char *key, double v) {
    buf_t b = {0};
    buf_num(&b, v, 6);
    sketch_set_raw(s, key, b.s);
    buf_free(&b);
}

void sketch_set_drawing(sketch_t *s, const char *key, const drawing_t *d, int dec, int with_t) {
    buf_t b = {0};
    drawing_to_json(&b, d, dec, with_t);
    sketch_set_raw(s, key, b.s);
    buf_free(&b);
}

void sketch_remove(sketch_t *s, const char *key) {
    int k = 0;
    for (const cJSON *c = s->root ? s->root->child : NULL; c; c = c->next, k++)
        if (c->string && !strcmp(c->string, key)) s->f[k].removed = 1;
    for (int i = 0; i < s->nx; i++)
        if (!strcmp(s->xkey[i], key)) {
            free(s->xkey[i]);
            free(s->xval[i]);
            s->xkey[i] = s->xkey[s->nx - 1];
            s->xval[i] = s->xval[s->nx - 1];
            s->nx--;
            i--;
        }
}

int sketch_canvas(const sketch_t *s, double *w, double *h) {
    const cJSON *c = sketch_get(s, "canvas");
    if (!cJSON_IsObject(c)) return 0;
    const cJSON *cw = cJSON_GetObjectItemCaseSensitive(c, "width");
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(c, "height");
    if (!cJSON_IsNumber(cw) || !cJSON_IsNumber(ch) || !(cw->valuedouble > 0) || !(ch->valuedouble > 0))
        return 0;
    *w = cw->valuedouble;
    *h = ch->valuedouble;
    return 1;
}

void sketch_write(const sketch_t *s, buf_t *out) {
    int first = 1, k = 0;
    buf_put(out, "{", 1);
    for (const cJSON *c = s->root ? s->root->child : NULL; c; c = c->next, k++) {
        if (s->f[k].removed) continue;
        if (!first) buf_put(out, ",", 1);
        first = 0;
        buf_jstr(out, c->string);
        buf_put(out, ":", 1);
        if (s->f[k].repl) buf_puts(out, s->f[k].repl);
        else buf_put(out, s->text + s->f[k].voff, s->f[k].vlen);
    }
    for (int i = 0; i < s->nx; i++) {
        if (!first) buf_put(out, ",", 1);
        first = 0;
        buf_jstr(out, s->xkey[i]);
        buf_put(out, ":", 1);
        buf_puts(out, s->xval[i]);
    }
    buf_put(out, "}\n", 2);
}
