/* qd-extract.c - QuickDraw data -> canonical sketch NDJSON: filter, sample, normalise.
 *
 * Reads Google's QuickDraw files: raw ndjson (strokes [[x..],[y..],[t..]]),
 * simplified ndjson ([[x..],[y..]]), either one plain or gzipped, and the
 * binary .bin format (common/qdbin.h), from named files or stdin.  Keeps the
 * records that pass every filter (--word, --recognized, --country, --key and
 * --key-file, --exclude-key-file: hashed sets of key_ids), optionally stops
 * after --limit of them or keeps a uniform --sample of them,
 * optionally rewrites the drawing with Google's simplification (--simplify)
 * and/or the study's bounding-box fit into an S x S canvas (--fit), and writes
 * one sketch record per line with every other field passed through unchanged.
 * A .bin record becomes the ndjson record Google would have written.  It does
 * not render, degrade or deduplicate: see rasterize, qd-degrade.
 *
 * --word matches case-insensitively (ASCII letters).  When the input was
 * read to its end and a --word value names no record's word, the tool warns
 * and lists the nearest words of the input; when nothing at all was written
 * because of that, it is a usage error (exit 2).  With a --word, --key or
 * --country filter, lines that a byte search shows cannot match are skipped
 * unparsed (the prefilter, on by default; --no-prefilter parses every line).
 */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <ctype.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include "input.h"
#include "keylist.h"
#include "cli.h"
#include "qdbin.h"
#include "records.h"
#include "rng.h"
#include "screen.h"
#include "simplify.h"
#include "util.h"

typedef struct {
    char *line;
    size_t len, cap;
    long long seq; /* position among the matching records: output order */
} slot_t;

/* The key_ids of a key file (keylist.h) into k; dies naming the option.
 * Returns how many lines held one. */
static long long read_key_file(const char *opt, const char *path, strset_t *k) {
    err_t e = {0};
    long long n;
    if (keylist_read(path, k, &n, &e)) die(e.code, "%s: %s", opt, e.msg);
    return n;
}

/* A uniform sample of --sample N records (Algorithm R) of one word, or of
 * everything.  Each draws from its own generator seeded with --seed, so a
 * word's sample is the one a run over that word alone would keep. */
typedef struct {
    char *word;        /* --per-word: the word (owned; "" for records without one) */
    long long nmatch;  /* its matches so far */
    rng_t rng;
    slot_t *slots;     /* min(nmatch, N) of them, grown as they fill */
    int nslots;
} reservoir_t;

typedef struct {
    strlist_t words, countries;       /* comma lists split, owned strings */
    strset_t want, drop;              /* --key + --key-file; --exclude-key-file */
    int use_want;                     /* a --key or --key-file was given (an empty set matches nothing) */
    strlist_t ncountries;             /* the same as JSON string literals, for screen() */
    int screen;                       /* screen lines before parsing them */
    char *wfound;                     /* per --word value: a record of that word was seen */
    long long nmatched;               /* records that passed every filter */
    strset_t vocab;                   /* --word: the words met in the input, for suggestions */
    char *last_vocab;                 /* the last word added (records come grouped by word) */
    int recognized;                   /* -1 any, 0 false, 1 true */
    long long limit, nout;            /* --limit (0 = none), records written */
    int sample;                       /* reservoir size, 0 = off */
    int per_word;                     /* --per-word: one reservoir per word */
    uint64_t seed;
    long long nmatch;                 /* matches so far (all words): input order */
    reservoir_t *res;                 /* one, or one per word seen */
    int nres, capres, last;
    int simplify;
    double fit, pad;                  /* fit = 0: off */
    char *canvas;                     /* the "canvas" JSON --fit adds, built once */
    drawing_t tmp;
    simplify_ws_t ws;
    buf_t out, json;
} ctx_t;

/* Split every "a,b,c" value of `in` into `out` (empty items dropped). */

static int in_list(const strlist_t *l, const char *s) {
    if (!s) return 0;
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s)) return 1;
    return 0;
}

/* Remember a word met in the input (n bytes at w), for the suggestions. */
static void vocab_add(ctx_t *c, const char *w, size_t n) {
    if (c->last_vocab && strlen(c->last_vocab) == n && !memcmp(c->last_vocab, w, n)) return;
    char *t = xmalloc(n + 1);
    memcpy(t, w, n);
    t[n] = 0;
    strset_add(&c->vocab, t);
    free(c->last_vocab);
    c->last_vocab = t;
}

/* --word: the index of the value matching word (ASCII case-insensitively), or -1. */
static int word_index(const ctx_t *c, const char *w, size_t n) {
    for (int i = 0; i < c->words.n; i++)
        if (strlen(c->words.v[i]) == n && !strncasecmp(c->words.v[i], w, n)) return i;
    return -1;
}

static int matches(ctx_t *c, const sketch_t *s) {
    if (c->words.n) {
        if (!s->word) return 0;
        vocab_add(c, s->word, strlen(s->word));
        int i = word_index(c, s->word, strlen(s->word));
        if (i < 0) return 0;
        c->wfound[i] = 1;
    }
    if (c->use_want && !strset_has(&c->want, s->key_id)) return 0;
    if (c->drop.n && strset_has(&c->drop, s->key_id)) return 0;
    if (c->countries.n) {
        const cJSON *cc = sketch_get(s, "countrycode");
        if (!cJSON_IsString(cc) || !in_list(&c->countries, cc->valuestring)) return 0;
    }
    if (c->recognized >= 0) {
        const cJSON *r = sketch_get(s, "recognized");
        if (!cJSON_IsBool(r) || cJSON_IsTrue(r) != c->recognized) return 0;
    }
    return 1;
}

static void quote_list(const strlist_t *in, strlist_t *out) {
    for (int i = 0; i < in->n; i++) {
        buf_t b = {0};
        buf_jstr(&b, in->v[i]);
        strlist_push(out, b.s);
    }
}

static int has_any(const char *line, size_t len, const strlist_t *needles) {
    for (int i = 0; i < needles->n; i++)
        if (memmem(line, len, needles->v[i], strlen(needles->v[i]))) return 1;
    return 0;
}

/* screen_word's want(): a --word value (ASCII case-insensitively)?  Every
 * word met is remembered for the suggestions, and a wanted one as seen. */
static int want_word(void *vctx, const char *v, size_t n) {
    ctx_t *c = vctx;
    vocab_add(c, v, n);
    int i = word_index(c, v, n);
    if (i < 0) return 0;
    c->wfound[i] = 1; /* seen, even if a --key/--country screen then skips the line */
    return 1;
}

/* Most lines of a big file fail a --word/--key/--country filter; a record can
 * match only if its line holds the wanted value as a literal (screen.h),
 * unless the line uses escapes or is not shaped like one object: those are
 * always parsed, so a truncated or foreign line is still reported.  Lines
 * that fail the byte search are skipped without being parsed (or validated). */
static int screen(const char *line, size_t len, void *vctx) {
    ctx_t *c = vctx;
    if (memchr(line, '\\', len) || !screen_object_shaped(line, len)) return 1;
    if (c->words.n && !screen_word(line, len, want_word, c)) return 0;
    if (c->use_want && !screen_key(line, len, &c->want)) return 0;
    if (c->ncountries.n && !has_any(line, len, &c->ncountries)) return 0;
    return 1;
}

/* Rewrite the drawing as asked and serialise the record into c->out. */
static void render(ctx_t *c, sketch_t *s) {
    c->out.len = 0;
    if (c->simplify || c->fit > 0) {
        /* records that call their drawing "strokes" keep that name */
        const char *key = sketch_has(s, "drawing") ? "drawing" : "strokes";
        drawing_t *d = &s->drawing;
        if (c->simplify) {
            simplify_google(&c->tmp, &s->drawing, &c->ws);
            d = &c->tmp;
        }
        if (c->fit > 0) {
            simplify_fit(d, c->fit, c->pad);
            sketch_set_raw(s, "canvas", c->canvas);
        }
        c->json.len = 0;
        drawing_to_json(&c->json, d, 3, 0);
        sketch_set_raw(s, key, c->json.s);
    }
    sketch_write(s, &c->out);
}

static void emit(const char *p, size_t n) {
    if (fwrite(p, 1, n, stdout) != n || fflush(stdout)) die(EXIT_IO, "write error on standard output");
}

/* --limit reached: read no further */
static int limit_reached(const ctx_t *c) { return c->limit > 0 && c->nout >= c->limit; }

/* The reservoir a matching record goes to: the one, or its word's (the
 * last one used first: records come grouped by word). */
static reservoir_t *reservoir_for(ctx_t *c, const char *word) {
    if (!c->per_word) return &c->res[0];
    if (!word) word = "";
    if (c->nres && !strcmp(c->res[c->last].word, word)) return &c->res[c->last];
    for (int i = 0; i < c->nres; i++)
        if (!strcmp(c->res[i].word, word)) return &c->res[c->last = i];
    if (c->nres == c->capres) {
        c->capres = c->capres ? 2 * c->capres : 16;
        c->res = xrealloc(c->res, sizeof *c->res * (size_t)c->capres);
    }
    reservoir_t *r = &c->res[c->last = c->nres++];
    memset(r, 0, sizeof *r);
    r->word = xstrdup(word);
    rng_seed(&r->rng, c->seed);
    return r;
}

static int one_record(sketch_t *s, records_pos_t *pos, void *vctx, err_t *e) {
    ctx_t *c = vctx;
    if (!matches(c, s)) return 0;
    c->nmatched++;
    if (c->sample) {
        /* reservoir sampling (Algorithm R): the k-th match replaces a random
         * slot with probability N/k, decided before any work is done on it */
        reservoir_t *r = reservoir_for(c, s->word);
        long long seq = ++c->nmatch, k = ++r->nmatch;
        long long slot = k <= c->sample ? k - 1 : (long long)rng_below(&r->rng, (uint64_t)k);
        if (slot >= c->sample) return 0;
        if (slot >= r->nslots) {
            int n = r->nslots ? 2 * r->nslots : 16;
            if (n > c->sample) n = c->sample;
            r->slots = xrealloc(r->slots, sizeof *r->slots * (size_t)n);
            memset(r->slots + r->nslots, 0, sizeof *r->slots * (size_t)(n - r->nslots));
            r->nslots = n;
        }
        render(c, s);
        slot_t *sl = &r->slots[slot];
        if (sl->cap < c->out.len) {
            sl->cap = c->out.len;
            sl->line = xrealloc(sl->line, sl->cap);
        }
        memcpy(sl->line, c->out.s, c->out.len);
        sl->len = c->out.len;
        sl->seq = seq;
        return 0;
    }
    render(c, s);
    emit(c->out.s, c->out.len);
    c->nout++;
    if (limit_reached(c)) pos->stop = 1;
    return 0;
}

/* The records of one .bin file, with the same error handling as records_run:
 * a bad record is reported as FILE: record N: key_id K: message and stops
 * the run, or is skipped and counted with --keep-going.  A truncated record
 * ends the run even then: nothing after it can be found again. */
static void run_bin(const char *path, const char *word, const records_opts_t *ro, ctx_t *c,
                    long long *nskipped, progress_t *prog, long long *ngood) {
    err_t e = {0};
    input_t *in = in_open(path, &e);
    if (!in) die_err(&e);
    char wbuf[256];
    if (!word) {
        qdbin_word_from_path(path, wbuf, sizeof wbuf);
        word = wbuf;
    }
    drawing_t d;
    drawing_init(&d);
    qdbin_meta_t m;
    sketch_t s;
    sketch_init(&s);
    buf_t line = {0};
    records_pos_t pos = {0};
    pos.file = in_name(in);
    for (long long idx = 1; !limit_reached(c); idx++) {
        int r = qdbin_read(in, idx, &d, &m, &e);
        if (r < 0) break;
        if (r) die(r, "%s", e.msg);
        line.len = 0;
        qdbin_to_json(&line, word, &m, &d);
        pos.line = idx;
        int rc = sketch_parse(&s, line.s, line.len, &e);
        if (!rc) rc = one_record(&s, &pos, c, &e);
        if (rc) {
            if (!ro->keep_going || rc == EXIT_IO || rc == EXIT_INTERNAL)
                die(rc, "%s: record %lld: key_id %llu: %s", pos.file, idx, (unsigned long long)m.key_id, e.msg);
            warn("%s: record %lld: key_id %llu: %s (skipped)", pos.file, idx, (unsigned long long)m.key_id, e.msg);
            (*nskipped)++;
            continue;
        }
        progress_tick(prog, ++*ngood);
    }
    buf_free(&line);
    sketch_free(&s);
    drawing_free(&d);
    in_close(in);
}

static int by_seq(const void *a, const void *b) {
    long long x = ((const slot_t *)a)->seq, y = ((const slot_t *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Write the sampled records (of every reservoir) in input order and free
 * the reservoirs. */
static void sample_flush(ctx_t *c) {
    size_t n = 0;
    for (int i = 0; i < c->nres; i++) n += (size_t)(c->res[i].nmatch < c->sample ? c->res[i].nmatch : c->sample);
    slot_t *all = xmalloc(sizeof *all * (n ? n : 1));
    n = 0;
    for (int i = 0; i < c->nres; i++) {
        reservoir_t *r = &c->res[i];
        int m = r->nmatch < c->sample ? (int)r->nmatch : c->sample;
        memcpy(all + n, r->slots, sizeof *all * (size_t)m);
        n += (size_t)m;
        for (int j = m; j < r->nslots; j++) free(r->slots[j].line);
        free(r->slots);
        free(r->word);
    }
    qsort(all, n, sizeof *all, by_seq);
    for (size_t i = 0; i < n; i++) emit(all[i].line, all[i].len);
    for (size_t i = 0; i < n; i++) free(all[i].line);
    free(all);
    free(c->res);
    c->res = NULL;
    c->nres = 0;
}

enum { FMT_AUTO, FMT_NDJSON, FMT_BIN }; /* --format, in the order of its choices */

static int is_bin(const char *f, int fmt) {
    return fmt == FMT_BIN || (fmt == FMT_AUTO && strcmp(f, "-") && qdbin_is_bin_name(f));
}

/* Runs of ndjson files go through records_run (which shows its own
 * progress), each .bin file through run_bin, counted by prog. */
static void run_files(const strlist_t *files, int fmt, const char *bin_word, int keep_going, int progress, ctx_t *c) {
    records_opts_t ro = {keep_going, progress};
    long long nskipped = 0, ngood = 0;
    int any_bin = 0;
    for (int i = 0; i < files->n; i++) any_bin |= is_bin(files->v[i], fmt);
    progress_t prog;
    progress_init(&prog, "records", 0, progress);
    for (int i = 0; i < files->n && !limit_reached(c);) {
        if (is_bin(files->v[i], fmt)) {
            run_bin(files->v[i++], bin_word, &ro, c, &nskipped, &prog, &ngood);
            continue;
        }
        strlist_t run = {0};
        while (i < files->n && !is_bin(files->v[i], fmt)) strlist_push(&run, files->v[i++]);
        records_run_screened(&run, &ro, c->screen ? screen : NULL, one_record, c);
        strlist_free(&run);
    }
    if (any_bin) progress_done(&prog);
    if (nskipped) warn("skipped %lld bad record%s", nskipped, nskipped == 1 ? "" : "s");
}

/* Levenshtein distance of a and b, ASCII case-insensitively. */
static int edit_distance(const char *a, const char *b) {
    size_t n = strlen(b);
    int *row = xmalloc(sizeof *row * (n + 1));
    for (size_t j = 0; j <= n; j++) row[j] = (int)j;
    for (size_t i = 1; a[i - 1]; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= n; j++) {
            int up = row[j];
            int sub = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            int best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    int d = row[n];
    free(row);
    return d;
}

/* How near word w of the input is to the wanted q: 0 when one contains the
 * other (case-insensitively), else 1 + the edit distance. */
static int nearness(const char *q, const char *w) {
    if (strcasestr(w, q) || strcasestr(q, w)) return 0;
    return 1 + edit_distance(q, w);
}

typedef struct { const char *w; int d; } near_t;
static int by_near(const void *a, const void *b) {
    const near_t *x = a, *y = b;
    return x->d != y->d ? (x->d > y->d) - (x->d < y->d) : strcmp(x->w, y->w);
}

/* The end of a run that read all its input: warn about --word values no
 * record had (with the nearest words of the input) and about filters that
 * matched nothing.  Returns the exit code. */
static int report_unmatched(const ctx_t *c) {
    int nmissing = 0;
    for (int i = 0; i < c->words.n; i++) {
        if (c->wfound[i]) continue;
        nmissing++;
        near_t *v = xmalloc(sizeof *v * (c->vocab.n + 1));
        size_t n = 0;
        for (size_t k = 0; k < c->vocab.cap; k++)
            if (c->vocab.slot && c->vocab.slot[k]) {
                v[n].w = c->vocab.slot[k];
                v[n].d = nearness(c->words.v[i], v[n].w);
                n++;
            }
        qsort(v, n, sizeof *v, by_near);
        buf_t b = {0};
        for (size_t k = 0; k < n && k < 5; k++) buf_printf(&b, "%s\"%s\"", k ? ", " : "", v[k].w);
        if (n)
            warn("--word %s: no record of the input has this word; the nearest of its %zu word%s: %s", c->words.v[i],
                 n, n == 1 ? "" : "s", b.s);
        else
            warn("--word %s: no record of the input has this word (the input has no words)", c->words.v[i]);
        buf_free(&b);
        free(v);
    }
    if (c->nmatched) return EXIT_OK;
    if (nmissing == c->words.n && nmissing) {
        warn("nothing written: no record has the word%s asked for (exit %d)", nmissing == 1 ? "" : "s", EXIT_USAGE);
        return EXIT_USAGE;
    }
    if (c->words.n || c->use_want || c->countries.n || c->recognized >= 0 || c->drop.n)
        warn("no record passed the filters: nothing written");
    return EXIT_OK;
}

int main(int argc, char **argv) {
    util_init(argv[0]);
    strlist_t files = {0}, words = {0}, countries = {0}, keys = {0};
    const char *bin_word = NULL, *key_file = NULL, *exclude_key_file = NULL;
    int recognized = -1, fmt = FMT_AUTO; /* recognized: -1 any, else the index in "false|true" */
    int limit = 0, sample = 0, seed = 1, simplify = 0, keep_going = 0, progress = 0, prefilter = 0, per_word = 0;
    int no_prefilter = 0;
    double fit = 0, pad = 10;
    const opt_t opts[] = {
        {"word", 'w', OPT_LIST, &words, "W[,W..]", "keep records of these words (repeatable)", OPT_NORANGE},
        {"recognized", 0, OPT_ENUM, &recognized, "false|true",
         "keep records whose \"recognized\" is this (records without the field never match)", OPT_NORANGE},
        {"country", 'c', OPT_LIST, &countries, "CC[,CC..]", "keep records from these countrycodes (repeatable)",
         OPT_NORANGE},
        {"key", 0, OPT_LIST, &keys, "K[,K..]", "keep records with these key_ids (repeatable)", OPT_NORANGE},
        {"key-file", 0, OPT_STR, &key_file, "FILE",
         "keep records whose key_id is listed in FILE (one a line; with --key: either)", OPT_NORANGE},
        {"exclude-key-file", 0, OPT_STR, &exclude_key_file, "FILE",
         "drop records whose key_id is listed in FILE (one a line)", OPT_NORANGE},
        {"limit", 'n', OPT_INT, &limit, "N", "stop after N output records, 0 = all", 0, 2147483647},
        {"sample", 0, OPT_INT, &sample, "N",
         "keep a uniform random sample of N matching records (output in input order), 0 = off", 0, 100000000},
        {"seed", 's', OPT_INT, &seed, "S", "random seed for --sample", 0, 2147483647},
        {"per-word", 0, OPT_FLAG, &per_word, NULL,
         "with --sample: a sample of N for each word, each the one --sample N --word W would keep", OPT_NORANGE},
        {"simplify", 0, OPT_FLAG, &simplify, NULL,
         "rewrite drawings with Google's simplification (0..255 integers, 1 px resampling, RDP 2.0)", OPT_NORANGE},
        {"fit", 0, OPT_DOUBLE, &fit, "SIZE",
         "fit each drawing's bounding box into a SIZE x SIZE canvas (centred) and add \"canvas\"; 0 = off", 0, 1e6},
        {"pad", 0, OPT_DOUBLE, &pad, "P", "margin in pixels for --fit", 0, 1e6},
        {"format", 'f', OPT_ENUM, &fmt, "auto|ndjson|bin",
         "input format; auto = bin for names ending .bin or .bin.gz, else ndjson", OPT_NORANGE},
        {"bin-word", 0, OPT_STR, &bin_word, "W", "word for .bin records (default: the file name minus .bin/.bin.gz)",
         OPT_NORANGE},
        OPT_KEEP_GOING(&keep_going),
        {"no-prefilter", 0, OPT_FLAG, &no_prefilter, NULL,
         "parse and validate every ndjson line, also those a byte search shows cannot pass "
         "--word/--key/--country (by default they are skipped unparsed; the output is the same)",
         OPT_NORANGE},
        {"prefilter", 0, OPT_FLAG, &prefilter, NULL, "the default (kept for old scripts)", OPT_NORANGE},
        OPT_PROGRESS(&progress),
        {0},
    };
    const optspec_t spec = {
        "[options] [FILE...]",
        "Extract QuickDraw drawings as sketch NDJSON. Reads raw or simplified QuickDraw ndjson (plain or .gz) and "
        "Google's binary .bin files (plain or .gz) from FILEs or stdin ('-'; stdin is ndjson unless --format bin). "
        "Keeps the records that pass every filter; list filters match any of their values. Fields the tool does "
        "not rewrite pass through unchanged; time arrays are kept unless --simplify or --fit rewrites the drawing. "
        "--simplify then --fit when both are given.",
        opts,
        "A .bin record becomes {\"word\",\"countrycode\",\"timestamp\":\"YYYY-MM-DD HH:MM:SS UTC\",\"recognized\","
        "\"key_id\":\"<decimal>\",\"drawing\"}.\n"
        "A truncated .bin record is an error (exit 1) even with --keep-going: the format has no record\n"
        "boundaries, so nothing after it can be read.\n"
        "With --word, --key or --country, a line is skipped unparsed when a byte search proves it cannot match\n"
        "(its \"word\" / \"key_id\" literals are none of the wanted ones, no country literal is in it); lines\n"
        "with escapes and lines not shaped like {...} are always parsed.  The output is the same as with\n"
        "--no-prefilter; only a malformed record of another word inside a {...} line then goes unreported.\n"
        "--word matches ASCII letters case-insensitively (--word Fish keeps \"fish\").  When the input was read\n"
        "to its end and a --word value is no record's word, qd-extract warns and names the nearest words of\n"
        "the input; if nothing was written at all because of that, it exits 2 (usage).  Filters that match\n"
        "nothing for other reasons (--recognized, --country, key lists) warn and exit 0.\n"
        "--sample keeps N serialised records in memory (O(N), whatever the input size; N per word with\n"
        "--per-word) and writes them in input order at the end; --limit cannot be combined with it.\n"
        "Key files (--key-file, --exclude-key-file): one key_id a line, plain or .gz; blanks around it, empty\n"
        "lines and lines starting with '#' are ignored; a line with anything else is exit 1 naming FILE:LINE,\n"
        "an unreadable file exit 3.  --key and --key-file together keep a record listed in either; an\n"
        "excluded key_id is dropped even when wanted.  Lookups are hashed: 13k keys cost nothing per record.\n\n"
        "Examples:\n"
        "  qd-extract --word fish --limit 8 data/quickdraw/raw/fish.ndjson.gz\n"
        "  qd-extract --recognized true --sample 100 --seed 7 --fit 224 data/quickdraw/all-words.ndjson.gz\n"
        "  qd-extract --simplify data/quickdraw/raw/cat.ndjson.gz > cat.simplified.ndjson\n"
        "  qd-extract --key-file data/quickdraw/val-keys.txt data/quickdraw/simplified/*.ndjson.gz\n"
        "  qd-extract --exclude-key-file data/quickdraw/val-keys.txt --sample 100 --per-word \\\n"
        "    data/quickdraw/simplified/*.ndjson.gz\n"
        "  zcat cat.bin.gz | qd-extract --format bin --bin-word cat --country US,GB -"};
    opt_parse(&spec, argc, argv, &files);

    ctx_t c = {0};
    strlist_split(&words, ',', &c.words);
    strlist_split(&countries, ',', &c.countries);
    strlist_t klist = {0};
    strlist_split(&keys, ',', &klist);
    for (int i = 0; i < klist.n; i++) strset_add(&c.want, klist.v[i]);
    c.use_want = klist.n > 0;
    strlist_free_items(&klist);
    if (files.n == 0) strlist_push(&files, "-");
    int stdin_keys = (key_file && !strcmp(key_file, "-")) + (exclude_key_file && !strcmp(exclude_key_file, "-"));
    for (int i = 0; i < files.n; i++) stdin_keys += !strcmp(files.v[i], "-");
    if (stdin_keys > 1) die(EXIT_USAGE, "only one of the key files and the records can be read from stdin ('-')");
    if (key_file) {
        if (!read_key_file("--key-file", key_file, &c.want))
            warn("--key-file %s lists no key_id: nothing matches", key_file);
        c.use_want = 1;
    }
    if (exclude_key_file && !read_key_file("--exclude-key-file", exclude_key_file, &c.drop))
        warn("--exclude-key-file %s lists no key_id: it drops nothing", exclude_key_file);
    quote_list(&c.countries, &c.ncountries);
    (void)prefilter;
    c.screen = !no_prefilter && (c.words.n || c.use_want || c.countries.n);
    c.wfound = xcalloc((size_t)c.words.n + 1, 1);
    c.recognized = recognized;
    if (limit && sample) die(EXIT_USAGE, "--limit and --sample cannot be combined");
    c.limit = limit;
    c.sample = sample;
    if (per_word && !sample) die(EXIT_USAGE, "--per-word needs --sample N");
    c.per_word = per_word;
    c.seed = (uint64_t)seed;
    if (sample && !per_word) {
        c.res = xcalloc(1, sizeof *c.res);
        c.nres = c.capres = 1;
        rng_seed(&c.res[0].rng, c.seed);
    }
    c.simplify = simplify;
    c.fit = fit;
    c.pad = pad;
    if (fit > 0 && 2 * pad >= fit) die(EXIT_USAGE, "--pad %g leaves no room in a %g canvas", pad, fit);
    buf_t cv = {0};
    buf_puts(&cv, "{\"width\":");
    buf_num(&cv, fit, 6);
    buf_puts(&cv, ",\"height\":");
    buf_num(&cv, fit, 6);
    buf_puts(&cv, "}");
    c.canvas = cv.s;
    drawing_init(&c.tmp);

    run_files(&files, fmt, bin_word, keep_going, progress, &c);
    if (c.sample) sample_flush(&c);
    int rc = limit_reached(&c) ? 0 : report_unmatched(&c);
    strlist_free_items(&c.words);
    strlist_free_items(&c.countries);
    strset_free(&c.want);
    strset_free(&c.drop);
    free(c.wfound);
    free(c.last_vocab);
    strset_free(&c.vocab);
    strlist_free_items(&c.ncountries);
    strlist_free(&words);
    strlist_free(&countries);
    strlist_free(&keys);
    strlist_free(&files);
    drawing_free(&c.tmp);
    simplify_ws_free(&c.ws);
    buf_free(&c.out);
    buf_free(&c.json);
    free(c.canvas);
    close_stdout();
    return rc;
}
