/* test_plugins.c - the harness every plugin in $PLUGINS goes through.
 *
 * Each .so found is loaded with default parameters, initialised with a test
 * host (seeded RNG), and run forward and backward on a fixed input:
 *   renderer     3 strokes (encoded through the plugin's encode()) on 64x64;
 *                the image must be finite and in [0,1], two forwards
 *                identical, and the directional derivative of
 *                L = sum(dimg * img) along a random direction in (xy, width,
 *                opacity) must match central finite differences.
 *   augmentation a 3x32x32 image; views finite; with the RNG replayed the
 *                directional derivative of sum(w * views) w.r.t. the image
 *                must match finite differences.
 *   loss         evaluated on a textured image and a batch of 3 views of it;
 *                value and gradients finite, and the directional
 *                derivatives w.r.t. the image and w.r.t. the views must
 *                match central finite differences.
 * The test host is common/host.c's with a 2-thread pool, so plugins' use of
 * parallel_for runs concurrently here (and under ASan/UBSan in make check),
 * and a small closed-form CLIP (32x32 images, the size of the loss's image
 * and views) with the real tokenizer, so losses built on the CLIP services
 * are differentiated end to end through handles.  A loss's derivatives are
 * taken at two steps (1e-4 for losses with kinks, 1e-2 for float32 models
 * whose rounding swamps the small step); one must agree.
 * Plugin-specific, tighter checks live in each plugin's own test file; this
 * one guarantees that nothing loadable is left unexercised (also under
 * ASan/UBSan in make check). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include "host.h"
#include "plugin_host.h"
#include "pool.h"
#include "rng.h"
#include "t.h"

static host_t hs;   /* host_init + host_set_pool in main; plugins get &hs.h */
#define host (hs.h)

static int all_finite(const float *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

enum { W = 64, H = 64, MAXP = 4096 };

typedef struct {
    int ns, npts[3], off[3];
    float xy[2 * MAXP], width[3], opacity[3];
} tscene_t;

static double render_loss(plugin_t *p, tscene_t *t, const float *dimg, float *img) {
    scene_t sc = {t->ns, t->npts, t->off, t->xy, t->width, t->opacity};
    plugin_err_t pe = {{0}};
    void *ws = plugin_ws(p, p->d->renderer->ws_size(p->state, &sc, W, H));
    if (p->d->renderer->forward(p->state, ws, &host, &sc, W, H, img, &pe)) return NAN;
    double L = 0;
    for (int i = 0; i < W * H; i++) L += (double)dimg[i] * img[i];
    return L;
}

static void test_renderer(plugin_t *p) {
    const char *nm = p->d->name;
    /* three polylines: a zig-zag, an arc, a short stroke crossing the first */
    float poly[3][2 * 12];
    int pn[3] = {6, 10, 3};
    for (int i = 0; i < 6; i++) { poly[0][2 * i] = 8.3f + 9.1f * i; poly[0][2 * i + 1] = 20.2f + (i % 2 ? 7.3f : -4.1f); }
    for (int i = 0; i < 10; i++) {
        double a = 0.3 + 0.28 * i;
        poly[1][2 * i] = (float)(32.4 + 18.7 * cos(a));
        poly[1][2 * i + 1] = (float)(38.6 + 15.3 * sin(a));
    }
    float s3[] = {20.7f, 8.9f, 27.2f, 31.4f, 35.3f, 44.1f};
    memcpy(poly[2], s3, sizeof s3);
    tscene_t *t = calloc(1, sizeof *t);
    t->ns = 3;
    int off = 0, ok = 1;
    for (int s = 0; s < 3; s++) {
        plugin_err_t pe = {{0}};
        int n = plugin_encode(p, poly[s], pn[s], t->xy + 2 * off, MAXP - off, &pe);
        if (n < 0 || n > MAXP - off) { ok = 0; break; }
        t->npts[s] = n;
        t->off[s] = off;
        off += n;
        t->width[s] = 2.5f + 0.5f * s;
        t->opacity[s] = 0.9f - 0.1f * s;
    }
    CHECK(ok, "%s: encode polylines", nm);
    float *img = malloc(sizeof(float) * W * H), *img2 = malloc(sizeof(float) * W * H);
    float *dimg = malloc(sizeof(float) * W * H);
    rng_t r;
    rng_seed(&r, 5);
    for (int i = 0; i < W * H; i++) dimg[i] = (float)rng_range(&r, -1, 1);
    double L0 = render_loss(p, t, dimg, img);
    int inrange = all_finite(img, W * H);
    double ink = 0;
    for (int i = 0; i < W * H; i++) {
        if (img[i] < 0 || img[i] > 1) inrange = 0;
        ink += 1 - img[i];
    }
    CHECK(isfinite(L0) && inrange, "%s: forward finite, in [0,1]", nm);
    CHECK(ink > 20, "%s: strokes leave ink (%.1f)", nm, ink);
    render_loss(p, t, dimg, img2);
    CHECK(!memcmp(img, img2, sizeof(float) * W * H), "%s: forward is deterministic", nm);

    /* analytic directional derivative */
    int P = off;
    float *gxy = calloc((size_t)2 * P, sizeof(float)), gw[3] = {0}, go[3] = {0};
    scene_t sc = {t->ns, t->npts, t->off, t->xy, t->width, t->opacity};
    scene_grad_t g = {gxy, gw, go};
    plugin_err_t pe = {{0}};
    render_loss(p, t, dimg, img);
    int rc = p->d->renderer->backward(p->state, p->ws, &host, &sc, W, H, dimg, &g, &pe);
    CHECK(rc == 0 && all_finite(gxy, 2 * (size_t)P) && all_finite(gw, 3) && all_finite(go, 3), "%s: backward finite", nm);
    float *vxy = malloc(sizeof(float) * 2 * (size_t)P), vw[3], vo[3];
    for (int i = 0; i < 2 * P; i++) vxy[i] = (float)rng_range(&r, -1, 1);
    for (int i = 0; i < 3; i++) { vw[i] = (float)rng_range(&r, -1, 1); vo[i] = (float)rng_range(&r, -1, 1); }
    for (int part = 0; part < 3; part++) {
        const char *pname[] = {"xy", "width", "opacity"};
        double an = 0;
        if (part == 0) for (int i = 0; i < 2 * P; i++) an += (double)gxy[i] * vxy[i];
        if (part == 1) for (int i = 0; i < 3; i++) an += (double)gw[i] * vw[i];
        if (part == 2) for (int i = 0; i < 3; i++) an += (double)go[i] * vo[i];
        double h = part == 2 ? 0.01 : 0.02, Lp, Lm;
        tscene_t *q = malloc(sizeof *q);
        for (int sgn = 0; sgn < 2; sgn++) {
            memcpy(q, t, sizeof *q);
            double s = sgn ? -h : h;
            if (part == 0) for (int i = 0; i < 2 * P; i++) q->xy[i] += (float)(s * vxy[i]);
            if (part == 1) for (int i = 0; i < 3; i++) q->width[i] += (float)(s * vw[i]);
            if (part == 2) for (int i = 0; i < 3; i++) q->opacity[i] += (float)(s * vo[i]);
            double L = render_loss(p, q, dimg, img2);
            if (sgn) Lm = L; else Lp = L;
        }
        free(q);
        double fd = (Lp - Lm) / (2 * h);
        /* float32 renderers: 3% of the larger magnitude, plus an absolute floor */
        double tol = 0.03 * fmax(fabs(fd), fabs(an)) + 0.05;
        CHECK(fabs(fd - an) <= tol, "%s: d/d%s along a random direction: analytic %.5g, central FD %.5g", nm,
              pname[part], an, fd);
    }
    free(vxy); free(gxy); free(img); free(img2); free(dimg); free(t);
}

static void test_augment(plugin_t *p) {
    const char *nm = p->d->name;
    enum { C = 3, AH = 32, AW = 32 };
    size_t n = (size_t)C * AH * AW;
    int K = p->d->augment->nviews(p->state);
    CHECK(K >= 1 && K <= 64, "%s: nviews %d", nm, K);
    if (K < 1 || K > 64) return;
    float *x = malloc(sizeof(float) * n), *v = malloc(sizeof(float) * n), *xs = malloc(sizeof(float) * n);
    float *out = malloc(sizeof(float) * n * K), *w = malloc(sizeof(float) * n * K), *din = calloc(n, sizeof(float));
    rng_t r;
    rng_seed(&r, 9);
    for (size_t i = 0; i < n; i++) {
        int yy = (int)(i / AW) % AH, xx = (int)(i % AW);
        x[i] = (float)(0.5 + 0.3 * sin(0.4 * xx + 0.1 * yy) * cos(0.3 * yy)); /* smooth, away from 0 and 1 */
        v[i] = (float)rng_range(&r, -1, 1);
    }
    for (size_t i = 0; i < n * K; i++) w[i] = (float)rng_range(&r, -1, 1);
    plugin_err_t pe = {{0}};
    void *ws = plugin_ws(p, p->d->augment->ws_size(p->state, C, AH, AW));
    rng_seed(&hs.rng, 77);
    int rc = p->d->augment->forward(p->state, ws, &host, C, AH, AW, x, out, &pe);
    CHECK(rc == 0 && all_finite(out, n * K), "%s: forward finite (%s)", nm, pe.msg);
    rc = p->d->augment->backward(p->state, ws, &host, C, AH, AW, w, din, &pe);
    CHECK(rc == 0 && all_finite(din, n), "%s: backward finite", nm);
    double an = 0, L[2];
    for (size_t i = 0; i < n; i++) an += (double)din[i] * v[i];
    double h = 1e-2;
    for (int sgn = 0; sgn < 2; sgn++) {
        for (size_t i = 0; i < n; i++) xs[i] = x[i] + (float)((sgn ? -h : h) * v[i]);
        rng_seed(&hs.rng, 77); /* replay the same random transforms */
        p->d->augment->forward(p->state, ws, &host, C, AH, AW, xs, out, &pe);
        L[sgn] = 0;
        for (size_t i = 0; i < n * K; i++) L[sgn] += (double)w[i] * out[i];
    }
    double fd = (L[0] - L[1]) / (2 * h);
    CHECK(fabs(fd - an) <= 0.01 * fmax(fabs(fd), fabs(an)) + 0.02, "%s: d/dimage along a random direction: analytic %.5g, FD %.5g",
          nm, an, fd);
    free(x); free(v); free(xs); free(out); free(w); free(din);
}

/* sum(dimg * v) over n floats */
static double dot(const float *g, const float *v, size_t n) {
    double a = 0;
    for (size_t i = 0; i < n; i++) a += (double)g[i] * v[i];
    return a;
}

/* The loss at (img + s*vi, views + s*vv), value only. */
static double loss_at(plugin_t *p, const loss_in_t *in, const float *vi, const float *vv, double s, float *ip,
                      float *vp) {
    size_t n = (size_t)in->C * in->H * in->W;
    for (size_t i = 0; i < n; i++) ip[i] = in->img[i] + (float)(s * vi[i]);
    for (size_t i = 0; i < n * in->N; i++) vp[i] = in->views[i] + (float)(s * vv[i]);
    loss_in_t in2 = *in;
    in2.img = ip;
    in2.views = vp;
    loss_out_t o2 = {0};
    plugin_err_t pe = {{0}};
    if (p->d->loss->eval(p->state, p->ws, &host, &in2, &o2, &pe)) return NAN;
    return o2.value;
}

static void test_loss(plugin_t *p) {
    const char *nm = p->d->name;
    enum { C = 3, LH = 32, LW = 32, NV = 3 };
    size_t n = (size_t)C * LH * LW;
    float *img = malloc(sizeof(float) * n), *dimg = calloc(n, sizeof(float));
    float *views = malloc(sizeof(float) * n * NV), *dviews = calloc(n * NV, sizeof(float));
    /* a ramp with texture: neighbouring differences stay >= 0.005 in x and y,
     * so losses built on |difference| have no kink within the FD steps; the
     * views are shifted, differently textured copies */
    for (int c = 0; c < C; c++)
        for (int y = 0; y < LH; y++)
            for (int x = 0; x < LW; x++) {
                size_t k = ((size_t)c * LH + y) * LW + x;
                img[k] = (float)(0.05 + 0.01 * x + 0.015 * y + 0.05 * c + 0.002 * sin(0.7 * x * y));
                for (int v = 0; v < NV; v++)
                    views[v * n + k] = (float)(0.1 + 0.012 * x + 0.011 * y + 0.04 * c + 0.03 * v +
                                               0.002 * cos(0.5 * x * y + v));
            }
    loss_in_t in = {.img = img, .C = C, .H = LH, .W = LW, .views = views, .N = NV};
    loss_out_t out = {.dimg = dimg, .dviews = dviews};
    plugin_err_t pe = {{0}};
    host_set_step(&hs, 3, 10);
    int rc = p->d->loss->eval(p->state, plugin_ws(p, p->d->loss->ws_size(p->state, &in)), &host, &in, &out, &pe);
    /* losses that need a service the test host lacks must say so, not crash */
    CHECK((rc == 0 && isfinite(out.value) && all_finite(dimg, n) && all_finite(dviews, n * NV)) ||
              (rc != 0 && pe.msg[0]),
          "%s: eval finite or a clear error (%s)", nm, pe.msg);
    CHECK(host_live_handles(&hs) == 0, "%s: every CLIP handle released", nm);
    if (rc == 0) {
        /* d value / d image and d value / d views along random directions, by central differences */
        float *vi = calloc(n, sizeof(float)), *vv = calloc(n * NV, sizeof(float));
        float *ip = malloc(sizeof(float) * n), *vp = malloc(sizeof(float) * n * NV);
        rng_t r;
        rng_seed(&r, 13);
        double h = 1e-4; /* small: |d| losses have kinks where a difference is 0 */
        for (int part = 0; part < 2; part++) {
            memset(vi, 0, sizeof(float) * n);
            memset(vv, 0, sizeof(float) * n * NV);
            if (part == 0) for (size_t i = 0; i < n; i++) vi[i] = (float)rng_range(&r, -1, 1);
            else for (size_t i = 0; i < n * NV; i++) vv[i] = (float)rng_range(&r, -1, 1);
            double an = part == 0 ? dot(dimg, vi, n) : dot(dviews, vv, n * NV), fd[2];
            int agree = 0;
            for (int k = 0; k < 2; k++) {
                double hk = k ? 1e-2 : h;
                fd[k] = (loss_at(p, &in, vi, vv, hk, ip, vp) - loss_at(p, &in, vi, vv, -hk, ip, vp)) / (2 * hk);
                agree |= fabs(fd[k] - an) <= 0.01 * fmax(fabs(fd[k]), fabs(an)) + 1e-6;
            }
            CHECK(agree, "%s: d/d%s along a random direction: analytic %.6g, FD %.6g (h=1e-4) / %.6g (h=1e-2)", nm,
                  part ? "views" : "image", an, fd[0], fd[1]);
        }
        free(vi); free(vv); free(ip); free(vp);
    }
    free(img); free(dimg); free(views); free(dviews);
}

int main(void) {
    pool_t pool;
    pool_init(&pool, 2, NULL);
    /* a small CLIP whose image size is the loss test's 32x32 */
    const clip_config_t ccfg = {.v_width = 64, .v_layers = 2, .v_heads = 2, .patch = 8, .image_size = 32,
                                .t_width = 16, .t_layers = 1, .t_heads = 1, .context = 77, .vocab = 49408,
                                .embed_dim = 16, .mlp_ratio = 4};
    clip_params_t cw = {0};
    clip_params_alloc(&cw, &ccfg);
    clip_params_closed_form(&cw);
    clip_model_t clip; /* on the test's one pool, as a tool lends it */
    err_t be = {0};
    const clip_open_opts_t co = {.text = 1, .vocab = "data/clip/bpe_simple_vocab_16e6.txt.gz"};
    CHECK(clip_open_params(&clip, &cw, &co, &pool, &be) == 0, "tokenizer for the test host (%s)", be.msg);
    host_init(&hs, 1, &clip);
    host_set_pool(&hs, &pool);
    const char *dir = getenv("PLUGINS");
    if (!dir) { CHECK(0, "PLUGINS is set (run through make test)"); T_DONE(); }
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 4 || strcmp(de->d_name + l - 3, ".so")) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        plugin_t p;
        err_t e = {0};
        int rc = plugin_open(&p, path, 0, &e);
        CHECK(rc == 0, "load %s (%s)", de->d_name, e.msg);
        if (rc) continue;
        rng_seed(&hs.rng, 1);
        rc = plugin_init(&p, &host, &e);
        CHECK(rc == 0, "%s: init with defaults (%s)", p.d->name, e.msg);
        if (!rc) {
            if (p.d->kind == PLUGIN_RENDERER) test_renderer(&p);
            else if (p.d->kind == PLUGIN_AUGMENT) test_augment(&p);
            else test_loss(&p);
        }
        plugin_close(&p);
        n++;
    }
    if (d) closedir(d);
    printf("# %d plugins exercised\n", n);
    host_free(&hs);
    clip_close(&clip);
    pool_free(&pool);
    T_DONE();
}
