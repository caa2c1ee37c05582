/* optimize - sketch NDJSON -> optimised sketch NDJSON: the inverse-CLIPasso
 * optimiser (common/optim.h has the step; docs/optimize.md the guide).
 *
 * Each record's drawing is fitted to the canvas (the study's fit, or its
 * "canvas" frame), encoded into the renderer's parameters and optimised
 * against the weighted sum of the --loss plugins, independently of every
 * other record (--jobs N records at once).  The record is written back with
 *   drawing    the optimised strokes (polylines in canvas pixels)
 *   initial    the strokes it started from (same frame)
 *   canvas     {"width":C,"height":C}
 *   history    per step: every loss by name, its metrics, total, similarity,
 *              lr, strokes, grad_norm (and "eval" on evaluation steps) --
 *              or in a side file (--history FILE), or none
 *   optimize   a summary: steps, the un-augmented losses and similarity of
 *              the initial and the returned strokes (and of the record's
 *              clean "target", when it has one), best step, restart
 * and every other field passed through.  --frames FILE writes a PNG stream of
 * snapshots (text chunks key_id, word, step, restart, loss, similarity).
 *
 * Records are processed in input order and written in input order.  A bad
 * record (an empty drawing, a renderer that cannot take it, a NaN) is
 * reported as "optimize: FILE:LINE: key_id K: message" and stops the run,
 * or with --keep-going is skipped and counted.
 */
#include "cli.h"
#include "clip_model.h"
#include "optim.h"
#include "paramtab.h"
#include "plugin_host.h"
#include "pool.h"
#include "raster.h"
#include "records.h"
#include "sketch.h"
#include "util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *model, *precision, *gemm, *renderer, *augment, *init, *history, *frames, *ckpt, *schedule, *add_init, *summary;
    strlist_t losses;
    int steps, canvas, jobs, threads, restarts, warmup, add_interval, add_max, add_points, eval_every, patience;
    int keep_best, frame_every, ckpt_every, resume, stop_after, keep_going, progress, timing, keep_initial;
    double pad, width, lr, min_lr, lr_width, lr_opacity, clip_norm, noise, noise_decay, min_delta;
    long long seed;
} opts_t;

/* One record in flight. */
typedef struct {
    sketch_t s;
    char *file;
    long long line;
    int rc;
    err_t err;
    optim_result_t res;
    int has_init;      /* --keep-initial: the record's own "initial", mapped into the canvas frame */
    drawing_t init;
    int has_tgt;       /* the record's "target" (qd-degrade's clean drawing), in the drawing's frame */
    drawing_t tgt;
} slot_t;

typedef struct {
    const opts_t *o;
    optim_cfg_t cfg;
    optim_job_t **job;
    int njobs;
    pool_t *pool;
    slot_t *slot;
    int nslot;
    FILE *hist_fp, *frames_fp, *sum_fp;
    afile_t hist_af, frames_af, sum_af;
    const char *model_name;
    long long nout, nskipped;
    strset_t ckpt_names;
    progress_t prog;
    buf_t out;
} ctx_t;

static int safe_name(const char *s) {
    if (!s[0] || s[0] == '.' || strlen(s) > 200) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* An optional drawing field of the record into d (*has = 1 when present;
 * d is then the caller's to free, also on error) */
static int opt_field(sketch_t *s, const char *name, drawing_t *d, int *has, err_t *err) {
    if (!sketch_has(s, name)) return 0;
    drawing_init(d);
    *has = 1;
    int rc = sketch_get_drawing(s, name, d, err);
    if (rc) err_prefix(err, "field \"%s\"", name);
    return rc;
}

static void run_slot(ctx_t *c, int k, int jobi) {
    slot_t *sl = &c->slot[k];
    const opts_t *o = c->o;
    sketch_t *s = &sl->s;
    xform_t xf;
    double cw, ch;
    if (sketch_canvas(s, &cw, &ch)) xform_canvas(cw, ch, o->canvas, &xf);
    else xform_fit(&s->drawing, o->canvas, o->pad, &xf);
    buf_t path = {0};
    if (o->ckpt) {
        if (s->key_id[0] && safe_name(s->key_id)) buf_printf(&path, "%s/%s.ckpt", o->ckpt, s->key_id);
        else buf_printf(&path, "%s/line%lld.ckpt", o->ckpt, sl->line);
    }
    optim_result_init(&sl->res);
    sl->has_init = 0, sl->has_tgt = 0;
    if (o->keep_initial && (sl->rc = opt_field(s, "initial", &sl->init, &sl->has_init, &sl->err))) {
        buf_free(&path);
        return;
    }
    if (sl->has_init) /* into the canvas frame, as the drawing */
        for (int q = 0; q < sl->init.nstrokes; q++)
            for (int i = 0; i < sl->init.s[q].n; i++) {
                sl->init.s[q].x[i] = sl->init.s[q].x[i] * xf.sx + xf.ox;
                sl->init.s[q].y[i] = sl->init.s[q].y[i] * xf.sy + xf.oy;
            }
    if ((sl->rc = opt_field(s, "target", &sl->tgt, &sl->has_tgt, &sl->err))) {
        buf_free(&path);
        return;
    }
    sl->rc = optim_record(c->job[jobi], &s->drawing, sl->has_tgt ? &sl->tgt : NULL, &xf, s->key_id, s->word,
                          o->ckpt ? path.s : NULL, o->resume, jobi == 0 ? &c->prog : NULL, &sl->res, &sl->err);
    buf_free(&path);
}

static void task(void *vc, int begin, int end, int tid) {
    ctx_t *c = vc;
    (void)tid;
    for (int k = begin; k < end; k++) run_slot(c, k, k);
}

static void num_field(buf_t *b, const char *name, double v) {
    buf_printf(b, ",\"%s\":", name);
    buf_num(b, v, 7);
}

static void eval_json(buf_t *b, const ctx_t *c, const char *name, const optim_eval_t *ev) {
    buf_printf(b, ",\"%s\":{\"total\":", name);
    buf_num(b, ev->total, 7);
    if (!isnan(ev->similarity)) num_field(b, "similarity", ev->similarity);
    for (int i = 0; i < c->cfg.nlosses; i++) num_field(b, c->cfg.losses[i].label, ev->value[i]);
    buf_puts(b, "}");
}

static void emit(ctx_t *c, slot_t *sl) {
    const opts_t *o = c->o;
    sketch_t *s = &sl->s;
    optim_result_t *r = &sl->res;
    sketch_set_drawing(s, "drawing", &r->final, 3, 0);
    sketch_set_drawing(s, "initial", sl->has_init ? &sl->init : &r->initial, 3, 0);
    char cv[96];
    snprintf(cv, sizeof cv, "{\"width\":%d,\"height\":%d}", o->canvas, o->canvas);
    sketch_set_raw(s, "canvas", cv);
    if (c->cfg.history && !c->hist_fp) sketch_set_raw(s, "history", r->history.s ? r->history.s : "[]");
    buf_t b = {0};
    buf_printf(&b, "{\"steps\":%d,\"steps_run\":%d,\"best_step\":%d,\"stopped_early\":%s,\"restart\":%d", o->steps,
               r->steps_run, r->best_step, r->stopped_early ? "true" : "false", r->restart);
    if (r->nrestart_eval > 1) {
        buf_puts(&b, ",\"restart_losses\":[");
        for (int i = 0; i < r->nrestart_eval; i++) {
            if (i) buf_puts(&b, ",");
            buf_num(&b, r->restart_eval[i], 7);
        }
        buf_puts(&b, "]");
    }
    eval_json(&b, c, "initial", &r->eval0);
    eval_json(&b, c, "final", &r->eval1);
    if (r->has_target) eval_json(&b, c, "target", &r->eval_target);
    buf_puts(&b, ",\"model\":");
    buf_jstr(&b, c->model_name ? c->model_name : "none");
    if (strcmp(o->precision, "float32")) {
        buf_puts(&b, ",\"precision\":");
        buf_jstr(&b, o->precision);
    }
    if (c->cfg.f32pack) buf_puts(&b, ",\"gemm\":\"packed\""); /* absent: OpenBLAS's products */
    buf_puts(&b, ",\"renderer\":");
    buf_jstr(&b, o->renderer);
    buf_puts(&b, "}");
    sketch_set_raw(s, "optimize", b.s);
    buf_free(&b);
    c->out.len = 0;
    sketch_write(s, &c->out);
    if (fwrite(c->out.s, 1, c->out.len, stdout) != c->out.len) die(EXIT_IO, "<stdout>: write error");
    if (c->hist_fp) {
        buf_t h = {0};
        buf_puts(&h, "{\"key_id\":");
        buf_jstr(&h, s->key_id);
        if (s->word) {
            buf_puts(&h, ",\"word\":");
            buf_jstr(&h, s->word);
        }
        buf_printf(&h, ",\"history\":%s}\n", r->history.s ? r->history.s : "[]");
        if (fwrite(h.s, 1, h.len, c->hist_fp) != h.len) die(EXIT_IO, "%s: write error", o->history);
        buf_free(&h);
    }
    if (c->sum_fp) {
        buf_t t = {0};
        for (const char *p = s->key_id; *p; p++) buf_put(&t, (*p == '\t' || *p == '\n') ? " " : p, 1);
        buf_puts(&t, "\t");
        for (const char *p = s->word ? s->word : ""; *p; p++) buf_put(&t, (*p == '\t' || *p == '\n') ? " " : p, 1);
        buf_printf(&t, "\t%.7g\t%.7g\t%.7g\t%.7g\t%d\t%d\t%d\t%d\t%d\n", r->eval0.total, r->eval1.total,
                   r->eval0.similarity, r->eval1.similarity, r->initial.nstrokes, r->final.nstrokes, r->steps_run,
                   r->best_step, r->restart);
        if (fwrite(t.s, 1, t.len, c->sum_fp) != t.len) die(EXIT_IO, "%s: write error", o->summary);
        buf_free(&t);
    }
    if (c->frames_fp && r->frames.len && fwrite(r->frames.s, 1, r->frames.len, c->frames_fp) != r->frames.len)
        die(EXIT_IO, "%s: write error", o->frames);
    c->nout++;
}

/* Run the slots collected so far, then write or report them in order. */
static void flush(ctx_t *c) {
    if (!c->nslot) return;
    if (c->nslot == 1 || c->njobs == 1) {
        for (int k = 0; k < c->nslot; k++) run_slot(c, k, 0);
    } else {
        pool_run(c->pool, c->nslot, task, c);
    }
    for (int k = 0; k < c->nslot; k++) {
        slot_t *sl = &c->slot[k];
        if (sl->rc) {
            const char *lab = sketch_label(&sl->s);
            if (!c->o->keep_going || sl->rc == EXIT_IO || sl->rc == EXIT_INTERNAL)
                die(sl->rc, "%s:%lld: %s: %s", sl->file, sl->line, lab, sl->err.msg);
            warn("%s:%lld: %s: %s (skipped)", sl->file, sl->line, lab, sl->err.msg);
            c->nskipped++;
        } else if (!sl->res.stopped) {
            emit(c, sl);
        }
        optim_result_free(&sl->res);
        if (sl->has_init) drawing_free(&sl->init), sl->has_init = 0;
        if (sl->has_tgt) drawing_free(&sl->tgt), sl->has_tgt = 0;
        free(sl->file);
        sl->file = NULL;
    }
    fflush(stdout);
    c->nslot = 0;
}

static int one(sketch_t *s, records_pos_t *pos, void *vc, err_t *e) {
    ctx_t *c = vc;
    slot_t *sl = &c->slot[c->nslot];
    int rc = sketch_parse(&sl->s, s->text, s->len, e);
    if (rc) return rc;
    if (c->o->ckpt) {
        /* two records must not share a checkpoint file */
        buf_t n = {0};
        if (s->key_id[0] && safe_name(s->key_id)) buf_printf(&n, "%s", s->key_id);
        else buf_printf(&n, "line%lld", pos->line);
        int fresh = strset_add(&c->ckpt_names, n.s);
        buf_free(&n);
        if (!fresh)
            return err_set(e, EXIT_DATA, "%s: its checkpoint name is taken by an earlier record (duplicate key_id?)",
                           sketch_label(s));
    }
    sl->file = xstrdup(pos->file);
    sl->line = pos->line;
    memset(&sl->err, 0, sizeof sl->err);
    c->nslot++;
    if (c->nslot == c->njobs) flush(c);
    return 0;
}

static int parse_init(const char *spec, optim_cfg_t *cfg, err_t *e) {
    static const plugin_param_t t[] = {
        {"strokes", PARAM_INT, 16, 1, 4096, NULL, NULL, "number of strokes", 0},
        {"points", PARAM_INT, 4, 1, 64, NULL, NULL, "points a stroke (the renderer's parameters)", 0},
        {"jitter", PARAM_FLOAT, 0.05, 0, 1, NULL, NULL, "step between points, fraction of the canvas", 0},
        {"temp", PARAM_FLOAT, 0.3, 1e-6, 100, NULL, NULL, "saliency softmax temperature", 0},
        {"image", PARAM_STRING, 0, 0, 0, "", NULL, "saliency target picture", 0},
    };
    const char *colon = strchr(spec, ':');
    size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
    int kind = -1;
    const char *names[] = {"drawing", "random", "saliency"};
    for (int k = 0; k < 3; k++)
        if (strlen(names[k]) == nl && !strncmp(spec, names[k], nl)) kind = k;
    if (kind < 0) return err_set(e, EXIT_USAGE, "--init '%s': not one of drawing, random, saliency", spec);
    if (kind == OINIT_DRAWING && colon) return err_set(e, EXIT_USAGE, "--init drawing takes no parameters");
    plugin_value_t v[5];
    char *strs[5] = {0};
    int rc = paramtab_list(t, 5, colon ? colon + 1 : "", v, strs, "--init: ", e);
    if (!rc) {
        cfg->init = kind;
        cfg->init_strokes = (int)v[0].i, cfg->init_points = (int)v[1].i;
        cfg->init_jitter = v[2].f, cfg->init_temp = v[3].f;
        cfg->init_image = v[4].s && v[4].s[0] ? xstrdup(v[4].s) : NULL;
        if (kind == OINIT_SALIENCY && !cfg->init_image)
            rc = err_set(e, EXIT_USAGE, "--init saliency needs image=PICTURE");
        if (kind == OINIT_RANDOM && cfg->init_image) rc = err_set(e, EXIT_USAGE, "--init random takes no image");
    }
    for (int k = 0; k < 5; k++) free(strs[k]);
    return rc;
}

int main(int argc, char **argv) {
    util_init(argv[0]);
    opts_t o = {.precision = "float32", .gemm = "auto", .renderer = "softline", .init = "drawing", .history = "inline",
                .schedule = "constant", .add_init = "random", .steps = 200, .canvas = 224, .jobs = 1, .restarts = 1,
                .warmup = 50, .add_max = 20, .add_points = 4, .ckpt_every = 50, .pad = 10, .width = 3, .lr = 1,
                .min_lr = 0.01, .clip_norm = 1, .noise_decay = 0.99, .min_delta = 1e-5};
    int list_plugins = 0, plugins_json = 0;
    const char *help_plugin = NULL;
    const opt_t table[] = {
        {"loss", 'l', OPT_LIST, &o.losses, "SPEC",
         "a loss plugin NAME:key=value,... with weight=W (and weight_from, weight_schedule, as=NAME); {word} in it "
         "becomes each record's word; repeatable",
         OPT_NORANGE},
        {"renderer", 'r', OPT_STR, &o.renderer, "SPEC", "renderer plugin NAME[:key=value,...]", OPT_NORANGE},
        {"augment", 'a', OPT_STR, &o.augment, "SPEC", "augmentation plugin making the views the losses see (default none)",
         OPT_NORANGE},
        {"model", 'm', OPT_STR, &o.model, "FILE",
         "CLIP weights ('none': no CLIP; default $INVCLIP_MODEL or the shipped sketch CLIP)", OPT_NORANGE},
        {"precision", 0, OPT_STR, &o.precision, "P",
         "float32 (default), or bf16: the image tower's weight products in bfloat16 with float sums (a ViT on an "
         "AVX512_BF16 CPU; about 2x faster products, ~0.4% relative error; docs/optimize.md)",
         OPT_NORANGE},
        {"gemm", 0, OPT_STR, &o.gemm, "G",
         "float32 image products: openblas, packed (the weights packed once for the project's AVX2+FMA kernel: a "
         "ViT, frozen weights; the same bits at any -j and batch), or auto (packed on a CPU with AVX2 "
         "and no AVX-512, else openblas)",
         OPT_NORANGE},
        {"steps", 'n', OPT_INT, &o.steps, "N", "optimisation steps a record", 0, 10000000},
        {"keep-initial", 0, OPT_FLAG, &o.keep_initial, NULL,
         "a record that already has \"initial\" keeps it (mapped into the output frame) instead of getting the "
         "drawing it started from: chains of enhancers keep the first input",
         OPT_NORANGE},
        {"canvas", 0, OPT_INT, &o.canvas, "C", "canvas side in pixels (the study's 224)", 16, 4096},
        {"pad", 0, OPT_DOUBLE, &o.pad, "P", "margin when fitting a drawing to the canvas", 0, 2048},
        {"width", 'w', OPT_DOUBLE, &o.width, "W", "stroke width in canvas pixels", 0.1, 1000},
        {"init", 0, OPT_STR, &o.init, "SPEC",
         "start from: drawing (the record's), random[:strokes=16,points=4,jitter=0.05], "
         "saliency:image=PIC[,strokes,points,jitter,temp]",
         OPT_NORANGE},
        {"lr", 0, OPT_DOUBLE, &o.lr, "LR", "Adam learning rate for the points (pixels)", 0, 1e6},
        {"lr-schedule", 0, OPT_STR, &o.schedule, "S", "constant | linear | cosine | warmup_cosine (the study's)",
         OPT_NORANGE},
        {"min-lr", 0, OPT_DOUBLE, &o.min_lr, "LR", "the schedules' final learning rate", 0, 1e6},
        {"warmup", 0, OPT_INT, &o.warmup, "N", "warmup steps of warmup_cosine", 0, 10000000},
        {"lr-width", 0, OPT_DOUBLE, &o.lr_width, "LR", "learning rate of stroke widths (0: fixed)", 0, 1e6},
        {"lr-opacity", 0, OPT_DOUBLE, &o.lr_opacity, "LR", "learning rate of stroke opacities (0: fixed)", 0, 1e6},
        {"clip-grad", 0, OPT_DOUBLE, &o.clip_norm, "G", "clip the points' gradient norm to G (0: off)", 0, 1e12},
        {"noise", 0, OPT_DOUBLE, &o.noise, "S", "gradient noise standard deviation", 0, 1e6},
        {"noise-decay", 0, OPT_DOUBLE, &o.noise_decay, "D", "noise multiplier per step", 0, 1},
        {"add-every", 0, OPT_INT, &o.add_interval, "N", "add a stroke every N steps (0: never)", 0, 10000000},
        {"add-max", 0, OPT_INT, &o.add_max, "N", "stop adding at N strokes", 1, 100000},
        {"add-points", 0, OPT_INT, &o.add_points, "N", "points of an added stroke", 1, 64},
        {"add-init", 0, OPT_STR, &o.add_init, "M", "where added strokes start: random | center | edge", OPT_NORANGE},
        {"restarts", 0, OPT_INT, &o.restarts, "K", "run K seeds, keep the lowest un-augmented loss", 1, 64},
        {"eval-every", 0, OPT_INT, &o.eval_every, "N", "evaluate without augmentation every N steps (0: off)", 0,
         10000000},
        {"keep-best", 0, OPT_FLAG, &o.keep_best, NULL, "return the best evaluated strokes, not the last", OPT_NORANGE},
        {"patience", 0, OPT_INT, &o.patience, "N", "stop after N evaluations without improvement (0: never)", 0,
         10000000},
        {"min-delta", 0, OPT_DOUBLE, &o.min_delta, "D", "an improvement is a fall of more than D", 0, 1e6},
        {"seed", 0, OPT_INT, &o.seed, "N", "random seed (mixed with each record's key_id)", 0, 9e15},
        {"history", 0, OPT_STR, &o.history, "WHERE", "inline (in the record), none, or a FILE of NDJSON", OPT_NORANGE},
        {"frames", 0, OPT_STR, &o.frames, "FILE", "write a PNG stream of snapshots to FILE", OPT_NORANGE},
        {"frame-every", 0, OPT_INT, &o.frame_every, "N", "a frame every N steps (default 10 with --frames)", 0,
         10000000},
        {"summary", 0, OPT_STR, &o.summary, "FILE",
         "write a TSV row a record: key_id, word, loss and similarity before/after, strokes, steps", OPT_NORANGE},
        {"checkpoint", 0, OPT_STR, &o.ckpt, "DIR", "keep a checkpoint per record in DIR (<key_id>.ckpt)", OPT_NORANGE},
        {"checkpoint-every", 0, OPT_INT, &o.ckpt_every, "N", "steps between checkpoints", 1, 10000000},
        {"resume", 0, OPT_FLAG, &o.resume, NULL, "continue records from their checkpoints", OPT_NORANGE},
        {"stop-after", 0, OPT_INT, &o.stop_after, "N", "stop every record after N steps (testing resume)", 0,
         10000000},
        {"jobs", 'J', OPT_INT, &o.jobs, "N", "records optimised at once (each on one thread)", 1, 256},
        {"threads", 'j', OPT_INT, &o.threads, "N",
         "threads of the pool (0: one per online core; one for a model narrower than 256)", 0,
         POOL_MAX_THREADS},
        {"timing", 0, OPT_FLAG, &o.timing, NULL, "print the time spent in each phase (JSON on stderr)", OPT_NORANGE},
        {"list-plugins", 0, OPT_FLAG, &list_plugins, NULL, "list the plugins found and exit", OPT_NORANGE},
        {"plugins-json", 0, OPT_FLAG, &plugins_json, NULL, "describe the plugins as NDJSON and exit", OPT_NORANGE},
        {"help-plugin", 0, OPT_STR, &help_plugin, "NAME", "show a plugin's parameters and exit", OPT_NORANGE},
        OPT_KEEP_GOING(&o.keep_going),
        OPT_PROGRESS(&o.progress),
        {0},
    };
    const optspec_t spec = {
        .usage = "[options] --loss SPEC [--loss SPEC...] [FILE...]",
        .summary =
            "Optimise each sketch record's strokes (stdin or FILEs, .gz ok) against the weighted sum of loss\n"
            "plugins, through a differentiable renderer plugin and an optional augmentation plugin, with Adam.\n"
            "Writes each record with the optimised \"drawing\", the \"initial\" strokes, the \"canvas\" frame,\n"
            "the per-step \"history\" and an \"optimize\" summary (un-augmented losses before and after, and\n"
            "of the record's clean \"target\" drawing when it has one, as qd-degrade writes).",
        .opts = table,
        .epilog =
            "Examples:\n"
            "  qd-extract --word fish --limit 1 data/quickdraw/simplified/fish.ndjson.gz |\n"
            "    optimize --loss clip-text:prompt='a fish' --loss structure:weight=0.3 --steps 300 > out.ndjson\n"
            "  optimize --renderer bezier --augment clipaug:preset=doodlebot-optimizer --init random:strokes=8 \\\n"
            "    --loss clip-text:prompt=fish,templates=clipasso --loss stroke-reg:weight=0.01,bezier_samples=50\n"
            "Loss keys the optimiser takes itself: weight=W, weight_from=W0 with weight_schedule=linear|cosine,\n"
            "as=NAME.  Plugins are looked up along $INVCLIP_PLUGIN_PATH, then in the build's plugins folder.\n"
            "Exit codes: 1 bad record, 2 usage, 3 I/O, 4 plugin, 5 model, 6 NaN/Inf, 7 internal.",
    };
    strlist_t files = {0};
    opt_parse(&spec, argc, argv, &files);
    err_t e = {0};
    if (list_plugins || plugins_json || help_plugin) {
        int shown = plugin_cli(list_plugins, plugins_json, help_plugin, 0, stdout, &e);
        if (shown < 0) die_err(&e);
        close_stdout();
        return 0;
    }
    ctx_t c = {.o = &o};
    optim_cfg_t *cfg = &c.cfg;
    *cfg = (optim_cfg_t){.renderer = o.renderer, .steps = o.steps, .canvas = o.canvas, .pad = o.pad,
                         .width = o.width, .lr = o.lr, .min_lr = o.min_lr, .lr_width = o.lr_width,
                         .lr_opacity = o.lr_opacity, .warmup = o.warmup, .clip_norm = o.clip_norm, .noise = o.noise,
                         .noise_decay = o.noise_decay, .add_interval = o.add_interval, .add_max = o.add_max,
                         .add_points = o.add_points, .eval_every = o.eval_every, .patience = o.patience,
                         .keep_best = o.keep_best, .min_delta = o.min_delta, .restarts = o.restarts,
                         .seed = (uint64_t)o.seed, .stop_after = o.stop_after};
    if (o.augment && strcmp(o.augment, "none")) cfg->augment = o.augment;
    const char *scheds[] = {"constant", "linear", "cosine", "warmup_cosine"};
    cfg->sched = -1;
    for (int k = 0; k < 4; k++)
        if (!strcmp(o.schedule, scheds[k])) cfg->sched = k;
    if (cfg->sched < 0) die(EXIT_USAGE, "--lr-schedule '%s': not one of constant, linear, cosine, warmup_cosine", o.schedule);
    const char *adds[] = {"random", "center", "edge"};
    cfg->add_init = -1;
    for (int k = 0; k < 3; k++)
        if (!strcmp(o.add_init, adds[k])) cfg->add_init = k;
    if (cfg->add_init < 0) die(EXIT_USAGE, "--add-init '%s': not one of random, center, edge", o.add_init);
    if (parse_init(o.init, cfg, &e)) die_err(&e);
    if (o.losses.n < 1) die(EXIT_USAGE, "no --loss given (try --loss clip-text:prompt='a fish'; --list-plugins)");
    if (o.losses.n > OPTIM_MAX_LOSSES) die(EXIT_USAGE, "at most %d --loss options", OPTIM_MAX_LOSSES);
    cfg->losses = xcalloc((size_t)o.losses.n, sizeof *cfg->losses);
    for (int i = 0; i < o.losses.n; i++) {
        if (optim_loss_spec_parse(o.losses.v[i], &cfg->losses[i], &e)) die_err(&e);
        cfg->nlosses = i + 1;
    }
    if (o.eval_every == 0 && (o.keep_best || o.patience))
        die(EXIT_USAGE, "--keep-best and --patience need --eval-every N");
    if (2 * o.pad >= o.canvas) die(EXIT_USAGE, "--pad %g leaves no room on a %d-pixel canvas", o.pad, o.canvas);
    if (o.resume && !o.ckpt) die(EXIT_USAGE, "--resume needs --checkpoint DIR");
    int bf16 = 0;
    if (!strcmp(o.precision, "bf16")) bf16 = 1;
    else if (strcmp(o.precision, "float32")) die(EXIT_USAGE, "--precision '%s': not one of float32, bf16", o.precision);
    if (bf16 && o.model && !strcmp(o.model, "none")) die(EXIT_USAGE, "--precision bf16 needs a model");
    cfg->bf16 = bf16;
    int want_pack = -1; /* auto */
    if (!strcmp(o.gemm, "packed")) want_pack = 1;
    else if (!strcmp(o.gemm, "openblas")) want_pack = 0;
    else if (strcmp(o.gemm, "auto")) die(EXIT_USAGE, "--gemm '%s': not one of auto, openblas, packed", o.gemm);
    if (o.stop_after && !o.ckpt) die(EXIT_USAGE, "--stop-after needs --checkpoint DIR");
    cfg->history = strcmp(o.history, "none") != 0;
    cfg->frame_every = o.frames ? (o.frame_every ? o.frame_every : 10) : 0;
    cfg->ckpt_every = o.ckpt ? o.ckpt_every : 0;

    /* the model: one set of weights; with --jobs, every job its own
     * activations over the same weights, run serially on its thread */
    clip_model_t *models = xcalloc((size_t)o.jobs, sizeof *models);
    int have_model = !(o.model && !strcmp(o.model, "none"));
    clip_open_opts_t mo = {.text = 1};
    if (have_model && clip_open(&models[0], o.model, &mo, NULL, &e)) die_err(&e);
    /* -j 0: every core, except for a narrow model (the shipped one is 128
     * wide), whose products are too small to pay for the hand-offs: one
     * thread (docs/optimize.md, "Threads") */
    int nthreads = o.threads ? o.threads : pool_cores();
    if (!o.threads && have_model && !CLIP_IS_RESNET(&models[0].m.w.cfg) && models[0].m.w.cfg.v_width < OPTIM_NARROW_WIDTH)
        nthreads = 1; /* (a ResNet's v_width is its stem width: never narrow) */
    pool_t pool = {0};
    if (pool_init(&pool, o.jobs > 1 ? (o.jobs > nthreads ? o.jobs : nthreads) : nthreads, &e)) die_err(&e);
    c.pool = &pool;
    c.njobs = o.jobs;
    if (have_model) {
        if (o.jobs == 1) models[0].m.par = pool_par(&pool);
        c.model_name = models[0].name;
        if (!o.model) {
            int env;
            const char *p = clip_default_model(&env);
            warn("model: %s (%s)", p, env ? "$INVCLIP_MODEL" : "the shipped sketch CLIP; --model FILE for another");
        }
        for (int k = 1; k < o.jobs; k++) {
            clip_params_t w = {0};
            clip_params_bind(&w, &models[0].m.w.cfg, models[0].m.w.mem);
            w.owns_mem = 0;
            if (clip_open_params(&models[k], &w, &mo, NULL, &e)) die_err(&e);
            models[k].name = xstrdup(models[0].name ? models[0].name : "model");
        }
        /* --gemm: packed float32 products for a ViT (auto: where the CPU's
         * widest vectors are AVX2, docs/optimize.md) */
        int vit = !CLIP_IS_RESNET(&models[0].m.w.cfg);
        if (want_pack == 1 && !vit) die(EXIT_USAGE, "--gemm packed: only for a ViT image tower, not a ResNet");
        if (want_pack == -1) want_pack = vit && !bf16 && clip_f32pack_auto();
        cfg->f32pack = !bf16 && want_pack;
        if (bf16 || cfg->f32pack) {
            /* packed once on the pool, shared by every job's model */
            nn_par_t own = models[0].m.par;
            models[0].m.par = pool_par(&pool);
            models[0].m.bf16 = bf16;
            models[0].m.f32pack = cfg->f32pack;
            if (clip_bf16_prepare(&models[0].m, &e)) die_err(&e);
            models[0].m.par = own;
            for (int k = 1; k < o.jobs; k++) {
                models[k].m.bf16 = bf16;
                models[k].m.f32pack = cfg->f32pack;
                clip_bf16_share(&models[k].m, &models[0].m);
            }
        }
    }
    c.job = xcalloc((size_t)o.jobs, sizeof *c.job);
    for (int k = 0; k < o.jobs; k++)
        if (optim_job_open(&c.job[k], cfg, have_model ? &models[k] : NULL, o.jobs > 1 ? NULL : &pool, &e))
            die_err(&e);
    c.slot = xcalloc((size_t)o.jobs, sizeof *c.slot);
    for (int k = 0; k < o.jobs; k++) sketch_init(&c.slot[k].s);
    if (o.ckpt && mkdir_p(o.ckpt, &e)) die_err(&e);
    if (cfg->history && strcmp(o.history, "inline")) {
        if (afile_open(&c.hist_af, o.history, &e)) die_err(&e);
        c.hist_fp = c.hist_af.fp;
    }
    if (o.frames) {
        if (afile_open(&c.frames_af, o.frames, &e)) die_err(&e);
        c.frames_fp = c.frames_af.fp;
    }
    if (o.summary) {
        if (afile_open(&c.sum_af, o.summary, &e)) die_err(&e);
        c.sum_fp = c.sum_af.fp;
        fputs("key_id\tword\tloss_initial\tloss_final\tsimilarity_initial\tsimilarity_final\tstrokes_initial\t"
              "strokes_final\tsteps_run\tbest_step\trestart\n", c.sum_fp);
    }
    progress_init(&c.prog, "steps", 0, o.progress);
    records_opts_t ro = {.keep_going = o.keep_going, .progress = 0};
    records_run(&files, &ro, one, &c);
    flush(&c);
    progress_done(&c.prog);
    if (c.nskipped) warn("skipped %lld record%s that could not be optimised", c.nskipped, c.nskipped == 1 ? "" : "s");
    if (c.hist_fp && afile_commit(&c.hist_af, &e)) die_err(&e);
    if (c.frames_fp && afile_commit(&c.frames_af, &e)) die_err(&e);
    if (c.sum_fp && afile_commit(&c.sum_af, &e)) die_err(&e);
    if (o.timing) {
        optim_timing_t t = {0};
        for (int k = 0; k < o.jobs; k++) {
            const optim_timing_t *x = optim_job_timing(c.job[k]);
            t.render += x->render, t.resize += x->resize, t.augment += x->augment, t.losses += x->losses;
            t.update += x->update, t.eval += x->eval, t.total += x->total, t.steps += x->steps;
            t.first += x->first;
        }
        fprintf(stderr,
                "{\"timing\":{\"steps\":%lld,\"seconds\":%.6f,\"render\":%.6f,\"resize\":%.6f,\"augment\":%.6f,"
                "\"losses\":%.6f,\"update\":%.6f,\"eval\":%.6f,\"first_steps\":%.6f}}\n",
                t.steps, t.total, t.render, t.resize, t.augment, t.losses, t.update, t.eval, t.first);
    }
    for (int k = 0; k < o.jobs; k++) {
        optim_job_close(c.job[k]);
        sketch_free(&c.slot[k].s);
        if (have_model) clip_close(&models[k]);
    }
    for (int i = 0; i < cfg->nlosses; i++) optim_loss_spec_free(&cfg->losses[i]);
    free(cfg->losses);
    free((char *)cfg->init_image);
    free(c.job), free(c.slot), free(models);
    strset_free(&c.ckpt_names);
    buf_free(&c.out);
    pool_free(&pool);
    strlist_free(&files);
    strlist_free(&o.losses);
    close_stdout();
    return c.nskipped && !c.nout ? EXIT_DATA : 0;
}
