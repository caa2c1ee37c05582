/* unet.h - the sketch enhancer's networks: a U-Net generator (the study's
 * post-activation U-Net, or pix2pix's pre-activation unet_256) and the 70x70
 * PatchGAN discriminator, forward and backward over the shared kernels of
 * common/nn/ (conv.h, norm2d.h, act.h, dropout.h, resize.h).
 *
 * Design after llm.c, as clip.c: each model declares its tensors by name in a
 * params_t (params.h), so AdamW, clipping, the NaN scan and checkpoints are
 * the training core's one loop each; activations live in one flat block sized
 * once for the largest batch (cap) at the configured image size; gradients of
 * activations in a second block; nothing is allocated per step (the
 * convolution scratch grows only when the caller's thread count changes).
 * Parallelism: the caller's nn_par_t (borrowed).  Errors: err_t with EXIT_*
 * codes; never prints, never exits.  One model serves one thread at a time
 * (it keeps its last forward's activations for the backward).
 *
 * ---- Generator (unet_t).  Level k = 1..depth has c_k = base * min(2^(k-1), 8)
 * channels at side size >> k; every convolution is kernel 4, stride 2,
 * padding 1 (Conv2d going down, ConvTranspose2d going up).  Unrolled, both
 * architectures are
 *     f_1 = conv_1(x)                      no norm
 *     f_k = norm(conv_k(lrelu(f_{k-1})))   k = 2..depth-1
 *     f_d = conv_d(lrelu(f_{d-1}))         innermost: no norm
 *     u_d = drop?(norm(convT_d(A(f_d))))
 *     u_k = drop?(norm(convT_k(cat_k)))    k = depth-1..2
 *     out = tanh(convT_1(cat_1) + bias)
 * with A and the concatenation cat_k of the level's skip and relu(u_{k+1}):
 *   UNET_ARCH_STUDY (doodleBot's UNetGenerator, post-activation blocks
 *     conv -> [BN] -> LeakyReLU(0.2) down and convT -> BN -> [dropout] -> ReLU
 *     up): A = lrelu, cat_k = [relu(u_{k+1}), lrelu(f_k)] (decoder first;
 *     the skips are the activated encoder outputs and the bottleneck is
 *     activated); dropout on the n_dropout innermost decoders (d, d-1, ...);
 *     conv bias only where no norm follows (levels 1 and d down, and the last
 *     convT).  At base 64, depth 8, 1 -> 1 channels: 54,408,385 parameters.
 *     The study resizes its 224x224 input to 256 (bilinear, align_corners
 *     false, no antialiasing) and the output back: io_size = 224, size = 256.
 *   UNET_ARCH_PIX2PIX (pix2pix's UnetGenerator, nested pre-activation blocks
 *     [LeakyReLU(0.2) -> Conv -> norm] down, [ReLU -> ConvTranspose -> norm
 *     (-> Dropout)] up, skip = cat(block input, block output)): A = relu,
 *     cat_k = relu([lrelu(f_k), u_{k+1}]) = [relu(f_k), relu(u_{k+1})]
 *     (skip first).  pix2pix's LeakyReLU is in place and runs on the block
 *     input before the concat reads it, so its skips carry lrelu(f_k), as
 *     here; the up block's ReLU then makes that relu(f_k) (the gradient
 *     reaches f_k through both).  Dropout on the n_dropout
 *     decoders just inside the innermost (d-1, d-2, ...); the innermost has
 *     none.  Conv bias only with instance norm (pix2pix's use_bias), except
 *     the last convT, which always has one.  unet_256 is depth 8.
 * Norm: UNET_NORM_BATCH, BatchNorm2d (affine; training mode: batch
 * statistics, running mean/var updated with momentum 0.1 and the unbiased
 * variance; eval mode: running statistics), or UNET_NORM_INSTANCE,
 * InstanceNorm2d without affine parameters or running statistics (as
 * pix2pix's 'instance'), which turns every conv bias on.
 *
 * ---- Discriminator (patchgan_t): pix2pix's NLayerDiscriminator, conditional:
 * its input is cat(a, b) -- the generator's input and a real or generated
 * output -- so in_ch = a_ch + b_ch.  Conv(in -> ndf, s2, bias) LReLU; for
 * n = 1..n_layers-1: Conv(-> ndf*min(2^n,8), s2) norm LReLU; Conv(->
 * ndf*min(2^n_layers,8), s1) norm LReLU; Conv(-> 1, s1, bias); kernel 4,
 * padding 1.  n_layers 3 is the 70x70 PatchGAN: 30x30 logits on 256, 26x26
 * on 224; at ndf 64 and 2 input channels 2,764,609 parameters.
 *
 * ---- Names and buffers.  Tensors: "enc{k}.conv.weight|bias",
 * "enc{k}.norm.weight|bias|running_mean|running_var", "dec{k}.conv.*",
 * "dec{k}.norm.*" (dec1 is the output layer); the discriminator's
 * "layer{i}.conv.*", "layer{i}.norm.*" (i = 0..n_layers+1).  Batch norm's
 * running statistics are buffers, not parameters: they live in the same
 * table (so a checkpoint carries them, as a PyTorch state_dict does), with
 * weight decay off; their gradient is always zero, so AdamW never moves
 * them.  unet_param_count / patchgan_param_count count the trainable
 * parameters only.
 *
 * ---- Modes.  m->train (1 after init): batch norm uses batch statistics and
 * updates the running ones (every training-mode forward, as PyTorch), and
 * dropout is on, with masks from nn/dropout.h keyed by (m->dropout_seed,
 * stream = decoder level): set a new seed every step.  m->train = 0: running
 * statistics, no dropout (unless m->eval_dropout: the pix2pix paper keeps
 * dropout at test time as its noise source).  m->frozen = 1: backward skips
 * the parameter gradients (pix2pix's set_requires_grad(D, False)) and
 * computes only the input gradient.
 */
#ifndef UNET_H
#define UNET_H
#include <stdint.h>
#include "dist.h"
#include "nn/conv.h"
#include "params.h"
#include "rng.h"
#include "util.h"

#define UNET_MAX_DEPTH 10
#define PATCHGAN_MAX_LAYERS 8

typedef enum { UNET_ARCH_STUDY = 0, UNET_ARCH_PIX2PIX = 1 } unet_arch_t;
typedef enum { UNET_NORM_BATCH = 0, UNET_NORM_INSTANCE = 1 } unet_norm_t;
/* UNET_INIT_TORCH: PyTorch's default initialisation (kaiming_uniform with
 * a = sqrt 5: weights and biases U(+-1/sqrt(fan_in)); fan_in of a
 * ConvTranspose2d weight (in,out,k,k) is out*k*k, as torch computes it; norm
 * weight 1, bias 0) -- the study's.  UNET_INIT_NORMAL: pix2pix's
 * init_weights('normal', 0.02): conv weights N(0, 0.02^2), biases 0, batch
 * norm weight N(1, 0.02^2), bias 0.  Running statistics start at 0 and 1. */
typedef enum { UNET_INIT_TORCH = 0, UNET_INIT_NORMAL = 1 } unet_init_t;

/* One conv (+ norm) layer of either network: geometry, parameter views and
 * its activations.  Public so tests can look inside; callers use the API. */
typedef struct {
    int transposed, has_bias, norm; /* norm: 0 none, 1 batch, 2 instance */
    int cin, cout, hin, hout;       /* square maps */
    conv2d_dims_t dims;             /* N set per call */
    float *w, *b, *dw, *db;         /* conv weight/bias and gradients (b, db NULL without bias) */
    float *nw, *nb, *dnw, *dnb;     /* batch norm affine (NULL otherwise) */
    float *rm, *rv;                 /* batch norm running mean/var */
    /* activations, (cap, cout, hout, hout) each */
    float *z;           /* conv output (pre-norm) */
    float *f;           /* norm output (== z without a norm); after the generator's forward its
                           encoder levels hold lrelu(f) here, its decoders u (post-dropout) */
    float *mean, *rstd; /* saved statistics: (cout) batch, (cap,cout) instance */
    unsigned char *mask;/* dropout mask (decoder levels with dropout) */
    int drop;           /* 1: dropout after the norm */
    /* data-parallel training (unet_set_dist): batch norm over the global batch */
    const dist_t *dist;
    double *dsum;       /* (2 cout) its sums; the network's, shared by its layers */
} unet_layer_t;

typedef struct {
    int arch;      /* unet_arch_t */
    int norm;      /* unet_norm_t */
    int init;      /* unet_init_t, for unet_init_weights */
    int in_ch, out_ch;
    int base;      /* c_1, pix2pix's ngf */
    int depth;     /* down-samplings, 2..UNET_MAX_DEPTH */
    int size;      /* the network's side: a multiple of 2^depth */
    int io_size;   /* side of the caller's images: 0 or size = no resizing */
    int n_dropout; /* decoder levels with dropout; -1: max(0, depth-5) (3 at depth 8) */
    float dropout; /* drop probability, 0.5 */
    float slope;   /* LeakyReLU slope, 0.2 */
    float bn_eps, bn_momentum; /* 1e-5, 0.1 */
} unet_config_t;

/* The study's generator: 1 -> 1 channels, depth 8, 256 inside, 224 outside,
 * batch norm, dropout 0.5 on 3 levels, default init. */
unet_config_t unet_study_config(int base);
/* pix2pix's unet_256: depth 8, size 256, batch norm, N(0,0.02) init. */
unet_config_t unet_pix2pix_config(int in_ch, int out_ch, int base);

typedef struct {
    unet_config_t cfg;
    params_t ps;   /* the tensors (PARAMS_TRAIN: data, grad, m, v) */
    nn_par_t par;  /* the caller's threads (borrowed); may change between calls */
    int cap;       /* largest batch */
    int train;     /* 1: training mode (batch statistics, dropout) */
    int frozen;    /* 1: backward computes no parameter gradients */
    int eval_dropout; /* 1: dropout in eval mode too (the pix2pix paper's test-time noise); 0 by default */
    uint64_t dropout_seed;
    /* data-parallel training (dist.h): this process's rows start at row
     * dropout_row0 of the global batch, so its dropout masks are the global
     * batch's (element index offset by dropout_row0 x the plane); 0 alone */
    int dropout_row0;
    int B;         /* batch of the last forward (0: none yet) */
    int last_train, last_drop;
    int io, S;     /* outside and inside sides */
    int nd;        /* depth */
    unet_layer_t enc[UNET_MAX_DEPTH]; /* enc[k-1] = level k */
    unet_layer_t dec[UNET_MAX_DEPTH]; /* dec[k-1] = level k; dec[0] is the output layer */
    float *x0;                        /* (cap,in,S,S) the (resized) input */
    float *a[UNET_MAX_DEPTH];         /* a[k-1] = lrelu(f_k), written over enc[k-1].f (and .z when the
                                         level has no norm): the backward needs only its sign */
    float *cat[UNET_MAX_DEPTH];       /* cat[k-1] = convT_k's input (dec[k-1]'s input) */
    float *out;                       /* (cap,out,S,S) tanh output */
    float *act;                       /* the activation block */
    size_t act_floats;
    float *g[4];                      /* gradient scratch, each gmax floats */
    float *dskip[UNET_MAX_DEPTH];     /* gradient w.r.t. level k's skip */
    float *gblock;
    size_t gmax, gblock_floats;
    unsigned char *masks;
    float *ws;                        /* conv scratch */
    size_t nws;
    int ws_threads;
    float *rtmp;                      /* resize scratch */
    void *rplan;                      /* resize plans (in: io->S, out: S->io) */
    double *dsum;                     /* data-parallel batch-norm sums (unet_set_dist) */
} unet_t;

/* Check cfg, declare and allocate the tensors (zeroed: call
 * unet_init_weights or load a checkpoint) and the buffers for batches up to
 * cap.  EXIT_USAGE for a bad config (the message says which value),
 * EXIT_INTERNAL when memory runs out.  par: borrowed, NULL = serial. */
int unet_init(unet_t *m, const unet_config_t *cfg, int cap, const nn_par_t *par, err_t *e);
void unet_free(unet_t *m);
/* Draw the initial weights from r in declaration order (cfg.init). */
void unet_init_weights(unet_t *m, rng_t *r);
/* Trainable parameters of a config (running statistics not counted), or 0
 * for a bad config. */
size_t unet_param_count(const unet_config_t *cfg);

/* x (B,in,io,io) -> out (B,out,io,io), values in (-1,1); B <= cap.
 * EXIT_USAGE for a bad B (or a training-mode norm left with one value per
 * statistic), EXIT_INTERNAL for a kernel refusal. */
int unet_forward(unet_t *m, const float *x, int B, float *out, err_t *e);
/* After unet_forward: dout (B,out,io,io) = d loss / d out.  Parameter
 * gradients are ADDED into m->ps.grad (unless m->frozen); dx (B,in,io,io),
 * when not NULL, is ADDED into too. */
int unet_backward(unet_t *m, const float *dout, float *dx, err_t *e);

/* ---------------------------------------------------------- PatchGAN */

typedef struct {
    int norm;      /* unet_norm_t */
    int init;      /* unet_init_t */
    int a_ch, b_ch;/* the condition's and the judged image's channels */
    int ndf;       /* 64 */
    int n_layers;  /* 3: the 70x70 PatchGAN */
    int size;      /* input side */
    float slope, bn_eps, bn_momentum;
} patchgan_config_t;

/* pix2pix's 'basic' D at ndf 64, batch norm, N(0,0.02) init; the study's
 * PatchDiscriminator is this with a_ch = b_ch = 1 and UNET_INIT_TORCH. */
patchgan_config_t patchgan_default_config(int a_ch, int b_ch, int size);

typedef struct {
    patchgan_config_t cfg;
    params_t ps;
    nn_par_t par;
    int cap, train, frozen, B, last_train;
    int nl;                                   /* layers: n_layers + 2 */
    unet_layer_t l[PATCHGAN_MAX_LAYERS + 2];
    float *x0;                                /* (cap, a+b, S, S) the concatenated input */
    float *a[PATCHGAN_MAX_LAYERS + 2];        /* lrelu(f) of every layer but the last */
    int oh;                                   /* output side */
    float *act, *gblock, *g[3], *ws;
    size_t act_floats, gmax, gblock_floats, nws;
    int ws_threads;
    double *dsum;                             /* data-parallel batch-norm sums (patchgan_set_dist) */
} patchgan_t;

/* Data-parallel training (dist.h; d->size > 1): this process's rows are
 * rows row0.. of the global batch; training batch norm uses the global
 * batch's statistics (dist_bn_forward/_backward) and the generator's dropout
 * masks are the global batch's, so with the losses scaled by 1/size the
 * sum-allreduce of ps.grad is the one-process gradient.  d NULL or of size 1:
 * one process (the default). */
void unet_set_dist(unet_t *m, const dist_t *d, int row0);
void patchgan_set_dist(patchgan_t *p, const dist_t *d);

int patchgan_init(patchgan_t *d, const patchgan_config_t *cfg, int cap, const nn_par_t *par, err_t *e);
void patchgan_free(patchgan_t *d);
void patchgan_init_weights(patchgan_t *d, rng_t *r);
size_t patchgan_param_count(const patchgan_config_t *cfg);
/* Output side of the logit map for cfg (0: bad config). */
int patchgan_out_size(const patchgan_config_t *cfg);
/* a (B,a_ch,S,S), b (B,b_ch,S,S) -> logits (B,1,oh,oh) (may be NULL: they
 * stay in the last layer's z). */
int patchgan_forward(patchgan_t *d, const float *a, const float *b, int B, float *logits, err_t *e);
/* dlogits (B,1,oh,oh).  Parameter gradients ADDED (unless frozen); da, db
 * (either may be NULL) ADDED into. */
int patchgan_backward(patchgan_t *d, const float *dlogits, float *da, float *db, err_t *e);
#endif
