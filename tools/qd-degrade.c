/* qd-degrade.c - sketch NDJSON -> sketch NDJSON with a degraded "drawing".
 *
 * For each record the clean drawing is copied byte for byte to "target", the
 * drawing is degraded by the plan (--degrade steps in order, then one --mix
 * entry picked uniformly; by default the study's mix of noise, simplify and
 * jitter) and written back with 3 decimals, and "degradations" lists what was
 * applied with every drawn value.  A record that already has a "target" keeps
 * it, is degraded further from its current drawing, and gets the new steps
 * appended to its "degradations".  Every other field passes through.  Random
 * draws come from rng_seed2(--seed, hash(key_id)) (a hash of the drawing's
 * JSON text when there is no key_id), so a record's output does not depend on
 * its position in the stream.  It does not render, normalise or filter: see qd-extract, rasterize.
 */
#include <stdlib.h>
#include <string.h>
#include "degrade.h"
#include "cli.h"
#include "records.h"
#include "rng.h"
#include "util.h"

#define STUDY_MIX "noise:level=3..10;simplify:keep=0.3..0.7;jitter:amount=2..8"

typedef struct {
    degrade_plan_t plan;
    uint64_t seed;
    int rel;
    buf_t out, json;
} ctx_t;

static int degrade_record(sketch_t *s, records_pos_t *pos, void *vctx, err_t *e) {
    ctx_t *c = vctx;
    const char *src = sketch_has(s, "drawing") ? "drawing" : "strokes"; /* sketch_parse accepts the alias */
    const char *p;
    size_t n;
    if (!sketch_has(s, "target") && sketch_raw(s, src, &p, &n)) {
        char *t = xmalloc(n + 1);
        memcpy(t, p, n);
        t[n] = 0;
        sketch_set_raw(s, "target", t);
        free(t);
    }
    /* new steps go after those of an earlier pass */
    buf_t *j = &c->json;
    j->len = 0;
    buf_puts(j, "[");
    const cJSON *old = sketch_get(s, "degradations");
    if (cJSON_IsArray(old) && cJSON_GetArraySize(old) > 0 && sketch_raw(s, "degradations", &p, &n)) {
        const char *close = p + n - 1;
        while (close > p && *close != ']') close--;
        while (close > p + 1 && (close[-1] == ' ' || close[-1] == '\t')) close--;
        buf_put(j, p + 1, (size_t)(close - p - 1));
    }
    size_t old_end = j->len;
    if (old_end > 1) buf_puts(j, ","); /* taken back below if no step is applied */
    size_t new_start = j->len;
    /* never the input position: a sharded stream must give the same bytes */
    uint64_t stream = 1469598103934665603ull;
    if (s->key_id[0]) stream = hash_str(s->key_id);
    else if (sketch_raw(s, src, &p, &n))
        for (size_t i = 0; i < n; i++) stream = (stream ^ (unsigned char)p[i]) * 1099511628211ull;
    rng_t r;
    rng_seed2(&r, c->seed, stream);
    double unit = c->rel ? degrade_rel_unit(&s->drawing) : 1;
    err_t de = {0};
    int rc = degrade_plan_run(&c->plan, &s->drawing, unit, &r, j, &de);
    if (rc) return err_set(e, rc, "%s: %s", sketch_label(s), de.msg);
    if (j->len == new_start) j->len = old_end;
    buf_puts(j, "]");
    sketch_set_drawing(s, "drawing", &s->drawing, 3, 1);
    if (strcmp(src, "drawing")) sketch_remove(s, src);
    sketch_set_raw(s, "degradations", j->s);
    c->out.len = 0;
    sketch_write(s, &c->out);
    if (fwrite(c->out.s, 1, c->out.len, stdout) != c->out.len || fflush(stdout))
        return err_set(e, EXIT_IO, "writing stdout failed");
    return 0;
}

int main(int argc, char **argv) {
    util_init(argv[0]);
    strlist_t degrade = {0}, mix = {0}, files = {0};
    int seed = 0, list = 0, list_json = 0, keep_going = 0, progress = 0;
    int units = 0; /* index in "abs|rel" */
    const opt_t opts[] = {
        {"degrade", 'd', OPT_LIST, &degrade, "SPEC",
         "apply NAME[:key=value,...] (repeatable, in order; '+' joins steps; a value may be a range lo..hi)", OPT_NORANGE},
        {"mix", 'm', OPT_LIST, &mix, "SPEC;SPEC...",
         "then apply ONE of these specs, picked uniformly per record (repeatable)", OPT_NORANGE},
        {"seed", 's', OPT_INT, &seed, "S", "random seed", 0, 2147483647},
        {"units", 'u', OPT_ENUM, &units, "abs|rel",
         "lengths in drawing units (abs) or in a 0..255 frame fitted to each drawing's bounding box (rel)", OPT_NORANGE},
        {"list", 0, OPT_FLAG, &list, NULL, "list the degradations and their parameters, then exit", OPT_NORANGE},
        {"list-json", 0, OPT_FLAG, &list_json, NULL, "the same as NDJSON, one degradation a line", OPT_NORANGE},
        OPT_KEEP_GOING(&keep_going),
        OPT_PROGRESS(&progress),
        {0},
    };
    buf_t epi = {0};
    buf_puts(&epi,
             "Without --degrade or --mix the study's mix is used: --mix '" STUDY_MIX "'.\n"
             "A record that already has \"target\" keeps it and gets the new steps appended to \"degradations\".\n\n"
             "Examples:\n"
             "  qd-degrade --seed 1 data/quickdraw/simplified/fish.ndjson.gz > pairs.ndjson\n"
             "  qd-degrade -d noise:level=3..10 -d dropout:p=0.1 fish.ndjson\n"
             "  qd-degrade --mix 'tremor:amplitude=1..3+overshoot:amount=-0.2..0.3;elastic:amplitude=4..10' fish.ndjson\n"
             "  qd-extract --word cat cat.ndjson.gz | qd-degrade --units rel -d affine:rotate=10 | rasterize ...\n\n"
             "Degradations (lengths in drawing units; see docs/degradations.md):\n");
    degrade_list_text(&epi);
    const optspec_t spec = {
        "[options] [FILE...]",
        "Degrade sketch records: \"drawing\" becomes a degraded copy, \"target\" keeps the clean drawing, "
        "\"degradations\" records what was applied with every drawn value. Reads FILEs (.gz ok) or stdin.",
        opts, epi.s};
    opt_parse(&spec, argc, argv, &files);
    if (list || list_json) {
        buf_t b = {0};
        (list_json ? degrade_list_json : degrade_list_text)(&b);
        fwrite(b.s, 1, b.len, stdout);
        buf_free(&b);
        buf_free(&epi);
        close_stdout();
        return EXIT_OK;
    }
    ctx_t c = {0};
    degrade_plan_init(&c.plan);
    c.seed = (uint64_t)seed;
    c.rel = units == 1;
    err_t e = {0};
    for (int i = 0; i < degrade.n; i++)
        if (degrade_plan_add_fixed(&c.plan, degrade.v[i], &e)) die(e.code, "--degrade %s", e.msg);
    for (int i = 0; i < mix.n; i++)
        if (degrade_plan_add_mix(&c.plan, mix.v[i], &e)) die(e.code, "--mix %s", e.msg);
    if (!degrade.n && !mix.n && degrade_plan_add_mix(&c.plan, STUDY_MIX, &e)) die_err(&e);
    records_opts_t ro = {keep_going, progress};
    records_run(&files, &ro, degrade_record, &c);
    degrade_plan_free(&c.plan);
    buf_free(&c.out);
    buf_free(&c.json);
    buf_free(&epi);
    strlist_free(&degrade);
    strlist_free(&mix);
    strlist_free(&files);
    close_stdout();
    return EXIT_OK;
}
