#!/usr/bin/python3
"""torch_conv.py - the PyTorch peer for bench/conv_bench.c.

The same three U-Net / classifier layers (batch 4, 64x64 maps: conv2d
64->128 k4 s2 p1, conv_transpose2d 128->64 k4 s2 p1, conv2d 64->64 k3 s1 p1;
and the first on one 128x128 image),
float32 on CPU with CONV_THREADS threads (default 2, as conv_bench), timed
as a user would run them: F.conv2d / F.conv_transpose2d with autograd
(input, weight and bias all require gradients), forward then backward of a
fixed upstream gradient.  Prints the same lines as conv_bench (median of
reps): conv_<shape>_forward / _backward / _fwdbwd with GFLOP/s, counting
2*MACs per pass as conv_bench does (backward = 2 passes).
Usage: torch_conv.py [reps]
"""
import os, sys, time
import torch
import torch.nn.functional as F

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
nth = int(os.environ.get("CONV_THREADS", "2"))
torch.set_num_threads(nth)
print("threads %d (torch %s, mkldnn %s)" % (nth, torch.__version__, torch.backends.mkldnn.is_available()))

SHAPES = [  # name, transposed, N, C, H, W, OC, K, stride, pad
    ("down", False, 4, 64, 64, 64, 128, 4, 2, 1),
    ("up", True, 4, 128, 32, 32, 64, 4, 2, 1),
    ("same", False, 4, 64, 64, 64, 64, 3, 1, 1),
    ("down_b1", False, 1, 64, 128, 128, 128, 4, 2, 1),
]

g = torch.Generator().manual_seed(42)
for name, tr, N, C, H, W, OC, K, s, p in SHAPES:
    x = (torch.rand(N, C, H, W, generator=g) - 0.5).requires_grad_(True)
    wshape = (C, OC, K, K) if tr else (OC, C, K, K)
    w = (torch.rand(*wshape, generator=g) - 0.5).requires_grad_(True)
    b = (torch.rand(OC, generator=g) - 0.5).requires_grad_(True)
    conv = (lambda: F.conv_transpose2d(x, w, b, stride=s, padding=p)) if tr else (lambda: F.conv2d(x, w, b, stride=s, padding=p))
    with torch.no_grad():
        y0 = conv()
    dy = torch.rand(y0.shape, generator=g) - 0.5
    macs = (x.numel() * OC * K * K) if tr else (y0.numel() * C * K * K)
    tf, tb = [], []
    for r in range(reps + 1):
        x.grad = w.grad = b.grad = None
        t0 = time.perf_counter()
        y = conv()
        t1 = time.perf_counter()
        y.backward(dy)
        t2 = time.perf_counter()
        if r:
            tf.append(t1 - t0)
            tb.append(t2 - t1)
    f, bw = sorted(tf)[reps // 2], sorted(tb)[reps // 2]
    print("conv_%s_forward %.4f s %.1f GFLOP/s" % (name, f, 2 * macs / f / 1e9))
    print("conv_%s_backward %.4f s %.1f GFLOP/s" % (name, bw, 4 * macs / bw / 1e9))
    print("conv_%s_fwdbwd %.4f s %.1f GFLOP/s (%.2f GFLOP)" % (name, f + bw, 6 * macs / (f + bw) / 1e9, 6 * macs / 1e9))
