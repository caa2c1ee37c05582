#!/usr/bin/python3
"""gen_saliency_ref.py - independent PyTorch/numpy reference for CLIPasso's saliency
stroke initialisation in C (common/saliency.c; docs/study.md 3.7).

Written from the published description, with torch and numpy primitives:
  relevancy  the target resized to the model's input size with
             F.interpolate(bilinear, antialias=True) when the canvas differs from it,
             CLIP-normalised, through a ViT image tower (written here again, keeping
             each block's softmax attention probabilities); per block clamp(min=0) and
             the mean over heads, the mean over blocks, the class token's row over the
             patch tokens, F.interpolate(bicubic, align_corners=False) to the canvas,
             min-max normalised.
  edges      XDoG of the grey CLIP-normalised target (grey = rgb2gray's weights
             0.2125/0.7154/0.0721): Gaussian blurs with sigma 0.8 and 8 as scipy's
             gaussian_filter does them (kernel radius int(4 sigma + 0.5), weights
             normalised, borders by np.pad's 'symmetric' mode, axis 0 then axis 1,
             float32 between passes), D = g1 - 0.98 g2, 1 where D < -0.1 else
             1 + tanh(200 D), min-max normalised; Otsu threshold (np.histogram with
             256 bins over [min, max], between-class variance); E = X >= threshold.
  map        (1 - E) * relevancy.
The model is the tiny random-weight CLIP of tests/fixtures/clip/tiny_openai.safetensors
(image 32, patch 8: a 4 x 4 patch grid, width 64, 2 blocks, 2 heads).

Writes tests/fixtures/saliency/ref.safetensors:
  a.rgb (3,64,64)   a 64 x 64 target (canvas != model size: the resize path)
  a.grid (4,4)      class-token row averaged over heads and blocks
  a.attn (64,64)    relevancy map       a.xdog (64,64)  normalised XDoG response
  a.otsu ()         Otsu threshold      a.edges (64,64) E       a.map (64,64)  the map
  b.rgb (3,32,32), b.grid, b.attn, b.map   a 32 x 32 target (canvas == model size)
  c.grey (8,8), c.xdog (8,8)   XDoG of an 8 x 8 grey picture (kernel much longer than
                                the image: the mirroring repeats)
Run: /usr/bin/python3 tests/gen_saliency_ref.py   (needs Debian's python3-torch; CI does not)
"""
import math, os, sys
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402
from st_write import write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("SALIENCY_REF_OUT") or os.path.join(HERE, "fixtures", "saliency")
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def read_safetensors(path):
    """name -> float32 torch tensor, and the metadata (st_write.read_safetensors)."""
    arrays, meta = st_write.read_safetensors(path)
    return {k: torch.from_numpy(v) for k, v in arrays.items()}, meta


# ------------------------------------------------------------------ relevancy

def vit_attention(P, img, heads):
    """img (1,3,S,S) normalised -> list over blocks of attention probabilities (1,NH,T,T)."""
    conv = P["visual.conv1.weight"]
    W, p = conv.shape[0], conv.shape[-1]
    x = F.conv2d(img, conv, stride=p).flatten(2).transpose(1, 2)          # (1, g*g, W)
    x = torch.cat([P["visual.class_embedding"].view(1, 1, W), x], 1) + P["visual.positional_embedding"]
    x = F.layer_norm(x, (W,), P["visual.ln_pre.weight"], P["visual.ln_pre.bias"], 1e-5)
    probs, l = [], 0
    while "visual.transformer.resblocks.%d.ln_1.weight" % l in P:
        q = "visual.transformer.resblocks.%d." % l
        T, hd = x.shape[1], W // heads
        h = F.layer_norm(x, (W,), P[q + "ln_1.weight"], P[q + "ln_1.bias"], 1e-5)
        qkv = F.linear(h, P[q + "attn.in_proj_weight"], P[q + "attn.in_proj_bias"])
        qq, kk, vv = (t.reshape(1, T, heads, hd).permute(0, 2, 1, 3) for t in qkv.chunk(3, -1))
        a = torch.softmax(qq @ kk.transpose(-2, -1) / math.sqrt(hd), -1)   # (1, NH, T, T)
        probs.append(a)
        o = (a @ vv).permute(0, 2, 1, 3).reshape(1, T, W)
        x = x + F.linear(o, P[q + "attn.out_proj.weight"], P[q + "attn.out_proj.bias"])
        h = F.layer_norm(x, (W,), P[q + "ln_2.weight"], P[q + "ln_2.bias"], 1e-5)
        h = F.linear(h, P[q + "mlp.c_fc.weight"], P[q + "mlp.c_fc.bias"])
        h = h * torch.sigmoid(1.702 * h)
        x = x + F.linear(h, P[q + "mlp.c_proj.weight"], P[q + "mlp.c_proj.bias"])
        l += 1
    return probs


def relevancy(P, heads, rgb):
    """rgb (3,H,W) float32 in [0,1] -> grid (g,g), attn (H,W)."""
    S = int(math.isqrt(P["visual.positional_embedding"].shape[0] - 1)) * P["visual.conv1.weight"].shape[-1]
    H, W = rgb.shape[1:]
    x = torch.from_numpy(rgb)[None]
    if (H, W) != (S, S):
        x = F.interpolate(x, size=(S, S), mode="bilinear", align_corners=False, antialias=True)
    x = (x - torch.from_numpy(MEAN).view(1, 3, 1, 1)) / torch.from_numpy(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        probs = vit_attention(P, x, heads)
        per_block = torch.stack([a.clamp(min=0).mean(dim=1) for a in probs])  # (L, 1, T, T)
        g = int(math.isqrt(probs[0].shape[-1] - 1))
        grid = per_block[:, 0, 0, 1:].mean(dim=0).reshape(1, 1, g, g)
        up = F.interpolate(grid, size=(H, W), mode="bicubic", align_corners=False)[0, 0]
        up = (up - up.min()) / (up.max() - up.min())
    return grid[0, 0].numpy(), up.numpy().astype(np.float32)


# ---------------------------------------------------------------------- edges

def grey_of(rgb):
    norm = (rgb - MEAN[:, None, None]) / STD[:, None, None]
    return np.transpose(norm, (1, 2, 0)) @ np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)


def gaussian(im, sigma):
    r = int(4.0 * sigma + 0.5)
    k = np.exp(-0.5 * np.arange(-r, r + 1, dtype=np.float64) ** 2 / sigma ** 2)
    k /= k.sum()
    out = im.astype(np.float32)
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r, r)
        p = np.pad(out.astype(np.float64), pad, mode="symmetric")
        n = out.shape[axis]
        acc = np.zeros(out.shape, np.float64)
        for j in range(2 * r + 1):
            acc += k[j] * (p[j:j + n, :] if axis == 0 else p[:, j:j + n])
        out = acc.astype(np.float32)
    return out


def xdog(grey):
    g1, g2 = gaussian(grey, 0.8), gaussian(grey, 0.8 * 10)
    d = g1 - np.float32(0.98) * g2
    x = np.where(d < np.float32(-0.1), 1.0, (np.float32(1) + np.tanh(np.float32(200) * d)).astype(np.float64))
    x = x - x.min()
    return x / x.max()


def otsu(x):
    counts, edges = np.histogram(x, bins=256, range=(float(x.min()), float(x.max())))
    c = (edges[:-1] + edges[1:]) / 2
    w1, w2 = np.cumsum(counts), np.cumsum(counts[::-1])[::-1]
    m1 = np.cumsum(counts * c) / w1
    m2 = (np.cumsum((counts * c)[::-1]) / w2[::-1])[::-1]
    var = w1[:-1] * w2[1:] * (m1[:-1] - m2[1:]) ** 2
    return float(c[np.argmax(var)])


# -------------------------------------------------------------------- targets

def target(H, W, seed):
    """White paper, a few dark anti-aliased strokes (a circle and two lines) and a
    coloured blob: edges for XDoG, structure for the attention."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W].astype(np.float64) + 0.5
    img = np.ones((3, H, W))
    ink = np.zeros((H, W))
    cx, cy, rad = W * 0.42, H * 0.45, min(H, W) * 0.27
    ink = np.maximum(ink, np.clip(1.5 - np.abs(np.hypot(x - cx, y - cy) - rad), 0, 1))
    for (x0, y0, x1, y1) in rng.uniform(0.1, 0.9, (2, 4)) * [W, H, W, H]:
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy), 0, 1)
        ink = np.maximum(ink, np.clip(1.5 - np.hypot(x - x0 - t * dx, y - y0 - t * dy), 0, 1))
    blob = np.exp(-((x - W * 0.7) ** 2 + (y - H * 0.72) ** 2) / (2 * (min(H, W) * 0.08) ** 2))
    for ch, col in enumerate((0.9, 0.35, 0.1)):
        img[ch] = img[ch] * (1 - blob) + col * blob
    img *= 1 - 0.9 * ink
    return np.clip(img, 0, 1).astype(np.float32)


def main():
    P, meta = read_safetensors(os.path.join(HERE, "fixtures", "clip", "tiny_openai.safetensors"))
    heads = int(meta["v_heads"])
    os.makedirs(OUT, exist_ok=True)
    ref = {}
    a = target(64, 64, 1)
    grid, attn = relevancy(P, heads, a)
    xd = xdog(grey_of(a))
    th = otsu(xd)
    edges = (xd >= th).astype(np.float32)
    ref.update({"a.rgb": a, "a.grid": grid, "a.attn": attn, "a.xdog": xd.astype(np.float32),
                "a.otsu": np.array(th, dtype=np.float64), "a.edges": edges, "a.map": (1 - edges) * attn})
    b = target(32, 32, 2)
    grid, attn = relevancy(P, heads, b)
    xd = xdog(grey_of(b))
    eb = (xd >= otsu(xd)).astype(np.float32)
    ref.update({"b.rgb": b, "b.grid": grid, "b.attn": attn, "b.map": (1 - eb) * attn})
    c = np.random.default_rng(3).uniform(-2, 2, (8, 8)).astype(np.float32)
    ref.update({"c.grey": c, "c.xdog": xdog(c).astype(np.float32)})
    write_safetensors(os.path.join(OUT, "ref.safetensors"), ref)
    print("wrote", OUT, "otsu", th, "edge fraction", edges.mean(), "positive map pixels",
          int((ref["a.map"] > 0).sum()), "of", ref["a.map"].size)


if __name__ == "__main__":
    main()
