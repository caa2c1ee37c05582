/* fuzz_qdbin.c - libFuzzer target for the QuickDraw .bin decoder.
 *
 * The bytes are served through a memfd to common/input.h (so plain and gzip
 * inputs both reach qdbin_read); records are decoded until the end or the
 * first error.  Checks: every error is a described EXIT_DATA/EXIT_IO; a
 * record's ndjson rendering parses back as a sketch record with the same
 * drawing -- or, when the record has no strokes or a stroke without points
 * (the format allows both; the sketch model does not), is refused by the
 * parser as bad data, which is how qd-extract reports it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "qdbin.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    int fd = memfd_create("qdbin", 0);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) { close(fd); return 0; }
    lseek(fd, 0, SEEK_SET);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    err_t e = {0};
    input_t *in = in_open(path, &e);
    if (!in) { close(fd); return 0; }
    drawing_t d;
    drawing_init(&d);
    qdbin_meta_t m;
    sketch_t s;
    sketch_init(&s);
    buf_t b = {0};
    for (long long i = 1; i < 10000; i++) {
        memset(&e, 0, sizeof e);
        int rc = qdbin_read(in, i, &d, &m, &e);
        if (rc == -1) break;
        if (rc) {
            if ((rc != EXIT_DATA && rc != EXIT_IO) || !e.msg[0]) abort();
            break;
        }
        int empty = d.nstrokes == 0;
        for (int k = 0; k < d.nstrokes; k++) {
            if (d.s[k].n < 0 || d.s[k].n > 65535) abort();
            empty |= d.s[k].n == 0;
        }
        b.len = 0;
        qdbin_to_json(&b, "w", &m, &d);
        int prc = sketch_parse(&s, b.s, b.len, &e);
        if (empty) {
            if (prc != EXIT_DATA) abort();
            continue;
        }
        if (prc != 0) abort();
        if (s.drawing.nstrokes != d.nstrokes) abort();
        for (int k = 0; k < d.nstrokes; k++) {
            if (s.drawing.s[k].n != d.s[k].n) abort();
            for (int j = 0; j < d.s[k].n; j++)
                if (s.drawing.s[k].x[j] != d.s[k].x[j] || s.drawing.s[k].y[j] != d.s[k].y[j]) abort();
        }
    }
    buf_free(&b);
    sketch_free(&s);
    drawing_free(&d);
    in_close(in);
    close(fd);
    return 0;
}
