/* util.h - program identity, errors, exit codes, memory, progress, atomic files.
 *
 * Every tool calls util_init(argv[0]) first; die()/warn() then prefix messages
 * with the program name (jq/sbase style) and write them to stderr only, so
 * stdout stays a clean data stream.  Library code in common/ never calls die():
 * it returns an error code and fills an err_t, and the tool decides.
 *
 * Exit codes are shared by all tools and plugins and documented in README.md.
 */
#ifndef UTIL_H
#define UTIL_H
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

/* EXIT_OK .. EXIT_INTERNAL: their one home is plugin.h (the plugin ABI
 * returns them too, and that header must stand alone). */
#include "plugin.h"

/* An error reported by common/ code: an exit code and a message (no prefix). */
typedef struct {
    int code;        /* one of EXIT_*; 0 = no error */
    char msg[512];
} err_t;
/* Fill e (if not NULL) and return code. */
int err_set(err_t *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prepend "<formatted>: " to e's message (keeps e->code; returns it).  The
 * way to add context to an error from a callee: never pass e->msg back into
 * err_set's own buffer by hand. */
int err_prefix(err_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern const char *progname;
void util_init(const char *argv0);
void die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
void die_err(const err_t *e) __attribute__((noreturn));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
/* n bytes aligned to align (a power of two, a multiple of sizeof(void *));
 * free() releases it */
void *xaligned(size_t align, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Ask the kernel to back [p, p+bytes) with memory now, in one call
 * (MADV_POPULATE_WRITE, Linux 5.14+), instead of one page fault per page at
 * first touch: for a large block that is about to be written whole (weights
 * being loaded or packed, a model's activations).  The block's 2 MB-aligned
 * interior is first marked for transparent huge pages (MADV_HUGEPAGE: used
 * where THP is "always" or "madvise", the common default), so that it is
 * backed by 2 MB pages - 512 times fewer faults, and fewer TLB misses when
 * the block is streamed.  On this project's VMs a first-touch fault costs
 * ~20 us a page; `clip-embed` of one image with ViT-B/32 takes 2.65 s with
 * neither, 1.7 s with the populate alone, 0.6 s with both
 * (docs/benchmarks.md).  Only the whole pages inside the block; a no-op
 * where unsupported or on error. */
void mem_prefault(void *p, size_t bytes);
/* The huge-page advice alone, for a large block that may be written only in
 * part, or not at all (a forward-only program never touches the backward's
 * buffers): nothing is backed now, and each 2 MB of the block's aligned
 * interior costs one fault at first touch instead of 512.  A no-op where
 * unsupported. */
void mem_hugepage(void *p, size_t bytes);

/* Close stdout and die(EXIT_IO) if any write to it failed (e.g. disk full). */
void close_stdout(void);

/* Growable byte buffer. */
typedef struct { char *s; size_t len, cap; } buf_t;
void buf_reserve(buf_t *b, size_t extra);
void buf_put(buf_t *b, const void *p, size_t n);
void buf_puts(buf_t *b, const char *s);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append x as a JSON number: integers exactly, others with at most `dec`
 * decimals and trailing zeros removed.  NaN/Inf are written as null. */
void buf_num(buf_t *b, double x, int dec);
/* Append s as a JSON string literal (quoted, escaped); bytes that are not
 * valid UTF-8 become \ufffd, so the output is always valid JSON. */
void buf_jstr(buf_t *b, const char *s);
void buf_free(buf_t *b);

/* Atomic output file: data goes to "<path>.tmp.<pid>.<random>", created
 * exclusively and without following symlinks (O_CREAT|O_EXCL|O_NOFOLLOW), and
 * commit() renames it over path, so a reader never sees a half-written file,
 * an old file is never lost to a failed write, and a link planted at the
 * temporary name cannot redirect the write.  Error paths (commit failure,
 * abort, die()) remove the temporary; only a run killed by a signal leaves
 * one behind.  Up to 16 may be open at once; not for use from two threads. */
typedef struct { FILE *fp; char *path, *tmp; } afile_t;
int afile_open(afile_t *a, const char *path, err_t *e);
int afile_commit(afile_t *a, err_t *e);  /* fclose + fsync-free rename */
void afile_abort(afile_t *a);           /* remove the temp file */
/* mkdir -p */
int mkdir_p(const char *dir, err_t *e);
/* "dir/name", a new string */
char *path_join(const char *dir, const char *name);
/* Append line to the file at path (opened and closed each call, so a log is whole after a crash); an
 * unopenable or unwritable file dies with EXIT_IO naming it. */
void log_append(const char *path, const char *line);

/* Progress on stderr: shown when stderr is a terminal or when forced
 * (--progress).  Rate-limited to ~5 updates/s; progress_done prints a summary
 * line only when shown. */
typedef struct {
    int on;
    const char *what;  /* "records" */
    long long n, total; /* total <= 0: unknown */
    double t0, tlast;
} progress_t;
void progress_init(progress_t *p, const char *what, long long total, int force);
void progress_tick(progress_t *p, long long n);
void progress_done(progress_t *p);

double now_sec(void); /* monotonic clock */

/* Valid UTF-8 check (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
 * Returns 1 if valid; otherwise 0 and *bad = offset of the first bad byte. */
int utf8_valid(const char *s, size_t n, size_t *bad);
/* A malloc'd copy of s with every byte that does not start a valid UTF-8
 * sequence replaced by U+FFFD (for file names in PNG text chunks). */
char *utf8_fix(const char *s);

/* A shipped data file (e.g. "clip/bpe_simple_vocab_16e6.txt.gz"), looked up
 * in $INVCLIP_DATA, the source tree's data/ (compiled in), then
 * <prefix>/share/invclip/data next to an installed binary.  Returns a
 * malloc'd path of the first that exists, or NULL. */
char *data_path(const char *rel);

/* 64-bit FNV-1a hash of a string, for per-record seeding. */
uint64_t hash_str(const char *s);

/* A set of strings (open addressing on hash_str; copies what it keeps). */
typedef struct { char **slot; size_t n, cap; } strset_t;
/* Add s; returns 1 if it was new, 0 if already there. */
int strset_add(strset_t *t, const char *s);
int strset_has(const strset_t *t, const char *s); /* 1 if s is in the set */
void strset_free(strset_t *t);
#endif
