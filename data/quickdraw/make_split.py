#!/usr/bin/python3
"""make_split.py - the fixed train/validation split of data/quickdraw/simplified.

For each word, the drawings are ordered by SHA-256 of their key_id and the
first round(n/10) form the validation set; their key_ids (one per line, word
order then hash order) are written to data/quickdraw/val-keys.txt.  Every
other drawing is training data.  Deterministic, independent of file order, and
stable if more drawings of a word are added (a key's hash decides where it
sorts).  Run once; the list is committed:

    /usr/bin/python3 data/quickdraw/make_split.py > data/quickdraw/val-keys.txt
"""
import glob, gzip, hashlib, json, os, sys

here = os.path.dirname(os.path.abspath(__file__))
out = []
for path in sorted(glob.glob(os.path.join(here, "simplified", "*.ndjson.gz"))):
    keys = [json.loads(line)["key_id"] for line in gzip.open(path, "rt", encoding="utf-8")]
    if len(set(keys)) != len(keys):
        sys.exit(f"{path}: repeated key_id")
    keys.sort(key=lambda k: hashlib.sha256(k.encode()).hexdigest())
    out += keys[: round(len(keys) / 10)]
sys.stdout.write("".join(k + "\n" for k in out))
