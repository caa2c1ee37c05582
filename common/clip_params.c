/* clip_params.c - see clip_params.h. */
#include "clip_params.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

static size_t block_count(int w, int r) {
    return (size_t)w * 2 + (size_t)3 * w * w + 3 * (size_t)w + (size_t)w * w + w + (size_t)w * 2 +
           (size_t)r * w * w + (size_t)r * w + (size_t)w * r * w + w;
}

size_t clip_params_count(const clip_config_t *c) {
    size_t tv = (size_t)(c->image_size / c->patch) * (c->image_size / c->patch) + 1;
    size_t n = 0;
    if (CLIP_IS_RESNET(c)) {
        n += clip_rn_count(c->v_width, c->rn_layers, c->image_size, c->embed_dim);
    } else {
        n += (size_t)c->v_width * 3 * c->patch * c->patch + c->v_width + tv * c->v_width + 2 * (size_t)c->v_width;
        n += (size_t)c->v_layers * block_count(c->v_width, c->mlp_ratio);
        n += 2 * (size_t)c->v_width + (size_t)c->v_width * c->embed_dim;
    }
    n += (size_t)c->vocab * c->t_width + (size_t)c->context * c->t_width;
    n += (size_t)c->t_layers * block_count(c->t_width, c->mlp_ratio);
    n += 2 * (size_t)c->t_width + (size_t)c->t_width * c->embed_dim + 1;
    return n;
}

static float *take(float **cur, size_t n) {
    float *p = *cur;
    *cur += n;
    return p;
}

static void bind_block(clip_block_t *b, float **cur, int w, int r) {
    b->ln1_w = take(cur, w);
    b->ln1_b = take(cur, w);
    b->attn_in_w = take(cur, (size_t)3 * w * w);
    b->attn_in_b = take(cur, (size_t)3 * w);
    b->attn_out_w = take(cur, (size_t)w * w);
    b->attn_out_b = take(cur, w);
    b->ln2_w = take(cur, w);
    b->ln2_b = take(cur, w);
    b->fc_w = take(cur, (size_t)r * w * w);
    b->fc_b = take(cur, (size_t)r * w);
    b->proj_w = take(cur, (size_t)w * r * w);
    b->proj_b = take(cur, w);
}

void clip_params_bind(clip_params_t *p, const clip_config_t *c, float *mem) {
    clip_block_t *vb = p->v_blocks, *tb = p->t_blocks;
    clip_rn_params_t *rn = p->rn;
    memset(p, 0, sizeof *p);
    p->cfg = *c;
    p->mem = mem;
    p->n = clip_params_count(c);
    p->v_blocks = vb ? vb : xcalloc((size_t)(c->v_layers ? c->v_layers : 1), sizeof *vb);
    p->t_blocks = tb ? tb : xcalloc((size_t)(c->t_layers ? c->t_layers : 1), sizeof *tb);
    size_t tv = (size_t)(c->image_size / c->patch) * (c->image_size / c->patch) + 1;
    float *cur = mem;
    if (CLIP_IS_RESNET(c)) {
        p->rn = rn ? rn : xcalloc(1, sizeof *p->rn);
        clip_rn_bind(p->rn, c->v_width, c->rn_layers, c->image_size, c->embed_dim, &cur);
    } else {
        p->v_conv = take(&cur, (size_t)c->v_width * 3 * c->patch * c->patch);
        p->v_class = take(&cur, c->v_width);
        p->v_pos = take(&cur, tv * c->v_width);
        p->v_ln_pre_w = take(&cur, c->v_width);
        p->v_ln_pre_b = take(&cur, c->v_width);
        for (int l = 0; l < c->v_layers; l++) bind_block(&p->v_blocks[l], &cur, c->v_width, c->mlp_ratio);
        p->v_ln_post_w = take(&cur, c->v_width);
        p->v_ln_post_b = take(&cur, c->v_width);
        p->v_proj = take(&cur, (size_t)c->v_width * c->embed_dim);
    }
    p->t_tok = take(&cur, (size_t)c->vocab * c->t_width);
    p->t_pos = take(&cur, (size_t)c->context * c->t_width);
    for (int l = 0; l < c->t_layers; l++) bind_block(&p->t_blocks[l], &cur, c->t_width, c->mlp_ratio);
    p->t_ln_w = take(&cur, c->t_width);
    p->t_ln_b = take(&cur, c->t_width);
    p->t_proj = take(&cur, (size_t)c->t_width * c->embed_dim);
    p->logit_scale = take(&cur, 1);
}

int clip_params_alloc(clip_params_t *p, const clip_config_t *c) {
    if (CLIP_IS_RESNET(c)) {
        if (c->v_width < 2 || c->v_width % 2 || c->v_width > (1 << 16) || c->patch != 32 || c->image_size < 32 ||
            c->image_size % 32 || c->v_layers || c->v_heads <= 0 || (32 * c->v_width) % c->v_heads)
            return -1;
        for (int s = 0; s < 4; s++)
            if (c->rn_layers[s] < 1 || c->rn_layers[s] > 1000) return -1;
    }
    if (c->v_width <= 0 || c->v_layers < 0 || c->patch <= 0 || c->image_size < c->patch || c->t_width <= 0 ||
        c->t_layers < 0 || c->context <= 0 || c->vocab <= 0 || c->embed_dim <= 0 || c->mlp_ratio <= 0 ||
        c->v_heads <= 0 || c->t_heads <= 0 || (!CLIP_IS_RESNET(c) && c->v_width % c->v_heads) ||
        c->t_width % c->t_heads)
        return -1;
    memset(p, 0, sizeof *p);
    size_t n = clip_params_count(c);
    float *mem = xcalloc(n, sizeof(float));
    mem_prefault(mem, n * sizeof(float)); /* about to be filled from the weight file */
    clip_params_bind(p, c, mem);
    p->owns_mem = 1;
    return 0;
}

void clip_params_free(clip_params_t *p) {
    if (p->owns_mem) free(p->mem);
    free(p->v_blocks);
    free(p->t_blocks);
    if (p->rn) free(p->rn->blocks);
    free(p->rn);
    memset(p, 0, sizeof *p);
}

static int each_block(const clip_block_t *b, const char *prefix, int w, int r, clip_param_fn fn, void *ctx) {
    char n[160];
    int rc;
#define V(field, suffix, nd, ...)                                             \
    do {                                                                      \
        int sh[4] = {__VA_ARGS__};                                            \
        snprintf(n, sizeof n, "%s%s", prefix, suffix);                        \
        if ((rc = fn(n, b->field, nd, sh, ctx))) return rc;                   \
    } while (0)
    V(ln1_w, "ln_1.weight", 1, w);
    V(ln1_b, "ln_1.bias", 1, w);
    V(attn_in_w, "attn.in_proj_weight", 2, 3 * w, w);
    V(attn_in_b, "attn.in_proj_bias", 1, 3 * w);
    V(attn_out_w, "attn.out_proj.weight", 2, w, w);
    V(attn_out_b, "attn.out_proj.bias", 1, w);
    V(ln2_w, "ln_2.weight", 1, w);
    V(ln2_b, "ln_2.bias", 1, w);
    V(fc_w, "mlp.c_fc.weight", 2, r * w, w);
    V(fc_b, "mlp.c_fc.bias", 1, r * w);
    V(proj_w, "mlp.c_proj.weight", 2, w, r * w);
    V(proj_b, "mlp.c_proj.bias", 1, w);
#undef V
    return 0;
}

int clip_params_each(clip_params_t *p, clip_param_fn fn, void *ctx) {
    const clip_config_t *c = &p->cfg;
    int G = c->image_size / c->patch, rc;
    char pre[96];
#define T(ptr, name, nd, ...)                                                 \
    do {                                                                      \
        int sh[4] = {__VA_ARGS__};                                            \
        if ((rc = fn(name, ptr, nd, sh, ctx))) return rc;                     \
    } while (0)
    if (CLIP_IS_RESNET(c)) {
        if ((rc = clip_rn_each(p->rn, c->v_width, c->rn_layers, c->image_size, c->embed_dim, fn, ctx))) return rc;
        goto text;
    }
    T(p->v_conv, "visual.conv1.weight", 4, c->v_width, 3, c->patch, c->patch);
    T(p->v_class, "visual.class_embedding", 1, c->v_width);
    T(p->v_pos, "visual.positional_embedding", 2, G * G + 1, c->v_width);
    T(p->v_ln_pre_w, "visual.ln_pre.weight", 1, c->v_width);
    T(p->v_ln_pre_b, "visual.ln_pre.bias", 1, c->v_width);
    for (int l = 0; l < c->v_layers; l++) {
        snprintf(pre, sizeof pre, "visual.transformer.resblocks.%d.", l);
        if ((rc = each_block(&p->v_blocks[l], pre, c->v_width, c->mlp_ratio, fn, ctx))) return rc;
    }
    T(p->v_ln_post_w, "visual.ln_post.weight", 1, c->v_width);
    T(p->v_ln_post_b, "visual.ln_post.bias", 1, c->v_width);
    T(p->v_proj, "visual.proj", 2, c->v_width, c->embed_dim);
text:
    T(p->t_tok, "token_embedding.weight", 2, c->vocab, c->t_width);
    T(p->t_pos, "positional_embedding", 2, c->context, c->t_width);
    for (int l = 0; l < c->t_layers; l++) {
        snprintf(pre, sizeof pre, "transformer.resblocks.%d.", l);
        if ((rc = each_block(&p->t_blocks[l], pre, c->t_width, c->mlp_ratio, fn, ctx))) return rc;
    }
    T(p->t_ln_w, "ln_final.weight", 1, c->t_width);
    T(p->t_ln_b, "ln_final.bias", 1, c->t_width);
    T(p->t_proj, "text_projection", 2, c->t_width, c->embed_dim);
    T(p->logit_scale, "logit_scale", 0, 0);
#undef T
    return 0;
}

static uint32_t fnv1a32(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int closed_form_one(const char *name, float *data, int ndim, const int *shape, void *ctx) {
    (void)ctx;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    uint32_t h = fnv1a32(name);
    size_t len = strlen(name);
    int ends_weight = len >= 7 && !strcmp(name + len - 7, ".weight");
    int ends_bias = len >= 4 && !strcmp(name + len - 4, "bias");
    int is_ln = (strstr(name, "ln_") != NULL || strstr(name, "bn") || strstr(name, "downsample.1.")) && ends_weight;
    int is_var = strstr(name, "running_var") != NULL;
    int is_emb = strstr(name, "embedding") != NULL && !strstr(name, "token");
    int is_proj = !strcmp(name, "visual.proj") || !strcmp(name, "text_projection");
    size_t fan_in = 1;
    for (int i = 1; i < ndim; i++) fan_in *= (size_t)shape[i];
    for (size_t i = 0; i < n; i++) {
        uint32_t x = (uint32_t)i * 2654435761u + h;
        x ^= x >> 15;
        x *= 2246822519u;
        x ^= x >> 13;
        x *= 3266489917u;
        x ^= x >> 16;
        double u = (double)x / 4294967296.0 * 2.0 - 1.0, v;
        if (!strcmp(name, "logit_scale")) v = log(100.0);
        else if (is_ln || is_var) v = 1.0 + 0.1 * u;
        else if (ends_bias || is_emb) v = 0.02 * u;
        else if (is_proj) v = u / sqrt((double)shape[0]);
        else if (ndim >= 2) v = u / sqrt((double)fan_in);
        else v = 0.02 * u;
        data[i] = (float)v;
    }
    return 0;
}

void clip_params_closed_form(clip_params_t *p) { clip_params_each(p, closed_form_one, NULL); }
