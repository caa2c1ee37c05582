#!/usr/bin/python3
"""gen_bf16_ref.py - independent PyTorch reference for the bfloat16 products
(common/nn/gemm_bf16.c and linear.c's _bf16 functions).

bfloat16 is float32's top 16 bits; PyTorch's Tensor.bfloat16() rounds to
nearest, ties to even.  Each reference rounds its operands with PyTorch, then
does the arithmetic in float64 (more exact than the C kernels' float sums),
stored as float32 - written from the definitions, not from the C code:
  round.*   float32 values (ties, carries into the exponent, the largest
            finite values, infinities, tiny normals) and their bfloat16
            rounding as float32;
  gemm.*    C = bf16(A) bf16(B) for A (M,K), B given as (K,N) or as W (N,K)
            (nk: B = W^T); sizes chosen to leave partial row tiles (M % 6),
            partial 64-column panels and odd K;
  lin.*     y = bf16(x) bf16(W)^T + b + r, a = QuickGELU(y); and the input
            gradient dx_pre = (bf16(dy) bf16(W)) * QuickGELU'(x_pre).
Writes tests/fixtures/nn/bf16_ref.safetensors.  Run once and commit the output:
    /usr/bin/python3 tests/gen_bf16_ref.py      (needs Debian's python3-torch; CI does not)
"""
import math, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "nn")
D = torch.float64
ref = {}


def put(name, t):
    ref[name] = t.detach().to(torch.float32)


def bf(t):
    """round float32 values to bfloat16, back to float64 (exact)"""
    return t.to(torch.float32).bfloat16().to(D)


def rnd(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).to(torch.float32).to(D)


def gen_round():
    one = 1.0
    vals = [0.0, -0.0, one, -one, 1.00390625, 1.005859375, 1.0078125 + 2 ** -9, 1.001953125,
            # 1 + 2^-8 is a tie (rounds to even: 1), 1 + 3*2^-8 a tie (rounds up), then just above a tie
            1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20,
            1.9999999, -1.9999999, 3.0e38, -3.0e38, 3.389e38, float("inf"), float("-inf"),
            1.17549435e-38 * 3, 65504.0, 1e-3, -7.25e-5, 123456.789, 0.1, 1 / 3]
    x = torch.tensor(vals, dtype=torch.float32)
    put("round.x", x)
    put("round.y", x.bfloat16().to(torch.float32))


def quickgelu(x):
    return x * torch.sigmoid(1.702 * x)


def gen_gemm(name, M, K, N, nk):
    a = rnd(M, K)
    src = rnd(N, K) if nk else rnd(K, N)
    b = bf(src).T if nk else bf(src)
    c0 = rnd(M, N)                    # C is added into
    put(f"gemm.{name}.a", a)
    put(f"gemm.{name}.src", src)
    put(f"gemm.{name}.c0", c0)
    put(f"gemm.{name}.c", c0 + bf(a) @ b)
    put(f"gemm.{name}.dims", torch.tensor([M, K, N, nk], dtype=D))


def gen_linear(name, N, IC, OC):
    xp = rnd(N, IC)
    x = quickgelu(xp).to(torch.float32).to(D)  # the forward's input is a float32 tensor
    w = rnd(OC, IC, scale=1.0 / math.sqrt(IC))
    b = rnd(OC, scale=0.1)
    r = rnd(N, OC)
    y = bf(x) @ bf(w).T + b + r
    dy = rnd(N, OC)
    g = bf(dy) @ bf(w)                          # d loss / d x
    xl = xp.clone().requires_grad_(True)
    (dxp,) = torch.autograd.grad(quickgelu(xl), xl, grad_outputs=g)
    for n, t in (("x_pre", xp), ("x", x), ("w", w), ("b", b), ("res", r), ("y", y), ("a", quickgelu(y)),
                 ("dy", dy), ("dx", g), ("dx_pre", dxp)):
        put(f"lin.{name}.{n}", t)
    put(f"lin.{name}.dims", torch.tensor([N, IC, OC], dtype=D))


def main():
    torch.manual_seed(16)
    os.makedirs(OUT, exist_ok=True)
    gen_round()
    gen_gemm("a", 7, 24, 40, 1)      # one partial tile of 6 + 1 row, one partial panel
    gen_gemm("b", 13, 37, 70, 0)     # odd K, two panels (64 + 6)
    gen_gemm("c", 50, 128, 192, 1)   # ViT-like: 8 tiles + 2 rows, 3 full panels
    gen_gemm("d", 1, 1, 1, 0)        # the smallest
    gen_gemm("e", 24, 301, 129, 1)   # odd K > 256, 3 panels (the last one column)
    gen_linear("a", 9, 40, 70)
    gen_linear("b", 50, 96, 200)
    st_write.write_safetensors(os.path.join(OUT, "bf16_ref.safetensors"), ref, as_f32=True)
    print("wrote", len(ref), "tensors to", os.path.join(OUT, "bf16_ref.safetensors"))


if __name__ == "__main__":
    main()
