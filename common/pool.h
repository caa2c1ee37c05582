/* pool.h - a tiny fork-join thread pool for the model code.
 *
 * pool_run(p, n, fn, ctx) splits [0,n) into p->nthreads contiguous chunks,
 * runs fn(ctx, begin, end, tid) on each -- chunk k always with tid k, each
 * exactly once -- and returns when all are done.  One pool must not be used
 * from two threads at once.
 *
 * Chunks are claimed, not assigned: the calling thread and every worker take
 * the next unclaimed chunk until none is left, so a worker that the OS has
 * descheduled (a loaded machine, more threads than free cores) delays
 * nothing -- the caller runs its chunk too.  Since chunk k still runs with
 * tid k, per-thread scratch and per-chunk partial results indexed by tid stay
 * private to one execution, and results do not depend on who ran what.
 *
 * A model forward issues a few hundred short jobs (0.1-2 ms each), so the
 * hand-off must cost microseconds, not a futex wake-up each time: workers
 * spin on an atomic job counter for a short while (POOL_SPIN_US) after each
 * job and only then sleep on a condition variable; the caller spins for the
 * workers' chunks to finish.  Idle for longer than that, a pool uses no CPU.
 *
 * One pool per process (DESIGN.md "Layers, threads and memory"): the tool
 * creates it in main (-j/--threads, default pool_cores()) and lends it to
 * CLIP, every model and every plugin; nothing in common/ owns one or starts a
 * thread per call.  pool_init also makes the process's one BLAS threading
 * choice (blas_threads_init): OpenBLAS runs single-threaded, because the
 * model code splits every product by output columns over the pool and calls
 * a single-threaded cblas_sgemm on each block; two levels of threads would
 * fight for the cores (docs/benchmarks.md "One pool, single-threaded
 * OpenBLAS" has the measurement).
 */
#ifndef POOL_H
#define POOL_H
#include <pthread.h>
#include "nn/nn.h"
#include "util.h"

#define POOL_SPIN_US 300 /* how long an idle worker spins before sleeping */

typedef void (*pool_fn)(void *ctx, int begin, int end, int tid);

typedef struct {
    int nthreads;
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t go;
    /* shared with the workers through atomics (__atomic builtins) */
    unsigned long gen; /* bumped for every job (and to quit) */
    int next;          /* chunks of the current job claimed so far */
    int done;          /* chunks of the current job finished */
    int sleepers;      /* workers blocked (or about to block) on `go` */
    int quit;
    pool_fn fn;
    void *ctx;
    int n;
} pool_t;

#define POOL_MAX_THREADS 1024

/* Start nthreads - 1 workers (the caller is the first thread) and call
 * blas_threads_init.  nthreads <= 1: no workers, pool_run calls fn inline.
 * 0, or EXIT_INTERNAL when a worker cannot be started (the workers already
 * started are stopped and *p is left zeroed, safe to pool_free) or nthreads
 * exceeds POOL_MAX_THREADS. */
int pool_init(pool_t *p, int nthreads, err_t *e);
void pool_free(pool_t *p);
void pool_run(pool_t *p, int n, pool_fn fn, void *ctx);
/* The pool as the pure-maths layer's parallelism (nn/nn.h); p may be NULL (serial). */
nn_par_t pool_par(pool_t *p);
/* The online cores (sysconf), at least 1 and at most POOL_MAX_THREADS: the
 * tools' default -j. */
int pool_cores(void);
/* The process's BLAS choices, the one place the project makes them;
 * pool_init calls it.  Threads: OpenBLAS on one thread (see above).  Kernels:
 * OpenBLAS's own choice (OPENBLAS_CORETYPE, or its CPU detection) stands by
 * default.  INVCLIP_BLAS_CORETYPE=auto asks for OpenBLAS's SkylakeX (AVX-512)
 * kernels on a CPU with AVX-512 even when the environment pins an AVX2 core
 * such as Haswell - they run the model's products 1.6-1.9 times as fast
 * (docs/benchmarks.md, "Issue 8"); any other value of it except "keep" is
 * used as OPENBLAS_CORETYPE.  The kernels are chosen once per process
 * (pool_init runs before any model); an OpenBLAS built for a single CPU keeps
 * its kernels.  Benchmarks that compare OpenBLAS's own threads change the
 * thread count and call this again to restore it. */
void blas_threads_init(void);
#endif
