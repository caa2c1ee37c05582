#!/bin/sh
# pipelines/train-clip.sh - train the shipped sketch-domain CLIP (the default
# model of clip-embed, optimize and every recipe) from the QuickDraw drawings
# in data/quickdraw/simplified, holding out data/quickdraw/val-keys.txt, and
# install it in data/models/sketch-clip/ (model.safetensors in F16 +
# config.json).  The configuration below is the shipped model's; see
# data/models/sketch-clip/README.md (the model card) and docs/clip-train.md.
#
#   sh pipelines/train-clip.sh            (or: make train-clip)
#
# Environment: OUT (outputs/sketch-clip: checkpoints and log), INSTALL
# (data/models/sketch-clip; empty = do not install), THREADS (0 = all cores),
# RESUME=1 to continue an interrupted run from OUT/checkpoint.safetensors,
# EXTRA (more clip-train options, e.g. --steps 100 for a quick try).
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
OUT=${OUT:-outputs/sketch-clip}
INSTALL=${INSTALL-data/models/sketch-clip}
THREADS=${THREADS:-0}
set --
for f in data/quickdraw/simplified/*.ndjson.gz; do set -- "$@" "$f"; done
R=
[ "${RESUME:-0}" = 1 ] && R=--resume
# shellcheck disable=SC2086
"$BIN/clip-train" -o "$OUT" $R -j "$THREADS" --progress --f16 \
  --val-keys data/quickdraw/val-keys.txt \
  --width 128 --layers 6 --heads 2 --patch 8 --image-size 64 \
  --text-width 128 --text-layers 4 --text-heads 2 --context 16 --embed 128 \
  --batch 128 --steps 4000 --lr 5e-4 --wd 0.1 --seed 1 \
  --eval-every 1000 --save-every 250 --val-limit 3450 ${EXTRA:-} "$@"
if [ -n "$INSTALL" ]; then
  mkdir -p "$INSTALL"
  cp "$OUT/model.safetensors" "$INSTALL/model.safetensors.tmp" && mv "$INSTALL/model.safetensors.tmp" "$INSTALL/model.safetensors"
  cp "$OUT/config.json" "$INSTALL/config.json"
  cp "$OUT/log.ndjson" "$INSTALL/train-log.ndjson"
  cp "$OUT/samples.ndjson" "$INSTALL/samples.ndjson.tmp" && mv "$INSTALL/samples.ndjson.tmp" "$INSTALL/samples.ndjson"
  echo "train-clip: installed $INSTALL/model.safetensors" >&2
fi
