/* pool.h - a tiny fork-join thread pool for the model code.
 *
 * pool_run(p, n, fn, ctx) splits [0,n) into p->nthreads contiguous chunks,
 * runs fn(ctx, begin, end, tid) on each (the calling thread takes chunk 0)
 * and returns when all are done.  Workers sleep on a condition variable
 * between calls.  One pool must not be used from two threads at once.
 */
#ifndef POOL_H
#define POOL_H
#include <pthread.h>

typedef void (*pool_fn)(void *ctx, int begin, int end, int tid);

typedef struct {
    int nthreads;
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen;   /* bumped for every job */
    int pending;         /* workers still running the current job */
    int quit;
    pool_fn fn;
    void *ctx;
    int n;
} pool_t;

/* nthreads <= 1: no workers, pool_run calls fn inline. */
void pool_init(pool_t *p, int nthreads);
void pool_free(pool_t *p);
void pool_run(pool_t *p, int n, pool_fn fn, void *ctx);
#endif
