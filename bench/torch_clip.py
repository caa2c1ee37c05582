#!/usr/bin/python3
"""torch_clip.py - the PyTorch peer for bench/clip_bench.c.

A ViT-B/32 CLIP written as a user of PyTorch would run it (nn.Module with
nn.MultiheadAttention and nn.LayerNorm, the structure of OpenAI's model.py,
written here from the architecture description), random weights, float32 on
CPU with CLIP_THREADS threads (default 2, as clip_bench).  Prints the same
lines as clip_bench:
  clip_image_forward_b1 / _b4 (no_grad), clip_image_fwdbwd_b4 (gradient
  w.r.t. the input image only; weights frozen), clip_text_forward_5 (all 77
  positions, as OpenAI's code runs them), clip_text_forward_5_cut (the blocks
  over the tokens up to the last EOT only, the cut clip_bench's C model
  makes: the like-with-like figure), peak_rss.
Usage: torch_clip.py [reps] [small]
  small: the training-size configuration of clip_bench small instead (vision
  256 wide, 6 layers, 4 heads, patch 8 on 64x64; text 256 wide, 4 layers, 4
  heads, context 16; embed 256; batch 128): one training step = zero the
  gradients, image and text forward, backward to every parameter.  Prints
  clip_small_step.
"""
import os, resource, sys, time
import torch
import torch.nn as nn

class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)

class Block(nn.Module):
    def __init__(self, w, heads, mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(w, heads)
        self.ln_1 = nn.LayerNorm(w)
        self.mlp = nn.Sequential(nn.Linear(w, 4 * w), QuickGELU(), nn.Linear(4 * w, w))
        self.ln_2 = nn.LayerNorm(w)
        self.mask = mask

    def forward(self, x):  # (T, B, W), sequence first as OpenAI's
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=self.mask)[0]
        return x + self.mlp(self.ln_2(x))

class Vision(nn.Module):
    def __init__(self, S=224, P=32, W=768, L=12, H=12, E=512):
        super().__init__()
        self.conv1 = nn.Conv2d(3, W, P, P, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(W) * 0.02)
        self.positional_embedding = nn.Parameter(torch.randn((S // P) ** 2 + 1, W) * 0.01)
        self.ln_pre = nn.LayerNorm(W)
        self.blocks = nn.Sequential(*[Block(W, H) for _ in range(L)])
        self.ln_post = nn.LayerNorm(W)
        self.proj = nn.Parameter(torch.randn(W, E) * W ** -0.5)

    def forward(self, x):
        x = self.conv1(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_embedding.expand(x.shape[0], 1, -1), x], 1) + self.positional_embedding
        x = self.blocks(self.ln_pre(x).transpose(0, 1)).transpose(0, 1)
        return self.ln_post(x[:, 0]) @ self.proj

class Text(nn.Module):
    def __init__(self, V=49408, C=77, W=512, L=12, H=8, E=512):
        super().__init__()
        mask = torch.full((C, C), float("-inf")).triu(1)
        self.token_embedding = nn.Embedding(V, W)
        self.positional_embedding = nn.Parameter(torch.randn(C, W) * 0.01)
        self.blocks = nn.Sequential(*[Block(W, H, mask) for _ in range(L)])
        self.ln_final = nn.LayerNorm(W)
        self.text_projection = nn.Parameter(torch.randn(W, E) * W ** -0.5)

    def forward(self, ids, cut=False):
        # cut: run the blocks over the first T = (last EOT position + 1) tokens
        # only, as the C model does (with the causal mask the later tokens
        # cannot change the pooled ones); OpenAI's code runs all 77
        pos = ids.argmax(-1)
        T = int(pos.max()) + 1 if cut else ids.shape[1]
        x = self.token_embedding(ids[:, :T]) + self.positional_embedding[:T]
        full = [b.mask for b in self.blocks]
        for b in self.blocks:
            b.mask = b.mask[:T, :T]
        try:
            x = self.blocks(x.transpose(0, 1)).transpose(0, 1)
        finally:
            for b, m in zip(self.blocks, full):
                b.mask = m
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), pos] @ self.text_projection

def median(f, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]

def small(reps):
    vis = Vision(S=64, P=8, W=256, L=6, H=4, E=256)
    txt = Text(C=16, W=256, L=4, H=4, E=256)
    params = list(vis.parameters()) + list(txt.parameters())
    B = 128
    img = torch.randn(B, 3, 64, 64)
    ids = torch.zeros(B, 16, dtype=torch.long)
    for b in range(B):
        n = 2 + b % 12
        ids[b, 0] = 49406
        ids[b, 1:n + 1] = torch.arange(1, n + 1) * 37 + 320 + b
        ids[b, n + 1] = 49407
    demb = torch.randn(B, 256) * 1e-3
    def step():
        for p in params:
            if p.grad is not None:
                p.grad.zero_()
        loss = (vis(img) * demb).sum() + (txt(ids) * demb).sum()
        loss.backward()
    step()
    print("clip_small_step %.4f s" % median(step, reps))
    print("peak_rss %.0f MB" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))

def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    threads = int(os.environ.get("CLIP_THREADS", "2"))
    torch.set_num_threads(threads)
    print("threads %d" % threads)
    torch.manual_seed(0)
    if len(sys.argv) > 2 and sys.argv[2] == "small":
        small(reps)
        return
    vis, txt = Vision().eval(), Text().eval()
    for p in list(vis.parameters()) + list(txt.parameters()):
        p.requires_grad_(False)
    img4 = torch.randn(4, 3, 224, 224)
    with torch.no_grad():
        vis(img4)
        print("clip_image_forward_b1 %.4f s" % median(lambda: vis(img4[:1]), reps))
        print("clip_image_forward_b4 %.4f s" % median(lambda: vis(img4), reps))
    def step():
        x = img4.clone().requires_grad_(True)
        e = vis(x)
        (e * e).sum().backward()
        return x.grad
    step()
    print("clip_image_fwdbwd_b4 %.4f s" % median(step, reps))
    ids = torch.zeros(5, 77, dtype=torch.long)
    for b in range(5):
        n = 4 + b
        ids[b, 0] = 49406
        ids[b, 1:n + 1] = torch.arange(1, n + 1) * 37 + 320 + b
        ids[b, n + 1] = 49407
    with torch.no_grad():
        txt(ids)
        print("clip_text_forward_5 %.4f s" % median(lambda: txt(ids), reps))
        txt(ids, cut=True)
        print("clip_text_forward_5_cut %.4f s" % median(lambda: txt(ids, cut=True), reps))
    print("peak_rss %.0f MB" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))

if __name__ == "__main__":
    main()
