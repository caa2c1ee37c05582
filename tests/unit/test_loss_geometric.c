/* test_loss_geometric.c - the `geometric` loss plugin (CLIPasso's
 * CLIPConvLoss) on a pair of models: the host's tiny ViT CLIP (image 32, 2
 * blocks) and a small ResNet CLIP (image 32, closed-form weights) opened by
 * the plugin through model=; the value against the definition computed here
 * from the host's features and embeddings (CLIPasso's defaults: layer2 and
 * layer3, L2, fc 0.1; then l1, other weights, views); gradients w.r.t. an RGB
 * image, a grey image and views by central differences; blocks=clipasso on
 * the ViT; the same path opened once; errors (a missing model file, 4
 * weights for a ResNet, a model of another image size). */
#include <unistd.h>
#include "../plugins/tloss.h"
#include "clip_load.h"
#include "png_io.h"
#include "tensorfile.h"
#include "../unit/tfix.h"

enum { S = 32, NV = 2 };

/* the definition on model id: sum_l w_l mean over n and features of d(F-G) + fc mean_k (1 - cos) */
static double want(tl_host_t *t, int model, const float *x, int n, const float *tgt, const double *w, int nb, int l1,
                   double fc) {
    const plugin_host_t *h = &t->hs.h;
    float emb[4 * 64], te[64];
    plugin_err_t pe;
    int hx, ht;
    plugin_clip_info_t in;
    h->clip_model_info(h->ctx, model, -1, &in);
    h->clip_encode_model(h->ctx, model, tgt, 1, (1u << nb) - 1, &ht, te, &pe);
    h->clip_encode_model(h->ctx, model, x, n, (1u << nb) - 1, &hx, emb, &pe);
    double L = 0;
    for (int l = 0; l < nb; l++) {
        plugin_clip_info_t bi;
        h->clip_model_info(h->ctx, model, l, &bi);
        size_t m = (size_t)bi.C * bi.H * bi.W;
        const float *F = h->clip_features(h->ctx, hx, l), *G = h->clip_features(h->ctx, ht, l);
        double sum = 0;
        for (int b = 0; b < n; b++)
            for (size_t i = 0; i < m; i++) {
                double r = (double)F[(size_t)b * m + i] - G[i];
                sum += l1 ? fabs(r) : r * r;
            }
        L += w[l] * sum / ((double)n * m);
    }
    double sim = 0;
    for (int b = 0; b < n; b++)
        for (int i = 0; i < in.dim; i++) sim += (double)emb[(size_t)b * in.dim + i] * te[i] / n;
    h->clip_release(h->ctx, hx);
    h->clip_release(h->ctx, ht);
    return L + fc * (1 - sim);
}

/* closed-form weights are U(-1,1)/sqrt(fan_in): scaled by sqrt(6) (He) the
 * ResNet's activations keep their size through its 17 convolutions */
static int he_scale(const char *name, float *data, int ndim, const int *shape, void *ctx) {
    (void)ctx;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    if (ndim == 4)
        for (size_t i = 0; i < n; i++) data[i] *= 2.449f;
    if (strstr(name, "attnpool.") && ndim == 2)
        for (size_t i = 0; i < n; i++) data[i] *= 1.7f;
    return 0;
}

int main(void) {
    tl_host_t t;
    if (tl_host_init(&t, 1)) {
        CHECK(0, "tiny CLIP");
        T_DONE();
    }
    char dir[64] = "/tmp/test_loss_geometric.XXXXXX", path[128], rn[128], spec[512];
    CHECK(mkdtemp(dir) != NULL, "scratch folder");
    /* the ResNet CLIP (image 32, like the host's) */
    clip_config_t rc_cfg = {.v_width = 8, .v_heads = 4, .patch = 32, .image_size = 32, .t_width = 16, .t_layers = 1,
                            .t_heads = 1, .context = 8, .vocab = 100, .embed_dim = 16, .mlp_ratio = 4,
                            .rn_layers = {1, 2, 1, 1}};
    clip_params_t rw;
    err_t e = {0};
    CHECK(clip_params_alloc(&rw, &rc_cfg) == 0, "a ResNet CLIP config");
    clip_params_closed_form(&rw);
    clip_params_each(&rw, he_scale, NULL);
    snprintf(rn, sizeof rn, "%s/rn.safetensors", dir);
    CHECK(clip_save_safetensors(rn, &rw, &e) == 0, "written (%s)", e.msg);
    clip_params_free(&rw);
    rng_t r;
    rng_seed(&r, 7);
    size_t n1 = 3 * S * S;
    unsigned char px[3 * S * S];
    float *tgt = malloc(sizeof(float) * n1);
    for (int i = 0; i < S * S; i++)
        for (int c = 0; c < 3; c++) {
            px[3 * i + c] = (unsigned char)(128 + 100 * sin(0.3 * (i % S) + c) * cos(0.2 * (i / S)));
            tgt[(size_t)c * S * S + i] = px[3 * i + c] / 255.0f;
        }
    snprintf(path, sizeof path, "%s/t.png", dir);
    image_t pim = {.w = S, .h = S, .c = 3, .px = px};
    CHECK(pngio_save(path, &pim, NULL, &e) == 0, "the target written as PNG");
    float *img = malloc(sizeof(float) * n1), *dimg = calloc(n1, sizeof(float));
    float *views = malloc(sizeof(float) * n1 * NV), *dviews = calloc(n1 * NV, sizeof(float));
    for (size_t i = 0; i < n1; i++) img[i] = (float)rng_range(&r, 0.1, 0.9);
    for (size_t i = 0; i < n1 * NV; i++) views[i] = (float)rng_range(&r, 0.1, 0.9);
    loss_in_t in = {.img = img, .C = 3, .H = S, .W = S, .views = views, .N = NV};
    plugin_t p;
    plugin_err_t pe;

    /* 1. CLIPasso's defaults on the ResNet given by model= */
    snprintf(spec, sizeof spec, "image=%s,model=%s", path, rn);
    CHECK(tl_open(&p, "geometric", spec, &t, &e) == 0, "geometric with model=rn.safetensors (%s)", e.msg);
    int id = -1;
    CHECK(t.hs.h.clip_model_open(t.hs.h.ctx, rn, &id, &pe) == 0 && id == 1 && t.hs.nxm == 1,
          "the same path again: the same model (id %d, %d open)", id, t.hs.nxm);
    plugin_clip_info_t info;
    CHECK(t.hs.h.clip_model_info(t.hs.h.ctx, 1, 3, &info) == 0 && info.resnet && info.blocks == 5 && info.C == 128 &&
              info.H == 2 && info.W == 2 && info.size == 32 && info.dim == 16,
          "clip_model_info: a ResNet, 5 blocks, layer3 (128,2,2)");
    loss_out_t out = {.dimg = dimg};
    CHECK(tl_eval(&p, &t, &in, &out, &pe) == 0, "eval (%s)", pe.msg);
    const double wc[5] = {0, 0, 1, 1, 0};
    double wv = want(&t, 1, img, 1, tgt, wc, 5, 0, 0.1);
    CHECK_CLOSE(out.value, wv, 1e-7, 1e-5, "L2 of layer2 and layer3 + 0.1 (1 - cos): %.7g", wv);
    CHECK(out.nmetrics == 2 && !strcmp(out.metric_name[1], "fc_similarity") &&
              fabs(out.value - out.metric[0] - 0.1 * (1 - out.metric[1])) < 1e-9,
          "metrics: conv %.5g and fc_similarity %.5g", out.metric[0], out.metric[1]);
    CHECK(host_live_handles(&t.hs) == 1, "the target's handle is kept between calls");
    /* grey input */
    float grey[S * S], dgrey[S * S];
    for (int i = 0; i < S * S; i++) grey[i] = (float)rng_range(&r, 0.1, 0.9), dgrey[i] = 0;
    loss_in_t ing = {.img = grey, .C = 1, .H = S, .W = S};
    loss_out_t og = {.dimg = dgrey};
    CHECK(tl_eval(&p, &t, &ing, &og, &pe) == 0, "grey image (%s)", pe.msg);
    {   /* grey = the same picture in all three channels */
        float g3[3 * S * S], dg3[3 * S * S];
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < S * S; i++) g3[c * S * S + i] = grey[i], dg3[c * S * S + i] = 0;
        loss_in_t in3 = {.img = g3, .C = 3, .H = S, .W = S};
        loss_out_t o3g = {.dimg = dg3};
        CHECK(tl_eval(&p, &t, &in3, &o3g, &pe) == 0, "the grey image as RGB");
        double worst = 0;
        for (int i = 0; i < S * S; i++)
            worst = fmax(worst, fabs(dgrey[i] - (dg3[i] + dg3[S * S + i] + dg3[2 * S * S + i])));
        CHECK(fabs(og.value - o3g.value) < 1e-9 && worst < 1e-6,
              "grey input: the value and the channel sum of the RGB gradient (worst %.2g)", worst);
    }
    plugin_close(&p);
    CHECK(host_live_handles(&t.hs) == 0, "fini released the target's handle");

    /* 2. every block weighted, views, fc 0.5; then l1 (its value: ReLU zeros
     * in both maps are kinks of |F - G|, so no differences there) */
    const double w5[5] = {1, 0.5, 0.25, 2, 1};
    snprintf(spec, sizeof spec, "image=%s,model=%s,weights=1+0.5+0.25+2+1,fc=0.5,input=views", path, rn);
    CHECK(tl_open(&p, "geometric", spec, &t, &e) == 0, "5 weights, views (%s)", e.msg);
    loss_out_t ov = {.dviews = dviews};
    CHECK(tl_eval(&p, &t, &in, &ov, &pe) == 0, "eval on views (%s)", pe.msg);
    CHECK_CLOSE(ov.value, want(&t, 1, views, NV, tgt, w5, 5, 0, 0.5), 1e-7, 1e-5, "l2 over 5 blocks, 2 views, fc 0.5");
    plugin_close(&p);
    snprintf(spec, sizeof spec, "image=%s,model=%s,weights=1+0.5+0.25+2+1,distance=l1,fc=0.5,input=views", path, rn);
    CHECK(tl_open(&p, "geometric", spec, &t, &e) == 0, "l1 (%s)", e.msg);
    CHECK(tl_eval(&p, &t, &in, &ov, &pe) == 0, "eval on views (%s)", pe.msg);
    CHECK_CLOSE(ov.value, want(&t, 1, views, NV, tgt, w5, 5, 1, 0.5), 1e-7, 1e-5, "l1 over 5 blocks, 2 views, fc 0.5");
    plugin_close(&p);

    /* 3. the host's own ViT, blocks=clipasso = L/2, 3L/4 = 1, 1 */
    snprintf(spec, sizeof spec, "image=%s", path);
    CHECK(tl_open(&p, "geometric", spec, &t, &e) == 0, "the run's ViT (%s)", e.msg);
    memset(dimg, 0, sizeof(float) * n1);
    loss_out_t o3 = {.dimg = dimg};
    CHECK(tl_eval(&p, &t, &in, &o3, &pe) == 0, "eval (%s)", pe.msg);
    const double wvit[2] = {0, 2};
    CHECK_CLOSE(o3.value, want(&t, 0, img, 1, tgt, wvit, 2, 0, 0.1), 1e-7, 1e-5, "ViT: block 1 twice (L/2 = 3L/4 = 1)");
    tl_fd(&p, &t, &in, img, dimg, n1, 1e-2, 2e-2, 1e-7, 4, "ViT: d/dimg along a random direction");
    plugin_close(&p);

    /* 4. the PyTorch twin (tests/gen_resnet_ref.py): CLIPasso's loss on the
     * tiny ResNet fixture (64 pixels) against rn64.png, value and gradient,
     * for 2 views and for one image */
    tensorfile_t *ref = tf_open("tests/fixtures/resnet/geo_ref.safetensors", &e);
    CHECK(ref != NULL, "the twin's reference (%s)", e.msg);
    if (ref) {
        enum { S2 = 64 };
        size_t n2 = 3 * S2 * S2;
        float *v2 = t_tensor(ref, "geo.views", 2 * n2);
        for (int vw = 1; vw >= 0 && v2; vw--) {
            snprintf(spec, sizeof spec,
                     "image=tests/fixtures/resnet/rn64.png,model=tests/fixtures/resnet/tiny_rn.safetensors%s",
                     vw ? ",input=views" : "");
            CHECK(tl_open(&p, "geometric", spec, &t, &e) == 0, "twin, %s (%s)", vw ? "views" : "image", e.msg);
            float *d2 = calloc(2 * n2, sizeof(float));
            loss_in_t i2 = {.img = v2, .C = 3, .H = S2, .W = S2, .views = v2, .N = 2};
            loss_out_t o2 = {.dimg = vw ? NULL : d2, .dviews = vw ? d2 : NULL};
            CHECK(tl_eval(&p, &t, &i2, &o2, &pe) == 0, "twin eval (%s)", pe.msg);
            char key[64];
            snprintf(key, sizeof key, "geo.%s.loss", vw ? "views" : "image");
            float *wl = t_tensor(ref, key, 1);
            CHECK_CLOSE(o2.value, wl ? wl[0] : NAN, 1e-6, 1e-4, "twin: %s's loss %.7g", vw ? "2 views" : "the image",
                        o2.value);
            snprintf(key, sizeof key, "geo.%s.grad", vw ? "views" : "image");
            size_t ng = (vw ? 2 : 1) * n2;
            float *wg = t_tensor(ref, key, ng);
            double mx = 0, worst = 0;
            for (size_t i = 0; wg && i < ng; i++) mx = fmax(mx, fabs(wg[i]));
            for (size_t i = 0; wg && i < ng; i++) worst = fmax(worst, fabs(d2[i] - wg[i]) / (1e-4 * mx + 2e-3 * fabs(wg[i])));
            CHECK(wg && worst <= 1 && mx > 0, "twin: the gradient w.r.t. the %s (%zu values, max %.3g, %.3f of tolerance 1e-4 max + 2e-3 rel)",
                  vw ? "views" : "image", ng, mx, worst);
            free(wl), free(wg), free(d2);
            plugin_close(&p);
        }
        free(v2);
        tf_close(ref);
    }

    /* 5. errors */
    snprintf(spec, sizeof spec, "image=%s,model=%s/none.safetensors", path, dir);
    CHECK(tl_open(&p, "geometric", spec, &t, &e) == EXIT_MODEL && strstr(e.msg, "none.safetensors"),
          "a missing model file: %s", e.msg);
    snprintf(spec, sizeof spec, "image=%s,model=%s,weights=1+1+1+1", path, rn);
    CHECK(tl_open(&p, "geometric", spec, &t, &e) == EXIT_USAGE && strstr(e.msg, "5 numbers"),
          "4 weights for a ResNet: %s", e.msg);
    snprintf(spec, sizeof spec, "image=%s,model=tests/fixtures/resnet/tiny_rn.safetensors", path);
    int rc = tl_open(&p, "geometric", spec, &t, &e);
    CHECK(rc == 0, "a 64-pixel model opens (%s)", e.msg);
    if (!rc) {
        loss_out_t o4 = {0};
        CHECK(tl_eval(&p, &t, &in, &o4, &pe) == EXIT_USAGE && strstr(pe.msg, "64x64"),
              "a 32-pixel image for a 64-pixel model: %s", pe.msg);
        plugin_close(&p);
    }
    unlink(path), unlink(rn), rmdir(dir);
    free(tgt), free(img), free(dimg), free(views), free(dviews);
    tl_host_free(&t);
    T_DONE();
}
