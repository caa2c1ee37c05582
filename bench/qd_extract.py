#!/usr/bin/python3
"""qd_extract.py - the Python peer of `qd-extract --word W1,W2 --fit S --pad P`
for bench/run.sh: what a user would write with the json module.

Reads ndjson from the files (or stdin), keeps records whose "word" is one of
the words, fits each drawing's bounding box into an S x S canvas with the
study's formula (docs/study.md 1.3), writes the record with x,y
rounded to 3 decimals, time arrays dropped and "canvas" added.  Output is the
same records as qd-extract's (numbers may be spelled differently, e.g. 12.0
vs 12).
"""
import json
import sys


def fit(drawing, size, pad):
    xs = [x for s in drawing for x in s[0]]
    ys = [y for s in drawing for y in s[1]]
    x0, y0 = min(xs), min(ys)
    w = max(xs) - x0 + 1e-6
    h = max(ys) - y0 + 1e-6
    scale = (size - 2 * pad) / max(w, h)
    ox = (size - scale * w) / 2
    oy = (size - scale * h) / 2
    return [[[round((x - x0) * scale + ox, 3) for x in s[0]],
             [round((y - y0) * scale + oy, 3) for y in s[1]]] for s in drawing]


def main():
    args = sys.argv[1:]
    words, size, pad, files = set(), 224.0, 10.0, []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--word":
            words.update(w for w in args[i + 1].split(",") if w)
            i += 2
        elif a == "--fit":
            size = float(args[i + 1])
            i += 2
        elif a == "--pad":
            pad = float(args[i + 1])
            i += 2
        else:
            files.append(a)
            i += 1
    out = sys.stdout
    for path in files or ["-"]:
        f = sys.stdin if path == "-" else open(path, encoding="utf-8")
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            if words and rec.get("word") not in words:
                continue
            rec["drawing"] = fit(rec["drawing"], size, pad)
            rec["canvas"] = {"width": size, "height": size}
            out.write(json.dumps(rec, separators=(",", ":")) + "\n")
        if f is not sys.stdin:
            f.close()


if __name__ == "__main__":
    main()
