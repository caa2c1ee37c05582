/* saliency.c - see saliency.h.  Written from the description in
 * docs/study.md 3.7 and the documented behaviour of the library
 * calls CLIPasso makes (torch's F.interpolate, scipy's gaussian_filter,
 * skimage's rgb2gray and threshold_otsu, numpy's histogram). */
#include "saliency.h"
#include "nn/resize.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define XDOG_SIGMA 0.8
#define XDOG_K 10.0
#define XDOG_GAMMA 0.98
#define XDOG_EPS (-0.1)
#define XDOG_PHI 200.0
#define GAUSS_TRUNCATE 4.0 /* scipy's default */
#define OTSU_BINS 256

static int check_size(int H, int W, const char *what, err_t *e) {
    if (H < 1 || W < 1 || H > SALIENCY_MAX_SIDE || W > SALIENCY_MAX_SIDE || (int64_t)H * W > ((int64_t)1 << 28))
        return err_set(e, EXIT_USAGE, "%s: size %dx%d out of range (1..%d a side, at most 2^28 pixels)", what, W, H,
                       SALIENCY_MAX_SIDE);
    return 0;
}

static int check_finite(const float *x, size_t n, const char *what, err_t *e) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return err_set(e, EXIT_NUMERIC, "%s: value %zu is not finite", what, i);
    return 0;
}

/* ------------------------------------------------------------ resampling */

/* src (C,h,w) -> dst (C,oh,ow): nn/resize, the antialiased bilinear the
 * optimiser uses between its canvas and CLIP. */
static int resize_aa_bilinear(const float *src, int C, int h, int w, float *dst, int oh, int ow, err_t *e) {
    resize_axis_t ax = {0}, ay = {0};
    size_t tx = (size_t)ow * RESIZE_TAPS(w, ow), ty = (size_t)oh * RESIZE_TAPS(h, oh);
    ax.first = malloc(sizeof(int) * ow);
    ax.count = malloc(sizeof(int) * ow);
    ax.w = malloc(sizeof(float) * tx);
    ay.first = malloc(sizeof(int) * oh);
    ay.count = malloc(sizeof(int) * oh);
    ay.w = malloc(sizeof(float) * ty);
    float *tmp = malloc(sizeof(float) * (size_t)C * h * ow);
    int rc = 0;
    if (!ax.first || !ax.count || !ax.w || !ay.first || !ay.count || !ay.w || !tmp)
        rc = err_set(e, EXIT_INTERNAL, "saliency: out of memory resizing %dx%d to %dx%d", w, h, ow, oh);
    else if (resize_plan(&ax, w, ow) || resize_plan(&ay, h, oh))
        rc = err_set(e, EXIT_INTERNAL, "saliency: resize %dx%d to %dx%d refused", w, h, ow, oh);
    else
        resize_forward(dst, tmp, src, &ay, &ax, C);
    free(ax.first);
    free(ax.count);
    free(ax.w);
    free(ay.first);
    free(ay.count);
    free(ay.w);
    free(tmp);
    return rc;
}

/* Keys' cubic convolution weights (a = -0.75, torch's bicubic) for the four
 * taps floor(s) - 1 .. floor(s) + 2 at fraction t. */
static void cubic_weights(double t, double w[4]) {
    const double A = -0.75;
    double x;
    x = t + 1.0; w[0] = ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    x = t;       w[1] = ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    x = 1.0 - t; w[2] = ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    x = 2.0 - t; w[3] = ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* torch F.interpolate(mode="bicubic", align_corners=False) of src (h,w) to
 * dst (oh,ow). */
static void bicubic(const float *src, int h, int w, float *dst, int oh, int ow) {
    double sy = (double)h / oh, sx = (double)w / ow;
    for (int i = 0; i < oh; i++) {
        double ry = sy * (i + 0.5) - 0.5, fy = floor(ry), wy[4];
        cubic_weights(ry - fy, wy);
        for (int j = 0; j < ow; j++) {
            double rx = sx * (j + 0.5) - 0.5, fx = floor(rx), wx[4], acc = 0;
            cubic_weights(rx - fx, wx);
            for (int a = 0; a < 4; a++) {
                const float *row = src + (size_t)clampi((int)fy - 1 + a, 0, h - 1) * w;
                double r = 0;
                for (int b = 0; b < 4; b++) r += wx[b] * row[clampi((int)fx - 1 + b, 0, w - 1)];
                acc += wy[a] * r;
            }
            dst[(size_t)i * ow + j] = (float)acc;
        }
    }
}

/* In place to [0,1]; a constant array becomes `flat`.  Returns 1 if constant. */
static int minmax(float *x, size_t n, float flat) {
    float lo = x[0], hi = x[0];
    for (size_t i = 1; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    if (!(hi > lo)) {
        for (size_t i = 0; i < n; i++) x[i] = flat;
        return 1;
    }
    double d = (double)hi - lo;
    for (size_t i = 0; i < n; i++) x[i] = (float)(((double)x[i] - lo) / d);
    return 0;
}

/* ------------------------------------------------------------- relevancy */

int saliency_attention(clip_t *m, const float *rgb, int H, int W, float *attn, float *grid, err_t *e) {
    if (!m || !rgb || !attn) return err_set(e, EXIT_USAGE, "saliency: NULL argument");
    if (check_size(H, W, "saliency target", e)) return EXIT_USAGE;
    const clip_config_t *c = &m->w.cfg;
    int S = c->image_size, P = c->patch, L = c->v_layers;
    if (CLIP_IS_RESNET(c))
        return err_set(e, EXIT_MODEL, "saliency: needs a ViT CLIP's attention maps; the model is a ResNet CLIP "
                                      "(CLIPasso takes them from ViT-B/32 and its loss from RN101)");
    if (S < 1 || P < 1 || S % P || L < 1) return err_set(e, EXIT_MODEL, "saliency: model image size %d, patch %d", S, P);
    int g = S / P, NP = g * g;
    size_t n = (size_t)H * W;
    if (check_finite(rgb, 3 * n, "saliency target", e)) return EXIT_NUMERIC;
    float *img = malloc(sizeof(float) * 3 * (size_t)S * S), *emb = malloc(sizeof(float) * (c->embed_dim > 0 ? c->embed_dim : 1));
    double *acc = calloc((size_t)NP, sizeof(double));
    float *cls = malloc(sizeof(float) * NP);
    int rc = 0;
    if (!img || !emb || !acc || !cls) {
        rc = err_set(e, EXIT_INTERNAL, "saliency: out of memory");
        goto done;
    }
    if (H == S && W == S) memcpy(img, rgb, sizeof(float) * 3 * n);
    else if ((rc = resize_aa_bilinear(rgb, 3, H, W, img, S, S, e))) goto done;
    for (int ch = 0; ch < 3; ch++)
        for (size_t i = 0; i < (size_t)S * S; i++) {
            float *v = img + (size_t)ch * S * S + i;
            *v = (*v - clip_mean[ch]) / clip_std[ch];
        }
    if ((rc = clip_image_forward(m, img, 1, emb, e))) goto done;
    for (int l = 0; l < L; l++) {
        int B = 0, NH = 0, T = 0;
        const float *a = clip_image_attention(m, l, &B, &NH, &T);
        if (!a || B < 1 || NH < 1 || T != NP + 1) {
            rc = err_set(e, EXIT_INTERNAL, "saliency: block %d attention unavailable", l);
            goto done;
        }
        for (int h = 0; h < NH; h++) {
            const float *row = a + (size_t)h * T * T; /* sequence 0, head h, query = class token */
            for (int j = 0; j < NP; j++) acc[j] += (row[1 + j] > 0 ? row[1 + j] : 0.0) / NH;
        }
    }
    for (int j = 0; j < NP; j++) cls[j] = (float)(acc[j] / L);
    if ((rc = check_finite(cls, NP, "saliency: attention", e))) goto done;
    if (grid) memcpy(grid, cls, sizeof(float) * NP);
    bicubic(cls, g, g, attn, H, W);
    minmax(attn, n, 1.0f);
done:
    free(img);
    free(emb);
    free(acc);
    free(cls);
    return rc;
}

/* ------------------------------------------------------------------ XDoG */

void saliency_grey(const float *rgb, int H, int W, float *grey) {
    static const float wgt[3] = {0.2125f, 0.7154f, 0.0721f}; /* skimage's rgb2gray (ITU-R BT.709) */
    size_t n = (size_t)H * W;
    for (size_t i = 0; i < n; i++) {
        float s = 0;
        for (int c = 0; c < 3; c++) s += wgt[c] * ((rgb[c * n + i] - clip_mean[c]) / clip_std[c]);
        grey[i] = s;
    }
}

/* scipy's "reflect" index: half-sample symmetric, period 2n. */
static int reflect(int i, int n) {
    int p = 2 * n;
    i %= p;
    if (i < 0) i += p;
    return i < n ? i : p - 1 - i;
}

/* scipy.ndimage.gaussian_filter(x, sigma) (truncate 4): along axis 0 (down
 * the columns), then axis 1, float between the passes.  tmp (H,W). */
static int gauss(const float *x, int H, int W, double sigma, float *out, float *tmp) {
    int r = (int)(GAUSS_TRUNCATE * sigma + 0.5);
    double *k = malloc(sizeof(double) * (2 * r + 1)), tot = 0;
    int *ix = malloc(sizeof(int) * (size_t)((H > W ? H : W) + 2 * r));
    if (!k || !ix) return free(k), free(ix), -1;
    for (int i = -r; i <= r; i++) tot += k[i + r] = exp(-0.5 * (double)i * i / (sigma * sigma));
    for (int i = 0; i <= 2 * r; i++) k[i] /= tot;
    for (int i = 0; i < H + 2 * r; i++) ix[i] = reflect(i - r, H);
    for (int y = 0; y < H; y++)
        for (int xx = 0; xx < W; xx++) {
            double s = 0;
            for (int j = 0; j <= 2 * r; j++) s += k[j] * x[(size_t)ix[y + j] * W + xx];
            tmp[(size_t)y * W + xx] = (float)s;
        }
    for (int i = 0; i < W + 2 * r; i++) ix[i] = reflect(i - r, W);
    for (int y = 0; y < H; y++) {
        const float *row = tmp + (size_t)y * W;
        for (int xx = 0; xx < W; xx++) {
            double s = 0;
            for (int j = 0; j <= 2 * r; j++) s += k[j] * row[ix[xx + j]];
            out[(size_t)y * W + xx] = (float)s;
        }
    }
    free(k);
    free(ix);
    return 0;
}

int saliency_xdog(const float *grey, int H, int W, float *x, int *flat, err_t *e) {
    if (!grey || !x) return err_set(e, EXIT_USAGE, "saliency_xdog: NULL argument");
    if (check_size(H, W, "saliency_xdog", e)) return EXIT_USAGE;
    size_t n = (size_t)H * W;
    if (check_finite(grey, n, "saliency_xdog", e)) return EXIT_NUMERIC;
    float *g2 = malloc(sizeof(float) * n), *tmp = malloc(sizeof(float) * n);
    if (!g2 || !tmp || gauss(grey, H, W, XDOG_SIGMA, x, tmp) || gauss(grey, H, W, XDOG_SIGMA * XDOG_K, g2, tmp)) {
        free(g2);
        free(tmp);
        return err_set(e, EXIT_INTERNAL, "saliency_xdog: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        float d = x[i] - (float)XDOG_GAMMA * g2[i];
        x[i] = d < (float)XDOG_EPS ? 1.0f : 1.0f + tanhf((float)XDOG_PHI * d);
    }
    free(g2);
    free(tmp);
    int f = minmax(x, n, 0.0f);
    if (flat) *flat = f;
    return 0;
}

double saliency_otsu(const float *x, size_t n) {
    double lo = x[0], hi = x[0];
    for (size_t i = 1; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    if (!(hi > lo)) return lo;
    /* numpy.histogram(x, 256, range=(lo, hi)): edges lo + k * step, the last
     * one hi; the computed bin corrected against the edges */
    double step = (hi - lo) / OTSU_BINS, edge[OTSU_BINS + 1], ctr[OTSU_BINS], cnt[OTSU_BINS] = {0};
    for (int k = 0; k <= OTSU_BINS; k++) edge[k] = k * step + lo;
    edge[OTSU_BINS] = hi;
    for (int k = 0; k < OTSU_BINS; k++) ctr[k] = (edge[k] + edge[k + 1]) / 2;
    double norm = OTSU_BINS / (hi - lo);
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        int b = (int)((v - lo) * norm);
        if (b >= OTSU_BINS) b = OTSU_BINS - 1;
        if (b < 0) b = 0;
        if (v < edge[b]) b--;
        else if (b != OTSU_BINS - 1 && v >= edge[b + 1]) b++;
        cnt[b] += 1;
    }
    /* class weights and means for every split, as skimage's threshold_otsu */
    double w1[OTSU_BINS], s1[OTSU_BINS], w2[OTSU_BINS], s2[OTSU_BINS], a = 0, b = 0;
    for (int k = 0; k < OTSU_BINS; k++) {
        a += cnt[k];
        b += cnt[k] * ctr[k];
        w1[k] = a;
        s1[k] = b;
    }
    a = b = 0;
    for (int k = OTSU_BINS - 1; k >= 0; k--) {
        a += cnt[k];
        b += cnt[k] * ctr[k];
        w2[k] = a;
        s2[k] = b;
    }
    int best = 0;
    double bv = -1;
    for (int k = 0; k < OTSU_BINS - 1; k++) {
        double d = s1[k] / w1[k] - s2[k + 1] / w2[k + 1], v = w1[k] * w2[k + 1] * d * d;
        if (v > bv) {
            bv = v;
            best = k;
        }
    }
    return ctr[best];
}

int saliency_edges(const float *rgb, int H, int W, float *edges, err_t *e) {
    if (!rgb || !edges) return err_set(e, EXIT_USAGE, "saliency_edges: NULL argument");
    if (check_size(H, W, "saliency_edges", e)) return EXIT_USAGE;
    size_t n = (size_t)H * W;
    if (check_finite(rgb, 3 * n, "saliency target", e)) return EXIT_NUMERIC;
    float *grey = malloc(sizeof(float) * n);
    if (!grey) return err_set(e, EXIT_INTERNAL, "saliency_edges: out of memory");
    saliency_grey(rgb, H, W, grey);
    int flat = 0, rc = saliency_xdog(grey, H, W, edges, &flat, e);
    free(grey);
    if (rc) return rc;
    if (flat) {
        memset(edges, 0, sizeof(float) * n);
        return 0;
    }
    double th = saliency_otsu(edges, n);
    for (size_t i = 0; i < n; i++) edges[i] = edges[i] >= th ? 1.0f : 0.0f;
    return 0;
}

int saliency_map(clip_t *m, const float *rgb, int H, int W, float *map, err_t *e) {
    if (!m || !rgb || !map) return err_set(e, EXIT_USAGE, "saliency: NULL argument");
    if (check_size(H, W, "saliency target", e)) return EXIT_USAGE;
    size_t n = (size_t)H * W;
    float *edges = malloc(sizeof(float) * n);
    if (!edges) return err_set(e, EXIT_INTERNAL, "saliency: out of memory");
    int rc = saliency_edges(rgb, H, W, edges, e);
    if (!rc) rc = saliency_attention(m, rgb, H, W, map, NULL, e);
    if (!rc)
        for (size_t i = 0; i < n; i++) map[i] *= 1.0f - edges[i];
    free(edges);
    return rc;
}

/* ------------------------------------------------------------- sampling */

int saliency_strokes(const float *map, int H, int W, int nstrokes, int npts, double temp, double jitter, rng_t *rng,
                     float *xy, err_t *e) {
    if (!map || !rng || !xy) return err_set(e, EXIT_USAGE, "saliency_strokes: NULL argument");
    if (check_size(H, W, "saliency_strokes", e)) return EXIT_USAGE;
    if (nstrokes < 1 || npts < 1)
        return err_set(e, EXIT_USAGE, "saliency_strokes: %d strokes of %d points (need >= 1 each)", nstrokes, npts);
    if (!(temp > 0) || !isfinite(temp))
        return err_set(e, EXIT_USAGE, "saliency_strokes: temperature %g must be a positive number", temp);
    if (!(jitter >= 0) || !isfinite(jitter))
        return err_set(e, EXIT_USAGE, "saliency_strokes: jitter %g must be a number >= 0", jitter);
    size_t n = (size_t)H * W, npos = 0;
    if (check_finite(map, n, "saliency map", e)) return EXIT_NUMERIC;
    float mx = 0;
    for (size_t i = 0; i < n; i++)
        if (map[i] > 0) {
            npos++;
            if (map[i] > mx) mx = map[i];
        }
    if (npos < (size_t)nstrokes)
        return err_set(e, EXIT_DATA, "saliency map: %zu positive pixels, fewer than the %d strokes to place", npos,
                       nstrokes);
    /* softmax(map / temp) over the positive pixels, shifted by the maximum
     * (the same probabilities; no overflow for small temperatures) */
    double *w = malloc(sizeof(double) * n);
    int *pick = malloc(sizeof(int) * nstrokes);
    if (!w || !pick) {
        free(w);
        free(pick);
        return err_set(e, EXIT_INTERNAL, "saliency_strokes: out of memory");
    }
    for (size_t i = 0; i < n; i++) w[i] = map[i] > 0 ? exp(((double)map[i] - mx) / temp) : 0.0;
    for (int s = 0; s < nstrokes; s++) {
        double tot = 0;
        size_t last = n;
        for (size_t i = 0; i < n; i++)
            if (w[i] > 0) {
                tot += w[i];
                last = i;
            }
        /* every remaining weight underflowed (a tiny temperature): the
         * softmax's limit, the remaining pixel with the largest value */
        if (last == n) {
            for (size_t i = 0; i < n; i++)
                if (map[i] > 0 && w[i] == 0 && (last == n || map[i] > map[last])) last = i;
            pick[s] = (int)last;
            w[last] = -1;
            continue;
        }
        double u = rng_uniform(rng) * tot, c = 0;
        size_t k = last;
        for (size_t i = 0; i < n; i++)
            if (w[i] > 0) {
                c += w[i];
                if (u < c) {
                    k = i;
                    break;
                }
            }
        pick[s] = (int)k;
        w[k] = -1; /* taken */
    }
    for (int s = 0; s < nstrokes; s++) {
        double x = pick[s] % W, y = pick[s] / W;
        float *p = xy + (size_t)s * npts * 2;
        p[0] = (float)x;
        p[1] = (float)y;
        for (int k = 1; k < npts; k++) {
            x += jitter * (rng_uniform(rng) - 0.5) * W; /* the walk itself is not clamped (CLIPasso's) */
            y += jitter * (rng_uniform(rng) - 0.5) * H;
            p[2 * k] = (float)(x < 0 ? 0 : x > W ? W : x);
            p[2 * k + 1] = (float)(y < 0 ? 0 : y > H ? H : y);
        }
    }
    free(w);
    free(pick);
    return 0;
}
