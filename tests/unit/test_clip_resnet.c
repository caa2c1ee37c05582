/* test_clip_resnet.c - CLIP's ResNet image tower (common/clip_resnet.c) and
 * its loading (common/clip_load.c) against the independent PyTorch reference
 * of tests/gen_resnet_ref.py (fixtures in tests/fixtures/resnet):
 *   a tiny whole CLIP (stem width 4, layers 1,2,1,1: stride-1 and stride-2
 *   downsample blocks and an identity block; image 64; attention pool 128
 *   wide, 2 heads; output 16; random batch-norm statistics), loaded from
 *   safetensors and from a PyTorch zip: the inferred configuration, identical
 *   weights from both files, the embeddings and the five features (stem,
 *   layer1..4) of 2 images, the input gradient and every vision parameter's
 *   gradient for loss = <emb,R> + sum_l <feat_l, R_l>, the embedding-only
 *   gradients, serial = 2 threads, batch 1 = row 0 of batch 2, a repeated
 *   backward, and the loader's messages for a damaged ResNet file.
 *   test_clip_resnet --mk PATH [S]   writes a small ResNet CLIP (image S, default 64) with CLIP's full
 *   49408-token vocabulary and closed-form weights (for the CLI tests of text
 *   and zero-shot) and exits. */
#include <stdlib.h>
#include <string.h>
#include "clip.h"
#include "clip_load.h"
#include "t.h"
#include "tensorfile.h"
#include "tfix.h"

static int close_all(const char *what, const float *a, const float *b, size_t n, double atol, double rtol) {
    if (!a || !b) {
        CHECK(0, "%s: data present", what);
        return 0;
    }
    double worst = 0, wa = 0, wb = 0;
    size_t bad = 0, wi = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]), lim = atol + rtol * fabs(b[i]);
        if (!(d <= lim)) bad++;
        if (d / lim > worst || i == 0) worst = d / lim, wi = i, wa = a[i], wb = b[i];
    }
    CHECK(bad == 0, "%s: %zu values within atol %.3g rtol %g (worst [%zu] %.7g vs %.7g, %.2f of tolerance)", what, n,
          atol, rtol, wi, wa, wb, worst);
    return bad == 0;
}

static double maxabs(const float *v, size_t n) {
    double m = 0;
    for (size_t i = 0; v && i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

typedef struct {
    tensorfile_t *ref;
    const char *prefix;
    int nbad, ncmp, nzero_bad;
} grad_ctx;

static int cmp_grad(const char *name, float *data, int ndim, const int *shape, void *vctx) {
    grad_ctx *c = vctx;
    if (strncmp(name, "visual.", 7)) return 0;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    if (strstr(name, "running_")) { /* buffers: no gradient */
        if (maxabs(data, n) != 0) c->nzero_bad++;
        return 0;
    }
    char key[200];
    snprintf(key, sizeof key, "%s.%s", c->prefix, name);
    if (!tf_find(c->ref, key)) {
        if (!strcmp(c->prefix, "grad")) c->nbad++, printf("# no reference for %s\n", key);
        return 0;
    }
    float *want = t_tensor(c->ref, key, n);
    c->ncmp++;
    /* k's bias cannot change a softmax over keys: its gradient is 0 up to rounding */
    double atol = strstr(name, "k_proj.bias") ? 1e-5 : 3e-5 * maxabs(want, n) + 1e-7;
    if (!close_all(key, data, want, n, atol, 2e-3)) c->nbad++;
    free(want);
    return 0;
}

static const int B = 2, S = 64, E = 16;

static void test_tower(void) {
    err_t e = {0};
    clip_params_t w, w2;
    CHECK(clip_load("tests/fixtures/resnet/tiny_rn.safetensors", &w, &e) == 0, "load tiny_rn.safetensors (%s)", e.msg);
    if (!w.mem) return;
    const clip_config_t *c = &w.cfg;
    CHECK(CLIP_IS_RESNET(c) && c->v_width == 4 && c->rn_layers[0] == 1 && c->rn_layers[1] == 2 &&
              c->rn_layers[2] == 1 && c->rn_layers[3] == 1 && c->image_size == 64 && c->patch == 32 &&
              c->v_heads == 2 && c->embed_dim == 16 && c->t_width == 64 && c->t_layers == 1 && c->context == 16 &&
              c->vocab == 300 && c->v_layers == 0,
          "config from the shapes: width %d, layers %d,%d,%d,%d, image %d, heads %d, E %d", c->v_width,
          c->rn_layers[0], c->rn_layers[1], c->rn_layers[2], c->rn_layers[3], c->image_size, c->v_heads,
          c->embed_dim);
    CHECK(clip_load("tests/fixtures/resnet/tiny_rn.pt", &w2, &e) == 0, "load tiny_rn.pt, a PyTorch zip (%s)", e.msg);
    CHECK(w2.mem && w2.n == w.n && !memcmp(w2.mem, w.mem, sizeof(float) * w.n) && w2.cfg.v_heads == 2,
          "the .pt gives the same %zu floats and heads (the rule 32*4/64 = 2)", w.n);
    clip_params_free(&w2);
    CHECK(clip_load("tests/fixtures/resnet/tiny_rn_jit.pt", &w2, &e) == 0, "load tiny_rn_jit.pt, TorchScript (%s)",
          e.msg);
    CHECK(w2.mem && w2.n == w.n && !memcmp(w2.mem, w.mem, sizeof(float) * w.n),
          "the TorchScript archive gives the same floats");
    clip_params_free(&w2);

    tensorfile_t *ref = tf_open("tests/fixtures/resnet/tiny_rn_ref.safetensors", &e);
    CHECK(ref != NULL, "open the reference (%s)", e.msg);
    if (!ref) return;
    clip_t m;
    clip_init(&m, &w, NULL);
    clip_alloc_grad(&m);
    clip_zero_grad(&m);
    CHECK(clip_image_nblocks(&m) == 5, "5 feature blocks");
    size_t nimg = (size_t)B * 3 * S * S;
    float *img = t_tensor(ref, "image", nimg), emb[2 * 16];
    CHECK(img && clip_image_forward(&m, img, B, emb, &e) == 0, "forward (%s)", e.msg);
    float *want = t_tensor(ref, "emb", (size_t)B * E);
    close_all("embedding", emb, want, (size_t)B * E, 1e-5, 1e-4);
    free(want);
    static const int fc[5] = {4, 16, 32, 64, 128}, fh[5] = {16, 16, 8, 4, 2};
    float *dfeat[5];
    for (int l = 0; l < 5; l++) {
        int C, H, W, bb, tt, cc;
        clip_image_block_shape(&m, l, &C, &H, &W);
        CHECK(C == fc[l] && H == fh[l] && W == fh[l], "feature %d is (%d,%d,%d)", l, C, H, W);
        size_t n = (size_t)B * C * H * W;
        const float *f = clip_image_block(&m, l, &bb, &tt, &cc);
        CHECK(f && bb == B && tt == H * W && cc == C, "clip_image_block %d: B %d, T %d, C %d", l, bb, tt, cc);
        char key[32];
        snprintf(key, sizeof key, "feat.%d", l);
        want = t_tensor(ref, key, n);
        close_all(key, f, want, n, 1e-5 * maxabs(want, n), 1e-4);
        free(want);
        snprintf(key, sizeof key, "dfeat.%d", l);
        dfeat[l] = t_tensor(ref, key, n);
    }
    float *demb = t_tensor(ref, "demb", (size_t)B * E), *dimg = calloc(nimg, sizeof(float));
    CHECK(clip_image_backward(&m, demb, dfeat, dimg, 1, &e) == 0, "backward (%s)", e.msg);
    want = t_tensor(ref, "grad.image", nimg);
    close_all("d loss / d image", dimg, want, nimg, 3e-5 * maxabs(want, nimg), 2e-3);
    grad_ctx gc = {ref, "grad", 0, 0, 0};
    clip_params_each(&m.g, cmp_grad, &gc);
    CHECK(gc.nbad == 0 && gc.ncmp >= 60, "gradients of all %d vision parameters match", gc.ncmp);
    CHECK(gc.nzero_bad == 0, "the running statistics get no gradient");

    /* a second backward on the same forward gives the same input gradient */
    float *dimg2 = calloc(nimg, sizeof(float));
    CHECK(clip_image_backward(&m, demb, dfeat, dimg2, 0, &e) == 0, "a second backward");
    close_all("second backward = first", dimg2, dimg, nimg, 1e-30, 0);
    free(want);

    /* the embedding term alone */
    clip_zero_grad(&m);
    memset(dimg, 0, sizeof(float) * nimg);
    CHECK(clip_image_backward(&m, demb, NULL, dimg, 1, &e) == 0, "backward of <emb,R> alone");
    want = t_tensor(ref, "grademb.image", nimg);
    close_all("d <emb,R> / d image", dimg, want, nimg, 3e-5 * maxabs(want, nimg), 2e-3);
    free(want);
    grad_ctx ge = {ref, "grademb", 0, 0, 0};
    clip_params_each(&m.g, cmp_grad, &ge);
    CHECK(ge.nbad == 0 && ge.ncmp == 5, "parameter gradients of <emb,R> match (%d tensors)", ge.ncmp);

    /* batch 1 = row 0 of batch 2 */
    float emb1[16];
    clip_image_forward(&m, img, 1, emb1, &e);
    clip_image_forward(&m, img, 2, emb, &e);
    close_all("batch 1 == row 0 of batch 2", emb1, emb, 16, 1e-6, 1e-5);

    /* 2 threads = serial */
    pool_t pool;
    CHECK(pool_init(&pool, 2, &e) == 0, "a pool of 2");
    m.par = pool_par(&pool);
    float embp[2 * 16], *dimgp = calloc(nimg, sizeof(float));
    clip_image_forward(&m, img, B, embp, &e);
    close_all("2 threads: embedding", embp, emb, (size_t)B * E, 1e-6, 1e-5);
    clip_image_backward(&m, demb, dfeat, dimgp, 0, &e);
    close_all("2 threads: input gradient", dimgp, dimg2, nimg, 1e-6 * maxabs(dimg2, nimg), 1e-4);
    m.par = pool_par(NULL);
    pool_free(&pool);
    for (int l = 0; l < 5; l++) free(dfeat[l]);
    free(img), free(demb), free(dimg), free(dimg2), free(dimgp);
    clip_free(&m);
    tf_close(ref);
}

/* the loader's messages for a damaged ResNet: a missing tensor, a stage with no blocks */
typedef struct {
    clip_shape_t *tab;
    size_t n;
    char names[4000][96];
} tab_ctx;
static int add_shape(const char *name, float *data, int ndim, const int *shape, void *vctx) {
    (void)data;
    tab_ctx *t = vctx;
    if (t->n >= 4000) return 1;
    snprintf(t->names[t->n], sizeof t->names[t->n], "%s", name);
    clip_shape_t *s = &t->tab[t->n++];
    s->name = t->names[t->n - 1], s->ndim = ndim;
    for (int i = 0; i < ndim; i++) s->shape[i] = shape[i];
    return 0;
}

static size_t drop(clip_shape_t *tab, size_t n, const char *prefix) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(tab[i].name, prefix, strlen(prefix))) tab[k++] = tab[i];
    return k;
}

static void test_loader_errors(void) {
    err_t e = {0};
    clip_params_t w;
    if (clip_load("tests/fixtures/resnet/tiny_rn.safetensors", &w, &e)) return;
    static tab_ctx t;
    static clip_shape_t tab[4000];
    t.tab = tab, t.n = 0;
    clip_params_each(&w, add_shape, &t);
    clip_config_t cfg;
    CHECK(clip_infer_config(tab, t.n, NULL, &cfg, &e) == 0 && CLIP_IS_RESNET(&cfg) && cfg.rn_layers[1] == 2,
          "the full shape table is a ResNet CLIP (%s)", e.msg);
    size_t n = drop(tab, t.n, "visual.layer2.1.bn2.running_var");
    e = (err_t){0};
    CHECK(clip_infer_config(tab, n, NULL, &cfg, &e) == EXIT_MODEL &&
              strstr(e.msg, "tensor 'visual.layer2.1.bn2.running_var' is missing"),
          "a missing running variance names itself: %s", e.msg);
    t.n = 0;
    clip_params_each(&w, add_shape, &t);
    n = drop(tab, t.n, "visual.layer3.");
    e = (err_t){0};
    CHECK(clip_infer_config(tab, n, NULL, &cfg, &e) == EXIT_MODEL && strstr(e.msg, "stage 3"),
          "a stage without blocks: %s", e.msg);
    t.n = 0;
    clip_params_each(&w, add_shape, &t);
    for (size_t i = 0; i < t.n; i++)
        if (!strcmp(tab[i].name, "visual.attnpool.positional_embedding")) tab[i].shape[0] = 6;
    e = (err_t){0};
    CHECK(clip_infer_config(tab, t.n, NULL, &cfg, &e) == EXIT_MODEL && strstr(e.msg, "grid^2 + 1"),
          "a positional embedding that is not a square grid + 1: %s", e.msg);
    t.n = 0;
    clip_params_each(&w, add_shape, &t);
    for (size_t i = 0; i < t.n; i++)
        if (!strcmp(tab[i].name, "visual.layer4.0.conv2.weight")) tab[i].shape[3] = 1;
    e = (err_t){0};
    CHECK(clip_infer_config(tab, t.n, NULL, &cfg, &e) == EXIT_MODEL &&
              strstr(e.msg, "'visual.layer4.0.conv2.weight' has shape [32,32,3,1], expected [32,32,3,3]"),
          "a mis-shaped convolution: %s", e.msg);
    clip_params_free(&w);
}

/* closed-form weights are U(-1,1)/sqrt(fan_in): convolutions scaled by
 * sqrt(6) (He), so the activations keep their size through the tower */
static int he_scale(const char *name, float *data, int ndim, const int *shape, void *ctx) {
    (void)ctx, (void)name;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    if (ndim == 4)
        for (size_t i = 0; i < n; i++) data[i] *= 2.449f;
    return 0;
}

/* a small ResNet CLIP with the full vocabulary: closed-form weights */
static int mk(const char *path, int size) {
    clip_config_t cfg = {.v_width = 8, .v_heads = 4, .patch = 32, .image_size = size, .t_width = 16, .t_layers = 1,
                         .t_heads = 1, .context = 77, .vocab = 49408, .embed_dim = 16, .mlp_ratio = 4,
                         .rn_layers = {1, 1, 1, 1}};
    clip_params_t w;
    err_t e = {0};
    if (clip_params_alloc(&w, &cfg)) return fprintf(stderr, "bad config\n"), 1;
    clip_params_closed_form(&w);
    clip_params_each(&w, he_scale, NULL);
    int rc = clip_save_safetensors(path, &w, &e);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    clip_params_free(&w);
    return rc;
}

int main(int argc, char **argv) {
    util_init(argv[0]);
    if ((argc == 3 || argc == 4) && !strcmp(argv[1], "--mk")) return mk(argv[2], argc == 4 ? atoi(argv[3]) : 64);
    test_tower();
    test_loader_errors();
    T_DONE();
}
