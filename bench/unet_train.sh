#!/bin/sh
# bench/unet_train.sh - one unet-train step against the same step in PyTorch (issue 11, item 7), side by side
# in one run: the study's configuration (--arch study, base 64, depth 8, 224 <-> 256, batch 16, L1 alone) and
# the CPU-sized one (pix2pix base 16, depth 6 at 64, batch 8, with the PatchGAN).
#
#   sh bench/unet_train.sh [study|small|both] [K]          (make bench-unet-train)
#
# C: unet-train --timing over --steps 1+K: the median wall time of a step, the first left out (each step's
# on-the-fly rendering of its pairs included; evaluation and checkpoints not), the same measure as the
# PyTorch peer's (PyTorch gets its tensors ready-made).
# PyTorch: bench/torch_unet_train.py, median of K steps after a warm-up, "default" (as started) and "tuned"
# (OMP_WAIT_POLICY=PASSIVE, glibc malloc kept from returning memory: docs/benchmarks.md).  Peak RSS from
# GNU time for C (the 1+K run), from getrusage for PyTorch.  2 threads both sides.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/bin}
WHICH=${1:-both}
K=${2:-2}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
py=/usr/bin/python3
"$BIN/qd-extract" --word fish --limit 64 "$ROOT/data/quickdraw/simplified/fish.ndjson.gz" | "$BIN/qd-degrade" --seed 1 >"$W/pairs.ndjson"
c_run() { # ARGS... -> the median seconds of a step over K steps (unet-train --timing) and the run's peak RSS
  /usr/bin/time -f '%M' -o "$W/rss" "$BIN/unet-train" -o "$W/o2" -j 2 --steps $((1 + K)) --eval-every 100000 \
    --val-frac 0.05 --seed 1 --timing "$@" "$W/pairs.ndjson" 2>"$W/c.err" >/dev/null
  awk -v r="$(tail -1 "$W/rss")" '/timing:/ { for (i = 1; i <= NF; i++) if ($i == "timing:") s = $(i + 1) }
    END { printf "%.3f s/step (peak RSS %.0f MB)", s, r / 1024 }' "$W/c.err"
  rm -rf "$W/o2"
}
t_run() { # CFG ENV... -> seconds per step
  cfg=$1; shift
  env "$@" "$py" "$ROOT/bench/torch_unet_train.py" "$cfg" "$K" 2 >"$W/t" 2>/dev/null
  printf '%s s/step (peak RSS %s MB)' "$(sed -n 's/seconds_per_step //p' "$W/t")" "$(sed -n 's/peak_rss_mb //p' "$W/t")"
}
tuned="OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000"
echo "## unet-train: one training step, C vs PyTorch ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| config | C | PyTorch default | PyTorch tuned |"
echo "|---|---|---|---|"
if [ "$WHICH" != small ]; then
  printf '| study: arch study, base 64, depth 8, 224, batch 16, L1 | %s | %s | %s |\n' \
    "$(c_run --arch study --norm batch --base 64 --depth 8 --size 224 --frame 224 --no-gan --batch 16)" \
    "$(t_run study PYBENCH=1)" "$(t_run study $tuned)"
fi
if [ "$WHICH" != study ]; then
  printf '| small: pix2pix base 16, depth 6, 64, batch 8, PatchGAN | %s | %s | %s |\n' \
    "$(c_run --arch pix2pix --norm batch --base 16 --depth 6 --size 64 --frame 64 --ndf 16 --batch 8)" \
    "$(t_run small PYBENCH=1)" "$(t_run small $tuned)"
fi
