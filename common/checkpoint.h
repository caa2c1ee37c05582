/* checkpoint.h - training checkpoints: a parameter set, its AdamW state, the
 * step, the RNG states and the run's configuration, in one safetensors file.
 *
 * Layout (any safetensors reader can open it; tensorfile.c reads it back):
 *   <name>            F32, the tensor's shape     every tensor of the params_t
 *   optim.m.<name>    F32, the same shape         AdamW first moment
 *   optim.v.<name>    F32, the same shape         AdamW second moment
 *   __metadata__      strings only:
 *     "format": "pt", "producer": "invclip"      (what the safetensors tools expect)
 *     "invclip.checkpoint": "1"                  layout version
 *     "step": decimal                            updates done so far
 *     "rng.<name>": 64 hex digits                xoshiro256** state s[0..3], 16 digits each
 *     any other key -> value the trainer passes (schedule spec, model config, ...)
 * Integers live in the metadata rather than in I64/U8 tensors because the
 * metadata is exact text that every reader shows and that needs no dtype
 * support (tensorfile reads only float tensors), and because the safetensors
 * convention is that tensors are the model.  Tensor data are written in
 * layout order, params then m then v, back to back (the safetensors library
 * insists on no gaps) after a header padded to 8 bytes, little-endian (as the
 * host is; a big-endian host is refused).  Loading accepts F16/BF16/F64
 * tensors too (converted), so a weights file from elsewhere can seed a run.  "optim.*" tensors are left out when saving with CKPT_WEIGHTS
 * (a model to ship).
 *
 * Files are written through afile_t (temp file + rename): a crash while
 * saving leaves the previous checkpoint intact.  Loading checks every name,
 * dtype and shape against the params_t and names the first missing,
 * mis-shaped or unexpected tensor in the error (EXIT_MODEL), checks that no
 * value is NaN/Inf (and no v negative), and that every step and RNG field is
 * well-formed.  A load either fills everything asked for or, on error, may
 * have overwritten some of the blocks (the caller stops anyway).
 *
 * The resume guarantee: save(step k, params, m, v, rngs) then load gives back
 * the same bits, and since AdamW and the schedule depend only on those and on
 * the step (lr_at(sched, k)), the next update after a resume is bit-identical
 * to the one a run that never stopped would make.
 */
#ifndef CHECKPOINT_H
#define CHECKPOINT_H
#include <stdint.h>
#include "params.h"
#include "rng.h"
#include "tensorfile.h"
#include "util.h"

#define CKPT_VERSION "1"
#define CKPT_MAX_RNG 16

/* Flags for ckpt_save / ckpt_read. */
enum {
    CKPT_OPTIM = 0,   /* save: params and optim.m/v; read: both required */
    CKPT_WEIGHTS = 1, /* save: params only; read: params only (optim.* in the file ignored) */
    CKPT_F16 = 2,     /* save: params only, stored as F16 (round to nearest even; a model to ship).
                         Reading needs no flag: F16 tensors are converted (use CKPT_WEIGHTS) */
};

typedef struct {
    const char *name; /* "data", "dropout", ...: [A-Za-z0-9_.-], 1..63 bytes */
    rng_t *rng;       /* save: written; load: filled */
} ckpt_rng_t;

typedef struct {
    const char *key, *value;
} ckpt_kv_t;

/* What a trainer saves beside its parameters. */
typedef struct {
    int64_t step;          /* save: written; load: filled */
    ckpt_rng_t *rng;       /* (nrng) */
    int nrng;
    const ckpt_kv_t *meta; /* (nmeta) save only; read back with ckpt_meta */
    int nmeta;
} ckpt_state_t;

/* Write path atomically.  EXIT_IO on a write error, EXIT_INTERNAL on a bad
 * state (reserved or repeated metadata key, bad RNG name, CKPT_OPTIM on a
 * data-only set, no blocks). */
int ckpt_save(const char *path, const params_t *ps, const ckpt_state_t *st, int flags, err_t *e);

/* An open checkpoint: a tensorfile whose metadata has been checked. */
typedef struct ckpt ckpt_t;
ckpt_t *ckpt_open(const char *path, err_t *e);
ckpt_t *ckpt_open_mem(const void *data, size_t size, const char *name, err_t *e); /* data outlives it */
void ckpt_close(ckpt_t *c);

/* Metadata value for key (the trainer's own keys and the reserved ones), or NULL. */
const char *ckpt_meta(const ckpt_t *c, const char *key);
int64_t ckpt_step(const ckpt_t *c); /* 0 if the file has no "step" */
/* Fill *r from "rng.<name>"; EXIT_MODEL if absent. */
int ckpt_rng(const ckpt_t *c, const char *name, rng_t *r, err_t *e);
/* Read the tensors into ps (allocated; PARAMS_TRAIN layout for CKPT_OPTIM). */
int ckpt_read(ckpt_t *c, params_t *ps, int flags, err_t *e);

/* ckpt_open + ckpt_read + step + every st->rng[i]; st->meta is not used. */
int ckpt_load(const char *path, params_t *ps, ckpt_state_t *st, int flags, err_t *e);
#endif
