/* lr.c - see lr.h.  The parser takes the spec apart by hand (no strtok, no
 * copies: the spec is const and may be any bytes). */
#include "lr.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"constant", "linear", "cosine", "step"};

const char *lr_kind_name(lr_kind_t k) { return (unsigned)k < 4 ? kind_names[k] : "?"; }

static int fail(char *msg, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *msg, size_t n, const char *fmt, ...) {
    if (msg && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, n, fmt, ap);
        va_end(ap);
    }
    return NN_EINVAL;
}

/* keys, and which kinds accept them (bit per kind) */
enum { K_LR, K_WARMUP, K_TOTAL, K_MIN, K_GAMMA, K_EVERY, K_N };
static const struct {
    const char *name;
    unsigned kinds;
    int integer;
} keys[K_N] = {
    [K_LR] = {"lr", 15, 0},
    [K_WARMUP] = {"warmup", 15, 1},
    [K_TOTAL] = {"total", 1u << LR_LINEAR | 1u << LR_COSINE, 1},
    [K_MIN] = {"min", 1u << LR_LINEAR | 1u << LR_COSINE, 0},
    [K_GAMMA] = {"gamma", 1u << LR_STEP, 0},
    [K_EVERY] = {"every", 1u << LR_STEP, 1},
};

/* Does [s, s+n) spell word exactly? */
static int is_word(const char *s, size_t n, const char *word) { return strlen(word) == n && !memcmp(s, word, n); }

/* Parse the value [s, s+n) as a finite double or a non-negative integer (<= LR_MAX_STEPS). */
static int parse_value(const char *s, size_t n, int integer, double *d, long long *ll) {
    char tmp[64];
    if (n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    if (isspace((unsigned char)tmp[0]) || tmp[0] == '+') return -1;
    char *end;
    errno = 0;
    if (integer) {
        if (tmp[0] == '-') return -1;
        long long v = strtoll(tmp, &end, 10);
        if (*end || errno || v < 0 || v > LR_MAX_STEPS) return -1;
        *ll = v;
    } else {
        double v = strtod(tmp, &end);
        if (*end || !isfinite(v)) return -1;
        *d = v;
    }
    return 0;
}

int lr_parse(lr_sched_t *s, const char *spec, double lr, long long total, char *msg, size_t msglen) {
    if (!spec) return fail(msg, msglen, "no learning-rate schedule");
    const char *colon = strchr(spec, ':');
    size_t klen = colon ? (size_t)(colon - spec) : strlen(spec);
    int kind = -1;
    for (int k = 0; k < 4; k++)
        if (is_word(spec, klen, kind_names[k])) kind = k;
    if (kind < 0)
        return fail(msg, msglen, "unknown learning-rate schedule \"%.*s\" (want constant, linear, cosine or step)",
                    (int)(klen > 40 ? 40 : klen), spec);
    lr_sched_t r = {.kind = (lr_kind_t)kind, .lr = lr, .min = 0, .gamma = 0.1, .warmup = 0, .total = total,
                    .every = 0};
    int seen[K_N] = {0};
    if (colon) {
        const char *p = colon + 1;
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            const char *eq = memchr(p, '=', len);
            if (!eq) return fail(msg, msglen, "lr schedule: \"%.*s\" is not key=value", (int)(len > 40 ? 40 : len), p);
            size_t nlen = (size_t)(eq - p), vlen = len - nlen - 1;
            int key = -1;
            for (int k = 0; k < K_N; k++)
                if (is_word(p, nlen, keys[k].name)) key = k;
            if (key < 0)
                return fail(msg, msglen, "lr schedule: unknown key \"%.*s\" (want lr, warmup, total, min, gamma, every)",
                            (int)(nlen > 40 ? 40 : nlen), p);
            if (!(keys[key].kinds >> kind & 1u))
                return fail(msg, msglen, "lr schedule: %s does not take %s", kind_names[kind], keys[key].name);
            if (seen[key]) return fail(msg, msglen, "lr schedule: %s given twice", keys[key].name);
            seen[key] = 1;
            double d = 0;
            long long ll = 0;
            if (parse_value(eq + 1, vlen, keys[key].integer, &d, &ll))
                return fail(msg, msglen, "lr schedule: %s=\"%.*s\" is not %s", keys[key].name,
                            (int)(vlen > 40 ? 40 : vlen), eq + 1,
                            keys[key].integer ? "a whole number of steps" : "a finite number");
            switch (key) {
            case K_LR: r.lr = d; break;
            case K_WARMUP: r.warmup = ll; break;
            case K_TOTAL: r.total = ll; break;
            case K_MIN: r.min = d; break;
            case K_GAMMA: r.gamma = d; break;
            case K_EVERY: r.every = ll; break;
            }
            if (!comma) break;
            p = comma + 1;
        }
    }
    r.lr += 0.0; /* -0 -> +0, so the canonical form never says "-0" */
    r.min += 0.0;
    if (!(r.lr >= 0) || !isfinite(r.lr)) return fail(msg, msglen, "lr schedule: lr must be a finite number >= 0");
    if (r.warmup < 0 || r.warmup > LR_MAX_STEPS) return fail(msg, msglen, "lr schedule: bad warmup");
    if (kind == LR_LINEAR || kind == LR_COSINE) {
        if (!(r.min >= 0)) return fail(msg, msglen, "lr schedule: min must be >= 0");
        if (r.total <= 0 || r.total > LR_MAX_STEPS)
            return fail(msg, msglen, "lr schedule: %s needs total steps > 0 (total=N or the trainer's --steps)",
                        kind_names[kind]);
        if (r.warmup >= r.total)
            return fail(msg, msglen, "lr schedule: warmup (%lld) must be shorter than total (%lld)", r.warmup,
                        r.total);
    } else {
        r.min = 0;
        r.total = 0;
    }
    if (kind == LR_STEP) {
        if (!seen[K_EVERY]) return fail(msg, msglen, "lr schedule: step needs every=N");
        if (r.every < 1) return fail(msg, msglen, "lr schedule: every must be >= 1");
        if (!(r.gamma > 0 && r.gamma <= 1)) return fail(msg, msglen, "lr schedule: gamma must be in (0, 1]");
    } else {
        r.gamma = 0;
        r.every = 0;
    }
    *s = r;
    return NN_OK;
}

double lr_at(const lr_sched_t *s, long long k) {
    if (k < 0) k = 0;
    if (k < s->warmup) return s->lr * (double)(k + 1) / (double)s->warmup;
    long long kk = k - s->warmup;
    switch (s->kind) {
    case LR_LINEAR:
    case LR_COSINE: {
        double span = (double)(s->total - s->warmup);
        double r = span > 0 ? (double)kk / span : 1.0;
        if (r > 1) r = 1;
        if (s->kind == LR_LINEAR) return s->lr + (s->min - s->lr) * r;
        return s->min + (s->lr - s->min) * 0.5 * (1.0 + cos(M_PI * r));
    }
    case LR_STEP: return s->every > 0 ? s->lr * pow(s->gamma, (double)(kk / s->every)) : s->lr;
    case LR_CONSTANT:
    default: return s->lr;
    }
}

/* The shortest %g spelling of x that reads back as x. */
static void shortest(char out[32], double x) {
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, x);
        if (strtod(out, NULL) == x) return;
    }
}

int lr_format(const lr_sched_t *s, char *buf, size_t n) {
    char a[32], b[32];
    shortest(a, s->lr);
    switch (s->kind) {
    case LR_LINEAR:
    case LR_COSINE:
        shortest(b, s->min);
        return snprintf(buf, n, "%s:lr=%s,warmup=%lld,total=%lld,min=%s", lr_kind_name(s->kind), a, s->warmup,
                        s->total, b);
    case LR_STEP:
        shortest(b, s->gamma);
        return snprintf(buf, n, "step:lr=%s,warmup=%lld,every=%lld,gamma=%s", a, s->warmup, s->every, b);
    case LR_CONSTANT:
    default: return snprintf(buf, n, "constant:lr=%s,warmup=%lld", a, s->warmup);
    }
}
