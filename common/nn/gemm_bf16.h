/* gemm_bf16.h - matrix products with bfloat16 operands and float
 * accumulation, for frozen weights (the image tower inside optimize).
 *
 *   C (M,N) += A (M,K) B (K,N)
 *
 * A and B are rounded to bfloat16 (round to nearest even: the 8 high bits of
 * a float's mantissa kept), the products summed in float by AVX512_BF16's
 * VDPBF16PS (two products a lane per instruction, twice the float FMA's
 * work; like every AVX512_BF16 instruction it treats denormal inputs as zero).
 * Relative error of one product about 2^-8 of each operand, so a dot
 * product of K terms carries about 2^-8 of its terms' magnitude: the price
 * of twice the arithmetic per cycle.  Nothing here is used unless a caller
 * asks for it (clip.h's bf16 flag, optimize --precision bf16).
 *
 * B is packed once (nn_bf16_pack) into panels of NN_BF16_NR = 64 columns,
 * each (ceil(K/2), 64, 2): the two bf16 of rows 2k and 2k+1 of a column
 * side by side, which is the pair layout VDPBF16PS multiplies.  A is rounded
 * per call (nn_bf16_rows) into (M, Kp) rows, Kp = K rounded up to even,
 * zero-padded.  nn_bf16_gemm_panels runs panels [p0, p1) on the calling
 * thread (callers split panels over their threads, as linear.c's bf16 path
 * does); the micro-kernel keeps a 6 x 64 block of C in 24 zmm registers.
 *
 * Needs a CPU with AVX512_BF16 (nn_bf16_available); on other CPUs, or when
 * built without GCC on x86-64, the functions still run correctly through a
 * plain C loop (same rounding of the operands, float sums in a different
 * order), only slowly - callers check nn_bf16_available and refuse bf16
 * there.  Like every kernel in nn/: no allocation, no globals.
 */
#ifndef NN_GEMM_BF16_H
#define NN_GEMM_BF16_H
#include "act.h"
#include "nn.h"
#include <stddef.h>
#include <stdint.h>

#define NN_BF16_NR 64

/* 1 when this CPU runs VDPBF16PS (and this build has the kernel). */
int nn_bf16_available(void);

/* float -> bfloat16, round to nearest even (NaN stays a quiet NaN). */
uint16_t nn_f2bf(float f);
float nn_bf2f(uint16_t h);

/* Elements (uint16) of a packed (K,N) operand. */
size_t nn_bf16_packed_size(int K, int N);
/* Pack B (K,N) into dst (nn_bf16_packed_size(K,N) elements):
 *   nk == 0: src is (K,N) row-major, B[k][n] = src[k*N + n];
 *   nk != 0: src is (N,K) row-major, B[k][n] = src[n*K + k]
 *            (a PyTorch Linear's weight (out, in) as B = W^T). */
void nn_bf16_pack(uint16_t *dst, const float *src, int K, int N, int nk);

/* Elements of the rounded copy of an (M,K) operand: M * Kp. */
size_t nn_bf16_rows_size(int M, int K);
/* dst (M, Kp) = bf16(A rows r0..r1-1), A (M,K) with leading dimension lda;
 * the odd padding column is zero.  Rows [r0,r1) only, so threads can split
 * the work. */
void nn_bf16_rows(uint16_t *dst, const float *A, int lda, int K, int r0, int r1);

/* What is done with each finished block of C while it is in L1 (every
 * field optional; a NULL epilogue, or a zeroed one, is C += A B).  Matrices
 * are (M, ldc) like C; bias is (N).  C may be NULL with overwrite and out16:
 * the block is then not kept in float, only rounded into out16. */
typedef struct {
    int overwrite;     /* C = A B (+ bias + res) instead of C += A B */
    const float *bias; /* added to every row */
    const float *res;  /* added; may be C itself only with overwrite */
    const float *pre;  /* then C *= act'(pre) (a backward through act) */
    nn_act_t act;      /* for pre, act_out and out16 */
    float *act_out;    /* then act_out = act(C) */
    uint16_t *out16;   /* then (M, Kp(N)) = bf16(C) - with pre, C after the derivative; else,
                          act not none, bf16(act(C)) whether or not act_out keeps it: the next
                          product's left operand as nn_bf16_rows would make it (its odd
                          padding column zeroed with the last panel) */
    int dact_out;      /* with act not none, out16, C, and neither pre nor act_out: once
                          bf16(act(C)) is in out16, C := act'(C) - the derivative a backward
                          takes as dmul, kept instead of the pre-activation */
    const float *dmul; /* C *= dmul after the sum (act'(x) kept by dact_out: the backward's
                          C *= act'(pre) with no activation evaluated; act must be none) */
} nn_bf16_epi_t;

/* C[:, 64*p0 .. min(64*p1, N)) = A B over those columns, combined with C as
 * e says (NULL: added): A (M, Kp) from nn_bf16_rows, Bp from
 * nn_bf16_pack(K, N), C (M, ldc floats a row). */
void nn_bf16_gemm_panels(float *C, int ldc, const uint16_t *A, int M, int K, const uint16_t *Bp, int N,
                         int p0, int p1, const nn_bf16_epi_t *e);

/* The same through the plain C loop (what runs without AVX512_BF16; tests
 * call it directly). */
void nn_bf16_gemm_panels_plain(float *C, int ldc, const uint16_t *A, int M, int K, const uint16_t *Bp, int N,
                               int p0, int p1, const nn_bf16_epi_t *e);

/* Reference: the same sum from the same rounded operands (A rounded as
 * nn_bf16_rows does, B read unpacked from src as nn_bf16_pack reads it), in
 * double, C += A B. */
void nn_bf16_gemm_ref(float *C, int ldc, const float *A, int lda, int M, int K, const float *src, int N,
                      int nk);
#endif
