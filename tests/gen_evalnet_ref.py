#!/usr/bin/python3
"""gen_evalnet_ref.py - the PyTorch twin of the recognisability classifier (common/evalnet.c).

Written from the architecture as docs/evaluator.md and common/evalnet.h state it, with
torch.nn modules (not the C code):

    x (B,1,S,S)
    for each block: Conv2d(c_in, c, 3, padding=1, bias=False) -> BatchNorm2d(c, eps, momentum)
                    -> ReLU -> MaxPool2d(2)
    global average pool -> Dropout(p) -> Linear(c_last, K)
    loss = F.cross_entropy(logits, labels, label_smoothing=SMOOTH)

in float64 (weights and inputs are float32 values), one training-mode forward + backward, then
an eval-mode forward with the running statistics that training forward left behind.

The dropout mask is nn/dropout.h's documented definition (element i of the (B, c_last) features
is kept when output i of SplitMix64 started at key(seed, stream) is >= p * 2^53, kept values
scaled by 1/(1-p)), restated here in Python from that header, seed = SEED, stream 0.

Writes tests/fixtures/evalnet/ref.safetensors:
  w.<name>            every tensor of the model before the step (running stats included)
  x (B,1,S,S), labels (B) (as floats)
  logits (B,K), loss ()           training-mode forward
  bn.<i>.mean, bn.<i>.rstd (c)    block i's batch mean and 1/sqrt(biased var + eps)
  grad.<name>                     d loss / d every trainable tensor
  after.<name>                    running_mean / running_var after the training forward
  eval_logits (B,K)               eval-mode forward after it
  __metadata__: image_size, channels, classes, dropout, bn_eps, bn_momentum, smoothing, seed, batch
Run: /usr/bin/python3 tests/gen_evalnet_ref.py   (Debian's python3-torch; CI only reads the fixture)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "evalnet")
S, CH, K, B = 16, (3, 4, 5), 5, 4
P, EPS, MOM, SMOOTH, SEED = 0.25, 1e-5, 0.1, 0.1, 12345

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def dropout_mask(n, p, seed, stream):
    key = mix64((seed + GOLDEN) & M64) ^ mix64(((~stream & M64) * GOLDEN + 1) & M64)
    t = p * 2.0 ** 53
    thresh = int(t) + (1 if int(t) < t else 0)
    return [1.0 if (mix64((key + (i + 1) * GOLDEN) & M64) >> 11) >= thresh else 0.0 for i in range(n)]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        blocks, cin = [], 1
        for c in CH:
            blk = nn.Module()
            blk.conv = nn.Conv2d(cin, c, 3, padding=1, bias=False)
            blk.bn = nn.BatchNorm2d(c, eps=EPS, momentum=MOM)
            blocks.append(blk)
            cin = c
        self.features = nn.ModuleList(blocks)
        self.fc = nn.Linear(cin, K)

    def forward(self, x, mask=None, stats=None):
        for blk in self.features:
            y = blk.conv(x)
            if stats is not None:
                m = y.mean(dim=(0, 2, 3))
                v = y.var(dim=(0, 2, 3), unbiased=False)
                stats.append((m.detach(), (1 / torch.sqrt(v + EPS)).detach()))
            x = F.max_pool2d(F.relu(blk.bn(y)), 2)
        f = x.mean(dim=(2, 3))
        if mask is not None:
            f = f * mask / (1 - P)
        return self.fc(f)


def main():
    torch.manual_seed(7)
    net = Net()
    with torch.no_grad():  # non-trivial affine and running statistics
        for blk in net.features:
            c = blk.bn.num_features
            blk.bn.weight.copy_(torch.empty(c).uniform_(0.5, 1.5))
            blk.bn.bias.copy_(torch.empty(c).uniform_(-0.2, 0.2))
            blk.bn.running_mean.copy_(torch.empty(c).uniform_(-0.1, 0.1))
            blk.bn.running_var.copy_(torch.empty(c).uniform_(0.5, 1.5))
    # float32 values, computed in float64
    for p in list(net.parameters()) + list(net.buffers()):
        p.data = p.data.float().double()
    init = {k: v.detach().clone().float() for k, v in net.state_dict().items() if "num_batches" not in k}

    x = torch.rand(B, 1, S, S).float().double()
    x[:, :, :4, :] = 0  # blank margins, as a sketch has
    labels = torch.tensor([0, 3, 1, 4])
    mask = torch.tensor(dropout_mask(B * CH[-1], P, SEED, 0), dtype=torch.float64).reshape(B, CH[-1])

    net.train()
    stats = []
    logits = net(x, mask=mask, stats=stats)
    loss = F.cross_entropy(logits, labels, label_smoothing=SMOOTH)
    loss.backward()
    after = {k: v.detach().clone().float() for k, v in net.state_dict().items() if "running" in k}
    net.eval()
    with torch.no_grad():
        eval_logits = net(x)

    t = {"x": x.float(), "labels": labels.float(), "logits": logits.detach().float(), "loss": loss.detach().float(),
         "eval_logits": eval_logits.float()}
    for k, v in init.items():
        t["w." + k] = v
    for k, v in after.items():
        t["after." + k] = v
    for name, p in net.named_parameters():
        t["grad." + name] = p.grad.float()
    for i, (m, r) in enumerate(stats):
        t["bn.%d.mean" % i] = m.float()
        t["bn.%d.rstd" % i] = r.float()
    os.makedirs(OUT, exist_ok=True)
    meta = dict(image_size=S, channels=",".join(map(str, CH)), classes=K, dropout=P, bn_eps=EPS, bn_momentum=MOM,
                smoothing=SMOOTH, seed=SEED, batch=B, kept=int(mask.sum().item()))
    st_write.write_safetensors(os.path.join(OUT, "ref.safetensors"), t, meta, as_f32=True)
    print("wrote", os.path.join(OUT, "ref.safetensors"), "loss %.6f" % loss.item(), "kept", meta["kept"])


if __name__ == "__main__":
    main()
