#!/bin/sh
# pipelines/clipasso.sh - sketches from scratch, CLIPasso-style (docs/study.md 4.6, 4.9).
#   text   the study's CLIPasso-style optimiser as its test driver ran it: 8 random cubic strokes,
#          target "a fish" with CLIPasso's five templates (raw-embedding mean), 4 augmented views
#          (perspective 0.15, rotation 10), stroke regulariser 0.01 (cubics sampled at 50), TV 0.001,
#          Adam lr 1 with warmup_cosine (warmup min(100, steps/10), min lr 0.01), gradient noise 0.1
#          decaying 0.995, a stroke added every steps/5 up to 12, 1000 steps.  The study's committed
#          run ended at similarity 27.7% ("a fish", 200 steps, 6 -> 10 strokes).
#   image  the official CLIPasso loop towards a picture (perfectFish.jpeg): 16 one-cubic strokes
#          started from CLIPasso's saliency map of it (--init saliency, docs/saliency.md), CLIPasso's augmentations (perspective 0.5 black fill + crop 0.8, 4 views + the
#          original), loss = L2 of CLIP block features (perceptual mode=l2, the ViT variant) + 0.1 *
#          (1 - cos) of the embeddings, Adam lr 1 constant, no clipping, an evaluation every 10 steps
#          with early stopping, 3 seeds keeping the best.
# The record's own drawing is not used (only its key_id and word): the strokes start at random.
#
#   sh pipelines/clipasso.sh                  (make clipasso)
#   CLIP=ViT-B-32.pt STEPS=2000 sh pipelines/clipasso.sh
# Environment: see pipelines/recipe.sh (STEPS default 1000; N default 2).
RECIPE=clipasso
TITLE="sketches from random strokes"
STEPS=${STEPS:-1000}
N=${N:-2}
. "$(dirname "$0")/recipe.sh"
pick_drawings
warm=$((STEPS / 10)); [ "$warm" -le 100 ] || warm=100
every=$((STEPS / 5)); [ "$every" -ge 1 ] || every=1
run text --init random:strokes=8,points=4 --renderer bezier:samples=50 --width 3 \
  --augment clipaug:preset=doodlebot-optimizer,nviews=4,persp_scale=0.15,rot_deg=10 \
  --lr 1 --lr-schedule warmup_cosine --warmup "$warm" --min-lr 0.01 --noise 0.1 --noise-decay 0.995 --clip-grad 1 \
  --add-every "$every" --add-max 12 --add-points 4 \
  --loss "clip-text:prompt=fish,templates=clipasso,ensemble=study,as=semantic" \
  --loss stroke-reg:weight=0.01,bezier_samples=50 --loss tv:weight=0.001
run image --init saliency:image=data/reference/perfectFish.jpeg,strokes=16,points=4 --renderer bezier:samples=50 --width 3 \
  --augment clipaug:preset=clipasso --lr 1 --lr-schedule constant --clip-grad 0 \
  --eval-every 10 --keep-best --patience 3 --min-delta 1e-5 --restarts 3 \
  --loss "perceptual:image=data/reference/perfectFish.jpeg,mode=l2,input=views" \
  --loss "clip-image:image=data/reference/perfectFish.jpeg,average=loss,weight=0.1,as=fc"
report text image
