#!/usr/bin/python3
"""gen_nn_conv_ref.py - PyTorch reference fixtures for the CNN and loss kernels
of common/nn/ (conv.c, pool2d.c, norm2d.c, loss.c), read by tests/unit/test_nn_conv.c.

Every case is a small random problem computed in float64 with
torch.nn.functional (conv2d, conv_transpose2d, max_pool2d, avg_pool2d,
batch_norm, instance_norm, cross_entropy, binary_cross_entropy_with_logits,
l1_loss, mse_loss) and, for CLIP's loss, InfoNCE written here from the CLIP
paper's pseudo-code (Radford et al. 2021, fig. 3):
    logits = exp(t) * I @ T^T;  loss = (CE(logits, arange) + CE(logits^T, arange)) / 2.
Gradients come from autograd with a random upstream gradient `dout` (the
loss being sum(out * dout)); the losses' gradients are those of the loss
itself.  Inputs and results are stored as float32; each case's sizes are
stored as a float tensor "<case>.dims" so the C test needs no second table.

Writes tests/fixtures/nn_conv/{conv,norm,loss}.safetensors.
Run: /usr/bin/python3 tests/gen_nn_conv_ref.py   (needs Debian's python3-torch; CI does not)
Dropout has no fixture: its mask comes from our own counter-based hash, so
the C test checks its statistics, determinism and scaling instead.
"""
import math, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402  (the shared safetensors writer)
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "nn_conv")
torch.manual_seed(20261205)


def write_safetensors(path, tensors):
    """Every tensor as float32 (tests/st_write.py)."""
    st_write.write_safetensors(path, tensors, as_f32=True)


def rnd(*shape, scale=1.0):
    return (torch.randn(*shape, dtype=torch.float64) * scale).requires_grad_(True)


def dims_t(v):
    return torch.tensor([float(x) for x in v], dtype=torch.float64)


# ------------------------------------------------------------ convolutions
# (N, C, H, W, OC, KH, KW, sh, sw, ph, pw, dh, dw, oph, opw, bias)
CONV = [
    (2, 3, 9, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1),    # same-size 3x3
    (2, 4, 10, 10, 5, 4, 4, 2, 2, 1, 1, 1, 1, 0, 0, 1),  # U-Net down: k4 s2 p1
    (1, 3, 11, 9, 2, 3, 2, 2, 1, 0, 1, 2, 1, 0, 0, 0),   # rectangular kernel, stride, pad, dilation; no bias
    (3, 5, 6, 7, 3, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1),    # 1x1 (the no-lowering path)
    (2, 2, 7, 7, 3, 3, 3, 3, 2, 2, 0, 2, 2, 0, 0, 1),    # stride 3x2, pad on one axis, dilation 2
    (1, 1, 16, 16, 4, 4, 4, 2, 2, 1, 1, 1, 1, 0, 0, 1),  # one input channel (grayscale first layer)
    (4, 3, 5, 5, 2, 5, 5, 1, 1, 2, 2, 1, 1, 0, 0, 0),    # PatchGAN-like big kernel, batch 4
]
# transposed: weight (C, OC, KH, KW)
CONVT = [
    (2, 4, 5, 5, 3, 4, 4, 2, 2, 1, 1, 1, 1, 0, 0, 1),    # U-Net up: k4 s2 p1
    (2, 3, 4, 6, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1),    # output_padding 1
    (1, 2, 5, 4, 3, 3, 2, 1, 2, 0, 1, 2, 1, 1, 1, 0),    # rectangular, dilation 2 with outpad (< dilation)
    (3, 5, 4, 4, 1, 4, 4, 2, 2, 1, 1, 1, 1, 0, 0, 1),    # one output channel (the generator's last layer)
    (2, 3, 3, 3, 4, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1),    # 1x1
]


# pooling: (kind 0 max / 1 avg, N, C, H, W, KH, KW, sh, sw, ph, pw); stride 0 = the window
POOL = [
    (0, 2, 3, 8, 8, 2, 2, 0, 0, 0, 0),   # 2x2 max pool
    (0, 2, 2, 7, 9, 3, 3, 2, 2, 1, 1),   # overlapping, padded
    (0, 1, 3, 5, 6, 3, 2, 1, 2, 1, 0),   # rectangular
    (1, 2, 3, 8, 8, 2, 2, 0, 0, 0, 0),   # 2x2 average
    (1, 2, 2, 7, 9, 3, 3, 1, 1, 1, 1),   # padded, counting the padding (count_include_pad)
    (1, 3, 4, 5, 6, 5, 6, 0, 0, 0, 0),   # global average pooling
]


def pool_cases(T):
    for i, c in enumerate(POOL):
        kind, N, C, H, W, KH, KW, sh, sw, ph, pw = c
        x = rnd(N, C, H, W)
        st = (sh or KH, sw or KW)
        if kind == 0:
            y, idx = F.max_pool2d(x, (KH, KW), st, (ph, pw), return_indices=True)
        else:
            y = F.avg_pool2d(x, (KH, KW), st, (ph, pw), count_include_pad=True)
        dy = torch.randn_like(y)
        (y * dy).sum().backward()
        p = f"pool{i}."
        T[p + "dims"] = dims_t(c)
        T[p + "x"], T[p + "out"], T[p + "dout"], T[p + "dx"] = x, y, dy, x.grad
        if kind == 0:
            T[p + "idx"] = idx.double()


def conv_cases(T):
    for i, c in enumerate(CONV):
        N, C, H, W, OC, KH, KW, sh, sw, ph, pw, dh, dw, oph, opw, hb = c
        x, w = rnd(N, C, H, W), rnd(OC, C, KH, KW, scale=1 / math.sqrt(C * KH * KW))
        b = rnd(OC) if hb else None
        y = F.conv2d(x, w, b, stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))
        dy = torch.randn_like(y)
        (y * dy).sum().backward()
        p = f"conv{i}."
        T[p + "dims"] = dims_t(c)
        T[p + "x"], T[p + "w"], T[p + "out"], T[p + "dout"] = x, w, y, dy
        T[p + "dx"], T[p + "dw"] = x.grad, w.grad
        if hb:
            T[p + "b"], T[p + "db"] = b, b.grad
    for i, c in enumerate(CONVT):
        N, C, H, W, OC, KH, KW, sh, sw, ph, pw, dh, dw, oph, opw, hb = c
        x, w = rnd(N, C, H, W), rnd(C, OC, KH, KW, scale=1 / math.sqrt(C * KH * KW))
        b = rnd(OC) if hb else None
        y = F.conv_transpose2d(x, w, b, stride=(sh, sw), padding=(ph, pw), output_padding=(oph, opw),
                               dilation=(dh, dw))
        dy = torch.randn_like(y)
        (y * dy).sum().backward()
        p = f"convt{i}."
        T[p + "dims"] = dims_t(c)
        T[p + "x"], T[p + "w"], T[p + "out"], T[p + "dout"] = x, w, y, dy
        T[p + "dx"], T[p + "dw"] = x.grad, w.grad
        if hb:
            T[p + "b"], T[p + "db"] = b, b.grad


# ------------------------------------------------------------------ norms
# (N, C, H, W, affine)
BN = [(3, 4, 5, 5, 1), (2, 3, 4, 3, 0), (8, 2, 1, 1, 1)]
IN = [(2, 3, 6, 5, 1), (3, 2, 4, 4, 0)]
EPS, MOM = 1e-5, 0.1


def norm_cases(T):
    for i, (N, C, H, W, aff) in enumerate(BN):
        x = (torch.randn(N, C, H, W, dtype=torch.float64) * 2 + 0.5).requires_grad_(True)
        w, b = (rnd(C), rnd(C)) if aff else (None, None)
        rm, rv = torch.randn(C, dtype=torch.float64) * 0.1, torch.rand(C, dtype=torch.float64) + 0.5
        p = f"bn{i}."
        T[p + "dims"] = dims_t((N, C, H, W, aff))
        T[p + "x"], T[p + "run_mean_in"], T[p + "run_var_in"] = x, rm.clone(), rv.clone()
        y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=MOM, eps=EPS)  # updates rm, rv in place
        dy = torch.randn_like(y)
        (y * dy).sum().backward()
        T[p + "out"], T[p + "dout"], T[p + "dx"] = y, dy, x.grad
        T[p + "run_mean"], T[p + "run_var"] = rm, rv
        T[p + "mean"] = x.detach().mean(dim=(0, 2, 3))
        T[p + "rstd"] = 1 / torch.sqrt(x.detach().var(dim=(0, 2, 3), unbiased=False) + EPS)
        if aff:
            T[p + "w"], T[p + "b"], T[p + "dw"], T[p + "db"] = w, b, w.grad, b.grad
        # eval mode with the updated running statistics
        xe = x.detach().clone().requires_grad_(True)
        we = w.detach().clone().requires_grad_(True) if aff else None
        be = b.detach().clone().requires_grad_(True) if aff else None
        ye = F.batch_norm(xe, rm, rv, we, be, training=False, eps=EPS)
        (ye * dy).sum().backward()
        T[p + "eval_out"], T[p + "eval_dx"] = ye, xe.grad
        if aff:
            T[p + "eval_dw"], T[p + "eval_db"] = we.grad, be.grad
    for i, (N, C, H, W, aff) in enumerate(IN):
        x = (torch.randn(N, C, H, W, dtype=torch.float64) * 1.5 - 0.3).requires_grad_(True)
        w, b = (rnd(C), rnd(C)) if aff else (None, None)
        y = F.instance_norm(x, weight=w, bias=b, eps=EPS)
        dy = torch.randn_like(y)
        (y * dy).sum().backward()
        p = f"in{i}."
        T[p + "dims"] = dims_t((N, C, H, W, aff))
        T[p + "x"], T[p + "out"], T[p + "dout"], T[p + "dx"] = x, y, dy, x.grad
        if aff:
            T[p + "w"], T[p + "b"], T[p + "dw"], T[p + "db"] = w, b, w.grad, b.grad


# ------------------------------------------------------------------ losses
# (N, K, smoothing, labels: None = random in [0,K), else a list (-1 = ignored))
XENT = [(6, 5, 0.0, None), (7, 4, 0.1, None), (5, 3, 0.0, [0, -1, 2, 1, -1]), (4, 6, 0.2, [5, 0, -1, 3]),
        (3, 1000, 0.0, None)]
NCE = [(5, 8, math.log(1 / 0.07)), (16, 32, math.log(100.0)), (3, 4, 0.0)]
# element-wise: (kind 0 bce / 1 l1 / 2 mse, n, target given, constant target value)
EW = [(0, 37, 1, 0.0), (0, 50, 0, 1.0), (0, 20, 0, 0.0), (1, 41, 1, 0.0), (2, 29, 1, 0.0), (0, 1000, 1, 0.0)]


def infonce(I, Tx, t):
    logits = torch.exp(t) * I @ Tx.t()
    lab = torch.arange(I.shape[0])
    return (F.cross_entropy(logits, lab) + F.cross_entropy(logits.t(), lab)) / 2


def loss_cases(T):
    for i, (N, K, eps, labels) in enumerate(XENT):
        x = rnd(N, K, scale=3.0)
        y = torch.randint(0, K, (N,)) if labels is None else torch.tensor(labels)
        l = F.cross_entropy(x, y, ignore_index=-1, label_smoothing=eps)
        l.backward()
        p = f"xent{i}."
        T[p + "dims"] = dims_t((N, K, eps))
        T[p + "logits"], T[p + "labels"], T[p + "loss"], T[p + "dlogits"] = x, y.double(), l.reshape(1), x.grad
    for i, (N, E, t0) in enumerate(NCE):
        I = F.normalize(torch.randn(N, E, dtype=torch.float64), dim=1).requires_grad_(True)
        Tx = F.normalize(torch.randn(N, E, dtype=torch.float64) + 0.5 * I.detach(), dim=1).requires_grad_(True)
        t = torch.tensor(t0, dtype=torch.float64, requires_grad=True)
        l = infonce(I, Tx, t)
        l.backward()
        p = f"nce{i}."
        T[p + "dims"] = dims_t((N, E))
        T[p + "img"], T[p + "txt"], T[p + "logit_scale"] = I, Tx, t.reshape(1)
        T[p + "loss"], T[p + "dimg"], T[p + "dtxt"], T[p + "dlogit_scale"] = l.reshape(1), I.grad, Tx.grad, t.grad.reshape(1)


def ew_cases(T):
    for i, (kind, n, has_t, tv) in enumerate(EW):
        x = rnd(n, scale=4.0 if kind == 0 else 1.0)
        if kind == 0:
            t = torch.rand(n, dtype=torch.float64) if has_t else torch.full((n,), tv, dtype=torch.float64)
            l = F.binary_cross_entropy_with_logits(x, t)
        else:
            t = torch.randn(n, dtype=torch.float64)
            t[::5] = x.detach()[::5]  # ties: the L1 gradient there is 0
            l = F.l1_loss(x, t) if kind == 1 else F.mse_loss(x, t)
        l.backward()
        p = f"ew{i}."
        T[p + "dims"] = dims_t((kind, n, has_t, tv))
        T[p + "x"], T[p + "loss"], T[p + "dx"] = x, l.reshape(1), x.grad
        if has_t:
            T[p + "t"] = t


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, fns in (("conv", [conv_cases, pool_cases]), ("norm", [norm_cases]), ("loss", [loss_cases, ew_cases])):
        T = {}
        for fn in fns:
            fn(T)
        write_safetensors(os.path.join(OUT, name + ".safetensors"), T)
        print(f"{name}: {len(T)} tensors")


if __name__ == "__main__":
    main()
