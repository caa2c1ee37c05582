# tests/cli/demo.sh - `make demo`'s recipe (pipelines/demo.sh) end to end on the shipped data and models,
# with tiny counts (2 words, 2 drawings each, 4 steps): every stage writes what it says, the drawings
# include ones Google did not recognise (when data/quickdraw/raw is there), the degradations are visible,
# the report shows every run, and the demo ends by saying where to look.
OUT="$T/demo" BIN="$BIN" WORDS=fish,cat PER=2 STEPS=4 JOBS=1 sh pipelines/demo.sh >"$T/stdout" 2>"$T/log"; rc=$?
eq "the demo exits 0" "$rc" 0
grep -q "$T/demo/report.html" "$T/stdout" && ok "it ends by saying where to look" || notok "where to look" "$(cat "$T/stdout")"
n=$(wc -l <"$T/demo/drawings.ndjson" | tr -d ' ')
eq "2 drawings of each of 2 words" "$n" 4
if [ -d data/quickdraw/raw ]; then
  num_ok "some drawings are ones Google's classifier did not recognise" "$(grep -c '"recognized":false' "$T/demo/drawings.ndjson") >= 1"
else
  ok "# SKIP unrecognised drawings: no data/quickdraw/raw"
fi
eq "every enhancer ran on every drawing" \
  "$(wc -l <"$T/demo/degraded.ndjson" | tr -d ' '):$(wc -l <"$T/demo/study.ndjson" | tr -d ' '):$(wc -l <"$T/demo/fair.ndjson" | tr -d ' '):$(wc -l <"$T/demo/unet.ndjson" | tr -d ' ')" "4:4:4:4"
# visible: each degraded drawing is at least half a pixel (of 256) from its clean original, or has a fifth more or less ink
sketch-score --reference target <"$T/demo/degraded.ndjson" >"$T/sc.ndjson" 2>/dev/null
python3 - "$T" <<'EOF'
import json, os, re, sys
T = sys.argv[1]; d = T + "/demo"
ok = lambda c, n, x="": print(("ok - " if c else "not ok - ") + n + ("" if c or not x else "\n#   " + str(x)))
sc = [json.loads(l)["score"] for l in open(T + "/sc.ndjson")]
vis = [s["chamfer"] >= 0.5 or abs(s["ink_ratio"] - 1) >= 0.2 for s in sc]
ok(len(sc) == 4 and all(vis), "every degradation is visible (chamfer px / ink ratio: %s)" % [(s["chamfer"], s["ink_ratio"]) for s in sc])
runs = [json.loads(l) for l in open(d + "/metrics.ndjson") if '"summary"' in l]
ok([r["run"] for r in runs] == ["study", "fair", "unet"] and all(r["summary"]["records"] == 4 for r in runs), "metrics: three runs of 4")
html = open(d + "/report.html").read()
srcs = re.findall(r'src="([^"]+)"', html)
ok("gallery.png" in srcs and all(os.path.isfile(d + "/" + s) for s in srcs), "report.html: the gallery and %d pictures, all there" % len(srcs))
ok(html.count('class=card id=') == 12, "a card for each drawing of each run")
ok(all(os.path.isfile(d + "/train/%s/curves.png" % m) for m in ("unet-small", "evaluator", "sketch-clip")), "the shipped models' training curves")
ok(all(s in srcs for s in ("train/unet-small/samples.png", "train/sketch-clip/samples.png")),
   "the report shows the sample grids of the shipped U-Net and sketch CLIP")
tg = [json.loads(l)["optimize"] for l in open(d + "/study.ndjson")]
ok(all("similarity" in o.get("target", {}) for o in tg), "the study run's records carry their clean target's similarity")
EOF
grep -q '"optimize":{"steps":4' "$T/demo/study.ndjson" && ok "optimised records carry the summary" || notok "optimize summary" "$(head -c 300 "$T/demo/study.ndjson")"
