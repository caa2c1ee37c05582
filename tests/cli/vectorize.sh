# tests/cli/vectorize.sh - vectorize: PNG stream -> sketch NDJSON.
# Sourced by tests/run.sh (POSIX sh, repo root, $BIN on PATH, scratch $T).
# Records are checked with grep/sed and by feeding them back to rasterize
# (which validates every record it reads), not by the code under test.

FISH=data/quickdraw/simplified/fish.ndjson.gz
iends() { od -An -v -tx1 "$1" | tr -d ' \n' | grep -o '49454e44ae426082' | wc -l | tr -d ' '; }
# the value of a string field of the first record
field() { head -1 "$2" | sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
# strokes in a file: each ends with "]]" (the drawing's last with "]]]")
nstrokes() { grep -o ']]' "$1" | wc -l | tr -d ' '; }
# total points of a file's drawings: numbers in "drawing" / 2
npoints() { sed 's/.*"drawing":\(\[.*\]\]\]\),"canvas".*/\1/' "$1" | tr ',' '\n' | grep -c '[0-9]'; }

zcat "$FISH" | head -5 >"$T/five.ndjson"
rasterize --renderer builtin --width 3 "$T/five.ndjson" >"$T/five.pngs"

# five images -> five records, with their text chunks and a canvas
vectorize "$T/five.pngs" >"$T/five.vec"; rc=$?
eq "5 images -> exit 0" "$rc" 0
eq "5 images -> 5 records" "$(wc -l <"$T/five.vec" | tr -d ' ')" 5
k1=$(head -1 "$T/five.ndjson" | sed 's/.*"key_id":"\([0-9]*\)".*/\1/')
eq "key_id carried from the PNG" "$(field key_id "$T/five.vec")" "$k1"
eq "word carried" "$(field word "$T/five.vec")" fish
eq "other text chunks carried (field)" "$(field field "$T/five.vec")" drawing
eq "other text chunks carried (line)" "$(field line "$T/five.vec")" 1
grep -q '"canvas":{"width":224,"height":224}' "$T/five.vec" && ok "canvas is the image's frame" || notok "canvas is the image's frame" "$(head -c 300 "$T/five.vec")"
vectorize <"$T/five.pngs" >"$T/five.vec2"
same "stdin and a file agree; deterministic" "$T/five.vec" "$T/five.vec2"

# the records compose: rasterize reads them back, in the same frame
rasterize --renderer builtin --width 3 "$T/five.vec" >"$T/back.pngs"; rc=$?
eq "rasterize reads the records back (exit $rc)" "$(iends "$T/back.pngs")" 5
vectorize "$T/back.pngs" >"$T/back.vec"
s1=$(nstrokes "$T/five.vec"); s2=$(nstrokes "$T/back.vec")
num_ok "a second round trip keeps the stroke count within 20% ($s1 -> $s2)" "$s2 >= 0.8 * $s1 && $s2 <= 1.2 * $s1"
qd-degrade --degrade jitter --seed 1 "$T/five.vec" >"$T/deg.ndjson"; rc=$?
eq "qd-degrade reads the records (exit $rc)" "$(wc -l <"$T/deg.ndjson" | tr -d ' ')" 5

# RGB images give the same strokes as grey
rasterize --renderer builtin --width 3 --rgb "$T/five.ndjson" | vectorize >"$T/rgb.vec"
same "RGB images -> the same records" "$T/five.vec" "$T/rgb.vec"

# options
vectorize --epsilon 0 "$T/five.pngs" >"$T/e0.vec"
vectorize --epsilon 3 "$T/five.pngs" >"$T/e3.vec"
p0=$(npoints "$T/e0.vec"); p1=$(npoints "$T/five.vec"); p3=$(npoints "$T/e3.vec")
num_ok "--epsilon 0 > 1 > 3 in points ($p0 > $p1 > $p3)" "$p0 > $p1 && $p1 > $p3"
vectorize --stats "$T/five.pngs" >"$T/st.vec"
grep -q '"vectorize":{"ink":[0-9]*,.*"strokes":[0-9]*,"points":[0-9]*}}$' "$T/st.vec" && ok "--stats adds a vectorize field" || notok "--stats adds a vectorize field" "$(head -c 400 "$T/st.vec")"
vectorize --stats --min-length 0 "$T/five.pngs" | grep -o '"spurs":[0-9]*' | sort -u >"$T/sp0"
eq "--min-length 0 drops no spur" "$(cat "$T/sp0")" '"spurs":0'
vectorize --threshold 0.05 "$T/five.pngs" >"$T/t05.vec"; rc=$?
eq "--threshold 0.05 (only the darkest pixels) still works" "$rc" 0
expect_exit "--threshold 0 -> exit 2" 2 "threshold" vectorize --threshold 0 "$T/five.pngs"
expect_exit "--threshold 1.5 -> exit 2" 2 "threshold" vectorize --threshold 1.5 "$T/five.pngs"
expect_exit "--epsilon -1 -> exit 2" 2 "epsilon" vectorize --epsilon -1 "$T/five.pngs"
expect_exit "--max-pixels 0 -> exit 2" 2 "max-pixels" vectorize --max-pixels 0 "$T/five.pngs"

# bad input
# a blank image (its stroke lies outside the canvas) between two good ones
printf '%s\n{"key_id":"blank","word":"fish","drawing":[[[-500,-400],[-500,-400]]],"canvas":{"width":224,"height":224}}\n%s\n' \
  "$(sed -n 1p "$T/five.ndjson")" "$(sed -n 2p "$T/five.ndjson")" | rasterize --renderer builtin --width 3 >"$T/blank.pngs"
expect_exit "an image with no ink -> exit 1 naming it" 1 "^vectorize: $T/blank.pngs: image 2 \\(key_id blank\\): no ink" \
  vectorize "$T/blank.pngs"
eq "the record before it was written" "$(wc -l <"$T/out" | tr -d ' ')" 1
vectorize --keep-going "$T/blank.pngs" >"$T/kg.vec" 2>"$T/kg.err"; rc=$?
eq "--keep-going skips it (exit $rc)" "$(wc -l <"$T/kg.vec" | tr -d ' ')" 2
grep -q "skipped 1 image with no ink" "$T/kg.err" && ok "--keep-going counts it" || notok "--keep-going counts it" "$(cat "$T/kg.err")"
# a truncated PNG stream: the images before the cut are kept
sz=$(wc -c <"$T/five.pngs"); head -c $((sz - 300)) "$T/five.pngs" >"$T/cut.pngs"
expect_exit "truncated PNG -> exit 1" 1 "^vectorize: $T/cut.pngs: image 5 .*truncated" vectorize "$T/cut.pngs"
eq "the 4 complete images were written" "$(wc -l <"$T/out" | tr -d ' ')" 4
expect_exit "truncated PNG with --keep-going -> still exit 1" 1 "truncated" vectorize --keep-going "$T/cut.pngs"
# not a PNG, an empty file, a missing file, an empty stdin
expect_exit "NDJSON instead of PNG -> exit 1" 1 "^vectorize: $T/five.ndjson: image 1" vectorize "$T/five.ndjson"
: >"$T/empty.pngs"
expect_exit "an empty file -> exit 1" 1 "empty.pngs: no image in the file" vectorize "$T/empty.pngs"
expect_exit "a missing file -> exit 3" 3 "^vectorize: $T/none.pngs: cannot open" vectorize "$T/none.pngs"
n=$(vectorize </dev/null | wc -c | tr -d ' '); rc=$?
eq "an empty stdin is an empty stream" "$n" 0
# too large: over --max-pixels, and over the default 4096 x 4096
expect_exit "--max-pixels 1000 refuses a 224 x 224 image -> exit 1" 1 "image 1 .*too large" \
  vectorize --max-pixels 1000 "$T/five.pngs"
head -1 "$T/five.ndjson" | rasterize --renderer builtin --size 4100 --width 3 >"$T/huge.pngs"
expect_exit "a 4100 x 4100 image -> exit 1 (default limit)" 1 "image 1 .*too large" vectorize "$T/huge.pngs"
vectorize --max-pixels 16810000 "$T/huge.pngs" >"$T/huge.vec"; rc=$?
eq "... and accepted with a larger --max-pixels" "$rc" 0
grep -q '"canvas":{"width":4100,"height":4100}' "$T/huge.vec" && ok "a 4100 px image keeps its frame" || notok "a 4100 px image keeps its frame"
