#!/bin/sh
# bench/pairs.sh - the step of bin/optimize against PyTorch's peers in alternating
# pairs: the like-for-like comparison of issue 10's step target, measured so that the
# load of this shared machine cancels as far as it can.  By default C's bf16 step against
# PyTorch's bfloat16 peers; PRECISION=float32 PEERS=float32 compares the float32 steps.
#
# bench/optimize.sh's bf16 part runs six configurations a repetition (minutes between a
# C run and the peer it is compared with); here each pair is one C run and one run of
# each peer back to back, the order alternating from pair to pair (odd pairs C first, even
# pairs the peers first), and the ratio is taken within the pair.  Reported: the median
# of the per-pair ratios with their range, the median steady state of each side, and
# the best (least disturbed) run of each side against each other.
#
# Usage: sh bench/pairs.sh [pairs]   (default 10; about 16 s a pair with one peer)
# Environment: PRECISION (C's --precision: bf16, the default, or float32), GEMM (C's
# --gemm, default auto), PEERS (torch_optimize.py --precision values, default
# "autocast-bf16"; "autocast-bf16 bf16" adds the whole-tower bfloat16 model; "float32"
# the float32 peer), THREADS (2: C's -j and the
# peers' torch threads), C_STEPS (21), TORCH_STEPS (10), MODEL
# (build/bench/vitb32-random.safetensors, written by `python3 bench/torch_optimize.py
# write FILE`), PYTHON, and OpenBLAS's own (OPENBLAS_CORETYPE: unset it for the AVX-512
# kernels on both sides).  The step is bench/optimize.sh's: 8 random cubic Béziers,
# 4 views of the study's optimiser augmentations, clip-text "fish" + stroke-reg 0.01 +
# tv 0.001, ViT-B/32 forward and backward to the image, Adam; C --precision bf16, the
# peers tuned (frozen CLIP, separable splats, OMP_WAIT_POLICY=PASSIVE, glibc malloc
# kept).  "Steady state" leaves each run's first step out (C: --timing's first_steps;
# PyTorch: per_step_after_first).  Raw runs: build/bench/pairs.txt.
# Exit 2 on bad arguments or a missing prerequisite, 3 when a run fails.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PAIRS=${1:-10}
case $PAIRS in '' | *[!0-9]*) echo "pairs.sh: pairs '$PAIRS' is not a count" >&2; exit 2 ;; esac
[ "$PAIRS" -ge 1 ] || { echo "pairs.sh: need at least one pair" >&2; exit 2; }
PEERS=${PEERS:-autocast-bf16}
PRECISION=${PRECISION:-bf16}
GEMM=${GEMM:-auto}
case $PRECISION in bf16 | float32) ;; *) echo "pairs.sh: PRECISION '$PRECISION' is not bf16 or float32" >&2; exit 2 ;; esac
THREADS=${THREADS:-2}
C_STEPS=${C_STEPS:-21}
TORCH_STEPS=${TORCH_STEPS:-10}
MODEL=${MODEL:-$ROOT/build/bench/vitb32-random.safetensors}
PY=${PYTHON:-/usr/bin/python3}
OUT=$ROOT/build/bench
mkdir -p "$OUT"
[ -x "$ROOT/bin/optimize" ] || { echo "pairs.sh: no bin/optimize (make first)" >&2; exit 2; }
[ -f "$MODEL" ] || { echo "pairs.sh: $MODEL missing (python3 bench/torch_optimize.py write $MODEL)" >&2; exit 2; }
"$PY" -c 'import torch' 2>/dev/null || { echo "pairs.sh: $PY cannot import torch" >&2; exit 2; }
"$ROOT/bin/optimize" --list-plugins >/dev/null 2>&1 || { echo "pairs.sh: bin/optimize does not run" >&2; exit 2; }
FISH=$OUT/ab-fish1.ndjson
zcat "$ROOT/data/quickdraw/simplified/fish.ndjson.gz" 2>/dev/null | head -1 >"$FISH" || true
[ -s "$FISH" ] || { echo "pairs.sh: no fish drawing in data/quickdraw" >&2; exit 2; }
RAW=$OUT/pairs.txt
ERR=$OUT/pairs.err
: >"$RAW"

# c_run PAIR: one C run; appends "PAIR c STEADY"
c_run() {
  if ! "$ROOT/bin/optimize" -j "$THREADS" --model "$MODEL" --renderer bezier \
    --augment clipaug:preset=doodlebot-optimizer,nviews=4 --init random:strokes=8 \
    --loss clip-text:prompt=fish --loss stroke-reg:weight=0.01,bezier_samples=20 --loss tv:weight=0.001 \
    --steps "$C_STEPS" --history none --timing --precision "$PRECISION" --gemm "$GEMM" "$FISH" >/dev/null 2>"$ERR"; then
    cat "$ERR" >&2
    exit 3
  fi
  sed -n 's/.*"seconds":\([0-9.eE+-]*\).*"first_steps":\([0-9.eE+-]*\).*/\1 \2/p' "$ERR" | tail -1 |
    awk -v p="$1" -v n="$C_STEPS" '{ printf "%s c %.5f\n", p, ($1 - $2) / (n - 1) }' >>"$RAW"
}
# t_run PAIR PEER: one PyTorch run; appends "PAIR PEER STEADY"
t_run() {
  if ! env OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000 \
    "$PY" "$ROOT/bench/torch_optimize.py" step --style tuned --threads "$THREADS" --steps "$TORCH_STEPS" \
    --precision "$2" --model "$MODEL" >"$OUT/pairs.t" 2>"$ERR"; then
    cat "$ERR" >&2
    exit 3
  fi
  awk -v p="$1" -v w="$2" '$1 == "per_step_after_first" { printf "%s %s %s\n", p, w, $2 }' "$OUT/pairs.t" >>"$RAW"
}

load() { cut -d' ' -f1-3 /proc/loadavg; }
load0=$(load)
start=$(date -u '+%Y-%m-%d %H:%M')
i=1
while [ "$i" -le "$PAIRS" ]; do
  if [ $((i % 2)) = 1 ]; then
    c_run "$i"
    for p in $PEERS; do t_run "$i" "$p"; done
  else
    for p in $PEERS; do t_run "$i" "$p"; done
    c_run "$i"
  fi
  echo "pair $i/$PAIRS: $(awk -v i="$i" '$1 == i { printf "%s %s  ", $2, $3 }' "$RAW")" >&2
  i=$((i + 1))
done

# stats WHICH: "median min max" of a column of values on stdin
stats() { sort -g | awk '{ a[NR] = $1 } END { m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2;
  printf "%.4f %.4f %.4f", m, a[1], a[NR] }'; }
echo "$start-$(date -u '+%H:%M') UTC, $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo);" \
  "load $load0 before, $(load) after; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
echo "$PAIRS alternating pairs: C --precision $PRECISION --gemm $GEMM -j $THREADS ($C_STEPS steps a run) against PyTorch tuned on $THREADS threads ($TORCH_STEPS steps); steady state, s"
set -- $(awk '$2 == "c" { print $3 }' "$RAW" | stats)
echo "C $PRECISION: median $1 (min $2, max $3)"
cmed=$1 cmin=$2
for p in $PEERS; do
  set -- $(awk -v w="$p" '$2 == w { print $3 }' "$RAW" | stats)
  pmed=$1 pmin=$2
  set -- $(awk -v w="$p" '$2 == "c" { c[$1] = $3 } $2 == w { t[$1] = $3 } END { for (k in c) if (k in t) print t[k] / c[k] }' "$RAW" | stats)
  echo "$p: median $pmed (min $pmin); C faster by, per pair: median $(printf '%.2f' "$1")× (range $(printf '%.2f' "$2")–$(printf '%.2f' "$3")×);" \
    "medians $(awk -v a="$cmed" -v b="$pmed" 'BEGIN { printf "%.2f", b / a }')×; best run against best run $(awk -v a="$cmin" -v b="$pmin" 'BEGIN { printf "%.2f", b / a }')×"
done
