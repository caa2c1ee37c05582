/* keylist.h - files of key_ids (e.g. data/quickdraw/val-keys.txt).
 *
 * One key_id a line; blanks around it ignored; empty lines and lines
 * starting with '#' skipped; plain or gzip-compressed (input.h).  A line
 * holding anything else -- inner blanks, control bytes, quotes, backslashes,
 * DEL -- is an error naming FILE:LINE and showing the line's start
 * (EXIT_DATA); lines longer than 4096 bytes are errors too.  Keys go into a
 * strset_t (util.h), repeats counted once.  Used by qd-extract
 * (--key-file, --exclude-key-file) and clip-train (--val-keys).  Nothing
 * prints or exits.
 */
#ifndef KEYLIST_H
#define KEYLIST_H
#include <stddef.h>
#include "util.h"

/* Parse one line (len bytes, no newline) of a key file.  Returns 1 and
 * sets *key and *klen to the key inside line, 0 for a line to skip, or -1 for a
 * malformed line (then shown, 41 bytes, holds its printable start). */
int keylist_line(const char *line, size_t len, const char **key, size_t *klen, char shown[41]);
/* Add every key of path ("-" = stdin) to set; *n (may be NULL) = the lines
 * that held a key.  0, or EXIT_DATA (bad line) / EXIT_IO (unreadable). */
int keylist_read(const char *path, strset_t *set, long long *n, err_t *e);
/* The same over a buffer (fuzzing, tests); name is used in messages. */
int keylist_parse(const char *buf, size_t len, const char *name, strset_t *set, long long *n, err_t *e);
#endif
