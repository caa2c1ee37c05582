/* test_clip.c - the C CLIP (common/clip.c) against the independent PyTorch
 * reference written by tests/gen_clip_ref.py (fixtures in tests/fixtures/clip):
 *   tiny model (image 32, patch 8, width 64, 2 layers, 2 heads; text context
 *   16, vocab 300): image embeddings, every block's output, gradients w.r.t.
 *   the image and every vision parameter (with gradients injected at every
 *   block output), text embeddings and gradients w.r.t. every text parameter;
 *   full-size ViT-B/32 with closed-form weights: image embedding, class token
 *   after blocks 0 and 11, a text embedding.
 * Each tensor is compared with |a-b| <= atol + rtol*|b|; the worst element is
 * printed, and any mismatch fails. */
#include <stdlib.h>
#include <string.h>
#include "clip.h"
#include "nn/gemm_bf16.h"
#include "nn/gemm_f32.h"
#include "t.h"
#include "tensorfile.h"
#include "tfix.h"


/* compare; returns 1 if all close */
static int close_all(const char *what, const float *a, const float *b, size_t n, double atol, double rtol) {
    if (!a || !b) { CHECK(0, "%s: data present", what); return 0; }
    double worst = 0, wa = 0, wb = 0;
    size_t bad = 0, wi = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]), lim = atol + rtol * fabs(b[i]);
        if (!(d <= lim)) bad++;
        if (d / lim > worst || i == 0) { worst = d / lim; wi = i; wa = a[i]; wb = b[i]; }
    }
    CHECK(bad == 0, "%s: %zu values within atol %g rtol %g (worst [%zu] %.7g vs %.7g, %.2f of tolerance)", what, n, atol,
          rtol, wi, wa, wb, worst);
    return bad == 0;
}

typedef struct { tensorfile_t *tf; int missing; } load_ctx;
static int load_one(const char *name, float *data, int ndim, const int *shape, void *vctx) {
    load_ctx *c = vctx;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    float *v = t_tensor(c->tf, name, n);
    if (!v) { c->missing++; return 0; }
    memcpy(data, v, sizeof(float) * n);
    free(v);
    return 0;
}

/* the tiny model's weights (tests/gen_clip_ref.py's config) from wf into *w;
 * returns the parameters not found */
static int tiny_params(tensorfile_t *wf, clip_params_t *w) {
    clip_config_t cfg = {.v_width = 64, .v_layers = 2, .v_heads = 2, .patch = 8, .image_size = 32, .t_width = 64,
                         .t_layers = 2, .t_heads = 2, .context = 16, .vocab = 300, .embed_dim = 32, .mlp_ratio = 4};
    if (clip_params_alloc(w, &cfg)) return -1;
    load_ctx lc = {wf, 0};
    clip_params_each(w, load_one, &lc);
    return lc.missing;
}

/* the tiny model's weights and PyTorch reference (tests/gen_clip_ref.py),
 * the weights loaded into *w; 0, or -1 (checks failed) */
static int tiny_open(tensorfile_t **wf, tensorfile_t **ref, clip_params_t *w) {
    err_t e = {0};
    *wf = tf_open("tests/fixtures/clip/tiny_openai.safetensors", &e);
    *ref = tf_open("tests/fixtures/clip/tiny_ref.safetensors", &e);
    CHECK(*wf && *ref, "open tiny fixtures (%s)", e.msg);
    if (!*wf || !*ref) return -1;
    int missing = tiny_params(*wf, w);
    CHECK(missing == 0, "tiny params: every parameter found by its OpenAI name (%d missing)", missing);
    return missing ? -1 : 0;
}

typedef struct { tensorfile_t *ref; int nbad, ncmp; const char *prefix; } grad_ctx;
static int cmp_grad(const char *name, float *data, int ndim, const int *shape, void *vctx) {
    grad_ctx *c = vctx;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    char key[200];
    snprintf(key, sizeof key, "%s.%s", c->prefix, name);
    if (strcmp(c->prefix, "grad") && !tf_find(c->ref, key)) return 0; /* partial sets compare what they hold */
    float *want = t_tensor(c->ref, key, n);
    if (!want) { c->nbad++; return 0; }
    c->ncmp++;
    /* gradients accumulate through 2 blocks of float32 GEMMs: scale the
     * absolute tolerance by the tensor's largest reference value */
    double mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(want[i]));
    if (!close_all(key, data, want, n, 2e-5 * mx + 1e-7, 1e-3)) c->nbad++;
    free(want);
    return 0;
}

static void test_tiny(void) {
    err_t e = {0};
    tensorfile_t *wf, *ref;
    clip_params_t w;
    if (tiny_open(&wf, &ref, &w)) return;
    clip_t m;
    clip_init(&m, &w, NULL);
    clip_alloc_grad(&m);
    clip_zero_grad(&m);
    int B = 2, S = 32, E = 32, L = 2, T = 17, C = 64;
    float *img = t_tensor(ref, "image", (size_t)B * 3 * S * S);
    float emb[2 * 32];
    CHECK(clip_image_forward(&m, img, B, emb, &e) == 0, "image forward");
    float *want = t_tensor(ref, "image_emb", (size_t)B * E);
    close_all("image embedding", emb, want, (size_t)B * E, 1e-5, 1e-4);
    free(want);
    float *dfeat[2];
    for (int l = 0; l < L; l++) {
        char key[64];
        snprintf(key, sizeof key, "image_block.%d", l);
        want = t_tensor(ref, key, (size_t)B * T * C);
        int bb, tt, cc;
        const float *blk = clip_image_block(&m, l, &bb, &tt, &cc);
        CHECK(blk && bb == B && tt == T && cc == C, "block %d shape (%d,%d,%d)", l, bb, tt, cc);
        close_all(key, blk, want, (size_t)B * T * C, 1e-5, 1e-4);
        free(want);
        snprintf(key, sizeof key, "image_dblock.%d", l);
        dfeat[l] = t_tensor(ref, key, (size_t)B * T * C);
    }
    float *demb = t_tensor(ref, "image_demb", (size_t)B * E);
    float *dimg = calloc((size_t)B * 3 * S * S, sizeof(float));
    CHECK(clip_image_backward(&m, demb, dfeat, dimg, 1, &e) == 0, "image backward (%s)", e.msg);
    want = t_tensor(ref, "grad.image", (size_t)B * 3 * S * S);
    double mx = 0;
    for (int i = 0; want && i < B * 3 * S * S; i++) mx = fmax(mx, fabs(want[i]));
    close_all("d loss / d image", dimg, want, (size_t)B * 3 * S * S, 2e-5 * mx, 1e-3);
    free(want);

    /* text */
    float *idsf = t_tensor(ref, "ids", 3 * 16);
    int ids[3 * 16];
    for (int i = 0; idsf && i < 3 * 16; i++) ids[i] = (int)idsf[i];
    float temb[3 * 32];
    CHECK(idsf && clip_text_forward(&m, ids, 3, temb, &e) == 0, "text forward (%s)", e.msg);
    want = t_tensor(ref, "text_emb", 3 * 32);
    close_all("text embedding", temb, want, 3 * 32, 1e-5, 1e-4);
    free(want);
    float *tdemb = t_tensor(ref, "text_demb", 3 * 32);
    CHECK(tdemb && clip_text_backward(&m, tdemb, 1, &e) == 0, "text backward (%s)", e.msg);
    grad_ctx gc = {ref, 0, 0, "grad"};
    clip_params_each(&m.g, cmp_grad, &gc);
    CHECK(gc.nbad == 0, "gradients of all %zu parameters match", m.g.n);

    /* the forward again must not depend on leftovers; batch 1 equals row 0 */
    float emb1[32];
    clip_image_forward(&m, img, 1, emb1, &e);
    clip_image_forward(&m, img, 2, emb, &e);
    close_all("batch 1 == row 0 of batch 2", emb1, emb, 32, 1e-6, 1e-5);

    /* the embedding gradient alone (no feature gradients): the backward then
     * takes its shortcut through the top block (only the pooled rows) */
    clip_zero_grad(&m);
    memset(dimg, 0, sizeof(float) * (size_t)B * 3 * S * S);
    CHECK(clip_image_backward(&m, demb, NULL, dimg, 1, &e) == 0, "image backward without feature gradients");
    want = t_tensor(ref, "grademb.image", (size_t)B * 3 * S * S);
    mx = 0;
    for (int i = 0; want && i < B * 3 * S * S; i++) mx = fmax(mx, fabs(want[i]));
    close_all("d <emb,R> / d image", dimg, want, (size_t)B * 3 * S * S, 2e-5 * mx, 1e-3);
    free(want);
    grad_ctx ge = {ref, 0, 0, "grademb"};
    clip_params_each(&m.g, cmp_grad, &ge);
    CHECK(ge.nbad == 0 && ge.ncmp >= 14, "top block, ln_post and proj gradients of <emb,R> match (%d tensors)", ge.ncmp);

    /* pooled_top: the top block's per-token maps on the class token only.
     * The embedding, the attention maps and the gradients of <emb,R> (image
     * and every parameter) are PyTorch's dense values; the top block's
     * output is withheld and a gradient at it refused. */
    float att_dense[2 * 2 * 17 * 17];
    clip_image_forward(&m, img, B, emb, &e);
    memcpy(att_dense, clip_image_attention(&m, L - 1, NULL, NULL, NULL), sizeof att_dense);
    m.pooled_top = 1;
    float embp[2 * 32];
    CHECK(clip_image_forward(&m, img, B, embp, &e) == 0, "pooled_top forward");
    want = t_tensor(ref, "image_emb", (size_t)B * E);
    close_all("pooled_top: image embedding", embp, want, (size_t)B * E, 1e-5, 1e-4);
    free(want);
    close_all("pooled_top: top block attention", clip_image_attention(&m, L - 1, NULL, NULL, NULL), att_dense,
              sizeof att_dense / sizeof *att_dense, 1e-7, 1e-6);
    CHECK(clip_image_block(&m, L - 1, NULL, NULL, NULL) == NULL, "pooled_top: the top block's output is withheld");
    CHECK(clip_image_block(&m, 0, NULL, NULL, NULL) != NULL, "pooled_top: lower blocks' outputs are there");
    float *dtop[2] = {NULL, dfeat[1]};
    CHECK(clip_image_backward(&m, demb, dtop, dimg, 0, &e) != 0 && strstr(e.msg, "pooled_top"),
          "pooled_top: a gradient at the top block's output is refused (%s)", e.msg);
    clip_zero_grad(&m);
    memset(dimg, 0, sizeof(float) * (size_t)B * 3 * S * S);
    CHECK(clip_image_backward(&m, demb, NULL, dimg, 1, &e) == 0, "pooled_top: image backward (%s)", e.msg);
    want = t_tensor(ref, "grademb.image", (size_t)B * 3 * S * S);
    close_all("pooled_top: d <emb,R> / d image", dimg, want, (size_t)B * 3 * S * S, 2e-5 * mx, 1e-3);
    free(want);
    grad_ctx gp = {ref, 0, 0, "grademb"};
    clip_params_each(&m.g, cmp_grad, &gp);
    CHECK(gp.nbad == 0 && gp.ncmp >= 14, "pooled_top: gradients of <emb,R> match (%d tensors)", gp.ncmp);
    m.pooled_top = 0;
    clip_image_forward(&m, img, B, emb, &e);
    CHECK(clip_image_block(&m, L - 1, NULL, NULL, NULL) != NULL, "dense again: the top block's output is back");
    for (int l = 0; l < L; l++) free(dfeat[l]);
    free(img); free(demb); free(dimg); free(idsf); free(tdemb);
    clip_free(&m);
    tf_close(wf);
    tf_close(ref);
}

/* got against twin, measured against the float model's distance from the
 * twin (flt): RMS under a tenth of it and the largest difference under half
 * of it.  Rounding to bfloat16 is discontinuous: the C float32 activations
 * and the reference's float64 ones round differently now and then (one
 * bfloat16 step of one term), so an elementwise bound on the scale of float
 * sums would be wrong; these bounds still fail the float model (ratio 1). */
static void twin_close(const char *what, const float *got, const float *twin, const float *flt, size_t n) {
    if (!got || !twin || !flt) {
        CHECK(0, "%s: data present", what);
        return;
    }
    double sc = 0, sf = 0, mc = 0, mf = 0;
    for (size_t i = 0; i < n; i++) {
        double dc = fabs((double)got[i] - twin[i]), df = fabs((double)flt[i] - twin[i]);
        sc += dc * dc, sf += df * df;
        mc = fmax(mc, dc), mf = fmax(mf, df);
    }
    double rc = sqrt(sc / n), rf = sqrt(sf / n);
    CHECK(rf > 0 && rc <= 0.1 * rf && mc <= 0.5 * mf,
          "%s: the bf16 twin's, RMS difference %.3g (float model: %.3g), largest %.3g (float model: %.3g)", what, rc,
          rf, mc, mf);
}

/* clip_t.bf16: the image tower's weight products in bfloat16, against the
 * twin of tests/gen_clip_bf16_ref.py (the same tiny model with those
 * products rounded as the mode defines them, float64 elsewhere). */
static void test_tiny_bf16(void) {
    err_t e = {0};
    tensorfile_t *wf = tf_open("tests/fixtures/clip/tiny_openai.safetensors", &e);
    tensorfile_t *ref = tf_open("tests/fixtures/clip/tiny_ref.safetensors", &e);
    tensorfile_t *bref = tf_open("tests/fixtures/clip/tiny_bf16_ref.safetensors", &e);
    CHECK(wf && ref && bref, "open tiny bf16 fixtures (%s)", e.msg);
    if (!wf || !ref || !bref) return;
    clip_params_t w;
    CHECK(tiny_params(wf, &w) == 0, "tiny params loaded");
    pool_t pool;
    pool_init(&pool, 2, &e);
    nn_par_t par = pool_par(&pool);
    clip_t m;
    clip_init(&m, &w, &par);
    int B = 2, S = 32, E = 32, L = 2, T = 17, C = 64;
    size_t nimg = (size_t)B * 3 * S * S;
    float *img = t_tensor(ref, "image", nimg), *demb = t_tensor(ref, "image_demb", (size_t)B * E);
    float *fl = t_tensor(ref, "image_emb", (size_t)B * E), *want = t_tensor(bref, "image_emb", (size_t)B * E);
    float emb[2 * 32];
    m.bf16 = 1;
    if (!nn_bf16_available()) {
        CHECK(clip_image_forward(&m, img, B, emb, &e) == EXIT_USAGE && strstr(e.msg, "AVX512_BF16"),
              "bf16 without AVX512_BF16 is refused (%s)", e.msg);
        printf("# no AVX512_BF16 here: the bf16 tower is not run\n");
        goto out;
    }
    CHECK(clip_image_forward(&m, img, B, emb, &e) == 0, "bf16 image forward (%s)", e.msg);
    twin_close("bf16: image embedding", emb, want, fl, (size_t)B * E);
    float *dfeat[2];
    for (int l = 0; l < L; l++) {
        char key[64];
        snprintf(key, sizeof key, "image_block.%d", l);
        float *wb = t_tensor(bref, key, (size_t)B * T * C), *fb = t_tensor(ref, key, (size_t)B * T * C);
        char what[64];
        snprintf(what, sizeof what, "bf16: block %d output", l);
        twin_close(what, clip_image_block(&m, l, NULL, NULL, NULL), wb, fb, (size_t)B * T * C);
        free(wb), free(fb);
        snprintf(key, sizeof key, "image_dblock.%d", l);
        dfeat[l] = t_tensor(ref, key, (size_t)B * T * C);
    }
    float *dimg = calloc(nimg, sizeof(float));
    clip_alloc_grad(&m);
    CHECK(clip_image_backward(&m, demb, dfeat, dimg, 1, &e) != 0 && strstr(e.msg, "bfloat16"),
          "bf16: parameter gradients are refused (%s)", e.msg);
    CHECK(clip_image_backward(&m, demb, dfeat, dimg, 0, &e) == 0, "bf16: image backward with block gradients (%s)",
          e.msg);
    float *wg = t_tensor(bref, "grad.image", nimg), *fg = t_tensor(ref, "grad.image", nimg);
    twin_close("bf16: d loss / d image", dimg, wg, fg, nimg);
    free(wg), free(fg);
    /* pooled_top with bf16: the embedding gradient alone */
    m.pooled_top = 1;
    CHECK(clip_image_forward(&m, img, B, emb, &e) == 0, "bf16 + pooled_top forward");
    twin_close("bf16 + pooled_top: image embedding", emb, want, fl, (size_t)B * E);
    memset(dimg, 0, sizeof(float) * nimg);
    CHECK(clip_image_backward(&m, demb, NULL, dimg, 0, &e) == 0, "bf16 + pooled_top: image backward");
    wg = t_tensor(bref, "grademb.image", nimg), fg = t_tensor(ref, "grademb.image", nimg);
    twin_close("bf16 + pooled_top: d <emb,R> / d image", dimg, wg, fg, nimg);
    free(wg), free(fg);
    /* read at each forward: float again gives the float reference */
    m.bf16 = 0;
    m.pooled_top = 0;
    clip_image_forward(&m, img, B, emb, &e);
    close_all("bf16 off again: the float embedding", emb, fl, (size_t)B * E, 1e-5, 1e-4);
    /* a second model sharing the packed weights */
    clip_params_t w2 = {0};
    clip_params_bind(&w2, &m.w.cfg, m.w.mem);
    w2.owns_mem = 0;
    clip_t m2;
    clip_init(&m2, &w2, NULL);
    m2.bf16 = 1;
    clip_bf16_share(&m2, &m);
    CHECK(m2.bfw == m.bfw && m.bfw, "clip_bf16_share: one packed copy");
    float emb2[2 * 32];
    CHECK(clip_image_forward(&m2, img, B, emb2, &e) == 0, "bf16 on the sharing model");
    twin_close("bf16 on the sharing model: image embedding", emb2, want, fl, (size_t)B * E);
    clip_free(&m2); /* (m2 borrows m's float weights, so it goes first) the packed copy stays with m */
    CHECK(m.bfw != NULL, "freeing the sharer leaves the packed weights to the other holder");
    m.bf16 = 1;
    CHECK(clip_image_forward(&m, img, B, emb2, &e) == 0, "bf16 after the sharer is freed");
    twin_close("bf16 after the sharer is freed: image embedding", emb2, want, fl, (size_t)B * E);
    clip_free(&m);
    for (int l = 0; l < L; l++) free(dfeat[l]);
    free(dimg);
    goto done;
out:
    clip_free(&m);
done:
    free(img), free(demb), free(fl), free(want);
    pool_free(&pool);
    tf_close(wf), tf_close(ref), tf_close(bref);
}

/* clip_t.f32pack: the image tower's weight products in float32 through the
 * packed weights and the project's kernel.  The same PyTorch fixtures and
 * tolerances as the float tower; gradients to the image only (parameter
 * gradients refused); and what the kernel's fixed order of sums promises:
 * an image's embedding does not depend on the batch it is in, nor on the
 * thread count. */
static void test_tiny_f32pack(void) {
    err_t e = {0};
    tensorfile_t *wf, *ref;
    clip_params_t w;
    if (tiny_open(&wf, &ref, &w)) return;
    pool_t pool;
    pool_init(&pool, 2, NULL);
    nn_par_t par = pool_par(&pool);
    clip_t m;
    clip_init(&m, &w, &par);
    m.f32pack = 1;
    int B = 2, S = 32, E = 32, L = 2, T = 17, C = 64;
    size_t nimg = (size_t)B * 3 * S * S;
    float *img = t_tensor(ref, "image", nimg), emb[2 * 32], emb1[32];
    if (!nn_f32_available()) {
        CHECK(clip_image_forward(&m, img, B, emb, &e) == EXIT_USAGE && strstr(e.msg, "AVX2"),
              "f32pack without AVX2+FMA is refused (%s)", e.msg);
        printf("# no AVX2+FMA here: the packed float32 tower is not run\n");
        goto done;
    }
    CHECK(clip_image_forward(&m, img, B, emb, &e) == 0 && m.bfw, "f32pack image forward (%s)", e.msg);
    float *want = t_tensor(ref, "image_emb", (size_t)B * E);
    close_all("f32pack: image embedding", emb, want, (size_t)B * E, 1e-5, 1e-4);
    free(want);
    float *dfeat[2];
    for (int l = 0; l < L; l++) {
        char key[64];
        snprintf(key, sizeof key, "image_block.%d", l);
        want = t_tensor(ref, key, (size_t)B * T * C);
        char what[80];
        snprintf(what, sizeof what, "f32pack: %s", key);
        close_all(what, clip_image_block(&m, l, NULL, NULL, NULL), want, (size_t)B * T * C, 1e-5, 1e-4);
        free(want);
        snprintf(key, sizeof key, "image_dblock.%d", l);
        dfeat[l] = t_tensor(ref, key, (size_t)B * T * C);
    }
    float *demb = t_tensor(ref, "image_demb", (size_t)B * E), *dimg = calloc(nimg, sizeof(float));
    clip_alloc_grad(&m);
    CHECK(clip_image_backward(&m, demb, dfeat, dimg, 1, &e) != 0 && strstr(e.msg, "packed"),
          "f32pack: parameter gradients are refused (%s)", e.msg);
    CHECK(clip_image_backward(&m, demb, dfeat, dimg, 0, &e) == 0, "f32pack: image backward with block gradients (%s)",
          e.msg);
    want = t_tensor(ref, "grad.image", nimg);
    double mx = 0;
    for (size_t i = 0; want && i < nimg; i++) mx = fmax(mx, fabs(want[i]));
    close_all("f32pack: d loss / d image", dimg, want, nimg, 2e-5 * mx, 1e-3);
    free(want);
    /* pooled_top: the embedding gradient alone */
    m.pooled_top = 1;
    CHECK(clip_image_forward(&m, img, B, emb, &e) == 0, "f32pack + pooled_top forward");
    memset(dimg, 0, sizeof(float) * nimg);
    CHECK(clip_image_backward(&m, demb, NULL, dimg, 0, &e) == 0, "f32pack + pooled_top: image backward");
    want = t_tensor(ref, "grademb.image", nimg);
    mx = 0;
    for (size_t i = 0; want && i < nimg; i++) mx = fmax(mx, fabs(want[i]));
    close_all("f32pack + pooled_top: d <emb,R> / d image", dimg, want, nimg, 2e-5 * mx, 1e-3);
    free(want);
    m.pooled_top = 0;
    /* batch and threads */
    clip_image_forward(&m, img, B, emb, &e);
    clip_image_forward(&m, img + nimg / 2, 1, emb1, &e);
    CHECK(!memcmp(emb1, emb + E, sizeof emb1), "f32pack: image 1 alone has the bits it has in the batch of 2");
    m.par = pool_par(NULL);
    clip_image_forward(&m, img, 1, emb1, &e);
    CHECK(!memcmp(emb1, emb, sizeof emb1), "f32pack: one thread, batch 1: the bits of two threads, batch 2");
    /* off again: OpenBLAS's products, the packed copy kept for later */
    m.f32pack = 0;
    float embf[2 * 32];
    clip_image_forward(&m, img, B, embf, &e);
    want = t_tensor(ref, "image_emb", (size_t)B * E);
    close_all("f32pack off again: the float embedding", embf, want, (size_t)B * E, 1e-5, 1e-4);
    free(want);
    /* bf16 asked afterwards replaces the packed float32 copy (where it runs) */
    clip_t m2;
    clip_params_t w2 = {0};
    clip_params_bind(&w2, &m.w.cfg, m.w.mem);
    w2.owns_mem = 0;
    clip_init(&m2, &w2, &par);
    m.f32pack = 1;
    clip_bf16_prepare(&m, &e);
    m2.f32pack = 1;
    clip_bf16_share(&m2, &m);
    CHECK(m2.bfw == m.bfw && m.bfw, "clip_bf16_share: one packed float32 copy");
    float emb2[2 * 32];
    CHECK(clip_image_forward(&m2, img, B, emb2, &e) == 0 && !memcmp(emb2, emb, sizeof emb2),
          "f32pack on the sharing model: the same bits");
    clip_free(&m2);
    for (int l = 0; l < L; l++) free(dfeat[l]);
    free(demb), free(dimg);
done:
    free(img);
    clip_free(&m);
    pool_free(&pool);
    tf_close(wf), tf_close(ref);
}

static void test_b32(void) {
    err_t e = {0};
    tensorfile_t *ref = tf_open("tests/fixtures/clip/b32_ref.safetensors", &e);
    CHECK(ref != NULL, "open b32 reference (%s)", e.msg);
    if (!ref) return;
    clip_config_t cfg = {.v_width = 768, .v_layers = 12, .v_heads = 12, .patch = 32, .image_size = 224, .t_width = 512,
                         .t_layers = 12, .t_heads = 8, .context = 77, .vocab = 49408, .embed_dim = 512, .mlp_ratio = 4};
    clip_params_t w;
    clip_params_alloc(&w, &cfg);
    clip_params_closed_form(&w);
    clip_t m;
    pool_t pool;
    CHECK(pool_init(&pool, 2, &e) == 0, "a pool of 2 (%s)", e.msg);
    nn_par_t par = pool_par(&pool);
    clip_init(&m, &w, &par);
    int S = 224;
    float *img = malloc(sizeof(float) * 3 * S * S);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                img[((size_t)c * S + y) * S + x] =
                    (float)((0.5 + 0.45 * sin(0.07 * x + 0.11 * y + c) * cos(0.05 * (x - y)) - clip_mean[c]) / clip_std[c]);
    float emb[512];
    CHECK(clip_image_forward(&m, img, 1, emb, &e) == 0, "B/32 image forward");
    float *want = t_tensor(ref, "image_emb", 512);
    close_all("B/32 image embedding", emb, want, 512, 2e-4, 2e-3);
    free(want);
    const float *b0 = clip_image_block(&m, 0, NULL, NULL, NULL), *b11 = clip_image_block(&m, 11, NULL, NULL, NULL);
    want = t_tensor(ref, "block0_cls", 768);
    close_all("B/32 block 0 class token", b0, want, 768, 1e-4, 1e-3);
    free(want);
    want = t_tensor(ref, "block11_cls", 768);
    close_all("B/32 block 11 class token", b11, want, 768, 2e-4, 2e-3);
    free(want);
    float *idsf = t_tensor(ref, "text_ids", 77);
    int ids[77];
    for (int i = 0; idsf && i < 77; i++) ids[i] = (int)idsf[i];
    float temb[512];
    CHECK(idsf && clip_text_forward(&m, ids, 1, temb, &e) == 0, "B/32 text forward");
    want = t_tensor(ref, "text_emb", 512);
    close_all("B/32 text embedding", temb, want, 512, 2e-4, 2e-3);
    free(want); free(idsf); free(img);
    clip_free(&m);
    pool_free(&pool);
    tf_close(ref);
}

int main(void) {
    test_tiny();
    test_tiny_bf16();
    test_tiny_f32pack();
    test_b32();
    T_DONE();
}
