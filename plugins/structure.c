/* structure.c - loss plugin `structure`: how far the current points have
 * moved from the drawing the run started from (host->original), times a
 * weight schedule over the run's steps.
 *
 * Distance (docs/study.md 4.3 "original", and 4.8 for mode=anchor).  Only
 * strokes s < min(#current, #original) whose point counts agree are compared:
 * strokes added during the run (beyond the original count) are unpenalised,
 * and so is a stroke whose point count changed.
 *   mode=study  (default, 4.3):  D = sum_{s,i} |p_si - o_si|^2 / (number of compared coordinates)
 *   mode=anchor (4.8, the reference-anchor experiment):
 *                D = mean over compared strokes of mean_{i,xy} (p_si - o_si)^2
 * Schedule multiplier m(s), progress pi = step / max(nsteps - 1, 1) (4.4):
 *   constant  m = end
 *   linear_up m = start + (end - start) * pi
 *   cosine_up m = start + (end - start) * (1 - cos(pi * pi)) / 2
 * L = m * D; dL/dp_si = m * 2 (p_si - o_si) / count (count = coordinates for
 * study, per stroke 2*npts times the stroke count for anchor).  The image and
 * views are not read.  Metrics: "distance" (D) and "weight" (m).
 * Points are in the renderer's parameterisation, like the original's (for the
 * bezier renderer: control points, as the study's refinement mode compared).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "plugin.h"

enum { SCHED_CONSTANT, SCHED_LINEAR_UP, SCHED_COSINE_UP };
enum { MODE_STUDY, MODE_ANCHOR };

static const plugin_param_t params[] = {
    {.name = "schedule", .type = PARAM_ENUM, .sdef = "constant", .choices = "constant|linear_up|cosine_up",
     .help = "weight schedule over the run's steps: constant = end; *_up rises from start to end"},
    {.name = "start", .type = PARAM_FLOAT, .def = 0.2, .min = 0, .max = 1e6,
     .help = "schedule multiplier at the first step (linear_up, cosine_up)"},
    {.name = "end", .type = PARAM_FLOAT, .def = 1, .min = 0, .max = 1e6,
     .help = "schedule multiplier at the last step (the constant schedule's value)"},
    {.name = "mode", .type = PARAM_ENUM, .sdef = "study", .choices = "study|anchor",
     .help = "study: squared distance over all compared coordinates; anchor: mean of per-stroke MSEs"},
};

typedef struct {
    int sched, mode;
    double start, end;
} structure_t;

static int st_init(void *st, const plugin_value_t *v, const plugin_host_t *host, plugin_err_t *err) {
    structure_t *s = st;
    (void)host;
    (void)err;
    s->sched = (int)v[0].i;
    s->start = v[1].f;
    s->end = v[2].f;
    s->mode = (int)v[3].i;
    return 0;
}

static size_t st_ws(const void *st, const loss_in_t *in) {
    (void)st;
    (void)in;
    return 0;
}

static double multiplier(const structure_t *s, const plugin_host_t *host) {
    if (s->sched == SCHED_CONSTANT) return s->end;
    int nsteps = 0, step = host && host->step ? host->step(host->ctx, &nsteps) : 0;
    double pi = (double)step / (nsteps - 1 > 1 ? nsteps - 1 : 1);
    if (pi < 0) pi = 0;
    if (pi > 1) pi = 1;
    double f = s->sched == SCHED_LINEAR_UP ? pi : (1 - cos(M_PI * pi)) / 2;
    return s->start + (s->end - s->start) * f;
}

static int fail(plugin_err_t *err, int code, const char *msg) {
    snprintf(err->msg, sizeof err->msg, "structure: %s", msg);
    return code;
}

/* 1 when strokes s of a and b can be compared */
static int same_shape(const scene_t *a, const scene_t *b, int s) { return a->npts[s] == b->npts[s] && a->npts[s] > 0; }

static int st_eval(void *st, void *ws, const plugin_host_t *host, const loss_in_t *in, loss_out_t *out,
                   plugin_err_t *err) {
    const structure_t *s = st;
    (void)ws;
    const scene_t *cur = in->scene, *org = host && host->original ? host->original(host->ctx) : NULL;
    if (!cur) return fail(err, EXIT_INTERNAL, "needs the current strokes (the host passed none)");
    if (!org) return fail(err, EXIT_USAGE, "needs the strokes the run started from (the host has none)");
    int ns = cur->nstrokes < org->nstrokes ? cur->nstrokes : org->nstrokes;
    /* counts first: both modes divide by them */
    long coords = 0;
    int nstk = 0;
    for (int k = 0; k < ns; k++)
        if (same_shape(cur, org, k)) coords += 2L * cur->npts[k], nstk++;
    double m = multiplier(s, host), D = 0;
    for (int k = 0; k < ns; k++) {
        if (!same_shape(cur, org, k)) continue;
        const float *p = cur->xy + 2 * (size_t)cur->off[k], *o = org->xy + 2 * (size_t)org->off[k];
        int n2 = 2 * cur->npts[k];
        double cnt = s->mode == MODE_STUDY ? (double)coords : (double)n2 * nstk, sum = 0;
        for (int i = 0; i < n2; i++) {
            if (!isfinite(p[i]) || !isfinite(o[i])) {
                char msg[160];
                snprintf(msg, sizeof msg, "stroke %d, point %d: %s coordinate is not finite", k, i / 2,
                         isfinite(p[i]) ? "an original" : "a current");
                return fail(err, EXIT_NUMERIC, msg);
            }
            double d = (double)p[i] - o[i];
            sum += d * d;
            if (out->dscene.xy) out->dscene.xy[2 * (size_t)cur->off[k] + i] += (float)(m * 2 * d / cnt);
        }
        D += sum / cnt;
    }
    out->value = m * D;
    out->nmetrics = 2;
    out->metric_name[0] = "distance";
    out->metric[0] = D;
    out->metric_name[1] = "weight";
    out->metric[1] = m;
    return 0;
}

static const loss_vt vt = {.ws_size = st_ws, .eval = st_eval};

static const plugin_desc_t desc = {
    .abi = INVCLIP_PLUGIN_ABI,
    .kind = PLUGIN_LOSS,
    .name = "structure",
    .version = "1",
    .summary = "squared distance of the points to the original drawing, with a weight schedule",
    .help = "L = m(step) * D.  D compares stroke s < min(#current, #original) point by point when their point "
            "counts agree (strokes added later, or whose count changed, are unpenalised).  mode=study "
            "(docs/study.md 4.3): D = sum |p - p0|^2 / compared coordinates (MSE in px^2); mode=anchor (4.8): "
            "mean over strokes of each stroke's MSE.  m: constant = end; linear_up = start + (end-start)*pi; "
            "cosine_up = start + (end-start)*(1-cos(pi*pi))/2, pi = step/max(nsteps-1,1).  Study parity: the "
            "inverse optimiser's refinement mode is schedule=cosine_up,start=0.1,end=0.5 (or its constant 0.5); "
            "the reference-anchor run is mode=anchor with the host's weight 0.3 or 0.7.  Metrics: distance, weight.",
    .params = params,
    .nparams = (int)(sizeof params / sizeof params[0]),
    .state_size = sizeof(structure_t),
    .init = st_init,
    .loss = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
