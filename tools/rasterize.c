/* rasterize - sketch NDJSON -> PNG stream (or one PNG file per record).
 *
 * Reads sketch records (stdin or files, .gz transparent) and renders one
 * field (default "drawing"; "target" renders the clean half of a qd-degrade
 * pair) as black ink on white, size x size, grey or RGB.  Frame: a record with
 * a "canvas" ({"width":W,"height":H}) is already in pixels and is stretched
 * W x H -> size x size; otherwise the field's bounding box is fitted with the
 * study's formula (docs/study.md 1.3, pad pixels of margin).  Every
 * image carries text chunks key_id, word, field, file and line, so a PNG
 * stream can be joined back to its records.  Output is a PNG stream on stdout
 * (refused when stdout is a terminal) or, with --out DIR, DIR/<key_id>.png
 * (line<N>.png without a key_id), each written atomically; DIR is made when
 * the first file is written, and an error that stops the run says how many
 * files it holds.  --svg DIR writes DIR/<key_id>.svg instead (common/svg.h:
 * one path per stroke, the frame as viewBox; with --out too, both), stroke
 * colour from --colour.
 *
 * Pixels come from a renderer plugin (--renderer, default softline; see
 * --list-plugins), or from the built-in anti-aliased line rasteriser
 * (common/raster.h) with --renderer builtin.  A plugin renders on one pool
 * of -j threads (default: every online core), created here and lent to it
 * through the host table's parallel_for.  It does not read PNGs.
 */
#include "cli.h"
#include "plugin_host.h"
#include "png_io.h"
#include "pool.h"
#include "raster.h"
#include "render.h"
#include "records.h"
#include "sketch.h"
#include "svg.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int size, rgb, keep_going, progress, threads;
    double width, pad;
    const char *field, *out, *renderer;
    const char *svg, *colour; /* --svg DIR, --colour C */
} opts_t;

typedef struct {
    const opts_t *o;
    raster_t r;
    render_t rp;      /* the renderer plugin, unless --renderer builtin */
    int use_plugin;
    float *paper; /* (size,size) 1 = white */
    image_t im;
    drawing_t field; /* the field when it is not "drawing" */
    pngtext_t text;
    buf_t path;
    strset_t written; /* --out: file names written so far */
    long long nfiles; /* --out: files written (the folder is made before the first) */
} ctx_t;

/* records_run's on_stop: an error names how much of --out DIR was written. */
static void out_note(buf_t *b, void *vc) {
    const ctx_t *c = vc;
    if (!c->o->out) return;
    if (c->nfiles)
        buf_printf(b, " (%lld file%s written to %s before the error)", c->nfiles, c->nfiles == 1 ? " was" : "s were",
                   c->o->out);
    else
        buf_printf(b, " (no file was written to %s)", c->o->out);
}

/* The one place pixels are made: drawing d in frame xf -> c->im. */
static int render(ctx_t *c, const drawing_t *d, const xform_t *xf, err_t *e) {
    if (c->use_plugin) {
        int rc = render_drawing(&c->rp, d, xf->sx, xf->sy, xf->ox, xf->oy, (float)c->o->width, c->o->size,
                                c->o->size, c->paper, e);
        if (rc) return rc;
    } else {
        raster_drawing(&c->r, c->paper, d, xf, c->o->width);
    }
    image_t *im = &c->im;
    size_t np = (size_t)im->w * (size_t)im->h;
    for (size_t i = 0; i < np; i++) {
        float v = c->paper[i];
        uint8_t g = (uint8_t)((v < 0 ? 0 : v > 1 ? 1 : v) * 255.0f + 0.5f);
        for (int k = 0; k < im->c; k++) im->px[i * (size_t)im->c + (size_t)k] = g;
    }
    return 0;
}

/* key_ids become file names: only [A-Za-z0-9._-], not starting with '.',
 * at most 250 bytes (with ".png", within NAME_MAX). */
static int safe_name(const char *s) {
    if (!s[0] || s[0] == '.' || strlen(s) > 250) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* --svg: DIR/<key_id>.svg (line<N>.svg without a key_id). */
static int write_svg(ctx_t *c, sketch_t *s, records_pos_t *pos, const drawing_t *d, const xform_t *xf, err_t *e) {
    const opts_t *o = c->o;
    c->path.len = 0;
    if (s->key_id[0] && !safe_name(s->key_id))
        return err_set(e, EXIT_DATA, "%s: key_id cannot be used as a file name", sketch_label(s));
    if (s->key_id[0]) buf_printf(&c->path, "%s/%s.svg", o->svg, s->key_id);
    else buf_printf(&c->path, "%s/line%lld.svg", o->svg, pos->line);
    if (!strset_add(&c->written, c->path.s))
        return err_set(e, EXIT_DATA, "%s: %s was already written by an earlier record of this run (duplicate key_id?)",
                       sketch_label(s), c->path.s);
    svg_opts_t so = {.size = o->size, .width = o->width, .colour = o->colour};
    return svg_save(c->path.s, d, xf, &so, s->word, s->key_id, e);
}

static int one(sketch_t *s, records_pos_t *pos, void *vc, err_t *e) {
    ctx_t *c = vc;
    const opts_t *o = c->o;
    const drawing_t *d = &s->drawing;
    if (strcmp(o->field, "drawing")) {
        int rc = sketch_get_drawing(s, o->field, &c->field, e);
        if (rc) return rc;
        d = &c->field;
    }
    xform_t xf;
    double cw, ch;
    if (sketch_canvas(s, &cw, &ch))
        xform_canvas(cw, ch, o->size, &xf);
    else
        xform_fit(d, o->size, o->pad, &xf);
    if (o->svg) {
        int rc = write_svg(c, s, pos, d, &xf, e);
        if (rc || !o->out) return rc; /* --svg alone: no pixels */
    }
    int rc = render(c, d, &xf, e);
    if (rc) return rc;

    char num[32];
    pngtext_clear(&c->text);
    if (s->key_id[0]) pngtext_set(&c->text, "key_id", s->key_id);
    if (s->word) pngtext_set(&c->text, "word", s->word);
    pngtext_set(&c->text, "field", o->field);
    pngtext_set(&c->text, "file", pos->file); /* a name that is not UTF-8 is repaired there */
    snprintf(num, sizeof num, "%lld", pos->line);
    pngtext_set(&c->text, "line", num);

    if (!o->out) {
        rc = pngio_write(stdout, "<stdout>", &c->im, &c->text, e);
        if (rc == EXIT_DATA) err_prefix(e, "%s", sketch_label(s));
        return rc;
    }
    c->path.len = 0;
    if (s->key_id[0]) {
        if (!safe_name(s->key_id))
            return err_set(e, EXIT_DATA, "%s: key_id cannot be used as a file name (only A-Z a-z 0-9 . _ -, "
                                         "not starting with '.', at most 250 bytes)", sketch_label(s));
        buf_printf(&c->path, "%s/%s.png", o->out, s->key_id);
    } else {
        buf_printf(&c->path, "%s/line%lld.png", o->out, pos->line);
    }
    /* Two records must never write one file: the second would silently
     * replace the first. */
    if (!strset_add(&c->written, c->path.s))
        return err_set(e, EXIT_DATA, "%s: %s was already written by an earlier record of this run (duplicate key_id?)",
                       sketch_label(s), c->path.s);
    if (!c->nfiles && (rc = mkdir_p(o->out, e))) return rc; /* made only when there is a file to put in it */
    if ((rc = pngio_save(c->path.s, &c->im, &c->text, e))) return rc;
    c->nfiles++;
    return 0;
}

int main(int argc, char **argv) {
    util_init(argv[0]);
    opts_t o = {.size = 224, .width = 2, .pad = 10, .field = "drawing", .renderer = "softline", .colour = "#000000"};
    int list_plugins = 0, plugins_json = 0;
    const char *help_plugin = NULL;
    const opt_t table[] = {
        {"size", 's', OPT_INT, &o.size, "N", "output image side in pixels", 8, 16384},
        {"width", 'w', OPT_DOUBLE, &o.width, "W", "line width in output pixels", 0, 1000},
        {"rgb", 0, OPT_FLAG, &o.rgb, NULL, "write RGB images (default grey)", OPT_NORANGE},
        {"pad", 0, OPT_DOUBLE, &o.pad, "P", "margin in pixels when fitting the bounding box", 0, 8192},
        {"field", 'f', OPT_STR, &o.field, "NAME", "the drawing-shaped field to render (e.g. target)",
         OPT_NORANGE},
        {"out", 'o', OPT_STR, &o.out, "DIR", "write DIR/<key_id>.png files instead of a PNG stream (DIR made at the first file)",
         OPT_NORANGE},
        {"svg", 0, OPT_STR, &o.svg, "DIR",
         "write DIR/<key_id>.svg (one path per stroke, the frame as viewBox) instead of PNGs (with --out: both)",
         OPT_NORANGE},
        {"colour", 0, OPT_STR, &o.colour, "C", "SVG stroke colour: #rgb, #rrggbb or a CSS name (default #000000)",
         OPT_NORANGE},
        {"renderer", 'r', OPT_STR, &o.renderer, "SPEC",
         "renderer plugin NAME[:key=value,...], or 'builtin' for the built-in rasteriser", OPT_NORANGE},
        {"list-plugins", 0, OPT_FLAG, &list_plugins, NULL, "list the renderer plugins found and exit", OPT_NORANGE},
        {"plugins-json", 0, OPT_FLAG, &plugins_json, NULL, "describe the renderer plugins as NDJSON and exit",
         OPT_NORANGE},
        {"help-plugin", 0, OPT_STR, &help_plugin, "NAME", "show a plugin's parameters and exit", OPT_NORANGE},
        {"threads", 'j', OPT_INT, &o.threads, "N", "threads for the renderer plugin (0: one per online core)", 0,
         POOL_MAX_THREADS},
        OPT_KEEP_GOING(&o.keep_going),
        OPT_PROGRESS(&o.progress),
        {0},
    };
    const optspec_t spec = {
        .usage = "[options] [FILE...]",
        .summary = "Render sketch NDJSON records (stdin or FILEs, .gz ok) as black-on-white anti-aliased\n"
                   "line drawings: a PNG stream on stdout, one PNG per record with text chunks key_id,\n"
                   "word, field, file and line; or one file per record with --out.  A record with a\n"
                   "\"canvas\" is stretched from its pixel frame; otherwise the bounding box is fitted\n"
                   "with the study's formula (margin --pad).",
        .opts = table,
        .epilog = "Examples:\n"
                  "  zcat data/quickdraw/simplified/fish.ndjson.gz | head -8 | rasterize --out outputs/fish\n"
                  "  qd-degrade < sketches.ndjson | rasterize --field target > clean.pngs\n"
                  "  optimize --loss clip-text:prompt=fish < fish.ndjson | rasterize --svg outputs/fish-svg\n"
                  "  rasterize --renderer bezier:max_error=2 --out outputs/fish-bezier < fish.ndjson\n"
                  "Plugins are looked up along $INVCLIP_PLUGIN_PATH, then in the build's plugins folder, then in\n"
                  "<prefix>/lib/invclip/plugins next to an installed binary; --help-plugin builtin describes the\n"
                  "built-in rasteriser.",
    };
    strlist_t files = {0};
    opt_parse(&spec, argc, argv, &files);
    err_t e = {0};
    if (help_plugin && !strcmp(help_plugin, "builtin")) { /* not a plugin, but a renderer --renderer accepts */
        printf("builtin (renderer built into rasterize, clip-train, sketch-score and unet-train) - "
               "anti-aliased polylines\n  compiled in (common/raster.c), no plugin file\n\n"
               "Strokes of --width pixels with round caps and joins; a pixel's ink is a 1-px box filter of its\n"
               "distance to the stroke, strokes composited multiplicatively.  Serial (no threads) and not\n"
               "differentiable (optimize needs a renderer plugin).\n\n"
               "Parameters: (none; --width, --size and --pad apply)\n");
        close_stdout();
        return 0;
    }
    int shown = plugin_cli(list_plugins, plugins_json, help_plugin, PLUGIN_RENDERER, stdout, &e);
    if (shown < 0) die_err(&e);
    if (shown) {
        close_stdout();
        return 0;
    }
    if (2 * o.pad >= o.size) die(EXIT_USAGE, "--pad %g leaves no room in a %d-pixel image", o.pad, o.size);
    if (!o.field[0]) die(EXIT_USAGE, "--field: empty name");
    if (!svg_colour_ok(o.colour)) die(EXIT_USAGE, "--colour '%s': not #rgb, #rrggbb or a colour name", o.colour);
    if (o.svg && !o.svg[0]) die(EXIT_USAGE, "--svg: empty directory name");
    if (o.svg && mkdir_p(o.svg, &e)) die_err(&e);
    if (!o.out && !o.svg && isatty(STDOUT_FILENO))
        die(EXIT_USAGE, "refusing to write binary PNG data to a terminal; use --out DIR or a pipe");
    ctx_t c = {.o = &o};
    c.use_plugin = strcmp(o.renderer, "builtin") != 0;
    pool_t pool = {0}; /* the built-in rasteriser is serial: no pool */
    if (c.use_plugin && pool_init(&pool, o.threads ? o.threads : pool_cores(), &e)) die_err(&e);
    if (c.use_plugin && render_open(&c.rp, o.renderer, &pool, &e)) die_err(&e);

    if (raster_init(&c.r, o.size, o.size, &e) || image_init(&c.im, o.size, o.size, o.rgb ? 3 : 1, 255, &e))
        die_err(&e);
    c.paper = xmalloc((size_t)o.size * (size_t)o.size * sizeof *c.paper);
    drawing_init(&c.field);
    records_opts_t ro = {.keep_going = o.keep_going, .progress = o.progress};
    records_on_stop(out_note, &c);
    records_run(&files, &ro, one, &c);

    drawing_free(&c.field);
    pngtext_free(&c.text);
    buf_free(&c.path);
    strset_free(&c.written);
    image_free(&c.im);
    raster_free(&c.r);
    if (c.use_plugin) render_close(&c.rp);
    pool_free(&pool);
    free(c.paper);
    strlist_free(&files);
    close_stdout();
    return 0;
}
