/* evalnet.h - the recognisability classifier: a small CNN over grey sketch
 * renders that names which of K words (the 345 of QuickDraw) a drawing shows.
 *
 * It is the evaluator of sketch-score (docs/evaluator.md): a model of another
 * architecture than the project's CLIP (a vision transformer), trained
 * separately, on its own loss (cross-entropy over the words), and never used
 * as a loss by the enhancers it judges.
 *
 * Architecture (PyTorch terms; tests/gen_evalnet_ref.py is its twin):
 *   x (B,1,S,S)  ink in [0,1] (1 - paper: the background is 0)
 *   nblocks x [ Conv2d(c_in, c, 3, padding=1, bias=False)
 *               BatchNorm2d(c, eps, momentum)
 *               ReLU
 *               MaxPool2d(2) ]                 S -> S/2 each block (floor)
 *   global average pool  (B,c_last)
 *   Dropout(p)           (training only; nn/dropout.h's counter-based mask,
 *                         seed = the caller's per-step seed, stream 0)
 *   Linear(c_last, K)    logits (B,K)
 * Tensor names follow nn.Sequential-like PyTorch naming:
 *   features.{i}.conv.weight (c, c_in, 3, 3)
 *   features.{i}.bn.weight / .bias / .running_mean / .running_var  (c)
 *   fc.weight (K, c_last), fc.bias (K)
 * The batch-norm running statistics live in the params_t beside the weights
 * (decay off, gradient always 0, so AdamW never moves them: m = v = 0 gives a
 * zero update), which puts them in every checkpoint and model file for free;
 * the training-mode forward updates them as PyTorch does (momentum, unbiased
 * running variance).
 *
 * Memory: parameters, gradients and AdamW moments are the params_t's flat
 * blocks; activations are one float block, one int block (max-pool argmax)
 * and one byte block (dropout mask), carved once for the largest batch
 * (cap); two ping-pong gradient planes serve the whole backward.  Nothing is
 * allocated per step.
 *
 * Modes: evalnet_forward(train = 1) uses batch statistics, updates the
 * running ones and applies dropout, saving what the backward needs;
 * train = 0 (inference) uses the running statistics and no dropout.
 * evalnet_backward follows a training forward of the same batch.
 * Parallelism: the caller's nn_par_t (borrowed), passed to every kernel.
 */
#ifndef EVALNET_H
#define EVALNET_H
#include <stdint.h>
#include "checkpoint.h"
#include "dist.h"
#include "params.h"
#include "rng.h"
#include "util.h"

#define EVALNET_MAX_BLOCKS 8

typedef struct {
    int image_size;                 /* S: input side, >= 2^nblocks */
    int nblocks;                    /* 1..EVALNET_MAX_BLOCKS */
    int ch[EVALNET_MAX_BLOCKS];     /* output channels of each block, 1..4096 */
    int classes;                    /* K >= 2 */
    float dropout;                  /* p in [0, 1) before the classifier */
    float bn_eps, bn_momentum;      /* PyTorch's defaults: 1e-5, 0.1 */
} evalnet_config_t;

/* The defaults above for the fields a caller leaves at 0 (eps, momentum). */
void evalnet_config_defaults(evalnet_config_t *c);
/* EXIT_USAGE naming the first field out of range. */
int evalnet_config_check(const evalnet_config_t *c, err_t *e);
/* Parameter count of the configuration (running statistics included). */
size_t evalnet_params_count(const evalnet_config_t *c);

typedef struct {
    float *w, *dw;                  /* conv (c, c_in, 3, 3) */
    float *g, *dg, *b, *db;         /* bn affine (c) */
    float *rmean, *rvar;            /* bn running statistics (c) */
    int cin, c, H, W, OH, OW;       /* input (cin,H,W) -> conv (c,H,W) -> pool (c,OH,OW) */
    /* saved activations (cap, ...) */
    float *conv, *act, *pool;       /* conv output, BN+ReLU output, pooled */
    int *idx;                       /* pool argmax */
    float *mean, *rstd;             /* (c) batch statistics */
} evalnet_block_t;

typedef struct {
    evalnet_config_t cfg;
    params_t ps;
    nn_par_t par;                   /* borrowed parallelism */
    int cap;                        /* largest batch */
    evalnet_block_t blk[EVALNET_MAX_BLOCKS];
    float *fc_w, *fc_dw, *fc_b, *fc_db;
    int feat;                       /* c_last */
    /* activations */
    float *gap, *drop, *logits;     /* (cap,feat), (cap,feat), (cap,K) */
    unsigned char *mask;            /* (cap,feat) dropout mask */
    float *dlogits, *dfeat, *dgap;  /* (cap,K), (cap,feat), (cap,feat) */
    float *gx, *gy;                 /* (gmax) gradient planes */
    float *rowloss;                 /* (cap) per-row cross-entropy */
    size_t gmax;
    float *ws;                      /* conv scratch */
    size_t nws;
    float *fblock;                  /* the activation blocks (owned) */
    int *iblock;
    const float *x;                 /* the last forward's input (borrowed) */
    int lastB, last_train, last_drop;
    /* Data-parallel training (dist.h): when dist is set and dist->size > 1,
     * this process's B rows are rows row0.. of a global batch of B*size,
     * and a training forward/backward behaves as one over the global batch:
     * batch norm all-reduces its per-channel sums (mean, then squared
     * deviations; and in the backward the sums of dy and dy*xhat), dropout
     * masks element row0*feat + i, and the loss gradient is that of the
     * global mean (dlogits / size) -- so the sum-allreduce of ps.grad is the
     * one-process gradient.  NULL (the default): one process. */
    const dist_t *dist;
    int row0;
    double *dsum; /* (2 max channels) the batch-norm sums exchanged */
} evalnet_t;

/* Check cfg, declare the tensors, allocate the blocks (PARAMS_TRAIN or
 * PARAMS_DATA_ONLY: inference needs no gradient or moments) and the
 * activations for batches up to cap.  Running variances start at 1, the
 * batch-norm scales at 1, everything else at 0 (evalnet_init_weights draws
 * the rest).  par is borrowed (may be NULL: serial). */
int evalnet_init(evalnet_t *n, const evalnet_config_t *cfg, int cap, int flags, const nn_par_t *par, err_t *e);
void evalnet_free(evalnet_t *n);

/* Initial weights drawn from r in layout order: convolutions He-normal over
 * their fan-out, N(0, 2/(c*9)) (torchvision's ResNet rule for ReLU nets);
 * batch norm 1 and 0; the classifier PyTorch's nn.Linear default
 * U(+-1/sqrt(c_last)) for weight and bias. */
void evalnet_init_weights(evalnet_t *n, rng_t *r);

/* x (B,1,S,S), B <= cap, kept (borrowed) until the backward.  Writes
 * n->logits (B,K).  train: batch statistics, running-statistics update,
 * dropout with mask seed `seed`; else eval mode.  EXIT_INTERNAL on a kernel
 * refusal (a bug), EXIT_USAGE for B out of range (training needs B*HW >= 2
 * at every batch norm). */
int evalnet_forward(evalnet_t *n, const float *x, int B, int train, uint64_t seed, err_t *e);

/* Gradients of a loss given dlogits (B,K) of the last TRAINING forward,
 * ADDED into n->ps.grad (the caller zeroes).  EXIT_INTERNAL when the last
 * forward was not a training forward of B rows. */
int evalnet_backward(evalnet_t *n, const float *dlogits, int B, err_t *e);

/* One training step's gradients: zero grad, training forward, softmax
 * cross-entropy with label smoothing (labels (B) in [0,K)), backward.
 * *loss = the mean loss; correct (may be NULL) = rows whose top logit is
 * the label. */
int evalnet_train_grads(evalnet_t *n, const float *x, const int *labels, int B, float smoothing, uint64_t seed,
                        float *loss, int *correct, err_t *e);

/* Row-wise softmax of n->logits (B rows) into probs (B,K). */
void evalnet_probs(const evalnet_t *n, int B, float *probs);

/* The configuration as checkpoint metadata ("evalnet.image_size",
 * "evalnet.channels" = "16,32,64", "evalnet.classes", "evalnet.dropout",
 * "evalnet.bn_eps", "evalnet.bn_momentum"): up to EVALNET_META entries are
 * written into kv, whose strings point into buf (EVALNET_META x 2 x 160
 * bytes); returns the count. */
#define EVALNET_META 6
int evalnet_config_meta(const evalnet_config_t *c, ckpt_kv_t *kv, char buf[][2][160]);
/* "16,32,64" -> nblocks and ch[]: 1..EVALNET_MAX_BLOCKS decimal counts in
 * 1..4096, digits only, separated by single commas.  0, or -1 (c unchanged). */
int evalnet_parse_channels(const char *s, evalnet_config_t *c);
/* Read the configuration back from an open checkpoint's metadata; EXIT_MODEL
 * naming the file and the key when one is missing or malformed. */
int evalnet_config_from_ckpt(const ckpt_t *ck, const char *name, evalnet_config_t *c, err_t *e);
/* The K words of a model ("evalnet.words": one a line, sorted, no repeats),
 * malloc'd (free each, then the array).  EXIT_MODEL naming the file. */
int evalnet_words_from_ckpt(const ckpt_t *ck, const char *name, int K, char ***words, err_t *e);
/* A model file for inference: the configuration and the words from the
 * metadata, a PARAMS_DATA_ONLY net for batches up to cap, the weights and
 * batch-norm statistics read in (every tensor checked by name and shape).
 * EXIT_MODEL on any mismatch; nothing is left allocated on error. */
int evalnet_open_model(ckpt_t *ck, const char *name, int cap, const nn_par_t *par, evalnet_t *n, char ***words,
                       err_t *e);
#endif
