/* clip_model.c - see clip_model.h. */
#include "clip_model.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef INVCLIP_DATA_DIR
#define INVCLIP_DATA_DIR "data"
#endif

const char *clip_default_model(int *from_env) {
    static char path[4096];
    const char *env = getenv("INVCLIP_MODEL");
    if (from_env) *from_env = env && *env;
    if (env && *env) snprintf(path, sizeof path, "%s", env);
    else {
        char *p = data_path(CLIP_DEFAULT_MODEL_REL);
        snprintf(path, sizeof path, "%s", p ? p : INVCLIP_DATA_DIR "/" CLIP_DEFAULT_MODEL_REL);
        free(p);
    }
    return path;
}

/* A missing default is not a corrupt file: say where one comes from. */
static int default_missing(const char *path, int from_env, err_t *e) {
    struct stat st;
    if (stat(path, &st) == 0 || errno != ENOENT) return 0; /* anything else: clip_load says what */
    if (from_env)
        return err_set(e, EXIT_MODEL,
                       "%s: no such model file (named by $INVCLIP_MODEL; unset it for the shipped model, or give "
                       "--model FILE)",
                       path);
    return err_set(e, EXIT_MODEL,
                   "%s: the shipped sketch-domain CLIP is missing: `make train-clip` trains it, or give --model "
                   "FILE with CLIP weights you bring (e.g. OpenAI's ViT-B-32.pt or a Hugging Face "
                   "model.safetensors), or set $INVCLIP_MODEL",
                   path);
}

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
    if (!path) {
        int from_env;
        path = clip_default_model(&from_env);
        int rc = default_missing(path, from_env, e);
        if (rc) return rc;
    }
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
    /* a prompt longer than the context is an error, as OpenAI's clip.tokenize(truncate=False):
     * a silently cut prompt would be embedded as another text */
    if (clip_tokenize(cm->bpe, text, cfg->context, cm->ids, 0, e) < 0)
        rc = e && e->code ? e->code : err_set(e, EXIT_DATA, "cannot be tokenized");
    else rc = clip_text_forward(&cm->m, cm->ids, 1, cm->raw, e);
    if (rc) {
        err_prefix(e, "text '%.60s%s'", text, strlen(text) > 60 ? "..." : ""); /* room for the reason */
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
