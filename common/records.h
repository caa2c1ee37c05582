/* records.h - the loop every sketch-NDJSON tool runs.
 *
 * records_run() reads each named file ("-" or no files = stdin; .gz is
 * transparent), parses every non-blank line as a sketch record and hands it to
 * the tool's callback.  A bad line (or a callback error) is reported as
 *   TOOL: FILE:LINE: key_id K: message
 * and stops the run with the error's exit code -- or, with keep_going, is
 * skipped, counted and summarised at the end.  An unreadable file or a
 * truncated .gz is an error even with keep_going (the rest is lost).  A file
 * whose first bytes are a known binary format (a PNG, a JPEG, a gzip inside
 * the gzip, a model file, a QuickDraw .bin: in_sniff, input.h) is an error
 * (EXIT_DATA, even with keep_going) that names the format and the tool that
 * reads it.
 */
#ifndef RECORDS_H
#define RECORDS_H
#include "cli.h"
#include "sketch.h"
#include "util.h"

typedef struct {
    const char *file;    /* current input name */
    long long line;      /* current line number */
    long long nread;     /* records parsed so far (good ones) */
    long long nskipped;  /* bad records skipped (keep_going) */
    int stop;            /* callback sets this to end the run early (e.g. --limit) */
} records_pos_t;

/* Return 0 on success, or an EXIT_* code with e filled. */
typedef int (*records_fn)(sketch_t *s, records_pos_t *pos, void *ctx, err_t *e);

typedef struct {
    int keep_going;
    int progress;        /* force progress display */
} records_opts_t;

/* Optional: fn is called when an error stops a run of records_run; what it
 * appends to b ends the error message (e.g. " (3 files were written to
 * DIR before the error)").  fn = NULL removes it. */
void records_on_stop(void (*fn)(buf_t *b, void *ctx), void *ctx);

/* Runs the loop; dies on the first error unless keep_going.  Returns the
 * number of good records. */
long long records_run(const strlist_t *files, const records_opts_t *o, records_fn fn, void *ctx);

/* A cheap screen run on each raw line before it is parsed: return 0 to skip
 * the line unparsed (it is then neither counted nor validated), e.g. a byte
 * search proving that a filter cannot match. */
typedef int (*records_screen_fn)(const char *line, size_t len, void *ctx);
/* records_run with a screen (NULL = parse every line). */
long long records_run_screened(const strlist_t *files, const records_opts_t *o, records_screen_fn screen,
                               records_fn fn, void *ctx);
#endif
