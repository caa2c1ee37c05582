/* clip_text.c - loss plugin `clip-text`: 1 - CLIP cosine similarity between
 * the augmented views (or the image, when there are none) and a text prompt
 * or a template ensemble of it (docs/study.md 3.3, 3.4, 4.3 "semantic").
 *
 * Target t (unit, D = host->clip_dim), made once in init through
 * host->clip_text / host->clip_text_raw (one cache per prompt in the host):
 *   templates=none       t = embedding of `prompt` verbatim
 *   templates=study|clipasso|zeroshot   the five templates of that code (3.3)
 *       with `prompt` substituted; ensemble=clip: t = unit(mean of the unit
 *       prompt embeddings) (CLIP's and the zero-shot scripts' ensembling).
 *       ensemble=study (the inverse optimiser): t = unit(mean of the RAW
 *       embeddings), from host->clip_text_raw.  A host without that service
 *       (built before it) refuses it with templates, saying to use
 *       embeddings=FILE (below); with one prompt both ensembles agree and
 *       it is accepted.
 *   embeddings=FILE: the prompts' embeddings from clip-embed's NDJSON
 *       (clip-embed --raw --text P1 --text P2 ...), in place of prompt and
 *       templates: ensemble=study = unit(sum of the vectors as written, i.e.
 *       the raw ones with --raw: the same target as the host's raw
 *       embeddings give); ensemble=clip = unit(sum of their unit vectors).
 *   A prompt longer than the model's context is refused at init (EXIT_DATA,
 *       naming the prompt after the template filled it in).
 *   article=fix (default): a prompt that starts with an article (a, an, the)
 *       loses it when a template puts words before it ("a sketch of a {}" +
 *       "a fish" -> "a sketch of a fish", not the study's "a sketch of a a
 *       fish"); article=study substitutes verbatim (the study's doubled
 *       article).
 * Image side: u_k = unit CLIP embeddings of the N views (N,3,S,S), or of the
 * image when N = 0 (a grey (1,S,S) input is repeated to 3 channels).
 *   average=embedding (the study): e = mean_k u_k, L = 1 - cos(e, t)
 *   average=loss:                  L = mean_k (1 - cos(u_k, t))
 * Gradient: d cos(e,t)/de = t/|e| - (e.t) e/|e|^3, chained through the mean,
 * then host->clip_backward into dviews (or dimg).  Metric "similarity" =
 * cos(mean_k u_k, t), the study's reported number.
 */
#include <strings.h>
#include "clip_loss.h"

#define MAXD 1024 /* largest embedding the state holds */

enum { TPL_NONE, TPL_STUDY, TPL_CLIPASSO, TPL_ZEROSHOT };
enum { ENS_CLIP, ENS_STUDY };
enum { ART_FIX, ART_STUDY };

static const char *const tpl_sets[4][5] = {
    {"{}"},
    {"a {}", "a drawing of a {}", "a sketch of a {}", "a simple {}", "a {} drawing"},
    {"a {}", "a sketch of a {}", "a drawing of a {}", "a simple drawing of a {}", "a black and white sketch of a {}"},
    {"{}", "a sketch of a {}", "a line drawing of a {}", "a simple doodle of a {}", "an outline of a {}"},
};

static const plugin_param_t params[] = {
    {.name = "prompt", .type = PARAM_STRING, .sdef = "a fish", .help = "the text (the label, with templates)"},
    {.name = "templates", .type = PARAM_ENUM, .sdef = "none", .choices = "none|study|clipasso|zeroshot",
     .help = "prompt verbatim, or the five templates of the study's optimiser / CLIPasso-style / zero-shot code"},
    {.name = "ensemble", .type = PARAM_ENUM, .sdef = "clip", .choices = "clip|study",
     .help = "clip: mean of unit prompt embeddings; study: mean of raw ones (the study's optimiser)"},
    {.name = "article", .type = PARAM_ENUM, .sdef = "fix", .choices = "fix|study",
     .help = "fix: never 'a a fish'; study: substitute the prompt verbatim as the study did"},
    {.name = "average", .type = PARAM_ENUM, .sdef = "embedding", .choices = "embedding|loss",
     .help = "embedding: 1 - cos(mean of view embeddings, t) (the study); loss: mean over views of 1 - cos"},
    {.name = "embeddings", .type = PARAM_STRING, .sdef = "",
     .help = "prompt embeddings from clip-embed --text ... [--raw] (NDJSON) instead of prompt/templates"},
};

typedef struct {
    int avg, D;
    float t[MAXD];
} ctext_t;

/* ---- prompts ---- */

static int is_article(const char *w, size_t n) {
    static const char *const a[] = {"a", "an", "the"};
    for (int i = 0; i < 3; i++)
        if (strlen(a[i]) == n && !strncasecmp(w, a[i], n)) return 1;
    return 0;
}

/* tpl with {} replaced by label into out (cap bytes); 0, or -1 if it does not fit. */
static int fill(const char *tpl, const char *label, int fix, char *out, size_t cap) {
    const char *hole = strstr(tpl, "{}");
    size_t pre = (size_t)(hole - tpl);
    char head[128];
    snprintf(head, sizeof head, "%.*s", (int)pre, tpl);
    if (fix) {
        while (*label == ' ') label++;
        size_t wl = strcspn(label, " ");
        if (pre > 0 && label[wl] == ' ' && is_article(label, wl)) label += wl + 1; /* words before: drop its article */
    }
    int n = snprintf(out, cap, "%s%s%s", head, label, hole + 2);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* Sums the "embedding" arrays of an NDJSON file: raw into acc_raw, unit into
 * acc_unit; the number of vectors, or < 0 after writing err. */
static int read_prompts(const char *path, int D, double *acc_raw, double *acc_unit, plugin_err_t *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return snprintf(err->msg, sizeof err->msg, "embeddings=%.150s: cannot be opened", path), -EXIT_IO;
    static const char key[] = "\"embedding\":";
    int c, m = 0, line = 1, k = 0, bad = 0;
    float v[MAXD];
    while (!bad && (c = fgetc(f)) != EOF) {
        if (c == '\n') line++;
        m = c == key[m] ? m + 1 : c == key[0];
        if (key[m]) continue;
        m = 0;
        int d = 0;
        while ((c = fgetc(f)) == ' ') {}
        bad = c != '[';
        while (!bad) {
            double x;
            if (fscanf(f, " %lf", &x) != 1 || !isfinite(x)) {
                bad = 1;
                break;
            }
            if (d < MAXD) v[d] = (float)x;
            d++;
            while ((c = fgetc(f)) == ' ') {}
            if (c == ']') break;
            bad = c != ',';
        }
        if (bad) {
            snprintf(err->msg, sizeof err->msg, "embeddings=%.150s:%d: \"embedding\" is not an array of numbers", path, line);
            break;
        }
        double n = 0;
        for (int i = 0; i < d && i < MAXD; i++) n += (double)v[i] * v[i];
        if (d != D || !(n > 0)) {
            snprintf(err->msg, sizeof err->msg, "embeddings=%.150s:%d: %d numbers%s, the model's embeddings have %d", path,
                     line, d, n > 0 ? "" : " (zero)", D);
            bad = 1;
            break;
        }
        for (int i = 0; i < D; i++) acc_raw[i] += v[i], acc_unit[i] += v[i] / sqrt(n);
        k++;
    }
    fclose(f);
    if (bad) return -EXIT_DATA;
    if (!k) return snprintf(err->msg, sizeof err->msg, "embeddings=%.150s: no \"embedding\" in it", path), -EXIT_DATA;
    return k;
}

static int ct_init(void *st, const plugin_value_t *v, const plugin_host_t *host, plugin_err_t *err) {
    ctext_t *s = st;
    const char *prompt = v[0].s;
    int tpl = (int)v[1].i, ens = (int)v[2].i, fix = v[3].i == ART_FIX;
    s->avg = (int)v[4].i;
    if (!prompt || !*prompt) return snprintf(err->msg, sizeof err->msg, "prompt is empty"), EXIT_USAGE;
    if (!host || !host->clip_text || host->clip_dim < 1) {
        snprintf(err->msg, sizeof err->msg, "clip-text needs a CLIP model with its tokenizer (the host has none)");
        return EXIT_MODEL;
    }
    if (host->clip_dim > MAXD) {
        snprintf(err->msg, sizeof err->msg, "embedding size %d is over this plugin's %d", host->clip_dim, MAXD);
        return EXIT_MODEL;
    }
    int D = s->D = host->clip_dim, np = tpl == TPL_NONE ? 1 : 5;
    double acc[MAXD] = {0};
    if (v[5].s && *v[5].s) {
        if (tpl != TPL_NONE)
            return snprintf(err->msg, sizeof err->msg, "embeddings= replaces prompt and templates: give templates=none"),
                   EXIT_USAGE;
        double acc_unit[MAXD] = {0};
        int k = read_prompts(v[5].s, D, acc, acc_unit, err);
        if (k < 0) return -k;
        if (ens == ENS_CLIP) memcpy(acc, acc_unit, sizeof acc);
        np = 0;
    } else if (ens == ENS_STUDY && np > 1 && !host->clip_text_raw) {
        snprintf(err->msg, sizeof err->msg,
                 "ensemble=study averages raw text embeddings, which this host does not give (no clip_text_raw): "
                 "write them with clip-embed --raw --text ... and pass embeddings=FILE");
        return EXIT_USAGE;
    }
    /* ensemble=study: raw embeddings whenever the host gives them (one prompt: unit(raw) = its unit one) */
    int (*embed)(void *, const char *, float *, plugin_err_t *) =
        ens == ENS_STUDY && host->clip_text_raw ? host->clip_text_raw : host->clip_text;
    for (int k = 0; k < np; k++) {
        char text[1024];
        float emb[MAXD];
        if (fill(tpl_sets[tpl][k], prompt, fix, text, sizeof text))
            return snprintf(err->msg, sizeof err->msg, "prompt is over 1000 bytes"), EXIT_USAGE;
        plugin_err_t e2 = {{0}};
        int rc = embed(host->ctx, text, emb, &e2);
        if (rc) return snprintf(err->msg, sizeof err->msg, "prompt '%.60s': %.150s", text, e2.msg), rc;
        for (int i = 0; i < D; i++) acc[i] += emb[i];
    }
    double nrm = 0;
    for (int i = 0; i < D; i++) nrm += acc[i] * acc[i];
    nrm = sqrt(nrm);
    if (!(nrm > 0) || !isfinite(nrm))
        return snprintf(err->msg, sizeof err->msg, "the prompt embeddings cancel out"), EXIT_NUMERIC;
    for (int i = 0; i < D; i++) s->t[i] = (float)(acc[i] / nrm);
    return 0;
}

/* ---- image side: clip_loss.h's cosine loss, shared with clip-image ---- */

static size_t ct_ws(const void *st, const loss_in_t *in) { return sizeof(float) * cl_emb_ws(in, ((const ctext_t *)st)->D); }

static int ct_eval(void *st, void *ws, const plugin_host_t *host, const loss_in_t *in, loss_out_t *out,
                   plugin_err_t *err) {
    const ctext_t *s = st;
    double e[MAXD];
    return cl_cos_eval("clip-text", ws, host, s->D, s->t, s->avg, e, in, out, err);
}

static const loss_vt vt = {.ws_size = ct_ws, .eval = ct_eval};

static const plugin_desc_t desc = {
    .abi = INVCLIP_PLUGIN_ABI,
    .kind = PLUGIN_LOSS,
    .name = "clip-text",
    .version = "1",
    .summary = "1 - CLIP cosine similarity of the views (or the image) to a text prompt or template ensemble",
    .help = "t = unit text embedding of prompt, or with templates=study|clipasso|zeroshot the unit mean of the "
            "five templated prompts' unit embeddings (ensemble=clip), or of their RAW embeddings (ensemble=study, "
            "the study's optimiser; the host's clip_text_raw).  embeddings=FILE (clip-embed [--raw] --text P ...) "
            "gives the prompts' embeddings instead of prompt and templates.  A prompt longer than the model's "
            "context is refused.  "
            "article=fix never doubles an article ('a sketch of a a fish' -> 'a sketch of a fish'); "
            "article=study substitutes verbatim.  L = 1 - cos(mean_k u_k, t) over the unit "
            "embeddings u_k of the N views (the image when N = 0; grey is repeated to RGB) (average=embedding, "
            "docs/study.md 3.4), or mean_k (1 - cos(u_k, t)) (average=loss).  Metric: similarity = "
            "cos(mean_k u_k, t).",
    .params = params,
    .nparams = (int)(sizeof params / sizeof params[0]),
    .state_size = sizeof(ctext_t),
    .init = ct_init,
    .loss = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
