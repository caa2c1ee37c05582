#!/bin/sh
# pipelines/train-unet.sh - train the CPU-sized sketch enhancer (issue 11 item
# 6): a pix2pix U-Net (base 16, depth 6, 64 px, batch norm) with its
# conditional PatchGAN (ndf 16) on the study's 10 words of the shipped
# QuickDraw drawings, degraded with the study's mix (qd-degrade's default:
# noise 3..10, simplify 0.3..0.7, jitter 2..8), holding out
# data/quickdraw/val-keys.txt, and report on those held-out drawings the L1,
# the IoU of inked pixels and the ink ratio beside the all-white baseline.
# 2-5 minutes on 2 cores (125 s of training on a quiet machine, 2026-12-05).
# The shipped model (data/models/unet-small/)
# is this run; see its README.md and docs/unet.md, "unet-train".
#
#   sh pipelines/train-unet.sh            (or: make train-unet)
#
# Environment: OUT (outputs/unet-small), EPOCHS (3), THREADS (0 = all cores),
# WORDS (the study's 10), INSTALL (empty: do not install; a folder: copy
# model.safetensors, log and last sample grid there), RESUME=1 to continue
# from OUT/checkpoint.safetensors, EXTRA (more unet-train options).
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
OUT=${OUT:-outputs/unet-small}
EPOCHS=${EPOCHS:-3}
THREADS=${THREADS:-0}
WORDS=${WORDS:-"apple bird car cat chair dog fish flower house tree"}
INSTALL=${INSTALL-}
mkdir -p "$OUT"
for w in $WORDS; do gzip -dc "data/quickdraw/simplified/$w.ndjson.gz"; done | "$BIN/qd-degrade" --seed 1 >"$OUT/pairs.ndjson"
R=
[ "${RESUME:-0}" = 1 ] && R=--resume
# shellcheck disable=SC2086
"$BIN/unet-train" -o "$OUT" $R -j "$THREADS" --progress \
  --val-keys data/quickdraw/val-keys.txt \
  --arch pix2pix --norm batch --size 64 --base 16 --depth 6 --ndf 16 \
  --frame 64 --pad 3 --target-width 2 --input-width 1..3 --eval-width 2 --blur-p 0.3 --blur 0.5 \
  --batch 8 --epochs "$EPOCHS" --lr 2e-4 --lr-decay linear --seed 1 --f16 ${EXTRA:-} "$OUT/pairs.ndjson"
# the report: the last evaluation, on the held-out drawings
tail -1 "$OUT/log.ndjson" | awk -F'[,:{}]' '{
  for (i = 2; i < NF; i += 2) v[$i] = $(i + 1)
  printf "held-out pairs %s: L1 %.4f (all-white %.4f, the input itself %.4f), IoU %.3f, ink ratio %.4f (target %.4f)\n",
    v["\"val_n\""], v["\"val_l1\""], v["\"white_l1\""], v["\"input_l1\""], v["\"iou\""], v["\"ink_out\""],
    v["\"ink_target\""] }' |
  tee "$OUT/report.txt"
if [ -n "$INSTALL" ]; then
  mkdir -p "$INSTALL"
  cp "$OUT/model.safetensors" "$INSTALL/model.safetensors.tmp" && mv "$INSTALL/model.safetensors.tmp" "$INSTALL/model.safetensors"
  cp "$OUT/log.ndjson" "$INSTALL/train-log.ndjson"
  last=$(ls "$OUT"/samples_epoch*.png | tail -1)
  cp "$last" "$INSTALL/samples.png"
  echo "train-unet: installed $INSTALL/model.safetensors" >&2
fi
