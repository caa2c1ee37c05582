#!/usr/bin/python3
"""torch_optimize.py - the PyTorch peer of bench/optimize.sh: one optimisation step of
inverse CLIPasso, and the reference-anchor run, as the study runs them in PyTorch.

The study's code style (docs/study.md 2.1, 2.2, 3.1-3.5, 4.2, 4.3, 4.8), written here
from that description: a CLIP of OpenAI's module structure (visual.conv1, class token,
transformer.resblocks with nn.MultiheadAttention, QuickGELU MLP c_fc/c_proj, ln_post @ proj;
the text tower pooled at the end token), float32 on CPU, its encode_image run with autograd.

  write FILE      build a random-weight ViT-B/32 CLIP of the real shape (151 M parameters,
                  seed 0, OpenAI's initialisation scales) and write it as safetensors in
                  OpenAI naming, the file bin/optimize --model reads: both sides run the
                  same weights.
  step            --model FILE: N steps of the study's Bezier optimiser (4.2) with
                  augmentations: 8 random cubics (BezierSketch init, 2.2) -> each sampled at
                  50 points -> the soft splat renderer (2.1: 10 samples per chord, every splat
                  over the whole canvas in chunks of 1000 points, ink / max, clamp) as RGB ->
                  CLIP normalisation -> CLIPAugmentations (3.5: the original + 3 views, each
                  p=0.5 perspective 0.15, p=0.7 crop-resize (0.7, 1), p=0.3 rotation 10 deg
                  nearest, p=0.3 jitter; applied after normalisation as the study) ->
                  encode_image on the batch of 4 -> unit rows, mean -> semantic 1 - cos to the
                  text target; stroke regulariser on the cubics sampled at 20 points (4.3,
                  weight 0.01); TV (weight 0.001) -> backward -> clip_grad_norm_(1.0) -> Adam
                  (torch defaults, lr 1) -> clamp to [0, 224].
  anchor          --model FILE --image PIC --drawing NDJSON: the reference-anchor run (4.8):
                  one fish drawing fitted to 224 (pad 10), its polylines the parameters, no
                  Bezier, no augmentation; per step render (splats, width 3) -> normalise ->
                  encode_image -> 1 - cos to the reference picture's embedding (squash-resized
                  to 224, bilinear) -> backward -> clip 1.0 -> Adam lr 0.5 -> clamp.

Two ways to run (--style):
  users   as the study runs it: torch defaults (intra-op threads = cores), CLIP loaded as
          clip.load gives it (parameters require grad, so backward also computes the weight
          gradients nobody uses), the dense splat renderer, the text target under no_grad.
  tuned   what a competent user does on CPU without changing the maths: CLIP's parameters
          frozen (requires_grad_(False); backward reaches the image only), the text target
          under inference_mode, --threads N (the script runs 1 and 2 and keeps the best),
          and the splat renderer evaluated separably: exp(-(dx^2+dy^2)/2s^2) =
          exp(-dx^2/2s^2) exp(-dy^2/2s^2), so ink = Gy^T Gx, one (S x P)(P x S) product
          instead of P x S^2 exponentials - the same function, other rounding.  bench/optimize.sh
          adds OMP_WAIT_POLICY=PASSIVE and keeps glibc from returning freed memory.

Prints "name value" lines: steps, seconds (the step loop, as bin/optimize --timing: model
load and text/reference embedding excluded), per_step (seconds / steps), cpu_per_step and
cpu_per_step_after_first (the process's CPU seconds, all threads: steadier than the wall clock
on a loaded machine), the forward phases' seconds summed over the steps (render, augment,
encode, losses) and backward, update; and
the first and last loss and similarity as a sanity check.
"""
import argparse
import gzip
import json
import math
import os
import random
import re
import resource
import struct
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


# ----------------------------------------------------------------------------- safetensors

def st_write(path, tensors):
    header, off, blobs = {}, 0, []
    for name in sorted(tensors):
        a = tensors[name].detach().cpu().contiguous().numpy().astype("<f4")
        raw = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def st_read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = bytearray(os.fstat(f.fileno()).st_size - 8 - n)
        f.readinto(data)
    out = {}
    for name, d in header.items():
        if name == "__metadata__":
            continue
        assert d["dtype"] == "F32", name
        a, b = d["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data, dtype="<f4", count=(b - a) // 4, offset=a)
                                     .reshape(d["shape"]))
    return out


# ----------------------------------------------------------------------------- CLIP (OpenAI's structure)

class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, w, heads, mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(w, heads)
        self.ln_1 = nn.LayerNorm(w)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(w, 4 * w)), ("gelu", QuickGELU()),
                                              ("c_proj", nn.Linear(4 * w, w))]))
        self.ln_2 = nn.LayerNorm(w)
        self.mask = mask  # a plain attribute, as OpenAI's (not in the state dict)

    def forward(self, x):  # (T, B, W)
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=self.mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, w, layers, heads, mask=None):
        super().__init__()
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(w, heads, mask) for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    def __init__(self, S=224, P=32, W=768, L=12, H=12, E=512):
        super().__init__()
        scale = W ** -0.5
        self.conv1 = nn.Conv2d(3, W, P, P, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(W))
        self.positional_embedding = nn.Parameter(scale * torch.randn((S // P) ** 2 + 1, W))
        self.ln_pre = nn.LayerNorm(W)
        self.transformer = Transformer(W, L, H)
        self.ln_post = nn.LayerNorm(W)
        self.proj = nn.Parameter(scale * torch.randn(W, E))

    def forward(self, x):
        x = self.conv1(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_embedding.expand(x.shape[0], 1, -1), x], 1) + self.positional_embedding
        x = self.transformer(self.ln_pre(x).transpose(0, 1)).transpose(0, 1)
        return self.ln_post(x[:, 0]) @ self.proj


class CLIP(nn.Module):
    def __init__(self, V=49408, C=77, W=512, L=12, H=8, E=512):
        super().__init__()
        self.visual = VisionTransformer(E=E)
        mask = torch.full((C, C), float("-inf")).triu(1)
        self.transformer = Transformer(W, L, H, mask)
        self.token_embedding = nn.Embedding(V, W)
        self.positional_embedding = nn.Parameter(torch.empty(C, W))
        self.ln_final = nn.LayerNorm(W)
        self.text_projection = nn.Parameter(torch.empty(W, E))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def init_openai(self):
        """OpenAI's initialize_parameters scales (random weights of realistic magnitude)."""
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        for tr, w in ((self.transformer, 512), (self.visual.transformer, 768)):
            L = len(tr.resblocks)
            proj_std, attn_std, fc_std = (w ** -0.5) * ((2 * L) ** -0.5), w ** -0.5, (2 * w) ** -0.5
            for b in tr.resblocks:
                nn.init.normal_(b.attn.in_proj_weight, std=attn_std)
                nn.init.normal_(b.attn.out_proj.weight, std=proj_std)
                nn.init.normal_(b.mlp.c_fc.weight, std=fc_std)
                nn.init.normal_(b.mlp.c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection, std=512 ** -0.5)

    def encode_image(self, x):
        return self.visual(x)

    def encode_text(self, ids):
        x = self.token_embedding(ids) + self.positional_embedding
        x = self.transformer(x.transpose(0, 1)).transpose(0, 1)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), ids.argmax(-1)] @ self.text_projection


def load_clip(path, frozen):
    model = CLIP()
    sd = st_read(path)
    model.load_state_dict(sd, strict=True)
    model.eval()  # as the study (clip_api.py): eval(), parameters left requiring grad
    if frozen:
        for p in model.parameters():
            p.requires_grad_(False)
    return model


# ----------------------------------------------------------------------------- tokenizer (CLIP's BPE, basic text)

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def tokenize(text, bpe_path, context=77):
    """CLIP's tokeniser for plain lower-case text (no ftfy, no HTML unescaping)."""
    with gzip.open(bpe_path, "rt", encoding="utf-8") as f:
        merges = f.read().split("\n")[1:49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    b2u = bytes_to_unicode()
    vocab = list(b2u.values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    enc = {v: i for i, v in enumerate(vocab)}
    ranks = {m: i for i, m in enumerate(merges)}

    def bpe(token):
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = [(word[i], word[i + 1]) for i in range(len(word) - 1)]
            best = min(pairs, key=lambda p: ranks.get(p, 1e18))
            if best not in ranks:
                break
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = tuple(out)
        return word

    ids = [enc["<|startoftext|>"]]
    for tok in re.findall(r"'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+", " ".join(text.lower().split())):
        tok = "".join(b2u[b] for b in tok.encode("utf-8"))
        ids += [enc[t] for t in bpe(tok)]
    ids.append(enc["<|endoftext|>"])
    out = torch.zeros(1, context, dtype=torch.long)
    out[0, :len(ids)] = torch.tensor(ids[:context])
    return out


# ----------------------------------------------------------------------------- the study's renderer (2.1, 2.2)

def splat_points(strokes, samples=10):
    """Every chord p1 -> p2 of every stroke sampled at t = linspace(0, 1, 10) (ends included)."""
    t = torch.linspace(0, 1, samples).unsqueeze(1)
    pts = []
    for s in strokes:
        if s.shape[0] < 2:
            continue
        p1, p2 = s[:-1], s[1:]
        pts.append((p1.unsqueeze(1) + t.unsqueeze(0) * (p2 - p1).unsqueeze(1)).reshape(-1, 2))
    return torch.cat(pts) if pts else None


def render_dense(strokes, S=224, width=3.0, chunk=1000):
    """The study's render_strokes_rgb: every splat over the whole canvas, 1000 points a chunk."""
    P = splat_points(strokes)
    ink = torch.zeros(S, S)
    if P is not None:
        ar = torch.arange(S, dtype=torch.float32)
        ys, xs = torch.meshgrid(ar, ar, indexing="ij")
        sigma = width / 2.0
        for c in range(0, P.shape[0], chunk):
            px = P[c:c + chunk, 0].view(-1, 1, 1)
            py = P[c:c + chunk, 1].view(-1, 1, 1)
            d2 = (xs.unsqueeze(0) - px) ** 2 + (ys.unsqueeze(0) - py) ** 2
            ink = ink + torch.exp(-d2 / (2 * sigma ** 2)).sum(0)
    if ink.max() > 0:
        ink = ink / ink.max()
    ink = ink.clamp(0, 1)
    img = 1.0 * (1 - ink) + 0.0 * ink
    return img.view(1, 1, S, S).expand(1, 3, S, S)


def render_separable(strokes, S=224, width=3.0):
    """The same image: sum_p exp(-(j-px)^2/2s^2) exp(-(i-py)^2/2s^2) = (Gy^T Gx)[i, j]."""
    P = splat_points(strokes)
    ink = torch.zeros(S, S)
    if P is not None:
        ar = torch.arange(S, dtype=torch.float32)
        k = 1.0 / (2 * (width / 2.0) ** 2)
        gx = torch.exp(-(ar.unsqueeze(0) - P[:, 0:1]) ** 2 * k)  # (P, S)
        gy = torch.exp(-(ar.unsqueeze(0) - P[:, 1:2]) ** 2 * k)
        ink = gy.t() @ gx
    if ink.max() > 0:
        ink = ink / ink.max()
    ink = ink.clamp(0, 1)
    img = 1.0 * (1 - ink) + 0.0 * ink
    return img.view(1, 1, S, S).expand(1, 3, S, S)


def bezier_sample(ctrl, n):
    t = torch.linspace(0, 1, n).unsqueeze(1)
    u = 1 - t
    return u ** 3 * ctrl[0] + 3 * u ** 2 * t * ctrl[1] + 3 * u * t ** 2 * ctrl[2] + t ** 3 * ctrl[3]


# ----------------------------------------------------------------------------- the study's augmentations (3.5)
# torchvision's tensor kernels (perspective, rotate: a sampling grid and grid_sample, the fill
# blended through a mask channel; resized crop: F.interpolate) written out in torch ops:
# torchvision is not installed here, and these are the operations it runs.

def grid_transform(img, grid, mode, fill):
    mask = torch.ones_like(img[:, :1])
    x = torch.cat([img, mask], 1)
    x = F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)
    img, mask = x[:, :-1], x[:, -1:]
    if mode == "nearest":
        mask = mask < 0.5
        return torch.where(mask, torch.full_like(img, fill), img)
    return img * mask + (1.0 - mask) * fill


def perspective(img, src, dst, fill):
    """torchvision.transforms.functional.perspective(img, src, dst, bilinear, fill)."""
    # coefficients of the map from output (dst) to input (src) pixel coordinates
    A = torch.zeros(8, 8, dtype=torch.float64)
    for i, ((x, y), (u, v)) in enumerate(zip(dst, src)):
        A[2 * i] = torch.tensor([x, y, 1, 0, 0, 0, -u * x, -u * y], dtype=torch.float64)
        A[2 * i + 1] = torch.tensor([0, 0, 0, x, y, 1, -v * x, -v * y], dtype=torch.float64)
    b = torch.tensor(src, dtype=torch.float64).view(8)
    c = torch.linalg.lstsq(A, b).solution.to(torch.float32)
    _, _, h, w = img.shape
    xs = torch.arange(w, dtype=torch.float32) + 0.5
    ys = torch.arange(h, dtype=torch.float32) + 0.5
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    den = c[6] * gx + c[7] * gy + 1.0
    sx = (c[0] * gx + c[1] * gy + c[2]) / den
    sy = (c[3] * gx + c[4] * gy + c[5]) / den
    grid = torch.stack([sx / (0.5 * w) - 1.0, sy / (0.5 * h) - 1.0], -1).unsqueeze(0)
    return grid_transform(img, grid, "bilinear", fill)


def rotate(img, angle, fill):
    """torchvision.transforms.functional.rotate(img, angle, nearest, fill) about the centre."""
    _, _, h, w = img.shape
    a = math.radians(angle)
    # inverse rotation (output -> input), in pixel coordinates centred on the image
    m = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=torch.float32)
    xs = torch.arange(w, dtype=torch.float32) - (w - 1) * 0.5
    ys = torch.arange(h, dtype=torch.float32) - (h - 1) * 0.5
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    sx = m[0, 0] * gx + m[0, 1] * gy
    sy = m[1, 0] * gx + m[1, 1] * gy
    grid = torch.stack([(sx + (w - 1) * 0.5 + 0.5) / (0.5 * w) - 1.0,
                        (sy + (h - 1) * 0.5 + 0.5) / (0.5 * h) - 1.0], -1).unsqueeze(0)
    return grid_transform(img, grid, "nearest", fill)


class CLIPAugmentations:
    """The study's optimiser augmentations: the original + (n - 1) views (3.5)."""

    def __init__(self, n=4, crop=(0.7, 1.0), persp=0.15, rot=10.0, bright=0.1, contrast=0.1, S=224):
        self.n, self.crop, self.persp, self.rot, self.bright, self.contrast, self.S = n, crop, persp, rot, bright, contrast, S

    def one(self, img):
        _, _, h, w = img.shape
        if random.random() < 0.5:
            src = [[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]
            dst = [[x + random.uniform(-self.persp, self.persp) * (w // 2),
                    y + random.uniform(-self.persp, self.persp) * (h // 2)] for x, y in src]
            img = perspective(img, src, dst, 1.0)
        if random.random() < 0.7:
            s = random.uniform(*self.crop)
            nh, nw = int(h * s), int(w * s)
            top, left = random.randint(0, max(0, h - nh)), random.randint(0, max(0, w - nw))
            img = F.interpolate(img[:, :, top:top + nh, left:left + nw], size=(self.S, self.S), mode="bilinear",
                                align_corners=False)
        if random.random() < 0.3:
            img = rotate(img, random.uniform(-self.rot, self.rot), 1.0)
        if random.random() < 0.3:
            img = img * (1.0 + random.uniform(-self.bright, self.bright))
            m = img.mean(dim=(-2, -1), keepdim=True)
            img = ((img - m) * (1.0 + random.uniform(-self.contrast, self.contrast)) + m).clamp(0, 1)
        if img.shape[-2:] != (self.S, self.S):
            img = F.interpolate(img, size=(self.S, self.S), mode="bilinear", align_corners=False)
        return img

    def __call__(self, img):
        return torch.cat([img] + [self.one(img.clone()) for _ in range(self.n - 1)], 0)


# ----------------------------------------------------------------------------- losses (4.3)

def stroke_regularizer(polylines):
    vals = []
    for p in polylines:
        if p.shape[0] < 2:
            continue
        d = p[1:] - p[:-1]
        ln = d.norm(dim=1)
        r = 0.1 * ln.mean()
        if p.shape[0] >= 3:
            u = d / (ln.unsqueeze(1) + 1e-8)
            r = r + 1.0 * (1 - (u[:-1] * u[1:]).sum(1)).mean()
        if d.shape[0] >= 2:
            r = r + 0.5 * ln.var()
        vals.append(r)
    return torch.stack(vals).mean()


def total_variation(img):
    return (img[:, :, 1:, :] - img[:, :, :-1, :]).abs().mean() + (img[:, 1:, :, :] - img[:, :-1, :, :]).abs().mean()


def unit(e):
    return e / e.norm(dim=-1, keepdim=True)


# ----------------------------------------------------------------------------- the runs

def fit(drawing, S=224, pad=10):
    xs = [x for s in drawing for x in s[0]]
    ys = [y for s in drawing for y in s[1]]
    minx, miny = min(xs), min(ys)
    w = max(xs) - minx + 1e-6
    h = max(ys) - miny + 1e-6
    scale = (S - 2 * pad) / max(w, h)
    ox, oy = (S - scale * w) / 2, (S - scale * h) / 2
    return [[((x - minx) * scale + ox, (y - miny) * scale + oy) for x, y in zip(s[0], s[1])] for s in drawing]


def run(a, strokes, forward, lr, normalize):
    """The step loop shared by both experiments; forward(strokes) -> (total, similarity, timings)."""
    opt = torch.optim.Adam(strokes, lr=lr)
    tm = dict(render=0.0, augment=0.0, encode=0.0, losses=0.0, backward=0.0, update=0.0)
    first = last = None
    t_all = time.perf_counter()
    c_all = time.process_time()
    for s in range(a.steps):
        if s == 1:
            c_1 = time.process_time()
            t_1 = time.perf_counter()
        opt.zero_grad()
        total, sim = forward(strokes, tm)
        t0 = time.perf_counter()
        total.backward()
        t1 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(strokes, 1.0)
        opt.step()
        with torch.no_grad():
            for p in strokes:
                p.clamp_(0, a.canvas)
        t2 = time.perf_counter()
        tm["backward"] += t1 - t0
        tm["update"] += t2 - t1
        v = (total.item(), sim)
        if first is None:
            first = v
        last = v
    secs = time.perf_counter() - t_all
    c_end = time.process_time()
    print("threads %d" % torch.get_num_threads())
    print("steps %d" % a.steps)
    print("seconds %.4f" % secs)
    print("per_step %.4f" % (secs / a.steps))
    print("cpu_per_step %.4f" % ((c_end - c_all) / a.steps))
    if a.steps > 1:
        print("cpu_per_step_after_first %.4f" % ((c_end - c_1) / (a.steps - 1)))
        print("per_step_after_first %.4f" % ((t_all + secs - t_1) / (a.steps - 1)))
    for k, v in tm.items():
        print("%s %.4f" % (k, v))
    print("loss_first %.5f" % first[0])
    print("loss_last %.5f" % last[0])
    print("similarity_first %.5f" % first[1])
    print("similarity_last %.5f" % last[1])
    print("peak_rss %.0f MB" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["write", "step", "anchor"])
    ap.add_argument("file", nargs="?", help="write: the safetensors file to write")
    ap.add_argument("--model", help="the safetensors file (write's output)")
    ap.add_argument("--style", choices=["users", "tuned"], default="users")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--renderer", choices=["dense", "separable", "style"], default="style",
                    help="style: dense for users, separable for tuned")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--canvas", type=int, default=224)
    ap.add_argument("--strokes", type=int, default=8)
    ap.add_argument("--views", type=int, default=4)
    ap.add_argument("--prompt", default="fish")
    ap.add_argument("--bpe", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "../../shared/data/clip/bpe_simple_vocab_16e6.txt.gz"))
    ap.add_argument("--image", help="anchor: the reference picture")
    ap.add_argument("--drawing", help="anchor: NDJSON whose first record is the drawing")
    ap.add_argument("--lr", type=float, default=None, help="Adam lr (step: 1.0, anchor: 0.5)")
    ap.add_argument("--precision", choices=["float32", "autocast-bf16", "bf16"], default="float32",
                    help="the image tower's precision: float32; autocast-bf16 (torch.autocast on CPU: matrix "
                         "products in bfloat16, the rest float32 - what C's --precision bf16 does); bf16 (the "
                         "whole image tower converted with .bfloat16(), its inputs too)")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    if a.what == "write":
        model = CLIP()
        model.init_openai()
        st_write(a.file, dict(model.state_dict()))
        print("wrote %s: %d tensors, %d parameters" % (a.file, len(model.state_dict()),
                                                      sum(p.numel() for p in model.parameters())))
        return 0
    tuned = a.style == "tuned"
    model = load_clip(a.model, frozen=tuned)
    encode_image = model.encode_image
    if a.precision == "autocast-bf16":
        def encode_image(x):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return model.encode_image(x)
    elif a.precision == "bf16":
        model.visual.bfloat16()
        encode_image = lambda x: model.encode_image(x.bfloat16())
    print("precision %s" % a.precision)
    S = a.canvas
    render = {"dense": render_dense, "separable": render_separable}[
        a.renderer if a.renderer != "style" else ("separable" if tuned else "dense")]
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    normalize = lambda x: (x - mean) / std
    grad_off = torch.inference_mode if tuned else torch.no_grad

    if a.what == "step":
        with grad_off():
            target = unit(model.encode_text(tokenize(a.prompt, a.bpe)).float())
        target = target.clone()
        aug = CLIPAugmentations(n=a.views, S=S)
        strokes = []
        for _ in range(a.strokes):  # BezierSketch random init: 4 points in [0.1S, 0.9S]^2, sorted by x
            p = torch.rand(4, 2) * 0.8 * S + 0.1 * S
            strokes.append(p[p[:, 0].argsort()].clone().requires_grad_(True))

        def forward(strokes, tm):
            t0 = time.perf_counter()
            img = render([bezier_sample(c, 50) for c in strokes], S)
            x = normalize(img)
            t1 = time.perf_counter()
            views = aug(x)
            t2 = time.perf_counter()
            e = unit(encode_image(views).float())
            t3 = time.perf_counter()
            e = e.mean(0, keepdim=True)
            semantic = (1 - F.cosine_similarity(e, target)).mean()
            stroke = stroke_regularizer([bezier_sample(c, 20) for c in strokes])
            tv = total_variation(img)
            total = 1.0 * semantic + 0.01 * stroke + 0.001 * tv
            t4 = time.perf_counter()
            tm["render"] += t1 - t0
            tm["augment"] += t2 - t1
            tm["encode"] += t3 - t2
            tm["losses"] += t4 - t3
            return total, 1.0 - semantic.item()

        run(a, strokes, forward, a.lr if a.lr is not None else 1.0, normalize)
    else:
        from PIL import Image
        ref = Image.open(a.image).convert("RGB").resize((S, S), Image.BILINEAR)
        r = torch.from_numpy(np.asarray(ref, dtype=np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0)
        with grad_off():
            e_ref = unit(model.encode_image(normalize(r)).float())
        e_ref = e_ref.clone()
        with open(a.drawing) as f:
            d = json.loads(f.readline())["drawing"]
        strokes = [torch.tensor(s, dtype=torch.float32, requires_grad=True) for s in fit(d, S)]

        def forward(strokes, tm):
            t0 = time.perf_counter()
            x = normalize(render(strokes, S))
            t1 = time.perf_counter()
            e = unit(model.encode_image(x).float())
            t2 = time.perf_counter()
            sim = F.cosine_similarity(e, e_ref).mean()
            total = 1 - sim
            t3 = time.perf_counter()
            tm["render"] += t1 - t0
            tm["encode"] += t2 - t1
            tm["losses"] += t3 - t2
            return total, sim.item()

        run(a, strokes, forward, a.lr if a.lr is not None else 0.5, normalize)
    return 0


if __name__ == "__main__":
    sys.exit(main())
