#!/usr/bin/python3
"""gen_clip_bf16_ref.py - independent PyTorch reference for the C CLIP's
bfloat16 image products (clip_t.bf16, common/clip.c + common/nn/gemm_bf16.c).

The tiny CLIP of tests/gen_clip_ref.py (its committed weights and inputs,
tests/fixtures/clip/tiny_openai.safetensors and tiny_ref.safetensors), with
every weight product of the image tower - the patch conv (as a product over
non-overlapping patches), qkv, the attention's output projection, the MLP's
two layers - done the way the bf16 mode defines it: forward
y = bf16(x) bf16(W)^T + b, backward to the input dx = bf16(dy) bf16(W),
bf16() being PyTorch's round-to-nearest-even Tensor.bfloat16() of the float32
value.  Everything else (layer norms, attention, QuickGELU, the projection,
the text tower) is the float reference of gen_clip_ref.py, in float64.
Written from that definition with torch primitives and a custom autograd
Function - not from the C code.

Writes tests/fixtures/clip/tiny_bf16_ref.safetensors:
  image_emb, image_block.<l>   the forward
  grad.image                   d/d image of <emb,R> + 0.1 sum_l <block_l, R_l>
                               (R, R_l: tiny_ref's image_demb, image_dblock.<l>/0.1)
  grademb.image                d/d image of <emb,R> alone
Run: /usr/bin/python3 tests/gen_clip_bf16_ref.py   (needs Debian's python3-torch; CI does not)
"""
import math, os, sys
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st_write  # noqa: E402
from st_write import write_safetensors  # noqa: E402
from gen_clip_ref import block_names, qgelu  # noqa: E402

FIX = os.path.join(HERE, "fixtures", "clip")
D = torch.float64


def read_safetensors(path):
    arrays, _ = st_write.read_safetensors(path)
    return {k: torch.from_numpy(v).to(D) for k, v in arrays.items()}


def bf(t):
    return t.to(torch.float32).bfloat16().to(D)


class BfMatmul(torch.autograd.Function):
    """y = bf16(x) bf16(w)^T; dx = bf16(dy) bf16(w); w is frozen"""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(w)
        return bf(x) @ bf(w).T

    @staticmethod
    def backward(ctx, dy):
        (w,) = ctx.saved_tensors
        return bf(dy) @ bf(w), None


def lin(x, w, b):
    return BfMatmul.apply(x, w) + b


def resblock(x, P, p, heads):
    B, T, W = x.shape
    hd = W // heads
    h = F.layer_norm(x, (W,), P[p + "ln_1.weight"], P[p + "ln_1.bias"], eps=1e-5)
    qkv = lin(h, P[p + "attn.in_proj_weight"], P[p + "attn.in_proj_bias"])
    q, k, v = (t.view(B, T, heads, hd).transpose(1, 2) for t in qkv.split(W, dim=-1))
    a = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(hd), dim=-1)
    o = (a @ v).transpose(1, 2).reshape(B, T, W)
    x = x + lin(o, P[p + "attn.out_proj.weight"], P[p + "attn.out_proj.bias"])
    h = F.layer_norm(x, (W,), P[p + "ln_2.weight"], P[p + "ln_2.bias"], eps=1e-5)
    h = qgelu(lin(h, P[p + "mlp.c_fc.weight"], P[p + "mlp.c_fc.bias"]))
    return x + lin(h, P[p + "mlp.c_proj.weight"], P[p + "mlp.c_proj.bias"])


def encode_image(P, img, patch, heads, layers, feats):
    B, _, S, _ = img.shape
    G = S // patch
    Wc = P["visual.conv1.weight"]
    Wv = Wc.shape[0]
    # patches (B, G*G, 3*P*P), element (ch, ky, kx): the conv as one product
    x = img.reshape(B, 3, G, patch, G, patch).permute(0, 2, 4, 1, 3, 5).reshape(B, G * G, 3 * patch * patch)
    x = BfMatmul.apply(x, Wc.reshape(Wv, -1))
    cls = P["visual.class_embedding"].expand(B, 1, Wv)
    x = torch.cat([cls, x], dim=1) + P["visual.positional_embedding"]
    x = F.layer_norm(x, (Wv,), P["visual.ln_pre.weight"], P["visual.ln_pre.bias"], eps=1e-5)
    for i, p in block_names("visual.transformer", layers):
        x = resblock(x, P, p, heads)
        feats.append(x)
    x = F.layer_norm(x[:, 0, :], (Wv,), P["visual.ln_post.weight"], P["visual.ln_post.bias"], eps=1e-5)
    return x @ P["visual.proj"]


def main():
    P = read_safetensors(os.path.join(FIX, "tiny_openai.safetensors"))
    R = read_safetensors(os.path.join(FIX, "tiny_ref.safetensors"))
    patch, heads, layers = 8, 2, 2
    out = {}
    img = R["image"].clone().requires_grad_(True)
    feats = []
    emb = encode_image(P, img, patch, heads, layers, feats)
    loss = (emb * R["image_demb"]).sum() + sum((f * R[f"image_dblock.{l}"]).sum() for l, f in enumerate(feats))
    loss.backward()
    out["image_emb"] = emb.detach()
    for l, f in enumerate(feats):
        out[f"image_block.{l}"] = f.detach()
    out["grad.image"] = img.grad.detach().clone()
    img.grad = None
    (encode_image(P, img, patch, heads, layers, []) * R["image_demb"]).sum().backward()
    out["grademb.image"] = img.grad.detach().clone()
    # how far the bf16 mode is from the float model (for the record; the C test checks the same)
    f = R["image_emb"]
    print("bf16 vs float embedding: max |d| %.3g, max |float| %.3g" % ((emb - f).abs().max(), f.abs().max()))
    write_safetensors(os.path.join(FIX, "tiny_bf16_ref.safetensors"), {k: v.to(torch.float32) for k, v in out.items()})
    print("wrote", os.path.join(FIX, "tiny_bf16_ref.safetensors"))


if __name__ == "__main__":
    main()
