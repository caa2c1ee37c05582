/* host.h - the services table tools give to plugins (plugin.h plugin_host_t),
 * backed by the project's own parts: the tool's thread pool (pool.h), BLAS
 * (sgemm), the seeded RNG (rng.h), the step counter, a CLIP model with its
 * tokenizer (clip_model.h), the strokes a run started from, and the picture
 * reader (PNG/JPEG + imgprep).
 *
 * CLIP by handle.  clip_encode normalises the images (CLIP's per-channel
 * mean/std), runs the image tower and returns unit embeddings and a handle.
 * The handle owns a copy of everything its backward needs: the normalised
 * images, the unit embeddings and their norms, and the kept blocks' outputs
 * (copied out of the model, so clip_features stays valid whatever runs
 * next).  The model itself keeps one forward's activations per tower
 * (clip.h), so the host records which handle they belong to: clip_backward
 * on that handle uses them directly (the common encode -> backward case
 * costs nothing extra); on any other handle -- or after a backward consumed
 * them -- it first re-runs the image tower on the handle's saved normalised
 * images, which restores exactly the activations its encode had (the forward
 * is deterministic).  So any number of handles may be alive, backwarded in
 * any order, each any number of times, with results identical to encoding
 * and backwarding one at a time; the price is one extra forward per
 * out-of-order backward.  Released handles keep their buffers for reuse, so
 * a steady loop allocates nothing.
 *
 * Text embeddings: one cache, per prompt string, for the host's lifetime,
 * holding the text tower's raw embedding (clip_embed_texts with raw = 1);
 * clip_text_raw copies it, clip_text normalises it exactly as
 * clip_embed_text does (the same bits).  A prompt that does not fit the
 * context is refused (EXIT_DATA, clip_model.h) and not cached.
 * Picture files (load_image, with or without a model): image_load()
 * (jpeg_io.h: PNG or JPEG by the first bytes) then imgprep_clip() (imgprep.h,
 * PIL-exact), with a temporary imgprep state; nothing is kept between calls.
 * More models (clip_model_open, for a loss that takes its features from
 * another CLIP, e.g. CLIPasso's RN101 beside ViT-B/32): each opened once per
 * path, owned by the host until host_free, run on the host's pool; handles
 * record their model, so clip_features / clip_backward / clip_release serve
 * all models alike, and each model keeps its own "whose activations"
 * record.
 * A host without a model leaves the CLIP services NULL (clip_model_open,
 * clip_model_info and clip_encode_model are offered anyway).  One host_t serves
 * one thread (its plugins may use parallel_for inside a call).
 */
#ifndef HOST_H
#define HOST_H
#include "clip_model.h"
#include "plugin.h"
#include "pool.h"
#include "rng.h"

#define HOST_MAX_BLOCKS 64
#define HOST_MAX_MODELS 8 /* models opened by plugins (clip_model_open) besides the host's own */

typedef struct {
    char *path;            /* as the plugin gave it */
    clip_model_t cm;       /* owned; image tower only */
    unsigned long act_seq; /* the encode whose activations it holds (0 = none) */
} host_model_t;

typedef struct {
    int live;             /* encoded and not yet released */
    int model;            /* 0: the host's own; k: xm[k-1] */
    int n, cap;           /* images; images norm holds */
    size_t xn_cap, unit_cap; /* floats xn and unit hold */
    uint64_t keep;        /* kept blocks */
    unsigned long seq;    /* the encode that filled it */
    float *xn;            /* (cap,3,S,S) normalised images */
    float *unit, *norm;   /* (cap,E), (cap) */
    float *feat[HOST_MAX_BLOCKS]; /* (cap,T,C) per kept block */
    size_t feat_cap[HOST_MAX_BLOCKS];
} host_clip_t;

typedef struct {
    char *text;
    float *raw; /* (E) the text tower's raw embedding */
} host_text_t;

typedef struct {
    plugin_host_t h;      /* hand &h to plugins */
    rng_t rng;
    pool_t *pool;         /* not owned; NULL = serial parallel_for */
    clip_model_t *model;  /* not owned; NULL = no CLIP services; model->bpe NULL = no clip_text(_raw) */
    clip_t *clip;         /* &model->m, or NULL */
    const scene_t *original;
    int step, nsteps;
    host_clip_t *hd;      /* handle k is hd[k-1] */
    int nhd;
    unsigned long seq;    /* encodes so far */
    unsigned long act_seq; /* the encode whose activations the model holds (0 = none) */
    int scap;             /* images the scratch holds */
    float *raw, *draw, *dxn; /* (scap,E), (scap,E), (scap,3,S,S) */
    host_text_t *texts;
    int ntexts;
    host_model_t xm[HOST_MAX_MODELS]; /* clip_model_open's models */
    int nxm;
    size_t raw_cap, dxn_cap; /* floats in raw/draw and dxn */
} host_t;

/* seed: the run's --seed.  model may be NULL. */
void host_init(host_t *hs, uint64_t seed, clip_model_t *model);
/* Lend the tool's pool to plugins (parallel_for, nthreads); NULL = serial. */
void host_set_pool(host_t *hs, pool_t *pool);
void host_set_original(host_t *hs, const scene_t *original);
void host_set_step(host_t *hs, int step, int nsteps);
/* CLIP handles encoded and not released (a plugin that leaks one is buggy). */
int host_live_handles(const host_t *hs);
void host_free(host_t *hs);
#endif
