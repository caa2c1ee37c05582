/* fuzz_pngstream.c - libFuzzer target for the PNG stream reader.
 *
 * Feeds arbitrary bytes (through fmemopen) to pngs_next() until a clean end
 * or an error.  Properties checked, besides "no crash, no sanitizer report":
 * an error is EXIT_DATA and its message names the stream and the image; a
 * decoded image has a sane shape, UTF-8 text, and survives a write -> read
 * round trip through pngio_write() bit for bit.  The stream's pixel limit is
 * lowered to 2^20 so a tiny header cannot make each run allocate ~1 GB.
 */
#define _GNU_SOURCE
#include "png_io.h"
#include <stdlib.h>
#include <string.h>

static void roundtrip(const image_t *im, const pngtext_t *t) {
    char *buf = NULL;
    size_t len = 0;
    FILE *w = open_memstream(&buf, &len);
    err_t e = {0};
    /* text keys read from the input may not be valid keywords for writing:
     * then the writer must refuse them cleanly, and we write without text */
    if (pngio_write(w, "rt", im, t, &e) != 0) {
        if (e.code != EXIT_DATA) abort();
        fclose(w);
        free(buf);
        buf = NULL;
        w = open_memstream(&buf, &len);
        if (pngio_write(w, "rt", im, NULL, &e) != 0) abort();
    }
    fclose(w);
    FILE *r = fmemopen(buf, len, "rb");
    pngstream_t *s = pngs_open_fp(r, "rt");
    image_t back = {0};
    if (pngs_next(s, &back, NULL, &e) != 1) abort();
    if (back.w != im->w || back.h != im->h || back.c != im->c ||
        memcmp(back.px, im->px, (size_t)im->w * im->h * im->c))
        abort();
    if (pngs_next(s, &back, NULL, &e) != 0) abort();
    image_free(&back);
    pngs_close(s);
    fclose(r);
    free(buf);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size == 0) return 0; /* fmemopen refuses a zero-size buffer */
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f) return 0;
    pngstream_t *s = pngs_open_fp(f, "fuzz");
    pngs_set_max_pixels(s, 1L << 20);
    image_t im = {0};
    pngtext_t t = {0};
    err_t e = {0};
    int r;
    while ((r = pngs_next(s, &im, &t, &e)) == 1) {
        if (im.w < 1 || im.h < 1 || (long)im.w * im.h > (1L << 20) || (im.c != 1 && im.c != 3) || !im.px)
            abort();
        for (int i = 0; i < t.n; i++)
            if (!utf8_valid(t.key[i], strlen(t.key[i]), NULL) ||
                !utf8_valid(t.val[i], strlen(t.val[i]), NULL))
                abort();
        roundtrip(&im, &t);
    }
    if (r == -1) {
        if (e.code != EXIT_DATA || strncmp(e.msg, "fuzz: image ", 12)) abort();
        if (pngs_next(s, &im, &t, &e) != -1) abort(); /* stays dead */
    }
    image_free(&im);
    pngtext_free(&t);
    pngs_close(s);
    fclose(f);
    return 0;
}
