/* unet_train.h - what unet-train's training and --apply share with tests
 * and fuzzers: the model configuration as checkpoint metadata (written and
 * parsed back), loading a generator from a model or a training checkpoint,
 * the checkpoint's one table over the generator and the discriminator, and
 * the "LO..HI" width-range option.  docs/unet.md, "unet-train".
 *
 * Files.  model.safetensors: the generator's tensors under their own names
 * (unet.h), weights only.  checkpoint.safetensors: "gen.<name>" and
 * "disc.<name>" (no "disc." with --no-gan) with their Adam moments
 * (checkpoint.h).  Both carry the config as metadata:
 *   unet.arch study|pix2pix   unet.norm batch|instance   unet.base   unet.depth
 *   unet.size (the images' side)   unet.n_dropout   unet.dropout   unet.gan 0|1
 *   patchgan.ndf   patchgan.n_layers   unet.file model|checkpoint
 * Errors are EXIT_MODEL naming the file and the key or tensor.  Nothing here
 * prints or exits.
 */
#ifndef UNET_TRAIN_H
#define UNET_TRAIN_H
#include "checkpoint.h"
#include "unet.h"
#include "util.h"

#define UNET_META_LEN 320
#define UNET_META_KEYS 10 /* keys unet_model_meta writes (unet.file not counted) */

typedef struct {
    unet_config_t g;
    patchgan_config_t d;
    int gan; /* 1: the discriminator is trained (and in the checkpoint) */
} unet_model_cfg_t;

extern const char *const unet_arch_names[2]; /* "study", "pix2pix" */
extern const char *const unet_norm_names[2]; /* "batch", "instance" */

/* The preset of arch (unet_study_config / unet_pix2pix_config, 1 -> 1
 * channels) with the given base, depth and norm; the network's side is size
 * rounded up to a multiple of 2^depth, and when that differs the images
 * are resized in and out (io_size = size: the study's 224 <-> 256).  The
 * PatchGAN judges size x size pairs (ndf, n_layers; the study's init with
 * arch study).  Not checked here: unet_init / patchgan_init check. */
unet_model_cfg_t unet_model_config(int arch, int norm, int base, int depth, int size, int ndf, int n_layers,
                                   int gan);
/* The images' side of a config. */
int unet_model_size(const unet_model_cfg_t *m);
/* Append the config's UNET_META_KEYS key/value pairs to kv[n..] (strings
 * in buf[n..]); returns the new count. */
int unet_model_meta(const unet_model_cfg_t *m, char buf[][2][UNET_META_LEN], ckpt_kv_t *kv, int n);
/* Parse the config back from c's metadata (name for messages).  EXIT_MODEL
 * naming a missing or malformed key. */
int unet_model_config_from(const ckpt_t *c, const char *name, unet_model_cfg_t *m, err_t *e);
/* Build the generator of c's config (cap images, par borrowed) and read its
 * weights, from a model file or (unet.file = checkpoint) a training
 * checkpoint; G is left in eval mode.  max_params > 0 refuses configs with
 * more trainable parameters (a fuzzer's bound).  On error G is freed. */
int unet_model_read(ckpt_t *c, const char *name, unet_t *G, int cap, const nn_par_t *par, unet_model_cfg_t *m,
                    size_t max_params, err_t *e);

/* The checkpoint's table: declare "gen.<name>" for every tensor of g and
 * "disc.<name>" for every tensor of d (d may be NULL) in all (initialised,
 * not yet allocated). */
void unet_ckpt_declare(params_t *all, const params_t *g, const params_t *d);
/* Copy data, m and v (where both sides have them) between a model's table
 * and all's tensors under prefix pfx: to_all = 1 model -> all, 0 back. */
void unet_ckpt_copy(params_t *all, params_t *ps, const char *pfx, int to_all);

/* "W" or "LO..HI" (0 < LO <= HI <= 1e4) -> *lo, *hi: 0, or -1 (malformed;
 * *lo and *hi untouched). */
int unet_width_range(const char *s, double *lo, double *hi);
#endif
