#!/usr/bin/python3
"""torch_clip_train.py - the PyTorch peer of bench/clip_train_bench.c: one CLIP training step.

The same model and step as clip-train's (common/clip_train.c), written as a PyTorch user
would write them: the structure of OpenAI's CLIP (nn.Module with nn.MultiheadAttention,
nn.LayerNorm, QuickGELU MLP, class token, causal text tower pooled at the end token) written
here from the architecture description; float32 on CPU.  One step:
  optimizer.zero_grad(); both towers forward; F.normalize; logits = exp(logit_scale) *
  img @ txt^T; loss = (cross_entropy(logits) + cross_entropy(logits^T)) / 2; backward;
  clip_grad_norm_(1.0) (a non-finite norm stops the run, as the C trainer's NaN scan does);
  AdamW(lr 5e-4, betas (0.9, 0.98), eps 1e-6) with weight decay 0.1 on the tensors with
  >= 2 dimensions whose name has no "embed" (two parameter groups, as params.h's rule);
  logit_scale.clamp_(max=ln 100).
Inputs: a fixed batch of random images (B,3,S,S) and captions "SOT w1..wn EOT 0..."
(torch.manual_seed(0); not the C program's numbers, the same sizes).  Prints the same
"name value unit" lines as clip_train_bench (median of --steps timed steps after --warmup).

Usage: torch_clip_train.py [the options of clip_train_bench]
"""
import argparse
import math
import resource
import sys
import time

import os

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


from torch_clip import Text, Vision  # the towers of the CLIP benchmark (same directory)


class CLIP(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.visual = Vision(S=a.image, P=a.patch, W=a.v_width, L=a.v_layers, H=a.v_heads, E=a.embed)
        self.text = Text(V=a.vocab, C=a.context, W=a.t_width, L=a.t_layers, H=a.t_heads, E=a.embed)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_image(self, x):
        return self.visual(x)

    def encode_text(self, ids):
        return self.text(ids)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name, v in (("v-width", 128), ("v-layers", 6), ("v-heads", 2), ("patch", 8), ("image", 64),
                    ("t-width", 128), ("t-layers", 4), ("t-heads", 2), ("context", 16), ("vocab", 49408),
                    ("embed", 128), ("batch", 128), ("steps", 5), ("warmup", 1), ("threads", 2)):
        p.add_argument("--" + name, type=int, default=v)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = CLIP(a)
    named = list(model.named_parameters())
    decay = [t for n, t in named if t.dim() >= 2 and "embed" not in n]
    other = [t for n, t in named if not (t.dim() >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=5e-4, betas=(0.9, 0.98), eps=1e-6)
    params = [t for _, t in named]
    B, S, C, V = a.batch, a.image, a.context, a.vocab
    img = (torch.rand(B, 3, S, S) - 0.5) * 4
    ids = torch.zeros(B, C, dtype=torch.long)
    for b in range(B):
        n = 1 + b % (C - 2)
        ids[b, 0] = V - 2
        ids[b, 1:n + 1] = torch.randint(1, V - 2, (n,))
        ids[b, n + 1] = V - 1
    lab = torch.arange(B)
    ln100 = math.log(100)

    def step():
        opt.zero_grad()
        ie = F.normalize(model.encode_image(img), dim=-1)
        te = F.normalize(model.encode_text(ids), dim=-1)
        logits = model.logit_scale.exp() * ie @ te.t()
        loss = (F.cross_entropy(logits, lab) + F.cross_entropy(logits.t(), lab)) / 2
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(params, 1.0)
        if not torch.isfinite(gn):
            sys.exit("torch_clip_train: gradient norm is %s" % gn.item())
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(max=ln100)
        return loss.item()

    print("threads %d count" % a.threads)
    print("params %d count" % sum(t.numel() for t in params))
    print("batch %d count" % B)
    ts, first, loss = [], None, None
    for k in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        loss = step()
        dt = time.perf_counter() - t0
        if first is None:
            first = loss
        if k >= a.warmup:
            ts.append(dt)
        print("torch_clip_train: step %d: %.3f s, loss %.4f" % (k + 1, dt, loss), file=sys.stderr)
    print("step %.4f s" % sorted(ts)[len(ts) // 2])
    print("loss_first %.4f" % first)
    print("loss_last %.4f" % loss)
    print("peak_rss %.0f MB" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


if __name__ == "__main__":
    main()
