/* act.c - see act.h.  The fast versions split the array into blocks of
 * ACT_BLOCK elements over the caller's threads; each block is one straight
 * loop per activation kind (NN_ACT_CASES), compiled for AVX-512 and for the
 * baseline ISA (NN_KERNEL). */
#include "act.h"
#include <math.h>
#include "act_inl.h"

#define ACT_BLOCK 4096 /* elements per task: 16 KB, small enough to balance, large enough to amortise */

typedef struct {
    float *out;
    const float *inp, *dout;
    nn_act_t act;
    size_t n;
} act_job_t;

NN_BODY act_fwd_blocks_body(void *vj, int b0, int b1, int tid) {
    act_job_t *j = vj;
    size_t i0 = (size_t)b0 * ACT_BLOCK, i1 = (size_t)b1 * ACT_BLOCK < j->n ? (size_t)b1 * ACT_BLOCK : j->n;
    float *y = j->out; /* not restrict: may equal inp (element i is read before it is written) */
    const float *x = j->inp;
    float slope = j->act.slope;
    NN_ACT_CASES(j->act.kind, for (size_t i = i0; i < i1; i++) y[i] = nn_act_eval(K_, slope, x[i]))
}
NN_KERNEL(act_fwd_blocks)

NN_BODY act_bwd_blocks_body(void *vj, int b0, int b1, int tid) {
    act_job_t *j = vj;
    size_t i0 = (size_t)b0 * ACT_BLOCK, i1 = (size_t)b1 * ACT_BLOCK < j->n ? (size_t)b1 * ACT_BLOCK : j->n;
    float *restrict d = j->out;
    const float *restrict x = j->inp, *restrict dy = j->dout;
    float slope = j->act.slope;
    NN_ACT_CASES(j->act.kind, for (size_t i = i0; i < i1; i++) d[i] += dy[i] * nn_act_deriv(K_, slope, x[i]))
}
NN_KERNEL(act_bwd_blocks)

void act_forward(const nn_par_t *par, float *out, const float *inp, nn_act_t act, size_t n) {
    act_job_t j = {.out = out, .inp = inp, .act = act, .n = n};
    nn_parallel_for(par, (int)((n + ACT_BLOCK - 1) / ACT_BLOCK), NN_PICK(act_fwd_blocks), &j);
}

void act_backward(const nn_par_t *par, float *dinp, const float *dout, const float *inp, nn_act_t act, size_t n) {
    act_job_t j = {.out = dinp, .inp = inp, .dout = dout, .act = act, .n = n};
    nn_parallel_for(par, (int)((n + ACT_BLOCK - 1) / ACT_BLOCK), NN_PICK(act_bwd_blocks), &j);
}

/* ------------------------------------------------------------ references */

static float ref_f(nn_act_t a, float x) {
    switch (a.kind) {
    case NN_ACT_QUICKGELU: return x / (1.0f + expf(-1.702f * x));
    case NN_ACT_GELU: return 0.5f * x * (1.0f + erff(x / sqrtf(2.0f)));
    case NN_ACT_GELU_TANH: return 0.5f * x * (1.0f + tanhf(sqrtf(2.0f / (float)M_PI) * (x + 0.044715f * x * x * x)));
    case NN_ACT_RELU: return x > 0 ? x : 0;
    case NN_ACT_LEAKY_RELU: return x > 0 ? x : a.slope * x;
    case NN_ACT_TANH: return tanhf(x);
    case NN_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case NN_ACT_NONE: break;
    }
    return x;
}

static float ref_df(nn_act_t a, float x) {
    switch (a.kind) {
    case NN_ACT_QUICKGELU: {
        /* d/dx x s(kx) = s + k x s (1 - s) */
        float s = 1.0f / (1.0f + expf(-1.702f * x));
        return s + 1.702f * x * s * (1 - s);
    }
    case NN_ACT_GELU: {
        /* Phi(x) + x phi(x) */
        float cdf = 0.5f * (1.0f + erff(x / sqrtf(2.0f)));
        float pdf = expf(-0.5f * x * x) / sqrtf(2.0f * (float)M_PI);
        return cdf + x * pdf;
    }
    case NN_ACT_GELU_TANH: {
        float c = sqrtf(2.0f / (float)M_PI);
        float t = tanhf(c * (x + 0.044715f * x * x * x));
        return 0.5f * (1 + t) + 0.5f * x * (1 - t * t) * c * (1 + 3 * 0.044715f * x * x);
    }
    case NN_ACT_RELU: return x > 0 ? 1 : 0;
    case NN_ACT_LEAKY_RELU: return x > 0 ? 1 : a.slope;
    case NN_ACT_TANH: return 1 - tanhf(x) * tanhf(x);
    case NN_ACT_SIGMOID: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1 - s);
    }
    case NN_ACT_NONE: break;
    }
    return 1;
}

void act_forward_ref(const nn_par_t *par, float *out, const float *inp, nn_act_t act, size_t n) {
    (void)par;
    for (size_t i = 0; i < n; i++) out[i] = ref_f(act, inp[i]);
}

void act_backward_ref(const nn_par_t *par, float *dinp, const float *dout, const float *inp, nn_act_t act, size_t n) {
    (void)par;
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * ref_df(act, inp[i]);
}

const char *act_name(nn_act_kind_t kind) {
    switch (kind) {
    case NN_ACT_NONE: return "none";
    case NN_ACT_QUICKGELU: return "quickgelu";
    case NN_ACT_GELU: return "gelu";
    case NN_ACT_GELU_TANH: return "gelu_tanh";
    case NN_ACT_RELU: return "relu";
    case NN_ACT_LEAKY_RELU: return "leaky_relu";
    case NN_ACT_TANH: return "tanh";
    case NN_ACT_SIGMOID: return "sigmoid";
    }
    return "?";
}
