/* tthreads.h - what the "no thread per call" tests share (test_render_threads,
 * test_clip_threads): counting /proc/self/task, a spy that records which
 * threads ran a pool's tasks, and a sampler thread that polls the task count
 * while calls run (a thread started and joined inside a call shows up there).
 * Include after _GNU_SOURCE and pool.h; one test file per binary. */
#ifndef TTHREADS_H
#define TTHREADS_H
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "pool.h"

static int count_tasks(void) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

/* the tids in /proc/self/task */
static int list_tasks(int *tid, int cap) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.' && n < cap) tid[n++] = atoi(de->d_name);
    if (d) closedir(d);
    return n;
}

/* ---- the spy around a pool: records the tids that ran tasks ---- */
enum { MAXTID = 64 };
static int seen[MAXTID], nseen; /* guarded by spy_mu */
static long ncalls;             /* parallel regions run through the spy */
static pthread_mutex_t spy_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    nn_task_fn fn;
    void *fctx;
} spy_t;

static void spy_task(void *c, int b, int e, int tid) {
    const spy_t *s = c;
    int me = (int)syscall(SYS_gettid);
    pthread_mutex_lock(&spy_mu);
    int k = 0;
    while (k < nseen && seen[k] != me) k++;
    if (k == nseen && nseen < MAXTID) seen[nseen++] = me;
    pthread_mutex_unlock(&spy_mu);
    s->fn(s->fctx, b, e, tid);
}

/* An nn_par_t run function (impl = the pool_t) that goes through the spy. */
static void spy_run(void *impl, int n, nn_task_fn fn, void *fctx) {
    spy_t s = {fn, fctx};
    __atomic_add_fetch(&ncalls, 1, __ATOMIC_RELAXED);
    pool_run(impl, n, spy_task, &s);
}

/* ---- the sampler: the most tasks seen while it ran ---- */
static volatile int stop;
static int max_seen;
static void *sampler(void *arg) {
    (void)arg;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        int n = count_tasks();
        if (n > max_seen) __atomic_store_n(&max_seen, n, __ATOMIC_RELAXED);
    }
    return NULL;
}
#endif
