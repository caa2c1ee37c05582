/* clip_train.c - see clip_train.h. */
#include "clip_train.h"
#include "clip_load.h"
#include "nn/loss.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOGIT_SCALE_MAX 4.605170185988091 /* ln 100, CLIP's clamp */

static int cfg_check(const clip_config_t *c, int cap, err_t *e) {
    const struct {
        const char *name;
        int v, lo, hi;
    } r[] = {
        {"vision width", c->v_width, 8, 4096},   {"vision layers", c->v_layers, 1, 64},
        {"vision heads", c->v_heads, 1, 256},    {"patch", c->patch, 1, 256},
        {"image size", c->image_size, 1, 1024},  {"text width", c->t_width, 8, 4096},
        {"text layers", c->t_layers, 1, 64},     {"text heads", c->t_heads, 1, 256},
        {"context", c->context, 2, 1024},        {"vocabulary", c->vocab, 2, 1 << 20},
        {"embedding dimension", c->embed_dim, 1, 4096}, {"MLP ratio", c->mlp_ratio, 1, 16},
        {"batch", cap, 1, 1 << 16},
    };
    for (size_t i = 0; i < sizeof r / sizeof *r; i++)
        if (r[i].v < r[i].lo || r[i].v > r[i].hi)
            return err_set(e, EXIT_USAGE, "%s %d is out of range (%d..%d)", r[i].name, r[i].v, r[i].lo, r[i].hi);
    if (c->v_width % c->v_heads)
        return err_set(e, EXIT_USAGE, "vision width %d is not divisible by %d heads", c->v_width, c->v_heads);
    if (c->t_width % c->t_heads)
        return err_set(e, EXIT_USAGE, "text width %d is not divisible by %d heads", c->t_width, c->t_heads);
    if (c->image_size % c->patch)
        return err_set(e, EXIT_USAGE, "image size %d is not a multiple of the patch %d", c->image_size, c->patch);
    return 0;
}

/* clip_params_each callback: declare one tensor in ps. */
static int declare(const char *name, float *data, int nd, const int *shape, void *vps) {
    (void)data;
    params_t *ps = vps;
    return params_add(ps, name, nd, shape, PARAM_DECAY_AUTO, NULL);
}

int clip_trainer_init(clip_trainer_t *t, const clip_config_t *cfg, int cap, const nn_par_t *par, err_t *e) {
    memset(t, 0, sizeof *t);
    int rc = cfg_check(cfg, cap, e);
    if (rc) return rc;
    t->cfg = *cfg;
    t->cap = cap;
    /* the table, in clip_params' order and packing, walked over a block of
     * NULL pointers (names and shapes only) */
    params_init(&t->ps);
    t->ps.align = 1;
    clip_params_t names;
    memset(&names, 0, sizeof names);
    names.cfg = *cfg;
    names.v_blocks = xcalloc((size_t)cfg->v_layers, sizeof *names.v_blocks);
    names.t_blocks = xcalloc((size_t)cfg->t_layers, sizeof *names.t_blocks);
    clip_params_each(&names, declare, &t->ps);
    free(names.v_blocks);
    free(names.t_blocks);
    if ((rc = params_alloc(&t->ps, PARAMS_TRAIN, e))) {
        params_free(&t->ps);
        return rc;
    }
    if (t->ps.numel != clip_params_count(cfg)) {
        rc = err_set(e, EXIT_INTERNAL, "clip_trainer: parameter table (%zu) and layout (%zu) disagree",
                     t->ps.numel, clip_params_count(cfg));
        params_free(&t->ps);
        return rc;
    }
    clip_params_t w, g;
    memset(&w, 0, sizeof w);
    memset(&g, 0, sizeof g);
    clip_params_bind(&w, cfg, t->ps.data);
    clip_params_bind(&g, cfg, t->ps.grad);
    clip_init(&t->m, &w, par);
    t->m.g = g;
    t->m.pooled_top = 1; /* training needs the embeddings alone (clip.h) */
    size_t E = (size_t)cfg->embed_dim, C = (size_t)cap;
    float **bufs[] = {&t->ie, &t->te, &t->in, &t->tn, &t->dn_i, &t->dn_t, &t->de_i, &t->de_t};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) *bufs[i] = xcalloc(C * E, sizeof(float));
    t->inorm = xcalloc(C, sizeof(float));
    t->tnorm = xcalloc(C, sizeof(float));
    t->nws = infonce_ws_size(cap);
    t->ws = xcalloc(t->nws, sizeof(float));
    params_init(&t->hf);
    return 0;
}

void clip_trainer_free(clip_trainer_t *t) {
    clip_free(&t->m); /* frees the bound block tables, not ps's blocks */
    params_free(&t->ps);
    params_free(&t->hf);
    free(t->hf_src);
    free(t->hf_tr);
    float *bufs[] = {t->ie, t->te, t->in, t->tn, t->dn_i, t->dn_t, t->de_i, t->de_t, t->inorm, t->tnorm, t->ws,
                     t->g_in, t->g_tn, t->g_dn_i, t->g_dn_t, t->g_ws};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------ init */

typedef struct {
    rng_t *r;
    const clip_config_t *c;
} init_ctx_t;

static void fill_normal(float *x, size_t n, double std, rng_t *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(std * rng_normal(r));
}

static int ends(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

static int init_one(const char *name, float *x, int nd, const int *shape, void *vc) {
    init_ctx_t *ic = vc;
    const clip_config_t *c = ic->c;
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)shape[i];
    int vis = !strncmp(name, "visual.", 7);
    double w = vis ? c->v_width : c->t_width, L = vis ? c->v_layers : c->t_layers;
    if (!strcmp(name, "logit_scale")) {
        x[0] = (float)log(1 / 0.07);
    } else if (!strcmp(name, "visual.conv1.weight")) {
        double b = 1 / sqrt(3.0 * c->patch * c->patch);
        for (size_t i = 0; i < n; i++) x[i] = (float)rng_range(ic->r, -b, b);
    } else if (!strcmp(name, "token_embedding.weight")) {
        fill_normal(x, n, 0.02, ic->r);
    } else if (!strcmp(name, "positional_embedding")) {
        fill_normal(x, n, 0.01, ic->r);
    } else if (!strcmp(name, "visual.class_embedding")) {
        memset(x, 0, n * sizeof *x); /* see clip_train.h: the class token starts empty */
    } else if (!strcmp(name, "visual.positional_embedding")) {
        fill_normal(x, n, 1 / sqrt(w), ic->r);
        memset(x, 0, (size_t)c->v_width * sizeof *x); /* the class token's position */
    } else if (!strcmp(name, "visual.proj") || !strcmp(name, "text_projection")) {
        fill_normal(x, n, 1 / sqrt(w), ic->r);
    } else if (ends(name, "attn.in_proj_weight")) {
        fill_normal(x, n, 1 / sqrt(w), ic->r);
    } else if (ends(name, "attn.out_proj.weight") || ends(name, "mlp.c_proj.weight")) {
        fill_normal(x, n, 1 / sqrt(w) / sqrt(2 * L), ic->r);
    } else if (ends(name, "mlp.c_fc.weight")) {
        fill_normal(x, n, 1 / sqrt(2 * w), ic->r);
    } else if (ends(name, "ln_1.weight") || ends(name, "ln_2.weight") || ends(name, "ln_pre.weight") ||
               ends(name, "ln_post.weight") || ends(name, "ln_final.weight")) {
        for (size_t i = 0; i < n; i++) x[i] = 1;
    } else {
        memset(x, 0, n * sizeof *x); /* biases, layer-norm shifts */
    }
    return 0;
}

void clip_trainer_init_weights(clip_trainer_t *t, rng_t *r) {
    init_ctx_t ic = {r, &t->cfg};
    clip_params_each(&t->m.w, init_one, &ic);
}

/* ------------------------------------------------------------------ one step */

static void zero_rows(float *x, size_t n) { memset(x, 0, n * sizeof *x); }

void clip_trainer_set_dist(clip_trainer_t *t, const dist_t *d) {
    t->dist = d;
    if (!d || d->size < 2) return;
    size_t G = (size_t)d->size * (size_t)t->cap, E = (size_t)t->cfg.embed_dim;
    float **bufs[] = {&t->g_in, &t->g_tn, &t->g_dn_i, &t->g_dn_t};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
        free(*bufs[i]);
        *bufs[i] = xcalloc(G * E, sizeof(float));
    }
    free(t->g_ws);
    t->g_nws = infonce_ws_size((int)G);
    t->g_ws = xcalloc(t->g_nws, sizeof(float));
}

/* The global batch's InfoNCE for a data-parallel step (clip_train.h):
 * gather, loss over every pair, this rank's rows of the gradient. */
/* Share of the n images whose most similar caption (dot product of the unit
 * embeddings in (n,E) and tn (n,E)) is their own. */
static float batch_accuracy(const float *in, const float *tn, int n, int E) {
    int ok = 0;
    for (int i = 0; i < n; i++) {
        const float *a = in + (size_t)i * E;
        int best = 0;
        float bs = -INFINITY;
        for (int j = 0; j < n; j++) {
            const float *b = tn + (size_t)j * E;
            float s = 0;
            for (int k = 0; k < E; k++) s += a[k] * b[k];
            if (s > bs) bs = s, best = j;
        }
        ok += best == i;
    }
    return (float)ok / (float)n;
}

static int infonce_dist(clip_trainer_t *t, int B, float *loss, float *acc, err_t *e) {
    const dist_t *d = t->dist;
    int E = t->cfg.embed_dim, G = B * d->size;
    size_t n = (size_t)B * E, off = (size_t)d->rank * n;
    int rc = dist_gather_f(d, t->in, n, t->g_in, e);
    if (!rc) rc = dist_gather_f(d, t->tn, n, t->g_tn, e);
    if (rc) return rc;
    float *dls = d->rank == 0 ? t->m.g.logit_scale : NULL;
    if (infonce(&t->m.par, loss, t->g_dn_i, t->g_dn_t, dls, t->g_in, t->g_tn, t->m.w.logit_scale[0], G, E, t->g_ws,
                t->g_nws))
        return err_set(e, EXIT_INTERNAL, "clip_trainer: InfoNCE refused its arguments");
    if (!isfinite(*loss)) return err_set(e, EXIT_NUMERIC, "loss is %s", isnan(*loss) ? "NaN" : "infinite");
    memcpy(t->dn_i, t->g_dn_i + off, n * sizeof(float));
    memcpy(t->dn_t, t->g_dn_t + off, n * sizeof(float));
    if (acc) *acc = batch_accuracy(t->g_in, t->g_tn, G, E);
    return 0;
}

int clip_trainer_grads(clip_trainer_t *t, const float *img, const int *ids, int B, float *loss, float *acc,
                       err_t *e) {
    if (B < 1 || B > t->cap) return err_set(e, EXIT_INTERNAL, "clip_trainer: batch %d (capacity %d)", B, t->cap);
    int E = t->cfg.embed_dim;
    params_zero_grad(&t->ps, &t->m.par);
    int rc = clip_image_forward(&t->m, img, B, t->ie, e);
    if (!rc) rc = clip_text_forward(&t->m, ids, B, t->te, e);
    if (rc) return rc;
    clip_normalize_forward(t->in, t->inorm, t->ie, B, E);
    clip_normalize_forward(t->tn, t->tnorm, t->te, B, E);
    if (t->dist && t->dist->size > 1) {
        if ((rc = infonce_dist(t, B, loss, acc, e))) return rc;
        goto backward;
    }
    float *dls = t->m.g.logit_scale;
    if (infonce(&t->m.par, loss, t->dn_i, t->dn_t, dls, t->in, t->tn, t->m.w.logit_scale[0], B, E, t->ws,
                t->nws))
        return err_set(e, EXIT_INTERNAL, "clip_trainer: InfoNCE refused its arguments");
    if (!isfinite(*loss)) return err_set(e, EXIT_NUMERIC, "loss is %s", isnan(*loss) ? "NaN" : "infinite");
    if (acc) *acc = batch_accuracy(t->in, t->tn, B, E); /* in-batch image -> caption accuracy */
backward:
    zero_rows(t->de_i, (size_t)B * E);
    zero_rows(t->de_t, (size_t)B * E);
    clip_normalize_backward(t->de_i, t->dn_i, t->in, t->inorm, B, E);
    clip_normalize_backward(t->de_t, t->dn_t, t->tn, t->tnorm, B, E);
    rc = clip_image_backward(&t->m, t->de_i, NULL, NULL, 1, e);
    if (!rc) rc = clip_text_backward(&t->m, t->de_t, 1, e);
    return rc;
}

int clip_trainer_update(clip_trainer_t *t, const adamw_hparams_t *hp, long long step, double max_norm,
                        double *gnorm, err_t *e) {
    int rc = params_check_finite(&t->ps, t->ps.grad, "gradient", &t->m.par, e);
    if (rc) return rc;
    double n = max_norm > 0 ? params_clip_grad(&t->ps, max_norm, &t->m.par)
                            : adamw_grad_norm(t->ps.grad, t->ps.size, &t->m.par);
    if (gnorm) *gnorm = n;
    if (!isfinite(n)) return err_set(e, EXIT_NUMERIC, "gradient norm is %g", n);
    if ((rc = params_step(&t->ps, hp, step, &t->m.par, e))) return rc;
    float *ls = t->m.w.logit_scale;
    if (*ls > (float)LOGIT_SCALE_MAX) *ls = (float)LOGIT_SCALE_MAX;
    return 0;
}

int clip_trainer_embed_images(clip_trainer_t *t, const float *img, int B, float *out, err_t *e) {
    if (B < 1 || B > t->cap) return err_set(e, EXIT_INTERNAL, "clip_trainer: batch %d (capacity %d)", B, t->cap);
    int rc = clip_image_forward(&t->m, img, B, t->ie, e);
    if (!rc) clip_normalize_forward(out, t->inorm, t->ie, B, t->cfg.embed_dim);
    return rc;
}

int clip_trainer_embed_texts(clip_trainer_t *t, const int *ids, int B, float *out, err_t *e) {
    if (B < 1 || B > t->cap) return err_set(e, EXIT_INTERNAL, "clip_trainer: batch %d (capacity %d)", B, t->cap);
    int rc = clip_text_forward(&t->m, ids, B, t->te, e);
    if (!rc) clip_normalize_forward(out, t->tnorm, t->te, B, t->cfg.embed_dim);
    return rc;
}

/* ------------------------------------------------------------------ files */

typedef struct {
    clip_trainer_t *t;
    int n;
} hf_build_t;

static int hf_declare(const char *name, int nd, const int *shape, float *data, int tr, void *vb) {
    hf_build_t *b = vb;
    clip_trainer_t *t = b->t;
    int rc = params_add(&t->hf, name, nd, shape, PARAM_DECAY_AUTO, NULL);
    if (rc) return rc;
    t->hf_src = xrealloc(t->hf_src, (size_t)(b->n + 1) * sizeof *t->hf_src);
    t->hf_tr = xrealloc(t->hf_tr, (size_t)(b->n + 1) * sizeof *t->hf_tr);
    t->hf_src[b->n] = (size_t)(data - t->ps.data);
    t->hf_tr[b->n] = tr;
    b->n++;
    return 0;
}

static int hf_table(clip_trainer_t *t, err_t *e) {
    if (t->hf.data) return 0;
    hf_build_t b = {t, 0};
    t->hf.align = 1;
    clip_params_each_hf(&t->m.w, hf_declare, &b);
    return params_alloc(&t->hf, PARAMS_TRAIN, e);
}

/* to_hf: ps's block -> hf's block; else back. */
static void hf_copy(clip_trainer_t *t, const float *src, float *dst, int to_hf) {
    for (int i = 0; i < t->hf.n; i++) {
        const param_t *p = &t->hf.t[i];
        const float *a = to_hf ? src + t->hf_src[i] : src + p->offset;
        float *b = to_hf ? dst + p->offset : dst + t->hf_src[i];
        if (!t->hf_tr[i]) {
            memcpy(b, a, p->numel * sizeof *a);
            continue;
        }
        size_t R = (size_t)p->shape[0], Q = (size_t)p->shape[1]; /* HF (E,W) = R x Q; ps (W,E) = Q x R */
        for (size_t r = 0; r < R; r++)
            for (size_t q = 0; q < Q; q++) {
                if (to_hf)
                    b[r * Q + q] = a[q * R + r];
                else
                    b[q * R + r] = a[r * Q + q];
            }
    }
}

static int check_heads(const clip_trainer_t *t, const ckpt_t *c, const char *path, err_t *e) {
    const char *key[2] = {"v_heads", "t_heads"};
    int want[2] = {t->cfg.v_heads, t->cfg.t_heads};
    for (int i = 0; i < 2; i++) {
        const char *v = ckpt_meta(c, key[i]);
        if (v && atoi(v) != want[i])
            return err_set(e, EXIT_MODEL, "%s: %s is %s, this run has %d (a different model configuration)", path,
                           key[i], v, want[i]);
    }
    return 0;
}

int clip_trainer_load_weights(clip_trainer_t *t, const char *path, long long *step, err_t *e) {
    int rc = hf_table(t, e);
    if (rc) return rc;
    ckpt_t *c = ckpt_open(path, e);
    if (!c) return e->code ? e->code : EXIT_MODEL;
    rc = check_heads(t, c, path, e);
    if (!rc) rc = ckpt_read(c, &t->hf, CKPT_WEIGHTS, e);
    if (!rc && step) *step = (long long)ckpt_step(c);
    ckpt_close(c);
    if (rc) return rc;
    hf_copy(t, t->hf.data, t->ps.data, 0);
    return 0;
}

void clip_config_hf_json(const clip_config_t *c, buf_t *b) {
    buf_printf(b,
               "{\n  \"architectures\": [\"CLIPModel\"],\n  \"model_type\": \"clip\",\n"
               "  \"projection_dim\": %d,\n  \"logit_scale_init_value\": 2.6592,\n  \"torch_dtype\": \"float32\",\n"
               "  \"text_config\": {\n    \"model_type\": \"clip_text_model\",\n    \"hidden_size\": %d,\n"
               "    \"intermediate_size\": %d,\n    \"num_attention_heads\": %d,\n    \"num_hidden_layers\": %d,\n"
               "    \"max_position_embeddings\": %d,\n    \"vocab_size\": %d,\n    \"projection_dim\": %d,\n"
               "    \"hidden_act\": \"quick_gelu\",\n    \"layer_norm_eps\": 1e-05,\n    \"bos_token_id\": 49406,\n"
               "    \"eos_token_id\": 49407,\n    \"pad_token_id\": 1\n  },\n"
               "  \"vision_config\": {\n    \"model_type\": \"clip_vision_model\",\n    \"hidden_size\": %d,\n"
               "    \"intermediate_size\": %d,\n    \"num_attention_heads\": %d,\n    \"num_hidden_layers\": %d,\n"
               "    \"image_size\": %d,\n    \"patch_size\": %d,\n    \"num_channels\": 3,\n    \"projection_dim\": %d,\n"
               "    \"hidden_act\": \"quick_gelu\",\n    \"layer_norm_eps\": 1e-05\n  }\n}\n",
               c->embed_dim, c->t_width, c->t_width * c->mlp_ratio, c->t_heads, c->t_layers, c->context, c->vocab,
               c->embed_dim, c->v_width, c->v_width * c->mlp_ratio, c->v_heads, c->v_layers, c->image_size,
               c->patch, c->embed_dim);
}

int clip_trainer_save(clip_trainer_t *t, const char *path, const ckpt_state_t *st, int flags, err_t *e) {
    int rc = hf_table(t, e);
    if (rc) return rc;
    int optim = !(flags & (CKPT_WEIGHTS | CKPT_F16));
    hf_copy(t, t->ps.data, t->hf.data, 1);
    if (optim) {
        hf_copy(t, t->ps.m, t->hf.m, 1);
        hf_copy(t, t->ps.v, t->hf.v, 1);
    }
    /* the heads (not in any shape) in the metadata, as clip_load reads them */
    ckpt_state_t s = st ? *st : (ckpt_state_t){0};
    int nm = s.nmeta + 2;
    ckpt_kv_t *kv = xcalloc((size_t)nm, sizeof *kv);
    char vh[16], th[16];
    snprintf(vh, sizeof vh, "%d", t->cfg.v_heads);
    snprintf(th, sizeof th, "%d", t->cfg.t_heads);
    kv[0] = (ckpt_kv_t){"v_heads", vh};
    kv[1] = (ckpt_kv_t){"t_heads", th};
    for (int i = 0; i < s.nmeta; i++) kv[i + 2] = s.meta[i];
    s.meta = kv;
    s.nmeta = nm;
    rc = ckpt_save(path, &t->hf, &s, flags, e);
    free(kv);
    if (rc) return rc;
    /* config.json beside it */
    const char *sl = strrchr(path, '/');
    buf_t fn = {0}, js = {0};
    if (sl) buf_put(&fn, path, (size_t)(sl - path + 1));
    buf_puts(&fn, "config.json");
    clip_config_hf_json(&t->cfg, &js);
    afile_t a;
    rc = afile_open(&a, fn.s, e);
    if (!rc) {
        fwrite(js.s, 1, js.len, a.fp);
        rc = afile_commit(&a, e);
    }
    buf_free(&fn);
    buf_free(&js);
    return rc;
}

int clip_trainer_load(clip_trainer_t *t, const char *path, ckpt_state_t *st, err_t *e) {
    int rc = hf_table(t, e);
    if (rc) return rc;
    ckpt_t *c = ckpt_open(path, e);
    if (!c) return e->code ? e->code : EXIT_MODEL;
    /* heads are not in the shapes: compare the metadata */
    rc = check_heads(t, c, path, e);
    if (!rc && !ckpt_meta(c, "step"))
        rc = err_set(e, EXIT_MODEL, "%s: no \"step\" in the metadata (not a training checkpoint)", path);
    if (!rc) rc = ckpt_read(c, &t->hf, CKPT_OPTIM, e);
    for (int i = 0; !rc && st && i < st->nrng; i++) rc = ckpt_rng(c, st->rng[i].name, st->rng[i].rng, e);
    if (!rc && st) st->step = ckpt_step(c);
    ckpt_close(c);
    if (rc) return rc;
    hf_copy(t, t->hf.data, t->ps.data, 0);
    hf_copy(t, t->hf.m, t->ps.m, 0);
    hf_copy(t, t->hf.v, t->ps.v, 0);
    return 0;
}
