/* test_saliency.c - CLIPasso's saliency stroke initialisation (common/saliency.c)
 * against the independent PyTorch/numpy reference of tests/gen_saliency_ref.py
 * (tests/fixtures/saliency/ref.safetensors, the tiny CLIP of
 * tests/fixtures/clip/tiny_openai.safetensors):
 *   the class-token grid, the relevancy map (64 x 64 canvas: resize path;
 *   32 x 32 = the model's size: no resize), the XDoG response (also on an
 *   8 x 8 picture, kernel far longer than the image), the Otsu threshold, the
 *   edge mask and the map;
 * then clip_image_attention itself, the sampler's statistics (softmax
 * frequencies, no pixel twice, determinism, jitter bounds, the
 * tiny-temperature limit) and the error cases. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "clip.h"
#include "saliency.h"
#include "t.h"
#include "tensorfile.h"
#include "tfix.h"

static void close_all(const char *what, const float *a, const float *b, size_t n, double atol, double rtol) {
    if (!a || !b) {
        CHECK(0, "%s: data present", what);
        return;
    }
    double worst = -1;
    size_t bad = 0, wi = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]), lim = atol + rtol * fabs(b[i]);
        if (!(d <= lim)) bad++;
        if (!(d / lim <= worst)) {
            worst = d / lim;
            wi = i;
        }
    }
    CHECK(bad == 0, "%s: %zu values within atol %g rtol %g (worst [%zu] %.7g vs %.7g, %.2f of tolerance)", what, n,
          atol, rtol, wi, a[wi], b[wi], worst);
}

static int load_one(const char *name, float *data, int ndim, const int *shape, void *vctx) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    float *v = t_tensor(vctx, name, n);
    if (!v) return 1;
    memcpy(data, v, sizeof(float) * n);
    free(v);
    return 0;
}

static int open_tiny(clip_t *m) {
    err_t e = {0};
    tensorfile_t *wf = tf_open("tests/fixtures/clip/tiny_openai.safetensors", &e);
    CHECK(wf != NULL, "open the tiny CLIP (%s)", e.msg);
    if (!wf) return -1;
    clip_config_t cfg = {.v_width = 64, .v_layers = 2, .v_heads = 2, .patch = 8, .image_size = 32, .t_width = 64,
                         .t_layers = 2, .t_heads = 2, .context = 16, .vocab = 300, .embed_dim = 32, .mlp_ratio = 4};
    clip_params_t w;
    int rc = clip_params_alloc(&w, &cfg);
    if (!rc) rc = clip_params_each(&w, load_one, wf);
    tf_close(wf);
    CHECK(rc == 0, "tiny CLIP weights loaded");
    if (rc) return -1;
    clip_init(m, &w, NULL);
    return 0;
}

/* The reference's map, edge mask and XDoG of one target; canvas H x W. */
static void check_case(clip_t *m, tensorfile_t *ref, const char *c, int H, int W, int full) {
    err_t e = {0};
    size_t n = (size_t)H * W;
    char key[64];
#define KEY(s) (snprintf(key, sizeof key, "%s.%s", c, s), key)
    float *rgb = t_tensor(ref, KEY("rgb"), 3 * n);
    float *want_grid = t_tensor(ref, KEY("grid"), 16), *want_attn = t_tensor(ref, KEY("attn"), n);
    float *want_map = t_tensor(ref, KEY("map"), n);
    float *attn = malloc(sizeof(float) * n), *map = malloc(sizeof(float) * n), grid[16];
    if (!rgb || !want_grid || !want_attn || !want_map) {
        CHECK(0, "%s: fixtures present", c);
        goto out;
    }
    int rc = saliency_attention(m, rgb, H, W, attn, grid, &e);
    CHECK(rc == 0, "%s: saliency_attention %dx%d (%s)", c, W, H, e.msg);
    snprintf(key, sizeof key, "%s: class-token grid (4x4)", c);
    close_all(key, grid, want_grid, 16, 1e-7, 1e-5);
    snprintf(key, sizeof key, "%s: relevancy map %dx%d", c, W, H);
    close_all(key, attn, want_attn, n, 5e-6, 0);
    rc = saliency_map(m, rgb, H, W, map, &e);
    CHECK(rc == 0, "%s: saliency_map (%s)", c, e.msg);
    /* the edge mask is a threshold: a pixel whose XDoG value sits within
     * float rounding of the threshold may fall either side; none does here */
    snprintf(key, sizeof key, "%s: map = (1 - E) * relevancy", c);
    close_all(key, map, want_map, n, 5e-6, 0);
    if (full) {
        float *want_x = t_tensor(ref, KEY("xdog"), n), *want_e = t_tensor(ref, KEY("edges"), n);
        float *want_th = t_tensor(ref, KEY("otsu"), 1);
        float *grey = malloc(sizeof(float) * n), *x = malloc(sizeof(float) * n), *ed = malloc(sizeof(float) * n);
        saliency_grey(rgb, H, W, grey);
        int flat = -1;
        rc = saliency_xdog(grey, H, W, x, &flat, &e);
        CHECK(rc == 0 && flat == 0, "%s: saliency_xdog (%s)", c, e.msg);
        snprintf(key, sizeof key, "%s: XDoG response", c);
        close_all(key, x, want_x, n, 1e-6, 0);
        double th = saliency_otsu(x, n);
        CHECK(want_th && th == want_th[0], "%s: Otsu threshold %.9g (reference %.9g)", c, th, want_th ? want_th[0] : -1.0);
        size_t near = 0;
        for (size_t i = 0; i < n; i++) near += fabs(x[i] - th) < 1e-5;
        CHECK(near == 0, "%s: no XDoG value within 1e-5 of the threshold (%zu)", c, near);
        rc = saliency_edges(rgb, H, W, ed, &e);
        size_t diff = 0, ones = 0;
        for (size_t i = 0; want_e && i < n; i++) {
            diff += ed[i] != want_e[i];
            ones += ed[i] == 1.0f;
        }
        CHECK(rc == 0 && want_e && diff == 0, "%s: edge mask identical (%zu differ; %zu of %zu pixels are 1)", c, diff,
              ones, n);
        free(want_x);
        free(want_e);
        free(want_th);
        free(grey);
        free(x);
        free(ed);
    }
#undef KEY
out:
    free(rgb);
    free(want_grid);
    free(want_attn);
    free(want_map);
    free(attn);
    free(map);
}

static void test_reference(clip_t *m) {
    err_t e = {0};
    tensorfile_t *ref = tf_open("tests/fixtures/saliency/ref.safetensors", &e);
    CHECK(ref != NULL, "open the saliency reference (%s)", e.msg);
    if (!ref) return;
    check_case(m, ref, "a", 64, 64, 1);
    check_case(m, ref, "b", 32, 32, 0);
    float *grey = t_tensor(ref, "c.grey", 64), *want = t_tensor(ref, "c.xdog", 64), x[64];
    int flat = -1;
    CHECK(grey && saliency_xdog(grey, 8, 8, x, &flat, &e) == 0 && flat == 0, "8x8 XDoG (%s)", e.msg);
    close_all("8x8 XDoG (sigma-8 kernel of 65 taps on 8 pixels)", x, want, 64, 1e-6, 0);
    free(grey);
    free(want);
    tf_close(ref);
}

static void test_attention_accessor(clip_t *m) {
    int B = -1, NH = -1, T = -1;
    clip_t fresh;
    memset(&fresh, 0, sizeof fresh);
    CHECK(clip_image_attention(&fresh, 0, &B, &NH, &T) == NULL, "no attention before a forward");
    CHECK(clip_image_attention(m, -1, NULL, NULL, NULL) == NULL && clip_image_attention(m, 2, NULL, NULL, NULL) == NULL,
          "block index out of range -> NULL");
    /* a batch of 2 (the tower grows), then every row of both blocks sums to 1 */
    float img[2 * 3 * 32 * 32], emb[64];
    for (int i = 0; i < 2 * 3 * 32 * 32; i++) img[i] = (float)sin(0.37 * i) * 1.5f;
    err_t e = {0};
    CHECK(clip_image_forward(m, img, 2, emb, &e) == 0, "forward, batch 2");
    double worst = 0;
    int ok = 1;
    for (int l = 0; l < 2; l++) {
        const float *a = clip_image_attention(m, l, &B, &NH, &T);
        ok &= a && B == 2 && NH == 2 && T == 17;
        for (int r = 0; a && r < B * NH * T; r++) {
            double s = 0;
            for (int j = 0; j < T; j++) {
                s += a[(size_t)r * T + j];
                ok &= a[(size_t)r * T + j] >= 0;
            }
            worst = fmax(worst, fabs(s - 1));
        }
    }
    CHECK(ok && worst < 1e-5, "attention (2,2,17,17) per block, rows are distributions (worst |sum-1| %.2g)", worst);
    /* the batch-1 slice after a batch-2 forward: same values as a batch-1 forward of that image */
    const float *a1 = clip_image_attention(m, 1, NULL, NULL, NULL);
    float keep[2 * 17 * 17];
    memcpy(keep, a1, sizeof keep);
    CHECK(clip_image_forward(m, img, 1, emb, &e) == 0, "forward, batch 1");
    a1 = clip_image_attention(m, 1, &B, NULL, NULL);
    double d = 0;
    for (int i = 0; i < 2 * 17 * 17; i++) d = fmax(d, fabs(a1[i] - keep[i]));
    CHECK(B == 1 && d < 1e-6, "sequence 0's probabilities do not depend on the batch (max diff %.2g)", d);
}

static int count_ok_xy(const float *xy, int ns, int np, int H, int W, double jitter, const float *map) {
    int ok = 1;
    for (int s = 0; s < ns; s++) {
        const float *p = xy + (size_t)s * np * 2;
        ok &= p[0] == floorf(p[0]) && p[1] == floorf(p[1]) && p[0] >= 0 && p[0] < W && p[1] >= 0 && p[1] < H;
        if (ok) ok &= map[(size_t)p[1] * W + (size_t)p[0]] > 0;
        for (int k = 1; k < np; k++) {
            ok &= fabs(p[2 * k] - p[2 * k - 2]) <= jitter * W / 2 + 1e-4;
            ok &= fabs(p[2 * k + 1] - p[2 * k - 1]) <= jitter * H / 2 + 1e-4;
            ok &= p[2 * k] >= 0 && p[2 * k] <= W && p[2 * k + 1] >= 0 && p[2 * k + 1] <= H;
        }
    }
    return ok;
}

static void test_sampling(void) {
    err_t e = {0};
    enum { H = 48, W = 64, NS = 16, NP = 4 };
    static float map[H * W], xy[NS * NP * 2], xy2[NS * NP * 2];
    /* mass only in an 8 x 8 block: every stroke starts there */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) map[y * W + x] = (y >= 30 && y < 38 && x >= 40 && x < 48) ? 0.5f + 0.01f * x : 0;
    rng_t r;
    int inside = 1, ok = 1;
    for (int seed = 0; seed < 20; seed++) {
        rng_seed(&r, (uint64_t)seed);
        ok &= saliency_strokes(map, H, W, NS, NP, SALIENCY_TEMP, SALIENCY_JITTER, &r, xy, &e) == 0;
        ok &= count_ok_xy(xy, NS, NP, H, W, SALIENCY_JITTER, map);
        for (int s = 0; s < NS; s++) inside &= xy[s * NP * 2] >= 40 && xy[s * NP * 2] < 48 && xy[s * NP * 2 + 1] >= 30;
    }
    CHECK(ok && inside, "20 seeds x 16 strokes: starts on positive pixels of the block, steps within jitter/2 * canvas, "
                        "points on the canvas");
    /* concentrated, not exclusive: a block at 1, the rest 0.05, temperature 0.1 */
    for (int i = 0; i < H * W; i++) map[i] = 0.05f;
    for (int y = 10; y < 18; y++)
        for (int x = 5; x < 13; x++) map[y * W + x] = 1;
    int in = 0, tot = 0;
    for (int seed = 0; seed < 50; seed++) {
        rng_seed(&r, (uint64_t)seed + 100);
        if (saliency_strokes(map, H, W, NS, 1, 0.1, 0, &r, xy, &e)) break;
        for (int s = 0; s < NS; s++, tot++) in += xy[2 * s] >= 5 && xy[2 * s] < 13 && xy[2 * s + 1] >= 10 && xy[2 * s + 1] < 18;
    }
    /* P(outside) per draw < 3008 / (64 e^9.5 + 3008) = 0.35%: expect ~3 of 800 */
    CHECK(tot == 800 && in >= 790, "temperature 0.1: %d of %d starts in the 8x8 block (expected >= 99%%)", in, tot);
    /* without replacement: as many strokes as positive pixels -> each exactly once */
    memset(map, 0, sizeof map);
    for (int i = 0; i < 64; i++) map[(i / 8 + 3) * W + (i % 8) + 20] = 0.1f + 0.9f * (i % 7) / 6.0f;
    rng_seed(&r, 7);
    static float xy64[64 * 2];
    int rc = saliency_strokes(map, H, W, 64, 1, SALIENCY_TEMP, 0, &r, xy64, &e);
    int seen[H * W] = {0}, twice = 0, off = 0;
    for (int s = 0; s < 64; s++) {
        int idx = (int)xy64[2 * s + 1] * W + (int)xy64[2 * s];
        twice += seen[idx]++ > 0;
        off += map[idx] <= 0;
    }
    CHECK(rc == 0 && twice == 0 && off == 0, "64 strokes on 64 positive pixels: each once (%d twice, %d off the map)",
          twice, off);
    /* the first draw follows softmax(map / temp): 4 pixels, 40000 draws */
    memset(map, 0, sizeof map);
    const float v[4] = {1.0f, 0.6f, 0.3f, 0.05f};
    const int at[4] = {5, 700, 1500, 3000};
    double p[4], z = 0;
    for (int i = 0; i < 4; i++) z += p[i] = exp(v[i] / 0.3);
    for (int i = 0; i < 4; i++) {
        map[at[i]] = v[i];
        p[i] /= z;
    }
    int cnt[4] = {0}, cnt2[4] = {0}, N = 40000;
    rng_seed(&r, 11);
    for (int t = 0; t < N; t++) {
        float q[4];
        if (saliency_strokes(map, H, W, 2, 1, 0.3, 0, &r, q, &e)) break;
        for (int i = 0; i < 4; i++) {
            cnt[i] += (int)q[1] * W + (int)q[0] == at[i];
            cnt2[i] += (int)q[3] * W + (int)q[2] == at[i];
        }
    }
    double zmax = 0, zmax2 = 0;
    for (int i = 0; i < 4; i++) {
        /* second draw: sum over the first j != i of p_j * p_i / (1 - p_j) */
        double p2 = 0;
        for (int j = 0; j < 4; j++)
            if (j != i) p2 += p[j] * p[i] / (1 - p[j]);
        zmax = fmax(zmax, fabs(cnt[i] - N * p[i]) / sqrt(N * p[i] * (1 - p[i])));
        zmax2 = fmax(zmax2, fabs(cnt2[i] - N * p2) / sqrt(N * p2 * (1 - p2)));
    }
    CHECK(zmax < 4.5 && zmax2 < 4.5,
          "first and second draws follow softmax / successive sampling (worst |z| %.2f, %.2f; p = %.3f %.3f %.3f %.3f)",
          zmax, zmax2, p[0], p[1], p[2], p[3]);
    /* determinism */
    for (int i = 0; i < H * W; i++) map[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    rng_seed(&r, 42);
    saliency_strokes(map, H, W, NS, NP, SALIENCY_TEMP, SALIENCY_JITTER, &r, xy, &e);
    rng_seed(&r, 42);
    saliency_strokes(map, H, W, NS, NP, SALIENCY_TEMP, SALIENCY_JITTER, &r, xy2, &e);
    CHECK(!memcmp(xy, xy2, sizeof xy), "same seed, same strokes");
    rng_seed(&r, 43);
    saliency_strokes(map, H, W, NS, NP, SALIENCY_TEMP, SALIENCY_JITTER, &r, xy2, &e);
    CHECK(memcmp(xy, xy2, sizeof xy) != 0, "another seed, other strokes");
    /* jitter 0: every point is the start */
    rng_seed(&r, 5);
    saliency_strokes(map, H, W, NS, NP, SALIENCY_TEMP, 0, &r, xy, &e);
    ok = 1;
    for (int s = 0; s < NS; s++)
        for (int k = 1; k < NP; k++) ok &= xy[(s * NP + k) * 2] == xy[s * NP * 2] && xy[(s * NP + k) * 2 + 1] == xy[s * NP * 2 + 1];
    CHECK(ok, "jitter 0: the points of a stroke coincide");
    /* huge jitter: clamped to the canvas */
    rng_seed(&r, 6);
    static float big[NS * 8 * 2];
    saliency_strokes(map, H, W, NS, 8, SALIENCY_TEMP, 3.0, &r, big, &e);
    ok = 1;
    for (int i = 0; i < NS * 8; i++) ok &= big[2 * i] >= 0 && big[2 * i] <= W && big[2 * i + 1] >= 0 && big[2 * i + 1] <= H;
    CHECK(ok, "jitter 3: every point clamped to [0,W] x [0,H]");
    /* a tiny temperature underflows every weight but the largest: argmax order */
    memset(map, 0, sizeof map);
    map[100] = map[200] = map[300] = 1.0f;
    map[400] = 0.5f;
    map[50] = 0.7f;
    rng_seed(&r, 9);
    float q[5 * 2];
    rc = saliency_strokes(map, H, W, 5, 1, 1e-6, 0, &r, q, &e);
    int first3 = 1;
    for (int s = 0; s < 3; s++) {
        int idx = (int)q[2 * s + 1] * W + (int)q[2 * s];
        first3 &= idx == 100 || idx == 200 || idx == 300;
    }
    CHECK(rc == 0 && first3 && (int)q[7] * W + (int)q[6] == 50 && (int)q[9] * W + (int)q[8] == 400,
          "temperature 1e-6: the three maxima, then 0.7, then 0.5");
}

static void test_errors(clip_t *m) {
    err_t e = {0};
    enum { H = 32, W = 32 };
    static float map[H * W], xy[16 * 4 * 2], rgb[3 * 64 * 64], out[64 * 64];
    rng_t r;
    rng_seed(&r, 1);
    CHECK(saliency_strokes(map, H, W, 16, 4, 0.3, 0.05, &r, xy, &e) == EXIT_DATA, "all-zero map: EXIT_DATA (%s)", e.msg);
    for (int i = 0; i < 10; i++) map[i * 7] = 0.5f;
    map[3] = -1.0f;
    CHECK(saliency_strokes(map, H, W, 16, 4, 0.3, 0.05, &r, xy, &e) == EXIT_DATA,
          "10 positive pixels (and a negative one) for 16 strokes: EXIT_DATA (%s)", e.msg);
    CHECK(saliency_strokes(map, H, W, 10, 4, 0.3, 0.05, &r, xy, &e) == 0, "10 positive pixels for 10 strokes: fine");
    map[5] = NAN;
    CHECK(saliency_strokes(map, H, W, 4, 4, 0.3, 0.05, &r, xy, &e) == EXIT_NUMERIC, "NaN in the map: EXIT_NUMERIC (%s)",
          e.msg);
    map[5] = INFINITY;
    CHECK(saliency_strokes(map, H, W, 4, 4, 0.3, 0.05, &r, xy, &e) == EXIT_NUMERIC, "Inf in the map: EXIT_NUMERIC");
    map[5] = 0;
    int u = 1;
    u &= saliency_strokes(map, 0, W, 4, 4, 0.3, 0.05, &r, xy, &e) == EXIT_USAGE;
    u &= saliency_strokes(map, H, -3, 4, 4, 0.3, 0.05, &r, xy, &e) == EXIT_USAGE;
    u &= saliency_strokes(map, 20000, 20000, 4, 4, 0.3, 0.05, &r, xy, &e) == EXIT_USAGE;
    u &= saliency_strokes(map, H, W, 0, 4, 0.3, 0.05, &r, xy, &e) == EXIT_USAGE;
    u &= saliency_strokes(map, H, W, 4, 0, 0.3, 0.05, &r, xy, &e) == EXIT_USAGE;
    u &= saliency_strokes(map, H, W, 4, 4, 0, 0.05, &r, xy, &e) == EXIT_USAGE;
    u &= saliency_strokes(map, H, W, 4, 4, NAN, 0.05, &r, xy, &e) == EXIT_USAGE;
    u &= saliency_strokes(map, H, W, 4, 4, 0.3, -0.1, &r, xy, &e) == EXIT_USAGE;
    u &= saliency_strokes(map, H, W, 4, 4, 0.3, INFINITY, &r, xy, &e) == EXIT_USAGE;
    u &= saliency_strokes(NULL, H, W, 4, 4, 0.3, 0.05, &r, xy, &e) == EXIT_USAGE;
    u &= saliency_strokes(map, H, W, 4, 4, 0.3, 0.05, NULL, xy, &e) == EXIT_USAGE;
    CHECK(u, "bad sizes, counts, temperature, jitter, NULL: EXIT_USAGE (last: %s)", e.msg);
    /* the map */
    for (int i = 0; i < 3 * 64 * 64; i++) rgb[i] = 1.0f;
    rgb[1234] = NAN;
    CHECK(saliency_map(m, rgb, 64, 64, out, &e) == EXIT_NUMERIC, "NaN in the target: EXIT_NUMERIC (%s)", e.msg);
    rgb[1234] = 1.0f;
    u = 1;
    u &= saliency_map(m, rgb, 0, 64, out, &e) == EXIT_USAGE;
    u &= saliency_map(m, rgb, 64, 17000, out, &e) == EXIT_USAGE;
    u &= saliency_map(m, NULL, 64, 64, out, &e) == EXIT_USAGE;
    u &= saliency_map(m, rgb, 64, 64, NULL, &e) == EXIT_USAGE;
    u &= saliency_xdog(rgb, -1, 4, out, NULL, &e) == EXIT_USAGE;
    CHECK(u, "saliency_map / saliency_xdog: bad sizes and NULL arrays: EXIT_USAGE (last: %s)", e.msg);
    /* a blank page: no edges, the map is the relevancy alone */
    static float attn[64 * 64];
    int rc = saliency_edges(rgb, 64, 64, out, &e);
    double s = 0;
    for (int i = 0; i < 64 * 64; i++) s += out[i];
    CHECK(rc == 0 && s == 0, "blank target: no edges");
    rc = saliency_map(m, rgb, 64, 64, out, &e);
    rc |= saliency_attention(m, rgb, 64, 64, attn, NULL, &e);
    CHECK(rc == 0 && !memcmp(out, attn, sizeof attn), "blank target: map = relevancy");
    /* non-square canvases run (resize and upsampling on each axis) */
    float *wide = malloc(sizeof(float) * 3 * 40 * 100), *wm = malloc(sizeof(float) * 40 * 100);
    for (int i = 0; i < 3 * 40 * 100; i++) wide[i] = (float)(0.5 + 0.5 * sin(i * 0.013));
    e.msg[0] = 0;
    rc = saliency_map(m, wide, 40, 100, wm, &e);
    float lo = 1, hi = 0;
    for (int i = 0; i < 40 * 100; i++) {
        lo = fminf(lo, wm[i]);
        hi = fmaxf(hi, wm[i]);
    }
    CHECK(rc == 0 && lo >= 0 && hi <= 1 && hi > 0, "100x40 canvas: map in [0,1] (%g..%g) (%s)", lo, hi, e.msg);
    free(wide);
    free(wm);
}

int main(void) {
    clip_t m;
    if (open_tiny(&m)) T_DONE();
    test_reference(&m);
    test_attention_accessor(&m);
    test_sampling();
    test_errors(&m);
    clip_free(&m);
    T_DONE();
}
