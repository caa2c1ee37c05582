# tests/cli/newuser.sh - what a new user tripped over (issue 13, item 5), one
# block per finding: unknown and differently-cased words, the prefilter as the
# default, --out DIR made only when a file is written, pictures and models
# given where records are expected, the built-in renderer's help and the
# plugin folders searched, and docs that stand on their own.  Expected values
# come from the shipped data and from grep/zcat, never from the tool tested.

Q=data/quickdraw
A=$Q/all-words.ndjson.gz

# ---- 1. --word: case-insensitive, a warning and the nearest words when nothing matches ----
qd-extract --word unicorn $A >"$T/u.out" 2>"$T/u.err"; rc=$?
eq "--word unicorn (no such word): exit 2 (usage)" "$rc" 2
eq "--word unicorn: nothing on stdout" "$(wc -c <"$T/u.out" | tr -d ' ')" 0
if grep -q "word unicorn: no record of the input has this word; the nearest of its 345 words: \"" "$T/u.err"; then
  ok "--word unicorn: the warning names the word and the input's word count"
else notok "--word unicorn: the warning names the word" "$(cat "$T/u.err")"; fi
n=$(grep "word unicorn" "$T/u.err" | sed 's/.*words: //' | tr ',' '\n' | grep -c '"')
eq "--word unicorn: five nearest words listed" "$n" 5
# every listed word is a real word of the input
grep "word unicorn" "$T/u.err" | sed 's/.*words: //' | tr ',' '\n' | sed 's/^ *"//; s/"$//' >"$T/near"
zcat $A | sed 's/^{"word":"\([^"]*\)".*/\1/' | sort -u >"$T/vocab"
eq "--word unicorn: the listed words are words of the input" "$(grep -cvxF -f "$T/vocab" "$T/near")" 0
qd-extract --word fsh $A 2>"$T/f.err" >/dev/null
if grep -q 'word fsh: .*words: "fish"' "$T/f.err"; then ok "--word fsh: \"fish\" (one edit away) is named first"
else notok "--word fsh: fish named first" "$(cat "$T/f.err")"; fi
qd-extract --word tower $A 2>"$T/t.err" >/dev/null
if grep -q 'word tower: .*words: "The Eiffel Tower"' "$T/t.err"; then ok "--word tower: a word containing it is named first"
else notok "--word tower: containing word first" "$(cat "$T/t.err")"; fi
qd-extract --word fish $A >"$T/fish.out"
qd-extract --word Fish $A >"$T/Fish.out" 2>"$T/Fish.err"; rc=$?
eq "--word Fish: exit 0" "$rc" 0
eq "--word Fish: the 32 fish records" "$(wc -l <"$T/Fish.out" | tr -d ' ')" 32
same "--word Fish keeps exactly what --word fish keeps" "$T/fish.out" "$T/Fish.out"
eq "--word Fish: no warning" "$(wc -c <"$T/Fish.err" | tr -d ' ')" 0
eq "--word 'the eiffel tower' (spaces, other case): its 32 records" \
  "$(qd-extract --word 'the eiffel tower' $A | wc -l | tr -d ' ')" 32
qd-extract --word FISH,unicorn $A >"$T/fu.out" 2>"$T/fu.err"; rc=$?
if [ $rc -eq 0 ] && [ "$(wc -l <"$T/fu.out" | tr -d ' ')" -eq 32 ] && grep -q "word unicorn: no record" "$T/fu.err"; then
  ok "--word FISH,unicorn: the fish written, exit 0, unicorn warned about"
else notok "--word FISH,unicorn" "rc=$rc $(cat "$T/fu.err")"; fi
expect_exit "--word fish --country XX: nothing passed, warned, exit 0" 0 "no record passed the filters" \
  qd-extract --word fish --country XX $A
expect_exit "--word fish on the cat file: exit 2 naming the file's one word" 2 'word fish: .*its 1 word: "cat"' \
  qd-extract --word fish $Q/simplified/cat.ndjson.gz
qd-extract --word fish,cat --limit 1 $A >/dev/null 2>"$T/l.err"; rc=$?
eq "--limit stops early: no warning about words not reached" "$rc.$(wc -c <"$T/l.err" | tr -d ' ')" "0.0"
qd-extract --help >"$T/h" 2>&1
check "--help documents the exit code of a word that matches nothing" grep -q "exits 2 (usage)" "$T/h"

# ---- 2. the prefilter is the default and changes no result ----
check "--help offers --no-prefilter" grep -q -- "--no-prefilter" "$T/h"
V=$Q/val-keys.txt
for args in "--word fish,cat" "--word FISH --country US" "--word cat,dog --recognized true --fit 64" \
            "--country GB,DE" "--sample 5 --per-word --seed 3 --word cat,dog,bird" "--exclude-key-file $V --word fish"; do
  # shellcheck disable=SC2086
  qd-extract $args $A >"$T/p1" 2>/dev/null; r1=$?
  # shellcheck disable=SC2086
  qd-extract --no-prefilter $args $A >"$T/p2" 2>/dev/null; r2=$?
  n=$(wc -l <"$T/p1" | tr -d ' ')
  if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ "$n" -gt 0 ] && cmp -s "$T/p1" "$T/p2"; then
    ok "prefilter on and off: the same $n records for $args"
  else notok "prefilter on and off: $args" "rc $r1/$r2, $n lines; $(diff "$T/p1" "$T/p2" | head -3)"; fi
done
# lines the byte search must not skip: escapes, other case, blanks and CR around the colon, nested words
{ echo '{"word":"fi\u0073h","key_id":"1","drawing":[[[1,2],[3,4]]]}'
  echo '{"key_id":"2","word" : "FiSh","drawing":[[[1,2],[3,4]]]}'
  echo '{"key_id":"3","score":{"top":[{"word":"fish"}]},"word":"cat","drawing":[[[1,2],[3,4]]]}'
  echo '{"key_id":"4","note":"word","word":"fish","drawing":[[[1,2],[3,4]]]}'
  echo '{"key_id":"5","word":"dog","drawing":[[[1,2],[3,4]]]}'
  printf '{"key_id":"6","word"\r:"fish","drawing":[[[1,2],[3,4]]]}\n'; } >"$T/tricky.ndjson"
qd-extract --word fish "$T/tricky.ndjson" >"$T/tr1"
qd-extract --no-prefilter --word fish "$T/tricky.ndjson" >"$T/tr2"
same "prefilter on tricky lines: the same records as parsing all" "$T/tr1" "$T/tr2"
eq "tricky lines: key_ids 1, 2, 4 and 6 (CR before the colon) are fish" "$(sed 's/.*"key_id":"\([0-9]\)".*/\1/' "$T/tr1" | tr -d '\n')" 1246
# the default skips a malformed {...} line of another word unparsed; --no-prefilter reports it
{ zcat $Q/simplified/fish.ndjson.gz | head -2; echo '{"word":"cat","key_id":"7","drawing":"none"}'; } >"$T/skip.ndjson"
eq "default (prefilter): another word's bad {...} line is skipped" "$(qd-extract --word fish "$T/skip.ndjson" | wc -l | tr -d ' ')" 2
expect_exit "--no-prefilter: the same line is parsed and reported" 1 "skip.ndjson:3: key_id 7" qd-extract --no-prefilter --word fish "$T/skip.ndjson"

# ---- 3. --out DIR: made at the first file; an error says how many files it holds ----
zcat $Q/simplified/fish.ndjson.gz | head -3 >"$T/three.ndjson"
bad='{"word":"x","key_id":"9","drawing":[]}'
{ echo "$bad"; cat "$T/three.ndjson"; } >"$T/bad1.ndjson"
{ sed -n 1,2p "$T/three.ndjson"; echo "$bad"; sed -n 3p "$T/three.ndjson"; } >"$T/bad3.ndjson"
expect_exit "rasterize --out: a bad first record exits 1 and says nothing was written" 1 \
  "bad1.ndjson:1: key_id 9: .*no file was written to $T/o1" rasterize --renderer builtin --out "$T/o1" "$T/bad1.ndjson"
if [ -e "$T/o1" ]; then notok "rasterize --out: the folder is not made when the first record fails"
else ok "rasterize --out: the folder is not made when the first record fails"; fi
expect_exit "rasterize --out: a bad third record says 2 files were written" 1 \
  "bad3.ndjson:3: key_id 9: .*2 files were written to $T/o3 before the error" \
  rasterize --renderer builtin --out "$T/o3" "$T/bad3.ndjson"
eq "rasterize --out: those 2 files are there" "$(ls "$T/o3" | grep -c '\.png$')" 2
rasterize --out "$T/o4" tests/fixtures/png/palette2.png 2>/dev/null
if [ -e "$T/o4" ]; then notok "rasterize --out: a PNG given as input makes no folder"
else ok "rasterize --out: a PNG given as input makes no folder"; fi
rasterize --renderer builtin --out "$T/o5" "$T/three.ndjson"
eq "rasterize --out: a good run still makes the folder and its files" "$(ls "$T/o5" | grep -c '\.png$')" 3
: | rasterize --renderer builtin --out "$T/o6"
if [ -e "$T/o6" ]; then notok "rasterize --out: no records, no folder"; else ok "rasterize --out: no records, no folder"; fi
# the trainers' --out DIR: a bad first record stops them before the folder is made
for tool in clip-train "sketch-score --train" unet-train; do
  n=$(echo "$tool" | tr -c 'a-z\n' '_')
  expect_exit "$tool --out: a bad first record exits 1" 1 "bad1.ndjson:1: key_id 9" $tool --out "$T/t-$n" --steps 1 "$T/bad1.ndjson"
  if [ -e "$T/t-$n" ]; then notok "$tool --out: no folder after a bad first record"; else ok "$tool --out: no folder after a bad first record"; fi
done

# ---- 4. a picture, a model or a compressed file where NDJSON is expected ----
gzip -c $Q/simplified/fish.ndjson.gz >"$T/twice.gz"
printf 'PK\003\004\024\000\000\000\010\000' >"$T/model.pt"
printf '\200\002}q\000.' >"$T/pytorch_model.bin"
printf 'BZh91AY&SY' >"$T/x.bz2"
# tool file pattern-of-what pattern-of-who
while IFS='|' read -r tool file what who; do
  expect_exit "$tool $(basename "$file"): exit 1, says it looks like $what and who reads it" 1 \
    "$(basename "$file"): this looks like $what.*not sketch NDJSON.*$who" $tool "$file"
done <<EOF
rasterize|tests/fixtures/png/palette2.png|a PNG image|vectorize
qd-degrade|data/reference/Fish2.jpg|a JPEG image|clip-embed
sketch-score|$T/twice.gz|a gzip file inside a gzip file|zcat
optimize --loss tv|data/models/sketch-clip/model.safetensors|a safetensors weight file|--model
rasterize|$T/model.pt|a zip archive|--model
qd-degrade|$T/pytorch_model.bin|a Python pickle|--model
rasterize|$T/x.bz2|a bzip2 file|bunzip2
EOF
cp tests/fixtures/qdbin/fish.bin "$T/fish.data"
expect_exit "qd-extract: a QuickDraw .bin under another name: says so and names --format bin" 1 \
  "fish.data: this looks like Google's QuickDraw binary format.*--format bin" qd-extract "$T/fish.data"
expect_exit "qd-extract --word fish (prefilter on) on a PNG from stdin: still says PNG" 1 \
  "<stdin>: this looks like a PNG image" sh -c 'qd-extract --word fish < tests/fixtures/png/palette2.png'
expect_exit "--keep-going does not skip a whole PNG as bad lines" 1 "this looks like a PNG image" \
  qd-degrade --keep-going tests/fixtures/png/palette2.png
check "a gzipped NDJSON file is still read as records" sh -c "rasterize --renderer builtin $Q/simplified/fish.ndjson.gz | head -c 8 | grep -q PNG"
expect_exit "plain text that is not JSON: still the JSON error" 1 "notjson.ndjson:1: " sh -c "echo hello > '$T/notjson.ndjson'; qd-degrade '$T/notjson.ndjson'"

# ---- 5. --help-plugin builtin, and every plugin folder searched named ----
rasterize --help-plugin builtin >"$T/hb" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "^builtin (renderer" "$T/hb" && grep -q "^Parameters" "$T/hb"; then
  ok "rasterize --help-plugin builtin describes the built-in renderer"
else notok "rasterize --help-plugin builtin" "rc=$rc $(cat "$T/hb")"; fi
mkdir -p "$T/inst/bin" "$T/inst/lib/invclip/plugins" "$T/pp"
cp "$BIN/rasterize" "$T/inst/bin/"
INVCLIP_PLUGIN_PATH="$T/pp:$T/nowhere" "$T/inst/bin/rasterize" --help-plugin nosuch >/dev/null 2>"$T/nf"; rc=$?
eq "an unknown plugin: exit 4" "$rc" 4
for d in "$T/pp" "$T/nowhere (missing)" "$T/inst/lib/invclip/plugins" "$(cd "$TPLUGINS/../../plugins" && pwd)"; do
  if grep -qF "$d" "$T/nf"; then ok "not found: names the folder $(basename "$d")"
  else notok "not found: names $d" "$(cat "$T/nf")"; fi
done

# ---- 6. the docs stand on their own ----
# every relative link of docs/*.md and README.md resolves to a file of the repository
bad=""
for f in README.md docs/*.md; do
  dir=$(dirname "$f")
  for l in $(grep -o '](\([^)#]*\)[)#]' "$f" | sed 's/^](//; s/[)#]$//' | grep -v '^[a-z]*:' | grep -v '^$'); do
    [ -e "$dir/$l" ] || bad="$bad $f:$l"
  done
done
eq "every relative link of README.md and docs/*.md resolves" "${bad:-none}" none
# no shipped doc or help text cites documents kept outside the repository
: >"$T/helps"
for t in "$BIN"/*; do "$t" --help >>"$T/helps" 2>&1; done
for p in "$TPLUGINS"/../../plugins/*.so; do rasterize --help-plugin "$(basename "$p" .so)" >>"$T/helps" 2>&1; done
n=$(grep -c "splat\|clipaug" "$T/helps")
num_ok "the help texts were collected ($n plugin mentions)" "$n > 0"
if grep -n 'reference-system\|DESIGN\.md\|STYLE\.md' "$T/helps" README.md docs/*.md >"$T/cites"; then
  notok "no help or doc cites reference-system.md, DESIGN.md or STYLE.md" "$(head -5 "$T/cites")"
else ok "no help or doc cites reference-system.md, DESIGN.md or STYLE.md"; fi
if grep -n '§' "$T/helps" README.md docs/*.md >"$T/cites"; then
  notok "no help or doc cites a numbered section (§) of an outside document" "$(head -5 "$T/cites")"
else ok "no help or doc cites a numbered section (§) of an outside document"; fi
check "docs/records.md specifies the record fields" grep -q '^| `drawing`' docs/records.md
for fld in word key_id countrycode recognized timestamp drawing canvas target degradations initial history optimize score embedding; do
  if grep -q "\`$fld\`" docs/records.md; then ok "docs/records.md: $fld"; else notok "docs/records.md: $fld"; fi
done
