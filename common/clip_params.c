/* clip_params.c - see clip_params.h. */
#include "clip_params.h"
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
    n += (size_t)c->v_width * 3 * c->patch * c->patch + c->v_width + tv * c->v_width + 2 * (size_t)c->v_width;
    n += (size_t)c->v_layers * block_count(c->v_width, c->mlp_ratio);
    n += 2 * (size_t)c->v_width + (size_t)c->v_width * c->embed_dim;
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
    memset(p, 0, sizeof *p);
    p->cfg = *c;
    p->mem = mem;
    p->n = clip_params_count(c);
    p->v_blocks = vb ? vb : xcalloc((size_t)(c->v_layers ? c->v_layers : 1), sizeof *vb);
    p->t_blocks = tb ? tb : xcalloc((size_t)(c->t_layers ? c->t_layers : 1), sizeof *tb);
    size_t tv = (size_t)(c->image_size / c->patch) * (c->image_size / c->patch) + 1;
    float *cur = mem;
    p->v_conv = take(&cur, (size_t)c->v_width * 3 * c->patch * c->patch);
    p->v_class = take(&cur, c->v_width);
    p->v_pos = take(&cur, tv * c->v_width);
    p->v_ln_pre_w = take(&cur, c->v_width);
    p->v_ln_pre_b = take(&cur, c->v_width);
    for (int l = 0; l < c->v_layers; l++) bind_block(&p->v_blocks[l], &cur, c->v_width, c->mlp_ratio);
    p->v_ln_post_w = take(&cur, c->v_width);
    p->v_ln_post_b = take(&cur, c->v_width);
    p->v_proj = take(&cur, (size_t)c->v_width * c->embed_dim);
    p->t_tok = take(&cur, (size_t)c->vocab * c->t_width);
    p->t_pos = take(&cur, (size_t)c->context * c->t_width);
    for (int l = 0; l < c->t_layers; l++) bind_block(&p->t_blocks[l], &cur, c->t_width, c->mlp_ratio);
    p->t_ln_w = take(&cur, c->t_width);
    p->t_ln_b = take(&cur, c->t_width);
    p->t_proj = take(&cur, (size_t)c->t_width * c->embed_dim);
    p->logit_scale = take(&cur, 1);
}

int clip_params_alloc(clip_params_t *p, const clip_config_t *c) {
    if (c->v_width <= 0 || c->v_layers < 0 || c->patch <= 0 || c->image_size < c->patch || c->t_width <= 0 ||
        c->t_layers < 0 || c->context <= 0 || c->vocab <= 0 || c->embed_dim <= 0 || c->mlp_ratio <= 0 ||
        c->v_heads <= 0 || c->t_heads <= 0 || c->v_width % c->v_heads || c->t_width % c->t_heads)
        return -1;
    memset(p, 0, sizeof *p);
    size_t n = clip_params_count(c);
    float *mem = xcalloc(n, sizeof(float));
    clip_params_bind(p, c, mem);
    p->owns_mem = 1;
    return 0;
}

void clip_params_free(clip_params_t *p) {
    if (p->owns_mem) free(p->mem);
    free(p->v_blocks);
    free(p->t_blocks);
    memset(p, 0, sizeof *p);
}
