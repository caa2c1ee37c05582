/* test_loss_perceptual.c - the `perceptual` loss plugin on the tiny CLIP (2
 * vision blocks): both modes against the definition computed here from the
 * host's kept block features (an S x S target, so no resampling), the
 * study's block set (L/4, L/2, 3L/4, L-1 = 0, 1, 1, 1: repeats add weight),
 * gradients w.r.t. an RGB and a grey image and w.r.t. views by central
 * differences, the target's handle kept until fini, bad block lists, and
 * more views than 1024 floats of embeddings (the plugin once kept them in a
 * 1024-float array on its stack). */
#include <unistd.h>
#include "../plugins/tloss.h"
#include "png_io.h"

enum { S = 32, E = 16, T = 17, CW = 64, NV = 2, NMANY = 72 /* 72 * E > 1024 */ };

/* the definition: sum_l w_l mean (F^ - G^)^2 (study) or (F - G)^2 (l2) over n images */
static double want(tl_host_t *t, const float *x, int n, const float *tgt, const double *w, int study) {
    const plugin_host_t *h = &t->hs.h;
    float *emb = malloc(sizeof(float) * (size_t)n * E);
    plugin_err_t pe;
    int hx, ht;
    h->clip_encode(h->ctx, tgt, 1, 3, &ht, emb, &pe);
    h->clip_encode(h->ctx, x, n, 3, &hx, emb, &pe);
    double L = 0;
    for (int l = 0; l < 2; l++) {
        const float *F = h->clip_features(h->ctx, hx, l), *G = h->clip_features(h->ctx, ht, l);
        double sum = 0;
        for (int b = 0; b < n; b++)
            for (int k = 0; k < T; k++) {
                const float *f = F + ((size_t)b * T + k) * CW, *g = G + (size_t)k * CW;
                double nf = 0, ng = 0;
                for (int c = 0; c < CW; c++) nf += (double)f[c] * f[c], ng += (double)g[c] * g[c];
                nf = study ? sqrt(nf) : 1, ng = study ? sqrt(ng) : 1;
                for (int c = 0; c < CW; c++) sum += (f[c] / nf - g[c] / ng) * (f[c] / nf - g[c] / ng);
            }
        L += w[l] * sum / ((double)n * T * CW);
    }
    h->clip_release(h->ctx, hx);
    h->clip_release(h->ctx, ht);
    free(emb);
    return L;
}

int main(void) {
    tl_host_t t;
    if (tl_host_init(&t, 1)) {
        CHECK(0, "tiny CLIP");
        T_DONE();
    }
    char dir[64] = "/tmp/test_loss_perceptual.XXXXXX", path[128], spec[256];
    CHECK(mkdtemp(dir) != NULL, "scratch folder");
    rng_t r;
    rng_seed(&r, 41);
    /* an S x S RGB target picture, and the same as floats */
    size_t n1 = 3 * S * S;
    unsigned char px[3 * S * S];
    float *tgt = malloc(sizeof(float) * n1);
    for (int i = 0; i < S * S; i++)
        for (int c = 0; c < 3; c++) {
            px[3 * i + c] = (unsigned char)(128 + 100 * sin(0.2 * (i % S) + c) * cos(0.15 * (i / S)));
            tgt[(size_t)c * S * S + i] = px[3 * i + c] / 255.0f;
        }
    snprintf(path, sizeof path, "%s/t.png", dir);
    image_t pim = {.w = S, .h = S, .c = 3, .px = px};
    err_t pe0 = {0};
    CHECK(pngio_save(path, &pim, NULL, &pe0) == 0, "the picture written as PNG (%s)", pe0.msg);
    float *img = malloc(sizeof(float) * n1), *dimg = calloc(n1, sizeof(float));
    float *views = malloc(sizeof(float) * n1 * NV), *dviews = calloc(n1 * NV, sizeof(float));
    for (size_t i = 0; i < n1; i++) img[i] = (float)rng_range(&r, 0.2, 0.8);
    for (size_t i = 0; i < n1 * NV; i++) views[i] = (float)rng_range(&r, 0.2, 0.8);
    loss_in_t in = {.img = img, .C = 3, .H = S, .W = S, .views = views, .N = NV};
    plugin_t p;
    err_t e;
    plugin_err_t pe;
    const double wstudy[2] = {1, 3}, w2[2] = {0.5, 2};
    /* 1. mode=study, blocks=study: blocks 0, 1, 1, 1 */
    snprintf(spec, sizeof spec, "image=%s", path);
    CHECK(tl_open(&p, "perceptual", spec, &t, &e) == 0, "load perceptual (%s)", e.msg);
    loss_out_t out = {.dimg = dimg, .dviews = dviews};
    CHECK(tl_eval(&p, &t, &in, &out, &pe) == 0, "eval (%s)", pe.msg);
    CHECK_CLOSE(out.value, want(&t, img, 1, tgt, wstudy, 1), 1e-7, 1e-5,
                "study: sum of per-block MSEs of unit token vectors (blocks 0,1,1,1 = weights 1, 3)");
    CHECK(host_live_handles(&t.hs) == 1, "the target's handle is kept between calls");
    double dv = 0;
    for (size_t i = 0; i < n1 * NV; i++) dv += fabs(dviews[i]);
    CHECK(dv == 0, "input=image: the views get no gradient");
    tl_fd(&p, &t, &in, img, dimg, n1, 1e-2, 2e-2, 1e-7, 1, "study: d/dimg along a random direction");
    float grey[S * S], dgrey[S * S] = {0};
    for (int i = 0; i < S * S; i++) grey[i] = (float)(0.5 + 0.3 * cos(0.3 * (i % S) - 0.2 * (i / S)));
    loss_in_t ing = {.img = grey, .C = 1, .H = S, .W = S};
    loss_out_t og = {.dimg = dgrey};
    CHECK(tl_eval(&p, &t, &ing, &og, &pe) == 0, "grey image (%s)", pe.msg);
    tl_fd(&p, &t, &ing, grey, dgrey, S * S, 1e-2, 2e-2, 1e-7, 2, "study: d/d(grey image)");
    img[3] = NAN;
    CHECK(tl_eval(&p, &t, &in, &out, &pe) == EXIT_NUMERIC && strstr(pe.msg, "perceptual"), "NaN: %s", pe.msg);
    img[3] = 0.5f;
    plugin_close(&p);
    CHECK(host_live_handles(&t.hs) == 0, "fini releases the target's handle");
    /* 2. mode=l2 on the views with explicit blocks and weights */
    snprintf(spec, sizeof spec, "image=%s,mode=l2,input=views,blocks=0+1,weights=0.5+2", path);
    CHECK(tl_open(&p, "perceptual", spec, &t, &e) == 0, "load l2 on views (%s)", e.msg);
    memset(dviews, 0, sizeof(float) * n1 * NV);
    loss_out_t ov = {.dviews = dviews};
    CHECK(tl_eval(&p, &t, &in, &ov, &pe) == 0, "eval l2 (%s)", pe.msg);
    CHECK_CLOSE(ov.value, want(&t, views, NV, tgt, w2, 0), 1e-7, 1e-5, "l2: weighted MSE of raw features over views");
    tl_fd(&p, &t, &in, views, dviews, n1 * NV, 1e-2, 2e-2, 1e-7, 3, "l2: d/dviews along a random direction");
    plugin_close(&p);
    /* 2b. many views: their embeddings (NMANY x E floats) are more than 1024 */
    float *many = malloc(sizeof(float) * n1 * NMANY), *dmany = calloc(n1 * NMANY, sizeof(float));
    for (size_t i = 0; i < n1 * NMANY; i++) many[i] = (float)rng_range(&r, 0.2, 0.8);
    loss_in_t inm = {.img = img, .C = 3, .H = S, .W = S, .views = many, .N = NMANY};
    CHECK(tl_open(&p, "perceptual", spec, &t, &e) == 0, "load l2 on views again (%s)", e.msg);
    loss_out_t om = {.dviews = dmany};
    CHECK(tl_eval(&p, &t, &inm, &om, &pe) == 0, "eval %d views (%s)", NMANY, pe.msg);
    CHECK_CLOSE(om.value, want(&t, many, NMANY, tgt, w2, 0), 1e-7, 1e-5, "l2 over %d views (%d embedding floats)",
                NMANY, NMANY * E);
    double dm = 0;
    for (size_t i = 0; i < n1 * NMANY; i++) dm += fabs(dmany[i]);
    CHECK(dm > 0 && isfinite(dm), "... with a gradient for the views (sum |d| %g)", dm);
    plugin_close(&p);
    free(many), free(dmany);
    /* 3. parameters */
    snprintf(spec, sizeof spec, "image=%s,blocks=2", path);
    int rc = tl_open(&p, "perceptual", spec, &t, &e);
    CHECK(rc == EXIT_USAGE && strstr(e.msg, "perceptual") && strstr(e.msg, "blocks"), "block 2 of 2: %s", e.msg);
    snprintf(spec, sizeof spec, "image=%s,blocks=0+x", path);
    rc = tl_open(&p, "perceptual", spec, &t, &e);
    CHECK(rc == EXIT_USAGE && strstr(e.msg, "blocks="), "bad list: %s", e.msg);
    snprintf(spec, sizeof spec, "image=%s,blocks=0+1,weights=1", path);
    rc = tl_open(&p, "perceptual", spec, &t, &e);
    CHECK(rc == EXIT_USAGE && strstr(e.msg, "weights="), "weights count: %s", e.msg);
    rc = tl_open(&p, "perceptual", "image=/nonexistent.png", &t, &e);
    CHECK(rc == EXIT_IO && strstr(e.msg, "image=/nonexistent.png"), "missing picture: %s", e.msg);
    CHECK(tl_open(&p, "perceptual", "", &t, &e) == 0, "no image: loads");
    CHECK(tl_eval(&p, &t, &in, &out, &pe) == EXIT_USAGE && strstr(pe.msg, "image=FILE"), "... and says so: %s", pe.msg);
    plugin_close(&p);
    tl_picture_checks("perceptual", dir, &t, &in);
    unlink(path);
    rmdir(dir);
    free(tgt), free(img), free(dimg), free(views), free(dviews);
    tl_host_free(&t);
    T_DONE();
}
