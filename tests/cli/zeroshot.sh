# tests/cli/zeroshot.sh - pipelines/zeroshot.sh end to end with a small full-vocabulary model
# (test_mkclip) and K small: the study's 10 words on the validation split give exactly what the
# documented commands give; the default model through $INVCLIP_MODEL; all 345 words (class names with
# spaces); SPLIT=all; bad settings; `make zeroshot` passes its variables through.
unset CLIP_MODEL INVCLIP_MODEL WORDS SPLIT K SEED OUT THREADS # only what each run sets
Q=data/quickdraw
STUDY="apple bird car cat chair dog fish flower house tree"
"$UNITS/test_mkclip" "$T/mk.safetensors"
keys() { sed 's/.*"key_id":"\([0-9]*\)".*/\1/' "$1" | sort; }
sort -u $Q/val-keys.txt >"$T/val.sorted"

# the study's words, validation split, K=3
CLIP_MODEL="$T/mk.safetensors" K=3 OUT="$T/study" sh pipelines/zeroshot.sh >"$T/study.out" 2>"$T/study.err"; rc=$?
eq "study words, SPLIT=val: exit 0" "$rc" 0
eq "classes: the study's 10 words" "$(tr '\n' ' ' <"$T/study/classes.txt")" "$STUDY "
eq "3 drawings of each word" "$(sed 's/.*"word":"\([^"]*\)".*/\1/' "$T/study/sketches.ndjson" | uniq -c | awk '{print $1}' | sort -u)" 3
keys "$T/study/sketches.ndjson" >"$T/study.keys"
eq "SPLIT=val: every drawing is a validation drawing" "$(comm -23 "$T/study.keys" "$T/val.sorted" | wc -l | tr -d ' ')" 0
eq "one prediction per drawing" "$(grep -c '"top":\[' "$T/study/predictions.ndjson")" 30
if grep -q '^{"words":"study","split":"val","k":3,"seed":1,"model":"mk.safetensors","top1":[0-9.]*,"top5":[0-9.]*,"correct":[0-9]*,"correct5":[0-9]*,"total":30,"unscored":0,"nclasses":10,"classes":\[' "$T/study/summary.json"
then ok "summary.json: the run's settings, top1, top5, 30 scored"; else notok "summary.json" "$(head -c 400 "$T/study/summary.json")"; fi
t1=$(sed 's/,"classes".*//; s/.*"top1":\([0-9.]*\).*/\1/' "$T/study/summary.json")
t5=$(sed 's/,"classes".*//; s/.*"top5":\([0-9.]*\).*/\1/' "$T/study/summary.json")
num_ok "top-1 $t1 <= top-5 $t5" "$t1 <= $t5 && $t5 > 0"
if tail -1 "$T/study.err" | grep -q "^zeroshot: WORDS=study SPLIT=val: top-1 $t1, top-5 $t5; "; then ok "the last line reports top-1 and top-5"
else notok "the last line" "$(tail -3 "$T/study.err")"; fi
# the same as the documented commands, one qd-extract per word, rendered as the study rendered them
for w in $STUDY; do qd-extract --key-file $Q/val-keys.txt --sample 3 --seed 1 $Q/simplified/$w.ndjson.gz; done \
  | rasterize --size 256 --width 3 --pad 10 --renderer builtin \
  | clip-embed --model "$T/mk.safetensors" --zero-shot "$(echo $STUDY | tr ' ' ,)" >"$T/manual.pred" 2>/dev/null
same "the pipeline's predictions = qd-extract per word | rasterize --size 256 --width 3 --pad 10 | clip-embed" \
  "$T/manual.pred" "$T/study/predictions.ndjson"

# no CLIP_MODEL: clip-embed's default ($INVCLIP_MODEL here; the shipped model otherwise)
env -u CLIP_MODEL INVCLIP_MODEL="$T/mk.safetensors" K=3 OUT="$T/dflt" sh pipelines/zeroshot.sh >/dev/null 2>"$T/dflt.err"; rc=$?
eq "no CLIP_MODEL: exit 0" "$rc" 0
same "no CLIP_MODEL: clip-embed's default model, the same predictions" "$T/study/predictions.ndjson" "$T/dflt/predictions.ndjson"
eq "clip-embed says once which model" "$(grep -c "no --model: using" "$T/dflt.err")" 1
expect_exit "no CLIP_MODEL and a missing default: clip-embed's exit 5" 5 "no such model file" \
  env -u CLIP_MODEL INVCLIP_MODEL="$T/none.safetensors" K=1 OUT="$T/none" sh pipelines/zeroshot.sh

# all 345 words, one drawing each: class names are the file names, spaces kept
CLIP_MODEL="$T/mk.safetensors" WORDS=all K=1 OUT="$T/all" sh pipelines/zeroshot.sh >/dev/null 2>"$T/all.err"; rc=$?
eq "WORDS=all: exit 0" "$rc" 0
eq "WORDS=all: 345 classes" "$(wc -l <"$T/all/classes.txt" | tr -d ' ')" 345
if grep -qx "The Eiffel Tower" "$T/all/classes.txt" && grep -q '"label":"The Eiffel Tower","accuracy"' "$T/all/summary.json"; then ok "a class name with spaces"
else notok "a class name with spaces" "$(head -3 "$T/all/classes.txt")"; fi
if grep -q '"words":"all","split":"val","k":1,.*"total":345,"unscored":0,"nclasses":345,' "$T/all/summary.json"; then ok "WORDS=all: 345 drawings scored"
else notok "WORDS=all summary" "$(head -c 300 "$T/all/summary.json")"; fi

# SPLIT=all takes every drawing; SPLIT=val only the validation ones (K above the count)
CLIP_MODEL="$T/mk.safetensors" WORDS=fish SPLIT=all K=100000 OUT="$T/fa" sh pipelines/zeroshot.sh >/dev/null 2>&1
CLIP_MODEL="$T/mk.safetensors" WORDS=fish SPLIT=val K=100000 OUT="$T/fv" sh pipelines/zeroshot.sh >/dev/null 2>&1
nall=$(zcat $Q/simplified/fish.ndjson.gz | wc -l | tr -d ' ')
nval=$(zcat $Q/simplified/fish.ndjson.gz | grep -c -F -f $Q/val-keys.txt)
eq "SPLIT=all: every fish drawing" "$(grep -c '"top":\[' "$T/fa/predictions.ndjson")" "$nall"
eq "SPLIT=val: the validation fish drawings ($nval)" "$(grep -c '"top":\[' "$T/fv/predictions.ndjson")" "$nval"
if grep -q '"words":"fish","split":"all",' "$T/fa/summary.json"; then ok "a one-word list"; else notok "a one-word list" "$(head -c 200 "$T/fa/summary.json")"; fi
CLIP_MODEL="$T/mk.safetensors" WORDS=' cat,The Eiffel Tower,cat, ' K=2 OUT="$T/list" sh pipelines/zeroshot.sh >/dev/null 2>&1
eq "a W,W list: blanks trimmed, repeats dropped, spaces inside kept" "$(tr '\n' '|' <"$T/list/classes.txt")" "cat|The Eiffel Tower|"
eq "a W,W list: K of each" "$(grep -c '"top":\[' "$T/list/predictions.ndjson")" 4

# bad settings: exit 2 naming the problem
expect_exit "SPLIT=test -> exit 2" 2 "SPLIT='test' is not val or all" env SPLIT=test CLIP_MODEL="$T/mk.safetensors" sh pipelines/zeroshot.sh
expect_exit "an unknown word -> exit 2" 2 "no drawings of 'unicorn'" env WORDS=cat,unicorn OUT="$T/bad" CLIP_MODEL="$T/mk.safetensors" sh pipelines/zeroshot.sh
expect_exit "K=0 -> exit 2" 2 "K='0' is not a positive number" env K=0 CLIP_MODEL="$T/mk.safetensors" sh pipelines/zeroshot.sh

# make zeroshot passes its variables to the script (dry run: nothing is built or run)
make -n zeroshot WORDS=all SPLIT=all K=7 CLIP_MODEL=x.pt 2>&1 | grep 'pipelines/zeroshot.sh' -B1 >"$T/make.n"
if grep -q "CLIP_MODEL='x.pt' WORDS='all' SPLIT='all' K='7'" "$T/make.n"; then ok "make zeroshot passes WORDS SPLIT K CLIP_MODEL"
else notok "make zeroshot passes its variables" "$(cat "$T/make.n")"; fi
