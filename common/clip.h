/* clip.h - CLIP's image and text towers, forward and backward, on OpenBLAS.
 *
 * llm.c-style model code: every layer is a *_forward / *_backward pair over
 * flat buffers; parameters (clip_params.h) and their gradients are two flat
 * blocks with the same layout; activations for the largest batch seen are
 * allocated once and reused (no allocation per call once warmed up).
 *
 * Image tower: a ViT (below) or, when cfg.rn_layers is set, CLIP's ResNet
 * (clip_resnet.h: RN50, RN101 ...; same API, 5 feature blocks).  ViT: patch conv (as im2col + GEMM), class token, positional
 * embedding, ln_pre, pre-LN residual attention blocks with QuickGELU, ln_post
 * on the class token, projection.  Text tower: token + positional embedding,
 * causal blocks, ln_final, pooling at the end-of-text token (argmax of the
 * ids, as OpenAI's CLIP), projection.  Embeddings are returned unnormalised
 * (callers normalise; clip_normalize_* below do it with its backward).
 *
 * Backward w.r.t. the input image and, on request, every parameter (backward
 * ADDS into the gradient block; clip_zero_grad zeroes it).  Each block's
 * output (the residual stream after block l, (B,T,C)) is available for
 * perceptual/style losses, and gradients w.r.t. those outputs can be injected
 * into the backward pass.
 *
 * Threads: the caller's parallelism (an nn_par_t, normally pool_par of the
 * tool's one pool, pool.h; borrowed) splits
 * every kernel (matrix products by output columns into single-threaded
 * cblas_sgemm calls, attention by (batch, head), norms and activations by
 * rows); pool_init set OpenBLAS to one thread, so the two levels of threading
 * never compete for cores.  A clip_t starts no thread.  One clip_t serves one
 * thread at a time (it keeps its last forward's activations).
 */
#ifndef CLIP_H
#define CLIP_H
#include "clip_params.h"
#include "pool.h"
#include "util.h"

typedef struct clip_tower clip_tower_t; /* activations of one tower (private) */
typedef struct clip_bf16 clip_bf16_t;   /* the image tower's weights in bfloat16 (private) */

typedef struct {
    clip_params_t w;     /* weights (owned) */
    clip_params_t g;     /* gradients; g.mem == NULL until clip_alloc_grad */
    clip_tower_t *vis, *txt;
    clip_rn_t *rn;       /* the ResNet image tower's activations (CLIP_IS_RESNET), else NULL */
    nn_par_t par;        /* the caller's threads (par.impl borrowed); run == NULL: serial;
                            may be replaced between calls */
    int pooled_top;      /* 0 (clip_init's default): image forwards are dense.  1: a ViT's
                            top block runs its output projection, MLP and residuals on the
                            class token alone (about 1/L of the forward saved; the embedding,
                            its gradient and every attention map are unchanged), so the top
                            block's output holds only that token: clip_image_block(L-1)
                            returns NULL and a dfeat for it is refused.  Read at each
                            clip_image_forward. */
    int bf16;            /* 0 (default): float throughout.  1: a ViT image tower's weight
                            products (patch conv, qkv, out-proj, MLP) in bfloat16 with float
                            sums (nn/gemm_bf16.h), for frozen weights: the weights are
                            rounded and packed at the first such forward and kept (clip_bf16_reset
                            drops them after the weights change); image backwards then compute
                            input and feature gradients only (param_grads refused).  Needs
                            AVX512_BF16 (clip_image_forward fails with EXIT_USAGE otherwise) and a
                            ViT.  Everything else (norms, attention, activations, the text tower)
                            stays float.  Read at each clip_image_forward. */
    int f32pack;         /* 0 (default): float products through OpenBLAS.  1 (and bf16 0): a ViT
                            image tower's weight products in float32 through weights packed once
                            for the project's own AVX2+FMA kernel (nn/gemm_f32.h), for frozen
                            weights: no per-call packing, the epilogues fused, and each output
                            element summed in one order whatever the batch and thread count.
                            Image backwards then compute input and feature gradients only
                            (param_grads refused), as with bf16.  Needs AVX2 and FMA
                            (clip_image_forward fails with EXIT_USAGE otherwise) and a ViT.
                            Read at each clip_image_forward. */
    clip_bf16_t *bfw;    /* the packed weights, bf16 or f32pack (private; NULL until such a forward) */
} clip_t;

/* Takes ownership of the weights in *w (w is zeroed).  par (copied; NULL =
 * serial) is the caller's parallelism, e.g. pool_par(&pool); what it points
 * to must outlive m. */
void clip_init(clip_t *m, clip_params_t *w, const nn_par_t *par);
void clip_free(clip_t *m);
void clip_alloc_grad(clip_t *m);
/* The packed copy of the image tower's weights that clip_t.bf16 (bfloat16)
 * or .f32pack (float32 panels) asks for: made now (on m->par) rather than
 * at the first forward (a copy of the other kind is dropped); 0 (also when
 * neither flag is set), or EXIT_USAGE when this CPU lacks AVX512_BF16
 * (bf16) or AVX2 and FMA (f32pack), or the tower is a ResNet. */
int clip_bf16_prepare(clip_t *m, err_t *e);
/* dst uses src's packed weights (the same weights, e.g. optimize's
 * per-job models over one weight block; dst's bf16 / f32pack must match
 * src's); freed with the last holder. */
void clip_bf16_share(clip_t *dst, const clip_t *src);
/* Forget the packed copy (after changing m->w). */
void clip_bf16_reset(clip_t *m);
/* 1 when f32pack is the faster float32 choice on this CPU: AVX2 and FMA
 * without AVX-512 (where OpenBLAS's own 16-wide kernels win). */
int clip_f32pack_auto(void);
void clip_zero_grad(clip_t *m);

/* img (B,3,S,S), already CLIP-normalised; emb (B,E). */
int clip_image_forward(clip_t *m, const float *img, int B, float *emb, err_t *e);
/* After clip_image_forward: demb (B,E) (may be NULL), dfeat NULL or an array
 * of v_layers pointers each NULL or (B,T,C) gradient w.r.t. block l's output;
 * dimg (B,3,S,S) is ADDED into (may be NULL); param_grads also accumulates
 * into m->g (which must be allocated). */
int clip_image_backward(clip_t *m, const float *demb, float *const *dfeat, float *dimg, int param_grads, err_t *e);
/* Output of vision block l of the last forward: (B,T,C); T = tokens (NULL
 * for the top block after a pooled_top forward).  For a
 * ResNet (clip_resnet.h) block l is feature map l (0 the stem, 1..4
 * layer1..layer4), laid out (B,C,H,W): *T = H*W and *C = the channels. */
const float *clip_image_block(const clip_t *m, int l, int *B, int *T, int *C);
/* Feature blocks of the image tower: v_layers for a ViT, 5 for a ResNet
 * (dfeat of clip_image_backward then has that many pointers). */
int clip_image_nblocks(const clip_t *m);
/* Block l's per-image output shape: ViT C = width, H = tokens, W = 1 (laid
 * out (T,C)); ResNet (C,H,W).  0, or -1 for l out of range. */
int clip_image_block_shape(const clip_t *m, int l, int *C, int *H, int *W);
/* Attention probabilities of vision block l in the last image forward:
 * (B,NH,T,T), softmax over the last axis (row i = how token i attends;
 * token 0 is the class token).  Every row of every block is valid, the top
 * block's too: the attention is dense even in a pooled_top forward.  Valid until the next clip_image_forward (a backward reads them
 * and leaves them as they are; B reports the tower's batch as
 * clip_image_block does: 0 after a backward that wrote an input gradient).
 * NULL before any image forward or for l out of [0, v_layers).  Any of B,
 * NH, T may be NULL. */
const float *clip_image_attention(const clip_t *m, int l, int *B, int *NH, int *T);

/* ids (B,context) token ids (SOT ... EOT 0...); emb (B,E). */
int clip_text_forward(clip_t *m, const int *ids, int B, float *emb, err_t *e);
int clip_text_backward(clip_t *m, const float *demb, int param_grads, err_t *e);

/* y = x / |x| per row (B,E); backward: dx += (dy - y (y.dy)) / |x|. */
void clip_normalize_forward(float *y, float *norm, const float *x, int B, int E);
void clip_normalize_backward(float *dx, const float *dy, const float *y, const float *norm, int B, int E);

/* The image normalisation CLIP was trained with (per channel, [0,1] input). */
extern const float clip_mean[3], clip_std[3];
#endif
