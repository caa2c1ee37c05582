/* clip_load.c - see clip_load.h.
 *
 * One description of the model, plan(), walks every parameter tensor in
 * clip_params.h's layout order and calls want() with its name, its shape and
 * where it goes.  want() does one of three jobs: check the shape against a
 * name -> shape table (first pass: nothing is allocated until the whole file
 * is known to fit), read the tensor into the block (second pass), or collect
 * (name, shape, data) for the writer.  So the loader, the checker and the
 * writer cannot disagree about names or shapes.
 */
#define _GNU_SOURCE
#include "clip_load.h"
#include <cJSON.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 1000

enum { M_CHECK, M_LOAD, M_COLLECT };

typedef struct {
    const char *name;
    int ndim;
    int64_t shape[4];
    const float *data;
} item_t;

typedef struct {
    int mode;
    int hf;
    char pre[256];           /* common prefix of every name, e.g. "module." */
    const char *file;        /* for messages */
    const clip_shape_t *tab; /* sorted by name */
    size_t n;
    tensorfile_t *tf; /* M_LOAD */
    item_t *items;    /* M_COLLECT */
    size_t nitems;
    char **names;
    err_t *e;
} ctx_t;

static int cmp_shape(const void *a, const void *b) {
    return strcmp(((const clip_shape_t *)a)->name, ((const clip_shape_t *)b)->name);
}

static const clip_shape_t *lookup(const ctx_t *c, const char *name) {
    clip_shape_t key = {.name = name};
    return c->n ? bsearch(&key, c->tab, c->n, sizeof *c->tab, cmp_shape) : NULL;
}

static void shape_str(char *s, size_t n, int nd, const int64_t *sh) {
    size_t k = (size_t)snprintf(s, n, "[");
    for (int i = 0; i < nd && k < n; i++)
        k += (size_t)snprintf(s + k, n - k, "%s%" PRId64, i ? "," : "", sh[i]);
    if (k < n) snprintf(s + k, n - k, "]");
}

static const char *naming(const ctx_t *c) { return c->hf ? "Hugging Face naming" : "OpenAI naming"; }

/* One parameter tensor: name (after the prefix), expected shape, destination
 * dst+off.  tr: the file holds the transpose of the (d0,d1) destination. */
static int want(ctx_t *c, float *dst, size_t off, int tr, int nd, const int64_t *sh, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static int want(ctx_t *c, float *dst, size_t off, int tr, int nd, const int64_t *sh, const char *fmt, ...) {
    char name[512];
    size_t k = (size_t)snprintf(name, sizeof name, "%s", c->pre);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name + k, sizeof name - k, fmt, ap);
    va_end(ap);
    int64_t fsh[4] = {0}; /* shape as stored in the file */
    for (int i = 0; i < nd; i++) fsh[i] = sh[i];
    if (tr) fsh[0] = sh[1], fsh[1] = sh[0];
    if (c->mode == M_COLLECT) {
        c->items = xrealloc(c->items, (c->nitems + 1) * sizeof *c->items);
        c->names = xrealloc(c->names, (c->nitems + 1) * sizeof *c->names);
        c->names[c->nitems] = xstrdup(name);
        c->items[c->nitems] = (item_t){c->names[c->nitems], nd, {fsh[0], fsh[1], fsh[2], fsh[3]}, dst + off};
        c->nitems++;
        return 0;
    }
    const clip_shape_t *t = lookup(c, name);
    if (!t) return err_set(c->e, EXIT_MODEL, "%s: tensor '%s' is missing (%s)", c->file, name, naming(c));
    /* a scalar may also be stored as shape [1] */
    int ok = t->ndim == nd || (nd == 0 && t->ndim == 1 && t->shape[0] == 1);
    for (int i = 0; ok && i < nd; i++) ok = t->shape[i] == fsh[i];
    if (!ok) {
        char got[128], exp[128];
        shape_str(got, sizeof got, t->ndim, t->shape);
        shape_str(exp, sizeof exp, nd, fsh);
        return err_set(c->e, EXIT_MODEL, "%s: tensor '%s' has shape %s, expected %s", c->file, name, got,
                       exp);
    }
    if (c->mode == M_CHECK) return 0;
    const tf_info_t *ti = tf_find(c->tf, name);
    if (!tr) return tf_read_f32(c->tf, ti, dst + off, c->e) ? EXIT_MODEL : 0;
    size_t r = (size_t)sh[0], q = (size_t)sh[1]; /* dst (r,q), file (q,r) */
    float *tmp = xmalloc(r * q * sizeof *tmp);
    int rc = tf_read_f32(c->tf, ti, tmp, c->e) ? EXIT_MODEL : 0;
    for (size_t i = 0; !rc && i < r; i++)
        for (size_t j = 0; j < q; j++) dst[off + i * q + j] = tmp[j * r + i];
    free(tmp);
    return rc;
}

#define S0 ((const int64_t[]){0})
#define S1(a) ((const int64_t[]){(a)})
#define S2(a, b) ((const int64_t[]){(a), (b)})
#define S4(a, b, c, d) ((const int64_t[]){(a), (b), (c), (d)})
#define TRY(x)                                                                                               \
    do {                                                                                                     \
        int rc_ = (x);                                                                                       \
        if (rc_) return rc_;                                                                                 \
    } while (0)

static int block(ctx_t *c, clip_block_t *b, int64_t w, int64_t r, const char *pre) {
    int64_t h = r * w;
    if (!c->hf) {
        TRY(want(c, b->ln1_w, 0, 0, 1, S1(w), "%sln_1.weight", pre));
        TRY(want(c, b->ln1_b, 0, 0, 1, S1(w), "%sln_1.bias", pre));
        TRY(want(c, b->attn_in_w, 0, 0, 2, S2(3 * w, w), "%sattn.in_proj_weight", pre));
        TRY(want(c, b->attn_in_b, 0, 0, 1, S1(3 * w), "%sattn.in_proj_bias", pre));
        TRY(want(c, b->attn_out_w, 0, 0, 2, S2(w, w), "%sattn.out_proj.weight", pre));
        TRY(want(c, b->attn_out_b, 0, 0, 1, S1(w), "%sattn.out_proj.bias", pre));
        TRY(want(c, b->ln2_w, 0, 0, 1, S1(w), "%sln_2.weight", pre));
        TRY(want(c, b->ln2_b, 0, 0, 1, S1(w), "%sln_2.bias", pre));
        TRY(want(c, b->fc_w, 0, 0, 2, S2(h, w), "%smlp.c_fc.weight", pre));
        TRY(want(c, b->fc_b, 0, 0, 1, S1(h), "%smlp.c_fc.bias", pre));
        TRY(want(c, b->proj_w, 0, 0, 2, S2(w, h), "%smlp.c_proj.weight", pre));
        TRY(want(c, b->proj_b, 0, 0, 1, S1(w), "%smlp.c_proj.bias", pre));
        return 0;
    }
    TRY(want(c, b->ln1_w, 0, 0, 1, S1(w), "%slayer_norm1.weight", pre));
    TRY(want(c, b->ln1_b, 0, 0, 1, S1(w), "%slayer_norm1.bias", pre));
    static const char qkv[3] = {'q', 'k', 'v'}; /* stacked in this order, as OpenAI's in_proj */
    for (int k = 0; k < 3; k++) {
        TRY(want(c, b->attn_in_w, (size_t)(k * w * w), 0, 2, S2(w, w), "%sself_attn.%c_proj.weight", pre,
                 qkv[k]));
        TRY(want(c, b->attn_in_b, (size_t)(k * w), 0, 1, S1(w), "%sself_attn.%c_proj.bias", pre, qkv[k]));
    }
    TRY(want(c, b->attn_out_w, 0, 0, 2, S2(w, w), "%sself_attn.out_proj.weight", pre));
    TRY(want(c, b->attn_out_b, 0, 0, 1, S1(w), "%sself_attn.out_proj.bias", pre));
    TRY(want(c, b->ln2_w, 0, 0, 1, S1(w), "%slayer_norm2.weight", pre));
    TRY(want(c, b->ln2_b, 0, 0, 1, S1(w), "%slayer_norm2.bias", pre));
    TRY(want(c, b->fc_w, 0, 0, 2, S2(h, w), "%smlp.fc1.weight", pre));
    TRY(want(c, b->fc_b, 0, 0, 1, S1(h), "%smlp.fc1.bias", pre));
    TRY(want(c, b->proj_w, 0, 0, 2, S2(w, h), "%smlp.fc2.weight", pre));
    TRY(want(c, b->proj_b, 0, 0, 1, S1(w), "%smlp.fc2.bias", pre));
    return 0;
}

/* Every parameter, in clip_params.h's layout order. */
static int plan(ctx_t *c, clip_params_t *p) {
    const clip_config_t *g = &p->cfg;
    int64_t vw = g->v_width, tw = g->t_width, E = g->embed_dim, P = g->patch, r = g->mlp_ratio;
    int64_t grid = g->image_size / g->patch, tv = grid * grid + 1;
    char pre[64];
    int hf = c->hf;
    TRY(want(c, p->v_conv, 0, 0, 4, S4(vw, 3, P, P),
             hf ? "vision_model.embeddings.patch_embedding.weight" : "visual.conv1.weight"));
    TRY(want(c, p->v_class, 0, 0, 1, S1(vw),
             hf ? "vision_model.embeddings.class_embedding" : "visual.class_embedding"));
    TRY(want(c, p->v_pos, 0, 0, 2, S2(tv, vw),
             hf ? "vision_model.embeddings.position_embedding.weight" : "visual.positional_embedding"));
    TRY(want(c, p->v_ln_pre_w, 0, 0, 1, S1(vw),
             hf ? "vision_model.pre_layrnorm.weight" : "visual.ln_pre.weight"));
    TRY(want(c, p->v_ln_pre_b, 0, 0, 1, S1(vw),
             hf ? "vision_model.pre_layrnorm.bias" : "visual.ln_pre.bias"));
    for (int l = 0; l < g->v_layers; l++) {
        snprintf(pre, sizeof pre, hf ? "vision_model.encoder.layers.%d." : "visual.transformer.resblocks.%d.",
                 l);
        TRY(block(c, &p->v_blocks[l], vw, r, pre));
    }
    TRY(want(c, p->v_ln_post_w, 0, 0, 1, S1(vw),
             hf ? "vision_model.post_layernorm.weight" : "visual.ln_post.weight"));
    TRY(want(c, p->v_ln_post_b, 0, 0, 1, S1(vw),
             hf ? "vision_model.post_layernorm.bias" : "visual.ln_post.bias"));
    TRY(want(c, p->v_proj, 0, hf, 2, S2(vw, E), hf ? "visual_projection.weight" : "visual.proj"));
    TRY(want(c, p->t_tok, 0, 0, 2, S2(g->vocab, tw),
             hf ? "text_model.embeddings.token_embedding.weight" : "token_embedding.weight"));
    TRY(want(c, p->t_pos, 0, 0, 2, S2(g->context, tw),
             hf ? "text_model.embeddings.position_embedding.weight" : "positional_embedding"));
    for (int l = 0; l < g->t_layers; l++) {
        snprintf(pre, sizeof pre, hf ? "text_model.encoder.layers.%d." : "transformer.resblocks.%d.", l);
        TRY(block(c, &p->t_blocks[l], tw, r, pre));
    }
    TRY(want(c, p->t_ln_w, 0, 0, 1, S1(tw), hf ? "text_model.final_layer_norm.weight" : "ln_final.weight"));
    TRY(want(c, p->t_ln_b, 0, 0, 1, S1(tw), hf ? "text_model.final_layer_norm.bias" : "ln_final.bias"));
    TRY(want(c, p->t_proj, 0, hf, 2, S2(tw, E), hf ? "text_projection.weight" : "text_projection"));
    TRY(want(c, p->logit_scale, 0, 0, 0, S0, "logit_scale"));
    return 0;
}

/* ------------------------------------------------------------------ inference */

static int ends_with(const char *s, const char *suf, size_t *plen) {
    size_t n = strlen(s), m = strlen(suf);
    if (n < m || strcmp(s + n - m, suf)) return 0;
    if (n > m && s[n - m - 1] != '.') return 0; /* suffix must start a name component */
    *plen = n - m;
    return 1;
}

/* Naming and prefix from the patch-embedding tensor; ResNets refused. */
static int detect(ctx_t *c) {
    size_t pl;
    for (size_t i = 0; i < c->n; i++) {
        const char *nm = c->tab[i].name;
        const char *rn = strstr(nm, "visual.layer1.");
        if (!rn) rn = strstr(nm, "visual.attnpool.");
        if (rn && (rn == nm || rn[-1] == '.'))
            return err_set(
                c->e, EXIT_MODEL,
                "%s: ResNet CLIP (RN50, RN101, RN50x4...; found '%.200s') is not supported: use a ViT "
                "CLIP (ViT-B/32, ViT-B/16, ViT-L/14)",
                c->file, nm);
    }
    for (int hf = 0; hf < 2; hf++)
        for (size_t i = 0; i < c->n; i++)
            if (ends_with(c->tab[i].name,
                          hf ? "vision_model.embeddings.patch_embedding.weight" : "visual.conv1.weight",
                          &pl)) {
                if (pl >= sizeof c->pre) continue;
                c->hf = hf;
                memcpy(c->pre, c->tab[i].name, pl);
                c->pre[pl] = 0;
                return 0;
            }
    return err_set(
        c->e, EXIT_MODEL,
        "%s: not a CLIP checkpoint: no 'visual.conv1.weight' (OpenAI/open_clip naming) or "
        "'vision_model.embeddings.patch_embedding.weight' (Hugging Face naming) among its %zu tensors",
        c->file, c->n);
}

static const clip_shape_t *need(ctx_t *c, const char *suffix, int nd) {
    char name[512];
    snprintf(name, sizeof name, "%s%s", c->pre, suffix);
    const clip_shape_t *t = lookup(c, name);
    if (!t)
        err_set(c->e, EXIT_MODEL, "%s: tensor '%s' is missing (%s)", c->file, name, naming(c));
    else if (t->ndim != nd) {
        char got[128];
        shape_str(got, sizeof got, t->ndim, t->shape);
        err_set(c->e, EXIT_MODEL, "%s: tensor '%s' has shape %s, expected %d dimensions", c->file, name, got,
                nd);
        return NULL;
    }
    return t;
}

/* Highest index i in "<pre><stem><i>." + 1. */
static int count_layers(ctx_t *c, const char *stem, int *layers) {
    char key[512];
    size_t kl = (size_t)snprintf(key, sizeof key, "%s%s", c->pre, stem);
    int top = -1;
    for (size_t i = 0; i < c->n; i++) {
        const char *nm = c->tab[i].name;
        if (strncmp(nm, key, kl)) continue;
        const char *d = nm + kl;
        long v = 0;
        int nd = 0;
        while (*d >= '0' && *d <= '9' && nd < 9) v = v * 10 + (*d++ - '0'), nd++;
        if (!nd || *d != '.') continue;
        if (v >= MAX_LAYERS)
            return err_set(c->e, EXIT_MODEL, "%s: tensor '%s': layer index %ld is too large", c->file, nm, v);
        if (v > top) top = (int)v;
    }
    *layers = top + 1;
    return 0;
}

static int heads_for(ctx_t *c, int given, int64_t width, const char *tower, int *out) {
    if (given > 0)
        *out = given;
    else if (width % 64 == 0)
        *out = (int)(width / 64);
    else
        return err_set(c->e, EXIT_MODEL,
                       "%s: cannot infer the %s tower's attention heads (width %" PRId64
                       " is not a multiple of "
                       "64): give them explicitly",
                       c->file, tower, width);
    if (width % *out)
        return err_set(c->e, EXIT_MODEL, "%s: %s width %" PRId64 " is not divisible by %d heads", c->file,
                       tower, width, *out);
    return 0;
}

static int dim_ok(int64_t v) { return v > 0 && v <= (1 << 24); }

/* Detect, infer the config, and check every tensor's presence and shape. */
static int infer(ctx_t *c, const clip_load_opts_t *o, clip_config_t *cfg) {
    TRY(detect(c));
    int hf = c->hf;
    memset(cfg, 0, sizeof *cfg);
    const clip_shape_t *conv =
        need(c, hf ? "vision_model.embeddings.patch_embedding.weight" : "visual.conv1.weight", 4);
    if (!conv) return EXIT_MODEL;
    if (conv->shape[1] != 3 || conv->shape[2] != conv->shape[3] || !dim_ok(conv->shape[0]) ||
        !dim_ok(conv->shape[2]))
        return err_set(c->e, EXIT_MODEL, "%s: patch embedding '%s' is not (width, 3, P, P)", c->file,
                       conv->name);
    int64_t vw = conv->shape[0], P = conv->shape[2];
    const clip_shape_t *vpos =
        need(c, hf ? "vision_model.embeddings.position_embedding.weight" : "visual.positional_embedding", 2);
    if (!vpos) return EXIT_MODEL;
    int64_t g = 0, tv = vpos->shape[0];
    while ((g + 1) * (g + 1) <= tv - 1 && g < (1 << 20)) g++;
    if (tv < 2 || g * g != tv - 1 || vpos->shape[1] != vw || !dim_ok(g * P))
        return err_set(c->e, EXIT_MODEL,
                       "%s: '%s' has shape [%" PRId64 ",%" PRId64 "]: expected (grid^2 + 1, %" PRId64 ")",
                       c->file, vpos->name, vpos->shape[0], vpos->shape[1], vw);
    const clip_shape_t *tok =
        need(c, hf ? "text_model.embeddings.token_embedding.weight" : "token_embedding.weight", 2);
    if (!tok) return EXIT_MODEL;
    const clip_shape_t *tpos =
        need(c, hf ? "text_model.embeddings.position_embedding.weight" : "positional_embedding", 2);
    if (!tpos) return EXIT_MODEL;
    const clip_shape_t *vproj = need(c, hf ? "visual_projection.weight" : "visual.proj", 2);
    if (!vproj) return EXIT_MODEL;
    int64_t tw = tok->shape[1], E = vproj->shape[hf ? 0 : 1];
    if (!dim_ok(tw) || !dim_ok(tok->shape[0]) || !dim_ok(tpos->shape[0]) || !dim_ok(E))
        return err_set(c->e, EXIT_MODEL, "%s: implausible text tower or projection shapes", c->file);
    int vl, tl;
    TRY(count_layers(c, hf ? "vision_model.encoder.layers." : "visual.transformer.resblocks.", &vl));
    TRY(count_layers(c, hf ? "text_model.encoder.layers." : "transformer.resblocks.", &tl));
    /* MLP ratio from the first block's hidden layer (4 for every CLIP) */
    int64_t ratio = 4;
    if (vl || tl) {
        char s[128];
        snprintf(s, sizeof s,
                 hf ? "%s.encoder.layers.0.mlp.fc1.weight" : "%stransformer.resblocks.0.mlp.c_fc.weight",
                 vl ? (hf ? "vision_model" : "visual.") : (hf ? "text_model" : ""));
        const clip_shape_t *fc = need(c, s, 2);
        if (!fc) return EXIT_MODEL;
        int64_t w = vl ? vw : tw;
        if (fc->shape[0] % w || fc->shape[0] / w < 1 || fc->shape[0] / w > 64)
            return err_set(c->e, EXIT_MODEL,
                           "%s: '%s' has %" PRId64 " rows: not a whole multiple of width %" PRId64, c->file,
                           fc->name, fc->shape[0], w);
        ratio = fc->shape[0] / w;
    }
    cfg->v_width = (int)vw;
    cfg->patch = (int)P;
    cfg->image_size = (int)(g * P);
    cfg->v_layers = vl;
    cfg->t_width = (int)tw;
    cfg->t_layers = tl;
    cfg->vocab = (int)tok->shape[0];
    cfg->context = (int)tpos->shape[0];
    cfg->embed_dim = (int)E;
    cfg->mlp_ratio = (int)ratio;
    TRY(heads_for(c, o ? o->v_heads : 0, vw, "vision", &cfg->v_heads));
    TRY(heads_for(c, o ? o->t_heads : 0, tw, "text", &cfg->t_heads));
    /* now every tensor: a bound block over no memory, offsets only */
    clip_params_t dummy;
    memset(&dummy, 0, sizeof dummy);
    dummy.cfg = *cfg;
    dummy.v_blocks = xcalloc((size_t)(vl ? vl : 1), sizeof *dummy.v_blocks);
    dummy.t_blocks = xcalloc((size_t)(tl ? tl : 1), sizeof *dummy.t_blocks);
    int mode = c->mode;
    c->mode = M_CHECK;
    int rc = plan(c, &dummy);
    c->mode = mode;
    free(dummy.v_blocks);
    free(dummy.t_blocks);
    return rc;
}

int clip_infer_config(const clip_shape_t *tab, size_t n, const clip_load_opts_t *o, clip_config_t *cfg,
                      err_t *e) {
    clip_shape_t *s = xmalloc((n ? n : 1) * sizeof *s);
    if (n) memcpy(s, tab, n * sizeof *s);
    if (n) qsort(s, n, sizeof *s, cmp_shape);
    ctx_t c = {.mode = M_CHECK, .file = "(shape table)", .tab = s, .n = n, .e = e};
    for (size_t i = 1; i < n; i++)
        if (!strcmp(s[i].name, s[i - 1].name)) {
            int rc = err_set(e, EXIT_MODEL, "(shape table): tensor '%s' appears twice", s[i].name);
            free(s);
            return rc;
        }
    int rc = infer(&c, o, cfg);
    free(s);
    return rc;
}

/* ------------------------------------------------------------------ loading */

static int meta_int(const tensorfile_t *tf, const char *key) {
    const char *v = tf_meta(tf, key);
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    return v && *v && !*end && x > 0 && x < 4096 ? (int)x : 0;
}

static int load(tensorfile_t *tf, clip_params_t *p, const clip_load_opts_t *opts,
                const clip_load_opts_t *side, err_t *e) {
    memset(p, 0, sizeof *p);
    size_t n = tf_count(tf);
    clip_shape_t *tab = xcalloc(n ? n : 1, sizeof *tab);
    for (size_t i = 0; i < n; i++) { /* tf_info is sorted by name already */
        const tf_info_t *t = tf_info(tf, i);
        tab[i].name = t->name;
        tab[i].ndim = t->ndim;
        memcpy(tab[i].shape, t->shape, sizeof tab[i].shape);
    }
    ctx_t c = {.mode = M_CHECK, .file = tf_name(tf), .tab = tab, .n = n, .tf = tf, .e = e};
    clip_load_opts_t o = {0};
    if (opts) o = *opts;
    if (!o.v_heads) o.v_heads = meta_int(tf, "v_heads");
    if (!o.t_heads) o.t_heads = meta_int(tf, "t_heads");
    clip_config_t cfg;
    int rc = detect(&c);
    if (!rc && c.hf && side) { /* config.json applies to HF-named files only */
        if (!o.v_heads) o.v_heads = side->v_heads;
        if (!o.t_heads) o.t_heads = side->t_heads;
    }
    if (!rc) rc = infer(&c, &o, &cfg);
    if (!rc && clip_params_alloc(p, &cfg))
        rc = err_set(e, EXIT_MODEL, "%s: inconsistent CLIP configuration", tf_name(tf));
    if (!rc) {
        c.mode = M_LOAD;
        rc = plan(&c, p);
        if (rc) clip_params_free(p);
    }
    free(tab);
    return rc;
}

int clip_load_tf(tensorfile_t *tf, clip_params_t *p, const clip_load_opts_t *opts, err_t *e) {
    return load(tf, p, opts, NULL, e);
}

/* num_attention_heads from a Hugging Face config.json beside path, if any. */
static void hf_sidecar(const char *path, clip_load_opts_t *side) {
    memset(side, 0, sizeof *side);
    const char *sl = strrchr(path, '/');
    buf_t fn = {0};
    if (sl) buf_put(&fn, path, (size_t)(sl - path + 1));
    buf_puts(&fn, "config.json");
    FILE *f = fopen(fn.s, "rb");
    buf_free(&fn);
    if (!f) return;
    char *txt = xmalloc(1 << 20);
    size_t len = fread(txt, 1, (1 << 20) - 1, f);
    fclose(f);
    cJSON *j = cJSON_ParseWithLength(txt, len);
    free(txt);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "vision_config"),
                                                      "num_attention_heads");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "text_config"),
                                                      "num_attention_heads");
    if (cJSON_IsNumber(v) && v->valueint > 0 && v->valueint < 4096) side->v_heads = v->valueint;
    if (cJSON_IsNumber(t) && t->valueint > 0 && t->valueint < 4096) side->t_heads = t->valueint;
    cJSON_Delete(j);
}

int clip_load_opts(const char *path, clip_params_t *p, const clip_load_opts_t *opts, err_t *e) {
    memset(p, 0, sizeof *p);
    tensorfile_t *tf = tf_open(path, e);
    if (!tf) return EXIT_MODEL;
    clip_load_opts_t side;
    hf_sidecar(path, &side);
    int rc = load(tf, p, opts, &side, e);
    tf_close(tf);
    return rc;
}

int clip_load(const char *path, clip_params_t *p, err_t *e) { return clip_load_opts(path, p, NULL, e); }

/* ------------------------------------------------------------------ saving */

int clip_save_safetensors(const char *path, const clip_params_t *p, err_t *e) {
    ctx_t c = {.mode = M_COLLECT, .file = path, .e = e};
    clip_params_t q = *p; /* plan() takes a non-const block; nothing is written through it */
    plan(&c, &q);
    buf_t h = {0};
    buf_printf(&h,
               "{\"__metadata__\":{\"format\":\"pt\",\"producer\":\"invclip\",\"v_heads\":\"%d\","
               "\"t_heads\":\"%d\"}",
               p->cfg.v_heads, p->cfg.t_heads);
    uint64_t off = 0;
    for (size_t i = 0; i < c.nitems; i++) {
        const item_t *it = &c.items[i];
        uint64_t n = 1;
        for (int d = 0; d < it->ndim; d++) n *= (uint64_t)it->shape[d];
        buf_puts(&h, ",");
        buf_jstr(&h, it->name);
        buf_puts(&h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < it->ndim; d++) buf_printf(&h, "%s%" PRId64, d ? "," : "", it->shape[d]);
        buf_printf(&h, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off, off + 4 * n);
        off += 4 * n;
    }
    buf_puts(&h, "}");
    while (h.len % 8) buf_puts(&h, " "); /* data 8-byte aligned, as the safetensors library does */
    afile_t a;
    int rc = afile_open(&a, path, e);
    if (!rc) {
        unsigned char len[8];
        for (int k = 0; k < 8; k++) len[k] = (unsigned char)((uint64_t)h.len >> (8 * k));
        fwrite(len, 1, 8, a.fp);
        fwrite(h.s, 1, h.len, a.fp);
        for (size_t i = 0; i < c.nitems; i++) {
            uint64_t n = 1;
            for (int d = 0; d < c.items[i].ndim; d++) n *= (uint64_t)c.items[i].shape[d];
            fwrite(c.items[i].data, sizeof(float), (size_t)n, a.fp);
        }
        rc = afile_commit(&a, e);
    }
    for (size_t i = 0; i < c.nitems; i++) free(c.names[i]);
    free(c.names);
    free(c.items);
    buf_free(&h);
    return rc;
}
