/* norm2d.h - batch norm and instance norm over NCHW float32 tensors, forward
 * and backward (PyTorch's F.batch_norm and F.instance_norm semantics).
 *
 * Batch norm normalises each channel over (N,H,W).  In training mode it uses
 * the batch statistics (biased variance), saves the mean and 1/sqrt(var+eps)
 * for the backward, and updates the running estimates as PyTorch does with a
 * numeric momentum: running = (1-momentum)*running + momentum*batch, with the
 * UNBIASED variance (x N*HW/(N*HW-1)) for running_var.  In eval mode it uses
 * the running statistics.  Instance norm normalises each (image, channel)
 * plane over (H,W) and keeps no running statistics (PyTorch's
 * InstanceNorm2d default, track_running_stats=False).  The affine weight and
 * bias are optional (NULL: 1 and 0).
 *
 * The fast kernels split channels over the caller's threads (each thread
 * owns whole channels, so the per-channel weight gradients need no
 * reduction) and accumulate statistics in double.  The *_ref kernels are
 * plain loops.  Not here: momentum=None (cumulative averaging), group norm,
 * norms over other layouts.  Allocates nothing, never prints (nn.h).
 */
#ifndef NN_NORM2D_H
#define NN_NORM2D_H
#include "nn.h"

/* Training-mode batch norm.  out (overwritten) = (inp - mean) * rstd * w + b
 * per channel; mean and rstd (the batch statistics) are written for the
 * backward; run_mean/run_var, when not NULL, are updated with momentum.
 * NN_EINVAL if N*HW < 2 (the unbiased variance needs two values, as in
 * PyTorch) or a size is not positive.  out may equal inp. */
int batchnorm2d_forward(const nn_par_t *par,
                        float *out,       /* (N,C,H,W) */
                        float *mean,      /* (C) saved */
                        float *rstd,      /* (C) saved */
                        const float *inp, /* (N,C,H,W) */
                        const float *w,   /* (C) or NULL */
                        const float *b,   /* (C) or NULL */
                        float *run_mean,  /* (C) or NULL, updated */
                        float *run_var,   /* (C) or NULL, updated */
                        int N, int C, int HW, float eps, float momentum);

/* Backward of the training-mode forward.  dinp, dw, db are ADDED into; any
 * may be NULL.  dinp must not alias dout. */
int batchnorm2d_backward(const nn_par_t *par,
                         float *dinp,       /* (N,C,H,W) or NULL */
                         float *dw,         /* (C) or NULL */
                         float *db,         /* (C) or NULL */
                         const float *dout, /* (N,C,H,W) */
                         const float *inp,  /* (N,C,H,W) */
                         const float *mean, /* (C) from the forward */
                         const float *rstd, /* (C) from the forward */
                         const float *w,    /* (C) or NULL */
                         int N, int C, int HW);

/* Eval-mode batch norm: out (overwritten) = (inp - run_mean) /
 * sqrt(run_var + eps) * w + b.  out may equal inp. */
int batchnorm2d_forward_eval(const nn_par_t *par,
                             float *out,             /* (N,C,H,W) */
                             const float *inp,       /* (N,C,H,W) */
                             const float *w,         /* (C) or NULL */
                             const float *b,         /* (C) or NULL */
                             const float *run_mean,  /* (C) */
                             const float *run_var,   /* (C) */
                             int N, int C, int HW, float eps);

/* Backward of the eval-mode forward (statistics are constants).  dinp, dw,
 * db are ADDED into; any may be NULL. */
int batchnorm2d_backward_eval(const nn_par_t *par,
                              float *dinp,           /* (N,C,H,W) or NULL */
                              float *dw,             /* (C) or NULL */
                              float *db,             /* (C) or NULL */
                              const float *dout,     /* (N,C,H,W) */
                              const float *inp,      /* (N,C,H,W) */
                              const float *run_mean, /* (C) */
                              const float *run_var,  /* (C) */
                              const float *w,        /* (C) or NULL */
                              int N, int C, int HW, float eps);

/* Instance norm: each (n,c) plane normalised by its own mean and biased
 * variance.  out overwritten (may equal inp); mean, rstd saved. */
int instancenorm2d_forward(const nn_par_t *par,
                           float *out,       /* (N,C,H,W) */
                           float *mean,      /* (N,C) saved */
                           float *rstd,      /* (N,C) saved */
                           const float *inp, /* (N,C,H,W) */
                           const float *w,   /* (C) or NULL */
                           const float *b,   /* (C) or NULL */
                           int N, int C, int HW, float eps);

/* dinp, dw, db ADDED into; any may be NULL.  dinp must not alias dout. */
int instancenorm2d_backward(const nn_par_t *par,
                            float *dinp,       /* (N,C,H,W) or NULL */
                            float *dw,         /* (C) or NULL */
                            float *db,         /* (C) or NULL */
                            const float *dout, /* (N,C,H,W) */
                            const float *inp,  /* (N,C,H,W) */
                            const float *mean, /* (N,C) */
                            const float *rstd, /* (N,C) */
                            const float *w,    /* (C) or NULL */
                            int N, int C, int HW);

/* Reference versions: the same arguments and contracts, single-threaded
 * plain loops (par is ignored). */
int batchnorm2d_forward_ref(const nn_par_t *par, float *out, float *mean, float *rstd, const float *inp,
                            const float *w, const float *b, float *run_mean, float *run_var, int N, int C,
                            int HW, float eps, float momentum);
int batchnorm2d_backward_ref(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                             const float *inp, const float *mean, const float *rstd, const float *w, int N,
                             int C, int HW);
int batchnorm2d_forward_eval_ref(const nn_par_t *par, float *out, const float *inp, const float *w,
                                 const float *b, const float *run_mean, const float *run_var, int N, int C,
                                 int HW, float eps);
int batchnorm2d_backward_eval_ref(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                                  const float *inp, const float *run_mean, const float *run_var,
                                  const float *w, int N, int C, int HW, float eps);
int instancenorm2d_forward_ref(const nn_par_t *par, float *out, float *mean, float *rstd, const float *inp,
                               const float *w, const float *b, int N, int C, int HW, float eps);
int instancenorm2d_backward_ref(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                                const float *inp, const float *mean, const float *rstd, const float *w, int N,
                                int C, int HW);
#endif
