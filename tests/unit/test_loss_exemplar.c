/* test_loss_exemplar.c - the `exemplar` loss plugin on the tiny CLIP:
 * exemplar embeddings read from clip-embed-style NDJSON (made here through
 * the host from pictures), the three modes against the definition, their
 * gradients by central differences (softmin through its weights), the
 * metrics, and bad files (missing, wrong size, not numbers, empty). */
#include <unistd.h>
#include "../plugins/tloss.h"

enum { S = 32, E = 16, NV = 3, K = 3 };

int main(void) {
    tl_host_t t;
    if (tl_host_init(&t, 1)) {
        CHECK(0, "tiny CLIP");
        T_DONE();
    }
    const plugin_host_t *h = &t.hs.h;
    char dir[64] = "/tmp/test_loss_exemplar.XXXXXX", path[128], spec[256];
    CHECK(mkdtemp(dir) != NULL, "scratch folder");
    rng_t r;
    rng_seed(&r, 51);
    size_t n1 = 3 * S * S;
    float *pics = malloc(sizeof(float) * n1 * K), xk[K][E];
    for (size_t i = 0; i < n1 * K; i++) pics[i] = (float)rng_range(&r, 0, 1);
    plugin_err_t pe;
    int hd;
    h->clip_encode(h->ctx, pics, K, 0, &hd, &xk[0][0], &pe);
    h->clip_release(h->ctx, hd);
    /* as clip-embed writes them: other fields first, raw numbers (scaled: the plugin normalises) */
    snprintf(path, sizeof path, "%s/ex.ndjson", dir);
    FILE *f = fopen(path, "w");
    for (int k = 0; k < K; k++) {
        fprintf(f, "{\"file\":\"p%d.jpeg\",\"index\":0,\"model\":\"tiny\",\"dim\":%d,\"embedding\":[", k, E);
        for (int i = 0; i < E; i++) fprintf(f, "%s%.9g", i ? "," : "", 2.5 * xk[k][i]);
        fprintf(f, "]}\n");
    }
    fclose(f);
    float *views = malloc(sizeof(float) * n1 * NV), *dviews = calloc(n1 * NV, sizeof(float));
    for (size_t i = 0; i < n1 * NV; i++) views[i] = (float)rng_range(&r, 0.1, 0.9);
    loss_in_t in = {.img = views, .C = 3, .H = S, .W = S, .views = views, .N = NV};
    /* the definition */
    float emb[NV * E];
    h->clip_encode(h->ctx, views, NV, 0, &hd, emb, &pe);
    h->clip_release(h->ctx, hd);
    double e[E] = {0}, ne = 0, s[K], mean = 0, best = -2;
    for (int b = 0; b < NV; b++)
        for (int i = 0; i < E; i++) e[i] += emb[b * E + i] / NV;
    for (int i = 0; i < E; i++) ne += e[i] * e[i];
    ne = sqrt(ne);
    for (int k = 0; k < K; k++) {
        s[k] = 0;
        for (int i = 0; i < E; i++) s[k] += e[i] * xk[k][i] / ne;
        mean += s[k] / K;
        best = fmax(best, s[k]);
    }
    double z = 0, sb = 0;
    for (int k = 0; k < K; k++) z += exp(s[k] / 0.1);
    for (int k = 0; k < K; k++) sb += exp(s[k] / 0.1) / z * s[k];
    const char *modes[3] = {"mean", "min", "softmin"};
    const double want[3] = {1 - mean, 1 - best, 1 - sb};
    int rc;
    for (int m = 0; m < 3; m++) {
        plugin_t p;
        err_t er;
        snprintf(spec, sizeof spec, "embeddings=%s,mode=%s", path, modes[m]);
        CHECK(tl_open(&p, "exemplar", spec, &t, &er) == 0, "load mode=%s (%s)", modes[m], er.msg);
        memset(dviews, 0, sizeof(float) * n1 * NV);
        loss_out_t o = {.dviews = dviews};
        CHECK(tl_eval(&p, &t, &in, &o, &pe) == 0, "eval (%s)", pe.msg);
        CHECK_CLOSE(o.value, want[m], 1e-6, 0, "mode=%s against the definition", modes[m]);
        CHECK(o.nmetrics == 2 && fabs(o.metric[0] - mean) < 1e-6 && fabs(o.metric[1] - best) < 1e-6,
              "metrics similarity (mean) and nearest (max)");
        char what[64];
        snprintf(what, sizeof what, "mode=%s: d/dviews", modes[m]);
        tl_fd(&p, &t, &in, views, dviews, n1 * NV, 1e-2, 2e-2, 1e-6, 7 + m, what);
        CHECK(host_live_handles(&t.hs) == 0, "handles released");
        if (m == 0) {
            float keep = views[5];
            views[5] = INFINITY;
            rc = tl_eval(&p, &t, &in, &o, &pe);
            CHECK(rc == EXIT_NUMERIC && strstr(pe.msg, "exemplar: view 0"), "Inf view: %s", pe.msg);
            views[5] = keep;
        }
        plugin_close(&p);
    }
    /* bad files */
    plugin_t p;
    err_t er;
    rc = tl_open(&p, "exemplar", "embeddings=/nonexistent.ndjson", &t, &er);
    CHECK(rc == EXIT_IO && strstr(er.msg, "exemplar") && strstr(er.msg, "embeddings=/nonexistent.ndjson"), "missing: %s",
          er.msg);
    const char *bad[3] = {"{\"embedding\":[1,2,3]}\n", "{\"a\":1}\n{\"embedding\":[1,\"x\"]}\n", "{\"text\":\"no\"}\n"};
    const char *why[3] = {"3 numbers", ":2:", "no \"embedding\""};
    for (int k = 0; k < 3; k++) {
        f = fopen(path, "w");
        fputs(bad[k], f);
        fclose(f);
        snprintf(spec, sizeof spec, "embeddings=%s", path);
        rc = tl_open(&p, "exemplar", spec, &t, &er);
        CHECK(rc == EXIT_DATA && strstr(er.msg, why[k]), "bad file %d: %s", k, er.msg);
    }
    rc = tl_open(&p, "exemplar", "mode=max", &t, &er);
    CHECK(rc == EXIT_USAGE && strstr(er.msg, "exemplar") && strstr(er.msg, "mode"), "bad mode: %s", er.msg);
    CHECK(tl_open(&p, "exemplar", "", &t, &er) == 0, "no file: loads");
    CHECK(tl_eval(&p, &t, &in, &(loss_out_t){0}, &pe) == EXIT_USAGE && strstr(pe.msg, "embeddings=FILE"), "... and says so: %s",
          pe.msg);
    plugin_close(&p);
    unlink(path);
    rmdir(dir);
    free(pics), free(views), free(dviews);
    tl_host_free(&t);
    T_DONE();
}
