# tests/cli/recipes.sh - the study's optimisation recipes end to end, as `make test` can afford them:
# a tiny full-vocabulary CLIP (test_mkclip), 3 steps, one drawing; each writes its records, frames,
# summary, before/after pictures and a results table, and fails cleanly on a bad setting.
"$UNITS/test_mkclip" "$T/mk.safetensors"
for r in reference-anchor text-guided clipasso fair; do
  CLIP="$T/mk.safetensors" STEPS=3 N=1 THREADS=1 OUT="$T/$r" sh pipelines/$r.sh >"$T/$r.log" 2>&1; rc=$?
  if [ "$rc" -eq 0 ] && [ -s "$T/$r/results.md" ]; then ok "$r runs end to end with the tiny model"
  else notok "$r runs" "rc $rc: $(tail -5 "$T/$r.log")"; fi
done
for d in "$T"/reference-anchor/struct0.0 "$T"/reference-anchor/struct0.7 "$T"/text-guided/study "$T"/text-guided/fixed \
         "$T"/clipasso/text "$T"/clipasso/image; do
  n=${d#"$T"/}
  if [ -s "$d/records.ndjson" ] && [ -s "$d/frames.png" ] && [ "$(wc -l <"$d/summary.tsv")" -eq 2 ] &&
     [ "$(ls "$d/before" | wc -l)" -eq 1 ] && [ "$(ls "$d/after" | wc -l)" -eq 1 ]; then ok "$n: records, frames, summary, pictures"
  else notok "$n outputs" "$(ls -R "$d" 2>&1 | head)"; fi
done
eq "fair optimised one drawing of each of six words" "$(wc -l <"$T/fair/fair/summary.tsv" | tr -d ' ')" 7
eq "reference-anchor's table has three runs" "$(grep -c '^| struct' "$T/reference-anchor/results.md")" 3
grep -q 'structure' "$T/reference-anchor/struct0.7/records.ndjson" && ok "structure is in the history" || notok "structure in history"
eq "text-guided embedded five exemplar pictures" "$(wc -l <"$T/text-guided/exemplars.ndjson" | tr -d ' ')" 5
python3 - "$T/clipasso/text/records.ndjson" "$T/clipasso/image/records.ndjson" <<'PY'
import json, sys
a = json.loads(open(sys.argv[1]).readline()); b = json.loads(open(sys.argv[2]).readline())
print(("ok - " if len(a["initial"]) == 8 else "not ok - ") + "clipasso text starts from 8 random strokes (%d)" % len(a["initial"]))
print(("ok - " if len(b["initial"]) == 16 and len(b["optimize"]["restart_losses"]) == 3 else "not ok - ") +
      "clipasso image: 16 strokes, 3 seeds")
PY
expect_exit "a bad N: exit 2" 2 "N='x'" env N=x sh pipelines/reference-anchor.sh
expect_exit "an unknown word: exit 2" 2 "no drawings of 'unicorn'" env WORD=unicorn sh pipelines/reference-anchor.sh
expect_exit "unreadable weights: exit 2" 2 "cannot read" env CLIP="$T/nosuch.pt" sh pipelines/text-guided.sh
expect_exit "a bad PRECISION: exit 2" 2 "PRECISION='half'" env PRECISION=half sh pipelines/reference-anchor.sh
if grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null; then
  CLIP="$T/mk.safetensors" PRECISION=bf16 STEPS=3 N=1 THREADS=1 OUT="$T/ra16" sh pipelines/reference-anchor.sh >"$T/ra16.log" 2>&1; rc=$?
  if [ "$rc" -eq 0 ] && grep -q '"precision":"bf16"' "$T/ra16/struct0.3/records.ndjson"; then
    ok "PRECISION=bf16: the recipe's runs are bf16 (optimize.precision)"
  else notok "PRECISION=bf16 recipe" "rc $rc: $(tail -5 "$T/ra16.log")"; fi
else
  echo "# PRECISION=bf16 recipe not run: no AVX512_BF16 on this CPU"
fi
