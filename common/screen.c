/* screen.c - see screen.h. */
#define _GNU_SOURCE /* memmem */
#include "screen.h"
#include <string.h>

static int blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int screen_object_shaped(const char *line, size_t len) {
    size_t a = 0, b = len;
    while (a < b && blank(line[a])) a++;
    while (b > a && blank(line[b - 1])) b--;
    return b - a >= 2 && line[a] == '{' && line[b - 1] == '}';
}

/* The next member named pat (with its quotes) at or after *p: returns the
 * start of its value (blanks skipped) or NULL when there is none; *p moves
 * past the name.  A "pat" not followed by a colon (a string value) is passed
 * over. */
static const char *next_member(const char **p, const char *end, const char *pat, size_t plen) {
    const char *q;
    while ((q = memmem(*p, (size_t)(end - *p), pat, plen))) {
        q += plen;
        *p = q;
        while (q < end && blank(*q)) q++;
        if (q == end || *q != ':') continue;
        for (q++; q < end && blank(*q);) q++;
        return q;
    }
    return NULL;
}

int screen_word(const char *line, size_t len, screen_want_fn want, void *ctx) {
    static const char pat[] = "\"word\"";
    const char *p = line, *end = line + len, *v;
    while ((v = next_member(&p, end, pat, sizeof pat - 1))) {
        if (v == end || *v != '"') return 1;
        const char *q = ++v;
        while (q < end && *q != '"') q++;
        if (q == end) return 1;
        if (want(ctx, v, (size_t)(q - v))) return 1;
    }
    return 0;
}

int screen_key(const char *line, size_t len, const strset_t *keys) {
    static const char pat[] = "\"key_id\"";
    const char *p = line, *end = line + len, *v;
    char tmp[128];
    while ((v = next_member(&p, end, pat, sizeof pat - 1))) {
        const char *q = v;
        int str = q < end && *q == '"';
        if (str) q++;
        const char *s = q;
        while (q < end && (str ? *q != '"' : (*q >= '0' && *q <= '9'))) q++;
        size_t n = (size_t)(q - s);
        if (str && q == end) return 1;
        /* a number must end where a JSON value ends */
        if (!str && (n == 0 || (q < end && !blank(*q) && *q != ',' && *q != '}'))) return 1;
        if (n >= sizeof tmp) return 1;
        memcpy(tmp, s, n);
        tmp[n] = 0;
        if (strset_has(keys, tmp)) return 1;
    }
    return 0;
}
