#!/usr/bin/python3
"""gen_imgprep_ref.py - independent reference for common/imgprep.c and common/jpeg_io.c.

Writes tests/fixtures/imgprep/: the input images (noise.png 37x23 RGB noise,
grey.png 29x41 grey noise, sq16.png 16x16 RGB noise, sketch.png a 256x256
antialiased line drawing, perfectFish.jpeg copied from the study, and small
grey / CMYK / progressive JPEGs made here) and ref.bin.gz, the results of
PIL 9.4 (Debian's python3-pil, linked to the system libjpeg-turbo) and of
torchvision's preprocessing written out from its documented math with PIL +
numpy (torchvision is not installed):

  Resize(S, BICUBIC) on a PIL image: shorter side -> S, longer side ->
      int(S * long / short); returned unchanged if already that size.
  CenterCrop(S): top = int(round((H - S) / 2.0)), left likewise (Python round).
  ToTensor: uint8 HWC -> float32 CHW / 255.  Normalize: (x - mean) / std, float32.
  CLIP's preprocess: Resize, CenterCrop, convert("RGB"), ToTensor, Normalize.
  The study's squash (docs/study.md 1.6): im.resize((S, S), BILINEAR).

ref.bin.gz layout (little-endian): magic b"IMPREF1\\0", then records:
  char img[16], char op[16] (NUL padded), int32 a, b, c, int32 h, w, ch,
  int32 dtype (0 = uint8 (h,w,ch) interleaved, 1 = float32 (ch,h,w) planar),
  then the data.  ops (a, b, c):
    decode  (0,0,0)            PIL Image.open(f).convert("RGB")
    resize  (ow, oh, filter)   im.resize((ow, oh), filter) as opened (L or RGB),
                               then convert("RGB")
    clip_u8 (S,0,0)            Resize + CenterCrop + convert("RGB"), uint8
    clip    (S, normalized, 0) the full CLIP preprocess (normalized = 0: no Normalize)
    squash  (S, normalized, filter)
    norm    (S, normalized, 0) ToTensor (+ Normalize) of an S x S image

Run from the repository root: /usr/bin/python3 tests/gen_imgprep_ref.py
"""
import gzip
import os
import shutil
import struct

import numpy as np
import PIL
from PIL import Image, ImageDraw, features

OUT = "tests/fixtures/imgprep"
FISH = "../shared/data/reference/perfectFish.jpeg"
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
BILINEAR, BICUBIC, LANCZOS, BOX, HAMMING = (Image.BILINEAR, Image.BICUBIC, Image.LANCZOS,
                                            Image.BOX, Image.HAMMING)
assert (LANCZOS, BILINEAR, BICUBIC, BOX, HAMMING) == (1, 2, 3, 4, 5)


def tv_resize(im, S, filt):
    w, h = im.size
    short, long_ = (w, h) if w <= h else (h, w)
    new_short, new_long = S, int(S * long_ / short)
    nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
    if (nw, nh) == (w, h):
        return im
    return im.resize((nw, nh), filt)


def tv_center_crop(im, S):
    w, h = im.size
    assert w >= S and h >= S
    top = int(round((h - S) / 2.0))
    left = int(round((w - S) / 2.0))
    return im.crop((left, top, left + S, top + S))


def to_tensor(im):
    a = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return a.astype(np.float32).transpose(2, 0, 1) / np.float32(255)


def normalize(t):
    return ((t - MEAN[:, None, None]) / STD[:, None, None]).astype(np.float32)


recs = []


def rec(img, op, a, b, c, arr):
    arr = np.ascontiguousarray(arr)
    if arr.dtype == np.uint8:
        h, w, ch = arr.shape
        dt = 0
    else:
        assert arr.dtype == np.float32
        ch, h, w = arr.shape
        dt = 1
    hdr = struct.pack("<16s16s7i", img.encode(), op.encode(), a, b, c, h, w, ch, dt)
    recs.append(hdr + arr.tobytes())


def u8(im):
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def make_inputs():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240611)
    Image.fromarray(rng.integers(0, 256, (23, 37, 3), dtype=np.uint8), "RGB").save(f"{OUT}/noise.png")
    Image.fromarray(rng.integers(0, 256, (41, 29), dtype=np.uint8), "L").save(f"{OUT}/grey.png")
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), "RGB").save(f"{OUT}/sq16.png")
    # a sketch: black strokes on white, drawn 4x larger and box-averaged to 256
    big = Image.new("L", (1024, 1024), 255)
    d = ImageDraw.Draw(big)
    t = np.linspace(0, 2 * np.pi, 60)
    body = [(512 + 330 * np.cos(a), 512 + 170 * np.sin(a)) for a in t]
    d.line(body, fill=0, width=14, joint="curve")
    d.line([(180, 512), (60, 360), (60, 660), (180, 512)], fill=0, width=14, joint="curve")
    d.ellipse((700, 420, 760, 480), outline=0, width=12)
    for k in range(5):
        d.arc((380 + 40 * k, 380, 520 + 40 * k, 640), 300, 60, fill=40, width=9)
    big.reduce(4).save(f"{OUT}/sketch.png")
    shutil.copyfile(FISH, f"{OUT}/perfectFish.jpeg")
    # decoder variants
    Image.open(f"{OUT}/grey.png").resize((58, 82), BICUBIC).save(f"{OUT}/grey.jpeg", quality=85)
    cm = rng.integers(0, 256, (12, 20, 4), dtype=np.uint8)
    Image.fromarray(cm, "CMYK").save(f"{OUT}/cmyk.jpeg", quality=90)
    Image.open(FISH).convert("RGB").resize((120, 105), BICUBIC).save(
        f"{OUT}/progressive.jpeg", quality=80, progressive=True, subsampling=0)


def main():
    make_inputs()
    print("PIL", PIL.__version__, "libjpeg", features.version("jpg"),
          "turbo" if features.check_feature("libjpeg_turbo") else "")
    ims = {n: Image.open(f"{OUT}/{f}") for n, f in
           [("noise", "noise.png"), ("grey", "grey.png"), ("sq16", "sq16.png"),
            ("sketch", "sketch.png"), ("fish", "perfectFish.jpeg")]}
    for n, f in [("greyjpeg", "grey.jpeg"), ("cmyk", "cmyk.jpeg"), ("progressive", "progressive.jpeg")]:
        im = Image.open(f"{OUT}/{f}")
        print(f, im.mode, im.size, im.info.get("progressive", 0))
        rec(n, "decode", 0, 0, 0, u8(im))
    for n, im in ims.items():
        im.load()
        rec(n, "decode", 0, 0, 0, u8(im))

    # PIL resize, several sizes up and down, both filters of the study
    sizes = {
        "noise": [(16, 16), (18, 7), (1, 1), (5, 23), (37, 11), (80, 50), (111, 23), (41, 97)],
        "grey": [(16, 16), (14, 20), (3, 2), (29, 60), (64, 90), (100, 13)],
        "sq16": [(7, 9), (31, 31), (16, 40)],
        "sketch": [(224, 224), (16, 16), (100, 60), (256, 300), (301, 257), (37, 250)],
        "fish": [(224, 224), (16, 16), (120, 211), (241, 209), (250, 215)],
    }
    for n, lst in sizes.items():
        for (w, h) in lst:
            for f in (BICUBIC, BILINEAR):
                rec(n, "resize", w, h, f, u8(ims[n].resize((w, h), f)))
    # the other PIL kernels, once each
    for n, (w, h) in [("noise", (20, 40)), ("fish", (97, 53)), ("grey", (50, 33))]:
        for f in (LANCZOS, BOX, HAMMING):
            rec(n, "resize", w, h, f, u8(ims[n].resize((w, h), f)))

    # CLIP preprocess and the study's squash
    for n, im in ims.items():
        for S in (16, 224, 17, 5):
            if S == 224 and n == "sq16":
                continue
            c = tv_center_crop(tv_resize(im, S, BICUBIC), S)
            rec(n, "clip_u8", S, 0, 0, u8(c))
            if S == 16 or (S == 224 and n in ("fish", "sketch")):
                t = to_tensor(c)
                rec(n, "clip", S, 1, 0, normalize(t))
                if S == 16:
                    rec(n, "clip", S, 0, 0, t)
        for S, f in ((16, BILINEAR), (16, BICUBIC), (224, BILINEAR)):
            if S == 224 and n != "fish":  # fixture size: noise does not compress
                continue
            sq = im.resize((S, S), f)
            rec(n, "squash", S, 1, f, normalize(to_tensor(sq)))
            if S == 16:
                rec(n, "squash", S, 0, f, to_tensor(sq))
    for n, S in (("sq16", 16), ("sketch", 256)):
        t = to_tensor(ims[n])
        rec(n, "norm", S, 1, 0, normalize(t))
        rec(n, "norm", S, 0, 0, t)

    with open(f"{OUT}/ref.bin.gz", "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(b"IMPREF1\0")
        for r in recs:
            f.write(r)
    print(len(recs), "records,", os.path.getsize(f"{OUT}/ref.bin.gz"), "bytes")


if __name__ == "__main__":
    main()
