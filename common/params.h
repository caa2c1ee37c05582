/* params.h - a model's trainable tensors as a table of names over flat blocks.
 *
 * The shared half of every trainer (CLIP, U-Net + PatchGAN, the CNN
 * classifier), after llm.c: a model declares its tensors once, by name and
 * shape (up to 4-D; 0-D is a scalar), params_alloc lays them out one after
 * another in a flat float block and allocates four blocks of that layout at
 * once -- data, grad, and AdamW's m and v -- and the model then keeps named
 * pointers into them (params_view).  Zeroing, clipping, the AdamW step, the
 * NaN scan, an MPI allreduce and the checkpoint are each one loop over a
 * block.
 *
 * Layout: tensor i starts at t[i].offset floats from the start of every
 * block, in declaration order, each offset rounded up to `align` floats (16 =
 * 64 bytes by default, a cache line; set align = 1 before the first add for a
 * packed layout such as clip_params').  The gaps are zero in every block and
 * stay zero: AdamW moves a zero weight with a zero gradient nowhere.
 *
 * Weight decay is a per-tensor flag.  By default (PARAM_DECAY_AUTO) a tensor
 * decays when it has two or more dimensions and its name does not contain
 * "embed" -- matrices and convolution kernels decay; biases, norm scales,
 * scalars and embeddings do not.  PARAM_DECAY_ON/OFF at declaration, or
 * params_set_decay(ps, "glob", on) at any time, say otherwise.
 *
 * Names: 1..PARAMS_NAME_MAX-1 printable ASCII bytes, no space, quote or
 * backslash, unique, not starting with "optim." or "__" (the checkpoint uses
 * those).  Declaration errors are sticky: the first one is kept in ps->err,
 * later adds do nothing, and params_alloc returns it -- so a model can
 * declare a whole table and check once.
 *
 * Not here: the forward/backward code (the model's), the optimiser maths
 * (nn/adamw.c), files (checkpoint.c).
 */
#ifndef PARAMS_H
#define PARAMS_H
#include <stddef.h>
#include "nn/adamw.h"
#include "util.h"

#define PARAMS_MAX_DIMS 4
#define PARAMS_NAME_MAX 128
#define PARAMS_ALIGN 16 /* default offset alignment, floats */

enum { PARAM_DECAY_AUTO = 0, PARAM_DECAY_ON = 1, PARAM_DECAY_OFF = 2 };

typedef struct {
    char name[PARAMS_NAME_MAX];
    int ndim;                    /* 0..4; 0 = scalar */
    int shape[PARAMS_MAX_DIMS];  /* unused dims are 1 */
    size_t numel;                /* product of shape (1 for a scalar) */
    size_t offset;               /* floats from the start of each block */
    int decay;                   /* 1: AdamW weight decay applies */
} param_t;

/* A static table row for params_add_table. */
typedef struct {
    const char *name;
    int ndim;
    int shape[PARAMS_MAX_DIMS];
    int decay; /* PARAM_DECAY_* (0 = auto) */
} param_decl_t;

typedef struct {
    param_t *t; /* (n) in declaration (= layout) order */
    int n, cap;
    size_t align; /* floats; set before the first add */
    size_t size;  /* floats per block, gaps included */
    size_t numel; /* floats that belong to tensors */
    /* the blocks, each (size) floats, 64-byte aligned; NULL before alloc */
    float *data, *grad, *m, *v;
    adamw_span_t *spans; /* (n) scratch for params_step */
    err_t err;           /* first declaration error (code 0: none) */
} params_t;

/* Flags for params_alloc. */
enum {
    PARAMS_TRAIN = 0,     /* data, grad, m, v */
    PARAMS_DATA_ONLY = 1, /* data only (inference): grad, m, v stay NULL */
};

/* A tensor's pointers into each block (NULL where a block is absent, all
 * NULL for an unknown name). */
typedef struct {
    const param_t *t;
    float *data, *grad, *m, *v;
} param_view_t;

void params_init(params_t *ps);
void params_free(params_t *ps);

/* Declare one tensor (before params_alloc).  shape: ndim values > 0.
 * 0, or EXIT_INTERNAL (bad or duplicate name, a declaration after alloc) or
 * EXIT_USAGE (a size <= 0 or too large: sizes usually come from options);
 * the error is also kept in ps->err. */
int params_add(params_t *ps, const char *name, int ndim, const int *shape, int decay, err_t *e);
/* PARAMS_ADD(ps, "enc.0.conv.weight", 64, 3, 3, 3): ndim from the count (1..4),
 * automatic decay flag, error kept in ps->err.  A scalar needs params_add(ps,
 * name, 0, NULL, decay, e). */
#define PARAMS_NARG_(a, b, c, d, n, ...) n
#define PARAMS_ADD(ps, name, ...)                                                                             \
    params_add((ps), (name), PARAMS_NARG_(__VA_ARGS__, 4, 3, 2, 1, 0), (const int[]){__VA_ARGS__},            \
               PARAM_DECAY_AUTO, NULL)
int params_add_table(params_t *ps, const param_decl_t *d, int n, err_t *e);

/* Lay out and allocate the blocks, zeroed.  Returns the first declaration
 * error, EXIT_USAGE for an empty table, EXIT_INTERNAL if memory runs out. */
int params_alloc(params_t *ps, int flags, err_t *e);

int params_find(const params_t *ps, const char *name); /* index, or -1 */
param_view_t params_at(params_t *ps, int i);
param_view_t params_view(params_t *ps, const char *name);

/* Set the decay flag of every tensor whose name matches the fnmatch(3) glob;
 * returns how many matched. */
int params_set_decay(params_t *ps, const char *glob, int on);

/* The block operations over the whole model (thin wrappers of nn/adamw.h). */
void params_zero_grad(params_t *ps, const nn_par_t *par);
double params_clip_grad(params_t *ps, double max_norm, const nn_par_t *par); /* pre-clip norm */
/* AdamW step number t >= 1 with each tensor's decay flag.  EXIT_INTERNAL on
 * bad hyper-parameters or a data-only set. */
int params_step(params_t *ps, const adamw_hparams_t *hp, long long t, const nn_par_t *par, err_t *e);
/* Scan a block of this layout (ps->data, ps->grad, ...) for NaN/Inf; on a
 * hit, EXIT_NUMERIC naming `what`, the tensor and the element ("gradient:
 * enc.0.conv.weight[12] is NaN"). */
int params_check_finite(const params_t *ps, const float *block, const char *what, const nn_par_t *par, err_t *e);
#endif
