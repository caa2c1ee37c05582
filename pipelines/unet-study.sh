#!/bin/sh
# pipelines/unet-study.sh - the study's own U-Net run (docs/study.md
# 5.3 and 7.3), for machines with the time: fish only, 500 drawings (a seeded
# sample; the shipped data hold 384, so DATA can name a fuller QuickDraw fish
# file), a random 90/10 split, the study's generator (post-activation U-Net,
# base 64, depth 8, batch norm, dropout on the three innermost decoders,
# 224 <-> 256 resizing, PyTorch's default init: 54,408,385 parameters), L1
# alone (lambda 100, no discriminator), Adam 2e-4 (0.5, 0.999), StepLR every
# 20 epochs x0.5 (never reached in 15), batch 16, 15 epochs, inputs rendered
# at 224 with width 1..3 and a 0.5 blur on 30% of them, targets at width 2,
# samples every 5 epochs.  The study reported train/val L1 0.129/0.131 after 15
# epochs and near-blank outputs; compare the log's val_l1 with its white_l1
# (the all-white predictor) and ink_out with ink_target.
# About 15 s a step on 2 cores (docs/unet.md): 15 epochs of 450 pairs are
# 435 steps, about two hours; GAN=1 adds the PatchGAN the study recommended.
#
#   sh pipelines/unet-study.sh            (or: make unet-study)
#
# Environment: OUT (outputs/unet-study), DATA (data/quickdraw/simplified/
# fish.ndjson.gz), N (500), EPOCHS (15), GAN (0), THREADS (0 = all cores),
# RESUME=1, EXTRA (more unet-train options).
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
OUT=${OUT:-outputs/unet-study}
DATA=${DATA:-data/quickdraw/simplified/fish.ndjson.gz}
N=${N:-500}
EPOCHS=${EPOCHS:-15}
THREADS=${THREADS:-0}
mkdir -p "$OUT"
"$BIN/qd-extract" --word fish --sample "$N" --seed 1 "$DATA" | "$BIN/qd-degrade" --seed 1 >"$OUT/pairs.ndjson"
G=--no-gan
[ "${GAN:-0}" = 1 ] && G=
R=
[ "${RESUME:-0}" = 1 ] && R=--resume
# shellcheck disable=SC2086
"$BIN/unet-train" -o "$OUT" $R $G -j "$THREADS" --progress \
  --arch study --norm batch --base 64 --depth 8 --size 224 --ndf 64 \
  --frame 224 --pad 10 --target-width 2 --input-width 1..3 --eval-width 2 --blur-p 0.3 --blur 0.5 \
  --batch 16 --epochs "$EPOCHS" --lr 2e-4 --lr-decay step --val-frac 0.1 --sample-every 5 --seed 1 \
  ${EXTRA:-} "$OUT/pairs.ndjson"
tail -1 "$OUT/log.ndjson"
