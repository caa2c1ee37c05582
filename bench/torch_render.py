#!/usr/bin/python3
"""torch_render.py - the PyTorch peer for bench/render.sh: the study's soft
renderer (docs/study.md 2.1) and its Bezier path (2.2), timed forward and
forward+backward on the same inputs as bench/render_bench.c.

The renderer is written as the study runs it on a CPU: every splat evaluated
densely over the whole canvas, points in chunks of 1000, ink summed, divided
by its max, clamped, img = 1 - ink; gradients by autograd.  The Bezier path
samples each cubic at 50 points (B(t), t = linspace(0,1,50)) inside the
autograd graph and renders those polylines (49 chords x 10 splats per cubic);
its gradients go to the control points.  torch.set_num_threads(2).

    torch_render.py [--limit N] [--reps R] [--size S] [--width W] FILE
Output: the same tab-separated lines as render_bench:
    impl  scene  n_drawings  median_points  fwd_ms  fwdbwd_ms
"""
import argparse
import gzip
import json
import statistics
import sys
import time

import torch


def render_soft(strokes, width, S, samples=10, chunk=1000):
    pts = []
    t = torch.linspace(0, 1, samples).unsqueeze(1)
    for s in strokes:
        if s.shape[0] < 2:
            continue
        p1, p2 = s[:-1], s[1:]                       # (n-1, 2) segments
        seg = p1.unsqueeze(1) + t.unsqueeze(0) * (p2 - p1).unsqueeze(1)  # (n-1, samples, 2)
        pts.append(seg.reshape(-1, 2))
    ink = torch.zeros(S, S)
    if pts:
        P = torch.cat(pts)
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
    return 1.0 * (1 - ink) + 0.0 * ink


def bezier_sample(ctrl, n=50):
    t = torch.linspace(0, 1, n).unsqueeze(1)
    u = 1 - t
    return u ** 3 * ctrl[0] + 3 * u ** 2 * t * ctrl[1] + 3 * u * t ** 2 * ctrl[2] + t ** 3 * ctrl[3]


def fit(drawing, S, pad=10):
    xs = [x for s in drawing for x in s[0]]
    ys = [y for s in drawing for y in s[1]]
    minx, miny = min(xs), min(ys)
    w = max(xs) - minx + 1e-6
    h = max(ys) - miny + 1e-6
    scale = (S - 2 * pad) / max(w, h)
    ox, oy = (S - scale * w) / 2, (S - scale * h) / 2
    return [[((x - minx) * scale + ox, (y - miny) * scale + oy) for x, y in zip(s[0], s[1])] for s in drawing]


def bezier8(S):
    """8 cubics from the LCG render_bench.c uses (same numbers)."""
    st, out = 12345, []
    for _ in range(8):
        v = []
        for _ in range(8):
            st = (st * 1103515245 + 12345) % 2147483648
            v.append(0.1 * S + 0.8 * S * (st / 2147483648.0))
        out.append([(v[0], v[1]), (v[2], v[3]), (v[4], v[5]), (v[6], v[7])])
    return out


def poly100(S):
    """The 8 cubics sampled at 13,13,13,13,12,12,12,12 points: 8 strokes, 100 points."""
    out = []
    for c, P in enumerate(bezier8(S)):
        n = 13 if c < 4 else 12
        pts = []
        for k in range(n):
            t = k / (n - 1)
            u = 1 - t
            b = (u ** 3, 3 * u * u * t, 3 * u * t * t, t ** 3)
            pts.append((sum(b[i] * P[i][0] for i in range(4)), sum(b[i] * P[i][1] for i in range(4))))
        out.append(pts)
    return out


def dimg_for(S):
    q = torch.arange(S * S, dtype=torch.int64)
    return (((q * 2654435761) % 2001).to(torch.float32) / 1000.0 - 1.0).view(S, S)


def time_one(make_img, reps, dimg, params):
    tf, tb = [], []
    for r in range(reps + 1):       # r = 0: warm-up
        t0 = time.perf_counter()
        make_img()
        t1 = time.perf_counter()
        if r:
            tf.append((t1 - t0) * 1e3)
    for r in range(reps + 1):
        for p in params:
            p.grad = None
        t0 = time.perf_counter()
        img = make_img()
        (img * dimg).sum().backward()
        t1 = time.perf_counter()
        if r:
            tb.append((t1 - t0) * 1e3)
    return statistics.median(tf), statistics.median(tb)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--width", type=float, default=3.0)
    ap.add_argument("--chunk", type=int, default=1000, help="points per dense chunk (the study: 1000 on CPU)")
    ap.add_argument("--only", default="", help="comma-separated scenes to run (default all)")
    ap.add_argument("file")
    a = ap.parse_args()
    torch.set_num_threads(2)
    S = a.size
    dimg = dimg_for(S)
    drawings = []
    opener = gzip.open if a.file.endswith(".gz") else open
    with opener(a.file, "rt") as f:
        for line in f:
            d = json.loads(line)["drawing"]
            if d:
                drawings.append(fit(d, S))
            if len(drawings) >= a.limit:
                break
    tf, tb = [], []
    for d in drawings:
        strokes = [torch.tensor(s, dtype=torch.float32, requires_grad=True) for s in d]
        f, b = time_one(lambda: render_soft(strokes, a.width, S, chunk=a.chunk), a.reps, dimg, strokes)
        tf.append(f)
        tb.append(b)
    npts = statistics.median([sum(len(s) for s in d) for d in drawings])
    print("torch-splat\tpolylines\t%d\t%.0f\t%.4f\t%.4f" % (len(drawings), npts, statistics.median(tf),
                                                         statistics.median(tb)), flush=True)
    strokes = [torch.tensor(s, dtype=torch.float32, requires_grad=True) for s in poly100(S)]
    f, b = time_one(lambda: render_soft(strokes, a.width, S, chunk=a.chunk), a.reps, dimg, strokes)
    print("torch-splat\tpoly8x100\t1\t100\t%.4f\t%.4f" % (f, b), flush=True)
    ctrl = [torch.tensor(c, dtype=torch.float32, requires_grad=True) for c in bezier8(S)]
    f, b = time_one(lambda: render_soft([bezier_sample(c) for c in ctrl], a.width, S, chunk=a.chunk), a.reps, dimg, ctrl)
    print("torch-splat\tbezier8\t1\t32\t%.4f\t%.4f" % (f, b), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
