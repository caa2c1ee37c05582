/* records.c - see records.h. */
#include "records.h"
#include <string.h>
#include "input.h"

static void (*on_stop_fn)(buf_t *b, void *ctx);
static void *on_stop_ctx;

void records_on_stop(void (*fn)(buf_t *b, void *ctx), void *ctx) {
    on_stop_fn = fn;
    on_stop_ctx = ctx;
}

/* Die with code and the message, ended by the tool's on_stop note. */
static void stop(const records_opts_t *o, void *ctx, int code, const char *msg) {
    (void)o;
    (void)ctx;
    buf_t b = {0};
    buf_puts(&b, msg);
    if (on_stop_fn) on_stop_fn(&b, on_stop_ctx);
    die(code, "%s", b.s);
}

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

long long records_run(const strlist_t *files, const records_opts_t *o, records_fn fn, void *ctx) {
    return records_run_screened(files, o, NULL, fn, ctx);
}

long long records_run_screened(const strlist_t *files, const records_opts_t *o, records_screen_fn screen,
                               records_fn fn, void *ctx) {
    static const char *stdin_only[] = {"-"};
    strlist_t def = {stdin_only, 1, 1};
    if (!files || files->n == 0) files = &def;
    records_pos_t pos = {0};
    progress_t prog;
    progress_init(&prog, "records", 0, o->progress);
    sketch_t s;
    sketch_init(&s);
    for (int fi = 0; fi < files->n && !pos.stop; fi++) {
        err_t e = {0};
        input_t *in = in_open(files->v[fi], &e);
        if (!in) stop(o, ctx, e.code, e.msg);
        pos.file = in_name(in);
        /* a picture, a model or a compressed file given where records are
         * expected: say what it is, not "invalid UTF-8 at byte 1" */
        const char *what, *hint;
        int sn = in_sniff(in, &what, &hint, &e);
        if (sn < 0) stop(o, ctx, e.code, e.msg);
        if (sn) {
            buf_t m = {0};
            buf_printf(&m, "%s: this looks like %s, not sketch NDJSON (one JSON record a line): %s", pos.file, what,
                       hint);
            stop(o, ctx, EXIT_DATA, m.s);
        }
        char *line;
        size_t len;
        int r = 0;
        while (!pos.stop && (r = in_getline(in, &line, &len, &e)) == 1) {
            pos.line = in_lineno(in);
            if (blank(line, len)) continue;
            if (screen && !screen(line, len, ctx)) continue;
            int rc = sketch_parse(&s, line, len, &e);
            if (!rc) rc = fn(&s, &pos, ctx, &e);
            if (rc) {
                if (!o->keep_going || rc == EXIT_IO || rc == EXIT_INTERNAL) {
                    buf_t m = {0};
                    buf_printf(&m, "%s:%lld: %s", pos.file, pos.line, e.msg);
                    stop(o, ctx, rc, m.s);
                }
                warn("%s:%lld: %s (skipped)", pos.file, pos.line, e.msg);
                pos.nskipped++;
                continue;
            }
            pos.nread++;
            progress_tick(&prog, pos.nread);
        }
        if (!pos.stop && r < 0) stop(o, ctx, e.code, e.msg);
        in_close(in);
    }
    sketch_free(&s);
    progress_done(&prog);
    if (pos.nskipped) warn("skipped %lld bad record%s", pos.nskipped, pos.nskipped == 1 ? "" : "s");
    return pos.nread;
}
