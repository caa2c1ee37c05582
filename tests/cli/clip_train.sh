# tests/cli/clip_train.sh - clip-train on a 5-word task from the shipped
# QuickDraw data with a tiny config: the loss falls and zero-shot accuracy on
# the held-out key_ids clearly beats chance; the model file loads in
# clip-embed, whose zero-shot accuracy on the same records (PNG stream, CLIP
# preprocessing) equals the trainer's; --stop-after + --resume gives the
# same files, byte for byte, as an uninterrupted run; bad records, bad and
# mismatched checkpoints fail with the documented codes and lose nothing.
# Sourced by tests/run.sh.

WORDS="apple car fish house tree"
for w in $WORDS; do gzip -dc "data/quickdraw/simplified/$w.ndjson.gz"; done >"$T/five.ndjson"
TINY="--width 64 --layers 2 --heads 2 --patch 8 --image-size 32 --text-width 64 --text-layers 1 --text-heads 1
      --embed 64 -j 1"
VK=data/quickdraw/val-keys.txt

check "clip-train --help" clip-train --help

# --- learning: 5 words, 600 steps of 5 -------------------------------------
clip-train -o "$T/run" $TINY --batch 5 --steps 600 --eval-every 200 --lr 3e-4 --val-keys $VK "$T/five.ndjson" \
  2>"$T/run.err"
eq "tiny run: exit 0" "$?" 0
eq "tiny run: three validation lines" "$(wc -l <"$T/run/log.ndjson" | tr -d ' ')" 3
held=$(grep -o '"key_id":"[0-9]*"' "$T/five.ndjson" | tr -dc '0-9\n' | grep -Fxf $VK | wc -l | tr -d ' ')
eq "validation is the held-out key_ids of the five words" \
  "$(grep -o '"val_n":[0-9]*' "$T/run/log.ndjson" | head -1 | cut -d: -f2)" "$held"
l0=$(grep -o '"loss_avg":[0-9.]*' "$T/run/log.ndjson" | head -1 | cut -d: -f2)
l1=$(grep -o '"loss_avg":[0-9.]*' "$T/run/log.ndjson" | tail -1 | cut -d: -f2)
num_ok "running loss falls below chance (ln 5 = 1.609) and keeps falling ($l0 -> $l1)" "$l1 < 1.50 && $l1 < $l0"
top1=$(grep -o '"val_top1":[0-9.]*' "$T/run/log.ndjson" | tail -1 | cut -d: -f2)
num_ok "zero-shot top-1 on held-out drawings beats chance (0.2) clearly: $top1" "$top1 >= 0.35"
top5=$(grep -o '"val_top5":[0-9.]*' "$T/run/log.ndjson" | tail -1 | cut -d: -f2)
eq "top-5 among 5 words is 1" "$top5" "1.000000"
eq "each validation printed on stderr" "$(grep -c 'validation zero-shot top-1 [0-9.]* top-5 [0-9.]* on' "$T/run.err")" 3
check "model.safetensors and config.json written" test -s "$T/run/model.safetensors" -a -s "$T/run/config.json"
grep -q '"num_attention_heads": 2' "$T/run/config.json" && grep -q '"patch_size": 8' "$T/run/config.json"
eq "config.json is a Hugging Face CLIPConfig of the run" "$?" 0
grep -q 'vision_model.encoder.layers.1.self_attn.k_proj.weight' "$T/run/model.safetensors" &&
  grep -q '"visual_projection.weight":{"dtype":"F32","shape":\[64,64\]' "$T/run/model.safetensors" &&
  ! grep -q 'optim\.m\.' "$T/run/model.safetensors"
eq "model.safetensors: Hugging Face names, no optimiser state" "$?" 0
grep -q 'optim.m.text_model.embeddings.token_embedding.weight' "$T/run/checkpoint.safetensors"
eq "checkpoint.safetensors keeps the AdamW moments" "$?" 0

# --- samples.ndjson: held-out drawings with the model's top-3 guesses ----------
printf 'apple\ncar\nfish\nhouse\ntree\n' >"$T/five.words"
python3 - "$T/run/samples.ndjson" "$T/five.ndjson" $VK "$T/five.words" "$T/run/log.ndjson" >"$T/py" 2>&1 <<'PYEOF'
import json, sys
def ok(c, n, d=""): print(("ok - " if c else "not ok - ") + n + ("" if c or not d else "\n#   " + str(d)))
S = [json.loads(l) for l in open(sys.argv[1])]
src = {r["key_id"]: r for r in map(json.loads, open(sys.argv[2]))}
val = set(l.strip() for l in open(sys.argv[3]))
words = [l.strip() for l in open(sys.argv[4])]
last = [json.loads(l) for l in open(sys.argv[5])][-1]["step"]
ok(len(S) == 5 and len({s["word"] for s in S}) == 5, "samples.ndjson: one held-out drawing of each of the 5 words (%d)" % len(S))
ok(all(set(s) >= {"step", "key_id", "word", "top", "correct", "drawing"} for s in S), "each has step, key_id, word, top, correct, drawing")
ok(all(s["step"] == last == 600 for s in S), "written at the last validation (step %s)" % S[0]["step"])
ok(all(s["key_id"] in val and src[s["key_id"]]["word"] == s["word"] and src[s["key_id"]]["drawing"] == s["drawing"] for s in S),
   "held-out key_ids, their own word and drawing")
order = [json.loads(l) for l in open(sys.argv[2])]
firsts = {}
for r in order:
    if r["key_id"] in val and r["word"] not in firsts: firsts[r["word"]] = r["key_id"]
ok([s["key_id"] for s in S] == [firsts[w] for w in words], "the first held-out drawing of each word, in input order")
ok(all(len(s["top"]) == 3 for s in S), "three guesses each")
ok(all(all(t["word"] in words for t in s["top"]) and len({t["word"] for t in s["top"]}) == 3 for s in S),
   "guesses are distinct words of the classes")
ok(all(all(0 <= t["p"] <= 1 for t in s["top"]) and sum(t["p"] for t in s["top"]) <= 1 + 1e-6 for s in S),
   "probabilities in [0, 1], summing to at most 1")
ok(all([t["p"] for t in s["top"]] == sorted([t["p"] for t in s["top"]], reverse=True) for s in S), "guesses sorted, best first")
ok(all(s["correct"] == (s["top"][0]["word"] == s["word"]) for s in S), "correct = the first guess is the word")
PYEOF
cat "$T/py"
clip-train --samples-from "$T/run/model.safetensors" --classes "$T/five.words" --val-keys $VK -j 1 -o "$T/so" \
  "$T/five.ndjson" 2>"$T/so.err"
eq "--samples-from: exit 0, no training" "$?:$(ls "$T/so")" "0:samples.ndjson"
same "--samples-from gives the samples of the run's final evaluation, byte for byte" "$T/run/samples.ndjson" "$T/so/samples.ndjson"
grep -q 'step 600.*5 samples' "$T/so.err" && ok "--samples-from says what it wrote" || notok "--samples-from message" "$(cat "$T/so.err")"
expect_exit "--samples-from without --val-keys: exit 2" 2 'val-keys' \
  clip-train --samples-from "$T/run/model.safetensors" -o "$T/so2" "$T/five.ndjson"
expect_exit "--samples-from a missing model: exit 5 naming it" 5 'nosuch.safetensors' \
  clip-train --samples-from "$T/nosuch.safetensors" --val-keys $VK -o "$T/so2" "$T/five.ndjson"

# --- the same accuracy through the tools: rasterize | clip-embed ------------
keys=$(grep -o '"key_id":"[0-9]*"' "$T/five.ndjson" | tr -dc '0-9\n' | grep -Fxf $VK | paste -sd, -)
qd-extract --key "$keys" "$T/five.ndjson" | rasterize --size 256 --width 3 --pad 10 --renderer builtin |
  clip-embed --model "$T/run/model.safetensors" --zero-shot apple,car,fish,house,tree --summary "$T/zs.json" \
    >/dev/null 2>"$T/zs.err"
eq "clip-embed loads the trained model (HF naming + config.json)" "$?" 0
zt=$(grep -o '"top1":[0-9.]*' "$T/zs.json" | head -1 | cut -d: -f2)
num_ok "clip-embed's zero-shot top-1 ($zt) equals clip-train's ($top1) within one drawing" \
  "($zt - $top1) * $held <= 1.01 && ($top1 - $zt) * $held <= 1.01"

# --- resume, bit for bit ----------------------------------------------------
R="$TINY --batch 5 --steps 40 --save-every 10 --eval-every 20 --val-keys $VK --val-limit 50"
clip-train -o "$T/a" $R "$T/five.ndjson" 2>/dev/null
clip-train -o "$T/b" $R --stop-after 25 "$T/five.ndjson" 2>"$T/b.err"
eq "--stop-after: exit 0, no model yet" "$?:$(test -e "$T/b/model.safetensors" && echo model)" "0:"
grep -q 'stopped after step 25 of 40' "$T/b.err"
eq "--stop-after says where it stopped" "$?" 0
clip-train -o "$T/b" $R --resume "$T/five.ndjson" 2>"$T/b2.err"
grep -q 'resuming .* at step 25 of 40' "$T/b2.err"
eq "--resume starts at the checkpoint's step" "$?" 0
same "resumed run: model identical to the uninterrupted run" "$T/a/model.safetensors" "$T/b/model.safetensors"
same "resumed run: checkpoint (weights, moments, step) identical" "$T/a/checkpoint.safetensors" "$T/b/checkpoint.safetensors"
same "resumed run: samples identical" "$T/a/samples.ndjson" "$T/b/samples.ndjson"

# --- bad input --------------------------------------------------------------
cp "$T/b/checkpoint.safetensors" "$T/keep"
expect_exit "--resume with other options: exit 5, names the setting" 5 'train.seed' \
  clip-train -o "$T/b" $R --seed 9 --resume "$T/five.ndjson"
expect_exit "--resume into a different model: exit 5, names the tensor" 5 "tensor '.*' has shape|missing" \
  clip-train -o "$T/b" $(echo "$R" | sed 's/--width 64/--width 96/') --resume "$T/five.ndjson"
head -c 5000 "$T/keep" >"$T/b/checkpoint.safetensors"
expect_exit "--resume from a truncated checkpoint: exit 5" 5 'checkpoint.safetensors' \
  clip-train -o "$T/b" $R --resume "$T/five.ndjson"
cp "$T/keep" "$T/b/checkpoint.safetensors"
clip-train -o "$T/b" $R --seed 9 --resume "$T/five.ndjson" 2>/dev/null
same "a refused resume leaves the checkpoint as it was" "$T/keep" "$T/b/checkpoint.safetensors"
expect_exit "--resume without a checkpoint: exit 5, names the file" 5 'checkpoint.safetensors' \
  clip-train -o "$T/none" $R --resume "$T/five.ndjson"
printf '{"key_id":"nw1","drawing":[[[0,10],[0,10]]]}\n' >"$T/noword.ndjson"
expect_exit "a record without a word: exit 1, names the record" 1 'key_id nw1.*word' \
  clip-train -o "$T/x" $R "$T/five.ndjson" "$T/noword.ndjson"
printf '{"key_id":"e1","word":"cat","drawing":[]}\n' >"$T/empty.ndjson"
expect_exit "an empty drawing: exit 1, names the record" 1 'key_id e1.*empty' \
  clip-train -o "$T/x" $R "$T/five.ndjson" "$T/empty.ndjson"
printf 'apple\ncar\n' >"$T/classes"
expect_exit "a word outside --classes: exit 1, names word and record" 1 'fish.*--classes|--classes.*fish' \
  clip-train -o "$T/x" $R --classes "$T/classes" "$T/five.ndjson"
printf 'apple\n' >"$T/one"
expect_exit "one word only: exit 1" 1 'two' clip-train -o "$T/x" $R --classes "$T/one" "$T/five.ndjson" \
  --keep-going --steps 1
expect_exit "bad config (width not divisible by heads): exit 2" 2 'divisible' \
  clip-train -o "$T/x" $R --heads 3 "$T/five.ndjson"
