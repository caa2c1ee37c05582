#!/bin/sh
# pipelines/zeroshot.sh - the study's CLIP zero-shot evaluation on QuickDraw
# (reference-system 6.2): K drawings per class of the 10 words, rendered at 256
# px with width-3 lines, CLIP's own preprocessing, the five zero-shot prompt
# templates ensembled, top-1 accuracy per class and overall.
#
#   CLIP_MODEL=ViT-B-32.pt sh pipelines/zeroshot.sh      (or: make zeroshot CLIP_MODEL=...)
#
# Environment: CLIP_MODEL (required: CLIP weights you bring), K (default 500;
# the shipped data has ~390 per word), SEED (1), OUT (outputs/zeroshot).
# Writes OUT/predictions.ndjson and OUT/summary.json; prints the table.
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
OUT=${OUT:-outputs/zeroshot}
K=${K:-500}
SEED=${SEED:-1}
if [ -z "${CLIP_MODEL:-}" ]; then
  echo "zeroshot: set CLIP_MODEL to a CLIP weight file (e.g. OpenAI's ViT-B-32.pt or a Hugging Face" >&2
  echo "  openai/clip-vit-base-patch32 model.safetensors); it cannot be downloaded here." >&2
  exit 2
fi
WORDS="apple bird car cat chair dog fish flower house tree"
mkdir -p "$OUT"
for w in $WORDS; do
  "$BIN/qd-extract" --sample "$K" --seed "$SEED" "data/quickdraw/simplified/$w.ndjson.gz"
done | "$BIN/rasterize" --size 256 --width 3 --pad 10 --renderer builtin \
  | "$BIN/clip-embed" --model "$CLIP_MODEL" --zero-shot "$(echo $WORDS | tr ' ' ,)" \
      --summary "$OUT/summary.json" --progress >"$OUT/predictions.ndjson"
echo "zeroshot: predictions in $OUT/predictions.ndjson, summary in $OUT/summary.json" >&2
