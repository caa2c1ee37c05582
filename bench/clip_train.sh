#!/bin/sh
# bench/clip_train.sh - one training step of clip-train's CLIP, C against PyTorch
# (issue 9 item 6).  bench/run.sh calls it as the clip_train section; it also runs alone:
#   sh bench/clip_train.sh [clip_train_bench options]
# e.g. sh bench/clip_train.sh --v-width 192 --batch 64 --steps 3
#
# Runs build/bench/clip_train_bench (common/clip_train.c: clip_trainer_grads +
# clip_trainer_update, as tools/clip-train.c calls them) and its PyTorch peer
# bench/torch_clip_train.py on the same configuration, batch and thread count
# (CLIP_TRAIN_THREADS, default 2), PyTorch twice as bench/clip.sh runs it: as a
# user runs it (defaults) and tuned (OMP_WAIT_POLICY=PASSIVE so idle OpenMP
# threads sleep; glibc malloc kept from returning memory to the system).  The
# options (defaults = the proposed shipped config) go to both programs:
#   --v-width 128 --v-layers 6 --v-heads 2 --patch 8 --image 64
#   --t-width 128 --t-layers 4 --t-heads 2 --context 16 --vocab 49408
#   --embed 128 --batch 128 --steps 5 --warmup 1
# Prints a markdown table: median seconds per step, the C step's speed-up
# over each PyTorch run, peak RSS (getrusage of each process), and the first
# and last losses as a sanity check.  Installs nothing: without a Python that
# imports torch, the PyTorch columns say n/a.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
THREADS=${CLIP_TRAIN_THREADS:-2}
OUT=$BUILD/bench
mkdir -p "$OUT"

. "$ROOT/bench/lib.sh"
bin=$(bench_bin clip_train_bench)
py=$(torch_python)

load0=$(load)
"$bin" --threads "$THREADS" "$@" >"$OUT/clip-train-c.txt" 2>"$OUT/clip-train-c.log"
if [ -n "$py" ]; then
  "$py" "$ROOT/bench/torch_clip_train.py" --threads "$THREADS" "$@" >"$OUT/clip-train-torch.txt" 2>"$OUT/clip-train-torch.log"
  env OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000 \
    "$py" "$ROOT/bench/torch_clip_train.py" --threads "$THREADS" "$@" >"$OUT/clip-train-torch-tuned.txt" 2>"$OUT/clip-train-torch-tuned.log"
  tv=$("$py" -c 'import torch; print(torch.__version__)')
else
  : >"$OUT/clip-train-torch.txt"
  : >"$OUT/clip-train-torch-tuned.txt"
  tv=n/a
fi
load1=$(load)

# val FILE NAME: the value of line NAME, or n/a
val() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print "n/a" }' "$1"; }
# ratio A B: B / A as "N.NN×" (how many times faster A is)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f×", b / a; else print "n/a" }'; }
# o NAME DEFAULT: the value given on the command line for --NAME (the last one), else DEFAULT
ARGS="$*"
o() { _v=$2; _k=; for _a in $ARGS; do [ "$_k" = "--$1" ] && _v=$_a; _k=$_a; done; echo "$_v"; }

C=$OUT/clip-train-c.txt D=$OUT/clip-train-torch.txt T=$OUT/clip-train-torch-tuned.txt
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
steps=$(o steps 5)
echo "## Issue 9: one training step of the sketch CLIP"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $cpu; $THREADS threads each; median of $steps steps"
echo "after $(o warmup 1) warm-up; PyTorch $tv on CPU; load average before $load0, after $load1."
echo "Config: vision $(o v-width 128) wide, $(o v-layers 6) layers, $(o v-heads 2) heads, patch $(o patch 8), image $(o image 64);"
echo "text $(o t-width 128) wide, $(o t-layers 4) layers, $(o t-heads 2) heads, context $(o context 16), vocabulary $(o vocab 49408);"
echo "embedding $(o embed 128); batch $(val "$C" batch); $(val "$C" params) parameters."
echo
echo "| one step (forward, InfoNCE, backward, clip, AdamW) | C | PyTorch default | PyTorch tuned | C vs default | C vs tuned |"
echo "|---|---|---|---|---|---|"
c=$(val "$C" step) d=$(val "$D" step) t=$(val "$T" step)
echo "| seconds per step | $c s | $d s | $t s | $(ratio "$c" "$d") | $(ratio "$c" "$t") |"
echo "| peak RSS | $(val "$C" peak_rss) MB | $(val "$D" peak_rss) MB | $(val "$T" peak_rss) MB | | |"
echo "| loss, first → last step | $(val "$C" loss_first) → $(val "$C" loss_last) | $(val "$D" loss_first) → $(val "$D" loss_last) | $(val "$T" loss_first) → $(val "$T" loss_last) | | |"
echo
echo "C step split: forward + loss + backward $(val "$C" grads) s, NaN scan + clip + AdamW + clamp $(val "$C" update) s;"
echo "its parts called one by one: image forward $(val "$C" image_forward) s, text forward $(val "$C" text_forward) s,"
echo "normalisation + InfoNCE $(val "$C" loss) s, image backward $(val "$C" image_backward) s, text backward $(val "$C" text_backward) s,"
echo "update $(val "$C" update_part) s."
