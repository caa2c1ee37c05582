/* fuzz_sketch.c - libFuzzer target for the sketch NDJSON parser.
 *
 * Splits the input into lines and parses each as a sketch record.  For every
 * record that parses, it checks a round-trip property: writing the record and
 * parsing the result again must succeed and give the same drawing, and a
 * rewritten drawing field must parse back to the same numbers (to the
 * written precision).  Any crash, sanitizer report or abort() is a finding.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sketch.h"

static void same_drawing(const drawing_t *a, const drawing_t *b, double tol) {
    if (a->nstrokes != b->nstrokes) abort();
    for (int i = 0; i < a->nstrokes; i++) {
        if (a->s[i].n != b->s[i].n) abort();
        for (int j = 0; j < a->s[i].n; j++)
            if (fabs(a->s[i].x[j] - b->s[i].x[j]) > tol * (1 + fabs(a->s[i].x[j])) ||
                fabs(a->s[i].y[j] - b->s[i].y[j]) > tol * (1 + fabs(a->s[i].y[j])))
                abort();
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    sketch_t s, s2;
    sketch_init(&s);
    sketch_init(&s2);
    buf_t out = {0};
    size_t i = 0;
    while (i < size) {
        const unsigned char *nl = memchr(data + i, '\n', size - i);
        size_t len = nl ? (size_t)(nl - (data + i)) : size - i;
        err_t e = {0};
        if (sketch_parse(&s, (const char *)data + i, len, &e) == 0) {
            out.len = 0;
            sketch_write(&s, &out);
            if (sketch_parse(&s2, out.s, out.len - 1, &e) != 0) abort();
            same_drawing(&s.drawing, &s2.drawing, 0);
            if (strcmp(s.key_id, s2.key_id)) abort();
            /* rewrite the drawing with 3 decimals and read it back */
            sketch_set_drawing(&s, "drawing", &s.drawing, 3, 1);
            sketch_set_str(&s, "extra", "x\"y");
            out.len = 0;
            sketch_write(&s, &out);
            if (sketch_parse(&s2, out.s, out.len - 1, &e) != 0) abort();
            same_drawing(&s.drawing, &s2.drawing, 1e-3);
        } else if (e.code != EXIT_DATA || !e.msg[0]) {
            abort(); /* every rejection must be a described data error */
        }
        i += len + 1;
    }
    buf_free(&out);
    sketch_free(&s);
    sketch_free(&s2);
    return 0;
}
