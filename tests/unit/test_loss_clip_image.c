/* test_loss_clip_image.c - the `clip-image` loss plugin on the tiny CLIP:
 * the reference picture read by the host's image service (host->load_image)
 * from PNG (RGB and grey) and JPEG and preprocessed squash / clip, against
 * the project's PIL-exact imgprep (the same code now, so the similarity
 * agrees to 1e-3 with room to spare) -- on random pictures and on the
 * study's perfectFish.jpeg; an S x S picture is the identity; the loss
 * against the definition; gradients by central differences; missing,
 * truncated (PNG and JPEG) and non-picture files refused naming the key and
 * the file; NaN input; bad parameters. */
#include <unistd.h>
#include "../plugins/tloss.h"
#include "imgprep.h"
#include "jpeg_io.h"

enum { S = 32, E = 16, NV = 3 };

static char dir[64];

/* writes im (grey or RGB) as a PNG file */
static void write_png(const char *path, const image_t *im) {
    err_t e = {0};
    if (pngio_save(path, im, NULL, &e)) printf("# %s\n", e.msg);
}

/* unit embedding of (3,S,S) x */
static void embed(tl_host_t *t, const float *x, int n, float *emb) {
    plugin_err_t pe;
    int hd;
    t->hs.h.clip_encode(t->hs.h.ctx, x, n, 0, &hd, emb, &pe);
    t->hs.h.clip_release(t->hs.h.ctx, hd);
}

/* cos(mean of the views' unit embeddings, r) */
static double sim_to(tl_host_t *t, const float *views, int n, const float *r) {
    float emb[NV * E];
    embed(t, views, n, emb);
    double e[E] = {0}, er = 0, ee = 0, rr = 0;
    for (int b = 0; b < n; b++)
        for (int i = 0; i < E; i++) e[i] += emb[b * E + i] / n;
    for (int i = 0; i < E; i++) er += e[i] * r[i], ee += e[i] * e[i], rr += (double)r[i] * r[i];
    return er / sqrt(ee * rr);
}

/* the plugin's similarity on views with image=path and spec */
static double plugin_sim(tl_host_t *t, const char *path, const char *extra, const loss_in_t *in, int *rc) {
    char spec[512];
    snprintf(spec, sizeof spec, "image=%s%s", path, extra);
    plugin_t p;
    err_t e;
    *rc = tl_open(&p, "clip_image", spec, t, &e);
    if (*rc) {
        printf("# %s\n", e.msg);
        return NAN;
    }
    loss_out_t o = {0};
    plugin_err_t pe;
    *rc = tl_eval(&p, t, in, &o, &pe);
    if (*rc) printf("# %s\n", pe.msg);
    plugin_close(&p);
    return o.metric[0];
}

/* similarity to the imgprep (PIL-exact) preprocessing of im with mode */
static double ref_sim(tl_host_t *t, const image_t *im, int mode, const float *views) {
    float x[3 * S * S], r[E];
    err_t e = {0};
    if (imgprep_clip(im, S, mode, 0, x, &e)) return NAN;
    embed(t, x, 1, r);
    return sim_to(t, views, NV, r);
}

int main(void) {
    tl_host_t t;
    if (tl_host_init(&t, 1)) {
        CHECK(0, "tiny CLIP");
        T_DONE();
    }
    snprintf(dir, sizeof dir, "/tmp/test_loss_clip_image.XXXXXX");
    CHECK(mkdtemp(dir) != NULL, "scratch folder");
    size_t n1 = 3 * S * S;
    float *views = malloc(sizeof(float) * n1 * NV), *dviews = calloc(n1 * NV, sizeof(float));
    rng_t r;
    rng_seed(&r, 31);
    for (size_t i = 0; i < n1 * NV; i++) views[i] = (float)rng_range(&r, 0.1, 0.9);
    loss_in_t in = {.img = views, .C = 3, .H = S, .W = S, .views = views, .N = NV};
    char path[256];
    int rc;
    err_t e = {0};
    /* 1. an S x S picture: no resampling, the target is the picture itself */
    image_t im = {0};
    image_init(&im, S, S, 3, 255, &e);
    for (int i = 0; i < S * S * 3; i++) im.px[i] = (uint8_t)rng_below(&r, 256);
    snprintf(path, sizeof path, "%s/same.png", dir);
    write_png(path, &im);
    float x[3 * S * S], rr[E];
    image_to_float(&im, x);
    embed(&t, x, 1, rr);
    double want = sim_to(&t, views, NV, rr);
    CHECK_CLOSE(plugin_sim(&t, path, "", &in, &rc), want, 1e-6, 0, "S x S picture: similarity to its own embedding");
    /* 2. resampled pictures against imgprep, both paths, RGB and grey, up and down */
    const int sizes[4][3] = {{80, 53, 3}, {41, 97, 3}, {20, 27, 1}, {300, 200, 3}};
    for (int k = 0; k < 4; k++) {
        image_t a = {0};
        image_init(&a, sizes[k][0], sizes[k][1], sizes[k][2], 255, &e);
        for (int y = 0; y < a.h; y++)
            for (int xx = 0; xx < a.w; xx++)
                for (int c = 0; c < a.c; c++)
                    a.px[((size_t)y * a.w + xx) * a.c + c] =
                        (uint8_t)(127.5 + 120 * sin(0.21 * xx + 0.5 * c) * cos(0.13 * y) + rng_range(&r, -7, 7));
        snprintf(path, sizeof path, "%s/pic%d.png", dir, k);
        write_png(path, &a);
        for (int mode = 0; mode < 2; mode++) {
            double got = plugin_sim(&t, path, mode ? ",preprocess=clip" : "", &in, &rc);
            double ref = ref_sim(&t, &a, mode ? IMGPREP_CLIP : IMGPREP_SQUASH, views);
            CHECK(rc == 0 && fabs(got - ref) < 1e-3, "%dx%dx%d, %s: similarity %.6f, with imgprep's picture %.6f",
                  a.w, a.h, a.c, mode ? "clip" : "squash", got, ref);
        }
        image_free(&a);
    }
    /* 3. the study's reference picture, a JPEG read by the host */
    image_t fish = {0};
    if (jpegio_load("tests/fixtures/imgprep/perfectFish.jpeg", &fish, &e) == 0) {
        snprintf(path, sizeof path, "tests/fixtures/imgprep/perfectFish.jpeg");
        for (int mode = 0; mode < 2; mode++) {
            double got = plugin_sim(&t, path, mode ? ",preprocess=clip" : "", &in, &rc);
            double ref = ref_sim(&t, &fish, mode ? IMGPREP_CLIP : IMGPREP_SQUASH, views);
            CHECK(rc == 0 && fabs(got - ref) < 1e-3, "perfectFish %dx%d, %s: %.6f vs imgprep %.6f", fish.w, fish.h,
                  mode ? "clip" : "squash", got, ref);
        }
        image_free(&fish);
    } else CHECK(0, "perfectFish.jpeg: %s", e.msg);

    /* 4. the loss and its gradients */
    snprintf(path, sizeof path, "%s/pic0.png", dir);
    char spec[300];
    snprintf(spec, sizeof spec, "image=%s", path);
    plugin_t p;
    CHECK(tl_open(&p, "clip_image", spec, &t, &e) == 0, "load (%s)", e.msg);
    loss_out_t out = {.dviews = dviews};
    plugin_err_t pe;
    CHECK(tl_eval(&p, &t, &in, &out, &pe) == 0 && fabs(out.value - (1 - out.metric[0])) < 1e-12 &&
              !strcmp(out.metric_name[0], "similarity"),
          "L = 1 - similarity (%s)", pe.msg);
    CHECK(host_live_handles(&t.hs) == 0, "handles released (the target's too)");
    tl_fd(&p, &t, &in, views, dviews, n1 * NV, 1e-2, 2e-2, 1e-5, 1, "d/dviews along a random direction");
    float grey[S * S], dgrey[S * S] = {0};
    for (int i = 0; i < S * S; i++) grey[i] = (float)(0.5 + 0.3 * sin(0.4 * (i % S) + 0.1 * (i / S)));
    loss_in_t in0 = {.img = grey, .C = 1, .H = S, .W = S};
    loss_out_t o0 = {.dimg = dgrey};
    CHECK(tl_eval(&p, &t, &in0, &o0, &pe) == 0, "N = 0, a grey image (%s)", pe.msg);
    tl_fd(&p, &t, &in0, grey, dgrey, S * S, 1e-2, 2e-2, 1e-5, 2, "grey image: d/dimg");
    views[7] = NAN;
    rc = tl_eval(&p, &t, &in, &out, &pe);
    CHECK(rc == EXIT_NUMERIC && strstr(pe.msg, "clip-image"), "NaN view: %s", pe.msg);
    views[7] = 0.5f;
    plugin_close(&p);
    CHECK(tl_open(&p, "clip_image", "image=x,average=loss", &t, &e) != 0, "average=loss parses, a missing file does not");
    snprintf(spec, sizeof spec, "image=%s,average=loss", path);
    CHECK(tl_open(&p, "clip_image", spec, &t, &e) == 0, "average=loss");
    memset(dviews, 0, sizeof(float) * n1 * NV);
    loss_out_t ol = {.dviews = dviews};
    tl_eval(&p, &t, &in, &ol, &pe);
    tl_fd(&p, &t, &in, views, dviews, n1 * NV, 1e-2, 2e-2, 1e-5, 3, "average=loss: d/dviews");
    plugin_close(&p);

    /* 5. bad files and parameters */
    rc = tl_open(&p, "clip_image", "image=/nonexistent/ref.jpeg", &t, &e);
    CHECK(rc == EXIT_IO && strstr(e.msg, "clip-image") && strstr(e.msg, "image=/nonexistent/ref.jpeg"), "missing: %s",
          e.msg);
    /* truncated files: the first half of a PNG, and of the JPEG */
    const char *whole[2] = {"", "tests/fixtures/imgprep/perfectFish.jpeg"}, *cut[2] = {"trunc.png", "trunc.jpeg"};
    snprintf(path, sizeof path, "%s/pic3.png", dir);
    whole[0] = path;
    for (int k = 0; k < 2; k++) {
        FILE *fi = fopen(whole[k], "rb");
        static unsigned char buf[1 << 20];
        size_t got = fi ? fread(buf, 1, sizeof buf, fi) : 0;
        if (fi) fclose(fi);
        char cpath[256];
        snprintf(cpath, sizeof cpath, "%s/%s", dir, cut[k]);
        FILE *fo = fopen(cpath, "wb");
        fwrite(buf, 1, got / 2, fo);
        fclose(fo);
        snprintf(spec, sizeof spec, "image=%s", cpath);
        rc = tl_open(&p, "clip_image", spec, &t, &e);
        CHECK(got > 100 && rc == EXIT_DATA && strstr(e.msg, "truncated") && strstr(e.msg, cut[k]) &&
                  strstr(e.msg, "clip-image"),
              "truncated %s: %s", k ? "JPEG" : "PNG", e.msg);
        unlink(cpath);
    }
    snprintf(path, sizeof path, "%s/text.png", dir);
    FILE *f = fopen(path, "wb");
    fprintf(f, "hello, not a picture\n");
    fclose(f);
    snprintf(spec, sizeof spec, "image=%s", path);
    rc = tl_open(&p, "clip_image", spec, &t, &e);
    CHECK(rc == EXIT_DATA && strstr(e.msg, "not a PNG or JPEG") && strstr(e.msg, "text.png"), "text file: %s", e.msg);
    unlink(path);
    rc = tl_open(&p, "clip_image", "image=a.png,preprocess=crop", &t, &e);
    CHECK(rc == EXIT_USAGE && strstr(e.msg, "clip-image") && strstr(e.msg, "preprocess"), "bad preprocess: %s", e.msg);
    CHECK(tl_open(&p, "clip_image", "", &t, &e) == 0, "no image: init succeeds (listing, the generic harness)");
    rc = tl_eval(&p, &t, &in, &out, &pe);
    CHECK(rc == EXIT_USAGE && strstr(pe.msg, "image=FILE"), "... and eval says what is missing: %s", pe.msg);
    plugin_close(&p);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "scratch removed");
    image_free(&im);
    free(views), free(dviews);
    tl_host_free(&t);
    T_DONE();
}
