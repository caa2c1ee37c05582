#!/bin/sh
# pipelines/fair.sh - the CLIP-free sketch-quality prior `fair` (docs/losses.md) on real drawings:
# bending energy, end snapping, closing nearly closed strokes, straightening nearly straight ones, held
# near the drawing by the structure term (weight 0.5; at 0.05 the bending term grows tiny strokes such as eye dots into blobs: it is a curvature energy, which falls as a stroke grows); no CLIP model at all.  One drawing of each of WORDS
# (default cat, fish, house, bicycle, tree, face), 150 steps, Adam lr 0.5, polylines.
#
#   sh pipelines/fair.sh          (make fair)
# Environment: see pipelines/recipe.sh (STEPS default 150, SEED); WORDS=w,w,...
RECIPE=fair
TITLE="the CLIP-free prior on real drawings"
STEPS=${STEPS:-150}
N=1
. "$(dirname "$0")/recipe.sh"
WORDS=${WORDS:-cat,fish,house,bicycle,tree,face}
[ "${REPORT_ONLY:-0}" = 1 ] || : >"$OUT/sketches.ndjson"
for w in $(printf '%s' "$WORDS" | tr ',' ' '); do
  [ "${REPORT_ONLY:-0}" = 1 ] && break
  [ -f "$DATA/simplified/$w.ndjson.gz" ] || rdie "no drawings of '$w'"
  "$BIN/qd-extract" --key-file "$DATA/val-keys.txt" --sample 1 --seed "$SEED" "$DATA/simplified/$w.ndjson.gz" \
    >>"$OUT/sketches.ndjson"
done
DRAWINGS="one of each of $WORDS"
MODEL_ARGS="--model none"
MODEL_NAME=none
run fair --renderer softline --width 3 --lr 0.5 --lr-schedule constant \
  --loss fair --loss structure:weight=0.5
report fair
