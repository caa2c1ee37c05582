#!/usr/bin/python3
"""gen_qdbin.py - writes the .bin fixtures for qd-extract's tests.

An encoder for Google's QuickDraw binary format written independently of the
C decoder (Python stdlib only).  Takes the first 30 records of
data/quickdraw/simplified/fish.ndjson.gz plus hand-made edge cases
(single-point strokes, recognized false, 300 strokes, a 255-point stroke,
extreme key_id and timestamp values) and writes into tests/fixtures/qdbin/:

  fish.bin               the records, little-endian, back to back
  fish.bin.gz            the same bytes gzipped
  fish.expected.ndjson   what `qd-extract fish.bin` must print, one per line
  trunc.bin              fish.bin cut in the middle of its 5th record

Run from the repository root: python3 tests/gen_qdbin.py.  The outputs are
committed; the test suite never runs this script.
"""
import datetime
import gzip
import json
import random
import struct

OUT = "tests/fixtures/qdbin/"


def encode(rec):
    """One record: key_id u64, countrycode 2 bytes, recognized u8,
    timestamp u32, n_strokes u16, per stroke n_points u16, x[n] u8, y[n] u8."""
    b = struct.pack("<Q2sBIH", int(rec["key_id"]), rec["countrycode"].encode("ascii"),
                    1 if rec["recognized"] else 0, rec["ts"], len(rec["drawing"]))
    for xs, ys in rec["drawing"]:
        assert len(xs) == len(ys) and len(xs) < 65536
        b += struct.pack("<H", len(xs)) + bytes(xs) + bytes(ys)
    return b


def expected(rec):
    ts = datetime.datetime.fromtimestamp(rec["ts"], datetime.timezone.utc)
    out = {
        "word": "fish",
        "countrycode": rec["countrycode"],
        "timestamp": ts.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "recognized": bool(rec["recognized"]),
        "key_id": str(int(rec["key_id"])),
        "drawing": [[list(xs), list(ys)] for xs, ys in rec["drawing"]],
    }
    return json.dumps(out, separators=(",", ":"))


def main():
    rnd = random.Random(20240611)
    recs = []
    countries = ["US", "GB", "DE", "BR", "JP", "FR"]
    with gzip.open("data/quickdraw/simplified/fish.ndjson.gz", "rt") as f:
        for i, line in enumerate(f):
            if i == 30:
                break
            r = json.loads(line)
            recs.append({
                "key_id": r["key_id"],
                "countrycode": countries[i % len(countries)],
                "recognized": i % 4 != 3,
                "ts": 1485000000 + rnd.randrange(0, 10**7),
                "drawing": [s[:2] for s in r["drawing"]],
            })
    # edge cases
    recs.append({"key_id": "1", "countrycode": "ZZ", "recognized": False, "ts": 0,
                 "drawing": [[[7], [9]], [[0], [255]], [[255, 255], [0, 0]]]})
    recs.append({"key_id": str(2**64 - 1), "countrycode": "NZ", "recognized": True, "ts": 2**32 - 1,
                 "drawing": [[[i % 256 for i in range(s, s + 3)], [(i * 7) % 256 for i in range(s, s + 3)]]
                             for s in range(300)]})
    recs.append({"key_id": "5000000000000000", "countrycode": "AU", "recognized": True, "ts": 1490000000,
                 "drawing": [[list(range(255)), [255 - v for v in range(255)]]]})
    data = b"".join(encode(r) for r in recs)
    with open(OUT + "fish.bin", "wb") as f:
        f.write(data)
    with open(OUT + "fish.bin.gz", "wb") as f:
        f.write(gzip.compress(data, mtime=0))
    with open(OUT + "fish.expected.ndjson", "w") as f:
        for r in recs:
            f.write(expected(r) + "\n")
    # cut inside the 5th record: 4 whole records, then part of the 5th's points
    cut = sum(len(encode(r)) for r in recs[:4]) + len(encode(recs[4])) // 2
    with open(OUT + "trunc.bin", "wb") as f:
        f.write(data[:cut])


if __name__ == "__main__":
    main()
