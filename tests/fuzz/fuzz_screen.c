/* fuzz_screen.c - libFuzzer target for the prefilter's byte searches
 * (screen.h: qd-extract skips unparsed the lines they rule out).
 *
 * The property is soundness against the real parser: on a line without
 * backslashes that is shaped like an object, when screen_word says no
 * wanted word can be there, sketch_parse must fail or give a record whose
 * word is not wanted (ASCII case-insensitively); when screen_key says no
 * wanted key_id can be there, the parsed key_id is not in the set.  Also:
 * the answers do not depend on the lines around (a copy gives the same), and
 * want() only ever sees bytes of the line.
 */
#include "screen.h"
#include "sketch.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const words[] = {"fish", "The Eiffel Tower", "a"};
typedef struct { const char *line; size_t len; } ctx_t;

static int want(void *vctx, const char *v, size_t n) {
    const ctx_t *c = vctx;
    if (v < c->line || v + n > c->line + c->len) abort(); /* a value outside the line */
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strlen(words[i]) == n && !strncasecmp(words[i], v, n)) return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    char *line = malloc(size + 1);
    if (!line) return 0;
    memcpy(line, data, size);
    line[size] = 0;
    if (memchr(line, '\\', size) || !screen_object_shaped(line, size)) {
        free(line);
        return 0;
    }
    strset_t keys = {0};
    strset_add(&keys, "123");
    strset_add(&keys, "4506877280911360");
    strset_add(&keys, "-7");
    strset_add(&keys, "k y");
    ctx_t c = {line, size};
    int w = screen_word(line, size, want, &c), k = screen_key(line, size, &keys);
    /* the same answers on a copy (no state, no reading past the end) */
    char *copy = malloc(size ? size : 1);
    if (!copy) abort();
    memcpy(copy, line, size);
    ctx_t c2 = {copy, size};
    if (screen_word(copy, size, want, &c2) != w || screen_key(copy, size, &keys) != k) abort();
    free(copy);
    sketch_t s;
    sketch_init(&s);
    err_t e = {0};
    if (!sketch_parse(&s, line, size, &e)) {
        if (!w && s.word) {
            for (size_t i = 0; i < sizeof words / sizeof *words; i++)
                if (!strcasecmp(words[i], s.word)) abort(); /* a wanted word screened out */
        }
        if (!k && strset_has(&keys, s.key_id)) abort(); /* a wanted key_id screened out */
    }
    sketch_free(&s);
    strset_free(&keys);
    free(line);
    return 0;
}
