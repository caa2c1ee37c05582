/* jpeg_io.c - see jpeg_io.h. */
#include "jpeg_io.h"
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* jpeglib.h needs size_t and FILE declared first */
#include <jerror.h>
#include <jpeglib.h>

/* ---------------------------------------------------------------- files */

/* Read a whole file ("-" = stdin) into *buf (caller frees). */
static int read_all(const char *path, uint8_t **buf, size_t *n, err_t *e) {
    int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : path;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    *buf = NULL;
    *n = 0;
    if (!fp) return err_set(e, EXIT_IO, "%s: cannot open: %s", name, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    uint8_t *p = xmalloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap >= (size_t)JPEGIO_MAX_FILE) {
                free(p);
                if (!is_stdin) fclose(fp);
                return err_set(e, EXIT_DATA, "%s: file larger than %ld bytes", name, JPEGIO_MAX_FILE);
            }
            cap *= 2;
            p = xrealloc(p, cap);
        }
        size_t got = fread(p + len, 1, cap - len, fp);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(fp);
    int saved = errno;
    if (!is_stdin) fclose(fp);
    if (bad) {
        free(p);
        return err_set(e, EXIT_IO, "%s: read error: %s", name, strerror(saved ? saved : EIO));
    }
    *buf = p;
    *n = len;
    return 0;
}

/* ---------------------------------------------------------------- decoding */

typedef struct {
    struct jpeg_error_mgr pub; /* first: libjpeg casts cinfo->err to this */
    jmp_buf jb;
    int truncated;
    char msg[JMSG_LENGTH_MAX];
} jerr_t;

static void on_error_exit(j_common_ptr ci) {
    jerr_t *j = (jerr_t *)ci->err;
    ci->err->format_message(ci, j->msg);
    longjmp(j->jb, 1);
}

/* Warnings (level -1) and trace messages: trace is silent; a warning that
 * says the compressed data is corrupt or missing is fatal, because libjpeg
 * would go on and pad or smear the image (a truncated file that still ends in
 * an EOI marker decodes "successfully" with grey rows).  PIL ignores these
 * warnings; we refuse the file (docs/differences.md).  Other warnings (an
 * unknown JFIF revision, a bad ICC chunk, ...) do not affect the pixels. */
static void on_emit_message(j_common_ptr ci, int level) {
    jerr_t *j = (jerr_t *)ci->err;
    if (level >= 0) return;
    ci->err->num_warnings++;
    switch (ci->err->msg_code) {
    case JWRN_JPEG_EOF:
        j->truncated = 1;
        longjmp(j->jb, 1);
    case JWRN_HIT_MARKER:       /* "premature end of data segment" */
    case JWRN_EXTRANEOUS_DATA:  /* bytes before a marker */
    case JWRN_MUST_RESYNC:      /* a restart marker is missing */
    case JWRN_HUFF_BAD_CODE:
    case JWRN_NOT_SEQUENTIAL:   /* restart markers out of order */
    case JWRN_BOGUS_PROGRESSION:
#ifdef JWRN_ARITH_BAD_CODE
    case JWRN_ARITH_BAD_CODE:
#endif
        ci->err->format_message(ci, j->msg);
        longjmp(j->jb, 1);
    default:
        return;
    }
}

static void on_output_message(j_common_ptr ci) { (void)ci; }

/* A progressive file may hold thousands of tiny scans, each a pass over the
 * whole coefficient buffer: a few kB could then take minutes.  Real encoders
 * write about ten; libjpeg-turbo's djpeg offers the same guard (-maxscans). */
#define JPEGIO_MAX_SCANS 500
#define JPEGIO_MAX_COEF_BYTES (1L << 30)
static void on_progress(j_common_ptr ci) {
    if (ci->is_decompressor && ((j_decompress_ptr)ci)->input_scan_number > JPEGIO_MAX_SCANS) {
        jerr_t *j = (jerr_t *)ci->err;
        snprintf(j->msg, sizeof j->msg, "more than %d progressive scans", JPEGIO_MAX_SCANS);
        longjmp(j->jb, 1);
    }
}

/* PIL's cmyk2rgb on Adobe-inverted samples (PIL reads CMYK JPEGs with raw
 * mode "CMYK;I"): with c = 255 - raw, nk = raw K,
 * out = nk - round-ish(c * nk / 255) using PIL's MULDIV255. */
static inline uint8_t cmyk_channel(unsigned raw, unsigned nk) {
    unsigned c = 255u - raw;
    unsigned t = c * nk + 128u;
    unsigned m = ((t >> 8) + t) >> 8;
    return (uint8_t)(nk - m); /* m <= nk, no clipping needed */
}

/* jpegio_decode() with a pixel limit (<= PNGIO_MAX_PIXELS). */
static int decode_jpeg(const uint8_t *data, size_t n, const char *name, long max_pixels, image_t *im,
                       err_t *e) {
    struct jpeg_decompress_struct ci;
    struct jpeg_progress_mgr prog = {.progress_monitor = on_progress};
    jerr_t jerr;
    /* written after setjmp and needed after longjmp */
    uint8_t *volatile row = NULL;
    uint8_t *volatile px = NULL;

    im->px = NULL;
    im->w = im->h = im->c = 0;
    if (n == 0) return err_set(e, EXIT_DATA, "%s: empty file", name);
    memset(&jerr, 0, sizeof jerr);
    ci.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = on_error_exit;
    jerr.pub.emit_message = on_emit_message;
    jerr.pub.output_message = on_output_message;
    if (setjmp(jerr.jb)) {
        jpeg_destroy_decompress(&ci);
        free(row);
        free(px);
        if (jerr.truncated) return err_set(e, EXIT_DATA, "%s: truncated JPEG (unexpected end of data)", name);
        return err_set(e, EXIT_DATA, "%s: bad JPEG: %s", name, jerr.msg);
    }
    jpeg_create_decompress(&ci);
    ci.progress = &prog;
    jpeg_mem_src(&ci, (unsigned char *)data, (unsigned long)n);
    jpeg_read_header(&ci, TRUE);

    long w = (long)ci.image_width, h = (long)ci.image_height;
    if (w < 1 || h < 1 || w > PNGIO_MAX_SIDE || h > PNGIO_MAX_SIDE || w * h > max_pixels) {
        jpeg_destroy_decompress(&ci);
        return err_set(e, EXIT_DATA, "%s: JPEG size %ld x %ld refused (limits: %d per side, %ld pixels)",
                       name, w, h, PNGIO_MAX_SIDE, max_pixels);
    }
    /* Every 8x8 block of the first component costs at least one bit of
     * Huffman-coded data (its DC difference), so a file far smaller than its
     * declared size is refused before the image buffer (3 bytes a pixel) is
     * allocated: a 5 kB file cannot ask for 800 MB.  Arithmetic coding has
     * no such floor (and no bound is applied). */
    if (!ci.arith_code && ci.num_components > 0) {
        double blocks = (double)ci.comp_info[0].width_in_blocks * ci.comp_info[0].height_in_blocks;
        if ((double)n * 8 < blocks) {
            jpeg_destroy_decompress(&ci);
            return err_set(e, EXIT_DATA,
                           "%s: JPEG declares %ld x %ld pixels but holds only %zu bytes (at least %.0f needed): "
                           "truncated or corrupt",
                           name, w, h, n, blocks / 8);
        }
    }
    /* A progressive file is decoded through a whole-image coefficient buffer,
     * 128 bytes per 8x8 block and component: 1.5 GB for a 16384 x 16384
     * colour image, allocated before any scan data is seen (so a 2 kB file
     * can ask for it).  This libjpeg-turbo does not enforce
     * mem->max_memory_to_use, so check here. */
    if (ci.progressive_mode) {
        double bytes = 0;
        for (int i = 0; i < ci.num_components; i++)
            bytes += (double)ci.comp_info[i].width_in_blocks * ci.comp_info[i].height_in_blocks * 64 *
                     sizeof(JCOEF);
        if (bytes > JPEGIO_MAX_COEF_BYTES) {
            jpeg_destroy_decompress(&ci);
            return err_set(e, EXIT_DATA,
                           "%s: progressive JPEG %ld x %ld refused (needs %.0f MB to decode; limit %ld MB)",
                           name, w, h, bytes / 1048576, JPEGIO_MAX_COEF_BYTES >> 20);
        }
    }
    switch (ci.jpeg_color_space) {
    case JCS_GRAYSCALE:
        ci.out_color_space = JCS_GRAYSCALE;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        ci.out_color_space = JCS_CMYK;
        break;
    default:
        ci.out_color_space = JCS_RGB;
        break;
    }
    jpeg_start_decompress(&ci);
    int nc = ci.output_components;
    if ((long)ci.output_width != w || (long)ci.output_height != h || (nc != 1 && nc != 3 && nc != 4)) {
        jpeg_destroy_decompress(&ci);
        return err_set(e, EXIT_DATA, "%s: unsupported JPEG layout (%d components)", name, nc);
    }
    row = xmalloc((size_t)w * (size_t)nc);
    px = xmalloc((size_t)w * (size_t)h * 3);
    while (ci.output_scanline < ci.output_height) {
        size_t y = ci.output_scanline;
        JSAMPROW rp = row;
        if (jpeg_read_scanlines(&ci, &rp, 1) != 1) longjmp(jerr.jb, 1); /* not reached with a memory source */
        uint8_t *o = px + y * (size_t)w * 3;
        const uint8_t *r = row;
        if (nc == 3)
            memcpy(o, r, (size_t)w * 3);
        else if (nc == 1)
            for (long x = 0; x < w; x++) o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = r[x];
        else
            for (long x = 0; x < w; x++) {
                unsigned nk = r[4 * x + 3];
                for (int k = 0; k < 3; k++) o[3 * x + k] = cmyk_channel(r[4 * x + k], nk);
            }
    }
    /* All rows are in; trailing bytes after them are not checked, as PIL
     * does not check them (corrupt data inside the scans was, above). */
    jpeg_destroy_decompress(&ci);
    free(row);
    im->px = px;
    im->w = (int)w;
    im->h = (int)h;
    im->c = 3;
    return 0;
}

int jpegio_decode(const uint8_t *data, size_t n, const char *name, image_t *im, err_t *e) {
    return decode_jpeg(data, n, name, PNGIO_MAX_PIXELS, im, e);
}

int jpegio_load(const char *path, image_t *im, err_t *e) {
    uint8_t *buf;
    size_t n;
    im->px = NULL;
    im->w = im->h = im->c = 0;
    int rc = read_all(path, &buf, &n, e);
    if (rc) return rc;
    rc = jpegio_decode(buf, n, strcmp(path, "-") ? path : "<stdin>", im, e);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- any image */

int image_to_rgb(image_t *im, err_t *e) {
    if (im->c == 3) return 0;
    if (im->c != 1) return err_set(e, EXIT_DATA, "image has %d channels, want grey or RGB", im->c);
    size_t np = (size_t)im->w * (size_t)im->h;
    uint8_t *p = xmalloc(np * 3);
    for (size_t i = 0; i < np; i++) p[3 * i] = p[3 * i + 1] = p[3 * i + 2] = im->px[i];
    free(im->px);
    im->px = p;
    im->c = 3;
    return 0;
}

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

enum { KIND_NONE, KIND_PNG, KIND_JPEG };
static int sniff(const uint8_t *p, size_t n) {
    if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) return KIND_JPEG;
    if (n >= 8 && memcmp(p, png_sig, 8) == 0) return KIND_PNG;
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) return KIND_PNG; /* png_io reads gzip transparently */
    return KIND_NONE;
}

/* A PNG already in memory (stdin): png_io reads it through fmemopen. */
static int png_from_memory(const uint8_t *buf, size_t n, const char *name, long max_pixels, image_t *im,
                           err_t *e) {
    FILE *fp = fmemopen((void *)buf, n, "rb"); /* read only */
    if (!fp) return err_set(e, EXIT_IO, "%s: fmemopen: %s", name, strerror(errno));
    pngstream_t *s = pngs_open_fp(fp, name);
    pngs_set_max_pixels(s, max_pixels);
    err_t le = {0};
    int got = pngs_next(s, im, NULL, &le);
    pngs_close(s);
    fclose(fp);
    if (got == 1) return 0;
    if (got == 0) return err_set(e, EXIT_DATA, "%s: empty PNG stream", name);
    if (e) *e = le;
    return le.code ? le.code : EXIT_DATA;
}

int image_decode(const uint8_t *data, size_t n, const char *name, long max_pixels, image_t *im, err_t *e) {
    int rc;
    im->px = NULL;
    im->w = im->h = im->c = 0;
    if (max_pixels <= 0 || max_pixels > PNGIO_MAX_PIXELS) max_pixels = PNGIO_MAX_PIXELS;
    switch (sniff(data, n)) {
    case KIND_JPEG:
        rc = decode_jpeg(data, n, name, max_pixels, im, e);
        break;
    case KIND_PNG:
        rc = png_from_memory(data, n, name, max_pixels, im, e);
        break;
    default:
        rc = n ? err_set(e, EXIT_DATA, "%s: not a PNG or JPEG image", name)
               : err_set(e, EXIT_DATA, "%s: empty input", name);
    }
    if (!rc && (rc = image_to_rgb(im, e))) image_free(im);
    return rc;
}

int image_load(const char *path, image_t *im, err_t *e) {
    int rc;
    im->px = NULL;
    im->w = im->h = im->c = 0;
    if (strcmp(path, "-") == 0) {
        uint8_t *buf;
        size_t n;
        if ((rc = read_all(path, &buf, &n, e))) return rc;
        rc = image_decode(buf, n, "<stdin>", 0, im, e);
        free(buf);
        return rc;
    }
    /* Peek at the magic bytes, then let the format's own loader read the
     * file, so its messages are the ones users see elsewhere. */
    FILE *fp = fopen(path, "rb");
    if (!fp) return err_set(e, EXIT_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t head[8];
    size_t n = fread(head, 1, sizeof head, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (bad) return err_set(e, EXIT_IO, "%s: read error", path);
    switch (sniff(head, n)) {
    case KIND_JPEG:
        rc = jpegio_load(path, im, e);
        break;
    case KIND_PNG:
        rc = pngio_load(path, im, NULL, e);
        break;
    default:
        rc = n ? err_set(e, EXIT_DATA, "%s: not a PNG or JPEG image", path)
               : err_set(e, EXIT_DATA, "%s: empty file", path);
    }
    if (!rc && (rc = image_to_rgb(im, e))) image_free(im);
    return rc;
}
