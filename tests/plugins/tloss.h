/* tloss.h - helpers the loss plugins' unit tests (tests/unit/test_loss_*.c)
 * share: a test host (common/host.c) with, optionally, the tiny closed-form
 * CLIP the host tests use (32x32 images, the real BPE tokenizer), opening a
 * loss plugin by file with a parameter string, evaluating it on an image,
 * views and strokes, and central finite differences of its value along a
 * random direction in the strokes, the image or the views.
 * A header, not a plugin: the .c files beside it are built as test plugins; this
 * file is included from tests/unit/ as "../plugins/tloss.h". */
#ifndef TLOSS_H
#define TLOSS_H
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <unistd.h>
#include "host.h"
#include "plugin_host.h"
#include "pool.h"
#include "rng.h"
#include "../unit/t.h"

typedef struct {
    host_t hs;
    pool_t pool;
    clip_params_t cw;
    clip_model_t clip;
    int has_clip;
} tl_host_t;

/* with_clip: the tiny CLIP of test_host/test_plugins (image 32, embed 16, 2 blocks). */
static inline int tl_host_init(tl_host_t *t, int with_clip) {
    memset(t, 0, sizeof *t);
    pool_init(&t->pool, 2, NULL);
    if (with_clip) {
        const clip_config_t ccfg = {.v_width = 64, .v_layers = 2, .v_heads = 2, .patch = 8, .image_size = 32,
                                    .t_width = 16, .t_layers = 1, .t_heads = 1, .context = 77, .vocab = 49408,
                                    .embed_dim = 16, .mlp_ratio = 4};
        clip_params_alloc(&t->cw, &ccfg);
        clip_params_closed_form(&t->cw);
        err_t e = {0};
        const clip_open_opts_t co = {.text = 1, .vocab = "data/clip/bpe_simple_vocab_16e6.txt.gz"};
        if (clip_open_params(&t->clip, &t->cw, &co, &t->pool, &e)) {
            printf("# tiny CLIP: %s\n", e.msg);
            return -1;
        }
        t->has_clip = 1;
    }
    host_init(&t->hs, 1, t->has_clip ? &t->clip : NULL);
    host_set_pool(&t->hs, &t->pool);
    return 0;
}

static inline void tl_host_free(tl_host_t *t) {
    host_free(&t->hs);
    if (t->has_clip) clip_close(&t->clip);
    pool_free(&t->pool);
}

/* Open build/plugins/FILE.so (or $PLUGINS/FILE.so) with ":args" appended
 * (args may be ""), and init it on the host.  rc as plugin_open/init; the
 * message in e. */
static inline int tl_open(plugin_t *p, const char *file, const char *args, tl_host_t *t, err_t *e) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.so%s%s", getenv("PLUGINS") ? getenv("PLUGINS") : "build/plugins", file,
             args && *args ? ":" : "", args ? args : "");
    memset(e, 0, sizeof *e);
    int rc = plugin_open(p, path, PLUGIN_LOSS, e);
    if (rc) return rc;
    rc = plugin_init(p, &t->hs.h, e);
    if (rc) plugin_close(p);
    return rc;
}

/* One eval; value in *value (NAN on error), rc returned, message in pe. */
static inline int tl_eval(plugin_t *p, tl_host_t *t, const loss_in_t *in, loss_out_t *out, plugin_err_t *pe) {
    memset(pe, 0, sizeof *pe);
    void *ws = plugin_ws(p, p->d->loss->ws_size(p->state, in));
    return p->d->loss->eval(p->state, ws, &t->hs.h, in, out, pe);
}

static inline double tl_value(plugin_t *p, tl_host_t *t, const loss_in_t *in) {
    loss_out_t o = {0};
    plugin_err_t pe;
    return tl_eval(p, t, in, &o, &pe) ? NAN : o.value;
}

/* Directional derivative check: analytic <g, v> against central differences
 * of the value along v, where the array arr (n floats, part of *in) is moved
 * by +-h*v.  Returns 1 when they agree within rtol of the larger plus atol;
 * prints both. */
static inline int tl_fd(plugin_t *p, tl_host_t *t, const loss_in_t *in, float *arr, const float *g, size_t n,
                        double h, double rtol, double atol, uint64_t seed, const char *what) {
    rng_t r;
    rng_seed(&r, seed);
    float *v = malloc(sizeof(float) * n), *save = malloc(sizeof(float) * n);
    memcpy(save, arr, sizeof(float) * n);
    double an = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = (float)rng_range(&r, -1, 1);
        an += (double)g[i] * v[i];
    }
    double L[2];
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < n; i++) arr[i] = save[i] + (float)((s ? -h : h) * v[i]);
        L[s] = tl_value(p, t, in);
    }
    memcpy(arr, save, sizeof(float) * n);
    double fd = (L[0] - L[1]) / (2 * h);
    int ok = fabs(fd - an) <= rtol * fmax(fabs(fd), fabs(an)) + atol;
    CHECK(ok, "%s: analytic %.7g, central FD %.7g (h=%g)", what, an, fd, h);
    free(v), free(save);
    return ok;
}
/* The picture checks every loss reading a target picture shares: a JPEG
 * (the study's reference) loads and evaluates to a positive finite value,
 * and a file in dir that is no picture is refused at init (EXIT_DATA,
 * naming the file). */
static inline void tl_picture_checks(const char *name, const char *dir, tl_host_t *t, const loss_in_t *in) {
    plugin_t p;
    err_t e = {0};
    plugin_err_t pe = {{0}};
    int rc = tl_open(&p, name, "image=tests/fixtures/imgprep/perfectFish.jpeg,preprocess=clip", t, &e);
    CHECK(rc == 0, "%s: JPEG picture, preprocess=clip (%s)", name, e.msg);
    if (!rc) {
        loss_out_t oj = {0};
        CHECK(tl_eval(&p, t, in, &oj, &pe) == 0 && isfinite(oj.value) && oj.value > 0, "%s: JPEG: eval %g (%s)", name,
              oj.value, pe.msg);
        plugin_close(&p);
    }
    char bad[200], spec[240];
    snprintf(bad, sizeof bad, "%s/notapicture.png", dir);
    FILE *bf = fopen(bad, "wb");
    if (bf) fputs("hello, not a picture\n", bf), fclose(bf);
    snprintf(spec, sizeof spec, "image=%s", bad);
    e = (err_t){0};
    rc = tl_open(&p, name, spec, t, &e);
    CHECK(rc == EXIT_DATA && strstr(e.msg, "notapicture.png") && strstr(e.msg, "not a PNG or JPEG"),
          "%s: undecodable: %s", name, e.msg);
    if (!rc) plugin_close(&p);
    unlink(bad);
}
#endif
