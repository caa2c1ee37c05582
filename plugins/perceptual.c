/* perceptual.c - loss plugin `perceptual`: distance between chosen CLIP
 * vision blocks' outputs for the rendered image (or its views) and for a
 * target picture (reference-system 3.6).
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
 * preprocessing, PIL-exact); the input checks, the grey-to-RGB handling and
 * the block lists are clip_loss.h's, shared with the other CLIP losses.
 */
#include "clip_loss.h"

#define MAXB 64

enum { MODE_STUDY, MODE_L2 };
enum { IN_IMAGE, IN_VIEWS };

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
    const char *path;
    int pre, S;                /* pre: PLUGIN_IMAGE_* */
    const plugin_host_t *host; /* kept for fini (releasing the target's handle) */
    int hd;                    /* the target's handle, 0 = not encoded yet */
    int mode, input, L, T, Cw;
    uint64_t keep;
    double wb[MAXB];           /* weight of each block (0 = not compared) */
} percep_t;

static int pc_init(void *st, const plugin_value_t *v, const plugin_host_t *host, plugin_err_t *err) {
    percep_t *s = st;
    s->path = v[0].s, s->pre = v[1].i ? PLUGIN_IMAGE_CLIP : PLUGIN_IMAGE_SQUASH, s->mode = (int)v[4].i, s->input = (int)v[5].i, s->host = host;
    if (!host || !host->clip_encode || host->clip_blocks < 1)
        return snprintf(err->msg, sizeof err->msg, "perceptual needs a CLIP model (the host has none)"), EXIT_MODEL;
    s->L = host->clip_blocks, s->T = host->clip_tokens, s->Cw = host->clip_width, s->S = host->clip_size;
    const double study[4] = {s->L / 4, s->L / 2, 3 * s->L / 4, s->L - 1};
    int rc = cl_blocks(v[2].s, v[3].s, study, 4, s->L, "3+6+9+11", s->wb, &s->keep, err);
    if (rc) return rc;
    if (!s->path || !*s->path) return 0; /* refused at eval: the host may list or init without one */
    return cl_picture(host, s->path, s->S, s->pre, NULL, err);
}

static void pc_fini(void *st) {
    percep_t *s = st;
    if (s->hd && s->host && s->host->clip_release) s->host->clip_release(s->host->ctx, s->hd);
    s->hd = 0;
}

static int nblocks(const percep_t *s) {
    int k = 0;
    for (int l = 0; l < s->L; l++) k += s->keep >> l & 1;
    return k;
}

static size_t pc_ws(const void *st, const loss_in_t *in) {
    const percep_t *s = st;
    size_t n = s->input == IN_VIEWS && in->N > 0 ? (size_t)in->N : 1, px = (size_t)in->H * in->W;
    size_t main = (in->C == 1 ? 2 * n * 3 * px : 0) + (size_t)nblocks(s) * n * s->T * s->Cw;
    size_t tgt = !s->hd ? 3 * (size_t)s->S * s->S + 1024 : 0;
    return sizeof(float) * (main > tgt ? main : tgt);
}

static int pc_eval(void *st, void *ws, const plugin_host_t *host, const loss_in_t *in, loss_out_t *out,
                   plugin_err_t *err) {
    percep_t *s = st;
    int views = s->input == IN_VIEWS && in->N > 0, n = views ? in->N : 1, C = in->C, S = s->S, rc;
    const float *x = views ? in->views : in->img;
    float *dx = views ? out->dviews : out->dimg;
    if (!s->path || !*s->path)
        return snprintf(err->msg, sizeof err->msg, "perceptual: no target picture (give image=FILE)"), EXIT_USAGE;
    if ((rc = cl_check_input("perceptual", views ? "views" : "image", x, n, C, in->H, in->W, S, err))) return rc;
    size_t px = (size_t)S * S;
    if (!s->hd) { /* the target, once; its handle lives until fini */
        float *img = ws, *emb = img + 3 * px;
        if ((rc = cl_picture(host, s->path, S, s->pre, img, err))) return rc;
        if ((rc = host->clip_encode(host->ctx, img, 1, s->keep, &s->hd, emb, err))) return s->hd = 0, rc;
    }
    float *x3 = ws, *dx3 = x3 + (C == 1 ? (size_t)n * 3 * px : 0), *df = dx3 + (C == 1 ? (size_t)n * 3 * px : 0);
    const float *xin = cl_rgb(x, n, C, px, x3);
    int hd;
    float emb[1024];
    if (host->clip_dim > 1024) return snprintf(err->msg, sizeof err->msg, "perceptual: embedding over 1024"), EXIT_MODEL;
    if ((rc = host->clip_encode(host->ctx, xin, n, s->keep, &hd, emb, err))) return rc;
    const float *dfeat[MAXB] = {0};
    size_t TC = (size_t)s->T * s->Cw, cnt = (size_t)n * TC;
    double L = 0;
    float *dl = df;
    for (int l = 0; l < s->L; l++) {
        if (!(s->keep >> l & 1)) continue;
        const float *F = host->clip_features(host->ctx, hd, l), *G = host->clip_features(host->ctx, s->hd, l);
        if (!F || !G) {
            host->clip_release(host->ctx, hd);
            return snprintf(err->msg, sizeof err->msg, "perceptual: block %d's features are missing", l), EXIT_INTERNAL;
        }
        double sum = 0, w = s->wb[l];
        for (int b = 0; b < n; b++)
            for (int t = 0; t < s->T; t++) {
                const float *f = F + (size_t)b * TC + (size_t)t * s->Cw, *g = G + (size_t)t * s->Cw;
                float *d = dl + (size_t)b * TC + (size_t)t * s->Cw;
                if (s->mode == MODE_L2) {
                    for (int c = 0; c < s->Cw; c++) {
                        double r = (double)f[c] - g[c];
                        sum += r * r;
                        d[c] = (float)(w * 2 * r / cnt);
                    }
                    continue;
                }
                double nf = 0, ng = 0, fg = 0;
                for (int c = 0; c < s->Cw; c++) nf += (double)f[c] * f[c], ng += (double)g[c] * g[c];
                nf = fmax(sqrt(nf), 1e-12), ng = fmax(sqrt(ng), 1e-12);
                /* g_c = dL/dF^_c = 2 w (F^ - G^)_c / cnt;  dF = (g - F^ (F^ . g)) / |F| */
                for (int c = 0; c < s->Cw; c++) {
                    double r = f[c] / nf - g[c] / ng;
                    sum += r * r;
                    fg += f[c] / nf * (w * 2 * r / cnt);
                }
                for (int c = 0; c < s->Cw; c++) {
                    double r = f[c] / nf - g[c] / ng;
                    d[c] = (float)((w * 2 * r / cnt - f[c] / nf * fg) / nf);
                }
            }
        L += w * sum / cnt;
        dfeat[l] = dl;
        dl += cnt;
    }
    rc = 0;
    if (dx) rc = cl_backward(host, hd, NULL, dfeat, n, C, px, dx, dx3, err);
    host->clip_release(host->ctx, hd);
    if (rc) return rc;
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
            "(doodleBot, reference-system 3.6); mode=l2 compares raw features (CLIPasso's L2).  blocks=study is "
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
