/* qdbin.c - see qdbin.h. */
#include "qdbin.h"
#include <string.h>
#include <time.h>

static uint64_t le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Read exactly n bytes: 0 = ok, -1 = clean end of input before the first
 * byte (only when eof_ok), else an EXIT_* code with e filled. */
static int need(input_t *in, void *dst, size_t n, long long index, const char *what, int eof_ok, err_t *e) {
    long got = in_read(in, dst, n, e);
    if (got < 0) return e->code ? e->code : EXIT_IO;
    if ((size_t)got == n) return 0;
    if (got == 0 && eof_ok) return -1;
    return err_set(e, EXIT_DATA, "%s: record %lld: truncated .bin record (input ends in %s: %ld of %zu bytes)",
                   in_name(in), index, what, got, n);
}

int qdbin_read(input_t *in, long long index, drawing_t *d, qdbin_meta_t *m, err_t *e) {
    unsigned char h[17]; /* key_id 8, countrycode 2, recognized 1, timestamp 4, n_strokes 2 */
    drawing_clear(d);
    int r = need(in, h, sizeof h, index, "the header", 1, e);
    if (r) return r;
    m->key_id = le(h, 8);
    m->countrycode[0] = (char)h[8];
    m->countrycode[1] = (char)h[9];
    m->countrycode[2] = 0;
    m->recognized = h[10] != 0;
    m->timestamp = (uint32_t)le(h + 11, 4);
    int ns = (int)le(h + 15, 2);
    for (int i = 0; i < ns; i++) {
        unsigned char c[2];
        r = need(in, c, 2, index, "a stroke header", 0, e);
        if (r) return r;
        int np = (int)le(c, 2);
        stroke_t *s = drawing_add_empty(d, np, 0);
        for (int k = 0; k < 2; k++) { /* x bytes, then y bytes, in chunks */
            double *dst = k ? s->y : s->x;
            for (int j = 0; j < np;) {
                unsigned char chunk[1024];
                int take = np - j < (int)sizeof chunk ? np - j : (int)sizeof chunk;
                r = need(in, chunk, (size_t)take, index, "stroke points", 0, e);
                if (r) return r;
                for (int q = 0; q < take; q++) dst[j + q] = chunk[q];
                j += take;
            }
        }
    }
    return 0;
}

void qdbin_time_str(uint32_t ts, char *out) {
    time_t t = (time_t)ts;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

void qdbin_to_json(buf_t *b, const char *word, const qdbin_meta_t *m, const drawing_t *d) {
    char ts[32];
    qdbin_time_str(m->timestamp, ts);
    buf_puts(b, "{\"word\":");
    buf_jstr(b, word);
    /* the format says two ASCII bytes; any other byte is written as the
     * Latin-1 character of that value, so the JSON stays valid UTF-8 */
    buf_puts(b, ",\"countrycode\":\"");
    for (int i = 0; i < 2 && m->countrycode[i]; i++) {
        unsigned char ch = (unsigned char)m->countrycode[i];
        if (ch >= 0x20 && ch < 0x7F && ch != '"' && ch != '\\') buf_put(b, &m->countrycode[i], 1);
        else buf_printf(b, "\\u%04x", ch);
    }
    buf_puts(b, "\"");
    buf_printf(b, ",\"timestamp\":\"%s\",\"recognized\":%s,\"key_id\":\"%llu\",\"drawing\":", ts,
               m->recognized ? "true" : "false", (unsigned long long)m->key_id);
    drawing_to_json(b, d, 0, 0);
    buf_puts(b, "}");
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

int qdbin_is_bin_name(const char *path) { return ends_with(path, ".bin") || ends_with(path, ".bin.gz"); }

void qdbin_word_from_path(const char *path, char *out, size_t n) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (ends_with(base, ".bin.gz")) len -= 7;
    else if (ends_with(base, ".bin")) len -= 4;
    if (len >= n) len = n - 1;
    memcpy(out, base, len);
    out[len] = 0;
}
