/* checkpoint.c - see checkpoint.h.  Writing builds the safetensors header in
 * a buf_t and streams each tensor's floats straight from the blocks; reading
 * goes through tensorfile.c (which already bounds-checks every offset), first
 * checking every name and shape, then copying. */
#include "checkpoint.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct ckpt {
    tensorfile_t *tf;
    int64_t step;
    int has_step;
};

static int host_le(void) {
    uint16_t x = 1;
    unsigned char c;
    memcpy(&c, &x, 1);
    return c == 1;
}

static int rng_name_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (!n || n > 63) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '.' || s[i] == '-'))
            return 0;
    return 1;
}

/* Keys the checkpoint writes itself. */
static int reserved_key(const char *k) {
    return !strcmp(k, "format") || !strcmp(k, "producer") || !strcmp(k, "step") || !strncmp(k, "rng.", 4) ||
           !strncmp(k, "invclip.", 8);
}

/* ------------------------------------------------------------------ saving */

static void header_tensor(buf_t *h, const char *prefix, const param_t *t, tf_dtype_t dt, uint64_t *off) {
    char name[PARAMS_NAME_MAX + 16];
    snprintf(name, sizeof name, "%s%s", prefix, t->name);
    *off += tf_header_entry(h, name, dt, t->ndim, t->shape, *off);
}

/* n floats as F16, through a small buffer. */
static void write_f16(FILE *fp, const float *x, size_t n) {
    uint16_t b[1024];
    for (size_t i = 0; i < n;) {
        size_t k = n - i < 1024 ? n - i : 1024;
        for (size_t j = 0; j < k; j++) b[j] = tf_f32_to_f16(x[i + j]);
        fwrite(b, 2, k, fp);
        i += k;
    }
}

static int check_state(const params_t *ps, const ckpt_state_t *st, int flags, err_t *e) {
    if (!host_le()) return err_set(e, EXIT_INTERNAL, "checkpoint: writing on a big-endian host is not supported");
    if (!ps->data || !ps->n) return err_set(e, EXIT_INTERNAL, "checkpoint: parameter set not allocated");
    if (!(flags & (CKPT_WEIGHTS | CKPT_F16)) && (!ps->m || !ps->v))
        return err_set(e, EXIT_INTERNAL, "checkpoint: no optimiser state to save (data-only parameter set)");
    if (st->step < 0) return err_set(e, EXIT_INTERNAL, "checkpoint: negative step %" PRId64, st->step);
    if (st->nrng < 0 || st->nrng > CKPT_MAX_RNG || st->nmeta < 0 || (st->nrng && !st->rng) ||
        (st->nmeta && !st->meta))
        return err_set(e, EXIT_INTERNAL, "checkpoint: bad state counts (%d generators, %d metadata)", st->nrng,
                       st->nmeta);
    for (int i = 0; i < st->nrng; i++) {
        if (!rng_name_ok(st->rng[i].name) || !st->rng[i].rng)
            return err_set(e, EXIT_INTERNAL, "checkpoint: bad generator name \"%.64s\"",
                           st->rng[i].name ? st->rng[i].name : "(null)");
        for (int j = 0; j < i; j++)
            if (!strcmp(st->rng[i].name, st->rng[j].name))
                return err_set(e, EXIT_INTERNAL, "checkpoint: generator \"%s\" given twice", st->rng[i].name);
    }
    for (int i = 0; i < st->nmeta; i++) {
        const char *k = st->meta[i].key, *v = st->meta[i].value;
        size_t bad;
        if (!k || !*k || !v || !utf8_valid(k, strlen(k), &bad) || !utf8_valid(v, strlen(v), &bad))
            return err_set(e, EXIT_INTERNAL, "checkpoint: metadata %d needs a UTF-8 key and value", i);
        if (reserved_key(k)) return err_set(e, EXIT_INTERNAL, "checkpoint: metadata key \"%.64s\" is reserved", k);
        for (int j = 0; j < i; j++)
            if (!strcmp(k, st->meta[j].key))
                return err_set(e, EXIT_INTERNAL, "checkpoint: metadata key \"%.64s\" given twice", k);
    }
    return 0;
}

int ckpt_save(const char *path, const params_t *ps, const ckpt_state_t *st, int flags, err_t *e) {
    ckpt_state_t none = {0};
    if (!st) st = &none;
    int rc = check_state(ps, st, flags, e);
    if (rc) return rc;
    int optim = !(flags & (CKPT_WEIGHTS | CKPT_F16));
    tf_dtype_t dt = flags & CKPT_F16 ? TF_F16 : TF_F32;
    buf_t h = {0};
    buf_printf(&h,
               "{\"__metadata__\":{\"format\":\"pt\",\"producer\":\"invclip\",\"invclip.checkpoint\":\"" CKPT_VERSION
               "\",\"step\":\"%" PRId64 "\"",
               st->step);
    for (int i = 0; i < st->nrng; i++) {
        const uint64_t *s = st->rng[i].rng->s;
        buf_printf(&h, ",\"rng.%s\":\"%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "\"", st->rng[i].name,
                   s[0], s[1], s[2], s[3]);
    }
    for (int i = 0; i < st->nmeta; i++) {
        buf_puts(&h, ",");
        buf_jstr(&h, st->meta[i].key);
        buf_puts(&h, ":");
        buf_jstr(&h, st->meta[i].value);
    }
    buf_puts(&h, "}");
    uint64_t off = 0;
    for (int i = 0; i < ps->n; i++) header_tensor(&h, "", &ps->t[i], dt, &off);
    if (optim) {
        for (int i = 0; i < ps->n; i++) header_tensor(&h, "optim.m.", &ps->t[i], dt, &off);
        for (int i = 0; i < ps->n; i++) header_tensor(&h, "optim.v.", &ps->t[i], dt, &off);
    }
    afile_t a;
    rc = afile_open(&a, path, e);
    if (!rc) {
        tf_write_header(a.fp, &h);
        const float *blocks[3] = {ps->data, ps->m, ps->v};
        for (int b = 0; b < (optim ? 3 : 1); b++)
            for (int i = 0; i < ps->n; i++) {
                if (dt == TF_F16)
                    write_f16(a.fp, blocks[b] + ps->t[i].offset, ps->t[i].numel);
                else
                    fwrite(blocks[b] + ps->t[i].offset, sizeof(float), ps->t[i].numel, a.fp);
            }
        rc = afile_commit(&a, e);
    }
    buf_free(&h);
    return rc;
}

/* ------------------------------------------------------------------ loading */

/* "step": 1..19 decimal digits, no sign, no leading zeros, <= INT64_MAX */
static int parse_step(const char *s, int64_t *out) {
    size_t n = strlen(s);
    if (!n || n > 19 || (n > 1 && s[0] == '0')) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX) return 0;
    *out = (int64_t)v;
    return 1;
}

static ckpt_t *finish_open(tensorfile_t *tf, err_t *e) {
    if (!tf) return NULL;
    const char *ver = tf_meta(tf, "invclip.checkpoint"), *step = tf_meta(tf, "step");
    if (ver && strcmp(ver, CKPT_VERSION)) {
        err_set(e, EXIT_MODEL, "%s: checkpoint layout version \"%.20s\"; this build reads " CKPT_VERSION,
                tf_name(tf), ver);
        tf_close(tf);
        return NULL;
    }
    ckpt_t *c = xcalloc(1, sizeof *c);
    c->tf = tf;
    if (step) {
        if (!parse_step(step, &c->step)) {
            err_set(e, EXIT_MODEL, "%s: step \"%.24s\" is not a whole number >= 0", tf_name(tf), step);
            ckpt_close(c);
            return NULL;
        }
        c->has_step = 1;
    }
    return c;
}

ckpt_t *ckpt_open(const char *path, err_t *e) { return finish_open(tf_open(path, e), e); }

ckpt_t *ckpt_open_mem(const void *data, size_t size, const char *name, err_t *e) {
    return finish_open(tf_open_mem(data, size, name, e), e);
}

void ckpt_close(ckpt_t *c) {
    if (!c) return;
    tf_close(c->tf);
    free(c);
}

const char *ckpt_meta(const ckpt_t *c, const char *key) { return tf_meta(c->tf, key); }
int64_t ckpt_step(const ckpt_t *c) { return c->step; }

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

int ckpt_rng(const ckpt_t *c, const char *name, rng_t *r, err_t *e) {
    char key[80];
    if (!rng_name_ok(name)) return err_set(e, EXIT_INTERNAL, "checkpoint: bad generator name");
    snprintf(key, sizeof key, "rng.%s", name);
    const char *v = tf_meta(c->tf, key);
    if (!v) return err_set(e, EXIT_MODEL, "%s: missing generator state %s", tf_name(c->tf), key);
    if (strlen(v) != 64) return err_set(e, EXIT_MODEL, "%s: %s is not 64 hex digits", tf_name(c->tf), key);
    rng_t t = {{0}};
    for (int i = 0; i < 64; i++) {
        int d = hexval(v[i]);
        if (d < 0) return err_set(e, EXIT_MODEL, "%s: %s is not 64 hex digits", tf_name(c->tf), key);
        t.s[i / 16] = t.s[i / 16] << 4 | (uint64_t)d;
    }
    if (!(t.s[0] | t.s[1] | t.s[2] | t.s[3]))
        return err_set(e, EXIT_MODEL, "%s: %s is all zero (not a generator state)", tf_name(c->tf), key);
    *r = t;
    return 0;
}

/* Does the file tensor fi match parameter t (shape) and can it be read as float? */
static int check_tensor(const ckpt_t *c, const char *fname, const param_t *t, err_t *e) {
    const tf_info_t *fi = tf_find(c->tf, fname);
    if (!fi) return err_set(e, EXIT_MODEL, "%s: missing tensor '%s'", tf_name(c->tf), fname);
    tf_dtype_t d = fi->dtype;
    if (d != TF_F32 && d != TF_F16 && d != TF_BF16 && d != TF_F64)
        return err_set(e, EXIT_MODEL, "%s: tensor '%s' has dtype %s, want F32", tf_name(c->tf), fname,
                       tf_dtype_name(d));
    int same = fi->ndim == t->ndim;
    for (int k = 0; same && k < t->ndim; k++) same = fi->shape[k] == t->shape[k];
    if (!same) {
        char want[64] = "", got[160] = "";
        size_t wl = 0, gl = 0;
        for (int k = 0; k < t->ndim; k++)
            wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s%d", k ? "," : "", t->shape[k]);
        for (int k = 0; k < fi->ndim && gl < sizeof got; k++)
            gl += (size_t)snprintf(got + gl, sizeof got - gl, "%s%" PRId64, k ? "," : "", fi->shape[k]);
        return err_set(e, EXIT_MODEL, "%s: tensor '%s' has shape [%s], the model wants [%s]", tf_name(c->tf),
                       fname, got, want);
    }
    return 0;
}

static int read_tensor(ckpt_t *c, const char *fname, const param_t *t, float *dst, int nonneg, err_t *e) {
    const tf_info_t *fi = tf_find(c->tf, fname);
    int rc = tf_read_f32(c->tf, fi, dst, e);
    if (rc) return rc;
    ptrdiff_t bad = adamw_find_nonfinite(dst, t->numel, NULL);
    if (bad >= 0)
        return err_set(e, EXIT_MODEL, "%s: tensor '%s' holds %s at [%td]", tf_name(c->tf), fname,
                       dst[bad] != dst[bad] ? "NaN" : "Inf", bad);
    if (nonneg)
        for (size_t i = 0; i < t->numel; i++)
            if (dst[i] < 0)
                return err_set(e, EXIT_MODEL, "%s: tensor '%s' holds a negative second moment at [%zu]",
                               tf_name(c->tf), fname, i);
    return 0;
}

int ckpt_read(ckpt_t *c, params_t *ps, int flags, err_t *e) {
    int optim = !(flags & CKPT_WEIGHTS);
    if (!ps->data) return err_set(e, EXIT_INTERNAL, "checkpoint: parameter set not allocated");
    if (optim && (!ps->m || !ps->v))
        return err_set(e, EXIT_INTERNAL, "checkpoint: optimiser state asked for a data-only parameter set");
    char name[PARAMS_NAME_MAX + 16];
    int rc;
    /* every tensor the model has, with its shape */
    for (int i = 0; i < ps->n; i++) {
        if ((rc = check_tensor(c, ps->t[i].name, &ps->t[i], e))) return rc;
        if (!optim) continue;
        snprintf(name, sizeof name, "optim.m.%s", ps->t[i].name);
        if ((rc = check_tensor(c, name, &ps->t[i], e))) return rc;
        snprintf(name, sizeof name, "optim.v.%s", ps->t[i].name);
        if ((rc = check_tensor(c, name, &ps->t[i], e))) return rc;
    }
    /* and nothing the model does not have */
    for (size_t i = 0; i < tf_count(c->tf); i++) {
        const char *fn = tf_info(c->tf, i)->name, *base = fn;
        if (!strncmp(fn, "optim.m.", 8) || !strncmp(fn, "optim.v.", 8)) base = fn + 8;
        if (params_find(ps, base) < 0)
            return err_set(e, EXIT_MODEL, "%s: unexpected tensor '%.200s' (not in this model)", tf_name(c->tf), fn);
    }
    for (int i = 0; i < ps->n; i++) {
        const param_t *t = &ps->t[i];
        if ((rc = read_tensor(c, t->name, t, ps->data + t->offset, 0, e))) return rc;
        if (!optim) continue;
        snprintf(name, sizeof name, "optim.m.%s", t->name);
        if ((rc = read_tensor(c, name, t, ps->m + t->offset, 0, e))) return rc;
        snprintf(name, sizeof name, "optim.v.%s", t->name);
        if ((rc = read_tensor(c, name, t, ps->v + t->offset, 1, e))) return rc;
    }
    return 0;
}

int ckpt_load(const char *path, params_t *ps, ckpt_state_t *st, int flags, err_t *e) {
    ckpt_t *c = ckpt_open(path, e);
    if (!c) return e ? e->code : EXIT_MODEL;
    int rc = 0;
    if (!(flags & CKPT_WEIGHTS) && !c->has_step)
        rc = err_set(e, EXIT_MODEL, "%s: no \"step\" in the metadata (not a training checkpoint)", tf_name(c->tf));
    if (!rc) rc = ckpt_read(c, ps, flags, e);
    if (st) {
        for (int i = 0; !rc && i < st->nrng; i++) rc = ckpt_rng(c, st->rng[i].name, st->rng[i].rng, e);
        if (!rc) st->step = c->step;
    }
    ckpt_close(c);
    return rc;
}
