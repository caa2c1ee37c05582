#!/usr/bin/python3
"""bench/torch_unet_train.py - the PyTorch peer of bench/unet_train.sh: one training step of the same U-Net
(the modules of tests/gen_unet_ref.py, the independent twin unet-train is checked against), random [-1, 1]
inputs and sketch-like targets, float32 on the CPU.

    torch_unet_train.py study|small [steps] [threads]

study: the study's generator (--arch study, base 64, depth 8, 224 <-> 256 inside, batch norm, dropout 0.5 on
       3 levels), batch 16, L1 alone, Adam 2e-4 (0.5, 0.999)            (the study's run)
small: pix2pix unet base 16, depth 6 at 64, batch 8, with the PatchGAN (ndf 16, 3 layers): D step then
       G step (100 L1 + BCE)                                            (the shipped unet-small's recipe)
Prints 'seconds_per_step <median over steps after one warm-up>' and 'peak_rss_mb'."""
import os, resource, statistics, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import torch
import torch.nn as nn
import torch.nn.functional as F
from gen_unet_ref import StudyUNet, P2PUNet, PatchGAN, init_normal

cfg = sys.argv[1]
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
torch.manual_seed(1)
if cfg == "study":
    G, D, B, S = StudyUNet(1, 1, 64, 8, 256, 224, "batch", 3, 0.5), None, 16, 224
else:
    G, B, S = P2PUNet(1, 1, 16, 6, "batch", 1, 0.5), 8, 64
    D = PatchGAN(2, 16, 3, "batch")
    init_normal(D)
init_normal(G)
A = torch.rand(B, 1, S, S) * 2 - 1
T = torch.where(torch.rand(B, 1, S, S) < 0.12, -1.0, 1.0)
oG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
oD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999)) if D is not None else None
bce = nn.BCEWithLogitsLoss()
G.train()
if D is not None:
    D.train()


def step():
    fake = G(A)
    if D is not None:
        for p in D.parameters():
            p.requires_grad_(True)
        oD.zero_grad()
        pf, pr = D(A, fake.detach()), D(A, T)
        ((bce(pf, torch.zeros_like(pf)) + bce(pr, torch.ones_like(pr))) * 0.5).backward()
        oD.step()
        for p in D.parameters():
            p.requires_grad_(False)
    oG.zero_grad()
    loss = F.l1_loss(fake, T) * 100
    if D is not None:
        pf = D(A, fake)
        loss = loss + bce(pf, torch.ones_like(pf))
    loss.backward()
    oG.step()


step()  # warm-up
times = []
for _ in range(steps):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
print("seconds_per_step %.4f" % statistics.median(times))
print("peak_rss_mb %.0f" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
