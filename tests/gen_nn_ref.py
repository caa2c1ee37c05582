#!/usr/bin/python3
"""gen_nn_ref.py - independent PyTorch reference for the transformer kernels
of the pure-maths layer (common/nn/linear.c, layernorm.c, attention.c, act.c).

Each kernel is written here from its published definition with
torch.nn.functional primitives and autograd, in float64 on float32 inputs
(so the reference is more exact than either C version), then stored as
float32 - not from the C code:
  act.*    QuickGELU x*sigmoid(1.702x) (Radford et al. 2021), GELU x*Phi(x) and
           its tanh approximation (Hendrycks & Gimpel 2016), ReLU, LeakyReLU,
           tanh, sigmoid; on random values plus 0, +-1e-4, +-5, +-20;
  ln.*     layer normalisation (Ba et al. 2016), biased variance, eps 1e-5,
           with the saved mean and 1/std; one case with a large offset;
  lin.*    y = x W^T + b [+ r], optionally act(y); and the backward through an
           activation in front of the layer (x = act(x_pre));
  attn.*   multi-head scaled dot-product attention over packed q|k|v
           (Vaswani et al. 2017), causal and not.
Gradients are of L = sum(dy * y) for a random dy, taken by autograd.

Writes tests/fixtures/nn/xf_ref.safetensors (sizes are the tensors' shapes;
the C test reads them from there).  Run once and commit the output:
    /usr/bin/python3 tests/gen_nn_ref.py      (needs Debian's python3-torch; CI does not)
"""
import math, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402  (the shared safetensors writer)
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "nn")
D = torch.float64
ref = {}


def write_safetensors(path, tensors):
    """Every tensor as float32 (tests/st_write.py)."""
    st_write.write_safetensors(path, tensors, as_f32=True)


def rnd(*shape, scale=1.0):
    """float32 random values, returned as float64 leaves (exactly the stored values)."""
    return (torch.randn(*shape) * scale).to(torch.float32).to(D)


def put(name, t):
    ref[name] = t.detach()


LEAKY_SLOPE = 0.1


def act(kind, x):
    if kind == "quickgelu":
        return x * torch.sigmoid(1.702 * x)
    if kind == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if kind == "gelu_tanh":
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    if kind == "relu":
        return F.relu(x)
    if kind == "leaky_relu":
        return F.leaky_relu(x, LEAKY_SLOPE)
    if kind == "tanh":
        return torch.tanh(x)
    if kind == "sigmoid":
        return torch.sigmoid(x)
    assert kind == "none"
    return x


KINDS = ["quickgelu", "gelu", "gelu_tanh", "relu", "leaky_relu", "tanh", "sigmoid"]


def gen_act():
    special = torch.tensor([0.0, 1e-4, -1e-4, 5.0, -5.0, 20.0, -20.0, 0.5, -0.5], dtype=D)
    x0 = torch.cat([special, rnd(1000, scale=3.0)])
    dy = rnd(x0.numel())
    put("act.x", x0)
    put("act.dy", dy)
    put("act.leaky_slope", torch.tensor([LEAKY_SLOPE], dtype=D))
    # guard the reference's own meaning of the published formulas
    assert torch.allclose(act("gelu", x0), F.gelu(x0))
    assert torch.allclose(act("gelu_tanh", x0), F.gelu(x0, approximate="tanh"))
    for k in KINDS:
        x = x0.clone().requires_grad_(True)
        y = act(k, x)
        (dy * y).sum().backward()
        put(f"act.{k}.y", y)
        put(f"act.{k}.dx", x.grad)


def gen_ln(name, N, C, offset=0.0):
    x = (rnd(N, C, scale=2.0) + offset).requires_grad_(True)
    w = (1.0 + rnd(C, scale=0.3)).requires_grad_(True)
    b = rnd(C, scale=0.3).requires_grad_(True)
    y = F.layer_norm(x, (C,), w, b, eps=1e-5)
    mean = x.mean(dim=1)
    rstd = 1.0 / torch.sqrt(x.var(dim=1, unbiased=False) + 1e-5)
    dy = rnd(N, C)
    (dy * y).sum().backward()
    for n, t in (("x", x), ("w", w), ("b", b), ("y", y), ("mean", mean), ("rstd", rstd), ("dy", dy),
                 ("dx", x.grad), ("dw", w.grad), ("db", b.grad)):
        put(f"ln.{name}.{n}", t)


def gen_linear(name, N, IC, OC, bias=True, res=False, kind="none", pre_kind=None):
    """y = x W^T [+ b] [+ r]; a = act(y) when kind != none.  pre_kind: x = act(x_pre)."""
    xp = rnd(N, IC).requires_grad_(True)
    x = act(pre_kind, xp) if pre_kind else xp
    w = rnd(OC, IC, scale=1.0 / math.sqrt(IC)).requires_grad_(True)
    b = rnd(OC, scale=0.1).requires_grad_(True) if bias else None
    r = rnd(N, OC) if res else None
    y = F.linear(x, w, b)
    if res:
        y = y + r
    dy = rnd(N, OC)
    (dy * y).sum().backward()  # the backward kernel gets d/dy; the activation output is forward-only
    put(f"lin.{name}.x_pre" if pre_kind else f"lin.{name}.x", xp)
    if pre_kind:
        put(f"lin.{name}.x", x)
    put(f"lin.{name}.w", w)
    put(f"lin.{name}.y", y)
    put(f"lin.{name}.dy", dy)
    put(f"lin.{name}.dx", xp.grad)
    put(f"lin.{name}.dw", w.grad)
    if bias:
        put(f"lin.{name}.b", b)
        put(f"lin.{name}.db", b.grad)
    if res:
        put(f"lin.{name}.res", r)
    if kind != "none":
        put(f"lin.{name}.a", act(kind, y))


def gen_attn(name, B, T, C, NH, causal):
    qkv = rnd(B, T, 3 * C).requires_grad_(True)
    hd = C // NH
    q, k, v = qkv.split(C, dim=2)
    heads = lambda t: t.reshape(B, T, NH, hd).transpose(1, 2)  # (B,NH,T,hd)
    s = heads(q) @ heads(k).transpose(2, 3) / math.sqrt(hd)
    if causal:
        s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    a = F.softmax(s, dim=-1)
    y = (a @ heads(v)).transpose(1, 2).reshape(B, T, C)
    dy = rnd(B, T, C)
    (dy * y).sum().backward()
    for n, t in (("qkv", qkv), ("y", y), ("att", a), ("dy", dy), ("dqkv", qkv.grad)):
        put(f"attn.{name}.{n}", t)
    put(f"attn.{name}.nh", torch.tensor([NH], dtype=D))
    put(f"attn.{name}.causal", torch.tensor([1.0 if causal else 0.0], dtype=D))


def main():
    torch.manual_seed(8)
    os.makedirs(OUT, exist_ok=True)
    gen_act()
    gen_ln("a", 6, 37)
    gen_ln("b", 5, 64, offset=100.0)
    gen_linear("a", 7, 24, 40)                                          # bias only
    gen_linear("b", 5, 37, 70, res=True, kind="quickgelu")              # bias + residual + QuickGELU output
    gen_linear("c", 9, 20, 10, bias=False, res=True, kind="gelu_tanh")  # residual only; fewer columns than a block
    gen_linear("d", 6, 40, 33, pre_kind="quickgelu")                    # backward through QuickGELU at the input
    gen_linear("e", 4, 48, 19, kind="relu", pre_kind="gelu")            # backward through exact GELU at the input
    gen_attn("a", 2, 5, 12, 3, False)
    gen_attn("b", 2, 19, 16, 2, True)
    gen_attn("c", 3, 19, 16, 4, False)
    gen_attn("d", 1, 1, 8, 2, True)                                     # one token
    gen_attn("e", 2, 50, 128, 2, False)     # ViT-B/32's tokens and head width (64), two heads
    gen_attn("f", 1, 77, 128, 2, True)      # the text tower's context, causal
    gen_attn("g", 2, 33, 72, 3, False)      # head width 24: not a multiple of 16
    write_safetensors(os.path.join(OUT, "xf_ref.safetensors"), ref)
    print("wrote", len(ref), "tensors to", os.path.join(OUT, "xf_ref.safetensors"))


if __name__ == "__main__":
    main()
