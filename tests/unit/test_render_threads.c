/* test_render_threads.c - renderers start no thread of their own: one pool
 * per process, created by the tool and lent to plugins through the host's
 * parallel_for (DESIGN.md "Layers, threads and memory").
 *
 * The softline and bezier plugins render a scene large enough for their
 * split backward pass (>= SOFTLINE_PAR_MIN saved entries), then run 100
 * backward calls each through a host whose parallel_for is a 3-thread pool
 * wrapped by a spy.  Checked: the work really was split (more than one
 * thread ran tasks); every thread that ran a task existed before the calls
 * (the pool's); /proc/self/task counts the same threads before and after;
 * and a sampler thread polling /proc/self/task throughout never saw more
 * threads than before (a thread started and joined inside a call would
 * show up there).  The gradients equal those of a serial host, bit for bit. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "host.h"
#include "plugin_host.h"
#include "pool.h"
#include "t.h"
#include "tthreads.h"

static pool_t pool;

/* the host's parallel_for, through the spy */
static void spy_for(void *ctx, int n, plugin_task_fn fn, void *fctx) {
    (void)ctx;
    spy_run(&pool, n, fn, fctx);
}

enum { W = 400, H = 400, NS = 8, NP = 20 };

static void run(const char *name, const char *spec) {
    const char *dir = getenv("PLUGINS");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "build/plugins", spec);
    plugin_t p;
    err_t e = {0};
    host_t hs;
    host_init(&hs, 1, NULL);
    plugin_host_t spy = hs.h, serial = hs.h; /* same services; parallel_for differs */
    spy.parallel_for = spy_for;
    spy.nthreads = pool.nthreads;
    int rc = plugin_open(&p, path, PLUGIN_RENDERER, &e);
    if (!rc) rc = plugin_init(&p, &spy, &e);
    CHECK(rc == 0, "%s: open (%s)", name, e.msg);
    if (rc) return;
    /* 8 random strokes of width 6 (control points for bezier: 3k+1 = 19) */
    int npts[NS], off[NS];
    float xy[2 * NS * NP], wd[NS], op[NS];
    rng_t r;
    rng_seed(&r, 5);
    int n = strstr(spec, "bezier") ? 19 : NP;
    for (int s = 0; s < NS; s++) {
        npts[s] = n, off[s] = s * n, wd[s] = 6, op[s] = 0.8f;
        for (int i = 0; i < n; i++) {
            xy[2 * (s * n + i)] = (float)rng_range(&r, 10, W - 10);
            xy[2 * (s * n + i) + 1] = (float)rng_range(&r, 10, H - 10);
        }
    }
    scene_t sc = {NS, npts, off, xy, wd, op};
    float *img = malloc(sizeof(float) * W * H), *dimg = malloc(sizeof(float) * W * H);
    for (int q = 0; q < W * H; q++) dimg[q] = (float)rng_range(&r, -1, 1);
    static float g1[2 * NS * NP], g2[2 * NS * NP], w1[NS], w2[NS], a1[NS], a2[NS];
    memset(g1, 0, sizeof g1), memset(w1, 0, sizeof w1), memset(a1, 0, sizeof a1);
    memset(g2, 0, sizeof g2), memset(w2, 0, sizeof w2), memset(a2, 0, sizeof a2);
    scene_grad_t gs = {g1, w1, a1}, gp = {g2, w2, a2};
    plugin_err_t pe = {{0}};
    const renderer_vt *vt = p.d->renderer;
    void *ws = plugin_ws(&p, vt->ws_size(p.state, &sc, W, H));
    rc = vt->forward(p.state, ws, &spy, &sc, W, H, img, &pe);
    rc = rc ? rc : vt->backward(p.state, ws, &serial, &sc, W, H, dimg, &gs, &pe);
    CHECK(rc == 0, "%s: forward and a serial backward (%s)", name, pe.msg);

    int before_tids[MAXTID], nb = list_tasks(before_tids, MAXTID);
    nseen = 0;
    max_seen = 0;
    stop = 0;
    pthread_t th;
    pthread_create(&th, NULL, sampler, NULL);
    while (!__atomic_load_n(&max_seen, __ATOMIC_RELAXED)) sched_yield();
    int before = count_tasks(); /* with the sampler */
    for (int k = 0; k < 100 && !rc; k++) {
        memset(g2, 0, sizeof g2), memset(w2, 0, sizeof w2), memset(a2, 0, sizeof a2);
        rc = vt->backward(p.state, ws, &spy, &sc, W, H, dimg, &gp, &pe);
    }
    int after = count_tasks();
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    CHECK(rc == 0, "%s: 100 backward calls through the pool (%s)", name, pe.msg);
    CHECK(nseen > 1, "%s: the backward work was split across %d threads", name, nseen);
    int known = 1;
    for (int k = 0; k < nseen; k++) {
        int in = 0;
        for (int j = 0; j < nb; j++) in |= before_tids[j] == seen[k];
        known &= in;
    }
    CHECK(known, "%s: every thread that ran a task existed before the calls (the pool's)", name);
    CHECK(after == before && max_seen == before,
          "%s: no thread started: /proc/self/task %d before, %d after, at most %d during 100 calls", name, before,
          after, max_seen);
    CHECK(!memcmp(g1, g2, sizeof g1) && !memcmp(w1, w2, sizeof w1) && !memcmp(a1, a2, sizeof a1),
          "%s: the pool-split gradients equal the serial ones bit for bit", name);
    free(img), free(dimg);
    plugin_close(&p);
    host_free(&hs);
}

int main(void) {
    pool_init(&pool, 3, NULL);
    run("softline", "softline.so");
    run("bezier", "bezier.so");
    pool_free(&pool);
    T_DONE();
}
