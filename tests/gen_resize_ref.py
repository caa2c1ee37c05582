#!/usr/bin/python3
"""Reference for common/nn/resize.c: PIL's own float-image resize (Image.BILINEAR,
which antialiases with a triangle filter when it reduces, reducing_gap off).
Writes tests/fixtures/resize/pil.bin: for each case, int32 H W h w, then the
input (H*W float32) and PIL's output (h*w float32).  Run with /usr/bin/python3."""
import os, struct
import numpy as np
from PIL import Image

rng = np.random.default_rng(7)
cases = [(50, 50, 16, 16), (37, 45, 13, 20), (16, 16, 50, 50), (112, 98, 32, 28), (9, 30, 9, 7)]
out = bytearray()
for H, W, h, w in cases:
    x = rng.random((H, W), dtype=np.float32)
    y = np.asarray(Image.fromarray(x, mode="F").resize((w, h), Image.BILINEAR), dtype=np.float32)
    out += struct.pack("<4i", H, W, h, w) + x.tobytes() + y.tobytes()
path = os.path.join(os.path.dirname(__file__), "fixtures", "resize", "pil.bin")
with open(path, "wb") as f:
    f.write(struct.pack("<i", len(cases)) + out)
print(path, len(out))
