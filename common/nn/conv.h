/* conv.h - 2-D convolution and 2-D transposed convolution, forward and
 * backward, over NCHW float32 tensors (PyTorch's layouts and semantics:
 * F.conv2d and F.conv_transpose2d with groups = 1).
 *
 * The fast kernels lower each image to a column matrix (im2col / col2im) and
 * do the products with cblas_sgemm; the caller passes the column scratch
 * (conv2d_ws_size / conv_transpose2d_ws_size floats for its thread count) and
 * its parallelism (nn_par_t).  Work is split so that threads write disjoint
 * memory: forward over (image, output-pixel) ranges, weight gradients over
 * rows of the column matrix (input channel x kernel offset), col2im over
 * (image, channel) pairs.  Each thread calls a single-threaded sgemm, so
 * OpenBLAS's own threads must stay at 1 (pool_init's blas_threads_init sets
 * it, pool.h).  Results depend on the thread count only through the order of
 * float sums inside sgemm.
 *
 * The *_ref kernels are direct loops (no im2col, no BLAS, double
 * accumulators in the forward), single-threaded, written to be read.
 *
 * No output buffer may alias an input or the scratch.
 *
 * Not here: groups / depthwise convolution, padding modes other than zeros,
 * 1-D or 3-D convolution.  Allocates nothing, never prints (common/nn/nn.h).
 */
#ifndef NN_CONV_H
#define NN_CONV_H
#include "nn.h"
#include <stddef.h>

/* The geometry of one convolution.  For conv2d the input is (N,C,H,W), the
 * weight (OC,C,KH,KW) and the output (N,OC,OH,OW) with
 *   OH = (H + 2*pad_h - dil_h*(KH-1) - 1) / stride_h + 1.
 * For conv_transpose2d the input is (N,C,H,W), the weight (C,OC,KH,KW)
 * (PyTorch's layout: in_channels first) and the output (N,OC,OH,OW) with
 *   OH = (H-1)*stride_h - 2*pad_h + dil_h*(KH-1) + outpad_h + 1.
 * A stride or dilation of 0 is read as 1, so designated initialisers may
 * leave them out.  outpad_* (transposed only; must be 0 for conv2d) must be
 * smaller than the stride or the dilation, as in PyTorch. */
typedef struct {
    int N, C, H, W;          /* input batch, channels, height, width */
    int OC;                  /* output channels */
    int KH, KW;              /* kernel height, width */
    int stride_h, stride_w;  /* >= 1 (0 = 1) */
    int pad_h, pad_w;        /* zero padding, >= 0 */
    int dil_h, dil_w;        /* dilation >= 1 (0 = 1) */
    int outpad_h, outpad_w;  /* output padding, transposed convolution only */
} conv2d_dims_t;

/* Output height and width; NN_EINVAL if a size is out of range. */
int conv2d_out_size(const conv2d_dims_t *d, int *OH, int *OW);
int conv_transpose2d_out_size(const conv2d_dims_t *d, int *OH, int *OW);

/* Scratch floats the fast forward and backward need with `nthreads` threads
 * (nn_nthreads(par)); 0 if the dims are invalid or the geometry needs none
 * (1x1, stride 1, no padding: ws may then be NULL).  One buffer of this size
 * serves both directions.  The size is for that thread count (it does not
 * grow monotonically with it): ask again if the pool changes.  The kernels
 * lower in column tiles of about 4 MB, so it is at most nthreads x
 * max(4 MB, 256 columns of the column matrix) in bytes, whatever the image
 * size (8.4 MB for any layer of a 256x256 pix2pix U-Net on 2 threads). */
size_t conv2d_ws_size(const conv2d_dims_t *d, int nthreads);
size_t conv_transpose2d_ws_size(const conv2d_dims_t *d, int nthreads);

/* out = conv2d(inp, w) + b.  out is overwritten.  b may be NULL (no bias).
 * ws: scratch of nws >= conv2d_ws_size(d, nn_nthreads(par)) floats.
 * NN_EINVAL on bad dims or a short ws. */
int conv2d_forward(const nn_par_t *par,
                   float *out,       /* (N,OC,OH,OW) */
                   const float *inp, /* (N,C,H,W) */
                   const float *w,   /* (OC,C,KH,KW) */
                   const float *b,   /* (OC) or NULL */
                   const conv2d_dims_t *d, float *ws, size_t nws);

/* dinp += d out/d inp . dout;  dw += ...;  db += sum of dout over (N,OH,OW).
 * All three gradients are ADDED into (the caller zeroes them); any may be
 * NULL to skip it (e.g. dinp for a network's first layer). */
int conv2d_backward(const nn_par_t *par,
                    float *dinp,       /* (N,C,H,W) or NULL */
                    float *dw,         /* (OC,C,KH,KW) or NULL */
                    float *db,         /* (OC) or NULL */
                    const float *dout, /* (N,OC,OH,OW) */
                    const float *inp,  /* (N,C,H,W) */
                    const float *w,    /* (OC,C,KH,KW) */
                    const conv2d_dims_t *d, float *ws, size_t nws);

/* out = conv_transpose2d(inp, w) + b (the adjoint of conv2d's input
 * gradient, plus bias).  out is overwritten; b may be NULL. */
int conv_transpose2d_forward(const nn_par_t *par,
                             float *out,       /* (N,OC,OH,OW) */
                             const float *inp, /* (N,C,H,W) */
                             const float *w,   /* (C,OC,KH,KW) */
                             const float *b,   /* (OC) or NULL */
                             const conv2d_dims_t *d, float *ws, size_t nws);

/* Gradients of conv_transpose2d, all ADDED into; any may be NULL. */
int conv_transpose2d_backward(const nn_par_t *par,
                              float *dinp,       /* (N,C,H,W) or NULL */
                              float *dw,         /* (C,OC,KH,KW) or NULL */
                              float *db,         /* (OC) or NULL */
                              const float *dout, /* (N,OC,OH,OW) */
                              const float *inp,  /* (N,C,H,W) */
                              const float *w,    /* (C,OC,KH,KW) */
                              const conv2d_dims_t *d, float *ws, size_t nws);

/* Reference versions: the same arguments and contracts (out overwritten,
 * gradients added); direct loops, single-threaded: par, ws and nws are
 * ignored (ws may be NULL). */
int conv2d_forward_ref(const nn_par_t *par, float *out, const float *inp, const float *w, const float *b,
                       const conv2d_dims_t *d, float *ws, size_t nws);
int conv2d_backward_ref(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, const conv2d_dims_t *d, float *ws, size_t nws);
int conv_transpose2d_forward_ref(const nn_par_t *par, float *out, const float *inp, const float *w,
                                 const float *b, const conv2d_dims_t *d, float *ws, size_t nws);
int conv_transpose2d_backward_ref(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                                  const float *inp, const float *w, const conv2d_dims_t *d, float *ws,
                                  size_t nws);
#endif
