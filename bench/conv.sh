#!/bin/sh
# bench/conv.sh - the convolution section of the benchmarks (runs alone:
# sh bench/conv.sh [reps]; bench/run.sh can call it as a section).
#
# Runs build/bench/conv_bench (common/nn/conv.c on CONV_THREADS threads,
# default 2) and its PyTorch peer bench/torch_conv.py on the same thread
# count, as a user runs it (defaults) and tuned (OMP_WAIT_POLICY=PASSIVE, so
# idle OpenMP threads sleep instead of spinning against the other process's
# threads on a small machine).  Prints a markdown table of medians (forward +
# backward seconds and GFLOP/s), the C kernels' speed-up over each, and the
# rate of one OpenBLAS sgemm of the layer's product (the ceiling).  Installs
# nothing: without a Python that imports torch, the PyTorch columns say n/a.
# The machine's load average before and after is printed: numbers taken on a
# busy machine are not comparable with a quiet run.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
REPS=${1:-${REPS:-10}}
THREADS=${CONV_THREADS:-2}
export CONV_THREADS="$THREADS"
OUT=$BUILD/bench
mkdir -p "$OUT"

. "$ROOT/bench/lib.sh"
bin=$(bench_bin conv_bench)
py=$(torch_python)

load0=$(load)
"$bin" "$REPS" >"$OUT/conv-c.txt"
if [ -n "$py" ]; then
  "$py" "$ROOT/bench/torch_conv.py" "$REPS" >"$OUT/conv-torch.txt"
  OMP_WAIT_POLICY=PASSIVE "$py" "$ROOT/bench/torch_conv.py" "$REPS" >"$OUT/conv-torch-tuned.txt"
  tv=$("$py" -c 'import torch; print(torch.__version__)')
else
  : >"$OUT/conv-torch.txt"
  : >"$OUT/conv-torch-tuned.txt"
  tv=n/a
fi
load1=$(load)

# val FILE NAME FIELD: field FIELD of line NAME, or n/a
val() { awk -v k="$2" -v f="$3" '$1 == k { print $f; ok = 1 } END { if (!ok) print "n/a" }' "$1"; }
# ratio A B: B / A as "N.NN×" (how many times faster A is)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f×", b / a; else print "n/a" }'; }

cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
echo "## Convolutions (common/nn/conv.c)"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $cpu; $THREADS threads each; median of $REPS runs;"
echo "PyTorch $tv on CPU; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}; load average before $load0, after $load1."
echo
echo "| layer, forward + backward | C s | C GFLOP/s | sgemm ceiling GFLOP/s | PyTorch s | PyTorch tuned s | C vs PyTorch | C vs tuned |"
echo "|---|---|---|---|---|---|---|---|"
for l in down up same down_b1; do
  case $l in
    down) what="conv2d 4x64x64x64 -> 128, k4 s2 p1" ;;
    up) what="conv_transpose2d 4x128x32x32 -> 64, k4 s2 p1" ;;
    same) what="conv2d 4x64x64x64 -> 64, k3 s1 p1" ;;
    down_b1) what="conv2d 1x64x128x128 -> 128, k4 s2 p1" ;;
  esac
  c=$(val "$OUT/conv-c.txt" "conv_${l}_fwdbwd" 2)
  cg=$(val "$OUT/conv-c.txt" "conv_${l}_fwdbwd" 4)
  sg=$(val "$OUT/conv-c.txt" "sgemm_${l}" 4)
  t=$(val "$OUT/conv-torch.txt" "conv_${l}_fwdbwd" 2)
  tt=$(val "$OUT/conv-torch-tuned.txt" "conv_${l}_fwdbwd" 2)
  echo "| $what | $c | $cg | $sg | $t | $tt | $(ratio "$c" "$t") | $(ratio "$c" "$tt") |"
done
