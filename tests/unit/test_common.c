/* test_common.c - unit tests for common/: rng, buffers and number format,
 * UTF-8 validation, input (plain, gzip, long lines, truncated gzip) and the
 * sketch record (parse, pass-through of unknown fields, errors). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "input.h"
#include "qdbin.h"
#include "rng.h"
#include "sketch.h"
#include "t.h"
#include "util.h"

static void test_rng(void) {
    rng_t r;
    rng_seed(&r, 42);
    /* golden values from an independent Python implementation of
     * splitmix64-seeded xoshiro256** (tests/unit/README: rng) */
    CHECK(rng_u64(&r) == 0x15780b2e0c2ec716ull, "xoshiro256** seed 42 #1");
    CHECK(rng_u64(&r) == 0x6104d9866d113a7eull, "xoshiro256** seed 42 #2");
    CHECK(rng_u64(&r) == 0xae17533239e499a1ull, "xoshiro256** seed 42 #3");
    rng_t a, b;
    rng_seed2(&a, 1, 7);
    rng_seed2(&b, 1, 8);
    CHECK(rng_u64(&a) != rng_u64(&b), "rng_seed2 streams differ");
    double s = 0, s2 = 0;
    int n = 200000, inrange = 1;
    rng_seed(&r, 1);
    for (int i = 0; i < n; i++) {
        double u = rng_uniform(&r);
        if (u < 0 || u >= 1) inrange = 0;
        double z = rng_normal(&r);
        s += z;
        s2 += z * z;
    }
    CHECK(inrange, "uniform in [0,1)");
    CHECK(fabs(s / n) < 0.01, "normal mean ~0 (%g)", s / n);
    CHECK(fabs(s2 / n - 1) < 0.02, "normal variance ~1 (%g)", s2 / n);
    int hist[5] = {0};
    for (int i = 0; i < 50000; i++) hist[rng_below(&r, 5)]++;
    int flat = 1;
    for (int i = 0; i < 5; i++) if (abs(hist[i] - 10000) > 400) flat = 0;
    CHECK(flat, "rng_below(5) is flat");
}

static void test_buf(void) {
    buf_t b = {0};
    buf_num(&b, 12, 3); buf_puts(&b, " ");
    buf_num(&b, 1.5, 3); buf_puts(&b, " ");
    buf_num(&b, 2.0004, 3); buf_puts(&b, " ");
    buf_num(&b, -0.0001, 3); buf_puts(&b, " ");
    buf_num(&b, 1.23456, 2); buf_puts(&b, " ");
    buf_num(&b, NAN, 2); buf_puts(&b, " ");
    buf_num(&b, 5.5e61, 3);
    CHECK(!strcmp(b.s, "12 1.5 2 0 1.23 null 5.5000000000000004e+61"), "buf_num formats: '%s'", b.s);
    b.len = 0;
    buf_jstr(&b, "a\"b\\c\n\x01");
    CHECK(!strcmp(b.s, "\"a\\\"b\\\\c\\n\\u0001\""), "buf_jstr escapes: %s", b.s);
    buf_free(&b);
}

/* buf_num's printf-free fast paths against the general printf path (the
 * reference: "%.*f", trailing zeros trimmed, "-0" -> "0"; integers "%.0f"). */
static void test_buf_num_fast(void) {
    rng_t r;
    rng_seed(&r, 21);
    buf_t b = {0};
    char want[64];
    long bad = 0, n = 0;
    for (int i = 0; i < 300000; i++) {
        int dec = (int)rng_below(&r, 7);
        double scale = pow(10, (double)rng_below(&r, 12)) * (rng_uniform(&r) < 0.5 ? -1 : 1);
        double x = rng_uniform(&r) * scale;
        if (i % 7 == 0) x = floor(x);                                     /* integers */
        if (i % 11 == 0) x = (floor(x * 1000) + 0.5) / 1000;              /* near ties at dec 3 */
        if (x == floor(x) && fabs(x) < 1e15) snprintf(want, sizeof want, "%.0f", x == 0 ? 0.0 : x);
        else {
            snprintf(want, sizeof want, "%.*f", dec, x);
            char *dot = strchr(want, '.');
            if (dot) {
                char *end = want + strlen(want) - 1;
                while (end > dot && *end == '0') *end-- = 0;
                if (end == dot) *end = 0;
            }
            if (!strcmp(want, "-0")) strcpy(want, "0");
        }
        b.len = 0;
        buf_num(&b, x, dec);
        if (strcmp(b.s, want)) {
            if (bad++ < 3) printf("#   %.17g dec %d: got %s want %s\n", x, dec, b.s, want);
        }
        n++;
    }
    CHECK(bad == 0, "buf_num == printf reference on %ld random values (%ld differ)", n, bad);
    buf_free(&b);
}

static void test_utf8(void) {
    size_t bad = 0;
    CHECK(utf8_valid("héllo €𝄞", strlen("héllo €𝄞"), &bad), "valid UTF-8 accepted");
    CHECK(!utf8_valid("ab\xC3", 3, &bad) && bad == 2, "truncated sequence rejected at 2");
    CHECK(!utf8_valid("\xC0\xAF", 2, &bad), "overlong rejected");
    CHECK(!utf8_valid("\xED\xA0\x80", 3, &bad), "surrogate rejected");
    CHECK(!utf8_valid("\xF4\x90\x80\x80", 4, &bad), "> U+10FFFF rejected");
    CHECK(!utf8_valid("x\xFFy", 3, &bad) && bad == 1, "0xFF rejected at 1");
}

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

static void test_input(void) {
    char dir[] = "/tmp/invclip-test-XXXXXX";
    if (!mkdtemp(dir)) { CHECK(0, "mkdtemp"); return; }
    char plain[256], gz[256], trunc[256];
    snprintf(plain, sizeof plain, "%s/a.txt", dir);
    snprintf(gz, sizeof gz, "%s/a.txt.gz", dir);
    snprintf(trunc, sizeof trunc, "%s/t.gz", dir);
    /* a 10 MB line between two short ones, CRLF on the first */
    size_t big = 10u << 20;
    char *data = malloc(big + 64);
    size_t n = 0;
    n += (size_t)sprintf(data + n, "first\r\n");
    memset(data + n, 'x', big);
    n += big;
    n += (size_t)sprintf(data + n, "\nlast");
    write_file(plain, data, n);
    gzFile g = gzopen(gz, "wb");
    gzwrite(g, data, (unsigned)n);
    gzclose(g);
    for (int k = 0; k < 2; k++) {
        err_t e = {0};
        input_t *in = in_open(k ? gz : plain, &e);
        CHECK(in != NULL, "open %s", k ? "gz" : "plain");
        if (!in) continue;
        char *line;
        size_t len;
        int r1 = in_getline(in, &line, &len, &e);
        CHECK(r1 == 1 && !strcmp(line, "first"), "line 1 with CR stripped (%s)", k ? "gz" : "plain");
        int r2 = in_getline(in, &line, &len, &e);
        CHECK(r2 == 1 && len == big && line[0] == 'x' && line[big - 1] == 'x', "10 MB line (%s)", k ? "gz" : "plain");
        int r3 = in_getline(in, &line, &len, &e);
        CHECK(r3 == 1 && !strcmp(line, "last") && in_lineno(in) == 3, "last line without newline (%s)", k ? "gz" : "plain");
        CHECK(in_getline(in, &line, &len, &e) == 0, "EOF (%s)", k ? "gz" : "plain");
        CHECK(in_is_gzip(in) == k, "gzip detected (%s)", k ? "gz" : "plain");
        in_close(in);
    }
    /* truncated gzip: first half of the compressed file */
    FILE *f = fopen(gz, "rb");
    char *z = malloc(1 << 20);
    size_t zn = fread(z, 1, 1 << 20, f);
    fclose(f);
    write_file(trunc, z, zn / 2);
    err_t e = {0};
    input_t *in = in_open(trunc, &e);
    char *line;
    size_t len;
    int r;
    while ((r = in_getline(in, &line, &len, &e)) == 1) {}
    CHECK(r == -1 && e.code == EXIT_DATA && strstr(e.msg, "truncated"), "truncated gzip is an error: %s", e.msg);
    in_close(in);
    e.code = 0;
    CHECK(in_open("/nonexistent/file", &e) == NULL && e.code == EXIT_IO && strstr(e.msg, "/nonexistent/file"),
          "missing file names itself: %s", e.msg);
    unlink(plain); unlink(gz); unlink(trunc); rmdir(dir);
    free(data); free(z);
}

static int parse(sketch_t *s, const char *line, err_t *e) {
    e->code = 0;
    e->msg[0] = 0;
    return sketch_parse(s, line, strlen(line), e);
}

static void test_sketch(void) {
    sketch_t s;
    sketch_init(&s);
    err_t e = {0};
    const char *rec = "{\"word\":\"fish\", \"big\": 123456789012345678901234567890,\"key_id\":\"42\","
                      "\"drawing\":[[[0,10.5],[1,2]],[[3],[4],[100]]],\"x\":{\"a\":[1,\"}\"]}}";
    CHECK(parse(&s, rec, &e) == 0, "parse a record: %s", e.msg);
    CHECK(!strcmp(s.key_id, "42") && s.word && !strcmp(s.word, "fish"), "key_id and word");
    CHECK(s.drawing.nstrokes == 2 && s.drawing.s[0].n == 2 && s.drawing.s[0].x[1] == 10.5 &&
          s.drawing.s[1].t && s.drawing.s[1].t[0] == 100 && !s.drawing.s[0].t, "strokes parsed");
    buf_t b = {0};
    sketch_write(&s, &b);
    CHECK(strstr(b.s, "\"big\":123456789012345678901234567890") != NULL, "huge number passes through unchanged");
    CHECK(strstr(b.s, "\"x\":{\"a\":[1,\"}\"]}") != NULL, "unknown nested field passes through");
    drawing_t d;
    drawing_init(&d);
    drawing_add(&d, 1, (double[]){1.25}, (double[]){2}, NULL);
    sketch_set_drawing(&s, "drawing", &d, 3, 1);
    sketch_set_str(&s, "new", "v");
    sketch_remove(&s, "big");
    b.len = 0;
    sketch_write(&s, &b);
    CHECK(!strcmp(b.s, "{\"word\":\"fish\",\"key_id\":\"42\",\"drawing\":[[[1.25],[2]]],\"x\":{\"a\":[1,\"}\"]},\"new\":\"v\"}\n"),
          "rewrite keeps order, replaces, removes, appends: %s", b.s);
    double lo[2], hi[2];
    CHECK(drawing_bbox(&s.drawing, &lo[0], &lo[1], &hi[0], &hi[1]) && lo[0] == 0 && hi[0] == 10.5 && hi[1] == 4, "bbox");
    drawing_free(&d);

    struct { const char *line, *want; } bad[] = {
        {"{\"key_id\":\"1\",\"drawing\":[[[0,1],[0,1]]]", "truncated"},
        {"[1,2]", "not a JSON object"},
        {"{\"key_id\":\"7\"}", "key_id 7: missing \"drawing\""},
        {"{\"key_id\":\"7\",\"drawing\":[]}", "key_id 7: empty drawing"},
        {"{\"key_id\":\"7\",\"drawing\":\"no\"}", "not an array"},
        {"{\"key_id\":\"7\",\"drawing\":[[[0,1],[0]]]}", "stroke 0: x has 2 values but y has 1"},
        {"{\"key_id\":\"7\",\"drawing\":[[[0,\"a\"],[0,1]]]}", "stroke 0: x[1] is not a number"},
        {"{\"key_id\":\"7\",\"drawing\":[[[0,1e999],[0,1]]]}", "not finite"},
        {"{\"key_id\":\"7\",\"drawing\":[[[0,1]]]}", "coordinate arrays"},
        {"{\"key_id\":\"7\",\"drawing\":[[[],[]]]}", "no points"},
        {"{\"key_id\":true,\"drawing\":[[[0],[0]]]}", "key_id is neither"},
        {"{\"word\":\"a\xff\",\"drawing\":[[[0],[0]]]}", "invalid UTF-8 at byte 11"},
        {"{\"a\":1} x", "trailing data"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(&s, bad[i].line, &e);
        CHECK(rc == EXIT_DATA && strstr(e.msg, bad[i].want), "bad record %zu -> '%s' (got '%s')", i, bad[i].want, e.msg);
    }
    CHECK(parse(&s, "{\"key_id\":12345678901234567890,\"drawing\":[[[0],[0]]]}", &e) == 0 &&
          !strcmp(s.key_id, "12345678901234567890"), "numeric key_id keeps its digits");
    buf_free(&b);
    sketch_free(&s);
}

/* The number parser's exact slow path against libc's strtod (the reference)
 * on a million random 17-19 digit decimals, plus hand-picked ties. */
static void test_div_pow10(void) {
    rng_t r;
    rng_seed(&r, 3);
    long bad = 0, n = 0;
    char txt[64];
    for (int i = 0; i < 1000000; i++) {
        uint64_t m = rng_u64(&r) >> (rng_u64(&r) % 11); /* 53..64 bits */
        int k = (int)rng_below(&r, 28);
        double got;
        if (div_pow10_exact(m, k, &got)) continue;
        snprintf(txt, sizeof txt, "%llue-%d", (unsigned long long)m, k);
        if (got != strtod(txt, NULL)) bad++;
        n++;
    }
    CHECK(bad == 0 && n > 900000, "div_pow10_exact == strtod on %ld random cases (%ld differ)", n, bad);
    /* 9007199254740993 = 2^53 + 1: an exact tie between two doubles (ties to even) */
    double v;
    CHECK(div_pow10_exact(9007199254740993ull, 0, &v) == 0 && v == 9007199254740992.0, "tie rounds to even");
    CHECK(div_pow10_exact(9007199254740995ull, 0, &v) == 0 && v == 9007199254740996.0, "tie rounds to even (up)");
    CHECK(div_pow10_exact(78502998352050781ull, 14, &v) == 0 && v == strtod("785.02998352050781", NULL), "17-digit decimal");
    sketch_t s;
    sketch_init(&s);
    err_t e = {0};
    const char *line = "{\"drawing\":[[[0.1,-2.5e3,123456789012345678901234,1E-400,78.50299835205078,0.30000000000000004],[1,2,3,4,5,6]]]}";
    CHECK(sketch_parse(&s, line, strlen(line), &e) == 0, "numbers of every form parse: %s", e.msg);
    const double want[] = {0.1, -2.5e3, 123456789012345678901234.0, 0.0, 78.50299835205078, 0.30000000000000004};
    int same = 1;
    for (int i = 0; i < 6 && s.drawing.nstrokes; i++) same &= s.drawing.s[0].x[i] == want[i];
    CHECK(same, "numbers parse to the correctly rounded doubles");
    sketch_free(&s);
}

/* A .bin record's countrycode is two raw bytes: non-ASCII ones must still
 * give valid JSON (fuzzer finding). */
static void test_qdbin_country(void) {
    qdbin_meta_t m = {.key_id = 5, .countrycode = {(char)0xff, 'Q', 0}, .recognized = 1, .timestamp = 0};
    drawing_t d;
    drawing_init(&d);
    drawing_add(&d, 2, (double[]){1, 2}, (double[]){3, 4}, NULL);
    buf_t b = {0};
    qdbin_to_json(&b, "fish", &m, &d);
    sketch_t s;
    sketch_init(&s);
    err_t e = {0};
    CHECK(sketch_parse(&s, b.s, b.len, &e) == 0 && strstr(b.s, "\"countrycode\":\"\\u00ffQ\""),
          "non-ASCII countrycode escaped: %s (%s)", b.s, e.msg);
    sketch_free(&s);
    drawing_free(&d);
    buf_free(&b);
}

int main(void) {
    test_qdbin_country();
    test_div_pow10();
    test_rng();
    test_buf();
    test_buf_num_fast();
    test_utf8();
    test_input();
    test_sketch();
    T_DONE();
}
