/* clip_loss.h - static inline helpers the CLIP loss plugins share
 * (clip-text, clip-image, exemplar, perceptual, style).  A header, not a
 * library: a plugin .so links only libnn.a (tests/cli/plugin_linkage.sh), so
 * shared plugin code is included and compiled into each plugin.  It uses
 * only plugin.h and libc/libm, like the plugins themselves.
 *
 *   cl_check_input   the loss input's shape (1 or 3 channels, S x S) and
 *                    finiteness, with the plugin's name in the message;
 *   cl_rgb           grey (C = 1) inputs repeated to three channels;
 *   cl_backward      host->clip_backward into dx, summing the three channels'
 *                    gradients back for grey inputs;
 *   cl_cos_loss      1 - cos(mean_k u_k, t) (average=embedding) or
 *                    mean_k (1 - cos(u_k, t)) (average=loss) and dL/du;
 *   cl_blocks        "study" or "3+6+9" block lists with "1+1+0.5" weights;
 *   cl_picture       a reference picture through host->load_image.
 */
#ifndef CLIP_LOSS_H
#define CLIP_LOSS_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin.h"

enum { CL_AVG_EMBEDDING, CL_AVG_LOSS };

/* x (n,C,S,S) must be 1 or 3 channels of S x S, all finite.  what: "views"
 * or "image".  EXIT_USAGE / EXIT_NUMERIC with "NAME: ..." in err. */
static inline int cl_check_input(const char *name, const char *what, const float *x, int n, int C, int H, int W,
                                 int S, plugin_err_t *err) {
    if (!x || (C != 1 && C != 3) || H != S || W != S) {
        snprintf(err->msg, sizeof err->msg, "%s: the %s is %dx%dx%d; CLIP takes 1 or 3 x %dx%d (resize in the augmentation)",
                 name, what, C, H, W, S, S);
        return EXIT_USAGE;
    }
    size_t px = (size_t)S * S, tot = (size_t)n * C * px;
    for (size_t i = 0; i < tot; i++)
        if (!isfinite(x[i])) {
            snprintf(err->msg, sizeof err->msg, "%s: %.5s %zu, pixel %zu is not finite", name,
                     strcmp(what, "views") ? "image" : "view", i / ((size_t)C * px), i % ((size_t)C * px));
            return EXIT_NUMERIC;
        }
    return 0;
}

/* x (n,C,px): x itself when C = 3, else its channel repeated into x3 (n,3,px). */
static inline const float *cl_rgb(const float *x, int n, int C, size_t px, float *x3) {
    if (C != 1) return x;
    for (int b = 0; b < n; b++)
        for (int c = 0; c < 3; c++) memcpy(x3 + ((size_t)b * 3 + c) * px, x + (size_t)b * px, sizeof(float) * px);
    return x3;
}

/* clip_backward on handle hd, ADDING into dx (n,C,px); for C = 1 through
 * dx3 (n,3,px) scratch, the three channels summed. */
static inline int cl_backward(const plugin_host_t *host, int hd, const float *demb, const float *const *dfeat, int n,
                              int C, size_t px, float *dx, float *dx3, plugin_err_t *err) {
    if (C == 1) memset(dx3, 0, sizeof(float) * (size_t)n * 3 * px);
    int rc = host->clip_backward(host->ctx, hd, demb, dfeat, C == 1 ? dx3 : dx, err);
    if (!rc && C == 1)
        for (int b = 0; b < n; b++)
            for (int c = 0; c < 3; c++)
                for (size_t i = 0; i < px; i++) dx[(size_t)b * px + i] += dx3[((size_t)b * 3 + c) * px + i];
    return rc;
}

/* e (D) = mean of the n unit embeddings emb (n,D) */
static inline void cl_mean(const float *emb, int n, int D, double *e) {
    for (int i = 0; i < D; i++) e[i] = 0;
    for (int b = 0; b < n; b++)
        for (int i = 0; i < D; i++) e[i] += emb[(size_t)b * D + i] / (double)n;
}

/* The cosine loss of unit embeddings emb (n,D) against the unit target t
 * (D); demb (n,D) = dL/demb (written); *sim = cos(mean_k u_k, t).  e is D
 * doubles of scratch. */
static inline double cl_cos_loss(const float *emb, int n, int D, const float *t, int avg, double *e, float *demb,
                                 double *sim) {
    double et = 0, ee = 0, L;
    cl_mean(emb, n, D, e);
    for (int i = 0; i < D; i++) et += e[i] * t[i], ee += e[i] * e[i];
    double ne = sqrt(ee);
    *sim = ne > 0 ? et / ne : 0;
    if (avg == CL_AVG_EMBEDDING) {
        L = 1 - *sim;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < D; i++)
                demb[(size_t)b * D + i] = ne > 0 ? (float)(-(t[i] / ne - et * e[i] / (ne * ne * ne)) / n) : 0;
        return L;
    }
    L = 0;
    for (int b = 0; b < n; b++) {
        const float *u = emb + (size_t)b * D;
        double ut = 0, uu = 0;
        for (int i = 0; i < D; i++) ut += (double)u[i] * t[i], uu += (double)u[i] * u[i];
        double nu = sqrt(uu);
        L += (1 - ut / nu) / n;
        for (int i = 0; i < D; i++) demb[(size_t)b * D + i] = (float)(-(t[i] / nu - ut * u[i] / (nu * nu * nu)) / n);
    }
    return L;
}

/* "a+b+c" of numbers into v (at most cap); count or -1 */
static inline int cl_parse_list(const char *s, double *v, int cap) {
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

/* Blocks (blocks = "study" -> the nstudy blocks of study[], else a list like
 * example) and weights ("" = all 1) of an L-block tower: ADDS each block's
 * weight into wb (repeats add up) and sets its bit in *keep.  EXIT_USAGE. */
static inline int cl_blocks(const char *blocks, const char *weights, const double *study, int nstudy, int L,
                            const char *example, double *wb, uint64_t *keep, plugin_err_t *err) {
    enum { CAP = 64 };
    double bl[CAP], w[CAP];
    int nb = nstudy;
    if (!strcmp(blocks, "study"))
        for (int i = 0; i < nb; i++) bl[i] = study[i];
    else if ((nb = cl_parse_list(blocks, bl, CAP)) < 1)
        return snprintf(err->msg, sizeof err->msg, "blocks='%.60s' is not 'study' or a list like %s", blocks, example),
               EXIT_USAGE;
    for (int i = 0; i < nb; i++)
        if (bl[i] != floor(bl[i]) || bl[i] < 0 || bl[i] >= L || bl[i] >= CAP)
            return snprintf(err->msg, sizeof err->msg, "blocks: %g is not a block of this model (0..%d)", bl[i], L - 1),
                   EXIT_USAGE;
    int nw = *weights ? cl_parse_list(weights, w, CAP) : nb;
    if (!*weights)
        for (int i = 0; i < nb; i++) w[i] = 1;
    if (nw != nb)
        return snprintf(err->msg, sizeof err->msg, "weights='%.60s' must give one number per block (%d)", weights, nb),
               EXIT_USAGE;
    for (int i = 0; i < nb; i++) {
        if (w[i] < 0) return snprintf(err->msg, sizeof err->msg, "weights: %g is negative", w[i]), EXIT_USAGE;
        wb[(int)bl[i]] += w[i];
        *keep |= 1ull << (int)bl[i];
    }
    return 0;
}

/* The picture file path -> out (3,S,S) in [0,1] with preprocessing mode
 * (PLUGIN_IMAGE_*), through host->load_image; out NULL only checks it loads.
 * The message is "image=<the host's message, which starts with the path>". */
static inline int cl_picture(const plugin_host_t *host, const char *path, int S, int mode, float *out,
                             plugin_err_t *err) {
    if (!host || !host->load_image)
        return snprintf(err->msg, sizeof err->msg, "image=%.150s: the host offers no image reader (load_image)", path),
               EXIT_PLUGIN;
    plugin_err_t pe = {{0}};
    int rc = host->load_image(host->ctx, path, S, mode, 0, out, &pe);
    if (rc) snprintf(err->msg, sizeof err->msg, "image=%.240s", pe.msg);
    return rc;
}
#endif
