#!/bin/sh
# bench/run.sh - the project's benchmarks (`make bench`), each run side by side
# with the peer a user would otherwise use.  Results go to stdout as markdown
# table rows; docs/benchmarks.md keeps the numbers of a recorded run.
#
# Layout: helpers first, then one bench_<name> function per section and the
# list of sections at the bottom.  To add a benchmark, add a function and its
# name to SECTIONS.  Generated inputs live in build/bench/ (never committed).
# Installs nothing: max RSS comes from /usr/bin/time -v when it exists.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/bin
B=$ROOT/build/bench
mkdir -p "$B"
PY=${PYTHON:-python3}

# run_timed OUT CMD... : runs CMD with stdout to OUT; sets SECS and RSS_MB
run_timed() {
  out=$1; shift
  t0=$(date +%s.%N)
  if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then
    /usr/bin/time -v -o "$B/time.txt" "$@" >"$out"
    RSS_MB=$(awk -F: '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$B/time.txt")
  else
    "$@" >"$out"
    RSS_MB=n/a
  fi
  t1=$(date +%s.%N)
  SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
}

# machine line for the report
machine() {
  cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)
  echo "date $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m), $cpu"
}

# ---------------------------------------------------------------------------
# qd-extract: filter two words out of raw QuickDraw ndjson and fit them into a
# 224 canvas, vs bench/qd_extract.py (json module, same filter, fit, output).
# Input: the shipped raw data (10 words, 20% fish+cat) decompressed and
# repeated to ~100 MB and ~200 MB; memory must not grow with the input.
bench_qd_extract() {
  one=$B/raw-once.ndjson
  [ -s "$one" ] || zcat "$ROOT"/data/quickdraw/raw/*.ndjson.gz >"$one"
  size=$(wc -c <"$one")
  reps=$(( (100000000 + size - 1) / size ))
  for mb in 100 200; do
    f=$B/raw-${mb}M.ndjson
    want=$(( size * reps * mb / 100 ))
    if [ ! -f "$f" ] || [ "$(wc -c <"$f")" -ne "$want" ]; then
      : >"$f"
      i=0; while [ $i -lt $(( reps * mb / 100 )) ]; do cat "$one" >>"$f"; i=$((i + 1)); done
    fi
  done
  echo "## qd-extract --word fish,cat --fit 224 ($(machine))"
  echo
  echo "| program | input | records in | records out | seconds | records/s | MB/s | max RSS MB |"
  echo "|---|---|---|---|---|---|---|---|"
  # --no-prefilter parses and validates every line, as the Python peer does (like with like); the
  # default skips unparsed the lines a byte search shows cannot match (what a user gets)
  for mb in 100 200; do
    f=$B/raw-${mb}M.ndjson
    bytes=$(wc -c <"$f"); nin=$(wc -l <"$f" | tr -d ' ')
    cat "$f" >/dev/null # warm the page cache for both programs
    for mode in no-prefilter default; do
      if [ $mode = default ]; then set -- ; else set -- --no-prefilter; fi
      run_timed "$B/c-$mb-$mode.out" "$BIN/qd-extract" "$@" --word fish,cat --fit 224 "$f"
      [ $mode = default ] && eval "cd_secs_$mb=$SECS" || eval "c_secs_$mb=$SECS"
      nout=$(wc -l <"$B/c-$mb-$mode.out" | tr -d ' ')
      awk -v p="qd-extract (C, $mode)" -v mb="$bytes" -v n="$nin" -v o="$nout" -v s="$SECS" -v r="$RSS_MB" \
        'BEGIN {printf "| %s | %.1f MB | %d | %d | %.3f | %.0f | %.1f | %s |\n", p, mb / 1e6, n, o, s, n / s, mb / 1e6 / s, r}'
    done
    cmp -s "$B/c-$mb-no-prefilter.out" "$B/c-$mb-default.out" || { echo "run.sh: prefilter changed the output" >&2; exit 1; }
    cp "$B/c-$mb-default.out" "$B/c-$mb.out"
  done
  f=$B/raw-100M.ndjson
  bytes=$(wc -c <"$f"); nin=$(wc -l <"$f" | tr -d ' ')
  run_timed "$B/py-100.out" "$PY" "$ROOT/bench/qd_extract.py" --word fish,cat --fit 224 "$f"
  nout=$(wc -l <"$B/py-100.out" | tr -d ' ')
  awk -v p="bench/qd_extract.py (Python json)" -v mb="$bytes" -v n="$nin" -v o="$nout" -v s="$SECS" -v r="$RSS_MB" \
    'BEGIN {printf "| %s | %.1f MB | %d | %d | %.3f | %.0f | %.1f | %s |\n", p, mb / 1e6, n, o, s, n / s, mb / 1e6 / s, r}'
  echo
  # same records, same numbers (the Python peer spells 224 as 224.0)
  "$PY" - "$B/c-100.out" "$B/py-100.out" <<'EOF'
import json, sys
a, b = open(sys.argv[1]), open(sys.argv[2])
n = worst = 0
for la, lb in zip(a, b):
    ra, rb = json.loads(la), json.loads(lb)
    assert ra["key_id"] == rb["key_id"] and ra["canvas"] == rb["canvas"], "different records"
    for sa, sb in zip(ra["drawing"], rb["drawing"]):
        for ca, cb in zip(sa, sb):
            assert len(ca) == len(cb)
            worst = max([worst] + [abs(x - y) for x, y in zip(ca, cb)])
    n += 1
assert a.readline() == "" and b.readline() == "", "different record counts"
print("outputs agree: %d records, largest coordinate difference %.3g" % (n, worst))
EOF
  awk -v c="$c_secs_100" -v d="$cd_secs_100" -v p="$SECS" \
    'BEGIN {printf "speed-up over Python at 100 MB: %.1fx parsing every line (like with like), %.1fx with the default prefilter\n", p / c, p / d}'
  echo
}

# ---------------------------------------------------------------------------
# renderers: softline, splat, bezier vs the study's PyTorch splat renderer
bench_render() { sh "$ROOT/bench/render.sh"; echo; }

# CLIP ViT-B/32 vs PyTorch (default and tuned environment)
bench_clip() { [ -f "$ROOT/bench/clip.sh" ] && sh "$ROOT/bench/clip.sh"; echo; }

# where the threads go: our pool over single-threaded OpenBLAS, OpenBLAS's own
# threads, or both (bench/blas_bench.c; BLAS_THREADS, default 2)
bench_blas() {
  out=$B/blas.txt
  load0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)
  "${BUILD:-$ROOT/build}/bench/blas_bench" "${REPS:-9}" >"$out"
  load1=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)
  echo "## One pool, single-threaded OpenBLAS"
  echo
  echo "$(machine); $(awk '$1 == "threads" { print $2 }' "$out") threads; load average before $load0, after $load1"
  echo
  echo "| ViT-B/32 | pool + OpenBLAS 1 thread | OpenBLAS threads, no pool | both |"
  echo "|---|---|---|---|"
  for k in products_fwd products_bwd clip_image_forward_b1 clip_image_forward_b4 clip_image_fwdbwd_b4; do
    awk -v k="$k" '$1 == k "_pool" { a = $2 } $1 == k "_openblas" { b = $2 } $1 == k "_both" { c = $2 }
      END { printf "| %s | %s s | %s s | %s s |\n", k, a, b, c }' "$out"
  done
  echo
}

# the machine's float32 and bfloat16 peaks, and the weight products against them
# (bench/gemm_bench.c; BENCH_THREADS for the chain, default 2)
bench_gemm() {
  out=$B/gemm.txt
  load0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)
  "${BUILD:-$ROOT/build}/bench/gemm_bench" "${REPS:-5}" >"$out"
  load1=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)
  v() { awk -v k="$1" '$1 == k { print $2 }' "$out"; }
  echo "## Peaks and weight products (GFLOP/s)"
  echo
  echo "$(machine); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; load average before $load0, after $load1"
  echo
  echo "One core: float32 FMA peak $(v peak_fp32_core) (AVX-512), $(v peak_avx2_core) (AVX2; $(v chain_threads) cores $(v peak_avx2_all)); bfloat16 VDPBF16PS peak $(v peak_bf16_core)."
  echo
  echo "| ViT-B/32 product, 200 rows, one thread, warm | cblas_sgemm | nn_f32 kernel (AVX2, packed) | nn_bf16 kernel |"
  echo "|---|---|---|---|"
  for k in qkv out fc proj; do echo "| $k | $(v "sgemm_$k") | $(v "f32p_$k") | $(v "bf16_$k") |"; done
  echo
  echo "The 48 products of a batch-4 forward and their backward to the input, cold weights, $(v chain_threads) threads:"
  echo "float32 (linear_forward/backward on OpenBLAS) $(v chain_f32), float32 packed (linear_forward_f32p/backward_f32p) $(v chain_f32p), bfloat16 (linear_forward_bf16/backward_bf16) $(v chain_bf16)."
  echo
}

# the training core (AdamW, clipping, NaN scan, checkpoints) vs PyTorch
bench_train() { sh "$ROOT/bench/train.sh"; echo; }

# the CNN kernels (conv2d / conv_transpose2d fwd+bwd at U-Net shapes) vs PyTorch
bench_conv() { sh "$ROOT/bench/conv.sh"; echo; }

# one training step of clip-train's CLIP vs the same step in PyTorch (issue 9);
# CLIP_TRAIN_ARGS: clip_train_bench options (config, batch, --steps), default the proposed shipped config
bench_clip_train() { sh "$ROOT/bench/clip_train.sh" ${CLIP_TRAIN_ARGS:-}; echo; }

# one optimisation step of bin/optimize vs the study's step in PyTorch, the shipped model's
# 300-step run and the 500-step reference anchor (issue 10; REPS, PARTS: see bench/optimize.sh)
bench_optimize() { sh "$ROOT/bench/optimize.sh"; echo; }

SECTIONS=${SECTIONS:-"qd_extract render clip blas gemm train conv clip_train optimize"}
for s in $SECTIONS; do "bench_$s"; done
