/* nn.h - the pure-maths layer: what every kernel in common/nn/ shares.
 *
 * common/nn/ holds forward/backward kernels (linear, norms, attention,
 * activations, convolutions, losses, dropout), the renderers' cores and the
 * optimiser updates.  Rules for every file in this folder:
 *   - allocates nothing: the caller passes every output and scratch buffer;
 *   - keeps no globals (a read-only constant table is fine) and no hidden
 *     "last call" state;
 *   - never prints, never exits: a kernel that can fail returns an NN_E*
 *     code; most cannot fail and return void;
 *   - takes its parallelism from the caller through an nn_par_t: a kernel
 *     never starts a thread and never calls the thread pool directly;
 *   - includes only standard headers, <cblas.h> and other nn/ headers, so a
 *     plugin can link it without the rest of common/.
 *
 * Conventions (llm.c): foo_forward(out..., saved..., inputs..., weights...,
 * sizes) and foo_backward(dinputs..., dweights..., dout, saved/inputs...,
 * weights..., sizes).  Backward ADDS into weight gradients (the caller zeroes
 * them once per step); whether it adds into or overwrites input gradients is
 * said at each function.  Every pointer argument carries a shape comment such
 * as (B,T,C).  Each kernel has a plain reference version beside the fast one,
 * named foo_forward_ref / foo_backward_ref, single-threaded and written for
 * clarity; tests hold both to PyTorch fixtures.
 */
#ifndef NN_H
#define NN_H
#include <stddef.h>

/* Error codes returned by kernels that can fail. */
enum {
    NN_OK = 0,
    NN_EINVAL = 1,   /* a size or argument out of range */
    NN_ENUMERIC = 2, /* NaN or Inf met where it must not be */
};

/* A task over a range: process items [begin, end); tid < nthreads names the
 * worker (for per-thread scratch). */
typedef void (*nn_task_fn)(void *ctx, int begin, int end, int tid);

/* The caller's parallelism.  run(impl, n, fn, ctx) splits [0,n) into at most
 * nthreads contiguous chunks, calls fn on each (possibly concurrently) and
 * returns when all are done.  A NULL nn_par_t pointer, or run == NULL, means
 * serial: fn(ctx, 0, n, 0). */
typedef struct nn_par {
    void (*run)(void *impl, int n, nn_task_fn fn, void *ctx);
    void *impl;
    int nthreads; /* >= 1 */
    int width;    /* the threads work is cut for, whatever nthreads is: pool_par sets the machine's online
                     cores, so a product is cut the same way at every -j and its sums - which depend on
                     the cut - are the same bits; 0: NN_WIDTH_DEFAULT */
} nn_par_t;

#define NN_WIDTH_DEFAULT 2
static inline int nn_width(const nn_par_t *par) { return par && par->width > 0 ? par->width : NN_WIDTH_DEFAULT; }

static inline int nn_nthreads(const nn_par_t *par) { return par && par->run && par->nthreads > 1 ? par->nthreads : 1; }

static inline void nn_parallel_for(const nn_par_t *par, int n, nn_task_fn fn, void *ctx) {
    if (n <= 0) return;
    if (par && par->run && par->nthreads > 1)
        par->run(par->impl, n, fn, ctx);
    else
        fn(ctx, 0, n, 0);
}
#endif
