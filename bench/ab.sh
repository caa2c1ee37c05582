#!/bin/sh
# bench/ab.sh - two builds of optimize on the same step, in alternating pairs:
# how the "N alternating pairs" figures in docs/benchmarks.md (tried / kept
# changes, the first step) are measured.  On these shared 2-core machines a
# single run moves ±10%; alternating A and B within each pair lets a drift in
# load reach both alike, and the medians over the pairs are compared.
#
# Usage: sh bench/ab.sh BIN_A BIN_B [pairs] [steps]
#   BIN_A, BIN_B  folders holding an optimize binary (e.g. a `git worktree`
#                 of the old commit, built, and ./bin);
#   pairs         alternating runs of each (default 10);
#   steps         steps a run (default 21; at least 2).
# Environment: MODEL (build/bench/vitb32-random.safetensors, written by
# `python3 bench/torch_optimize.py write FILE`), PRECISION (bf16; or float32),
# THREADS (2), and optimize's own (OPENBLAS_CORETYPE: unset it for OpenBLAS's
# AVX-512 kernels).  The step is bench/optimize.sh's: 8 random cubic Béziers,
# 4 views of the study's optimiser augmentations, clip-text "fish" +
# stroke-reg 0.01 + tv 0.001, ViT-B/32.
#
# Prints, per build, the median and minimum of the steady-state step (the
# loop's seconds minus its first step, over steps - 1; --timing's fields),
# the median first step, the median whole process (model loading included),
# and the median whole process of `clip-embed` of perfectFish.jpeg with the
# same model (run after each optimize run: start-up); the raw runs go to
# build/bench/ab.txt.  Exit 2 on
# bad arguments, 3 when a run fails (its stderr is shown).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
A=$1 B=$2 PAIRS=${3:-10} STEPS=${4:-21}
MODEL=${MODEL:-$ROOT/build/bench/vitb32-random.safetensors}
PRECISION=${PRECISION:-bf16}
THREADS=${THREADS:-2}
for b in "$A" "$B"; do
  if [ ! -x "$b/optimize" ] || [ ! -x "$b/clip-embed" ]; then
    echo "ab.sh: no optimize and clip-embed in $b" >&2
    exit 2
  fi
done
case $PAIRS in '' | *[!0-9]*) echo "ab.sh: pairs '$PAIRS' is not a count" >&2; exit 2 ;; esac
case $STEPS in '' | *[!0-9]*) echo "ab.sh: steps '$STEPS' is not a count" >&2; exit 2 ;; esac
if [ "$PAIRS" -lt 1 ] || [ "$STEPS" -lt 2 ]; then
  echo "ab.sh: need pairs >= 1 and steps >= 2" >&2
  exit 2
fi
[ -f "$MODEL" ] || { echo "ab.sh: $MODEL missing (python3 bench/torch_optimize.py write $MODEL)" >&2; exit 2; }
OUT=$ROOT/build/bench
mkdir -p "$OUT"
FISH=$OUT/ab-fish1.ndjson
zcat "$ROOT/data/quickdraw/simplified/fish.ndjson.gz" 2>/dev/null | head -1 >"$FISH" || true
[ -s "$FISH" ] || { echo "ab.sh: no fish drawing in data/quickdraw" >&2; exit 2; }
RAW=$OUT/ab.txt
: >"$RAW"

# secs: seconds since the epoch, fractional
secs() { date +%s.%N; }
# run WHICH BIN: one run; appends "WHICH steady first whole-process" to $RAW,
# then times clip-embed of one image with the same model ("WHICH-embed s")
run() {
  t0=$(secs)
  if ! "$2/optimize" -j "$THREADS" --model "$MODEL" --renderer bezier \
    --augment clipaug:preset=doodlebot-optimizer,nviews=4 --init random:strokes=8 \
    --loss clip-text:prompt=fish --loss stroke-reg:weight=0.01,bezier_samples=20 --loss tv:weight=0.001 \
    --steps "$STEPS" --history none --timing --precision "$PRECISION" "$FISH" >/dev/null 2>"$OUT/ab.err"; then
    cat "$OUT/ab.err" >&2
    exit 3
  fi
  t1=$(secs)
  sed -n 's/.*"seconds":\([0-9.eE+-]*\).*"first_steps":\([0-9.eE+-]*\).*/\1 \2/p' "$OUT/ab.err" | tail -1 |
    awk -v w="$1" -v n="$STEPS" -v a="$t0" -v b="$t1" '{ printf "%s %.5f %.5f %.3f\n", w, ($1 - $2) / (n - 1), $2, b - a }' >>"$RAW"
  t0=$(secs)
  "$2/clip-embed" -j "$THREADS" --model "$MODEL" "$ROOT/data/reference/perfectFish.jpeg" >/dev/null 2>"$OUT/ab.err" ||
    { cat "$OUT/ab.err" >&2; exit 3; }
  t1=$(secs)
  awk -v w="$1-embed" -v a="$t0" -v b="$t1" 'BEGIN { printf "%s %.3f\n", w, b - a }' >>"$RAW"
}

i=1
while [ "$i" -le "$PAIRS" ]; do
  if [ $((i % 2)) = 1 ]; then run A "$A" && run B "$B"; else run B "$B" && run A "$A"; fi
  i=$((i + 1))
done

# med WHICH COLUMN: the median of a column of $RAW for one build
med() { awk -v w="$1" -v c="$2" '$1 == w { print $c }' "$RAW" | sort -g |
  awk '{ a[NR] = $1 } END { printf "%.4f", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
least() { awk -v w="$1" '$1 == w { print $2 }' "$RAW" | sort -g | head -1; }
echo "$PAIRS alternating pairs, $STEPS steps a run, --precision $PRECISION, -j $THREADS"
for w in A B; do
  if [ $w = A ]; then d=$A; else d=$B; fi
  echo "$w $d: steady state median $(med $w 2) s (min $(least $w)), first step median $(med $w 3) s," \
    "whole process median $(med $w 4) s; clip-embed of one image, whole process, median $(med $w-embed 2) s"
done
awk -v a="$(med A 2)" -v b="$(med B 2)" 'BEGIN { printf "B/A steady state %.3f (below 1: B faster)\n", b / a }'
