#!/usr/bin/python3
"""gen_resnet_ref.py - independent PyTorch reference for CLIP's ResNet image tower (common/clip_resnet.c).

Written here from the published architecture (Radford et al. 2021, "Learning Transferable Visual Models
From Natural Language Supervision", section 2.4: ResNet-D stem and anti-aliased rect-2 blur pooling, i.e.
average pooling before strided convolutions, and attention pooling in place of global average pooling)
with torch.nn.functional primitives; no clip / open_clip package is imported.

  stem:   3x3 conv (3 -> w/2, stride 2, pad 1), BN, ReLU; 3x3 conv (w/2 -> w/2), BN, ReLU;
          3x3 conv (w/2 -> w), BN, ReLU; 2x2 average pool
  stages: planes w, 2w, 4w, 8w; the first block of stages 2..4 has stride 2; bottleneck =
          1x1 conv, BN, ReLU, 3x3 conv, BN, ReLU, AvgPool(stride), 1x1 conv (-> 4 planes), BN,
          + shortcut (identity, or AvgPool(stride), 1x1 conv, BN on the first block of a stage), ReLU
  head:   tokens = [mean of the map; the g*g map positions] + positional embedding; one multi-head
          attention in which only the mean token queries (q, k, v projections, softmax(q k / sqrt(hd)),
          output projection c)
Batch norm is frozen (eval mode, running statistics, eps 1e-5).

Writes into tests/fixtures/resnet/:
  tiny_rn.safetensors   a tiny whole CLIP (ResNet image tower, width 4, layers (1,2,1,1), image 64,
                        attention pool 128 wide with 2 heads, output 16; text tower width 64, 1 layer,
                        context 16, vocabulary 300), OpenAI / open_clip naming, F32, with random weights
                        and non-trivial batch-norm statistics
  tiny_rn.pt            the same state dict as a PyTorch zip checkpoint (torch.save)
  tiny_rn_jit.pt        the same as a TorchScript archive (torch.jit.save of a scripted module tree), the form
                        of OpenAI's released RN50.pt / RN101.pt
  tiny_rn_ref.safetensors  the input (2 images), embeddings, the 5 features (stem, layer1..4), the
                        upstream gradients, the input gradient and every vision parameter's gradient
                        (loss = <emb, R> + 0.1 sum_l <feat_l, R_l>), and the embedding-only gradients
  rn_png_ref.safetensors   the embedding of tests/fixtures/resnet/rn64.png (64x64, exact size, so CLIP's
  rn64.emb.txt          preprocessing only normalises), for the clip-embed end-to-end test (tests/cli/resnet.sh)
  geo_ref.safetensors   CLIPasso's geometric loss (L2 of layer2 and layer3 + 0.1 (1 - cos)) of 2 views and of
                        the first alone against rn64.png, with its gradient (tests/unit/test_loss_geometric.c)
Run: /usr/bin/python3 tests/gen_resnet_ref.py   (needs PyTorch; CI does not)
"""
import math
import os
import sys
import zlib
import struct

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_write import write_safetensors  # noqa: E402

OUT = os.environ.get("RN_REF_OUT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "resnet")
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]


def geometry(width, layers):
    """(stage, index, inplanes, planes, stride, has_downsample) of every bottleneck."""
    out, inplanes = [], width
    for s, n in enumerate(layers):
        planes = width * 2 ** s
        for j in range(n):
            stride = 2 if (j == 0 and s > 0) else 1
            out.append((s, j, inplanes, planes, stride, stride > 1 or inplanes != 4 * planes))
            inplanes = 4 * planes
    return out


def make_params(cfg, rnd):
    P = {}
    w, h, D, E = cfg["width"], cfg["width"] // 2, 32 * cfg["width"], cfg["embed"]
    g = cfg["image"] // 32

    def conv(n, o, i, k):
        P[n] = rnd((o, i, k, k)) * math.sqrt(2.0 / (i * k * k))

    def bn(p, c):
        P[p + "weight"] = 1 + 0.2 * rnd((c,))
        P[p + "bias"] = 0.1 * rnd((c,))
        P[p + "running_mean"] = 0.2 * rnd((c,))
        P[p + "running_var"] = 0.5 + torch.rand(c, dtype=torch.float64)
        P[p + "num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)  # ignored by the loader

    conv("visual.conv1.weight", h, 3, 3); bn("visual.bn1.", h)
    conv("visual.conv2.weight", h, h, 3); bn("visual.bn2.", h)
    conv("visual.conv3.weight", w, h, 3); bn("visual.bn3.", w)
    for s, j, inp, p, stride, down in geometry(w, cfg["layers"]):
        q = f"visual.layer{s + 1}.{j}."
        conv(q + "conv1.weight", p, inp, 1); bn(q + "bn1.", p)
        conv(q + "conv2.weight", p, p, 3); bn(q + "bn2.", p)
        conv(q + "conv3.weight", 4 * p, p, 1); bn(q + "bn3.", 4 * p)
        if down:
            conv(q + "downsample.0.weight", 4 * p, inp, 1); bn(q + "downsample.1.", 4 * p)
    P["visual.attnpool.positional_embedding"] = rnd((g * g + 1, D)) / math.sqrt(D)
    for n in "qkv":
        P[f"visual.attnpool.{n}_proj.weight"] = rnd((D, D)) / math.sqrt(D)
        P[f"visual.attnpool.{n}_proj.bias"] = 0.1 * rnd((D,))
    P["visual.attnpool.c_proj.weight"] = rnd((E, D)) / math.sqrt(D)
    P["visual.attnpool.c_proj.bias"] = 0.1 * rnd((E,))
    # the text tower (the same transformer as the ViT CLIPs; not under test here)
    Wt = cfg["t_width"]
    P["token_embedding.weight"] = 0.5 * rnd((cfg["vocab"], Wt))
    P["positional_embedding"] = 0.1 * rnd((cfg["context"], Wt))
    for i in range(cfg["t_layers"]):
        q = f"transformer.resblocks.{i}."
        P[q + "ln_1.weight"] = 1 + 0.1 * rnd((Wt,)); P[q + "ln_1.bias"] = 0.1 * rnd((Wt,))
        P[q + "attn.in_proj_weight"] = rnd((3 * Wt, Wt)) / math.sqrt(Wt); P[q + "attn.in_proj_bias"] = 0.1 * rnd((3 * Wt,))
        P[q + "attn.out_proj.weight"] = rnd((Wt, Wt)) / math.sqrt(Wt); P[q + "attn.out_proj.bias"] = 0.1 * rnd((Wt,))
        P[q + "ln_2.weight"] = 1 + 0.1 * rnd((Wt,)); P[q + "ln_2.bias"] = 0.1 * rnd((Wt,))
        P[q + "mlp.c_fc.weight"] = rnd((4 * Wt, Wt)) / math.sqrt(Wt); P[q + "mlp.c_fc.bias"] = 0.1 * rnd((4 * Wt,))
        P[q + "mlp.c_proj.weight"] = rnd((Wt, 4 * Wt)) / math.sqrt(4 * Wt); P[q + "mlp.c_proj.bias"] = 0.1 * rnd((Wt,))
    P["ln_final.weight"] = 1 + 0.1 * rnd((Wt,)); P["ln_final.bias"] = 0.1 * rnd((Wt,))
    P["text_projection"] = rnd((Wt, E)) / math.sqrt(Wt)
    P["logit_scale"] = torch.tensor(math.log(1 / 0.07), dtype=torch.float64)
    # every float tensor rounded to float32 (what the file holds), computed in float64
    return {k: (v.float().double() if v.is_floating_point() else v) for k, v in P.items()}


def bn_eval(x, P, p):
    return F.batch_norm(x, P[p + "running_mean"], P[p + "running_var"], P[p + "weight"], P[p + "bias"],
                        training=False, eps=1e-5)


def bottleneck(x, P, q, stride, down):
    out = F.relu(bn_eval(F.conv2d(x, P[q + "conv1.weight"]), P, q + "bn1."))
    out = F.relu(bn_eval(F.conv2d(out, P[q + "conv2.weight"], padding=1), P, q + "bn2."))
    if stride > 1:
        out = F.avg_pool2d(out, stride)
    out = bn_eval(F.conv2d(out, P[q + "conv3.weight"]), P, q + "bn3.")
    idt = x
    if down:
        if stride > 1:
            idt = F.avg_pool2d(idt, stride)
        idt = bn_eval(F.conv2d(idt, P[q + "downsample.0.weight"]), P, q + "downsample.1.")
    return F.relu(out + idt)


def attnpool(x, P, heads):
    B, D, H, W = x.shape
    t = x.reshape(B, D, H * W).permute(0, 2, 1)                       # (B, HW, D)
    t = torch.cat([t.mean(dim=1, keepdim=True), t], dim=1)           # (B, HW+1, D)
    t = t + P["visual.attnpool.positional_embedding"][None]
    q = t[:, :1] @ P["visual.attnpool.q_proj.weight"].t() + P["visual.attnpool.q_proj.bias"]
    k = t @ P["visual.attnpool.k_proj.weight"].t() + P["visual.attnpool.k_proj.bias"]
    v = t @ P["visual.attnpool.v_proj.weight"].t() + P["visual.attnpool.v_proj.bias"]
    hd = D // heads
    q = q.reshape(B, 1, heads, hd).transpose(1, 2)                   # (B, NH, 1, hd)
    k = k.reshape(B, -1, heads, hd).transpose(1, 2)
    v = v.reshape(B, -1, heads, hd).transpose(1, 2)
    a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1)
    o = (a @ v).transpose(1, 2).reshape(B, D)
    return o @ P["visual.attnpool.c_proj.weight"].t() + P["visual.attnpool.c_proj.bias"]


def encode_image(P, cfg, img):
    """-> (embedding, [stem, layer1, layer2, layer3, layer4])"""
    x = img
    for i in (1, 2, 3):
        x = F.relu(bn_eval(F.conv2d(x, P[f"visual.conv{i}.weight"], stride=2 if i == 1 else 1, padding=1), P,
                           f"visual.bn{i}."))
    x = F.avg_pool2d(x, 2)
    feats = [x]
    for s, j, inp, p, stride, down in geometry(cfg["width"], cfg["layers"]):
        x = bottleneck(x, P, f"visual.layer{s + 1}.{j}.", stride, down)
        if j == cfg["layers"][s] - 1:
            feats.append(x)
    return attnpool(x, P, cfg["heads"]), feats


class _Node(torch.nn.Module):
    """One level of a TorchScript module tree whose attribute paths spell the state dict's names."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def torchscript(sd, path):
    """torch.jit.save of a scripted module tree holding sd (parameters; running statistics and
    num_batches_tracked as buffers): the archive layout of OpenAI's released .pt files."""
    root = _Node()
    for name, t in sd.items():
        parts, m = name.split("."), root
        for p in parts[:-1]:
            if p not in m._modules:
                m.add_module(p, _Node())
            m = m._modules[p]
        if t.is_floating_point() and "running_" not in parts[-1]:
            m.register_parameter(parts[-1], torch.nn.Parameter(t.clone(), requires_grad=False))
        else:
            m.register_buffer(parts[-1], t.clone())
    torch.jit.save(torch.jit.script(root), path)


def png_rgb(path, img):
    """img (H,W,3) uint8 -> a PNG file (zlib, filter 0), written from the format's description."""
    H, W, _ = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(H))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    torch.manual_seed(15)
    os.makedirs(OUT, exist_ok=True)
    cfg = dict(width=4, layers=(1, 2, 1, 1), image=64, heads=2, embed=16, t_width=64, t_layers=1, context=16,
               vocab=300)
    P = make_params(cfg, lambda shape: torch.randn(shape, dtype=torch.float64))
    vis = {k: v for k, v in P.items() if k.startswith("visual.") and v.is_floating_point()
           and "running_" not in k}
    for v in vis.values():
        v.requires_grad_(True)
    B = 2
    img = torch.randn(B, 3, cfg["image"], cfg["image"], dtype=torch.float64).float().double().requires_grad_(True)
    emb, feats = encode_image(P, cfg, img)
    R = torch.randn_like(emb).float().double()
    RF = [(0.1 * torch.randn_like(f)).float().double() for f in feats]
    loss = (emb * R).sum() + sum((f * r).sum() for f, r in zip(feats, RF))
    loss.backward()
    ref = {"image": img.detach(), "emb": emb.detach(), "demb": R}
    for l, (f, r) in enumerate(zip(feats, RF)):
        ref[f"feat.{l}"] = f.detach()
        ref[f"dfeat.{l}"] = r
    ref["grad.image"] = img.grad.detach().clone()
    for n, v in vis.items():
        ref["grad." + n] = v.grad.detach().clone()
        v.grad = None
    img.grad = None
    e2, _ = encode_image(P, cfg, img)
    (e2 * R).sum().backward()
    ref["grademb.image"] = img.grad.detach().clone()
    for n in ("visual.conv1.weight", "visual.layer1.0.conv1.weight", "visual.attnpool.q_proj.weight",
              "visual.attnpool.positional_embedding", "visual.layer4.0.downsample.1.weight"):
        ref["grademb." + n] = vis[n].grad.detach().clone()
    write_safetensors(os.path.join(OUT, "tiny_rn_ref.safetensors"), {k: v.float() for k, v in ref.items()})
    Pf = {k: (v.detach().float().contiguous() if v.is_floating_point() else v) for k, v in P.items()}
    write_safetensors(os.path.join(OUT, "tiny_rn.safetensors"),
                      {k: v for k, v in Pf.items() if v.is_floating_point()},
                      {"v_heads": cfg["heads"], "t_heads": 1})
    torch.save(Pf, os.path.join(OUT, "tiny_rn.pt"))  # num_batches_tracked (int64) included, as in real files
    torchscript(Pf, os.path.join(OUT, "tiny_rn_jit.pt"))

    # an exact-size PNG and its unit embedding (CLIP preprocessing = normalisation only)
    y, x = np.mgrid[0:64, 0:64]
    rgb = np.stack([(127 + 120 * np.sin(0.19 * x + 0.07 * y + c)) for c in range(3)], axis=-1).astype(np.uint8)
    png_rgb(os.path.join(OUT, "rn64.png"), rgb)
    t = torch.tensor(rgb, dtype=torch.float64).permute(2, 0, 1)[None] / 255.0
    t = ((t.float() - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]).double()
    with torch.no_grad():
        e, _ = encode_image(P, cfg, t)
    e = e / e.norm(dim=-1, keepdim=True)
    write_safetensors(os.path.join(OUT, "rn_png_ref.safetensors"), {"unit_emb": e.float()})
    with open(os.path.join(OUT, "rn64.emb.txt"), "w") as f:  # the same numbers for the shell test
        f.write("\n".join("%.8g" % v for v in e[0].tolist()) + "\n")

    # CLIPasso's CLIPConvLoss on this model (docs/study.md, "Intermediate-layer loss"): L2 (mean squared difference) of layer2
    # and layer3 + 0.1 * mean_k (1 - cos) of the embeddings, images in [0,1] (normalised inside), against
    # the target rn64.png; for 2 views (input=views) and for the first alone (input=image)
    tgt = torch.tensor(rgb, dtype=torch.float64).permute(2, 0, 1)[None] / 255.0
    g = torch.Generator().manual_seed(4)
    views = (0.5 + 0.3 * torch.randn(2, 3, 64, 64, generator=g, dtype=torch.float64)).clamp(0, 1).float().double()
    mean = torch.tensor(MEAN, dtype=torch.float64)[:, None, None]
    std = torch.tensor(STD, dtype=torch.float64)[:, None, None]

    def clipasso(x):
        ex, fx = encode_image(P, cfg, (x - mean) / std)
        with torch.no_grad():
            et, ft = encode_image(P, cfg, (tgt.float().double() - mean) / std)
        conv = sum(((fx[l] - ft[l]) ** 2).mean() for l in (2, 3))
        cos = F.cosine_similarity(ex, et.expand_as(ex), dim=1)
        return conv + 0.1 * (1 - cos).mean()
    geo = {"geo.views": views}
    for name, x in (("views", views.clone()), ("image", views[:1].clone())):
        x.requires_grad_(True)
        L = clipasso(x)
        L.backward()
        geo[f"geo.{name}.loss"] = L.detach().reshape(1)
        geo[f"geo.{name}.grad"] = x.grad.detach()
    write_safetensors(os.path.join(OUT, "geo_ref.safetensors"), {k: v.float() for k, v in geo.items()})
    # fuzz seeds for fuzz_tensorfile (first byte 0: tf_open_mem; clip_load_tf then takes the ResNet path):
    # a minimal ResNet CLIP (width 2, one block per stage, image 32, text width 8) as safetensors and zip
    mini = dict(width=2, layers=(1, 1, 1, 1), image=32, heads=1, embed=4, t_width=8, t_layers=1, context=4,
                vocab=6)
    Pm = make_params(mini, lambda shape: torch.zeros(shape, dtype=torch.float64))
    Pm = {k: (v.float() if v.is_floating_point() else v) for k, v in Pm.items()}
    seeds = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz", "seeds", "fuzz_tensorfile")
    os.makedirs(seeds, exist_ok=True)
    tmp = os.path.join(OUT, "mini.tmp")
    write_safetensors(tmp, {k: v for k, v in Pm.items() if v.is_floating_point()})
    with open(tmp, "rb") as f:
        st = f.read()
    torch.save(Pm, tmp)
    with open(tmp, "rb") as f:
        zp = f.read()
    os.remove(tmp)
    for name, data in (("resnet-min-safetensors", st), ("resnet-min-zip", zp)):
        with open(os.path.join(seeds, name), "wb") as f:
            f.write(b"\x00" + data)
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
