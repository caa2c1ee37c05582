/* cli.h - table-driven command-line options shared by every tool (named cli, not opt,
 * so that it is not read as "optimiser").
 *
 * A tool describes its options in a static table; opt_parse() handles
 * "--name value", "--name=value", "-x value", flags, "--" and "-" (stdin),
 * checks numbers, ranges and choices with the parser plugin parameters and
 * degradation specs use (paramtab.h), collects positional arguments, and answers --help
 * (generated from the table, printed to stdout, exit 0) and --version.
 * Every error exits with EXIT_USAGE and a message that names the option.
 */
#ifndef CLI_H
#define CLI_H
#include <stdio.h>

typedef enum { OPT_FLAG, OPT_INT, OPT_DOUBLE, OPT_STR, OPT_LIST, OPT_ENUM } opt_kind_t;

typedef struct {
    const char **v;
    int n, cap;
} strlist_t;
void strlist_push(strlist_t *l, const char *s);
void strlist_free(strlist_t *l);
/* Every item of in split at sep (e.g. repeatable "--word a,b" options), empty
 * pieces dropped, appended to out as malloc'd copies (free with strlist_free_items). */
void strlist_split(const strlist_t *in, char sep, strlist_t *out);
/* free() every item, then the list. */
void strlist_free_items(strlist_t *l);

typedef struct {
    const char *name;    /* long name without "--"; NULL ends the table */
    char shortname;      /* 0 if none */
    opt_kind_t kind;
    void *dst;           /* FLAG, INT, ENUM (index into choices): int*; DOUBLE: double*; STR: const char**;
                            LIST: strlist_t* */
    const char *metavar; /* "N", "FILE", ... */
    const char *help;
    double min, max;     /* numeric range; ignored when min > max */
} opt_t;
/* An ENUM option's choices are its metavar, "a|b|c"; dst receives the index:
 *   {"format", 'f', OPT_ENUM, &fmt, "auto|ndjson|bin", "input format", OPT_NORANGE} */

#define OPT_NORANGE 1, 0

/* The rows every record tool has, spelt once (a tool with other wording
 * writes its own row). */
#define OPT_KEEP_GOING(dst)                                                                                   \
    {"keep-going", 'k', OPT_FLAG, (dst), NULL, "skip bad records (reported on stderr, counted) instead of stopping", \
     OPT_NORANGE}
#define OPT_PROGRESS(dst)                                                                                     \
    {"progress", 0, OPT_FLAG, (dst), NULL, "show progress on stderr even when it is not a terminal", OPT_NORANGE}

typedef struct {
    const char *usage;   /* "[options] [FILE...]" */
    const char *summary; /* one paragraph: what the tool does */
    const opt_t *opts;
    const char *epilog;  /* examples, notes; may be NULL */
} optspec_t;

/* Parse argv; positional arguments are appended to pos (may be NULL to refuse them). */
void opt_parse(const optspec_t *spec, int argc, char **argv, strlist_t *pos);
void opt_help(const optspec_t *spec, FILE *fp);
#endif
