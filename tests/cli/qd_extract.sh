# tests/cli/qd_extract.sh - qd-extract end to end (sourced by tests/run.sh from
# the repo root, with $BIN on PATH, $T a scratch directory and tests/lib.sh).
# Expected outputs come from the shipped data, from Google's own simplified
# files and from the independent encoder tests/gen_qdbin.py, never from
# qd-extract itself.

Q=data/quickdraw
FX=tests/fixtures/qdbin

# ---- command line and errors ----
qd-extract --help >"$T/help" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "Examples" "$T/help" && grep -q -- "--sample" "$T/help"; then ok "--help exits 0 with examples"
else notok "--help exits 0 with examples" "rc=$rc"; fi
expect_exit "bad option is a usage error" 2 "unknown option '--frobnicate'" qd-extract --frobnicate
expect_exit "--limit with --sample is a usage error" 2 "cannot be combined" qd-extract --limit 3 --sample 2 $Q/all-words.ndjson.gz
expect_exit "bad --recognized value" 2 "recognized: 'maybe' is not one of false\|true" qd-extract --recognized maybe $Q/all-words.ndjson.gz
expect_exit "bad --format value" 2 "--format" qd-extract --format csv $Q/all-words.ndjson.gz
expect_exit "--pad too large for --fit" 2 "no room" qd-extract --fit 20 --pad 10 $Q/all-words.ndjson.gz
expect_exit "missing file exits 3 naming it" 3 "$T/nope.ndjson: cannot open" qd-extract "$T/nope.ndjson"

zcat $Q/simplified/fish.ndjson.gz | head -6 >"$T/six.ndjson"
{ head -2 "$T/six.ndjson"; echo '{"word":"fish","key_id":"99","drawing":[[[1,2],[3,4]]'; sed -n 3,4p "$T/six.ndjson";
  echo 'not json at all'; sed -n 5,6p "$T/six.ndjson"; } >"$T/bad.ndjson"
expect_exit "malformed JSON exits 1 naming file:line" 1 "^qd-extract: $T/bad.ndjson:3: .*truncated" qd-extract "$T/bad.ndjson"
qd-extract --keep-going "$T/bad.ndjson" >"$T/kg.out" 2>"$T/kg.err"; rc=$?
eq "--keep-going exits 0" "$rc" 0
eq "--keep-going keeps the 6 good records" "$(wc -l <"$T/kg.out" | tr -d ' ')" 6
if grep -q "bad.ndjson:3: .*(skipped)" "$T/kg.err" && grep -q "bad.ndjson:6: .*(skipped)" "$T/kg.err" &&
   grep -q "skipped 2 bad records" "$T/kg.err"; then ok "--keep-going reports each bad line and the count"
else notok "--keep-going reports each bad line and the count" "$(cat "$T/kg.err")"; fi
printf '{"word":"fish","key_id":"77","drawing":[[[1,2],[3]]]}\n' >"$T/badrec.ndjson"
expect_exit "bad drawing names key_id" 1 "badrec.ndjson:1: key_id 77: stroke 0: x has 2 values but y has 1" qd-extract "$T/badrec.ndjson"

# ---- pass-through, stdin, gzip ----
qd-extract "$T/six.ndjson" >"$T/six.out"
same "records pass through byte for byte" "$T/six.ndjson" "$T/six.out"
zcat $Q/raw/cat.ndjson.gz >"$T/cat.raw.ndjson"
qd-extract $Q/raw/cat.ndjson.gz >"$T/cat.gz.out"
qd-extract - <"$T/cat.raw.ndjson" >"$T/cat.stdin.out"
same "gzip file and plain stdin give the same output" "$T/cat.gz.out" "$T/cat.stdin.out"
same "raw records (with t arrays) pass through unchanged" "$T/cat.raw.ndjson" "$T/cat.gz.out"
printf '{"extra":{"a":[1,"}"]},"key_id":"5","word":"fish","big":123456789012345678901234567890,"drawing":[[[0,10],[0,20],[0,1]]]}\n' >"$T/extra.ndjson"
qd-extract --fit 100 "$T/extra.ndjson" >"$T/extra.out"
if grep -q '^{"extra":{"a":\[1,"}"\]},"key_id":"5","word":"fish","big":123456789012345678901234567890,"drawing":' "$T/extra.out"; then
  ok "unknown fields pass through unchanged and in order with --fit"
else notok "unknown fields pass through unchanged and in order with --fit" "$(cat "$T/extra.out")"; fi
if grep -q '"canvas":{"width":100,"height":100}}$' "$T/extra.out"; then ok "--fit adds canvas"
else notok "--fit adds canvas" "$(cat "$T/extra.out")"; fi
if grep -q '"drawing":\[\[\[[0-9.]*,[0-9.]*\],\[[0-9.]*,[0-9.]*\]\]\]' "$T/extra.out"; then ok "--fit drops the t array"
else notok "--fit drops the t array" "$(cat "$T/extra.out")"; fi

# ---- filters ----
n=$(qd-extract --word fish $Q/all-words.ndjson.gz | wc -l | tr -d ' ')
eq "--word fish: 32 records" "$n" 32
n=$(qd-extract --word fish --word cat,dog $Q/all-words.ndjson.gz | grep -c '"word":"\(fish\|cat\|dog\)"')
eq "--word repeatable and comma-separated" "$n" 96
n=$(qd-extract --word nosuchword $Q/all-words.ndjson.gz 2>/dev/null | wc -l | tr -d ' ')
eq "--word with no match: nothing" "$n" 0
tot=$(zcat $Q/raw/*.ndjson.gz | wc -l | tr -d ' ')
nt=$(qd-extract --recognized true $Q/raw/*.ndjson.gz | grep -c '"recognized":true')
nf=$(qd-extract --recognized false $Q/raw/*.ndjson.gz | grep -c '"recognized":false')
want_t=$(zcat $Q/raw/*.ndjson.gz | grep -c '"recognized":true')
eq "--recognized true" "$nt" "$want_t"
eq "--recognized true + false = all raw records" "$((nt + nf))" "$tot"
want=$(zcat $Q/raw/*.ndjson.gz | grep -c '"countrycode":"\(US\|GB\)"')
n=$(qd-extract --country US --country GB $Q/raw/*.ndjson.gz | grep -c '"countrycode":"\(US\|GB\)"')
num_ok "--country US,GB: $n of $want" "$n == $want && $n > 0"
k1=$(sed -n 2p "$T/six.ndjson" | sed 's/.*"key_id":"\([0-9]*\)".*/\1/')
k2=$(sed -n 5p "$T/six.ndjson" | sed 's/.*"key_id":"\([0-9]*\)".*/\1/')
qd-extract --key "$k1,$k2" "$T/six.ndjson" >"$T/keys.out"
sed -n '2p;5p' "$T/six.ndjson" >"$T/keys.want"
same "--key selects exactly those records" "$T/keys.want" "$T/keys.out"
n=$(qd-extract --word fish --country US --recognized true $Q/raw/fish.ndjson.gz | wc -l | tr -d ' ')
want=$(zcat $Q/raw/fish.ndjson.gz | grep '"countrycode":"US"' | grep -c '"recognized":true')
eq "filters combine with AND" "$n" "$want"

# ---- limit ----
n=$(qd-extract --limit 5 $Q/all-words.ndjson.gz | wc -l | tr -d ' ')
eq "--limit 5" "$n" 5
qd-extract --limit 2 "$T/bad.ndjson" >"$T/lim.out" 2>"$T/lim.err"; rc=$?
eq "--limit stops reading before a later bad line" "$rc.$(wc -l <"$T/lim.out" | tr -d ' ')" "0.2"
n=$(qd-extract --limit 3 --word cat $Q/all-words.ndjson.gz | grep -c '"word":"cat"')
eq "--limit counts output records" "$n" 3

# ---- sample ----
qd-extract --sample 10 --seed 3 --word cat,dog $Q/all-words.ndjson.gz >"$T/s3a"
qd-extract --sample 10 --seed 3 --word cat,dog $Q/all-words.ndjson.gz >"$T/s3b"
qd-extract --sample 10 --seed 4 --word cat,dog $Q/all-words.ndjson.gz >"$T/s4"
eq "--sample 10 gives 10 records" "$(wc -l <"$T/s3a" | tr -d ' ')" 10
same "--sample is deterministic for a seed" "$T/s3a" "$T/s3b"
if cmp -s "$T/s3a" "$T/s4"; then notok "another seed gives another sample"; else ok "another seed gives another sample"; fi
n=$(grep -vc '"word":"\(cat\|dog\)"' "$T/s3a")
eq "--sample draws only matching records" "$n" 0
zcat $Q/all-words.ndjson.gz | qd-extract --word cat,dog --sample 10 --seed 3 - >"$T/s3c"
same "the sample does not depend on how the input is read (gz file vs stdin)" "$T/s3a" "$T/s3c"
# input order: the sampled lines appear in the input in the same order
zcat $Q/all-words.ndjson.gz | grep -n -F -f "$T/s3a" | cut -d: -f1 >"$T/s3.lines"
sort -n "$T/s3.lines" >"$T/s3.sorted"
if [ "$(wc -l <"$T/s3.lines" | tr -d ' ')" -eq 10 ] && cmp -s "$T/s3.lines" "$T/s3.sorted"; then ok "--sample output is in input order"
else notok "--sample output is in input order" "$(tr '\n' ' ' <"$T/s3.lines")"; fi
qd-extract --sample 1000 --word cat,dog $Q/all-words.ndjson.gz >"$T/sall"
qd-extract --word cat,dog $Q/all-words.ndjson.gz >"$T/nosample"
same "--sample N >= matches keeps everything in order" "$T/nosample" "$T/sall"
# the reservoir is O(N): a stream 8x longer still gives N records
for i in 1 2 3 4 5 6 7 8; do cat $Q/all-words.ndjson.gz; done >"$T/x8.ndjson.gz"
n=$(qd-extract --sample 7 --seed 9 "$T/x8.ndjson.gz" | wc -l | tr -d ' ')
eq "--sample 7 of 88320 records" "$n" 7
# uniformity: --sample 1 over 4 records, 400 seeds: each record ~100 times
head -4 "$T/six.ndjson" >"$T/four.ndjson"
s=0; : >"$T/picks"
while [ $s -lt 400 ]; do qd-extract --sample 1 --seed $s "$T/four.ndjson" >>"$T/picks"; s=$((s + 1)); done
counts=$(sort "$T/picks" | uniq -c | awk '{printf "%s ", $1}')
num_ok "--sample 1 is uniform over 4 records (counts $counts)" \
  "$(sort "$T/picks" | uniq -c | awk 'BEGIN{m=1e9;M=0;n=0} {n++; if($1<m)m=$1; if($1>M)M=$1} END{print (n==4 && m>=60 && M<=140)}') == 1"

# ---- .bin ----
qd-extract $FX/fish.bin >"$T/bin.out" 2>"$T/bin.err"
same ".bin decodes to the independent encoder's records" $FX/fish.expected.ndjson "$T/bin.out"
qd-extract $FX/fish.bin.gz >"$T/bingz.out"
same ".bin.gz decodes the same" $FX/fish.expected.ndjson "$T/bingz.out"
qd-extract --format bin --bin-word fish - <$FX/fish.bin >"$T/binstdin.out"
same ".bin from stdin with --format bin --bin-word" $FX/fish.expected.ndjson "$T/binstdin.out"
n=$(qd-extract --bin-word shark $FX/fish.bin | grep -c '"word":"shark"')
eq "--bin-word names the word" "$n" 33
n=$(qd-extract --word fish --recognized false --country ZZ,NZ $FX/fish.bin | wc -l | tr -d ' ')
eq "filters apply to .bin records" "$n" 1
cp $FX/fish.bin "$T/mixed.bin"
qd-extract "$T/six.ndjson" "$T/mixed.bin" --word fish,mixed >"$T/mixed.out"
eq "ndjson and .bin files in one run" "$(wc -l <"$T/mixed.out" | tr -d ' ')" 39
expect_exit "truncated .bin exits 1 naming file and record" 1 "trunc.bin: record 5: truncated" qd-extract $FX/trunc.bin
eq "records before the truncation are written" "$(wc -l <"$T/out" | tr -d ' ')" 4
expect_exit "truncated .bin is an error even with --keep-going" 1 "trunc.bin: record 5: truncated" qd-extract -k $FX/trunc.bin

# ---- --simplify against Google's own simplified files ----
# Raw and simplified records that share a key_id; compare integer strokes.
for f in $Q/raw/*.ndjson.gz; do qd-extract --simplify "$f"; done |
  sed -n 's/.*"key_id":"\([0-9]*\)".*"drawing":\(.*\)}$/\1 \2/p' | sort >"$T/simp.got"
zcat $Q/simplified/*.ndjson.gz | sed -n 's/.*"key_id":"\([0-9]*\)".*"drawing":\(.*\)}$/\1 \2/p' | sort >"$T/simp.want"
join "$T/simp.got" "$T/simp.want" | awk '{ n++; if ($2 == $3) ex++;
  a = $2; b = $3; sa = a; sb = b; gsub(/[0-9]+/, "0", sa); gsub(/[0-9]+/, "0", sb);
  if (sa == sb) { na = split(a, A, /[^0-9]+/); split(b, B, /[^0-9]+/); good = 1;
    for (i = 1; i <= na; i++) { d = A[i] - B[i]; if (d > 1 || d < -1) { good = 0; break } } if (good) nr++ }
} END { printf "%d %d %d\n", n, ex, nr }' >"$T/simp.rate"
read np nex nnear <"$T/simp.rate"
num_ok "simplify: $np raw/simplified pairs found" "$np >= 240"
num_ok "simplify: exact match $nex/$np (measured 0.968)" "$nex / $np >= 0.95"
num_ok "simplify: near match (same shape, within 1 px) $nnear/$np (measured 0.976)" "$nnear / $np >= 0.96"
qd-extract --simplify $Q/simplified/fish.ndjson.gz >"$T/resimp"
zcat $Q/simplified/fish.ndjson.gz | sed 's/"drawing".*//' >"$T/resimp.a"
sed 's/"drawing".*//' "$T/resimp" >"$T/resimp.b"
same "--simplify keeps the other fields" "$T/resimp.a" "$T/resimp.b"
if grep -q '"drawing":\[\[\[[0-9,]*\],\[[0-9,]*\]\]' "$T/resimp" && ! sed 's/.*"drawing"//' "$T/resimp" | grep -q '\.'; then ok "--simplify writes integer x,y arrays"
else notok "--simplify writes integer x,y arrays"; fi

# ---- --fit: every drawing's bbox inside [pad, S-pad], centred, longest side S-2pad ----
fit_check() { # name file S pad
  sed 's/.*"drawing":\[\[\[//; s/\]\]\].*//' "$2" | awk -v S="$3" -v P="$4" '
  { ns = split($0, st, /\]\],\[\[/); x0 = y0 = 1e9; x1 = y1 = -1e9
    for (i = 1; i <= ns; i++) { split(st[i], xy, /\],\[/)
      nx = split(xy[1], X, ","); split(xy[2], Y, ",")
      for (j = 1; j <= nx; j++) { if (X[j] < x0) x0 = X[j]; if (X[j] > x1) x1 = X[j]; if (Y[j] < y0) y0 = Y[j]; if (Y[j] > y1) y1 = Y[j] } }
    e = 0.002; w = x1 - x0; h = y1 - y0; big = w > h ? w : h
    if (x0 < P - e || y0 < P - e || x1 > S - P + e || y1 > S - P + e) bad++
    else if ((x0 + x1) / 2 - S / 2 > e || S / 2 - (x0 + x1) / 2 > e || (y0 + y1) / 2 - S / 2 > e || S / 2 - (y0 + y1) / 2 > e) bad++
    else if (big - (S - 2 * P) > e || (S - 2 * P) - big > e) bad++
    n++ }
  END { print n + 0, bad + 0 }' >"$T/fit.res"
  read fn fbad <"$T/fit.res"
  num_ok "$1: $fbad of $fn drawings outside/uncentred" "$fn > 0 && $fbad == 0"
}
qd-extract --fit 224 $Q/raw/fish.ndjson.gz >"$T/fit.out"
fit_check "--fit 224 raw fish" "$T/fit.out" 224 10
n=$(grep -c '"canvas":{"width":224,"height":224}}$' "$T/fit.out")
eq "--fit: canvas on every record" "$n" "$(wc -l <"$T/fit.out" | tr -d ' ')"
qd-extract --fit 64 --pad 4 --sample 50 --seed 2 $Q/all-words.ndjson.gz >"$T/fit64.out"
fit_check "--fit 64 --pad 4 sample" "$T/fit64.out" 64 4
qd-extract --simplify --fit 128 $Q/raw/cat.ndjson.gz >"$T/sfit.out"
fit_check "--simplify --fit 128" "$T/sfit.out" 128 10
if sed 's/.*"drawing"//' "$T/fit.out" | grep -q '[0-9]\.[0-9]\{4\}'; then notok "--fit writes at most 3 decimals"; else ok "--fit writes at most 3 decimals"; fi

# ---- the prefilter (default with --word/--key/--country): the byte-search screen ----
{ sed -n 1p "$T/six.ndjson"; echo '{"word":"cat","key_id":"1","drawing":"not a drawing"}';
  echo '{"word":"fi\u0073h","key_id":"2","drawing":[[[1],[2]]]}'; } >"$T/screen.ndjson"
n=$(qd-extract --word fish "$T/screen.ndjson" | wc -l | tr -d ' ')
eq "prefilter: escaped word still matches, other words' bad {...} lines skipped unparsed" "$n" 2
eq "--prefilter (the default, kept for old scripts) is accepted" "$(qd-extract --prefilter --word fish "$T/screen.ndjson" | wc -l | tr -d ' ')" 2
expect_exit "--no-prefilter parses every line (and reports it)" 1 "screen.ndjson:2: .*drawing" qd-extract --no-prefilter --word fish "$T/screen.ndjson"
{ sed -n 1p "$T/six.ndjson"; echo '{"word":"cat","key_id":"1","drawing":[[[1],[2]]'; } >"$T/trunc.ndjson"
expect_exit "a truncated line is parsed and reported even when the prefilter could skip it" 1 "trunc.ndjson:2: .*truncated" qd-extract --word fish "$T/trunc.ndjson"
n=$(qd-extract -k --key 2 "$T/screen.ndjson" 2>/dev/null | wc -l | tr -d " ")
eq "screen: --key by digits" "$n" 1

# ---- --key-file / --exclude-key-file: hashed key_id sets ----
# The committed validation split partitions the 345-word data: the records
# listed in val-keys.txt and the others are, together, every record once.
V=$Q/val-keys.txt
sort -u "$V" >"$T/v.sorted"
zcat $Q/simplified/*.ndjson.gz | sed 's/.*"key_id":"\([0-9]*\)".*/\1/' | sort >"$T/all.keys"
qd-extract --key-file "$V" $Q/simplified/*.ndjson.gz >"$T/val.out"; rc1=$?
qd-extract --exclude-key-file "$V" $Q/simplified/*.ndjson.gz >"$T/train.out"; rc2=$?
eq "--key-file and --exclude-key-file exit 0" "$rc1.$rc2" "0.0"
nv=$(wc -l <"$T/val.out" | tr -d ' '); ntr=$(wc -l <"$T/train.out" | tr -d ' '); nall=$(wc -l <"$T/all.keys" | tr -d ' ')
eq "--key-file val-keys.txt: one record per listed key ($(wc -l <"$T/v.sorted" | tr -d ' '))" "$nv" "$(wc -l <"$T/v.sorted" | tr -d ' ')"
num_ok "--key-file + --exclude-key-file: $nv + $ntr = $nall records" "$nv + $ntr == $nall && $nv > 10000 && $ntr > 100000"
sed 's/.*"key_id":"\([0-9]*\)".*/\1/' "$T/val.out" | sort >"$T/val.keys"
sed 's/.*"key_id":"\([0-9]*\)".*/\1/' "$T/train.out" | sort >"$T/train.keys"
same "--key-file keeps exactly the listed key_ids" "$T/v.sorted" "$T/val.keys"
eq "--exclude-key-file keeps none of them" "$(comm -12 "$T/v.sorted" "$T/train.keys" | wc -l | tr -d ' ')" 0
sort -m "$T/val.keys" "$T/train.keys" >"$T/both.keys"
same "together they are every record of the data, once" "$T/all.keys" "$T/both.keys"
qd-extract --no-prefilter --key-file "$V" $Q/simplified/*.ndjson.gz >"$T/valp.out"
same "--key-file with and without the prefilter: the same records" "$T/val.out" "$T/valp.out"
zcat $Q/simplified/fish.ndjson.gz | grep -F -f "$V" >"$T/fishval.want"
qd-extract --key-file "$V" $Q/simplified/fish.ndjson.gz >"$T/fishval.got"
same "--key-file on one word: the lines grep finds, byte for byte" "$T/fishval.want" "$T/fishval.got"
gzip -c "$V" >"$T/v.txt.gz"
qd-extract --key-file "$T/v.txt.gz" $Q/simplified/fish.ndjson.gz >"$T/fishvalgz"
same "a gzipped key file" "$T/fishval.want" "$T/fishvalgz"
# format: blanks, CRLF, empty lines and # comments; combined with --key and --word
k1=$(sed -n 1p "$T/six.ndjson" | sed 's/.*"key_id":"\([0-9]*\)".*/\1/')
k3=$(sed -n 3p "$T/six.ndjson" | sed 's/.*"key_id":"\([0-9]*\)".*/\1/')
k4=$(sed -n 4p "$T/six.ndjson" | sed 's/.*"key_id":"\([0-9]*\)".*/\1/')
printf '# wanted\n  %s \r\n\n\t%s\n' "$k1" "$k3" >"$T/k.txt"
qd-extract --key-file "$T/k.txt" "$T/six.ndjson" >"$T/k.out"
sed -n '1p;3p' "$T/six.ndjson" >"$T/k.want"
same "key file: blanks, CRLF, empty lines and comments ignored" "$T/k.want" "$T/k.out"
qd-extract --key-file "$T/k.txt" --key "$k4" "$T/six.ndjson" >"$T/k2.out"
sed -n '1p;3p;4p' "$T/six.ndjson" >"$T/k2.want"
same "--key and --key-file: either" "$T/k2.want" "$T/k2.out"
printf '%s\n' "$k3" >"$T/x.txt"
qd-extract --key-file "$T/k.txt" --exclude-key-file "$T/x.txt" "$T/six.ndjson" >"$T/k3.out"
sed -n 1p "$T/six.ndjson" >"$T/k3.want"
same "--exclude-key-file wins over --key-file" "$T/k3.want" "$T/k3.out"
eq "--exclude-key-file with --word" "$(qd-extract --word cat,fish --exclude-key-file "$T/k.txt" "$T/six.ndjson" | wc -l | tr -d ' ')" 4
printf '%s\n' "$k1" | qd-extract --key-file - "$T/six.ndjson" >"$T/kstdin.out"
eq "key file from stdin" "$(cat "$T/kstdin.out")" "$(sed -n 1p "$T/six.ndjson")"
: >"$T/empty.txt"
qd-extract --key-file "$T/empty.txt" "$T/six.ndjson" >"$T/e.out" 2>"$T/e.err"; rc=$?
if [ $rc -eq 0 ] && [ ! -s "$T/e.out" ] && grep -q "empty.txt lists no key_id: nothing matches" "$T/e.err"; then ok "an empty key file matches nothing, with a warning"
else notok "an empty key file" "rc=$rc $(cat "$T/e.err")"; fi
# the prefilter reads the line's key_id: a number, blanks around ':', a nested "key_id" or one as a value
printf '{"word":"x","key_id":123,"drawing":[[[1,2],[3,4]]]}\n{"word":"x","key_id": "124","drawing":[[[1,2],[3,4]]]}\n{"word":"x","note":"key_id","extra":{"key_id":"9"},"key_id":"125","drawing":[[[1,2],[3,4]]]}\n' >"$T/kid.ndjson"
printf '123\n124\n125\n' >"$T/kid.txt"
eq "prefilter --key-file: numeric, spaced and nested key_ids all found" "$(qd-extract --prefilter --key-file "$T/kid.txt" "$T/kid.ndjson" | wc -l | tr -d ' ')" 3
eq "prefilter --key 9: a nested key_id is not the record's" "$(qd-extract --prefilter --key 9 "$T/kid.ndjson" | wc -l | tr -d ' ')" 0
# errors
expect_exit "--key-file: a missing file exits 3 naming it" 3 "^qd-extract: --key-file: $T/nokeys.txt: cannot open" qd-extract --key-file "$T/nokeys.txt" "$T/six.ndjson"
expect_exit "--exclude-key-file: a directory exits 3 naming it" 3 "^qd-extract: --exclude-key-file: $T: " qd-extract --exclude-key-file "$T" "$T/six.ndjson"
printf '123\n45 67\n' >"$T/badk.txt"
expect_exit "a key file line that is not a key_id exits 1 naming FILE:LINE" 1 "badk.txt:2: '45 67' is not a key_id" qd-extract --key-file "$T/badk.txt" "$T/six.ndjson"
printf '1\n\001\377\n' >"$T/bink.txt"
expect_exit "a binary key file exits 1, shown as printable ASCII" 1 "bink.txt:2: '\?\?' is not a key_id" qd-extract --exclude-key-file "$T/bink.txt" "$T/six.ndjson"
expect_exit "key file and records both on stdin -> exit 2" 2 "only one of the key files and the records can be read from stdin" qd-extract --key-file -

# ---- --per-word: a sample of N of each word, each the one a run over that word alone keeps ----
for w in cat dog "The Eiffel Tower" fish; do qd-extract --sample 5 --seed 7 "$Q/simplified/$w.ndjson.gz"; done >"$T/pw.want"
qd-extract --sample 5 --seed 7 --per-word $Q/simplified/cat.ndjson.gz $Q/simplified/dog.ndjson.gz \
  "$Q/simplified/The Eiffel Tower.ndjson.gz" $Q/simplified/fish.ndjson.gz >"$T/pw.got"
same "--per-word = one --sample run per word file" "$T/pw.want" "$T/pw.got"
eq "--per-word: 5 of each of 4 words" "$(sed 's/.*"word":"\([^"]*\)".*/\1/' "$T/pw.got" | sort | uniq -c | awk '{print $1}' | sort -u)" 5
zcat $Q/simplified/cat.ndjson.gz $Q/simplified/dog.ndjson.gz | sort -R --random-source="$V" >"$T/mixed.ndjson"
qd-extract --sample 5 --seed 7 --word cat "$T/mixed.ndjson" >"$T/mc"; qd-extract --sample 5 --seed 7 --word dog "$T/mixed.ndjson" >"$T/md"
qd-extract --sample 5 --seed 7 --per-word "$T/mixed.ndjson" >"$T/mcd"
sort "$T/mc" "$T/md" >"$T/mcd.want"; sort "$T/mcd" >"$T/mcd.got"
same "--per-word on interleaved words: each word's sample as with --word alone" "$T/mcd.want" "$T/mcd.got"
eq "--per-word with N above the counts keeps everything" "$(qd-extract --sample 100000 --per-word $Q/simplified/cat.ndjson.gz $Q/simplified/dog.ndjson.gz | wc -l | tr -d ' ')" \
  "$(zcat $Q/simplified/cat.ndjson.gz $Q/simplified/dog.ndjson.gz | wc -l | tr -d ' ')"
qd-extract --sample 3 --seed 2 --per-word --key-file "$V" $Q/simplified/*.ndjson.gz >"$T/pwv"
eq "--per-word with --key-file: 3 validation drawings of each of the 345 words" "$(wc -l <"$T/pwv" | tr -d ' ').$(sed 's/.*"key_id":"\([0-9]*\)".*/\1/' "$T/pwv" | sort | comm -23 - "$T/v.sorted" | wc -l | tr -d ' ')" "1035.0"
expect_exit "--per-word without --sample -> exit 2" 2 "--per-word needs --sample N" qd-extract --per-word "$T/six.ndjson"
