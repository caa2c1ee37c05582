/* pool2d.h - 2-D max pooling and average pooling over NCHW float32 tensors,
 * forward and backward (F.max_pool2d and F.avg_pool2d with their defaults:
 * floor mode, no dilation; average pooling counts the zero padding in its
 * divisor, count_include_pad=True).  A kernel the size of the whole map is
 * global average pooling (a classifier's head).
 *
 * Max pooling saves the flat index (h*W + w within its plane) of each
 * window's maximum, the first one on ties, for the backward; a window that
 * holds only padding cannot happen (padding <= kernel/2, as in PyTorch).
 * The fast kernels split the N*C planes over the caller's threads (each
 * plane is written by one thread); the *_ref kernels are plain loops.
 * Not here: ceil mode, dilation, fractional or adaptive pooling, 1-D/3-D.
 * (Unrelated to common/pool.h, the thread pool.)  Allocates nothing (nn.h).
 */
#ifndef NN_POOL2D_H
#define NN_POOL2D_H
#include "nn.h"

typedef struct {
    int N, C, H, W;         /* input */
    int KH, KW;             /* window */
    int stride_h, stride_w; /* 0 = the window size (PyTorch's default) */
    int pad_h, pad_w;       /* 0 <= pad <= window/2 */
} pool2d_dims_t;

/* OH = (H + 2*pad_h - KH) / stride_h + 1; NN_EINVAL if a size is out of range. */
int pool2d_out_size(const pool2d_dims_t *d, int *OH, int *OW);

/* out (overwritten) = window maxima; idx (overwritten) = their positions. */
int maxpool2d_forward(const nn_par_t *par,
                      float *out,       /* (N,C,OH,OW) */
                      int *idx,         /* (N,C,OH,OW) saved */
                      const float *inp, /* (N,C,H,W) */
                      const pool2d_dims_t *d);
/* dinp += dout routed to each window's maximum (ADDED into). */
int maxpool2d_backward(const nn_par_t *par,
                       float *dinp,       /* (N,C,H,W) */
                       const float *dout, /* (N,C,OH,OW) */
                       const int *idx,    /* (N,C,OH,OW) from the forward */
                       const pool2d_dims_t *d);

/* out (overwritten) = window sums / (KH*KW). */
int avgpool2d_forward(const nn_par_t *par,
                      float *out,       /* (N,C,OH,OW) */
                      const float *inp, /* (N,C,H,W) */
                      const pool2d_dims_t *d);
/* dinp += dout / (KH*KW) spread over each window (ADDED into). */
int avgpool2d_backward(const nn_par_t *par,
                       float *dinp,       /* (N,C,H,W) */
                       const float *dout, /* (N,C,OH,OW) */
                       const pool2d_dims_t *d);

/* Reference versions: the same arguments and contracts, single-threaded
 * (par is ignored). */
int maxpool2d_forward_ref(const nn_par_t *par, float *out, int *idx, const float *inp,
                          const pool2d_dims_t *d);
int maxpool2d_backward_ref(const nn_par_t *par, float *dinp, const float *dout, const int *idx,
                           const pool2d_dims_t *d);
int avgpool2d_forward_ref(const nn_par_t *par, float *out, const float *inp, const pool2d_dims_t *d);
int avgpool2d_backward_ref(const nn_par_t *par, float *dinp, const float *dout, const pool2d_dims_t *d);
#endif
