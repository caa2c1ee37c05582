/* records.c - see records.h. */
#include "records.h"
#include <string.h>
#include "input.h"

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
        if (!in) die_err(&e);
        pos.file = in_name(in);
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
                if (!o->keep_going || rc == EXIT_IO || rc == EXIT_INTERNAL)
                    die(rc, "%s:%lld: %s", pos.file, pos.line, e.msg);
                warn("%s:%lld: %s (skipped)", pos.file, pos.line, e.msg);
                pos.nskipped++;
                continue;
            }
            pos.nread++;
            progress_tick(&prog, pos.nread);
        }
        if (!pos.stop && r < 0) die(e.code, "%s", e.msg);
        in_close(in);
    }
    sketch_free(&s);
    progress_done(&prog);
    if (pos.nskipped) warn("skipped %lld bad record%s", pos.nskipped, pos.nskipped == 1 ? "" : "s");
    return pos.nread;
}
