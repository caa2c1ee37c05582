/* linear.h - a fully connected layer, forward and backward, on cblas_sgemm,
 * with the element-wise epilogues transformer blocks fuse into it:
 *   out (N,OC) = inp (N,IC) @ w (OC,IC)^T  [+ b (OC)]  [+ res (N,OC)]
 *   act_out (N,OC) = act(out)  (any activation of act.h)
 * w is stored as PyTorch's nn.Linear stores it, (out features, in features).
 *
 * The fast versions split the product by output columns over the caller's
 * threads: each thread calls a single-threaded cblas_sgemm on its block of
 * columns (bias and residual are written into the output first and the
 * product added with beta = 1) and then runs the epilogue on that block
 * while it is still in cache.  Threads write disjoint columns, so results do
 * not depend on the thread count except through the order of float sums
 * inside sgemm.  OpenBLAS must then run single-threaded (pool_init's
 * blas_threads_init sets it, pool.h), or the two levels of threads fight
 * for the cores.  The _ref versions are plain triple loops.
 *
 * The _bf16 versions take frozen weights packed once into bfloat16
 * (gemm_bf16.h) and round the other operand per call: the same epilogues,
 * twice the arithmetic per cycle on CPUs with AVX512_BF16, about 2^-8
 * relative error per operand.  They compute no weight gradients (the weights
 * are frozen) and split the output columns over the threads in 64-column
 * panels.
 *
 * Deliberately not here: weights stored (IC,OC) (a projection such as
 * CLIP's `proj` is a plain sgemm at its call site), an activation applied in
 * place of out (the backward needs the pre-activation, so both are kept).
 */
#ifndef NN_LINEAR_H
#define NN_LINEAR_H
#include <stdint.h>
#include "act.h"
#include "nn.h"

/* out (N,OC) = inp (N,IC) @ w (OC,IC)^T + b (OC) + res (N,OC), b and res
 * each optional (NULL); res may equal out (an in-place residual add), inp
 * must not.  act_out (N,OC), when not NULL, receives act(out) (act.kind
 * NN_ACT_NONE copies). */
void linear_forward(const nn_par_t *par,
                    float *out,       /* (N,OC) */
                    float *act_out,   /* (N,OC) or NULL */
                    const float *inp, /* (N,IC) */
                    const float *res, /* (N,OC) or NULL */
                    const float *w,   /* (OC,IC) */
                    const float *b,   /* (OC) or NULL */
                    nn_act_t act, int N, int IC, int OC);

/* Backward of out = inp @ w^T + b, given dout (N,OC) = d loss/d out:
 *   dinp (N,IC) = dout @ w  -- OVERWRITTEN when accumulate == 0, ADDED into
 *                 when accumulate != 0; NULL: not wanted;
 *   dw (OC,IC) += dout^T @ inp;  db (OC) += column sums of dout  (ADDED
 *                 into; either may be NULL: not wanted);
 * inp_pre (N,IC), when not NULL, fuses the backward of an activation that
 * produced inp: inp = act(inp_pre), and dinp then receives d loss/d inp_pre
 * = (dout @ w) * act'(inp_pre).  That needs accumulate == 0 (NN_EINVAL
 * otherwise).  inp may be NULL when dw is; w may be NULL when dinp is.  dout
 * is only read; dinp must not alias dout, inp or inp_pre.
 * Returns NN_OK, or NN_EINVAL for a negative size or the combination above. */
int linear_backward(const nn_par_t *par,
                    float *dinp,          /* (N,IC) or NULL */
                    float *dw,            /* (OC,IC) or NULL */
                    float *db,            /* (OC) or NULL */
                    const float *dout,    /* (N,OC) */
                    const float *inp,     /* (N,IC) */
                    const float *inp_pre, /* (N,IC) or NULL */
                    const float *w,       /* (OC,IC) */
                    nn_act_t act, int N, int IC, int OC, int accumulate);

/* A weight (OC,IC) packed for both products: fwd = w^T as (IC,OC) for
 * out = inp w^T, bwd = w as (OC,IC) for dinp = dout w (gemm_bf16.h). */
typedef struct {
    const uint16_t *fwd, *bwd;
} linear_bf16_t;

/* uint16 elements linear_bf16_pack needs for a (OC,IC) weight. */
size_t linear_bf16_pack_size(int IC, int OC);
/* Round w (OC,IC) to bfloat16 into mem (linear_bf16_pack_size elements) and
 * point p at its two packings.  w is not kept. */
void linear_bf16_pack(linear_bf16_t *p, uint16_t *mem, const float *w, int IC, int OC);

/* linear_forward with the weight in bfloat16: inp rounded to bfloat16 into
 * scratch (nn_bf16_rows_size(N, IC) elements) - or, when in16 is not NULL,
 * in16 is that rounded copy already (e.g. the previous product's out16) and
 * scratch is not used; the product summed in float; bias, residual and
 * activation in float as in linear_forward, applied per tile in the kernel.
 * out16, when not NULL, receives bf16(act(out)) (bf16(out) when act is
 * none) as nn_bf16_rows would round it (N, Kp(OC)): the next product's
 * operand - act(out) is computed for it whether or not act_out keeps it. */
void linear_forward_bf16(const nn_par_t *par, float *out, float *act_out, const float *inp, const float *res,
                         const linear_bf16_t *w, const float *b, nn_act_t act, int N, int IC, int OC,
                         uint16_t *scratch, const uint16_t *in16, uint16_t *out16);
/* linear_backward's input gradient alone, with the weight in bfloat16: dout
 * rounded into scratch (nn_bf16_rows_size(N, OC) elements), or given rounded
 * as in16; out16 as above (bf16 of the final dinp, activation's derivative
 * applied).  dinp NULL with out16: only the rounded copy is made (the float
 * gradient is not kept; accumulate must be 0); both NULL: nothing to do.
 * Returns as linear_backward. */
int linear_backward_bf16(const nn_par_t *par, float *dinp, const float *dout, const float *inp_pre,
                         const linear_bf16_t *w, nn_act_t act, int N, int IC, int OC, int accumulate,
                         uint16_t *scratch, const uint16_t *in16, uint16_t *out16);

/* For a backward that needs only the activation's derivative (the weights
 * frozen: no weight gradient reads y): linear_forward_bf16 with act not none
 * and out16 (required), but dact (N,OC) receives act'(y), y = inp w^T + b,
 * instead of y; out16 = bf16(act(y)) as linear_forward_bf16 makes it, act
 * and act' evaluated together per tile.  No residual, no act_out.
 * NN_EINVAL (nothing computed) without dact or out16, or with act none. */
int linear_forward_bf16_dact(const nn_par_t *par, float *dact, const float *inp, const linear_bf16_t *w,
                             const float *b, nn_act_t act, int N, int IC, int OC, uint16_t *scratch,
                             const uint16_t *in16, uint16_t *out16);
/* linear_backward_bf16 through that activation: dinp = (dout w) * dact,
 * dact (N,IC) from linear_forward_bf16_dact - the same values as
 * linear_backward_bf16 with act and inp_pre = y, no activation evaluated.
 * dinp NULL with out16: only the rounded copy.  NN_EINVAL without dact. */
int linear_backward_bf16_dact(const nn_par_t *par, float *dinp, const float *dout, const float *dact,
                              const linear_bf16_t *w, int N, int IC, int OC, uint16_t *scratch, const uint16_t *in16,
                              uint16_t *out16);

/* The _f32p versions take frozen weights packed once for the float32
 * kernel of gemm_f32.h (AVX2 and FMA; check nn_f32_available): the same
 * products and epilogues as linear_forward / linear_backward's input
 * gradient, without OpenBLAS's per-call packing or a second pass for the
 * epilogue, and each output element summed in the same order whatever the
 * batch and the thread count.  No weight gradients (the weights are frozen).
 * fwd = w^T as (IC,OC) panels for out = inp w^T, bwd = w as (OC,IC) panels
 * for dinp = dout w. */
typedef struct {
    const float *fwd, *bwd;
} linear_f32p_t;

/* floats linear_f32p_pack needs for a (OC,IC) weight (a multiple of 16) */
size_t linear_f32p_pack_size(int IC, int OC);
/* Pack w (OC,IC) into mem (linear_f32p_pack_size floats; 64-byte aligned
 * for the best speed) and point p at its two packings.  w is not kept. */
void linear_f32p_pack(linear_f32p_t *p, float *mem, const float *w, int IC, int OC);

/* linear_forward through the packed weight.  dact != 0 (needs act_out, an
 * activation and no res): act_out = act(y) and out = act'(y) instead of y,
 * y = inp w^T + b - the derivative a frozen-weight backward multiplies by
 * (linear_backward_f32p's dmul), with no pre-activation kept.  NN_EINVAL
 * (nothing computed) for a negative size or dact without those. */
int linear_forward_f32p(const nn_par_t *par, float *out, float *act_out, const float *inp, const float *res,
                        const linear_f32p_t *w, const float *b, nn_act_t act, int N, int IC, int OC, int dact);
/* linear_backward's input gradient through the packed weight: dinp =
 * dout w, overwritten (accumulate 0) or added into; then * act'(inp_pre)
 * with inp_pre, or * dmul (N,IC) with dmul (from linear_forward_f32p's
 * dact) - either needs accumulate 0, and not both (NN_EINVAL).  dinp NULL:
 * nothing to do. */
int linear_backward_f32p(const nn_par_t *par, float *dinp, const float *dout, const float *inp_pre,
                         const float *dmul, const linear_f32p_t *w, nn_act_t act, int N, int IC, int OC,
                         int accumulate);

/* References: the same arguments, single-threaded (par is ignored). */
void linear_forward_ref(const nn_par_t *par, float *out, float *act_out, const float *inp, const float *res,
                        const float *w, const float *b, nn_act_t act, int N, int IC, int OC);
int linear_backward_ref(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *inp_pre, const float *w, nn_act_t act, int N, int IC, int OC, int accumulate);
#endif
