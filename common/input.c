/* input.c - see input.h. */
#define _POSIX_C_SOURCE 200809L
#include "input.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define IN_BUF (256 * 1024)

struct input {
    gzFile gz;
    char *name;
    unsigned char *buf;
    size_t pos, end;   /* unread bytes are buf[pos..end) */
    int eof;
    err_t pending;     /* an error met after the data before it was delivered */
    long long lineno;
    size_t max_line;
    buf_t line;
};

input_t *in_open(const char *path, err_t *e) {
    int fd;
    const char *name;
    if (!path || !strcmp(path, "-")) {
        fd = dup(0);
        name = "<stdin>";
    } else {
        fd = open(path, O_RDONLY);
        name = path;
    }
    if (fd < 0) {
        err_set(e, EXIT_IO, "%s: cannot open: %s", name, strerror(errno));
        return NULL;
    }
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        err_set(e, EXIT_IO, "%s: cannot open: out of memory", name);
        return NULL;
    }
    gzbuffer(gz, 128 * 1024);
    input_t *in = xcalloc(1, sizeof *in);
    in->gz = gz;
    in->name = xstrdup(name);
    in->buf = xmalloc(IN_BUF);
    in->max_line = IN_MAX_LINE;
    return in;
}

/* zlib's message without the "<fd:N>: " it puts first (the stream was
 * opened with gzdopen, so zlib knows no name). */
static const char *zmsg_bare(const char *m) {
    if (m && m[0] == '<' && !strncmp(m, "<fd:", 4)) {
        const char *c = strstr(m, ">: ");
        if (c) return c + 3;
    }
    return m ? m : "";
}

/* Refill the buffer; returns bytes available, 0 at EOF, -1 on error.  When
 * zlib reports an error (truncated or corrupt data) together with bytes it
 * could still decompress, those bytes are delivered first and the error is
 * returned by the next call: every complete line before the damage is kept. */
static long fill(input_t *in, err_t *e) {
    if (in->pos < in->end) return (long)(in->end - in->pos);
    if (in->pending.code) {
        if (e) *e = in->pending;
        return -1;
    }
    if (in->eof) return 0;
    int n = gzread(in->gz, in->buf, IN_BUF);
    int zerr;
    const char *zmsg = zmsg_bare(gzerror(in->gz, &zerr));
    if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
        err_t *pe = &in->pending;
        if (zerr == Z_ERRNO)
            err_set(pe, EXIT_IO, "%s: read error: %s", in->name, strerror(errno));
        else if (zerr == Z_BUF_ERROR)
            err_set(pe, EXIT_DATA, "%s: truncated gzip data (%s)", in->name, zmsg);
        else
            err_set(pe, EXIT_DATA, "%s: corrupt gzip data (%s)", in->name, zmsg);
        if (n <= 0) {
            if (e) *e = *pe;
            return -1;
        }
    }
    if (n == 0) { in->eof = 1; return 0; }
    in->pos = 0;
    in->end = (size_t)n;
    return n;
}

int in_getline(input_t *in, char **line, size_t *len, err_t *e) {
    in->line.len = 0;
    int got = 0;
    for (;;) {
        long avail = fill(in, e);
        if (avail < 0) return -1;
        if (avail == 0) break;
        unsigned char *p = in->buf + in->pos;
        unsigned char *nl = memchr(p, '\n', (size_t)avail);
        size_t take = nl ? (size_t)(nl - p) : (size_t)avail;
        if (in->line.len + take > in->max_line) {
            in->lineno++;
            err_set(e, EXIT_DATA, "%s:%lld: line longer than %zu bytes (the limit)", in->name, in->lineno,
                    in->max_line);
            return -1;
        }
        buf_put(&in->line, p, take);
        got = 1;
        in->pos += take + (nl ? 1 : 0);
        if (nl) break;
    }
    if (!got) return 0;
    if (!in->line.s) buf_reserve(&in->line, 1);
    if (in->line.len && in->line.s[in->line.len - 1] == '\r') in->line.s[--in->line.len] = 0;
    in->line.s[in->line.len] = 0;
    in->lineno++;
    *line = in->line.s;
    *len = in->line.len;
    return 1;
}

long in_read(input_t *in, void *dst, size_t n, err_t *e) {
    size_t done = 0;
    while (done < n) {
        long avail = fill(in, e);
        if (avail < 0) return -1;
        if (avail == 0) break;
        size_t take = (size_t)avail < n - done ? (size_t)avail : n - done;
        memcpy((char *)dst + done, in->buf + in->pos, take);
        in->pos += take;
        done += take;
    }
    return (long)done;
}

int in_peek(input_t *in, err_t *e) {
    long avail = fill(in, e);
    if (avail < 0) return -2;
    if (avail == 0) return -1;
    return in->buf[in->pos];
}

void in_set_max_line(input_t *in, size_t n) { in->max_line = n; }
const char *in_name(const input_t *in) { return in->name; }
long long in_lineno(const input_t *in) { return in->lineno; }
int in_is_gzip(const input_t *in) { return !gzdirect(in->gz); }

int sniff_magic(const unsigned char *p, size_t n, const char **what, const char **hint) {
    static const char png_tools[] = "PNG files and PNG streams are read by vectorize, clip-embed, "
                                    "sketch-score --input png and unet-train --apply";
    static const char model_tools[] = "weight files go to --model (clip-embed, optimize's CLIP losses, "
                                      "sketch-score, unet-train --apply)";
#define MAGIC(s) (n >= sizeof(s) - 1 && !memcmp(p, s, sizeof(s) - 1))
    *what = *hint = NULL;
    if (MAGIC("\x89PNG\r\n\x1a\n")) *what = "a PNG image", *hint = png_tools;
    else if (MAGIC("\xff\xd8\xff")) *what = "a JPEG image", *hint = "JPEG files are read by clip-embed";
    else if (MAGIC("GIF87a") || MAGIC("GIF89a")) *what = "a GIF image", *hint = "no invclip tool reads GIF";
    else if (MAGIC("\x1f\x8b"))
        *what = "a gzip file inside a gzip file (compressed twice)",
        *hint = "decompress it once (zcat FILE > FILE.ndjson.gz) and give the tool (e.g. qd-extract) that .ndjson.gz";
    else if (MAGIC("PK\x03\x04"))
        *what = "a zip archive (a PyTorch .pt checkpoint is one)", *hint = model_tools;
    else if (MAGIC("BZh") && n > 3 && p[3] >= '1' && p[3] <= '9')
        *what = "a bzip2 file", *hint = "decompress it with bunzip2 (only gzip is read directly)";
    else if (MAGIC("\xfd" "7zXZ\x00")) *what = "an xz file", *hint = "decompress it with unxz (only gzip is read directly)";
    else if (MAGIC("\x28\xb5\x2f\xfd")) *what = "a zstd file", *hint = "decompress it with unzstd (only gzip is read directly)";
    else if (MAGIC("%PDF-")) *what = "a PDF document", *hint = "no invclip tool reads PDF";
    else if (n >= 2 && p[0] == 0x80 && p[1] >= 2 && p[1] <= 5)
        *what = "a Python pickle (a PyTorch pytorch_model.bin is one)", *hint = model_tools;
    else if (n >= 10 && p[8] == '{' && p[9] == '"' && p[5] == 0 && p[6] == 0 && p[7] == 0)
        *what = "a safetensors weight file", *hint = model_tools;
    else if (n >= 11 && p[7] == 0 && p[8] >= 'A' && p[8] <= 'Z' && p[9] >= 'A' && p[9] <= 'Z' && p[10] <= 1)
        *what = "Google's QuickDraw binary format (.bin)",
        *hint = "qd-extract reads it (a name ending .bin or .bin.gz, or --format bin) and writes sketch NDJSON";
#undef MAGIC
    return *what != NULL;
}

int in_sniff(input_t *in, const char **what, const char **hint, err_t *e) {
    *what = *hint = NULL;
    long avail = fill(in, e);
    if (avail < 0) return -1;
    return sniff_magic(in->buf + in->pos, (size_t)avail, what, hint);
}

void in_close(input_t *in) {
    if (!in) return;
    gzclose(in->gz);
    free(in->name);
    free(in->buf);
    buf_free(&in->line);
    free(in);
}
