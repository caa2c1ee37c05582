/* test_loss_clip_text.c - the `clip-text` loss plugin on the tiny closed-form
 * CLIP of the host tests: the value against the definition computed here
 * through the host (mean of the views' unit embeddings, cosine to the unit
 * text embedding), both averages, the template ensembles with and without
 * the study's doubled article, ensemble=study (the mean of RAW embeddings)
 * through the host's clip_text_raw against the definition and against the
 * same raw vectors given as embeddings=FILE, with its gradient, and refused
 * by a host without that service, gradients w.r.t. the views and a grey
 * image by central differences, handles released, NaN input, a wrong size,
 * an over-long prompt, no model and bad parameters. */
#include <unistd.h>
#include "../plugins/tloss.h"

enum { S = 32, E = 16, NV = 3 };

static void unit(double *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += v[i] * v[i];
    s = sqrt(s);
    for (int i = 0; i < n; i++) v[i] /= s;
}

/* cos(mean of the unit embeddings of x (n images), t) and the mean of per-image 1-cos */
static double sim_of(tl_host_t *t, const float *x, int n, const double *tv, double *meanloss) {
    const plugin_host_t *h = &t->hs.h;
    float emb[NV * E];
    plugin_err_t pe;
    int hd;
    if (h->clip_encode(h->ctx, x, n, 0, &hd, emb, &pe)) return NAN;
    h->clip_release(h->ctx, hd);
    double e[E] = {0}, et = 0, ee = 0;
    *meanloss = 0;
    for (int b = 0; b < n; b++) {
        double ut = 0;
        for (int i = 0; i < E; i++) e[i] += emb[b * E + i] / n, ut += emb[b * E + i] * tv[i];
        *meanloss += (1 - ut) / n;
    }
    for (int i = 0; i < E; i++) et += e[i] * tv[i], ee += e[i] * e[i];
    return et / sqrt(ee);
}

/* unit(mean of unit text embeddings of the prompts) */
static void text_target(tl_host_t *t, const char *const *pr, int n, double *tv) {
    float emb[E];
    plugin_err_t pe;
    memset(tv, 0, sizeof(double) * E);
    for (int k = 0; k < n; k++) {
        t->hs.h.clip_text(t->hs.h.ctx, pr[k], emb, &pe);
        for (int i = 0; i < E; i++) tv[i] += emb[i];
    }
    unit(tv, E);
}

int main(void) {
    tl_host_t t;
    if (tl_host_init(&t, 1)) {
        CHECK(0, "tiny CLIP");
        T_DONE();
    }
    size_t n1 = 3 * S * S;
    float *views = malloc(sizeof(float) * n1 * NV), *dviews = calloc(n1 * NV, sizeof(float));
    float *grey = malloc(sizeof(float) * S * S), *dgrey = calloc(S * S, sizeof(float));
    rng_t r;
    rng_seed(&r, 21);
    for (size_t i = 0; i < n1 * NV; i++) views[i] = (float)rng_range(&r, 0.1, 0.9);
    for (int i = 0; i < S * S; i++) grey[i] = (float)(0.5 + 0.4 * sin(0.3 * (i % S)) * cos(0.2 * (i / S)));
    float *g3 = malloc(sizeof(float) * n1), *dg3 = calloc(n1, sizeof(float));
    for (int c = 0; c < 3; c++) memcpy(g3 + (size_t)c * S * S, grey, sizeof(float) * S * S);
    /* img and views share C: an RGB image and 3 RGB views */
    loss_in_t in = {.img = g3, .C = 3, .H = S, .W = S, .views = views, .N = NV};
    plugin_t p;
    err_t e;
    CHECK(tl_open(&p, "clip_text", "prompt=a fish", &t, &e) == 0, "load clip-text (%s)", e.msg);
    double tv[E], ml;
    const char *one[1] = {"a fish"};
    text_target(&t, one, 1, tv);
    double want = sim_of(&t, views, NV, tv, &ml);
    loss_out_t out = {.dviews = dviews, .dimg = dg3};
    plugin_err_t pe;
    int rc = tl_eval(&p, &t, &in, &out, &pe);
    CHECK(rc == 0, "eval on 3 views (%s)", pe.msg);
    CHECK_CLOSE(out.value, 1 - want, 1e-6, 0, "L = 1 - cos(mean of view embeddings, text)");
    CHECK(out.nmetrics == 1 && !strcmp(out.metric_name[0], "similarity"), "metric similarity");
    CHECK_CLOSE(out.metric[0], want, 1e-6, 0, "similarity = cos");
    CHECK(host_live_handles(&t.hs) == 0, "handles released");
    double gi = 0;
    for (size_t i = 0; i < n1; i++) gi += fabs(dg3[i]);
    CHECK(gi == 0, "with views the image gets no gradient");
    tl_fd(&p, &t, &in, views, dviews, n1 * NV, 1e-2, 2e-2, 1e-5, 1, "d/dviews along a random direction");
    /* no views: the grey image, repeated to RGB */
    loss_in_t in0 = {.img = grey, .C = 1, .H = S, .W = S};
    want = sim_of(&t, g3, 1, tv, &ml);
    loss_out_t o0 = {.dimg = dgrey};
    CHECK(tl_eval(&p, &t, &in0, &o0, &pe) == 0, "eval on the grey image (%s)", pe.msg);
    CHECK_CLOSE(o0.value, 1 - want, 1e-6, 0, "N = 0: the image itself (grey repeated to RGB)");
    tl_fd(&p, &t, &in0, grey, dgrey, S * S, 1e-2, 2e-2, 1e-5, 2, "grey image: d/dimg along a random direction");
    /* bad input */
    views[5] = NAN;
    rc = tl_eval(&p, &t, &in, &out, &pe);
    CHECK(rc == EXIT_NUMERIC && strstr(pe.msg, "clip-text") && strstr(pe.msg, "view 0"), "NaN view: %s", pe.msg);
    views[5] = INFINITY;
    CHECK(tl_eval(&p, &t, &in, &out, &pe) == EXIT_NUMERIC, "Inf view refused");
    views[5] = 0.5f;
    loss_in_t bad = in;
    bad.H = bad.W = 16;
    rc = tl_eval(&p, &t, &bad, &out, &pe);
    CHECK(rc == EXIT_USAGE && strstr(pe.msg, "32x32"), "wrong size: %s", pe.msg);
    CHECK(host_live_handles(&t.hs) == 0, "no handle left after errors");
    plugin_close(&p);

    /* average=loss */
    CHECK(tl_open(&p, "clip_text", "prompt=a fish,average=loss", &t, &e) == 0, "load average=loss");
    sim_of(&t, views, NV, tv, &ml);
    memset(dviews, 0, sizeof(float) * n1 * NV);
    loss_out_t ol = {.dviews = dviews};
    tl_eval(&p, &t, &in, &ol, &pe);
    CHECK_CLOSE(ol.value, ml, 1e-6, 0, "average=loss: mean over views of 1 - cos");
    tl_fd(&p, &t, &in, views, dviews, n1 * NV, 1e-2, 2e-2, 1e-5, 3, "average=loss: d/dviews");
    plugin_close(&p);

    /* templates: the fixed article and the study's doubled one */
    const char *fixed[5] = {"a fish", "a drawing of a fish", "a sketch of a fish", "a simple fish", "a fish drawing"};
    const char *study[5] = {"a a fish", "a drawing of a a fish", "a sketch of a a fish", "a simple a fish",
                            "a a fish drawing"};
    const char *zs[5] = {"fish", "a sketch of a fish", "a line drawing of a fish", "a simple doodle of a fish",
                         "an outline of a fish"};
    const char *specs[3] = {"prompt=a fish,templates=study", "prompt=a fish,templates=study,article=study",
                            "prompt=fish,templates=zeroshot,article=study"};
    const char *const *sets[3] = {fixed, study, zs};
    const char *what[3] = {"study templates, article fixed", "study templates, the study's doubled article",
                           "zero-shot templates on a bare word"};
    for (int k = 0; k < 3; k++) {
        CHECK(tl_open(&p, "clip_text", specs[k], &t, &e) == 0, "load %s (%s)", specs[k], e.msg);
        text_target(&t, sets[k], 5, tv);
        want = sim_of(&t, views, NV, tv, &ml);
        loss_out_t o = {0};
        tl_eval(&p, &t, &in, &o, &pe);
        CHECK_CLOSE(o.metric[0], want, 1e-6, 0, "%s: unit mean of the 5 unit prompt embeddings", what[k]);
        plugin_close(&p);
    }
    /* fixed and doubled differ (the article matters to the tokenizer) */
    double t1[E], t2[E], d = 0;
    text_target(&t, fixed, 5, t1);
    text_target(&t, study, 5, t2);
    for (int i = 0; i < E; i++) d += fabs(t1[i] - t2[i]);
    CHECK(d > 1e-4, "the doubled article changes the target (%.3g)", d);
    /* ensemble=study exactly, from raw embeddings written as clip-embed --raw --text writes them */
    {
        float raw[5 * E];
        err_t ee = {0};
        CHECK(clip_embed_texts(&t.clip, study, 5, 1, raw, &ee) == 0, "raw text embeddings (%s)", ee.msg);
        char file[] = "/tmp/test_loss_clip_text.XXXXXX";
        int fd = mkstemp(file);
        FILE *f = fdopen(fd, "w");
        for (int k = 0; k < 5; k++) {
            fprintf(f, "{\"text\":\"%s\",\"model\":\"tiny\",\"dim\":%d,\"embedding\":[", study[k], E);
            for (int i = 0; i < E; i++) fprintf(f, "%s%.9g", i ? "," : "", raw[k * E + i]);
            fprintf(f, "]}\n");
        }
        fclose(f);
        double traw[E] = {0}, tunit[E];
        for (int k = 0; k < 5; k++)
            for (int i = 0; i < E; i++) traw[i] += raw[k * E + i];
        unit(traw, E);
        text_target(&t, study, 5, tunit);
        double d2 = 0;
        for (int i = 0; i < E; i++) d2 += fabs(traw[i] - tunit[i]);
        CHECK(d2 > 1e-4, "the two ensembles differ on these prompts (%.3g)", d2);
        const char *ens[2] = {"study", "clip"};
        const double *tt[2] = {traw, tunit};
        for (int k = 0; k < 2; k++) {
            char sp[256];
            snprintf(sp, sizeof sp, "embeddings=%s,ensemble=%s", file, ens[k]);
            CHECK(tl_open(&p, "clip_text", sp, &t, &e) == 0, "load %s (%s)", sp, e.msg);
            want = sim_of(&t, views, NV, tt[k], &ml);
            loss_out_t o = {0};
            tl_eval(&p, &t, &in, &o, &pe);
            CHECK_CLOSE(o.metric[0], want, 1e-5, 0, "embeddings=FILE, ensemble=%s: unit(mean of %s embeddings)", ens[k],
                        k ? "unit" : "raw");
            plugin_close(&p);
        }
        char sp[256];
        snprintf(sp, sizeof sp, "embeddings=%s,templates=study", file);
        rc = tl_open(&p, "clip_text", sp, &t, &e);
        CHECK(rc == EXIT_USAGE && strstr(e.msg, "templates=none"), "embeddings with templates: %s", e.msg);
        f = fopen(file, "w");
        fprintf(f, "{\"embedding\":[1,2]}\n");
        fclose(f);
        snprintf(sp, sizeof sp, "embeddings=%s", file);
        rc = tl_open(&p, "clip_text", sp, &t, &e);
        CHECK(rc == EXIT_DATA && strstr(e.msg, ":1: 2 numbers"), "wrong size: %s", e.msg);
        unlink(file);
        rc = tl_open(&p, "clip_text", "embeddings=/no/such.ndjson", &t, &e);
        CHECK(rc == EXIT_IO && strstr(e.msg, "embeddings=/no/such.ndjson"), "missing: %s", e.msg);
    }
    /* ensemble=study through the host's raw embeddings: the study's inverse optimiser in one parameter */
    {
        const char *sk[5] = {"a a perfect sketch of a fish", "a drawing of a a perfect sketch of a fish",
                             "a sketch of a a perfect sketch of a fish", "a simple a perfect sketch of a fish",
                             "a a perfect sketch of a fish drawing"};
        const char *spec = "prompt=a perfect sketch of a fish,templates=study,ensemble=study,article=study";
        float raw[5 * E];
        err_t ee = {0};
        CHECK(clip_embed_texts(&t.clip, sk, 5, 1, raw, &ee) == 0, "raw embeddings of the study's prompts (%s)",
              ee.msg);
        double traw[E] = {0}, tunit[E], d2 = 0;
        for (int k = 0; k < 5; k++)
            for (int i = 0; i < E; i++) traw[i] += raw[k * E + i] / 5.0;
        unit(traw, E);
        text_target(&t, sk, 5, tunit);
        for (int i = 0; i < E; i++) d2 += fabs(traw[i] - tunit[i]);
        CHECK(d2 > 1e-4, "the raw and unit ensembles differ on the study's prompts (%.3g)", d2);
        CHECK(tl_open(&p, "clip_text", spec, &t, &e) == 0, "load %s (%s)", spec, e.msg);
        want = sim_of(&t, views, NV, traw, &ml);
        memset(dviews, 0, sizeof(float) * n1 * NV);
        loss_out_t oh = {.dviews = dviews};
        rc = tl_eval(&p, &t, &in, &oh, &pe);
        CHECK(rc == 0, "eval (%s)", pe.msg);
        CHECK_CLOSE(oh.value, 1 - want, 1e-6, 0,
                    "templates=study,ensemble=study,article=study: 1 - cos(mean of view embeddings, "
                    "unit(mean of the 5 raw prompt embeddings)), by hand");
        CHECK_CLOSE(oh.metric[0], want, 1e-6, 0, "its similarity");
        CHECK(host_live_handles(&t.hs) == 0, "handles released");
        tl_fd(&p, &t, &in, views, dviews, n1 * NV, 1e-2, 2e-2, 1e-5, 4, "ensemble=study through the host: d/dviews");
        plugin_close(&p);
        /* the same raw vectors as clip-embed --raw writes them: the same target, bit for bit */
        char file[] = "/tmp/test_loss_clip_text.XXXXXX";
        int fd = mkstemp(file);
        FILE *f = fdopen(fd, "w");
        for (int k = 0; k < 5; k++) {
            fprintf(f, "{\"text\":\"%s\",\"model\":\"tiny\",\"dim\":%d,\"embedding\":[", sk[k], E);
            for (int i = 0; i < E; i++) fprintf(f, "%s%.9g", i ? "," : "", raw[k * E + i]);
            fprintf(f, "]}\n");
        }
        fclose(f);
        char sp[256];
        snprintf(sp, sizeof sp, "embeddings=%s,ensemble=study", file);
        CHECK(tl_open(&p, "clip_text", sp, &t, &e) == 0, "load %s (%s)", sp, e.msg);
        loss_out_t of = {0};
        rc = tl_eval(&p, &t, &in, &of, &pe);
        CHECK(rc == 0 && of.value == oh.value && of.metric[0] == oh.metric[0],
              "embeddings=FILE of the same raw vectors = the host's raw embeddings, bit for bit (%.17g, %.17g)",
              of.value, oh.value);
        plugin_close(&p);
        unlink(file);
        /* one prompt: unit(raw) is its unit embedding, so both ensembles agree */
        CHECK(tl_open(&p, "clip_text", "prompt=a fish,ensemble=study", &t, &e) == 0, "ensemble=study, one prompt");
        text_target(&t, one, 1, tv);
        want = sim_of(&t, views, NV, tv, &ml);
        loss_out_t o1 = {0};
        tl_eval(&p, &t, &in, &o1, &pe);
        CHECK_CLOSE(o1.metric[0], want, 1e-6, 0, "ensemble=study with one prompt = its unit embedding");
        plugin_close(&p);
    }
    /* a host without clip_text_raw (one built before it): ensemble=study with templates refused, saying how */
    {
        int (*saved)(void *, const char *, float *, plugin_err_t *) = t.hs.h.clip_text_raw;
        t.hs.h.clip_text_raw = NULL;
        rc = tl_open(&p, "clip_text", "templates=study,ensemble=study", &t, &e);
        CHECK(rc == EXIT_USAGE && strstr(e.msg, "clip-text") && strstr(e.msg, "clip_text_raw") &&
                  strstr(e.msg, "clip-embed --raw") && strstr(e.msg, "embeddings=FILE"),
              "no raw service: %s", e.msg);
        CHECK(tl_open(&p, "clip_text", "prompt=a fish,ensemble=study", &t, &e) == 0,
              "no raw service, one prompt: accepted (%s)", e.msg);
        loss_out_t o1 = {0};
        tl_eval(&p, &t, &in, &o1, &pe);
        CHECK_CLOSE(o1.metric[0], want, 1e-6, 0, "no raw service, ensemble=study with one prompt = its unit embedding");
        plugin_close(&p);
        t.hs.h.clip_text_raw = saved;
    }
    /* a prompt over CLIP's context (77 tokens) is refused at init, naming it (the host refuses, never cuts) */
    {
        char sp[700] = "prompt=a very long fish";
        for (int k = 0; k < 80; k++) strcat(sp, " fish");
        int nt = t.hs.ntexts;
        rc = tl_open(&p, "clip_text", sp, &t, &e);
        CHECK(rc == EXIT_DATA && strstr(e.msg, "clip-text") && strstr(e.msg, "prompt 'a very long fish fish") &&
                  strstr(e.msg, "too long for context length 77"),
              "over-long prompt: %s", e.msg);
        strcat(sp, ",templates=study,ensemble=study");
        rc = tl_open(&p, "clip_text", sp, &t, &e);
        CHECK(rc == EXIT_DATA && strstr(e.msg, "prompt 'a very long fish fish") &&
                  strstr(e.msg, "too long for context length 77"),
              "over-long prompt, raw ensemble: %s", e.msg);
        CHECK(t.hs.ntexts == nt, "nothing cached for it");
    }
    /* parameters and services */
    rc = tl_open(&p, "clip_text", "templates=poems", &t, &e);
    CHECK(rc == EXIT_USAGE && strstr(e.msg, "clip-text") && strstr(e.msg, "templates"), "bad templates: %s", e.msg);
    rc = tl_open(&p, "clip_text", "prompt=", &t, &e);
    CHECK(rc == EXIT_USAGE && strstr(e.msg, "prompt"), "empty prompt: %s", e.msg);
    tl_host_t nomodel;
    tl_host_init(&nomodel, 0);
    rc = tl_open(&p, "clip_text", "", &nomodel, &e);
    CHECK(rc == EXIT_MODEL && strstr(e.msg, "CLIP"), "no model: %s", e.msg);
    tl_host_free(&nomodel);
    free(views), free(dviews), free(grey), free(dgrey), free(g3), free(dg3);
    tl_host_free(&t);
    T_DONE();
}
