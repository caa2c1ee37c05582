/* layernorm.h - layer normalisation over the last dimension, forward and
 * backward (Ba, Kiros, Hinton 2016; PyTorch's F.layer_norm with an affine
 * weight and bias):
 *   out[i,c] = (inp[i,c] - mean_i) * rstd_i * w[c] + b[c],
 *   mean_i = sum_c inp[i,c] / C,  rstd_i = 1 / sqrt(var_i + eps),
 *   var_i the biased variance (divided by C, as PyTorch).
 * The forward saves mean and rstd per row for the backward.  The fast
 * versions split rows over the caller's threads (and, for the weight and
 * bias gradients, columns); the variance is computed in two passes (mean
 * first), not as E[x^2] - E[x]^2, so a large common offset costs no
 * precision.
 *
 * Deliberately not here: normalisation over other axes (batch/instance/
 * group norms are separate kernels), RMSNorm, a missing affine (pass w = 1,
 * b = 0).
 */
#ifndef NN_LAYERNORM_H
#define NN_LAYERNORM_H
#include "nn.h"

/* out (N,C) = layernorm(inp (N,C)) * w (C) + b (C); saves mean (N), rstd (N).
 * out must not alias inp. */
void layernorm_forward(const nn_par_t *par,
                       float *out,       /* (N,C) */
                       float *mean,      /* (N) */
                       float *rstd,      /* (N) */
                       const float *inp, /* (N,C) */
                       const float *w,   /* (C) */
                       const float *b,   /* (C) */
                       int N, int C, float eps);
/* dinp (N,C) += d loss/d inp  (ADDED into; NULL: not wanted);
 * dw (C) += d loss/d w, db (C) += d loss/d b (each may be NULL: not wanted);
 * dout (N,C) the gradient at out; inp, mean, rstd as in and from the forward. */
void layernorm_backward(const nn_par_t *par,
                        float *dinp,       /* (N,C) or NULL */
                        float *dw,         /* (C) or NULL */
                        float *db,         /* (C) or NULL */
                        const float *dout, /* (N,C) */
                        const float *inp,  /* (N,C) */
                        const float *mean, /* (N) */
                        const float *rstd, /* (N) */
                        const float *w,    /* (C) */
                        int N, int C);

/* References: the same arguments, single-threaded (par is ignored). */
void layernorm_forward_ref(const nn_par_t *par, float *out, float *mean, float *rstd, const float *inp, const float *w,
                           const float *b, int N, int C, float eps);
void layernorm_backward_ref(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *mean, const float *rstd, const float *w, int N, int C);
#endif
