#!/bin/sh
# pipelines/demo.sh - `make demo`: the main job on the shipped data.
#
# Take 16 real QuickDraw fish, fit them to the 224 canvas, degrade them with
# the realistic degradation mix, and render the degraded drawings and their
# clean targets as PNG files; draw the clean fish through every differentiable
# renderer: softline (ours), the study's splat renderer (dotted lines), bezier
# (least-squares curves) and bezier with the study's lossy polyline->Bezier
# conversion (the collapse its text-guided experiment started from); then
# optimise four of the degraded fish with the shipped sketch CLIP ("a fish"),
# held to their strokes by the structure loss and smoothed by the CLIP-free
# prior fair, 100 steps each, and render them before and after.  The U-Net
# enhancer joins when it is trained.  Writes to outputs/demo/.
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
OUT=${OUT:-outputs/demo}
mkdir -p "$OUT"
echo "demo: 16 fish -> $OUT/fish.ndjson" >&2
"$BIN/qd-extract" --word fish --limit 16 --fit 224 data/quickdraw/simplified/fish.ndjson.gz \
  > "$OUT/fish.ndjson"
echo "demo: degrade (tremor | dropout | overshoot | overdraw | affine | elastic, seed 1) -> $OUT/pairs.ndjson" >&2
"$BIN/qd-degrade" --seed 1 \
  --mix tremor --mix dropout --mix overshoot --mix overdraw --mix affine --mix elastic \
  < "$OUT/fish.ndjson" > "$OUT/pairs.ndjson"
echo "demo: render degraded drawings -> $OUT/degraded/, clean targets -> $OUT/clean/" >&2
"$BIN/rasterize" --out "$OUT/degraded" < "$OUT/pairs.ndjson"
"$BIN/rasterize" --field target --out "$OUT/clean" < "$OUT/pairs.ndjson"
for r in softline splat bezier bezier:fit=study; do
  d=$OUT/renderers/$(echo "$r" | tr ':=' '__')
  echo "demo: render the clean fish with --renderer $r -> $d/" >&2
  "$BIN/rasterize" --renderer "$r" --width 3 --out "$d" < "$OUT/fish.ndjson"
done
echo "demo: optimise 4 degraded fish with the shipped CLIP -> $OUT/optimized/" >&2
head -4 "$OUT/pairs.ndjson" | "$BIN/optimize" --steps 100 --lr 0.5 --augment clipaug \
  --loss clip-text:prompt=fish --loss structure:weight=0.3 --loss fair:weight=0.1 \
  --summary "$OUT/optimized.tsv" > "$OUT/optimized.ndjson"
rm -rf "$OUT/optimized"
"$BIN/rasterize" --field initial --out "$OUT/optimized/before" < "$OUT/optimized.ndjson"
"$BIN/rasterize" --out "$OUT/optimized/after" < "$OUT/optimized.ndjson"
echo "demo: done: $(ls "$OUT/degraded" | wc -l) degraded/clean pairs, 4 renderers and 4 optimised fish in $OUT" >&2
