/* test_host.c - the services table plugins get (common/host.c): CLIP image
 * embeddings of [0,1] images (the host normalises), the exact adjoint through
 * normalisation, model and unit norm (central finite differences), text
 * embeddings through the tokenizer, the seeded RNG and the original strokes. */
#include <stdlib.h>
#include <string.h>
#include "host.h"
#include "t.h"

static const clip_config_t cfg = {.v_width = 64, .v_layers = 2, .v_heads = 2, .patch = 8, .image_size = 32,
                                  .t_width = 16, .t_layers = 1, .t_heads = 1, .context = 77, .vocab = 49408,
                                  .embed_dim = 16, .mlp_ratio = 4};
enum { N = 2, S = 32, E = 16 };

static double loss(host_t *hs, const float *img, const float *w) {
    float emb[N * E];
    plugin_err_t pe = {{0}};
    if (hs->h.clip_image(hs->h.ctx, img, N, emb, &pe)) return NAN;
    double L = 0;
    for (int i = 0; i < N * E; i++) L += (double)w[i] * emb[i];
    return L;
}

int main(void) {
    clip_params_t p = {0};
    clip_params_alloc(&p, &cfg);
    clip_params_closed_form(&p);
    clip_t m;
    clip_init(&m, &p, 1);
    err_t e = {0};
    bpe_t *bpe = bpe_load("data/clip/bpe_simple_vocab_16e6.txt.gz", &e);
    CHECK(bpe != NULL, "load the BPE vocabulary (%s)", e.msg);
    host_t hs;
    host_init(&hs, 7, &m, bpe);
    CHECK(hs.h.abi == INVCLIP_PLUGIN_ABI && hs.h.clip_image && hs.h.clip_image_backward && hs.h.clip_text &&
              hs.h.clip_dim == E && hs.h.clip_size == S, "services and sizes are filled in");

    size_t n = (size_t)N * 3 * S * S;
    float *img = malloc(sizeof(float) * n), *xn = malloc(sizeof(float) * n), *dimg = calloc(n, sizeof(float));
    float *v = malloc(sizeof(float) * n), *ip = malloc(sizeof(float) * n);
    rng_t r;
    rng_seed(&r, 11);
    for (size_t i = 0; i < n; i++) {
        img[i] = (float)rng_range(&r, 0.1, 0.9);
        v[i] = (float)rng_range(&r, -1, 1);
    }
    /* 1. the host's image embedding = the model on the normalised image, unit norm */
    for (int b = 0; b < N; b++)
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < S * S; i++) {
                size_t k = ((size_t)b * 3 + c) * S * S + i;
                xn[k] = (img[k] - clip_mean[c]) / clip_std[c];
            }
    float raw[N * E], want[N * E], nrm[N], got[N * E];
    clip_image_forward(&m, xn, N, raw, &e);
    clip_normalize_forward(want, nrm, raw, N, E);
    plugin_err_t pe = {{0}};
    CHECK(hs.h.clip_image(hs.h.ctx, img, N, got, &pe) == 0, "clip_image");
    double worst = 0;
    for (int i = 0; i < N * E; i++) worst = fmax(worst, fabs((double)got[i] - want[i]));
    CHECK(worst < 1e-5, "clip_image == unit(model(normalise(img))) (worst %.2g)", worst);
    /* 2. the adjoint, against central differences along a random direction */
    float w[N * E];
    for (int i = 0; i < N * E; i++) w[i] = (float)rng_range(&r, -1, 1);
    loss(&hs, img, w);
    CHECK(hs.h.clip_image_backward(hs.h.ctx, w, dimg, &pe) == 0, "clip_image_backward");
    float *dtmp = calloc(n, sizeof(float));
    CHECK(hs.h.clip_image_backward(hs.h.ctx, w, dtmp, &pe) != 0 && pe.msg[0], "a second backward is refused: %s", pe.msg);
    free(dtmp);
    double an = 0;
    for (size_t i = 0; i < n; i++) an += (double)dimg[i] * v[i];
    double h = 1e-2, L[2];
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < n; i++) ip[i] = img[i] + (float)((s ? -h : h) * v[i]);
        L[s] = loss(&hs, ip, w);
    }
    double fd = (L[0] - L[1]) / (2 * h);
    CHECK(fabs(fd - an) <= 0.02 * fabs(fd) + 1e-4, "d<w,clip_image>/dimg: analytic %.6g vs central FD %.6g", an, fd);
    /* 3. text */
    float t1[E], t2[E];
    CHECK(hs.h.clip_text(hs.h.ctx, "a fish", t1, &pe) == 0 && hs.h.clip_text(hs.h.ctx, "a cat", t2, &pe) == 0,
          "clip_text");
    int ids[77];
    clip_tokenize(bpe, "a fish", 77, ids, 1, &e);
    clip_text_forward(&m, ids, 1, raw, &e);
    clip_normalize_forward(want, nrm, raw, 1, E);
    double dt = 0, d12 = 0, n1 = 0;
    for (int i = 0; i < E; i++) {
        dt = fmax(dt, fabs((double)t1[i] - want[i]));
        d12 += fabs((double)t1[i] - t2[i]);
        n1 += (double)t1[i] * t1[i];
    }
    CHECK(dt < 1e-6 && fabs(n1 - 1) < 1e-5 && d12 > 1e-3, "clip_text = unit(text tower(tokenize)); prompts differ");
    /* 4. RNG and original strokes */
    host_t a, b;
    host_init(&a, 42, NULL, NULL);
    host_init(&b, 42, NULL, NULL);
    CHECK(!a.h.clip_image && !a.h.clip_text, "no model: no CLIP services");
    CHECK(a.h.rng_u64(a.h.ctx) == b.h.rng_u64(b.h.ctx) && a.h.rng_uniform(a.h.ctx) == b.h.rng_uniform(b.h.ctx),
          "the same seed gives the same draws");
    int np = 2, off = 0;
    float xy[4] = {1, 2, 3, 4}, wd = 2, op = 1;
    scene_t sc = {1, &np, &off, xy, &wd, &op};
    CHECK(a.h.original(a.h.ctx) == NULL, "no original strokes by default");
    host_set_original(&a, &sc);
    CHECK(a.h.original(a.h.ctx) == &sc, "original strokes");
    host_free(&a);
    host_free(&b);
    host_free(&hs);
    bpe_free(bpe);
    clip_free(&m);
    free(img); free(xn); free(dimg); free(v); free(ip);
    T_DONE();
}
