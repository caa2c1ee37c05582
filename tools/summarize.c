/* summarize - pictures, animations and tables of enhancement runs.
 *
 * Reads runs: sketch records from optimize (drawing, initial, history,
 * optimize{...}), from unet-train --apply --records --vectorize (drawing,
 * initial, target), or any records with a drawing; each run optionally with
 * the PNG stream of `optimize --frames`.  Writes into --out DIR:
 *
 *   RUN/KEY/summary.png   panels (start, clean target or reference picture,
 *                         result) titled with CLIP similarity and the
 *                         evaluator's verdict; loss terms and similarity over
 *                         the steps; a progression strip
 *   RUN/KEY/grid.png      the frames, 8 a row, step and similarity under each
 *   RUN/KEY/anim.gif      the frames as a looping animation (--delay)
 *   metrics.md, metrics.ndjson   one row a record and a mean row a run
 *   train/NAME/curves.png, samples.png   training logs (--train): curves, and
 *                         clip-train's samples.ndjson drawn as a sample grid
 *                         (or unet-train's sample pictures)
 *   report.html           everything above on one offline page
 *
 * The evaluator (sketch-score's classifier, common/evalnet.h) runs in
 * process on the start, the target and the result, drawn exactly as
 * sketch-score draws them, so its verdicts equal sketch-score's.  The
 * structure distance is sketch-score's chamfer of the result against the
 * start.  Text and plots go through cairo (common/gfx/plot.h).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "chamfer.h"
#include "checkpoint.h"
#include "cli.h"
#include "evalnet.h"
#include "jpeg_io.h"
#include "plot.h"
#include "png_io.h"
#include "raster.h"
#include "records.h"
#include "render.h"
#include "sketch.h"
#include "trainlog.h"
#include "util.h"

#define EVAL_MODEL "models/evaluator/model.safetensors"
#define PAGE_BG 0xffffff
#define INK 0x1d2433
#define MUTED 0x6b7280
#define LINE 0xe5e7eb

typedef struct {
    const char *out, *reference, *evaluator, *title;
    strlist_t frames, labels, train, wall, notes, pictures;
    int delay, keep_going, max_frames, progress;
} opts_t;

/* ------------------------------------------------------------------ evaluator */

typedef struct {
    int on;
    evalnet_t net;
    char **words;
    int K, S, use_plugin;
    double lw;
    render_t rp;
    raster_t r;
    float *paper, *x, *probs;
} evaluator_t;

typedef struct {
    int ok;         /* scored */
    char top[64];   /* the most probable word */
    double ptop;    /* its probability */
    double pword;   /* p of the record's word, NAN when unknown */
    int rank;       /* rank of the record's word (1 = top-1), 0 when unknown */
} verdict_t;

static void evaluator_open(evaluator_t *v, const char *path) {
    memset(v, 0, sizeof *v);
    err_t e = {0};
    ckpt_t *ck = ckpt_open(path, &e);
    if (!ck) die(EXIT_MODEL, "evaluator %s: %s (--evaluator none to go without)", path, e.msg);
    if (evalnet_open_model(ck, path, 1, NULL, &v->net, &v->words, &e)) die_err(&e);
    const char *rn = ckpt_meta(ck, "render.renderer"), *lw = ckpt_meta(ck, "render.line_width");
    if (!rn || !lw) die(EXIT_MODEL, "%s: no render.renderer / render.line_width metadata (not an evaluator model)", path);
    v->lw = atof(lw);
    if (!(v->lw > 0 && v->lw < 100)) die(EXIT_MODEL, "%s: bad render.line_width \"%.30s\"", path, lw);
    v->K = v->net.cfg.classes, v->S = v->net.cfg.image_size;
    v->use_plugin = strcmp(rn, "builtin") != 0;
    if (v->use_plugin && render_open(&v->rp, rn, NULL, &e)) die_err(&e);
    if (raster_init(&v->r, v->S, v->S, &e)) die_err(&e);
    v->paper = xmalloc((size_t)v->S * v->S * sizeof *v->paper);
    v->x = xmalloc((size_t)v->S * v->S * sizeof *v->x);
    v->probs = xmalloc((size_t)v->K * sizeof *v->probs);
    ckpt_close(ck);
    v->on = 1;
}

static void evaluator_close(evaluator_t *v) {
    if (!v->on) return;
    evalnet_free(&v->net);
    for (int i = 0; i < v->K; i++) free(v->words[i]);
    free(v->words);
    if (v->use_plugin) render_close(&v->rp);
    raster_free(&v->r);
    free(v->paper), free(v->x), free(v->probs);
}

/* As sketch-score scores a drawing: fitted to S with pad 10*S/256, width line_width*S/256, ink = 1 - paper. */
static verdict_t evaluate(evaluator_t *v, const drawing_t *d, const char *word) {
    verdict_t r = {.pword = NAN};
    if (!v->on || drawing_npoints(d) < 1) return r;
    int S = v->S;
    xform_t xf;
    xform_fit(d, S, 10.0 * S / 256.0, &xf);
    err_t e = {0};
    if (v->use_plugin) {
        if (render_drawing(&v->rp, d, xf.sx, xf.sy, xf.ox, xf.oy, (float)(v->lw * S / 256.0), S, S, v->paper, &e)) {
            warn("evaluator: %s", e.msg);
            return r;
        }
    } else raster_drawing(&v->r, v->paper, d, &xf, v->lw * S / 256.0);
    for (int i = 0; i < S * S; i++) {
        float a = 1 - v->paper[i];
        v->x[i] = a < 0 ? 0 : a > 1 ? 1 : a;
    }
    if (evalnet_forward(&v->net, v->x, 1, 0, 0, &e)) {
        warn("evaluator: %s", e.msg);
        return r;
    }
    evalnet_probs(&v->net, 1, v->probs);
    int best = 0, w = -1;
    for (int k = 1; k < v->K; k++)
        if (v->probs[k] > v->probs[best]) best = k;
    if (word)
        for (int k = 0; k < v->K; k++)
            if (!strcmp(v->words[k], word)) w = k;
    r.ok = 1;
    snprintf(r.top, sizeof r.top, "%s", v->words[best]);
    r.ptop = v->probs[best];
    if (w >= 0) {
        r.pword = v->probs[w];
        r.rank = 1;
        for (int k = 0; k < v->K; k++) r.rank += v->probs[k] > v->probs[w] || (v->probs[k] == v->probs[w] && k < w);
    }
    return r;
}

/* ------------------------------------------------------------------ chamfer (sketch-score's definition: chamfer.h) */

/* Mean symmetric chamfer distance in a 256 frame: the canvas when known, else the reference's box. */
static double chamfer(const drawing_t *d, const drawing_t *ref, double cw, double ch) {
    if (drawing_npoints(d) < 1 || drawing_npoints(ref) < 1) return NAN;
    xform_t f;
    if (cw > 0 && ch > 0) xform_canvas(cw, ch, 256, &f);
    else xform_fit(ref, 256, 10, &f);
    return drawing_chamfer(d, ref, &f);
}

/* ------------------------------------------------------------------ frames */

typedef struct {
    image_t im;
    int step, restart;
    double sim;
} frame_t;

typedef struct {
    char *key;
    frame_t *f;
    int n, cap, used;
} fgroup_t;

typedef struct {
    fgroup_t *g;
    int n, cap;
} frameset_t;

static fgroup_t *fgroup(frameset_t *fs, const char *key, int create) {
    for (int i = 0; i < fs->n; i++)
        if (!strcmp(fs->g[i].key, key)) return &fs->g[i];
    if (!create) return NULL;
    if (fs->n == fs->cap) fs->cap = fs->cap ? 2 * fs->cap : 16, fs->g = xrealloc(fs->g, (size_t)fs->cap * sizeof *fs->g);
    fgroup_t *g = &fs->g[fs->n++];
    memset(g, 0, sizeof *g);
    g->key = xstrdup(key);
    return g;
}

static void frameset_free(frameset_t *fs) {
    for (int i = 0; i < fs->n; i++) {
        for (int j = 0; j < fs->g[i].n; j++) image_free(&fs->g[i].f[j].im);
        free(fs->g[i].f), free(fs->g[i].key);
    }
    free(fs->g);
    memset(fs, 0, sizeof *fs);
}

static int parse_int(const char *s, int *v) {
    if (!s || !*s) return 0;
    char *end;
    long x = strtol(s, &end, 10);
    if (*end || x < -1000000000L || x > 1000000000L) return 0;
    *v = (int)x;
    return 1;
}

/* Read an `optimize --frames` stream: each image tagged key_id and step (similarity, restart optional). */
static void frames_load(frameset_t *fs, const char *path, int keep_going, const char *opt) {
    int need_step = !strcmp(opt, "--frames");
    err_t e = {0};
    pngstream_t *s = pngs_open(path, &e);
    if (!s) die(EXIT_IO, "%s %s: %s", opt, path, e.msg);
    pngs_set_max_pixels(s, 4096L * 4096);
    image_t im = {0};
    pngtext_t t = {0};
    int rc;
    long nbad = 0;
    while ((rc = pngs_next(s, &im, &t, &e)) > 0) {
        const char *key = pngtext_get(&t, "key_id"), *st = pngtext_get(&t, "step");
        int step = 0, restart = 0;
        if (!key || (need_step && !parse_int(st, &step))) {
            if (!keep_going)
                die(EXIT_DATA, "%s %s: image %ld has no %s text chunk (not %s stream?)", opt, path, pngs_index(s),
                    key ? "numeric step" : "key_id", need_step ? "an `optimize --frames`" : "a key_id-tagged PNG");
            nbad++;
            continue;
        }
        parse_int(pngtext_get(&t, "restart"), &restart);
        const char *sm = pngtext_get(&t, "similarity");
        fgroup_t *g = fgroup(fs, key, 1);
        if (g->n == g->cap) g->cap = g->cap ? 2 * g->cap : 16, g->f = xrealloc(g->f, (size_t)g->cap * sizeof *g->f);
        frame_t *f = &g->f[g->n++];
        f->im = im;
        memset(&im, 0, sizeof im);
        f->step = step, f->restart = restart;
        f->sim = sm ? strtod(sm, NULL) : NAN;
    }
    if (rc < 0) {
        if (!keep_going) die(EXIT_DATA, "%s %s", opt, e.msg);
        warn("%s %s; using the images before it", opt, e.msg);
    }
    if (nbad) warn("%s %s: skipped %ld image%s without key_id/step", opt, path, nbad, nbad == 1 ? "" : "s");
    image_free(&im);
    pngtext_free(&t);
    pngs_close(s);
}

/* ------------------------------------------------------------------ records */

typedef struct {
    char *name;
    double *v;
} term_t;

typedef struct {
    char *key, *word, *dir;
    /* numbers for the tables */
    double sim0, sim1, simt, chamfer, tot0, tot1; /* simt: the clean target's (optimize.target), NAN when none */
    int strokes0, strokes1, steps, has_initial, has_target, nframes;
    verdict_t ev0, ev1, evt;
    int unrecognised;           /* Google's "recognized":false */
    drawing_t d_ini, d_fin, d_tgt; /* kept for the gallery */
    double cw, ch;
} rec_t;

typedef struct {
    char *label, *file, *frames, *note, *pictures;
    double wall;
    rec_t *r;
    int n, cap;
    long nskipped;
} run_t;

typedef struct {
    const opts_t *o;
    evaluator_t ev;
    image_t refpic;
    int has_ref;
    run_t *runs;
    int nruns;
    run_t *cur;
    frameset_t fs, pics;
    strset_t dirs;
    progress_t prog;
} ctx_t;

static char *safe_name(const char *s, const char *fallback) {
    size_t n = strlen(s);
    if (!n) return xstrdup(fallback);
    if (n > 80) n = 80;
    char *r = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        r[i] = isalnum(c) || c == '-' || c == '_' || (c == '.' && i > 0) ? (char)c : '_';
    }
    r[n] = 0;
    return r;
}

static double jnum(const cJSON *o, const char *k) {
    const cJSON *c = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsNumber(c) ? c->valuedouble : NAN;
}

static void fmt_num(char *b, size_t n, double v, int dec) {
    if (isfinite(v)) snprintf(b, n, "%.*f", dec, v);
    else snprintf(b, n, "\xE2\x80\x94"); /* em dash */
}

static void verdict_text(char *b, size_t n, const verdict_t *v, const char *word) {
    if (!v->ok) {
        snprintf(b, n, "evaluator: \xE2\x80\x94");
        return;
    }
    if (word && v->rank == 1) snprintf(b, n, "evaluator: %s %.0f%% (top-1)", v->top, 100 * v->ptop);
    else if (word && v->rank > 0) snprintf(b, n, "evaluator: %s %.0f%%; %s #%d", v->top, 100 * v->ptop, word, v->rank);
    else snprintf(b, n, "evaluator: %s %.0f%%", v->top, 100 * v->ptop);
}

/* A frame for the grid and the animation when a record has no frames stream: a drawing drawn on a side x side canvas. */
static void synth_frame(frame_t *f, const drawing_t *d, double cw, double ch, int step, double sim) {
    canvas_t c;
    canvas_new(&c, 224, 224, 0xffffff, NULL);
    plot_drawing(c.cr, d, cw, ch, 0, 0, 224, 224, 3, 0);
    memset(&f->im, 0, sizeof f->im);
    canvas_to_grey(&c, &f->im);
    canvas_free(&c);
    f->step = step, f->sim = sim, f->restart = 0;
}

static void save_or_die(canvas_t *c, const char *path) {
    err_t e = {0};
    if (canvas_save_png(c, path, &e)) die_err(&e);
}

/* One panel: title above, a bordered square with the drawing or picture, two lines below. */
static void panel(cairo_t *cr, double x, double y, double P, const char *title, const drawing_t *d, double cw,
                  double ch, const image_t *pic, const char *l1, const char *l2, uint32_t accent) {
    plot_rect(cr, x, y, P, 4, accent);
    plot_text_fit(cr, x, y + 26, title, 16, 1, 0, INK, P);
    double by = y + 36;
    plot_rect(cr, x, by, P, P, 0xffffff);
    plot_frame(cr, x + 0.5, by + 0.5, P - 1, P - 1, LINE, 1);
    if (d) plot_drawing(cr, d, cw, ch, x + 6, by + 6, P - 12, P - 12, 3 * P / 224, 0x111111);
    if (pic) plot_image(cr, pic, x + 2, by + 2, P - 4, P - 4);
    if (l1) plot_text_fit(cr, x, by + P + 22, l1, 14, 0, 0, INK, P);
    if (l2) plot_text_fit(cr, x, by + P + 42, l2, 13, 0, 0, MUTED, P);
}

static int pick(int i, int k, int n) { return k <= 1 ? n - 1 : (int)lround((double)i * (n - 1) / (k - 1)); }

static void write_grid(const char *path, frame_t *fr, int n, int max) {
    int k = n < max ? n : max;
    int cols = k < 8 ? k : 8, rows = (k + cols - 1) / cols;
    const int cell = 150, cap = 40, gap = 10;
    canvas_t c;
    err_t e = {0};
    if (canvas_new(&c, gap + cols * (cell + gap), gap + rows * (cell + cap + gap), PAGE_BG, &e)) die_err(&e);
    for (int i = 0; i < k; i++) {
        const frame_t *f = &fr[k == n ? i : pick(i, k, n)];
        double x = gap + (i % cols) * (cell + gap), y = gap + (i / cols) * (cell + cap + gap);
        plot_image(c.cr, &f->im, x, y, cell, cell);
        plot_frame(c.cr, x + 0.5, y + 0.5, cell - 1, cell - 1, LINE, 1);
        char b[64], s[32];
        snprintf(b, sizeof b, "step %d", f->step);
        plot_text(c.cr, x + cell / 2.0, y + cell + 17, b, 13, 1, 1, INK);
        fmt_num(s, sizeof s, f->sim, 3);
        snprintf(b, sizeof b, "similarity %s", s);
        plot_text(c.cr, x + cell / 2.0, y + cell + 34, b, 12, 0, 1, MUTED);
    }
    save_or_die(&c, path);
    canvas_free(&c);
}

static void write_gif(const char *path, frame_t *fr, int n, int delay, const char *word) {
    int fw = fr[0].im.w, fh = fr[0].im.h;
    if (fw < 96) fw = 96;
    if (fh < 96) fh = 96;
    image_t **g = xcalloc((size_t)n, sizeof *g);
    err_t e = {0};
    for (int i = 0; i < n; i++) {
        canvas_t c;
        if (canvas_new(&c, fw, fh + 26, 0xffffff, &e)) die_err(&e);
        plot_image(c.cr, &fr[i].im, 0, 0, fw, fh);
        plot_rect(c.cr, 0, fh, fw, 26, 0xf3f4f6);
        char b[96], s[32];
        fmt_num(s, sizeof s, fr[i].sim, 3);
        if (isfinite(fr[i].sim)) snprintf(b, sizeof b, "%s \xC2\xB7 step %d \xC2\xB7 sim %s", word, fr[i].step, s);
        else snprintf(b, sizeof b, "%s \xC2\xB7 %s", word, fr[i].step ? "result" : "start");
        plot_text_fit(c.cr, fw / 2.0, fh + 18, b, 12, 0, 1, 0x222222, fw - 8);
        g[i] = xcalloc(1, sizeof **g);
        canvas_to_grey(&c, g[i]);
        canvas_free(&c);
    }
    if (gif_write(path, g, n, delay, &e)) die_err(&e);
    for (int i = 0; i < n; i++) image_free(g[i]), free(g[i]);
    free(g);
}

/* The record's history as series: step, similarity, total and each loss term (plain numeric keys
 * that are not bookkeeping and have no dot). */
typedef struct {
    int n;
    double *step, *sim, *total, *evx, *evy;
    int nev;
    term_t *t;
    int nt;
} hist_t;

static int bookkeeping(const char *k) {
    static const char *const skip[] = {"step", "total", "similarity", "lr", "strokes", "grad_norm", "eval", NULL};
    for (int i = 0; skip[i]; i++)
        if (!strcmp(k, skip[i])) return 1;
    return strchr(k, '.') != NULL;
}

static void hist_read(hist_t *h, const cJSON *arr) {
    memset(h, 0, sizeof *h);
    int n = cJSON_GetArraySize(arr);
    if (n < 1) return;
    h->step = xmalloc((size_t)n * sizeof(double));
    h->sim = xmalloc((size_t)n * sizeof(double));
    h->total = xmalloc((size_t)n * sizeof(double));
    h->evx = xmalloc((size_t)n * sizeof(double));
    h->evy = xmalloc((size_t)n * sizeof(double));
    int i = 0;
    for (const cJSON *o = arr->child; o; o = o->next) {
        if (!cJSON_IsObject(o)) continue;
        double st = jnum(o, "step");
        h->step[i] = isfinite(st) ? st : i;
        h->sim[i] = jnum(o, "similarity");
        h->total[i] = jnum(o, "total");
        double ev = jnum(o, "eval");
        if (isfinite(ev)) h->evx[h->nev] = h->step[i], h->evy[h->nev++] = ev;
        for (const cJSON *c = o->child; c; c = c->next) {
            if (!c->string || !cJSON_IsNumber(c) || bookkeeping(c->string)) continue;
            int k;
            for (k = 0; k < h->nt; k++)
                if (!strcmp(h->t[k].name, c->string)) break;
            if (k == h->nt) {
                if (h->nt == 16) continue;
                h->t = xrealloc(h->t, (size_t)(h->nt + 1) * sizeof *h->t);
                h->t[k].name = xstrdup(c->string);
                h->t[k].v = xmalloc((size_t)n * sizeof(double));
                for (int j = 0; j < n; j++) h->t[k].v[j] = NAN;
                h->nt++;
            }
            h->t[k].v[i] = c->valuedouble;
        }
        i++;
    }
    h->n = i;
}

static void hist_free(hist_t *h) {
    for (int k = 0; k < h->nt; k++) free(h->t[k].name), free(h->t[k].v);
    free(h->t), free(h->step), free(h->sim), free(h->total), free(h->evx), free(h->evy);
}

static int one_record(sketch_t *s, records_pos_t *pos, void *vc, err_t *e) {
    ctx_t *c = vc;
    const opts_t *o = c->o;
    run_t *run = c->cur;
    drawing_t ini, tgt;
    drawing_init(&ini), drawing_init(&tgt);
    int has_ini = sketch_has(s, "initial"), has_tgt = sketch_has(s, "target");
    if (has_ini && sketch_get_drawing(s, "initial", &ini, e)) {
        drawing_free(&ini), drawing_free(&tgt);
        return err_prefix(e, "%s: field \"initial\"", sketch_label(s));
    }
    if (has_tgt && sketch_get_drawing(s, "target", &tgt, e)) {
        drawing_free(&ini), drawing_free(&tgt);
        return err_prefix(e, "%s: field \"target\"", sketch_label(s));
    }
    const cJSON *hj = sketch_get(s, "history"), *oj = sketch_get(s, "optimize");
    if (sketch_has(s, "history") && !cJSON_IsArray(hj)) {
        drawing_free(&ini), drawing_free(&tgt);
        return err_set(e, EXIT_DATA, "%s: \"history\" is not an array", sketch_label(s));
    }
    if (sketch_has(s, "optimize") && !cJSON_IsObject(oj)) {
        drawing_free(&ini), drawing_free(&tgt);
        return err_set(e, EXIT_DATA, "%s: \"optimize\" is not an object", sketch_label(s));
    }
    double cw = 0, ch = 0;
    if (!sketch_canvas(s, &cw, &ch)) cw = ch = 0;
    const char *word = s->word ? s->word : "";

    if (run->n == run->cap) run->cap = run->cap ? 2 * run->cap : 16, run->r = xrealloc(run->r, (size_t)run->cap * sizeof *run->r);
    rec_t *r = &run->r[run->n];
    memset(r, 0, sizeof *r);
    r->key = xstrdup(s->key_id);
    r->word = xstrdup(word);
    /* the record's folder: RUN/KEY, made unique */
    char *kn = safe_name(s->key_id, "record");
    buf_t dn = {0};
    buf_printf(&dn, "%s/%s", run->label, kn);
    for (int k = 2; !strset_add(&c->dirs, dn.s); k++) {
        dn.len = 0;
        buf_printf(&dn, "%s/%s-%d", run->label, kn, k);
    }
    free(kn);
    r->dir = dn.s;
    char *dir = path_join(o->out, r->dir);
    if (mkdir_p(dir, e)) {
        free(dir);
        drawing_free(&ini), drawing_free(&tgt);
        return e->code;
    }
    /* numbers */
    const cJSON *oi = oj ? cJSON_GetObjectItemCaseSensitive(oj, "initial") : NULL;
    const cJSON *of = oj ? cJSON_GetObjectItemCaseSensitive(oj, "final") : NULL;
    const cJSON *ot = oj ? cJSON_GetObjectItemCaseSensitive(oj, "target") : NULL;
    r->sim0 = jnum(oi, "similarity"), r->sim1 = jnum(of, "similarity"), r->simt = jnum(ot, "similarity");
    r->tot0 = jnum(oi, "total"), r->tot1 = jnum(of, "total");
    double sr = jnum(oj, "steps_run");
    r->steps = isfinite(sr) ? (int)sr : -1;
    r->has_initial = has_ini, r->has_target = has_tgt;
    r->strokes1 = s->drawing.nstrokes;
    r->strokes0 = has_ini ? ini.nstrokes : -1;
    r->chamfer = has_ini ? chamfer(&s->drawing, &ini, cw, ch) : NAN;
    r->ev1 = evaluate(&c->ev, &s->drawing, s->word);
    if (has_ini) r->ev0 = evaluate(&c->ev, &ini, s->word);
    if (has_tgt) r->evt = evaluate(&c->ev, &tgt, s->word);
    hist_t h;
    hist_read(&h, cJSON_IsArray(hj) ? hj : NULL);
    if (!isfinite(r->sim0) && h.n) r->sim0 = h.sim[0];
    if (r->steps < 0 && h.n) r->steps = h.n;

    /* frames: the stream's for this key (the kept restart's), else start and result */
    fgroup_t *g = run->frames ? fgroup(&c->fs, s->key_id, 0) : NULL;
    frame_t *fr = NULL;
    int nf = 0, own = 0;
    if (g) {
        g->used = 1;
        int keep = (int)(isfinite(jnum(oj, "restart")) ? jnum(oj, "restart") : 0);
        fr = xmalloc((size_t)g->n * sizeof *fr);
        for (int i = 0; i < g->n; i++)
            if (g->f[i].restart == keep) fr[nf++] = g->f[i];
        if (!nf)
            for (int i = 0; i < g->n; i++) fr[nf++] = g->f[i];
    } else {
        if (run->frames) warn("%s: no frames for key_id %s in %s", run->label, s->key_id, run->frames);
        fr = xcalloc(2, sizeof *fr);
        own = 1;
        if (has_ini) synth_frame(&fr[nf++], &ini, cw, ch, 0, r->sim0);
        synth_frame(&fr[nf++], &s->drawing, cw, ch, r->steps > 0 ? r->steps : 1, r->sim1);
    }
    r->nframes = own ? 0 : nf;

    /* summary.png */
    const int W = 1240, M = 28;
    fgroup_t *pg = run->pictures ? fgroup(&c->pics, s->key_id, 0) : NULL;
    if (pg) pg->used = 1;
    else if (run->pictures) warn("%s: no picture for key_id %s in %s", run->label, s->key_id, run->pictures);
    int npan = 1 + has_ini + has_tgt + c->has_ref + (pg != NULL);
    double P = fmin(280, (W - 2 * M - (npan - 1) * 24.0) / npan);
    int hh = 64, ph = (int)P + 36 + 52, chh = h.n ? 300 : 0, sh = 8 + (int)((W - 2 * M - 7 * 12) / 8.0) + 30 + 40;
    canvas_t cv;
    if (canvas_new(&cv, W, hh + ph + (chh ? chh + 24 : 0) + sh + 16, PAGE_BG, e)) return e->code;
    cairo_t *cr = cv.cr;
    char title[256], l1[128], l2[160], nb[32];
    snprintf(title, sizeof title, "%s", *word ? word : "(no word)");
    double tw = plot_text(cr, M, 42, title, 26, 1, 0, INK);
    const cJSON *rj = sketch_get(s, "recognized");
    r->unrecognised = cJSON_IsFalse(rj);
    snprintf(title, sizeof title, "key_id %s \xC2\xB7 %s%s", s->key_id, run->label,
             r->unrecognised ? " \xC2\xB7 a drawing Google's classifier did not recognise" : "");
    plot_text_fit(cr, M + tw + 14, 42, title, 15, 0, 0, MUTED, W - 2 * M - tw - 14);
    double px = M + (W - 2 * M - (npan * P + (npan - 1) * 24)) / 2, py = hh;
    if (has_tgt) {
        verdict_text(l2, sizeof l2, &r->evt, s->word);
        fmt_num(nb, sizeof nb, r->simt, 3);
        if (isfinite(r->simt)) snprintf(l1, sizeof l1, "CLIP similarity %s", nb);
        else snprintf(l1, sizeof l1, "the target: before degradation");
        panel(cr, px, py, P, "Clean drawing", &tgt, 0, 0, NULL, l1, l2, 0x59a14f);
        px += P + 24;
    }
    if (has_ini) {
        fmt_num(nb, sizeof nb, r->sim0, 3);
        if (isfinite(r->sim0)) snprintf(l1, sizeof l1, "CLIP similarity %s", nb);
        else snprintf(l1, sizeof l1, "CLIP similarity not measured");
        verdict_text(l2, sizeof l2, &r->ev0, s->word);
        panel(cr, px, py, P, has_tgt ? "Start: degraded" : "Start", &ini, cw, ch, NULL, l1, l2, 0x9ca3af);
        px += P + 24;
    }
    if (c->has_ref) {
        panel(cr, px, py, P, "Reference picture", NULL, 0, 0, &c->refpic, o->reference, NULL, 0xf28e2b);
        px += P + 24;
    }
    if (pg) {
        panel(cr, px, py, P, "Picture", NULL, 0, 0, &pg->f[pg->n - 1].im, "the enhancer's image, before tracing", NULL,
              0xb07aa1);
        px += P + 24;
    }
    fmt_num(nb, sizeof nb, r->sim1, 3);
    if (isfinite(r->sim1) && isfinite(r->sim0)) {
        char d[32];
        snprintf(d, sizeof d, "%+.3f", r->sim1 - r->sim0);
        snprintf(l1, sizeof l1, "CLIP similarity %s (%s)", nb, d);
    } else if (isfinite(r->sim1)) snprintf(l1, sizeof l1, "CLIP similarity %s", nb);
    else snprintf(l1, sizeof l1, "CLIP similarity not measured");
    verdict_text(l2, sizeof l2, &r->ev1, s->word);
    panel(cr, px, py, P, "Result", &s->drawing, cw, ch, NULL, l1, l2, 0x4e79a7);
    double y = hh + ph;
    if (h.n) {
        y += 12;
        double cwid = (W - 2 * M - 24) / 2.0;
        series_t *ss = xcalloc((size_t)h.nt + 1, sizeof *ss);
        int ns = 0;
        for (int k = 0; k < h.nt; k++)
            ss[ns++] = (series_t){h.t[k].name, h.step, h.t[k].v, h.n, plot_palette(k), 0};
        ss[ns++] = (series_t){"total (weighted)", h.step, h.total, h.n, 0x222222, 0};
        plot_rect(cr, M, y, cwid, chh, 0xffffff);
        plot_chart(cr, M, y, cwid, chh, "Loss terms", "step", ss, ns, 0);
        series_t sim[2] = {{"similarity", h.step, h.sim, h.n, 0x4e79a7, 0}, {"evaluation (total)", h.evx, h.evy, h.nev, 0xe15759, 1}};
        plot_chart(cr, M + cwid + 24, y, cwid, chh, "CLIP similarity", "step", sim, 1, 0);
        free(ss);
        y += chh + 12;
    }
    /* progression strip: 8 frames evenly over the run */
    {
        int k = nf < 8 ? nf : 8;
        double cell = (W - 2 * M - 7 * 12) / 8.0, x0 = M + (W - 2 * M - (k * cell + (k - 1) * 12)) / 2;
        plot_text(cr, M, y + 22, g ? "Progression" : "Start and result", 16, 1, 0, INK);
        y += 34;
        for (int i = 0; i < k; i++) {
            const frame_t *f = &fr[k == nf ? i : pick(i, k, nf)];
            double x = x0 + i * (cell + 12);
            plot_image(cr, &f->im, x, y, cell, cell);
            plot_frame(cr, x + 0.5, y + 0.5, cell - 1, cell - 1, LINE, 1);
            char b[64];
            fmt_num(nb, sizeof nb, f->sim, 3);
            if (g) snprintf(b, sizeof b, "step %d \xC2\xB7 %s", f->step, nb);
            else snprintf(b, sizeof b, "%s", i == 0 && has_ini ? "start" : "result");
            plot_text(cr, x + cell / 2, y + cell + 20, b, 13, 0, 1, MUTED);
        }
    }
    char *p = path_join(dir, "summary.png");
    save_or_die(&cv, p);
    free(p);
    canvas_free(&cv);
    p = path_join(dir, "grid.png");
    write_grid(p, fr, nf, o->max_frames);
    free(p);
    p = path_join(dir, "anim.gif");
    write_gif(p, fr, nf, o->delay, *word ? word : "sketch");
    free(p);
    if (own)
        for (int i = 0; i < nf; i++) image_free(&fr[i].im);
    free(fr);
    hist_free(&h);
    free(dir);
    r->d_ini = ini, r->d_tgt = tgt; /* kept for the gallery (moved, not freed) */
    drawing_init(&r->d_fin);
    drawing_copy(&r->d_fin, &s->drawing);
    r->cw = cw, r->ch = ch;
    run->n++;
    progress_tick(&c->prog, pos->nread + 1);
    return 0;
}

/* ------------------------------------------------------------------ gallery */

/* A short verdict under a gallery cell: the word's probability, green when top-1. */
static void cell_caption(cairo_t *cr, double x, double y, double w, const verdict_t *v, const char *word) {
    char b[96];
    if (!v->ok) return;
    if (v->rank == 1) snprintf(b, sizeof b, "%s %.0f%% \xE2\x9C\x93", word, 100 * v->pword);
    else if (v->rank > 0) snprintf(b, sizeof b, "%s #%d \xC2\xB7 looks like %s", word, v->rank, v->top);
    else snprintf(b, sizeof b, "looks like %s", v->top);
    plot_text_fit(cr, x + w / 2, y, b, 12, v->rank == 1, 1, v->rank == 1 ? 0x2f7d32 : v->rank > 0 ? 0xb42318 : MUTED, w);
}

/* gallery.png: one row a drawing (every key_id of every run, first-seen order), columns clean / start /
 * each run's result, with the evaluator's verdict under each.  Returns 1 when written. */
static int gallery(ctx_t *c, int max_rows) {
    if (c->nruns < 2) return 0;
    typedef struct {
        const char *key;
        const rec_t *first;
        const rec_t **per; /* (nruns) */
    } row_t;
    row_t *rows = NULL;
    int nr = 0;
    for (int k = 0; k < c->nruns; k++)
        for (int i = 0; i < c->runs[k].n; i++) {
            const rec_t *r = &c->runs[k].r[i];
            int j;
            for (j = 0; j < nr; j++)
                if (!strcmp(rows[j].key, r->key)) break;
            if (j == nr) {
                if (nr == max_rows) continue;
                rows = xrealloc(rows, (size_t)(nr + 1) * sizeof *rows);
                rows[nr] = (row_t){r->key, r, xcalloc((size_t)c->nruns, sizeof(rec_t *))};
                nr++;
            }
            if (!rows[j].per[k]) rows[j].per[k] = r;
        }
    int has_t = 0, has_i = 0;
    for (int j = 0; j < nr; j++)
        for (int k = 0; k < c->nruns; k++)
            if (rows[j].per[k]) has_t |= rows[j].per[k]->has_target, has_i |= rows[j].per[k]->has_initial;
    int ncol = has_t + has_i + c->nruns;
    const double cell = 168, gap = 14, M = 24, rh = 26 + cell + 24 + 12;
    int W = (int)(2 * M + ncol * cell + (ncol - 1) * gap), H = (int)(60 + nr * rh + 10);
    canvas_t cv;
    err_t e = {0};
    if (canvas_new(&cv, W, H, PAGE_BG, &e)) die_err(&e);
    cairo_t *cr = cv.cr;
    int col = 0;
    const char *hdr[64];
    if (has_t) hdr[col++] = "clean";
    if (has_i) hdr[col++] = "start (degraded)";
    for (int k = 0; k < c->nruns && col < 64; k++) hdr[col++] = c->runs[k].label;
    for (int i = 0; i < col; i++)
        plot_text_fit(cr, M + i * (cell + gap) + cell / 2, 40, hdr[i], 16, 1, 1, i < has_t + has_i ? MUTED : INK, cell);
    for (int j = 0; j < nr; j++) {
        double y = 60 + j * rh;
        const rec_t *f = rows[j].first;
        /* the row's clean and start: from the first run that has them */
        const rec_t *rt = NULL, *ri = NULL;
        for (int k = 0; k < c->nruns; k++) {
            const rec_t *r = rows[j].per[k];
            if (r && r->has_target && !rt) rt = r;
            if (r && r->has_initial && !ri) ri = r;
        }
        char lab[200];
        snprintf(lab, sizeof lab, "%s \xC2\xB7 %s%s", f->word, f->key, f->unrecognised ? " \xC2\xB7 not recognised by Google" : "");
        plot_text_fit(cr, M, y + 18, lab, 13, 0, 0, f->unrecognised ? 0xb45309 : MUTED, W - 2 * M);
        double x = M, by = y + 26;
        for (int i = 0; i < col; i++) {
            plot_rect(cr, x + i * (cell + gap), by, cell, cell, 0xffffff);
            plot_frame(cr, x + i * (cell + gap) + 0.5, by + 0.5, cell - 1, cell - 1, LINE, 1);
        }
        int i = 0;
        if (has_t) {
            if (rt) {
                plot_drawing(cr, &rt->d_tgt, 0, 0, x + 4, by + 4, cell - 8, cell - 8, 2.2, 0x111111);
                cell_caption(cr, x, by + cell + 17, cell, &rt->evt, rt->word);
            }
            i++;
        }
        if (has_i) {
            if (ri) {
                plot_drawing(cr, &ri->d_ini, 0, 0, x + i * (cell + gap) + 4, by + 4, cell - 8, cell - 8, 2.2, 0x111111);
                cell_caption(cr, x + i * (cell + gap), by + cell + 17, cell, &ri->ev0, ri->word);
            }
            i++;
        }
        for (int k = 0; k < c->nruns; k++, i++) {
            const rec_t *r = rows[j].per[k];
            if (!r) continue;
            plot_drawing(cr, &r->d_fin, 0, 0, x + i * (cell + gap) + 4, by + 4, cell - 8, cell - 8, 2.2, 0x1f3b73);
            cell_caption(cr, x + i * (cell + gap), by + cell + 17, cell, &r->ev1, r->word);
        }
    }
    char *p = path_join(c->o->out, "gallery.png");
    save_or_die(&cv, p);
    free(p);
    canvas_free(&cv);
    for (int j = 0; j < nr; j++) free(rows[j].per);
    free(rows);
    return 1;
}

/* ------------------------------------------------------------------ tables */

static void md_num(buf_t *b, double v, int dec) {
    if (isfinite(v)) buf_printf(b, " %.*f |", dec, v);
    else buf_puts(b, " \xE2\x80\x94 |");
}
static void md_top1(buf_t *b, const verdict_t *v) {
    if (!v->ok || !v->rank) buf_puts(b, " \xE2\x80\x94 |");
    else buf_printf(b, " %s |", v->rank == 1 ? "yes" : "no");
}
static void js_num(buf_t *b, const char *k, double v, int dec) {
    buf_printf(b, ",\"%s\":", k);
    if (isfinite(v)) buf_num(b, v, dec);
    else buf_puts(b, "null");
}
static void js_top1(buf_t *b, const char *k, const verdict_t *v) {
    buf_printf(b, ",\"%s\":%s", k, !v->ok || !v->rank ? "null" : v->rank == 1 ? "true" : "false");
}

typedef struct {
    double sim0, sim1, dsim, ch, t0, t1, s0, s1, steps, simt;
    int n, nsim, nch, ne0, ne1, c0, c1, ns0, nsteps, ntgt, nsimt;
} agg_t;

static agg_t aggregate(const run_t *run) {
    agg_t a = {0};
    for (int i = 0; i < run->n; i++) {
        const rec_t *r = &run->r[i];
        if (isfinite(r->sim0) && isfinite(r->sim1)) a.sim0 += r->sim0, a.sim1 += r->sim1, a.dsim += r->sim1 - r->sim0, a.nsim++;
        if (isfinite(r->chamfer)) a.ch += r->chamfer, a.nch++;
        if (r->has_target) a.ntgt++;
        if (r->has_target && isfinite(r->simt)) a.simt += r->simt, a.nsimt++;
        if (r->ev0.ok && r->ev0.rank) a.ne0++, a.c0 += r->ev0.rank == 1;
        if (r->ev1.ok && r->ev1.rank) a.ne1++, a.c1 += r->ev1.rank == 1;
        if (r->strokes0 >= 0) a.s0 += r->strokes0, a.ns0++;
        a.s1 += r->strokes1;
        if (r->steps >= 0) a.steps += r->steps, a.nsteps++;
        a.n++;
    }
    return a;
}

static double dv(double s, int n) { return n ? s / n : NAN; }

static void write_text(const char *path, const buf_t *b) {
    err_t e = {0};
    afile_t a;
    if (afile_open(&a, path, &e)) die_err(&e);
    if (b->len && fwrite(b->s, 1, b->len, a.fp) != b->len) {
        afile_abort(&a);
        die(EXIT_IO, "%s: write error: %s", path, strerror(errno));
    }
    if (afile_commit(&a, &e)) die_err(&e);
}

static void tables(ctx_t *c, buf_t *md, buf_t *nd) {
    buf_puts(md, "# Metrics\n\nSimilarity: the CLIP similarity optimize recorded (`optimize.initial` / `optimize.final`;\n"
                 "for a record with a clean `target`, `optimize.target`: the target evaluated as the start was).\n"
                 "Chamfer: mean symmetric chamfer distance of the result to the start, pixels of a 256 canvas.\n"
                 "Top-1: the evaluator (sketch-score's classifier) names the record's word first.\n");
    for (int k = 0; k < c->nruns; k++) {
        const run_t *run = &c->runs[k];
        agg_t a = aggregate(run);
        buf_printf(md, "\n## %s\n\n", run->label);
        buf_printf(md, "%d record%s from `%s`", run->n, run->n == 1 ? "" : "s", run->file);
        if (isfinite(run->wall)) buf_printf(md, ", wall time %.1f s", run->wall);
        buf_puts(md, ".\n\n| key_id | word | similarity start | similarity result | change | chamfer | top-1 start | "
                     "top-1 result | strokes start | strokes result | steps |");
        if (a.ntgt) buf_puts(md, " similarity clean target |");
        buf_puts(md, "\n|---|---|---:|---:|---:|---:|:-:|:-:|---:|---:|---:|");
        buf_puts(md, a.ntgt ? "---:|\n" : "\n");
        for (int i = 0; i < run->n; i++) {
            const rec_t *r = &run->r[i];
            buf_printf(md, "| %s | %s |", r->key, r->word);
            md_num(md, r->sim0, 4);
            md_num(md, r->sim1, 4);
            md_num(md, r->sim1 - r->sim0, 4);
            md_num(md, r->chamfer, 3);
            md_top1(md, &r->ev0);
            md_top1(md, &r->ev1);
            if (r->strokes0 >= 0) buf_printf(md, " %d |", r->strokes0);
            else buf_puts(md, " \xE2\x80\x94 |");
            buf_printf(md, " %d |", r->strokes1);
            if (r->steps >= 0) buf_printf(md, " %d |", r->steps);
            else buf_puts(md, " \xE2\x80\x94 |");
            if (a.ntgt) md_num(md, r->has_target ? r->simt : NAN, 4);
            buf_puts(md, "\n");
            buf_puts(nd, "{\"run\":");
            buf_jstr(nd, run->label);
            buf_puts(nd, ",\"key_id\":");
            buf_jstr(nd, r->key);
            buf_puts(nd, ",\"word\":");
            buf_jstr(nd, r->word);
            js_num(nd, "similarity_initial", r->sim0, 7);
            js_num(nd, "similarity_final", r->sim1, 7);
            js_num(nd, "similarity_change", r->sim1 - r->sim0, 7);
            if (r->has_target) js_num(nd, "similarity_target", r->simt, 7);
            js_num(nd, "chamfer", r->chamfer, 4);
            js_top1(nd, "top1_initial", &r->ev0);
            js_top1(nd, "top1_final", &r->ev1);
            js_num(nd, "p_word_initial", r->ev0.ok ? r->ev0.pword : NAN, 4);
            js_num(nd, "p_word_final", r->ev1.ok ? r->ev1.pword : NAN, 4);
            js_num(nd, "strokes_initial", r->strokes0 >= 0 ? r->strokes0 : NAN, 0);
            buf_printf(nd, ",\"strokes_final\":%d", r->strokes1);
            js_num(nd, "steps", r->steps >= 0 ? r->steps : NAN, 0);
            buf_printf(nd, ",\"frames\":%d,\"dir\":", r->nframes);
            buf_jstr(nd, r->dir);
            buf_puts(nd, "}\n");
        }
        buf_puts(md, "| **mean** | |");
        md_num(md, dv(a.sim0, a.nsim), 4);
        md_num(md, dv(a.sim1, a.nsim), 4);
        md_num(md, dv(a.dsim, a.nsim), 4);
        md_num(md, dv(a.ch, a.nch), 3);
        if (a.ne0) buf_printf(md, " %d/%d |", a.c0, a.ne0);
        else buf_puts(md, " \xE2\x80\x94 |");
        if (a.ne1) buf_printf(md, " %d/%d |", a.c1, a.ne1);
        else buf_puts(md, " \xE2\x80\x94 |");
        md_num(md, dv(a.s0, a.ns0), 1);
        md_num(md, dv(a.s1, a.n), 1);
        md_num(md, dv(a.steps, a.nsteps), 0);
        if (a.ntgt) md_num(md, dv(a.simt, a.nsimt), 4);
        buf_puts(md, "\n");
        buf_puts(nd, "{\"run\":");
        buf_jstr(nd, run->label);
        buf_printf(nd, ",\"summary\":{\"records\":%d", run->n);
        js_num(nd, "similarity_initial", dv(a.sim0, a.nsim), 7);
        js_num(nd, "similarity_final", dv(a.sim1, a.nsim), 7);
        js_num(nd, "similarity_change", dv(a.dsim, a.nsim), 7);
        if (a.ntgt) js_num(nd, "similarity_target", dv(a.simt, a.nsimt), 7);
        js_num(nd, "chamfer", dv(a.ch, a.nch), 4);
        js_num(nd, "top1_initial", a.ne0 ? (double)a.c0 / a.ne0 : NAN, 4);
        js_num(nd, "top1_final", a.ne1 ? (double)a.c1 / a.ne1 : NAN, 4);
        js_num(nd, "strokes_initial", dv(a.s0, a.ns0), 2);
        js_num(nd, "strokes_final", dv(a.s1, a.n), 2);
        js_num(nd, "steps", dv(a.steps, a.nsteps), 1);
        js_num(nd, "wall_seconds", run->wall, 2);
        buf_puts(nd, "}}\n");
    }
}

/* ------------------------------------------------------------------ training logs */

/* The last (by name) samples*.png in dir. */
static int last_sample(const char *dir, char **out) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".png") || strncmp(de->d_name, "sample", 6)) continue;
        if (!*out || strcmp(de->d_name, *out) > 0) free(*out), *out = xstrdup(de->d_name);
    }
    closedir(d);
    return *out != NULL;
}

typedef struct {
    char *name, *log, *curves, *samples; /* curves/samples relative to --out, NULL when absent */
    int rows;
} train_t;

/* clip-train's samples.ndjson as a grid: each held-out drawing captioned with its word and the model's
 * best guess, green when right, red when not.  Cells of SG_CELL px, SG_COLS a row. */
#define SG_CELL 180
#define SG_CAP 66
#define SG_GAP 14
#define SG_HEAD 52
#define SG_COLS 4
static void sample_grid(const trainsamples_t *ts, const char *title, const char *path) {
    int n = ts->n, cols = n < SG_COLS ? n : SG_COLS, rows = (n + cols - 1) / cols, right = 0;
    canvas_t c;
    err_t e = {0};
    if (canvas_new(&c, SG_GAP + cols * (SG_CELL + SG_GAP), SG_HEAD + rows * (SG_CELL + SG_CAP + SG_GAP), PAGE_BG, &e))
        die_err(&e);
    for (int i = 0; i < n; i++) right += !strcmp(ts->s[i].top[0], ts->s[i].word);
    char b[256], pb[16];
    snprintf(b, sizeof b, "%s \xC2\xB7 zero-shot guesses on held-out drawings", title);
    double W = SG_GAP + cols * (SG_CELL + SG_GAP) - 2 * SG_GAP;
    plot_text_fit(c.cr, SG_GAP, 26, b, 16, 1, 0, INK, W);
    if (ts->s[0].step >= 0) snprintf(b, sizeof b, "step %lld \xC2\xB7 %d of %d right", ts->s[0].step, right, n);
    else snprintf(b, sizeof b, "%d of %d right", right, n);
    plot_text_fit(c.cr, SG_GAP, 44, b, 13, 0, 0, MUTED, W);
    for (int i = 0; i < n; i++) {
        const trainsample_t *s = &ts->s[i];
        int ok = !strcmp(s->top[0], s->word);
        uint32_t col = ok ? 0x2e7d32 : 0xc62828;
        double x = SG_GAP + (i % cols) * (SG_CELL + SG_GAP), y = SG_HEAD + (i / cols) * (SG_CELL + SG_CAP + SG_GAP);
        plot_rect(c.cr, x, y, SG_CELL, SG_CELL, 0xffffff);
        plot_frame(c.cr, x + 0.5, y + 0.5, SG_CELL - 1, SG_CELL - 1, col, ok ? 2 : 1);
        plot_drawing(c.cr, &s->drawing, 0, 0, x + 8, y + 8, SG_CELL - 16, SG_CELL - 16, 2.5, 0x111111);
        plot_text_fit(c.cr, x + SG_CELL / 2.0, y + SG_CELL + 19, s->word, 14, 1, 1, INK, SG_CELL);
        snprintf(pb, sizeof pb, "%.0f%%", 100 * s->p[0]);
        snprintf(b, sizeof b, "\xE2\x86\x92 %s (%s)", s->top[0], pb);
        plot_text_fit(c.cr, x + SG_CELL / 2.0, y + SG_CELL + 39, b, 13, ok, 1, col, SG_CELL);
        if (s->ntop > 1) { /* the next guesses, muted */
            size_t o = (size_t)snprintf(b, sizeof b, "then");
            for (int k = 1; k < s->ntop && o < sizeof b; k++)
                o += (size_t)snprintf(b + o, sizeof b - o, "%s %s %.0f%%", k > 1 ? "," : "", s->top[k], 100 * s->p[k]);
            plot_text_fit(c.cr, x + SG_CELL / 2.0, y + SG_CELL + 57, b, 11, 0, 1, MUTED, SG_CELL);
        }
    }
    save_or_die(&c, path);
    canvas_free(&c);
}

static int has_sub(const char *k, const char *s) { return strstr(k, s) != NULL; }

static void train_one(ctx_t *c, const char *arg, train_t *t) {
    memset(t, 0, sizeof *t);
    struct stat st;
    if (stat(arg, &st)) die(EXIT_IO, "--train %s: %s", arg, strerror(errno));
    char *dir, *log = NULL;
    if (S_ISDIR(st.st_mode)) {
        dir = xstrdup(arg);
        static const char *const names[] = {"log.ndjson", "train-log.ndjson", NULL};
        for (int i = 0; names[i] && !log; i++) {
            char *p = path_join(dir, names[i]);
            if (!access(p, R_OK)) log = p;
            else free(p);
        }
        if (!log) die(EXIT_IO, "--train %s: no log.ndjson or train-log.ndjson in it", arg);
    } else {
        log = xstrdup(arg);
        const char *sl = strrchr(arg, '/');
        dir = sl ? strndup(arg, (size_t)(sl - arg)) : xstrdup(".");
    }
    const char *base = strrchr(dir, '/');
    base = base && base[1] ? base + 1 : dir;
    char *nm = safe_name(base, "train");
    buf_t b = {0};
    buf_printf(&b, "train/%s", nm);
    for (int k = 2; !strset_add(&c->dirs, b.s); k++) {
        b.len = 0;
        buf_printf(&b, "train/%s-%d", nm, k);
    }
    free(nm);
    t->name = b.s;
    t->log = log;
    err_t e = {0};
    trainlog_t tl;
    if (trainlog_load(&tl, log, &e)) die(e.code, "--train %s", e.msg);
    t->rows = tl.n;
    char *od = path_join(c->o->out, t->name);
    if (mkdir_p(od, &e)) die_err(&e);
    int xs = trainlog_find(&tl, "step");
    if (xs < 0) xs = trainlog_find(&tl, "epoch");
    double *idx = xmalloc((size_t)(tl.n ? tl.n : 1) * sizeof(double));
    for (int i = 0; i < tl.n; i++) idx[i] = xs >= 0 ? tl.col[xs][i] : i;
    /* three charts: losses, validation scores, learning rate */
    series_t *g[3];
    int ng[3] = {0, 0, 0};
    for (int j = 0; j < 3; j++) g[j] = xcalloc((size_t)tl.nk + 1, sizeof(series_t));
    for (int k = 0; k < tl.nk; k++) {
        const char *key = tl.key[k];
        int j = -1;
        if (!strcmp(key, "lr")) j = 2;
        else if (has_sub(key, "loss") || has_sub(key, "l1") || !strcmp(key, "train_d") || has_sub(key, "gan")) j = 0;
        else if (has_sub(key, "top1") || has_sub(key, "top5") || has_sub(key, "acc") || !strcmp(key, "iou") ||
                 has_sub(key, "ink_"))
            j = 1;
        if (j < 0) continue;
        g[j][ng[j]] = (series_t){key, idx, tl.col[k], tl.n, plot_palette(ng[j]), tl.n < 3};
        ng[j]++;
    }
    if (tl.n && (ng[0] || ng[1] || ng[2])) {
        canvas_t cv;
        const int W = 1240, H = 340;
        if (canvas_new(&cv, W, H + 60, PAGE_BG, &e)) die_err(&e);
        plot_text(cv.cr, 24, 36, t->name + 6, 22, 1, 0, INK);
        char info[160];
        snprintf(info, sizeof info, "%d log lines from %s", tl.n, log);
        plot_text_fit(cv.cr, 24 + 14 + plot_text(cv.cr, -10000, -10000, t->name + 6, 22, 1, 0, INK), 36, info, 14, 0, 0,
                      MUTED, W - 300);
        double cwid = (W - 48 - 2 * 20) / 3.0;
        static const char *const ttl[3] = {"Losses", "Validation", "Learning rate"};
        for (int j = 0; j < 3; j++)
            plot_chart(cv.cr, 24 + j * (cwid + 20), 56, cwid, H, ttl[j], xs >= 0 ? tl.key[xs] : "line", g[j], ng[j],
                       j != 1);
        char *p = path_join(od, "curves.png");
        save_or_die(&cv, p);
        free(p);
        canvas_free(&cv);
        b = (buf_t){0};
        buf_printf(&b, "%s/curves.png", t->name);
        t->curves = b.s;
    }
    for (int j = 0; j < 3; j++) free(g[j]);
    free(idx);
    trainlog_free(&tl);
    /* samples: clip-train's samples.ndjson drawn as a grid; else the last samples*.png beside the log
     * (unet-train's samples_epochNNN.png, a shipped samples.png) */
    char *best = NULL, *sj = path_join(dir, "samples.ndjson");
    if (!access(sj, F_OK)) {
        trainsamples_t ts;
        if (trainsamples_load(&ts, sj, &e)) die(e.code, "--train %s: %s", arg, e.msg);
        if (ts.n) {
            char *p = path_join(od, "samples.png");
            sample_grid(&ts, t->name + 6, p);
            free(p);
            b = (buf_t){0};
            buf_printf(&b, "%s/samples.png", t->name);
            t->samples = b.s;
        }
        trainsamples_free(&ts);
    } else {
        last_sample(dir, &best);
    }
    free(sj);
    if (best) {
        image_t im = {0};
        char *src = path_join(dir, best);
        if (image_load(src, &im, &e)) warn("--train %s: sample picture %s: %s", arg, src, e.msg);
        else {
            char *p = path_join(od, "samples.png");
            if (pngio_save(p, &im, NULL, &e)) die_err(&e);
            free(p);
            b = (buf_t){0};
            buf_printf(&b, "%s/samples.png", t->name);
            t->samples = b.s;
        }
        image_free(&im);
        free(src);
        free(best);
    }
    free(od);
    free(dir);
}

/* ------------------------------------------------------------------ report.html */

static void html_esc(buf_t *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '&': buf_puts(b, "&amp;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        default: buf_put(b, s, 1);
        }
    }
}
/* a relative URL: each path segment percent-encoded where needed */
static void url_esc(buf_t *b, const char *s) {
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || strchr("/-_.~", ch)) buf_put(b, s, 1);
        else buf_printf(b, "%%%02X", ch);
    }
}

static void td_num(buf_t *b, double v, int dec, int sign) {
    if (isfinite(v)) buf_printf(b, sign ? "<td class=n>%+.*f</td>" : "<td class=n>%.*f</td>", dec, v);
    else buf_puts(b, "<td class=n>&mdash;</td>");
}
static void td_top1(buf_t *b, const verdict_t *v) {
    if (!v->ok || !v->rank) buf_puts(b, "<td class=c>&mdash;</td>");
    else if (v->rank == 1) buf_printf(b, "<td class=c><span class=yes>yes</span> %.0f%%</td>", 100 * v->pword);
    else buf_printf(b, "<td class=c><span class=no>#%d</span> %.0f%%</td>", v->rank, 100 * v->pword);
}

static const char *CSS =
    ":root{--ink:#1d2433;--muted:#6b7280;--line:#e5e7eb;--bg:#f6f7f9;--accent:#4e79a7}"
    "*{box-sizing:border-box}body{margin:0;font:15px/1.5 'DejaVu Sans',system-ui,sans-serif;color:var(--ink);background:var(--bg)}"
    "header{background:#1d2433;color:#fff;padding:28px 40px}header h1{margin:0 0 6px;font-size:28px}"
    "header p{margin:0;color:#cbd5e1}nav{padding:10px 40px;background:#fff;border-bottom:1px solid var(--line);position:sticky;top:0;z-index:1}"
    "nav a{margin-right:18px;color:var(--accent);text-decoration:none;font-weight:bold}"
    "main{max-width:1320px;margin:0 auto;padding:12px 40px 60px}section{margin-top:34px}"
    "h2{font-size:22px;margin:0 0 4px}h2 small{font-weight:normal;color:var(--muted);font-size:15px}"
    ".lead{color:var(--muted);margin:0 0 14px}table{border-collapse:collapse;background:#fff;width:100%;font-size:14px;"
    "box-shadow:0 1px 2px rgba(0,0,0,.06)}th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left}"
    "th{background:#f1f3f6;font-weight:bold;white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "td.c{text-align:center}tr.mean td{font-weight:bold;background:#fafbfc}.yes{color:#2f7d32;font-weight:bold}.no{color:#b42318;font-weight:bold}"
    ".tablewrap{overflow-x:auto}.cards{display:grid;grid-template-columns:1fr;gap:22px;margin-top:18px}"
    ".card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px;box-shadow:0 1px 3px rgba(0,0,0,.05)}"
    ".card img.summary{width:100%;height:auto;display:block}.row{display:flex;gap:18px;align-items:flex-start;margin-top:10px;flex-wrap:wrap}"
    ".row figure{margin:0}.row figure.g{flex:1 1 560px;min-width:0}.row figcaption{color:var(--muted);font-size:13px}"
    ".row img.grid{width:100%;max-width:1290px;height:auto}"
    "img.gallery{max-width:100%;height:auto;background:#fff;border:1px solid var(--line);border-radius:8px}"
    ".train img{width:100%;height:auto;background:#fff;border:1px solid var(--line);border-radius:8px}"
    "footer{color:var(--muted);font-size:13px;padding:20px 40px}#selfcheck{display:none}";

/* The page records what a reader (or tests/cli/browser.sh) wants to know: every image decoded, no script error. */
static const char *SELFCHECK =
    "<script>\n"
    "(function(){var errs=[];\n"
    "window.addEventListener('error',function(ev){var t=ev.target;errs.push(t&&t.src?'failed to load '+t.src:String(ev.message));},true);\n"
    "var ce=console.error;console.error=function(){errs.push(Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments);};\n"
    "window.addEventListener('load',function(){var imgs=document.images,bad=[];\n"
    "for(var i=0;i<imgs.length;i++){if(!imgs[i].complete||!(imgs[i].naturalWidth>0))bad.push(imgs[i].getAttribute('src'));}\n"
    "var b=document.body;b.setAttribute('data-images',imgs.length);b.setAttribute('data-broken',bad.length);\n"
    "b.setAttribute('data-errors',errs.length);b.setAttribute('data-checked','1');\n"
    "document.getElementById('selfcheck').textContent=JSON.stringify({images:imgs.length,broken:bad,errors:errs});});})();\n"
    "</script>\n";

static void report(ctx_t *c, train_t *tr, int ntr, int has_gallery) {
    const opts_t *o = c->o;
    buf_t h = {0};
    const char *title = o->title ? o->title : "Sketch enhancement report";
    buf_puts(&h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    html_esc(&h, title);
    buf_printf(&h, "</title>\n<style>%s</style>\n</head>\n<body>\n", CSS);
    time_t now = time(NULL);
    char ts[64];
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    int nrec = 0;
    for (int k = 0; k < c->nruns; k++) nrec += c->runs[k].n;
    buf_puts(&h, "<header><h1>");
    html_esc(&h, title);
    buf_printf(&h, "</h1><p>%d run%s, %d record%s%s \xC2\xB7 made by summarize " INVCLIP_VERSION " on %s</p></header>\n",
               c->nruns, c->nruns == 1 ? "" : "s", nrec, nrec == 1 ? "" : "s",
               ntr ? ", training logs" : "", ts);
    buf_puts(&h, "<nav>");
    for (int k = 0; k < c->nruns; k++) {
        buf_puts(&h, "<a href=\"#run-");
        url_esc(&h, c->runs[k].label);
        buf_puts(&h, "\">");
        html_esc(&h, c->runs[k].label);
        buf_puts(&h, "</a>");
    }
    if (ntr) buf_puts(&h, "<a href=\"#training\">training</a>");
    buf_puts(&h, "<a href=\"metrics.md\">metrics.md</a><a href=\"metrics.ndjson\">metrics.ndjson</a></nav>\n<main>\n");
    if (c->nruns > 1) {
        buf_puts(&h, "<section id=\"overview\"><h2>Overview</h2><p class=lead>Means over each run's records. "
                     "Similarity: CLIP similarity as optimize recorded it; chamfer: distance of the result to its "
                     "start (pixels of a 256 canvas); top-1: the evaluator, a classifier no enhancer optimises "
                     "against, names the word first.</p><div class=tablewrap><table><tr><th>run</th><th>records</th>"
                     "<th>similarity start</th><th>similarity result</th><th>change</th><th>chamfer</th>"
                     "<th>top-1 start</th><th>top-1 result</th><th>strokes</th><th>wall time</th></tr>\n");
        for (int k = 0; k < c->nruns; k++) {
            const run_t *run = &c->runs[k];
            agg_t a = aggregate(run);
            buf_puts(&h, "<tr><td><a href=\"#run-");
            url_esc(&h, run->label);
            buf_puts(&h, "\">");
            html_esc(&h, run->label);
            buf_printf(&h, "</a></td><td class=n>%d</td>", run->n);
            td_num(&h, dv(a.sim0, a.nsim), 3, 0);
            td_num(&h, dv(a.sim1, a.nsim), 3, 0);
            td_num(&h, dv(a.dsim, a.nsim), 3, 1);
            td_num(&h, dv(a.ch, a.nch), 2, 0);
            if (a.ne0) buf_printf(&h, "<td class=c>%d/%d</td>", a.c0, a.ne0);
            else buf_puts(&h, "<td class=c>&mdash;</td>");
            if (a.ne1) buf_printf(&h, "<td class=c>%d/%d</td>", a.c1, a.ne1);
            else buf_puts(&h, "<td class=c>&mdash;</td>");
            if (a.ns0) buf_printf(&h, "<td class=n>%.1f &rarr; %.1f</td>", a.s0 / a.ns0, a.s1 / a.n);
            else buf_printf(&h, "<td class=n>%.1f</td>", dv(a.s1, a.n));
            if (isfinite(run->wall)) buf_printf(&h, "<td class=n>%.1f s</td></tr>\n", run->wall);
            else buf_puts(&h, "<td class=n>&mdash;</td></tr>\n");
        }
        buf_puts(&h, "</table></div></section>\n");
    }
    if (has_gallery)
        buf_puts(&h, "<section id=\"gallery\"><h2>Side by side</h2><p class=lead>Each drawing: the clean original, the "
                     "degraded start every enhancer got, and what each returned. Under each: the evaluator's verdict "
                     "(green: it names the word first; red: the word's rank and what it saw instead).</p>"
                     "<img class=gallery src=\"gallery.png\" alt=\"every drawing, side by side\"></section>\n");
    for (int k = 0; k < c->nruns; k++) {
        const run_t *run = &c->runs[k];
        buf_puts(&h, "<section id=\"run-");
        url_esc(&h, run->label);
        buf_puts(&h, "\"><h2>");
        html_esc(&h, run->label);
        buf_printf(&h, " <small>%d record%s from ", run->n, run->n == 1 ? "" : "s");
        html_esc(&h, run->file);
        if (isfinite(run->wall)) buf_printf(&h, ", %.1f s wall time", run->wall);
        buf_puts(&h, "</small></h2>\n");
        if (run->note) {
            buf_puts(&h, "<p class=lead>");
            html_esc(&h, run->note);
            buf_puts(&h, "</p>\n");
        }
        int tcol = aggregate(run).nsimt > 0; /* a column for the clean targets' similarity */
        buf_puts(&h, "<div class=tablewrap><table><tr><th>key_id</th><th>word</th><th>similarity start</th>"
                     "<th>similarity result</th><th>change</th><th>chamfer</th><th>top-1 start</th><th>top-1 result</th>"
                     "<th>strokes</th><th>steps</th>");
        buf_puts(&h, tcol ? "<th>similarity clean target</th></tr>\n" : "</tr>\n");
        for (int i = 0; i < run->n; i++) {
            const rec_t *r = &run->r[i];
            buf_puts(&h, "<tr><td><a href=\"#r-");
            url_esc(&h, r->dir);
            buf_puts(&h, "\">");
            html_esc(&h, r->key);
            buf_puts(&h, "</a></td><td>");
            html_esc(&h, r->word);
            buf_puts(&h, "</td>");
            td_num(&h, r->sim0, 3, 0);
            td_num(&h, r->sim1, 3, 0);
            td_num(&h, r->sim1 - r->sim0, 3, 1);
            td_num(&h, r->chamfer, 2, 0);
            td_top1(&h, &r->ev0);
            td_top1(&h, &r->ev1);
            if (r->strokes0 >= 0) buf_printf(&h, "<td class=n>%d &rarr; %d</td>", r->strokes0, r->strokes1);
            else buf_printf(&h, "<td class=n>%d</td>", r->strokes1);
            if (r->steps >= 0) buf_printf(&h, "<td class=n>%d</td>", r->steps);
            else buf_puts(&h, "<td class=n>&mdash;</td>");
            if (tcol) td_num(&h, r->has_target ? r->simt : NAN, 3, 0);
            buf_puts(&h, "</tr>\n");
        }
        buf_puts(&h, "</table></div>\n<div class=cards>\n");
        for (int i = 0; i < run->n; i++) {
            const rec_t *r = &run->r[i];
            buf_puts(&h, "<div class=card id=\"r-");
            url_esc(&h, r->dir);
            buf_puts(&h, "\"><img class=summary src=\"");
            url_esc(&h, r->dir);
            buf_puts(&h, "/summary.png\" alt=\"summary of ");
            html_esc(&h, r->word);
            buf_puts(&h, " ");
            html_esc(&h, r->key);
            buf_puts(&h, "\">\n<div class=row><figure><img src=\"");
            url_esc(&h, r->dir);
            buf_puts(&h, "/anim.gif\" width=\"224\" alt=\"animation\"><figcaption>animation</figcaption></figure>"
                         "<figure class=g><img class=grid src=\"");
            url_esc(&h, r->dir);
            buf_printf(&h, "/grid.png\" alt=\"frames\"><figcaption>%s</figcaption></figure></div></div>\n",
                       r->nframes ? "every frame: step and similarity" : "start and result");
        }
        buf_puts(&h, "</div></section>\n");
    }
    if (ntr) {
        buf_puts(&h, "<section id=\"training\" class=train><h2>Training</h2>\n");
        for (int i = 0; i < ntr; i++) {
            buf_puts(&h, "<h3>");
            html_esc(&h, tr[i].name + 6);
            buf_printf(&h, " <small>%d log lines, ", tr[i].rows);
            html_esc(&h, tr[i].log);
            buf_puts(&h, "</small></h3>\n");
            if (tr[i].curves) {
                buf_puts(&h, "<p><img src=\"");
                url_esc(&h, tr[i].curves);
                buf_puts(&h, "\" alt=\"training curves\"></p>\n");
            }
            if (tr[i].samples) {
                buf_puts(&h, "<p><img src=\"");
                url_esc(&h, tr[i].samples);
                buf_puts(&h, "\" alt=\"samples\" style=\"max-width:640px\"></p>\n");
            }
        }
        buf_puts(&h, "</section>\n");
    }
    buf_puts(&h, "</main>\n<footer>Offline page: every picture is a file beside it; no network. "
                 "Made by <code>summarize</code> (docs/summarize.md).</footer>\n<pre id=\"selfcheck\"></pre>\n");
    buf_puts(&h, SELFCHECK);
    buf_puts(&h, "</body>\n</html>\n");
    char *p = path_join(o->out, "report.html");
    write_text(p, &h);
    free(p);
    buf_free(&h);
}

/* ------------------------------------------------------------------ main */

static char *label_of(const char *file) {
    if (!strcmp(file, "-")) return xstrdup("stdin");
    const char *b = strrchr(file, '/');
    b = b ? b + 1 : file;
    return xstrdup(b);
}

int main(int argc, char **argv) {
    util_init(argv[0]);
    opts_t o = {.delay = 12, .max_frames = 48};
    const opt_t table[] = {
        {"out", 'o', OPT_STR, &o.out, "DIR", "output folder (made if missing; required)", OPT_NORANGE},
        {"frames", 'f', OPT_LIST, &o.frames, "FILE",
         "the `optimize --frames` PNG stream of the run: the k-th --frames goes with the k-th input (none = no frames)",
         OPT_NORANGE},
        {"label", 'l', OPT_LIST, &o.labels, "NAME", "the k-th input's name in the report (default its file name)",
         OPT_NORANGE},
        {"wall", 0, OPT_LIST, &o.wall, "SECONDS", "the k-th run's wall time, for the tables", OPT_NORANGE},
        {"note", 0, OPT_LIST, &o.notes, "TEXT", "a sentence on the k-th run, shown under its heading", OPT_NORANGE},
        {"picture", 'p', OPT_LIST, &o.pictures, "FILE",
         "a PNG stream of one picture a key_id for the k-th run (e.g. unet-train --apply's images), shown as a panel; "
         "none = no pictures",
         OPT_NORANGE},
        {"reference", 'r', OPT_STR, &o.reference, "PIC", "reference picture (PNG or JPEG) shown beside each record",
         OPT_NORANGE},
        {"evaluator", 'e', OPT_STR, &o.evaluator, "FILE",
         "sketch-score model (default $INVCLIP_EVALUATOR, else data/" EVAL_MODEL "; none = no evaluator)",
         OPT_NORANGE},
        {"delay", 'd', OPT_INT, &o.delay, "CS", "GIF frame delay in centiseconds (the last frame stays 8 times as long)",
         1, 6000},
        {"max-frames", 0, OPT_INT, &o.max_frames, "N", "at most N frames in a grid (evenly chosen)", 1, 4096},
        {"train", 't', OPT_LIST, &o.train, "LOG|DIR",
         "a training log (clip-train, unet-train, sketch-score --train: log.ndjson, or its folder): curves, and a "
         "sample grid of clip-train's samples.ndjson or the last samples*.png beside it",
         OPT_NORANGE},
        {"title", 0, OPT_STR, &o.title, "TEXT", "the report's title", OPT_NORANGE},
        OPT_KEEP_GOING(&o.keep_going),
        OPT_PROGRESS(&o.progress),
        {0},
    };
    const optspec_t spec = {
        .usage = "--out DIR [options] [RECORDS...]",
        .summary =
            "Pictures, animations and tables of enhancement runs.  Each RECORDS file (NDJSON, .gz ok; stdin when\n"
            "none is given and no --train) is a run: records from optimize (drawing, initial, history, optimize),\n"
            "from unet-train --apply --records --vectorize, or any sketch records.  Writes per record\n"
            "DIR/RUN/KEY/{summary.png,grid.png,anim.gif}, per run a row in DIR/metrics.{md,ndjson}, per --train log\n"
            "DIR/train/NAME/{curves.png,samples.png}, and DIR/report.html showing everything (offline, relative\n"
            "links).  The evaluator (sketch-score's classifier) judges start, target and result in process.",
        .opts = table,
        .epilog =
            "Examples:\n"
            "  optimize --frames f.png --loss clip-text:prompt=fish < fish.ndjson > out.ndjson\n"
            "  summarize -o outputs/fish --frames f.png out.ndjson\n"
            "  summarize -o outputs/cmp -l study -f a.png a.ndjson -l fair -f b.png b.ndjson --train outputs/unet\n"
            "Exit codes: 1 bad data (a malformed record or frames stream, naming file, line and key_id;\n"
            "--keep-going skips bad records), 2 usage, 3 I/O, 5 evaluator model.",
    };
    strlist_t files = {0};
    opt_parse(&spec, argc, argv, &files);
    if (!o.out) die(EXIT_USAGE, "--out DIR is required (where the pictures and report.html go)");
    if (!files.n && !o.train.n) strlist_push(&files, "-");
    if (o.frames.n > files.n) die(EXIT_USAGE, "%d --frames for %d input%s: the k-th --frames goes with the k-th input",
                                  o.frames.n, files.n, files.n == 1 ? "" : "s");
    if (o.labels.n > files.n) die(EXIT_USAGE, "%d --label for %d input%s", o.labels.n, files.n, files.n == 1 ? "" : "s");
    if (o.notes.n > files.n) die(EXIT_USAGE, "%d --note for %d input%s", o.notes.n, files.n, files.n == 1 ? "" : "s");
    if (o.pictures.n > files.n)
        die(EXIT_USAGE, "%d --picture for %d input%s", o.pictures.n, files.n, files.n == 1 ? "" : "s");
    if (o.wall.n > files.n) die(EXIT_USAGE, "%d --wall for %d input%s", o.wall.n, files.n, files.n == 1 ? "" : "s");
    err_t e = {0};
    ctx_t c = {.o = &o};
    if (o.reference) {
        if (access(o.reference, R_OK)) die(EXIT_IO, "--reference %s: %s", o.reference, strerror(errno));
        if (image_load(o.reference, &c.refpic, &e)) die(e.code, "--reference %s", e.msg);
        c.has_ref = 1;
    }
    if (!o.evaluator || strcmp(o.evaluator, "none")) {
        char *m = NULL;
        if (o.evaluator) m = xstrdup(o.evaluator);
        else if (getenv("INVCLIP_EVALUATOR") && *getenv("INVCLIP_EVALUATOR")) m = xstrdup(getenv("INVCLIP_EVALUATOR"));
        else if (!(m = data_path(EVAL_MODEL))) m = xstrdup("data/" EVAL_MODEL);
        if (access(m, R_OK))
            die(EXIT_MODEL, "evaluator model %s: %s; make it with `make train-evaluator` or give --evaluator none", m,
                strerror(errno));
        evaluator_open(&c.ev, m);
        free(m);
    }
    /* unreadable inputs stop the run before anything is written */
    for (int k = 0; k < files.n; k++)
        if (strcmp(files.v[k], "-") && access(files.v[k], R_OK)) die(EXIT_IO, "%s: cannot open: %s", files.v[k], strerror(errno));
    for (int k = 0; k < o.frames.n; k++)
        if (strcmp(o.frames.v[k], "none") && access(o.frames.v[k], R_OK))
            die(EXIT_IO, "--frames %s: cannot open: %s", o.frames.v[k], strerror(errno));
    for (int k = 0; k < o.pictures.n; k++)
        if (strcmp(o.pictures.v[k], "none") && access(o.pictures.v[k], R_OK))
            die(EXIT_IO, "--picture %s: cannot open: %s", o.pictures.v[k], strerror(errno));
    if (mkdir_p(o.out, &e)) die_err(&e);
    c.runs = xcalloc((size_t)files.n + 1, sizeof *c.runs);
    progress_init(&c.prog, "records", 0, o.progress);
    for (int k = 0; k < files.n; k++) {
        run_t *run = &c.runs[c.nruns++];
        run->file = xstrdup(files.v[k]);
        char *lb = k < o.labels.n ? xstrdup(o.labels.v[k]) : label_of(files.v[k]);
        /* drop the usual extensions from a file-name label */
        if (k >= o.labels.n)
            for (int again = 1; again;) {
                again = 0;
                static const char *const ext[] = {".gz", ".ndjson", ".jsonl", ".json", NULL};
                for (int x = 0; ext[x]; x++) {
                    size_t n = strlen(lb), m = strlen(ext[x]);
                    if (n > m && !strcmp(lb + n - m, ext[x])) lb[n - m] = 0, again = 1;
                }
            }
        run->label = safe_name(lb, "run");
        free(lb);
        for (int j = 0; j < k; j++)
            if (!strcmp(c.runs[j].label, run->label))
                die(EXIT_USAGE, "two inputs named \"%s\": give each a --label", run->label);
        run->wall = NAN;
        if (k < o.wall.n) {
            char *end;
            run->wall = strtod(o.wall.v[k], &end);
            if (*end || !(run->wall >= 0)) die(EXIT_USAGE, "--wall \"%s\": want seconds >= 0", o.wall.v[k]);
        }
        if (k < o.frames.n && strcmp(o.frames.v[k], "none")) {
            run->frames = xstrdup(o.frames.v[k]);
            frames_load(&c.fs, run->frames, o.keep_going, "--frames");
        }
        if (k < o.notes.n && *o.notes.v[k]) run->note = xstrdup(o.notes.v[k]);
        if (k < o.pictures.n && strcmp(o.pictures.v[k], "none")) {
            run->pictures = xstrdup(o.pictures.v[k]);
            frames_load(&c.pics, run->pictures, o.keep_going, "--picture");
        }
        c.cur = run;
        strlist_t one = {0};
        strlist_push(&one, files.v[k]);
        records_opts_t ro = {.keep_going = o.keep_going, .progress = 0};
        records_run(&one, &ro, one_record, &c);
        strlist_free(&one);
        if (!run->n) warn("%s: no records in %s", run->label, run->file);
        for (int i = 0; i < c.fs.n; i++)
            if (!c.fs.g[i].used)
                warn("--frames %s: %d frame%s for key_id %s, which is not in %s; ignored", run->frames, c.fs.g[i].n,
                     c.fs.g[i].n == 1 ? "" : "s", c.fs.g[i].key, run->file);
        for (int i = 0; i < c.pics.n; i++)
            if (!c.pics.g[i].used)
                warn("--picture %s: a picture for key_id %s, which is not in %s; ignored", run->pictures, c.pics.g[i].key,
                     run->file);
        frameset_free(&c.fs);
        frameset_free(&c.pics);
    }
    progress_done(&c.prog);
    train_t *tr = xcalloc((size_t)o.train.n + 1, sizeof *tr);
    for (int i = 0; i < o.train.n; i++) train_one(&c, o.train.v[i], &tr[i]);
    buf_t md = {0}, nd = {0};
    tables(&c, &md, &nd);
    char *p = path_join(o.out, "metrics.md");
    write_text(p, &md);
    free(p);
    p = path_join(o.out, "metrics.ndjson");
    write_text(p, &nd);
    free(p);
    report(&c, tr, o.train.n, gallery(&c, 60));
    int nrec = 0;
    for (int k = 0; k < c.nruns; k++) nrec += c.runs[k].n;
    fprintf(stderr, "summarize: %d record%s in %d run%s%s -> %s/report.html\n", nrec, nrec == 1 ? "" : "s", c.nruns,
            c.nruns == 1 ? "" : "s", o.train.n ? " and training logs" : "", o.out);
    buf_free(&md), buf_free(&nd);
    int status = !nrec && !o.train.n ? EXIT_DATA : 0;
    for (int k = 0; k < c.nruns; k++) {
        run_t *run = &c.runs[k];
        for (int i = 0; i < run->n; i++) {
            rec_t *r = &run->r[i];
            free(r->key), free(r->word), free(r->dir);
            drawing_free(&r->d_ini), drawing_free(&r->d_fin), drawing_free(&r->d_tgt);
        }
        free(run->r), free(run->label), free(run->file), free(run->frames), free(run->note), free(run->pictures);
    }
    free(c.runs);
    for (int i = 0; i < o.train.n; i++) free(tr[i].name), free(tr[i].log), free(tr[i].curves), free(tr[i].samples);
    free(tr);
    strset_free(&c.dirs);
    strlist_free(&files);
    strlist_free(&o.frames), strlist_free(&o.labels), strlist_free(&o.train), strlist_free(&o.wall);
    strlist_free(&o.notes), strlist_free(&o.pictures);
    evaluator_close(&c.ev);
    image_free(&c.refpic);
    plot_shutdown();
    return status;
}
