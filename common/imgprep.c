/* imgprep.c - see imgprep.h. */
#include "imgprep.h"
#include "clip.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PREC_BITS (32 - 8 - 2) /* PIL's PRECISION_BITS */

/* ---------------------------------------------------------------- kernels */

/* PIL's kernels, expression for expression: the coefficients are rounded to
 * fixed point afterwards, so the last bit of a double can matter. */
static double k_box(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

static double k_bilinear(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double k_hamming(double x) {
    if (x < 0.0) x = -x;
    if (x == 0.0) return 1.0;
    if (x >= 1.0) return 0.0;
    x = x * M_PI;
    return sin(x) / x * (0.54f + 0.46f * cos(x));
}

static double k_bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}

static double k_lanczos(double x) { return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0; }

static int kernel_of(int filter, double (**f)(double), double *support) {
    switch (filter) {
    case IMGPREP_BOX:
        *f = k_box, *support = 0.5;
        return 0;
    case IMGPREP_BILINEAR:
        *f = k_bilinear, *support = 1.0;
        return 0;
    case IMGPREP_HAMMING:
        *f = k_hamming, *support = 1.0;
        return 0;
    case IMGPREP_BICUBIC:
        *f = k_bicubic, *support = 2.0;
        return 0;
    case IMGPREP_LANCZOS:
        *f = k_lanczos, *support = 3.0;
        return 0;
    default:
        return -1;
    }
}

/* ---------------------------------------------------------------- coefficients */

static void axis_free(imgprep_axis_t *a) {
    free(a->lo);
    free(a->n);
    free(a->k);
    memset(a, 0, sizeof *a);
}

/* Coefficients for outputs [i0, i0+cnt) of a resize in -> out (PIL's
 * precompute_coeffs + normalize_coeffs_8bpc).  Cached: returns at once when
 * nothing changed. */
static void axis_prepare(imgprep_axis_t *a, int in, int out, int filter, int i0, int cnt) {
    if (a->k && a->in == in && a->out == out && a->filter == filter && a->i0 == i0 && a->cnt == cnt) return;
    double (*f)(double) = k_bilinear, fsupport = 1.0;
    kernel_of(filter, &f, &fsupport); /* filter checked by the caller */
    double scale = (double)in / out, fscale = scale < 1.0 ? 1.0 : scale;
    double support = fsupport * fscale, ss = 1.0 / fscale;
    int ksize = (int)ceil(support) * 2 + 1;
    axis_free(a);
    a->in = in, a->out = out, a->filter = filter, a->i0 = i0, a->cnt = cnt, a->ksize = ksize;
    a->lo = xmalloc((size_t)cnt * sizeof *a->lo);
    a->n = xmalloc((size_t)cnt * sizeof *a->n);
    a->k = xcalloc((size_t)cnt * (size_t)ksize, sizeof *a->k);
    double *w = xmalloc((size_t)ksize * sizeof *w);
    for (int j = 0; j < cnt; j++) {
        double center = (i0 + j + 0.5) * scale;
        int lo = (int)(center - support + 0.5); /* truncation, as PIL */
        if (lo < 0) lo = 0;
        int hi = (int)(center + support + 0.5);
        if (hi > in) hi = in;
        int n = hi - lo;
        double ww = 0.0;
        for (int x = 0; x < n; x++) {
            w[x] = f((x + lo - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = a->k + (size_t)j * ksize;
        for (int x = 0; x < n; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PREC_BITS)) : (int32_t)(0.5 + v * (1 << PREC_BITS));
        }
        a->lo[j] = lo;
        a->n[j] = n;
    }
    free(w);
}

/* ---------------------------------------------------------------- passes */

static inline uint8_t clip8(int32_t v) {
    v >>= PREC_BITS; /* arithmetic shift, as PIL's lookup table index */
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* Horizontal pass: rows of src (stride sstride, c channels interleaved) ->
 * rows x a->cnt x c in dst. */
static void pass_h(uint8_t *dst, const uint8_t *src, size_t sstride, int rows, int c,
                   const imgprep_axis_t *a) {
    const int cnt = a->cnt, ks = a->ksize;
    const int32_t bias = 1 << (PREC_BITS - 1);
    for (int r = 0; r < rows; r++) {
        const uint8_t *s = src + (size_t)r * sstride;
        uint8_t *d = dst + (size_t)r * cnt * c;
        for (int j = 0; j < cnt; j++) {
            const int32_t *k = a->k + (size_t)j * ks;
            const uint8_t *p = s + (size_t)a->lo[j] * c;
            const int n = a->n[j];
            if (c == 3) {
                int32_t s0 = bias, s1 = bias, s2 = bias;
                for (int t = 0; t < n; t++) {
                    s0 += p[3 * t] * k[t];
                    s1 += p[3 * t + 1] * k[t];
                    s2 += p[3 * t + 2] * k[t];
                }
                d[3 * j] = clip8(s0), d[3 * j + 1] = clip8(s1), d[3 * j + 2] = clip8(s2);
            } else {
                for (int ch = 0; ch < c; ch++) {
                    int32_t s0 = bias;
                    for (int t = 0; t < n; t++) s0 += p[c * t + ch] * k[t];
                    d[c * j + ch] = clip8(s0);
                }
            }
        }
    }
}

/* Vertical pass: src row r holds input row row0 + r (stride sstride, nb
 * bytes used) -> a->cnt rows of nb bytes in dst.  Whole rows at a time: the
 * integer sums do not depend on the order of the taps. */
/* acc[0..nb) += s[0..nb) * kt in blocks of 16: GCC's -O2 cost model
 * vectorizes only loops with a fixed trip count and no alias checks */
static inline void madd_row(int32_t *restrict acc, const uint8_t *restrict s, int nb, int32_t kt) {
    int b = 0;
    for (; b + 16 <= nb; b += 16)
        for (int q = 0; q < 16; q++) acc[b + q] += s[b + q] * kt;
    for (; b < nb; b++) acc[b] += s[b] * kt;
}

static inline void clip_row(uint8_t *restrict d, const int32_t *restrict acc, int nb) {
    int b = 0;
    for (; b + 16 <= nb; b += 16)
        for (int q = 0; q < 16; q++) {
            int32_t v = acc[b + q] >> PREC_BITS;
            v = v < 0 ? 0 : v;
            d[b + q] = (uint8_t)(v > 255 ? 255 : v);
        }
    for (; b < nb; b++) d[b] = clip8(acc[b]);
}

static void pass_v(uint8_t *dst, const uint8_t *src, size_t sstride, int row0, int nb,
                   const imgprep_axis_t *a, int32_t *restrict acc) {
    const int32_t bias = 1 << (PREC_BITS - 1);
    for (int j = 0; j < a->cnt; j++) {
        const int32_t *k = a->k + (size_t)j * a->ksize;
        for (int b = 0; b < nb; b++) acc[b] = bias;
        for (int t = 0; t < a->n[j]; t++)
            madd_row(acc, src + (size_t)(a->lo[j] - row0 + t) * sstride, nb, k[t]);
        clip_row(dst + (size_t)j * nb, acc, nb);
    }
}

/* ---------------------------------------------------------------- public */

void imgprep_init(imgprep_t *p) { memset(p, 0, sizeof *p); }

void imgprep_free(imgprep_t *p) {
    axis_free(&p->ax);
    axis_free(&p->ay);
    free(p->tmp);
    free(p->acc);
    image_free(&p->img);
    memset(p, 0, sizeof *p);
}

void imgprep_resize_size(int w, int h, int S, int *ow, int *oh) {
    /* torchvision: new_long = int(size * long / short), Python's true
     * division of exact integers (correctly rounded), then truncation */
    int sh = w <= h ? w : h, lg = w <= h ? h : w;
    int nl = (int)((double)((long long)S * lg) / sh);
    if (w <= h)
        *ow = S, *oh = nl;
    else
        *ow = nl, *oh = S;
}

void imgprep_crop_box(int w, int h, int S, int *left, int *top) {
    /* int(round((H - S) / 2.0)) with Python 3's round-half-to-even; rint()
     * rounds that way in the default rounding mode */
    *top = (int)rint((h - S) / 2.0);
    *left = (int)rint((w - S) / 2.0);
}

/* out must be w x h x c: reuse or (re)allocate */
static int image_ensure(image_t *out, int w, int h, int c, err_t *e) {
    if (out->px && out->w == w && out->h == h && out->c == c) return 0;
    image_free(out);
    return image_init(out, w, h, c, 0, e);
}

int imgprep_resample(imgprep_t *p, const image_t *in, int ow, int oh, int filter, int x0, int y0, int cw,
                     int ch, image_t *out, err_t *e) {
    double (*f)(double), fsupport;
    if (kernel_of(filter, &f, &fsupport))
        return err_set(e, EXIT_USAGE, "unknown resampling filter %d", filter);
    if (!in->px || in->w < 1 || in->h < 1 || in->c < 1 || in->c > 4)
        return err_set(e, EXIT_DATA, "resize: empty or invalid image");
    if (out == in || out->px == in->px) return err_set(e, EXIT_USAGE, "resize: output must not be the input");
    if (ow < 1 || oh < 1 || cw < 1 || ch < 1 || x0 < 0 || y0 < 0 || x0 > ow - cw || y0 > oh - ch)
        return err_set(e, EXIT_DATA, "resize: bad target %d x %d, window %d x %d at (%d, %d)", ow, oh, cw, ch,
                       x0, y0);
    if (cw > PNGIO_MAX_SIDE || ch > PNGIO_MAX_SIDE || (long)cw * ch > PNGIO_MAX_PIXELS)
        return err_set(e, EXIT_DATA, "resize: window %d x %d too large", cw, ch);
    imgprep_t tmp_state;
    int own = p == NULL;
    if (own) imgprep_init(p = &tmp_state);
    int rc = image_ensure(out, cw, ch, in->c, e);
    if (rc) goto done;

    const int c = in->c;
    const int need_h = ow != in->w, need_v = oh != in->h; /* as PIL: a pass runs only when its size changes */
    const size_t istride = (size_t)in->w * c;
    /* input rows the vertical pass reads */
    int r0 = y0, r1 = y0 + ch;
    if (need_v) {
        axis_prepare(&p->ay, in->h, oh, filter, y0, ch);
        r0 = p->ay.lo[0];
        r1 = p->ay.lo[ch - 1] + p->ay.n[ch - 1];
    }
    const uint8_t *src = in->px + (size_t)r0 * istride + (size_t)x0 * c;
    size_t sstride = istride;
    if (need_h) {
        axis_prepare(&p->ax, in->w, ow, filter, x0, cw);
        size_t need = (size_t)(r1 - r0) * cw * c;
        if (!need_v) need = 0; /* straight into out */
        if (need > p->tmp_cap) {
            free(p->tmp);
            p->tmp = xmalloc(need);
            p->tmp_cap = need;
        }
        uint8_t *dst = need_v ? p->tmp : out->px;
        pass_h(dst, in->px + (size_t)r0 * istride, istride, r1 - r0, c, &p->ax);
        src = dst;
        sstride = (size_t)cw * c;
    }
    if (need_v) {
        size_t nb = (size_t)cw * c;
        if (nb > p->acc_cap) {
            free(p->acc);
            p->acc = xmalloc(nb * sizeof *p->acc);
            p->acc_cap = nb;
        }
        pass_v(out->px, src, sstride, r0, (int)nb, &p->ay, p->acc);
    } else if (!need_h) {
        for (int y = 0; y < ch; y++)
            memcpy(out->px + (size_t)y * cw * c, src + (size_t)y * sstride, (size_t)cw * c);
    }
done:
    if (own) imgprep_free(p);
    return rc;
}

int imgprep_resize(imgprep_t *p, const image_t *in, int ow, int oh, int filter, image_t *out, err_t *e) {
    return imgprep_resample(p, in, ow, oh, filter, 0, 0, ow, oh, out, e);
}

static int check_args(const image_t *in, int S, int mode, err_t *e) {
    if (S < 1 || S > PNGIO_MAX_SIDE) return err_set(e, EXIT_USAGE, "bad image size S = %d", S);
    if (mode < IMGPREP_CLIP || mode > IMGPREP_SQUASH_BICUBIC)
        return err_set(e, EXIT_USAGE, "unknown preprocessing mode %d", mode);
    if (!in->px || in->w < 1 || in->h < 1) return err_set(e, EXIT_DATA, "empty image");
    if (in->c != 1 && in->c != 3)
        return err_set(e, EXIT_DATA, "image has %d channels; preprocessing wants grey or RGB", in->c);
    return 0;
}

int imgprep_u8(imgprep_t *p, const image_t *in, int S, int mode, image_t *out, err_t *e) {
    int rc = check_args(in, S, mode, e);
    if (rc) return rc;
    switch (mode) {
    case IMGPREP_CLIP: {
        int ow, oh, left, top;
        imgprep_resize_size(in->w, in->h, S, &ow, &oh);
        imgprep_crop_box(ow, oh, S, &left, &top);
        return imgprep_resample(p, in, ow, oh, IMGPREP_BICUBIC, left, top, S, S, out, e);
    }
    case IMGPREP_NORMALIZE:
        if (in->w != S || in->h != S)
            return err_set(e, EXIT_DATA, "image is %d x %d; normalise-only preprocessing wants %d x %d",
                           in->w, in->h, S, S);
        return imgprep_resample(p, in, S, S, IMGPREP_BILINEAR, 0, 0, S, S, out, e); /* a copy */
    case IMGPREP_SQUASH:
        return imgprep_resample(p, in, S, S, IMGPREP_BILINEAR, 0, 0, S, S, out, e);
    default:
        return imgprep_resample(p, in, S, S, IMGPREP_BICUBIC, 0, 0, S, S, out, e);
    }
}

static void lut_fill(float lut[2][3][256]) {
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) {
            float x = (float)v / 255.0f; /* ToTensor: float32 division */
            lut[0][c][v] = x;
            lut[1][c][v] = (x - clip_mean[c]) / clip_std[c]; /* Normalize: float32 sub, div */
        }
}

static void to_tensor(const image_t *im, const float lut[3][256], float *out) {
    const size_t np = (size_t)im->w * im->h;
    for (int c = 0; c < 3; c++) {
        const uint8_t *s = im->px + (im->c == 1 ? 0 : c);
        const int st = im->c;
        float *o = out + (size_t)c * np;
        for (size_t i = 0; i < np; i++) o[i] = lut[c][s[i * st]];
    }
}

void imgprep_to_tensor(const image_t *im, int normalized, float *out) {
    float lut[2][3][256];
    lut_fill(lut);
    to_tensor(im, lut[normalized ? 1 : 0], out);
}

int imgprep_run(imgprep_t *p, const image_t *in, int S, int mode, int normalized, float *out, err_t *e) {
    int rc = imgprep_u8(p, in, S, mode, &p->img, e);
    if (rc) return rc;
    if (!p->lut_ok) {
        lut_fill(p->lut);
        p->lut_ok = 1;
    }
    to_tensor(&p->img, p->lut[normalized ? 1 : 0], out);
    return 0;
}

int imgprep_clip(const image_t *in, int S, int mode, int normalized, float *out, err_t *e) {
    imgprep_t p;
    imgprep_init(&p);
    int rc = imgprep_run(&p, in, S, mode, normalized, out, e);
    imgprep_free(&p);
    return rc;
}
