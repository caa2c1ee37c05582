/* sketch.c - see sketch.h. */
#include "sketch.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void drawing_init(drawing_t *d) { memset(d, 0, sizeof *d); }

void drawing_clear(drawing_t *d) { d->nstrokes = 0; }

void drawing_free(drawing_t *d) {
    for (int i = 0; i < d->nalloc; i++) free(d->s[i].x);
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

/* Each slot owns one block of 3*cap doubles (x | y | t), reused by later
 * strokes in the slot, so parsing a stream allocates only while it grows. */
stroke_t *drawing_add_empty(drawing_t *d, int n, int with_t) {
    if (d->nstrokes == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 8;
        d->s = xrealloc(d->s, (size_t)d->cap * sizeof *d->s);
    }
    stroke_t *s = &d->s[d->nstrokes];
    if (d->nstrokes >= d->nalloc) {
        s->x = NULL;
        s->cap = 0;
        d->nalloc = d->nstrokes + 1;
    }
    if (s->cap < n || !s->x) {
        free(s->x);
        s->cap = n > 16 ? n : 16;
        s->x = xmalloc(3 * (size_t)s->cap * sizeof(double));
    }
    d->nstrokes++;
    s->n = n;
    s->y = s->x + s->cap;
    s->t = with_t ? s->y + s->cap : NULL;
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

void drawing_rotate(drawing_t *dr, double deg) {
    double x0, y0, x1, y1;
    if (!drawing_bbox(dr, &x0, &y0, &x1, &y1) || deg == 0) return;
    double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, a = deg * M_PI / 180, c = cos(a), s = sin(a);
    for (int k = 0; k < dr->nstrokes; k++)
        for (int i = 0; i < dr->s[k].n; i++) {
            double x = dr->s[k].x[i] - cx, y = dr->s[k].y[i] - cy;
            dr->s[k].x[i] = cx + c * x - s * y;
            dr->s[k].y[i] = cy + s * x + c * y;
        }
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

/* ---- strict JSON scanning ----
 * Validation is one recursive pass over the line (RFC 8259 grammar: only
 * space, tab, LF and CR are white space; no control characters in strings;
 * \u escapes need four hex digits; numbers -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?;
 * nesting limited to SK_MAX_DEPTH).  Extraction then walks the validated
 * text without re-checking. */

#define SK_MAX_DEPTH 256

typedef struct {
    const char *s;
    size_t n, i;
    const char *err;  /* first error */
    size_t at;
} scan_t;

static int sc_fail(scan_t *c, const char *msg) {
    if (!c->err) {
        c->err = msg;
        c->at = c->i;
    }
    return -1;
}
static inline int is_ws(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }
static inline void sc_ws(scan_t *c) {
    while (c->i < c->n && is_ws(c->s[c->i])) c->i++;
}
static inline int is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static inline int is_hex(char ch) {
    return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static int sc_string(scan_t *c) {
    const char *s = c->s;
    size_t i = c->i + 1, n = c->n;
    for (;;) {
        while (i < n && s[i] != '"' && s[i] != '\\' && (unsigned char)s[i] >= 0x20) i++;
        if (i >= n) { c->i = i; return sc_fail(c, "unterminated string"); }
        char ch = s[i];
        if (ch == '"') break;
        if (ch == '\\') {
            if (i + 1 >= n) { c->i = i + 1; return sc_fail(c, "unterminated string"); }
            char e = s[i + 1];
            if (e == 'u') {
                if (i + 5 >= n || !is_hex(s[i + 2]) || !is_hex(s[i + 3]) || !is_hex(s[i + 4]) || !is_hex(s[i + 5])) {
                    c->i = i;
                    return sc_fail(c, "bad \\u escape");
                }
                i += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
                i += 2;
            } else {
                c->i = i;
                return sc_fail(c, "bad escape in string");
            }
            continue;
        }
        c->i = i;
        return sc_fail(c, "control character in string");
    }
    c->i = i + 1;
    return 0;
}

static int sc_number(scan_t *c) {
    const char *s = c->s;
    size_t i = c->i, n = c->n;
    if (i < n && s[i] == '-') i++;
    if (i >= n || !is_digit(s[i])) { c->i = i; return sc_fail(c, "bad number"); }
    if (s[i] == '0') i++;
    else while (i < n && is_digit(s[i])) i++;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit(s[i])) { c->i = i; return sc_fail(c, "bad number"); }
        while (i < n && is_digit(s[i])) i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n || !is_digit(s[i])) { c->i = i; return sc_fail(c, "bad number"); }
        while (i < n && is_digit(s[i])) i++;
    }
    c->i = i;
    return 0;
}

static int sc_value(scan_t *c, int depth) {
    sc_ws(c);
    if (c->i >= c->n) return sc_fail(c, "unexpected end");
    char ch = c->s[c->i];
    if (ch == '"') return sc_string(c);
    if (ch == '-' || is_digit(ch)) return sc_number(c);
    if (ch == '{' || ch == '[') {
        if (depth >= SK_MAX_DEPTH) return sc_fail(c, "nested too deeply");
        char close = ch == '{' ? '}' : ']';
        c->i++;
        sc_ws(c);
        if (c->i < c->n && c->s[c->i] == close) { c->i++; return 0; }
        for (;;) {
            if (ch == '{') {
                sc_ws(c);
                if (c->i >= c->n || c->s[c->i] != '"') return sc_fail(c, c->i >= c->n ? "unexpected end" : "expected a member name");
                if (sc_string(c)) return -1;
                sc_ws(c);
                if (c->i >= c->n || c->s[c->i] != ':') return sc_fail(c, c->i >= c->n ? "unexpected end" : "expected ':'");
                c->i++;
            }
            if (sc_value(c, depth + 1)) return -1;
            sc_ws(c);
            if (c->i >= c->n) return sc_fail(c, "unexpected end");
            if (c->s[c->i] == ',') { c->i++; continue; }
            if (c->s[c->i] == close) { c->i++; return 0; }
            return sc_fail(c, ch == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    static const char *lits[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t l = strlen(lits[k]);
        if (c->n - c->i >= l && !memcmp(c->s + c->i, lits[k], l)) { c->i += l; return 0; }
    }
    return sc_fail(c, "unexpected character");
}

/* -- walking validated text -- */
static size_t skip_string(const char *t, size_t i) { /* t[i] == '"' */
    for (i++; t[i] != '"'; i++)
        if (t[i] == '\\') i++;
    return i + 1;
}

static void put_utf8(buf_t *b, unsigned cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { u[0] = (char)(0xC0 | cp >> 6); u[1] = (char)(0x80 | (cp & 63)); n = 2; }
    else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12); u[1] = (char)(0x80 | ((cp >> 6) & 63)); u[2] = (char)(0x80 | (cp & 63)); n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18); u[1] = (char)(0x80 | ((cp >> 12) & 63));
        u[2] = (char)(0x80 | ((cp >> 6) & 63)); u[3] = (char)(0x80 | (cp & 63)); n = 4;
    }
    buf_put(b, u, n);
}
static unsigned hex4(const char *p) {
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char ch = p[k];
        v = v * 16 + (unsigned)(is_digit(ch) ? ch - '0' : (ch | 32) - 'a' + 10);
    }
    return v;
}
/* Decode the validated string literal at t[i] into a new C string.  A lone
 * surrogate becomes U+FFFD; an escaped NUL is kept out (U+FFFD) so C strings
 * stay whole. */
static char *decode_string(const char *t, size_t i) {
    size_t end = skip_string(t, i);
    if (!memchr(t + i + 1, '\\', end - i - 2)) {
        char *r = xmalloc(end - i - 1);
        memcpy(r, t + i + 1, end - i - 2);
        r[end - i - 2] = 0;
        return r;
    }
    buf_t b = {0};
    for (size_t k = i + 1; k < end - 1; k++) {
        if (t[k] != '\\') { buf_put(&b, t + k, 1); continue; }
        char e = t[++k];
        switch (e) {
        case 'b': buf_put(&b, "\b", 1); break;
        case 'f': buf_put(&b, "\f", 1); break;
        case 'n': buf_put(&b, "\n", 1); break;
        case 'r': buf_put(&b, "\r", 1); break;
        case 't': buf_put(&b, "\t", 1); break;
        case 'u': {
            unsigned cp = hex4(t + k + 1);
            k += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && t[k + 1] == '\\' && t[k + 2] == 'u') {
                unsigned lo = hex4(t + k + 3);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    k += 6;
                }
            }
            if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0) cp = 0xFFFD;
            put_utf8(&b, cp);
            break;
        }
        default: buf_put(&b, &e, 1);
        }
    }
    if (!b.s) buf_reserve(&b, 1);
    return b.s;
}

/* m / 10^k correctly rounded to double, for 0 < m < 2^64 and 0 <= k <= 27,
 * with exact integer arithmetic: q = floor(m 2^s / 5^k) has at least 64
 * significant bits, the remainder is the sticky bit, and q is rounded once
 * to 53 bits (ties to even) before scaling by 2^-(s+k).  Returns -1 when the
 * operands do not fit (the caller then uses strtod). */
int div_pow10_exact(uint64_t m, int k, double *out) {
    if (m == 0) { *out = 0; return 0; }
    if (k < 0 || k > 27) return -1;
    uint64_t d = 1;
    for (int j = 0; j < k; j++) d *= 5; /* 5^27 < 2^63 */
    int mb = 64 - __builtin_clzll(m), db = 64 - __builtin_clzll(d);
    int sh = 65 + db - mb;
    if (sh < 0) sh = 0;
    if (sh + mb > 127) return -1;
    unsigned __int128 num = (unsigned __int128)m << sh;
    unsigned __int128 q = num / d;
    int sticky = (num % d) != 0;
    uint64_t hi = (uint64_t)(q >> 64), lo = (uint64_t)q;
    int qb = hi ? 128 - __builtin_clzll(hi) : 64 - __builtin_clzll(lo);
    int drop = qb - 53;
    if (drop < 2) return -1;
    unsigned __int128 one = 1;
    unsigned __int128 mant = q >> drop, rem = q & ((one << drop) - 1), half = one << (drop - 1);
    if (rem > half || (rem == half && (sticky || (mant & 1)))) mant++;
    *out = ldexp((double)(uint64_t)mant, drop - sh - k);
    return 0;
}

/* Scan a JSON number at p (grammar checked; the text is NUL-terminated) and
 * convert it to the correctly rounded double.  Up to 19 significant digits,
 * no exponent, a mantissa below 2^53 and at most 22 decimals take Clinger's
 * exact fast path (one IEEE division); 54..64-bit mantissas use
 * div_pow10_exact; anything else goes to strtod.  Returns the end, or NULL
 * on a grammar error. */
static inline const char *num_parse(const char *p, double *out) {
    static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *start = p;
    int neg = 0, slow = 0, nd = 0, e10 = 0;
    uint64_t m = 0;
    if (*p == '-') { neg = 1; p++; }
    if (!is_digit(*p)) return NULL;
    if (*p == '0') p++;
    else
        for (; is_digit(*p); p++) {
            if (nd < 19) { m = m * 10 + (uint64_t)(*p - '0'); nd++; }
            else slow = 1;
        }
    if (*p == '.') {
        p++;
        if (!is_digit(*p)) return NULL;
        for (; is_digit(*p); p++) {
            if (nd < 19) { m = m * 10 + (uint64_t)(*p - '0'); if (m) nd++; e10--; }
            else slow = 1;
        }
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!is_digit(*p)) return NULL;
        while (is_digit(*p)) p++;
        slow = 1;
    }
    double v;
    if (!slow && m < (1ull << 53) && e10 >= -22) {
        v = (double)m;
        if (e10 < 0) v /= p10[-e10];
    } else if (slow || div_pow10_exact(m, -e10, &v)) {
        *out = strtod(start, NULL); /* stops at the delimiter after the number */
        return p;
    }
    *out = neg ? -v : v;
    return p;
}

typedef __typeof__(((sketch_t *)0)->scratch) scratch_t;

/* Parse the drawing value at c->i, checking JSON syntax and the drawing's
 * shape in one pass.  0 = ok; -1 = syntax error (c->err); 1 = the JSON may
 * be fine but it is not a drawing (e filled: "stroke 3: x[7] is not a
 * number" and the like). */
static int sc_drawing(scan_t *c, drawing_t *d, scratch_t *sc, err_t *e) {
    const char *s = c->s;
    drawing_clear(d);
    sc_ws(c);
    if (c->i >= c->n) return sc_fail(c, "unexpected end");
    if (s[c->i] != '[') return err_set(e, EXIT_DATA, "drawing is not an array"), 1;
    c->i++;
    sc_ws(c);
    if (c->i < c->n && s[c->i] == ']') { c->i++; return 0; }
    for (int si = 0;; si++) {
        sc_ws(c);
        if (c->i >= c->n) return sc_fail(c, "unexpected end");
        if (s[c->i] != '[') return err_set(e, EXIT_DATA, "stroke %d is not an array", si), 1;
        c->i++;
        int ncomp = 0;
        size_t cn[3] = {0};
        sc_ws(c);
        if (c->i < c->n && s[c->i] == ']') c->i++;
        else
            for (;;) {
                sc_ws(c);
                if (c->i >= c->n) return sc_fail(c, "unexpected end");
                if (ncomp >= 3) {
                    /* count the rest for the message */
                    if (sc_value(c, 3)) return -1;
                    ncomp++;
                } else {
                    if (s[c->i] != '[') {
                        /* too few arrays is reported before "not an array" when the count is off */
                        int k = ncomp;
                        scan_t c2 = *c;
                        int total = ncomp;
                        for (;;) {
                            if (sc_value(&c2, 3)) break;
                            total++;
                            sc_ws(&c2);
                            if (c2.i >= c2.n || s[c2.i] != ',') break;
                            c2.i++;
                        }
                        if (total < 2 || total > 3)
                            return err_set(e, EXIT_DATA, "stroke %d has %d coordinate arrays (want 2 or 3: x, y[, t])",
                                           si, total), 1;
                        return err_set(e, EXIT_DATA, "stroke %d: %c is not an array", si, "xyt"[k]), 1;
                    }
                    c->i++;
                    size_t cnt = 0;
                    /* the hot loop: numbers of one coordinate array, on a
                     * local pointer (the text is NUL-terminated) */
                    const char *p = s + c->i;
                    double *dst = sc->v[ncomp];
                    while (is_ws(*p)) p++;
                    if (*p == ']') p++;
                    else
                        for (;;) {
                            while (is_ws(*p)) p++;
                            if (*p != '-' && !is_digit(*p)) {
                                c->i = (size_t)(p - s);
                                if (!*p) return sc_fail(c, "unexpected end");
                                return err_set(e, EXIT_DATA, "stroke %d: %c[%zu] is not a number", si, "xyt"[ncomp],
                                               cnt), 1;
                            }
                            double x;
                            const char *q = num_parse(p, &x);
                            if (!q) {
                                c->i = (size_t)(p - s);
                                return sc_number(c);
                            }
                            p = q;
                            if (!isfinite(x)) {
                                c->i = (size_t)(p - s);
                                return err_set(e, EXIT_DATA, "stroke %d: %c[%zu] is not finite", si, "xyt"[ncomp],
                                               cnt), 1;
                            }
                            if (cnt == sc->cap) {
                                sc->cap = sc->cap ? 2 * sc->cap : 1024;
                                for (int k = 0; k < 3; k++) sc->v[k] = xrealloc(sc->v[k], sc->cap * sizeof(double));
                                dst = sc->v[ncomp];
                            }
                            dst[cnt++] = x;
                            while (is_ws(*p)) p++;
                            if (*p == ',') { p++; continue; }
                            if (*p == ']') { p++; break; }
                            c->i = (size_t)(p - s);
                            return sc_fail(c, *p ? "expected ',' or ']'" : "unexpected end");
                        }
                    c->i = (size_t)(p - s);
                    cn[ncomp] = cnt;
                    ncomp++;
                }
                sc_ws(c);
                if (c->i >= c->n) return sc_fail(c, "unexpected end");
                if (s[c->i] == ',') { c->i++; continue; }
                if (s[c->i] == ']') { c->i++; break; }
                return sc_fail(c, "expected ',' or ']'");
            }
        if (ncomp < 2 || ncomp > 3)
            return err_set(e, EXIT_DATA, "stroke %d has %d coordinate arrays (want 2 or 3: x, y[, t])", si, ncomp), 1;
        for (int k = 1; k < ncomp; k++)
            if (cn[k] != cn[0])
                return err_set(e, EXIT_DATA, "stroke %d: x has %zu values but %c has %zu", si, cn[0], "xyt"[k],
                               cn[k]), 1;
        if (cn[0] == 0) return err_set(e, EXIT_DATA, "stroke %d has no points", si), 1;
        if (cn[0] > 0x7fffffff) return err_set(e, EXIT_DATA, "stroke %d has too many points", si), 1;
        drawing_add(d, (int)cn[0], sc->v[0], sc->v[1], ncomp == 3 ? sc->v[2] : NULL);
        sc_ws(c);
        if (c->i >= c->n) return sc_fail(c, "unexpected end");
        if (s[c->i] == ',') { c->i++; continue; }
        if (s[c->i] == ']') { c->i++; return 0; }
        return sc_fail(c, "expected ',' or ']'");
    }
}

/* Parse a drawing value that is known to be valid JSON (text from the line),
 * with the record's reusable number buffers. */
static int parse_drawing_span(drawing_t *d, const char *t, size_t off, size_t len, scratch_t *sc, err_t *e) {
    scan_t c = {t + off, len, 0, NULL, 0};
    int rc = sc_drawing(&c, d, sc, e);
    if (rc < 0) return err_set(e, EXIT_DATA, "malformed drawing: %s", c.err);
    return rc ? EXIT_DATA : 0;
}

/* ---- records ---- */

void sketch_init(sketch_t *s) {
    memset(s, 0, sizeof *s);
    s->key_id = "";
    drawing_init(&s->drawing);
}

static void sketch_reset(sketch_t *s) {
    for (int i = 0; i < s->nf; i++) {
        free(s->f[i].key);
        free(s->f[i].repl);
        if (s->f[i].cache) cJSON_Delete(s->f[i].cache);
    }
    s->nf = 0;
    for (int i = 0; i < s->nx; i++) { free(s->xkey[i]); free(s->xval[i]); }
    s->nx = 0;
    s->key_id = "";
    s->kid.len = 0;
    free(s->word);
    s->word = NULL;
    drawing_clear(&s->drawing);
}

void sketch_free(sketch_t *s) {
    sketch_reset(s);
    for (int k = 0; k < 3; k++) free(s->scratch.v[k]);
    free(s->text);
    free(s->f);
    free(s->xkey);
    free(s->xval);
    buf_free(&s->kid);
    drawing_free(&s->drawing);
    memset(s, 0, sizeof *s);
    s->key_id = "";
}

const char *sketch_label(const sketch_t *s) {
    static __thread char lab[120];
    size_t n = strlen(s->key_id);
    if (n > 96) snprintf(lab, sizeof lab, "key_id %.40s...%s (%zu bytes)", s->key_id, s->key_id + n - 40, n);
    else if (n) snprintf(lab, sizeof lab, "key_id %s", s->key_id);
    else snprintf(lab, sizeof lab, "record");
    return lab;
}

static int field_index(const sketch_t *s, const char *key) {
    for (int k = 0; k < s->nf; k++)
        if (!strcmp(s->f[k].key, key)) return k;
    return -1;
}

int sketch_parse(sketch_t *s, const char *line, size_t len, err_t *e) {
    sketch_reset(s);
    size_t bad;
    if (memchr(line, 0, len)) return err_set(e, EXIT_DATA, "NUL byte in line");
    if (!utf8_valid(line, len, &bad)) return err_set(e, EXIT_DATA, "invalid UTF-8 at byte %zu", bad + 1);
    if (len + 1 > s->cap) {
        free(s->text);
        s->cap = len + 1 > 2 * s->cap ? len + 1 : 2 * s->cap;
        s->text = xmalloc(s->cap);
    }
    memcpy(s->text, line, len);
    s->text[len] = 0;
    s->len = len;
    const char *t = s->text;
    scan_t c = {t, len, 0, NULL, 0};
    err_t sem = {0}; /* first "valid JSON but not a drawing" error */
    int have_drawing = 0;
    sc_ws(&c);
    if (c.i < len && t[c.i] == '{') {
        /* one pass: validate the object, record member spans, and parse
         * "drawing" straight into s->drawing */
        c.i++;
        sc_ws(&c);
        if (c.i < len && t[c.i] == '}') c.i++;
        else
            for (;;) {
                sc_ws(&c);
                if (c.i >= len) { sc_fail(&c, "unexpected end"); break; }
                if (t[c.i] != '"') { sc_fail(&c, "expected a member name"); break; }
                size_t k0 = c.i;
                if (sc_string(&c)) break;
                if (s->nf == s->fcap) {
                    s->fcap = s->fcap ? 2 * s->fcap : 16;
                    s->f = xrealloc(s->f, (size_t)s->fcap * sizeof *s->f);
                }
                sketch_field_t *f = &s->f[s->nf++];
                memset(f, 0, sizeof *f);
                f->key = decode_string(t, k0);
                sc_ws(&c);
                if (c.i >= len || t[c.i] != ':') { sc_fail(&c, c.i >= len ? "unexpected end" : "expected ':'"); break; }
                c.i++;
                sc_ws(&c);
                f->voff = c.i;
                if (!have_drawing && !strcmp(f->key, "drawing")) {
                    have_drawing = 1;
                    int rc = sc_drawing(&c, &s->drawing, &s->scratch, &sem);
                    if (rc < 0) break;
                    if (rc > 0) { /* not a drawing: still validate the JSON */
                        c.i = f->voff;
                        if (sc_value(&c, 1)) break;
                    }
                } else if (sc_value(&c, 1)) {
                    break;
                }
                f->vlen = c.i - f->voff;
                sc_ws(&c);
                if (c.i >= len) { sc_fail(&c, "unexpected end"); break; }
                if (t[c.i] == ',') { c.i++; continue; }
                if (t[c.i] == '}') { c.i++; break; }
                sc_fail(&c, "expected ',' or '}'");
                break;
            }
    } else {
        sc_value(&c, 0);
        if (!c.err) {
            sc_ws(&c);
            if (c.i < len) return err_set(e, EXIT_DATA, "trailing data after JSON value at byte %zu", c.i + 1);
            return err_set(e, EXIT_DATA, "record is not a JSON object");
        }
    }
    if (c.err) {
        if (c.at >= len) return err_set(e, EXIT_DATA, "malformed JSON: unexpected end of line (truncated record?)");
        return err_set(e, EXIT_DATA, "malformed JSON near byte %zu: %s", c.at + 1, c.err);
    }
    sc_ws(&c);
    if (c.i < len) return err_set(e, EXIT_DATA, "trailing data after JSON value at byte %zu", c.i + 1);

    int k = field_index(s, "key_id");
    if (k >= 0) {
        const char *v = t + s->f[k].voff;
        if (*v == '"') {
            char *id = decode_string(t, s->f[k].voff);
            buf_puts(&s->kid, id);
            free(id);
        } else if (*v == '-' || is_digit(*v)) {
            buf_put(&s->kid, v, s->f[k].vlen);
        } else {
            return err_set(e, EXIT_DATA, "key_id is neither a string nor a number");
        }
        s->key_id = s->kid.s ? s->kid.s : ""; /* buf_put keeps it NUL-terminated */
    }
    k = field_index(s, "word");
    if (k >= 0) {
        if (t[s->f[k].voff] != '"') return err_set(e, EXIT_DATA, "%s: word is not a string", sketch_label(s));
        s->word = decode_string(t, s->f[k].voff);
    }
    if (!have_drawing) {
        k = field_index(s, "strokes"); /* doodleBot accepts this alias */
        if (k < 0) return err_set(e, EXIT_DATA, "%s: missing \"drawing\"", sketch_label(s));
        if (parse_drawing_span(&s->drawing, t, s->f[k].voff, s->f[k].vlen, &s->scratch, &sem) == 0) sem.code = 0;
    }
    if (sem.code) return err_set(e, EXIT_DATA, "%s: %s", sketch_label(s), sem.msg);
    if (s->drawing.nstrokes == 0) return err_set(e, EXIT_DATA, "%s: empty drawing", sketch_label(s));
    return 0;
}

const cJSON *sketch_get(const sketch_t *s, const char *key) {
    int k = field_index(s, key);
    if (k < 0 || s->f[k].removed) return NULL;
    sketch_field_t *f = (sketch_field_t *)&s->f[k]; /* the cache is logically const */
    if (!f->cache) f->cache = cJSON_ParseWithLength(s->text + f->voff, f->vlen);
    return f->cache;
}

int sketch_has(const sketch_t *s, const char *key) {
    int k = field_index(s, key);
    if (k >= 0) return !s->f[k].removed;
    for (int i = 0; i < s->nx; i++)
        if (!strcmp(s->xkey[i], key)) return 1;
    return 0;
}

int sketch_raw(const sketch_t *s, const char *key, const char **p, size_t *n) {
    int k = field_index(s, key);
    if (k < 0) return 0;
    *p = s->text + s->f[k].voff;
    *n = s->f[k].vlen;
    return 1;
}

int sketch_get_drawing(const sketch_t *s, const char *key, drawing_t *d, err_t *e) {
    int k = field_index(s, key);
    if (k < 0 || s->f[k].removed) return err_set(e, EXIT_DATA, "%s: missing \"%s\"", sketch_label(s), key);
    err_t de = {0};
    /* the scratch buffers are logically const: only reused memory */
    if (parse_drawing_span(d, s->text, s->f[k].voff, s->f[k].vlen, (scratch_t *)&s->scratch, &de))
        return err_set(e, EXIT_DATA, "%s: %s: %s", sketch_label(s), key, de.msg);
    if (d->nstrokes == 0) return err_set(e, EXIT_DATA, "%s: %s: empty drawing", sketch_label(s), key);
    return 0;
}

void sketch_set_raw(sketch_t *s, const char *key, const char *json) {
    int k = field_index(s, key);
    if (k >= 0) {
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
    for (int k = 0; k < s->nf; k++)
        if (!strcmp(s->f[k].key, key)) s->f[k].removed = 1;
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
    int first = 1;
    buf_put(out, "{", 1);
    for (int k = 0; k < s->nf; k++) {
        if (s->f[k].removed) continue;
        if (!first) buf_put(out, ",", 1);
        first = 0;
        buf_jstr(out, s->f[k].key);
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
