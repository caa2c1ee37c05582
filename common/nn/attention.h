/* attention.h - multi-head scaled dot-product self-attention over packed
 * q|k|v rows, forward and backward, optionally causal (Vaswani et al. 2017):
 *   for each sequence b and head h (hd = C/NH columns h*hd .. h*hd+hd-1):
 *     A = softmax(q k^T / sqrt(hd))   (T,T), row t restricted to u <= t when causal
 *     out_h = A v                      (T,hd)
 * qkv holds, per token, the C query features, then the C key features, then
 * the C value features (the output of one (3C,C) linear layer, as
 * PyTorch's nn.MultiheadAttention in_proj and OpenAI's CLIP lay them out).
 * The forward saves the probabilities A for the backward.
 *
 * The fast versions split the (sequence, head) pairs over the caller's
 * threads.  On a CPU with AVX-512 each pair runs fused in the thread's slice
 * of scratch: its two (backward: four) products through one register-blocked
 * micro-kernel, the softmax (or its backward) in between, operands kept in
 * L1 -- no BLAS call.  Elsewhere (and as attention_*_blas, for tests and
 * benchmarks) each product is a small single-threaded sgemm call.  The _ref
 * versions are plain loops.
 *
 * Deliberately not here: the q/k/v and output projections (linear.h),
 * dropout on A, padding masks, key/value caches, flash-style tiling (T is at
 * most a few hundred here, so A fits in cache and is kept).
 */
#ifndef NN_ATTENTION_H
#define NN_ATTENTION_H
#include <stddef.h>
#include "nn.h"

/* out (B,T,C), att (B,NH,T,T) saved probabilities (zeros above the diagonal
 * when causal); qkv (B,T,3C); scratch: attention_scratch_floats(par, T,
 * C/NH) floats the kernel may overwrite (the same block serves the
 * backward).  Returns NN_OK, or NN_EINVAL (nothing computed) unless T, C,
 * NH > 0, B >= 0 and NH divides C. */
int attention_forward(const nn_par_t *par,
                      float *out,       /* (B,T,C) */
                      float *att,       /* (B,NH,T,T) */
                      float *scratch,   /* attention_scratch_floats(par, T, C/NH) */
                      const float *qkv, /* (B,T,3C) */
                      int B, int T, int C, int NH, int causal);

/* dqkv (B,T,3C) = d loss/d qkv -- OVERWRITTEN (every element is written);
 * dout (B,T,C) the gradient at out; qkv and att as given to and saved by the
 * forward; scratch as for the forward.  Returns as the forward. */
int attention_backward(const nn_par_t *par,
                       float *dqkv,       /* (B,T,3C) */
                       float *scratch,    /* attention_scratch_floats(par, T, C/NH) */
                       const float *dout, /* (B,T,C) */
                       const float *qkv,  /* (B,T,3C) */
                       const float *att,  /* (B,NH,T,T) */
                       int B, int T, int C, int NH, int causal);

/* Floats of one thread's work space for T tokens and head width hd: kᵀ or
 * vᵀ (hd, Tp), scores (T, Tp), a transposed (T, T) block (T, Tp) and one
 * operand (T, hdp), with Tp and hdp rounded up to 16 (the BLAS path uses
 * the first T*T of it). */
static inline size_t attention_slice_floats(int T, int hd) {
    size_t Tp = (size_t)((T + 15) & ~15), hdp = (size_t)((hd + 15) & ~15);
    return (size_t)hd * Tp + 2 * (size_t)T * Tp + (size_t)T * hdp;
}

/* Floats of scratch attention_forward/backward(_blas, _ref) need with this
 * parallelism. */
static inline size_t attention_scratch_floats(const nn_par_t *par, int T, int hd) {
    return (size_t)nn_nthreads(par) * attention_slice_floats(T, hd);
}

/* 1 when attention_forward/backward run the fused kernel on this CPU */
int attention_fused(void);

/* The BLAS path alone (what runs without AVX-512): the same contract. */
int attention_forward_blas(const nn_par_t *par, float *out, float *att, float *scratch, const float *qkv, int B, int T,
                           int C, int NH, int causal);
int attention_backward_blas(const nn_par_t *par, float *dqkv, float *scratch, const float *dout, const float *qkv,
                            const float *att, int B, int T, int C, int NH, int causal);

/* References: the same arguments, single-threaded (par is ignored; the
 * reference backward uses T floats of scratch). */
int attention_forward_ref(const nn_par_t *par, float *out, float *att, float *scratch, const float *qkv, int B, int T,
                          int C, int NH, int causal);
int attention_backward_ref(const nn_par_t *par, float *dqkv, float *scratch, const float *dout, const float *qkv,
                            const float *att, int B, int T, int C, int NH, int causal);
#endif
