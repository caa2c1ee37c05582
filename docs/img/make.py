#!/usr/bin/python3
"""docs/img/make.py - the before/after strips and progressions in docs/optimize.md, from the recipes' outputs.

For each outputs/<recipe>/<run>/ given (default: every run found), writes docs/img/<recipe>-<run>.png:
the `before/` pictures (the strokes each drawing started from) on the top row and the `after/` ones
(the optimised strokes) below, at most 6 drawings, each 224 px, in key_id order; and
docs/img/<recipe>-<run>-progress.png: 8 evenly spaced frames of the first drawing's frames.png (restart 0).  Documentation only:
run it after the recipes (make recipes), with /usr/bin/python3 (PIL)."""
import io, os, sys
from PIL import Image

SIG = b"\x89PNG\r\n\x1a\n"

def frames(path):
    """The PNG stream's images with their text chunks, in order."""
    data = open(path, "rb").read()
    for part in data.split(SIG)[1:]:
        im = Image.open(io.BytesIO(SIG + part))
        im.load()
        yield im, dict(im.text)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
runs = sys.argv[1:] or sorted(
    os.path.join(r, d) for r in (os.path.join("outputs", x) for x in os.listdir(os.path.join(ROOT, "outputs")))
    if os.path.isdir(os.path.join(ROOT, r)) for d in os.listdir(os.path.join(ROOT, r))
    if os.path.isdir(os.path.join(ROOT, r, d, "before")))
for run in runs:
    b, a = os.path.join(ROOT, run, "before"), os.path.join(ROOT, run, "after")
    names = sorted(os.listdir(b))[:6]
    if not names:
        continue
    s = 224
    strip = Image.new("L", (s * len(names) + 4 * (len(names) - 1), 2 * s + 4), 160)
    for i, n in enumerate(names):
        strip.paste(Image.open(os.path.join(b, n)).convert("L").resize((s, s)), (i * (s + 4), 0))
        strip.paste(Image.open(os.path.join(a, n)).convert("L").resize((s, s)), (i * (s + 4), s + 4))
    recipe, name = os.path.normpath(run).split(os.sep)[-2:]
    out = os.path.join(ROOT, "docs", "img", "%s-%s.png" % (recipe, name))
    strip.save(out, optimize=True)
    print(out)
    fp = os.path.join(ROOT, run, "frames.png")
    if os.path.exists(fp):
        fr = list(frames(fp))
        first = fr[0][1].get("key_id")
        fr = [f for f in fr if f[1].get("key_id") == first and f[1].get("restart", "0") == "0"]
        pick = [fr[round(i * (len(fr) - 1) / 7)] for i in range(8)] if len(fr) >= 8 else fr
        p = Image.new("L", (s * len(pick) + 4 * (len(pick) - 1), s), 160)
        for i, (im, _) in enumerate(pick):
            p.paste(im.convert("L").resize((s, s)), (i * (s + 4), 0))
        out = os.path.join(ROOT, "docs", "img", "%s-%s-progress.png" % (recipe, name))
        p.save(out, optimize=True)
        print(out, "steps", [t.get("step") for _, t in pick])
