/* exemplar.c - loss plugin `exemplar`: 1 - CLIP similarity of the views (or
 * the image) to a set of exemplars (docs/study.md 4.3 "exemplar").
 *
 * Exemplars are CLIP embeddings in clip-embed's NDJSON (one object per line
 * with "embedding":[...]): of photos (clip-embed --preprocess squash
 * fish1.jpeg fish2.png ..., the study's photo exemplars) or of sketch records
 * (rasterize | clip-embed, its QuickDraw exemplars).  So every picture format
 * and renderer the tools know is available, with the project's exact
 * preprocessing, and the plugin reads numbers only.  They must come from
 * the model the run uses (the plugin checks the size, not the weights).
 * Each is unit-normalised; at most 64 are kept.
 *
 * e = mean_k u_k over the unit embeddings of the N views (the image when
 * N = 0), s_j = cos(e, x_j):
 *   mode=mean     L = 1 - mean_j s_j
 *   mode=min      L = 1 - max_j s_j          (the nearest exemplar)
 *   mode=softmin  w = softmax(s / tau), L = 1 - sum_j w_j s_j   (tau = 0.1;
 *                 differentiated through the weights, as autograd does:
 *                 dL/ds_j = -w_j (1 + (s_j - sum_i w_i s_i) / tau))
 * ds_j/de = x_j/|e| - (e.x_j) e/|e|^3; then host->clip_backward.
 * Metrics: similarity (mean_j s_j) and nearest (max_j s_j).
 */
#include "clip_loss.h"

#define MAXD 1024
#define MAXK 64

enum { MODE_MEAN, MODE_MIN, MODE_SOFTMIN };

static const plugin_param_t params[] = {
    {.name = "embeddings", .type = PARAM_STRING, .sdef = "",
     .help = "NDJSON of exemplar embeddings from clip-embed (photos, or rasterized sketch records)"},
    {.name = "mode", .type = PARAM_ENUM, .sdef = "mean", .choices = "mean|min|softmin",
     .help = "mean: all exemplars; min: the nearest one; softmin: softmax(sim/tau)-weighted"},
    {.name = "tau", .type = PARAM_FLOAT, .def = 0.1, .min = 1e-4, .max = 100, .help = "softmin temperature"},
};

typedef struct {
    int mode, D, K;
    double tau;
    const char *path;
    float x[MAXK][MAXD];
} exemplar_t;

/* Reads the "embedding" arrays of the file's lines into s->x. */
static int read_embeddings(exemplar_t *s, plugin_err_t *err) {
    FILE *f = fopen(s->path, "rb");
    if (!f) return snprintf(err->msg, sizeof err->msg, "embeddings=%.150s: cannot be opened", s->path), EXIT_IO;
    static const char key[] = "\"embedding\":";
    int c, m = 0, line = 1, rc = 0;
    s->K = 0;
    while ((c = fgetc(f)) != EOF && !rc) {
        if (c == '\n') line++;
        m = c == key[m] ? m + 1 : c == key[0];
        if (key[m]) continue;
        m = 0;
        int d = 0;
        while ((c = fgetc(f)) == ' ') {}
        if (c != '[') rc = EXIT_DATA;
        while (!rc) {
            double v;
            if (fscanf(f, " %lf", &v) != 1 || !isfinite(v)) {
                rc = EXIT_DATA;
                break;
            }
            if (d < MAXD && s->K < MAXK) s->x[s->K][d] = (float)v;
            d++;
            while ((c = fgetc(f)) == ' ') {}
            if (c == ']') break;
            if (c != ',') rc = EXIT_DATA;
        }
        if (rc) {
            snprintf(err->msg, sizeof err->msg, "embeddings=%.150s:%d: \"embedding\" is not an array of numbers", s->path, line);
            break;
        }
        if (d != s->D) {
            snprintf(err->msg, sizeof err->msg, "embeddings=%.150s:%d: %d numbers, the model's embeddings have %d",
                     s->path, line, d, s->D);
            rc = EXIT_DATA;
            break;
        }
        if (s->K == MAXK) {
            snprintf(err->msg, sizeof err->msg, "embeddings=%.150s:%d: more than %d exemplars", s->path, line, MAXK);
            rc = EXIT_DATA;
            break;
        }
        double n = 0;
        for (int i = 0; i < d; i++) n += (double)s->x[s->K][i] * s->x[s->K][i];
        if (!(n > 0)) {
            snprintf(err->msg, sizeof err->msg, "embeddings=%.150s:%d: a zero embedding", s->path, line);
            rc = EXIT_DATA;
            break;
        }
        for (int i = 0; i < d; i++) s->x[s->K][i] = (float)(s->x[s->K][i] / sqrt(n));
        s->K++;
    }
    fclose(f);
    if (!rc && !s->K) {
        snprintf(err->msg, sizeof err->msg, "embeddings=%.150s: no \"embedding\" in it", s->path);
        rc = EXIT_DATA;
    }
    return rc;
}

static int ex_init(void *st, const plugin_value_t *v, const plugin_host_t *host, plugin_err_t *err) {
    exemplar_t *s = st;
    s->path = v[0].s, s->mode = (int)v[1].i, s->tau = v[2].f;
    if (!host || !host->clip_encode || host->clip_dim < 1)
        return snprintf(err->msg, sizeof err->msg, "exemplar needs a CLIP model (the host has none)"), EXIT_MODEL;
    if (host->clip_dim > MAXD)
        return snprintf(err->msg, sizeof err->msg, "embedding size %d is over %d", host->clip_dim, MAXD), EXIT_MODEL;
    s->D = host->clip_dim;
    if (!s->path || !*s->path) return 0; /* refused at eval */
    return read_embeddings(s, err);
}

static size_t ex_ws(const void *st, const loss_in_t *in) { return sizeof(float) * cl_emb_ws(in, ((const exemplar_t *)st)->D); }

static int ex_eval(void *st, void *ws, const plugin_host_t *host, const loss_in_t *in, loss_out_t *out,
                   plugin_err_t *err) {
    const exemplar_t *s = st;
    int D = s->D, K = s->K, n, rc;
    if (!K) return snprintf(err->msg, sizeof err->msg, "exemplar: no exemplars (give embeddings=FILE)"), EXIT_USAGE;
    cl_emb_t c;
    if ((rc = cl_emb_begin("exemplar", ws, host, D, in, out, &c, err))) return rc;
    n = c.n;
    float *emb = c.emb, *demb = c.demb;
    double e[MAXD], ee = 0, sim[MAXK], ex[MAXK], dsim[MAXK];
    cl_mean(emb, n, D, e);
    for (int i = 0; i < D; i++) ee += e[i] * e[i];
    double ne = sqrt(ee), mean = 0, best = -2;
    int kb = 0;
    for (int k = 0; k < K; k++) {
        ex[k] = 0;
        for (int i = 0; i < D; i++) ex[k] += e[i] * s->x[k][i];
        sim[k] = ne > 0 ? ex[k] / ne : 0;
        mean += sim[k] / K;
        if (sim[k] > best) best = sim[k], kb = k;
        dsim[k] = 0;
    }
    double L;
    if (s->mode == MODE_MEAN) {
        L = 1 - mean;
        for (int k = 0; k < K; k++) dsim[k] = -1.0 / K;
    } else if (s->mode == MODE_MIN) {
        L = 1 - best;
        dsim[kb] = -1;
    } else {
        double z = 0, sb = 0, w[MAXK];
        for (int k = 0; k < K; k++) z += w[k] = exp((sim[k] - best) / s->tau);
        for (int k = 0; k < K; k++) w[k] /= z, sb += w[k] * sim[k];
        L = 1 - sb;
        for (int k = 0; k < K; k++) dsim[k] = -w[k] * (1 + (sim[k] - sb) / s->tau);
    }
    /* dL/de = sum_k dsim_k (x_k/|e| - (e.x_k) e/|e|^3), the same for every view's u_b / n */
    for (int i = 0; i < D; i++) {
        double g = 0;
        for (int k = 0; k < K; k++)
            if (dsim[k] != 0 && ne > 0) g += dsim[k] * (s->x[k][i] / ne - ex[k] * e[i] / (ne * ne * ne));
        for (int b = 0; b < n; b++) demb[(size_t)b * D + i] = (float)(g / n);
    }
    if ((rc = cl_emb_end(host, &c, err))) return rc;
    out->value = L;
    out->nmetrics = 2;
    out->metric_name[0] = "similarity", out->metric[0] = mean;
    out->metric_name[1] = "nearest", out->metric[1] = best;
    return 0;
}

static const loss_vt vt = {.ws_size = ex_ws, .eval = ex_eval};

static const plugin_desc_t desc = {
    .abi = INVCLIP_PLUGIN_ABI,
    .kind = PLUGIN_LOSS,
    .name = "exemplar",
    .version = "1",
    .summary = "1 - CLIP similarity to a set of exemplar embeddings (mean / nearest / softmin)",
    .help = "s_j = cos(mean of the views' unit embeddings, x_j) for the exemplars x_j of embeddings=FILE "
            "(clip-embed NDJSON of photos or of rasterized sketch records, from the run's model; at most 64).  "
            "mode=mean: L = 1 - mean s_j; min: 1 - max s_j; softmin: 1 - sum softmax(s/tau)_j s_j (tau 0.1), "
            "docs/study.md 4.3.  Metrics: similarity (mean s_j), nearest (max s_j).",
    .params = params,
    .nparams = (int)(sizeof params / sizeof params[0]),
    .state_size = sizeof(exemplar_t),
    .init = ex_init,
    .loss = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
