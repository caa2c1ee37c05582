# pipelines/recipe.sh - what the optimiser recipes share (sourced by
# text-guided.sh, reference-anchor.sh and clipasso.sh; not run on its own).
#
# Environment every recipe reads (all optional):
#   CLIP     CLIP weights for optimize/clip-embed --model (e.g. OpenAI's ViT-B-32.pt, which you bring).
#            Unset: $INVCLIP_MODEL when set, else the shipped sketch CLIP data/models/sketch-clip.
#   STEPS    optimisation steps (each recipe has the study's default)
#   N        drawings optimised (default 4), a seeded sample of the validation split
#            (data/quickdraw/val-keys.txt: drawings the shipped model never trained on)
#   WORD     QuickDraw word (default fish, the study's)
#   SEED     sample and optimiser seed (default 1)
#   JOBS     records optimised at once (optimize --jobs; default 1)
#   THREADS  optimize -j (default 0: every core)
#   PRECISION  optimize --precision: float32 (default) or bf16 (the image tower's products in bfloat16 on
#            an AVX512_BF16 CPU: 1.8-2.9x faster steps with ViT-B/32; docs/optimize.md "Precision")
#   FRAME_EVERY  steps between frames (default: about 20 frames a run)
#   BIN (bin), OUT (outputs/<recipe>)
#   REPORT_ONLY=1  remake OUT/results.md from the runs already in OUT (e.g. after training the evaluator)
# Writes OUT/sketches.ndjson (the drawings), and per run OUT/<run>/{records.ndjson (with history),
# frames.png (PNG stream), summary.tsv, before/, after/ (PNG per drawing)} and OUT/results.md.
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
N=${N:-4}
WORD=${WORD:-fish}
SEED=${SEED:-1}
JOBS=${JOBS:-1}
THREADS=${THREADS:-0}
DATA=data/quickdraw
rdie() { echo "$RECIPE: $*" >&2; exit 2; }
for v in N SEED JOBS THREADS STEPS; do
  eval "x=\${$v:-1}"
  case $x in '' | *[!0-9]*) rdie "$v='$x' is not a non-negative integer" ;; esac
done
[ "$N" -gt 0 ] || rdie "N=0: nothing to optimise"
[ -f "$DATA/simplified/$WORD.ndjson.gz" ] || rdie "no drawings of '$WORD' ($DATA/simplified/$WORD.ndjson.gz)"
OUT=${OUT:-outputs/$RECIPE}
mkdir -p "$OUT"
MODEL_ARGS=
if [ -n "${CLIP:-}" ]; then
  [ -r "$CLIP" ] || rdie "CLIP=$CLIP: cannot read the weights"
  MODEL_ARGS="--model $CLIP"
fi
MODEL_NAME=${CLIP:-${INVCLIP_MODEL:-data/models/sketch-clip/model.safetensors}}
PRECISION=${PRECISION:-float32}
case $PRECISION in float32 | bf16) ;; *) rdie "PRECISION='$PRECISION' is not float32 or bf16" ;; esac

# N drawings of WORD from the validation split, a seeded sample
pick_drawings() {
  [ "${REPORT_ONLY:-0}" = 1 ] && return 0
  "$BIN/qd-extract" --key-file "$DATA/val-keys.txt" --sample "$N" --seed "$SEED" "$DATA/simplified/$WORD.ndjson.gz" \
    >"$OUT/sketches.ndjson"
  [ -s "$OUT/sketches.ndjson" ] || rdie "no validation drawing of '$WORD'"
}

# run NAME OPTIMIZE-ARGS... : optimise OUT/sketches.ndjson into OUT/NAME/
run() {
  name=$1; shift
  d=$OUT/$name
  if [ "${REPORT_ONLY:-0}" = 1 ]; then
    [ -s "$d/summary.tsv" ] || rdie "REPORT_ONLY=1: no run in $d"
    return 0
  fi
  mkdir -p "$d"
  fe=${FRAME_EVERY:-$(( (STEPS + 19) / 20 ))}
  echo "$RECIPE: $name: optimize $* --steps $STEPS" >&2
  # shellcheck disable=SC2086
  "$BIN/optimize" $MODEL_ARGS --precision "$PRECISION" -j "$THREADS" --jobs "$JOBS" --seed "$SEED" --steps "$STEPS" \
    --frames "$d/frames.png" --frame-every "$fe" --summary "$d/summary.tsv" "$@" \
    <"$OUT/sketches.ndjson" >"$d/records.ndjson"
  rm -rf "$d/before" "$d/after"
  "$BIN/rasterize" --field initial --out "$d/before" <"$d/records.ndjson"
  "$BIN/rasterize" --out "$d/after" <"$d/records.ndjson"
}

# The independent evaluator (sketch-score, docs/evaluator.md: a CNN trained apart from CLIP and never a
# loss) on the strokes each run started from and on what it returned: top-1 and the mean probability of
# the record's word, and the mean chamfer distance of the result to its start (px of a 256 canvas).
EVALUATOR=${INVCLIP_EVALUATOR:-data/models/evaluator/model.safetensors}
jnum() { sed -n "s/.*\"$1\":\([-0-9.e+]*\).*/\1/p" "$2"; }
evaluate_run() {
  d=$OUT/$1
  "$BIN/sketch-score" -m "$EVALUATOR" --field initial --summary "$d/score-before.json" <"$d/records.ndjson" >/dev/null 2>&1 &&
  "$BIN/sketch-score" -m "$EVALUATOR" --reference initial --summary "$d/score-after.json" <"$d/records.ndjson" \
    >"$d/scored.ndjson" 2>/dev/null || return 1
  printf ' %.0f%% → %.0f%% | %.3f → %.3f | %.2f |' "$(awk "BEGIN{print 100*$(jnum top1 "$d/score-before.json")}")" \
    "$(awk "BEGIN{print 100*$(jnum top1 "$d/score-after.json")}")" "$(jnum mean_p_word "$d/score-before.json")" \
    "$(jnum mean_p_word "$d/score-after.json")" "$(jnum mean_chamfer "$d/score-after.json")"
}

# A results table (markdown) of every run: mean un-augmented loss and similarity before and after, and the
# evaluator's figures when its model is there.
report() {
  {
    echo "# $RECIPE: $TITLE"
    echo
    echo "Model: \`$MODEL_NAME\`. Drawings: ${DRAWINGS:-$N of '$WORD'} (validation split, seed $SEED). Steps: $STEPS."
    echo "Similarity = cosine of the un-augmented render's CLIP embedding and the target, before the first"
    echo "update and on the strokes returned (the study printed it as a percentage)."
    echo
    ev=; [ -r "$EVALUATOR" ] && ev=1
    if [ -n "$ev" ]; then
      echo "Evaluator: \`$EVALUATOR\` (top-1 over the 345 words and the mean probability of the record's word, on"
      echo "the starting strokes → the returned ones; chamfer: mean symmetric distance of the result to its start, px of 256)."
      echo
    fi
    printf '| run | loss before | loss after | similarity before | similarity after | strokes before → after |'
    [ -n "$ev" ] && printf ' evaluator top-1 | P(word) | chamfer |'
    printf '\n|---|---|---|---|---|---|'
    [ -n "$ev" ] && printf -- '---|---|---|'
    echo
    for r in "$@"; do
      awk -F'\t' -v run="$r" 'NR > 1 { n++; l0 += $3; l1 += $4; k0 += $7; k1 += $8
          if ($5 != "nan" && $6 != "nan") { m++; s0 += $5; s1 += $6 } }
        END { if (!n) exit
              a = m ? sprintf("%.1f%%", 100*s0/m) : "—"; b = m ? sprintf("%.1f%%", 100*s1/m) : "—"
              printf "| %s | %.4f | %.4f | %s | %s | %.1f → %.1f |", run, l0/n, l1/n, a, b, k0/n, k1/n }' \
        "$OUT/$r/summary.tsv"
      if [ -n "$ev" ]; then evaluate_run "$r" || printf ' — | — | — |'; fi
      echo
    done
  } >"$OUT/results.md"
  cat "$OUT/results.md" >&2
}
