/* test_imgprep.c - image loading (jpeg_io) and CLIP preprocessing (imgprep)
 * against PIL 9.4 + torchvision's math, from tests/gen_imgprep_ref.py
 * (fixtures in tests/fixtures/imgprep, format described in the generator):
 *
 *  - JPEG decodes (baseline, progressive, grey, CMYK) byte-identical to PIL's;
 *  - PIL resize (bicubic, bilinear, and lanczos/box/hamming once) byte-identical,
 *    up and down, RGB and grey (also resized as 1 channel);
 *  - the CLIP preprocess, the study's squash and normalise-only paths: uint8
 *    results identical, float tensors within 1e-6;
 *  - the torchvision size and crop rules (Python's round-half-even);
 *  - bad input: missing, empty, garbage, truncated and corrupt files, absurd
 *    JPEG sizes, bad arguments -> the documented error codes;
 *  - speed of the 256x256 -> 224 CLIP path.
 * Run from the repository root. */
#include "imgprep.h"
#include "jpeg_io.h"
#include "t.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define DIR "tests/fixtures/imgprep/"

static const struct {
    const char *name, *file;
} inputs[] = {
    {"noise", "noise.png"},       {"grey", "grey.png"},
    {"sq16", "sq16.png"},         {"sketch", "sketch.png"},
    {"fish", "perfectFish.jpeg"}, {"greyjpeg", "grey.jpeg"},
    {"cmyk", "cmyk.jpeg"},        {"progressive", "progressive.jpeg"},
};
#define NIN (int)(sizeof inputs / sizeof inputs[0])
static image_t rgb[NIN], grey1[NIN]; /* grey1: the PNG as read, when grey */

static int input_index(const char *name) {
    for (int i = 0; i < NIN; i++)
        if (!strcmp(inputs[i].name, name)) return i;
    return -1;
}

typedef struct {
    char img[17], op[17];
    int a, b, c, h, w, ch, dt;
    void *data;
} rec_t;

static int read_rec(gzFile g, rec_t *r) {
    unsigned char hdr[60];
    int got = gzread(g, hdr, sizeof hdr);
    if (got == 0) return 0;
    if (got != (int)sizeof hdr) return -1;
    memcpy(r->img, hdr, 16), r->img[16] = 0;
    memcpy(r->op, hdr + 16, 16), r->op[16] = 0;
    int32_t v[7];
    memcpy(v, hdr + 32, sizeof v); /* little-endian host assumed (x86, arm) */
    r->a = v[0], r->b = v[1], r->c = v[2], r->h = v[3], r->w = v[4], r->ch = v[5], r->dt = v[6];
    size_t n = (size_t)r->h * r->w * r->ch * (r->dt ? 4 : 1);
    r->data = malloc(n);
    if ((size_t)gzread(g, r->data, (unsigned)n) != n) return -1;
    return 1;
}

static long n_u8_px, n_u8_bad, n_f32, n_f32_bad;
static double worst_f32;

/* exact uint8 comparison of an image with (h,w,ch) reference data */
static void cmp_u8(const rec_t *r, const image_t *im, const char *what) {
    if (im->w != r->w || im->h != r->h || im->c != r->ch) {
        CHECK(0, "%s %s: size %dx%dx%d, want %dx%dx%d", r->img, what, im->w, im->h, im->c, r->w, r->h, r->ch);
        return;
    }
    const uint8_t *ref = r->data;
    size_t n = (size_t)r->w * r->h * r->ch;
    long bad = 0, first = -1;
    int maxd = 0;
    for (size_t i = 0; i < n; i++)
        if (im->px[i] != ref[i]) {
            int d = abs(im->px[i] - ref[i]);
            if (d > maxd) maxd = d;
            if (first < 0) first = (long)i;
            bad++;
        }
    n_u8_px += (long)n;
    n_u8_bad += bad;
    CHECK(bad == 0, "%s %s %dx%d: %ld of %zu bytes differ from PIL (max |d| %d)", r->img, what, r->w, r->h,
          bad, n, maxd);
    if (bad) printf("#   first at byte %ld: got %d want %d\n", first, im->px[first], ref[first]);
}

static void cmp_f32(const rec_t *r, const float *got, const char *what) {
    const float *ref = r->data;
    size_t n = (size_t)r->w * r->h * r->ch;
    double worst = 0;
    long bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= 1e-6)) bad++;
        if (d > worst || d != d) worst = d;
    }
    n_f32 += (long)n;
    n_f32_bad += bad;
    if (worst > worst_f32) worst_f32 = worst;
    CHECK(bad == 0, "%s %s S=%d normalized=%d: %zu floats, worst |d| %.3g (atol 1e-6)", r->img, what, r->a,
          r->b, n, worst);
}

static void run_record(imgprep_t *p, const rec_t *r) {
    int i = input_index(r->img);
    if (i < 0) {
        CHECK(0, "unknown image %s in ref.bin.gz", r->img);
        return;
    }
    err_t e = {0};
    image_t out = {0};
    char what[64];
    if (!strcmp(r->op, "decode")) {
        cmp_u8(r, &rgb[i], "decode");
    } else if (!strcmp(r->op, "resize")) {
        snprintf(what, sizeof what, "resize(filter %d)", r->c);
        int rc = imgprep_resize(p, &rgb[i], r->a, r->b, r->c, &out, &e);
        if (rc) CHECK(0, "%s %s: %s", r->img, what, e.msg);
        if (!rc) cmp_u8(r, &out, what);
        if (!rc && grey1[i].px) { /* the grey image resized as one channel */
            image_t o1 = {0};
            rc = imgprep_resize(NULL, &grey1[i], r->a, r->b, r->c, &o1, &e);
            long bad = 0;
            for (long k = 0; !rc && k < (long)r->w * r->h; k++)
                bad += o1.px[k] != ((uint8_t *)r->data)[3 * k];
            CHECK(rc == 0 && bad == 0, "%s %s as 1 channel: %ld pixels differ", r->img, what, bad);
            image_free(&o1);
        }
    } else if (!strcmp(r->op, "clip_u8")) {
        int rc = imgprep_u8(p, &rgb[i], r->a, IMGPREP_CLIP, &out, &e);
        if (rc) CHECK(0, "%s clip_u8: %s", r->img, e.msg);
        if (!rc) cmp_u8(r, &out, "clip_u8 (Resize+CenterCrop)");
    } else {
        int mode = !strcmp(r->op, "clip")   ? IMGPREP_CLIP
                   : !strcmp(r->op, "norm") ? IMGPREP_NORMALIZE
                   : !strcmp(r->op, "squash")
                       ? (r->c == IMGPREP_BILINEAR ? IMGPREP_SQUASH : IMGPREP_SQUASH_BICUBIC)
                       : -1;
        if (mode < 0 || r->dt != 1 || r->ch != 3) {
            CHECK(0, "bad record %s %s", r->img, r->op);
            return;
        }
        float *t = malloc(sizeof(float) * 3 * r->a * r->a);
        int rc = imgprep_run(p, &rgb[i], r->a, mode, r->b, t, &e);
        if (rc) CHECK(0, "%s %s: %s", r->img, r->op, e.msg);
        snprintf(what, sizeof what, "%s(filter %d)", r->op, r->c);
        if (!rc) cmp_f32(r, t, what);
        if (!rc && grey1[i].px) { /* grey input -> three equal channels, same numbers */
            float *t1 = malloc(sizeof(float) * 3 * r->a * r->a);
            rc = imgprep_clip(&grey1[i], r->a, mode, r->b, t1, &e);
            CHECK(rc == 0 && !memcmp(t, t1, sizeof(float) * 3 * r->a * r->a),
                  "%s %s S=%d from 1 channel == from RGB", r->img, r->op, r->a);
            free(t1);
        }
        free(t);
    }
    image_free(&out);
}

static void test_reference(void) {
    for (int i = 0; i < NIN; i++) {
        char path[256];
        err_t e = {0};
        snprintf(path, sizeof path, DIR "%s", inputs[i].file);
        int rc = image_load(path, &rgb[i], &e);
        CHECK(rc == 0 && rgb[i].c == 3, "image_load %s: %dx%d %s", path, rgb[i].w, rgb[i].h, e.msg);
        if (strstr(path, ".png")) {
            image_t g = {0};
            if (!pngio_load(path, &g, NULL, &e) && g.c == 1)
                grey1[i] = g;
            else
                image_free(&g);
        }
    }
    gzFile g = gzopen(DIR "ref.bin.gz", "rb");
    CHECK(g != NULL, "open " DIR "ref.bin.gz (run tests/gen_imgprep_ref.py)");
    if (!g) return;
    char magic[8];
    CHECK(gzread(g, magic, 8) == 8 && !memcmp(magic, "IMPREF1", 8), "ref.bin.gz magic");
    imgprep_t p;
    imgprep_init(&p); /* one state for all: sizes change from record to record */
    rec_t r;
    int k, nrec = 0;
    while ((k = read_rec(g, &r)) == 1) {
        run_record(&p, &r);
        free(r.data);
        nrec++;
    }
    CHECK(k == 0 && nrec > 100, "read %d reference records", nrec);
    gzclose(g);
    imgprep_free(&p);
    printf("# PIL agreement: %ld of %ld uint8 values differ; %ld of %ld floats beyond 1e-6, worst %.3g\n",
           n_u8_bad, n_u8_px, n_f32_bad, n_f32, worst_f32);
}

static void test_rules(void) {
    static const struct {
        int w, h, S, ow, oh, left, top;
    } c[] = {
        /* Resize: the shorter side becomes S, the other int(S * long / short) */
        {256, 256, 224, 224, 224, 0, 0},
        {240, 210, 224, 256, 224, 16, 0},
        {37, 23, 224, 360, 224, 68, 0},
        {29, 41, 16, 16, 22, 0, 3},
        /* CenterCrop rounds halves to even: (25-16)/2 = 4.5 -> 4, (17-16)/2 -> 0, (21-16)/2 = 2.5 -> 2,
         * (19-16)/2 = 1.5 -> 2 */
        {37, 23, 16, 25, 16, 4, 0},
        {17, 16, 16, 17, 16, 0, 0},
        {16, 21, 16, 16, 21, 0, 2},
        {16, 19, 16, 16, 19, 0, 2},
        {1, 16384, 224, 224, 3670016, 0, 1834896},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int ow, oh, l, t;
        imgprep_resize_size(c[i].w, c[i].h, c[i].S, &ow, &oh);
        imgprep_crop_box(ow, oh, c[i].S, &l, &t);
        CHECK(ow == c[i].ow && oh == c[i].oh && l == c[i].left && t == c[i].top,
              "Resize+CenterCrop(%d) of %dx%d: %dx%d at (%d,%d), want %dx%d at (%d,%d)", c[i].S, c[i].w,
              c[i].h, ow, oh, l, t, c[i].ow, c[i].oh, c[i].left, c[i].top);
    }
    /* a 1-pixel-wide, very tall image: only the 224x224 window is computed */
    image_t tall = {0}, out = {0};
    err_t e = {0};
    image_init(&tall, 1, 16384, 3, 200, &e);
    int rc = imgprep_u8(NULL, &tall, 224, IMGPREP_CLIP, &out, &e);
    CHECK(rc == 0 && out.w == 224 && out.h == 224 && out.px[0] == 200 && out.px[224 * 224 * 3 - 1] == 200,
          "1x16384 -> CLIP 224 (constant stays constant) %s", e.msg);
    image_free(&out);
    image_free(&tall);
}

static int write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static void test_errors(void) {
    char dir[] = "/tmp/test_imgprep.XXXXXX", path[300];
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    image_t im = {0};
    err_t e = {0};
    int rc;

    snprintf(path, sizeof path, "%s/missing.jpg", dir);
    rc = image_load(path, &im, &e);
    CHECK(rc == EXIT_IO && strstr(e.msg, "missing.jpg") && !im.px, "missing file -> EXIT_IO: %s", e.msg);
    rc = jpegio_load(path, &im, &e);
    CHECK(rc == EXIT_IO && strstr(e.msg, "missing.jpg"), "jpegio_load missing file -> EXIT_IO: %s", e.msg);

    snprintf(path, sizeof path, "%s/empty", dir);
    write_file(path, "", 0);
    rc = image_load(path, &im, &e);
    CHECK(rc == EXIT_DATA && strstr(e.msg, "empty"), "empty file -> EXIT_DATA: %s", e.msg);

    snprintf(path, sizeof path, "%s/garbage.png", dir);
    write_file(path, "GIF89a this is not an image at all", 34);
    rc = image_load(path, &im, &e);
    CHECK(rc == EXIT_DATA && strstr(e.msg, "garbage.png") && strstr(e.msg, "not a PNG or JPEG"),
          "garbage file -> EXIT_DATA: %s", e.msg);

    size_t n = 0;
    uint8_t *fish = t_slurp(DIR "perfectFish.jpeg", &n);
    CHECK(fish && n == 5138, "read perfectFish.jpeg (%zu bytes)", n);
    if (!fish) return;
    /* JPEG magic, then garbage */
    uint8_t junk[300];
    memcpy(junk, fish, 3);
    for (int i = 3; i < (int)sizeof junk; i++) junk[i] = (uint8_t)(i * 37 + 11);
    snprintf(path, sizeof path, "%s/junk.jpg", dir);
    write_file(path, junk, sizeof junk);
    rc = image_load(path, &im, &e);
    CHECK(rc == EXIT_DATA && strstr(e.msg, "junk.jpg") && strstr(e.msg, "bad JPEG"),
          "JPEG magic + garbage: %s", e.msg);

    /* cut everywhere: always EXIT_DATA naming the file, never a crash; a cut
     * inside the entropy-coded data reads as truncation */
    int all = 1, trunc_msgs = 0, cuts = 0;
    for (size_t cut = 1; cut < n - 2; cut += (cut < 700 ? 13 : 101)) {
        rc = jpegio_decode(fish, cut, "cut.jpg", &im, &e);
        cuts++;
        if (rc != EXIT_DATA || !strstr(e.msg, "cut.jpg") || im.px) all = 0;
        if (strstr(e.msg, "truncated JPEG")) trunc_msgs++;
    }
    CHECK(all, "%d truncations of perfectFish.jpeg -> EXIT_DATA naming the file", cuts);
    CHECK(trunc_msgs > cuts / 2, "%d of them say 'truncated JPEG'", trunc_msgs);
    snprintf(path, sizeof path, "%s/half.jpeg", dir);
    write_file(path, fish, n / 2);
    rc = image_load(path, &im, &e);
    CHECK(rc == EXIT_DATA &&
              !strcmp(strstr(e.msg, "half.jpeg"), "half.jpeg: truncated JPEG (unexpected end of data)"),
          "half a JPEG: %s", e.msg);
    /* only the EOI marker missing: the entropy decoder reads past the last
     * row and hits the end -> truncated, as PIL says "image file is truncated" */
    rc = jpegio_decode(fish, n - 2, "noeoi.jpg", &im, &e);
    CHECK(rc == EXIT_DATA && strstr(e.msg, "truncated") && !im.px, "JPEG without EOI marker: %s", e.msg);
    /* bytes after EOI are ignored (PIL too) */
    uint8_t *tail = malloc(n + 100);
    memcpy(tail, fish, n);
    memset(tail + n, 'x', 100);
    rc = jpegio_decode(tail, n + 100, "tail.jpg", &im, &e);
    CHECK(rc == 0 && im.w == 240 && im.h == 210 && !memcmp(im.px, rgb[input_index("fish")].px, 240 * 210 * 3),
          "JPEG with trailing bytes decodes to the same pixels");
    image_free(&im);
    free(tail);

    /* absurd sizes, patched into the SOF0 header: refused before decoding */
    uint8_t *big = malloc(n);
    memcpy(big, fish, n);
    size_t sof = 0;
    for (size_t i = 2; i + 9 < n; i++)
        if (big[i] == 0xff && big[i + 1] == 0xc0) {
            sof = i;
            break;
        }
    CHECK(sof > 0, "found SOF0 at %zu", sof);
    big[sof + 5] = 0xea, big[sof + 6] = 0x60; /* height 60000 */
    big[sof + 7] = 0xea, big[sof + 8] = 0x60; /* width 60000 */
    rc = jpegio_decode(big, n, "big.jpg", &im, &e);
    CHECK(rc == EXIT_DATA && strstr(e.msg, "60000 x 60000") && !im.px, "60000x60000 JPEG refused: %s", e.msg);
    big[sof + 5] = 0x00, big[sof + 6] = 0x00; /* height 0 */
    rc = jpegio_decode(big, n, "zero.jpg", &im, &e);
    CHECK(rc == EXIT_DATA && !im.px, "zero-height JPEG refused: %s", e.msg);
    free(big);

    /* progressive: a file of 600 scans is refused (a DoS guard), and a huge
     * one fails on libjpeg's memory limit instead of allocating gigabytes */
    size_t pn = 0;
    uint8_t *pj = t_slurp(DIR "progressive.jpeg", &pn);
    size_t s0 = 0, s1 = 0, sof2 = 0;
    for (size_t i = 2; pj && i + 1 < pn; i++) {
        if (pj[i] != 0xff) continue;
        if (pj[i + 1] == 0xc2 && !sof2) sof2 = i;
        if (pj[i + 1] == 0xda && !s0)
            s0 = i;
        else if (s0 && !s1 && pj[i + 1] != 0x00 && (pj[i + 1] < 0xd0 || pj[i + 1] > 0xd7))
            s1 = i;
    }
    CHECK(pj && sof2 && s0 && s1 > s0, "progressive.jpeg: SOF2 at %zu, first scan %zu..%zu", sof2, s0, s1);
    if (pj && sof2 && s1 > s0) {
        size_t seg = s1 - s0, mn = pn + 600 * seg;
        uint8_t *m = malloc(mn);
        memcpy(m, pj, pn - 2); /* all but EOI */
        for (int r = 0; r < 600; r++) memcpy(m + pn - 2 + r * seg, pj + s0, seg);
        memcpy(m + mn - 2, pj + pn - 2, 2);
        double t0 = now_sec();
        rc = jpegio_decode(m, mn, "scans.jpg", &im, &e);
        CHECK(rc == EXIT_DATA && strstr(e.msg, "scans") && !im.px, "600-scan JPEG refused in %.2f s: %s",
              now_sec() - t0, e.msg);
        free(m);
        pj[sof2 + 5] = 0x3e, pj[sof2 + 6] = 0x80; /* height 16000 */
        pj[sof2 + 7] = 0x3e, pj[sof2 + 8] = 0x80; /* width 16000 */
        t0 = now_sec();
        rc = jpegio_decode(pj, pn, "huge.jpg", &im, &e);
        /* refused before any allocation: by the size floor (2 kB cannot code
         * 4M blocks) or, failing that, by the coefficient-buffer limit */
        CHECK(rc == EXIT_DATA &&
                  (strstr(e.msg, "huge.jpg: JPEG declares 16000 x 16000 pixels but holds only") ||
                   strstr(e.msg, "huge.jpg: progressive JPEG 16000 x 16000 refused")) &&
                  !im.px && now_sec() - t0 < 1,
              "16000x16000 progressive JPEG: %s", e.msg);
        image_free(&im);
        /* 4096 x 4096 declared, 120 x 105 of data: libjpeg warns about the
         * corrupt data and would fill in grey (PIL does); we refuse it
         * (docs/differences.md) */
        pj[sof2 + 5] = 0x10, pj[sof2 + 6] = 0x00;
        pj[sof2 + 7] = 0x10, pj[sof2 + 8] = 0x00;
        rc = jpegio_decode(pj, pn, "big.jpg", &im, &e);
        CHECK(rc == EXIT_DATA && !im.px && strstr(e.msg, "big.jpg: "),
              "4096x4096 progressive header on 120x105 data is refused, not padded with grey: %s", e.msg);
        image_free(&im);
        /* 240 x 210 declared (enough bytes for the size floor), 120 x 105 of
         * scan data: libjpeg's corrupt-data warning now stops the decode */
        pj[sof2 + 5] = 0x00, pj[sof2 + 6] = 210;
        pj[sof2 + 7] = 0x00, pj[sof2 + 8] = 240;
        rc = jpegio_decode(pj, pn, "short.jpg", &im, &e);
        CHECK(rc == EXIT_DATA && !im.px && (strstr(e.msg, "Corrupt JPEG data") || strstr(e.msg, "truncated")),
              "JPEG whose scans end early (file still ends in EOI) is refused: %s", e.msg);
        image_free(&im);
    }
    free(pj);

    /* stdin ("-"): the same pixels as from the file */
    image_t a = {0}, b = {0};
    CHECK(freopen(DIR "perfectFish.jpeg", "rb", stdin) != NULL, "stdin <- perfectFish.jpeg");
    e.msg[0] = 0;
    rc = image_load("-", &a, &e);
    image_load(DIR "perfectFish.jpeg", &b, &e);
    CHECK(rc == 0 && a.w == b.w && a.h == b.h && !memcmp(a.px, b.px, (size_t)a.w * a.h * 3),
          "JPEG from stdin");
    image_free(&a), image_free(&b);
    CHECK(freopen(DIR "sketch.png", "rb", stdin) != NULL, "stdin <- sketch.png");
    e.msg[0] = 0;
    rc = image_load("-", &a, &e);
    image_load(DIR "sketch.png", &b, &e);
    CHECK(rc == 0 && a.c == 3 && a.w == 256 && !memcmp(a.px, b.px, (size_t)a.w * a.h * 3),
          "PNG from stdin %s", e.msg);
    image_free(&a), image_free(&b);

    /* image_decode: the same pixels from memory; a lowered pixel limit
     * refuses, naming the input, before any pixels exist */
    size_t fn = 0, pnn = 0;
    uint8_t *fj = t_slurp(DIR "perfectFish.jpeg", &fn), *pp = t_slurp(DIR "sketch.png", &pnn);
    image_load(DIR "perfectFish.jpeg", &b, &e);
    rc = image_decode(fj, fn, "mem.jpg", 240 * 210, &a, &e);
    CHECK(rc == 0 && a.c == 3 && a.w == b.w && a.h == b.h && !memcmp(a.px, b.px, (size_t)a.w * a.h * 3),
          "image_decode JPEG = image_load %s", e.msg);
    image_free(&a), image_free(&b);
    rc = image_decode(fj, fn, "mem.jpg", 240 * 210 - 1, &a, &e);
    CHECK(rc == EXIT_DATA && !a.px && strstr(e.msg, "mem.jpg: JPEG size 240 x 210 refused"),
          "image_decode JPEG over the pixel limit: %s", e.msg);
    rc = image_decode(pp, pnn, "mem.png", 100, &a, &e);
    CHECK(rc == EXIT_DATA && !a.px && strstr(e.msg, "mem.png"), "image_decode PNG over the pixel limit: %s",
          e.msg);
    rc = image_decode(pp, pnn, "mem.png", 0, &a, &e);
    CHECK(rc == 0 && a.c == 3 && a.w == 256, "image_decode PNG, default limit %s", e.msg);
    image_free(&a);
    rc = image_decode((const uint8_t *)"GIF89a", 6, "mem.gif", 0, &a, &e);
    CHECK(rc == EXIT_DATA && !strcmp(e.msg, "mem.gif: not a PNG or JPEG image"), "image_decode GIF: %s",
          e.msg);
    free(fj), free(pp);

    /* bad arguments */
    float t[3 * 16 * 16];
    image_load(DIR "noise.png", &a, &e);
    rc = imgprep_clip(&a, 16, IMGPREP_NORMALIZE, 1, t, &e);
    CHECK(rc == EXIT_DATA && strstr(e.msg, "37 x 23"), "normalise-only on 37x23 -> EXIT_DATA: %s", e.msg);
    rc = imgprep_clip(&a, 0, IMGPREP_CLIP, 1, t, &e);
    CHECK(rc == EXIT_USAGE, "S = 0 -> EXIT_USAGE: %s", e.msg);
    rc = imgprep_clip(&a, 16, 9, 1, t, &e);
    CHECK(rc == EXIT_USAGE, "mode 9 -> EXIT_USAGE: %s", e.msg);
    rc = imgprep_resize(NULL, &a, 10, 10, 0, &b, &e);
    CHECK(rc == EXIT_USAGE, "filter NEAREST (0) not offered -> EXIT_USAGE: %s", e.msg);
    rc = imgprep_resample(NULL, &a, 10, 10, IMGPREP_BICUBIC, 5, 0, 6, 10, &b, &e);
    CHECK(rc == EXIT_DATA && !b.px, "window outside the target -> EXIT_DATA: %s", e.msg);
    rc = imgprep_resize(NULL, &a, 10, 10, IMGPREP_BICUBIC, &a, &e);
    CHECK(rc == EXIT_USAGE && a.w == 37, "resize in place refused: %s", e.msg);
    image_t rgba = {0};
    image_init(&rgba, 4, 4, 4, 255, &e);
    rc = imgprep_clip(&rgba, 4, IMGPREP_NORMALIZE, 1, t, &e);
    CHECK(rc == EXIT_DATA, "RGBA input -> EXIT_DATA: %s", e.msg);
    image_free(&rgba), image_free(&a);

    free(fish);
    const char *names[] = {"empty", "garbage.png", "junk.jpg", "half.jpeg"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void test_speed(void) {
    image_t sk = {0};
    err_t e = {0};
    image_load(DIR "sketch.png", &sk, &e);
    imgprep_t p;
    imgprep_init(&p);
    float *t = malloc(sizeof(float) * 3 * 224 * 224);
    int reps = 200, rc = 0;
    rc |= imgprep_run(&p, &sk, 224, IMGPREP_CLIP, 1, t, &e); /* warm: coefficients, buffers */
    double t0 = now_sec();
    for (int i = 0; i < reps; i++) rc |= imgprep_run(&p, &sk, 224, IMGPREP_CLIP, 1, t, &e);
    double ms = (now_sec() - t0) / reps * 1e3;
    /* speed is for benchmarks, not tests: the time is reported, not asserted */
    CHECK(rc == 0, "CLIP preprocess 256x256 RGB -> (3,224,224) repeated (%.3f ms per image)", ms);
    image_free(&sk);
    image_load(DIR "perfectFish.jpeg", &sk, &e);
    t0 = now_sec();
    for (int i = 0; i < reps; i++) rc |= imgprep_run(&p, &sk, 224, IMGPREP_SQUASH, 1, t, &e);
    ms = (now_sec() - t0) / reps * 1e3;
    CHECK(rc == 0, "squash 240x210 -> (3,224,224) repeated (%.3f ms per image)", ms);
    free(t);
    image_free(&sk);
    imgprep_free(&p);
}

int main(void) {
    test_reference();
    test_rules();
    test_errors();
    test_speed();
    for (int i = 0; i < NIN; i++) image_free(&rgb[i]), image_free(&grey1[i]);
    T_DONE();
}
