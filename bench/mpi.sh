#!/bin/sh
# bench/mpi.sh - data-parallel training speed: steps per second of the three
# trainers at their shipped configurations on 1 process (-j 1 and -j 2) and
# on 2 MPI ranks of -j 1 each (bin/*-mpi), with the gradient block's size and
# the measured allreduce time per call and, apart, the time spent waiting
# for the slowest rank at a barrier before it (INVCLIP_DIST_STATS).  Also runs alone:
#   sh bench/mpi.sh [clip|evaluator|unet ...]      (default: all three)
# STEPS_CLIP (default 6), STEPS_EVAL (40), STEPS_UNET (40) set the run lengths.
# Prints a markdown table and the load average before and after (a busy
# machine moves these numbers a lot: docs/scale-out.md says how to read them).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/bin}
BUILD=${BUILD:-$ROOT/build}
OUT=$BUILD/bench/mpi
mkdir -p "$OUT"
. "$ROOT/bench/lib.sh"
for t in clip-train-mpi sketch-score-mpi unet-train-mpi; do
  [ -x "$BIN/$t" ] || { echo "bench/mpi.sh: $BIN/$t is not built (Open MPI missing at build time)" >&2; exit 3; }
done
command -v mpirun >/dev/null 2>&1 || { echo "bench/mpi.sh: no mpirun" >&2; exit 3; }
export OMPI_MCA_btl_vader_single_copy_mechanism=none INVCLIP_DIST_STATS=1
MPIRUN="mpirun --oversubscribe --mca btl self,vader"
[ "$(id -u)" = 0 ] && MPIRUN="mpirun --allow-run-as-root --oversubscribe --mca btl self,vader"

# data: 40 words x 32 drawings for the CLIP and the evaluator; the study's fish for the U-Net pairs
[ -s "$OUT/words.ndjson" ] || ls "$ROOT"/data/quickdraw/simplified/*.ndjson.gz | head -40 |
  while IFS= read -r f; do gzip -dc "$f"; done >"$OUT/words.ndjson"
[ -s "$OUT/pairs.ndjson" ] || gzip -dc "$ROOT/data/quickdraw/simplified/fish.ndjson.gz" | head -400 |
  "$BIN/qd-degrade" --seed 1 >"$OUT/pairs.ndjson"

CLIP="--width 128 --layers 6 --heads 2 --patch 8 --image-size 64 --text-width 128 --text-layers 4 --text-heads 2
      --context 16 --embed 128 --batch 128 --lr 5e-4 --seed 1 --eval-every 100000 --save-every 100000"
EVAL="--train --image-size 32 --channels 32,64,128,256 --dropout 0.2 --line-width 8 --batch 128 --lr 2e-3 --seed 1
      --eval-every 100000 --save-every 100000"
UNET="--arch pix2pix --norm batch --size 64 --base 16 --depth 6 --ndf 16 --frame 64 --pad 3 --batch 8 --seed 1
      --val-frac 0.02 --eval-every 100000 --save-every 100000"

# run NAME NP THREADS TOOL ARGS... -> "steps seconds allreduce_ms MB params"
run() {
  name=$1 np=$2 j=$3; shift 3
  tool=$1; shift
  log=$OUT/$name-np$np-j$j.err
  rm -rf "$OUT/run"
  $MPIRUN -np "$np" "$BIN/$tool" -o "$OUT/run" -j "$j" "$@" >/dev/null 2>"$log" || { echo "run failed: see $log" >&2; tail -5 "$log" >&2; exit 1; }
  st=$(grep -Eo '[0-9]+ steps in [0-9.]+ s' "$log" | tail -1)
  ms=$(grep -Eo '[0-9.]+ ms each' "$log" | tail -1 | awk '{print $1}')
  wt=$(grep -Eo '[0-9.]+ ms waiting' "$log" | tail -1 | awk '{print $1}')
  mb=$(grep -Eo '[0-9.]+ MB each' "$log" | tail -1 | awk '{print $1}')
  pm=$(grep -Eo '[0-9.]+M parameters' "$log" | head -1 | tr -d 'M parameters')
  echo "$(echo "$st" | awk '{print $1, $4}') ${ms:--} ${mb:--} ${pm:--} ${wt:--}"
}
row() { # label np j result
  set -- "$1" "$2" "$3" $4
  sps=$(awk -v n="$4" -v s="$5" 'BEGIN{ printf "%.3f", (s > 0 ? n / s : 0) }')
  echo "| $1 | $2 × $3 | $4 | $5 | $sps | ${6:--} | ${9:--} | ${7:--} | ${8:-} |"
}

sections=${*:-clip evaluator unet}
load0=$(load)
echo "## data-parallel training: steps per second, 1 process vs 2 MPI ranks ($(date -u +%Y-%m-%d), $(nproc) cores, load $load0)"
echo
echo "| trainer | ranks × threads | steps | seconds | steps/s | allreduce ms/call | wait ms/call | MB/call | M params |"
echo "|---|---|---|---|---|---|---|---|---|"
for s in $sections; do
  case $s in
    clip) n=${STEPS_CLIP:-6}; set -- clip-train-mpi $CLIP --steps "$n" "$OUT/words.ndjson"; label="clip-train (shipped config, batch 128)" ;;
    evaluator) n=${STEPS_EVAL:-40}; set -- sketch-score-mpi $EVAL --steps "$n" "$OUT/words.ndjson"; label="sketch-score --train (shipped, batch 128)" ;;
    unet) n=${STEPS_UNET:-40}; set -- unet-train-mpi $UNET --steps "$n" "$OUT/pairs.ndjson"; label="unet-train (unet-small, batch 8)" ;;
    *) echo "bench/mpi.sh: unknown section $s" >&2; exit 2 ;;
  esac
  row "$label" 1 1 "$(run "$s" 1 1 "$@")"
  row "$label" 1 2 "$(run "$s" 1 2 "$@")"
  row "$label" 2 1 "$(run "$s" 2 1 "$@")"
done
echo
echo "load after: $(load)"
