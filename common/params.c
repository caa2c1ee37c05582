/* params.c - see params.h. */
#include "params.h"
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void params_init(params_t *ps) {
    memset(ps, 0, sizeof *ps);
    ps->align = PARAMS_ALIGN;
}

void params_free(params_t *ps) {
    free(ps->t);
    free(ps->data); /* the one allocation: grad, m, v point into it */
    free(ps->spans);
    params_init(ps);
}

/* Keep the first declaration error in ps->err and copy it to e. */
static int decl_err(params_t *ps, err_t *e, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int decl_err(params_t *ps, err_t *e, int code, const char *fmt, ...) {
    if (!ps->err.code) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err.msg, sizeof ps->err.msg, fmt, ap);
        va_end(ap);
        ps->err.code = code;
    }
    if (e) *e = ps->err;
    return ps->err.code;
}

/* a name in a message: at most 200 bytes, "(null)" for NULL */
#define NM(s) 200, (s) ? (s) : "(null)"

static int auto_decay(const char *name, int ndim) { return ndim >= 2 && !strstr(name, "embed"); }

int params_add(params_t *ps, const char *name, int ndim, const int *shape, int decay, err_t *e) {
    if (ps->err.code) {
        if (e) *e = ps->err;
        return ps->err.code;
    }
    if (ps->data) return decl_err(ps, e, EXIT_INTERNAL, "params: %.*s declared after params_alloc", NM(name));
    size_t len = name ? strlen(name) : 0;
    if (!len || len >= PARAMS_NAME_MAX)
        return decl_err(ps, e, EXIT_INTERNAL, "params: bad tensor name \"%.*s\" (length %zu)", NM(name), len);
    for (size_t i = 0; i < len; i++)
        if (name[i] <= ' ' || name[i] > '~' || name[i] == '"' || name[i] == '\\')
            return decl_err(ps, e, EXIT_INTERNAL, "params: bad character in tensor name \"%.*s\" at %zu", NM(name), i);
    if (!strncmp(name, "optim.", 6) || !strncmp(name, "__", 2))
        return decl_err(ps, e, EXIT_INTERNAL, "params: tensor name \"%.*s\" is reserved", NM(name));
    if (params_find(ps, name) >= 0)
        return decl_err(ps, e, EXIT_INTERNAL, "params: tensor %.*s declared twice", NM(name));
    if (ndim < 0 || ndim > PARAMS_MAX_DIMS || (ndim && !shape))
        return decl_err(ps, e, EXIT_INTERNAL, "params: %.*s has %d dimensions (0..4 allowed)", NM(name), ndim);
    if (decay < PARAM_DECAY_AUTO || decay > PARAM_DECAY_OFF)
        return decl_err(ps, e, EXIT_INTERNAL, "params: %.*s: bad decay flag %d", NM(name), decay);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0)
            return decl_err(ps, e, EXIT_USAGE, "params: %.*s: dimension %d has size %d", NM(name), d, shape[d]);
        if (numel > ((size_t)1 << 40) / (size_t)shape[d]) /* 4 TB a block: a typo, not a model */
            return decl_err(ps, e, EXIT_USAGE, "params: %.*s is too large (dimension %d)", NM(name), d);
        numel *= (size_t)shape[d];
    }
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? 2 * ps->cap : 64;
        ps->t = xrealloc(ps->t, (size_t)ps->cap * sizeof *ps->t);
    }
    param_t *t = &ps->t[ps->n++];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, len + 1);
    t->ndim = ndim;
    for (int d = 0; d < PARAMS_MAX_DIMS; d++) t->shape[d] = d < ndim ? shape[d] : 1;
    t->numel = numel;
    t->decay = decay == PARAM_DECAY_AUTO ? auto_decay(name, ndim) : decay == PARAM_DECAY_ON;
    return 0;
}

int params_add_table(params_t *ps, const param_decl_t *d, int n, err_t *e) {
    for (int i = 0; i < n; i++) {
        int rc = params_add(ps, d[i].name, d[i].ndim, d[i].shape, d[i].decay, e);
        if (rc) return rc;
    }
    return 0;
}

int params_alloc(params_t *ps, int flags, err_t *e) {
    if (ps->err.code) {
        if (e) *e = ps->err;
        return ps->err.code;
    }
    if (ps->data) return err_set(e, EXIT_INTERNAL, "params: allocated twice");
    if (!ps->n) return err_set(e, EXIT_USAGE, "params: no tensors declared");
    size_t a = ps->align ? ps->align : 1, off = 0;
    ps->numel = 0;
    for (int i = 0; i < ps->n; i++) {
        off = (off + a - 1) / a * a;
        ps->t[i].offset = off;
        off += ps->t[i].numel;
        ps->numel += ps->t[i].numel;
    }
    size_t size = (off + 15) / 16 * 16; /* each block starts on a 64-byte boundary too */
    int nblocks = flags & PARAMS_DATA_ONLY ? 1 : 4;
    if (size > SIZE_MAX / sizeof(float) / (size_t)nblocks)
        return err_set(e, EXIT_INTERNAL, "params: %zu floats do not fit in memory", size);
    void *mem = NULL;
    if (posix_memalign(&mem, 64, size * sizeof(float) * (size_t)nblocks) != 0)
        return err_set(e, EXIT_INTERNAL, "params: out of memory for %d blocks of %zu floats", nblocks, size);
    memset(mem, 0, size * sizeof(float) * (size_t)nblocks);
    ps->size = size;
    ps->data = mem;
    if (nblocks == 4) {
        ps->grad = ps->data + size;
        ps->m = ps->grad + size;
        ps->v = ps->m + size;
    }
    ps->spans = xcalloc((size_t)ps->n, sizeof *ps->spans);
    return 0;
}

int params_find(const params_t *ps, const char *name) {
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->t[i].name, name)) return i;
    return -1;
}

param_view_t params_at(params_t *ps, int i) {
    param_view_t v = {0};
    if (i < 0 || i >= ps->n) return v;
    size_t o = ps->t[i].offset;
    v.t = &ps->t[i];
    v.data = ps->data ? ps->data + o : NULL;
    v.grad = ps->grad ? ps->grad + o : NULL;
    v.m = ps->m ? ps->m + o : NULL;
    v.v = ps->v ? ps->v + o : NULL;
    return v;
}

param_view_t params_view(params_t *ps, const char *name) { return params_at(ps, params_find(ps, name)); }

int params_set_decay(params_t *ps, const char *glob, int on) {
    int n = 0;
    for (int i = 0; i < ps->n; i++)
        if (fnmatch(glob, ps->t[i].name, 0) == 0) {
            ps->t[i].decay = on != 0;
            n++;
        }
    return n;
}

void params_zero_grad(params_t *ps, const nn_par_t *par) {
    if (ps->grad) adamw_zero(ps->grad, ps->size, par);
}

double params_clip_grad(params_t *ps, double max_norm, const nn_par_t *par) {
    return ps->grad ? adamw_clip_grad_norm(ps->grad, ps->size, max_norm, par) : 0.0;
}

int params_step(params_t *ps, const adamw_hparams_t *hp, long long t, const nn_par_t *par, err_t *e) {
    if (!ps->grad) return err_set(e, EXIT_INTERNAL, "params: AdamW step on a data-only parameter set");
    /* runs of equal decay flags, gaps included (they are zero everywhere);
     * rebuilt every step so params_set_decay needs no bookkeeping */
    int ns = 0;
    for (int i = 0; i < ps->n; i++) {
        size_t end = i + 1 < ps->n ? ps->t[i + 1].offset : ps->size;
        if (ns && ps->spans[ns - 1].decay == ps->t[i].decay) ps->spans[ns - 1].end = end;
        else ps->spans[ns++] = (adamw_span_t){ps->t[i].offset, end, ps->t[i].decay};
    }
    if (adamw_step(ps->data, ps->grad, ps->m, ps->v, ps->spans, ns, hp, t, par) != NN_OK)
        return err_set(e, EXIT_INTERNAL,
                       "params: bad AdamW step (t=%lld lr=%g beta1=%g beta2=%g eps=%g weight_decay=%g)", t, hp->lr,
                       hp->beta1, hp->beta2, hp->eps, hp->weight_decay);
    return 0;
}

int params_check_finite(const params_t *ps, const float *block, const char *what, const nn_par_t *par, err_t *e) {
    if (!block) return 0;
    ptrdiff_t bad = adamw_find_nonfinite(block, ps->size, par);
    if (bad < 0) return 0;
    float x = block[bad];
    const char *kind = isnan(x) ? "NaN" : x > 0 ? "+Inf" : "-Inf";
    for (int i = ps->n - 1; i >= 0; i--)
        if (ps->t[i].offset <= (size_t)bad) {
            size_t k = (size_t)bad - ps->t[i].offset;
            if (k < ps->t[i].numel) return err_set(e, EXIT_NUMERIC, "%s: %s[%zu] is %s", what, ps->t[i].name, k, kind);
            break;
        }
    return err_set(e, EXIT_NUMERIC, "%s: padding float %td is %s", what, bad, kind);
}
