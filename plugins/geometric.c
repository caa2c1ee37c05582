/* geometric.c - loss plugin `geometric`: CLIPasso's CLIPConvLoss, the
 * distance between a CLIP image tower's intermediate features of the render
 * and of a target picture, plus its final-embedding ("fc") term
 * (docs/study.md: "Intermediate-layer loss", "Official CLIPasso loop"), on a CLIP model of its own choosing.
 *
 * For the model (model=FILE: any CLIP weight file, e.g. OpenAI's RN101.pt,
 * opened once through host->clip_model_open; empty: the run's --model), the
 * render's (input=image) or each view's (input=views) features F_l and the
 * target's G_l (encoded once, on the first eval, and kept until fini):
 *   L = sum_l w_l * mean over (n, feature) of d(F_l - G_l)
 *       + fc * mean_k (1 - cos(e_k, t))
 * d = r^2 (distance=l2, CLIPasso's "L2") or |r| (l1); e_k the unit embedding
 * of image/view k, t the target's.  CLIPasso's defaults: blocks=clipasso,
 * which on a ResNet is its 5 feature maps (stem, layer1..layer4) with
 * weights 0,0,1,1,0 (layer2 and layer3), distance l2, fc 0.1.  A ViT has no
 * such maps; blocks=clipasso is then the blocks at L/2 and 3L/4 with weight 1
 * each (the project's choice, for running without a ResNet).  Otherwise
 * blocks is a list like 2+3 and weights one number per block.
 * The gradient: dF = w d'(F - G) / count per block and d e_k = -fc t / n
 * (the host differentiates the normalisation), through host->clip_backward.
 * The images must have the model's size (both 224 for RN101 and ViT-B/32).
 * Metrics: "conv" (the feature term), "fc_similarity" (mean cos).
 */
#include "clip_loss.h"

enum { DIST_L2, DIST_L1 };

static const plugin_param_t params[] = {
    {.name = "image", .type = PARAM_STRING, .sdef = "", .help = "the target picture: PNG or JPEG"},
    {.name = "preprocess", .type = PARAM_ENUM, .sdef = "squash", .choices = "squash|clip",
     .help = "squash: bilinear to SxS; clip: shorter side to S bicubic, centre crop"},
    {.name = "model", .type = PARAM_STRING, .sdef = "",
     .help = "CLIP weights whose features are compared (e.g. RN101.pt, CLIPasso's); empty: the run's model"},
    {.name = "blocks", .type = PARAM_STRING, .sdef = "clipasso",
     .help = "clipasso = a ResNet's stem,layer1..4 (a ViT's L/2, 3L/4); or a list like 2+3"},
    {.name = "weights", .type = PARAM_STRING, .sdef = "",
     .help = "per-block weights; clipasso on a ResNet: 0+0+1+1+0 (default), else all 1"},
    {.name = "distance", .type = PARAM_ENUM, .sdef = "l2", .choices = "l2|l1",
     .help = "l2: mean squared difference (CLIPasso's L2); l1: mean absolute difference"},
    {.name = "fc", .type = PARAM_FLOAT, .def = 0.1, .min = 0, .max = 1e6,
     .help = "weight of 1 - cos of the final embeddings (CLIPasso's clip_fc_loss_weight)"},
    {.name = "input", .type = PARAM_ENUM, .sdef = "image", .choices = "image|views",
     .help = "image: the un-augmented render; views: each augmented view against the (fixed) target"},
};

typedef struct {
    const char *path;
    int pre, input, dist;
    double fc;
    const plugin_host_t *host;
    int model;                   /* the host's model id */
    plugin_clip_info_t info;     /* its sizes (block -1) */
    size_t bsz[64];              /* per-image floats of each block */
    double wb[64];
    uint64_t keep;               /* blocks with a non-zero weight */
    int hd;                      /* the target's handle (0: not yet) */
    float temb[4096];            /* the target's unit embedding */
} geo_t;

static int g_init(void *st, const plugin_value_t *v, const plugin_host_t *host, plugin_err_t *err) {
    geo_t *s = st;
    s->path = v[0].s, s->pre = v[1].i ? PLUGIN_IMAGE_CLIP : PLUGIN_IMAGE_SQUASH, s->dist = (int)v[5].i;
    s->fc = v[6].f, s->input = (int)v[7].i, s->host = host;
    if (!host || !host->clip_model_open || !host->clip_model_info || !host->clip_encode_model)
        return snprintf(err->msg, sizeof err->msg, "geometric: the host offers no clip_model_open (too old)"),
               EXIT_PLUGIN;
    int rc = host->clip_model_open(host->ctx, v[2].s, &s->model, err);
    if (rc) return rc;
    if (host->clip_model_info(host->ctx, s->model, -1, &s->info) || s->info.blocks < 1)
        return snprintf(err->msg, sizeof err->msg, "geometric needs a CLIP model (the run has none: give model=FILE)"),
               EXIT_MODEL;
    if (s->info.dim > 4096)
        return snprintf(err->msg, sizeof err->msg, "geometric: embedding dim %d over 4096", s->info.dim), EXIT_MODEL;
    int L = s->info.blocks;
    if (!strcmp(v[3].s, "clipasso")) {
        double w[5] = {0, 0, 1, 1, 0}, st2[2] = {L / 2, 3 * L / 4};
        if (s->info.resnet) {
            int nw = *v[4].s ? cl_parse_list(v[4].s, w, 5) : 5;
            if (nw != 5)
                return snprintf(err->msg, sizeof err->msg,
                                "weights='%.60s' must give 5 numbers (stem, layer1..layer4)", v[4].s),
                       EXIT_USAGE;
            for (int l = 0; l < 5; l++) {
                if (w[l] < 0) return snprintf(err->msg, sizeof err->msg, "weights: %g is negative", w[l]), EXIT_USAGE;
                s->wb[l] = w[l];
            }
        } else {
            uint64_t k = 0;
            if ((rc = cl_blocks("study", v[4].s, st2, 2, L, "2+3", s->wb, &k, err))) return rc;
        }
    } else {
        uint64_t k = 0;
        if ((rc = cl_blocks(v[3].s, v[4].s, NULL, 0, L, "2+3", s->wb, &k, err))) return rc;
    }
    for (int l = 0; l < L && l < 64; l++) {
        if (s->wb[l] == 0) continue;
        plugin_clip_info_t bi;
        host->clip_model_info(host->ctx, s->model, l, &bi);
        s->bsz[l] = (size_t)bi.C * bi.H * bi.W;
        s->keep |= 1ull << l;
    }
    if (!s->path || !*s->path) return 0; /* refused at eval */
    return cl_picture(host, s->path, s->info.size, s->pre, NULL, err);
}

static void g_fini(void *st) {
    geo_t *s = st;
    if (s->hd && s->host && s->host->clip_release) s->host->clip_release(s->host->ctx, s->hd);
    s->hd = 0;
}

static size_t g_floats(const geo_t *s, const loss_in_t *in) {
    size_t n = s->input == CL_IN_VIEWS && in->N > 0 ? (size_t)in->N : 1, px = (size_t)in->H * in->W, f = 0;
    for (int l = 0; l < 64; l++) f += s->bsz[l];
    size_t main = (in->C == 1 ? 2 * n * 3 * px : 0) + n * f + 2 * n * (size_t)s->info.dim;
    size_t tgt = !s->hd ? 3 * (size_t)s->info.size * s->info.size : 0;
    return main > tgt ? main : tgt;
}

static size_t g_ws(const void *st, const loss_in_t *in) { return sizeof(float) * g_floats(st, in); }

static int g_eval(void *st, void *ws, const plugin_host_t *host, const loss_in_t *in, loss_out_t *out,
                  plugin_err_t *err) {
    geo_t *s = st;
    int views = s->input == CL_IN_VIEWS && in->N > 0, S = s->info.size, D = s->info.dim, rc;
    int n = views ? in->N : 1, C = in->C;
    const float *x = views ? in->views : in->img;
    float *dx = views ? out->dviews : out->dimg;
    size_t px = (size_t)S * S;
    if (!s->path || !*s->path)
        return snprintf(err->msg, sizeof err->msg, "geometric: no target picture (give image=FILE)"), EXIT_USAGE;
    if ((rc = cl_check_input("geometric", views ? "views" : "image", x, n, C, in->H, in->W, S, err))) return rc;
    if (!s->hd) { /* the target, once */
        float *img = ws;
        if ((rc = cl_picture(host, s->path, S, s->pre, img, err))) return rc;
        if ((rc = host->clip_encode_model(host->ctx, s->model, img, 1, s->keep, &s->hd, s->temb, err)))
            return s->hd = 0, rc;
    }
    size_t grey = C == 1 ? (size_t)n * 3 * px : 0;
    float *x3 = ws, *dx3 = x3 + grey, *emb = dx3 + grey, *demb = emb + (size_t)n * D, *dl = demb + (size_t)n * D;
    int hd;
    if ((rc = host->clip_encode_model(host->ctx, s->model, cl_rgb(x, n, C, px, x3), n, s->keep, &hd, emb, err)))
        return rc;
    const float *dfeat[64] = {0};
    double conv = 0, sim = 0;
    for (int l = 0; l < 64; l++) {
        if (!(s->keep >> l & 1)) continue;
        const float *F = host->clip_features(host->ctx, hd, l), *G = host->clip_features(host->ctx, s->hd, l);
        if (!F || !G) {
            host->clip_release(host->ctx, hd);
            return snprintf(err->msg, sizeof err->msg, "geometric: block %d's features are missing", l), EXIT_INTERNAL;
        }
        size_t m = s->bsz[l], cnt = (size_t)n * m;
        double sum = 0, w = s->wb[l];
        for (int b = 0; b < n; b++)
            for (size_t i = 0; i < m; i++) {
                double r = (double)F[(size_t)b * m + i] - G[i];
                if (s->dist == DIST_L2) {
                    sum += r * r;
                    dl[(size_t)b * m + i] = (float)(w * 2 * r / cnt);
                } else {
                    sum += fabs(r);
                    dl[(size_t)b * m + i] = (float)(w * (r > 0 ? 1 : r < 0 ? -1 : 0) / cnt);
                }
            }
        conv += w * sum / cnt;
        dfeat[l] = dl;
        dl += cnt;
    }
    for (int b = 0; b < n; b++) {
        double c = 0;
        for (int i = 0; i < D; i++) c += (double)emb[(size_t)b * D + i] * s->temb[i];
        sim += c / n;
        for (int i = 0; i < D; i++) demb[(size_t)b * D + i] = (float)(-s->fc * s->temb[i] / n);
    }
    rc = dx ? cl_backward(host, hd, s->fc > 0 ? demb : NULL, dfeat, n, C, px, dx, dx3, err) : 0;
    host->clip_release(host->ctx, hd);
    if (rc) return rc;
    out->value = conv + s->fc * (1 - sim);
    out->nmetrics = 2;
    out->metric_name[0] = "conv";
    out->metric[0] = conv;
    out->metric_name[1] = "fc_similarity";
    out->metric[1] = sim;
    return 0;
}

static const loss_vt vt = {.ws_size = g_ws, .eval = g_eval};

static const plugin_desc_t desc = {
    .abi = INVCLIP_PLUGIN_ABI,
    .kind = PLUGIN_LOSS,
    .name = "geometric",
    .version = "1",
    .summary = "CLIPasso's geometric loss: L2 of a CLIP's conv features + 0.1 (1 - cos), on a CLIP of its own (RN101)",
    .help = "L = sum_l w_l * mean (F_l - G_l)^2 + fc * mean_k (1 - cos(e_k, t)): F the render's (input=image) or "
            "each view's (input=views) block-l features, G the target picture's (image=FILE), e and t their unit "
            "embeddings, all from the CLIP of model=FILE (empty: the run's model).  Defaults are CLIPasso's "
            "CLIPConvLoss (docs/study.md, \"Intermediate-layer loss\"): on a ResNet CLIP (RN101) the 5 feature maps stem, layer1..4 with "
            "weights 0,0,1,1,0, distance l2, fc 0.1.  On a ViT, blocks=clipasso is blocks L/2 and 3L/4, weight 1.  "
            "CLIPasso augments target and sketch together; here the target is fixed (input=image is the default).",
    .params = params,
    .nparams = (int)(sizeof params / sizeof params[0]),
    .state_size = sizeof(geo_t),
    .init = g_init,
    .fini = g_fini,
    .loss = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
