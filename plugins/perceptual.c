/* perceptual.c - loss plugin `perceptual`: distance between chosen CLIP
 * vision blocks' outputs for the rendered image (or its views) and for a
 * target picture (docs/study.md 3.6).
 *
 * For each chosen block l (the residual stream after block l, (n,T,C) from
 * host->clip_features), F for the input and G for the target (encoded once,
 * on the first eval, and kept in a CLIP handle until fini):
 *   mode=study (doodleBot's multi-scale perceptual loss): every token's
 *       C-vector is L2-normalised (F^ = F / max(|F|, 1e-12), G^ likewise) and
 *       L_l = mean over n*T*C of (F^ - G^)^2
 *   mode=l2 (CLIPasso's "L2" distance): L_l = mean over n*T*C of (F - G)^2
 *   L = sum_l w_l L_l
 * blocks=study is the study's [L/4, L/2, 3L/4, L-1] of an L-block tower
 * ([3,6,9,11] for ViT-B/32; repeats add their weights); otherwise a
 * '+'-separated list ("3+6+9+11"), weights likewise (default all 1).
 * input=image (default; the study's perceptual term saw the un-augmented
 * render) or input=views (each view against the same target: CLIPasso
 * augmented target and sketch together, which a fixed target cannot).
 * Gradient: dL/dF per block (through the per-token normalisation for study:
 * dF = (g - F^ (F^ . g)) / |F|, g = dL/dF^), then host->clip_backward with
 * d_features into dimg (or dviews).
 * The target picture (PNG or JPEG) is read as clip-image reads it, through
 * the host's image service (host->load_image, squash or clip
 * preprocessing, PIL-exact); the target's parameters and handle, the input
 * checks, the grey-to-RGB handling and the block lists are clip_loss.h's
 * (cl_feat_*), shared with style.
 */
#include "clip_loss.h"

enum { MODE_STUDY, MODE_L2 };

static const plugin_param_t params[] = {
    {.name = "image", .type = PARAM_STRING, .sdef = "", .help = "the target picture: PNG or JPEG"},
    {.name = "preprocess", .type = PARAM_ENUM, .sdef = "squash", .choices = "squash|clip",
     .help = "squash: bilinear to SxS (the study's image path); clip: shorter side to S bicubic, centre crop"},
    {.name = "blocks", .type = PARAM_STRING, .sdef = "study",
     .help = "vision blocks compared: study = L/4, L/2, 3L/4, L-1; or a list like 3+6+9+11"},
    {.name = "weights", .type = PARAM_STRING, .sdef = "", .help = "per-block weights like 1+1+0.5+0.5 (default all 1)"},
    {.name = "mode", .type = PARAM_ENUM, .sdef = "study", .choices = "study|l2",
     .help = "study: MSE of per-token L2-normalised features; l2: MSE of raw features (CLIPasso)"},
    {.name = "input", .type = PARAM_ENUM, .sdef = "image", .choices = "image|views",
     .help = "image: the un-augmented render (the study); views: each augmented view against the target"},
};

typedef struct {
    cl_feat_t f; /* the target picture, the blocks, the input */
    int mode;
} percep_t;

static int pc_init(void *st, const plugin_value_t *v, const plugin_host_t *host, plugin_err_t *err) {
    percep_t *s = st;
    static const int study[] = {1, 2, 3, -1};
    s->mode = (int)v[4].i;
    return cl_feat_init(&s->f, "perceptual", &v[0], &v[1], &v[2], &v[3], (int)v[5].i, host, study, 4, "3+6+9+11", err);
}

static void pc_fini(void *st) { cl_feat_fini(&((percep_t *)st)->f); }

static size_t pc_ws(const void *st, const loss_in_t *in) {
    const percep_t *s = st;
    return sizeof(float) * cl_feat_ws(&s->f, in, 0);
}

static int pc_eval(void *st, void *ws, const plugin_host_t *host, const loss_in_t *in, loss_out_t *out,
                   plugin_err_t *err) {
    percep_t *s = st;
    cl_fcall_t fc;
    int rc = cl_feat_begin(&s->f, "perceptual", "target", ws, host, in, out, &fc, err), n = fc.n, hd = fc.hd;
    if (rc) return rc;
    const float *dfeat[64] = {0};
    size_t TC = (size_t)s->f.T * s->f.Cw, cnt = (size_t)n * TC;
    double L = 0;
    float *dl = fc.df;
    for (int l = 0; l < s->f.L; l++) {
        if (!(s->f.keep >> l & 1)) continue;
        const float *F = host->clip_features(host->ctx, hd, l), *G = host->clip_features(host->ctx, s->f.hd, l);
        if (!F || !G) {
            host->clip_release(host->ctx, hd);
            return snprintf(err->msg, sizeof err->msg, "perceptual: block %d's features are missing", l), EXIT_INTERNAL;
        }
        double sum = 0, w = s->f.wb[l];
        for (int b = 0; b < n; b++)
            for (int t = 0; t < s->f.T; t++) {
                const float *f = F + (size_t)b * TC + (size_t)t * s->f.Cw, *g = G + (size_t)t * s->f.Cw;
                float *d = dl + (size_t)b * TC + (size_t)t * s->f.Cw;
                if (s->mode == MODE_L2) {
                    for (int c = 0; c < s->f.Cw; c++) {
                        double r = (double)f[c] - g[c];
                        sum += r * r;
                        d[c] = (float)(w * 2 * r / cnt);
                    }
                    continue;
                }
                double nf = 0, ng = 0, fg = 0;
                for (int c = 0; c < s->f.Cw; c++) nf += (double)f[c] * f[c], ng += (double)g[c] * g[c];
                nf = fmax(sqrt(nf), 1e-12), ng = fmax(sqrt(ng), 1e-12);
                /* g_c = dL/dF^_c = 2 w (F^ - G^)_c / cnt;  dF = (g - F^ (F^ . g)) / |F| */
                for (int c = 0; c < s->f.Cw; c++) {
                    double r = f[c] / nf - g[c] / ng;
                    sum += r * r;
                    fg += f[c] / nf * (w * 2 * r / cnt);
                }
                for (int c = 0; c < s->f.Cw; c++) {
                    double r = f[c] / nf - g[c] / ng;
                    d[c] = (float)((w * 2 * r / cnt - f[c] / nf * fg) / nf);
                }
            }
        L += w * sum / cnt;
        dfeat[l] = dl;
        dl += cnt;
    }
    if ((rc = cl_feat_end(host, &fc, dfeat, err))) return rc;
    out->value = L;
    return 0;
}

static const loss_vt vt = {.ws_size = pc_ws, .eval = pc_eval};

static const plugin_desc_t desc = {
    .abi = INVCLIP_PLUGIN_ABI,
    .kind = PLUGIN_LOSS,
    .name = "perceptual",
    .version = "1",
    .summary = "distance of chosen CLIP vision blocks' outputs to a target picture's (study / CLIPasso L2)",
    .help = "L = sum_l w_l * mean over tokens and channels of (F_l - G_l)^2, F the render's (input=image) or "
            "each view's (input=views) block-l output, G the target picture's (image=FILE, PNG or JPEG, "
            "squash or clip preprocessing).  mode=study normalises every token's vector to unit length first "
            "(doodleBot, docs/study.md 3.6); mode=l2 compares raw features (CLIPasso's L2).  blocks=study is "
            "L/4, L/2, 3L/4, L-1 (3,6,9,11 for ViT-B/32), or a list 3+6+9+11; weights 1+1+1+1.  CLIPasso's fc "
            "term is clip-image with weight 0.1.",
    .params = params,
    .nparams = (int)(sizeof params / sizeof params[0]),
    .state_size = sizeof(percep_t),
    .init = pc_init,
    .fini = pc_fini,
    .loss = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
