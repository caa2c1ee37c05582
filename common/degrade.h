/* degrade.h - synthetic sketch degradations (the study's and stronger ones).
 *
 * Each degradation is a named transform of a drawing_t with a small table of
 * numeric parameters (name, default, min, max, integer?, length?, help).
 * A *step* is a degradation with, per parameter, a fixed value or a range
 * lo..hi that is drawn uniformly per record; a *chain* is steps applied in
 * order ("noise:level=3+jitter:amount=2"); a *plan* is a fixed chain followed
 * by one chain picked uniformly from a mix.  degrade_plan_run() degrades one
 * drawing with one record's generator and appends the JSON description of
 * what it applied ([{"name":"noise","level":5.21},...]).
 *
 * Parameters flagged as lengths are in drawing units; with unit != 1 they are
 * multiplied by it first (qd-degrade --units rel passes L/255, L = the clean
 * drawing's larger bounding-box side, so the study's 0..255 numbers mean the
 * same on any frame).  All randomness comes from the rng_t passed in.  The
 * transforms keep per-point times (t) where they keep or interpolate points.
 * docs/degradations.md gives the math.  Nothing here prints or exits.
 */
#ifndef DEGRADE_H
#define DEGRADE_H
#include "plugin.h"
#include "rng.h"
#include "sketch.h"
#include "util.h"

#define DEGRADE_MAXP 4

/* A degradation's parameters are rows of the project's one parameter table
 * type (plugin.h): type PARAM_FLOAT, or PARAM_INT for values drawn as
 * integers; flags PARAM_F_RANGE (always: lo..hi allowed) and PARAM_F_LENGTH
 * (in drawing units, scaled by the plan's unit). */
typedef plugin_param_t degrade_param_t;

typedef struct {
    const char *name;
    const char *help;
    int np;
    degrade_param_t p[DEGRADE_MAXP];
} degrade_desc_t;

int degrade_count(void);
const degrade_desc_t *degrade_get(int i);
const degrade_desc_t *degrade_find(const char *name); /* NULL if unknown */

/* Human-readable table (for --list and --help) and one NDJSON line per
 * degradation (for --list-json). */
void degrade_list_text(buf_t *b);
void degrade_list_json(buf_t *b);

/* "5", "-0.2", "3..10" -> lo, hi (lo == hi for a number).  EXIT_USAGE on
 * error, message without prefix. */
int degrade_parse_range(const char *s, double *lo, double *hi, err_t *e);

typedef struct {
    const degrade_desc_t *d;
    double lo[DEGRADE_MAXP], hi[DEGRADE_MAXP];
} degrade_step_t;

typedef struct {
    degrade_step_t *v;
    int n;
} degrade_chain_t;

/* "NAME" or "NAME:key=value,key=value" ; missing keys take their default.
 * Unknown name/key, malformed or out-of-range value: EXIT_USAGE, naming spec. */
int degrade_parse_step(const char *spec, degrade_step_t *st, err_t *e);
/* Steps joined by '+' (a '+' followed by a letter; "1e+3" stays a number). */
int degrade_parse_chain(const char *spec, degrade_chain_t *c, err_t *e);
void degrade_chain_free(degrade_chain_t *c);

/* Values for one record: a fixed value as is, a range drawn uniformly
 * (integers: uniform over lo..hi inclusive; reals rounded to 4 decimals, so
 * the recorded value is exactly the one applied). */
void degrade_draw(const degrade_step_t *st, rng_t *r, double *v);
/* Apply d with values v (lengths multiplied by unit). */
int degrade_apply(const degrade_desc_t *d, drawing_t *dr, const double *v, double unit, rng_t *r, err_t *e);
/* {"name":"noise","level":5.21}, plus "unit":u when unit != 1 */
void degrade_json(buf_t *b, const degrade_desc_t *d, const double *v, double unit);
/* The unit for --units rel: L/255 with L the larger side of d's bounding
 * box (1 when the drawing is a single point). */
double degrade_rel_unit(const drawing_t *d);
/* >= 1 stroke, every stroke >= 1 point, all values finite; EXIT_NUMERIC if not. */
int degrade_check(const drawing_t *d, err_t *e);

typedef struct {
    degrade_chain_t fixed;  /* always applied, first */
    degrade_chain_t *mix;   /* then one of these, uniformly */
    int nmix;
} degrade_plan_t;

void degrade_plan_init(degrade_plan_t *p);
void degrade_plan_free(degrade_plan_t *p);
/* Add "SPEC;SPEC;..." to the mix / the fixed chain. */
int degrade_plan_add_mix(degrade_plan_t *p, const char *specs, err_t *e);
int degrade_plan_add_fixed(degrade_plan_t *p, const char *spec, err_t *e);
/* Degrade d in place; appends the applied steps' JSON objects, comma
 * separated, to json (without brackets; nothing on error).  r: the record's
 * generator. */
int degrade_plan_run(const degrade_plan_t *p, drawing_t *d, double unit, rng_t *r, buf_t *json, err_t *e);

/* The transforms themselves (lengths in drawing units). */
void degrade_noise(drawing_t *d, double level, rng_t *r);
void degrade_simplify(drawing_t *d, double keep);
/* Indices the study's simplify keeps from a stroke of n points; returns k
 * (k == n, idx[i] = i when the stroke is left unchanged).  idx holds n. */
int degrade_simplify_indices(int n, double keep, int *idx);
void degrade_jitter(drawing_t *d, double amount, rng_t *r);
/* Returns 0, or 1 + the index of a stroke whose length is not finite (the
 * drawing is then unchanged). */
int degrade_tremor(drawing_t *d, double amplitude, double wavelength, double spacing, rng_t *r);
void degrade_dropout(drawing_t *d, double p, rng_t *r);
void degrade_overshoot(drawing_t *d, double amount, double spread, double maxlen, rng_t *r);
void degrade_overdraw(drawing_t *d, int count, double offset, double noise, rng_t *r);
void degrade_affine(drawing_t *d, double rotate_deg, double scale, double shift, rng_t *r);
void degrade_elastic(drawing_t *d, double amplitude, double scale, rng_t *r);
/* The elastic displacement field at (x, y) for a field key and geometry, so
 * its smoothness and bound can be tested directly. */
typedef struct {
    uint64_t key;
    double amplitude, scale, ox, oy;
} elastic_field_t;
void elastic_field_init(elastic_field_t *f, const drawing_t *d, double amplitude, double scale, rng_t *r);
void elastic_field_eval(const elastic_field_t *f, double x, double y, double *dx, double *dy);
#endif
