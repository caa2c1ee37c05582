/* clip_params.h - CLIP's hyper-parameters and parameter tensors, as one flat block.
 *
 * The contract between the weight loader (clip_load.c: safetensors or PyTorch
 * zip checkpoints, Hugging Face or OpenAI/open_clip naming) and the model code
 * (clip.c: forward/backward).  Following llm.c, every parameter lives in one
 * contiguous float block `mem`, and the struct holds named pointers into it;
 * gradients use a second block with the same layout (clip_params_alloc).
 *
 * Internal layout is OpenAI's (x @ W^T for nn.Linear weights stored (out,in)):
 *   vision: conv1 (Wv,3,P,P) no bias; class_emb (Wv); pos_emb (Tv,Wv) with
 *           Tv = (S/P)^2 + 1; ln_pre; Lv residual blocks; ln_post; proj (Wv,E)
 *   text:   tok_emb (V,Wt); pos_emb (Ctx,Wt); Lt blocks; ln_final; proj (Wt,E)
 *   block:  ln1 (w,b); attn_in (3w,w) + bias (3w) [q;k;v stacked];
 *           attn_out (w,w) + bias; ln2; fc (4w,w) + bias; proj (w,4w) + bias
 *   logit_scale: scalar (log of the temperature's inverse, exp ~ 100)
 * Hugging Face stores visual_projection.weight / text_projection.weight as
 * (E,W): the loader transposes them into proj (W,E).  OpenAI's visual.proj
 * and text_projection are already (W,E).
 */
#ifndef CLIP_PARAMS_H
#define CLIP_PARAMS_H
#include <stddef.h>
#include "clip_resnet.h"

typedef struct {
    /* vision */
    int v_width, v_layers, v_heads, patch, image_size;
    /* text */
    int t_width, t_layers, t_heads, context, vocab;
    int embed_dim;
    int mlp_ratio;      /* 4 for every CLIP */
    /* ResNet image tower (clip_resnet.h; RN50: 3,4,6,3; RN101: 3,4,23,3),
     * all 0 for a ViT.  A ResNet CLIP has v_width = the stem width (64 for
     * RN50/RN101; the attention pool is 32 v_width wide), v_heads = the
     * attention pool's heads, patch = 32 (the tower's total downsampling, so
     * image_size / patch is the pooled grid), v_layers = 0. */
    int rn_layers[4];
} clip_config_t;

/* 1 when cfg describes a ResNet CLIP */
#define CLIP_IS_RESNET(cfg) ((cfg)->rn_layers[0] > 0)

typedef struct {
    float *ln1_w, *ln1_b;       /* (w) */
    float *attn_in_w;           /* (3w, w) */
    float *attn_in_b;           /* (3w) */
    float *attn_out_w;          /* (w, w) */
    float *attn_out_b;          /* (w) */
    float *ln2_w, *ln2_b;       /* (w) */
    float *fc_w, *fc_b;         /* (4w, w), (4w) */
    float *proj_w, *proj_b;     /* (w, 4w), (w) */
} clip_block_t;

typedef struct {
    clip_config_t cfg;
    float *mem;                 /* all parameters, contiguous */
    int owns_mem;               /* set by clip_params_alloc */
    size_t n;                   /* floats in mem */
    /* vision tower */
    float *v_conv;              /* (Wv, 3, P, P) */
    float *v_class;             /* (Wv) */
    float *v_pos;               /* (Tv, Wv) */
    float *v_ln_pre_w, *v_ln_pre_b;
    clip_block_t *v_blocks;     /* (Lv) */
    float *v_ln_post_w, *v_ln_post_b;
    float *v_proj;              /* (Wv, E) */
    /* text tower */
    float *t_tok;               /* (V, Wt) */
    float *t_pos;               /* (Ctx, Wt) */
    clip_block_t *t_blocks;     /* (Lt) */
    float *t_ln_w, *t_ln_b;
    float *t_proj;              /* (Wt, E) */
    float *logit_scale;         /* (1) */
    clip_rn_params_t *rn;       /* the ResNet image tower (CLIP_IS_RESNET), else NULL; the ViT
                                   vision pointers are then unused (NULL) */
} clip_params_t;

/* Number of floats the layout needs for cfg. */
size_t clip_params_count(const clip_config_t *cfg);
/* Allocate mem (zeroed) for cfg and set every pointer.  Returns 0 or -1 (bad config). */
int clip_params_alloc(clip_params_t *p, const clip_config_t *cfg);
/* Set the pointers over an existing block of clip_params_count floats (e.g. a
 * gradient block).  p must be zero-initialised (or previously bound). */
void clip_params_bind(clip_params_t *p, const clip_config_t *cfg, float *mem);
void clip_params_free(clip_params_t *p);

/* Visit every parameter tensor in layout order with its OpenAI/open_clip name
 * and shape (ndim <= 4; scalar: ndim 0).  Stops and returns fn's value when
 * it is non-zero. */
typedef int (*clip_param_fn)(const char *name, float *data, int ndim, const int *shape, void *ctx);
int clip_params_each(clip_params_t *p, clip_param_fn fn, void *ctx);

/* Deterministic weights that are a closed-form function of (name, index):
 * the same formula as tests/gen_clip_ref.py closed_form(), so a full-size
 * model can be checked against PyTorch without shipping its weights, and
 * benchmarked without a weight file. */
void clip_params_closed_form(clip_params_t *p);
#endif
