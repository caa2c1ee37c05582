/* test_clip_threads.c - CLIP starts no thread of its own: one pool per
 * process, created by the caller and lent to the model (DESIGN.md "Layers,
 * threads and memory"), as test_render_threads.c checks for renderers.
 *
 * A small CLIP (closed-form weights) runs on a 3-thread pool wrapped by a
 * spy: after one warm-up call of each kind, 30 rounds of image forward,
 * image backward (to the input and to every parameter), text forward and
 * text backward, and clip_embed_text through a clip_model_t opened on the
 * same pool.  Checked: the work really was split (more than one thread ran
 * tasks); every thread that ran a task existed before the calls (the
 * pool's); /proc/self/task counts the same threads before and after; and a
 * sampler thread polling /proc/self/task throughout never saw more threads
 * than before (a thread started and joined inside a call would show up
 * there).  The pool-split results match a serial model's, and OpenBLAS was
 * left on one thread by pool_init (blas_threads_init).
 *
 * Also: pool_init reports a worker that cannot start as an error (a child
 * process whose address space is capped so that only a few thread stacks
 * fit) and stops the workers it had started; skipped under the sanitizers,
 * whose shadow memory does not fit such a cap. */
#define _GNU_SOURCE
#include <cblas.h>
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "clip_model.h"
#include "pool.h"
#include "rng.h"
#include "t.h"
#include "tthreads.h"

static const clip_config_t cfg = {.v_width = 64, .v_layers = 2, .v_heads = 2, .patch = 8, .image_size = 32,
                                  .t_width = 32, .t_layers = 2, .t_heads = 2, .context = 77, .vocab = 49408,
                                  .embed_dim = 16, .mlp_ratio = 4};
enum { B = 3, S = 32, E = 16, NB = 2 };

typedef struct {
    float emb[B * E], temb[B * E], dimg[B * 3 * S * S];
} outs_t;

/* One round: image forward/backward with parameter gradients, text forward/backward. */
static int round_trip(clip_t *m, const float *img, const int *ids, const float *demb, outs_t *o, err_t *e) {
    memset(o->dimg, 0, sizeof o->dimg);
    int rc = clip_image_forward(m, img, B, o->emb, e);
    if (!rc) rc = clip_image_backward(m, demb, NULL, o->dimg, 1, e);
    if (!rc) rc = clip_text_forward(m, ids, B, o->temb, e);
    if (!rc) rc = clip_text_backward(m, demb, 1, e);
    return rc;
}

static double worst(const float *a, const float *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (1e-4 + fabs((double)b[i]));
        if (!(d <= w)) w = d; /* NaN counts as worst */
    }
    return w;
}

static void test_no_thread_per_call(void) {
    pool_t pool;
    err_t e = {0};
    CHECK(pool_init(&pool, 3, &e) == 0, "a pool of 3 (%s)", e.msg);
    CHECK(openblas_get_num_threads() == 1, "pool_init left OpenBLAS on one thread (%d)", openblas_get_num_threads());
    nn_par_t spy = {spy_run, &pool, pool.nthreads, pool_cores()};

    clip_params_t w1 = {0}, w2 = {0};
    clip_params_alloc(&w1, &cfg);
    clip_params_closed_form(&w1);
    clip_params_alloc(&w2, &cfg);
    clip_params_closed_form(&w2);
    clip_t m, serial;
    clip_init(&m, &w1, &spy);
    clip_init(&serial, &w2, NULL);
    clip_alloc_grad(&m);
    clip_alloc_grad(&serial);

    clip_params_t w3 = {0};
    clip_params_alloc(&w3, &cfg);
    clip_params_closed_form(&w3);
    clip_model_t cm;
    const clip_open_opts_t co = {.text = 1, .vocab = "data/clip/bpe_simple_vocab_16e6.txt.gz"};
    CHECK(clip_open_params(&cm, &w3, &co, &pool, &e) == 0, "a clip_model_t on the same pool (%s)", e.msg);

    static float img[B * 3 * S * S], demb[B * E];
    rng_t r;
    rng_seed(&r, 3);
    for (size_t i = 0; i < sizeof img / sizeof *img; i++) img[i] = (float)rng_range(&r, -1.5, 1.5);
    for (int i = 0; i < B * E; i++) demb[i] = (float)rng_range(&r, -1, 1);
    int ids[B * 77] = {0};
    for (int b = 0; b < B; b++) {
        int n = 3 + 2 * b;
        ids[b * 77] = 49406;
        for (int i = 1; i <= n; i++) ids[b * 77 + i] = 320 + 41 * i + 7 * b;
        ids[b * 77 + n + 1] = 49407;
    }

    /* warm up (allocates activations) and the serial reference */
    static outs_t got, want;
    float t1[E], t2[E];
    int rc = round_trip(&m, img, ids, demb, &got, &e);
    rc = rc ? rc : round_trip(&serial, img, ids, demb, &want, &e);
    rc = rc ? rc : clip_embed_text(&cm, "a sketch of a fish", t1, &e);
    CHECK(rc == 0, "warm-up calls (%s)", e.msg);
    if (rc) goto out;

    int before_tids[MAXTID], nb = list_tasks(before_tids, MAXTID);
    nseen = 0;
    ncalls = 0;
    max_seen = 0;
    stop = 0;
    pthread_t th;
    pthread_create(&th, NULL, sampler, NULL);
    while (!__atomic_load_n(&max_seen, __ATOMIC_RELAXED)) sched_yield();
    int before = count_tasks(); /* with the sampler */
    for (int k = 0; k < 30 && !rc; k++) {
        clip_zero_grad(&m);
        rc = round_trip(&m, img, ids, demb, &got, &e);
        if (!rc) rc = clip_embed_text(&cm, "a sketch of a fish", t2, &e);
    }
    int after = count_tasks();
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    CHECK(rc == 0, "30 rounds of image and text forward and backward through the pool (%s)", e.msg);
    CHECK(nseen > 1 && ncalls > 100, "the work was split: %ld parallel regions, run by %d threads", ncalls, nseen);
    int known = 1;
    for (int k = 0; k < nseen; k++) {
        int in = 0;
        for (int j = 0; j < nb; j++) in |= before_tids[j] == seen[k];
        known &= in;
    }
    CHECK(known, "every thread that ran a task existed before the calls (the pool's)");
    CHECK(after == before && max_seen == before,
          "no thread started: /proc/self/task %d before, %d after, at most %d during the calls", before, after,
          max_seen);
    clip_zero_grad(&serial);
    rc = round_trip(&serial, img, ids, demb, &want, &e);
    double we = worst(got.emb, want.emb, B * E), wt = worst(got.temb, want.temb, B * E);
    double wd = worst(got.dimg, want.dimg, sizeof got.dimg / sizeof *got.dimg);
    double wg = worst(m.g.mem, serial.g.mem, m.g.n);
    CHECK(rc == 0 && we < 1e-4 && wt < 1e-4 && wd < 1e-3 && wg < 1e-3,
          "pool-split results match the serial model (worst relative: image %.2g, text %.2g, d image %.2g, "
          "d params %.2g)", we, wt, wd, wg);
    CHECK(!memcmp(t1, t2, sizeof t1), "clip_embed_text gives the same embedding every call");
out:
    clip_close(&cm);
    clip_free(&m);
    clip_free(&serial);
    pool_free(&pool);
}

/* In a child whose address space has room for only a few more thread stacks:
 * pool_init(16) must fail, say why, leave the pool zeroed and no worker
 * behind.  Exit status: 0 pass, 1 pool_init did not fail, 2 wrong error,
 * 3 pool not zeroed, 4 workers left running, 5 setup failed. */
static int child_pool_init_fails(void) {
    blas_threads_init(); /* OpenBLAS's fork handler stopped its threads; this restarts them */
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld", &pages) != 1) return 5;
    fclose(f);
    size_t stack = 8u << 20;
    pthread_attr_t a;
    if (!pthread_attr_init(&a)) {
        pthread_attr_getstacksize(&a, &stack);
        pthread_attr_destroy(&a);
    }
    rlim_t cap = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + 2 * (rlim_t)stack + (4u << 20);
    struct rlimit rl, old;
    if (getrlimit(RLIMIT_AS, &old)) return 5;
    rl = old;
    rl.rlim_cur = cap; /* the soft limit only, so that it can be lifted again */
    int before = count_tasks();
    if (setrlimit(RLIMIT_AS, &rl)) return 5;
    pool_t p;
    err_t e = {0};
    int rc = pool_init(&p, 16, &e);
    if (!rc) return 1;
    if (rc != EXIT_INTERNAL || !strstr(e.msg, "cannot start worker thread")) return 2;
    static const pool_t zero;
    if (memcmp(&p, &zero, sizeof p)) return 3;
    pool_free(&p);
    if (setrlimit(RLIMIT_AS, &old)) return 5; /* room for opendir */
    int after = count_tasks();
    for (int k = 0; k < 1000 && after != before; k++) { /* an exited thread may linger in /proc a moment */
        usleep(1000);
        after = count_tasks();
    }
    if (after != before) return 4;
    return 0;
}

static void test_pool_init_error(void) {
    const char *san = getenv("SAN");
    if (san && !strcmp(san, "1")) {
        printf("# pool_init failure: skipped under the sanitizers\n");
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(child_pool_init_fails());
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "pool_init returns EXIT_INTERNAL when a worker cannot start, and stops those it started (child status %d)",
          WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    err_t e = {0};
    pool_t p;
    CHECK(pool_init(&p, POOL_MAX_THREADS + 1, &e) == EXIT_INTERNAL && p.nthreads == 0,
          "more than POOL_MAX_THREADS threads is refused (%s)", e.msg);
    CHECK(pool_cores() >= 1 && pool_cores() == (int)sysconf(_SC_NPROCESSORS_ONLN), "pool_cores = online cores (%d)",
          pool_cores());
}

int main(void) {
    test_no_thread_per_call();
    test_pool_init_error();
    T_DONE();
}
