/* test_loss_style.c - the `style` loss plugin on the tiny CLIP (2 blocks):
 * the value against Gram matrices computed here in double from the host's
 * kept block features (an S x S style picture, so no resampling), the
 * study-like block set (0, L/4, L/2, 3L/4, L-1 = 0, 0, 1, 1, 1), gradients
 * w.r.t. the image and the views by central differences, bad parameters. */
#include <unistd.h>
#include "../plugins/tloss.h"
#include "png_io.h"

enum { S = 32, E = 16, T = 17, CW = 64, NV = 2 };

static double want(tl_host_t *t, const float *x, int n, const float *sty, const double *w) {
    const plugin_host_t *h = &t->hs.h;
    float emb[4 * E];
    plugin_err_t pe;
    int hx, hs;
    h->clip_encode(h->ctx, sty, 1, 3, &hs, emb, &pe);
    h->clip_encode(h->ctx, x, n, 3, &hx, emb, &pe);
    double L = 0;
    static double G[CW * CW], Gs[CW * CW];
    for (int l = 0; l < 2; l++) {
        const float *F = h->clip_features(h->ctx, hx, l), *Fs = h->clip_features(h->ctx, hs, l);
        double sum = 0;
        for (int i = 0; i < CW; i++)
            for (int j = 0; j < CW; j++) {
                double a = 0;
                for (int k = 0; k < T; k++) a += (double)Fs[k * CW + i] * Fs[k * CW + j];
                Gs[i * CW + j] = a / (CW * T);
            }
        for (int b = 0; b < n; b++)
            for (int i = 0; i < CW; i++)
                for (int j = 0; j < CW; j++) {
                    double a = 0;
                    for (int k = 0; k < T; k++) a += (double)F[(b * T + k) * CW + i] * F[(b * T + k) * CW + j];
                    G[i * CW + j] = a / (CW * T);
                    sum += (G[i * CW + j] - Gs[i * CW + j]) * (G[i * CW + j] - Gs[i * CW + j]);
                }
        L += w[l] * sum / ((double)CW * CW * n);
    }
    h->clip_release(h->ctx, hx);
    h->clip_release(h->ctx, hs);
    return L;
}

int main(void) {
    tl_host_t t;
    if (tl_host_init(&t, 1)) {
        CHECK(0, "tiny CLIP");
        T_DONE();
    }
    char dir[64] = "/tmp/test_loss_style.XXXXXX", path[128], spec[256];
    CHECK(mkdtemp(dir) != NULL, "scratch folder");
    rng_t r;
    rng_seed(&r, 61);
    size_t n1 = 3 * S * S;
    unsigned char px[3 * S * S];
    float *sty = malloc(sizeof(float) * n1);
    for (int i = 0; i < S * S; i++)
        for (int c = 0; c < 3; c++) {
            px[3 * i + c] = (unsigned char)((i / 4 + i / (4 * S)) % 2 ? 30 : 220); /* a texture: 4x4 checks */
            sty[(size_t)c * S * S + i] = px[3 * i + c] / 255.0f;
        }
    snprintf(path, sizeof path, "%s/s.png", dir);
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
    const double wstudy[2] = {2, 3}, w2[2] = {0, 1.5};
    snprintf(spec, sizeof spec, "image=%s", path);
    CHECK(tl_open(&p, "style", spec, &t, &e) == 0, "load style (%s)", e.msg);
    loss_out_t out = {.dimg = dimg};
    CHECK(tl_eval(&p, &t, &in, &out, &pe) == 0, "eval (%s)", pe.msg);
    CHECK_CLOSE(out.value, want(&t, img, 1, sty, wstudy), 1e-9, 1e-4,
                "Gram MSE per block, blocks 0,0,1,1,1 = weights 2, 3");
    tl_fd(&p, &t, &in, img, dimg, n1, 1e-2, 2e-2, 1e-9, 1, "d/dimg along a random direction");
    img[0] = NAN;
    CHECK(tl_eval(&p, &t, &in, &out, &pe) == EXIT_NUMERIC && strstr(pe.msg, "style"), "NaN: %s", pe.msg);
    img[0] = 0.5f;
    plugin_close(&p);
    CHECK(host_live_handles(&t.hs) == 0, "fini releases the style's handle");
    snprintf(spec, sizeof spec, "image=%s,input=views,blocks=1,weights=1.5", path);
    CHECK(tl_open(&p, "style", spec, &t, &e) == 0, "load on views, block 1 (%s)", e.msg);
    loss_out_t ov = {.dviews = dviews};
    CHECK(tl_eval(&p, &t, &in, &ov, &pe) == 0, "eval views (%s)", pe.msg);
    CHECK_CLOSE(ov.value, want(&t, views, NV, sty, w2), 1e-9, 1e-4, "views: the mean over views, block 1 only");
    tl_fd(&p, &t, &in, views, dviews, n1 * NV, 1e-2, 2e-2, 1e-9, 2, "d/dviews along a random direction");
    plugin_close(&p);
    snprintf(spec, sizeof spec, "image=%s,blocks=5", path);
    int rc = tl_open(&p, "style", spec, &t, &e);
    CHECK(rc == EXIT_USAGE && strstr(e.msg, "style") && strstr(e.msg, "blocks"), "block 5: %s", e.msg);
    rc = tl_open(&p, "style", "image=/no/such.png", &t, &e);
    CHECK(rc == EXIT_IO && strstr(e.msg, "image=/no/such.png"), "missing: %s", e.msg);
    tl_picture_checks("style", dir, &t, &in);
    unlink(path);
    rmdir(dir);
    free(sty), free(img), free(dimg), free(views), free(dviews);
    tl_host_free(&t);
    T_DONE();
}
