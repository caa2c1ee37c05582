/* degrade.c - see degrade.h; the math is in docs/degradations.md. */
#include "degrade.h"
#include "paramtab.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

/* ---- the table ---- */

enum { D_NOISE, D_SIMPLIFY, D_JITTER, D_TREMOR, D_DROPOUT, D_OVERSHOOT, D_OVERDRAW, D_AFFINE, D_ELASTIC, D_N };

/* Rows of plugin_param_t: P_NUM a plain number, P_LEN a length in drawing
 * units, P_INT an integer; every one may be a range lo..hi. */
#define P_ROW(nm, ty, fl, d, lo, hi, h) \
    { .name = nm, .type = ty, .def = d, .min = lo, .max = hi, .help = h, .flags = PARAM_F_RANGE | (fl) }
#define P_NUM(nm, d, lo, hi, h) P_ROW(nm, PARAM_FLOAT, 0, d, lo, hi, h)
#define P_LEN(nm, d, lo, hi, h) P_ROW(nm, PARAM_FLOAT, PARAM_F_LENGTH, d, lo, hi, h)
#define P_INT(nm, d, lo, hi, h) P_ROW(nm, PARAM_INT, 0, d, lo, hi, h)

static const degrade_desc_t table[D_N] = {
    [D_NOISE] = {"noise", "every coordinate gets independent N(0, level^2) noise (the study's)", 1,
                 {P_LEN("level", 5, 0, 100, "standard deviation of the per-coordinate noise")}},
    [D_SIMPLIFY] = {"simplify", "each stroke of n points keeps k = max(2, floor(n*keep)) evenly spaced points (the study's)", 1,
                    {P_NUM("keep", 0.5, 0, 1, "fraction of each stroke's points kept")}},
    [D_JITTER] = {"jitter", "each stroke moves by one offset (dx, dy) ~ N(0, amount^2) (the study's)", 1,
                  {P_LEN("amount", 3, 0, 100, "standard deviation of the per-stroke offset")}},
    [D_TREMOR] = {"tremor", "a shaky hand: strokes resampled and wobbled perpendicular to themselves", 3,
                  {P_LEN("amplitude", 1.5, 0, 50, "largest perpendicular displacement"),
                   P_LEN("wavelength", 16, 1, 1000, "typical distance between wobble peaks along the stroke"),
                   P_LEN("spacing", 2, 0.25, 100, "resampling step along the stroke")}},
    [D_DROPOUT] = {"dropout", "each stroke is dropped with probability p; at least one stroke is kept", 1,
                   {P_NUM("p", 0.2, 0, 1, "probability of dropping a stroke")}},
    [D_OVERSHOOT] = {"overshoot", "stroke ends extended along their end tangents (negative: shortened)", 3,
                     {P_NUM("amount", 0.1, -0.45, 1, "fraction of the stroke's length added at each end"),
                      P_NUM("spread", 0.5, 0, 1, "per-end variation: amount*(1 + spread*U(-1,1))"),
                      P_LEN("max", 12, 0, 10000, "cap on each end's change")}},
    [D_OVERDRAW] = {"overdraw", "count strokes are retraced: a shifted, noisy copy follows the original", 3,
                    {P_INT("count", 1, 0, 50, "number of strokes retraced (at most all of them)"),
                     P_LEN("offset", 2, 0, 50, "standard deviation of the copy's offset"),
                     P_LEN("noise", 0.5, 0, 50, "standard deviation of the copy's per-point noise")}},
    [D_AFFINE] = {"affine", "each stroke rotated, scaled about its centroid and shifted", 3,
                  {P_NUM("rotate", 5, 0, 180, "standard deviation of the rotation, degrees"),
                   P_NUM("scale", 0.05, 0, 1, "standard deviation of the log scale factor"),
                   P_LEN("shift", 2, 0, 100, "standard deviation of the translation")}},
    [D_ELASTIC] = {"elastic", "a smooth random displacement field over the drawing's bounding box", 2,
                   {P_LEN("amplitude", 4, 0, 100, "largest displacement"),
                    P_LEN("scale", 64, 1, 10000, "spacing of the field's random control vectors")}},
};

int degrade_count(void) { return D_N; }
const degrade_desc_t *degrade_get(int i) { return i >= 0 && i < D_N ? &table[i] : NULL; }
const degrade_desc_t *degrade_find(const char *name) {
    for (int i = 0; i < D_N; i++)
        if (!strcmp(table[i].name, name)) return &table[i];
    return NULL;
}

void degrade_list_text(buf_t *b) {
    for (int i = 0; i < D_N; i++) {
        const degrade_desc_t *d = &table[i];
        buf_printf(b, "%-10s %s\n", d->name, d->help);
        for (int k = 0; k < d->np; k++) {
            const degrade_param_t *p = &d->p[k];
            char rng[64];
            snprintf(rng, sizeof rng, "%g..%g", p->min, p->max);
            buf_printf(b, "  %-11s default %-6g range %-11s %-8s %s\n", p->name, p->def, rng,
                       p->type == PARAM_INT ? "integer" : p->flags & PARAM_F_LENGTH ? "length" : "", p->help);
        }
    }
}

void degrade_list_json(buf_t *b) {
    for (int i = 0; i < D_N; i++) {
        const degrade_desc_t *d = &table[i];
        buf_puts(b, "{\"name\":");
        buf_jstr(b, d->name);
        buf_puts(b, ",\"help\":");
        buf_jstr(b, d->help);
        buf_puts(b, ",\"params\":[");
        for (int k = 0; k < d->np; k++) {
            const degrade_param_t *p = &d->p[k];
            if (k) buf_puts(b, ",");
            buf_puts(b, "{\"name\":");
            buf_jstr(b, p->name);
            buf_printf(b, ",\"type\":\"%s\",\"default\":", p->type == PARAM_INT ? "int" : "double");
            buf_num(b, p->def, 6);
            buf_puts(b, ",\"min\":");
            buf_num(b, p->min, 6);
            buf_puts(b, ",\"max\":");
            buf_num(b, p->max, 6);
            buf_printf(b, ",\"length\":%s,\"help\":", p->flags & PARAM_F_LENGTH ? "true" : "false");
            buf_jstr(b, p->help);
            buf_puts(b, "}");
        }
        buf_puts(b, "]}\n");
    }
}

/* ---- parsing ---- */

/* One side of a range, through the project's one value parser (paramtab.h). */
static int parse_num(const char *s, size_t n, double *v) {
    char tmp[64];
    if (n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    if (isspace((unsigned char)tmp[0])) return -1;
    const plugin_param_t q = {.type = PARAM_FLOAT, .min = -HUGE_VAL, .max = HUGE_VAL};
    plugin_value_t pv;
    if (paramtab_value(&q, tmp, &pv, "", NULL)) return -1;
    *v = pv.f;
    return 0;
}

int degrade_parse_range(const char *s, double *lo, double *hi, err_t *e) {
    /* split at ".." first: strtod would read "3." out of "3..10" */
    const char *dd = strstr(s, "..");
    if (!dd) {
        if (parse_num(s, strlen(s), lo)) return err_set(e, EXIT_USAGE, "'%s' is not a number or a range lo..hi", s);
        *hi = *lo;
        return 0;
    }
    if (parse_num(s, (size_t)(dd - s), lo) || parse_num(dd + 2, strlen(dd + 2), hi))
        return err_set(e, EXIT_USAGE, "'%s' is not a number or a range lo..hi", s);
    if (*lo > *hi) return err_set(e, EXIT_USAGE, "range '%s' has lo > hi", s);
    return 0;
}

int degrade_parse_step(const char *spec, degrade_step_t *st, err_t *e) {
    const char *colon = strchr(spec, ':');
    size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
    char name[32];
    if (nlen == 0 || nlen >= sizeof name)
        return err_set(e, EXIT_USAGE, "'%s': no degradation name (try --list)", spec);
    memcpy(name, spec, nlen);
    name[nlen] = 0;
    const degrade_desc_t *d = degrade_find(name);
    if (!d) return err_set(e, EXIT_USAGE, "'%s': unknown degradation '%s' (try --list)", spec, name);
    memset(st, 0, sizeof *st);
    st->d = d;
    for (int k = 0; k < d->np; k++) st->lo[k] = st->hi[k] = d->p[k].def;
    if (!colon) return 0;
    int seen[DEGRADE_MAXP] = {0};
    const char *p = colon + 1;
    if (!*p) return err_set(e, EXIT_USAGE, "'%s': empty parameter list", spec);
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq || eq == p)
            return err_set(e, EXIT_USAGE, "'%s': '%.*s' is not key=value", spec, (int)len, p);
        size_t klen = (size_t)(eq - p);
        int k = 0;
        while (k < d->np && !(strlen(d->p[k].name) == klen && !strncmp(d->p[k].name, p, klen))) k++;
        if (k == d->np) {
            char names[128] = "";
            for (int j = 0; j < d->np; j++) {
                if (j) strncat(names, ", ", sizeof names - strlen(names) - 1);
                strncat(names, d->p[j].name, sizeof names - strlen(names) - 1);
            }
            return err_set(e, EXIT_USAGE, "'%s': %s has no parameter '%.*s' (it has: %s)", spec, d->name,
                           (int)klen, p, names);
        }
        if (seen[k]) return err_set(e, EXIT_USAGE, "'%s': %s given twice", spec, d->p[k].name);
        seen[k] = 1;
        char val[64];
        size_t vlen = len - klen - 1;
        if (vlen >= sizeof val) return err_set(e, EXIT_USAGE, "'%s': value of %s is too long", spec, d->p[k].name);
        memcpy(val, eq + 1, vlen);
        val[vlen] = 0;
        err_t re = {0};
        if (degrade_parse_range(val, &st->lo[k], &st->hi[k], &re))
            return err_set(e, EXIT_USAGE, "'%s': %s: %s", spec, d->p[k].name, re.msg);
        const degrade_param_t *pp = &d->p[k];
        if (st->lo[k] < pp->min || st->hi[k] > pp->max)
            return err_set(e, EXIT_USAGE, "'%s': %s=%s is out of range [%g, %g]", spec, pp->name, val, pp->min, pp->max);
        if (pp->type == PARAM_INT && (st->lo[k] != floor(st->lo[k]) || st->hi[k] != floor(st->hi[k])))
            return err_set(e, EXIT_USAGE, "'%s': %s must be an integer (got %s)", spec, pp->name, val);
        p += len;
        if (*p == ',') {
            p++;
            if (!*p) return err_set(e, EXIT_USAGE, "'%s': trailing ','", spec);
        }
    }
    return 0;
}

void degrade_chain_free(degrade_chain_t *c) {
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

static int chain_push(degrade_chain_t *c, const char *spec, size_t len, const char *whole, err_t *e) {
    char *s = xmalloc(len + 1);
    memcpy(s, spec, len);
    s[len] = 0;
    degrade_step_t st;
    int rc = len ? degrade_parse_step(s, &st, e) : err_set(e, EXIT_USAGE, "'%s': empty degradation spec", whole);
    free(s);
    if (rc) return rc;
    c->v = xrealloc(c->v, (size_t)(c->n + 1) * sizeof *c->v);
    c->v[c->n++] = st;
    return 0;
}

int degrade_parse_chain(const char *spec, degrade_chain_t *c, err_t *e) {
    const char *start = spec;
    for (const char *p = spec;; p++) {
        if (*p == 0 || (*p == '+' && isalpha((unsigned char)p[1]))) {
            int rc = chain_push(c, start, (size_t)(p - start), spec, e);
            if (rc) return rc;
            if (!*p) return 0;
            start = p + 1;
        }
    }
}

/* ---- drawing values and applying ---- */

void degrade_draw(const degrade_step_t *st, rng_t *r, double *v) {
    for (int k = 0; k < st->d->np; k++) {
        double lo = st->lo[k], hi = st->hi[k];
        /* one draw per parameter even when fixed, so "level=5" and
         * "level=5..5" leave the same random stream to the transform */
        if (st->d->p[k].type == PARAM_INT) {
            uint64_t span = (uint64_t)(hi - lo) + 1;
            v[k] = lo + (double)rng_below(r, span);
        } else {
            double x = rng_range(r, lo, hi);
            if (lo == hi) x = lo;
            else {
                x = round(x * 1e4) / 1e4;
                if (x < lo) x = lo;
                if (x > hi) x = hi;
            }
            v[k] = x;
        }
    }
}

void degrade_json(buf_t *b, const degrade_desc_t *d, const double *v, double unit) {
    buf_puts(b, "{\"name\":");
    buf_jstr(b, d->name);
    for (int k = 0; k < d->np; k++) {
        buf_puts(b, ",");
        buf_jstr(b, d->p[k].name);
        buf_puts(b, ":");
        buf_num(b, v[k], 6);
    }
    if (unit != 1) {
        buf_puts(b, ",\"unit\":");
        buf_num(b, unit, 6);
    }
    buf_puts(b, "}");
}

int degrade_apply(const degrade_desc_t *d, drawing_t *dr, const double *v, double unit, rng_t *r, err_t *e) {
    double w[DEGRADE_MAXP];
    for (int k = 0; k < d->np; k++) w[k] = d->p[k].flags & PARAM_F_LENGTH ? v[k] * unit : v[k];
    switch ((int)(d - table)) {
    case D_NOISE: degrade_noise(dr, w[0], r); break;
    case D_SIMPLIFY: degrade_simplify(dr, w[0]); break;
    case D_JITTER: degrade_jitter(dr, w[0], r); break;
    case D_TREMOR: {
        int bad = degrade_tremor(dr, w[0], w[1], w[2], r);
        if (bad)
            return err_set(e, EXIT_NUMERIC, "tremor: stroke %d: its length is not a finite number (coordinates too "
                           "large)", bad - 1);
        break;
    }
    case D_DROPOUT: degrade_dropout(dr, w[0], r); break;
    case D_OVERSHOOT: degrade_overshoot(dr, w[0], w[1], w[2], r); break;
    case D_OVERDRAW: degrade_overdraw(dr, (int)w[0], w[1], w[2], r); break;
    case D_AFFINE: degrade_affine(dr, w[0], w[1], w[2], r); break;
    case D_ELASTIC: degrade_elastic(dr, w[0], w[1], r); break;
    default: return err_set(e, EXIT_INTERNAL, "unknown degradation descriptor");
    }
    return 0;
}

double degrade_rel_unit(const drawing_t *d) {
    double x0, y0, x1, y1;
    if (!drawing_bbox(d, &x0, &y0, &x1, &y1)) return 1;
    double L = fmax(x1 - x0, y1 - y0);
    return L > 0 ? L / 255.0 : 1;
}

int degrade_check(const drawing_t *d, err_t *e) {
    if (d->nstrokes < 1) return err_set(e, EXIT_NUMERIC, "degraded drawing has no strokes");
    for (int i = 0; i < d->nstrokes; i++) {
        const stroke_t *s = &d->s[i];
        if (s->n < 1) return err_set(e, EXIT_NUMERIC, "degraded stroke %d has no points", i);
        for (int j = 0; j < s->n; j++)
            if (!isfinite(s->x[j]) || !isfinite(s->y[j]) || (s->t && !isfinite(s->t[j])))
                return err_set(e, EXIT_NUMERIC, "degraded stroke %d point %d is not finite", i, j);
    }
    return 0;
}

/* ---- plans ---- */

void degrade_plan_init(degrade_plan_t *p) { memset(p, 0, sizeof *p); }

void degrade_plan_free(degrade_plan_t *p) {
    degrade_chain_free(&p->fixed);
    for (int i = 0; i < p->nmix; i++) degrade_chain_free(&p->mix[i]);
    free(p->mix);
    memset(p, 0, sizeof *p);
}

int degrade_plan_add_fixed(degrade_plan_t *p, const char *spec, err_t *e) {
    return degrade_parse_chain(spec, &p->fixed, e);
}

int degrade_plan_add_mix(degrade_plan_t *p, const char *specs, err_t *e) {
    const char *start = specs;
    for (const char *q = specs;; q++) {
        if (*q && *q != ';') continue;
        size_t len = (size_t)(q - start);
        if (len == 0) return err_set(e, EXIT_USAGE, "'%s': empty spec in the mix", specs);
        char *s = xmalloc(len + 1);
        memcpy(s, start, len);
        s[len] = 0;
        degrade_chain_t c = {0};
        int rc = degrade_parse_chain(s, &c, e);
        free(s);
        if (rc) {
            degrade_chain_free(&c);
            return rc;
        }
        p->mix = xrealloc(p->mix, (size_t)(p->nmix + 1) * sizeof *p->mix);
        p->mix[p->nmix++] = c;
        if (!*q) return 0;
        start = q + 1;
    }
}

/* Appends each step's JSON to json, comma separated after json->len > start. */
static int run_chain(const degrade_chain_t *c, drawing_t *d, double unit, rng_t *r, buf_t *json, size_t start,
                     err_t *e) {
    for (int i = 0; i < c->n; i++) {
        const degrade_step_t *st = &c->v[i];
        rng_t rs; /* one stream per step: a step's draws never shift another's */
        rng_seed(&rs, rng_u64(r));
        double v[DEGRADE_MAXP];
        degrade_draw(st, &rs, v);
        int rc = degrade_apply(st->d, d, v, unit, &rs, e);
        if (rc) return rc;
        if (json->len > start) buf_puts(json, ",");
        degrade_json(json, st->d, v, unit);
    }
    return 0;
}

int degrade_plan_run(const degrade_plan_t *p, drawing_t *d, double unit, rng_t *r, buf_t *json, err_t *e) {
    int pick = p->nmix ? (int)rng_below(r, (uint64_t)p->nmix) : -1;
    size_t start = json->len; /* the caller's json may already hold text */
    int rc = run_chain(&p->fixed, d, unit, r, json, start, e);
    if (!rc && pick >= 0) rc = run_chain(&p->mix[pick], d, unit, r, json, start, e);
    if (!rc) rc = degrade_check(d, e);
    if (rc) json->len = start; /* nothing appended on error */
    return rc;
}

/* ---- helpers ---- */

static double seg_len(const stroke_t *s, int j) { return hypot(s->x[j + 1] - s->x[j], s->y[j + 1] - s->y[j]); }

static double stroke_length(const stroke_t *s) {
    double L = 0;
    for (int j = 0; j + 1 < s->n; j++) L += seg_len(s, j);
    return L;
}

/* Replace d by nd (which takes over all allocations). */
static void drawing_swap_free(drawing_t *d, drawing_t *nd) {
    drawing_free(d);
    *d = *nd;
    drawing_init(nd);
}

/* ---- the study's three ---- */

void degrade_noise(drawing_t *d, double level, rng_t *r) {
    for (int i = 0; i < d->nstrokes; i++)
        for (int j = 0; j < d->s[i].n; j++) {
            d->s[i].x[j] += level * rng_normal(r);
            d->s[i].y[j] += level * rng_normal(r);
        }
}

int degrade_simplify_indices(int n, double keep, int *idx) {
    int k = (int)floor((double)n * keep);
    if (k < 2) k = 2;
    if (n <= k) {
        for (int i = 0; i < n; i++) idx[i] = i;
        return n;
    }
    /* numpy: linspace(0, n-1, k) = i * ((n-1)/(k-1)), last element = n-1
     * exactly; the study then truncates to int.  Same float arithmetic. */
    double step = (double)(n - 1) / (double)(k - 1);
    for (int i = 0; i < k - 1; i++) idx[i] = (int)floor((double)i * step);
    idx[k - 1] = n - 1;
    return k;
}

void degrade_simplify(drawing_t *d, double keep) {
    drawing_t nd;
    drawing_init(&nd);
    for (int i = 0; i < d->nstrokes; i++) {
        const stroke_t *s = &d->s[i];
        int *idx = xmalloc((size_t)s->n * sizeof *idx);
        int k = degrade_simplify_indices(s->n, keep, idx);
        stroke_t *o = drawing_add_empty(&nd, k, s->t != NULL);
        for (int q = 0; q < k; q++) {
            o->x[q] = s->x[idx[q]];
            o->y[q] = s->y[idx[q]];
            if (o->t) o->t[q] = s->t[idx[q]];
        }
        free(idx);
    }
    drawing_swap_free(d, &nd);
}

void degrade_jitter(drawing_t *d, double amount, rng_t *r) {
    for (int i = 0; i < d->nstrokes; i++) {
        double dx = amount * rng_normal(r), dy = amount * rng_normal(r);
        for (int j = 0; j < d->s[i].n; j++) {
            d->s[i].x[j] += dx;
            d->s[i].y[j] += dy;
        }
    }
}

/* ---- tremor ---- */

/* Smooth 1-D value noise in [-1, 1]: control values ctl[i] ~ U(-1, 1) at
 * integer u, blended with smoothstep (a convex combination, so |value| <= 1
 * and the curve is C1). */
static double value_noise(const double *ctl, double u) {
    double fi = floor(u);
    double f = u - fi;
    double w = f * f * (3 - 2 * f);
    int i = (int)fi;
    return (1 - w) * ctl[i] + w * ctl[i + 1];
}

#define TREMOR_MAXPTS 100000

int degrade_tremor(drawing_t *d, double amplitude, double wavelength, double spacing, rng_t *r) {
    drawing_t nd;
    drawing_init(&nd);
    for (int i = 0; i < d->nstrokes; i++) {
        const stroke_t *s = &d->s[i];
        double phase = rng_uniform(r);
        double L = stroke_length(s);
        if (!isfinite(L)) { /* coordinates near the double range: the length overflows */
            drawing_free(&nd);
            return i + 1;
        }
        if (s->n < 2 || !(L > 0)) {
            drawing_add(&nd, s->n, s->x, s->y, s->t);
            continue;
        }
        double h = spacing;
        if (L / h > TREMOR_MAXPTS) h = L / TREMOR_MAXPTS;
        /* count: first point, then ceil(len/h) points per non-empty segment */
        long m = 1;
        for (int j = 0; j + 1 < s->n; j++) {
            double l = seg_len(s, j);
            if (l > 0) m += (long)ceil(l / h);
        }
        stroke_t *o = drawing_add_empty(&nd, (int)m, s->t != NULL);
        /* unit normals of the non-empty segments; nrm[j] for segment j */
        double *nx = xmalloc(2 * (size_t)s->n * sizeof(double)), *ny = nx + s->n;
        for (int j = 0; j + 1 < s->n; j++) {
            double l = seg_len(s, j);
            if (l > 0) {
                nx[j] = -(s->y[j + 1] - s->y[j]) / l;
                ny[j] = (s->x[j + 1] - s->x[j]) / l;
            } else {
                nx[j] = ny[j] = 0;
            }
        }
        double c = wavelength / 2; /* control spacing: a peak and a trough per wavelength */
        if (L / c > TREMOR_MAXPTS) c = L / TREMOR_MAXPTS;
        int nctl = (int)(L / c + phase) + 3;
        double *ctl = xmalloc((size_t)nctl * sizeof *ctl);
        for (int a = 0; a < nctl; a++) ctl[a] = 2 * rng_uniform(r) - 1;
        long q = 0;
        double acc = 0;
        int prev = -1; /* previous non-empty segment */
        for (int j = 0; j + 1 < s->n; j++) {
            double l = seg_len(s, j);
            if (!(l > 0)) continue;
            if (prev < 0) { /* the stroke's first point */
                double dd = amplitude * value_noise(ctl, phase);
                o->x[0] = s->x[j] + dd * nx[j];
                o->y[0] = s->y[j] + dd * ny[j];
                if (o->t) o->t[0] = s->t[j];
                q = 1;
            }
            long mj = (long)ceil(l / h);
            /* the next non-empty segment, for the normal at this segment's end vertex */
            int next = j + 1;
            while (next + 1 < s->n && !(seg_len(s, next) > 0)) next++;
            int has_next = next + 1 < s->n;
            for (long a = 1; a <= mj; a++) {
                double f = (double)a / (double)mj;
                double px = s->x[j] + f * (s->x[j + 1] - s->x[j]);
                double py = s->y[j] + f * (s->y[j + 1] - s->y[j]);
                double vx = nx[j], vy = ny[j];
                if (a == mj && has_next) { /* at a vertex: bisect the two normals */
                    double bx = nx[j] + nx[next], by = ny[j] + ny[next], bl = hypot(bx, by);
                    if (bl > 1e-9) { vx = bx / bl; vy = by / bl; }
                }
                double dd = amplitude * value_noise(ctl, (acc + f * l) / c + phase);
                o->x[q] = px + dd * vx;
                o->y[q] = py + dd * vy;
                if (o->t) o->t[q] = s->t[j] + f * (s->t[j + 1] - s->t[j]);
                q++;
            }
            acc += l;
            prev = j;
        }
        free(nx);
        free(ctl);
    }
    drawing_swap_free(d, &nd);
    return 0;
}

/* ---- dropout ---- */

void degrade_dropout(drawing_t *d, double p, rng_t *r) {
    int n = d->nstrokes, kept = 0;
    char *keep = xmalloc((size_t)n);
    for (int i = 0; i < n; i++) {
        keep[i] = !(rng_uniform(r) < p);
        kept += keep[i];
    }
    if (!kept) keep[rng_below(r, (uint64_t)n)] = 1;
    drawing_t nd;
    drawing_init(&nd);
    for (int i = 0; i < n; i++)
        if (keep[i]) drawing_add(&nd, d->s[i].n, d->s[i].x, d->s[i].y, d->s[i].t);
    drawing_swap_free(d, &nd);
    free(keep);
}

/* ---- overshoot ---- */

/* Point at arc length a along s (0 <= a <= L), interpolating t. */
static void point_at(const stroke_t *s, double a, double *x, double *y, double *t, int *seg) {
    double acc = 0;
    for (int j = 0; j + 1 < s->n; j++) {
        double l = seg_len(s, j);
        if (a <= acc + l || j + 2 == s->n) {
            double f = l > 0 ? (a - acc) / l : 0;
            if (f < 0) f = 0;
            if (f > 1) f = 1;
            *x = s->x[j] + f * (s->x[j + 1] - s->x[j]);
            *y = s->y[j] + f * (s->y[j + 1] - s->y[j]);
            if (t && s->t) *t = s->t[j] + f * (s->t[j + 1] - s->t[j]);
            *seg = j;
            return;
        }
        acc += l;
    }
    *x = s->x[0];
    *y = s->y[0];
    if (t && s->t) *t = s->t[0];
    *seg = 0;
}

/* The part of s between arc lengths a < b, appended to nd. */
static stroke_t *stroke_cut(drawing_t *nd, const stroke_t *s, double a, double b) {
    double ax, ay, at = 0, bx, by, bt = 0;
    int sa, sb;
    point_at(s, a, &ax, &ay, &at, &sa);
    point_at(s, b, &bx, &by, &bt, &sb);
    /* vertices strictly inside: sa+1 .. sb */
    int m = 2 + (sb - sa);
    stroke_t *o = drawing_add_empty(nd, m, s->t != NULL);
    int q = 0;
    o->x[q] = ax; o->y[q] = ay; if (o->t) o->t[q] = at;
    q++;
    for (int j = sa + 1; j <= sb; j++, q++) {
        o->x[q] = s->x[j]; o->y[q] = s->y[j]; if (o->t) o->t[q] = s->t[j];
    }
    o->x[q] = bx; o->y[q] = by; if (o->t) o->t[q] = bt;
    return o;
}

/* Move end point `end` (0 or n-1) outward by e along the direction from the
 * nearest distinct neighbour, i.e. along the end segment. */
static void extend_end(stroke_t *s, int end, double e) {
    int step = end == 0 ? 1 : -1;
    for (int k = end + step; k >= 0 && k < s->n; k += step) {
        double dx = s->x[end] - s->x[k], dy = s->y[end] - s->y[k], l = hypot(dx, dy);
        if (l > 0) {
            s->x[end] += e * dx / l;
            s->y[end] += e * dy / l;
            return;
        }
    }
}

#define OVERSHOOT_MINKEEP 0.1 /* shortening keeps at least this fraction of a stroke */

void degrade_overshoot(drawing_t *d, double amount, double spread, double maxlen, rng_t *r) {
    drawing_t nd;
    drawing_init(&nd);
    for (int i = 0; i < d->nstrokes; i++) {
        const stroke_t *s = &d->s[i];
        double a0 = amount * (1 + spread * rng_range(r, -1, 1));
        double a1 = amount * (1 + spread * rng_range(r, -1, 1));
        double L = stroke_length(s);
        if (s->n < 2 || !(L > 0)) {
            drawing_add(&nd, s->n, s->x, s->y, s->t);
            continue;
        }
        double e0 = fmin(fabs(a0) * L, maxlen), e1 = fmin(fabs(a1) * L, maxlen);
        double c0 = a0 < 0 ? e0 : 0, c1 = a1 < 0 ? e1 : 0;
        if (c0 + c1 > (1 - OVERSHOOT_MINKEEP) * L) {
            double f = (1 - OVERSHOOT_MINKEEP) * L / (c0 + c1);
            c0 *= f;
            c1 *= f;
        }
        stroke_t *o = (c0 > 0 || c1 > 0) ? stroke_cut(&nd, s, c0, L - c1) : drawing_add(&nd, s->n, s->x, s->y, s->t);
        if (a0 > 0) extend_end(o, 0, e0);
        if (a1 > 0) extend_end(o, o->n - 1, e1);
    }
    drawing_swap_free(d, &nd);
}

/* ---- overdraw ---- */

void degrade_overdraw(drawing_t *d, int count, double offset, double noise, rng_t *r) {
    int n = d->nstrokes;
    if (count > n) count = n;
    int *perm = xmalloc((size_t)n * sizeof *perm);
    char *dup = xcalloc((size_t)n, 1);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = 0; i < count; i++) { /* partial Fisher-Yates: count distinct strokes */
        int j = i + (int)rng_below(r, (uint64_t)(n - i));
        int tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
        dup[perm[i]] = 1;
    }
    drawing_t nd;
    drawing_init(&nd);
    for (int i = 0; i < n; i++) {
        const stroke_t *s = &d->s[i];
        drawing_add(&nd, s->n, s->x, s->y, s->t);
        if (!dup[i]) continue;
        stroke_t *o = drawing_add(&nd, s->n, s->x, s->y, s->t);
        double ox = offset * rng_normal(r), oy = offset * rng_normal(r);
        for (int j = 0; j < o->n; j++) {
            o->x[j] += ox + noise * rng_normal(r);
            o->y[j] += oy + noise * rng_normal(r);
        }
    }
    drawing_swap_free(d, &nd);
    free(perm);
    free(dup);
}

/* ---- affine ---- */

void degrade_affine(drawing_t *d, double rotate_deg, double scale, double shift, rng_t *r) {
    for (int i = 0; i < d->nstrokes; i++) {
        stroke_t *s = &d->s[i];
        double th = rotate_deg * rng_normal(r) * PI / 180;
        double k = exp(scale * rng_normal(r));
        double tx = shift * rng_normal(r), ty = shift * rng_normal(r);
        double cx = 0, cy = 0;
        for (int j = 0; j < s->n; j++) { cx += s->x[j]; cy += s->y[j]; }
        cx /= s->n;
        cy /= s->n;
        double c = k * cos(th), sn = k * sin(th);
        for (int j = 0; j < s->n; j++) {
            double x = s->x[j] - cx, y = s->y[j] - cy;
            s->x[j] = cx + c * x - sn * y + tx;
            s->y[j] = cy + sn * x + c * y + ty;
        }
    }
}

/* ---- elastic ---- */

void elastic_field_init(elastic_field_t *f, const drawing_t *d, double amplitude, double scale, rng_t *r) {
    double x0, y0, x1, y1;
    drawing_bbox(d, &x0, &y0, &x1, &y1);
    f->key = rng_u64(r);
    f->amplitude = amplitude;
    f->scale = scale;
    /* a random lattice phase, so the field is not tied to the bbox corner */
    f->ox = x0 - scale * rng_uniform(r);
    f->oy = y0 - scale * rng_uniform(r);
}

/* The lattice node's random vector, uniform in the unit disk. */
static void node_vec(uint64_t key, int64_t i, int64_t j, double *vx, double *vy) {
    rng_t g;
    rng_seed2(&g, key, ((uint64_t)(uint32_t)i << 32) | (uint32_t)j);
    double rad = sqrt(rng_uniform(&g)), ang = 2 * PI * rng_uniform(&g);
    *vx = rad * cos(ang);
    *vy = rad * sin(ang);
}

void elastic_field_eval(const elastic_field_t *f, double x, double y, double *dx, double *dy) {
    double u = (x - f->ox) / f->scale, v = (y - f->oy) / f->scale;
    double fu = floor(u), fv = floor(v);
    double a = u - fu, b = v - fv;
    double wa = a * a * (3 - 2 * a), wb = b * b * (3 - 2 * b);
    int64_t i = (int64_t)fu, j = (int64_t)fv;
    double v00x, v00y, v10x, v10y, v01x, v01y, v11x, v11y;
    node_vec(f->key, i, j, &v00x, &v00y);
    node_vec(f->key, i + 1, j, &v10x, &v10y);
    node_vec(f->key, i, j + 1, &v01x, &v01y);
    node_vec(f->key, i + 1, j + 1, &v11x, &v11y);
    double w00 = (1 - wa) * (1 - wb), w10 = wa * (1 - wb), w01 = (1 - wa) * wb, w11 = wa * wb;
    *dx = f->amplitude * (w00 * v00x + w10 * v10x + w01 * v01x + w11 * v11x);
    *dy = f->amplitude * (w00 * v00y + w10 * v10y + w01 * v01y + w11 * v11y);
}

void degrade_elastic(drawing_t *d, double amplitude, double scale, rng_t *r) {
    elastic_field_t f;
    elastic_field_init(&f, d, amplitude, scale, r);
    for (int i = 0; i < d->nstrokes; i++)
        for (int j = 0; j < d->s[i].n; j++) {
            double dx, dy;
            elastic_field_eval(&f, d->s[i].x[j], d->s[i].y[j], &dx, &dy);
            d->s[i].x[j] += dx;
            d->s[i].y[j] += dy;
        }
}
