#!/bin/sh
# pipelines/text-guided.sh - the study's text-guided refinement (docs/study.md 7.1, 4.7): a QuickDraw
# fish towards "a perfect sketch of a fish" with the settings of the run behind its 23.8% -> 24.8%:
# 200 steps, Adam lr 2.5, warmup_cosine (20 warmup steps, min lr 0.5), gradient noise 0.3 decaying
# 0.995, the study's five prompt templates averaged as raw embeddings (its doubled article kept:
# "a a perfect sketch of a fish"), semantic weight 3, photo-exemplar loss 0.5 (the five reference
# pictures, mean), structure 0.1 on the control points, stroke regulariser 0.01 (cubics sampled at 20),
# the study's vertical-only TV 0.0005, four augmented views (doodleBot optimiser preset), every stroke
# converted to ONE cubic the study's lossy way (bezier:fit=study), width 3.
# A second run, "fixed", is the same with our fixes: least-squares Bezier fitting, no doubled article,
# both-direction TV.
#
#   sh pipelines/text-guided.sh               (make text-guided)
#   CLIP=ViT-B-32.pt sh pipelines/text-guided.sh
# Environment: see pipelines/recipe.sh (STEPS default 200; PROMPT default "a perfect sketch of a fish").
RECIPE=text-guided
TITLE="towards 'a perfect sketch of a fish'"
STEPS=${STEPS:-200}
. "$(dirname "$0")/recipe.sh"
PROMPT=${PROMPT:-a perfect sketch of a fish}
case $PROMPT in *,*) rdie "PROMPT may not contain a comma (plugin parameters are comma-separated)" ;; esac
pick_drawings
# the exemplar photos, embedded by the same model (squash-resized, as the study's image path)
# shellcheck disable=SC2086
[ "${REPORT_ONLY:-0}" = 1 ] || "$BIN/clip-embed" $MODEL_ARGS --preprocess squash data/reference/perfectFish.jpeg data/reference/Fish2.jpg \
  data/reference/fish3.jpeg data/reference/fish4.jpeg data/reference/fish5.jpeg >"$OUT/exemplars.ndjson"
common="--augment clipaug:preset=doodlebot-optimizer,nviews=4 --width 3 --lr 2.5 --lr-schedule warmup_cosine
  --warmup 20 --min-lr 0.5 --noise 0.3 --noise-decay 0.995 --clip-grad 1
  --loss exemplar:embeddings=$OUT/exemplars.ndjson,mode=mean,weight=0.5
  --loss structure:weight=0.1
  --loss stroke-reg:weight=0.01,bezier_samples=20"
# the text loss first: its similarity is the one the history and the table report
# shellcheck disable=SC2086
run study --renderer bezier:fit=study,samples=50 \
  --loss "clip-text:prompt=$PROMPT,templates=study,ensemble=study,article=study,weight=3,as=semantic" \
  $common --loss tv:study=true,weight=0.0005
# shellcheck disable=SC2086
run fixed --renderer bezier:samples=50 \
  --loss "clip-text:prompt=$PROMPT,templates=study,ensemble=study,weight=3,as=semantic" \
  $common --loss tv:weight=0.0005
report study fixed
