#!/bin/sh
# pipelines/study.sh - does enhancement make sketches better?  Three sets of drawings, each scored by the
# independent evaluator (sketch-score: a CNN trained apart from CLIP, never a loss) before and after every
# enhancer of pipelines/enhance.sh.  docs/enhancement-study.md has the results, the pictures and the reasoning.
#
#   sh pipelines/study.sh                  (make study)      the reported table: the test split
#   SPLIT=tune sh pipelines/study.sh                         the split the settings were tuned on
#   SETS=b ENHANCERS="none prior" N=20 sh pipelines/study.sh a quick look
#
# The sets (each N drawings, default 200; the same drawings for every enhancer):
#   a  real rough drawings: the raw drawings Google's game did not recognise ("recognized": false,
#      data/quickdraw/raw, data/quickdraw/unrecognized-keys.txt; held out of the evaluator's training),
#      in Google's simplified coordinates (qd-extract --simplify); one per word (272 words have one) for test
#   b  the drawings of c degraded by qd-degrade --units rel --seed 1 --mix "$MIX" (visible: a shaky hand with
#      overshooting ends, or noisy jittered strokes, or strokes rotated and shifted with a slight tremor)
#   c  clean validation drawings (data/quickdraw/val-keys.txt, never trained on), one per word
# Splits: test = a seeded sample of N (seed 2) of the one-per-word pools; tune = a sample of NTUNE (60, seed 3)
# of the rest.  Settings were tuned on SPLIT=tune only; the reported table is SPLIT=test.
#
# Environment: SPLIT (test|tune), SETS ("a b c"), ENHANCERS ("none text prior fair unet unet-fair"), N (200),
#   NTUNE (60), OUT (outputs/study), BIN (bin), REPORT_ONLY=1 (score the runs in OUT/SPLIT again with the evaluator and remake results.md),
#   and what pipelines/enhance.sh reads (STEPS, JOBS, THREADS, TEXT_W, STRUCT_W, FAIR, CLIP, SEED).
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
SPLIT=${SPLIT:-test}
SETS=${SETS:-a b c}
ENHANCERS=${ENHANCERS:-none text prior fair unet unet-fair}
N=${N:-200}
NTUNE=${NTUNE:-60}
OUT=${OUT:-outputs/study}
D=data/quickdraw
EVALUATOR=${INVCLIP_EVALUATOR:-data/models/evaluator/model.safetensors}
MIX=${MIX:-tremor:amplitude=3..6,wavelength=10..20+overshoot:amount=0.15..0.35;noise:level=3..6+jitter:amount=3..6;affine:rotate=8..15,scale=0.08..0.15,shift=3..6+tremor:amplitude=1.5..3}
sdie() { echo "study: $*" >&2; exit 2; }
case $SPLIT in test | tune) ;; *) sdie "SPLIT='$SPLIT': test or tune" ;; esac
for v in N NTUNE; do
  eval "x=\$$v"
  case $x in '' | *[!0-9]* | 0) sdie "$v='$x' is not a positive integer" ;; esac
done
[ "$SPLIT" = tune ] && N=$NTUNE
W=$OUT/$SPLIT
mkdir -p "$W" "$OUT/pools"
keys() { sed -n 's/.*"key_id":"\([0-9]*\)".*/\1/p' "$1"; }

# ---- the pools and the sets ----
make_sets() {
  P=$OUT/pools
  if [ ! -s "$P/unrecognized.ndjson" ]; then
    "$BIN/qd-extract" --key-file "$D/unrecognized-keys.txt" --simplify "$D"/raw/*.ndjson.gz >"$P/unrecognized.tmp"
    mv "$P/unrecognized.tmp" "$P/unrecognized.ndjson"
    "$BIN/qd-extract" --sample 1 --per-word --seed 1 "$P/unrecognized.ndjson" >"$P/unrecognized-1.ndjson"
    "$BIN/qd-extract" --key-file "$D/val-keys.txt" --exclude-key-file "$D/unrecognized-keys.txt" \
      --sample 1 --per-word --seed 1 "$D"/simplified/*.ndjson.gz >"$P/val-1.tmp"
    mv "$P/val-1.tmp" "$P/val-1.ndjson"
  fi
  # test: N of the one-per-word pools; tune: NTUNE of what test does not use.  Every file is written to a
  # temporary name and renamed, so a run reading an earlier copy (the same bytes: all seeded) is undisturbed.
  "$BIN/qd-extract" --sample "${NTEST:-200}" --seed 2 "$P/unrecognized-1.ndjson" >"$P/a-test.tmp"
  "$BIN/qd-extract" --sample "${NTEST:-200}" --seed 2 "$P/val-1.ndjson" >"$P/c-test.tmp"
  keys "$P/a-test.tmp" >"$P/a-test.keys.tmp"
  keys "$P/c-test.tmp" >"$P/c-test.keys.tmp"
  "$BIN/qd-extract" --exclude-key-file "$P/a-test.keys.tmp" --sample "$NTUNE" --seed 3 "$P/unrecognized.ndjson" >"$P/a-tune.tmp"
  "$BIN/qd-extract" --exclude-key-file "$P/c-test.keys.tmp" --sample "$NTUNE" --seed 3 "$P/val-1.ndjson" >"$P/c-tune.tmp"
  for f in a-test c-test a-tune c-tune; do mv "$P/$f.tmp" "$P/$f.ndjson"; done
  mv "$P/a-test.keys.tmp" "$P/a-test.keys"
  mv "$P/c-test.keys.tmp" "$P/c-test.keys"
  for s in a c; do
    if [ "$SPLIT" = test ]; then head -n "$N" "$P/$s-test.ndjson"; else cat "$P/$s-tune.ndjson"; fi >"$W/$s.tmp"
    mv "$W/$s.tmp" "$W/$s.ndjson"
  done
  "$BIN/qd-degrade" --units rel --seed 1 --mix "$MIX" <"$W/c.ndjson" >"$W/b.tmp"
  mv "$W/b.tmp" "$W/b.ndjson"
}

# ---- one enhancer on one set: W/SET/ENH/{records.ndjson, time, score.json, scored.ndjson} ----
run_one() {
  s=$1 e=$2 d=$W/$1/$2
  mkdir -p "$d"
  n=$(wc -l <"$W/$s.ndjson")
  echo "study: $SPLIT set $s ($n drawings): $e" >&2
  t0=$(date +%s.%N)
  METHOD=$e KEEP_GOING=1 BIN=$BIN sh pipelines/enhance.sh <"$W/$s.ndjson" >"$d/records.tmp" 2>"$d/stderr" || {
    echo "study: $s/$e failed: $(tail -3 "$d/stderr")" >&2; return 1; }
  t1=$(date +%s.%N)
  mv "$d/records.tmp" "$d/records.ndjson"
  awk "BEGIN{printf \"%.3f\n\", ($t1 - $t0) / $n}" >"$d/seconds-per-drawing"
  score "$d"
}
score_before() {
  "$BIN/sketch-score" -m "$EVALUATOR" --summary "$W/$1.before.json" <"$W/$1.ndjson" >"$W/$1.scored.ndjson" 2>/dev/null
}
# "key_id p_word" a line from scored records
pword() { sed -n 's/.*"key_id":"\([^"]*\)".*"p_word":\([-0-9.e+]*\).*/\1 \2/p' "$1"; }
# drawings whose p(word) rose / fell by more than 0.01 (a failed drawing counts as fallen)
updown() {
  pword "$W/$1.scored.ndjson" >"$W/.pb"
  pword "$2/scored.ndjson" >"$W/.pa"
  awk 'NR == FNR { a[$1] = $2; next } { if (!($1 in a)) dn++; else if (a[$1] > $2 + 0.01) up++; else if (a[$1] < $2 - 0.01) dn++ }
       END { printf "%d / %d", up, dn }' "$W/.pa" "$W/.pb"
  rm -f "$W/.pa" "$W/.pb"
}
score() {
  d=$1
  "$BIN/sketch-score" -m "$EVALUATOR" --reference initial --summary "$d/score.json" <"$d/records.ndjson" \
    >"$d/scored.ndjson" 2>/dev/null
}

# ---- the table ----
jnum() { sed -n "s/.*\"$1\":\([-0-9.e+]*\).*/\1/p" "$2"; }
report() {
  {
    echo "# The enhancement study: $SPLIT split"
    echo
    echo "Evaluator: \`$EVALUATOR\`. Before = the input drawings, scored as they are; after = each enhancer's"
    echo "output. top-1/top-5 count a record whose enhancer failed (no output) as wrong. chamfer: mean symmetric"
    echo "distance of the output to its input (px of 256). ink: median ratio output/input ink. collapsed: outputs"
    echo "that are blank, failed, or whose ink ratio is outside 0.5–2. P(word) up / down: drawings whose"
    echo "probability of their own word rose / fell by more than 0.01 (paired: the same drawing before and after)."
    echo
    echo "| set | enhancer | n | top-1 before → after | top-5 before → after | mean P(word) | P(word) up / down | chamfer (px) | ink ratio | collapsed | s / drawing |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for s in $SETS; do
      n=$(wc -l <"$W/$s.ndjson")
      for e in $ENHANCERS; do
        d=$W/$s/$e
        [ -s "$d/score.json" ] || continue
        m=$(jnum n "$d/score.json")
        awk -v set="$s" -v enh="$e" -v n="$n" -v m="$m" \
          -v b1="$(jnum top1 "$W/$s.before.json")" -v b5="$(jnum top5 "$W/$s.before.json")" \
          -v a1="$(jnum top1 "$d/score.json")" -v a5="$(jnum top5 "$d/score.json")" \
          -v bp="$(jnum mean_p_word "$W/$s.before.json")" -v ap="$(jnum mean_p_word "$d/score.json")" \
          -v ch="$(jnum mean_chamfer "$d/score.json")" -v ink="$(jnum ink_ratio_median "$d/score.json")" \
          -v bl="$(jnum blank "$d/score.json")" -v out="$(jnum ink_ratio_outside_0.5_2 "$d/score.json")" \
          -v sec="$(cat "$d/seconds-per-drawing")" -v ud="$(updown "$s" "$d")" 'BEGIN {
            fail = n - m; c = bl + out + fail
            printf "| %s | %s | %d | %.1f%% → %.1f%% | %.1f%% → %.1f%% | %.3f → %.3f | %s | %.2f | %.2f | %d | %.2f |\n",
              set, enh, n, 100 * b1, 100 * a1 * m / n, 100 * b5, 100 * a5 * m / n, bp, ap * m / n, ud, ch, ink, c, sec }'
      done
    done
  } >"$W/results.md"
  cat "$W/results.md"
}

if [ "${REPORT_ONLY:-0}" != 1 ]; then
  make_sets
  for s in $SETS; do
    score_before "$s"
    for e in $ENHANCERS; do run_one "$s" "$e"; done
  done
else # score again (e.g. with a new evaluator) what the enhancers wrote
  for s in $SETS; do
    [ -s "$W/$s.ndjson" ] || sdie "REPORT_ONLY=1: no $W/$s.ndjson"
    score_before "$s"
    for e in $ENHANCERS; do [ -s "$W/$s/$e/records.ndjson" ] && score "$W/$s/$e"; done
  done
fi
report
