# tests/cli/hardening.sh - the outside review's reproducers (issue 7), run
# against the tools: each failed before its fix.  The library-level side of
# the same faults is tests/unit/test_hardening.c.
M=tests/fixtures/clip/tiny_openai.safetensors

# 1. key_ids sharing their first 63 bytes: two files, not one
K=$(printf 'k%.0s' $(seq 63))
printf '{"key_id":"%sA","word":"a","drawing":[[[0,9],[0,9]]]}\n{"key_id":"%sB","word":"b","drawing":[[[0,9],[0,9]]]}\n' "$K" "$K" >"$T/c.ndjson"
rasterize --out "$T/o" "$T/c.ndjson" 2>"$T/err"; rc=$?
eq "1: 64-byte key_ids -> exit 0" "$rc" 0
eq "1: two output files" "$(ls "$T/o" | wc -l | tr -d ' ')" 2
check "1: ...named by the whole key_id" test -f "$T/o/${K}B.png"
n=$(qd-extract --key "${K}B" "$T/c.ndjson" | grep -c '"word":"b"')
eq "1: --key matches the whole id only" "$n" 1
qd-degrade --seed 3 "$T/c.ndjson" | sed -n 's/.*"drawing":\(\[\[\[[^]]*\]\).*/\1/p' >"$T/dd"
eq "1: qd-degrade draws differ for the two ids" "$(sort -u "$T/dd" | wc -l | tr -d ' ')" 2
# the same key_id twice: the second record would silently replace the first
printf '{"key_id":"x1","word":"a","drawing":[[[0,9],[0,9]]]}\n{"key_id":"x1","word":"b","drawing":[[[0,9],[0,9]]]}\n' >"$T/dup.ndjson"
expect_exit "1: duplicate key_id with --out -> exit 1" 1 "dup.ndjson:2: key_id x1: .*x1.png was already written" \
  rasterize --out "$T/dup" "$T/dup.ndjson"
rasterize --keep-going --out "$T/dup2" "$T/dup.ndjson" 2>/dev/null
v=$(head -c 2000 "$T/dup2/x1.png" | tr -c 'a-z' '\n' | grep -c '^a$')
num_ok "1: --keep-going keeps the first record's file" "$v >= 1"
# a key_id too long for a file name is a data error, not an I/O failure
L=$(printf 'z%.0s' $(seq 300))
printf '{"key_id":"%s","word":"a","drawing":[[[0,9],[0,9]]]}\n' "$L" >"$T/long.ndjson"
expect_exit "1: 300-byte key_id as a file name -> exit 1" 1 "cannot be used as a file name" \
  rasterize --out "$T/o" "$T/long.ndjson"

# 2. a file name that is not UTF-8: every record still renders, and an
#    error keeps its reason
cp "$T/c.ndjson" "$T/f$(printf '\377').ndjson"
n=$(rasterize "$T/f$(printf '\377').ndjson" 2>"$T/err" | grep -c IEND)
eq "2: non-UTF-8 input name: both records rendered" "$n" 2
printf '{"key_id":"q1","word":"a","drawing":[[[0,9],[0,9]]]}\n' >"$T/q.ndjson"
expect_exit "2: a write error keeps its reason" 3 "^rasterize: .*q.ndjson:1: <stdout>: write error: No space" \
  sh -c "rasterize '$T/q.ndjson' >/dev/full"

# 3. a symlink planted where temporaries go is never followed: plant one at
#    the name the old code would have used (PATH.tmp.<pid>; exec keeps the pid)
mkdir -p "$T/shared"
echo precious >"$T/victim"
printf '{"key_id":"x1","word":"a","drawing":[[[0,9],[0,9]]]}\n' >"$T/x1.ndjson"
sh -c 'ln -s "$1" "$2/x1.png.tmp.$$" && exec rasterize --out "$2" "$3"' sh "$T/victim" "$T/shared" "$T/x1.ndjson"
eq "3: the link's target is untouched" "$(cat "$T/victim")" precious
check "3: the output is a regular PNG" sh -c "test -f '$T/shared/x1.png' && ! test -L '$T/shared/x1.png'"
eq "3: no temporaries left (only the planted link)" "$(find "$T/shared" -name '*.tmp.*' -type f | wc -l | tr -d ' ')" 0

# 4. JPEG: a truncated file that still ends in EOI, and a tiny file that
#    declares 16384 x 16384
# (perfectFish.jpeg's SOF0 holds height and width at bytes 159..162)
J=tests/fixtures/imgprep/perfectFish.jpeg
{ head -c 2569 $J; printf '\377\331'; } >"$T/trunc.jpg"
cp $J "$T/huge.jpg"; printf '\100\000\100\000' | dd of="$T/huge.jpg" bs=1 seek=159 conv=notrunc 2>/dev/null
expect_exit "4: truncated JPEG ending in EOI -> exit 1" 1 "trunc.jpg: .*(Corrupt JPEG data|truncated)" clip-embed -m $M "$T/trunc.jpg"
/usr/bin/time -f %M -o "$T/mem" clip-embed -m $M "$T/huge.jpg" >/dev/null 2>"$T/err"; rc=$?
eq "4: 5 kB JPEG declaring 16384x16384 -> exit 1" "$rc" 1
num_ok "4: ...refused before allocating (peak RSS $(tail -1 "$T/mem") kB < 100 MB)" "$(tail -1 "$T/mem") < 100000"
# an empty file given as an image
: >"$T/empty.png"
expect_exit "empty image file -> exit 1" 1 "empty.png: no image in the file" clip-embed -m $M "$T/empty.png"
n=$(clip-embed -m $M --keep-going "$T/empty.png" tests/fixtures/imgprep/grey.png 2>"$T/err" | wc -l)
eq "empty image file skipped with --keep-going" "$n" 1

# 5. a bad head count in __metadata__ is an error, not ignored
# le64 N: N as 8 little-endian bytes
le64() { _v=$1; _i=0; while [ $_i -lt 8 ]; do printf "\\$(printf %o $((_v % 256)))"; _v=$((_v / 256)); _i=$((_i + 1)); done; }
S=tests/fixtures/clip/tiny_openai.safetensors
n=$(od -An -tu8 -N8 $S | tr -d ' ')
hdr=$(dd if=$S bs=1 skip=8 count=$n 2>/dev/null | sed 's/"v_heads":"2"/"v_heads":"1000000"/')
while [ $(( ${#hdr} % 8 )) -ne 0 ]; do hdr="$hdr "; done
{ le64 ${#hdr}; printf '%s' "$hdr"; tail -c +$((n + 9)) $S; } >"$T/badheads.safetensors"
expect_exit "5: __metadata__ v_heads 1000000 -> exit 5" 5 'badheads.safetensors: __metadata__ "v_heads" is "1000000"' \
  clip-embed -m "$T/badheads.safetensors" --text fish

# 6 is in unit/test_hardening (needs a memory limit inside the process)

# extras: a truncated .gz keeps every complete record, then fails naming the file
zcat data/quickdraw/all-words.ndjson.gz | head -6000 | gzip >"$T/a.gz"
head -c $(( $(wc -c <"$T/a.gz") * 2 / 3 )) "$T/a.gz" >"$T/cut.ndjson.gz"
want=$(gzip -dc "$T/cut.ndjson.gz" 2>/dev/null | wc -l | tr -d ' ')
for tool in qd-extract qd-degrade; do
  got=$($tool "$T/cut.ndjson.gz" 2>"$T/err" | wc -l | tr -d ' ')
  eq "truncated .gz: $tool writes all $want complete records" "$got" "$want"
  check "truncated .gz: $tool names the file, not <fd:N>" sh -c "grep -q 'cut.ndjson.gz: truncated gzip' '$T/err' && ! grep -q '<fd:' '$T/err'"
done
# a line longer than the 256 MB cap is refused (exit 1), not grown until memory
# runs out: a 3 GB line on a pipe stops at the cap (reading it whole would take
# 3 GB or more)
/usr/bin/time -f %M -o "$T/mem" sh -c "head -c 3000000000 /dev/zero | tr '\\0' x | qd-extract >/dev/null 2>'$T/err'; echo \$? >'$T/rc'"
eq "line over 256 MB -> exit 1" "$(cat "$T/rc")" 1
check "...named" grep -q "<stdin>:1: line longer than 268435456 bytes" "$T/err"
num_ok "...memory bounded by the cap (peak $(tail -1 "$T/mem") kB)" "$(tail -1 "$T/mem") < 1500000"
# one rule for repeated keys: plugin parameters refuse them as degradation specs do
expect_exit "repeated plugin key -> exit 2" 2 "softness given twice" \
  sh -c "echo '{\"drawing\":[[[0,9],[0,9]]]}' | rasterize --renderer softline:softness=1,softness=2 >/dev/null"
expect_exit "repeated degradation key -> exit 2" 2 "given twice" \
  sh -c "echo '{\"drawing\":[[[0,9],[0,9]]]}' | qd-degrade --degrade jitter:amount=1,amount=2 >/dev/null"
expect_exit "--sample 99999999999 says out of range" 2 "sample: 99999999999 is out of range" qd-extract --sample 99999999999 /dev/null
expect_exit "--sample abc says not an integer" 2 "sample: 'abc' is not an integer" qd-extract --sample abc /dev/null
expect_exit "--width 1e999 says out of range" 2 "width: 1e999 is out of range" rasterize --width 1e999

# found by fuzz_degrade: Google simplification of coordinates near the double
# range hung (1e307 * 255 overflowed to inf) or wrote null coordinates
echo '{"key_id":"h","drawing":[[[0,1e307],[0,1]]]}' >"$T/h1.ndjson"
echo '{"key_id":"h","drawing":[[[-1e308,1e308,0],[0,5e307,-1e308]]]}' >"$T/h2.ndjson"
out=$(timeout 20 qd-extract --simplify "$T/h1.ndjson"); rc=$?
eq "simplify 1e307 coordinates: no hang, exit 0" "$rc" 0
eq "simplify 1e307 coordinates: scaled to 0..255" "$out" '{"key_id":"h","drawing":[[[0,255],[0,0]]]}'
out=$(timeout 20 qd-extract --simplify "$T/h2.ndjson")
eq "simplify +-1e308 coordinates: numbers, not null" "$out" '{"key_id":"h","drawing":[[[0,255,128],[128,191,0]]]}'
# found by fuzz_degrade: tremor on a stroke whose length overflows converted
# NaN to an integer (undefined behaviour) and asked for 2^64 bytes
expect_exit "tremor on an overflowing stroke length -> exit 6" 6 "tremor: stroke 0: its length is not a finite number" \
  sh -c "echo '{\"key_id\":\"t\",\"drawing\":[[[0,1e308,-0e300],[0,5,0]]]}' | qd-degrade --degrade tremor"
# one parameter dialect: tool choices, plugin parameters and numbers share the parser and its messages
expect_exit "--format is an enum option" 2 "format: 'xx' is not one of auto\|ndjson\|bin" qd-extract --format xx /dev/null
expect_exit "--units is an enum option" 2 "units: 'foo' is not one of abs\|rel" sh -c "qd-degrade --units foo </dev/null"
expect_exit "plugin enum, same message" 2 "fit='nope' is not one of" rasterize --renderer bezier:fit=nope --out "$T/x"
