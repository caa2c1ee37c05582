/* dropout.h - inverted dropout, forward and backward, with a mask that is a
 * pure function of (seed, stream, element index).
 *
 * Element i is kept when the i-th output of a SplitMix64 sequence started at
 * key(seed, stream) (Steele, Lea & Flood 2014: a counter-based generator, so
 * output i is computed directly from i) falls at or above p in [0,1); kept
 * elements are scaled by 1/(1-p), dropped ones are 0.  So the mask does not
 * depend on the thread count, on how the work is split, or on any state:
 * (seed, stream) names it.  Use `stream` to tell apart the dropout layers of
 * one step (e.g. layer index) and change `seed` every step.  p = 1 drops
 * everything (the output is 0, as in PyTorch).
 *
 * The mask (one byte per element: 1 kept, 0 dropped) is the caller's buffer,
 * written by the forward and read by the backward.  Eval mode is the
 * identity; the caller simply skips the call.  Allocates nothing (nn.h).
 */
#ifndef NN_DROPOUT_H
#define NN_DROPOUT_H
#include "nn.h"
#include <stddef.h>
#include <stdint.h>

/* 1 if element i is kept at drop probability p (the mask's definition). */
int dropout_keep(uint64_t seed, uint64_t stream, uint64_t i, float p);

/* out = inp * mask / (1-p).  out and mask are overwritten; out may equal
 * inp.  NN_EINVAL unless 0 <= p <= 1. */
int dropout_forward(const nn_par_t *par,
                    float *out,          /* (n) */
                    unsigned char *mask, /* (n) written */
                    const float *inp,    /* (n) */
                    size_t n, float p, uint64_t seed, uint64_t stream);

/* dinp += dout * mask / (1-p) (ADDED into). */
int dropout_backward(const nn_par_t *par,
                     float *dinp,               /* (n) */
                     const float *dout,         /* (n) */
                     const unsigned char *mask, /* (n) from the forward */
                     size_t n, float p);

/* Reference versions: the same arguments and contracts, single-threaded
 * (par is ignored). */
int dropout_forward_ref(const nn_par_t *par, float *out, unsigned char *mask, const float *inp, size_t n,
                        float p, uint64_t seed, uint64_t stream);
int dropout_backward_ref(const nn_par_t *par, float *dinp, const float *dout, const unsigned char *mask,
                         size_t n, float p);
#endif
