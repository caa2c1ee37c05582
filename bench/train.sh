#!/bin/sh
# bench/train.sh - the training-core section of the benchmarks (bench/run.sh
# calls it; it also runs alone: sh bench/train.sh [reps]).
#
# Runs build/bench/train_bench (zero, clip, AdamW step, NaN scan, checkpoint
# save + load on CLIP ViT-B/32's 302 tensors, 151 M floats; TRAIN_THREADS
# threads, default 2) and its PyTorch peer bench/torch_adamw.py on the same
# tensor list and thread count.  Prints a markdown table of medians (ms) and
# the load average before and after (the numbers are bandwidth-bound: a busy
# machine moves them a lot).  Installs nothing: without a Python that imports
# torch, the PyTorch columns say n/a.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
REPS=${1:-${REPS:-5}}
export TRAIN_THREADS="${TRAIN_THREADS:-2}"
OUT=$BUILD/bench
mkdir -p "$OUT"

. "$ROOT/bench/lib.sh"
bin=$(bench_bin train_bench)
py=$(torch_python)

load0=$(load)
"$bin" --shapes "$OUT/b32_shapes.txt" "$REPS" >"$OUT/train-c.txt"
if [ -n "$py" ]; then "$py" "$ROOT/bench/torch_adamw.py" "$OUT/b32_shapes.txt" "$REPS" >"$OUT/train-torch.txt"
else : >"$OUT/train-torch.txt"; fi
load1=$(load)

# val FILE NAME: the first value of line NAME, or n/a
val() { awk -v k="$2" '$1 == k && !f { print $2; f = 1 } END { if (!f) print "n/a" }' "$1"; }
C=$OUT/train-c.txt T=$OUT/train-torch.txt
echo "## training core: one step's block work on ViT-B/32's $(val "$C" floats) floats, $TRAIN_THREADS threads (load $load0 -> $load1)"
echo
echo "| operation | C ms | PyTorch ms |"
echo "|---|---|---|"
echo "| zero gradients | $(val "$C" zero_grad) | $(val "$T" zero_grad) |"
echo "| clip to global norm 1.0 | $(val "$C" clip_grad_norm) | $(val "$T" clip_grad_norm) |"
echo "| AdamW step (torch: single-tensor / foreach) | $(val "$C" adamw_step) | $(val "$T" adamw_step_single) / $(val "$T" adamw_step_foreach) |"
echo "| NaN/Inf scan of the gradients | $(val "$C" nonfinite_scan) | $(val "$T" nonfinite_scan) |"
echo "| checkpoint save (params + m + v; torch.save) | $(val "$C" ckpt_save) | $(val "$T" ckpt_save) |"
echo "| checkpoint load (torch.load + load_state_dict) | $(val "$C" ckpt_load) | $(val "$T" ckpt_load) |"
