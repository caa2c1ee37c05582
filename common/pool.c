/* pool.c - see pool.h. */
#include "pool.h"
#include <stdlib.h>
#include <string.h>
#include "util.h"

typedef struct { pool_t *p; int tid; } worker_arg;

static void chunk(int n, int nt, int tid, int *b, int *e) {
    *b = (int)((long)n * tid / nt);
    *e = (int)((long)n * (tid + 1) / nt);
}

static void *worker(void *varg) {
    worker_arg *a = varg;
    pool_t *p = a->p;
    int tid = a->tid;
    free(a);
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->gen == seen && !p->quit) pthread_cond_wait(&p->go, &p->mu);
        if (p->quit) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->gen;
        pool_fn fn = p->fn;
        void *ctx = p->ctx;
        int n = p->n;
        pthread_mutex_unlock(&p->mu);
        int b, e;
        chunk(n, p->nthreads, tid, &b, &e);
        if (b < e) fn(ctx, b, e, tid);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

void pool_init(pool_t *p, int nthreads) {
    memset(p, 0, sizeof *p);
    p->nthreads = nthreads > 1 ? nthreads : 1;
    if (p->nthreads == 1) return;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    p->th = xcalloc((size_t)p->nthreads, sizeof *p->th);
    for (int t = 1; t < p->nthreads; t++) {
        worker_arg *a = xmalloc(sizeof *a);
        a->p = p;
        a->tid = t;
        if (pthread_create(&p->th[t], NULL, worker, a)) die(EXIT_INTERNAL, "cannot start a worker thread");
    }
}

void pool_free(pool_t *p) {
    if (p->nthreads > 1) {
        pthread_mutex_lock(&p->mu);
        p->quit = 1;
        pthread_cond_broadcast(&p->go);
        pthread_mutex_unlock(&p->mu);
        for (int t = 1; t < p->nthreads; t++) pthread_join(p->th[t], NULL);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->go);
        pthread_cond_destroy(&p->done);
        free(p->th);
    }
    memset(p, 0, sizeof *p);
}

void pool_run(pool_t *p, int n, pool_fn fn, void *ctx) {
    if (n <= 0) return;
    if (p->nthreads <= 1 || n == 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->pending = p->nthreads - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    int b, e;
    chunk(n, p->nthreads, 0, &b, &e);
    if (b < e) fn(ctx, b, e, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
