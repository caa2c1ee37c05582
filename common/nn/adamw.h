/* adamw.h - the optimiser's block operations: zero, AdamW step, global-norm
 * gradient clipping, NaN/Inf scan.  Pure maths (see nn.h): no allocation, no
 * globals, never prints; parallelism comes from the caller's nn_par_t.
 *
 * Every function works on flat float blocks (llm.c): the parameters, their
 * gradients and the two AdamW moments share one layout, so one call covers a
 * whole model.  Which parts of the block get weight decay is said by a sorted
 * list of spans (common/params.c builds it from its per-tensor flags); floats
 * outside every span are not touched by adamw_step.
 *
 * AdamW is torch.optim.AdamW (torch 1.13, amsgrad off, maximize off), step by
 * step in the same float32 operations with the same double scalars:
 *     t        = number of this step, 1 for the first
 *     p       *= (float)(1 - lr*wd)               (decoupled decay, first; wd = 0 off-span)
 *     m        = m*(float)b1 + (float)(1-b1)*g
 *     v        = v*(float)b2 + (float)(1-b2)*g*g
 *     denom    = sqrt(v) / (float)sqrt(1-b2^t) + (float)eps
 *     p       += (float)(-lr/(1-b1^t)) * (m/denom)
 * so eps is added after the square root of the bias-corrected v.
 *
 * Reductions (the gradient norm, the first non-finite index) are independent
 * of the thread count: the block is cut into chunks whose size depends only
 * on n (at least ADAMW_CHUNK floats, at most ADAMW_MAX_CHUNKS chunks), each
 * chunk is summed in a fixed pattern (float partials of 4 squares, then
 * double), and the chunk sums are added in chunk order in double.  So serial
 * and N-thread runs give bit-identical results.
 */
#ifndef NN_ADAMW_H
#define NN_ADAMW_H
#include <stddef.h>
#include "nn.h"

#define ADAMW_CHUNK 4096      /* minimum floats per reduction/update chunk */
#define ADAMW_MAX_CHUNKS 1024 /* chunk partials live on the stack: 8 KB */

/* [begin, end) in floats, sorted, non-overlapping; decay != 0: weight decay applies. */
typedef struct {
    size_t begin, end;
    int decay;
} adamw_span_t;

typedef struct {
    double lr;           /* this step's learning rate (e.g. lr_at(sched, t-1)) */
    double beta1, beta2; /* torch defaults 0.9, 0.999 */
    double eps;          /* torch default 1e-8 */
    double weight_decay; /* torch default 1e-2; used on spans with decay set */
} adamw_hparams_t;

/* torch.optim.AdamW's defaults with learning rate lr. */
adamw_hparams_t adamw_defaults(double lr);

/* x[0..n) = 0. */
void adamw_zero(float *x, size_t n, const nn_par_t *par);

/* One AdamW step (number t >= 1) over the spans:
 *   param (N) updated, grad (N) read, m (N), v (N) updated,
 * where N covers every span.  NN_EINVAL for t < 1, a beta outside [0,1),
 * eps < 0, a non-finite lr/wd, or unsorted/overlapping spans; nothing is
 * changed then. */
int adamw_step(float *param, const float *grad, float *m, float *v, const adamw_span_t *spans, int nspans,
               const adamw_hparams_t *hp, long long t, const nn_par_t *par);

/* sqrt(sum g^2) over g (n), accumulated in double from float partials of 4
 * squares: a |g| beyond ~1.8e19 (a square beyond float range) gives +Inf, as
 * torch's float norm does. */
double adamw_grad_norm(const float *g, size_t n, const nn_par_t *par);

/* torch.nn.utils.clip_grad_norm_(max_norm, norm_type=2): scales g (n) by
 * min(1, max_norm/(norm + 1e-6)) (in float32, as torch does) and returns the
 * norm before clipping.  Unlike torch, a non-finite norm leaves g untouched
 * (torch would fill it with NaN): the caller checks the returned value. */
double adamw_clip_grad_norm(float *g, size_t n, double max_norm, const nn_par_t *par);

/* Index of the first NaN or +-Inf in x (n), or -1 if all are finite. */
ptrdiff_t adamw_find_nonfinite(const float *x, size_t n, const nn_par_t *par);
#endif
