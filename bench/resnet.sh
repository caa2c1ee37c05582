#!/bin/sh
# bench/resnet.sh - CLIP RN101's image tower, forward + backward to the input image, batch 4 at 224,
# random weights: the C tower (build/bench/resnet_bench, common/clip_resnet.c) side by side with its
# PyTorch peer (bench/torch_resnet.py) on the same thread count (CLIP_THREADS, default 2):
#   torch          as a user runs it (defaults)
#   torch-tuned    OMP_WAIT_POLICY=PASSIVE, glibc malloc kept from returning memory (as bench/clip.sh)
#   torch-tuned-cl the same with the model and input in torch.channels_last (the usual CPU tuning for
#                  convolutions)
# and, on a CPU with AVX-512, c-avx512 and torch-tuned-avx512 on OpenBLAS's AVX-512 kernels.
# The configurations run in alternating rounds (C, torch, tuned, tuned-cl; again ...), each process timing
# REPS iterations after one warm-up, so a machine whose load changes during the run affects all alike; the
# table gives the medians over the rounds' medians, the peak RSS, the load average before and after, and
# the C tower's speed-up over each, in wall time and in process CPU time (all threads; on a loaded machine
# the wall time mostly measures the other processes, the CPU time the work done, spin-waiting included).
#   sh bench/resnet.sh [rounds] [reps]      (defaults 3 and 2; make bench-resnet RESNET_ARGS="3 2")
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
ROUNDS=${1:-3}
REPS=${2:-2}
THREADS=${CLIP_THREADS:-2}
export CLIP_THREADS="$THREADS"
OUT=$BUILD/bench
mkdir -p "$OUT"
. "$ROOT/bench/lib.sh"
bin=$(bench_bin resnet_bench)
py=$(torch_python)
TUNE="OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000"
avx=; grep -q avx512f /proc/cpuinfo 2>/dev/null && avx=1
load0=$(load)
# TABLE_ONLY=1: the table from the rounds already in build/bench/resnet-rounds.txt (e.g. an interrupted run)
[ "${TABLE_ONLY:-0}" = 1 ] && ROUNDS=0 || echo "# load $load0" >"$OUT/resnet-rounds.txt"
r=1
while [ "$r" -le "$ROUNDS" ]; do
  "$bin" "$REPS" 4 | sed "s/^/c /" >>"$OUT/resnet-rounds.txt"
  [ -n "$avx" ] && INVCLIP_BLAS_CORETYPE=auto "$bin" "$REPS" 4 | sed "s/^/c-avx512 /" >>"$OUT/resnet-rounds.txt"
  if [ -n "$py" ]; then
    "$py" "$ROOT/bench/torch_resnet.py" "$REPS" 4 | sed "s/^/torch /" >>"$OUT/resnet-rounds.txt"
    env $TUNE "$py" "$ROOT/bench/torch_resnet.py" "$REPS" 4 | sed "s/^/torch-tuned /" >>"$OUT/resnet-rounds.txt"
    env $TUNE "$py" "$ROOT/bench/torch_resnet.py" "$REPS" 4 channels_last | sed "s/^/torch-tuned-cl /" \
      >>"$OUT/resnet-rounds.txt"
    [ -n "$avx" ] && env $TUNE OPENBLAS_CORETYPE=SkylakeX "$py" "$ROOT/bench/torch_resnet.py" "$REPS" 4 |
      sed "s/^/torch-tuned-avx512 /" >>"$OUT/resnet-rounds.txt"
  fi
  r=$((r + 1))
done
load1=$(load)
[ "$ROUNDS" -gt 0 ] && echo "# load $load1" >>"$OUT/resnet-rounds.txt"
load0=$(sed -n 's/^# load //p' "$OUT/resnet-rounds.txt" | head -1)
load1=$(sed -n 's/^# load //p' "$OUT/resnet-rounds.txt" | sed -n 2p)
[ -n "$load1" ] || load1="n/a (interrupted; now $(load))"
tv=n/a
[ -n "$py" ] && tv=$("$py" -c 'import torch; print(torch.__version__)')
echo "RN101 image tower, forward + backward to the input, batch 4 at 224, $THREADS threads; $(grep -c '^c rn101_fwdbwd_b' "$OUT/resnet-rounds.txt") alternating"
echo "rounds, each process timing its iterations after a warm-up; medians over all; PyTorch $tv."
echo "Load average before: $load0; after: $load1 ($(nproc) cores). OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} in the"
echo "environment; the -avx512 rows ask for OpenBLAS's AVX-512 kernels (C: INVCLIP_BLAS_CORETYPE=auto, pool.h;"
echo "PyTorch: OPENBLAS_CORETYPE=SkylakeX, for the products it sends to OpenBLAS)."
echo
echo "Speed-ups: a row's time over the C tower's on the same OpenBLAS kernels (c for the plain rows, c-avx512 for"
echo "the -avx512 rows)."
echo
echo "| implementation | fwd+bwd (s) | fwd (s) | fwd+bwd CPU (s) | peak RSS (MB) | C speed-up (fwd+bwd) | C speed-up (CPU) |"
echo "|---|---|---|---|---|---|---|"
awk '
  function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                                   return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  $2 ~ /^rn101_fwdbwd_b/ { fb[$1, ++nfb[$1]] = $3; seen[$1] = 1; if (!($1 in ord)) ord[$1] = ++no }
  $2 ~ /^rn101_fwd_b/ { fw[$1, ++nfw[$1]] = $3 }
  $2 ~ /^rn101_fwdbwd_cpu/ { fc[$1, ++nfc[$1]] = $3 }
  /^#/ { next }
  $2 == "peak_rss" { if ($3 > rss[$1]) rss[$1] = $3 }
  END {
    for (k = 1; k <= no; k++) for (n in ord) if (ord[n] == k) name[k] = n
    for (k = 1; k <= no; k++) { n = name[k]
      delete a; for (i = 1; i <= nfb[n]; i++) a[i] = fb[n, i]; mfb[n] = med(a, nfb[n])
      delete a; for (i = 1; i <= nfw[n]; i++) a[i] = fw[n, i]; mfw[n] = med(a, nfw[n])
      delete a; for (i = 1; i <= nfc[n]; i++) a[i] = fc[n, i]; mfc[n] = med(a, nfc[n]) }
    for (k = 1; k <= no; k++) { n = name[k]
      ref = n ~ /avx512/ ? "c-avx512" : "c"
      printf "| %s | %.2f | %.2f | %.2f | %.0f | %s | %s |\n", n, mfb[n], mfw[n], mfc[n], rss[n] / 1024,
        n == ref ? "" : sprintf("%.2f×", mfb[n] / mfb[ref]), n == ref ? "" : sprintf("%.2f×", mfc[n] / mfc[ref]) }
  }' "$OUT/resnet-rounds.txt"
