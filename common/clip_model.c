/* clip_model.c - see clip_model.h. */
#include "clip_model.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int open_text(clip_model_t *cm, const clip_open_opts_t *o, err_t *e) {
    const clip_config_t *cfg = &cm->m.w.cfg;
    const char *who = cm->name ? cm->name : "the model";
    if (cfg->vocab < BPE_VOCAB_SIZE)
        return err_set(e, EXIT_MODEL, "%s: text vocabulary of %d tokens is smaller than CLIP's BPE (%d)", who,
                       cfg->vocab, BPE_VOCAB_SIZE);
    char *vp = o->vocab ? xstrdup(o->vocab) : data_path("clip/bpe_simple_vocab_16e6.txt.gz");
    if (!vp)
        return err_set(e, EXIT_IO, "cannot find the BPE vocabulary clip/bpe_simple_vocab_16e6.txt.gz; give --vocab FILE");
    cm->bpe = bpe_load(vp, e);
    free(vp);
    return cm->bpe ? 0 : (e && e->code ? e->code : EXIT_IO);
}

/* name: owned by cm from here on (may be NULL) */
static int open_params(clip_model_t *cm, clip_params_t *w, const clip_open_opts_t *o, pool_t *pool, char *name,
                       err_t *e) {
    memset(cm, 0, sizeof *cm);
    cm->name = name;
    nn_par_t par = pool_par(pool);
    clip_init(&cm->m, w, &par);
    const clip_config_t *cfg = &cm->m.w.cfg;
    cm->ids = xmalloc(sizeof(int) * (size_t)cfg->context);
    cm->raw = xmalloc(sizeof(float) * (size_t)cfg->embed_dim);
    int rc = o && o->text ? open_text(cm, o, e) : 0;
    if (rc) clip_close(cm);
    return rc;
}

int clip_open_params(clip_model_t *cm, clip_params_t *w, const clip_open_opts_t *o, pool_t *pool, err_t *e) {
    return open_params(cm, w, o, pool, NULL, e);
}

int clip_open(clip_model_t *cm, const char *path, const clip_open_opts_t *o, pool_t *pool, err_t *e) {
    memset(cm, 0, sizeof *cm);
    clip_params_t w = {0};
    int rc = clip_load_opts(path, &w, o ? &o->load : NULL, e);
    if (rc) return rc;
    const char *slash = strrchr(path, '/');
    return open_params(cm, &w, o, pool, xstrdup(slash ? slash + 1 : path), e);
}

void clip_close(clip_model_t *cm) {
    clip_free(&cm->m);
    if (cm->bpe) bpe_free(cm->bpe);
    free(cm->name);
    free(cm->ids);
    free(cm->raw);
    memset(cm, 0, sizeof *cm);
}

static int embed_one(clip_model_t *cm, const char *text, int raw, float *out, err_t *e) {
    const clip_config_t *cfg = &cm->m.w.cfg;
    int E = cfg->embed_dim;
    if (!cm->bpe) return err_set(e, EXIT_INTERNAL, "text '%s': the model was opened without its tokenizer", text);
    int rc = 0;
    if (clip_tokenize(cm->bpe, text, cfg->context, cm->ids, 1, e) < 0)
        rc = e && e->code ? e->code : err_set(e, EXIT_DATA, "cannot be tokenized");
    else rc = clip_text_forward(&cm->m, cm->ids, 1, cm->raw, e);
    if (rc) {
        err_prefix(e, "text '%s'", text);
        return rc;
    }
    for (int i = 0; i < E; i++)
        if (!isfinite(cm->raw[i])) return err_set(e, EXIT_NUMERIC, "text '%s': the embedding is not finite", text);
    float nrm;
    if (raw) memcpy(out, cm->raw, sizeof(float) * (size_t)E);
    else clip_normalize_forward(out, &nrm, cm->raw, 1, E);
    return 0;
}

int clip_embed_text(clip_model_t *cm, const char *text, float *emb, err_t *e) { return embed_one(cm, text, 0, emb, e); }

int clip_embed_texts(clip_model_t *cm, const char *const *texts, int n, int raw, float *out, err_t *e) {
    size_t E = (size_t)cm->m.w.cfg.embed_dim;
    for (int i = 0; i < n; i++) {
        int rc = embed_one(cm, texts[i], raw, out + (size_t)i * E, e);
        if (rc) return rc;
    }
    return 0;
}
