# tests/cli/study.sh - pipelines/enhance.sh (the one-command enhancer) and pipelines/study.sh (the
# enhancement study) on a handful of drawings with a few steps: fields, order, frames, the sets' make-up.
E="sh pipelines/enhance.sh"
zcat data/quickdraw/raw/cat.ndjson.gz | head -2 >"$T/raw.ndjson"
zcat data/quickdraw/simplified/fish.ndjson.gz | head -2 >"$T/simp.ndjson"
cat "$T/raw.ndjson" "$T/simp.ndjson" >"$T/in.ndjson"
for m in prior fair unet unet-fair text none; do
  STEPS=2 TEXT_STEPS=2 METHOD=$m BIN=$BIN $E <"$T/in.ndjson" >"$T/e-$m.ndjson" 2>"$T/e-$m.err"; rc=$?
  eq "enhance METHOD=$m exits 0" "$rc" 0
done
python3 - "$T" >"$T/py" 2>&1 <<'PYEOF'
import json, sys, os
T = sys.argv[1]
def ok(c, n): print(("ok - " if c else "not ok - ") + n)
src = [json.loads(l) for l in open(os.path.join(T, "in.ndjson"))]
for m in ("prior", "fair", "unet", "unet-fair", "text", "none"):
    out = [json.loads(l) for l in open(os.path.join(T, "e-%s.ndjson" % m))]
    ok(len(out) == 4 and [r["key_id"] for r in out] == [r["key_id"] for r in src], "%s: every record, in input order" % m)
    ok(all(k in r for r in out for k in ("drawing", "initial", "canvas")), "%s: drawing, initial and canvas" % m)
    ok(all(r[k] == s[k] for r, s in zip(out, src) for k in s if k not in ("drawing",)), "%s: the other fields pass through (raw: countrycode, timestamp, recognized)" % m)
    # initial is the input drawing in the output frame: same stroke count and point count
    ok(all(len(r["initial"]) == len(s["drawing"]) and all(len(a[0]) == len(b[0]) for a, b in zip(r["initial"], s["drawing"])) for r, s in zip(out, src)), "%s: initial is the input drawing (strokes and points)" % m)
none = [json.loads(l) for l in open(os.path.join(T, "e-none.ndjson"))]
ok(all(r["drawing"] == r["initial"] for r in none), "none: the drawing is unchanged")
pr = [json.loads(l) for l in open(os.path.join(T, "e-prior.ndjson"))]
ok(any(r["drawing"] != r["initial"] for r in pr), "prior: the drawing moved")
PYEOF
cat "$T/py"
expect_exit "enhance: an unknown METHOD is exit 2 naming it" 2 "METHOD='magic'" env METHOD=magic BIN=$BIN sh pipelines/enhance.sh <"$T/in.ndjson"
printf '{"word":"cat","key_id":"1","drawing":[]}\n' >"$T/empty.ndjson"
expect_exit "enhance: an empty drawing stops the run naming it (exit 1)" 1 "key_id 1|empty" env STEPS=2 BIN=$BIN sh pipelines/enhance.sh <"$T/empty.ndjson"
make -s enhance IN="$T/simp.ndjson" OUT="$T/made.ndjson" METHOD=none BINDIR="$BIN" >/dev/null 2>&1
[ "$(wc -l <"$T/made.ndjson" 2>/dev/null)" = 2 ] && ok "make enhance IN= OUT= writes OUT" || notok "make enhance" "$(ls "$T")"

# --- the study on 3 drawings a set, 2 steps ---
STEPS=2 TEXT_STEPS=2 N=3 NTUNE=2 OUT="$T/study" BIN=$BIN ENHANCERS="none prior unet" sh pipelines/study.sh >"$T/st.out" 2>"$T/st.err"
eq "study.sh on 3 drawings a set exits 0" "$?" 0
R=$T/study/test/results.md
[ "$(grep -c '^| [abc] | ' "$R" 2>/dev/null)" = 9 ] && ok "results.md: 3 sets x 3 enhancers" || notok "results rows" "$(cat "$R" "$T/st.err" 2>/dev/null | tail -20)"
python3 - "$T/study" >"$T/py" 2>&1 <<'PYEOF'
import json, sys, os, gzip
S = sys.argv[1]; P = os.path.join(S, "pools"); W = os.path.join(S, "test")
def ok(c, n): print(("ok - " if c else "not ok - ") + n)
rd = lambda f: [json.loads(l) for l in open(f)]
a, b, c = (rd(os.path.join(W, s + ".ndjson")) for s in "abc")
unrec = set(l.strip() for l in open("data/quickdraw/unrecognized-keys.txt") if l[0] != "#")
val = set(l.strip() for l in open("data/quickdraw/val-keys.txt"))
ok(len(a) == len(b) == len(c) == 3, "3 drawings a set")
ok(all(r["recognized"] is False and r["key_id"] in unrec for r in a), "set a: Google's unrecognised raw drawings")
ok(all(max(max(s[0] + s[1]) for s in r["drawing"]) <= 255 and len(r["drawing"][0]) == 2 for r in a), "set a: in simplified coordinates")
ok(all(r["key_id"] in val and r["key_id"] not in unrec for r in c), "set c: validation drawings")
ok([r["key_id"] for r in b] == [r["key_id"] for r in c] and all(x["target"] == y["drawing"] for x, y in zip(b, c)), "set b: set c's drawings degraded (target = the clean one)")
ok(all("degradations" in r and r["drawing"] != r["target"] for r in b), "set b: visibly changed")
for s in "abc":
    tk = set(l.strip() for l in open(os.path.join(P, "%s-test.keys" % ("a" if s == "a" else "c"))))
    tune = set(r["key_id"] for r in rd(os.path.join(P, "%s-tune.ndjson" % ("a" if s == "a" else "c"))))
    ok(not (tk & tune), "set %s: the tune drawings are not test drawings" % s)
for s in "abc":
    ids = [[json.loads(l)["key_id"] for l in open(os.path.join(W, s, e, "records.ndjson"))] for e in ("none", "prior", "unet")]
    ok(ids[0] == ids[1] == ids[2] == [r["key_id"] for r in (a, b, c)["abc".index(s)]], "set %s: the same drawings for every enhancer" % s)
    before = json.load(open(os.path.join(W, s + ".before.json")))
    none = json.load(open(os.path.join(W, s, "none", "score.json")))
    ok(abs(before["top1"] - none["top1"]) < 1e-9 and abs(before["mean_p_word"] - none["mean_p_word"]) < 1e-3, "set %s: enhancer none scores as the input" % s)
PYEOF
cat "$T/py"
