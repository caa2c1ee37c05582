/* style.c - loss plugin `style`: Gram matrices of CLIP vision blocks'
 * outputs against a style picture's (reference-system 4.3 "style").
 *
 * The study's style loss used VGG19 (conv1_1 .. conv5_1 before ReLU,
 * ImageNet-normalised input); VGG19's weights cannot be had here, so this is
 * the same construction on the CLIP vision tower the run already has (the
 * docs say so).  For each chosen block l and image, F (T,C) the block's
 * output (tokens as positions, channels as features):
 *   G(F) = F^T F / (C T)   (C,C), as the study's G = F F^T / (C H W) with F (C, HW)
 *   L_l  = mean over the C^2 entries of (G(F) - G(F_style))^2, averaged over the n images
 *   L = sum_l w_l L_l;  dF = 2 F (dG) / (C T) with dG = 2 (G - G_style) / (C^2 n)
 * blocks=study is [0, L/4, L/2, 3L/4, L-1] (five, like conv1_1 .. conv5_1;
 * [0,3,6,9,11] for ViT-B/32), or a '+'-separated list; weights likewise.
 * input=image (default: the study applied it to the raw render) or views.
 * The style picture is read as clip-image reads it (binary PPM/PGM, squash
 * by default: the study resized the style picture to 224 x 224), encoded
 * once on the first eval and its Grams kept in its CLIP handle's features
 * (recomputed per call: C^2 T multiply-adds per block, through host->sgemm).
 * The picture code is clip-image's, copied (a plugin shares no source).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin.h"

#define MAXSIDE 16384
#define MAXB 64

enum { PRE_SQUASH, PRE_CLIP };
enum { IN_IMAGE, IN_VIEWS };

static const plugin_param_t params[] = {
    {.name = "image", .type = PARAM_STRING, .sdef = "", .help = "the style picture: binary PPM/PGM (P6/P5)"},
    {.name = "preprocess", .type = PARAM_ENUM, .sdef = "squash", .choices = "squash|clip",
     .help = "squash: bilinear to SxS (the study's style path); clip: shorter side to S bicubic, centre crop"},
    {.name = "blocks", .type = PARAM_STRING, .sdef = "study",
     .help = "vision blocks compared: study = 0, L/4, L/2, 3L/4, L-1; or a list like 0+3+6+9+11"},
    {.name = "weights", .type = PARAM_STRING, .sdef = "", .help = "per-block weights like 1+1+0.5+0.5 (default all 1)"},
    {.name = "input", .type = PARAM_ENUM, .sdef = "image", .choices = "image|views",
     .help = "image: the un-augmented render (the study); views: the mean over the augmented views"},
};

typedef struct {
    const char *path;
    int pre, S, w, h, ch;
    long data_off;
    int maxval;
    const plugin_host_t *host; /* kept for fini (releasing the target's handle) */
    int hd;                    /* the target's handle, 0 = not encoded yet */
    int input, L, T, Cw;
    uint64_t keep;
    double wb[MAXB];           /* weight of each block (0 = not compared) */
} style_t;

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
static int read_header(style_t *s, plugin_err_t *err) {
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
static void resized(const style_t *s, int *rw, int *rh) {
    if (s->pre == PRE_SQUASH) {
        *rw = *rh = s->S;
        return;
    }
    if (s->w <= s->h) *rw = s->S, *rh = (int)((double)s->S * s->h / s->w);
    else *rh = s->S, *rw = (int)((double)s->S * s->w / s->h);
}

/* floats the target needs in the workspace: pixels, after the horizontal pass, after both */
static size_t load_floats(const style_t *s) {
    int rw, rh;
    resized(s, &rw, &rh);
    return 3 * ((size_t)s->w * s->h + (size_t)s->h * rw + (size_t)rh * rw) + (size_t)s->w * s->h * s->ch / 4 + 4;
}

/* the picture -> out (3,S,S) in [0,1]; buf has load_floats(s) floats */
static int load_target(const style_t *s, float *buf, float *out, plugin_err_t *err) {
    size_t np = (size_t)s->w * s->h;
    float *pix = buf, *hor = pix + 3 * np;
    int rw, rh, S = s->S;
    resized(s, &rw, &rh);
    float *both = hor + 3 * (size_t)s->h * rw;
    unsigned char *raw = (unsigned char *)(both + 3 * (size_t)rh * rw);
    FILE *f = fopen(s->path, "rb");
    int ok = f && !fseek(f, s->data_off, SEEK_SET) && fread(raw, 1, np * s->ch, f) == np * s->ch;
    if (f) fclose(f);
    if (!ok) return snprintf(err->msg, sizeof err->msg, "style: image=%.150s: cannot be read", s->path), EXIT_IO;
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

/* "a+b+c" of numbers into v (at most cap); count or -1 */
static int parse_list(const char *s, double *v, int cap) {
    int n = 0;
    while (*s) {
        char *end;
        double x = strtod(s, &end);
        if (end == s || n >= cap || !isfinite(x)) return -1;
        v[n++] = x;
        if (*end == '+') end++;
        else if (*end) return -1;
        s = end;
    }
    return n;
}

static int pc_init(void *st, const plugin_value_t *v, const plugin_host_t *host, plugin_err_t *err) {
    style_t *s = st;
    s->path = v[0].s, s->pre = (int)v[1].i, s->input = (int)v[4].i, s->host = host;
    if (!host || !host->clip_encode || host->clip_blocks < 1 || !host->sgemm)
        return snprintf(err->msg, sizeof err->msg, "style needs a CLIP model and sgemm (the host has none)"), EXIT_MODEL;
    s->L = host->clip_blocks, s->T = host->clip_tokens, s->Cw = host->clip_width, s->S = host->clip_size;
    double bl[MAXB], w[MAXB];
    int nb;
    if (!strcmp(v[2].s, "study")) {
        nb = 5;
        bl[0] = 0, bl[1] = s->L / 4, bl[2] = s->L / 2, bl[3] = 3 * s->L / 4, bl[4] = s->L - 1;
    } else if ((nb = parse_list(v[2].s, bl, MAXB)) < 1)
        return snprintf(err->msg, sizeof err->msg, "blocks='%.60s' is not 'study' or a list like 0+3+6+9+11", v[2].s), EXIT_USAGE;
    for (int i = 0; i < nb; i++)
        if (bl[i] != floor(bl[i]) || bl[i] < 0 || bl[i] >= s->L)
            return snprintf(err->msg, sizeof err->msg, "blocks: %g is not a block of this model (0..%d)", bl[i], s->L - 1),
                   EXIT_USAGE;
    int nw = *v[3].s ? parse_list(v[3].s, w, MAXB) : nb;
    if (!*v[3].s)
        for (int i = 0; i < nb; i++) w[i] = 1;
    if (nw != nb)
        return snprintf(err->msg, sizeof err->msg, "weights='%.60s' must give one number per block (%d)", v[3].s, nb),
               EXIT_USAGE;
    for (int i = 0; i < nb; i++) {
        if (w[i] < 0) return snprintf(err->msg, sizeof err->msg, "weights: %g is negative", w[i]), EXIT_USAGE;
        s->wb[(int)bl[i]] += w[i];
        s->keep |= 1ull << (int)bl[i];
    }
    if (!s->path || !*s->path) return 0; /* refused at eval: the host may list or init without one */
    return read_header(s, err);
}

static void pc_fini(void *st) {
    style_t *s = st;
    if (s->hd && s->host && s->host->clip_release) s->host->clip_release(s->host->ctx, s->hd);
    s->hd = 0;
}

static int nblocks(const style_t *s) {
    int k = 0;
    for (int l = 0; l < s->L; l++) k += s->keep >> l & 1;
    return k;
}

static size_t pc_ws(const void *st, const loss_in_t *in) {
    const style_t *s = st;
    size_t n = s->input == IN_VIEWS && in->N > 0 ? (size_t)in->N : 1, px = (size_t)in->H * in->W;
    size_t main = (in->C == 1 ? 2 * n * 3 * px : 0) + (size_t)nblocks(s) * n * s->T * s->Cw + 2 * (size_t)s->Cw * s->Cw;
    size_t tgt = !s->hd && s->w ? load_floats(s) + 3 * (size_t)s->S * s->S + 1024 : 0;
    return sizeof(float) * (main > tgt ? main : tgt);
}

static int pc_eval(void *st, void *ws, const plugin_host_t *host, const loss_in_t *in, loss_out_t *out,
                   plugin_err_t *err) {
    style_t *s = st;
    int views = s->input == IN_VIEWS && in->N > 0, n = views ? in->N : 1, C = in->C, S = s->S, rc;
    const float *x = views ? in->views : in->img;
    float *dx = views ? out->dviews : out->dimg;
    if (!s->path || !*s->path)
        return snprintf(err->msg, sizeof err->msg, "style: no style picture (give image=FILE)"), EXIT_USAGE;
    if (!x || (C != 1 && C != 3) || in->H != S || in->W != S) {
        snprintf(err->msg, sizeof err->msg, "style: the %s is %dx%dx%d; CLIP takes 1 or 3 x %dx%d",
                 views ? "views" : "image", C, in->H, in->W, S, S);
        return EXIT_USAGE;
    }
    size_t px = (size_t)S * S, tot = (size_t)n * C * px;
    for (size_t i = 0; i < tot; i++)
        if (!isfinite(x[i])) {
            snprintf(err->msg, sizeof err->msg, "style: %s %zu, pixel %zu is not finite", views ? "view" : "image",
                     i / ((size_t)C * px), i % ((size_t)C * px));
            return EXIT_NUMERIC;
        }
    if (!s->hd) { /* the target, once; its handle lives until fini */
        float *img = ws, *emb = img + 3 * px, *buf = emb + 1024;
        if ((rc = load_target(s, buf, img, err))) return rc;
        if ((rc = host->clip_encode(host->ctx, img, 1, s->keep, &s->hd, emb, err))) return s->hd = 0, rc;
    }
    float *x3 = ws, *dx3 = x3 + (C == 1 ? (size_t)n * 3 * px : 0), *df = dx3 + (C == 1 ? (size_t)n * 3 * px : 0);
    const float *xin = x;
    if (C == 1) {
        for (int b = 0; b < n; b++)
            for (int c = 0; c < 3; c++) memcpy(x3 + ((size_t)b * 3 + c) * px, x + (size_t)b * px, sizeof(float) * px);
        xin = x3;
    }
    int hd;
    float emb[1024];
    if (host->clip_dim > 1024) return snprintf(err->msg, sizeof err->msg, "style: embedding over 1024"), EXIT_MODEL;
    if ((rc = host->clip_encode(host->ctx, xin, n, s->keep, &hd, emb, err))) return rc;
    const float *dfeat[MAXB] = {0};
    size_t TC = (size_t)s->T * s->Cw, CC = (size_t)s->Cw * s->Cw;
    int T = s->T, Cw = s->Cw;
    double L = 0;
    float *dl = df, *Gs = df + (size_t)nblocks(s) * n * TC, *Gx = Gs + CC;
    for (int l = 0; l < s->L; l++) {
        if (!(s->keep >> l & 1)) continue;
        const float *F = host->clip_features(host->ctx, hd, l), *Fs = host->clip_features(host->ctx, s->hd, l);
        if (!F || !Fs) {
            host->clip_release(host->ctx, hd);
            return snprintf(err->msg, sizeof err->msg, "style: block %d's features are missing", l), EXIT_INTERNAL;
        }
        double w = s->wb[l], sum = 0, norm = 1.0 / ((double)Cw * T);
        host->sgemm(host->ctx, 1, 0, Cw, Cw, T, (float)norm, Fs, Cw, Fs, Cw, 0, Gs, Cw); /* the style's Gram */
        for (int b = 0; b < n; b++) {
            const float *Fb = F + (size_t)b * TC;
            host->sgemm(host->ctx, 1, 0, Cw, Cw, T, (float)norm, Fb, Cw, Fb, Cw, 0, Gx, Cw);
            /* Gx <- dL/dG = w 2 (G - Gs) / (C^2 n) */
            for (size_t i = 0; i < CC; i++) {
                double r = (double)Gx[i] - Gs[i];
                sum += r * r;
                Gx[i] = (float)(w * 2 * r / ((double)CC * n));
            }
            /* dF = F (dG + dG^T) norm = 2 norm F dG (dG symmetric) */
            host->sgemm(host->ctx, 0, 0, T, Cw, Cw, (float)(2 * norm), Fb, Cw, Gx, Cw, 0, dl + (size_t)b * TC, Cw);
        }
        L += w * sum / ((double)CC * n);
        dfeat[l] = dl;
        dl += (size_t)n * TC;
    }
    rc = 0;
    if (dx) {
        if (C == 1) memset(dx3, 0, sizeof(float) * (size_t)n * 3 * px);
        rc = host->clip_backward(host->ctx, hd, NULL, dfeat, C == 1 ? dx3 : dx, err);
        if (!rc && C == 1)
            for (int b = 0; b < n; b++)
                for (int c = 0; c < 3; c++)
                    for (size_t i = 0; i < px; i++) dx[(size_t)b * px + i] += dx3[((size_t)b * 3 + c) * px + i];
    }
    host->clip_release(host->ctx, hd);
    if (rc) return rc;
    out->value = L;
    return 0;
}

static const loss_vt vt = {.ws_size = pc_ws, .eval = pc_eval};

static const plugin_desc_t desc = {
    .abi = INVCLIP_PLUGIN_ABI,
    .kind = PLUGIN_LOSS,
    .name = "style",
    .version = "1",
    .summary = "Gram matrices of CLIP vision blocks' outputs vs a style picture's (the study used VGG19)",
    .help = "L = sum_l w_l * mean over CxC entries of (G(F_l) - G(S_l))^2, G(F) = F^T F / (C T) of block l's "
            "output (T tokens, C channels) for the render (input=image) or each view (averaged), S the style "
            "picture's (image=FILE, binary PPM/PGM).  blocks=study: 0, L/4, L/2, 3L/4, L-1, or a list 0+3+6; "
            "weights likewise.  The study's style loss used VGG19 conv1_1..conv5_1 Grams (reference-system 4.3); "
            "VGG19 weights cannot be had here, so this is the construction on CLIP's blocks.",
    .params = params,
    .nparams = (int)(sizeof params / sizeof params[0]),
    .state_size = sizeof(style_t),
    .init = pc_init,
    .fini = pc_fini,
    .loss = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
