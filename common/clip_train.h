/* clip_train.h - contrastive training of a CLIP: one step, the initial
 * weights, and checkpoints in Hugging Face naming.
 *
 * The model half of clip-train (tools/clip-train.c owns the data, the
 * rendering and the loop).  A trainer holds
 *   ps  the parameter table (params.h) in clip_params.h's packed layout and
 *       OpenAI names, with its four blocks: data, grad, AdamW m and v;
 *   m   the towers (clip.h) with their weights bound over ps.data and their
 *       gradients over ps.grad, so clip.c's backward writes straight into
 *       the block AdamW reads;
 *   scratch for one batch of embeddings, sized once for the largest batch.
 *
 * One step (clip_trainer_grads + clip_trainer_update):
 *   zero grad; image tower on (B,3,S,S) normalised images, text tower on
 *   (B,context) token ids; both embeddings L2-normalised; symmetric InfoNCE
 *   with the learnable temperature exp(logit_scale) (nn/loss.h; pair i is
 *   image i with caption i, every other pair of the batch a negative);
 *   backward through both towers into ps.grad; then NaN/Inf scan, global-norm
 *   clipping, AdamW (decoupled decay on matrices and kernels only: params.h's
 *   automatic rule), and CLIP's clamp logit_scale <= ln 100.
 *
 * Initial weights (clip_trainer_init_weights) follow OpenAI's CLIP
 * (model.py initialize_parameters): token embedding N(0, 0.02^2), text
 * positions N(0, 0.01^2), image positions and both projections N(0, 1/width), in_proj N(0, 1/w), out_proj and mlp c_proj N(0, 1/(w 2L)),
 * mlp c_fc N(0, 1/(2w)), layer norms 1 and 0, biases 0, logit_scale ln(1/0.07);
 * the patch convolution as torch's Conv2d default, U(+-1/sqrt(3 P P)).  OpenAI
 * applies the block rule to the text tower and leaves the vision blocks at
 * torch's defaults; here both towers use it.  And the class token (class
 * embedding and its position, row 0) starts at ZERO, not N(0, 1/width): with
 * a random class token, the one token the embedding is read from, every
 * mostly-white sketch got the same embedding (cosine 1.0000 to four decimals) and training
 * sat on the ln B plateau (docs/clip-train.md).
 *
 * Files: clip_trainer_save writes a safetensors checkpoint whose tensors are
 * named as Hugging Face's CLIPModel names them (q/k/v split, projections
 * (E,W)) -- with "optim.m.*"/"optim.v.*", the step and the RNG states for a
 * training checkpoint (checkpoint.h), or the weights alone, optionally F16,
 * for a model to ship -- and a config.json beside it (HF CLIPConfig), so
 * clip_load, clip-embed and transformers' CLIPModel.from_pretrained read it
 * as a CLIP.  Both go through temp file + rename.  clip_trainer_load reads a
 * training checkpoint back, checking every tensor's name and shape against
 * the configured model (a mismatch names the tensor, EXIT_MODEL).
 */
#ifndef CLIP_TRAIN_H
#define CLIP_TRAIN_H
#include "checkpoint.h"
#include "clip.h"
#include "dist.h"
#include "params.h"
#include "rng.h"

typedef struct {
    clip_config_t cfg;
    params_t ps;   /* OpenAI names, packed; data/grad/m/v */
    clip_t m;      /* weights over ps.data, gradients over ps.grad */
    int cap;       /* largest batch the scratch holds */
    float *ie, *te;       /* (cap,E) raw embeddings */
    float *in, *tn;       /* (cap,E) unit embeddings */
    float *inorm, *tnorm; /* (cap) */
    float *dn_i, *dn_t;   /* (cap,E) gradients w.r.t. the unit embeddings */
    float *de_i, *de_t;   /* (cap,E) gradients w.r.t. the raw embeddings */
    float *ws;            /* InfoNCE scratch */
    size_t nws;
    params_t hf;          /* the same tensors under HF names (files only; built on first use) */
    size_t *hf_src;       /* (hf.n) each HF tensor's offset in ps's blocks */
    int *hf_tr;           /* (hf.n) 1: the HF tensor is the transpose of ps's (W,E) block */
    /* data-parallel (clip_trainer_set_dist): the global batch's unit
     * embeddings and their gradients, (size*cap,E) each, and InfoNCE scratch */
    const dist_t *dist;
    float *g_in, *g_tn, *g_dn_i, *g_dn_t, *g_ws;
    size_t g_nws;
} clip_trainer_t;

/* Check cfg (sizes, heads dividing widths, image size a multiple of the
 * patch) and allocate everything for batches up to cap.  EXIT_USAGE for a
 * bad config.  par: the caller's parallelism (borrowed). */
int clip_trainer_init(clip_trainer_t *t, const clip_config_t *cfg, int cap, const nn_par_t *par, err_t *e);
void clip_trainer_free(clip_trainer_t *t);
/* CLIP's initialisation (see above), drawn from r in layout order. */
void clip_trainer_init_weights(clip_trainer_t *t, rng_t *r);

/* One batch of B <= cap pairs: zero grad, forward, loss, backward.  img
 * (B,3,S,S) CLIP-normalised, ids (B,context). *loss = the InfoNCE loss;
 * *acc (may be NULL) = the fraction of images whose own caption scores
 * highest in the batch. */
int clip_trainer_grads(clip_trainer_t *t, const float *img, const int *ids, int B, float *loss, float *acc,
                       err_t *e);
/* Data-parallel training over d (dist.h; d->size > 1): every rank calls
 * clip_trainer_grads with its own slice of B pairs (the same B on every
 * rank; slice r = rows r*B.. of the global batch), and the contrastive loss
 * is the one of the global batch: the unit embeddings are all-gathered, each
 * rank computes InfoNCE over all size*B pairs (the same loss and gradients
 * on every rank) and backpropagates its own rows; the logit scale's
 * gradient is counted on rank 0 only.  So the sum-allreduce of ps.grad
 * (dist_sum_f) is the one-process gradient, and *loss and *acc are the
 * global batch's.  Allocates the global buffers (cap rows a rank). */
void clip_trainer_set_dist(clip_trainer_t *t, const dist_t *d);
/* After clip_trainer_grads: NaN/Inf check of the gradient (EXIT_NUMERIC
 * naming the tensor), clipping to max_norm (<= 0: off), AdamW update number
 * step (>= 1) with hp, clamp of logit_scale.  *gnorm = the norm before
 * clipping (may be NULL). */
int clip_trainer_update(clip_trainer_t *t, const adamw_hparams_t *hp, long long step, double max_norm,
                        double *gnorm, err_t *e);

/* Image embeddings only (evaluation): img (B,3,S,S) -> out (B,E) unit rows,
 * B <= cap. */
int clip_trainer_embed_images(clip_trainer_t *t, const float *img, int B, float *out, err_t *e);
/* Text embeddings only: ids (B,context) -> out (B,E) unit rows, B <= cap. */
int clip_trainer_embed_texts(clip_trainer_t *t, const int *ids, int B, float *out, err_t *e);

/* Save path (a .safetensors) and config.json in its directory.
 * flags: CKPT_OPTIM (training checkpoint: st must give step and RNGs),
 * CKPT_WEIGHTS, CKPT_F16 (checkpoint.h). */
int clip_trainer_save(clip_trainer_t *t, const char *path, const ckpt_state_t *st, int flags, err_t *e);
/* Read a training checkpoint written by clip_trainer_save(CKPT_OPTIM):
 * weights, moments, step and the RNGs named in st. */
int clip_trainer_load(clip_trainer_t *t, const char *path, ckpt_state_t *st, err_t *e);
/* Read the weights alone from path (a model or a training checkpoint
 * written by clip_trainer_save, F32 or F16; optimiser moments in it are
 * ignored, the moments here are left as they are); *step (may be NULL) = its
 * "step" metadata, 0 when absent.  A tensor missing or of another shape, or
 * other head counts, is EXIT_MODEL naming it. */
int clip_trainer_load_weights(clip_trainer_t *t, const char *path, long long *step, err_t *e);
/* The Hugging Face config.json text for cfg (appended to b). */
void clip_config_hf_json(const clip_config_t *cfg, buf_t *b);
#endif
