#!/usr/bin/python3
"""gen_unet_ref.py - PyTorch twins of the sketch enhancer's networks (common/unet.c),
read by tests/unit/test_unet.c.

Three networks, written here from their published descriptions (the study's
UNetGenerator as specified in docs/study.md 5.1; pix2pix's UnetGenerator
and NLayerDiscriminator as described in the pix2pix paper and its code's
architecture: nested pre-activation skip blocks, 70x70 PatchGAN):

  StudyUNet  post-activation: conv -> [BN] -> LeakyReLU(0.2) down, convT -> BN ->
             [Dropout] -> ReLU up, skips = activated encoder outputs, decoder
             first in each concatenation, bilinear resize io -> size -> io.
  P2PUNet    pix2pix's nested block, literally: LeakyReLU(0.2, in place) ->
             Conv -> norm down, ReLU -> ConvT -> norm (-> Dropout) up, output
             cat(x, block(x)) -- with the in-place LeakyReLU, so the skip
             carries lrelu(x) exactly as pix2pix's code computes it.
  PatchGAN   C64 (no norm) - C128 - C256 (stride 2) - C512 (stride 1) - Conv -> 1,
             kernel 4, padding 1, LeakyReLU 0.2, on cat(a, b).

Each case: seeded weights (the network's own initialisation: torch's default for
the study, N(0, 0.02) for pix2pix), an input batch and a random upstream
gradient dout (loss = sum(out * dout)); the output, d loss / d every parameter and
d loss / d input, in training mode (batch statistics; the running statistics after
the step are stored) and then in eval mode (those running statistics).  Dropout
has p = 0 here (its masks come from our own counter-based hash; test_unet checks
them on their own).  Computed in float64 from float32 weights, stored as float32.

Plus a 10-step pix2pix training curve (G = pix2pix U-Net, D = PatchGAN, Adam
2e-4 (0.5, 0.999) for both, D step then G step as pix2pix's optimize_parameters:
D on (A, G(A).detach()) vs 0 and (A, B) vs 1, loss halved; G on BCE(D(A, G(A)), 1)
+ 100 L1(G(A), B)), for the study's generator and pix2pix's.

Writes tests/fixtures/unet/*.safetensors.
Run: /usr/bin/python3 tests/gen_unet_ref.py   (Debian's python3-torch; CI does not need it)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "unet")
SLOPE = 0.2


def chans(base, depth):
    return [base * min(2 ** i, 8) for i in range(depth)]


def mk_norm(kind, c):
    if kind == "batch":
        return nn.BatchNorm2d(c)  # eps 1e-5, momentum 0.1, affine, running statistics
    return nn.InstanceNorm2d(c)  # affine=False, track_running_stats=False (pix2pix's 'instance')


class Layer(nn.Module):
    def __init__(self, conv, norm=None):
        super().__init__()
        self.conv = conv
        if norm is not None:
            self.norm = norm

    def has_norm(self):
        return hasattr(self, "norm")


class StudyUNet(nn.Module):
    def __init__(self, in_ch, out_ch, base, depth, size, io, norm, n_drop, p):
        super().__init__()
        self.d, self.size, self.io = depth, size, io
        c = chans(base, depth)
        inst = norm == "instance"
        for k in range(1, depth + 1):
            cin = in_ch if k == 1 else c[k - 2]
            normed = 1 < k < depth
            conv = nn.Conv2d(cin, c[k - 1], 4, 2, 1, bias=(not normed) or inst)
            setattr(self, "enc%d" % k, Layer(conv, mk_norm(norm, c[k - 1]) if normed else None))
        for k in range(depth, 0, -1):
            cin = c[depth - 1] if k == depth else 2 * c[k - 1]
            cout = out_ch if k == 1 else c[k - 2]
            conv = nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=(k == 1) or inst)
            setattr(self, "dec%d" % k, Layer(conv, mk_norm(norm, cout) if k > 1 else None))
        # dropout on the n_drop innermost decoders
        self.drops = {k for k in range(2, depth + 1) if k > depth - n_drop}
        self.dropout = nn.Dropout(p)

    def forward(self, x):
        if self.io != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        e, h = [], x
        for k in range(1, self.d + 1):
            L = getattr(self, "enc%d" % k)
            h = L.conv(h)
            if L.has_norm():
                h = L.norm(h)
            h = F.leaky_relu(h, SLOPE)
            e.append(h)
        for k in range(self.d, 1, -1):
            if k < self.d:
                h = torch.cat([h, e[k - 1]], 1)
            L = getattr(self, "dec%d" % k)
            h = L.norm(L.conv(h))
            if k in self.drops:
                h = self.dropout(h)
            h = F.relu(h)
        h = torch.tanh(self.dec1.conv(torch.cat([h, e[0]], 1)))
        if self.io != self.size:
            h = F.interpolate(h, size=(self.io, self.io), mode="bilinear", align_corners=False)
        return h


class P2PUNet(nn.Module):
    def __init__(self, in_ch, out_ch, base, depth, norm, n_drop, p):
        super().__init__()
        self.d = depth
        c = chans(base, depth)
        inst = norm == "instance"
        for k in range(1, depth + 1):
            cin = in_ch if k == 1 else c[k - 2]
            normed = 1 < k < depth
            setattr(self, "enc%d" % k,
                    Layer(nn.Conv2d(cin, c[k - 1], 4, 2, 1, bias=inst), mk_norm(norm, c[k - 1]) if normed else None))
        for k in range(depth, 0, -1):
            cin = c[depth - 1] if k == depth else 2 * c[k - 1]
            if k == 1:
                setattr(self, "dec1", Layer(nn.ConvTranspose2d(cin, out_ch, 4, 2, 1, bias=True)))
            else:
                setattr(self, "dec%d" % k,
                        Layer(nn.ConvTranspose2d(cin, c[k - 2], 4, 2, 1, bias=inst), mk_norm(norm, c[k - 2])))
        # pix2pix: dropout in the blocks just inside the innermost
        self.drops = {k for k in range(2, depth) if k > depth - 1 - n_drop}
        self.dropout = nn.Dropout(p)

    def block(self, k, x):
        enc, dec = getattr(self, "enc%d" % k), getattr(self, "dec%d" % k)
        if k == 1:  # outermost: [downconv] + sub + [ReLU, upconv, Tanh]
            h = self.block(2, enc.conv(x))
            return torch.tanh(dec.conv(F.relu(h, inplace=True)))
        h = F.leaky_relu(x, SLOPE, inplace=True)  # modifies x: the skip below reads lrelu(x), as in pix2pix
        h = enc.conv(h)
        if k < self.d:
            h = self.block(k + 1, enc.norm(h))
        h = dec.norm(dec.conv(F.relu(h, inplace=k < self.d)))
        if k in self.drops:
            h = self.dropout(h)
        return torch.cat([x, h], 1)

    def forward(self, x):
        return self.block(1, x)


class PatchGAN(nn.Module):
    def __init__(self, in_ch, ndf, n_layers, norm):
        super().__init__()
        inst = norm == "instance"
        self.n = n_layers + 2
        self.layer0 = Layer(nn.Conv2d(in_ch, ndf, 4, 2, 1, bias=True))
        prev = ndf
        for i in range(1, n_layers + 1):
            cur = ndf * min(2 ** i, 8)
            stride = 2 if i < n_layers else 1
            setattr(self, "layer%d" % i, Layer(nn.Conv2d(prev, cur, 4, stride, 1, bias=inst), mk_norm(norm, cur)))
            prev = cur
        setattr(self, "layer%d" % (n_layers + 1), Layer(nn.Conv2d(prev, 1, 4, 1, 1, bias=True)))

    def forward(self, a, b):
        h = torch.cat([a, b], 1)
        for i in range(self.n):
            L = getattr(self, "layer%d" % i)
            h = L.conv(h)
            if L.has_norm():
                h = L.norm(h)
            if i < self.n - 1:
                h = F.leaky_relu(h, SLOPE)
        return h


def init_normal(net):
    """pix2pix's init_weights('normal', gain 0.02)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def state(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}


def count(net):
    return sum(p.numel() for p in net.parameters())


def randomise_stats(net, g):
    """Running statistics away from 0/1, so eval mode is a real test."""
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)


def run_case(net, inputs, T, pfx, modes):
    """Train-mode then eval-mode forward/backward; inputs: list of float32 tensors.
    Both modes store the output, the input gradients and every parameter gradient."""
    net.double()
    for mode in modes:
        net.train(mode == "train")
        xs = [x.double().clone().requires_grad_(True) for x in inputs]
        for p in net.parameters():
            p.grad = None
        y = net(*xs)
        if mode == "train":
            dout = torch.randn(y.shape, dtype=torch.float64)
            T[pfx + "dout"] = dout
        (y * dout).sum().backward()
        T[pfx + mode + ".out"] = y
        names = ["dx"] if len(xs) == 1 else ["da", "db"]
        for n, x in zip(names, xs):
            T[pfx + mode + "." + n] = x.grad
        for n, p in net.named_parameters():
            T[pfx + mode + ".grad." + n] = p.grad
        if mode == "train":
            for n, b in state(net).items():
                if ".running_" in n:
                    T[pfx + "train.after." + n] = b


def gen_case(name, kind, cfg, seed):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    T = {}
    if kind == "study":
        arch, norm, in_ch, out_ch, base, depth, size, io, nd, B = cfg
        net = StudyUNet(in_ch, out_ch, base, depth, size, io, norm, nd, 0.0)
        randomise_stats(net, g)
        x = torch.rand(B, in_ch, io, io, generator=g) * 2 - 1
        inputs = [x]
    elif kind == "p2p":
        arch, norm, in_ch, out_ch, base, depth, size, io, nd, B = cfg
        net = P2PUNet(in_ch, out_ch, base, depth, norm, nd, 0.0)
        init_normal(net)
        randomise_stats(net, g)
        x = torch.rand(B, in_ch, size, size, generator=g) * 2 - 1
        inputs = [x]
    else:
        norm, a_ch, b_ch, ndf, nl, size, B = cfg
        net = PatchGAN(a_ch + b_ch, ndf, nl, norm)
        init_normal(net)
        randomise_stats(net, g)
        inputs = [torch.rand(B, a_ch, size, size, generator=g) * 2 - 1,
                  torch.rand(B, b_ch, size, size, generator=g) * 2 - 1]
    normi = 0 if norm == "batch" else 1
    if kind == "d":
        T["config"] = torch.tensor([normi, a_ch, b_ch, ndf, nl, size, B], dtype=torch.float64)
        T["a"], T["b"] = inputs
    else:
        T["config"] = torch.tensor([arch, normi, in_ch, out_ch, base, depth, size, io, nd, B], dtype=torch.float64)
        T["x"] = inputs[0]
    for n, v in state(net).items():
        T["w." + n] = v
    run_case(net, inputs, T, "", ("train", "eval") if norm == "batch" else ("train",))
    path = os.path.join(OUT, name + ".safetensors")
    st_write.write_safetensors(path, T, as_f32=True)
    print("%s: %d parameters, %d bytes" % (name, count(net), os.path.getsize(path)))


def gen_curve(name, gkind, gcfg, dcfg, seed, steps=10, B=2):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    arch, norm, in_ch, out_ch, base, depth, size, io, nd = gcfg
    if gkind == "study":
        G = StudyUNet(in_ch, out_ch, base, depth, size, io, norm, nd, 0.0)
    else:
        G = P2PUNet(in_ch, out_ch, base, depth, norm, nd, 0.0)
        init_normal(G)
    dnorm, ndf, nl = dcfg
    D = PatchGAN(in_ch + out_ch, ndf, nl, dnorm)
    init_normal(D)
    T = {"gconfig": torch.tensor([arch, 0 if norm == "batch" else 1, in_ch, out_ch, base, depth, size, io, nd, B],
                                 dtype=torch.float64),
         "dconfig": torch.tensor([0 if dnorm == "batch" else 1, in_ch, out_ch, ndf, nl, io, B], dtype=torch.float64)}
    for n, v in state(G).items():
        T["g.w." + n] = v
    for n, v in state(D).items():
        T["d.w." + n] = v
    A = torch.rand(B, in_ch, io, io, generator=g) * 2 - 1
    # targets: mostly white (+1) with dark strokes, like sketches in [-1, 1]
    Bt = torch.where(torch.rand(B, out_ch, io, io, generator=g) < 0.15, -1.0, 1.0)
    T["A"], T["B"] = A, Bt
    G.double().train()
    D.double().train()
    A, Bt = A.double(), Bt.double()
    oG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    oD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ld, lgg, lgl = [], [], []
    for _ in range(steps):
        fake = G(A)
        for p in D.parameters():
            p.requires_grad_(True)
        oD.zero_grad()
        pf = D(A, fake.detach())
        l_fake = bce(pf, torch.zeros_like(pf))
        pr = D(A, Bt)
        l_real = bce(pr, torch.ones_like(pr))
        loss_d = (l_fake + l_real) * 0.5
        loss_d.backward()
        oD.step()
        for p in D.parameters():
            p.requires_grad_(False)
        oG.zero_grad()
        pf = D(A, fake)
        l_gan = bce(pf, torch.ones_like(pf))
        l_l1 = F.l1_loss(fake, Bt) * 100
        (l_gan + l_l1).backward()
        oG.step()
        ld.append(loss_d.item())
        lgg.append(l_gan.item())
        lgl.append(l_l1.item() / 100)
    T["loss_d"] = torch.tensor(ld, dtype=torch.float64)
    T["loss_g_gan"] = torch.tensor(lgg, dtype=torch.float64)
    T["loss_g_l1"] = torch.tensor(lgl, dtype=torch.float64)
    G.eval()
    with torch.no_grad():
        T["final_eval_out"] = G(A)
    path = os.path.join(OUT, name + ".safetensors")
    st_write.write_safetensors(path, T, as_f32=True)
    print("%s: D %s  G_GAN %s  L1 %s (%d bytes)" % (name, ["%.5f" % v for v in ld], ["%.5f" % v for v in lgg],
                                                   ["%.5f" % v for v in lgl], os.path.getsize(path)))


def main():
    os.makedirs(OUT, exist_ok=True)
    # the full-size parameter counts the C test asserts
    torch.manual_seed(0)
    n_study = count(StudyUNet(1, 1, 64, 8, 256, 224, "batch", 3, 0.5))
    n_p2p = count(P2PUNet(3, 3, 64, 8, "batch", 3, 0.5))
    n_d2 = count(PatchGAN(2, 64, 3, "batch"))
    n_d6 = count(PatchGAN(6, 64, 3, "batch"))
    print("parameters: study G %d, pix2pix unet_256 (3->3) %d, PatchGAN(2) %d, PatchGAN(6) %d"
          % (n_study, n_p2p, n_d2, n_d6))
    assert n_study == 54408385 and n_d2 == 2764609
    # arch 0 study / 1 pix2pix; config: arch, norm, in, out, base, depth, size, io, n_dropout, batch
    gen_case("g_study", "study", (0, "batch", 1, 1, 2, 5, 32, 28, 2, 3), 11)
    gen_case("g_p2p", "p2p", (1, "batch", 2, 1, 1, 5, 32, 32, 2, 2), 12)
    gen_case("g_p2p_in", "p2p", (1, "instance", 1, 2, 1, 5, 32, 32, 1, 2), 13)
    gen_case("g_study_in", "study", (0, "instance", 1, 1, 2, 4, 16, 16, 1, 2), 14)
    # norm, a_ch, b_ch, ndf, n_layers, size, batch
    gen_case("d_patch", "d", ("batch", 1, 1, 3, 3, 40, 2), 15)
    gen_case("d_patch_in", "d", ("instance", 2, 1, 3, 2, 24, 2), 16)
    gen_curve("curve_p2p", "p2p", (1, "batch", 1, 1, 1, 5, 32, 32, 0), ("batch", 2, 3), 17)
    gen_curve("curve_study", "study", (0, "batch", 1, 1, 1, 5, 32, 28, 0), ("batch", 2, 3), 18)


if __name__ == "__main__":
    main()
