#!/bin/sh
# bench/optimize.sh - one optimisation step of bin/optimize against the same step in
# PyTorch (issue 10 item 5), the shipped model's 300-step run, and the 500-step
# reference-anchor run.  bench/run.sh calls it as the optimize section (make bench-optimize);
# it also runs alone:  sh bench/optimize.sh [reps]
#
# Weights: a random-weight ViT-B/32 CLIP of the real shape (both towers, 151 M parameters,
# OpenAI naming), written once by bench/torch_optimize.py to build/bench/vitb32-random.safetensors
# and read by both programs, so C and PyTorch run the same weights (the real ones cannot be
# downloaded here).  The text target "fish" goes through each side's own text tower.
#
# Parts (PARTS, default "step bf16 shipped anchor"), each repeated REPS times (default 3; the
# table gives medians), the programs interleaved within a repetition so a change of load
# hits them alike:
#   step     one step: render (8 random cubic Beziers) + 4 views (the original + 3 augmented,
#            the study's optimiser augmentations) + ViT-B/32 forward and backward to the image
#            + the losses (1 - cos to "fish", stroke regulariser 0.01 on the cubics sampled at
#            20 points, TV 0.001) + clipping + Adam.  C: bin/optimize --timing (seconds of the
#            step loop / steps, STEP_STEPS steps, -j 2 and -j 1); PyTorch: bench/torch_optimize.py
#            step, as users run it (defaults; USERS_STEPS steps, USERS_REPS runs) and tuned (frozen CLIP, the
#            separable splat evaluation, OMP_WAIT_POLICY=PASSIVE, glibc malloc kept; 1 and 2
#            threads, TORCH_STEPS steps; and the same with the study's dense renderer on 2 threads,
#            DENSE_STEPS steps).  Every per-step time is the mean over the loop's
#            steps, the first one included, model loading and the text embedding excluded.
#   bf16     the step again with C --precision bf16 (the image tower's matrix products in bfloat16,
#            float sums) beside C float32 and PyTorch tuned in float32, with torch.autocast bfloat16
#            around the image tower, and with the image tower converted to bfloat16 (1 and 2 threads
#            each; STEP_STEPS / TORCH_STEPS steps), interleaved in each repetition.
#   shipped  the shipped sketch CLIP (no --model): 300 steps on the first shipped fish drawing,
#            README's example (clip-text 'a fish' + structure 0.3, softline), -j 1 and -j 2;
#            wall time of the whole process and of the step loop.
#   anchor   the reference-anchor run (docs/study.md 4.8): the same fish drawing, clip-image
#            to the study's perfectFish.jpeg (read from ../shared/data at run time, REF), Adam
#            lr 0.5 constant, ANCHOR_STEPS (500) steps, no augmentation; C softline -j ANCHOR_J
#            (ANCHOR_C_REPS times); PyTorch tuned on 1 and 2 threads (ANCHOR_TORCH_REPS times, default 1)
#            and as users run it for ANCHOR_USERS_STEPS steps (default 20; its 500-step time is
#            that times 500/steps, said so in the table).
#
# Environment: OPT_THREADS (2), REPS (3), STEP_STEPS (10), TORCH_STEPS (10), USERS_STEPS (2),
# USERS_REPS (1: the users' step is minutes), DENSE_STEPS (3), DENSE_REPS (1), ANCHOR_STEPS (500),
# ANCHOR_TORCH_REPS (1), ANCHOR_TORCH_THREADS ("1 2"), ANCHOR_USERS_STEPS (20), ANCHOR_C_REPS (REPS), ANCHOR_J (OPT_THREADS),
# ANCHOR_BF16 (1: the anchor also with C --precision bf16 and PyTorch tuned under torch.autocast bfloat16 on
# 2 threads, when this CPU runs C's bf16 products),
# SHIPPED_AUG (1: also the 4-view run), SHIPPED_STEPS (300),
# REF, PYTHON.
# Installs nothing: without a Python that imports torch the PyTorch columns say n/a (and the
# weight file must already exist).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=${BIN:-$ROOT/bin}
OUT=$BUILD/bench
mkdir -p "$OUT"
REPS=${1:-${REPS:-3}}
TH=${OPT_THREADS:-2}
STEP_STEPS=${STEP_STEPS:-10}
TORCH_STEPS=${TORCH_STEPS:-10}
USERS_STEPS=${USERS_STEPS:-2}
USERS_REPS=${USERS_REPS:-1}
DENSE_STEPS=${DENSE_STEPS:-3}
DENSE_REPS=${DENSE_REPS:-1}
ANCHOR_TORCH_THREADS=${ANCHOR_TORCH_THREADS:-"1 2"}
ANCHOR_STEPS=${ANCHOR_STEPS:-500}
ANCHOR_TORCH_REPS=${ANCHOR_TORCH_REPS:-1}
ANCHOR_USERS_STEPS=${ANCHOR_USERS_STEPS:-20}
ANCHOR_C_REPS=${ANCHOR_C_REPS:-$REPS}
ANCHOR_J=${ANCHOR_J:-$TH}
ANCHOR_BF16=${ANCHOR_BF16:-1}
SHIPPED_AUG=${SHIPPED_AUG:-1}
SHIPPED_STEPS=${SHIPPED_STEPS:-300}
PARTS=${PARTS:-"step bf16 shipped anchor"}
REF=${REF:-$ROOT/../shared/data/reference/perfectFish.jpeg}
DATA=$ROOT/data/quickdraw/simplified/fish.ndjson.gz

. "$ROOT/bench/lib.sh"
py=$(torch_python)
[ -x "$BIN/optimize" ] || { echo "optimize.sh: $BIN/optimize missing; run make first" >&2; exit 4; }

W=$OUT/vitb32-random.safetensors
if [ ! -s "$W" ]; then
  [ -n "$py" ] || { echo "optimize.sh: $W missing and no Python with torch to write it" >&2; exit 4; }
  "$py" "$ROOT/bench/torch_optimize.py" write "$W" >&2
fi
FISH=$OUT/opt-fish1.ndjson
zcat "$DATA" | head -1 >"$FISH"
TUNED="OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000"
R=$OUT/opt-results-$(echo "$PARTS" | tr ' ' '-').txt # one line per measurement: part program rep key value
: >"$R"

# val FILE KEY: the value of line KEY of a torch_optimize.py output
val() { if [ -f "$1" ]; then awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print "n/a" }' "$1"; else echo n/a; fi; }
# timing FILE KEY: a field of bin/optimize's --timing JSON line
timing() { sed -n 's/.*"'"$2"'":\([0-9.eE+-]*\).*/\1/p' "$1" | tail -1; }
rec() { echo "$1 $2 $3 $4 $5" >>"$R"; }
# wall CMD...: runs CMD (stdout to /dev/null), sets WALL to its wall time in seconds
wall() {
  _t0=$(date +%s.%N)
  "$@" >/dev/null
  _t1=$(date +%s.%N)
  WALL=$(awk -v a="$_t0" -v b="$_t1" 'BEGIN { printf "%.3f", b - a }')
}
# c_opt J STEPS: the C step, -j J, STEPS steps; sets CPU to its user + system seconds
# (stderr, with the --timing line, to $OUT/opt-c.err)
c_opt() {
  _j=$1 _n=$2; shift 2
  set -- "$BIN/optimize" -j "$_j" --model "$W" --renderer bezier --augment clipaug:preset=doodlebot-optimizer,nviews=4 \
    --init random:strokes=8 --loss clip-text:prompt=fish --loss stroke-reg:weight=0.01,bezier_samples=20 \
    --loss tv:weight=0.001 --steps "$_n" --history none --timing "$@" "$FISH"
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "cpu %U %S" -o "$OUT/opt-time.txt" "$@" >/dev/null 2>"$OUT/opt-c.err"
    CPU=$(awk '$1 == "cpu" { printf "%.3f", $2 + $3 }' "$OUT/opt-time.txt")
  else
    "$@" >/dev/null 2>"$OUT/opt-c.err"
    CPU=n/a
  fi
}
# c_step J REP: the C step, -j J; with -j 1 also its CPU seconds per step after the first
# (a STEP_STEPS run's CPU time minus a 1-step run's, over STEP_STEPS - 1)
c_step() {
  c_opt "$1" "$STEP_STEPS"
  cn=$CPU
  f=$OUT/opt-c.err
  s=$(timing "$f" seconds) n=$(timing "$f" steps)
  rec step "c-j$1" "$2" per_step "$(awk -v s="$s" -v n="$n" 'BEGIN { printf "%.4f", s / n }')"
  for k in render resize augment losses update; do rec step "c-j$1" "$2" "$k" "$(awk -v s="$(timing "$f" "$k")" -v n="$n" 'BEGIN { printf "%.5f", s / n }')"; done
  if [ "$1" = 1 ] && [ -x /usr/bin/time ] && [ "$STEP_STEPS" -gt 1 ]; then
    c_opt 1 1
    rec step c-j1 "$2" cpu_per_step_after_first "$(awk -v a="$CPU" -v b="$cn" -v n="$STEP_STEPS" 'BEGIN { printf "%.4f", (b - a) / (n - 1) }')"
  fi
}
# t_run PART NAME REP ENV ARGS...: a torch_optimize.py run, every printed value recorded
t_run() {
  part=$1 name=$2 rep=$3 envs=$4; shift 4
  f=$OUT/opt-t-$part-$name.txt
  # shellcheck disable=SC2086
  env $envs "$py" "$ROOT/bench/torch_optimize.py" "$@" --model "$W" >"$f" 2>"$OUT/opt-t.err" || {
    cat "$OUT/opt-t.err" >&2
    return 1
  }
  n=$(val "$f" steps)
  while read -r k v _; do
    case $k in
      render | augment | encode | losses | backward | update) v=$(awk -v s="$v" -v n="$n" 'BEGIN { printf "%.5f", s / n }') ;;
    esac
    rec "$part" "$name" "$rep" "$k" "$v"
  done <"$f"
}

# med PART NAME KEY: the median over the repetitions, or n/a
med() {
  awk -v p="$1" -v n="$2" -v k="$3" '$1 == p && $2 == n && $4 == k && $5 != "n/a" { v[c++] = $5 }
    END { if (!c) { print "n/a"; exit }
          for (i = 0; i < c; i++) for (j = i + 1; j < c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
          print (c % 2) ? v[int(c / 2)] : (v[c / 2 - 1] + v[c / 2]) / 2 }' "$R"
}
# range PART NAME KEY: "min-max" over the repetitions
range() {
  awk -v p="$1" -v n="$2" -v k="$3" '$1 == p && $2 == n && $4 == k && $5 != "n/a" { if (!c++ || $5 < lo) lo = $5; if (c == 1 || $5 > hi) hi = $5 }
    END { if (c) printf "%s-%s", lo, hi; else print "n/a" }' "$R"
}
# best A B: the smaller of two seconds (n/a when neither is a number)
best() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a") print b; else if (b == "n/a" || a + 0 < b + 0) print a; else print b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f×", b / a; else print "n/a" }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.1f%%", 100 * a / b; else print "n/a" }'; }

cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
tv=n/a
[ -n "$py" ] && tv=$("$py" -c 'import torch; print(torch.__version__)')
echo "## optimize: one step, the shipped model, the reference anchor"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $cpu; PyTorch $tv on CPU;"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} in the environment; medians of $REPS repetitions."
# what optimize's --gemm auto picks for float32 (clip_f32pack_auto: AVX2 and FMA without AVX-512)
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
case " $flags " in
  *" avx512f "*) gemm=openblas ;;
  *" avx2 "*" fma "* | *" fma "*" avx2 "*) gemm=packed ;;
  *) gemm=openblas ;;
esac
echo "C's float32 products: --gemm auto, here $gemm (docs/optimize.md, \"Float32 products\")."

for part in $PARTS; do
  load0=$(load)
  case $part in
    step)
      r=1
      while [ "$r" -le "$REPS" ]; do
        c_step "$TH" "$r"
        [ "$TH" = 1 ] || c_step 1 "$r"
        if [ -n "$py" ]; then
          [ "$r" -gt "$USERS_REPS" ] || t_run step users "$r" "" step --style users --steps "$USERS_STEPS"
          t_run step tuned-1 "$r" "$TUNED" step --style tuned --threads 1 --steps "$TORCH_STEPS"
          t_run step tuned-2 "$r" "$TUNED" step --style tuned --threads 2 --steps "$TORCH_STEPS"
          [ "$r" -gt "$DENSE_REPS" ] || t_run step tuned-dense "$r" "$TUNED" step --style tuned --renderer dense --threads 2 --steps "$DENSE_STEPS"
        fi
        r=$((r + 1))
      done
      load1=$(load)
      c=$(med step "c-j$TH" per_step) c1=$(med step c-j1 per_step)
      u=$(med step users per_step) t1=$(med step tuned-1 per_step) t2=$(med step tuned-2 per_step)
      td=$(med step tuned-dense per_step)
      tb=$(awk -v a="$t1" -v b="$t2" 'BEGIN { if (a == "n/a") print b; else if (b == "n/a" || a + 0 < b + 0) print a; else print b }')
      echo
      echo "### One step: 8 cubic Béziers, 4 views, ViT-B/32 forward + backward, losses, Adam"
      echo
      echo "Load average before $load0, after $load1. Steps a run: C $STEP_STEPS; PyTorch users' $USERS_STEPS ($USERS_REPS run(s)),"
      echo "tuned $TORCH_STEPS, tuned with the study's renderer $DENSE_STEPS ($DENSE_REPS run(s)). PyTorch's default thread count here: $(val "$OUT/opt-t-step-users.txt" threads)."
      echo
      echo "| seconds per step (median of $REPS; range) | C -j $TH | C -j 1 | PyTorch as users run it | PyTorch tuned, study's renderer, 2 threads | PyTorch tuned + separable splats, 1 thread | same, 2 threads |"
      echo "|---|---|---|---|---|---|---|"
      echo "| one step | $c ($(range step "c-j$TH" per_step)) | $c1 ($(range step c-j1 per_step)) | $u ($(range step users per_step)) | $td ($(range step tuned-dense per_step)) | $t1 ($(range step tuned-1 per_step)) | $t2 ($(range step tuned-2 per_step)) |"
      echo "| C -j $TH faster by | | | $(ratio "$c" "$u") | $(ratio "$c" "$td") | $(ratio "$c" "$t1") | $(ratio "$c" "$t2") |"
      echo "| C -j 1 faster by | | | $(ratio "$c1" "$u") | $(ratio "$c1" "$td") | $(ratio "$c1" "$t1") | $(ratio "$c1" "$t2") |"
      echo
      echo "Against tuned PyTorch with separable splats at its best thread count ($tb s): C -j $TH $(ratio "$c" "$tb"), C -j 1 $(ratio "$c1" "$tb");"
      echo "against tuned PyTorch with the study's dense renderer: C -j $TH $(ratio "$c" "$td") (target ≥ 2.5× tuned)."
      echo
      cc=$(med step c-j1 cpu_per_step_after_first) tc=$(med step tuned-1 cpu_per_step_after_first)
      echo "CPU seconds per step after the first, all threads (less sensitive to other processes than the wall clock):"
      echo "C -j 1 (one thread) $cc, PyTorch tuned + separable with set_num_threads(1) $tc (its OpenBLAS still runs"
      echo "its own threads): C needs $(ratio "$cc" "$tc") less CPU."
      echo
      echo "| phase, seconds per step | C -j $TH | share | PyTorch users' | PyTorch tuned, study's renderer | PyTorch tuned + separable, 2 threads |"
      echo "|---|---|---|---|---|---|"
      for k in render resize augment losses update; do
        v=$(med step "c-j$TH" "$k")
        echo "| C $k | $v | $(pct "$v" "$c") | | | |"
      done
      for k in render augment encode losses backward update; do
        echo "| PyTorch $k | | | $(med step users "$k") | $(med step tuned-dense "$k") | $(med step tuned-2 "$k") |"
      done
      ra=$(awk -v a="$(med step "c-j$TH" render)" -v b="$(med step "c-j$TH" resize)" -v c="$(med step "c-j$TH" augment)" 'BEGIN { printf "%.5f", a + b + c }')
      echo
      echo "C renderer + resize + augmentations: $ra s a step, $(pct "$ra" "$c") of it (target < 5%)."
      echo "C losses includes CLIP's forward and backward for the 4 views; PyTorch encode is CLIP's forward, backward is the whole autograd backward."
      echo "Sanity (PyTorch, similarity to 'fish' of the first and last step): users' $(med step users similarity_first) → $(med step users similarity_last), tuned $(med step tuned-2 similarity_first) → $(med step tuned-2 similarity_last); peak RSS users' $(med step users peak_rss) MB, tuned $(med step tuned-2 peak_rss) MB."
      ;;
    bf16)
      # the same step with the image tower's matrix products in bfloat16: C --precision bf16 against
      # PyTorch tuned in float32 and in its two bfloat16 modes, all interleaved in each repetition
      r=1
      while [ "$r" -le "$REPS" ]; do
        for pr in bf16 f32; do
          if [ $pr = bf16 ]; then c_opt "$TH" "$STEP_STEPS" --precision bf16; else c_opt "$TH" "$STEP_STEPS"; fi
          f=$OUT/opt-c.err
          rec bf16 "c-$pr" "$r" per_step "$(awk -v s="$(timing "$f" seconds)" -v n="$STEP_STEPS" 'BEGIN { printf "%.4f", s / n }')"
          rec bf16 "c-$pr" "$r" per_step_after_first "$(awk -v s="$(timing "$f" seconds)" -v a="$(timing "$f" first_steps)" -v n="$STEP_STEPS" 'BEGIN { if (n > 1) printf "%.4f", (s - a) / (n - 1); else print "n/a" }')"
          rec bf16 "c-$pr" "$r" losses "$(awk -v s="$(timing "$f" losses)" -v n="$STEP_STEPS" 'BEGIN { printf "%.5f", s / n }')"
        done
        if [ -n "$py" ]; then
          for th in 1 2; do
            t_run bf16 "f32-$th" "$r" "$TUNED" step --style tuned --threads "$th" --steps "$TORCH_STEPS"
            t_run bf16 "autocast-$th" "$r" "$TUNED" step --style tuned --threads "$th" --steps "$TORCH_STEPS" --precision autocast-bf16
            t_run bf16 "bf16-$th" "$r" "$TUNED" step --style tuned --threads "$th" --steps "$TORCH_STEPS" --precision bf16
          done
        fi
        r=$((r + 1))
      done
      load1=$(load)
      cb=$(med bf16 c-bf16 per_step) cf=$(med bf16 c-f32 per_step)
      tf=$(best "$(med bf16 f32-1 per_step)" "$(med bf16 f32-2 per_step)")
      ta=$(best "$(med bf16 autocast-1 per_step)" "$(med bf16 autocast-2 per_step)")
      tb=$(best "$(med bf16 bf16-1 per_step)" "$(med bf16 bf16-2 per_step)")
      cb1=$(med bf16 c-bf16 per_step_after_first) cf1=$(med bf16 c-f32 per_step_after_first)
      tf1=$(best "$(med bf16 f32-1 per_step_after_first)" "$(med bf16 f32-2 per_step_after_first)")
      ta1=$(best "$(med bf16 autocast-1 per_step_after_first)" "$(med bf16 autocast-2 per_step_after_first)")
      tb1=$(best "$(med bf16 bf16-1 per_step_after_first)" "$(med bf16 bf16-2 per_step_after_first)")
      echo
      echo "### The same step with bfloat16 matrix products (C --precision bf16)"
      echo
      echo "Load average before $load0, after $load1. C -j $TH, $STEP_STEPS steps a run; PyTorch tuned (as in the step table) on 1 and 2"
      echo "threads, $TORCH_STEPS steps, each precision at its better thread count: float32; \`torch.autocast(\"cpu\", torch.bfloat16)\`"
      echo "around the image tower (its matrix products in bfloat16, norms, softmax and activations in float32 - what C's"
      echo "bf16 mode does); the image tower converted whole with \`.bfloat16()\` (every op in bfloat16)."
      echo
      echo "| seconds per step (median of $REPS; range) | C bf16 | C float32 | PyTorch tuned float32 | PyTorch tuned autocast bf16 | PyTorch tuned whole-tower bf16 |"
      echo "|---|---|---|---|---|---|"
      echo "| one step | $cb ($(range bf16 c-bf16 per_step)) | $cf ($(range bf16 c-f32 per_step)) | $tf | $ta | $tb |"
      echo "| C bf16 faster by | | $(ratio "$cb" "$cf") | $(ratio "$cb" "$tf") | $(ratio "$cb" "$ta") | $(ratio "$cb" "$tb") |"
      echo "| C float32 faster by | | | $(ratio "$cf" "$tf") | $(ratio "$cf" "$ta") | $(ratio "$cf" "$tb") |"
      echo "| steady state: a step after the first | $cb1 ($(range bf16 c-bf16 per_step_after_first)) | $cf1 ($(range bf16 c-f32 per_step_after_first)) | $tf1 | $ta1 | $tb1 |"
      echo "| C bf16 faster by | | $(ratio "$cb1" "$cf1") | $(ratio "$cb1" "$tf1") | $(ratio "$cb1" "$ta1") | $(ratio "$cb1" "$tb1") |"
      echo "| C float32 faster by | | | $(ratio "$cf1" "$tf1") | $(ratio "$cf1" "$ta1") | $(ratio "$cf1" "$tb1") |"
      echo
      echo "The first step of a run meets fresh buffers (the activations for 4 views are allocated and first touched there,"
      echo "and PyTorch's allocator and oneDNN warm up): \"one step\" includes it over $STEP_STEPS / $TORCH_STEPS steps, the steady-state rows leave it out"
      echo "(C: \`--timing\`'s first_steps; PyTorch: the clock from the end of its first step)."
      echo "PyTorch per thread count (median): float32 $(med bf16 f32-1 per_step) / $(med bf16 f32-2 per_step), autocast $(med bf16 autocast-1 per_step) / $(med bf16 autocast-2 per_step),"
      echo "whole-tower bf16 $(med bf16 bf16-1 per_step) / $(med bf16 bf16-2 per_step) (1 / 2 threads). C bf16's CLIP phase (losses): $(med bf16 c-bf16 losses) s, $(pct "$(med bf16 c-bf16 losses)" "$cb") of its step."
      echo "Similarity to 'fish' at the first step (PyTorch; float32 $(med bf16 f32-2 similarity_first), autocast $(med bf16 autocast-2 similarity_first), whole-tower bf16 $(med bf16 bf16-2 similarity_first))."
      ;;
    shipped)
      r=1
      while [ "$r" -le "$REPS" ]; do
        for j in 1 2; do
          wall "$BIN/optimize" -j "$j" --loss clip-text:prompt='a fish' --loss structure:weight=0.3 --steps "$SHIPPED_STEPS" --timing \
            "$FISH" 2>"$OUT/opt-c.err"
          rec shipped "j$j" "$r" wall "$WALL"
          rec shipped "j$j" "$r" loop "$(timing "$OUT/opt-c.err" seconds)"
          [ "$SHIPPED_AUG" = 1 ] || continue
          wall "$BIN/optimize" -j "$j" --augment clipaug:preset=doodlebot-optimizer,nviews=4 --loss clip-text:prompt='a fish' \
            --loss structure:weight=0.3 --steps "$SHIPPED_STEPS" --timing "$FISH" 2>"$OUT/opt-c.err"
          rec shipped "aug-j$j" "$r" wall "$WALL"
          rec shipped "aug-j$j" "$r" loop "$(timing "$OUT/opt-c.err" seconds)"
        done
        r=$((r + 1))
      done
      load1=$(load)
      echo
      echo "### The shipped sketch CLIP: $SHIPPED_STEPS steps on one fish drawing"
      echo
      echo "\`optimize -j J --loss clip-text:prompt='a fish' --loss structure:weight=0.3 --steps $SHIPPED_STEPS\` on the first"
      echo "shipped fish drawing (softline, no augmentation), and the same with \`--augment clipaug:preset=doodlebot-optimizer,nviews=4\`."
      echo "Load average before $load0, after $load1. Seconds, median of $REPS (range); target: under 10 s on 2 cores."
      echo
      echo "| run | -j 1 whole process | -j 1 step loop | -j 2 whole process | -j 2 step loop |"
      echo "|---|---|---|---|---|"
      echo "| $SHIPPED_STEPS steps | $(med shipped j1 wall) ($(range shipped j1 wall)) | $(med shipped j1 loop) | $(med shipped j2 wall) ($(range shipped j2 wall)) | $(med shipped j2 loop) |"
      echo "| $SHIPPED_STEPS steps, 4 views | $(med shipped aug-j1 wall) ($(range shipped aug-j1 wall)) | $(med shipped aug-j1 loop) | $(med shipped aug-j2 wall) ($(range shipped aug-j2 wall)) | $(med shipped aug-j2 loop) |"
      ;;
    anchor)
      [ -f "$REF" ] || { echo "optimize.sh: reference picture $REF missing (set REF)" >&2; exit 3; }
      ab16=0 # C's bf16 products need AVX512_BF16: probe with one step
      if [ "$ANCHOR_BF16" = 1 ] && "$BIN/optimize" --model "$W" --precision bf16 --loss clip-image:image="$REF" \
        --steps 1 --history none "$FISH" >/dev/null 2>&1; then ab16=1; fi
      r=1
      while [ "$r" -le "$ANCHOR_C_REPS" ] || [ "$r" -le "$ANCHOR_TORCH_REPS" ]; do
        if [ "$r" -le "$ANCHOR_C_REPS" ]; then
          wall "$BIN/optimize" -j "$ANCHOR_J" --model "$W" --loss clip-image:image="$REF" --lr 0.5 --steps "$ANCHOR_STEPS" \
            --history none --timing "$FISH" 2>"$OUT/opt-c.err"
          rec anchor c "$r" wall "$WALL"
          rec anchor c "$r" loop "$(timing "$OUT/opt-c.err" seconds)"
          if [ "$ab16" = 1 ]; then
            wall "$BIN/optimize" -j "$ANCHOR_J" --model "$W" --precision bf16 --loss clip-image:image="$REF" --lr 0.5 \
              --steps "$ANCHOR_STEPS" --history none --timing "$FISH" 2>"$OUT/opt-c.err"
            rec anchor c-bf16 "$r" wall "$WALL"
            rec anchor c-bf16 "$r" loop "$(timing "$OUT/opt-c.err" seconds)"
          fi
        fi
        if [ -n "$py" ] && [ "$r" -le "$ANCHOR_TORCH_REPS" ]; then
          for t in $ANCHOR_TORCH_THREADS; do
            t_run anchor "tuned-$t" "$r" "$TUNED" anchor --style tuned --threads "$t" --steps "$ANCHOR_STEPS" \
              --image "$REF" --drawing "$FISH"
          done
          t_run anchor users "$r" "" anchor --style users --steps "$ANCHOR_USERS_STEPS" --image "$REF" --drawing "$FISH"
          if [ "$ab16" = 1 ]; then
            t_run anchor autocast-2 "$r" "$TUNED" anchor --style tuned --threads 2 --steps "$ANCHOR_STEPS" \
              --image "$REF" --drawing "$FISH" --precision autocast-bf16
          fi
        fi
        r=$((r + 1))
      done
      load1=$(load)
      c=$(med anchor c loop)
      t1=$(med anchor tuned-1 seconds) t2=$(med anchor tuned-2 seconds)
      u=$(awk -v s="$(med anchor users per_step)" -v n="$ANCHOR_STEPS" 'BEGIN { if (s == "n/a") print s; else printf "%.1f", s * n }')
      echo
      echo "### The reference-anchor run: $ANCHOR_STEPS steps, clip-image to perfectFish.jpeg, lr 0.5"
      echo
      echo "C: \`optimize -j $ANCHOR_J --model W --loss clip-image:image=perfectFish.jpeg --lr 0.5 --steps $ANCHOR_STEPS\` (softline, the"
      echo "first shipped fish drawing's polylines, no augmentation), median of $ANCHOR_C_REPS; PyTorch: the study's loop (splat renderer,"
      echo "batch-1 encode_image with autograd, Adam lr 0.5, clipping 1.0, clamp), tuned (frozen CLIP, separable splats)"
      echo "$ANCHOR_TORCH_REPS run(s) per thread count, users' (defaults, dense splats) $ANCHOR_USERS_STEPS steps scaled to $ANCHOR_STEPS."
      echo "Load average before $load0, after $load1."
      echo
      echo "| $ANCHOR_STEPS steps, seconds | C -j $ANCHOR_J | PyTorch users' | PyTorch tuned, 1 thread | PyTorch tuned, 2 threads |"
      echo "|---|---|---|---|---|"
      echo "| step loop | $c ($(range anchor c loop)) | $u (scaled from $ANCHOR_USERS_STEPS) | $t1 | $t2 |"
      echo "| whole process | $(med anchor c wall) | | | |"
      echo "| per step | $(awk -v s="$c" -v n="$ANCHOR_STEPS" 'BEGIN { printf "%.4f", s / n }') | $(med anchor users per_step) | $(med anchor tuned-1 per_step) | $(med anchor tuned-2 per_step) |"
      echo "| C faster by | | $(ratio "$c" "$u") | $(ratio "$c" "$t1") | $(ratio "$c" "$t2") |"
      echo
      echo "Sanity (PyTorch tuned 2 threads, similarity first → last): $(med anchor tuned-2 similarity_first) → $(med anchor tuned-2 similarity_last)."
      if [ "$ab16" = 1 ]; then
        cb=$(med anchor c-bf16 loop) ta=$(med anchor autocast-2 seconds)
        tb=$(best "$t1" "$t2")
        echo
        echo "With bfloat16 products: C \`--precision bf16\` (the same command), median of $ANCHOR_C_REPS; PyTorch tuned on 2 threads"
        echo "with \`torch.autocast(\"cpu\", torch.bfloat16)\` around the image tower, $ANCHOR_TORCH_REPS run(s)."
        echo
        echo "| $ANCHOR_STEPS steps, seconds | C -j $ANCHOR_J bf16 | PyTorch tuned autocast bf16, 2 threads | PyTorch tuned float32 (better thread count) |"
        echo "|---|---|---|---|"
        echo "| step loop | $cb ($(range anchor c-bf16 loop)) | $ta | $tb |"
        echo "| whole process | $(med anchor c-bf16 wall) | | |"
        echo "| C bf16 faster by | | $(ratio "$cb" "$ta") | $(ratio "$cb" "$tb") (not like with like) |"
        echo
        echo "Sanity (PyTorch autocast, similarity first → last): $(med anchor autocast-2 similarity_first) → $(med anchor autocast-2 similarity_last)."
      fi
      ;;
    *)
      echo "optimize.sh: unknown part '$part' (step, shipped, anchor)" >&2
      exit 2
      ;;
  esac
done
echo
echo "Raw measurements: $R"
