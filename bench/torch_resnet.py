#!/usr/bin/python3
"""torch_resnet.py - the PyTorch peer for bench/resnet_bench.c.

CLIP's RN101 image tower written as a user of PyTorch would write it (nn.Module: a three-conv stem with
average pooling, anti-aliased bottlenecks, attention pooling through F.multi_head_attention_forward; the
structure published with CLIP, written here from that description), random weights, eval mode (frozen
batch norm), float32 on CPU with CLIP_THREADS threads (default 2).  Times forward + backward to the input
image (weights frozen), batch B at 224.
Usage: torch_resnet.py [reps] [batch] [channels_last]
  channels_last: the model and input in torch.channels_last (the usual CPU tuning for convolutions).
Prints the same lines as resnet_bench: rn101_fwdbwd_b<B>, rn101_fwd_b<B> (medians after one warm-up),
rn101_fwdbwd_cpu_b<B> (process CPU seconds, all threads), peak_rss (KB).
"""
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Bottleneck(nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, 4 * planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * planes)
        self.down = None
        if stride > 1 or inplanes != 4 * planes:
            self.down = nn.Sequential(nn.AvgPool2d(stride) if stride > 1 else nn.Identity(),
                                      nn.Conv2d(inplanes, 4 * planes, 1, bias=False), nn.BatchNorm2d(4 * planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(self.pool(out)))
        return F.relu(out + (self.down(x) if self.down is not None else x))


class AttnPool(nn.Module):
    def __init__(self, grid, D, heads, E):
        super().__init__()
        self.pos = nn.Parameter(torch.randn(grid * grid + 1, D) / D ** 0.5)
        self.q, self.k, self.v, self.c = nn.Linear(D, D), nn.Linear(D, D), nn.Linear(D, D), nn.Linear(D, E)
        self.heads = heads

    def forward(self, x):
        x = x.flatten(2).permute(2, 0, 1)                          # (HW, B, D)
        x = torch.cat([x.mean(dim=0, keepdim=True), x]) + self.pos[:, None, :]
        y, _ = F.multi_head_attention_forward(
            query=x[:1], key=x, value=x, embed_dim_to_check=x.shape[-1], num_heads=self.heads,
            q_proj_weight=self.q.weight, k_proj_weight=self.k.weight, v_proj_weight=self.v.weight, in_proj_weight=None,
            in_proj_bias=torch.cat([self.q.bias, self.k.bias, self.v.bias]), bias_k=None, bias_v=None,
            add_zero_attn=False, dropout_p=0.0, out_proj_weight=self.c.weight, out_proj_bias=self.c.bias,
            use_separate_proj_weight=True, training=False, need_weights=False)
        return y[0]


class RN(nn.Module):
    def __init__(self, layers=(3, 4, 23, 3), width=64, S=224, E=512):
        super().__init__()
        h = width // 2
        self.stem = nn.Sequential(nn.Conv2d(3, h, 3, 2, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU(),
                                  nn.Conv2d(h, h, 3, 1, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU(),
                                  nn.Conv2d(h, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                                  nn.AvgPool2d(2))
        blocks, inplanes = [], width
        for s, n in enumerate(layers):
            for j in range(n):
                blocks.append(Bottleneck(inplanes, width << s, 2 if j == 0 and s > 0 else 1))
                inplanes = 4 * (width << s)
        self.blocks = nn.Sequential(*blocks)
        self.attnpool = AttnPool(S // 32, 32 * width, 32 * width // 64, E)

    def forward(self, x):
        return self.attnpool(self.blocks(self.stem(x)))


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    B = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    cl = len(sys.argv) > 3 and sys.argv[3] == "channels_last"
    torch.set_num_threads(int(__import__("os").environ.get("CLIP_THREADS", "2")))
    torch.manual_seed(0)
    m = RN().eval()
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    for p in m.parameters():
        p.requires_grad_(False)
    img = torch.rand(B, 3, 224, 224) - 0.5
    if cl:
        m = m.to(memory_format=torch.channels_last)
        img = img.contiguous(memory_format=torch.channels_last)
    img.requires_grad_(True)
    demb = torch.rand(B, 512) - 0.5
    tf, tb, tc = [], [], []
    for r in range(-1, reps):
        c0 = time.process_time()
        t0 = time.perf_counter()
        emb = m(img)
        t1 = time.perf_counter()
        img.grad = None
        emb.backward(demb)
        t2 = time.perf_counter()
        if r >= 0:
            tf.append(t1 - t0)
            tb.append(t2 - t0)
            tc.append(time.process_time() - c0)
    tf.sort(), tb.sort(), tc.sort()
    print("rn101_fwdbwd_b%d %.4f" % (B, tb[reps // 2]))
    print("rn101_fwd_b%d %.4f" % (B, tf[reps // 2]))
    print("rn101_fwdbwd_cpu_b%d %.4f" % (B, tc[reps // 2]))
    print("peak_rss %d" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


if __name__ == "__main__":
    main()
