#!/bin/sh
# pipelines/zeroshot.sh - CLIP zero-shot classification of QuickDraw drawings, as the study ran it
# (docs/study.md 6.2): up to K drawings per class, rendered at 256 px with width-3 lines and a
# 10 px margin (rasterize --size 256 --width 3 --pad 10 --renderer builtin), CLIP's own preprocessing,
# the study's five prompt templates ensembled; top-1 and top-5 accuracy per class and overall.
#
#   sh pipelines/zeroshot.sh                  the shipped sketch-domain CLIP, the study's 10 words,
#                                             the validation split (drawings it was not trained on)
#   WORDS=all sh pipelines/zeroshot.sh        all 345 words
#   CLIP_MODEL=ViT-B-32.pt SPLIT=all sh pipelines/zeroshot.sh
#                                             the study's own run: OpenAI's CLIP (weights you bring),
#                                             its 10 words, every drawing
#   make zeroshot [WORDS=...] [SPLIT=...] [K=...] [CLIP_MODEL=...]
#
# Environment (every one optional):
#   CLIP_MODEL  CLIP weights (clip-embed --model).  Unset: clip-embed's default, $INVCLIP_MODEL when set,
#               else the shipped data/models/sketch-clip/model.safetensors (clip-embed says which).
#   WORDS       study (default: apple bird car cat chair dog fish flower house tree)
#               | all (every data/quickdraw/simplified/*.ndjson.gz; the class names are the file names,
#                 spaces included: "The Eiffel Tower")  | W,W,... (those words)
#   SPLIT       val (default: only the key_ids of data/quickdraw/val-keys.txt, the validation split the
#               shipped model never trained on) | all (every drawing)
#   K           drawings per class, a seeded uniform sample (default 500: every validation drawing,
#               ~39 a word; with SPLIT=all ~390 a word)
#   SEED (1), THREADS (clip-embed -j, 0 = every core), BIN (bin),
#   OUT (default outputs/zeroshot/<study|all|custom>-<split>)
# Writes OUT/classes.txt, OUT/sketches.ndjson (the drawings used), OUT/predictions.ndjson (one line an
# image: top-5 classes, pred, correct, correct5, rank) and OUT/summary.json (clip-embed's summary: top1,
# top5, per class; plus the run's words, split, k, seed); prints the per-class table and the totals.
# Exit: 2 for a bad setting or an unknown word, else the failing tool's code (5: no model).
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
WORDS=${WORDS:-study}
SPLIT=${SPLIT:-val}
K=${K:-500}
SEED=${SEED:-1}
THREADS=${THREADS:-0}
DATA=data/quickdraw
STUDY="apple bird car cat chair dog fish flower house tree"
die() { echo "zeroshot: $*" >&2; exit 2; }

case $K in '' | *[!0-9]* | 0) die "K='$K' is not a positive number of drawings per class" ;; esac
case $SEED in '' | *[!0-9]*) die "SEED='$SEED' is not a non-negative integer" ;; esac
# qd-extract's arguments: a seeded sample of K of each word, the split, then one file a class
set -- --sample "$K" --per-word --seed "$SEED"
case $SPLIT in
  val) [ -r "$DATA/val-keys.txt" ] || die "$DATA/val-keys.txt: cannot read the validation key_ids"
       set -- "$@" --key-file "$DATA/val-keys.txt" ;;
  all) ;;
  *) die "SPLIT='$SPLIT' is not val or all" ;;
esac
case $WORDS in
  study) TAG=study ;;
  all) TAG=all ;;
  *) TAG=custom ;;
esac
OUT=${OUT:-outputs/zeroshot/$TAG-$SPLIT}
mkdir -p "$OUT"

# the classes, one a line (names may hold spaces)
case $WORDS in
  study) printf '%s\n' $STUDY ;;
  all) for f in "$DATA"/simplified/*.ndjson.gz; do basename "$f" .ndjson.gz; done ;;
  *) printf '%s\n' "$WORDS" | tr ',' '\n' | sed 's/^ *//; s/ *$//; /^$/d' | awk '!seen[$0]++' ;;
esac >"$OUT/classes.txt"
[ -s "$OUT/classes.txt" ] || die "WORDS='$WORDS' names no word"
n=0
while IFS= read -r w; do
  [ -f "$DATA/simplified/$w.ndjson.gz" ] || die "no drawings of '$w' ($DATA/simplified/$w.ndjson.gz); WORDS is study, all or W,W,..."
  set -- "$@" "$DATA/simplified/$w.ndjson.gz"
  n=$((n + 1))
done <"$OUT/classes.txt"

# K drawings of each class: each word's sample is the one `qd-extract --sample K --seed SEED` keeps from
# its file alone (--per-word), so the old one-call-per-word loop gives the same drawings
"$BIN/qd-extract" "$@" >"$OUT/sketches.ndjson"
[ -s "$OUT/sketches.ndjson" ] || die "no drawing of these words in split '$SPLIT'"
echo "zeroshot: $(wc -l <"$OUT/sketches.ndjson" | tr -d ' ') drawings of $n classes (WORDS=$WORDS SPLIT=$SPLIT K=$K SEED=$SEED)" >&2

set --
[ -n "${CLIP_MODEL:-}" ] && set -- --model "$CLIP_MODEL"
rm -f "$OUT/.rasterize-failed"
{ "$BIN/rasterize" --size 256 --width 3 --pad 10 --renderer builtin <"$OUT/sketches.ndjson" || echo $? >"$OUT/.rasterize-failed"; } \
  | "$BIN/clip-embed" "$@" -j "$THREADS" --zero-shot-file "$OUT/classes.txt" --summary "$OUT/summary.tmp" --progress \
      >"$OUT/predictions.ndjson"
if [ -f "$OUT/.rasterize-failed" ]; then
  rc=$(cat "$OUT/.rasterize-failed"); rm -f "$OUT/.rasterize-failed" "$OUT/summary.tmp"
  echo "zeroshot: rasterize failed (exit $rc)" >&2; exit "$rc"
fi
[ -s "$OUT/summary.tmp" ] || die "no image was scored: no drawing's word is one of the classes"
# the run's settings in front of clip-embed's summary (one JSON line)
esc() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
{ printf '{"words":"%s","split":"%s","k":%s,"seed":%s,' "$(esc "$WORDS")" "$SPLIT" "$K" "$SEED"; cut -c2- "$OUT/summary.tmp"; } \
  >"$OUT/summary.json"
rm -f "$OUT/summary.tmp"
t1=$(sed 's/,"classes":.*//; s/.*"top1":\([0-9.]*\).*/\1/' "$OUT/summary.json")
t5=$(sed 's/,"classes":.*//; s/.*"top5":\([0-9.]*\).*/\1/' "$OUT/summary.json")
echo "zeroshot: WORDS=$WORDS SPLIT=$SPLIT: top-1 $t1, top-5 $t5; predictions in $OUT/predictions.ndjson, summary in $OUT/summary.json" >&2
