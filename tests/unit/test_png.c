/* test_png.c - unit tests for common/png_io: reference fixtures written by an
 * independent encoder (tests/gen_png_fixtures.py: 16-bit, palette, tRNS,
 * 1-bit, grey+alpha, Adam7, all filter types, tEXt/zTXt/iTXt), write -> read
 * round trips, PNG streams read one image at a time, and damaged streams
 * (truncated in an image, in a chunk header, in a signature; garbage; bad
 * CRC; absurd dimensions) reported as EXIT_DATA naming the image. */
#define _GNU_SOURCE
#include "png_io.h"
#include "t.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* ------------------------------------------------------------- fixtures */

static void test_fixture(const char *name) {
    char path[256], epath[256];
    snprintf(path, sizeof path, "tests/fixtures/png/%s.png", name);
    snprintf(epath, sizeof epath, "tests/fixtures/png/%s.expect", name);
    FILE *f = fopen(epath, "r");
    int w = 0, h = 0, c = 0;
    if (!f || fscanf(f, "%d %d %d", &w, &h, &c) != 3) {
        CHECK(0, "%s: cannot read %s", name, epath);
        if (f) fclose(f);
        return;
    }
    image_t im = {0};
    err_t e = {0};
    int rc = pngio_load(path, &im, NULL, &e);
    CHECK(rc == 0, "%s: loads (%s)", name, e.msg);
    if (rc) {
        fclose(f);
        return;
    }
    CHECK(im.w == w && im.h == h && im.c == c, "%s: %dx%dx%d (want %dx%dx%d)", name, im.w, im.h, im.c, w, h,
          c);
    int worst = 0, at = -1, n = w * h * c;
    for (int i = 0; i < n && im.w == w && im.h == h && im.c == c; i++) {
        int v;
        if (fscanf(f, "%d", &v) != 1) {
            worst = 999;
            at = i;
            break;
        }
        int d = abs(v - im.px[i]);
        if (d > worst) {
            worst = d;
            at = i;
        }
    }
    CHECK(worst == 0, "%s: pixels match the reference exactly (worst |diff| %d at sample %d)", name, worst,
          at);
    fclose(f);
    image_free(&im);
}

static void test_fixture_text(void) {
    image_t im = {0};
    pngtext_t t = {0};
    err_t e = {0};
    int rc = pngio_load("tests/fixtures/png/rgb_adam7.png", &im, &t, &e);
    CHECK(rc == 0, "rgb_adam7 loads with text (%s)", e.msg);
    const char *v;
    CHECK((v = pngtext_get(&t, "key_id")) && !strcmp(v, "777"), "tEXt key_id");
    CHECK((v = pngtext_get(&t, "word")) && !strcmp(v, "caf\xc3\xa9"), "Latin-1 tEXt converted to UTF-8: %s",
          v ? v : "(none)");
    CHECK((v = pngtext_get(&t, "note")) && !strcmp(v, "compressed text"), "zTXt read");
    CHECK((v = pngtext_get(&t, "title")) && !strcmp(v, "fisch \xc3\xbc"
                                                       "ber \xe2\x98\x83"),
          "iTXt UTF-8 read");
    pngtext_free(&t);
    image_free(&im);
}

/* ----------------------------------------------------------- round trips */

static void fill_pattern(image_t *im, int seed) {
    for (int i = 0; i < im->w * im->h * im->c; i++)
        im->px[i] = (uint8_t)((i * 37 + seed * 11 + (i / 7) * 3) & 0xFF);
}

static int same_pixels(const image_t *a, const image_t *b) {
    return a->w == b->w && a->h == b->h && a->c == b->c && !memcmp(a->px, b->px, (size_t)a->w * a->h * a->c);
}

static void test_roundtrip(void) {
    char dir[] = "/tmp/invclip-png-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/a.png", dir);
    for (int c = 1; c <= 3; c += 2) {
        image_t a, b = {0};
        err_t e = {0};
        image_init(&a, 31, 17, c, 255, &e);
        fill_pattern(&a, c);
        pngtext_t t = {0}, u = {0};
        pngtext_set(&t, "key_id", "4506877280911360");
        pngtext_set(&t, "word", "fish");
        pngtext_set(&t, "word", "The Eiffel Tower");          /* replaces */
        pngtext_set(&t, "note", "na\xc3\xafve \xe2\x98\x83"); /* UTF-8 -> iTXt */
        int rc = pngio_save(path, &a, &t, &e);
        CHECK(rc == 0, "save %s (%s)", c == 1 ? "grey" : "RGB", e.msg);
        rc = pngio_load(path, &b, &u, &e);
        CHECK(rc == 0 && same_pixels(&a, &b), "round trip %s pixels", c == 1 ? "grey" : "RGB");
        CHECK(u.n == 3 && !strcmp(pngtext_get(&u, "key_id"), "4506877280911360") &&
                  !strcmp(pngtext_get(&u, "word"), "The Eiffel Tower") &&
                  !strcmp(pngtext_get(&u, "note"), "na\xc3\xafve \xe2\x98\x83"),
              "round trip %s text chunks (%d)", c == 1 ? "grey" : "RGB", u.n);
        image_free(&a);
        image_free(&b);
        pngtext_free(&t);
        pngtext_free(&u);
    }
    /* RGBA is written as is and composited over white on reading */
    image_t a, b = {0};
    err_t e = {0};
    image_init(&a, 2, 1, 4, 0, &e);
    uint8_t px[8] = {0, 0, 0, 0, 100, 150, 200, 51};
    memcpy(a.px, px, 8);
    int ok = pngio_save(path, &a, NULL, &e) == 0 && pngio_load(path, &b, NULL, &e) == 0;
    CHECK(ok && b.c == 3 && b.px[0] == 255 && b.px[1] == 255 && b.px[2] == 255 && b.px[3] == 224 &&
              b.px[4] == 234 && b.px[5] == 244,
          "RGBA composited over white on reading");
    image_free(&a);
    image_free(&b);
    /* the atomic writer leaves no temp file behind, and a bad key is refused */
    pngtext_t bad = {0};
    pngtext_set(&bad, " lead", "x");
    image_init(&a, 2, 2, 1, 0, &e);
    int rc = pngio_save(path, &a, &bad, &e);
    CHECK(rc == EXIT_DATA && strstr(e.msg, "keyword"), "invalid keyword refused: %s", e.msg);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", dir);
    CHECK(system(cmd) != 0, "no temp file left behind");
    e.code = 0;
    CHECK(pngio_load("/nonexistent/x.png", &b, NULL, &e) == EXIT_IO && strstr(e.msg, "/nonexistent/x.png"),
          "missing file is EXIT_IO naming itself: %s", e.msg);
    image_free(&a);
    pngtext_free(&bad);
    /* float planes */
    image_init(&a, 3, 2, 3, 0, &e);
    fill_pattern(&a, 5);
    float fl[18];
    image_to_float(&a, fl);
    CHECK(fl[1] == a.px[3] / 255.0f && fl[6] == a.px[1] / 255.0f, "image_to_float is planar (c,h,w)");
    image_init(&b, 3, 2, 3, 0, &e);
    image_from_float(&b, fl);
    CHECK(same_pixels(&a, &b), "float round trip exact");
    fl[0] = NAN;
    fl[1] = -3;
    fl[2] = 7;
    image_from_float(&b, fl);
    CHECK(b.px[0] == 0 && b.px[3] == 0 && b.px[6] == 255, "from_float clamps, NaN -> 0");
    image_free(&a);
    image_free(&b);
    unlink(path);
    rmdir(dir);
}

/* --------------------------------------------------------------- streams */

/* A stream of n images (image k: 10+k wide, key_id "id<k>") in memory;
 * off[k] = byte offset where image k starts, off[n] = total. */
static char *make_stream(int n, size_t *len, size_t *off) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    for (int k = 0; k < n; k++) {
        fflush(f);
        off[k] = *len;
        image_t im;
        err_t e = {0};
        image_init(&im, 10 + k, 5 + 2 * k, k == 1 ? 3 : 1, 0, &e);
        fill_pattern(&im, k);
        pngtext_t t = {0};
        char id[16];
        snprintf(id, sizeof id, "id%d", k);
        pngtext_set(&t, "key_id", id);
        pngtext_set(&t, "word", "fish");
        if (pngio_write(f, "<mem>", &im, &t, &e)) CHECK(0, "write stream image %d: %s", k, e.msg);
        pngtext_free(&t);
        image_free(&im);
    }
    fclose(f);
    off[n] = *len;
    return buf;
}

/* Read a memory stream to its end; returns images read, *rc the last result. */
static int read_all(const char *p, size_t n, err_t *e, int *rc) {
    FILE *f = fmemopen((void *)p, n, "rb");
    pngstream_t *s = pngs_open_fp(f, "mem");
    image_t im = {0};
    pngtext_t t = {0};
    int got = 0;
    e->code = 0;
    e->msg[0] = 0;
    while ((*rc = pngs_next(s, &im, &t, e)) == 1) got++;
    image_free(&im);
    pngtext_free(&t);
    pngs_close(s);
    fclose(f);
    return got;
}

/* Offset of the first chunk of type `type` at or after `from`. */
static size_t find_chunk(const char *p, size_t from, size_t end, const char *type) {
    for (size_t i = from; i + 8 <= end; i++)
        if (!memcmp(p + i + 4, type, 4)) return i;
    return end;
}

static void test_stream(void) {
    size_t len, off[4];
    char *p = make_stream(3, &len, off);
    FILE *f = fmemopen(p, len, "rb");
    pngstream_t *s = pngs_open_fp(f, "mem");
    image_t im = {0};
    pngtext_t t = {0};
    err_t e = {0};
    int ok = 1;
    for (int k = 0; k < 3; k++) {
        int r = pngs_next(s, &im, &t, &e);
        char id[16];
        snprintf(id, sizeof id, "id%d", k);
        image_t want;
        image_init(&want, 10 + k, 5 + 2 * k, k == 1 ? 3 : 1, 0, &e);
        fill_pattern(&want, k);
        int good = r == 1 && same_pixels(&im, &want) && pngtext_get(&t, "key_id") &&
                   !strcmp(pngtext_get(&t, "key_id"), id) && pngs_index(s) == k + 1;
        /* libpng must not have read past IEND: the file position is the next image */
        good = good && (size_t)ftell(f) == off[k + 1];
        if (!good) ok = 0;
        CHECK(good, "stream image %d read alone, position %ld (want %zu)", k + 1, ftell(f), off[k + 1]);
        image_free(&want);
    }
    CHECK(pngs_next(s, &im, &t, &e) == 0, "clean EOF after 3 images");
    CHECK(pngs_next(s, &im, &t, &e) == 0, "EOF again");
    (void)ok;
    pngs_close(s);
    fclose(f);

    /* the same stream gzip-compressed, through a named file */
    char path[] = "/tmp/invclip-pngs-XXXXXX";
    int fd = mkstemp(path);
    gzFile g = gzdopen(fd, "wb");
    gzwrite(g, p, (unsigned)len);
    gzclose(g);
    s = pngs_open(path, &e);
    int n = 0, r;
    while (s && (r = pngs_next(s, &im, &t, &e)) == 1) n++;
    CHECK(s && n == 3 && r == 0, "gzip stream via pngs_open: %d images", n);
    pngs_close(s);
    unlink(path);

    /* truncated inside the 2nd image's data */
    size_t idat = find_chunk(p, off[1] + 8, off[2], "IDAT");
    n = read_all(p, idat + 20, &e, &r);
    CHECK(n == 1 && r == -1 && e.code == EXIT_DATA && strstr(e.msg, "mem: image 2 (key_id id1): truncated"),
          "cut inside image 2 data: %s", e.msg);
    /* truncated inside a chunk header (the 2nd image's IEND: length read, type cut) */
    size_t iend = find_chunk(p, off[1] + 8, off[2], "IEND");
    n = read_all(p, iend + 5, &e, &r);
    CHECK(n == 1 && r == -1 && e.code == EXIT_DATA && strstr(e.msg, "image 2 (key_id id1)") &&
              strstr(e.msg, "truncated"),
          "cut inside a chunk header: %s", e.msg);
    /* cut inside the 2nd image's IHDR, before any text: no key_id to name */
    n = read_all(p, off[1] + 12, &e, &r);
    CHECK(n == 1 && r == -1 && e.code == EXIT_DATA && strstr(e.msg, "image 2: truncated"), "cut in IHDR: %s",
          e.msg);
    /* cut inside the 3rd image's signature */
    n = read_all(p, off[2] + 3, &e, &r);
    CHECK(n == 2 && r == -1 && e.code == EXIT_DATA && strstr(e.msg, "image 3") && strstr(e.msg, "signature"),
          "cut in a signature: %s", e.msg);
    /* every possible cut is an error or (at image boundaries) a clean end, never a crash */
    int bad = 0;
    for (size_t cut = 0; cut < len; cut++) {
        n = read_all(p, cut, &e, &r);
        int boundary = cut == off[0] || cut == off[1] || cut == off[2];
        if (boundary ? r != 0 : (r != -1 || e.code != EXIT_DATA)) bad++;
    }
    CHECK(bad == 0, "all %zu cuts: clean end at boundaries, EXIT_DATA elsewhere (%d wrong)", len, bad);
    /* a flipped byte in the 2nd image's pixel data: CRC error */
    char *q = malloc(len);
    memcpy(q, p, len);
    q[idat + 10] ^= 0x40;
    n = read_all(q, len, &e, &r);
    CHECK(n == 1 && r == -1 && e.code == EXIT_DATA && strstr(e.msg, "image 2 (key_id id1): corrupt PNG"),
          "bad CRC: %s", e.msg);
    /* garbage, and garbage after a good image */
    const char junk[] = "this is not a PNG stream at all\n";
    n = read_all(junk, sizeof junk - 1, &e, &r);
    CHECK(n == 0 && r == -1 && e.code == EXIT_DATA && strstr(e.msg, "mem: image 1: not a PNG"), "garbage: %s",
          e.msg);
    memcpy(q + off[1], junk, 16);
    n = read_all(q, len, &e, &r);
    CHECK(n == 1 && r == -1 && e.code == EXIT_DATA && strstr(e.msg, "image 2: not a PNG"),
          "garbage after image 1: %s", e.msg);
    /* after an error the stream stays dead */
    f = fmemopen(q, len, "rb");
    s = pngs_open_fp(f, "mem");
    pngs_next(s, &im, &t, &e);
    pngs_next(s, &im, &t, &e);
    CHECK(pngs_next(s, &im, &t, &e) == -1, "dead stream keeps failing");
    pngs_close(s);
    fclose(f);
    free(q);
    free(p);
    image_free(&im);
    pngtext_free(&t);
}

/* A PNG with the given IHDR (valid CRCs), an empty IDAT when idat, and IEND. */
static size_t header_png_(uint8_t *b, uint32_t w, uint32_t h, int depth, int ctype, int idat) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t n = 0;
    memcpy(b, sig, 8);
    n = 8;
    uint8_t ihdr[17] = {0,       0,      0, 13,      'I',     'H',    'D', 'R',           w >> 24,
                        w >> 16, w >> 8, w, h >> 24, h >> 16, h >> 8, h,   (uint8_t)depth};
    memcpy(b + n, ihdr, 17);
    b[n + 17] = (uint8_t)ctype;
    b[n + 18] = b[n + 19] = b[n + 20] = 0;
    uLong crc = crc32(0, b + n + 4, 17);
    b[n + 21] = crc >> 24;
    b[n + 22] = crc >> 16;
    b[n + 23] = crc >> 8;
    b[n + 24] = crc;
    n += 25;
    if (idat) {
        static const uint8_t empty[] = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xAF, 0x06, 0x1E};
        memcpy(b + n, empty, sizeof empty);
        n += sizeof empty;
    }
    static const uint8_t tail[] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
    memcpy(b + n, tail, sizeof tail);
    return n + sizeof tail;
}

static size_t header_png(uint8_t *b, uint32_t w, uint32_t h, int depth, int ctype) {
    return header_png_(b, w, h, depth, ctype, 0);
}

static void test_limits(void) {
    uint8_t b[128];
    err_t e;
    int r;
    size_t n = header_png(b, 20000, 10, 8, 0);
    int got = read_all((char *)b, n, &e, &r);
    CHECK(got == 0 && r == -1 && e.code == EXIT_DATA && strstr(e.msg, "exceeds"), "width 20000 refused: %s",
          e.msg);
    n = header_png(b, 10, 100000, 8, 2);
    read_all((char *)b, n, &e, &r);
    CHECK(r == -1 && e.code == EXIT_DATA && strstr(e.msg, "exceeds"), "height 100000 refused: %s", e.msg);
    n = header_png(b, 0xFFFFFFFFu, 0xFFFFFFFFu, 8, 6);
    read_all((char *)b, n, &e, &r);
    CHECK(r == -1 && e.code == EXIT_DATA, "4G x 4G refused: %s", e.msg);
    n = header_png(b, 0, 5, 8, 0);
    read_all((char *)b, n, &e, &r);
    CHECK(r == -1 && e.code == EXIT_DATA, "zero width refused: %s", e.msg);
    n = header_png(b, 4, 4, 8, 0); /* valid header, no IDAT at all */
    read_all((char *)b, n, &e, &r);
    CHECK(r == -1 && e.code == EXIT_DATA, "missing image data refused: %s", e.msg);
    n = header_png_(b, 4, 4, 8, 0, 1); /* an empty IDAT */
    read_all((char *)b, n, &e, &r);
    CHECK(r == -1 && e.code == EXIT_DATA, "empty image data refused: %s", e.msg);
    /* a per-stream pixel limit */
    n = header_png_(b, 2000, 1000, 8, 0, 1);
    FILE *f = fmemopen(b, n, "rb");
    pngstream_t *s = pngs_open_fp(f, "mem");
    pngs_set_max_pixels(s, 1000000);
    image_t im = {0};
    r = pngs_next(s, &im, NULL, &e);
    CHECK(r == -1 && e.code == EXIT_DATA && strstr(e.msg, "image too large") && strstr(e.msg, "2000 x 1000"),
          "pngs_set_max_pixels: %s", e.msg);
    pngs_close(s);
    fclose(f);
    /* a tEXt chunk claiming 1.7 GB (libpng would malloc it before reading) */
    n = header_png(b, 4, 4, 8, 0);
    static const uint8_t big[8] = {0x69, 0x65, 0x6c, 0x64, 't', 'E', 'X', 't'};
    memmove(b + 33 + 8, b + 33, n - 33);
    memcpy(b + 33, big, 8);
    read_all((char *)b, n + 8, &e, &r);
    CHECK(r == -1 && e.code == EXIT_DATA &&
              strstr(e.msg, "chunk too large (a tEXt chunk of 1768254564 bytes"),
          "huge ancillary chunk refused before allocation: %s", e.msg);
    CHECK(image_init(&im, 16385, 1, 1, 0, &e) == EXIT_DATA && image_init(&im, 4, 4, 5, 0, &e) == EXIT_DATA,
          "image_init refuses absurd sizes");
}

int main(void) {
    const char *fx[] = {"grey16",    "palette2",  "palette_trns", "grey1",
                        "greyalpha", "rgb_adam7", "rgba16_adam7"};
    for (size_t i = 0; i < sizeof fx / sizeof fx[0]; i++) test_fixture(fx[i]);
    test_fixture_text();
    test_roundtrip();
    test_stream();
    test_limits();
    T_DONE();
}
