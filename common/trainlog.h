/* trainlog.h - training logs as columns: the log.ndjson files clip-train,
 * unet-train and sketch-score --train write (one JSON object a line, e.g.
 * {"step":200,"loss":4.56,"val_top1":0.11,...}), read into one column of
 * doubles per numeric key, in first-seen key order; a key a line lacks (or
 * holds as null or a non-number) is NAN there.  Blank lines are skipped.
 * Errors (EXIT_DATA) name the file and line: a line that is not a JSON
 * object, more than TRAINLOG_MAX_KEYS numeric keys, more than
 * TRAINLOG_MAX_LINES lines.  Nothing here prints or exits.
 */
#ifndef TRAINLOG_H
#define TRAINLOG_H
#include <stddef.h>
#include "util.h"

#define TRAINLOG_MAX_KEYS 64
#define TRAINLOG_MAX_LINES 1000000

typedef struct {
    int nk;         /* columns */
    char **key;     /* (nk) */
    double **col;   /* (nk) x (n) */
    int n, cap;     /* rows */
} trainlog_t;

/* Parse text (len bytes, need not be NUL-terminated); name for messages. */
int trainlog_parse(trainlog_t *t, const char *text, size_t len, const char *name, err_t *e);
/* Read a file (.gz transparent).  EXIT_IO when it cannot be read. */
int trainlog_load(trainlog_t *t, const char *path, err_t *e);
/* Column index of key, or -1. */
int trainlog_find(const trainlog_t *t, const char *key);
void trainlog_free(trainlog_t *t);
#endif
