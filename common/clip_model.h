/* clip_model.h - a CLIP model ready to embed: weights, towers and tokenizer.
 *
 * The one path from a weight file and a prompt to an embedding, shared by the
 * tools (clip-embed) and the plugin host (host.h clip_text):
 *   clip_open   weights (clip_load.h) -> towers (clip.h, on the caller's
 *               pool) -> BPE tokenizer (bpe.h) when text is wanted;
 *   clip_embed_text / clip_embed_texts
 *               tokenize -> text tower -> unit vector (or the raw embedding),
 *               with a finiteness check.
 * A prompt whose tokens do not fit the model's context is an error
 * (EXIT_DATA, "text '...': ... too long for context length N"), never cut.
 * Each prompt runs through the text tower alone (batch 1), so its embedding
 * does not depend on which other prompts were embedded with it.  Scratch
 * buffers are allocated once per model, so a loop over prompts allocates
 * nothing.  Errors name the prompt ("text 'a fish': ..."); nothing prints or
 * exits.  A model serves one thread at a time, like clip_t.
 *
 * The default model: a tool given no --model opens clip_default_model()
 * (clip_open with path NULL): $INVCLIP_MODEL when set, else the shipped
 * sketch-domain CLIP data/models/sketch-clip/model.safetensors, trained by
 * the project on QuickDraw (make train-clip).  Every tool that takes --model
 * goes through it, so they agree on what "no --model" means.
 *
 * It does not cache embeddings (host.h caches per prompt) nor preprocess
 * images (imgprep.h).
 */
#ifndef CLIP_MODEL_H
#define CLIP_MODEL_H
#include "bpe.h"
#include "clip.h"
#include "clip_load.h"

typedef struct {
    clip_t m;    /* the towers; m.pool is borrowed */
    bpe_t *bpe;  /* owned; NULL when opened without text */
    char *name;  /* the weight file's base name (clip_open), else NULL */
    int *ids;    /* (context) token scratch */
    float *raw;  /* (E) embedding scratch */
} clip_model_t;

typedef struct {
    clip_load_opts_t load; /* heads (0 = infer, clip_load.h) */
    int text;              /* load the tokenizer: the text tower will be used */
    const char *vocab;     /* BPE merges; NULL = the shipped clip/bpe_simple_vocab_16e6.txt.gz */
} clip_open_opts_t;

/* The shipped model, relative to the data directory. */
#define CLIP_DEFAULT_MODEL_REL "models/sketch-clip/model.safetensors"

/* The weight file used when no --model is given: $INVCLIP_MODEL when it is
 * set and not empty (*from_env = 1), else the shipped model looked up like
 * every data file (data_path: $INVCLIP_DATA, the source tree's data/, then
 * <prefix>/share/invclip/data), and when it is in none of them the source
 * tree's path, so an error names where it belongs (*from_env = 0).  from_env
 * may be NULL.  The string is static (valid until the next call). */
const char *clip_default_model(int *from_env);

/* Load path's weights (path NULL: clip_default_model(); a missing default is
 * EXIT_MODEL with a message saying how to get one), set up the towers on pool
 * (borrowed, NULL = serial; it must outlive cm) and, when o->text, the
 * tokenizer -- refused (EXIT_MODEL) if the model's text vocabulary is smaller
 * than CLIP's BPE.  o may be NULL (no text).  On error *cm is left zeroed. */
int clip_open(clip_model_t *cm, const char *path, const clip_open_opts_t *o, pool_t *pool, err_t *e);
/* The same from weights already in memory (ownership of *w is taken, w is
 * zeroed, even on error). */
int clip_open_params(clip_model_t *cm, clip_params_t *w, const clip_open_opts_t *o, pool_t *pool, err_t *e);
void clip_close(clip_model_t *cm);

/* The unit text embedding of one prompt: emb (E). */
int clip_embed_text(clip_model_t *cm, const char *text, float *emb, err_t *e);
/* n prompts -> out (n,E): unit vectors, or the tower's raw embeddings when
 * raw != 0.  Stops at the first prompt that fails. */
int clip_embed_texts(clip_model_t *cm, const char *const *texts, int n, int raw, float *out, err_t *e);
#endif
