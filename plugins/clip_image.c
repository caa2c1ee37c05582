/* clip_image.c - loss plugin `clip-image`: 1 - CLIP cosine similarity between
 * the augmented views (or the image, when there are none) and a reference
 * image (docs/study.md 1.6, 4.3 "reference", 4.8 the reference-anchor
 * experiment).
 *
 * Target: r = unit CLIP embedding of the reference picture (PNG or JPEG),
 * read and preprocessed by the host (host->load_image: the project's
 * PIL-exact image_load + imgprep, the same pixels clip-embed sees):
 *   preprocess=squash (default, the study's reference path, docs/study.md
 *       3.2 path 3): resized to exactly S x S, bilinear, no crop;
 *   preprocess=clip: CLIP's own: the shorter side to S bicubic, centre crop.
 * The picture is checked when the plugin starts (a missing, undecodable or
 * truncated file is an error naming the key and the file) and read again and
 * encoded on the first eval, through the host's CLIP, into the state.
 *
 * Loss, gradient and metric as clip-text's, with r for t:
 *   average=embedding: L = 1 - cos(mean_k u_k, r);  average=loss: mean_k (1 - cos(u_k, r))
 * Metric "similarity" = cos(mean_k u_k, r).
 */
#include "clip_loss.h"

#define MAXD 1024

static const plugin_param_t params[] = {
    {.name = "image", .type = PARAM_STRING, .sdef = "", .help = "the reference picture: PNG or JPEG"},
    {.name = "preprocess", .type = PARAM_ENUM, .sdef = "squash", .choices = "squash|clip",
     .help = "squash: bilinear to SxS (the study's reference path); clip: shorter side to S bicubic, centre crop"},
    {.name = "average", .type = PARAM_ENUM, .sdef = "embedding", .choices = "embedding|loss",
     .help = "embedding: 1 - cos(mean of view embeddings, r) (the study); loss: mean over views of 1 - cos"},
};

typedef struct {
    const char *path;
    int mode, avg, D, S; /* mode: PLUGIN_IMAGE_* */
    int have;            /* r computed */
    float r[MAXD];
} cimage_t;

static int ci_init(void *st, const plugin_value_t *v, const plugin_host_t *host, plugin_err_t *err) {
    cimage_t *s = st;
    s->path = v[0].s;
    s->mode = v[1].i ? PLUGIN_IMAGE_CLIP : PLUGIN_IMAGE_SQUASH;
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
    return cl_picture(host, s->path, s->S, s->mode, NULL, err);
}

static size_t ci_ws(const void *st, const loss_in_t *in) {
    const cimage_t *s = st;
    size_t main = cl_emb_ws(in, s->D), tgt = !s->have ? 3 * (size_t)s->S * s->S + (size_t)s->D : 0;
    return sizeof(float) * (main > tgt ? main : tgt);
}

static int encode_target(cimage_t *s, float *ws, const plugin_host_t *host, plugin_err_t *err) {
    float *img = ws, *emb = img + 3 * (size_t)s->S * s->S;
    int rc = cl_picture(host, s->path, s->S, s->mode, img, err), hd;
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
    int rc;
    if (!s->path || !*s->path)
        return snprintf(err->msg, sizeof err->msg, "clip-image: no reference picture (give image=FILE)"), EXIT_USAGE;
    if (!s->have && (rc = encode_target(s, ws, host, err))) return rc;
    double e[MAXD];
    return cl_cos_eval("clip-image", ws, host, s->D, s->r, s->avg, e, in, out, err);
}

static const loss_vt vt = {.ws_size = ci_ws, .eval = ci_eval};

static const plugin_desc_t desc = {
    .abi = INVCLIP_PLUGIN_ABI,
    .kind = PLUGIN_LOSS,
    .name = "clip-image",
    .version = "1",
    .summary = "1 - CLIP cosine similarity of the views (or the image) to a reference picture",
    .help = "r = unit CLIP embedding of image=FILE (PNG or JPEG, read by the host's image service), "
            "preprocessed squash (bilinear to SxS, the study's reference path, docs/study.md 1.6 and 3.2) or "
            "clip (shorter side to S bicubic, centre crop), PIL-exact as clip-embed.  L = 1 - cos(mean_k u_k, r) "
            "over the unit embeddings u_k of the N views (the image when N = 0) (average=embedding), or mean_k (1 - cos(u_k, r)) (average=loss).  The reference-anchor "
            "experiment (4.8) is clip-image with no augmentation.  Metric: similarity.",
    .params = params,
    .nparams = (int)(sizeof params / sizeof params[0]),
    .state_size = sizeof(cimage_t),
    .init = ci_init,
    .loss = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
