#!/bin/sh
# pipelines/reference-anchor.sh - the study's reference-anchoring experiment (docs/study.md 4.8,
# 7.2): pull a QuickDraw fish towards the picture data/reference/perfectFish.jpeg (CLIP cosine of the
# un-augmented render and the picture, squash-resized), anchored to its own strokes by the structure
# loss (mean over strokes of per-stroke MSE, mode=anchor) at weights 0.0, 0.3 and 0.7; Adam lr 0.5
# constant, gradient norm clipped to 1, 500 steps, polylines (softline renderer, width 3), no
# augmentation, no text.  The study reported 66.6% -> 88.0 / 70.7 / 68.3% on one fish with OpenAI's
# ViT-B/32.
#
#   sh pipelines/reference-anchor.sh          (make reference-anchor)
#   CLIP=ViT-B-32.pt N=1 sh pipelines/reference-anchor.sh
# Environment: see pipelines/recipe.sh (STEPS default 500; WEIGHTS default "0.0 0.3 0.7").
RECIPE=reference-anchor
TITLE="towards perfectFish.jpeg, structure weight 0.0 / 0.3 / 0.7"
STEPS=${STEPS:-500}
. "$(dirname "$0")/recipe.sh"
WEIGHTS=${WEIGHTS:-0.0 0.3 0.7}
pick_drawings
runs=
for w in $WEIGHTS; do
  run "struct$w" --renderer softline --width 3 --lr 0.5 --lr-schedule constant --clip-grad 1 \
    --loss "clip-image:image=data/reference/perfectFish.jpeg,preprocess=squash,as=reference" \
    --loss "structure:mode=anchor,weight=$w"
  runs="$runs struct$w"
done
# shellcheck disable=SC2086
report $runs
