# tests/cli/qd_degrade.sh - qd-degrade on the shipped QuickDraw samples:
# target = input drawing, degradations recorded with drawn values in range,
# seeds, per-record determinism (position, sharding), mix frequencies, the
# study's simplify on a hand-computed record, validity of every degradation,
# re-degrading, usage and data errors, --keep-going.  Sourced by tests/run.sh.

F=data/quickdraw/simplified/fish.ndjson.gz
R=data/quickdraw/raw/fish.ndjson.gz
W=data/quickdraw/all-words.ndjson.gz

# field KEY: the raw value of the top-level array field KEY on each line
# (bracket matching; enough for drawings and degradation lists)
field() {
  awk -v k="\"$1\":" '{ i = index($0, k); if (!i) { print "MISSING"; next }
    s = substr($0, i + length(k)); d = 0; n = length(s)
    for (j = 1; j <= n; j++) { c = substr(s, j, 1)
      if (c == "[") d++; else if (c == "]") { d--; if (d == 0) break } }
    print substr(s, 1, j) }'
}

qd-degrade --seed 3 "$F" >"$T/a" 2>"$T/a.err"
eq "degrade fish: exit 0 and one line per record" "$? $(wc -l <"$T/a" | tr -d ' ')" "0 $(gzip -dc "$F" | wc -l | tr -d ' ')"
gzip -dc "$F" | field drawing >"$T/in.d"
field target <"$T/a" >"$T/out.t"
same "target is the input drawing, byte for byte" "$T/in.d" "$T/out.t"
gzip -dc "$F" | grep -o '"key_id":"[0-9]*"' >"$T/in.k"
grep -o '"key_id":"[0-9]*"' "$T/a" >"$T/out.k"
same "key_id and record order pass through" "$T/in.k" "$T/out.k"
n=$(grep -cE '"degradations":\[\{"name":"(noise","level|simplify","keep|jitter","amount)":[0-9.]+\}\]' "$T/a")
eq "every record names one study degradation with its drawn value" "$n" "$(wc -l <"$T/a" | tr -d ' ')"
bad=$(grep -oE '\{"name":"[a-z]+","[a-z]+":[0-9.]+\}' "$T/a" | awk -F'[":,}]+' '
  ($3 == "noise" && ($5 < 3 || $5 > 10)) || ($3 == "simplify" && ($5 < 0.3 || $5 > 0.7)) ||
  ($3 == "jitter" && ($5 < 2 || $5 > 8)) { print }' | head -3)
eq "drawn values lie in the study's ranges" "$bad" ""
cmp -s "$T/in.d" "$(field drawing <"$T/a" >"$T/out.d"; echo "$T/out.d")"
eq "the drawing is actually degraded" "$?" "1"

qd-degrade --seed 3 "$F" >"$T/b"
same "same seed, same output" "$T/a" "$T/b"
qd-degrade --seed 4 "$F" >"$T/c"
if cmp -s "$T/a" "$T/c"; then notok "another seed, another output"; else ok "another seed, another output"; fi
n=$(paste -d '\n' "$T/a" "$T/c" | awk 'NR % 2 { l = $0; next } $0 == l { s++ } END { print s + 0 }')
num_ok "another seed changes (nearly) every record ($n of 384 equal)" "$n < 10"

gzip -dc "$F" | head -10 >"$T/ten"
sed -n 5p "$T/ten" >"$T/five"
qd-degrade --seed 9 -d tremor -d overdraw -m 'noise;jitter;elastic' "$T/ten" | sed -n 5p >"$T/ten.5"
qd-degrade --seed 9 -d tremor -d overdraw -m 'noise;jitter;elastic' "$T/five" >"$T/five.5"
same "record 5 alone = record 5 of 1..10 (no dependence on position)" "$T/ten.5" "$T/five.5"
gzip -dc "$F" >"$T/fish"
head -200 "$T/fish" >"$T/h1"
tail -n +201 "$T/fish" >"$T/h2"
qd-degrade --seed 3 "$T/h1" >"$T/s1"
qd-degrade --seed 3 "$T/h2" >"$T/s2"
cat "$T/s1" "$T/s2" >"$T/s12"
same "two shards concatenated = one run" "$T/a" "$T/s12"

gzip -dc "$W" | head -3000 | qd-degrade --seed 1 >"$T/mix"
for d in noise simplify jitter; do
  c=$(grep -c "\"degradations\":\[{\"name\":\"$d\"" "$T/mix")
  num_ok "default mix picks $d about 1/3 of the time ($c of 3000)" "$c > 900 && $c < 1100"
done

qd-degrade -d noise:level=0 "$F" >"$T/n0"
field drawing <"$T/n0" >"$T/n0.d"
same "noise level=0 leaves the drawing as it was (integers stay integers)" "$T/in.d" "$T/n0.d"
qd-degrade --units rel "$F" --seed 3 >"$T/rel"
# simplified drawings span 0..255 on their longer side (a few 1..255): rel unit 1 there
n=$(paste -d '\n' "$T/a" "$T/rel" | awk 'NR % 2 { l = $0; next } !/"unit":/ { if ($0 == l) s++; else d++ } END { print s + 0, d + 0 }')
set -- $n
num_ok "--units rel = abs on QuickDraw's 0..255 frame ($1 records with unit 1, $2 differ)" "$1 > 300 && $2 == 0"
n=$(grep -o '"unit":[0-9.]*' "$T/rel" | awk -F: '$2 < 0.98 || $2 > 1 { b++ } END { print NR, b + 0 }')
set -- $n
num_ok "--units rel records its unit L/255 (${1} records, $2 off)" "$1 > 0 && $2 == 0"

echo '{"key_id":"h","drawing":[[[0,1,2,3,4,5,6,7,8,9],[0,10,20,30,40,50,60,70,80,90]],[[5,6],[7,8]]],"x":{"y":[1]}}' >"$T/h.nd"
eq "simplify keep=0.5 keeps indices 0,2,4,6,9 (hand-computed)" "$(qd-degrade -d simplify:keep=0.5 "$T/h.nd")" \
  '{"key_id":"h","drawing":[[[0,2,4,6,9],[0,20,40,60,90]],[[5,6],[7,8]]],"x":{"y":[1]},"target":[[[0,1,2,3,4,5,6,7,8,9],[0,10,20,30,40,50,60,70,80,90]],[[5,6],[7,8]]],"degradations":[{"name":"simplify","keep":0.5}]}'

gzip -dc "$R" | field drawing >"$T/raw.d"
qd-degrade -d noise "$R" >"$T/raw.o"
field target <"$T/raw.o" >"$T/raw.t"
same "raw input: target keeps the times" "$T/raw.d" "$T/raw.t"
n=$(field drawing <"$T/raw.o" | grep -c '^\[\[\[[^]]*\],\[[^]]*\],\[[^]]*\]\]')
eq "raw input: noise keeps each stroke's times" "$n" "$(wc -l <"$T/raw.o" | tr -d ' ')"

for d in tremor dropout:p=0.9 overshoot:amount=-0.45,spread=1 overshoot:amount=1 overdraw:count=3 affine:rotate=90,scale=1 \
         elastic:amplitude=100,scale=1 simplify:keep=0 'tremor:amplitude=5+dropout+overshoot+overdraw+affine+elastic'; do
  gzip -dc "$W" | head -2000 | qd-degrade -d "$d" >"$T/v" 2>"$T/v.err"
  rc=$?
  n=$(field drawing <"$T/v" | grep -cE 'null|\[\]|MISSING')
  eq "$d: exit 0, 2000 records, every stroke has points, all finite" "$rc $(wc -l <"$T/v" | tr -d ' ') $n" "0 2000 0"
done

qd-degrade -d jitter "$F" | qd-degrade -d dropout:p=0.5 >"$T/twice"
field target <"$T/twice" >"$T/twice.t"
same "degrading twice keeps the first target" "$T/in.d" "$T/twice.t"
n=$(grep -cE '"degradations":\[\{"name":"jitter","amount":[0-9.]+\},\{"name":"dropout","p":0.5\}\]' "$T/twice")
eq "degrading twice appends to degradations" "$n" "384"

echo '{"key_id":"s","strokes":[[[0,5],[0,5]]]}' | qd-degrade -d jitter:amount=0 >"$T/alias"
eq "\"strokes\" alias becomes \"drawing\"" "$(cat "$T/alias")" \
  '{"key_id":"s","target":[[[0,5],[0,5]]],"drawing":[[[0,5],[0,5]]],"degradations":[{"name":"jitter","amount":0}]}'

eq "--list shows the nine degradations" "$(qd-degrade --list | grep -cE '^(noise|simplify|jitter|tremor|dropout|overshoot|overdraw|affine|elastic) ')" "9"
eq "--list-json: one line each" "$(qd-degrade --list-json | grep -c '^{"name":')" "9"
check "--help has examples and the table" sh -c 'qd-degrade --help | grep -q "^Examples:" && qd-degrade --help | grep -q "^elastic "'

expect_exit "unknown degradation -> exit 2 naming the spec" 2 "'blur:radius=2'.*unknown degradation 'blur'" qd-degrade -d blur:radius=2 "$F"
expect_exit "unknown key -> exit 2" 2 "'noise:sigma=3'.*no parameter 'sigma'" qd-degrade -d noise:sigma=3 "$F"
expect_exit "out of range in --mix -> exit 2" 2 "--mix 'dropout:p=2'.*out of range" qd-degrade --mix 'noise;dropout:p=2' "$F"
expect_exit "bad range -> exit 2" 2 "'jitter:amount=8..2'.*lo > hi" qd-degrade -d jitter:amount=8..2 "$F"
expect_exit "bad --units -> exit 2" 2 "units" qd-degrade --units px "$F"

gzip -dc "$F" | head -4 >"$T/bad.ndjson"
sed -n 2p "$T/bad.ndjson" | sed 's/"drawing"/"drawn"/' >"$T/l2"
{ sed -n 1p "$T/bad.ndjson"; cat "$T/l2"; sed -n 3,4p "$T/bad.ndjson"; } >"$T/bad2.ndjson"
expect_exit "bad record -> exit 1 naming file:line" 1 "bad2.ndjson:2: key_id [0-9]+: missing \"drawing\"" qd-degrade "$T/bad2.ndjson"
qd-degrade --keep-going "$T/bad2.ndjson" >"$T/kg" 2>"$T/kg.err"
eq "--keep-going: exit 0 and 3 of 4 records" "$? $(wc -l <"$T/kg" | tr -d ' ')" "0 3"
check "--keep-going reports the skip" grep -q "skipped 1 bad record" "$T/kg.err"
