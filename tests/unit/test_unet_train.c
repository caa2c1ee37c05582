/* test_unet_train.c - unet_train.h: the config metadata round trip (every
 * preset field that a model file must carry), the checkpoint table
 * (gen./disc. prefixes, copy there and back bit for bit), loading the
 * generator from a model file and from a training checkpoint to the same
 * bits, refusals naming the key or tensor (a missing key, a bad value,
 * another config's tensors, a negative running variance), and the width
 * range parser. */
#include "t.h"
#include "unet_train.h"
#include <string.h>
#include <unistd.h>

static int same_cfg(const unet_model_cfg_t *a, const unet_model_cfg_t *b) {
    const unet_config_t *g = &a->g, *h = &b->g;
    return g->arch == h->arch && g->norm == h->norm && g->init == h->init && g->base == h->base &&
           g->depth == h->depth && g->size == h->size && g->io_size == h->io_size && g->n_dropout == h->n_dropout &&
           g->dropout == h->dropout && a->d.ndf == b->d.ndf && a->d.n_layers == b->d.n_layers &&
           a->d.norm == b->d.norm && a->d.size == b->d.size && a->gan == b->gan;
}

static void fill(params_t *ps, float seed) {
    for (int t = 0; t < ps->n; t++) /* tensors only: the alignment gaps stay zero */
        for (size_t i = ps->t[t].offset; i < ps->t[t].offset + ps->t[t].numel; i++) {
            ps->data[i] = 0.01f * (float)((i * 37 + (size_t)seed) % 101) - 0.5f;
            if (ps->m) ps->m[i] = 0.001f * (float)(i % 13), ps->v[i] = 0.002f * (float)(i % 7);
        }
    for (int i = 0; i < ps->n; i++) /* running variances must stay >= 0 */
        if (strstr(ps->t[i].name, "running_var"))
            for (size_t k = 0; k < ps->t[i].numel; k++) ps->data[ps->t[i].offset + k] = 1.0f + 0.1f * (float)k;
}

int main(void) {
    err_t e = {0};
    char path[64], path2[64];
    snprintf(path, sizeof path, "/tmp/test_unet_train.%d.st", (int)getpid());
    snprintf(path2, sizeof path2, "/tmp/test_unet_train.%d.ck", (int)getpid());

    /* presets: the study's 224 <-> 256 falls out of the rounding */
    unet_model_cfg_t s = unet_model_config(UNET_ARCH_STUDY, UNET_NORM_BATCH, 64, 8, 224, 64, 3, 0);
    CHECK(s.g.size == 256 && s.g.io_size == 224 && unet_model_size(&s) == 224, "study at 224: 256 inside, 224 out");
    CHECK(unet_param_count(&s.g) == 54408385, "study at base 64: 54,408,385 parameters");
    CHECK(s.d.init == UNET_INIT_TORCH && s.d.size == 224, "study: PatchGAN with torch's init on 224 pairs");
    unet_model_cfg_t p = unet_model_config(UNET_ARCH_PIX2PIX, UNET_NORM_INSTANCE, 4, 5, 32, 4, 2, 1);
    CHECK(p.g.size == 32 && p.g.io_size == 0 && p.g.norm == UNET_NORM_INSTANCE && p.d.norm == UNET_NORM_INSTANCE,
          "pix2pix at 32, depth 5: no resizing, instance norm in both");

    /* metadata round trip through a file */
    unet_model_cfg_t cfgs[2] = {unet_model_config(UNET_ARCH_STUDY, UNET_NORM_BATCH, 2, 4, 20, 2, 1, 1), p};
    cfgs[0].g.n_dropout = 2, cfgs[0].g.dropout = 0.25f;
    for (int k = 0; k < 2; k++) {
        unet_model_cfg_t *m = &cfgs[k];
        unet_t G;
        if (unet_init(&G, &m->g, 2, NULL, &e)) printf("# %s\n", e.msg);
        fill(&G.ps, (float)k);
        char buf[UNET_META_KEYS + 1][2][UNET_META_LEN];
        ckpt_kv_t kv[UNET_META_KEYS + 1];
        int n = unet_model_meta(m, buf, kv, 0);
        CHECK(n == UNET_META_KEYS, "config %d: %d metadata keys", k, n);
        ckpt_state_t st = {.step = 3, .meta = kv, .nmeta = n};
        CHECK(ckpt_save(path, &G.ps, &st, CKPT_WEIGHTS, &e) == 0, "config %d: model saved", k);
        ckpt_t *c = ckpt_open(path, &e);
        unet_model_cfg_t back;
        CHECK(c && unet_model_config_from(c, path, &back, &e) == 0 && same_cfg(m, &back),
              "config %d: read back equal", k);
        unet_t G2;
        CHECK(c && unet_model_read(c, path, &G2, 1, NULL, &back, 0, &e) == 0, "config %d: model file loads", k);
        CHECK(G2.train == 0 && G2.ps.size == G.ps.size && !memcmp(G2.ps.data, G.ps.data, G.ps.size * sizeof(float)),
              "config %d: same weights, eval mode", k);
        unet_free(&G2);
        if (c) ckpt_close(c);
        c = ckpt_open(path, &e);
        CHECK(c && unet_model_read(c, path, &G2, 1, NULL, &back, 10, &e) == EXIT_MODEL && strstr(e.msg, "allowed"),
              "config %d: a parameter bound refuses it: %s", k, e.msg);
        if (c) ckpt_close(c);

        /* the checkpoint table: gen. + disc., there and back */
        patchgan_t D;
        int gan = m->gan;
        if (gan && patchgan_init(&D, &m->d, 2, NULL, &e)) printf("# %s\n", e.msg);
        if (gan) fill(&D.ps, 5.0f);
        params_t all;
        params_init(&all);
        unet_ckpt_declare(&all, &G.ps, gan ? &D.ps : NULL);
        CHECK(params_alloc(&all, PARAMS_TRAIN, &e) == 0, "config %d: checkpoint table", k);
        CHECK(params_find(&all, "gen.enc1.conv.weight") >= 0 && (params_find(&all, "disc.layer0.conv.weight") >= 0) == gan,
              "config %d: gen. and disc. names", k);
        unet_ckpt_copy(&all, &G.ps, "gen.", 1);
        if (gan) unet_ckpt_copy(&all, &D.ps, "disc.", 1);
        snprintf(buf[n][0], UNET_META_LEN, "unet.file");
        snprintf(buf[n][1], UNET_META_LEN, "checkpoint");
        kv[n] = (ckpt_kv_t){buf[n][0], buf[n][1]};
        st.nmeta = n + 1;
        CHECK(ckpt_save(path2, &all, &st, CKPT_OPTIM, &e) == 0, "config %d: checkpoint saved", k);
        c = ckpt_open(path2, &e);
        CHECK(c && unet_model_read(c, path2, &G2, 1, NULL, &back, 0, &e) == 0 &&
                  !memcmp(G2.ps.data, G.ps.data, G.ps.size * sizeof(float)),
              "config %d: the generator from the checkpoint has the model's bits", k);
        unet_free(&G2);
        if (c) ckpt_close(c);
        params_t all2;
        params_init(&all2);
        unet_ckpt_declare(&all2, &G.ps, gan ? &D.ps : NULL);
        params_alloc(&all2, PARAMS_TRAIN, &e);
        CHECK(ckpt_load(path2, &all2, &st, CKPT_OPTIM, &e) == 0, "config %d: checkpoint loads with moments", k);
        unet_t G3;
        unet_init(&G3, &m->g, 2, NULL, &e);
        unet_ckpt_copy(&all2, &G3.ps, "gen.", 0);
        size_t bytes = G.ps.size * sizeof(float);
        CHECK(!memcmp(G3.ps.data, G.ps.data, bytes) && !memcmp(G3.ps.m, G.ps.m, bytes) &&
                  !memcmp(G3.ps.v, G.ps.v, bytes),
              "config %d: copy there and back: data, m, v bit for bit", k);
        unet_free(&G3);
        params_free(&all2);
        params_free(&all);
        if (gan) patchgan_free(&D);
        unet_free(&G);
    }

    /* refusals */
    {
        unet_model_cfg_t m = cfgs[0];
        unet_t G;
        unet_init(&G, &m.g, 1, NULL, &e);
        fill(&G.ps, 1);
        char buf[UNET_META_KEYS][2][UNET_META_LEN];
        ckpt_kv_t kv[UNET_META_KEYS];
        int n = unet_model_meta(&m, buf, kv, 0);
        ckpt_state_t st = {.meta = kv, .nmeta = n - 1}; /* patchgan.n_layers left out */
        ckpt_save(path, &G.ps, &st, CKPT_WEIGHTS, &e);
        ckpt_t *c = ckpt_open(path, &e);
        unet_model_cfg_t back;
        CHECK(unet_model_config_from(c, path, &back, &e) == EXIT_MODEL && strstr(e.msg, "patchgan.n_layers") &&
                  strstr(e.msg, path),
              "a missing key is named: %s", e.msg);
        ckpt_close(c);
        snprintf(buf[3][1], UNET_META_LEN, "3x"); /* unet.depth */
        st.nmeta = n;
        ckpt_save(path, &G.ps, &st, CKPT_WEIGHTS, &e);
        c = ckpt_open(path, &e);
        CHECK(unet_model_config_from(c, path, &back, &e) == EXIT_MODEL && strstr(e.msg, "unet.depth"),
              "a malformed value is named: %s", e.msg);
        ckpt_close(c);
        snprintf(buf[3][1], UNET_META_LEN, "5"); /* another depth: the tensors do not fit */
        ckpt_save(path, &G.ps, &st, CKPT_WEIGHTS, &e);
        c = ckpt_open(path, &e);
        unet_t G2;
        CHECK(unet_model_read(c, path, &G2, 1, NULL, &back, 0, &e) == EXIT_MODEL && strstr(e.msg, "tensor '"),
              "another config's tensors: the tensor is named: %s", e.msg);
        ckpt_close(c);
        snprintf(buf[3][1], UNET_META_LEN, "%d", m.g.depth);
        param_view_t rv = params_view(&G.ps, "enc2.norm.running_var");
        CHECK(rv.data != NULL, "enc2 has a running variance");
        if (rv.data) rv.data[1] = -0.5f;
        ckpt_save(path, &G.ps, &st, CKPT_WEIGHTS, &e);
        c = ckpt_open(path, &e);
        CHECK(unet_model_read(c, path, &G2, 1, NULL, &back, 0, &e) == EXIT_MODEL &&
                  strstr(e.msg, "'enc2.norm.running_var'") && strstr(e.msg, "[1]"),
              "a negative running variance is refused, named: %s", e.msg);
        ckpt_close(c);
        unet_free(&G);
    }

    /* --input-width */
    double lo = 0, hi = 0;
    CHECK(unet_width_range("1..3", &lo, &hi) == 0 && lo == 1 && hi == 3, "1..3");
    CHECK(unet_width_range("2.5", &lo, &hi) == 0 && lo == 2.5 && hi == 2.5, "2.5");
    CHECK(unet_width_range("0.5..0.5", &lo, &hi) == 0 && lo == 0.5 && hi == 0.5, "0.5..0.5");
    const char *bad[] = {"", "..", "1..", "..3", "3..1", "0", "-1..2", "1..2..3", "x", "1..nan", "1..1e5", "1 ..2"};
    int nbad = 0;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lo = hi = -7;
        nbad += unet_width_range(bad[i], &lo, &hi) == -1 && lo == -7 && hi == -7;
    }
    CHECK(nbad == (int)(sizeof bad / sizeof *bad), "malformed ranges refused, outputs untouched (%d)", nbad);
    unlink(path);
    unlink(path2);
    T_DONE();
}
