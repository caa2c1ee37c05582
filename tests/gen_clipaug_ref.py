#!/usr/bin/env python3
"""gen_clipaug_ref.py - independent PyTorch reference for the clipaug plugin and
common/warp.c: writes tests/fixtures/clipaug/*.txt, read by tests/unit/test_clipaug.c.

torchvision is not installed here, so its tensor kernels are rewritten below in
plain torch from torchvision's own source (transforms/functional.py and
functional_tensor.py, 0.13-0.15): perspective coefficients from the 4 point
pairs (_get_perspective_coeffs), the perspective and affine grids
(_perspective_grid, _gen_affine_grid), the mask-channel fill of
_apply_grid_transform, rotate's inverse affine matrix, and the resized crop as
F.interpolate(bilinear, align_corners=False, antialias=False).  Sampling is
torch's own grid_sample / interpolate; gradients are torch autograd.  All in
float64.  Nothing here shares code or formulas with the C side beyond the
documented semantics.

Each fixture file holds sections "NAME count v1 v2 ...":
  params  the case's fixed parameters (meaning per case, see CASES below)
  out     the expected output, (C,H,W) or (V,C,H,W)
  dout    an upstream gradient of the same shape
  din     d<out, dout>/d input (autograd)
input.txt holds "C H W" and the input image.

Run: /usr/bin/python3 tests/gen_clipaug_ref.py   (torch only; deterministic)
"""
import math
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "clipaug")
C, H, W = 3, 20, 24
MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(3, 1, 1)


# ---------------------------------------------------------------- torchvision's kernels

def perspective_coeffs(startpoints, endpoints):
    """Coefficients mapping endpoints to startpoints (torchvision _get_perspective_coeffs)."""
    a = torch.zeros(8, 8)
    for i, (p1, p2) in enumerate(zip(endpoints, startpoints)):
        a[2 * i] = torch.tensor([p1[0], p1[1], 1, 0, 0, 0, -p2[0] * p1[0], -p2[0] * p1[1]])
        a[2 * i + 1] = torch.tensor([0, 0, 0, p1[0], p1[1], 1, -p2[1] * p1[0], -p2[1] * p1[1]])
    b = torch.tensor(startpoints, dtype=torch.float64).view(8)
    return torch.linalg.solve(a, b).tolist()  # torchvision: lstsq (gels); same solution for 4 pairs


def perspective_grid(c, ow, oh):
    theta1 = torch.tensor([[[c[0], c[1], c[2]], [c[3], c[4], c[5]]]])
    theta2 = torch.tensor([[[c[6], c[7], 1.0], [c[6], c[7], 1.0]]])
    d = 0.5
    base = torch.empty(1, oh, ow, 3)
    base[..., 0].copy_(torch.linspace(d, ow * 1.0 + d - 1.0, steps=ow))
    base[..., 1].copy_(torch.linspace(d, oh * 1.0 + d - 1.0, steps=oh).unsqueeze_(-1))
    base[..., 2].fill_(1)
    rescaled = theta1.transpose(1, 2) / torch.tensor([0.5 * ow, 0.5 * oh])
    g1 = base.view(1, oh * ow, 3).bmm(rescaled)
    g2 = base.view(1, oh * ow, 3).bmm(theta2.transpose(1, 2))
    return (g1 / g2 - 1.0).view(1, oh, ow, 2)


def affine_grid(theta, w, h):
    d = 0.5
    base = torch.empty(1, h, w, 3)
    base[..., 0].copy_(torch.linspace(-w * 0.5 + d, w * 0.5 + d - 1, steps=w))
    base[..., 1].copy_(torch.linspace(-h * 0.5 + d, h * 0.5 + d - 1, steps=h).unsqueeze_(-1))
    base[..., 2].fill_(1)
    rescaled = theta.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h])
    return base.view(1, h * w, 3).bmm(rescaled).view(1, h, w, 2)


def apply_grid(img, grid, mode, fill):
    """img (C,H,W) -> (C,H,W): grid_sample with torchvision's mask-channel fill."""
    x = img.unsqueeze(0)
    x = torch.cat((x, torch.ones(1, 1, x.shape[2], x.shape[3])), dim=1)
    x = F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)
    mask = x[:, -1:].expand_as(x[:, :-1])
    x = x[:, :-1]
    f = torch.full_like(x, fill)
    if mode == "nearest":
        x = torch.where(mask < 0.5, f, x)
    else:
        x = x * mask + (1.0 - mask) * f
    return x[0]


def perspective(img, startpoints, endpoints, fill):
    c = perspective_coeffs(startpoints, endpoints)
    return apply_grid(img, perspective_grid(c, img.shape[-1], img.shape[-2]), "bilinear", fill)


def rotate(img, angle, mode, fill):
    # F.rotate: _get_inverse_affine_matrix(center=[0,0], -angle, [0,0], 1, [0,0])
    rot = math.radians(-angle)
    a, b, c, d = math.cos(rot), -math.sin(rot), math.sin(rot), math.cos(rot)
    m = [d, -b, 0.0, -c, a, 0.0]
    theta = torch.tensor(m).reshape(1, 2, 3)
    return apply_grid(img, affine_grid(theta, img.shape[-1], img.shape[-2]), mode, fill)


def crop_resize(img, top, left, ch, cw):
    x = img[:, top:top + ch, left:left + cw].unsqueeze(0)
    return F.interpolate(x, size=(img.shape[-2], img.shape[-1]), mode="bilinear", align_corners=False,
                         antialias=False)[0]


def jitter(img, beta, gamma, lo=0.0, hi=1.0):
    x = img * beta
    m = x.mean(dim=(-2, -1), keepdim=True)
    x = (x - m) * gamma + m
    return x.clamp(lo, hi)


# ---------------------------------------------------------------- the plugin's documented draws

def corners(h, w):
    return [[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]


def randint(u, lo, hi):
    return lo + min(int(math.floor(u * (hi - lo))), hi - lo - 1)


def pipeline(x, uniforms, cfg):
    """The plugin's forward with the host's uniforms scripted; cfg = resolved parameters."""
    it = iter(uniforms)
    nxt = lambda: next(it)
    h, w = x.shape[-2:]
    views = [x] if cfg["keep"] else []
    for _ in range(cfg["nviews"] - len(views)):
        y = (x - MEAN) / STD if cfg["after_norm"] else x
        if nxt() < cfg["persp_p"]:
            d, hw, hh = cfg["persp_d"], w // 2, h // 2
            st = corners(h, w)
            if cfg["corners"] == "symmetric":
                end = []
                for p in st:
                    ux, uy = nxt(), nxt()
                    end.append([p[0] + random_uniform(ux, -d, d) * hw, p[1] + random_uniform(uy, -d, d) * hh])
            else:  # torchvision RandomPerspective.get_params
                dw, dh = int(d * hw), int(d * hh)
                tl = [randint(nxt(), 0, dw + 1), randint(nxt(), 0, dh + 1)]
                tr = [randint(nxt(), w - dw - 1, w), randint(nxt(), 0, dh + 1)]
                br = [randint(nxt(), w - dw - 1, w), randint(nxt(), h - dh - 1, h)]
                bl = [randint(nxt(), 0, dw + 1), randint(nxt(), h - dh - 1, h)]
                end = [tl, tr, br, bl]
            y = perspective(y, st, end, cfg["fill"])
        if nxt() < cfg["crop_p"]:
            s = random_uniform(nxt(), cfg["crop_min"], cfg["crop_max"])
            if cfg["crop_mode"] == "side":
                ch, cw = int(s * h), int(s * w)
            else:  # RandomResizedCrop, ratio (1,1)
                ch = cw = int(round(math.sqrt(s * h * w)))
            top, left = randint(nxt(), 0, h - ch + 1), randint(nxt(), 0, w - cw + 1)
            y = crop_resize(y, top, left, ch, cw)
        if nxt() < cfg["rot_p"]:
            y = rotate(y, random_uniform(nxt(), -cfg["rot_deg"], cfg["rot_deg"]), cfg["rot_interp"], cfg["fill"])
        if nxt() < cfg["jit_p"]:
            b = 1 + random_uniform(nxt(), -cfg["bright"], cfg["bright"])
            c = 1 + random_uniform(nxt(), -cfg["contrast"], cfg["contrast"])
            y = jitter(y, b, c)
        if cfg["after_norm"]:
            y = y * STD + MEAN
        views.append(y)
    return torch.stack(views)


def random_uniform(u, a, b):  # Python's random.uniform(a, b) given its uniform u
    return a + (b - a) * u


# ---------------------------------------------------------------- fixtures

def write(name, params, x, fn, gen):
    xi = x.clone().requires_grad_(True)
    y = fn(xi)
    dout = torch.randn(y.shape, generator=gen)
    (din,) = torch.autograd.grad((y * dout).sum(), xi)
    with open(os.path.join(OUT, name + ".txt"), "w") as f:
        for key, t in (("params", torch.tensor(params, dtype=torch.float64)), ("out", y.detach()),
                       ("dout", dout), ("din", din)):
            v = t.reshape(-1).tolist()
            f.write("%s %d\n" % (key, len(v)))
            f.write(" ".join("%.10g" % a for a in v) + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20240611)
    x = torch.rand(C, H, W, generator=gen)
    r = torch.rand(C, H, W, generator=gen)
    x[r < 0.3] = 1.0   # white paper
    x[r > 0.85] = 0.0  # black ink
    with open(os.path.join(OUT, "input.txt"), "w") as f:
        f.write("%d %d %d\n" % (C, H, W))
        f.write(" ".join("%.10g" % a for a in x.reshape(-1).tolist()) + "\n")

    st = corners(H, W)
    # perspective, symmetric float corners: params = 8 end coordinates, fill
    end = [[1.7, -2.2], [W - 1 - 2.4, 1.3], [W - 1 + 1.9, H - 1 - 0.8], [-1.1, H - 1 + 2.6]]
    write("persp_sym", sum(end, []) + [1.0], x, lambda t: perspective(t, st, end, 1.0), gen)
    # perspective, torchvision-style inward integer corners, black fill
    end2 = [[3, 2], [W - 1 - 5, 4], [W - 1 - 1, H - 1 - 3], [2, H - 1]]
    write("persp_in", sum(end2, []) + [0.0], x, lambda t: perspective(t, st, end2, 0.0), gen)
    # resized crop: params = top, left, ch, cw
    write("crop_rect", [3, 5, 14, 16], x, lambda t: crop_resize(t, 3, 5, 14, 16), gen)
    write("crop_sq", [2, 1, 17, 17], x, lambda t: crop_resize(t, 2, 1, 17, 17), gen)
    # rotation: params = degrees, bilinear (0/1), fill
    write("rot_nearest", [7.3, 0, 1.0], x, lambda t: rotate(t, 7.3, "nearest", 1.0), gen)
    write("rot_bilinear", [-12.5, 1, 0.5], x, lambda t: rotate(t, -12.5, "bilinear", 0.5), gen)
    # jitter: params = beta, gamma (clamp [0,1])
    write("jitter_a", [1.07, 0.92], x, lambda t: jitter(t, 1.07, 0.92), gen)
    write("jitter_b", [0.93, 1.09], x, lambda t: jitter(t, 0.93, 1.09), gen)

    # The plugin through its ABI with scripted uniforms: params = the uniforms.
    base = dict(nviews=3, keep=True, after_norm=False, persp_p=1.0, persp_d=0.2, corners="symmetric", fill=1.0,
                crop_p=1.0, crop_min=0.7, crop_max=1.0, crop_mode="side", rot_p=1.0, rot_deg=15.0,
                rot_interp="nearest", jit_p=1.0, bright=0.1, contrast=0.1)
    u_all = [0.1, 0.83, 0.12, 0.44, 0.91, 0.05, 0.67, 0.29, 0.58,   # gate + 8 corners
             0.2, 0.37, 0.61, 0.18,                                 # gate, s, top, left
             0.25, 0.71,                                            # gate, angle
             0.05, 0.93, 0.14,                                      # gate, brightness, contrast
             0.9, 0.3, 0.52, 0.77, 0.1,                             # view 2: no perspective (p .5); crop
             0.2, 0.6, 0.95]                                        # rotation; no jitter (p .3)
    cfg = dict(base, persp_p=0.5, crop_p=0.7, rot_p=0.3, jit_p=0.3)
    write("plugin_doodlebot", u_all, x, lambda t: pipeline(t, u_all, cfg), gen)
    cfgq = dict(cfg, after_norm=True)
    write("plugin_quirk", u_all, x, lambda t: pipeline(t, u_all, cfgq), gen)
    u_cl = [0.3, 0.1, 0.95, 0.5, 0.2, 0.99, 0.7, 0.01, 0.45,       # gate + 8 inward integer corners
            0.6, 0.5, 0.21, 0.88,                                    # gate, s (0.8 fixed), top, left
            0.4, 0.8]                                                # rotation and jitter gates (p = 0)
    cfgc = dict(base, nviews=2, persp_p=1.0, persp_d=0.5, corners="inward", fill=0.0, crop_p=1.0, crop_min=0.8,
                crop_max=0.8, crop_mode="area", rot_p=0.0, jit_p=0.0)
    write("plugin_clipasso", u_cl, x, lambda t: pipeline(t, u_cl, cfgc), gen)


if __name__ == "__main__":
    main()
