# tests/cli/bad_input.sh - the bad-input table of the foundation issue, for
# every sketch-NDJSON tool: each case must end with the documented exit code
# and a message naming the file and line (and key_id when known), or with
# --keep-going be skipped, counted, and leave the good records intact.
G='{"key_id":"1","word":"fish","drawing":[[[0,10,20],[0,5,0]]]}'
mk() { printf '%s\n%s\n%s\n' "$G" "$2" "$G" >"$T/$1.ndjson"; }
mk trunc '{"key_id":"2","word":"fish","drawing":[[[0,1'
mk types '{"key_id":"3","word":"fish","drawing":[[["a",1],[0,1]]]}'
mk types2 '{"key_id":"4","word":7,"drawing":[[[0,1],[0,1]]]}'
mk empty '{"key_id":"5","word":"fish","drawing":[]}'
printf '%s\n{"key_id":"6","word":"fi\377sh","drawing":[[[0],[0]]]}\n%s\n' "$G" "$G" >"$T/utf8.ndjson"
# a 10 MB malformed line: the error must still name line 2
{ echo "$G"; printf '{"key_id":"7","drawing":[[['; head -c 10000000 /dev/zero | tr '\0' '1'; printf ',x]]]}\n'; echo "$G"; } >"$T/big.ndjson"
for tool in qd-extract qd-degrade rasterize; do
  for c in trunc:"truncated" types:"key_id 3: stroke 0: x\[0\] is not a number" types2:"key_id 4: word is not a string" \
           empty:"key_id 5: empty drawing" utf8:"invalid UTF-8" big:"malformed JSON near byte 10000029"; do
    f=${c%%:*}; msg=${c#*:}
    expect_exit "$tool: $f -> exit 1 naming file:line" 1 "^$tool: $T/$f.ndjson:2: .*$msg" sh -c "$tool '$T/$f.ndjson' >/dev/null"
    n=$(sh -c "$tool --keep-going '$T/$f.ndjson' 2>'$T/kg.err' | wc -c" | tr -d ' ')
    if grep -q "skipped 1 bad record" "$T/kg.err" && [ "$n" -gt 0 ]; then ok "$tool: $f skipped and counted with --keep-going"
    else notok "$tool: $f with --keep-going" "$(cat "$T/kg.err")"; fi
  done
  # a truncated .gz is an error even with --keep-going (what follows is lost)
  gzip -c "$T/types.ndjson" | head -c 40 >"$T/cut.ndjson.gz"
  expect_exit "$tool: truncated .gz -> exit 1" 1 "cut.ndjson.gz: truncated gzip" sh -c "$tool --keep-going '$T/cut.ndjson.gz' >/dev/null"
  expect_exit "$tool: missing file -> exit 3" 3 "$T/none.ndjson: cannot open" sh -c "$tool '$T/none.ndjson' >/dev/null"
done
# a valid 10 MB line (a 1.2M-point stroke) passes through whole
{ printf '{"key_id":"8","word":"fish","drawing":[[['; seq -s, 1 1200000 | tr -d '\n'; printf '],['; seq -s, 1 1200000 | tr -d '\n'; printf ']]]}\n'; } >"$T/bigok.ndjson"
num_ok "the valid record is over 10 MB" "$(wc -c <"$T/bigok.ndjson") > 10000000"
n=$(qd-extract "$T/bigok.ndjson" | tr ',' '\n' | grep -c '^1200000')
eq "qd-extract passes a 10 MB record through whole" "$n" 2
