/* test_clipaug.c - tests of common/warp (perspective, crop-resize, rotation,
 * jitter and their adjoints) and of the clipaug augmentation plugin through
 * the plugin ABI:
 *   1. agreement with an independent PyTorch reference (tests/gen_clipaug_ref.py:
 *      torchvision's kernels rewritten in torch, float64, autograd gradients)
 *      for each transform with fixed parameters, and for the plugin with
 *      scripted RNG draws (doodlebot, the after_normalize quirk, clipasso);
 *   2. dot-product (adjoint) tests <A x, y> = <x, A^T y>, each transform alone
 *      and composed, directly and through the plugin;
 *   3. finite differences of d(sum w*views)/d input through the plugin;
 *   4. identities (p = 0, keep_original, s = 1 crop, 0 degree rotation, ...);
 *   5. reproducibility per seed; error paths; speed at 224x224 (printed).
 * Runs from the repository root (tests/run.sh); finds the plugin in $PLUGINS
 * or build/plugins. */
#define _GNU_SOURCE
#include "plugin_host.h"
#include "rng.h"
#include "t.h"
#include "util.h"
#include "nn/warp.h"
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

static float *read_section(const char *name, const char *key, int *n) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/clipaug/%s.txt", name);
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char k[32];
    int cnt;
    float *v = NULL;
    while (fscanf(f, "%31s %d", k, &cnt) == 2) {
        int want = !strcmp(k, key);
        if (want) v = xmalloc(sizeof(float) * (cnt > 0 ? cnt : 1));
        for (int i = 0; i < cnt; i++) {
            double d;
            if (fscanf(f, "%lf", &d) != 1) {
                free(v);
                fclose(f);
                return NULL;
            }
            if (want) v[i] = (float)d;
        }
        if (want) {
            *n = cnt;
            break;
        }
    }
    fclose(f);
    return v;
}

/* Worst |a-b| - rtol*|b| excess and whether all |a-b| <= atol + rtol*|b|. */
static int compare(const float *a, const float *b, size_t n, double atol, double rtol, double *worst,
                   size_t *at) {
    int ok = 1;
    *worst = 0;
    *at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= atol + rtol * fabs(b[i]))) ok = 0;
        if (!(d <= *worst)) {
            *worst = d;
            *at = i;
        }
    }
    return ok;
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static void fill_uniform(rng_t *r, float *v, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) v[i] = (float)rng_range(r, lo, hi);
}

/* ------------------------------------------------------------- the test host */

typedef struct {
    rng_t r;
    const float *script; /* when set, rng_uniform returns these in turn */
    int nscript, pos, overrun;
} thost_t;

static double th_uniform(void *ctx) {
    thost_t *t = ctx;
    if (t->script) {
        if (t->pos >= t->nscript) {
            t->overrun = 1;
            return 0.5;
        }
        return t->script[t->pos++];
    }
    return rng_uniform(&t->r);
}
static uint64_t th_u64(void *ctx) { return rng_u64(&((thost_t *)ctx)->r); }
static double th_normal(void *ctx) { return rng_normal(&((thost_t *)ctx)->r); }

static plugin_host_t make_host(thost_t *t, uint64_t seed) {
    memset(t, 0, sizeof *t);
    rng_seed(&t->r, seed);
    plugin_host_t h = {.abi = INVCLIP_PLUGIN_ABI,
                       .ctx = t,
                       .rng_u64 = th_u64,
                       .rng_uniform = th_uniform,
                       .rng_normal = th_normal};
    return h;
}

/* An opened, initialised clipaug with a workspace for C x H x W. */
typedef struct {
    plugin_t p;
    const augment_vt *vt;
    void *ws;
    int nv;
} aug_t;

static int aug_open(aug_t *a, const char *args, const plugin_host_t *host, int C, int H, int W) {
    const char *dir = getenv("PLUGINS");
    char spec[512];
    snprintf(spec, sizeof spec, "%s/clipaug.so%s%s", dir && *dir ? dir : "build/plugins", *args ? ":" : "",
             args);
    err_t e = {0};
    memset(a, 0, sizeof *a);
    if (plugin_open(&a->p, spec, PLUGIN_AUGMENT, &e) || plugin_init(&a->p, host, &e)) {
        printf("# %s: %s\n", spec, e.msg);
        return -1;
    }
    a->vt = a->p.d->augment;
    a->nv = a->vt->nviews(a->p.state);
    a->ws = plugin_ws(&a->p, a->vt->ws_size(a->p.state, C, H, W));
    return 0;
}

static int aug_fwd(aug_t *a, const plugin_host_t *h, int C, int H, int W, const float *in, float *out) {
    plugin_err_t pe = {{0}};
    int rc = a->vt->forward(a->p.state, a->ws, h, C, H, W, in, out, &pe);
    if (rc) printf("# forward: %s\n", pe.msg);
    return rc;
}

static int aug_bwd(aug_t *a, int C, int H, int W, const float *dout, float *din) {
    plugin_err_t pe = {{0}};
    int rc = a->vt->backward(a->p.state, a->ws, NULL, C, H, W, dout, din, &pe);
    if (rc) printf("# backward: %s\n", pe.msg);
    return rc;
}

/* ------------------------------------------------------------- 1. reference agreement */

static int RC, RH, RW;
static float *rin;

static int load_input(void) {
    FILE *f = fopen("tests/fixtures/clipaug/input.txt", "r");
    if (!f || fscanf(f, "%d %d %d", &RC, &RH, &RW) != 3) {
        if (f) fclose(f);
        return -1;
    }
    size_t n = (size_t)RC * RH * RW;
    rin = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        double d;
        if (fscanf(f, "%lf", &d) != 1) {
            fclose(f);
            return -1;
        }
        rin[i] = (float)d;
    }
    fclose(f);
    return 0;
}

static void check_case(const char *name, const float *out, const float *din, size_t nout, size_t nin) {
    int n1, n2;
    float *ref = read_section(name, "out", &n1), *rdin = read_section(name, "din", &n2);
    if (!ref || !rdin || (size_t)n1 != nout || (size_t)n2 != nin) {
        CHECK(0, "%s: fixture sections out/din of the right size", name);
        free(ref);
        free(rdin);
        return;
    }
    double w;
    size_t at;
    int ok = compare(out, ref, nout, 1e-5, 1e-5, &w, &at);
    CHECK(ok, "%s: output matches the PyTorch reference (worst |diff| %.2e at %zu)", name, w, at);
    if (!ok) printf("#   got %.9g want %.9g\n", out[at], ref[at]);
    ok = compare(din, rdin, nin, 1e-5, 1e-5, &w, &at);
    CHECK(ok, "%s: adjoint matches torch autograd (worst |diff| %.2e at %zu)", name, w, at);
    if (!ok) printf("#   got %.9g want %.9g\n", din[at], rdin[at]);
    free(ref);
    free(rdin);
}

static void test_reference_direct(void) {
    int C = RC, H = RH, W = RW;
    size_t n = (size_t)C * H * W;
    warp_tap_t *map = xmalloc(sizeof(warp_tap_t) * H * W);
    float *out = xmalloc(n * sizeof(float)), *din = xmalloc(n * sizeof(float));
    uint8_t *mask = xmalloc(n);
    const double start[8] = {0, 0, W - 1, 0, W - 1, H - 1, 0, H - 1};
    const char *cases[] = {"persp_sym",   "persp_in",     "crop_rect", "crop_sq",
                           "rot_nearest", "rot_bilinear", "jitter_a",  "jitter_b"};
    for (int k = 0; k < 8; k++) {
        int np, nd;
        float *pr = read_section(cases[k], "params", &np), *dout = read_section(cases[k], "dout", &nd);
        if (!pr || !dout || (size_t)nd != n) {
            CHECK(0, "%s: fixture readable", cases[k]);
            free(pr);
            free(dout);
            continue;
        }
        memset(din, 0, n * sizeof(float));
        if (k < 2) {
            double end[8], h[9];
            for (int i = 0; i < 8; i++) end[i] = pr[i];
            CHECK(warp_perspective_matrix(start, end, h) == 0, "%s: homography solves", cases[k]);
            warp_map_projective(h, H, W, WARP_BILINEAR, map);
            warp_apply(map, C, H, W, rin, pr[8], out);
            warp_apply_adjoint(map, C, H, W, dout, din);
        } else if (k < 4) {
            warp_map_crop_resize((int)pr[0], (int)pr[1], (int)pr[2], (int)pr[3], H, W, map);
            warp_apply(map, C, H, W, rin, 0, out);
            warp_apply_adjoint(map, C, H, W, dout, din);
        } else if (k < 6) {
            double h[9];
            warp_rotation_matrix(pr[0], H, W, h);
            warp_map_projective(h, H, W, pr[1] ? WARP_BILINEAR : WARP_NEAREST, map);
            warp_apply(map, C, H, W, rin, pr[2], out);
            warp_apply_adjoint(map, C, H, W, dout, din);
        } else {
            jitter_forward(C, H, W, rin, pr[0], pr[1], 0, 1, out, mask);
            jitter_backward(C, H, W, dout, pr[0], pr[1], mask, din);
        }
        check_case(cases[k], out, din, n, n);
        free(pr);
        free(dout);
    }
    free(map);
    free(out);
    free(din);
    free(mask);
}

static void test_reference_plugin(const char *name, const char *args) {
    int C = RC, H = RH, W = RW, nu, nd;
    size_t n = (size_t)C * H * W;
    float *u = read_section(name, "params", &nu), *dout = read_section(name, "dout", &nd);
    thost_t t;
    plugin_host_t host = make_host(&t, 1);
    aug_t a;
    if (!u || !dout || aug_open(&a, args, &host, C, H, W)) {
        CHECK(0, "%s: fixture and plugin load", name);
        free(u);
        free(dout);
        return;
    }
    t.script = u;
    t.nscript = nu;
    float *out = xmalloc(n * a.nv * sizeof(float)), *din = xcalloc(n, sizeof(float));
    int rc = aug_fwd(&a, &host, C, H, W, rin, out);
    CHECK(rc == 0 && !t.overrun && t.pos == nu, "%s: forward consumed exactly the %d scripted uniforms (%d)",
          name, nu, t.pos);
    CHECK((size_t)nd == n * a.nv, "%s: %d views", name, a.nv);
    if (rc == 0 && (size_t)nd == n * a.nv) {
        rc = aug_bwd(&a, C, H, W, dout, din);
        CHECK(rc == 0, "%s: backward", name);
        check_case(name, out, din, n * a.nv, n);
    }
    free(out);
    free(din);
    free(u);
    free(dout);
    plugin_close(&a.p);
}

/* ------------------------------------------------------------- 2. adjoint (dot-product) tests */

static void test_dot_direct(void) {
    const int C = 3, H = 37, W = 45;
    size_t n = (size_t)C * H * W, hw = (size_t)H * W;
    rng_t r;
    rng_seed(&r, 42);
    float *x = xmalloc(n * 4), *y = xmalloc(n * 4), *ax = xmalloc(n * 4), *aty = xmalloc(n * 4);
    float *t1 = xmalloc(n * 4), *t2 = xmalloc(n * 4);
    uint8_t *mask = xmalloc(n);
    warp_tap_t *maps = xmalloc(sizeof(warp_tap_t) * hw * 4);
    fill_uniform(&r, x, n, -1, 1);
    fill_uniform(&r, y, n, -1, 1);
    const double start[8] = {0, 0, W - 1, 0, W - 1, H - 1, 0, H - 1};
    double end[8], hp[9], hr[9], hb[9];
    for (int k = 0; k < 8; k++) end[k] = start[k] + rng_range(&r, -0.3, 0.3) * (k & 1 ? H / 2 : W / 2);
    warp_perspective_matrix(start, end, hp);
    warp_map_projective(hp, H, W, WARP_BILINEAR, maps);
    warp_map_crop_resize(5, 3, 26, 31, H, W, maps + hw);
    warp_rotation_matrix(13.7, H, W, hr);
    warp_map_projective(hr, H, W, WARP_NEAREST, maps + 2 * hw);
    warp_rotation_matrix(-21.2, H, W, hb);
    warp_map_projective(hb, H, W, WARP_BILINEAR, maps + 3 * hw);
    const char *names[] = {"perspective (bilinear)", "crop-resize", "rotation (nearest)",
                           "rotation (bilinear)"};
    double worst = 0;
    for (int k = 0; k < 4; k++) {
        warp_apply(maps + k * hw, C, H, W, x, 0, ax);
        memset(aty, 0, n * 4);
        warp_apply_adjoint(maps + k * hw, C, H, W, y, aty);
        double l = dot(ax, y, n), rr = dot(x, aty, n), rel = fabs(l - rr) / fabs(l);
        if (rel > worst) worst = rel;
        CHECK(rel < 1e-5, "dot test %s: <Ax,y> %.9g vs <x,A'y> %.9g, rel err %.1e (tol 1e-5)", names[k], l,
              rr, rel);
    }
    /* jitter without clamp is linear */
    jitter_forward(C, H, W, x, 1.08, 0.91, -1e30f, 1e30f, ax, mask);
    memset(aty, 0, n * 4);
    jitter_backward(C, H, W, y, 1.08, 0.91, mask, aty);
    double l = dot(ax, y, n), rr = dot(x, aty, n);
    CHECK(fabs(l - rr) / fabs(l) < 1e-5, "dot test jitter (no clamp): rel err %.1e", fabs(l - rr) / fabs(l));
    /* with the clamp: the linearisation at x (mask fixed) */
    jitter_forward(C, H, W, x, 1.08, 0.91, -0.5f, 0.5f, ax, mask);
    size_t sat = 0;
    for (size_t i = 0; i < n; i++) sat += !mask[i];
    memset(aty, 0, n * 4);
    jitter_backward(C, H, W, y, 1.08, 0.91, mask, aty);
    /* A_lin x: recompute with the mask applied to the unclamped values */
    jitter_forward(C, H, W, x, 1.08, 0.91, -1e30f, 1e30f, t1, NULL);
    for (size_t i = 0; i < n; i++) t1[i] = mask[i] ? t1[i] : 0;
    l = dot(t1, y, n);
    rr = dot(x, aty, n);
    CHECK(sat > n / 10 && fabs(l - rr) / fabs(l) < 1e-5,
          "dot test jitter with clamp [-0.5,0.5] (%zu of %zu saturated): rel err %.1e", sat, n,
          fabs(l - rr) / fabs(l));
    /* all composed: perspective -> crop -> rotation -> jitter (no clamp) */
    warp_apply(maps, C, H, W, x, 0, t1);
    warp_apply(maps + hw, C, H, W, t1, 0, t2);
    warp_apply(maps + 2 * hw, C, H, W, t2, 0, t1);
    jitter_forward(C, H, W, t1, 0.95, 1.07, -1e30f, 1e30f, ax, mask);
    memset(t1, 0, n * 4);
    jitter_backward(C, H, W, y, 0.95, 1.07, mask, t1);
    memset(t2, 0, n * 4);
    warp_apply_adjoint(maps + 2 * hw, C, H, W, t1, t2);
    memset(t1, 0, n * 4);
    warp_apply_adjoint(maps + hw, C, H, W, t2, t1);
    memset(aty, 0, n * 4);
    warp_apply_adjoint(maps, C, H, W, t1, aty);
    l = dot(ax, y, n);
    rr = dot(x, aty, n);
    CHECK(fabs(l - rr) / fabs(l) < 1e-5,
          "dot test composed persp+crop+rot+jitter: rel err %.1e (worst single %.1e)", fabs(l - rr) / fabs(l),
          worst);
    free(x);
    free(y);
    free(ax);
    free(aty);
    free(t1);
    free(t2);
    free(mask);
    free(maps);
}

/* Through the plugin: A(x) - A(0) is linear when jitter is off (fill is the
 * only constant); the same seed replays the same transforms. */
static void test_dot_plugin(const char *args, int C, int H, int W) {
    size_t n = (size_t)C * H * W;
    thost_t t;
    plugin_host_t host = make_host(&t, 5);
    aug_t a;
    if (aug_open(&a, args, &host, C, H, W)) {
        CHECK(0, "open clipaug:%s", args);
        return;
    }
    size_t no = n * a.nv;
    rng_t r;
    rng_seed(&r, 9);
    float *x = xmalloc(n * 4), *zero = xcalloc(n, 4), *y = xmalloc(no * 4), *ax = xmalloc(no * 4);
    float *a0 = xmalloc(no * 4), *aty = xcalloc(n, 4);
    fill_uniform(&r, x, n, 0, 1);
    fill_uniform(&r, y, no, -1, 1);
    rng_seed(&t.r, 77);
    aug_fwd(&a, &host, C, H, W, zero, a0);
    rng_seed(&t.r, 77);
    aug_fwd(&a, &host, C, H, W, x, ax);
    aug_bwd(&a, C, H, W, y, aty);
    for (size_t i = 0; i < no; i++) ax[i] -= a0[i];
    double l = dot(ax, y, no), rr = dot(x, aty, n), rel = fabs(l - rr) / fabs(l);
    CHECK(rel < 1e-5,
          "plugin dot test [%s] %dx%dx%d, %d views: <Ax,y> %.9g <x,A'y> %.9g rel err %.1e (tol 1e-5)", args,
          C, H, W, a.nv, l, rr, rel);
    free(x);
    free(zero);
    free(y);
    free(ax);
    free(a0);
    free(aty);
    plugin_close(&a.p);
}

/* ------------------------------------------------------------- 3. finite differences */

static double loss_at(aug_t *a, plugin_host_t *h, thost_t *t, int C, int H, int W, const float *x,
                      const float *w, float *out) {
    rng_seed(&t->r, 1234);
    aug_fwd(a, h, C, H, W, x, out);
    return dot(out, w, (size_t)a->nv * C * H * W);
}

static void test_fd(const char *args) {
    const int C = 3, H = 18, W = 22;
    size_t n = (size_t)C * H * W;
    thost_t t;
    plugin_host_t host = make_host(&t, 3);
    aug_t a;
    if (aug_open(&a, args, &host, C, H, W)) {
        CHECK(0, "open clipaug:%s", args);
        return;
    }
    size_t no = n * a.nv;
    rng_t r;
    rng_seed(&r, 11);
    float *x = xmalloc(n * 4), *w = xmalloc(no * 4), *out = xmalloc(no * 4), *g = xcalloc(n, 4);
    fill_uniform(&r, x, n, 0, 1);
    for (size_t i = 0; i < n; i += 7) x[i] = 1.0f; /* some white paper: saturates under brightness > 1 */
    fill_uniform(&r, w, no, -1, 1);
    loss_at(&a, &host, &t, C, H, W, x, w, out);
    aug_bwd(&a, C, H, W, w, g);
    /* The views are piecewise linear in the image (warps and jitter are
     * linear, the clamp has kinks): where the two one-sided differences
     * disagree a kink lies inside [x-eps, x+eps] and the pixel is skipped
     * (counted; at most a few are allowed). */
    const double eps = 1e-3;
    double l0 = loss_at(&a, &host, &t, C, H, W, x, w, out);
    int bad = 0, checked = 0, kinks = 0;
    double worst = 0;
    for (int k = 0; k < 40; k++) {
        size_t i = rng_below(&r, n);
        float x0 = x[i];
        x[i] = x0 + (float)eps;
        double lp = loss_at(&a, &host, &t, C, H, W, x, w, out);
        x[i] = x0 - (float)eps;
        double lm = loss_at(&a, &host, &t, C, H, W, x, w, out);
        x[i] = x0;
        double fd = (lp - lm) / (2 * eps), d = fabs(fd - g[i]);
        double fwd = (lp - l0) / eps, bwd = (l0 - lm) / eps;
        if (fabs(fwd - bwd) > 5e-3 + 2e-3 * fabs(fd)) {
            kinks++;
            continue;
        }
        checked++;
        if (d > worst) worst = d;
        if (d > 2e-3 + 2e-3 * fabs(fd)) {
            bad++;
            printf("#   pixel %zu: analytic %.6g fd %.6g\n", i, g[i], fd);
        }
    }
    CHECK(bad == 0 && kinks <= 4,
          "finite differences [%s]: %d/%d pixels agree, %d skipped at a clamp kink (worst |diff| %.1e, "
          "tol 2e-3 + 2e-3 rel)",
          args, checked - bad, checked, kinks, worst);
    free(x);
    free(w);
    free(out);
    free(g);
    plugin_close(&a.p);
}

/* ------------------------------------------------------------- 4. identities */

static void test_identities(void) {
    const int C = 3, H = 31, W = 27;
    size_t n = (size_t)C * H * W, hw = (size_t)H * W;
    rng_t r;
    rng_seed(&r, 5);
    float *x = xmalloc(n * 4), *y = xmalloc(n * 4);
    warp_tap_t *map = xmalloc(sizeof(warp_tap_t) * hw);
    fill_uniform(&r, x, n, 0, 1);
    warp_map_crop_resize(0, 0, H, W, H, W, map);
    warp_apply(map, C, H, W, x, 0.5f, y);
    CHECK(!memcmp(x, y, n * 4), "crop-resize with s=1 is the identity (bit-exact)");
    double h[9];
    for (int interp = 0; interp < 2; interp++) {
        warp_rotation_matrix(0, H, W, h);
        warp_map_projective(h, H, W, interp, map);
        warp_apply(map, C, H, W, x, 0.5f, y);
        CHECK(!memcmp(x, y, n * 4), "rotation by 0 degrees is the identity (%s, bit-exact)",
              interp ? "bilinear" : "nearest");
    }
    const double start[8] = {0, 0, W - 1, 0, W - 1, H - 1, 0, H - 1};
    warp_perspective_matrix(start, start, h);
    warp_map_projective(h, H, W, WARP_BILINEAR, map);
    warp_apply(map, C, H, W, x, 0.5f, y);
    double wd;
    size_t at;
    CHECK(compare(y, x, n, 1e-6, 0, &wd, &at),
          "perspective with unmoved corners is the identity (worst %.1e)", wd);
    jitter_forward(C, H, W, x, 1, 1, 0, 1, y, NULL);
    CHECK(compare(y, x, n, 1e-7, 0, &wd, &at), "jitter with factors 1 is the identity (worst %.1e)", wd);
    /* a rotation by 90 degrees of a square image permutes pixels exactly */
    {
        const int S = 9;
        float sq[81], rot[81];
        warp_tap_t m9[81];
        for (int i = 0; i < 81; i++) sq[i] = (float)i;
        warp_rotation_matrix(90, S, S, h);
        warp_map_projective(h, S, S, WARP_NEAREST, m9);
        warp_apply(m9, 1, S, S, sq, -1, rot);
        int ok = 1;
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) ok &= rot[i * S + j] == sq[j * S + (S - 1 - i)];
        CHECK(ok, "rotation by +90 degrees turns the content counter-clockwise (out(i,j) = in(j, S-1-i))");
    }

    /* through the plugin */
    thost_t t;
    plugin_host_t host = make_host(&t, 99);
    const char *idargs[] = {"persp_p=0,crop_p=0,rot_p=0,jitter_p=0,nviews=4",
                            "persp_p=0,crop_p=1,crop_min=1,crop_max=1,rot_p=0,jitter_p=0,nviews=3",
                            "persp_p=0,crop_p=0,rot_p=1,rot_deg=0,jitter_p=0,nviews=3",
                            "persp_p=0,crop_p=0,rot_p=0,jitter_p=0,nviews=4,keep_original=false"};
    for (int k = 0; k < 4; k++) {
        aug_t a;
        if (aug_open(&a, idargs[k], &host, C, H, W)) {
            CHECK(0, "open %s", idargs[k]);
            continue;
        }
        float *out = xmalloc(n * a.nv * 4);
        int ok = aug_fwd(&a, &host, C, H, W, x, out) == 0;
        for (int v = 0; v < a.nv && ok; v++) ok = !memcmp(out + v * n, x, n * 4);
        CHECK(ok, "clipaug:%s: all %d views equal the input", idargs[k], a.nv);
        free(out);
        plugin_close(&a.p);
    }
    {
        aug_t a;
        if (!aug_open(&a, "persp_p=0,crop_p=0,rot_p=0,jitter_p=0,after_normalize=true", &host, C, H, W)) {
            float *out = xmalloc(n * a.nv * 4);
            aug_fwd(&a, &host, C, H, W, x, out);
            double worst = 0;
            for (int v = 0; v < a.nv; v++) {
                compare(out + v * n, x, n, 0, 0, &wd, &at);
                if (wd > worst) worst = wd;
            }
            CHECK(worst < 1e-6, "after_normalize with p=0: views equal the input up to float rounding (%.1e)",
                  worst);
            free(out);
            plugin_close(&a.p);
        } else
            CHECK(0, "open after_normalize");
    }
    /* keep_original with every transform on: view 0 is the input, the others are not */
    {
        aug_t a;
        if (!aug_open(&a, "persp_p=1,crop_p=1,rot_p=1,jitter_p=1", &host, C, H, W)) {
            float *out = xmalloc(n * a.nv * 4);
            aug_fwd(&a, &host, C, H, W, x, out);
            int diff = 1;
            for (int v = 1; v < a.nv; v++) diff &= memcmp(out + v * n, x, n * 4) != 0;
            CHECK(a.nv == 4 && !memcmp(out, x, n * 4) && diff,
                  "keep_original: view 0 equals the input, views 1..%d differ", a.nv - 1);
            free(out);
            plugin_close(&a.p);
        } else
            CHECK(0, "open all-on");
    }
    free(x);
    free(y);
    free(map);
}

/* ------------------------------------------------------------- 5. reproducibility, errors, speed */

static void test_repro(void) {
    const int C = 3, H = 40, W = 40;
    size_t n = (size_t)C * H * W;
    thost_t t;
    plugin_host_t host = make_host(&t, 7);
    aug_t a;
    if (aug_open(&a, "persp_p=1,crop_p=1,rot_p=1,jitter_p=1", &host, C, H, W)) {
        CHECK(0, "open");
        return;
    }
    rng_t r;
    rng_seed(&r, 1);
    float *x = xmalloc(n * 4), *o1 = xmalloc(n * a.nv * 4), *o2 = xmalloc(n * a.nv * 4);
    fill_uniform(&r, x, n, 0, 1);
    rng_seed(&t.r, 7);
    aug_fwd(&a, &host, C, H, W, x, o1);
    rng_seed(&t.r, 7);
    aug_fwd(&a, &host, C, H, W, x, o2);
    CHECK(!memcmp(o1, o2, n * a.nv * 4), "same seed: identical views");
    rng_seed(&t.r, 8);
    aug_fwd(&a, &host, C, H, W, x, o2);
    int all_differ = 1;
    for (int v = 1; v < a.nv; v++) all_differ &= memcmp(o1 + v * n, o2 + v * n, n * 4) != 0;
    CHECK(all_differ, "another seed: every augmented view differs");
    free(x);
    free(o1);
    free(o2);
    plugin_close(&a.p);
}

static void test_errors(void) {
    thost_t t;
    plugin_host_t host = make_host(&t, 1);
    aug_t a;
    float img[16] = {0}, out[16 * 8], din[16];
    if (!aug_open(&a, "", &host, 1, 4, 4)) {
        plugin_err_t pe = {{0}};
        int rc = a.vt->backward(a.p.state, a.ws, &host, 1, 4, 4, out, din, &pe);
        CHECK(rc == EXIT_INTERNAL, "backward before any forward is refused (%d: %s)", rc, pe.msg);
        plugin_close(&a.p);
    }
    if (!aug_open(&a, "after_normalize=true", &host, 1, 4, 4)) {
        plugin_err_t pe = {{0}};
        int rc = a.vt->forward(a.p.state, a.ws, &host, 1, 4, 4, img, out, &pe);
        CHECK(rc == EXIT_USAGE, "after_normalize on a grey image is refused (%d: %s)", rc, pe.msg);
        plugin_close(&a.p);
    }
    err_t e = {0};
    plugin_t p;
    char spec[512];
    const char *dir = getenv("PLUGINS");
    snprintf(spec, sizeof spec, "%s/clipaug.so:crop_min=0.9,crop_max=0.8",
             dir && *dir ? dir : "build/plugins");
    int rc = plugin_open(&p, spec, PLUGIN_AUGMENT, &e);
    if (!rc) rc = plugin_init(&p, &host, &e);
    CHECK(rc == EXIT_USAGE, "crop_min > crop_max is refused (%d: %s)", rc, e.msg);
    plugin_close(&p);
    snprintf(spec, sizeof spec, "%s/clipaug.so:persp_p=1.5", dir && *dir ? dir : "build/plugins");
    rc = plugin_open(&p, spec, PLUGIN_AUGMENT, &e);
    CHECK(rc == EXIT_USAGE, "persp_p=1.5 is out of range (%d)", rc);
    plugin_close(&p);
}

static void test_presets(void) {
    thost_t t;
    plugin_host_t host = make_host(&t, 1);
    const char *ps[] = {"preset=doodlebot", "preset=doodlebot-optimizer", "preset=clipasso",
                        "preset=clipasso,nviews=2"};
    int want[] = {4, 4, 5, 2};
    for (int k = 0; k < 4; k++) {
        aug_t a;
        int ok = !aug_open(&a, ps[k], &host, 3, 8, 8);
        CHECK(ok && a.nv == want[k], "%s: %d views", ps[k], ok ? a.nv : -1);
        if (ok) plugin_close(&a.p);
    }
}

static void test_speed(void) {
    const int C = 3, H = 224, W = 224, iters = 20;
    size_t n = (size_t)C * H * W;
    thost_t t;
    plugin_host_t host = make_host(&t, 1);
    aug_t a;
    if (aug_open(&a, "persp_p=1,crop_p=1,rot_p=1,jitter_p=1", &host, C, H, W)) return;
    float *x = xcalloc(n, 4), *out = xmalloc(n * a.nv * 4), *din = xcalloc(n, 4);
    double t0 = now_sec();
    for (int i = 0; i < iters; i++) aug_fwd(&a, &host, C, H, W, x, out);
    double t1 = now_sec();
    for (int i = 0; i < iters; i++) aug_bwd(&a, C, H, W, out, din);
    double t2 = now_sec();
    printf(
        "# speed 3x224x224, %d views (every transform on): forward %.2f ms, backward %.2f ms, ws %.1f MB\n",
        a.nv, (t1 - t0) * 1e3 / iters, (t2 - t1) * 1e3 / iters,
        a.vt->ws_size(a.p.state, C, H, W) / 1048576.0);
    free(x);
    free(out);
    free(din);
    plugin_close(&a.p);
}

int main(void) {
    if (load_input()) {
        CHECK(0, "tests/fixtures/clipaug/input.txt readable (run from the repository root)");
        T_DONE();
    }
    test_reference_direct();
    test_reference_plugin("plugin_doodlebot", "nviews=3");
    test_reference_plugin("plugin_quirk", "nviews=3,after_normalize=true");
    test_reference_plugin("plugin_clipasso", "preset=clipasso,nviews=2");
    test_dot_direct();
    test_dot_plugin("persp_p=1,crop_p=1,rot_p=1,jitter_p=0", 3, 224, 224);
    test_dot_plugin("persp_p=1,crop_p=1,rot_p=1,jitter_p=0,rot_interp=bilinear,after_normalize=true", 3, 64,
                    48);
    test_dot_plugin("preset=clipasso", 3, 50, 60);
    test_dot_plugin("persp_p=1,crop_p=1,rot_p=1,jitter_p=0,keep_original=false,nviews=3", 1, 33, 29);
    test_fd("persp_p=1,crop_p=1,rot_p=1,jitter_p=1");
    test_fd("persp_p=1,crop_p=1,rot_p=1,jitter_p=1,rot_interp=bilinear,after_normalize=true,brightness=0.3");
    test_fd("preset=clipasso");
    test_identities();
    test_repro();
    test_errors();
    test_presets();
    test_speed();
    free(rin);
    T_DONE();
}
