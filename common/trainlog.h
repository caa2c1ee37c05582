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
#include "sketch.h"
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

/* clip-train's samples.ndjson: held-out drawings with the model's zero-shot
 * guesses, one sketch record a line:
 *   {"step":N,"key_id":K,"word":W,"top":[{"word":W1,"p":P1},...],"correct":B,"drawing":[...]}
 * "word", "drawing" (a valid drawing) and "top" (1..TRAINSAMPLES_TOP objects,
 * each a non-empty "word" and a "p" in [0, 1], best first: p not rising, and
 * summing to at most 1) are required; "step" (a non-negative number) and
 * "key_id" are optional; other fields are ignored.  At most
 * TRAINSAMPLES_MAX lines; blank lines are skipped.  Errors (EXIT_DATA) name
 * the file and line: "samples.ndjson:3: \"top\"[1]: \"p\" is not a number
 * in [0, 1]". */
#define TRAINSAMPLES_MAX 64
#define TRAINSAMPLES_TOP 8
typedef struct {
    char *key_id, *word;  /* key_id "" when absent */
    long long step;       /* -1 when absent */
    drawing_t drawing;
    int ntop;
    char *top[TRAINSAMPLES_TOP];
    double p[TRAINSAMPLES_TOP];
} trainsample_t;
typedef struct {
    trainsample_t *s;
    int n;
} trainsamples_t;
int trainsamples_parse(trainsamples_t *t, const char *text, size_t len, const char *name, err_t *e);
/* Read a file (.gz transparent).  EXIT_IO when it cannot be read. */
int trainsamples_load(trainsamples_t *t, const char *path, err_t *e);
void trainsamples_free(trainsamples_t *t);
#endif
