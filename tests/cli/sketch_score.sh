# tests/cli/sketch_score.sh - sketch-score: a tiny-config training run on
# five words learns (validation on the held-out key_ids beats chance),
# --stop-after + --resume gives the same files byte for byte as an
# uninterrupted run, scoring writes the documented fields (chamfer 0 and ink
# ratio 1 against itself, every input field passed through), summaries in
# Markdown and NDJSON, PNG-stream input, and bad input fails with the
# documented exit codes.  Sourced by tests/run.sh.

WORDS="apple car fish house tree"
for w in $WORDS; do gzip -dc "data/quickdraw/simplified/$w.ndjson.gz"; done >"$T/five.ndjson"
VK=data/quickdraw/val-keys.txt
TINY="--image-size 32 --channels 8,16,32 -j 1"

check "sketch-score --help" sketch-score --help

# --- learning: 5 words, 300 steps of 16 ------------------------------------
sketch-score --train -o "$T/run" $TINY --batch 16 --steps 300 --eval-every 150 --lr 3e-3 --val-keys $VK \
  "$T/five.ndjson" 2>"$T/run.err"
eq "tiny training run: exit 0" "$?" 0
eq "tiny run: two validation lines" "$(wc -l <"$T/run/log.ndjson" | tr -d ' ')" 2
held=$(grep -o '"key_id":"[0-9]*"' "$T/five.ndjson" | tr -dc '0-9\n' | grep -Fxf $VK | wc -l | tr -d ' ')
eq "validation is the held-out key_ids of the five words" \
  "$(grep -o '"val_n":[0-9]*' "$T/run/log.ndjson" | tail -1 | cut -d: -f2)" "$held"
top1=$(grep -o '"val_top1":[0-9.]*' "$T/run/log.ndjson" | tail -1 | cut -d: -f2)
num_ok "validation top-1 beats chance (0.2) clearly: $top1" "$top1 >= 0.5"
check "model.safetensors and config.json written" test -s "$T/run/model.safetensors" -a -s "$T/run/config.json"
grep -q '"evalnet.channels":"8,16,32"' "$T/run/model.safetensors" && grep -q 'evalnet.words' "$T/run/model.safetensors" &&
  ! grep -q 'optim\.m\.' "$T/run/model.safetensors" && grep -q 'features.2.bn.running_var' "$T/run/model.safetensors"
eq "model: config, words, batch-norm statistics in the file, no optimiser state" "$?" 0
grep -q '"num_classes": 5' "$T/run/config.json"
eq "config.json describes the model" "$?" 0

# --- resume, bit for bit ----------------------------------------------------
R="$TINY --batch 8 --steps 40 --save-every 10 --eval-every 20 --val-keys $VK --val-limit 50"
sketch-score --train -o "$T/a" $R "$T/five.ndjson" 2>/dev/null
sketch-score --train -o "$T/b" $R --stop-after 25 "$T/five.ndjson" 2>"$T/b.err"
eq "--stop-after: exit 0, no model yet" "$?:$(test -e "$T/b/model.safetensors" && echo model)" "0:"
grep -q 'stopped after step 25 of 40' "$T/b.err"
eq "--stop-after says where it stopped" "$?" 0
sketch-score --train -o "$T/b" $R --resume "$T/five.ndjson" 2>"$T/b2.err"
grep -q 'resuming .* at step 25 of 40' "$T/b2.err"
eq "--resume starts at the checkpoint's step" "$?" 0
same "resumed run: model identical to the uninterrupted run" "$T/a/model.safetensors" "$T/b/model.safetensors"
same "resumed run: checkpoint (weights, moments, statistics, step) identical" "$T/a/checkpoint.safetensors" \
  "$T/b/checkpoint.safetensors"
cp "$T/b/checkpoint.safetensors" "$T/keep"
expect_exit "--resume with other options: exit 5, names the setting" 5 'train.seed' \
  sketch-score --train -o "$T/b" $R --seed 9 --resume "$T/five.ndjson"
expect_exit "--resume into another architecture: exit 5" 5 'evalnet.channels' \
  sketch-score --train -o "$T/b" $(echo "$R" | sed 's/8,16,32/8,16,48/') --resume "$T/five.ndjson"
same "a refused resume leaves the checkpoint as it was" "$T/keep" "$T/b/checkpoint.safetensors"
expect_exit "--resume without a checkpoint: exit 5, names the file" 5 'checkpoint.safetensors' \
  sketch-score --train -o "$T/none" $R --resume "$T/five.ndjson"

# --- scoring ----------------------------------------------------------------
M="$T/run/model.safetensors"
head -20 "$T/five.ndjson" | sed 's/"drawing":\(\[.*\]\)\([,}]\)/"drawing":\1,"initial":\1\2/' >"$T/self.ndjson"
sketch-score -m "$M" --reference initial --summary "$T/s.md" --summary "$T/s.json" "$T/self.ndjson" \
  >"$T/self.out" 2>"$T/self.err"
eq "scoring: exit 0, one line per record" "$?:$(wc -l <"$T/self.out" | tr -d ' ')" "0:20"
eq "every record gets top-5 words, p_word and rank" \
  "$(grep -c '"score":{"top":\[{"word":"[a-z]*","p":[0-9.e-]*},{.*}\],"p_word":[0-9.e-]*,"rank":[0-9]*' "$T/self.out")" 20
eq "chamfer = 0 and ink ratio = 1 for a record scored against itself" \
  "$(grep -c '"reference":"initial","chamfer":0,"ink_ratio":1,' "$T/self.out")" 20
eq "stroke and point counts of the drawing and the reference" \
  "$(grep -c '"strokes":[0-9]*,"points":[0-9]*,.*"ref_strokes":[0-9]*,"ref_points":[0-9]*' "$T/self.out")" 20
sed 's/,"score":{.*}}$/}/' "$T/self.out" >"$T/self.back"
same "every input field passes through byte for byte" "$T/self.ndjson" "$T/self.back"
grep -q '^| mean chamfer (px of 256) | 0.000 |' "$T/s.md" && grep -q '^| top-1 | ' "$T/s.md"
eq "Markdown summary: accuracy and chamfer rows" "$?" 0
grep -q '"n":20,"n_word":20,.*"mean_chamfer":0,.*"ink_ratio_mean":1,' "$T/s.json"
eq "NDJSON summary: counts, chamfer, ink ratio" "$?" 0
r1=$(grep -c '"rank":1,' "$T/self.out")
t1=$(grep -o '"top1":[0-9.]*' "$T/s.json" | cut -d: -f2)
num_ok "summary top-1 ($t1) is the share of rank-1 records ($r1/20)" "($t1 - $r1/20)^2 < 1e-9"
qd-degrade --degrade noise:level=4 --seed 3 "$T/self.ndjson" >"$T/deg.ndjson" 2>/dev/null
sketch-score -m "$M" --reference target --summary "$T/d.json" "$T/deg.ndjson" >"$T/deg.out" 2>/dev/null
ch=$(grep -o '"mean_chamfer":[0-9.]*' "$T/d.json" | cut -d: -f2)
num_ok "a degraded drawing against its clean target: chamfer > 0 ($ch px)" "$ch > 0.3"
# --field: score another drawing-shaped field; scoring "target" of the pairs = scoring the clean records
sketch-score -m "$M" --field target "$T/deg.ndjson" >"$T/tf.out" 2>/dev/null
sketch-score -m "$M" "$T/self.ndjson" >"$T/self2.out" 2>/dev/null
eq "--field target scores the clean half: the same words and probabilities" \
  "$(grep -o '"top":\[[^]]*\]' "$T/tf.out" | md5sum)" "$(grep -o '"top":\[[^]]*\]' "$T/self2.out" | md5sum)"
expect_exit "--field naming a missing field: exit 1" 1 'no field "nosuch"' sketch-score -m "$M" --field nosuch "$T/self.ndjson"
sketch-score -m "$M" "$T/five.ndjson" --summary "$T/n.json" -j 1 >"$T/n1.out" 2>/dev/null
grep -q '"n":1921,' "$T/n.json" && ! grep -q chamfer "$T/n.json"
eq "no --reference: no structure figures" "$?" 0
sketch-score -m "$M" "$T/five.ndjson" -j 2 >"$T/n2.out" 2>/dev/null
same "scores do not depend on the thread count (1921 records, many batches)" "$T/n1.out" "$T/n2.out"
sketch-score -m "$M" "$T/self.out" >"$T/again.out" 2>/dev/null
eq "re-scoring a scored stream keeps one score field per record" "$(grep -o '"score":' "$T/again.out" | wc -l | tr -d ' ')" 20
head -5 "$T/five.ndjson" | rasterize --size 32 >"$T/five.png" 2>/dev/null
sketch-score -m "$M" --input png "$T/five.png" >"$T/png.out" 2>/dev/null
eq "PNG stream: one line per image with key_id, word and score" \
  "$(grep -c '^{"key_id":"[0-9]*","word":"apple","image":[0-9],"score":{"top":\[.*"p_word":' "$T/png.out")" 5

head -1 "$T/five.ndjson" | sed 's/"word":"apple"/"word":"zebra"/' >"$T/zebra.ndjson"
sketch-score -m "$M" --top 2 --summary "$T/z.json" "$T/zebra.ndjson" >"$T/z.out" 2>/dev/null
grep -q '"score":{"top":\[{[^]]*},{[^]]*}\],"p_word":null,"rank":null' "$T/z.out" && grep -q '"n_word":0,"n_unknown_word":1' "$T/z.json"
eq "a word the model does not know: p_word and rank null, counted apart; --top 2" "$?" 0

# --- bad input --------------------------------------------------------------
printf '{"key_id":"b1","word":"cat","drawing":[[[0,1],[0,1]]]\n' >"$T/bad.ndjson"
expect_exit "malformed JSON: exit 1, names the line" 1 'bad.ndjson:1' sketch-score -m "$M" "$T/bad.ndjson"
printf '{"key_id":"e1","word":"cat","drawing":[]}\n' >"$T/empty.ndjson"
expect_exit "an empty drawing: exit 1, names the record" 1 'key_id e1.*empty' sketch-score -m "$M" "$T/empty.ndjson"
# a collapsed output: one stroke shrunk to a dot, against the original as "initial"
head -1 "$T/five.ndjson" | sed 's/"drawing":\(\[.*\]\)\([,}]\)/"drawing":[[[100],[100]]],"initial":\1\2/' >"$T/dot.ndjson"
sketch-score -m "$M" --reference initial --summary "$T/e.json" "$T/dot.ndjson" >"$T/e.out" 2>/dev/null
grep -q '"blank":true' "$T/e.out" && grep -q '"blank":1,' "$T/e.json" && grep -q '"ink_ratio_outside_0.5_2":1' "$T/e.json"
eq "a collapsed output (a dot for a drawing) is counted blank and outside the ink-ratio band" "$?" 0
expect_exit "missing model: exit 5, says how to make it" 5 'make train-evaluator' \
  sketch-score -m "$T/nope.safetensors" "$T/self.ndjson"
expect_exit "default model missing: exit 5, says how to make it" 5 'make train-evaluator' \
  env INVCLIP_EVALUATOR="$T/none/model.safetensors" sketch-score "$T/self.ndjson"
head -c 3000 "$M" >"$T/trunc.safetensors"
expect_exit "truncated model: exit 5" 5 'trunc.safetensors' sketch-score -m "$T/trunc.safetensors" "$T/self.ndjson"
expect_exit "a CLIP file is not an evaluator: exit 5" 5 "not an evaluator" \
  sketch-score -m data/models/sketch-clip/model.safetensors "$T/self.ndjson"
expect_exit "--top 0: exit 2" 2 'top' sketch-score -m "$M" --top 0 "$T/self.ndjson"
expect_exit "bad --channels: exit 2" 2 'channels' sketch-score --train -o "$T/x" --channels 8,,16 "$T/five.ndjson"
printf '{"key_id":"nw1","drawing":[[[0,10],[0,10]]]}\n' >"$T/noword.ndjson"
expect_exit "training record without a word: exit 1" 1 'key_id nw1.*word' \
  sketch-score --train -o "$T/x" $R "$T/five.ndjson" "$T/noword.ndjson"
