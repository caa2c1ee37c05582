#!/bin/sh
# bench/clip.sh - the CLIP section of the benchmarks (bench/run.sh calls it;
# it also runs alone: sh bench/clip.sh [reps]).
#
# Runs build/bench/clip_bench (the C model, CLIP_THREADS threads, default 2)
# and its PyTorch peer bench/torch_clip.py on the same thread count, twice:
# as a user runs it (defaults) and tuned (OMP_WAIT_POLICY=PASSIVE so idle
# OpenMP threads sleep; glibc malloc kept from returning memory to the
# system, since every first touch of a fresh page is expensive on small VMs).
# Prints a markdown table of medians (seconds, peak RSS), the C model's
# speed-up over each, and the C model's in-model GEMM rate next to
# cblas_sgemm called alone on the same shapes, then the training-size
# configuration (clip_bench small, torch_clip.py small).  Installs nothing: without a
# Python that imports torch, the PyTorch columns say n/a.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
REPS=${1:-${REPS:-9}}
THREADS=${CLIP_THREADS:-2}
export CLIP_THREADS="$THREADS"
OUT=$BUILD/bench
mkdir -p "$OUT"

. "$ROOT/bench/lib.sh"
bin=$(bench_bin clip_bench)
py=$(torch_python)

load0=$(load)
"$bin" "$REPS" >"$OUT/clip-c.txt"
if [ -n "$py" ]; then
  "$py" "$ROOT/bench/torch_clip.py" "$REPS" >"$OUT/clip-torch.txt"
  env OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000 \
    "$py" "$ROOT/bench/torch_clip.py" "$REPS" >"$OUT/clip-torch-tuned.txt"
  # tuned, and on OpenBLAS's AVX-512 kernels when the CPU has them (the
  # choice blas_threads_init makes for the C model; PyTorch's matrix
  # products go through the same OpenBLAS here)
  if grep -q avx512f /proc/cpuinfo 2>/dev/null; then
    env OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000 OPENBLAS_CORETYPE=SkylakeX \
      "$py" "$ROOT/bench/torch_clip.py" "$REPS" >"$OUT/clip-torch-avx512.txt"
  else
    : >"$OUT/clip-torch-avx512.txt"
  fi
  tv=$("$py" -c 'import torch; print(torch.__version__)')
else
  : >"$OUT/clip-torch.txt"
  : >"$OUT/clip-torch-tuned.txt"
  : >"$OUT/clip-torch-avx512.txt"
  tv=n/a
fi
"$bin" "$REPS" small >"$OUT/clip-small.txt"
: >"$OUT/clip-small-torch.txt"
: >"$OUT/clip-small-torch-avx512.txt"
if [ -n "$py" ]; then
  env OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000 \
    "$py" "$ROOT/bench/torch_clip.py" "$REPS" small >"$OUT/clip-small-torch.txt"
  if grep -q avx512f /proc/cpuinfo 2>/dev/null; then
    env OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000 OPENBLAS_CORETYPE=SkylakeX \
      "$py" "$ROOT/bench/torch_clip.py" "$REPS" small >"$OUT/clip-small-torch-avx512.txt"
  fi
fi
load1=$(load)

# val FILE NAME: the value of line NAME, or n/a
val() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print "n/a" }' "$1"; }
# ratio A B: B / A as "N.NN×" (how many times faster A is)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f×", b / a; else print "n/a" }'; }

cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
echo "## CLIP (ViT-B/32)"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $cpu; $THREADS threads each; median of $REPS runs;"
echo "PyTorch $tv on CPU; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} in the environment; load average before $load0, after $load1."
echo
echo "| full-size ViT-B/32, random weights | C | PyTorch default | PyTorch tuned | PyTorch tuned, AVX-512 BLAS | C vs default | C vs tuned | C vs tuned AVX-512 |"
echo "|---|---|---|---|---|---|---|---|"
# row LABEL KEY UNIT [TORCH_KEY]: the C model's KEY beside PyTorch's TORCH_KEY (default KEY)
row() {
  tk=${4:-$2}
  c=$(val "$OUT/clip-c.txt" "$2"); d=$(val "$OUT/clip-torch.txt" "$tk"); t=$(val "$OUT/clip-torch-tuned.txt" "$tk")
  x=$(val "$OUT/clip-torch-avx512.txt" "$tk")
  if [ "$3" = MB ]; then
    echo "| $1 | $c MB | $d MB | $t MB | $x MB | | | |"
  else
    echo "| $1 | $c s | $d s | $t s | $x s | $(ratio "$c" "$d") | $(ratio "$c" "$t") | $(ratio "$c" "$x") |"
  fi
}
row "image forward, batch 1" clip_image_forward_b1 s
row "image forward, batch 4" clip_image_forward_b4 s
row "image forward + backward to the input, batch 4" clip_image_fwdbwd_b4 s
row "the same, C with pooled_top (the top block's MLP on the class token only: what optimize runs when no loss reads the top block's tokens; same embedding and gradient)" clip_image_fwdbwd_b4_pooled s clip_image_fwdbwd_b4
row "text forward, 5 prompts, blocks over the tokens up to the last EOT on both sides" clip_text_forward_5 s clip_text_forward_5_cut
row "peak RSS" peak_rss MB
echo
echo "PyTorch text forward over all 77 positions, as OpenAI's code runs it (not like with like: the C model"
echo "cuts at the last EOT, which the causal mask makes exact): default $(val "$OUT/clip-torch.txt" clip_text_forward_5) s,"
echo "tuned $(val "$OUT/clip-torch-tuned.txt" clip_text_forward_5) s."
echo
gm=$(val "$OUT/clip-c.txt" clip_gemm_fwdbwd_b4)
gs=$(val "$OUT/clip-c.txt" sgemm_clip_shapes)
echo "Matrix products of the C model in one batch-4 forward+backward:"
echo "$(awk '$1 == "clip_gemm_fwdbwd_b4" { $1 = ""; print }' "$OUT/clip-c.txt" | sed 's/^ //') for the weight products,"
echo "$(awk '$1 == "clip_attn_gemm_fwdbwd_b4" { $1 = ""; print }' "$OUT/clip-c.txt" | sed 's/^ //') for the per-head attention products through sgemm,"
echo "$(awk '$1 == "clip_attn_kernel_fwdbwd_b4" { $1 = ""; print }' "$OUT/clip-c.txt" | sed 's/^ //') for the attention calls whole (products, softmax, copies);"
echo "cblas_sgemm called alone on the same shapes: $(awk '$1 == "sgemm_clip_shapes" { $1 = ""; print }' "$OUT/clip-c.txt" | sed 's/^ //');"
echo "in-model rate $(awk -v a="$gm" -v b="$gs" 'BEGIN { if (b + 0 > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }') of the standalone one;"
echo "the attention shapes alone (the same calls outside the model): $(awk '$1 == "sgemm_attn_shapes" { $1 = ""; print }' "$OUT/clip-c.txt" | sed 's/^ //')."
echo
echo "Training-size configuration (clip_bench small: vision 256 wide, 6 layers, 4 heads, patch 8 on 64x64;"
echo "text 256 wide, 4 layers, 4 heads, context 16; embed 256; batch 128), one step = zero the gradients, image"
echo "and text forward, image and text backward with every parameter's gradient:"
echo
sm() { awk -v k="$1" '$1 == k { $1 = ""; print }' "$OUT/clip-small.txt" | sed 's/^ //'; }
echo "| step (C; PyTorch tuned / tuned AVX-512 below) | image fwd | text fwd | image bwd | text bwd | weight products | attention (whole calls) |"
echo "|---|---|---|---|---|---|---|"
echo "| C: $(sm clip_small_step) | $(sm clip_small_image_fwd) | $(sm clip_small_text_fwd) | $(sm clip_small_image_bwd) | $(sm clip_small_text_bwd) | $(sm clip_small_gemm) | $(sm clip_small_attn_kernel) |"
echo
echo "PyTorch tuned, the same step: $(val "$OUT/clip-small-torch.txt" clip_small_step) s; tuned on OpenBLAS's AVX-512 kernels: $(val "$OUT/clip-small-torch-avx512.txt" clip_small_step) s"
echo "(C $(ratio "$(val "$OUT/clip-small.txt" clip_small_step)" "$(val "$OUT/clip-small-torch.txt" clip_small_step)") / $(ratio "$(val "$OUT/clip-small.txt" clip_small_step)" "$(val "$OUT/clip-small-torch-avx512.txt" clip_small_step)") faster)."
