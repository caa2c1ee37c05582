#!/bin/sh
# pipelines/demo.sh - `make demo`: the toolkit end to end on the shipped data and models, in minutes.
#
#   1. real drawings of several words: from Google's raw files (data/quickdraw/raw) when they are there,
#      half of them drawings Google's own classifier did not recognise ("recognized":false), simplified
#      as Google simplifies; else from data/quickdraw/simplified (which holds recognised drawings only)
#   2. visible degradations (qd-degrade: a shaky hand, overshooting ends, retraced strokes, a warped
#      page), seeded, the clean drawing kept as the record's target
#   3. three enhancers on the degraded drawings:
#        study  optimize with the study's text-guided losses (docs/optimize.md, text-guided `fixed`):
#               "a drawing of a WORD" through the shipped sketch CLIP, weight 3, study templates and
#               ensembling, structure 0.1, stroke-reg 0.01, TV 0.0005, 4 augmented views, cubic Beziers
#        fair   optimize with the CLIP-free sketch-quality prior fair + structure 0.5, with the settings the
#               enhancement study chose (pipelines/enhance.sh METHOD=fair; docs/enhancement-study.md)
#        unet   the shipped U-Net (data/models/unet-small) on the rendered drawings, traced back to
#               strokes (unet-train --apply --records --vectorize)
#   4. summarize: per drawing a summary picture, a frame grid and an animation; metrics tables; the
#      training curves and samples of the shipped models; outputs/demo/report.html
#
# Environment: OUT (outputs/demo), BIN (bin), WORDS (fish,cat,house,bird,tree), PER (2 drawings a word),
# STEPS (150 optimisation steps for study and fair), SEED (1), JOBS (2 records at once), DATA (data/quickdraw).
# tests/cli/demo.sh runs it with tiny counts.
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
OUT=${OUT:-outputs/demo}
WORDS=${WORDS:-fish,cat,house,bird,tree}
PER=${PER:-2}
STEPS=${STEPS:-150}
SEED=${SEED:-1}
JOBS=${JOBS:-2}
DATA=${DATA:-data/quickdraw}
t_start=$(date +%s)
die() { echo "demo: $*" >&2; exit 1; }
for t in qd-extract qd-degrade optimize unet-train summarize; do
  [ -x "$BIN/$t" ] || die "no $BIN/$t: run make first"
done
mkdir -p "$OUT"
# seconds since an epoch second, with tenths
since() { awk -v a="$1" -v b="$(date +%s.%N 2>/dev/null || date +%s)" 'BEGIN{printf "%.1f", b - a}'; }
now() { date +%s.%N 2>/dev/null || date +%s; }

# --- 1. drawings ---
: >"$OUT/drawings.ndjson"
half=$(( (PER + 1) / 2 ))
if [ -d "$DATA/raw" ]; then src="raw (Google's unsimplified drawings; recognised and unrecognised)"; else
  src="simplified (recognised drawings only: data/quickdraw/raw is missing)"; fi
echo "demo: drawings of $WORDS, $PER a word, from $DATA/$src" >&2
for w in $(printf '%s' "$WORDS" | tr ',' ' '); do
  if [ -f "$DATA/raw/$w.ndjson.gz" ]; then
    # up to PER/2 drawings Google did not recognise, the rest recognised ones (a word with too few
    # unrecognised drawings gets more recognised ones), simplified as Google simplifies (0..255, RDP 2)
    "$BIN/qd-extract" --recognized false --sample $((PER - half)) --seed "$SEED" --simplify "$DATA/raw/$w.ndjson.gz" \
      >"$OUT/.unrec.ndjson"
    "$BIN/qd-extract" --recognized true --sample $((PER - $(wc -l <"$OUT/.unrec.ndjson"))) --seed "$SEED" --simplify \
      "$DATA/raw/$w.ndjson.gz" >>"$OUT/drawings.ndjson"
    cat "$OUT/.unrec.ndjson" >>"$OUT/drawings.ndjson"
    rm -f "$OUT/.unrec.ndjson"
  elif [ -f "$DATA/simplified/$w.ndjson.gz" ]; then
    "$BIN/qd-extract" --sample "$PER" --seed "$SEED" "$DATA/simplified/$w.ndjson.gz" >>"$OUT/drawings.ndjson"
  else
    die "no drawings of '$w' in $DATA/raw or $DATA/simplified"
  fi
done
n=$(wc -l <"$OUT/drawings.ndjson" | tr -d ' ')
nu=$(grep -c '"recognized":false' "$OUT/drawings.ndjson" || true)
[ "$n" -gt 0 ] || die "no drawings extracted"
echo "demo: $n drawings ($nu of them unrecognised by Google's classifier) -> $OUT/drawings.ndjson" >&2

# --- 2. degradations you can see ---
"$BIN/qd-degrade" --seed "$SEED" \
  --mix 'tremor:amplitude=2..4' --mix 'overshoot:amount=0.25..0.45' --mix 'overdraw:count=2..3,offset=5,noise=1' \
  --mix 'elastic:amplitude=8..14' --mix 'tremor:amplitude=1.5..2.5+overshoot:amount=0.2..0.35' \
  <"$OUT/drawings.ndjson" >"$OUT/degraded.ndjson"
echo "demo: degraded (shaky hand, overshooting ends, retraced strokes, warped page) -> $OUT/degraded.ndjson" >&2

# --- 3. enhancers ---
fe=$(( (STEPS + 15) / 16 ))
: >"$OUT/study.ndjson"
: >"$OUT/study.frames.png"
t0=$(now)
for w in $(printf '%s' "$WORDS" | tr ',' ' '); do
  grep "\"word\":\"$w\"" "$OUT/degraded.ndjson" >"$OUT/.in.ndjson" || continue
  echo "demo: study: optimise the $w drawings towards \"a drawing of a $w\", $STEPS steps" >&2
  "$BIN/optimize" -j 1 --jobs "$JOBS" --seed "$SEED" --steps "$STEPS" --frames "$OUT/.frames.png" --frame-every "$fe" \
    --renderer bezier:samples=50 --width 3 --augment clipaug:preset=doodlebot-optimizer,nviews=4 \
    --lr 2.5 --lr-schedule warmup_cosine --warmup 20 --min-lr 0.5 --noise 0.3 --noise-decay 0.995 --clip-grad 1 \
    --loss "clip-text:prompt=$w,templates=study,ensemble=study,weight=3,as=semantic" \
    --loss structure:weight=0.1 --loss stroke-reg:weight=0.01,bezier_samples=20 --loss tv:weight=0.0005 \
    <"$OUT/.in.ndjson" >>"$OUT/study.ndjson" 2>"$OUT/.log" || { cat "$OUT/.log" >&2; die "optimize (study) failed"; }
  cat "$OUT/.frames.png" >>"$OUT/study.frames.png"
done
t_study=$(since "$t0")
echo "demo: fair: the CLIP-free prior on every drawing, $STEPS steps" >&2
t0=$(now)
"$BIN/optimize" --model none -j 1 --jobs "$JOBS" --seed "$SEED" --steps "$STEPS" --frames "$OUT/fair.frames.png" \
  --frame-every "$fe" --renderer softline --width 3 --lr 0.5 --lr-schedule cosine --min-lr 0.01 \
  --loss fair:bending=0,snap=1,close=1,straight=0.5,smooth=5,smooth_scale=3 --loss structure:weight=0.5 \
  <"$OUT/degraded.ndjson" >"$OUT/fair.ndjson" 2>"$OUT/.log" ||
  { cat "$OUT/.log" >&2; die "optimize (fair) failed"; }
t_fair=$(since "$t0")
echo "demo: unet: the shipped U-Net on the rendered drawings, traced back to strokes" >&2
t0=$(now)
"$BIN/unet-train" --apply data/models/unet-small/model.safetensors --records --vectorize \
  <"$OUT/degraded.ndjson" >"$OUT/unet.ndjson" 2>"$OUT/.log" || { cat "$OUT/.log" >&2; die "unet-train --apply failed"; }
"$BIN/unet-train" --apply data/models/unet-small/model.safetensors --records \
  <"$OUT/degraded.ndjson" >"$OUT/unet.pictures.png" 2>"$OUT/.log" || { cat "$OUT/.log" >&2; die "unet-train --apply failed"; }
t_unet=$(since "$t0")
rm -f "$OUT/.in.ndjson" "$OUT/.frames.png" "$OUT/.log"

# --- 4. the report ---
echo "demo: summarize -> $OUT/report.html" >&2
"$BIN/summarize" -o "$OUT" --title "make demo: $n real drawings, degraded and enhanced three ways" \
  -l study -f "$OUT/study.frames.png" --wall "$t_study" --picture none "$OUT/study.ndjson" --note \
  "optimize with the study's text-guided losses: \"a drawing of a WORD\" through the shipped sketch CLIP (weight 3, the study's prompt templates), structure 0.1, stroke-reg, TV, 4 augmented views, cubic Beziers, $STEPS steps. CLIP similarity is what it climbs; the evaluator, which it never sees, says whether the drawing is still the word." \
  -l fair -f "$OUT/fair.frames.png" --wall "$t_fair" --picture none "$OUT/fair.ndjson" --note \
  "optimize with the CLIP-free sketch-quality prior fair (robustly smoothed, snapped, closed strokes; the enhancement study's settings) held to the drawing by structure 0.5, $STEPS steps: no model at all." \
  -l unet --wall "$t_unet" --picture "$OUT/unet.pictures.png" "$OUT/unet.ndjson" --note \
  "the shipped U-Net (data/models/unet-small, 64 px, trained minutes on a CPU) redraws the rendered drawing; vectorize traces its picture back to strokes." \
  --train data/models/unet-small --train data/models/evaluator --train data/models/sketch-clip
echo "demo: done in $(( $(date +%s) - t_start )) s. Look at:" >&2
echo "  $OUT/report.html   (open it in a browser; offline, every picture beside it)"
echo "  $OUT/metrics.md    (the tables)"
echo "  $OUT/study/ $OUT/fair/ $OUT/unet/   (summary.png, grid.png, anim.gif for each drawing)"
