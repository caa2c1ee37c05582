/* act.h - element-wise activations, forward and backward: QuickGELU,
 * GELU (exact erf form and the tanh approximation), ReLU, LeakyReLU(slope),
 * tanh, sigmoid.
 *
 * An activation is named by an nn_act_t value (kind + LeakyReLU's slope), so
 * that other kernels can fuse one into their epilogue (linear.h does) with
 * the same maths as act_forward/act_backward here.  The definitions, with
 * PyTorch's conventions at the kinks:
 *   QuickGELU   x * sigmoid(1.702 x)                 (OpenAI CLIP)
 *   GELU        x/2 * (1 + erf(x / sqrt 2))
 *   GELU_TANH   x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 *   ReLU        max(x, 0); derivative 0 at x = 0
 *   LeakyReLU   x > 0 ? x : slope x; derivative slope at x = 0
 *   tanh, sigmoid
 *   NONE        the identity
 * The fast versions split the array into blocks over the caller's threads
 * and compute QuickGELU and sigmoid with a polynomial exp that vectorises
 * (relative error ~2e-7 against libm); the GELUs and tanh call libm.  The
 * _ref versions are plain loops over libm.
 *
 * Deliberately not here: activations with learned parameters (PReLU),
 * softmax (a row operation: attention.h has the one attention needs),
 * in-place backward (dinp is accumulated into, so it cannot alias dout).
 */
#ifndef NN_ACT_H
#define NN_ACT_H
#include <stddef.h>
#include "nn.h"

typedef enum {
    NN_ACT_NONE = 0,
    NN_ACT_QUICKGELU,
    NN_ACT_GELU,
    NN_ACT_GELU_TANH,
    NN_ACT_RELU,
    NN_ACT_LEAKY_RELU,
    NN_ACT_TANH,
    NN_ACT_SIGMOID,
} nn_act_kind_t;

typedef struct {
    nn_act_kind_t kind;
    float slope; /* LeakyReLU's negative slope (PyTorch's default is 0.01); ignored by the others */
} nn_act_t;

/* out (n) = act(inp (n)); out may equal inp. */
void act_forward(const nn_par_t *par,
                 float *out,       /* (n) */
                 const float *inp, /* (n) */
                 nn_act_t act, size_t n);
/* dinp (n) += dout (n) * act'(inp (n)) -- ADDED into; inp is the forward's
 * input (the pre-activation). */
void act_backward(const nn_par_t *par,
                  float *dinp,       /* (n) */
                  const float *dout, /* (n) */
                  const float *inp,  /* (n) */
                  nn_act_t act, size_t n);

/* References: the same arguments, single-threaded (par is ignored). */
void act_forward_ref(const nn_par_t *par, float *out, const float *inp, nn_act_t act, size_t n);
void act_backward_ref(const nn_par_t *par, float *dinp, const float *dout, const float *inp, nn_act_t act, size_t n);

/* The activation's name as used in messages and fixtures ("quickgelu",
 * "gelu", "gelu_tanh", "relu", "leaky_relu", "tanh", "sigmoid", "none"). */
const char *act_name(nn_act_kind_t kind);
#endif
