#!/bin/sh
# pipelines/enhance.sh - make sketches better: reads sketch NDJSON on stdin (raw or simplified QuickDraw
# coordinates, any of the 345 words), writes each record enhanced on stdout: "drawing" replaced, the
# drawing it started from kept as "initial" (both in the output's frame, given by "canvas"), every other
# field passed through.  Uses only the shipped models.  The enhancers and why the default is the default:
# docs/enhancement-study.md (the enhancement study, issue 12).
#
#   sh pipelines/enhance.sh < in.ndjson > out.ndjson          (make enhance IN=in.ndjson OUT=out.ndjson)
#   METHOD=text sh pipelines/enhance.sh < in.ndjson > out.ndjson
#
# Environment (all optional):
#   METHOD   best (default: the study's best enhancer, = fair) | text | prior | fair | unet | unet-fair | none
#              text        optimize with the study's text loss: CLIP similarity of 4 augmented views to the
#                          study's five templates of "a perfect sketch of a <word>" (raw-embedding ensemble) x3,
#                          structure 0.1, stroke-reg 0.01, TV 0.0005, least-squares Bezier strokes, lr 2.5
#                          warmup-cosine, gradient noise 0.3 (the study's text-guided recipe, its bugs fixed)
#              prior       optimize with our sketch-quality prior `fair` (docs/losses.md; settings FAIR, tuned in
#                          the study: snapped ends, closed loops, straightened lines, robust smoothing) held near
#                          the drawing by `structure` (STRUCT_W), plus CLIP text similarity to the record's word
#                          (TEXT_W, the zero-shot templates); polylines, Adam lr 0.5 cosine to 0.01, 150 steps
#              fair        the same without CLIP (TEXT_W=0): no model at all, 0.02-0.04 s a drawing (docs/enhancement-study.md)
#              unet        the shipped U-Net (data/models/unet-small, 64 px) then raster-to-vector
#              unet-fair   the U-Net's strokes, then `fair` (the input stays "initial")
#              none        the drawing unchanged (the study's baseline; same output fields)
#   STEPS    optimisation steps (default: the method's: text 200, prior 150); TEXT_STEPS for text alone
#   TEXT_W   weight of the CLIP text term of `prior` (default 0.3; 0 = none)
#   STRUCT_W weight of the structure term of `prior`/`fair` (default 0.5)
#   FAIR     the `fair` loss's keys (default bending=0,snap=1,close=1,straight=0.5,smooth=5,smooth_scale=3)
#   PRIOR_SCHEDULE  lr schedule of `prior`/`fair` (default cosine)
#   SEED     optimiser seed (default 1); JOBS records at once (default 2); THREADS optimize -j (default 1)
#   CLIP     CLIP weights (default: the shipped sketch CLIP); BIN (bin)
# Exit status: that of the failing tool (docs/optimize.md, docs/unet.md); a record that cannot be enhanced
# (no points, no ink after the U-Net) stops the run naming it unless KEEP_GOING=1, which skips it.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$here/bin}
METHOD=${METHOD:-best}
SEED=${SEED:-1}
JOBS=${JOBS:-2}
THREADS=${THREADS:-1}
TEXT_W=${TEXT_W:-0.3}
FAIR=${FAIR-bending=0,snap=1,close=1,straight=0.5,smooth=5,smooth_scale=3}
STRUCT_W=${STRUCT_W:-0.5}
UNET=${UNET:-$here/data/models/unet-small/model.safetensors}
edie() { echo "enhance: $*" >&2; exit 2; }
for v in SEED JOBS THREADS; do
  eval "x=\$$v"
  case $x in '' | *[!0-9]*) edie "$v='$x' is not a non-negative integer" ;; esac
done
[ -x "$BIN/optimize" ] || edie "no $BIN/optimize: run make first"
MODEL_ARGS=
[ -n "${CLIP:-}" ] && MODEL_ARGS="--model $CLIP"
KG=
[ "${KEEP_GOING:-0}" = 1 ] && KG=--keep-going
[ "$METHOD" = best ] && METHOD=fair

opt() { # optimize with the common options
  # shellcheck disable=SC2086
  "$BIN/optimize" $MODEL_ARGS $KG -j "$THREADS" --jobs "$JOBS" --seed "$SEED" --history none "$@"
}
none() { opt --steps 0 --model none --loss structure; }
text() {
  # the Bezier renderer starts from a least-squares fit of each stroke: keep the input itself as "initial"
  none | opt --keep-initial --steps "${TEXT_STEPS:-${STEPS:-200}}" --renderer bezier:samples=50 --width 3 \
    --augment clipaug:preset=doodlebot-optimizer,nviews=4 --lr 2.5 --lr-schedule warmup_cosine --warmup 20 \
    --min-lr 0.5 --noise 0.3 --noise-decay 0.995 --clip-grad 1 \
    --loss "clip-text:prompt=a perfect sketch of a {word},templates=study,ensemble=study,weight=3,as=semantic" \
    --loss structure:weight=0.1 --loss stroke-reg:weight=0.01,bezier_samples=20 --loss tv:weight=0.0005
}
prior() {
  set -- --loss "fair${FAIR:+:$FAIR}" --loss "structure:weight=$STRUCT_W"
  if awk "BEGIN{exit !($TEXT_W > 0)}"; then
    set -- "$@" --loss "clip-text:prompt={word},templates=zeroshot,weight=$TEXT_W"
  else
    MODEL_ARGS="--model none"
  fi
  # shellcheck disable=SC2086
  opt --steps "${STEPS:-150}" --renderer softline --width 3 --lr 0.5 --lr-schedule "${PRIOR_SCHEDULE:-cosine}" --min-lr 0.01 ${PRIOR_EXTRA:-} "$@"
}
unet() {
  # shellcheck disable=SC2086
  "$BIN/unet-train" --apply "$UNET" --records --vectorize -j "$THREADS" $KG
}

case $METHOD in
  text) text ;;
  prior) prior ;;
  unet) unet ;;
  fair) TEXT_W=0 prior ;;
  unet-fair)
    # the U-Net's records carry the input as "initial"; --keep-initial keeps it through the prior
    unet | TEXT_W=0 PRIOR_EXTRA=--keep-initial prior ;;
  none) none ;;
  *) edie "METHOD='$METHOD': one of best, text, prior, fair, unet, unet-fair, none" ;;
esac
