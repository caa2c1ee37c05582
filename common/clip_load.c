/* clip_load.c - see clip_load.h.
 *
 * One description of the model, clip_params_each() (clip_params.c), names
 * every parameter tensor in layout order with its shape; file_name() gives
 * its spelling under the file's naming (prefix, Hugging Face renames, HF's
 * q/k/v parts, transposed projections) and want() does one of two jobs:
 * check the shape against a name -> shape table (first pass: nothing is
 * allocated until the whole file is known to fit), or read the tensor into
 * the block (second pass).  The writer walks the same list.  So the loader,
 * the checker and the writer cannot disagree about names or shapes.
 */
#define _GNU_SOURCE
#include "clip_load.h"
#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 1000

enum { M_CHECK, M_LOAD };

typedef struct {
    int mode;
    int hf;
    char pre[256];           /* common prefix of every name, e.g. "module." */
    const char *file;        /* for messages */
    const clip_shape_t *tab; /* sorted by name */
    size_t n;
    tensorfile_t *tf; /* M_LOAD */
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

/* One parameter tensor: its full name in the file, the shape of its
 * destination dst+off, and tr: the file holds the transpose of the (d0,d1)
 * destination.  (dst+off is formed only when reading: the check pass runs
 * over a block without memory.) */
static int want(ctx_t *c, float *dst, size_t off, int tr, int nd, const int64_t *sh, const char *name) {
    int64_t fsh[4] = {0}; /* shape as stored in the file */
    for (int i = 0; i < nd; i++) fsh[i] = sh[i];
    if (tr) fsh[0] = sh[1], fsh[1] = sh[0];
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

#define TRY(x)                                                                                               \
    do {                                                                                                     \
        int rc_ = (x);                                                                                       \
        if (rc_) return rc_;                                                                                 \
    } while (0)

/* Hugging Face's spelling of clip_params_each's (OpenAI) names.  A rule
 * ending in '.' renames a prefix, any other a whole name; block tensors are
 * renamed in two steps, tower prefix then the part after the layer index. */
enum { HF_SAME, HF_TRANSPOSED, HF_QKV };
typedef struct {
    const char *from, *to;
    int kind; /* HF_TRANSPOSED: stored (E,W); HF_QKV: stacked from HF's q, k, v */
} rename_t;

static const rename_t hf_towers[] = {
    {"visual.conv1.weight", "vision_model.embeddings.patch_embedding.weight", HF_SAME},
    {"visual.class_embedding", "vision_model.embeddings.class_embedding", HF_SAME},
    {"visual.positional_embedding", "vision_model.embeddings.position_embedding.weight", HF_SAME},
    {"visual.ln_pre.", "vision_model.pre_layrnorm.", HF_SAME},
    {"visual.transformer.resblocks.", "vision_model.encoder.layers.", HF_SAME},
    {"visual.ln_post.", "vision_model.post_layernorm.", HF_SAME},
    {"visual.proj", "visual_projection.weight", HF_TRANSPOSED},
    {"token_embedding.weight", "text_model.embeddings.token_embedding.weight", HF_SAME},
    {"positional_embedding", "text_model.embeddings.position_embedding.weight", HF_SAME},
    {"transformer.resblocks.", "text_model.encoder.layers.", HF_SAME},
    {"ln_final.", "text_model.final_layer_norm.", HF_SAME},
    {"text_projection", "text_projection.weight", HF_TRANSPOSED},
};
static const rename_t hf_block[] = {
    {"ln_1.", "layer_norm1.", HF_SAME},
    {"attn.in_proj_weight", "self_attn.q_proj.weight", HF_QKV}, /* q, k, v in this order, as OpenAI's */
    {"attn.in_proj_bias", "self_attn.q_proj.bias", HF_QKV},
    {"attn.out_proj.", "self_attn.out_proj.", HF_SAME},
    {"ln_2.", "layer_norm2.", HF_SAME},
    {"mlp.c_fc.", "mlp.fc1.", HF_SAME},
    {"mlp.c_proj.", "mlp.fc2.", HF_SAME},
};

/* The rule of tab that applies to name, or NULL; *rest = what it leaves. */
static const rename_t *rename_find(const rename_t *tab, size_t n, const char *name, const char **rest) {
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(tab[i].from);
        if (!strncmp(name, tab[i].from, l) && (tab[i].from[l - 1] == '.' || !name[l])) {
            *rest = name + l;
            return &tab[i];
        }
    }
    return NULL;
}

/* name (OpenAI naming, after the file's prefix) as the file spells it, into
 * out[n] with the prefix; returns HF_SAME, HF_TRANSPOSED or HF_QKV (then out
 * names the q part). */
static int file_name(const ctx_t *c, const char *name, char *out, size_t n) {
    const char *rest, *brest;
    const rename_t *t = c->hf ? rename_find(hf_towers, sizeof hf_towers / sizeof *hf_towers, name, &rest) : NULL;
    if (!t) {
        snprintf(out, n, "%s%s", c->pre, name);
        return HF_SAME;
    }
    size_t digits = strspn(rest, "0123456789");
    const rename_t *b = digits && rest[digits] == '.'
                            ? rename_find(hf_block, sizeof hf_block / sizeof *hf_block, rest + digits + 1, &brest)
                            : NULL;
    if (!b) {
        snprintf(out, n, "%s%s%s", c->pre, t->to, rest);
        return t->kind;
    }
    snprintf(out, n, "%s%s%.*s%s%s", c->pre, t->to, (int)digits + 1, rest, b->to, brest);
    return b->kind;
}

/* clip_params_each callback: one parameter tensor under the file's naming. */
static int want_param(const char *name, float *data, int nd, const int *shape, void *vc) {
    ctx_t *c = vc;
    char fn[512];
    int64_t sh[4] = {0};
    for (int i = 0; i < nd; i++) sh[i] = shape[i];
    int kind = file_name(c, name, fn, sizeof fn);
    if (kind != HF_QKV) return want(c, data, 0, kind == HF_TRANSPOSED, nd, sh, fn);
    char *letter = strstr(fn, ".q_proj.") + 1;
    sh[0] /= 3;
    size_t part = (size_t)sh[0] * (nd == 2 ? (size_t)sh[1] : 1);
    for (int k = 0; k < 3; k++) {
        *letter = "qkv"[k];
        TRY(want(c, data, k * part, 0, nd, sh, fn));
    }
    return 0;
}

/* Every parameter, in clip_params.h's layout order. */
static int plan(ctx_t *c, clip_params_t *p) { return clip_params_each(p, want_param, c); }

/* ------------------------------------------------------------------ HF walk */

typedef struct {
    ctx_t c;
    clip_hf_fn fn;
    void *ctx;
} hf_walk_t;

static int hf_visit(const char *name, float *data, int nd, const int *shape, void *vw) {
    hf_walk_t *w = vw;
    char fn[512];
    int sh[4] = {0};
    for (int i = 0; i < nd; i++) sh[i] = shape[i];
    int kind = file_name(&w->c, name, fn, sizeof fn);
    if (kind == HF_TRANSPOSED) {
        int t = sh[0];
        sh[0] = sh[1], sh[1] = t;
    }
    if (kind != HF_QKV) return w->fn(fn, nd, sh, data, kind == HF_TRANSPOSED, w->ctx);
    char *letter = strstr(fn, ".q_proj.") + 1;
    sh[0] /= 3;
    size_t part = (size_t)sh[0] * (nd == 2 ? (size_t)sh[1] : 1);
    for (int k = 0; k < 3; k++) {
        *letter = "qkv"[k];
        int rc = w->fn(fn, nd, sh, data ? data + k * part : NULL, 0, w->ctx);
        if (rc) return rc;
    }
    return 0;
}

int clip_params_each_hf(clip_params_t *p, clip_hf_fn fn, void *ctx) {
    hf_walk_t w = {.c = {.hf = 1}, .fn = fn, .ctx = ctx};
    return clip_params_each(p, hf_visit, &w);
}

/* ------------------------------------------------------------------ inference */

static int ends_with(const char *s, const char *suf, size_t *plen) {
    size_t n = strlen(s), m = strlen(suf);
    if (n < m || strcmp(s + n - m, suf)) return 0;
    if (n > m && s[n - m - 1] != '.') return 0; /* suffix must start a name component */
    *plen = n - m;
    return 1;
}

/* Naming and prefix from the patch-embedding (ViT) or first stem convolution (ResNet) tensor. */
static int detect(ctx_t *c) {
    size_t pl;
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

/* The tensor OpenAI calls oname, under the file's naming, if it has nd dimensions. */
static const clip_shape_t *need(ctx_t *c, const char *oname, int nd) {
    char name[512];
    file_name(c, oname, name, sizeof name);
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

/* Highest index i in "<stem><i>." (stem in OpenAI naming) + 1. */
static int count_layers(ctx_t *c, const char *stem, int *layers) {
    char key[512];
    file_name(c, stem, key, sizeof key);
    size_t kl = strlen(key);
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

/* After detect(): infer the config, and check every tensor's presence and
 * shape (c->mode is M_CHECK). */
static int infer_text(ctx_t *c, clip_config_t *cfg, int64_t E);
static int check_all(ctx_t *c, const clip_config_t *cfg);

/* A ResNet CLIP (OpenAI / open_clip naming; hf is 0): the stem width from
 * layer1.0.conv1, the blocks per stage from the highest indices, the image
 * size from the attention pool's positional embedding, the output dim from
 * c_proj, heads = 32 width / 64 (as OpenAI's build_model) unless given. */
static int infer_resnet(ctx_t *c, const clip_load_opts_t *o, clip_config_t *cfg) {
    const clip_shape_t *l1 = need(c, "visual.layer1.0.conv1.weight", 4);
    if (!l1) return EXIT_MODEL;
    int64_t w = l1->shape[0];
    if (!dim_ok(w) || w % 2 || w > 65536)
        return err_set(c->e, EXIT_MODEL, "%s: '%s' has %" PRId64 " output channels: not a ResNet CLIP stem width",
                       c->file, l1->name, w);
    for (int s = 0; s < 4; s++) {
        char stem[64];
        snprintf(stem, sizeof stem, "visual.layer%d.", s + 1);
        TRY(count_layers(c, stem, &cfg->rn_layers[s]));
        if (cfg->rn_layers[s] < 1)
            return err_set(c->e, EXIT_MODEL, "%s: ResNet CLIP without blocks in stage %d ('%s%s0.*' is missing)",
                           c->file, s + 1, c->pre, stem);
    }
    const clip_shape_t *pos = need(c, "visual.attnpool.positional_embedding", 2);
    if (!pos) return EXIT_MODEL;
    int64_t g = 0, tv = pos->shape[0], D = 32 * w;
    while ((g + 1) * (g + 1) <= tv - 1 && g < (1 << 20)) g++;
    if (tv < 2 || !dim_ok(tv) || g * g != tv - 1 || pos->shape[1] != D || !dim_ok(g * 32))
        return err_set(c->e, EXIT_MODEL,
                       "%s: '%s' has shape [%" PRId64 ",%" PRId64 "]: expected (grid^2 + 1, %" PRId64 ")", c->file,
                       pos->name, pos->shape[0], pos->shape[1], D);
    const clip_shape_t *cp = need(c, "visual.attnpool.c_proj.weight", 2);
    if (!cp) return EXIT_MODEL;
    int64_t E = cp->shape[0];
    if (!dim_ok(E)) return err_set(c->e, EXIT_MODEL, "%s: implausible '%s'", c->file, cp->name);
    cfg->v_width = (int)w;
    cfg->patch = 32;
    cfg->image_size = (int)(g * 32);
    cfg->v_layers = 0;
    TRY(heads_for(c, o ? o->v_heads : 0, D, "vision", &cfg->v_heads));
    TRY(infer_text(c, cfg, E));
    TRY(heads_for(c, o ? o->t_heads : 0, cfg->t_width, "text", &cfg->t_heads));
    return check_all(c, cfg);
}

/* The text tower's shapes, for embedding dim E. */
static int infer_text(ctx_t *c, clip_config_t *cfg, int64_t E) {
    const clip_shape_t *tok = need(c, "token_embedding.weight", 2);
    if (!tok) return EXIT_MODEL;
    const clip_shape_t *tpos = need(c, "positional_embedding", 2);
    if (!tpos) return EXIT_MODEL;
    int64_t tw = tok->shape[1];
    if (!dim_ok(tw) || !dim_ok(tok->shape[0]) || !dim_ok(tpos->shape[0]) || !dim_ok(E))
        return err_set(c->e, EXIT_MODEL, "%s: implausible text tower or projection shapes", c->file);
    int tl;
    TRY(count_layers(c, "transformer.resblocks.", &tl));
    int64_t ratio = 4;
    if (tl) {
        const clip_shape_t *fc = need(c, "transformer.resblocks.0.mlp.c_fc.weight", 2);
        if (!fc) return EXIT_MODEL;
        if (fc->shape[0] % tw || fc->shape[0] / tw < 1 || fc->shape[0] / tw > 64)
            return err_set(c->e, EXIT_MODEL, "%s: '%s' has %" PRId64 " rows: not a whole multiple of width %" PRId64,
                           c->file, fc->name, fc->shape[0], tw);
        ratio = fc->shape[0] / tw;
    }
    cfg->t_width = (int)tw;
    cfg->t_layers = tl;
    cfg->vocab = (int)tok->shape[0];
    cfg->context = (int)tpos->shape[0];
    cfg->embed_dim = (int)E;
    cfg->mlp_ratio = (int)ratio;
    return 0;
}

/* Every tensor of cfg, over a block whose pointers are all NULL: names and shapes only. */
static int check_all(ctx_t *c, const clip_config_t *cfg) {
    clip_params_t dummy;
    memset(&dummy, 0, sizeof dummy);
    dummy.cfg = *cfg;
    dummy.v_blocks = xcalloc((size_t)(cfg->v_layers ? cfg->v_layers : 1), sizeof *dummy.v_blocks);
    dummy.t_blocks = xcalloc((size_t)(cfg->t_layers ? cfg->t_layers : 1), sizeof *dummy.t_blocks);
    if (CLIP_IS_RESNET(cfg)) {
        dummy.rn = xcalloc(1, sizeof *dummy.rn);
        clip_rn_bind(dummy.rn, cfg->v_width, cfg->rn_layers, cfg->image_size, cfg->embed_dim, NULL);
    }
    int rc = plan(c, &dummy);
    free(dummy.v_blocks);
    free(dummy.t_blocks);
    if (dummy.rn) free(dummy.rn->blocks);
    free(dummy.rn);
    return rc;
}

static int infer(ctx_t *c, const clip_load_opts_t *o, clip_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    if (!c->hf) {
        char name[512];
        file_name(c, "visual.layer1.0.conv1.weight", name, sizeof name);
        if (lookup(c, name)) return infer_resnet(c, o, cfg);
        file_name(c, "visual.attnpool.positional_embedding", name, sizeof name);
        if (lookup(c, name)) return infer_resnet(c, o, cfg);
    }
    const clip_shape_t *conv = need(c, "visual.conv1.weight", 4);
    if (!conv) return EXIT_MODEL;
    if (conv->shape[1] != 3 || conv->shape[2] != conv->shape[3] || !dim_ok(conv->shape[0]) ||
        !dim_ok(conv->shape[2]))
        return err_set(c->e, EXIT_MODEL, "%s: patch embedding '%s' is not (width, 3, P, P)", c->file,
                       conv->name);
    int64_t vw = conv->shape[0], P = conv->shape[2];
    const clip_shape_t *vpos = need(c, "visual.positional_embedding", 2);
    if (!vpos) return EXIT_MODEL;
    int64_t g = 0, tv = vpos->shape[0];
    while ((g + 1) * (g + 1) <= tv - 1 && g < (1 << 20)) g++;
    if (tv < 2 || !dim_ok(tv) || g * g != tv - 1 || vpos->shape[1] != vw || !dim_ok(g * P))
        return err_set(c->e, EXIT_MODEL,
                       "%s: '%s' has shape [%" PRId64 ",%" PRId64 "]: expected (grid^2 + 1, %" PRId64 ")",
                       c->file, vpos->name, vpos->shape[0], vpos->shape[1], vw);
    const clip_shape_t *vproj = need(c, "visual.proj", 2);
    if (!vproj) return EXIT_MODEL;
    TRY(infer_text(c, cfg, vproj->shape[c->hf ? 0 : 1]));
    int vl;
    TRY(count_layers(c, "visual.transformer.resblocks.", &vl));
    /* MLP ratio from the first vision block's hidden layer when there is one (infer_text took the text
     * tower's; 4 for every CLIP) */
    if (vl) {
        const clip_shape_t *fc = need(c, "visual.transformer.resblocks.0.mlp.c_fc.weight", 2);
        if (!fc) return EXIT_MODEL;
        if (fc->shape[0] % vw || fc->shape[0] / vw < 1 || fc->shape[0] / vw > 64)
            return err_set(c->e, EXIT_MODEL,
                           "%s: '%s' has %" PRId64 " rows: not a whole multiple of width %" PRId64, c->file,
                           fc->name, fc->shape[0], vw);
        cfg->mlp_ratio = (int)(fc->shape[0] / vw);
    }
    cfg->v_width = (int)vw;
    cfg->patch = (int)P;
    cfg->image_size = (int)(g * P);
    cfg->v_layers = vl;
    TRY(heads_for(c, o ? o->v_heads : 0, vw, "vision", &cfg->v_heads));
    TRY(heads_for(c, o ? o->t_heads : 0, cfg->t_width, "text", &cfg->t_heads));
    /* now every tensor, over a block whose pointers are all NULL: names and shapes only */
    return check_all(c, cfg);
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
    int rc = detect(&c);
    if (!rc) rc = infer(&c, o, cfg);
    free(s);
    return rc;
}

/* ------------------------------------------------------------------ loading */

/* A head count from the file's __metadata__: 0 when absent; a present value
 * that is not an integer in [1, 4095] is an error (never silently replaced
 * by the inferred count). */
static int meta_heads(const tensorfile_t *tf, const char *key, int *out, err_t *e) {
    const char *v = tf_meta(tf, key);
    *out = 0;
    if (!v) return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < 1 || x > 4095)
        return err_set(e, EXIT_MODEL, "%s: __metadata__ \"%s\" is \"%.40s\": not a head count (1..4095)",
                       tf_name(tf), key, v);
    *out = (int)x;
    return 0;
}

/* side: what a config.json beside the file said (NULL: none looked for);
 * side_err: why it could not be used (code 0: it could), reported only when
 * the file turns out to be Hugging Face-named, the naming it belongs to. */
static int load(tensorfile_t *tf, clip_params_t *p, const clip_load_opts_t *opts,
                const clip_load_opts_t *side, const err_t *side_err, err_t *e) {
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
    int mv, mt;
    if (meta_heads(tf, "v_heads", &mv, e) || meta_heads(tf, "t_heads", &mt, e)) {
        free(tab);
        return EXIT_MODEL;
    }
    if (!o.v_heads) o.v_heads = mv;
    if (!o.t_heads) o.t_heads = mt;
    clip_config_t cfg;
    int rc = detect(&c);
    if (!rc && c.hf && side_err && side_err->code) {
        *e = *side_err;
        rc = e->code;
    }
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
    return load(tf, p, opts, NULL, NULL, e);
}

/* One tower's num_attention_heads from config.json: 0 when absent, an error
 * when present but not an integer in [1, 4095]. */
static int sidecar_heads(const cJSON *j, const char *tower, const char *file, int *out, err_t *e) {
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(j, tower);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, "num_attention_heads");
    *out = 0;
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble || v->valuedouble < 1 ||
        v->valuedouble > 4095)
        return err_set(e, EXIT_MODEL, "%s: %s.num_attention_heads is not a head count (1..4095)", file, tower);
    *out = (int)v->valuedouble;
    return 0;
}

int clip_config_json_heads(const char *txt, size_t len, const char *name, clip_load_opts_t *side, err_t *e) {
    memset(side, 0, sizeof *side);
    cJSON *j = cJSON_ParseWithLength(txt, len);
    int rc = 0;
    if (!j || !cJSON_IsObject(j)) rc = err_set(e, EXIT_MODEL, "%s: not a JSON object (malformed?)", name);
    if (!rc) rc = sidecar_heads(j, "vision_config", name, &side->v_heads, e);
    if (!rc) rc = sidecar_heads(j, "text_config", name, &side->t_heads, e);
    cJSON_Delete(j);
    return rc;
}

/* num_attention_heads from a Hugging Face config.json beside path, if there
 * is one; a config.json that cannot be read or parsed is an error. */
static int hf_sidecar(const char *path, clip_load_opts_t *side, err_t *e) {
    memset(side, 0, sizeof *side);
    const char *sl = strrchr(path, '/');
    buf_t fn = {0};
    if (sl) buf_put(&fn, path, (size_t)(sl - path + 1));
    buf_puts(&fn, "config.json");
    FILE *f = fopen(fn.s, "rb");
    if (!f) {
        int rc = errno == ENOENT ? 0 : err_set(e, EXIT_MODEL, "%s: cannot open: %s", fn.s, strerror(errno));
        buf_free(&fn);
        return rc;
    }
    enum { MAX_CONFIG = 1 << 20 };
    char *txt = xmalloc(MAX_CONFIG + 1);
    size_t len = fread(txt, 1, MAX_CONFIG + 1, f);
    int bad = ferror(f);
    fclose(f);
    int rc;
    if (bad || len > MAX_CONFIG)
        rc = err_set(e, EXIT_MODEL, "%s: %s", fn.s, bad ? "read error" : "larger than 1 MB");
    else
        rc = clip_config_json_heads(txt, len, fn.s, side, e);
    free(txt);
    buf_free(&fn);
    return rc;
}

int clip_load_opts(const char *path, clip_params_t *p, const clip_load_opts_t *opts, err_t *e) {
    memset(p, 0, sizeof *p);
    tensorfile_t *tf = tf_open(path, e);
    if (!tf) return EXIT_MODEL;
    clip_load_opts_t side;
    err_t side_err = {0};
    hf_sidecar(path, &side, &side_err);
    int rc = load(tf, p, opts, &side, &side_err, e);
    tf_close(tf);
    return rc;
}

int clip_load(const char *path, clip_params_t *p, err_t *e) { return clip_load_opts(path, p, NULL, e); }

/* ------------------------------------------------------------------ saving */

/* clip_params_each callback: one tensor's header entry.  Tensors are laid
 * out in mem in the order clip_params_each visits them, so the data section
 * is mem itself and a tensor's offset is its place in it. */
typedef struct {
    buf_t *h;
    const float *mem;
} header_ctx_t;

static int header_entry(const char *name, float *data, int nd, const int *shape, void *vh) {
    header_ctx_t *hc = vh;
    tf_header_f32(hc->h, name, nd, shape, 4 * (uint64_t)(data - hc->mem));
    return 0;
}

int clip_save_safetensors(const char *path, const clip_params_t *p, err_t *e) {
    buf_t h = {0};
    buf_printf(&h,
               "{\"__metadata__\":{\"format\":\"pt\",\"producer\":\"invclip\",\"v_heads\":\"%d\","
               "\"t_heads\":\"%d\"}",
               p->cfg.v_heads, p->cfg.t_heads);
    clip_params_t q = *p; /* clip_params_each takes a non-const block; nothing is written through it */
    header_ctx_t hc = {&h, p->mem};
    clip_params_each(&q, header_entry, &hc);
    afile_t a;
    int rc = afile_open(&a, path, e);
    if (!rc) {
        tf_write_header(a.fp, &h);
        fwrite(p->mem, sizeof(float), p->n, a.fp);
        rc = afile_commit(&a, e);
    }
    buf_free(&h);
    return rc;
}
