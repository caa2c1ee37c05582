/* optim.h - the inverse-CLIPasso optimiser: one sketch's strokes against
 * any number of weighted loss plugins (tools/optimize.c is its command line;
 * docs/optimize.md the user's guide; docs/study.md section 4 the
 * study it reproduces).
 *
 * A step (docs/study.md 4.2, with the study's bugs fixed where said):
 *
 *   render     the renderer plugin draws the strokes on the canvas (C x C,
 *              grey, 1 = paper)
 *   resize     to the CLIP model's input size S when C != S (nn/resize.h,
 *              antialiased triangle filter; identity for ViT-B/32 at 224)
 *   augment    the augmentation plugin (optional) makes N views of it
 *   losses     every loss plugin sees the image, the views and the strokes;
 *              total = sum_i w_i(step) * L_i
 *   backward   losses -> views -> augmentation adjoint -> resize adjoint ->
 *              renderer adjoint -> d total / d points (+ widths, opacities)
 *   noise      N(0, noise^2) added to the point gradients, noise *= decay
 *   clip       global L2 norm of the point gradients clipped to clip_norm
 *   Adam       torch.optim.Adam (betas 0.9/0.999, eps 1e-8, no decay), one
 *              step count per stroke group (strokes added later start at 1,
 *              as a new torch param group does); lr from the schedule
 *   clamp      points to [0, C], widths to [0.1, C], opacities to [0, 1]
 *   grow       every add_interval steps (s > 0) a new stroke, up to add_max
 *
 * The numbers recorded for step s (the history) are those of the strokes
 * before step s's update, as in the study.  An evaluation renders the
 * strokes without augmentation and sums the weighted losses without
 * gradients: at the start, every eval_every updates (best-iterate tracking,
 * early stopping) and on the strokes returned (so the "final" numbers
 * describe what is output -- the study's were the last pre-update values).
 *
 * Determinism: every random draw (augmentations, noise, random strokes)
 * comes from the job host's RNG, seeded per record and restart from the
 * run's seed and the record's key (optim_seed); a record's result does not
 * depend on --jobs or on the other records.  A checkpoint holds the strokes,
 * the Adam moments, the RNG, the noise level, the best iterate and the
 * history text, so a resumed run continues bit for bit.
 */
#ifndef OPTIM_H
#define OPTIM_H
#include <stdint.h>
#include <stdio.h>
#include "clip_model.h"
#include "host.h"
#include "plugin_host.h"
#include "pool.h"
#include "raster.h"
#include "sketch.h"
#include "util.h"

/* optimize -j 0 runs a CLIP model narrower than this on one thread: its
 * products are too small for the pool's hand-offs to pay (docs/optimize.md). */
#define OPTIM_NARROW_WIDTH 256

/* ---- schedules (docs/study.md 4.4, the study's formulas) ---- */
typedef enum { OSCHED_CONSTANT, OSCHED_LINEAR, OSCHED_COSINE, OSCHED_WARMUP_COSINE } optim_sched_t;
/* Learning-rate multiplier for step s of T; f = min_lr / lr; W warmup steps. */
double optim_lr_mult(optim_sched_t k, int s, int T, int W, double f);
typedef enum { WSCHED_CONSTANT, WSCHED_LINEAR, WSCHED_COSINE } optim_wsched_t;
/* A loss weight going from `from` (step 0) to `to` (step T-1); constant = to. */
double optim_weight_at(optim_wsched_t k, double from, double to, int s, int T);

/* ---- one --loss NAME:key=value,... ----
 * The optimiser's own keys are taken out before the rest goes to the plugin:
 *   weight=W           the loss's weight (default 1)
 *   weight_from=W0     with weight_schedule: the weight at the first step
 *   weight_schedule=S  constant (default) | linear | cosine (the study's
 *                      linear_up / cosine_up formulas, from W0 to W)
 *   as=NAME            its name in the history (default the plugin's name;
 *                      two losses of one plugin need different names) */
typedef struct {
    char *spec;  /* NAME[:the plugin's own keys] */
    char *label;
    double weight, weight_from;
    int wsched;  /* optim_wsched_t */
} optim_loss_spec_t;
int optim_loss_spec_parse(const char *arg, optim_loss_spec_t *out, err_t *e);
void optim_loss_spec_free(optim_loss_spec_t *s);

/* ---- where the strokes start ---- */
typedef enum { OINIT_DRAWING, OINIT_RANDOM, OINIT_SALIENCY } optim_init_kind_t;
typedef enum { OADD_RANDOM, OADD_CENTER, OADD_EDGE } optim_add_kind_t;

typedef struct {
    /* plugins */
    const char *renderer;  /* spec */
    const char *augment;   /* spec or NULL */
    optim_loss_spec_t *losses;
    int nlosses;
    /* canvas and strokes */
    int steps, canvas;
    double pad, width;
    /* the start */
    int init;              /* optim_init_kind_t */
    int init_strokes, init_points;
    double init_jitter, init_temp;
    const char *init_image; /* saliency target */
    /* Adam and its schedule */
    double lr, min_lr, lr_width, lr_opacity;
    int sched, warmup;     /* optim_sched_t */
    double clip_norm, noise, noise_decay;
    /* progressive strokes */
    int add_interval, add_max, add_points, add_init; /* optim_add_kind_t */
    /* evaluations */
    int eval_every, patience, keep_best;
    double min_delta;
    int restarts;
    uint64_t seed;
    int bf16;              /* the steps' CLIP image products in bfloat16 (the model's clip_t.bf16,
                              packed by the caller); evaluations stay float32 */
    int f32pack;           /* with bf16 0: every CLIP image product (steps and evaluations) in
                              float32 through the packed weights (clip_t.f32pack, packed by the
                              caller) instead of OpenBLAS */
    /* outputs */
    int history;           /* keep the per-step history text */
    int frame_every;       /* 0 = no frames */
    int ckpt_every;        /* 0 = no checkpoints */
    int stop_after;        /* testing: stop (as if killed) after this many steps; 0 = never */
} optim_cfg_t;

/* The canonical text of every setting that shapes a trajectory: a checkpoint
 * stores it, and a resume with other settings is refused. */
void optim_cfg_text(const optim_cfg_t *c, const char *model, buf_t *out);

/* Evaluation numbers (un-augmented, no gradient). */
#define OPTIM_MAX_LOSSES 32
typedef struct {
    double total, similarity; /* similarity: NaN when no loss reports one */
    double value[OPTIM_MAX_LOSSES];
} optim_eval_t;

/* What one record's optimisation returns (all coordinates in canvas pixels). */
typedef struct {
    drawing_t initial, final;
    buf_t history;        /* a JSON array, or empty when cfg->history is 0 */
    buf_t frames;         /* PNG stream bytes (frame_every) */
    optim_eval_t eval0, eval1; /* of the initial and the returned strokes */
    optim_eval_t eval_target;  /* of the target drawing (has_target) */
    int has_target;
    int steps_run, best_step, restart, stopped_early, resumed;
    double restart_eval[64];
    int nrestart_eval;
    int stopped;          /* stop_after reached: nothing to output */
} optim_result_t;
void optim_result_init(optim_result_t *r);
void optim_result_free(optim_result_t *r);

/* Timing of the phases, seconds (optimize --timing). */
typedef struct {
    double render, resize, augment, losses, update, eval, total;
    double first;      /* of total: each record's first step (the one that meets fresh buffers) */
    long long steps;
} optim_timing_t;

/* One thread's instances: plugins, host, buffers.  model may be NULL (no
 * CLIP services); pool NULL = serial.  Errors name the plugin. */
typedef struct optim_job optim_job_t;
int optim_job_open(optim_job_t **out, const optim_cfg_t *cfg, clip_model_t *model, pool_t *pool, err_t *e);
void optim_job_close(optim_job_t *j);
const optim_timing_t *optim_job_timing(const optim_job_t *j);
/* The loss labels in order (for headers and tests). */
const char *optim_job_label(const optim_job_t *j, int i);

/* The per-record seed: the run's seed mixed with the record's key. */
uint64_t optim_seed(uint64_t seed, const char *key);

/* Optimise one drawing.  d is in its own frame, mapped to canvas pixels by
 * xf (X = x*sx + ox); target, when not NULL, is the clean drawing d was
 * degraded from, in the same frame: it is evaluated once as the start is
 * (un-augmented, step 0's weights, the restart-0 seed; losses comparing with
 * the original strokes compare with the returned strokes' start) into
 * res->eval_target, and it is never optimised; key names the record in messages, frames and
 * checkpoints; ckpt_path is NULL or this record's checkpoint file (with
 * restarts, ".rK" is appended for restart K > 0); resume: continue from it
 * when it exists.  progress: ticked once a step (may be NULL). */
int optim_record(optim_job_t *j, const drawing_t *d, const drawing_t *target, const xform_t *xf, const char *key,
                 const char *word, const char *ckpt_path, int resume, progress_t *progress, optim_result_t *res, err_t *e);

/* The checkpoint reader alone (for its fuzzer, tests/fuzz/fuzz_optim_ckpt.c):
 * decode a checkpoint file's bytes as a run with settings text cfgtext
 * (NULL: any settings), `steps` steps and nloss losses would.  0, or EXIT_MODEL (corrupt, naming
 * "fuzz") / EXIT_USAGE (other settings). */
int optim_ckpt_check(const void *data, size_t size, const char *cfgtext, int steps, int nloss, err_t *e);
#endif
