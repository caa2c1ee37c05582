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
 *   cl_picture       a reference picture through host->load_image;
 *   cl_emb_*         the embedding losses' scaffolding: check, grey to RGB,
 *                    encode, (the caller's loss), backward, release;
 *                    cl_cos_eval the whole cosine loss of clip-text/-image;
 *   cl_feat_*        the block-feature losses' (perceptual, style): the
 *                    target picture's parameters, init, fini, workspace,
 *                    the target encoded once and kept, the input encoded.
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
/* ---- embedding losses (clip-text, clip-image, exemplar): the views (or
 * the image when N = 0) -> unit embeddings, a loss on them, back ---- */

/* workspace floats: embeddings and their gradients (n,D) x2, and for a grey
 * input the 3-channel copy and its gradient */
static inline size_t cl_emb_ws(const loss_in_t *in, int D) {
    size_t n = in->N > 0 ? (size_t)in->N : 1, px = (size_t)in->H * in->W;
    return 2 * n * (size_t)D + (in->C == 1 ? 2 * n * 3 * px : 0);
}

typedef struct {
    int n, C, D, hd;
    size_t px;
    float *emb, *demb, *dx, *dx3; /* emb, demb (n,D) in the workspace; dx the caller's (NULL = not wanted) */
} cl_emb_t;

/* Checks the input, encodes it (the handle in c->hd, the unit embeddings in
 * c->emb); the caller writes c->demb and calls cl_emb_end. */
static inline int cl_emb_begin(const char *name, void *ws, const plugin_host_t *host, int D, const loss_in_t *in,
                               loss_out_t *out, cl_emb_t *c, plugin_err_t *err) {
    int S = host ? host->clip_size : 0, rc;
    const float *x = in->N > 0 ? in->views : in->img;
    c->n = in->N > 0 ? in->N : 1, c->C = in->C, c->D = D, c->hd = 0, c->px = (size_t)S * S;
    c->dx = in->N > 0 ? out->dviews : out->dimg;
    if (!host || !host->clip_encode) return snprintf(err->msg, sizeof err->msg, "%s: no CLIP model", name), EXIT_MODEL;
    if ((rc = cl_check_input(name, in->N > 0 ? "views" : "image", x, c->n, c->C, in->H, in->W, S, err))) return rc;
    c->emb = ws, c->demb = c->emb + (size_t)c->n * D;
    float *x3 = c->demb + (size_t)c->n * D;
    c->dx3 = x3 + (size_t)c->n * 3 * c->px;
    return host->clip_encode(host->ctx, cl_rgb(x, c->n, c->C, c->px, x3), c->n, 0, &c->hd, c->emb, err);
}

/* Backward of c->demb into the caller's gradient (when wanted), then the handle released. */
static inline int cl_emb_end(const plugin_host_t *host, cl_emb_t *c, plugin_err_t *err) {
    int rc = c->dx ? cl_backward(host, c->hd, c->demb, NULL, c->n, c->C, c->px, c->dx, c->dx3, err) : 0;
    host->clip_release(host->ctx, c->hd);
    return rc;
}

/* The whole cosine loss against the unit target t (clip-text, clip-image):
 * value, gradient, metric "similarity".  e: D doubles of scratch. */
static inline int cl_cos_eval(const char *name, void *ws, const plugin_host_t *host, int D, const float *t, int avg,
                              double *e, const loss_in_t *in, loss_out_t *out, plugin_err_t *err) {
    cl_emb_t c;
    int rc = cl_emb_begin(name, ws, host, D, in, out, &c, err);
    if (rc) return rc;
    double sim, L = cl_cos_loss(c.emb, c.n, D, t, avg, e, c.demb, &sim);
    if ((rc = cl_emb_end(host, &c, err))) return rc;
    out->value = L;
    out->nmetrics = 1;
    out->metric_name[0] = "similarity";
    out->metric[0] = sim;
    return 0;
}

/* ---- block-feature losses against a target picture (perceptual, style) ---- */

enum { CL_IN_IMAGE, CL_IN_VIEWS };

typedef struct {
    const char *path;          /* the target picture */
    int pre, S, input;         /* pre: PLUGIN_IMAGE_*; input: CL_IN_* */
    const plugin_host_t *host; /* kept for fini (releasing the target's handle) */
    int hd;                    /* the target's handle, 0 = not encoded yet */
    int L, T, Cw;              /* blocks, tokens, width of the tower */
    uint64_t keep;
    double wb[64];             /* weight of each block (0 = not compared) */
} cl_feat_t;

/* image (STRING), preprocess (squash|clip), blocks, weights: the parameter
 * values; blocks=study is quarters[0..nstudy) of the tower, q >= 0 meaning
 * block q*L/4 and q < 0 block L+q; example as cl_blocks.  Checks the picture
 * loads. */
static inline int cl_feat_init(cl_feat_t *f, const char *name, const plugin_value_t *image,
                               const plugin_value_t *pre, const plugin_value_t *blocks, const plugin_value_t *weights,
                               int input, const plugin_host_t *host, const int *quarters, int nstudy,
                               const char *example, plugin_err_t *err) {
    f->path = image->s, f->pre = pre->i ? PLUGIN_IMAGE_CLIP : PLUGIN_IMAGE_SQUASH, f->input = input, f->host = host;
    if (!host || !host->clip_encode || host->clip_blocks < 1)
        return snprintf(err->msg, sizeof err->msg, "%s needs a CLIP model (the host has none)", name), EXIT_MODEL;
    f->L = host->clip_blocks, f->T = host->clip_tokens, f->Cw = host->clip_width, f->S = host->clip_size;
    if (f->T < 1 || f->Cw < 1) /* a ResNet CLIP: its blocks are feature maps of different shapes */
        return snprintf(err->msg, sizeof err->msg,
                        "%s needs a ViT CLIP's token blocks; the model is a ResNet (use the geometric loss)", name),
               EXIT_MODEL;
    double st[64];
    for (int i = 0; i < nstudy && i < 64; i++) st[i] = quarters[i] < 0 ? f->L + quarters[i] : quarters[i] * f->L / 4;
    int rc = cl_blocks(blocks->s, weights->s, st, nstudy, f->L, example, f->wb, &f->keep, err);
    if (rc) return rc;
    if (!f->path || !*f->path) return 0; /* refused at eval: the host may list or init without one */
    return cl_picture(host, f->path, f->S, f->pre, NULL, err);
}

static inline void cl_feat_fini(cl_feat_t *f) {
    if (f->hd && f->host && f->host->clip_release) f->host->clip_release(f->host->ctx, f->hd);
    f->hd = 0;
}

static inline int cl_feat_nblocks(const cl_feat_t *f) {
    int k = 0;
    for (int l = 0; l < f->L; l++) k += f->keep >> l & 1;
    return k;
}

/* workspace floats: the grey copies, the kept blocks' gradients and `extra`;
 * before the target is encoded, at least its picture */
static inline size_t cl_feat_ws(const cl_feat_t *f, const loss_in_t *in, size_t extra) {
    size_t n = f->input == CL_IN_VIEWS && in->N > 0 ? (size_t)in->N : 1, px = (size_t)in->H * in->W;
    size_t main = (in->C == 1 ? 2 * n * 3 * px : 0) + (size_t)cl_feat_nblocks(f) * n * f->T * f->Cw + extra;
    size_t tgt = !f->hd ? 3 * (size_t)f->S * f->S + 1024 : 0;
    return main > tgt ? main : tgt;
}

typedef struct {
    int n, C, hd;
    size_t px;
    float *dx, *dx3, *df; /* df: the blocks' gradients, then the caller's extra floats */
} cl_fcall_t;

/* Checks the input, encodes the target (once; its handle kept until fini)
 * and the input with the kept blocks (handle c->hd). */
static inline int cl_feat_begin(cl_feat_t *f, const char *name, const char *noun, void *ws,
                                const plugin_host_t *host, const loss_in_t *in, loss_out_t *out, cl_fcall_t *c,
                                plugin_err_t *err) {
    int views = f->input == CL_IN_VIEWS && in->N > 0, S = f->S, rc;
    const float *x = views ? in->views : in->img;
    c->n = views ? in->N : 1, c->C = in->C, c->hd = 0, c->px = (size_t)S * S;
    c->dx = views ? out->dviews : out->dimg;
    if (!f->path || !*f->path)
        return snprintf(err->msg, sizeof err->msg, "%s: no %s picture (give image=FILE)", name, noun), EXIT_USAGE;
    if ((rc = cl_check_input(name, views ? "views" : "image", x, c->n, c->C, in->H, in->W, S, err))) return rc;
    /* the unit embeddings clip_encode writes, (n, D): not used here (the
     * features are); n is the number of views, so not a fixed array */
    float *emb = malloc(sizeof(float) * (size_t)c->n * (size_t)(host->clip_dim > 0 ? host->clip_dim : 1));
    if (!emb) return snprintf(err->msg, sizeof err->msg, "%s: out of memory", name), EXIT_INTERNAL;
    if (!f->hd) { /* the target, once; its handle lives until fini */
        float *img = ws;
        if ((rc = cl_picture(host, f->path, S, f->pre, img, err))) return free(emb), rc;
        if ((rc = host->clip_encode(host->ctx, img, 1, f->keep, &f->hd, emb, err))) return free(emb), f->hd = 0, rc;
    }
    size_t grey = c->C == 1 ? (size_t)c->n * 3 * c->px : 0;
    float *x3 = ws;
    c->dx3 = x3 + grey, c->df = c->dx3 + grey;
    rc = host->clip_encode(host->ctx, cl_rgb(x, c->n, c->C, c->px, x3), c->n, f->keep, &c->hd, emb, err);
    free(emb);
    return rc;
}

/* Backward of the blocks' gradients dfeat into the caller's gradient (when
 * wanted), then the input's handle released. */
static inline int cl_feat_end(const plugin_host_t *host, cl_fcall_t *c, const float *const *dfeat,
                              plugin_err_t *err) {
    int rc = c->dx ? cl_backward(host, c->hd, NULL, dfeat, c->n, c->C, c->px, c->dx, c->dx3, err) : 0;
    host->clip_release(host->ctx, c->hd);
    return rc;
}

#endif
