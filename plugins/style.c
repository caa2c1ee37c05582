/* style.c - loss plugin `style`: Gram matrices of CLIP vision blocks'
 * outputs against a style picture's (docs/study.md 4.3 "style").
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
 * The style picture is read as clip-image reads it (PNG or JPEG through
 * host->load_image, squash by default: the study resized the style picture
 * to 224 x 224), encoded once on the first eval and its Grams kept in its CLIP handle's features
 * (recomputed per call: C^2 T multiply-adds per block, through host->sgemm).
 * Target, input checks, grey handling and block lists: clip_loss.h
 * (cl_feat_*), shared with perceptual.
 */
#include "clip_loss.h"


static const plugin_param_t params[] = {
    {.name = "image", .type = PARAM_STRING, .sdef = "", .help = "the style picture: PNG or JPEG"},
    {.name = "preprocess", .type = PARAM_ENUM, .sdef = "squash", .choices = "squash|clip",
     .help = "squash: bilinear to SxS (the study's style path); clip: shorter side to S bicubic, centre crop"},
    {.name = "blocks", .type = PARAM_STRING, .sdef = "study",
     .help = "vision blocks compared: study = 0, L/4, L/2, 3L/4, L-1; or a list like 0+3+6+9+11"},
    {.name = "weights", .type = PARAM_STRING, .sdef = "", .help = "per-block weights like 1+1+0.5+0.5 (default all 1)"},
    {.name = "input", .type = PARAM_ENUM, .sdef = "image", .choices = "image|views",
     .help = "image: the un-augmented render (the study); views: the mean over the augmented views"},
};

typedef struct {
    cl_feat_t f; /* the target picture, the blocks, the input */
} style_t;

static int pc_init(void *st, const plugin_value_t *v, const plugin_host_t *host, plugin_err_t *err) {
    style_t *s = st;
    static const int study[] = {0, 1, 2, 3, -1};
    if (host && !host->sgemm)
        return snprintf(err->msg, sizeof err->msg, "style needs sgemm (the host has none)"), EXIT_MODEL;
    return cl_feat_init(&s->f, "style", &v[0], &v[1], &v[2], &v[3], (int)v[4].i, host, study, 5, "0+3+6+9+11", err);
}

static void pc_fini(void *st) { cl_feat_fini(&((style_t *)st)->f); }

static size_t pc_ws(const void *st, const loss_in_t *in) {
    const style_t *s = st;
    return sizeof(float) * cl_feat_ws(&s->f, in, 2 * (size_t)s->f.Cw * s->f.Cw);
}

static int pc_eval(void *st, void *ws, const plugin_host_t *host, const loss_in_t *in, loss_out_t *out,
                   plugin_err_t *err) {
    style_t *s = st;
    cl_fcall_t fc;
    int rc = cl_feat_begin(&s->f, "style", "style", ws, host, in, out, &fc, err), n = fc.n, hd = fc.hd;
    if (rc) return rc;
    const float *dfeat[64] = {0};
    size_t TC = (size_t)s->f.T * s->f.Cw, CC = (size_t)s->f.Cw * s->f.Cw;
    int T = s->f.T, Cw = s->f.Cw;
    double L = 0;
    float *dl = fc.df, *Gs = fc.df + (size_t)cl_feat_nblocks(&s->f) * n * TC, *Gx = Gs + CC;
    for (int l = 0; l < s->f.L; l++) {
        if (!(s->f.keep >> l & 1)) continue;
        const float *F = host->clip_features(host->ctx, hd, l), *Fs = host->clip_features(host->ctx, s->f.hd, l);
        if (!F || !Fs) {
            host->clip_release(host->ctx, hd);
            return snprintf(err->msg, sizeof err->msg, "style: block %d's features are missing", l), EXIT_INTERNAL;
        }
        double w = s->f.wb[l], sum = 0, norm = 1.0 / ((double)Cw * T);
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
    if ((rc = cl_feat_end(host, &fc, dfeat, err))) return rc;
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
            "picture's (image=FILE, PNG or JPEG).  blocks=study: 0, L/4, L/2, 3L/4, L-1, or a list 0+3+6; "
            "weights likewise.  The study's style loss used VGG19 conv1_1..conv5_1 Grams (docs/study.md 4.3); "
            "VGG19 weights cannot be had here, so this is the construction on CLIP's blocks.",
    .params = params,
    .nparams = (int)(sizeof params / sizeof params[0]),
    .state_size = sizeof(style_t),
    .init = pc_init,
    .fini = pc_fini,
    .loss = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
