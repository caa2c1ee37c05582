/* png_io.c - see png_io.h.
 *
 * libpng reports errors by longjmp()ing back to the setjmp() in the function
 * that called it.  To keep that safe, every object the error path looks at
 * lives on the heap (the stream / writer context) or in a volatile pointer,
 * and nothing allocated between setjmp() and a possible longjmp() is held in
 * an ordinary local.  Our error callback copies libpng's message and never
 * prints; warnings are dropped (common/ code does not print).
 */
#include "png_io.h"
#include "input.h"
#include <ctype.h>
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---------------------------------------------------------------- images */

int image_init(image_t *im, int w, int h, int c, uint8_t val, err_t *e) {
    im->px = NULL;
    im->w = im->h = im->c = 0;
    if (w < 1 || h < 1 || w > PNGIO_MAX_SIDE || h > PNGIO_MAX_SIDE || (long)w * h > PNGIO_MAX_PIXELS)
        return err_set(e, EXIT_DATA, "bad image size %d x %d (limits: %d per side, %ld pixels)", w, h,
                       PNGIO_MAX_SIDE, (long)PNGIO_MAX_PIXELS);
    if (c < 1 || c > 4) return err_set(e, EXIT_DATA, "bad channel count %d (want 1..4)", c);
    size_t n = (size_t)w * (size_t)h * (size_t)c;
    im->px = xmalloc(n);
    memset(im->px, val, n);
    im->w = w;
    im->h = h;
    im->c = c;
    return 0;
}

void image_free(image_t *im) {
    free(im->px);
    im->px = NULL;
    im->w = im->h = im->c = 0;
}

void image_to_float(const image_t *im, float *dst) {
    size_t np = (size_t)im->w * (size_t)im->h;
    for (int k = 0; k < im->c; k++)
        for (size_t i = 0; i < np; i++)
            dst[(size_t)k * np + i] = im->px[i * (size_t)im->c + (size_t)k] / 255.0f;
}

void image_from_float(image_t *im, const float *src) {
    size_t np = (size_t)im->w * (size_t)im->h;
    for (int k = 0; k < im->c; k++)
        for (size_t i = 0; i < np; i++) {
            float v = src[(size_t)k * np + i];
            if (!(v > 0)) v = 0; /* also NaN */
            if (v > 1) v = 1;
            im->px[i * (size_t)im->c + (size_t)k] = (uint8_t)(v * 255.0f + 0.5f);
        }
}

/* ------------------------------------------------------------ text lists */

void pngtext_set(pngtext_t *t, const char *key, const char *val) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->key[i], key)) {
            free(t->val[i]);
            t->val[i] = utf8_fix(val);
            return;
        }
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 8;
        t->key = xrealloc(t->key, (size_t)t->cap * sizeof *t->key);
        t->val = xrealloc(t->val, (size_t)t->cap * sizeof *t->val);
    }
    t->key[t->n] = xstrdup(key);
    t->val[t->n] = utf8_fix(val);
    t->n++;
}

const char *pngtext_get(const pngtext_t *t, const char *key) {
    for (int i = 0; t && i < t->n; i++)
        if (!strcmp(t->key[i], key)) return t->val[i];
    return NULL;
}

void pngtext_clear(pngtext_t *t) {
    for (int i = 0; i < t->n; i++) {
        free(t->key[i]);
        free(t->val[i]);
    }
    t->n = 0;
}

void pngtext_free(pngtext_t *t) {
    pngtext_clear(t);
    free(t->key);
    free(t->val);
    t->key = t->val = NULL;
    t->cap = 0;
}

/* PNG keywords: 1-79 printable Latin-1 characters, no leading, trailing or
 * doubled spaces.  We accept the ASCII subset. */
static int keyword_ok(const char *k) {
    size_t n = strlen(k);
    if (n < 1 || n > 79 || k[0] == ' ' || k[n - 1] == ' ') return 0;
    for (size_t i = 0; i < n; i++) {
        if (k[i] < 32 || k[i] > 126) return 0;
        if (k[i] == ' ' && k[i + 1] == ' ') return 0;
    }
    return 1;
}

static int is_ascii(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return 0;
    return 1;
}

/* Latin-1 (tEXt, zTXt) to UTF-8; iTXt that is valid UTF-8 is kept as is. */
static char *text_to_utf8(const char *s, int is_utf8) {
    size_t n = strlen(s);
    if (is_ascii(s) || (is_utf8 && utf8_valid(s, n, NULL))) return xstrdup(s);
    char *o = xmalloc(2 * n + 1), *p = o;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (*q < 0x80)
            *p++ = (char)*q;
        else {
            *p++ = (char)(0xC0 | (*q >> 6));
            *p++ = (char)(0x80 | (*q & 0x3F));
        }
    }
    *p = 0;
    return o;
}

/* ---------------------------------------------------------------- writer */

/* libpng's last error and first warning (it warns about the cause, e.g. a
 * width over our limit, then errors with "Invalid IHDR data"). */
typedef struct {
    char err[256], warn[256];
} pngmsg_t;

static void on_error(png_structp png, png_const_charp msg) {
    pngmsg_t *m = png_get_error_ptr(png);
    snprintf(m->err, sizeof m->err, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    pngmsg_t *m = png_get_error_ptr(png);
    if (!m->warn[0]) snprintf(m->warn, sizeof m->warn, "%s", msg);
}

typedef struct {
    FILE *fp;
    pngmsg_t m;
    int ioerr; /* errno of a failed write, or 0 */
} wctx_t;

static void wr(png_structp png, png_bytep data, size_t n) {
    wctx_t *c = png_get_io_ptr(png);
    if (fwrite(data, 1, n, c->fp) != n) {
        c->ioerr = errno ? errno : EIO;
        png_error(png, "write error");
    }
}

static void wr_flush(png_structp png) { (void)png; }

int pngio_write(FILE *fp, const char *name, const image_t *im, const pngtext_t *text, err_t *e) {
    if (!im->px || im->w < 1 || im->h < 1 || im->w > PNGIO_MAX_SIDE || im->h > PNGIO_MAX_SIDE || im->c < 1 ||
        im->c > 4)
        return err_set(e, EXIT_DATA, "%s: cannot write an image of %d x %d x %d", name, im->w, im->h, im->c);
    int nt = text ? text->n : 0;
    for (int i = 0; i < nt; i++) {
        if (!keyword_ok(text->key[i]))
            return err_set(e, EXIT_DATA, "%s: \"%s\" is not a valid PNG text keyword", name, text->key[i]);
        if (!utf8_valid(text->val[i], strlen(text->val[i]), NULL))
            return err_set(e, EXIT_DATA, "%s: text \"%s\" is not valid UTF-8", name, text->key[i]);
    }
    static const int ctype[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                 PNG_COLOR_TYPE_RGB_ALPHA};
    wctx_t *ctx = xcalloc(1, sizeof *ctx);
    ctx->fp = fp;
    png_text *volatile pt = xcalloc((size_t)(nt ? nt : 1), sizeof(png_text));
    png_bytep *volatile rows = xmalloc((size_t)im->h * sizeof(png_bytep));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx->m, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        free(pt);
        free(rows);
        free(ctx);
        return err_set(e, EXIT_INTERNAL, "%s: out of memory creating a PNG writer", name);
    }
    if (setjmp(png_jmpbuf(png))) {
        int rc = ctx->ioerr ? err_set(e, EXIT_IO, "%s: write error: %s", name, strerror(ctx->ioerr))
                            : err_set(e, EXIT_INTERNAL, "%s: PNG write failed: %s", name, ctx->m.err);
        png_destroy_write_struct(&png, &info);
        free(pt);
        free(rows);
        free(ctx);
        return rc;
    }
    png_set_write_fn(png, ctx, wr, wr_flush);
    /* Tuned for line drawings (mostly white): no row filter + run-length
     * zlib is 2.4x faster than libpng's defaults and no larger on QuickDraw
     * renders (4043 images at 224x224: 13.90 MB vs 13.93 MB).  Photos still
     * round-trip exactly, only less compactly. */
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_set_compression_strategy(png, Z_RLE);
    png_set_IHDR(png, info, (png_uint_32)im->w, (png_uint_32)im->h, 8, ctype[im->c], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    for (int i = 0; i < nt; i++) {
        png_text *t = &pt[i];
        t->key = text->key[i];
        t->text = text->val[i];
        if (is_ascii(text->val[i])) {
            t->compression = PNG_TEXT_COMPRESSION_NONE;
            t->text_length = strlen(text->val[i]);
        } else {
            t->compression = PNG_ITXT_COMPRESSION_NONE;
            t->itxt_length = strlen(text->val[i]);
        }
    }
    if (nt) png_set_text(png, info, pt, nt);
    png_write_info(png, info); /* text chunks go here, before IDAT */
    size_t stride = (size_t)im->w * (size_t)im->c;
    for (int y = 0; y < im->h; y++) rows[y] = im->px + (size_t)y * stride;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(pt);
    free(rows);
    free(ctx);
    if (fflush(fp) != 0 || ferror(fp))
        return err_set(e, EXIT_IO, "%s: write error: %s", name, strerror(errno ? errno : EIO));
    return 0;
}

int pngio_save(const char *path, const image_t *im, const pngtext_t *text, err_t *e) {
    afile_t a;
    int rc = afile_open(&a, path, e);
    if (rc) return rc;
    rc = pngio_write(a.fp, path, im, text, e);
    if (rc) {
        afile_abort(&a);
        return rc;
    }
    return afile_commit(&a, e);
}

/* ---------------------------------------------------------------- reader */

struct pngstream {
    input_t *in; /* named stream, or */
    FILE *fp;    /* a caller's FILE* */
    char *name;
    long index; /* 1-based index of the image being / last read */
    int dead;   /* an error happened; the position in the stream is lost */
    int single; /* pngio_load: messages do not say "image 1" */
    long max_pixels;
    /* per-image state the libpng callbacks fill (heap: survives longjmp) */
    pngmsg_t m;
    int eof;        /* the read callback hit end of input */
    uint8_t hdr[8]; /* chunk header being read (see track()) */
    int nhdr;
    uint64_t left; /* bytes of the current chunk's data + CRC still to come */
    err_t ioerr;   /* the read callback hit an I/O error */
    int oom;       /* the image buffer could not be allocated */
};

/* Read up to n bytes; returns bytes read or -1 (s->ioerr filled). */
static long src_read(pngstream_t *s, void *dst, size_t n) {
    if (s->in) return in_read(s->in, dst, n, &s->ioerr);
    size_t got = fread(dst, 1, n, s->fp);
    if (got < n && ferror(s->fp)) {
        err_set(&s->ioerr, EXIT_IO, "read error: %s", strerror(errno ? errno : EIO));
        return -1;
    }
    return (long)got;
}

/* Follow the chunk structure of the bytes libpng reads, and stop a chunk
 * that claims an absurd length before libpng allocates a buffer for it:
 * libpng 1.6.39 mallocs length+1 bytes for a tEXt chunk before reading it,
 * so a 100-byte file could make it allocate 2 GB (found by the fuzzer).
 * IDAT is streamed, never buffered whole, and libpng bounds it itself. */
#define PNGIO_MAX_CHUNK (8u << 20)
static void track(png_structp png, pngstream_t *s, const uint8_t *p, size_t n) {
    while (n) {
        if (s->left) {
            size_t k = n < s->left ? n : (size_t)s->left;
            s->left -= k;
            p += k;
            n -= k;
            continue;
        }
        s->hdr[s->nhdr++] = *p++;
        n--;
        if (s->nhdr == 8) {
            uint32_t len =
                (uint32_t)s->hdr[0] << 24 | (uint32_t)s->hdr[1] << 16 | (uint32_t)s->hdr[2] << 8 | s->hdr[3];
            s->nhdr = 0;
            s->left = (uint64_t)len + 4; /* data + CRC */
            if (len > PNGIO_MAX_CHUNK && memcmp(s->hdr + 4, "IDAT", 4)) {
                char type[5];
                for (int i = 0; i < 4; i++) type[i] = isalpha(s->hdr[4 + i]) ? (char)s->hdr[4 + i] : '?';
                type[4] = 0;
                snprintf(s->m.warn, sizeof s->m.warn, "a %s chunk of %lu bytes; the limit is %u", type,
                         (unsigned long)len, PNGIO_MAX_CHUNK);
                png_error(png, "chunk too large");
            }
        }
    }
}

static void rd(png_structp png, png_bytep data, size_t n) {
    pngstream_t *s = png_get_io_ptr(png);
    long got = src_read(s, data, n);
    if (got < 0) png_error(png, "read error");
    if ((size_t)got < n) {
        s->eof = 1;
        png_error(png, "unexpected end of data");
    }
    track(png, s, data, n);
}

pngstream_t *pngs_open(const char *path, err_t *e) {
    input_t *in = in_open(path, e);
    if (!in) return NULL;
    pngstream_t *s = xcalloc(1, sizeof *s);
    s->in = in;
    s->name = xstrdup(in_name(in));
    s->max_pixels = PNGIO_MAX_PIXELS;
    return s;
}

pngstream_t *pngs_open_fp(FILE *fp, const char *name) {
    pngstream_t *s = xcalloc(1, sizeof *s);
    s->fp = fp;
    s->name = xstrdup(name ? name : "<stream>");
    s->max_pixels = PNGIO_MAX_PIXELS;
    return s;
}

void pngs_set_max_pixels(pngstream_t *s, long max_pixels) {
    if (max_pixels > 0 && max_pixels < PNGIO_MAX_PIXELS) s->max_pixels = max_pixels;
}

const char *pngs_name(const pngstream_t *s) { return s->name; }
long pngs_index(const pngstream_t *s) { return s->index; }

void pngs_close(pngstream_t *s) {
    if (!s) return;
    if (s->in) in_close(s->in);
    free(s->name);
    free(s);
}

/* "NAME: image N (key_id K): " into where (256 bytes). */
static void where_prefix(const pngstream_t *s, const char *key_id, char *where) {
    char kid[96] = "";
    if (key_id) snprintf(kid, sizeof kid, " (key_id %.64s)", key_id);
    if (s->single)
        snprintf(where, 256, "%s%s", s->name, kid);
    else
        snprintf(where, 256, "%s: image %ld%s", s->name, s->index, kid);
}

static int fail(pngstream_t *s, err_t *e, int code, const char *key_id, const char *what) {
    char where[256];
    where_prefix(s, key_id, where);
    s->dead = 1;
    err_set(e, code, "%s: %s", where, what);
    return -1;
}

/* key_id from text chunks libpng has stored so far, or NULL. */
static const char *info_key_id(png_structp png, png_infop info) {
    png_textp tp = NULL;
    int nt = 0;
    if (!png || !info || !png_get_text(png, info, &tp, &nt)) return NULL;
    for (int i = 0; i < nt; i++)
        if (tp[i].key && !strcmp(tp[i].key, "key_id") && tp[i].text && is_ascii(tp[i].text))
            return tp[i].text;
    return NULL;
}

/* Decode one PNG whose 8 signature bytes were already consumed. */
static int decode(pngstream_t *s, image_t *im, pngtext_t *text, err_t *e) {
    s->m.err[0] = s->m.warn[0] = 0;
    s->eof = 0;
    s->nhdr = 0;
    s->left = 0;
    s->ioerr.code = 0;
    s->oom = 0;
    uint8_t *volatile px = NULL;
    png_bytep *volatile rows = NULL;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s->m, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return fail(s, e, EXIT_INTERNAL, NULL, "out of memory creating a PNG reader");
    }
    if (setjmp(png_jmpbuf(png))) {
        const char *kid = info_key_id(png, info);
        char what[600];
        int code = EXIT_DATA;
        if (s->ioerr.code) {
            code = s->ioerr.code;
            snprintf(what, sizeof what, "%s", s->ioerr.msg);
        } else if (s->eof) {
            snprintf(what, sizeof what, "truncated PNG (unexpected end of data)");
        } else if (s->oom || strstr(s->m.err, "ut of memory") || strstr(s->m.err, "nsufficient memory")) {
            code = EXIT_INTERNAL; /* not the file's fault: README, exit code 7 */
            snprintf(what, sizeof what, "out of memory decoding the PNG: %s", s->m.err);
        } else {
            if (s->m.warn[0])
                snprintf(what, sizeof what, "corrupt PNG: %s (%s)", s->m.err, s->m.warn);
            else
                snprintf(what, sizeof what, "corrupt PNG: %s", s->m.err);
        }
        fail(s, e, code, kid, what);
        png_destroy_read_struct(&png, &info, NULL);
        free(px);
        free(rows);
        return -1;
    }
    png_set_read_fn(png, s, rd);
    png_set_sig_bytes(png, 8);
    png_set_user_limits(png, PNGIO_MAX_SIDE, PNGIO_MAX_SIDE);
    png_set_chunk_cache_max(png, 1000);      /* ancillary chunks kept per image */
    png_set_chunk_malloc_max(png, 8u << 20); /* no single chunk may make us allocate more */
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, ctype, ilace;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &ilace, NULL, NULL);
    if ((uint64_t)w * h > (uint64_t)s->max_pixels) {
        snprintf(s->m.warn, sizeof s->m.warn, "%lu x %lu is over the limit of %ld pixels", (unsigned long)w,
                 (unsigned long)h, s->max_pixels);
        png_error(png, "image too large");
    }
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (depth == 16) png_set_scale_16(png); /* rounds, unlike png_set_strip_16 */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int ch = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (ch < 1 || ch > 4 || rowbytes != (size_t)w * (size_t)ch) png_error(png, "unsupported pixel layout");
    px = malloc(rowbytes * h);
    rows = malloc(h * sizeof(png_bytep));
    if (!px || !rows) {
        char msg[96];
        snprintf(msg, sizeof msg, "no memory for a %lu x %lu image", (unsigned long)w, (unsigned long)h);
        s->oom = 1;
        png_error(png, msg);
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = px + (size_t)y * rowbytes;
    /* Missing image data is only a "benign" error in libpng; for us it is
     * damage.  Ancillary-chunk trouble before and after stays lenient. */
    png_set_benign_errors(png, 0);
    png_read_image(png, rows);
    png_set_benign_errors(png, 1);
    png_read_end(png, info);

    /* composite alpha over white; grey+alpha -> grey, RGBA -> RGB */
    int oc = ch >= 3 ? 3 : 1;
    if (ch == 2 || ch == 4) {
        size_t np = (size_t)w * h;
        for (size_t i = 0; i < np; i++) {
            unsigned a = px[i * (size_t)ch + (size_t)ch - 1];
            for (int k = 0; k < oc; k++) {
                unsigned v = px[i * (size_t)ch + (size_t)k];
                px[i * (size_t)oc + (size_t)k] = (uint8_t)((v * a + 255u * (255u - a) + 127u) / 255u);
            }
        }
    }
    if (text) {
        pngtext_clear(text);
        png_textp tp = NULL;
        int nt = 0;
        png_get_text(png, info, &tp, &nt);
        for (int i = 0; i < nt; i++) {
            if (!tp[i].key || !tp[i].text) continue;
            int u = tp[i].compression == PNG_ITXT_COMPRESSION_NONE ||
                    tp[i].compression == PNG_ITXT_COMPRESSION_zTXt;
            char *k = text_to_utf8(tp[i].key, 0), *v = text_to_utf8(tp[i].text, u);
            pngtext_set(text, k, v);
            free(k);
            free(v);
        }
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    image_free(im);
    im->w = (int)w;
    im->h = (int)h;
    im->c = oc;
    im->px = px;
    if (oc != ch) im->px = xrealloc(px, (size_t)w * h * (size_t)oc);
    return 1;
}

int pngs_next(pngstream_t *s, image_t *im, pngtext_t *text, err_t *e) {
    if (s->dead) return err_set(e, EXIT_DATA, "%s: cannot continue after an earlier error", s->name), -1;
    s->index++;
    uint8_t sig[8];
    s->ioerr.code = 0;
    long got = src_read(s, sig, 8);
    if (got < 0) return fail(s, e, s->ioerr.code, NULL, s->ioerr.msg);
    if (got == 0) {
        s->index--;
        if (s->single) return fail(s, e, EXIT_DATA, NULL, "empty file, not a PNG");
        return 0;
    }
    if (got < 8)
        return fail(s, e, EXIT_DATA, NULL, "truncated PNG (unexpected end of data in the signature)");
    if (png_sig_cmp(sig, 0, 8)) return fail(s, e, EXIT_DATA, NULL, "not a PNG (bad signature)");
    return decode(s, im, text, e);
}

int pngio_load(const char *path, image_t *im, pngtext_t *text, err_t *e) {
    err_t le = {0};
    pngstream_t *s = pngs_open(path, &le);
    int rc = le.code ? le.code : EXIT_IO;
    if (s) {
        s->single = 1;
        rc = pngs_next(s, im, text, &le) == 1 ? 0 : le.code;
        pngs_close(s);
    }
    if (rc && e) *e = le;
    return rc;
}
