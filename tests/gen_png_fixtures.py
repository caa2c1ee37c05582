#!/usr/bin/env python3
"""gen_png_fixtures.py - independent reference PNGs for tests/unit/test_png.c.

Writes small PNGs in the formats the C reader must convert (16-bit, palette
with and without tRNS, 1-bit grey, grey+alpha, Adam7 interlaced, every row
filter type, tEXt/zTXt/iTXt chunks) with nothing but the standard library
(zlib + struct), and beside each NAME.png a NAME.expect text file:
    W H C
    v v v ...        (the 8-bit pixels the reader must return, row-major)
The expected values follow the conversion rules stated in common/png_io.h,
computed here with exact rational arithmetic:
    16 -> 8 bits     round(v * 255 / 65535)
    palette          the palette entry
    1/2/4-bit grey   v * 255 / (2^depth - 1)
    alpha            composited over white: round((c*a + 255*(255-a)) / 255)
Run once; the outputs are committed in tests/fixtures/png/.
"""
import os
import struct
import zlib
from fractions import Fraction

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "png")


def rnd(fr):
    """Round a non-negative Fraction to the nearest integer, halves up."""
    return int(fr + Fraction(1, 2))


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_rows(rows, bpp):
    """Filter each row with type (row index % 5) so all five get exercised."""
    out = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for r, row in enumerate(rows):
        ft = r % 5
        f = bytearray()
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ft]
            f.append((x - pred) & 0xFF)
        out.append(ft)
        out += f
        prev = row
    return bytes(out)


def pack_row(samples, depth):
    """samples: list of ints (all channels of a row, in order)."""
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    out, acc, nbits = bytearray(), 0, 0
    for s in samples:
        acc = (acc << depth) | s
        nbits += depth
        if nbits == 8:
            out.append(acc)
            acc, nbits = 0, 0
    if nbits:
        out.append(acc << (8 - nbits))
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
NCH = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def write_png(name, w, h, ctype, depth, pix, interlace=False, plte=None, trns=None, texts=()):
    """pix[y][x] = tuple of samples (palette: (index,))."""
    nch = NCH[ctype]
    bpp = max(1, nch * depth // 8)

    def image_bytes(x0, y0, dx, dy):
        xs = list(range(x0, w, dx))
        ys = list(range(y0, h, dy))
        if not xs or not ys:
            return b""
        rows = [pack_row([s for x in xs for s in pix[y][x]], depth) for y in ys]
        return filter_rows(rows, bpp)

    if interlace:
        raw = b"".join(image_bytes(*p) for p in ADAM7)
    else:
        raw = image_bytes(0, 0, 1, 1)
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 1 if interlace else 0))
    for kind, data in texts:
        png += chunk(kind, data)
    if plte:
        png += chunk(b"PLTE", b"".join(bytes(c) for c in plte))
    if trns is not None:
        png += chunk(b"tRNS", trns)
    z = zlib.compress(raw, 9)
    # split the data over two IDAT chunks to exercise chunk boundaries
    half = len(z) // 2
    png += chunk(b"IDAT", z[:half]) + chunk(b"IDAT", z[half:]) + chunk(b"IEND", b"")
    with open(os.path.join(OUT, name + ".png"), "wb") as f:
        f.write(png)


def write_expect(name, w, h, c, vals):
    with open(os.path.join(OUT, name + ".expect"), "w") as f:
        f.write("%d %d %d\n" % (w, h, c))
        for y in range(h):
            f.write(" ".join(str(v) for v in vals[y * w * c:(y + 1) * w * c]) + "\n")


def s16to8(v):
    return rnd(Fraction(v * 255, 65535))


def over_white(c, a):
    return rnd(Fraction(c * a + 255 * (255 - a), 255))


def main():
    os.makedirs(OUT, exist_ok=True)

    # 16-bit grey, 9x4, values chosen near rounding boundaries
    w, h = 9, 4
    pix = [[((x * 7919 + y * 104729) * 37 % 65536,) for x in range(w)] for y in range(h)]
    pix[0][0], pix[0][1], pix[0][2], pix[0][3] = (0,), (65535,), (128,), (129,)
    pix[1][0], pix[1][1] = (32767,), (32768,)
    write_png("grey16", w, h, 0, 16, pix)
    write_expect("grey16", w, h, 1, [s16to8(pix[y][x][0]) for y in range(h) for x in range(w)])

    # 2-bit palette, 7x3, no transparency
    plte = [(255, 255, 255), (0, 0, 0), (200, 30, 40), (10, 120, 250)]
    w, h = 7, 3
    pix = [[((x + 2 * y) % 4,) for x in range(w)] for y in range(h)]
    write_png("palette2", w, h, 3, 2, pix, plte=plte)
    write_expect("palette2", w, h, 3, [v for y in range(h) for x in range(w) for v in plte[pix[y][x][0]]])

    # 8-bit palette with tRNS (entry alphas 0, 128, 255; the last entry has none -> opaque)
    plte = [(0, 0, 0), (100, 50, 25), (3, 200, 100), (90, 90, 90)]
    alpha = [0, 128, 255]
    w, h = 5, 4
    pix = [[((x * 3 + y) % 4,) for x in range(w)] for y in range(h)]
    write_png("palette_trns", w, h, 3, 8, pix, plte=plte, trns=bytes(alpha))
    vals = []
    for y in range(h):
        for x in range(w):
            i = pix[y][x][0]
            a = alpha[i] if i < len(alpha) else 255
            vals += [over_white(c, a) for c in plte[i]]
    write_expect("palette_trns", w, h, 3, vals)

    # 1-bit grey, 11x3 (rows not a whole number of bytes)
    w, h = 11, 3
    pix = [[(((x * 5 + y * 3) >> 1) & 1,) for x in range(w)] for y in range(h)]
    write_png("grey1", w, h, 0, 1, pix)
    write_expect("grey1", w, h, 1, [255 * pix[y][x][0] for y in range(h) for x in range(w)])

    # 8-bit grey+alpha, 6x3
    w, h = 6, 3
    pix = [[((x * 40 + y * 7) % 256, (x * 51 + y * 100) % 256) for x in range(w)] for y in range(h)]
    write_png("greyalpha", w, h, 4, 8, pix)
    write_expect("greyalpha", w, h, 1, [over_white(*pix[y][x]) for y in range(h) for x in range(w)])

    # RGB 8-bit Adam7, 13x11 (every pass non-empty), with text chunks:
    # tEXt in Latin-1, zTXt, iTXt in UTF-8
    w, h = 13, 11
    pix = [[((x * 19 + y) % 256, (y * 23 + x * 2) % 256, (x * y * 5) % 256) for x in range(w)] for y in range(h)]
    texts = [
        (b"tEXt", b"key_id\x00777"),
        (b"tEXt", b"word\x00caf\xe9"),
        (b"zTXt", b"note\x00\x00" + zlib.compress(b"compressed text")),
        (b"iTXt", b"title\x00\x00\x00\x00\x00" + "fisch \u00fcber \u2603".encode("utf-8")),
    ]
    write_png("rgb_adam7", w, h, 2, 8, pix, interlace=True, texts=texts)
    write_expect("rgb_adam7", w, h, 3, [v for y in range(h) for x in range(w) for v in pix[y][x]])

    # RGBA 16-bit Adam7, 9x7: scaled to 8 bits, then composited over white
    w, h = 9, 7
    pix = [[((x * 9001 + y * 17) % 65536, (y * 4099) % 65536, (x * y * 1234) % 65536,
             (x * 8191 + y * 12000) % 65536) for x in range(w)] for y in range(h)]
    write_png("rgba16_adam7", w, h, 6, 16, pix, interlace=True)
    vals = []
    for y in range(h):
        for x in range(w):
            a = s16to8(pix[y][x][3])
            vals += [over_white(s16to8(c), a) for c in pix[y][x][:3]]
    write_expect("rgba16_adam7", w, h, 3, vals)


if __name__ == "__main__":
    main()
