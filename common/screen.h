/* screen.h - byte searches that prove a sketch NDJSON line cannot pass a
 * filter, so that it can be skipped without being parsed (qd-extract's
 * prefilter).
 *
 * Each function looks at the raw bytes of one line.  They are only sound on
 * lines without backslashes (an escape can spell any value) that are shaped
 * like one object (screen_object_shaped): the caller parses every other line.
 * On such a line, a member "NAME" : VALUE of the record is found wherever it
 * is (also inside nested objects, which can only make the answer "may
 * match"); JSON whitespace (space, tab, CR, LF) around the colon is allowed.
 * "May match" is always the safe answer: a line screened out (0) must hold no
 * record that passes -- tests/fuzz/fuzz_screen.c checks exactly that against
 * the real parser.  Nothing allocates, prints or exits.
 */
#ifndef SCREEN_H
#define SCREEN_H
#include <stddef.h>
#include "util.h"

/* 1 if the line, blanks trimmed, starts with '{' and ends with '}'. */
int screen_object_shaped(const char *line, size_t len);

/* Called with each plain string value (n bytes at v, no quotes) of a member
 * named like the screen's field; returns nonzero when that value is wanted. */
typedef int (*screen_want_fn)(void *ctx, const char *v, size_t n);

/* Can the line's "word" be a wanted one?  0 when every "word" member holds a
 * string literal that want() refuses (want sees them all, in order, until one
 * is wanted), else 1 -- also when a "word" member holds anything but a
 * string. */
int screen_word(const char *line, size_t len, screen_want_fn want, void *ctx);

/* Can the line's "key_id" be in the set?  Every "key_id" member holding a
 * string literal or a run of digits (a JSON integer) is looked up; any other
 * value, or one of 128 bytes or more, answers 1. */
int screen_key(const char *line, size_t len, const strset_t *keys);
#endif
