/* test_host.c - the services table plugins get (common/host.c): CLIP image
 * embeddings of [0,1] images by handle (the host normalises), the exact
 * adjoint through normalisation, model and unit norm (central finite
 * differences), kept block features and their gradients, several handles
 * alive at once and backwarded in any order with results identical to one
 * at a time, text embeddings through the tokenizer (unit and raw, one cache
 * per prompt, clip_model's bits; over-long prompts refused), the
 * pool's parallel_for, sgemm, the step, the seeded RNG, the original
 * strokes, and the image service (load_image: PNG and JPEG through
 * image_load + imgprep, its errors naming the file). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "host.h"
#include "imgprep.h"
#include "jpeg_io.h"
#include "t.h"

static const clip_config_t cfg = {.v_width = 64, .v_layers = 2, .v_heads = 2, .patch = 8, .image_size = 32,
                                  .t_width = 16, .t_layers = 1, .t_heads = 1, .context = 77, .vocab = 49408,
                                  .embed_dim = 16, .mlp_ratio = 4};
enum { N = 2, S = 32, E = 16, T = 17, CW = 64 };

/* <w, emb> + <wf, block 1's output> of one encode (released at once). */
static double loss(host_t *hs, const float *img, const float *w, const float *wf) {
    float emb[N * E];
    plugin_err_t pe = {{0}};
    int hd;
    if (hs->h.clip_encode(hs->h.ctx, img, N, wf ? 2 : 0, &hd, emb, &pe)) return NAN;
    double L = 0;
    for (int i = 0; i < N * E; i++) L += (double)w[i] * emb[i];
    if (wf) {
        const float *f = hs->h.clip_features(hs->h.ctx, hd, 1);
        for (int i = 0; i < N * T * CW; i++) L += (double)wf[i] * f[i];
    }
    hs->h.clip_release(hs->h.ctx, hd);
    return L;
}

/* d<w,emb>/dimg of one image batch, encoded and backwarded alone. */
static int grad_alone(host_t *hs, const float *img, const float *w, float *dimg) {
    float emb[N * E];
    plugin_err_t pe = {{0}};
    int hd, rc = hs->h.clip_encode(hs->h.ctx, img, N, 0, &hd, emb, &pe);
    if (!rc) rc = hs->h.clip_backward(hs->h.ctx, hd, w, NULL, dimg, &pe);
    hs->h.clip_release(hs->h.ctx, hd);
    return rc;
}

typedef struct { int *hits; } pf_t;
static void mark(void *c, int b, int e, int tid) {
    pf_t *p = c;
    for (int i = b; i < e; i++) __atomic_fetch_add(&p->hits[i], 1, __ATOMIC_RELAXED);
    (void)tid;
}

int main(void) {
    clip_params_t p = {0};
    clip_params_alloc(&p, &cfg);
    clip_params_closed_form(&p);
    clip_model_t cm;
    err_t e = {0};
    const clip_open_opts_t co = {.text = 1, .vocab = "data/clip/bpe_simple_vocab_16e6.txt.gz"};
    CHECK(clip_open_params(&cm, &p, &co, NULL, &e) == 0, "the model with the BPE vocabulary (%s)", e.msg);
    clip_t *m = &cm.m;
    bpe_t *bpe = cm.bpe;
    host_t hs;
    host_init(&hs, 7, &cm);
    const plugin_host_t *h = &hs.h;
    CHECK(h->abi == INVCLIP_PLUGIN_ABI && h->clip_encode && h->clip_backward && h->clip_features && h->clip_release &&
              h->clip_text && h->clip_text_raw && h->clip_dim == E && h->clip_size == S && h->clip_blocks == 2 && h->clip_tokens == T &&
              h->clip_width == CW,
          "services and sizes are filled in");

    size_t n = (size_t)N * 3 * S * S;
    float *img = malloc(sizeof(float) * n), *img2 = malloc(sizeof(float) * n), *xn = malloc(sizeof(float) * n);
    float *dimg = calloc(n, sizeof(float)), *v = malloc(sizeof(float) * n), *ip = malloc(sizeof(float) * n);
    rng_t r;
    rng_seed(&r, 11);
    for (size_t i = 0; i < n; i++) {
        img[i] = (float)rng_range(&r, 0.1, 0.9);
        img2[i] = (float)rng_range(&r, 0.1, 0.9);
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
    clip_image_forward(m, xn, N, raw, &e);
    clip_normalize_forward(want, nrm, raw, N, E);
    plugin_err_t pe = {{0}};
    int hd = 0;
    CHECK(h->clip_encode(h->ctx, img, N, 0, &hd, got, &pe) == 0 && hd > 0, "clip_encode gives a handle");
    double worst = 0;
    for (int i = 0; i < N * E; i++) worst = fmax(worst, fabs((double)got[i] - want[i]));
    CHECK(worst < 1e-5, "clip_encode == unit(model(normalise(img))) (worst %.2g)", worst);
    CHECK(h->clip_features(h->ctx, hd, 0) == NULL, "no features unless kept");
    h->clip_release(h->ctx, hd);
    CHECK(host_live_handles(&hs) == 0, "released");
    /* 2. the adjoint, against central differences along a random direction */
    float w[N * E];
    for (int i = 0; i < N * E; i++) w[i] = (float)rng_range(&r, -1, 1);
    CHECK(h->clip_encode(h->ctx, img, N, 0, &hd, got, &pe) == 0 && h->clip_backward(h->ctx, hd, w, NULL, dimg, &pe) == 0,
          "clip_backward");
    float *dtmp = calloc(n, sizeof(float));
    CHECK(h->clip_backward(h->ctx, hd, w, NULL, dtmp, &pe) == 0 && !memcmp(dtmp, dimg, sizeof(float) * n),
          "a second backward on the same handle gives the same gradient (the forward is re-run)");
    h->clip_release(h->ctx, hd);
    CHECK(h->clip_backward(h->ctx, hd, w, NULL, dtmp, &pe) != 0 && pe.msg[0], "backward after release is refused: %s",
          pe.msg);
    double an = 0;
    for (size_t i = 0; i < n; i++) an += (double)dimg[i] * v[i];
    double hstep = 1e-2, L[2];
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < n; i++) ip[i] = img[i] + (float)((s ? -hstep : hstep) * v[i]);
        L[s] = loss(&hs, ip, w, NULL);
    }
    double fd = (L[0] - L[1]) / (2 * hstep);
    CHECK(fabs(fd - an) <= 0.02 * fabs(fd) + 1e-4, "d<w,clip_encode>/dimg: analytic %.6g vs central FD %.6g", an, fd);

    /* 3. kept features: equal to the model's block output, and their gradient */
    size_t nf = (size_t)N * T * CW;
    float *wf = malloc(sizeof(float) * nf);
    for (size_t i = 0; i < nf; i++) wf[i] = (float)rng_range(&r, -0.05, 0.05);
    CHECK(h->clip_encode(h->ctx, img, N, 2, &hd, got, &pe) == 0, "encode keeping block 1");
    int B, Tt, Cc;
    const float *blk = clip_image_block(m, 1, &B, &Tt, &Cc);
    const float *f1 = h->clip_features(h->ctx, hd, 1);
    CHECK(f1 && B == N && Tt == T && Cc == CW && !memcmp(f1, blk, sizeof(float) * nf) &&
              h->clip_features(h->ctx, hd, 0) == NULL,
          "clip_features(1) = the model's block 1 output; block 0 was not kept");
    int hd2;
    float got2[N * E], *fsave = malloc(sizeof(float) * nf);
    memcpy(fsave, f1, sizeof(float) * nf);
    h->clip_encode(h->ctx, img2, N, 0, &hd2, got2, &pe);
    /* that encode kept nothing, so the model ran its top block on the class token alone (pooled_top) and
     * withholds block 1's output */
    const float *mb = clip_image_block(m, 1, NULL, NULL, NULL);
    CHECK(!memcmp(h->clip_features(h->ctx, hd, 1), fsave, sizeof(float) * nf) && mb == NULL,
          "kept features survive another encode (they are the handle's copy); the model withholds its top block");
    free(fsave);
    const float *dfeat[2] = {NULL, wf};
    memset(dimg, 0, sizeof(float) * n);
    CHECK(h->clip_backward(h->ctx, hd, w, dfeat, dimg, &pe) == 0, "backward with feature gradients (out of order)");
    h->clip_release(h->ctx, hd);
    h->clip_release(h->ctx, hd2);
    an = 0;
    for (size_t i = 0; i < n; i++) an += (double)dimg[i] * v[i];
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < n; i++) ip[i] = img[i] + (float)((s ? -hstep : hstep) * v[i]);
        L[s] = loss(&hs, ip, w, wf);
    }
    fd = (L[0] - L[1]) / (2 * hstep);
    CHECK(fabs(fd - an) <= 0.02 * fabs(fd) + 1e-4, "d(<w,emb> + <wf,block 1>)/dimg: analytic %.6g vs central FD %.6g",
          an, fd);
    CHECK(h->clip_encode(h->ctx, img, N, 4, &hd, got, &pe) == EXIT_USAGE && strstr(pe.msg, "block"),
          "keeping a block the model lacks is refused: %s", pe.msg);

    /* 4. three handles alive at once, backwarded in every order = one at a time */
    {
        enum { K = 3 };
        float *im[K] = {img, img2, ip}, *alone[K], *mixed[K], wk[K][N * E], embk[K][N * E];
        for (size_t i = 0; i < n; i++) ip[i] = 1.0f - img[i] * 0.7f;
        for (int k = 0; k < K; k++) {
            for (int i = 0; i < N * E; i++) wk[k][i] = (float)rng_range(&r, -1, 1);
            alone[k] = calloc(n, sizeof(float));
            mixed[k] = calloc(n, sizeof(float));
            grad_alone(&hs, im[k], wk[k], alone[k]);
        }
        const int orders[6][K] = {{0, 1, 2}, {2, 1, 0}, {1, 0, 2}, {1, 2, 0}, {0, 2, 1}, {2, 0, 1}};
        int same = 1, live = 0, okall = 1;
        for (int o = 0; o < 6; o++) {
            int hk[K];
            for (int k = 0; k < K; k++) okall &= h->clip_encode(h->ctx, im[k], N, 1, &hk[k], embk[k], &pe) == 0;
            live = host_live_handles(&hs);
            for (int j = 0; j < K; j++) {
                int k = orders[o][j];
                memset(mixed[k], 0, sizeof(float) * n);
                okall &= h->clip_backward(h->ctx, hk[k], wk[k], NULL, mixed[k], &pe) == 0;
                h->clip_release(h->ctx, hk[k]);
            }
            for (int k = 0; k < K; k++) same &= !memcmp(mixed[k], alone[k], sizeof(float) * n);
        }
        CHECK(okall && live == K, "%d handles alive at once", live);
        CHECK(same, "backward in all 6 orders gives gradients bit-identical to encode+backward one at a time");
        CHECK(host_live_handles(&hs) == 0 && hs.nhd == K, "released handles are reused (%d slots)", hs.nhd);
        for (int k = 0; k < K; k++) free(alone[k]), free(mixed[k]);
    }

    /* 5. text, cached per prompt */
    float t1[E], t2[E], t3[E];
    CHECK(h->clip_text(h->ctx, "a fish", t1, &pe) == 0 && h->clip_text(h->ctx, "a cat", t2, &pe) == 0, "clip_text");
    CHECK(h->clip_text(h->ctx, "a fish", t3, &pe) == 0 && !memcmp(t1, t3, sizeof t1) && hs.ntexts == 2,
          "the second 'a fish' comes from the cache (%d prompts cached)", hs.ntexts);
    int ids[77];
    clip_tokenize(bpe, "a fish", 77, ids, 1, &e);
    clip_text_forward(m, ids, 1, raw, &e);
    clip_normalize_forward(want, nrm, raw, 1, E);
    double dt = 0, d12 = 0, n1 = 0;
    for (int i = 0; i < E; i++) {
        dt = fmax(dt, fabs((double)t1[i] - want[i]));
        d12 += fabs((double)t1[i] - t2[i]);
        n1 += (double)t1[i] * t1[i];
    }
    CHECK(dt < 1e-6 && fabs(n1 - 1) < 1e-5 && d12 > 1e-3, "clip_text = unit(text tower(tokenize)); prompts differ");
    {
        /* raw embeddings: clip_model's bits, one cache with clip_text */
        const char *pr[2] = {"a fish", "a sketch of a red fish"};
        float rw[2][E], rw2[E], mraw[2 * E], munit[E], u[E], u2[E], nr;
        int ok = 1;
        memset(&pe, 0, sizeof pe);
        for (int k = 0; k < 2; k++) ok &= h->clip_text_raw(h->ctx, pr[k], rw[k], &pe) == 0;
        CHECK(ok && clip_embed_texts(&cm, pr, 2, 1, mraw, &e) == 0 && !memcmp(rw, mraw, sizeof rw),
              "clip_text_raw = clip_embed_texts(raw=1), the same bits (%s)", pe.msg);
        CHECK(hs.ntexts == 3, "'a fish' raw came from clip_text's cache entry, the new prompt added one (%d cached)",
              hs.ntexts);
        double rn = 0;
        for (int i = 0; i < E; i++) rn += (double)rw[1][i] * rw[1][i];
        CHECK(fabs(sqrt(rn) - 1) > 1e-3, "the raw embedding is not a unit vector (|raw| = %.4g)", sqrt(rn));
        clip_normalize_forward(u, &nr, rw[0], 1, E);
        CHECK(!memcmp(u, t1, sizeof u), "unit(clip_text_raw) == clip_text, bit for bit (cached by clip_text)");
        ok = h->clip_text(h->ctx, pr[1], u2, &pe) == 0 && clip_embed_text(&cm, pr[1], munit, &e) == 0;
        clip_normalize_forward(u, &nr, rw[1], 1, E);
        CHECK(ok && !memcmp(u2, u, sizeof u) && !memcmp(u2, munit, sizeof u) && hs.ntexts == 3,
              "clip_text of a prompt cached by clip_text_raw = unit(raw) = clip_embed_text, bit for bit");
        CHECK(h->clip_text_raw(h->ctx, pr[1], rw2, &pe) == 0 && !memcmp(rw2, rw[1], sizeof rw2) && hs.ntexts == 3,
              "a second clip_text_raw gives the same bits from the cache");
        /* a prompt over the context (77 tokens) is refused by both, naming it, and not cached */
        char lng[600] = "a very long fish";
        for (int k = 0; k < 80; k++) strcat(lng, " fish");
        int rc1 = h->clip_text_raw(h->ctx, lng, rw2, &pe);
        CHECK(rc1 == EXIT_DATA && strstr(pe.msg, "text 'a very long fish fish") &&
                  strstr(pe.msg, "too long for context length 77"),
              "clip_text_raw of an over-long prompt: EXIT_DATA, %s", pe.msg);
        plugin_err_t pe2 = {{0}};
        int rc2 = h->clip_text(h->ctx, lng, u2, &pe2);
        CHECK(rc2 == EXIT_DATA && !strcmp(pe.msg, pe2.msg) && hs.ntexts == 3,
              "clip_text: the same error; nothing cached (%d)", hs.ntexts);
        CHECK(h->clip_text_raw(h->ctx, NULL, rw2, &pe) == EXIT_INTERNAL && pe.msg[0], "a NULL prompt: %s", pe.msg);
    }

    /* 6. parallel_for, step, RNG and original strokes */
    pool_t pool;
    pool_init(&pool, 3, NULL);
    host_set_pool(&hs, &pool);
    int hits[1000] = {0};
    pf_t pf = {hits};
    h->parallel_for(h->ctx, 1000, mark, &pf);
    int once = 1;
    for (int i = 0; i < 1000; i++) once &= hits[i] == 1;
    CHECK(h->nthreads == 3 && once, "parallel_for over the tool's pool covers [0,n) exactly once");
    host_set_pool(&hs, NULL);
    pool_free(&pool);
    {
        /* sgemm: C = 0.5 * A^T B + 2 C with A (3,2) stored (K=3,M=2), B (3,4) */
        float A[6] = {1, 2, 3, 4, 5, 6}, Bm[12], Cm[8], want_c[8];
        for (int i = 0; i < 12; i++) Bm[i] = (float)(i % 5) - 1.5f;
        for (int i = 0; i < 8; i++) Cm[i] = want_c[i] = (float)i;
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 4; j++) {
                double acc = 0;
                for (int k = 0; k < 3; k++) acc += (double)A[k * 2 + i] * Bm[k * 4 + j];
                want_c[i * 4 + j] = (float)(0.5 * acc + 2.0 * want_c[i * 4 + j]);
            }
        h->sgemm(h->ctx, 1, 0, 2, 4, 3, 0.5f, A, 2, Bm, 4, 2.0f, Cm, 4);
        double wd = 0;
        for (int i = 0; i < 8; i++) wd = fmax(wd, fabs((double)Cm[i] - want_c[i]));
        CHECK(wd < 1e-5, "sgemm through the host (A^T B, alpha, beta) = the definition (worst %.2g)", wd);
    }
    int ns = -1;
    host_set_step(&hs, 4, 50);
    CHECK(h->step(h->ctx, &ns) == 4 && ns == 50 && h->step(h->ctx, NULL) == 4, "step and number of steps");
    host_t a, b;
    host_init(&a, 42, NULL);
    host_init(&b, 42, NULL);
    CHECK(!a.h.clip_encode && !a.h.clip_text && !a.h.clip_text_raw && a.h.clip_dim == 0 && a.h.parallel_for && a.h.nthreads == 1,
          "no model: no CLIP services; a serial parallel_for");
    CHECK(a.h.rng_u64(a.h.ctx) == b.h.rng_u64(b.h.ctx) && a.h.rng_uniform(a.h.ctx) == b.h.rng_uniform(b.h.ctx),
          "the same seed gives the same draws");
    int np = 2, off = 0;
    float xy[4] = {1, 2, 3, 4}, wd = 2, op = 1;
    scene_t sc = {1, &np, &off, xy, &wd, &op};
    CHECK(a.h.original(a.h.ctx) == NULL, "no original strokes by default");
    host_set_original(&a, &sc);
    CHECK(a.h.original(a.h.ctx) == &sc, "original strokes");
    /* the image service, offered without a model too */
    {
        const char *fish = "tests/fixtures/imgprep/perfectFish.jpeg";
        enum { SI = 40 };
        float *lgot = malloc(sizeof(float) * 3 * SI * SI), *lwant = malloc(sizeof(float) * 3 * SI * SI);
        image_t fim = {0};
        err_t fe = {0};
        plugin_err_t le = {{0}};
        int ok = a.h.load_image && jpegio_load(fish, &fim, &fe) == 0;
        const int modes[3] = {PLUGIN_IMAGE_SQUASH, PLUGIN_IMAGE_CLIP, PLUGIN_IMAGE_SQUASH_BICUBIC};
        for (int k = 0; ok && k < 3; k++)
            for (int nz = 0; nz < 2; nz++) {
                int rc1 = a.h.load_image(a.h.ctx, fish, SI, modes[k], nz, lgot, &le);
                int rc2 = imgprep_clip(&fim, SI, modes[k], nz, lwant, &fe);
                ok = ok && rc1 == 0 && rc2 == 0 && !memcmp(lgot, lwant, sizeof(float) * 3 * SI * SI);
            }
        CHECK(ok, "load_image of a JPEG = image_load + imgprep_clip, three modes, [0,1] and normalised (%s)", le.msg);
        /* a PNG (grey) from the same pixels */
        image_t g = {0};
        image_init(&g, 23, 17, 1, 255, &fe);
        for (int i = 0; i < 23 * 17; i++) g.px[i] = (uint8_t)(i * 7);
        char png[] = "/tmp/test_host_img.XXXXXX";
        int lfd = mkstemp(png);
        if (lfd >= 0) close(lfd);
        ok = lfd >= 0 && pngio_save(png, &g, NULL, &fe) == 0 &&
             a.h.load_image(a.h.ctx, png, SI, PLUGIN_IMAGE_SQUASH, 0, lgot, &le) == 0 &&
             imgprep_clip(&g, SI, PLUGIN_IMAGE_SQUASH, 0, lwant, &fe) == 0 &&
             !memcmp(lgot, lwant, sizeof(float) * 3 * SI * SI) && a.h.load_image(a.h.ctx, png, SI, 0, 0, NULL, &le) == 0;
        CHECK(ok, "load_image of a grey PNG = imgprep's, three equal channels; out = NULL only checks (%s)", le.msg);
        int rc = a.h.load_image(a.h.ctx, "/no/such/picture.png", SI, PLUGIN_IMAGE_SQUASH, 0, lgot, &le);
        CHECK(rc == EXIT_IO && strstr(le.msg, "/no/such/picture.png"), "missing file: EXIT_IO, %s", le.msg);
        FILE *tf = fopen(png, "wb");
        fputs("not a picture", tf);
        fclose(tf);
        rc = a.h.load_image(a.h.ctx, png, SI, PLUGIN_IMAGE_SQUASH, 0, lgot, &le);
        CHECK(rc == EXIT_DATA && strstr(le.msg, png) && strstr(le.msg, "not a PNG or JPEG"), "undecodable: %s", le.msg);
        rc = a.h.load_image(a.h.ctx, fish, SI, PLUGIN_IMAGE_NORMALIZE, 0, lgot, &le);
        CHECK(rc == EXIT_DATA && strstr(le.msg, "perfectFish.jpeg"), "NORMALIZE on a picture not S x S: %s", le.msg);
        rc = a.h.load_image(a.h.ctx, fish, SI, 9, 0, lgot, &le);
        CHECK(rc == EXIT_USAGE && strstr(le.msg, "perfectFish.jpeg"), "bad mode: %s", le.msg);
        unlink(png);
        image_free(&g), image_free(&fim);
        free(lgot), free(lwant);
    }
    host_free(&a);
    host_free(&b);
    host_free(&hs);
    clip_close(&cm);
    free(img); free(img2); free(xn); free(dimg); free(v); free(ip); free(wf); free(dtmp);
    T_DONE();
}
