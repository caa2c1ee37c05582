#!/bin/sh
# bench/render.sh - the renderer benchmark: softline, splat (and bezier when
# built) through the plugin ABI, side by side with the study's renderer in
# PyTorch on CPU (bench/torch_render.py), on the same inputs.
#
#   sh bench/render.sh            (after `make`; prints a markdown table)
#
# Scenes (224 x 224, width 3): the first $LIMIT shipped fish drawings fitted
# with pad 10 (per drawing: median of the repetitions; the table gives the
# median over drawings), an 8-stroke 100-point drawing, and 8 cubic Beziers
# (the study's Bezier path in PyTorch: 50 samples per cubic, then splats).
# Ratios are PyTorch time / our time on the same scene, forward+backward.
# Environment: BUILD (build), LIMIT (16), REPS (15, C), TORCH_REPS (3),
# PYTHON (/usr/bin/python3; the PyTorch rows are skipped when it has no torch),
# DATA (data/quickdraw/simplified/fish.ndjson.gz).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
LIMIT=${LIMIT:-16}
REPS=${REPS:-15}
TORCH_REPS=${TORCH_REPS:-3}
PYTHON=${PYTHON:-/usr/bin/python3}
DATA=${DATA:-data/quickdraw/simplified/fish.ndjson.gz}
PLUG="$BUILD/plugins"
for p in softline splat; do
  [ -f "$PLUG/$p.so" ] || { echo "render.sh: $PLUG/$p.so missing; run make first" >&2; exit 4; }
done
# the driver is built by the Makefile with everything else in bench/ (make bench)
[ -x "$BUILD/bench/render_bench" ] || { echo "render.sh: $BUILD/bench/render_bench missing; run make bench" >&2; exit 4; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
specs="$PLUG/softline.so $PLUG/splat.so"
[ -f "$PLUG/bezier.so" ] && specs="$specs $PLUG/bezier.so"
# shellcheck disable=SC2086
"$BUILD/bench/render_bench" --limit "$LIMIT" --reps "$REPS" "$DATA" $specs >"$T/c.tsv"
if "$PYTHON" -c 'import torch' 2>/dev/null; then
  "$PYTHON" bench/torch_render.py --limit "$LIMIT" --reps "$TORCH_REPS" "$DATA" >"$T/t.tsv"
  # tuned: on this VM the first touch of every fresh page costs ~20 us, and the
  # dense renderer allocates ~200 MB per call; keeping freed memory avoids it
  OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000 \
    "$PYTHON" bench/torch_render.py --limit "$LIMIT" --reps "$TORCH_REPS" "$DATA" >"$T/tt.tsv"
else
  echo "render.sh: $PYTHON has no torch; PyTorch rows skipped" >&2
  : >"$T/t.tsv"
  : >"$T/tt.tsv"
fi
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
echo "Renderer benchmark, $(date -u +%Y-%m-%d), $(nproc) cores, $cpu; 224x224, width 3."
echo "Times in ms: per scene the median of repetitions (fish: median over $LIMIT drawings of per-drawing medians)."
echo "torch = the study's splat renderer in PyTorch $("$PYTHON" -c 'import torch;print(torch.__version__)' 2>/dev/null || echo '-'), 2 threads, dense, chunks of 1000 points."
echo
echo "Columns: forward+backward ms of each renderer on the same scene; \"splat vs splat\" compares the same renderer"
echo "(the study's splats) in C and in PyTorch tuned; \"softline vs splat\" compares our default renderer with the"
echo "study's PyTorch one (different renderers drawing the same strokes: what a user switching gains)."
echo "PyTorch tuned = OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1e12; the default figures are under the table."
echo
echo "| scene | points | PyTorch splat, tuned | C splat | splat vs splat | C softline | softline vs PyTorch splat | C bezier |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
awk -F'\t' '
  FILENAME == ARGV[1] { tt[$2] = $6; next }
  { v[$1 "/" $2] = $6; pts[$2] = pts[$2] ? pts[$2] : $4; if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
  function ms(x) { return x == "" ? "-" : sprintf("%.3f", x) }
  function r(a, b) { return (a == "" || b == "" || b <= 0) ? "-" : sprintf("%.0fx", a / b) }
  END {
    for (i = 1; i <= n; i++) {
      sc = order[i]; t = (sc in tt) ? tt[sc] : ""
      sp = v["splat/" sc]; so = v["softline/" sc]; bz = v["bezier/" sc]
      printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", sc, pts[sc], t == "" ? "-" : sprintf("%.1f", t),
        ms(sp), r(t, sp), ms(so), r(t, so), ms(bz)
    }
  }
' "$T/tt.tsv" "$T/c.tsv"
echo
echo "Forward alone (ms):"
awk -F'\t' '{ printf "%s%s %s %.3f", NR > 1 ? "; " : "", $1, $2, $5 } END { if (NR) print "" }' "$T/c.tsv" "$T/tt.tsv"
echo
echo "PyTorch as a user runs it (default environment; fwd / fwd+bwd ms):"
awk -F'\t' '{ printf "%s%s %.1f / %.1f", NR > 1 ? "; " : "", $2, $5, $6 } END { if (NR) print ""; else print "n/a" }' "$T/t.tsv"
