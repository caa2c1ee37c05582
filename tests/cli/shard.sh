# tests/cli/shard.sh - the per-record tools sharded with GNU parallel
# (pipelines/shard.sh: --pipe --keep-order, 2 jobs, 3 records a chunk) give
# the same records and images as one process: qd-degrade (with and without
# key_ids -- a seed taken from the input position would fail here), rasterize
# (PNG stream and --out files, the position tags "file"/"line" removed),
# clip-embed (its "index" removed), optimize, sketch-score.  Skips, saying so,
# when GNU parallel is absent.  Sourced by tests/run.sh.
if ! parallel --version 2>/dev/null | grep -q 'GNU parallel'; then
  echo "# SKIP shard: GNU parallel is not installed (apt-get install parallel); sharding not tested"
  ok "shard: skipped, GNU parallel absent"
  return 0 2>/dev/null || exit 0
fi
SH="sh pipelines/shard.sh -j 2 -n 3 --"
qd-extract --word fish --limit 10 --fit 224 data/quickdraw/simplified/fish.ndjson.gz >"$T/f.ndjson"
eq "10 input records" "$(wc -l <"$T/f.ndjson" | tr -d ' ')" 10

# PNG stream -> the same stream without the position tags (tEXt "line" and "file")
cat >"$T/strip.py" <<'PY'
import struct, sys, zlib
d = open(sys.argv[1], 'rb').read(); out = bytearray(); i = 0; n = 0
while i < len(d):
    assert d[i:i+8] == b'\x89PNG\r\n\x1a\n', 'not a PNG at %d' % i
    out += d[i:i+8]; i += 8; n += 1
    while True:
        ln, = struct.unpack('>I', d[i:i+4]); typ = d[i+4:i+8]; body = d[i+8:i+8+ln]; j = i + 12 + ln
        if not (typ == b'tEXt' and body.split(b'\0')[0] in (b'line', b'file')): out += d[i:j]
        i = j
        if typ == b'IEND': break
sys.stdout.buffer.write(out); sys.stderr.write('%d\n' % n)
PY
# NDJSON -> the same records without the named fields
cat >"$T/drop.py" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    for k in sys.argv[2:]: r.pop(k, None)
    print(json.dumps(r, sort_keys=True))
PY

# --- qd-degrade: byte for byte, with and without key_ids ---
qd-degrade --seed 5 --mix tremor --mix dropout --mix elastic <"$T/f.ndjson" >"$T/d1"
$SH qd-degrade --seed 5 --mix tremor --mix dropout --mix elastic <"$T/f.ndjson" >"$T/d2"
same "qd-degrade: 2 sharded jobs = one process" "$T/d1" "$T/d2"
sed 's/"key_id":"[0-9]*",//' "$T/f.ndjson" >"$T/nokey.ndjson"
qd-degrade --seed 5 <"$T/nokey.ndjson" >"$T/n1"
$SH qd-degrade --seed 5 <"$T/nokey.ndjson" >"$T/n2"
same "qd-degrade without key_ids: sharded = one process (no seed from the line number)" "$T/n1" "$T/n2"
cmp -s "$T/n1" "$T/nokey.ndjson" && notok "qd-degrade changed the drawings" || ok "qd-degrade changed the drawings"

# --- rasterize: PNG stream and --out files ---
rasterize -j 1 --field target <"$T/d1" >"$T/r1.png"
$SH rasterize -j 1 --field target <"$T/d1" >"$T/r2.png"
python3 "$T/strip.py" "$T/r1.png" >"$T/r1s" 2>"$T/r1n"
python3 "$T/strip.py" "$T/r2.png" >"$T/r2s" 2>"$T/r2n"
eq "rasterize: 10 images from one process" "$(cat "$T/r1n")" 10
same "rasterize: sharded PNG stream = one process (line/file tags aside)" "$T/r1s" "$T/r2s"
cmp -s "$T/r1.png" "$T/r2.png" && notok "the raw streams differ in their line tags" || ok "the raw streams differ in their line tags"
rasterize -j 1 --out "$T/o1" <"$T/d1"
mkdir -p "$T/o2" && $SH rasterize -j 1 --out "$T/o2" <"$T/d1"
nf=0; nd=0
for f in "$T"/o1/*.png; do
  nf=$((nf + 1)); python3 "$T/strip.py" "$f" >"$T/a" 2>/dev/null; python3 "$T/strip.py" "$T/o2/$(basename "$f")" >"$T/b" 2>/dev/null
  cmp -s "$T/a" "$T/b" || nd=$((nd + 1))
done
eq "rasterize --out: 10 files, each the same sharded" "$nf/$nd" "10/0"

# The batched models (clip-embed, sketch-score) round a few last bits
# differently for another batch size (sgemm's blocking depends on it): with
# batches that line up with the chunks (3 records a chunk, clip-embed --batch 3)
# the output is byte for byte the same; with the default batch, within 2e-6.
cat >"$T/close.py" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]; b = [json.loads(l) for l in open(sys.argv[2])]
worst = 0.0
def cmp(x, y):
    global worst
    if isinstance(x, float) or isinstance(y, float): worst = max(worst, abs(x - y)); return True
    if isinstance(x, dict): return x.keys() == y.keys() and all(cmp(x[k], y[k]) for k in x if k not in ('index', 'file'))
    if isinstance(x, list): return len(x) == len(y) and all(cmp(p, q) for p, q in zip(x, y))
    return x == y
same = len(a) == len(b) and all(cmp(x, y) for x, y in zip(a, b))
print(("ok - " if same and worst <= 2e-6 else "not ok - ") + "%s: default batch, sharded = one process within 2e-6 (worst %.3g)" % (sys.argv[3], worst))
PY

# --- clip-embed after rasterize, one pipeline per chunk ---
rasterize -j 1 <"$T/f.ndjson" | clip-embed -j 1 --batch 3 - >"$T/e1" 2>/dev/null
$SH 'rasterize -j 1 | clip-embed -j 1 --batch 3 -' <"$T/f.ndjson" >"$T/e2" 2>/dev/null
eq "clip-embed: 10 embeddings" "$(wc -l <"$T/e1" | tr -d ' ')" 10
python3 "$T/drop.py" "$T/e1" index file >"$T/e1s"; python3 "$T/drop.py" "$T/e2" index file >"$T/e2s"
same "clip-embed: sharded = one process (index/file aside)" "$T/e1s" "$T/e2s"
rasterize -j 1 <"$T/f.ndjson" | clip-embed -j 1 - >"$T/e3" 2>/dev/null
$SH 'rasterize -j 1 | clip-embed -j 1 -' <"$T/f.ndjson" >"$T/e4" 2>/dev/null
python3 "$T/close.py" "$T/e3" "$T/e4" clip-embed

# --- optimize (random start: seeded by (seed, key_id)) ---
head -4 "$T/f.ndjson" >"$T/f4"
O="optimize -j 1 --init random:strokes=4,points=4 --renderer bezier --loss clip-text:prompt=fish --steps 3 --seed 9"
$O <"$T/f4" >"$T/p1" 2>/dev/null
sh pipelines/shard.sh -j 2 -n 1 -- "$O" <"$T/f4" >"$T/p2" 2>/dev/null
eq "optimize: 4 records" "$(wc -l <"$T/p1" | tr -d ' ')" 4
same "optimize: sharded = one process" "$T/p1" "$T/p2"

# --- sketch-score (the evaluator) ---
# (it scores in batches of 32, so only the tolerance check applies)
sketch-score -j 1 <"$T/d1" >"$T/s3" 2>/dev/null
$SH sketch-score -j 1 <"$T/d1" >"$T/s4" 2>/dev/null
grep -q '"score"' "$T/s3" && ok "sketch-score scored" || notok "sketch-score scored" "$(head -c 300 "$T/s3")"
python3 "$T/close.py" "$T/s3" "$T/s4" sketch-score

# --- a failing chunk fails the run with the tool's exit code ---
sh pipelines/shard.sh -j 2 -n 3 -- qd-degrade --degrade nosuch <"$T/f.ndjson" >/dev/null 2>"$T/err"; rc=$?
eq "a failing job fails the sharded run with its exit code (2)" "$rc" 2
