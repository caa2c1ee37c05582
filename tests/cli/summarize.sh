# tests/cli/summarize.sh - summarize on a tiny real optimize run: every picture decodes at the size its
# layout gives, the animation has one frame per frame of the stream, the tables say what the records
# say, the evaluator's verdicts and the chamfer equal sketch-score's, report.html links only files that
# exist (nothing from the network), training logs, and bad input.
zcat data/quickdraw/simplified/fish.ndjson.gz | head -2 | qd-degrade --seed 1 --mix tremor >"$T/pairs.ndjson"
optimize -j 1 --steps 6 --frames "$T/frames.png" --frame-every 2 --loss clip-text:prompt=fish \
  --loss structure:weight=0.3 <"$T/pairs.ndjson" >"$T/opt.ndjson" 2>"$T/err" || notok "tiny optimize" "$(cat "$T/err")"
summarize -o "$T/sum" --frames "$T/frames.png" --delay 7 "$T/opt.ndjson" 2>"$T/err"; rc=$?
eq "summarize exits 0" "$rc" 0
grep -q 'summarize: 2 records in 1 run -> .*report.html' "$T/err" && ok "it says where the report is" ||
  notok "report announced" "$(cat "$T/err")"
sketch-score --reference initial <"$T/opt.ndjson" >"$T/score1.ndjson" 2>/dev/null
sketch-score --field initial <"$T/opt.ndjson" >"$T/score0.ndjson" 2>/dev/null
python3 - "$T" <<'EOF'
import json, os, re, struct, sys, zlib
T = sys.argv[1]; out = T + "/sum"
def ok(c, n, d=""): print(("ok - " if c else "not ok - ") + n + ("" if c or not d else "\n#   " + str(d)))

def png_decode(data):
    """An independent PNG reader: chunk CRCs, IHDR, the inflated IDAT's size; returns (w, h, text chunks)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "signature"
    p, idat, text, w = 8, b"", {}, None
    while True:
        n, = struct.unpack(">I", data[p:p + 4]); t = data[p + 4:p + 8]; body = data[p + 8:p + 8 + n]
        assert zlib.crc32(t + body) == struct.unpack(">I", data[p + 8 + n:p + 12 + n])[0], "crc"
        p += 12 + n
        if t == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif t == b"IDAT": idat += body
        elif t == b"tEXt": k, v = body.split(b"\0", 1); text[k.decode()] = v.decode("latin-1")
        elif t == b"IEND": break
    ch = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    raw = zlib.decompress(idat)
    assert len(raw) == h * (1 + (w * ch * depth + 7) // 8), "IDAT size"
    return w, h, text, data[p:]

def gif_frames(data):
    """An independent GIF walker: header, screen, blocks to the trailer; returns (w, h, frames, delays)."""
    assert data[:6] in (b"GIF89a", b"GIF87a"), "header"
    w, h, flags = struct.unpack("<HHB", data[6:11]); p = 13
    if flags & 0x80: p += 3 * (2 << (flags & 7))
    frames, delays, delay = 0, [], None
    def skip(p):
        while data[p]: p += data[p] + 1
        return p + 1
    while True:
        b = data[p]
        if b == 0x3B: return w, h, frames, delays
        if b == 0x21:
            if data[p + 1] == 0xF9: delay = struct.unpack("<H", data[p + 4:p + 6])[0]
            p = skip(p + 2)
        elif b == 0x2C:
            x, y, fw, fh, fl = struct.unpack("<HHHHB", data[p + 1:p + 10]); p += 10
            assert (fw, fh) == (w, h), "frame size"
            if fl & 0x80: p += 3 * (2 << (fl & 7))
            p = skip(p + 1)  # LZW minimum code size, then the data sub-blocks
            frames += 1; delays.append(delay)
        else: raise ValueError("bad block 0x%02x at %d" % (b, p))

recs = [json.loads(l) for l in open(T + "/opt.ndjson")]
# the frames stream, read independently: images per key_id
stream, per = open(T + "/frames.png", "rb").read(), {}
while stream:
    fw, fh, text, stream = png_decode(stream)
    per[text["key_id"]] = per.get(text["key_id"], 0) + 1
metrics = [json.loads(l) for l in open(out + "/metrics.ndjson")]
rows = {m["key_id"]: m for m in metrics if "key_id" in m}
summ = [m for m in metrics if "summary" in m]
s1 = {json.loads(l)["key_id"]: json.loads(l)["score"] for l in open(T + "/score1.ndjson")}
s0 = {json.loads(l)["key_id"]: json.loads(l)["score"] for l in open(T + "/score0.ndjson")}
for r in recs:
    k = r["key_id"]; d = out + "/opt/" + k; m = rows.get(k, {})
    try:
        w, h, _, rest = png_decode(open(d + "/summary.png", "rb").read())
        ok(w == 1240 and 900 < h < 1100 and rest == b"", "summary.png decodes, 1240 wide (%dx%d)" % (w, h))
    except Exception as e: ok(False, "summary.png decodes", e)
    n = per.get(k, 0)
    try:
        w, h, _, _ = png_decode(open(d + "/grid.png", "rb").read())
        cols = min(n, 8); rws = (n + cols - 1) // cols
        ok((w, h) == (10 + 160 * cols, 10 + 200 * rws), "grid.png: %d frames, %d a row (%dx%d)" % (n, cols, w, h))
    except Exception as e: ok(False, "grid.png decodes", e)
    try:
        gw, gh, nf, delays = gif_frames(open(d + "/anim.gif", "rb").read())
        ok(nf == n and n >= 4, "anim.gif has one frame per frame of the stream (%d = %d)" % (nf, n))
        ok(delays[:-1] == [7] * (n - 1) and delays[-1] == 56, "--delay 7: frames 7 cs, the last 8 times as long", delays)
        ok((gw, gh) == (224, 250), "GIF frames are the canvas plus a caption bar (%dx%d)" % (gw, gh))
    except Exception as e: ok(False, "anim.gif decodes", e)
    o = r["optimize"]
    ok(m.get("similarity_initial") == o["initial"]["similarity"] and m.get("similarity_final") == o["final"]["similarity"],
       "metrics: similarities are optimize's initial and final", (m, o))
    ok(abs(m["similarity_change"] - (o["final"]["similarity"] - o["initial"]["similarity"])) < 1e-6, "metrics: change")
    ok(m["steps"] == o["steps_run"] == 6 and m["frames"] == n, "metrics: steps and frames")
    ok(m["strokes_initial"] == len(r["initial"]) and m["strokes_final"] == len(r["drawing"]), "metrics: stroke counts")
    ok("target" in r and m.get("similarity_target") == o["target"]["similarity"] != o["initial"]["similarity"],
       "metrics: similarity_target is optimize's evaluation of the clean target", (m.get("similarity_target"), o.get("target")))
    ok(abs(m["chamfer"] - s1[k]["chamfer"]) < 1e-3, "chamfer equals sketch-score --reference initial (%s, %s)" % (m["chamfer"], s1[k]["chamfer"]))
    ok(m["top1_final"] == (s1[k]["rank"] == 1) and abs(m["p_word_final"] - s1[k]["p_word"]) < 1e-3,
       "evaluator on the result equals sketch-score's (p %s, %s)" % (m["p_word_final"], s1[k]["p_word"]))
    ok(m["top1_initial"] == (s0[k]["rank"] == 1) and abs(m["p_word_initial"] - s0[k]["p_word"]) < 1e-3,
       "evaluator on the start equals sketch-score --field initial's")
ok(len(summ) == 1 and summ[0]["summary"]["records"] == 2, "one summary line for the run")
mean = sum(o["optimize"]["final"]["similarity"] for o in recs) / 2
ok(abs(summ[0]["summary"]["similarity_final"] - mean) < 1e-6, "the run's mean final similarity")
md = open(out + "/metrics.md").read()
ok(all(r["key_id"] in md for r in recs) and "| **mean** |" in md, "metrics.md has a row a record and a mean row")
mt = sum(o["optimize"]["target"]["similarity"] for o in recs) / 2
ok(abs(summ[0]["summary"]["similarity_target"] - mt) < 1e-6, "the run's mean target similarity")
hdr = [l for l in md.splitlines() if l.startswith("| key_id")][0].split("|")[1:-1]
row = [l for l in md.splitlines() if l.startswith("| " + recs[0]["key_id"])][0].split("|")[1:-1]
ok(hdr[-1].strip() == "similarity clean target" and abs(float(row[-1]) - recs[0]["optimize"]["target"]["similarity"]) < 1e-4,
   "metrics.md: a last column with the clean target's similarity", (hdr, row))
html = open(out + "/report.html").read()
srcs = re.findall(r'src="([^"]+)"', html)
ok(len(srcs) == 6 and all(os.path.isfile(out + "/" + s) for s in srcs), "report.html shows the 6 pictures, all beside it", srcs)
ok(not re.search(r'(src|href)="(https?:)?//', html), "report.html loads nothing from the network")
ok("<th>similarity clean target</th>" in html, "report.html: the clean targets' similarity in the run's table")
left = [f for dp, dn, fn in os.walk(out) for f in fn if ".tmp" in f]
ok(not left, "no temporary files left", left)
EOF

# --- records without a target: no similarity_target, no column ---
python3 -c "
import json,re
for l in open('$T/opt.ndjson'):
    r=json.loads(l); del r['target']; del r['optimize']['target']; print(json.dumps(r))" >"$T/notgt.ndjson"
summarize -o "$T/notgt" --evaluator none "$T/notgt.ndjson" 2>"$T/err" || notok "summarize without targets" "$(cat "$T/err")"
if grep -q similarity_target "$T/notgt/metrics.ndjson" || grep -q 'clean target' "$T/notgt/metrics.md"; then
  notok "without a target: no similarity_target in the metrics"
else ok "without a target: no similarity_target in the metrics"; fi

# --- records without frames or history (unet-train --vectorize output looks like this) ---
python3 -c "
import json,sys
for l in open('$T/opt.ndjson'):
    r=json.loads(l); del r['history']; del r['optimize']; print(json.dumps(r))" >"$T/plain.ndjson"
summarize -o "$T/plain" --evaluator none "$T/plain.ndjson" 2>"$T/err"; rc=$?
eq "records without history or frames: exit 0" "$rc" 0
k=$(head -1 "$T/opt.ndjson" | sed 's/.*"key_id":"\([0-9]*\)".*/\1/')
python3 - "$T/plain/plain/$k/anim.gif" "$T/plain/metrics.ndjson" <<'EOF'
import json, sys
d = open(sys.argv[1], "rb").read()
ok = lambda c, n: print(("ok - " if c else "not ok - ") + n)
ok(d[:6] == b"GIF89a" and d.count(b"\x21\xf9\x04") == 2, "without frames: a start/result animation of 2 frames")
m = json.loads(open(sys.argv[2]).readline())
ok(m["similarity_initial"] is None and m["top1_final"] is None and m["steps"] is None, "without optimize: nulls, not made-up numbers")
EOF

# --- training logs ---
mkdir -p "$T/tr"
printf '%s\n' '{"step":10,"loss":3.5,"val_top1":0.1,"lr":0.001}' '' '{"step":20,"loss":2.5,"val_top1":0.3,"lr":0.0005}' >"$T/tr/log.ndjson"
summarize -o "$T/trout" --train "$T/tr" --train data/models/unet-small 2>"$T/err"; rc=$?
eq "training logs alone: exit 0" "$rc" 0
[ -s "$T/trout/train/tr/curves.png" ] && [ -s "$T/trout/train/unet-small/samples.png" ] && ok "curves and the shipped samples" ||
  notok "training pictures" "$(ls -R "$T/trout")"
grep -q 'train/unet-small/samples.png' "$T/trout/report.html" && ok "the report shows the samples" || notok "samples in report"
[ -e "$T/trout/train/tr/samples.png" ] && notok "a log without samples.ndjson: curves only" || ok "a log without samples.ndjson: curves only"
# clip-train's samples.ndjson -> a sample grid (4 a row, 180-px cells, 66-px captions, 14-px gaps, a 52-px heading)
mkdir -p "$T/ct"
cp data/models/sketch-clip/train-log.ndjson "$T/ct/log.ndjson"
head -3 data/models/sketch-clip/samples.ndjson >"$T/ct/samples.ndjson"
sed -n 4p data/models/sketch-clip/samples.ndjson | sed 's/"top":\[{"word":"[^"]*"/"top":[{"word":"car"/' >>"$T/ct/samples.ndjson"
summarize -o "$T/ctout" --train "$T/ct" --train data/models/sketch-clip 2>"$T/err"; rc=$?
eq "clip-train folders: exit 0" "$rc" 0
python3 - "$T/ctout" <<'PYEOF'
import struct, sys, zlib, re
def ok(c, n, d=""): print(("ok - " if c else "not ok - ") + n + ("" if c or not d else "\n#   " + str(d)))
def png_size(path):
    data = open(path, "rb").read(); p, idat = 8, b""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    while True:
        n, = struct.unpack(">I", data[p:p + 4]); t = data[p + 4:p + 8]; body = data[p + 8:p + 8 + n]
        assert zlib.crc32(t + body) == struct.unpack(">I", data[p + 8 + n:p + 12 + n])[0]
        p += 12 + n
        if t == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif t == b"IDAT": idat += body
        elif t == b"IEND": break
    ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    assert len(zlib.decompress(idat)) == h * (1 + w * ch * depth // 8)
    return w, h
size = lambda n: (14 + min(n, 4) * 194, 52 + -(-n // 4) * 260)
for name, n in (("ct", 4), ("sketch-clip", 16)):
    try:
        ok(png_size(sys.argv[1] + "/train/%s/samples.png" % name) == size(n), "%s: the sample grid decodes, %d drawings %dx%d" % ((name, n) + size(n)))
    except Exception as e: ok(False, name + ": sample grid decodes", e)
html = open(sys.argv[1] + "/report.html").read()
ok("train/ct/samples.png" in html and "train/sketch-clip/samples.png" in html and "train/ct/curves.png" in html,
   "the report shows the grids beside the curves")
PYEOF
printf '%s\n' '{"step":5,"word":"cat","top":[{"word":"dog","p":0.5}],"drawing":[[[0,1],[0,1]]]}' \
  '{"step":5,"word":"cat","top":[{"word":"dog","p":0.5},{"word":"cat","p":0.7}],"drawing":[[[0,1],[0,1]]]}' >"$T/ct/samples.ndjson"
expect_exit "a malformed samples.ndjson: exit 1 naming file and line" 1 'ct/samples.ndjson:2: "top"\[1\]' summarize -o "$T/x" --train "$T/ct"
printf '%s\n' '{"step":5,"word":"cat","top":[{"word":"dog","p":0.5}],"drawing":[[[0,1],[0' >"$T/ct/samples.ndjson"
expect_exit "a truncated samples.ndjson line: exit 1 naming file and line" 1 'ct/samples.ndjson:1:' summarize -o "$T/x" --train "$T/ct"
printf '%s\n' '{"step":1,"loss":2}' '[1,2]' >"$T/tr/log.ndjson"
expect_exit "a bad training log line: exit 1 naming file:line" 1 'log.ndjson:2: not a JSON object' summarize -o "$T/x" --train "$T/tr"

# --- bad input ---
expect_exit "no --out: exit 2" 2 'out DIR is required' summarize "$T/opt.ndjson"
{ head -1 "$T/opt.ndjson"; echo '{"key_id":"9","word":"fish","drawing":[[[1,2],[3'; } >"$T/bad.ndjson"
expect_exit "a malformed record: exit 1 naming file and line" 1 'bad.ndjson:2' summarize -o "$T/b1" --evaluator none "$T/bad.ndjson"
summarize -o "$T/b2" --evaluator none -k "$T/bad.ndjson" 2>"$T/err"; rc=$?
[ "$rc" -eq 0 ] && [ -s "$T/b2/report.html" ] && ok "--keep-going skips it and reports the rest" || notok "--keep-going" "rc $rc $(cat "$T/err")"
sed 's/"history":\[/"history":{"x":[/; s/\],"optimize"/]},"optimize"/' "$T/opt.ndjson" | head -1 >"$T/badh.ndjson"
expect_exit "a history that is not an array: exit 1" 1 '"history" is not an array' summarize -o "$T/b3" --evaluator none "$T/badh.ndjson"
printf 'not a png' >"$T/notpng"
expect_exit "a frames file that is not a PNG stream: exit 1" 1 'frames' summarize -o "$T/b4" --evaluator none -f "$T/notpng" "$T/opt.ndjson"
head -1 "$T/opt.ndjson" >"$T/one.ndjson"
summarize -o "$T/b5" --evaluator none -f "$T/frames.png" "$T/one.ndjson" 2>"$T/err"; rc=$?
other=$(tail -1 "$T/opt.ndjson" | sed 's/.*"key_id":"\([0-9]*\)".*/\1/')
[ "$rc" -eq 0 ] && grep -q "frames for key_id $other, which is not in" "$T/err" && ok "frames of an unknown key_id: warned, named, ignored" ||
  notok "unknown-key frames" "rc $rc $(cat "$T/err")"
expect_exit "a missing input: exit 3 naming it" 3 'nonexistent.ndjson: cannot open' summarize -o "$T/b9" "$T/nonexistent.ndjson"
[ -e "$T/b9" ] && notok "nothing written for a missing input" || ok "nothing written for a missing input"
expect_exit "a missing frames file: exit 3" 3 'frames .*nope.png: cannot open' summarize -o "$T/b9" -f "$T/nope.png" "$T/opt.ndjson"
expect_exit "a missing evaluator model: exit 5" 5 'evaluator model' summarize -o "$T/b6" --evaluator "$T/nope" "$T/opt.ndjson"
expect_exit "two --frames for one input: exit 2" 2 'k-th --frames' summarize -o "$T/b7" -f a -f b "$T/opt.ndjson"
: >"$T/empty.ndjson"
expect_exit "no records at all: exit 1" 1 'no records' summarize -o "$T/b8" --evaluator none "$T/empty.ndjson"
