/* unet_train.c - see unet_train.h. */
#include "unet_train.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const unet_arch_names[2] = {"study", "pix2pix"};
const char *const unet_norm_names[2] = {"batch", "instance"};

unet_model_cfg_t unet_model_config(int arch, int norm, int base, int depth, int size, int ndf, int n_layers,
                                   int gan) {
    unet_model_cfg_t m;
    memset(&m, 0, sizeof m);
    m.g = arch == UNET_ARCH_STUDY ? unet_study_config(base) : unet_pix2pix_config(1, 1, base);
    m.g.norm = norm;
    m.g.depth = depth;
    if (depth >= 1 && depth < 30 && size > 0) {
        long q = 1L << depth;
        long s = (size + q - 1) / q * q;
        m.g.size = s > 1L << 20 ? 0 : (int)s;
    } else {
        m.g.size = 0; /* unet_init refuses it */
    }
    m.g.io_size = m.g.size == size ? 0 : size;
    m.d = patchgan_default_config(1, 1, size);
    m.d.norm = norm;
    m.d.ndf = ndf;
    m.d.n_layers = n_layers;
    if (arch == UNET_ARCH_STUDY) m.d.init = UNET_INIT_TORCH;
    m.gan = gan != 0;
    return m;
}

int unet_model_size(const unet_model_cfg_t *m) { return m->g.io_size ? m->g.io_size : m->g.size; }

int unet_model_meta(const unet_model_cfg_t *m, char buf[][2][UNET_META_LEN], ckpt_kv_t *kv, int n) {
    int n0 = n;
#define CM(k, ...) (snprintf(buf[n][0], UNET_META_LEN, "%s", k), snprintf(buf[n][1], UNET_META_LEN, __VA_ARGS__), n++)
    CM("unet.arch", "%s", unet_arch_names[m->g.arch == UNET_ARCH_STUDY ? 0 : 1]);
    CM("unet.norm", "%s", unet_norm_names[m->g.norm == UNET_NORM_BATCH ? 0 : 1]);
    CM("unet.base", "%d", m->g.base);
    CM("unet.depth", "%d", m->g.depth);
    CM("unet.size", "%d", unet_model_size(m));
    CM("unet.n_dropout", "%d", m->g.n_dropout);
    CM("unet.dropout", "%.9g", m->g.dropout);
    CM("unet.gan", "%d", m->gan);
    CM("patchgan.ndf", "%d", m->d.ndf);
    CM("patchgan.n_layers", "%d", m->d.n_layers);
#undef CM
    for (int i = n0; i < n; i++) kv[i] = (ckpt_kv_t){buf[i][0], buf[i][1]};
    return n;
}

static int meta_int(const ckpt_t *c, const char *name, const char *key, int lo, int hi, int *out, err_t *e) {
    const char *v = ckpt_meta(c, key);
    if (!v) return err_set(e, EXIT_MODEL, "%s: no \"%s\" in the metadata: not a unet-train model", name, key);
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return err_set(e, EXIT_MODEL, "%s: metadata %s = \"%.40s\" is not an integer in [%d, %d]", name, key, v, lo,
                       hi);
    *out = (int)x;
    return 0;
}

static int meta_choice(const ckpt_t *c, const char *name, const char *key, const char *const *names, int n, int *out,
                       err_t *e) {
    const char *v = ckpt_meta(c, key);
    if (!v) return err_set(e, EXIT_MODEL, "%s: no \"%s\" in the metadata: not a unet-train model", name, key);
    for (int i = 0; i < n; i++)
        if (!strcmp(v, names[i])) return *out = i, 0;
    return err_set(e, EXIT_MODEL, "%s: metadata %s = \"%.40s\" is not one of %s|%s", name, key, v, names[0],
                   names[1]);
}

int unet_model_config_from(const ckpt_t *c, const char *name, unet_model_cfg_t *m, err_t *e) {
    int arch, norm, base, depth, size, nd, gan, ndf, nl;
    if (meta_choice(c, name, "unet.arch", unet_arch_names, 2, &arch, e) ||
        meta_choice(c, name, "unet.norm", unet_norm_names, 2, &norm, e) ||
        meta_int(c, name, "unet.base", 1, 4096, &base, e) ||
        meta_int(c, name, "unet.depth", 2, UNET_MAX_DEPTH, &depth, e) ||
        meta_int(c, name, "unet.size", 4, 16384, &size, e) ||
        meta_int(c, name, "unet.n_dropout", -1, UNET_MAX_DEPTH, &nd, e) ||
        meta_int(c, name, "unet.gan", 0, 1, &gan, e) || meta_int(c, name, "patchgan.ndf", 1, 4096, &ndf, e) ||
        meta_int(c, name, "patchgan.n_layers", 1, PATCHGAN_MAX_LAYERS, &nl, e))
        return e->code;
    const char *dv = ckpt_meta(c, "unet.dropout");
    char *end = NULL;
    double drop = dv ? strtod(dv, &end) : -1;
    if (!dv || end == dv || *end || !(drop >= 0 && drop < 1))
        return err_set(e, EXIT_MODEL, "%s: metadata unet.dropout is missing or not a number in [0, 1)", name);
    *m = unet_model_config(arch == 0 ? UNET_ARCH_STUDY : UNET_ARCH_PIX2PIX,
                           norm == 0 ? UNET_NORM_BATCH : UNET_NORM_INSTANCE, base, depth, size, ndf, nl, gan);
    m->g.n_dropout = nd;
    m->g.dropout = (float)drop;
    return 0;
}

void unet_ckpt_declare(params_t *all, const params_t *g, const params_t *d) {
    const params_t *ps[2] = {g, d};
    const char *pfx[2] = {"gen.", "disc."};
    char nm[PARAMS_NAME_MAX + 8];
    for (int k = 0; k < 2; k++)
        for (int i = 0; ps[k] && i < ps[k]->n; i++) {
            const param_t *t = &ps[k]->t[i];
            snprintf(nm, sizeof nm, "%s%s", pfx[k], t->name);
            params_add(all, nm, t->ndim, t->shape, t->decay ? PARAM_DECAY_ON : PARAM_DECAY_OFF, NULL);
        }
}

void unet_ckpt_copy(params_t *all, params_t *ps, const char *pfx, int to_all) {
    char nm[PARAMS_NAME_MAX + 8];
    for (int i = 0; i < ps->n; i++) {
        snprintf(nm, sizeof nm, "%s%s", pfx, ps->t[i].name);
        param_view_t a = params_view(all, nm), p = params_at(ps, i);
        if (!a.t) continue;
        size_t bytes = p.t->numel * sizeof(float);
        float *src[3] = {p.data, p.m, p.v}, *dst[3] = {a.data, a.m, a.v};
        for (int k = 0; k < 3; k++) {
            if (!src[k] || !dst[k]) continue;
            if (to_all) memcpy(dst[k], src[k], bytes);
            else memcpy(src[k], dst[k], bytes);
        }
    }
}

int unet_model_read(ckpt_t *c, const char *name, unet_t *G, int cap, const nn_par_t *par, unet_model_cfg_t *m,
                    size_t max_params, err_t *e) {
    memset(G, 0, sizeof *G);
    if (unet_model_config_from(c, name, m, e)) return e->code;
    size_t np = unet_param_count(&m->g);
    if (!np) return err_set(e, EXIT_MODEL, "%s: the metadata describe no valid generator", name);
    if (max_params && np > max_params)
        return err_set(e, EXIT_MODEL, "%s: %zu parameters, more than the %zu allowed", name, np, max_params);
    if (unet_init(G, &m->g, cap, par, e)) {
        int code = e->code == EXIT_INTERNAL ? EXIT_INTERNAL : EXIT_MODEL;
        err_prefix(e, "%s", name);
        e->code = code;
        return code;
    }
    const char *kind = ckpt_meta(c, "unet.file");
    int rc;
    if (kind && !strcmp(kind, "checkpoint")) {
        params_t all, dps;
        params_init(&all);
        params_init(&dps);
        patchgan_t D;
        int have_d = 0;
        if (m->gan) {
            if (patchgan_init(&D, &m->d, 1, par, e)) {
                unet_free(G);
                err_prefix(e, "%s", name);
                return e->code = EXIT_MODEL;
            }
            have_d = 1;
        }
        unet_ckpt_declare(&all, &G->ps, have_d ? &D.ps : NULL);
        rc = params_alloc(&all, PARAMS_DATA_ONLY, e);
        if (!rc) rc = ckpt_read(c, &all, CKPT_WEIGHTS, e);
        if (!rc) unet_ckpt_copy(&all, &G->ps, "gen.", 0);
        params_free(&all);
        params_free(&dps);
        if (have_d) patchgan_free(&D);
    } else {
        rc = ckpt_read(c, &G->ps, CKPT_WEIGHTS, e);
    }
    for (int i = 0; !rc && i < G->ps.n; i++) { /* eval-mode batch norm takes the square root of these */
        param_view_t v = params_at(&G->ps, i);
        size_t L = strlen(v.t->name);
        if (L < 11 || strcmp(v.t->name + L - 11, "running_var")) continue;
        for (size_t k = 0; k < v.t->numel; k++)
            if (!(v.data[k] >= 0)) {
                rc = err_set(e, EXIT_MODEL, "%s: tensor '%s' has a negative variance at [%zu]", name, v.t->name, k);
                break;
            }
    }
    if (rc) {
        unet_free(G);
        return rc;
    }
    G->train = 0;
    return 0;
}

int unet_width_range(const char *s, double *lo, double *hi) {
    char a[64], *end, *end2;
    const char *dots = strstr(s, "..");
    size_t n = dots ? (size_t)(dots - s) : strlen(s);
    if (n == 0 || n >= sizeof a) return -1;
    memcpy(a, s, n), a[n] = 0;
    double l = strtod(a, &end), h = l;
    if (*end) return -1;
    if (dots) {
        if (!dots[2]) return -1;
        h = strtod(dots + 2, &end2);
        if (*end2) return -1;
    }
    if (!(l > 0) || !(h >= l) || !(h <= 1e4)) return -1;
    *lo = l, *hi = h;
    return 0;
}
