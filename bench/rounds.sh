#!/bin/sh
# bench/rounds.sh - one C/PyTorch pair of the benchmarks run in alternating
# rounds, reported as medians with their spread.
#
#   sh bench/rounds.sh PAIR [ROUNDS]        make bench-rounds PAIR=clip ROUNDS=9
#
# A single run moves 15-50% on a small shared machine (other processes,
# frequency changes, page-cache and allocator state), more than many of the
# differences measured.  So each round runs both programs of a pair once,
# each with ROUND_REPS internal repetitions (it reports their median); odd
# rounds run C first, even rounds PyTorch first, so a drift in the machine's
# load reaches both sides alike.  Per metric the report gives the C median and
# its min-max over the rounds, the same for PyTorch, and the per-round ratio
# (PyTorch time / C time, both taken in the same round) as median and min-max.
#
# PAIR (the C driver vs its PyTorch peer, on the same inputs and thread count):
#   render      build/bench/render_bench vs bench/torch_render.py: splat vs splat
#               and softline vs the PyTorch splat, per scene (fwd+bwd ms)
#   clip        build/bench/clip_bench vs bench/torch_clip.py (s); the pooled row is C with
#               pooled_top against the same PyTorch forward+backward; the text row
#               compares both cut at the last EOT (clip_text_forward_5_cut)
#   conv        build/bench/conv_bench vs bench/torch_conv.py (s)
#   train       build/bench/train_bench vs bench/torch_adamw.py (ms)
#   clip_train  build/bench/clip_train_bench vs bench/torch_clip_train.py (s a step)
# Environment: ROUND_REPS (3), TORCH_ENV (tuned: OMP_WAIT_POLICY=PASSIVE and
# glibc malloc kept from returning memory; default: PyTorch as users run it),
# THREADS (2, both sides), LIMIT (4, render: fish drawings), BUILD, PYTHON.
# Raw per-round values go to build/bench/rounds-PAIR.tsv (round, side, metric,
# value).  Installs nothing; without a Python that imports torch it stops.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
PAIR=${1:?usage: rounds.sh render|clip|conv|train|clip_train [ROUNDS]}
ROUNDS=${2:-${ROUNDS:-5}}
RR=${ROUND_REPS:-3}
TH=${THREADS:-2}
LIMIT=${LIMIT:-4}
OUT=$BUILD/bench
mkdir -p "$OUT"
. "$ROOT/bench/lib.sh"
py=$(torch_python)
[ -n "$py" ] || { echo "rounds.sh: no Python that imports torch (PYTHON)" >&2; exit 4; }
case ${TORCH_ENV:-tuned} in
  tuned) TENV="OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000" ;;
  default) TENV="" ;;
  *) echo "rounds.sh: TORCH_ENV is tuned or default" >&2; exit 2 ;;
esac
export CLIP_THREADS="$TH" CONV_THREADS="$TH" TRAIN_THREADS="$TH"

# Per pair: c_run / t_run write "metric value" lines to stdout, METRICS lists
# "C_METRIC[:TORCH_METRIC]" pairs (TORCH_METRIC defaults to C_METRIC), UNIT.
# kv FILE: the first two fields of every line (drivers print "name value unit ...")
kv() { awk 'NF >= 2 { print $1, $2 }' "$1"; }
# tsv FILE: render TSV (renderer, scene, n, points, fwd ms, fwd+bwd ms) -> "renderer/scene fwd+bwd"
tsv() { awk -F'\t' 'NF >= 6 { print $1 "/" $2, $6 }' "$1"; }
DATA=$ROOT/data/quickdraw/simplified/fish.ndjson.gz
case $PAIR in
  render)
    bin=$(bench_bin render_bench)
    c_run() { "$bin" --limit "$LIMIT" --reps "$RR" "$DATA" "$BUILD/plugins/splat.so" "$BUILD/plugins/softline.so" >"$OUT/r-c.out"; tsv "$OUT/r-c.out"; }
    t_run() { env $TENV "$py" "$ROOT/bench/torch_render.py" --limit "$LIMIT" --reps "$RR" "$DATA" >"$OUT/r-t.out"; tsv "$OUT/r-t.out"; }
    METRICS="splat/polylines:torch-splat/polylines softline/polylines:torch-splat/polylines splat/poly8x100:torch-splat/poly8x100 softline/poly8x100:torch-splat/poly8x100"
    UNIT=ms ;;
  clip)
    bin=$(bench_bin clip_bench)
    c_run() { "$bin" "$RR" >"$OUT/r-c.out"; kv "$OUT/r-c.out"; }
    t_run() { env $TENV "$py" "$ROOT/bench/torch_clip.py" "$RR" >"$OUT/r-t.out"; kv "$OUT/r-t.out"; }
    METRICS="clip_image_forward_b1 clip_image_forward_b4 clip_image_fwdbwd_b4 clip_image_fwdbwd_b4_pooled:clip_image_fwdbwd_b4 clip_text_forward_5:clip_text_forward_5_cut"
    UNIT=s ;;
  conv)
    bin=$(bench_bin conv_bench)
    c_run() { "$bin" "$RR" >"$OUT/r-c.out"; kv "$OUT/r-c.out"; }
    t_run() { env $TENV "$py" "$ROOT/bench/torch_conv.py" "$RR" >"$OUT/r-t.out"; kv "$OUT/r-t.out"; }
    METRICS="conv_down_fwdbwd conv_up_fwdbwd conv_same_fwdbwd conv_down_b1_fwdbwd"
    UNIT=s ;;
  train)
    bin=$(bench_bin train_bench)
    c_run() { "$bin" --shapes "$OUT/b32_shapes.txt" "$RR" >"$OUT/r-c.out"; kv "$OUT/r-c.out"; }
    t_run() { env $TENV "$py" "$ROOT/bench/torch_adamw.py" "$OUT/b32_shapes.txt" "$RR" >"$OUT/r-t.out"; kv "$OUT/r-t.out"; }
    METRICS="zero_grad clip_grad_norm adamw_step:adamw_step_foreach nonfinite_scan ckpt_save ckpt_load"
    UNIT=ms ;;
  clip_train)
    bin=$(bench_bin clip_train_bench)
    c_run() { "$bin" --threads "$TH" --steps "$RR" >"$OUT/r-c.out" 2>/dev/null; kv "$OUT/r-c.out"; }
    t_run() { env $TENV "$py" "$ROOT/bench/torch_clip_train.py" --threads "$TH" --steps "$RR" >"$OUT/r-t.out" 2>/dev/null; kv "$OUT/r-t.out"; }
    METRICS="step"
    UNIT=s ;;
  *) echo "rounds.sh: unknown pair '$PAIR' (render, clip, conv, train, clip_train)" >&2; exit 2 ;;
esac

RAW=$OUT/rounds-$PAIR.tsv
: >"$RAW"
load0=$(load)
r=1
while [ "$r" -le "$ROUNDS" ]; do
  if [ $((r % 2)) -eq 1 ]; then order="c t"; else order="t c"; fi
  for side in $order; do
    "${side}_run" | awk -v r="$r" -v s="$side" '{ printf "%s\t%s\t%s\t%s\n", r, s, $1, $2 }' >>"$RAW"
  done
  echo "rounds.sh: $PAIR round $r of $ROUNDS done" >&2
  r=$((r + 1))
done
load1=$(load)

cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
echo "## $PAIR: C vs PyTorch in $ROUNDS alternating rounds"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $cpu; $TH threads each; PyTorch ${TORCH_ENV:-tuned};"
echo "each round: both programs once ($RR repetitions inside, their median), C first in odd rounds; load average"
echo "before $load0, after $load1. Values: median over the rounds (min-max); ratio = PyTorch / C within a round."
echo
echo "| metric (C / PyTorch) | C $UNIT | PyTorch $UNIT | PyTorch / C |"
echo "|---|---|---|---|"
for m in $METRICS; do
  ck=${m%%:*}; tk=${m#*:}
  awk -F'\t' -v ck="$ck" -v tk="$tk" '
    function stat(a, n,    i, j, t) {   # "median (min-max)" of a[1..n]
      for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      if (!n) return "n/a"
      return sprintf("%.4g (%.4g-%.4g)", n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2, a[1], a[n])
    }
    $2 == "c" && $3 == ck { c[$1] = $4 } $2 == "t" && $3 == tk { t[$1] = $4 }
    END {
      nc = nt = nr = 0
      for (r in c) cv[++nc] = c[r]
      for (r in t) { tv[++nt] = t[r]; if ((r in c) && c[r] > 0) rv[++nr] = t[r] / c[r] }
      printf "| %s | %s | %s | %s |\n", (ck == tk ? ck : ck " / " tk), stat(cv, nc), stat(tv, nt), stat(rv, nr)
    }' "$RAW"
done
echo
