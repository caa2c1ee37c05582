# tests/cli/demo.sh - `make demo`'s recipe (pipelines/demo.sh) end to end: every stage writes what it
# says, on the shipped data and the shipped model.
OUT="$T/demo" BIN="$BIN" sh pipelines/demo.sh >"$T/log" 2>&1; rc=$?
eq "the demo exits 0" "$rc" 0
eq "16 degraded and 16 clean pictures" "$(ls "$T/demo/degraded" | wc -l | tr -d ' '):$(ls "$T/demo/clean" | wc -l | tr -d ' ')" "16:16"
eq "four renderers drew the fish" "$(ls "$T/demo/renderers" | wc -l | tr -d ' ')" 4
eq "four fish optimised, pictured before and after" \
  "$(wc -l <"$T/demo/optimized.ndjson" | tr -d ' '):$(ls "$T/demo/optimized/before" | wc -l | tr -d ' '):$(ls "$T/demo/optimized/after" | wc -l | tr -d ' ')" "4:4:4"
grep -q '"optimize":{"steps":100' "$T/demo/optimized.ndjson" && ok "optimised records carry the summary" || notok "optimize summary" "$(head -c 300 "$T/demo/optimized.ndjson")"
