/* clip_resnet.h - CLIP's ResNet image tower (OpenAI's "ModifiedResNet": RN50,
 * RN101, RN50x4 ...), forward and backward, on the kernels of common/nn/.
 *
 * The architecture (Radford et al. 2021, section 2.4 and OpenAI's model card),
 * for stem width w (64 for RN50/RN101), stage depths layers[4] (3,4,6,3 for
 * RN50; 3,4,23,3 for RN101), attention-pool width D = 32 w and output dim E:
 *   stem     three 3x3 convolutions 3 -> w/2 (stride 2) -> w/2 -> w, each
 *            followed by batch norm and ReLU, then 2x2 average pooling;
 *   stages   s = 0..3 of layers[s] bottlenecks with planes p = w * 2^s and
 *            output 4p; the first block of stages 1..3 has stride 2.  A
 *            bottleneck: 1x1 conv -> BN -> ReLU -> 3x3 conv (pad 1) -> BN ->
 *            ReLU -> AvgPool2d(stride) (anti-aliased: pooling, not a strided
 *            convolution) -> 1x1 conv -> BN; plus the identity, or on the
 *            first block of each stage the downsample branch AvgPool2d(stride)
 *            -> 1x1 conv -> BN; then ReLU;
 *   head     attention pooling: the (D,g,g) map (g = S/32) flattened to g^2
 *            tokens, their mean prepended, plus a learned positional
 *            embedding (g^2+1, D); one multi-head attention (D/64 heads for
 *            OpenAI's models) in which only the mean token queries, with
 *            separate q, k, v projections (D,D) and the output projection c
 *            (E,D) -> the embedding (E).
 * Convolutions have no bias; batch norm is frozen (eval mode: running mean
 * and variance, eps 1e-5), as in the released models.
 *
 * Features: block 0 is the stem's output (after the average pooling), blocks
 * 1..4 the outputs of layer1..layer4 (CLIPasso's CLIPConvLoss uses exactly
 * these five), each (B,C,H,W).  Gradients can be injected at each of them.
 *
 * Parameters live in the CLIP flat block (clip_params.h) like the ViT's; the
 * running statistics are stored there too (their gradients stay zero).
 * Activations for the largest batch seen are allocated once and reused; the
 * kernels run on the caller's nn_par_t; nothing here starts a thread.
 */
#ifndef CLIP_RESNET_H
#define CLIP_RESNET_H
#include <stddef.h>
#include "nn/nn.h"
#include "util.h"

#define CLIP_RN_FEATS 5 /* stem, layer1..layer4 */

typedef struct {
    float *w, *b, *mean, *var; /* (C) each: weight, bias, running mean, running variance */
} clip_bn_t;

typedef struct {
    float *conv1; clip_bn_t bn1; /* (p,in,1,1) */
    float *conv2; clip_bn_t bn2; /* (p,p,3,3) */
    float *conv3; clip_bn_t bn3; /* (4p,p,1,1) */
    float *down; clip_bn_t dbn;  /* (4p,in,1,1); NULL: identity shortcut */
} clip_rn_block_t;

typedef struct {
    float *conv1; clip_bn_t bn1; /* (w/2,3,3,3) */
    float *conv2; clip_bn_t bn2; /* (w/2,w/2,3,3) */
    float *conv3; clip_bn_t bn3; /* (w,w/2,3,3) */
    clip_rn_block_t *blocks;     /* sum of layers[] */
    int nblocks;
    float *pos;                  /* (g^2+1, D) */
    float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b; /* (D,D), (D) */
    float *c_w, *c_b;            /* (E,D), (E) */
} clip_rn_params_t;

/* The geometry of block i (0-based over all stages). */
typedef struct {
    int stage, index, inplanes, planes, stride, down;
} clip_rn_geom_t;
void clip_rn_geom(const int layers[4], int width, int i, clip_rn_geom_t *g);

/* Floats of the tower's parameters for stem width w, layers, image size S
 * (a multiple of 32) and output dim E. */
size_t clip_rn_count(int w, const int layers[4], int S, int E);
/* Bind r's pointers over cur (advanced past the tower's floats); cur NULL:
 * only r->blocks is allocated (names and shapes, no memory).  r->blocks is
 * allocated here when NULL (free it with free()). */
void clip_rn_bind(clip_rn_params_t *r, int w, const int layers[4], int S, int E, float **cur);
/* Visit every tensor of the tower with its OpenAI / open_clip name
 * ("visual.conv1.weight", "visual.layer2.0.downsample.1.running_var",
 * "visual.attnpool.c_proj.bias" ...) and shape, in layout order. */
typedef int (*clip_rn_fn)(const char *name, float *data, int ndim, const int *shape, void *ctx);
int clip_rn_each(clip_rn_params_t *r, int w, const int layers[4], int S, int E, clip_rn_fn fn, void *ctx);

/* ---- the tower ---- */
typedef struct clip_rn clip_rn_t; /* activations (private) */

typedef struct {
    int width, layers[4], S, E, heads;
} clip_rn_cfg_t;

/* Forward of B images (B,3,S,S), CLIP-normalised, into emb (B,E).  *t is
 * (re)allocated for the batch (grows only). */
int clip_rn_forward(clip_rn_t **t, const nn_par_t *par, const clip_rn_cfg_t *c, const clip_rn_params_t *w,
                    const float *img, int B, float *emb, err_t *e);
/* After a forward: demb (B,E) or NULL; dfeat NULL or CLIP_RN_FEATS pointers,
 * each NULL or (B,C,H,W) = dL/d feature l; dimg (B,3,S,S) ADDED into (may be
 * NULL); g (the gradient block's tower, may be NULL) ADDED into. */
int clip_rn_backward(clip_rn_t *t, const nn_par_t *par, const clip_rn_cfg_t *c, const clip_rn_params_t *w,
                     clip_rn_params_t *g, const float *demb, float *const *dfeat, float *dimg, err_t *e);
/* Feature l (0 stem, 1..4 layer1..layer4) of the last forward: (B,C,H,W)
 * (clip_rn_feature_shape); B may be NULL. */
const float *clip_rn_feature(const clip_rn_t *t, int l, int *B);
/* The shape of feature l for cfg (without a forward). */
void clip_rn_feature_shape(const clip_rn_cfg_t *c, int l, int *C, int *H, int *W);
void clip_rn_free(clip_rn_t *t);
#endif
