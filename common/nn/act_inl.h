/* act_inl.h - internal to common/nn/: the activations of act.h as inline
 * per-element functions, so that a kernel can fuse one into its epilogue
 * (linear.c) with exactly the arithmetic act.c uses.
 *
 * nn_act_eval(k, slope, x) is act(x) and nn_act_deriv(k, slope, x) is
 * act'(x); both switch on k, so call them with a compile-time constant kind
 * inside a loop: NN_ACT_CASES(kind, stmt) expands to a switch with one copy
 * of stmt per kind, in which the constant K_ names the kind -- after
 * inlining each copy is a straight loop the compiler can vectorise.
 * Deliberately no loops and no state here.
 */
#ifndef NN_ACT_INL_H
#define NN_ACT_INL_H
#include <math.h>
#include "act.h"
#include "simd.h"

#define NN_SQRT_2_OVER_PI 0.7978845608028654f
#define NN_INV_SQRT_2PI 0.3989422804014327f
#define NN_INV_SQRT_2 0.7071067811865476f

/* QuickGELU's gate sigmoid(1.702 x) */
NN_INLINE float nn_qg_gate(float x) { return 1.0f / (1.0f + nn_exp_poly(-1.702f * x)); }

NN_INLINE float nn_act_eval(nn_act_kind_t k, float slope, float x) {
    switch (k) {
    case NN_ACT_QUICKGELU: return x * nn_qg_gate(x);
    case NN_ACT_GELU: return 0.5f * x * (1.0f + erff(x * NN_INV_SQRT_2));
    case NN_ACT_GELU_TANH: return 0.5f * x * (1.0f + tanhf(NN_SQRT_2_OVER_PI * (x + 0.044715f * x * x * x)));
    case NN_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case NN_ACT_LEAKY_RELU: return x > 0.0f ? x : slope * x;
    case NN_ACT_TANH: return tanhf(x);
    case NN_ACT_SIGMOID: return nn_sigmoid(x);
    case NN_ACT_NONE: break;
    }
    return x;
}

NN_INLINE float nn_act_deriv(nn_act_kind_t k, float slope, float x) {
    switch (k) {
    case NN_ACT_QUICKGELU: {
        float s = nn_qg_gate(x);
        return s + 1.702f * x * s * (1.0f - s);
    }
    case NN_ACT_GELU:
        return 0.5f * (1.0f + erff(x * NN_INV_SQRT_2)) + x * NN_INV_SQRT_2PI * nn_exp_poly(-0.5f * x * x);
    case NN_ACT_GELU_TANH: {
        float u = NN_SQRT_2_OVER_PI * (x + 0.044715f * x * x * x);
        float t = tanhf(u);
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * NN_SQRT_2_OVER_PI * (1.0f + 3.0f * 0.044715f * x * x);
    }
    case NN_ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case NN_ACT_LEAKY_RELU: return x > 0.0f ? 1.0f : slope;
    case NN_ACT_TANH: {
        float t = tanhf(x);
        return 1.0f - t * t;
    }
    case NN_ACT_SIGMOID: {
        float s = nn_sigmoid(x);
        return s * (1.0f - s);
    }
    case NN_ACT_NONE: break;
    }
    return 1.0f;
}

#define NN_ACT_CASE_(k, STMT)      \
    case k: {                      \
        const nn_act_kind_t K_ = k; \
        STMT;                      \
    } break;
#define NN_ACT_CASES(kind, STMT)                  \
    switch (kind) {                               \
        NN_ACT_CASE_(NN_ACT_NONE, STMT)           \
        NN_ACT_CASE_(NN_ACT_QUICKGELU, STMT)      \
        NN_ACT_CASE_(NN_ACT_GELU, STMT)           \
        NN_ACT_CASE_(NN_ACT_GELU_TANH, STMT)      \
        NN_ACT_CASE_(NN_ACT_RELU, STMT)           \
        NN_ACT_CASE_(NN_ACT_LEAKY_RELU, STMT)     \
        NN_ACT_CASE_(NN_ACT_TANH, STMT)           \
        NN_ACT_CASE_(NN_ACT_SIGMOID, STMT)        \
    }
/* The activation part of a matrix-product kernel's epilogue (gemm_f32.c,
 * gemm_bf16.c), on rows [0,rows) x columns [0,nc) of a tile whose pointers
 * are at its first element: C (row stride ldc) *= act'(pre) (stride ldp)
 * when pre is given; then, when act_out (stride lda) is given, act_out =
 * act(C), and with dact also C := act'(C) from the same read (the
 * multiplier a frozen-weight backward keeps instead of the pre-activation;
 * the compiler shares QuickGELU's gate between the two).  Plain loops the
 * compiler vectorises in the caller's ISA. */
NN_INLINE void nn_epi_act(nn_act_t act, float *C, int ldc, const float *pre, int ldp, float *act_out, int lda,
                          int dact, int rows, int nc) {
    float slope = act.slope;
    for (int i = 0; i < rows; i++) {
        float *restrict d = C + (size_t)i * ldc;
        if (pre) {
            const float *restrict x = pre + (size_t)i * ldp;
            NN_ACT_CASES(act.kind, for (int c = 0; c < nc; c++) d[c] *= nn_act_deriv(K_, slope, x[c]))
        }
        if (!act_out) continue;
        float *restrict g = act_out + (size_t)i * lda;
        if (dact)
            NN_ACT_CASES(act.kind, for (int c = 0; c < nc; c++) {
                float x = d[c];
                g[c] = nn_act_eval(K_, slope, x);
                d[c] = nn_act_deriv(K_, slope, x);
            })
        else
            NN_ACT_CASES(act.kind, for (int c = 0; c < nc; c++) g[c] = nn_act_eval(K_, slope, d[c]))
    }
}

#endif
