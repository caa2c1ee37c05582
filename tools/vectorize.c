/* vectorize - PNG stream -> sketch NDJSON: strokes back from pictures.
 *
 * Reads PNG streams (stdin or files, .gz transparent; as rasterize writes
 * them, or any PNG) and turns each image into one sketch record: binarise
 * (ink = grey below --threshold of white), despeckle, thin to a one-pixel
 * skeleton (Guo-Hall), trace it into polylines joined at junctions, drop
 * spurs shorter than --min-length, simplify with Ramer-Douglas-Peucker
 * (--epsilon pixels); common/vectorize.h has the details.  The record is
 *   {"key_id":..,"word":..,<every other text chunk, as a string>,
 *    "drawing":[[[x..],[y..]],..],"canvas":{"width":W,"height":H}}
 * in the image's pixel frame, so `rasterize --size W` draws it back in
 * place and every record tool reads it.  Text chunks named drawing, canvas
 * (or vectorize, with --stats) are not copied: those fields are ours.
 *
 * An image with no ink (after despeckle) gives no drawing and is an error
 * (exit 1) unless --keep-going skips it; a damaged PNG stops the run (exit
 * 1; the records before it are already written); an image larger than
 * --max-pixels is refused (exit 1).  One thread; no allocation per image
 * once the workspace has grown to the largest image.
 */
#include "cli.h"
#include "png_io.h"
#include "sketch.h"
#include "util.h"
#include "vectorize.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    vec_opts_t vo;
    int keep_going, progress, stats;
    int max_pixels;
} opts_t;

typedef struct {
    const opts_t *o;
    vec_ws_t ws;
    drawing_t d;
    image_t im;
    pngtext_t text;
    buf_t out;
    progress_t prog;
    long nimages, nwritten, nskipped;
} ctx_t;

static int ours(const char *key, int stats) {
    return !strcmp(key, "drawing") || !strcmp(key, "canvas") || (stats && !strcmp(key, "vectorize"));
}

/* One image -> one record on stdout; EXIT_DATA with e filled when it has no ink. */
static int one(ctx_t *c, const char *file, long index, err_t *e) {
    const opts_t *o = c->o;
    vec_stats_t st;
    int rc = vectorize_image(&c->ws, &c->im, &o->vo, &c->d, &st, e);
    const char *kid = pngtext_get(&c->text, "key_id");
    if (!rc && !c->d.nstrokes)
        rc = err_set(e, EXIT_DATA, "no ink: no pixel darker than --threshold %g of white%s", o->vo.threshold,
                     st.speckles ? " outside specks smaller than --despeckle" : "");
    if (rc) {
        if (kid) err_prefix(e, "%s: image %ld (key_id %s)", file, index, kid);
        else err_prefix(e, "%s: image %ld", file, index);
        return rc;
    }
    buf_t *b = &c->out;
    b->len = 0;
    buf_puts(b, "{");
    int first = 1;
    if (kid) {
        buf_puts(b, "\"key_id\":");
        buf_jstr(b, kid);
        first = 0;
    }
    for (int i = 0; i < c->text.n; i++) {
        const char *k = c->text.key[i];
        if (!strcmp(k, "key_id") || ours(k, o->stats)) continue;
        buf_puts(b, first ? "" : ",");
        first = 0;
        buf_jstr(b, k);
        buf_puts(b, ":");
        buf_jstr(b, c->text.val[i]);
    }
    buf_puts(b, first ? "\"drawing\":" : ",\"drawing\":");
    drawing_to_json(b, &c->d, 2, 0);
    buf_printf(b, ",\"canvas\":{\"width\":%d,\"height\":%d}", c->im.w, c->im.h);
    if (o->stats)
        buf_printf(b,
                   ",\"vectorize\":{\"ink\":%ld,\"speckles\":%ld,\"skeleton\":%ld,\"ends\":%ld,\"junctions\":%ld,"
                   "\"paths\":%ld,\"spurs\":%ld,\"strokes\":%ld,\"points\":%ld}",
                   st.ink, st.speckles, st.skeleton, st.ends, st.junctions, st.paths, st.spurs, st.strokes, st.points);
    buf_puts(b, "}\n");
    fwrite(b->s, 1, b->len, stdout);
    fflush(stdout);
    c->nwritten++;
    return 0;
}

static void read_input(ctx_t *c, const char *path) {
    err_t e = {0};
    pngstream_t *ps = pngs_open(path, &e);
    if (!ps) die_err(&e);
    pngs_set_max_pixels(ps, c->o->max_pixels);
    int r;
    long got = 0;
    while ((r = pngs_next(ps, &c->im, &c->text, &e)) == 1) {
        got++;
        c->nimages++;
        if (one(c, pngs_name(ps), pngs_index(ps), &e)) {
            if (!c->o->keep_going) die_err(&e);
            warn("%s (skipped)", e.msg);
            c->nskipped++;
        }
        progress_tick(&c->prog, c->nimages);
    }
    /* a damaged stream cannot be resynchronised: the records before it stay */
    if (r < 0) die_err(&e);
    /* a named file was meant to hold an image; an empty stdin is an empty stream */
    if (!got && strcmp(path, "-")) die(EXIT_DATA, "%s: no image in the file (empty, or not a PNG)", path);
    pngs_close(ps);
}

int main(int argc, char **argv) {
    util_init(argv[0]);
    opts_t o = {.max_pixels = 4096 * 4096};
    vec_opts_default(&o.vo);
    const opt_t table[] = {
        {"threshold", 't', OPT_DOUBLE, &o.vo.threshold, "T", "ink is grey below T of white (0 < T <= 1)", 1e-6, 1},
        {"despeckle", 0, OPT_INT, &o.vo.despeckle, "K", "remove ink specks of fewer than K pixels (0: off)", 0,
         1e9},
        {"min-length", 'l', OPT_DOUBLE, &o.vo.min_length, "PX",
         "drop spurs (branches from a junction to a free end) shorter than PX pixels (0: keep all)", 0, 1e6},
        {"epsilon", 'e', OPT_DOUBLE, &o.vo.epsilon, "PX",
         "Ramer-Douglas-Peucker tolerance in pixels (0: keep every skeleton pixel)", 0, 1e6},
        {"join-angle", 0, OPT_DOUBLE, &o.vo.join_angle, "DEG",
         "join two branches through a junction when they deviate from straight by less (0: never)", 0, 90},
        {"merge", 0, OPT_DOUBLE, &o.vo.merge_dist, "PX", "merge junctions closer than PX pixels along the skeleton",
         0, 1e6},
        {"max-pixels", 0, OPT_INT, &o.max_pixels, "N", "refuse images of more than N pixels (memory: ~16 bytes each)",
         1, (double)PNGIO_MAX_PIXELS},
        {"stats", 0, OPT_FLAG, &o.stats, NULL, "add a \"vectorize\" field: ink, skeleton, junction, spur counts",
         OPT_NORANGE},
        {"keep-going", 'k', OPT_FLAG, &o.keep_going, NULL,
         "skip images with no ink (reported on stderr, counted) instead of stopping", OPT_NORANGE},
        OPT_PROGRESS(&o.progress),
        {0},
    };
    const optspec_t spec = {
        .usage = "[options] [FILE...]",
        .summary = "Turn pictures back into strokes: each image of the PNG streams (stdin or FILEs, .gz ok) is\n"
                   "binarised, thinned to a one-pixel skeleton (Guo-Hall), traced into polylines joined at\n"
                   "junctions, cleared of short spurs and simplified (Ramer-Douglas-Peucker); one sketch NDJSON\n"
                   "record per image on stdout, in the image's pixel frame (\"canvas\"), with the image's text\n"
                   "chunks (key_id, word, ...) as fields.",
        .opts = table,
        .epilog = "Examples:\n"
                  "  rasterize --width 3 < fish.ndjson | vectorize > fish.vec.ndjson\n"
                  "  vectorize --epsilon 1.5 --min-length 8 enhanced.pngs | rasterize --out outputs/back\n"
                  "An image with no ink is exit 1 (--keep-going skips it); so is a truncated or corrupt PNG\n"
                  "(the records before it are kept) and an image over --max-pixels (default 4096 x 4096).",
    };
    strlist_t files = {0};
    opt_parse(&spec, argc, argv, &files);
    ctx_t c = {.o = &o};
    drawing_init(&c.d);
    progress_init(&c.prog, "images", 0, o.progress);
    if (!files.n) read_input(&c, "-");
    for (int i = 0; i < files.n; i++) read_input(&c, files.v[i]);
    progress_done(&c.prog);
    if (c.nskipped) warn("skipped %ld image%s with no ink", c.nskipped, c.nskipped == 1 ? "" : "s");
    drawing_free(&c.d);
    image_free(&c.im);
    pngtext_free(&c.text);
    buf_free(&c.out);
    vec_ws_free(&c.ws);
    strlist_free(&files);
    close_stdout();
    return 0;
}
