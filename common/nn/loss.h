/* loss.h - classification losses that start a backward pass: softmax
 * cross-entropy over logits with integer labels, and CLIP's symmetric
 * contrastive loss (InfoNCE).  Each call computes the loss and, when asked,
 * its gradients in one pass.
 *
 * softmax_xent: logits (N,K), labels in [0,K) or negative (ignored, like
 * PyTorch's ignore_index); loss = mean over the non-ignored rows of
 * -sum_k t_k log softmax(logits)_k with t = (1-eps) onehot(label) + eps/K
 * (label smoothing eps; 0 = plain cross-entropy), as F.cross_entropy.
 *
 * infonce (Radford et al. 2021, CLIP, fig. 3): image and text embeddings
 * (N,E), L2-normalised by the caller; logits = exp(logit_scale) * img @
 * txt^T (N,N); loss = (CE(logits, arange N) + CE(logits^T, arange N)) / 2.
 * Clamping logit_scale (CLIP keeps exp(logit_scale) <= 100) is the
 * optimiser's business, not this kernel's.
 *
 * Gradients w.r.t. logits or embeddings are OVERWRITTEN (a loss is where
 * gradients start); the gradient w.r.t. logit_scale, a parameter, is ADDED.
 * They are gradients of the loss itself: a caller weighting the loss scales
 * them.  Allocates nothing (nn.h).
 */
#ifndef NN_LOSS_H
#define NN_LOSS_H
#include "nn.h"
#include <stddef.h>

/* *loss = mean cross-entropy; row_loss (N) gets each row's term (0 for an
 * ignored row), dlogits (N,K), when not NULL, d loss / d logits.  With every
 * row ignored the loss and the gradient are 0.  NN_EINVAL on a label >= K,
 * smoothing outside [0,1], or a size < 1.  dlogits may equal logits. */
int softmax_xent(const nn_par_t *par,
                 float *loss,          /* (1) */
                 float *row_loss,      /* (N) */
                 float *dlogits,       /* (N,K) or NULL */
                 const float *logits,  /* (N,K) */
                 const int *labels,    /* (N) */
                 int N, int K, float smoothing);

/* Scratch floats infonce needs. */
size_t infonce_ws_size(int N);

/* *loss = symmetric InfoNCE; dimg, dtxt (overwritten) and dlogit_scale
 * (added into) may each be NULL.  ws: nws >= infonce_ws_size(N) floats. */
int infonce(const nn_par_t *par,
            float *loss,          /* (1) */
            float *dimg,          /* (N,E) or NULL */
            float *dtxt,          /* (N,E) or NULL */
            float *dlogit_scale,  /* (1) or NULL */
            const float *img,     /* (N,E) */
            const float *txt,     /* (N,E) */
            float logit_scale, int N, int E, float *ws, size_t nws);

/* Element-wise losses over n values, mean reduction (pix2pix's GAN and
 * reconstruction terms):
 *   bce_logits: max(x,0) - x*t + log(1 + exp(-|x|))  (F.binary_cross_entropy_with_logits);
 *               target may be NULL: every target is target_value (a GAN's
 *               all-real / all-fake labels);
 *   l1:         |p - t|   (F.l1_loss; the gradient at p == t is 0, as torch's sign);
 *   mse:        (p - t)^2 (F.mse_loss).
 * *loss is the mean; dpred (n, OVERWRITTEN; may be NULL) gets gscale times
 * d loss / d pred, so a weighted term (e.g. 100 * L1) costs no extra pass.
 * The sum runs over 64 fixed blocks in double and the blocks are added in
 * order, so the loss does not depend on the thread count.  NN_EINVAL if n
 * is 0.  dpred may equal pred. */
int bce_logits_loss(const nn_par_t *par,
                    float *loss,         /* (1) */
                    float *dpred,        /* (n) or NULL */
                    const float *logits, /* (n) */
                    const float *target, /* (n) or NULL */
                    float target_value, size_t n, float gscale);
int l1_loss(const nn_par_t *par,
            float *loss,         /* (1) */
            float *dpred,        /* (n) or NULL */
            const float *pred,   /* (n) */
            const float *target, /* (n) */
            size_t n, float gscale);
int mse_loss(const nn_par_t *par,
             float *loss,         /* (1) */
             float *dpred,        /* (n) or NULL */
             const float *pred,   /* (n) */
             const float *target, /* (n) */
             size_t n, float gscale);

/* Reference versions: the same arguments and contracts, single-threaded
 * direct loops in double (par is ignored; infonce_ref ignores ws and nws,
 * ws may be NULL). */
int bce_logits_loss_ref(const nn_par_t *par, float *loss, float *dpred, const float *logits,
                        const float *target, float target_value, size_t n, float gscale);
int l1_loss_ref(const nn_par_t *par, float *loss, float *dpred, const float *pred, const float *target,
                size_t n, float gscale);
int mse_loss_ref(const nn_par_t *par, float *loss, float *dpred, const float *pred, const float *target,
                 size_t n, float gscale);
int softmax_xent_ref(const nn_par_t *par, float *loss, float *row_loss, float *dlogits, const float *logits,
                     const int *labels, int N, int K, float smoothing);
int infonce_ref(const nn_par_t *par, float *loss, float *dimg, float *dtxt, float *dlogit_scale,
                const float *img, const float *txt, float logit_scale, int N, int E, float *ws, size_t nws);
#endif
