/* clip_image.c - loss plugin `clip-image`: 1 - CLIP cosine similarity between
 * the augmented views (or the image, when there are none) and a reference
 * image (reference-system 1.6, 4.3 "reference", 4.8 the reference-anchor
 * experiment).
 *
 * Target: r = unit CLIP embedding of the reference picture, preprocessed as
 *   preprocess=squash (default, the study's reference path): resized to
 *       exactly S x S, bilinear (PIL's triangle filter, stretched when
 *       shrinking), no crop;
 *   preprocess=clip: CLIP's own: the shorter side to S bicubic (a = -0.5),
 *       the longer int(S * long / short), centre crop with top/left =
 *       round-half-even((size - S) / 2).
 * Both passes are PIL's separable algorithm (horizontal first, each pass
 * rounded and clipped to 0..255 as PIL's 8-bit passes are) in floating
 * point, where PIL uses 22-bit fixed point: a pixel may differ from PIL's by
 * one level.  The picture is read when the plugin starts (a missing,
 * truncated or unsupported file is an error naming the key and the file) and
 * encoded on the first eval, through the host's CLIP, into the state.
 *
 * Formats: binary PPM / PGM (P6 / P5, maxval <= 255).  PNG and JPEG are
 * recognised and refused with a message saying how to convert them: the
 * project's PNG/JPEG readers live on the host side (common/png_io.c,
 * jpeg_io.c, imgprep.c), which a plugin cannot link, and plugin ABI 2 has no
 * image service (docs/losses.md, clip-image).
 *
 * Loss, gradient and metric as clip-text's, with r for t:
 *   average=embedding: L = 1 - cos(mean_k u_k, r);  average=loss: mean_k (1 - cos(u_k, r))
 * Metric "similarity" = cos(mean_k u_k, r).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "plugin.h"

#define MAXD 1024
#define MAXSIDE 16384

enum { PRE_SQUASH, PRE_CLIP };
enum { AVG_EMBEDDING, AVG_LOSS };

static const plugin_param_t params[] = {
    {.name = "image", .type = PARAM_STRING, .sdef = "", .help = "the reference picture: binary PPM/PGM (P6/P5)"},
    {.name = "preprocess", .type = PARAM_ENUM, .sdef = "squash", .choices = "squash|clip",
     .help = "squash: bilinear to SxS (the study's reference path); clip: shorter side to S bicubic, centre crop"},
    {.name = "average", .type = PARAM_ENUM, .sdef = "embedding", .choices = "embedding|loss",
     .help = "embedding: 1 - cos(mean of view embeddings, r) (the study); loss: mean over views of 1 - cos"},
};

typedef struct {
    const char *path;
    int pre, avg, D, S;
    int w, h, ch;      /* the picture: width, height, channels (1 or 3) */
    long data_off;     /* where its pixels start in the file */
    int maxval;
    int have;          /* r computed */
    float r[MAXD];
} cimage_t;

/* ---- reading ---- */

static int skip_ws(FILE *f) {
    int c;
    for (;;) {
        c = fgetc(f);
        if (c == '#')
            while (c != '\n' && c != EOF) c = fgetc(f);
        if (c == EOF) return -1;
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return ungetc(c, f), 0;
    }
}

static int read_uint(FILE *f, int *v) {
    if (skip_ws(f)) return -1;
    long x = 0;
    int c, n = 0;
    while ((c = fgetc(f)) >= '0' && c <= '9' && x <= MAXSIDE * 16L) x = x * 10 + (c - '0'), n++;
    if (!n) return -1;
    *v = (int)x;
    return 0; /* the one whitespace after the last number is consumed here */
}

/* Reads the header and checks the file holds all its pixels. */
static int read_header(cimage_t *s, plugin_err_t *err) {
    FILE *f = fopen(s->path, "rb");
    if (!f) return snprintf(err->msg, sizeof err->msg, "image=%.150s: cannot be opened", s->path), EXIT_IO;
    unsigned char m[4] = {0};
    size_t got = fread(m, 1, 4, f);
    const char *kind = NULL;
    if (got >= 4 && m[0] == 0x89 && m[1] == 'P' && m[2] == 'N' && m[3] == 'G') kind = "a PNG";
    else if (got >= 3 && m[0] == 0xFF && m[1] == 0xD8 && m[2] == 0xFF) kind = "a JPEG";
    if (kind) {
        fclose(f);
        snprintf(err->msg, sizeof err->msg,
                 "image=%.120s: %s; plugin ABI 2 gives plugins no PNG/JPEG reader, so give a binary PPM/PGM "
                 "(e.g. ImageMagick: convert FILE FILE.ppm)", s->path, kind);
        return EXIT_DATA;
    }
    int ok = got >= 2 && m[0] == 'P' && (m[1] == '5' || m[1] == '6');
    s->ch = ok && m[1] == '6' ? 3 : 1;
    if (ok) {
        fseek(f, 2, SEEK_SET);
        ok = !read_uint(f, &s->w) && !read_uint(f, &s->h) && !read_uint(f, &s->maxval);
    }
    if (!ok || s->w < 1 || s->h < 1 || s->w > MAXSIDE || s->h > MAXSIDE || (long)s->w * s->h > (1L << 28) ||
        s->maxval < 1 || s->maxval > 255) {
        fclose(f);
        snprintf(err->msg, sizeof err->msg, "image=%.150s: not a binary PPM/PGM (P6/P5, maxval <= 255) picture", s->path);
        return EXIT_DATA;
    }
    s->data_off = ftell(f);
    long need = s->data_off + (long)s->w * s->h * s->ch;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    if (size < need) {
        snprintf(err->msg, sizeof err->msg, "image=%.150s: truncated (%ld of %ld bytes)", s->path, size, need);
        return EXIT_DATA;
    }
    return 0;
}

/* ---- resampling (PIL's algorithm, in floating point) ---- */

static double k_bilinear(double x) {
    x = fabs(x);
    return x < 1 ? 1 - x : 0;
}
static double k_bicubic(double x) {
    const double a = -0.5;
    x = fabs(x);
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
}

/* One axis: src has n lines of `in` samples spaced `sstep`, line stride
 * `lstride`; dst the same with `out` samples.  Values 0..255, rounded and
 * clipped as PIL's 8-bit passes. */
static void resample_axis(const float *src, float *dst, int lines, int in, int out, long sstep, long slstride,
                          long dstep, long dlstride, int bicubic) {
    double scale = (double)in / out, ss = scale > 1 ? scale : 1, support = (bicubic ? 2 : 1) * ss;
    for (int i = 0; i < out; i++) {
        double center = (i + 0.5) * scale, wsum = 0, w[4104];
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        if (hi - lo > (int)(sizeof w / sizeof w[0])) hi = lo + (int)(sizeof w / sizeof w[0]);
        for (int j = lo; j < hi; j++) {
            double x = (j - center + 0.5) / ss;
            w[j - lo] = bicubic ? k_bicubic(x) : k_bilinear(x);
            wsum += w[j - lo];
        }
        for (int l = 0; l < lines; l++) {
            double acc = 0;
            for (int j = lo; j < hi; j++) acc += w[j - lo] * src[l * slstride + j * sstep];
            acc = wsum != 0 ? acc / wsum : 0;
            acc = floor(acc + 0.5);
            dst[l * dlstride + i * dstep] = (float)(acc < 0 ? 0 : acc > 255 ? 255 : acc);
        }
    }
}

/* sizes of the resized picture (before the crop) */
static void resized(const cimage_t *s, int *rw, int *rh) {
    if (s->pre == PRE_SQUASH) {
        *rw = *rh = s->S;
        return;
    }
    if (s->w <= s->h) *rw = s->S, *rh = (int)((double)s->S * s->h / s->w);
    else *rh = s->S, *rw = (int)((double)s->S * s->w / s->h);
}

/* floats the target needs in the workspace: pixels, after the horizontal pass, after both */
static size_t load_floats(const cimage_t *s) {
    int rw, rh;
    resized(s, &rw, &rh);
    return 3 * ((size_t)s->w * s->h + (size_t)s->h * rw + (size_t)rh * rw) + (size_t)s->w * s->h * s->ch / 4 + 4;
}

/* the picture -> out (3,S,S) in [0,1]; buf has load_floats(s) floats */
static int load_target(const cimage_t *s, float *buf, float *out, plugin_err_t *err) {
    size_t np = (size_t)s->w * s->h;
    float *pix = buf, *hor = pix + 3 * np;
    int rw, rh, S = s->S;
    resized(s, &rw, &rh);
    float *both = hor + 3 * (size_t)s->h * rw;
    unsigned char *raw = (unsigned char *)(both + 3 * (size_t)rh * rw);
    FILE *f = fopen(s->path, "rb");
    int ok = f && !fseek(f, s->data_off, SEEK_SET) && fread(raw, 1, np * s->ch, f) == np * s->ch;
    if (f) fclose(f);
    if (!ok) return snprintf(err->msg, sizeof err->msg, "clip-image: image=%.150s: cannot be read", s->path), EXIT_IO;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < np; i++) {
            double v = raw[i * s->ch + (s->ch == 3 ? c : 0)];
            pix[c * np + i] = (float)(s->maxval == 255 ? v : floor(v * 255.0 / s->maxval + 0.5));
        }
    int bic = s->pre == PRE_CLIP;
    /* horizontal pass (only when the width changes), then vertical (only when the height changes), as PIL */
    const float *h_in = pix;
    if (rw != s->w) {
        resample_axis(pix, hor, 3 * s->h, s->w, rw, 1, s->w, 1, rw, bic);
        h_in = hor;
    }
    const float *v_in = h_in;
    if (rh != s->h) {
        for (int c = 0; c < 3; c++)
            resample_axis(h_in + (size_t)c * s->h * rw, both + (size_t)c * rh * rw, rw, s->h, rh, rw, 1, rw, 1, bic);
        v_in = both;
    }
    /* centre crop (clip) with Python's round-half-even of (size - S) / 2 */
    int top = (int)nearbyint((rh - S) / 2.0), left = (int)nearbyint((rw - S) / 2.0);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                out[((size_t)c * S + y) * S + x] = v_in[((size_t)c * rh + y + top) * rw + x + left] / 255.0f;
    return 0;
}

static int ci_init(void *st, const plugin_value_t *v, const plugin_host_t *host, plugin_err_t *err) {
    cimage_t *s = st;
    s->path = v[0].s;
    s->pre = (int)v[1].i;
    s->avg = (int)v[2].i;
    if (!host || !host->clip_encode || host->clip_dim < 1) {
        snprintf(err->msg, sizeof err->msg, "clip-image needs a CLIP model (the host has none)");
        return EXIT_MODEL;
    }
    if (host->clip_dim > MAXD) {
        snprintf(err->msg, sizeof err->msg, "embedding size %d is over this plugin's %d", host->clip_dim, MAXD);
        return EXIT_MODEL;
    }
    s->D = host->clip_dim;
    s->S = host->clip_size;
    if (!s->path || !*s->path) return 0; /* refused at eval: the host may list or init without one */
    return read_header(s, err);
}

static size_t ci_ws(const void *st, const loss_in_t *in) {
    const cimage_t *s = st;
    size_t n = in->N > 0 ? (size_t)in->N : 1, px = (size_t)in->H * in->W;
    size_t main = 2 * n * (size_t)s->D + (in->C == 1 ? 2 * n * 3 * px : 0);
    size_t tgt = !s->have && s->w ? load_floats(s) + 3 * (size_t)s->S * s->S + 2 * (size_t)s->D : 0;
    return sizeof(float) * (main > tgt ? main : tgt);
}

static int encode_target(cimage_t *s, float *ws, const plugin_host_t *host, plugin_err_t *err) {
    float *img = ws, *emb = img + 3 * (size_t)s->S * s->S, *buf = emb + 2 * (size_t)s->D;
    int rc = load_target(s, buf, img, err), hd;
    if (rc) return rc;
    if ((rc = host->clip_encode(host->ctx, img, 1, 0, &hd, emb, err))) return rc;
    host->clip_release(host->ctx, hd);
    for (int i = 0; i < s->D; i++) s->r[i] = emb[i];
    s->have = 1;
    return 0;
}

static int ci_eval(void *st, void *ws, const plugin_host_t *host, const loss_in_t *in, loss_out_t *out,
                   plugin_err_t *err) {
    cimage_t *s = st;
    int D = s->D, n = in->N > 0 ? in->N : 1, C = in->C, S = s->S, rc;
    const float *x = in->N > 0 ? in->views : in->img;
    float *dx = in->N > 0 ? out->dviews : out->dimg;
    if (!s->path || !*s->path)
        return snprintf(err->msg, sizeof err->msg, "clip-image: no reference picture (give image=FILE)"), EXIT_USAGE;
    if (!x || (C != 1 && C != 3) || in->H != S || in->W != S) {
        snprintf(err->msg, sizeof err->msg, "clip-image: the %s is %dx%dx%d; CLIP takes 1 or 3 x %dx%d (resize in the augmentation)",
                 in->N > 0 ? "views" : "image", C, in->H, in->W, S, S);
        return EXIT_USAGE;
    }
    size_t px = (size_t)S * S, tot = (size_t)n * C * px;
    for (size_t i = 0; i < tot; i++)
        if (!isfinite(x[i])) {
            snprintf(err->msg, sizeof err->msg, "clip-image: %s %zu, pixel %zu is not finite",
                     in->N > 0 ? "view" : "image", i / ((size_t)C * px), i % ((size_t)C * px));
            return EXIT_NUMERIC;
        }
    if (!s->have && (rc = encode_target(s, ws, host, err))) return rc;
    float *emb = ws, *demb = emb + (size_t)n * D, *x3 = demb + (size_t)n * D, *dx3 = x3 + (size_t)n * 3 * px;
    const float *xin = x;
    if (C == 1) {
        for (int b = 0; b < n; b++)
            for (int c = 0; c < 3; c++) memcpy(x3 + ((size_t)b * 3 + c) * px, x + (size_t)b * px, sizeof(float) * px);
        xin = x3;
    }
    int hd;
    if ((rc = host->clip_encode(host->ctx, xin, n, 0, &hd, emb, err))) return rc;
    double e[MAXD] = {0}, et = 0, ee = 0, L;
    for (int b = 0; b < n; b++)
        for (int i = 0; i < D; i++) e[i] += emb[(size_t)b * D + i] / (double)n;
    for (int i = 0; i < D; i++) et += e[i] * s->r[i], ee += e[i] * e[i];
    double ne = sqrt(ee), sim = ne > 0 ? et / ne : 0;
    if (s->avg == AVG_EMBEDDING) {
        L = 1 - sim;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < D; i++)
                demb[(size_t)b * D + i] = ne > 0 ? (float)(-(s->r[i] / ne - et * e[i] / (ne * ne * ne)) / n) : 0;
    } else {
        L = 0;
        for (int b = 0; b < n; b++) {
            const float *u = emb + (size_t)b * D;
            double ut = 0, uu = 0;
            for (int i = 0; i < D; i++) ut += (double)u[i] * s->r[i], uu += (double)u[i] * u[i];
            double nu = sqrt(uu);
            L += (1 - ut / nu) / n;
            for (int i = 0; i < D; i++)
                demb[(size_t)b * D + i] = (float)(-(s->r[i] / nu - ut * u[i] / (nu * nu * nu)) / n);
        }
    }
    if (dx) {
        if (C == 1) memset(dx3, 0, sizeof(float) * (size_t)n * 3 * px);
        rc = host->clip_backward(host->ctx, hd, demb, NULL, C == 1 ? dx3 : dx, err);
        if (!rc && C == 1)
            for (int b = 0; b < n; b++)
                for (int c = 0; c < 3; c++)
                    for (size_t i = 0; i < px; i++) dx[(size_t)b * px + i] += dx3[((size_t)b * 3 + c) * px + i];
    }
    host->clip_release(host->ctx, hd);
    if (rc) return rc;
    out->value = L;
    out->nmetrics = 1;
    out->metric_name[0] = "similarity";
    out->metric[0] = sim;
    return 0;
}

static const loss_vt vt = {.ws_size = ci_ws, .eval = ci_eval};

static const plugin_desc_t desc = {
    .abi = INVCLIP_PLUGIN_ABI,
    .kind = PLUGIN_LOSS,
    .name = "clip-image",
    .version = "1",
    .summary = "1 - CLIP cosine similarity of the views (or the image) to a reference picture",
    .help = "r = unit CLIP embedding of image=FILE (binary PPM/PGM; PNG/JPEG are refused with a conversion hint: "
            "plugin ABI 2 has no image service), preprocessed squash (bilinear to SxS, the study's reference "
            "path, reference-system 1.6) or clip (shorter side to S bicubic, centre crop), PIL's algorithm in "
            "floating point.  L = 1 - cos(mean_k u_k, r) over the unit embeddings u_k of the N views (the image "
            "when N = 0) (average=embedding), or mean_k (1 - cos(u_k, r)) (average=loss).  The reference-anchor "
            "experiment (4.8) is clip-image with no augmentation.  Metric: similarity.",
    .params = params,
    .nparams = (int)(sizeof params / sizeof params[0]),
    .state_size = sizeof(cimage_t),
    .init = ci_init,
    .loss = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
