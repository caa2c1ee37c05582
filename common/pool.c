/* pool.c - see pool.h.
 *
 * Hand-off protocol: the caller writes the job (fn, ctx, n), zeroes done,
 * then next (release), and bumps gen (sequentially consistent).  Everyone --
 * the caller and each worker that sees a new gen -- claims chunks with
 * fetch_add(next) until the count passes nthreads, runs each claimed chunk
 * and increments done; the caller returns when done == nthreads.  A late
 * worker from an earlier job claims nothing (next is past nthreads until the
 * next job resets it, and a job's fields are written before its reset).  A worker that gives up spinning increments
 * sleepers under the mutex and re-checks gen before waiting; the caller reads
 * sleepers after bumping gen and broadcasts under the mutex when it is not 0,
 * so a wake-up cannot be lost. */
#include "pool.h"
#include <cblas.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "util.h"

typedef struct { pool_t *p; int tid; } worker_arg;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void chunk(int n, int nt, int tid, int *b, int *e) {
    *b = (int)((long)n * tid / nt);
    *e = (int)((long)n * (tid + 1) / nt);
}

/* Spins until gen != seen, then sleeps; returns the new gen. */
static unsigned long wait_job(pool_t *p, unsigned long seen) {
    unsigned long g;
    double t0 = 0;
    for (unsigned spins = 0;; spins++) {
        if ((g = __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE)) != seen) return g;
        cpu_relax();
        if ((spins & 255) == 255) {
            double t = now_sec();
            if (t0 == 0) t0 = t;
            else if (t - t0 > POOL_SPIN_US * 1e-6) break;
        }
    }
    pthread_mutex_lock(&p->mu);
    __atomic_add_fetch(&p->sleepers, 1, __ATOMIC_SEQ_CST);
    while ((g = __atomic_load_n(&p->gen, __ATOMIC_SEQ_CST)) == seen) pthread_cond_wait(&p->go, &p->mu);
    __atomic_sub_fetch(&p->sleepers, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&p->mu);
    return g;
}

/* Claim and run chunks of the current job until none is left. */
static void run_chunks(pool_t *p) {
    for (;;) {
        int k = __atomic_fetch_add(&p->next, 1, __ATOMIC_ACQ_REL);
        if (k >= p->nthreads) return;
        int b, e;
        chunk(p->n, p->nthreads, k, &b, &e);
        if (b < e) p->fn(p->ctx, b, e, k);
        __atomic_add_fetch(&p->done, 1, __ATOMIC_RELEASE);
    }
}

static void *worker(void *varg) {
    worker_arg *a = varg;
    pool_t *p = a->p;
    free(a);
    unsigned long seen = 0;
    for (;;) {
        seen = wait_job(p, seen);
        if (__atomic_load_n(&p->quit, __ATOMIC_ACQUIRE)) return NULL;
        run_chunks(p);
    }
}

static void stop_workers(pool_t *p, int started) {
    __atomic_store_n(&p->quit, 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&p->gen, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int t = 1; t < started; t++) pthread_join(p->th[t], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    free(p->th);
}

int pool_init(pool_t *p, int nthreads, err_t *e) {
    memset(p, 0, sizeof *p);
    if (nthreads > POOL_MAX_THREADS)
        return err_set(e, EXIT_INTERNAL, "%d threads asked for; at most %d", nthreads, POOL_MAX_THREADS);
    blas_threads_init();
    p->nthreads = nthreads > 1 ? nthreads : 1;
    if (p->nthreads == 1) return 0;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    p->th = xcalloc((size_t)p->nthreads, sizeof *p->th);
    for (int t = 1; t < p->nthreads; t++) {
        worker_arg *a = xmalloc(sizeof *a);
        a->p = p;
        a->tid = t;
        int rc = pthread_create(&p->th[t], NULL, worker, a);
        if (rc) {
            free(a);
            stop_workers(p, t);
            memset(p, 0, sizeof *p);
            return err_set(e, EXIT_INTERNAL, "cannot start worker thread %d of %d: %s", t + 1, nthreads,
                           strerror(rc));
        }
    }
    return 0;
}

static void wake(pool_t *p) {
    if (__atomic_load_n(&p->sleepers, __ATOMIC_SEQ_CST) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->go);
        pthread_mutex_unlock(&p->mu);
    }
}

void pool_free(pool_t *p) {
    if (p->nthreads > 1) stop_workers(p, p->nthreads);
    memset(p, 0, sizeof *p);
}

void pool_run(pool_t *p, int n, pool_fn fn, void *ctx) {
    if (n <= 0) return;
    if (p->nthreads <= 1 || n == 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    __atomic_store_n(&p->done, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&p->next, 0, __ATOMIC_RELEASE);
    __atomic_add_fetch(&p->gen, 1, __ATOMIC_SEQ_CST);
    wake(p);
    run_chunks(p);
    /* every chunk is claimed; wait for those a worker is running: spin, and
     * yield the core only if that worker was descheduled mid-chunk */
    for (unsigned spins = 0; __atomic_load_n(&p->done, __ATOMIC_ACQUIRE) < p->nthreads; spins++) {
        if (spins < 100000) cpu_relax();
        else sched_yield();
    }
}

static void par_run(void *impl, int n, nn_task_fn fn, void *ctx) { pool_run(impl, n, fn, ctx); }

nn_par_t pool_par(pool_t *p) {
    nn_par_t r = {.run = p ? par_run : NULL,
                  .impl = p,
                  .nthreads = p && p->nthreads > 1 ? p->nthreads : 1,
                  .width = pool_cores()};
    return r;
}

int pool_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > POOL_MAX_THREADS ? POOL_MAX_THREADS : (int)n;
}

/* OpenBLAS's kernel set.  A DYNAMIC_ARCH OpenBLAS (Debian's, Ubuntu's)
 * picks its kernels once, when it is loaded, from OPENBLAS_CORETYPE or by
 * detecting the CPU.  These two functions are its own (re)initialisation;
 * declared weak, so an OpenBLAS built for one target (which has neither)
 * still links and keeps its kernels. */
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

static int is_avx2_core(const char *name) {
    static const char *const avx2[] = {"haswell", "zen", "excavator", "skylake", NULL};
    for (int i = 0; avx2[i]; i++)
        if (!strcasecmp(name, avx2[i])) return 1;
    return 0;
}

/* On a CPU with AVX-512, OpenBLAS's SkylakeX kernels run the model's
 * products about 1.9 times as fast as its AVX2 (Haswell) ones
 * (docs/benchmarks.md, "OpenBLAS's kernel set"); an environment that pins
 * OPENBLAS_CORETYPE to an AVX2 core (this project's machines set Haswell)
 * leaves that on the table.  The pin is the environment owner's decision
 * (e.g. the same numbers on every machine of a fleet), so it stands unless
 * the user asks otherwise with INVCLIP_BLAS_CORETYPE: unset or "keep" keeps
 * OpenBLAS's choice; "auto" switches an AVX2 choice to SkylakeX when the CPU
 * has AVX-512; any other value is passed to OpenBLAS as its
 * OPENBLAS_CORETYPE. */
static void blas_core_choose(void) {
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
    const char *want = getenv("INVCLIP_BLAS_CORETYPE");
    if (!want || !*want || !strcmp(want, "keep")) return; /* the default: the environment's choice stands */
    if (!strcmp(want, "auto")) {
        const char *cur = openblas_get_corename();
        __builtin_cpu_init();
        if (!cur || !is_avx2_core(cur) || !__builtin_cpu_supports("avx512f") ||
            !__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512dq") ||
            !__builtin_cpu_supports("avx512vl"))
            return;
        want = "SkylakeX";
    }
    /* OpenBLAS reads the variable only inside gotoblas_dynamic_init; the
     * caller's value is put back afterwards */
    const char *old = getenv("OPENBLAS_CORETYPE");
    char *saved = old ? strdup(old) : NULL;
    if (old && !saved) return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    if (saved) setenv("OPENBLAS_CORETYPE", saved, 1);
    else unsetenv("OPENBLAS_CORETYPE");
    free(saved);
}

static pthread_once_t blas_core_once = PTHREAD_ONCE_INIT;

void blas_threads_init(void) {
    openblas_set_num_threads(1);
    pthread_once(&blas_core_once, blas_core_choose);
}
