#!/usr/bin/python3
"""docs/img/study.py - the pictures of docs/enhancement-study.md, from the enhancement study's outputs.

    /usr/bin/python3 docs/img/study.py [OUT_DIR(outputs/study/test)] [ENHANCER(prior)] [K(5)]

For each set (a, b, c) writes docs/img/study-<set>.png: one column a drawing, one row an enhancer (the input
first; for set b the clean drawing above it), the K drawings where ENHANCER raised the evaluator's
probability of the word the most ("wins", left) and the K where it lowered it the most ("failures", right).
Under each picture: the evaluator's top word and p(word).  Strokes drawn with PIL from the records (each
drawing fitted to its cell), so the pictures show exactly the records the table scores.  Documentation
only (PIL); the study itself needs no Python."""
import json, os, sys
from PIL import Image, ImageDraw

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
W = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "outputs", "study", "test")
FOCUS = sys.argv[2] if len(sys.argv) > 2 else "fair"
K = int(sys.argv[3]) if len(sys.argv) > 3 else 4
ROWS = ["none", "text", "prior", "fair", "unet", "unet-fair"]
CELL, PAD, TXT = 120, 6, 26


def load(path):
    try:
        return {r["key_id"]: r for r in map(json.loads, open(path))}
    except FileNotFoundError:
        return {}


def draw(d, dr, x0, y0, width=2):
    xs = [x for s in dr for x in s[0]]
    ys = [y for s in dr for y in s[1]]
    if not xs:
        return
    bx, by = min(xs), min(ys)
    sc = (CELL - 2 * PAD) / max(max(xs) - bx, max(ys) - by, 1)
    ox = x0 + PAD + ((CELL - 2 * PAD) - (max(xs) - bx) * sc) / 2
    oy = y0 + PAD + ((CELL - 2 * PAD) - (max(ys) - by) * sc) / 2
    for s in dr:
        pts = [(ox + (x - bx) * sc, oy + (y - by) * sc) for x, y in zip(s[0], s[1])]
        if len(pts) > 1:
            d.line(pts, fill=0, width=width, joint="curve")
        else:
            d.ellipse([pts[0][0] - 1, pts[0][1] - 1, pts[0][0] + 1, pts[0][1] + 1], fill=0)


def label(sc):
    if not sc:
        return "failed"
    top = sc["top"][0]
    mark = "+" if top["word"] == sc.get("word") else " "
    return "%s%s %.2f\np(word) %.2f" % (mark, top["word"][:13], top["p"], sc["p_word"])


for s in "abc":
    before = load(os.path.join(W, s, "none", "scored.ndjson"))
    focus = load(os.path.join(W, s, FOCUS, "scored.ndjson"))
    if not before or not focus:
        continue
    rows = [r for r in ROWS if os.path.exists(os.path.join(W, s, r, "scored.ndjson"))]
    scored = {r: load(os.path.join(W, s, r, "scored.ndjson")) for r in rows}
    gain = sorted(before, key=lambda k: (focus[k]["score"]["p_word"] if k in focus else 0) - before[k]["score"]["p_word"])
    cols = gain[::-1][:K] + gain[:K]
    extra = 1 if s == "b" else 0
    nrow = len(rows) + extra
    head = 110
    im = Image.new("L", (head + len(cols) * CELL + 12, 22 + nrow * (CELL + TXT)), 255)
    d = ImageDraw.Draw(im)
    d.text((head + 4, 4), "wins of %s (p(word) rose most)" % FOCUS, fill=0)
    d.text((head + K * CELL + 16, 4), "failures of %s (p(word) fell most)" % FOCUS, fill=0)
    names = (["clean (target)"] if extra else []) + ["input" if r == "none" else r for r in rows]
    for i, n in enumerate(names):
        d.text((4, 22 + i * (CELL + TXT) + CELL // 2), n, fill=0)
    for j, k in enumerate(cols):
        x = head + j * CELL + (12 if j >= K else 0)
        rec0 = before[k]
        i = 0
        if extra:
            draw(d, rec0["target"], x, 22)
            d.text((x + 4, 22 + CELL), rec0["word"][:18], fill=60)
            i = 1
        for r in rows:
            y = 22 + i * (CELL + TXT)
            rec = scored[r].get(k)
            if rec:
                draw(d, rec["drawing"], x, y)
                sc = dict(rec["score"], word=rec["word"])
            else:
                sc = None
            d.text((x + 4, y + CELL - 2), label(sc), fill=60)
            i += 1
        d.line([(x, 22), (x, im.size[1])], fill=220)
    out = os.path.join(ROOT, "docs", "img", "study-%s.png" % s)
    im.save(out, optimize=True)
    print(out)
