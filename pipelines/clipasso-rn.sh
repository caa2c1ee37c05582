#!/bin/sh
# pipelines/clipasso-rn.sh - CLIPasso's object sketching with its shipped default loss (docs/study.md "Intermediate-layer loss",
# "Official CLIPasso loop"): the geometric loss (plugins/geometric.c: L2 of CLIP RN101's layer2 and layer3 feature maps + 0.1 *
# (1 - cos) of its attention-pooled embeddings) towards a picture, with ViT-B/32 placing the first strokes
# (the saliency map, docs/saliency.md).  16 one-cubic strokes, Adam lr 1 constant, no clipping, an evaluation
# every 10 steps with early stopping, 3 seeds keeping the best, 2001 steps (run_object_sketching.py).
#
#   CLIP_RN=RN101.pt CLIP=ViT-B-32.pt sh pipelines/clipasso-rn.sh     (make clipasso-rn CLIP_RN=.. CLIP=..)
#   sh pipelines/clipasso-rn.sh      without CLIP_RN: the run's model alone (the shipped sketch CLIP: a ViT,
#                                    whose blocks L/2 and 3L/4 stand in for layer2 and layer3)
# Environment: CLIP_RN (the geometric loss's CLIP: OpenAI's RN101.pt or RN50.pt, or an open_clip ResNet
# safetensors; you bring it), TARGET (the picture; default data/reference/perfectFish.jpeg), and those of
# pipelines/recipe.sh (CLIP: the run's model, used for the saliency map; STEPS default 2001; N default 1).
# Differences from CLIPasso: it augments target and sketch together (4 views + the pair itself) before both
# losses; a fixed target cannot follow a view's transform, so here both terms compare the un-augmented
# render with the target (no augmentation); strokes are 3 px wide on the canvas (CLIPasso: 1.5 at 224).
RECIPE=clipasso-rn
STEPS=${STEPS:-2001}
N=${N:-1}
TARGET=${TARGET:-data/reference/perfectFish.jpeg}
GEO="geometric:image=$TARGET"
if [ -n "${CLIP_RN:-}" ]; then
  [ -r "$CLIP_RN" ] || { echo "$RECIPE: CLIP_RN=$CLIP_RN: cannot read the weights" >&2; exit 2; }
  GEO="$GEO,model=$CLIP_RN"
  TITLE="CLIPasso's object sketching: geometric loss on \`$CLIP_RN\`, saliency from the run's model"
else
  TITLE="CLIPasso's object sketching: geometric loss and saliency on the run's model (no CLIP_RN)"
fi
. "$(dirname "$0")/recipe.sh"
[ -r "$TARGET" ] || rdie "TARGET=$TARGET: cannot read the picture"
pick_drawings
run object --init "saliency:image=$TARGET,strokes=16,points=4" --renderer bezier:samples=50 --width 3 \
  --lr 1 --lr-schedule constant --clip-grad 0 \
  --eval-every 10 --keep-best --patience 3 --min-delta 1e-5 --restarts 3 \
  --loss "$GEO,as=geometric"
report object
