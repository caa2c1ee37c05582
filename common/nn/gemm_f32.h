/* gemm_f32.h - float32 matrix products for frozen weights, packed once
 * (the image tower inside optimize on CPUs whose widest vectors are AVX2):
 *
 *   C (M,N) = A (M,K) B (K,N)   (or C += A B), then an epilogue
 *
 * Why not cblas_sgemm: OpenBLAS packs both operands on every call (about
 * 10% of a ViT-B/32 optimize step on an AVX2 CPU went to its copy
 * routines), and runs an element-wise epilogue (bias, residual, QuickGELU
 * and its derivative) as a second pass over the output.  Here B (the
 * weight) is packed once into panels of NN_F32_NR = 16 columns, each (K, 16)
 * contiguous; A is read where it lies (any row stride, no copy); each 6 x 16
 * tile of C is summed in 12 ymm registers by FMA over k = 0, 1, ..., K-1 in
 * that order and finished by the epilogue while it is in L1.
 *
 * The order of the sums is fixed by k alone: an element of C gets the same
 * bits whatever M, the panels a thread takes, or the thread count - so a
 * product's rows do not depend on the batch it is computed in (unlike
 * cblas_sgemm, whose sums change with the call's shape; linear.c).
 *
 * nn_f32_available(): 1 when this CPU runs the AVX2+FMA kernel (and this
 * build has it: GCC on x86-64).  Elsewhere nn_f32_gemm_panels runs a plain C
 * loop with the same order of sums per element but separate multiplies and
 * adds (so other bits), only slowly; callers check nn_f32_available first.
 * Like every kernel in nn/: no allocation, no globals.
 */
#ifndef NN_GEMM_F32_H
#define NN_GEMM_F32_H
#include "act.h"
#include "nn.h"
#include <stddef.h>

#define NN_F32_NR 16

/* 1 when the AVX2+FMA kernel runs here. */
int nn_f32_available(void);

/* Floats of a packed (K,N) operand. */
size_t nn_f32_packed_size(int K, int N);
/* Pack B (K,N) into dst (nn_f32_packed_size(K,N) floats; the last panel's
 * columns past N are zero):
 *   nk == 0: src is (K,N) row-major, B[k][n] = src[k*N + n];
 *   nk != 0: src is (N,K) row-major, B[k][n] = src[n*K + k]
 *            (a PyTorch Linear's weight (out, in) as B = W^T). */
void nn_f32_pack(float *dst, const float *src, int K, int N, int nk);

/* What is done with each finished 6 x 16 tile of C (every field optional;
 * NULL or zeroed: C += A B).  res, pre, dmul and act_out are (M, ldc) like
 * C; bias is (N).  Order: sum, + bias, + res, * dmul; then C *= act'(pre);
 * then act_out = act(C) - or, with dact, act_out = act(C) and C := act'(C)
 * (the derivative a frozen-weight backward multiplies by, kept instead of
 * the pre-activation; needs act_out and act not none, no pre). */
typedef struct {
    int overwrite;     /* C = A B (+ ...) instead of C += A B */
    const float *bias; /* added to every row */
    const float *res;  /* added; may be C itself only with overwrite */
    const float *dmul; /* C *= dmul */
    const float *pre;  /* C *= act'(pre) (a backward through act) */
    nn_act_t act;      /* for pre and act_out */
    float *act_out;    /* act_out = act(C) */
    int dact;          /* with act_out: C := act'(C) once act_out is written */
} nn_f32_epi_t;

/* C[:, 16*p0 .. min(16*p1, N)) = A B over those columns, combined with C as
 * e says: A (M,K) with row stride lda, Bp from nn_f32_pack(K, N), C (M, ldc).
 * K = 0 is an empty sum (zeros), the epilogue applied as usual. */
void nn_f32_gemm_panels(float *C, int ldc, const float *A, int lda, int M, int K, const float *Bp, int N, int p0,
                        int p1, const nn_f32_epi_t *e);
/* The same through the plain loop (tests call it directly). */
void nn_f32_gemm_panels_plain(float *C, int ldc, const float *A, int lda, int M, int K, const float *Bp, int N,
                              int p0, int p1, const nn_f32_epi_t *e);
#endif
