# tests/cli/optimize.sh - the optimiser as a user runs it: output fields,
# the history's arithmetic, determinism (--jobs, repeated runs), resume bit
# for bit, restarts, evaluations, progressive strokes, random starts,
# frames, side-file history, weight and lr schedules, and bad input.
zcat data/quickdraw/simplified/fish.ndjson.gz | head -3 >"$T/fish3.ndjson"
head -1 "$T/fish3.ndjson" >"$T/fish1.ndjson"
O="optimize -j 1 --loss clip-text:prompt=fish --loss structure:weight=0.3"

# --- a plain run ---
$O --steps 8 <"$T/fish1.ndjson" >"$T/a.ndjson" 2>"$T/err"; rc=$?
eq "a plain run exits 0" "$rc" 0
grep -q 'model: .*sketch-clip' "$T/err" && ok "the shipped model is announced" || notok "model announced" "$(cat "$T/err")"
python3 - "$T/a.ndjson" "$T/fish1.ndjson" >"$T/py" 2>&1 <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).readline()); src = json.loads(open(sys.argv[2]).readline())
def ok(c, n): print(("ok - " if c else "not ok - ") + n)
ok(all(k in r for k in ("drawing", "initial", "canvas", "history", "optimize")), "record has drawing, initial, canvas, history, optimize")
ok(all(r[k] == v for k, v in src.items() if k != "drawing"), "other fields pass through")
ok(r["canvas"] == {"width": 224, "height": 224}, "canvas frame is 224")
ok(len(r["history"]) == 8 and [h["step"] for h in r["history"]] == list(range(8)), "one history entry a step")
ok(len(r["drawing"]) == len(src["drawing"]) == len(r["initial"]), "stroke count kept")
moved = max(abs(a - b) for s, t in zip(r["drawing"], r["initial"]) for u, v in zip(s, t) for a, b in zip(u, v))
ok(moved > 0.05, "the strokes moved (max %.3f px)" % moved)
inside = all(0 <= v <= 224 for s in r["drawing"] for u in s for v in u)
ok(inside, "points stay on the canvas")
good = all(abs(h["total"] - (h["clip-text"] + 0.3 * h["structure"])) < 1e-5 for h in r["history"])
ok(good, "history total = clip-text + 0.3 structure at every step")
ok(all(abs(h["similarity"] - (1 - h["clip-text"])) < 1e-6 for h in r["history"]), "similarity = 1 - clip-text loss")
ok(r["history"][0]["structure"] == 0, "structure is 0 before the first update")
o = r["optimize"]
ok(abs(o["initial"]["total"] - r["history"][0]["total"]) < 1e-6, "initial evaluation = step 0's (no augmentation)")
ok(o["steps_run"] == 8 and o["final"]["clip-text"] < o["initial"]["clip-text"], "the CLIP loss fell (%g -> %g)" % (o["initial"]["clip-text"], o["final"]["clip-text"]))
EOF
cat "$T/py"

# --- determinism ---
$O --steps 6 --augment clipaug --history none <"$T/fish3.ndjson" >"$T/d1" 2>/dev/null
$O --steps 6 --augment clipaug --history none <"$T/fish3.ndjson" >"$T/d2" 2>/dev/null
same "two runs give the same bytes" "$T/d1" "$T/d2"
$O --steps 6 --augment clipaug --history none --jobs 2 <"$T/fish3.ndjson" >"$T/d3" 2>/dev/null
same "--jobs 2 gives the same records in the same order" "$T/d1" "$T/d3"
tail -1 "$T/fish3.ndjson" | $O --steps 6 --augment clipaug --history none >"$T/d4" 2>/dev/null
tail -1 "$T/d1" >"$T/d1last"
same "a record's result does not depend on the others" "$T/d1last" "$T/d4"
$O --steps 6 --augment clipaug --history none --seed 5 <"$T/fish1.ndjson" >"$T/d5" 2>/dev/null
head -1 "$T/d1" >"$T/d1first"
if cmp -s "$T/d5" "$T/d1first"; then notok "--seed changes the augmentations"; else ok "--seed changes the augmentations"; fi

# --- resume bit for bit (with every kind of state: noise, schedules, growth, evaluations) ---
R="$O --steps 14 --augment clipaug --noise 0.2 --lr-schedule warmup_cosine --warmup 3 --add-every 4 --add-max 6 --eval-every 3 --keep-best"
$R --checkpoint "$T/ck1" <"$T/fish3.ndjson" >"$T/r1" 2>/dev/null
$R --checkpoint "$T/ck2" --checkpoint-every 4 --stop-after 9 <"$T/fish3.ndjson" >"$T/r2a" 2>/dev/null; rc=$?
eq "--stop-after exits 0" "$rc" 0
eq "--stop-after writes no records" "$(wc -c <"$T/r2a" | tr -d ' ')" 0
eq "a checkpoint per record" "$(ls "$T/ck2" | grep -c '\.ckpt$')" 3
$R --checkpoint "$T/ck2" --resume <"$T/fish3.ndjson" >"$T/r2" 2>/dev/null
same "--resume continues bit for bit" "$T/r1" "$T/r2"
$R --steps 15 --checkpoint "$T/ck2" --resume <"$T/fish1.ndjson" >/dev/null 2>"$T/err"; rc=$?
if [ "$rc" -eq 2 ] && grep -q 'other settings' "$T/err"; then ok "resume with other settings is refused (exit 2)"
else notok "resume with other settings refused" "rc $rc $(cat "$T/err")"; fi
printf 'garbage' >"$T/ck2/4506877280911360.ckpt"
expect_exit "a corrupt checkpoint is an error naming it" 5 "4506877280911360.ckpt" $R --checkpoint "$T/ck2" --resume "$T/fish1.ndjson"

# --- growth, starts, restarts, evaluation ---
$O --steps 13 --add-every 4 --add-max 5 --add-init edge <"$T/fish1.ndjson" >"$T/g" 2>/dev/null
python3 - "$T/g" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
n = [h["strokes"] for h in r["history"]]
ok = n[0] == 3 and n[-1] == 5 and n[5] == 4 and len(r["drawing"]) == 5 and len(r["initial"]) == 3
print(("ok - " if ok else "not ok - ") + "a stroke every 4 steps up to 5 (%s)" % n)
EOF
optimize -j 1 --init random:strokes=6,points=4 --renderer bezier --loss clip-text:prompt=fish --steps 3 <"$T/fish1.ndjson" >"$T/rnd" 2>/dev/null
python3 - "$T/rnd" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
ok = len(r["initial"]) == 6 and len(r["drawing"]) == 6 and all(len(s[0]) > 4 for s in r["drawing"])
print(("ok - " if ok else "not ok - ") + "--init random: 6 Bezier strokes, output as sampled polylines")
EOF
optimize -j 1 --init saliency:image=data/reference/perfectFish.jpeg,strokes=5,points=4 --renderer bezier \
  --loss clip-image:image=data/reference/perfectFish.jpeg --steps 2 <"$T/fish1.ndjson" >"$T/sal" 2>"$T/err"
python3 - "$T/sal" <<'EOF2'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
ok = len(r["initial"]) == 5 and all(0 <= v <= 224 for s in r["initial"] for u in s for v in u)
print(("ok - " if ok else "not ok - ") + "--init saliency: 5 strokes on the canvas")
EOF2
expect_exit "--init saliency without a model: exit 2" 2 "needs a CLIP model" \
  optimize --model none --init saliency:image=data/reference/perfectFish.jpeg --loss structure "$T/fish1.ndjson"
expect_exit "--init saliency with a missing picture: exit 3 naming it" 3 "nosuch.png" \
  optimize --init saliency:image="$T/nosuch.png" --loss structure "$T/fish1.ndjson"
optimize -j 1 --init random:strokes=4 --loss clip-text:prompt=fish --steps 4 --restarts 3 <"$T/fish1.ndjson" >"$T/rs" 2>/dev/null
python3 - "$T/rs" <<'EOF'
import json, sys
o = json.loads(open(sys.argv[1]).readline())["optimize"]
l = o["restart_losses"]
ok = len(l) == 3 and len(set(l)) == 3 and l[o["restart"]] == min(l) and abs(o["final"]["total"] - min(l)) < 1e-6
print(("ok - " if ok else "not ok - ") + "--restarts 3: three different runs, the lowest kept (%s)" % l)
EOF
$O --steps 12 --eval-every 2 --keep-best --patience 2 --lr 20 <"$T/fish1.ndjson" >"$T/ev" 2>/dev/null
python3 - "$T/ev" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).readline()); o = r["optimize"]
ev = [(h["step"] + 1, h["eval"]) for h in r["history"] if "eval" in h]
best = min([(o["initial"]["total"], 0)] + [(v, s) for s, v in ev])
ok = ev and [s for s, _ in ev] == list(range(2, 2 * len(ev) + 1, 2))
print(("ok - " if ok else "not ok - ") + "an evaluation every 2 steps (%s)" % [s for s, _ in ev])
ok = o["best_step"] == best[1] and abs(o["final"]["total"] - best[0]) < 1e-6
print(("ok - " if ok else "not ok - ") + "--keep-best returns the best evaluated strokes (step %d)" % o["best_step"])
print(("ok - " if o["stopped_early"] == (o["steps_run"] < 12) else "not ok - ") + "early stop is reported (%s)" % o["stopped_early"])
EOF

# --- schedules ---
optimize -j 1 --loss clip-text:prompt=fish --loss structure:weight=0.5,weight_from=0.1,weight_schedule=linear \
  --steps 5 --lr 2 --min-lr 0.5 --lr-schedule warmup_cosine --warmup 2 <"$T/fish1.ndjson" >"$T/sc" 2>/dev/null
python3 - "$T/sc" <<'EOF'
import json, sys, math
h = json.loads(open(sys.argv[1]).readline())["history"]
w = [x["structure.weight"] for x in h]
ok = all(abs(a - b) < 1e-6 for a, b in zip(w, [0.1, 0.2, 0.3, 0.4, 0.5]))
print(("ok - " if ok else "not ok - ") + "weight_schedule=linear goes 0.1 -> 0.5 (%s)" % w)
f = 0.25
want = [2 * (f + (1 - f) * s / 2) if s < 2 else 2 * (f + (1 - f) * 0.5 * (1 + math.cos(math.pi * (s - 2) / 2))) for s in range(5)]
lr = [x["lr"] for x in h]
ok = all(abs(a - b) < 1e-5 for a, b in zip(lr, want))
print(("ok - " if ok else "not ok - ") + "warmup_cosine lr is the study's formula (%s)" % lr)
EOF

# --- outputs: frames, side-file history ---
$O --steps 10 --frames "$T/f.png" --frame-every 5 --history "$T/h.ndjson" <"$T/fish3.ndjson" >"$T/fo" 2>/dev/null
python3 - "$T/f.png" "$T/h.ndjson" "$T/fo" <<'EOF'
import json, sys, zlib
b = open(sys.argv[1], "rb").read()
pngs = b.split(b"\x89PNG\r\n\x1a\n")[1:]
def texts(p):
    t, i = {}, 8 - 8
    while i < len(p):
        n = int.from_bytes(p[i:i + 4], "big"); typ = p[i + 4:i + 8]
        if typ == b"tEXt":
            k, v = p[i + 8:i + 8 + n].split(b"\0", 1); t[k.decode()] = v.decode()
        i += 12 + n
    return t
tt = [texts(p) for p in pngs]
ok = len(pngs) == 9 and [t["step"] for t in tt[:3]] == ["0", "5", "10"] and tt[0]["key_id"] == "4506877280911360"
print(("ok - " if ok else "not ok - ") + "frames at steps 0, 5, 10 for each of 3 records, tagged (%d)" % len(pngs))
h = [json.loads(l) for l in open(sys.argv[2])]
r = [json.loads(l) for l in open(sys.argv[3])]
ok = len(h) == 3 and all(len(x["history"]) == 10 for x in h) and not any("history" in x for x in r)
print(("ok - " if ok else "not ok - ") + "--history FILE: one line a record, none inline")
EOF

# --- another model size: the canvas is resized to the model's input ---
"$UNITS/test_mkclip" "$T/mk.safetensors"
check "a tiny full-vocabulary model runs (canvas resized to its input)" \
  optimize -j 1 --model "$T/mk.safetensors" --loss clip-text:prompt=fish --augment clipaug --steps 3 "$T/fish1.ndjson"
# --- the thread count changes no byte: a 384-wide image tower, whose products are cut into blocks ---
"$UNITS/test_mkclip" "$T/wide.safetensors" wide
for j in 1 2 3; do
  optimize -j "$j" --model "$T/wide.safetensors" --augment clipaug --loss clip-text:prompt=fish --steps 3 \
    "$T/fish1.ndjson" >"$T/wide$j" 2>/dev/null
done
same "-j 2 writes -j 1's bytes (a 384-wide model: products cut into column blocks)" "$T/wide1" "$T/wide2"
same "-j 3 writes -j 1's bytes" "$T/wide1" "$T/wide3"
# --- --gemm: float32 products through OpenBLAS or the packed weights ---
expect_exit "--gemm takes auto, openblas or packed (exit 2)" 2 "not one of auto, openblas, packed" \
  $O --steps 2 --gemm fast "$T/fish1.ndjson"
optimize -j 1 --gemm packed --model "$T/wide.safetensors" --loss clip-text:prompt=fish --steps 1 "$T/fish1.ndjson" \
  >/dev/null 2>"$T/gerr"; rc=$?
if [ "$rc" -eq 2 ] && grep -q "AVX2" "$T/gerr"; then
  ok "--gemm packed on a CPU without AVX2+FMA: exit 2 saying so (the packed runs are skipped)"
else
  eq "--gemm packed runs (exit 0)" "$rc" 0
  for j in 1 2 3; do
    optimize -j "$j" --gemm packed --model "$T/wide.safetensors" --augment clipaug --loss clip-text:prompt=fish \
      --steps 3 "$T/fish1.ndjson" >"$T/pk$j" 2>/dev/null
  done
  same "--gemm packed: -j 2 writes -j 1's bytes" "$T/pk1" "$T/pk2"
  same "--gemm packed: -j 3 writes -j 1's bytes" "$T/pk1" "$T/pk3"
  optimize -j 2 --gemm openblas --model "$T/wide.safetensors" --augment clipaug --loss clip-text:prompt=fish \
    --steps 3 "$T/fish1.ndjson" >"$T/ob" 2>/dev/null
  python3 - "$T/ob" "$T/pk1" >"$T/py" 2>&1 <<'PYEOF'
import json, sys
a = json.loads(open(sys.argv[1]).readline()); b = json.loads(open(sys.argv[2]).readline())
def ok(c, n): print(("ok - " if c else "not ok - ") + n)
ok(b["optimize"].get("gemm") == "packed" and "gemm" not in a["optimize"], "optimize.gemm says packed (absent for openblas)")
d = abs(a["optimize"]["final"]["similarity"] - b["optimize"]["final"]["similarity"])
ok(d < 1e-4, "packed and openblas products: the same optimisation to float rounding (similarity diff %.2g)" % d)
PYEOF
  cat "$T/py"
  optimize -j 1 --gemm openblas --model "$T/wide.safetensors" --loss clip-text:prompt=fish --steps 3 \
    --checkpoint "$T/ckg" "$T/fish1.ndjson" >/dev/null 2>&1
  optimize -j 1 --gemm packed --model "$T/wide.safetensors" --loss clip-text:prompt=fish --steps 3 \
    --checkpoint "$T/ckg" --resume "$T/fish1.ndjson" >/dev/null 2>"$T/err"; rc=$?
  if [ "$rc" -eq 2 ] && grep -q 'other settings' "$T/err"; then ok "an openblas checkpoint is not resumed with --gemm packed (exit 2)"
  else notok "an openblas checkpoint is not resumed with --gemm packed" "rc $rc $(cat "$T/err")"; fi
fi
check "--model none with CLIP-free losses" optimize --model none --loss structure --loss fair --steps 3 "$T/fish1.ndjson"

# --- bad input ---
printf '{"key_id":"e1","word":"fish","drawing":[]}\n' >"$T/empty.ndjson"
cat "$T/empty.ndjson" "$T/fish1.ndjson" >"$T/mixed.ndjson"
expect_exit "an empty drawing: exit 1 naming line and key_id" 1 "<stdin>:1: key_id e1: empty drawing" sh -c "$O --steps 2 <'$T/mixed.ndjson'"
$O --steps 2 --keep-going <"$T/mixed.ndjson" >"$T/kg" 2>"$T/err"; rc=$?
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$T/kg")" -eq 1 ] && grep -q 'skipped 1 ' "$T/err"; then ok "--keep-going skips it and goes on"
else notok "--keep-going" "rc $rc $(cat "$T/err")"; fi
expect_exit "an unknown loss: exit 4" 4 "plugin 'nosuch' not found" optimize --loss nosuch "$T/fish1.ndjson"
expect_exit "a renderer as a loss: exit 4" 4 "not a loss" optimize --loss softline "$T/fish1.ndjson"
expect_exit "an unknown loss key: exit 2 naming it" 2 "unknown parameter 'colour'" optimize --loss clip-text:colour=red "$T/fish1.ndjson"
expect_exit "a bad weight: exit 2" 2 "weight=" optimize --loss structure:weight=abc "$T/fish1.ndjson"
expect_exit "two losses with one name: exit 2" 2 "as=NAME" optimize --loss structure --loss structure:weight=2 "$T/fish1.ndjson"
expect_exit "no loss: exit 2" 2 "no --loss" optimize "$T/fish1.ndjson"
expect_exit "a missing reference picture: exit 3 naming it" 3 "nosuch.png" optimize --loss clip-image:image="$T/nosuch.png" "$T/fish1.ndjson"
printf 'not a picture' >"$T/bad.png"
expect_exit "an undecodable reference picture: exit 1 naming it" 1 "bad.png" optimize --loss clip-image:image="$T/bad.png" "$T/fish1.ndjson"
long=$(printf 'fish %.0s' $(seq 1 40))
expect_exit "a prompt longer than the context: exit 1" 1 "too long" optimize --loss "clip-text:prompt=$long" "$T/fish1.ndjson"
expect_exit "a bad --init: exit 2" 2 "--init" optimize --init scribble --loss structure "$T/fish1.ndjson"
expect_exit "--keep-best without --eval-every: exit 2" 2 "eval-every" optimize --keep-best --loss structure "$T/fish1.ndjson"
N="$TPLUGINS/t_nan.so"
expect_exit "a NaN loss: exit 6 naming record, step and loss" 6 "key_id 4506877280911360: step 2: loss 'x' is NaN" \
  optimize --model none --loss "$N:at=2,as=x" --steps 4 "$T/fish1.ndjson"
expect_exit "a NaN image gradient: exit 6" 6 "step 1: loss 't-nan' gave a non-finite image gradient" \
  optimize --model none --loss "$N:at=1,what=grad" --steps 4 "$T/fish1.ndjson"
expect_exit "an infinite point gradient: exit 6" 6 "step 0: loss 't-nan' gave a non-finite point gradient" \
  optimize --model none --loss "$N:at=0,what=inf" --steps 4 "$T/fish1.ndjson"
cat "$T/fish1.ndjson" "$T/fish1.ndjson" | sed '2s/4506877280911360/other/' >"$T/two.ndjson"
optimize --model none --loss "$N:at=2" --steps 4 --keep-going "$T/two.ndjson" >"$T/kg2" 2>"$T/err"; rc=$?
eq "--keep-going over NaN records: none written, exit 1" "$rc:$(wc -l <"$T/kg2" | tr -d ' ')" "1:0"
check "--help" optimize --help
optimize --list-plugins >"$T/lp" 2>&1
if grep -q 'clip-text' "$T/lp" && grep -q 'softline' "$T/lp" && grep -q 'clipaug' "$T/lp"; then ok "--list-plugins shows every kind"
else notok "--list-plugins" "$(head -5 "$T/lp")"; fi

# --- {word}: a loss spec that names the record's word is opened for each record's word ---
{ zcat data/quickdraw/simplified/cat.ndjson.gz | head -1; head -1 "$T/fish1.ndjson"; zcat data/quickdraw/simplified/cat.ndjson.gz | sed -n 2p; } >"$T/mixed.ndjson"
optimize -j 1 --steps 3 --history none --loss 'clip-text:prompt=a sketch of a {word}' --loss structure:weight=0.3 \
  <"$T/mixed.ndjson" >"$T/w_all" 2>/dev/null
: >"$T/w_one"
for i in 1 2 3; do
  sed -n "${i}p" "$T/mixed.ndjson" >"$T/w_in"
  w=$(sed -n 's/.*"word":"\([^"]*\)".*/\1/p' "$T/w_in")
  optimize -j 1 --steps 3 --history none --loss "clip-text:prompt=a sketch of a $w" --loss structure:weight=0.3 \
    <"$T/w_in" >>"$T/w_one" 2>/dev/null
done
same "{word} in a loss spec = one run per record with its word spelled out" "$T/w_all" "$T/w_one"
sim() { grep -o '"initial":{[^}]*}' "$1" | sed -n "${2}p"; }
[ "$(sim "$T/w_all" 1)" != "$(sim "$T/w_all" 2)" ] && ok "{word}: the cat and the fish record get different prompts" ||
  notok "{word} differs per record" "$(sim "$T/w_all" 1)"
sed 's/"word":"[^"]*",//' "$T/fish1.ndjson" >"$T/noword.ndjson"
expect_exit "{word} with a record that has no word: exit 1 naming the loss" 1 "clip-text.*names \{word\}.*no \"word\"" \
  optimize -j 1 --steps 2 --loss 'clip-text:prompt={word}' "$T/noword.ndjson"
expect_exit "{word} with an unknown plugin key is refused before any record: exit 2" 2 "unknown parameter 'colour'" \
  optimize -j 1 --steps 2 --loss 'clip-text:prompt={word},colour=red' "$T/fish1.ndjson"

# --- --keep-initial: a chain of enhancers keeps the first input as "initial" ---
$O --steps 3 --history none <"$T/fish1.ndjson" >"$T/k1" 2>/dev/null
$O --steps 3 --history none --keep-initial <"$T/k1" >"$T/k2" 2>/dev/null
$O --steps 3 --history none <"$T/k1" >"$T/k3" 2>/dev/null
python3 - "$T/k1" "$T/k2" "$T/k3" >"$T/py" 2>&1 <<'PYEOF'
import json, sys
a, b, c = (json.loads(open(f).readline()) for f in sys.argv[1:4])
def ok(t, n): print(("ok - " if t else "not ok - ") + n)
close = lambda p, q: all(abs(u - v) < 1e-3 for s, t in zip(p, q) for x, y in zip(s, t) for u, v in zip(x, y))
ok(close(b["initial"], a["initial"]) and len(b["initial"]) == len(a["initial"]), "--keep-initial: the second pass keeps the first pass's initial (same 224 frame)")
ok(close(c["initial"], a["drawing"]), "without it, initial is what the second pass started from")
ok(not close(b["drawing"], a["drawing"]), "--keep-initial still optimises the drawing")
PYEOF
cat "$T/py"
printf '{"word":"fish","key_id":"9","drawing":[[[0,10],[0,10]]],"initial":[[[0,"x"],[0,1]]]}\n' >"$T/badinit"
expect_exit "--keep-initial with a malformed initial: exit 1 naming the field" 1 'field "initial"' \
  optimize -j 1 --steps 2 --keep-initial --loss structure --model none "$T/badinit"

# --- a "target" (qd-degrade's clean drawing) is evaluated beside initial and final ---
qd-extract --fit 224 "$T/fish1.ndjson" | qd-degrade --mix tremor --mix dropout --seed 3 >"$T/tg_in" 2>/dev/null
python3 - "$T/tg_in" "$T/tg_self" "$T/tg_none" <<'PYEOF'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
s = dict(r); s["drawing"] = r["target"]; del s["target"]
open(sys.argv[2], "w").write(json.dumps(s) + "\n")       # the clean drawing itself as the input
src = open(sys.argv[1]).readline()
k = src.find(',"target":')
_, end = json.JSONDecoder().raw_decode(src, k + 10)
open(sys.argv[3], "w").write(src[:k] + src[end:])        # the degraded drawing without its target, bytes kept
PYEOF
TG="optimize -j 1 --steps 3 --history none --loss clip-text:prompt=fish --loss structure:weight=0.3"
$TG <"$T/tg_in" >"$T/tg_out" 2>/dev/null
$TG <"$T/tg_self" >"$T/tg_self_out" 2>/dev/null
$TG <"$T/tg_none" >"$T/tg_none_out" 2>/dev/null
python3 - "$T/tg_in" "$T/tg_out" "$T/tg_self_out" "$T/tg_none_out" >"$T/py" 2>&1 <<'PYEOF'
import json, sys, re
src, out,self_, none_ = (open(f).read() for f in sys.argv[1:5])
def ok(t, n): print(("ok - " if t else "not ok - ") + n)
o = json.loads(out)["optimize"]; so = json.loads(self_)["optimize"]; no = json.loads(none_)["optimize"]
ok("target" in o and set(o["target"]) == set(o["initial"]), "a record with a target gets optimize.target with the keys of initial (%s)" % sorted(o.get("target", {})))
ok("target" not in so and "target" not in no, "records without a target get no optimize.target")
ok(abs(o["target"]["similarity"] - so["initial"]["similarity"]) < 1e-6,
   "target similarity = the initial similarity of a run started from the clean drawing (%s vs %s)" % (o["target"]["similarity"], so["initial"]["similarity"]))
ok(abs(o["target"]["clip-text"] - so["initial"]["clip-text"]) < 1e-6, "and so is its clip-text loss")
ok(o["target"]["similarity"] != o["initial"]["similarity"], "the clean and the degraded drawing score differently")
# the target changes nothing else: remove the input's target field and optimize.target, and the bytes are the run without it
stripped = re.sub(r',"target":\{[^}]*\}(?=,"model")', "", out)
k = src.find(',"target":')
_, end = json.JSONDecoder().raw_decode(src, k + 10)
raw = src[k:end]
ok(k > 0 and stripped.count(raw) == 1, "the target field passes through byte for byte")
stripped = stripped.replace(raw, "")
ok(stripped == none_, "otherwise byte for byte the output of the record without its target")
PYEOF
cat "$T/py"
sed 's/"target":\[\[\[/"target":[[["x",/' "$T/tg_in" >"$T/tg_bad"
expect_exit "a malformed target: exit 1 naming the field" 1 'field "target"' $TG "$T/tg_bad"

# --- --precision bf16: the image tower's weight products in bfloat16 ---
expect_exit "--precision takes float32 or bf16 (exit 2)" 2 "not one of float32, bf16" \
  $O --steps 2 --precision fp16 "$T/fish1.ndjson"
expect_exit "--precision bf16 needs a model (exit 2)" 2 "needs a model" \
  optimize --model none --loss structure --steps 2 --precision bf16 "$T/fish1.ndjson"
B16="$O --steps 6 --augment clipaug --history inline"
$B16 --precision bf16 <"$T/fish3.ndjson" >"$T/b1" 2>"$T/berr"; rc=$?
if [ "$rc" -eq 2 ] && grep -q AVX512_BF16 "$T/berr"; then
  ok "--precision bf16 on a CPU without AVX512_BF16: exit 2 saying so (the bf16 runs are skipped)"
else
  eq "--precision bf16 runs (exit 0)" "$rc" 0
  $B16 <"$T/fish3.ndjson" >"$T/b0" 2>/dev/null
  $B16 --precision bf16 --jobs 2 <"$T/fish3.ndjson" >"$T/b2" 2>/dev/null
  same "bf16: --jobs 2 (one packed copy shared) gives the same bytes" "$T/b1" "$T/b2"
  optimize -j 2 --loss clip-text:prompt=fish --loss structure:weight=0.3 --steps 6 --augment clipaug --history inline \
    --precision bf16 <"$T/fish3.ndjson" >"$T/b3" 2>/dev/null
  # the steps (bf16) split columns over threads without changing a sum; the float32
  # evaluations go through sgemm, whose sums may change with the thread count
  python3 - "$T/b1" "$T/b3" >"$T/py" 2>&1 <<'PYEOF'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]; b = [json.loads(l) for l in open(sys.argv[2])]
same = len(a) == len(b) == 3 and all(x["drawing"] == y["drawing"] and x["history"] == y["history"] for x, y in zip(a, b))
print(("ok - " if same else "not ok - ") + "bf16: 2 threads give the same strokes and history as 1 (columns split, sums unchanged)")
PYEOF
  cat "$T/py"
  python3 - "$T/b0" "$T/b1" >"$T/py" 2>&1 <<'PYEOF'
import json, sys
f = [json.loads(l) for l in open(sys.argv[1])]; b = [json.loads(l) for l in open(sys.argv[2])]
def ok(c, n): print(("ok - " if c else "not ok - ") + n)
ok(len(f) == len(b) == 3, "bf16: every record written")
ok(all(r["optimize"].get("precision") == "bf16" for r in b) and all("precision" not in r["optimize"] for r in f),
   "optimize.precision says bf16 (and is absent for float32)")
ok(all(x["optimize"]["initial"] == y["optimize"]["initial"] for x, y in zip(f, b)),
   "the initial evaluation is float32 in both: identical")
ds = [abs(x["history"][0]["similarity"] - y["history"][0]["similarity"]) for x, y in zip(f, b)]
ok(max(ds) > 0 and max(ds) < 5e-3, "step 0's similarity (bf16 forward) is close to float32's but not equal (max diff %.2g)" % max(ds))
df = [abs(x["optimize"]["final"]["similarity"] - y["optimize"]["final"]["similarity"]) for x, y in zip(f, b)]
ok(max(df) < 2e-2, "after 6 steps the similarities agree within 0.02 (max diff %.2g)" % max(df))
mv = max(abs(p - q) for x, y in zip(f, b) for s, t in zip(x["drawing"], y["drawing"]) for u, v in zip(s, t) for p, q in zip(u, v))
ok(mv < 2.0, "the strokes end within 2 px of the float32 run's (max %.3f px)" % mv)
PYEOF
  cat "$T/py"
  SAL="optimize -j 1 --init saliency:image=data/reference/perfectFish.jpeg,strokes=5 --loss clip-text:prompt=fish --steps 0"
  $SAL <"$T/fish1.ndjson" >"$T/s0" 2>/dev/null
  $SAL --precision bf16 <"$T/fish1.ndjson" | sed 's/,"precision":"bf16"//' >"$T/s1" 2>/dev/null
  same "bf16: the saliency start is float32's (the same record, but for optimize.precision)" "$T/s0" "$T/s1"
  $B16 --checkpoint "$T/ckb" <"$T/fish1.ndjson" >/dev/null 2>&1
  $B16 --precision bf16 --checkpoint "$T/ckb" --resume <"$T/fish1.ndjson" >/dev/null 2>"$T/err"; rc=$?
  if [ "$rc" -eq 2 ] && grep -q 'other settings' "$T/err"; then ok "a float32 checkpoint is not resumed in bf16 (exit 2)"
  else notok "a float32 checkpoint is not resumed in bf16" "rc $rc $(cat "$T/err")"; fi
fi

# --timing: one JSON line on stderr; phases within the loop's seconds, the first step a part of it
$O --steps 5 --history none --timing <"$T/fish1.ndjson" >/dev/null 2>"$T/tm"
python3 - "$T/tm" >"$T/py" 2>&1 <<'PYEOF'
import json, sys
t = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{"timing"')]
def ok(c, n): print(("ok - " if c else "not ok - ") + n)
ok(len(t) == 1, "--timing writes one JSON line")
t = t[0]["timing"] if t else {}
ok(t.get("steps") == 5, "--timing: steps = 5")
parts = sum(t.get(k, 0) for k in ("render", "resize", "augment", "losses", "update"))
ok(0 < parts <= t.get("seconds", 0) * 1.001, "--timing: the phases (%.4f s) within the loop's seconds (%.4f)" % (parts, t.get("seconds", 0)))
ok(0 < t.get("first_steps", 0) < t.get("seconds", 0), "--timing: first_steps is a part of the seconds (%.4f of %.4f)" % (t.get("first_steps", 0), t.get("seconds", 0)))
PYEOF
cat "$T/py"
