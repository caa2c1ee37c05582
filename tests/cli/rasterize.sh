# tests/cli/rasterize.sh - rasterize: sketch NDJSON -> PNG stream / files.
# Sourced by tests/run.sh (POSIX sh, repo root, $BIN on PATH, scratch $T).
# PNG facts are read from the bytes with od, not with the code under test:
# an image ends with IEND and its fixed CRC (49454e44 ae426082); IHDR holds
# width and height at bytes 16-23 and the colour type at byte 25.

FISH=data/quickdraw/simplified/fish.ndjson.gz

# number of IEND chunks in a file
iends() { od -An -v -tx1 "$1" | tr -d ' \n' | grep -o '49454e44ae426082' | wc -l | tr -d ' '; }
# "W H colourtype" of the first PNG in a file
ihdr() { od -An -v -tu1 -j16 -N10 "$1" | awk '{printf "%d %d %d", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8, $10}'; }
# text chunks are "key\0value": make them greppable
texts() { tr '\000' '=' <"$1"; }

zcat "$FISH" | head -5 >"$T/five.ndjson"

# a stream of N images
rasterize "$T/five.ndjson" >"$T/five.pngs"; rc=$?
eq "5 records -> exit 0" "$rc" 0
eq "5 records -> 5 PNGs in the stream" "$(iends "$T/five.pngs")" 5
eq "default 224x224 grey" "$(ihdr "$T/five.pngs")" "224 224 0"
k1=$(head -1 "$T/five.ndjson" | sed 's/.*"key_id":"\([0-9]*\)".*/\1/')
if texts "$T/five.pngs" | grep -aq "key_id=$k1" && texts "$T/five.pngs" | grep -aq "word=fish" &&
   texts "$T/five.pngs" | grep -aq "field=drawing" && texts "$T/five.pngs" | grep -aq "line=5"; then
  ok "text chunks key_id, word, field, line"
else notok "text chunks key_id, word, field, line"; fi
zcat "$FISH" | head -5 | rasterize >"$T/five2.pngs"
texts "$T/five2.pngs" | grep -aq "file=<stdin>" && ok "stdin named <stdin>" || notok "stdin named <stdin>"
rasterize "$FISH" >"$T/all.pngs"
eq "a .gz file of $(zcat "$FISH" | wc -l | tr -d ' ') records -> as many PNGs" "$(iends "$T/all.pngs")" "$(zcat "$FISH" | wc -l | tr -d ' ')"
rasterize "$T/five.ndjson" >"$T/again.pngs"
same "deterministic" "$T/five.pngs" "$T/again.pngs"

# --out: one file per record, named by key_id, of the right size
rasterize --out "$T/dir/sub" --size 64 "$T/five.ndjson"; rc=$?
n=$(ls "$T/dir/sub" | grep -c '\.png$')
eq "--out writes 5 files (exit $rc)" "$n" 5
check "--out file named <key_id>.png" test -f "$T/dir/sub/$k1.png"
eq "--size 64 -> 64x64" "$(ihdr "$T/dir/sub/$k1.png")" "64 64 0"
eq "--out leaves no temp files" "$(ls "$T/dir/sub" | grep -c tmp)" 0
if command -v file >/dev/null 2>&1; then
  file "$T/dir/sub/$k1.png" | grep -q "PNG image data, 64 x 64, 8-bit grayscale" && ok "file(1) agrees" || notok "file(1) agrees" "$(file "$T/dir/sub/$k1.png")"
fi
echo '{"word":"fish","drawing":[[[0,50],[0,50]]]}' | rasterize --out "$T/nokey"
check "no key_id -> line<N>.png" test -f "$T/nokey/line1.png"

# --rgb, --width
rasterize --rgb "$T/five.ndjson" >"$T/rgb.pngs"
eq "--rgb -> colour type 2" "$(ihdr "$T/rgb.pngs")" "224 224 2"
head -1 "$T/five.ndjson" | rasterize --width 1 --out "$T/w1"
head -1 "$T/five.ndjson" | rasterize --width 6 --out "$T/w6"
s1=$(wc -c <"$T/w1/$k1.png"); s6=$(wc -c <"$T/w6/$k1.png")
if cmp -s "$T/w1/$k1.png" "$T/w6/$k1.png"; then notok "--width changes the image"; else ok "--width changes the image ($s1 vs $s6 bytes)"; fi

# --field target (the clean half of a qd-degrade pair), canvas frame
cat >"$T/pair.ndjson" <<'EOF'
{"key_id":"p1","word":"fish","drawing":[[[0,30,60],[0,40,5]]],"target":[[[0,100],[50,50]],[[50],[20]]]}
{"key_id":"p2","word":"fish","drawing":[[[0,30,60],[0,40,5]]]}
EOF
head -1 "$T/pair.ndjson" | rasterize --field target --out "$T/tg"
head -1 "$T/pair.ndjson" | rasterize --out "$T/dr"
check "--field target writes p1.png" test -f "$T/tg/p1.png"
if cmp -s "$T/tg/p1.png" "$T/dr/p1.png"; then notok "target renders differently from drawing"; else ok "target renders differently from drawing"; fi
texts "$T/tg/p1.png" | grep -aq "field=target" && ok "field=target text chunk" || notok "field=target text chunk"
expect_exit "missing field -> exit 1 naming file:line" 1 "rasterize: $T/pair.ndjson:2: key_id p2: missing \"target\"" \
  rasterize --field target --out "$T/tg2" "$T/pair.ndjson"
echo '{"key_id":"c1","drawing":[[[10,100],[56,56]]],"canvas":{"width":112,"height":112}}' | rasterize --out "$T/cv"
echo '{"key_id":"c1","drawing":[[[10,100],[56,56]]]}' | rasterize --out "$T/nc"
if cmp -s "$T/cv/c1.png" "$T/nc/c1.png"; then notok "canvas frame differs from bbox fit"; else ok "canvas frame differs from bbox fit"; fi

# bad input
printf '%s\n' "$(head -1 "$T/five.ndjson")" "$(sed -n 2p "$T/five.ndjson" | cut -c1-60)" >"$T/trunc.ndjson"
expect_exit "truncated record -> exit 1 at line 2" 1 "trunc.ndjson:2: .*truncated" sh -c "rasterize '$T/trunc.ndjson' >'$T/t.pngs'"
eq "the good record before it was written" "$(iends "$T/t.pngs")" 1
sh -c "rasterize --keep-going '$T/trunc.ndjson' '$T/five.ndjson' >'$T/kg.pngs' 2>'$T/kg.err'"; rc=$?
eq "--keep-going skips the bad record (exit $rc)" "$(iends "$T/kg.pngs")" 6
grep -q "skipped 1 bad record" "$T/kg.err" && ok "--keep-going counts skips" || notok "--keep-going counts skips" "$(cat "$T/kg.err")"
echo '{"key_id":"../evil","drawing":[[[0,1],[0,1]]]}' >"$T/evil.ndjson"
expect_exit "unsafe key_id refused as a file name" 1 "evil.ndjson:1: key_id ../evil: .*file name" rasterize --out "$T/ev" "$T/evil.ndjson"
check "nothing written outside --out" test ! -e "$T/evil.png"
expect_exit "--pad too large" 2 "pad" rasterize --size 20 --pad 10 --out "$T/x" "$T/five.ndjson"
expect_exit "--size out of range" 2 "size" rasterize --size 0 --out "$T/x" "$T/five.ndjson"

# refuse to write PNG to a terminal (script(1) gives the tool a pty)
if command -v script >/dev/null 2>&1; then
  script -qec "$BIN/rasterize '$T/five.ndjson'" /dev/null >"$T/tty.out" 2>&1; rc=$?
  if [ "$rc" -eq 2 ] && grep -q "terminal.*--out" "$T/tty.out"; then ok "refuses a terminal with a usage error"
  else notok "refuses a terminal with a usage error" "exit $rc: $(head -c 300 "$T/tty.out")"; fi
else
  notok "refuses a terminal" "script(1) (bsdutils) is needed to give the tool a terminal"
fi
