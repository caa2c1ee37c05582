# tests/cli/unet_train.sh - unet-train on 20 shipped fish through qd-degrade
# at a tiny config (32 px, base 4, depth 5): the L1 falls, the log carries the
# figures that expose a blank output, a sample grid is written;
# --stop-after + --resume gives the same checkpoint and model, byte for
# byte, as an uninterrupted run; PNG pairs train (alternating, or two
# streams); --apply maps a PNG stream to one with the same tags, and with
# --records --vectorize gives sketch records with "initial"; bad input
# (pairs of two sizes, empty drawings, another config's checkpoint, a
# truncated PNG) fails with the documented codes, names the record or
# tensor, and loses nothing already written; the shipped unet-small
# applies and none of its outputs is blank.  Sourced by tests/run.sh.

gzip -dc data/quickdraw/simplified/fish.ndjson.gz | head -20 | qd-degrade --seed 1 >"$T/pairs.ndjson"
TINY="--size 32 --base 4 --depth 5 --ndf 4 --batch 4 -j 1 --frame 32 --pad 2 --val-frac 0.25 --seed 3"

check "unet-train --help" unet-train --help

# --- learning ---------------------------------------------------------------
unet-train $TINY --steps 150 --eval-every 50 -o "$T/run" "$T/pairs.ndjson" 2>"$T/run.err"
eq "tiny run: exit 0" "$?" 0
eq "tiny run: three evaluations in the log" "$(wc -l <"$T/run/log.ndjson" | tr -d ' ')" 3
for f in train_l1 val_l1 white_l1 input_l1 ink_out ink_target iou; do
  grep -q "\"$f\":[0-9.]*" "$T/run/log.ndjson"
  eq "log has $f" "$?" 0
done
l0=$(grep -o '"train_l1":[0-9.]*' "$T/run/log.ndjson" | head -1 | cut -d: -f2)
l1=$(grep -o '"train_l1":[0-9.]*' "$T/run/log.ndjson" | tail -1 | cut -d: -f2)
num_ok "train L1 falls ($l0 -> $l1)" "$l1 < 0.8 * $l0"
v0=$(grep -o '"val_l1":[0-9.]*' "$T/run/log.ndjson" | head -1 | cut -d: -f2)
v1=$(grep -o '"val_l1":[0-9.]*' "$T/run/log.ndjson" | tail -1 | cut -d: -f2)
num_ok "held-out L1 falls ($v0 -> $v1)" "$v1 < $v0"
vn=$(grep -o '"val_n":[0-9]*' "$T/run/log.ndjson" | head -1 | cut -d: -f2)
grep -q "^unet-train: [0-9]* training / $vn held-out pairs" "$T/run.err"
eq "the split is announced and matches the log ($vn held out)" "$?" 0
num_ok "a hash fraction of 0.25 holds some out, not all ($vn of 20)" "$vn >= 1 && $vn <= 12"
eq "each evaluation printed on stderr" "$(grep -c 'L1 [0-9.]* (all-white [0-9.]*, input [0-9.]*), ink [0-9.]* vs target [0-9.]*, IoU' "$T/run.err")" 3
check "model, checkpoint and sample grid written" test -s "$T/run/model.safetensors" -a -s "$T/run/checkpoint.safetensors"
g=$(ls "$T/run"/samples_epoch*.png | tail -1)
eq "sample grid: 3 columns of 32 px with gutters (104 px wide)" "$(od -An -tu1 -j16 -N8 "$g" | awk '{print $3*256+$4}')" 104
grep -q 'optim.m.disc.layer0.conv.weight' "$T/run/checkpoint.safetensors" &&
  grep -q 'optim.v.gen.enc1.conv.weight' "$T/run/checkpoint.safetensors" && grep -q 'rng.master' "$T/run/checkpoint.safetensors"
eq "checkpoint: generator, discriminator, both Adam states, RNG" "$?" 0
grep -q '"enc1.conv.weight"' "$T/run/model.safetensors" && ! grep -q 'optim\.\|disc\.' "$T/run/model.safetensors"
eq "model: the generator's weights alone" "$?" 0

unet-train $TINY --steps 20 --no-gan --arch study --norm instance --timing -o "$T/nogan" "$T/pairs.ndjson" \
  2>"$T/nogan.err"
eq "--no-gan --arch study --norm instance: exit 0" "$?" 0
eq "--timing: the median step time over 19 steps, positive, between its min and max" \
  "$(awk '/timing:/ { m = $3; gsub(/,/, "", $(NF - 2)); lo = $(NF - 2); hi = $NF; sub(/\)/, "", hi);
     print ($3 > 0 && lo <= m && m <= hi) ? "ok" : "bad: " $0, ($0 ~ /median of 19 steps/) }' "$T/nogan.err")" "ok 1"
! grep -q 'disc\.' "$T/nogan/checkpoint.safetensors"
eq "--no-gan: no discriminator in the checkpoint" "$?" 0

# --- resume, bit for bit ----------------------------------------------------
R="$TINY --steps 24 --eval-every 8 --save-every 4"
unet-train $R -o "$T/a" "$T/pairs.ndjson" 2>/dev/null
unet-train $R -o "$T/b" --stop-after 10 "$T/pairs.ndjson" 2>"$T/b.err"
eq "--stop-after: exit 0, no model yet" "$?:$(test -e "$T/b/model.safetensors" && echo model)" "0:"
grep -q 'stopped after step 10 of 24' "$T/b.err"
eq "--stop-after says where it stopped" "$?" 0
unet-train $R -o "$T/b" --resume "$T/pairs.ndjson" 2>"$T/b2.err"
grep -q 'resuming .* at step 10 of 24' "$T/b2.err"
eq "--resume starts at the checkpoint's step" "$?" 0
same "resumed run: checkpoint identical to the uninterrupted run" "$T/a/checkpoint.safetensors" "$T/b/checkpoint.safetensors"
same "resumed run: model identical" "$T/a/model.safetensors" "$T/b/model.safetensors"

# --- PNG pairs ----------------------------------------------------------------
rasterize --size 32 --width 1 --pad 2 <"$T/pairs.ndjson" >"$T/in.png"
rasterize --size 32 --width 1 --pad 2 --field target <"$T/pairs.ndjson" >"$T/tg.png"
unet-train $TINY --steps 8 --targets "$T/tg.png" -o "$T/p2" "$T/in.png" 2>"$T/p2.err"
eq "--targets: two PNG streams train" "$?" 0
grep -q '20 held-out\|^unet-train: [0-9]* training / [0-9]* held-out pairs' "$T/p2.err"
eq "--targets: 20 pairs read" "$(( $(sed -n 's/^unet-train: \([0-9]*\) training \/ \([0-9]*\) held-out.*/\1+\2/p' "$T/p2.err") ))" 20
: >"$T/alt.png"
i=1
while IFS= read -r line; do
  printf '%s\n' "$line" | rasterize --size 32 --width 1 --pad 2 >>"$T/alt.png"
  printf '%s\n' "$line" | rasterize --size 32 --width 1 --pad 2 --field target >>"$T/alt.png"
  i=$((i + 1)); [ $i -gt 6 ] && break
done <"$T/pairs.ndjson"
unet-train $TINY --steps 4 --png -o "$T/p1" "$T/alt.png" 2>"$T/p1.err"
eq "--png: one alternating stream trains" "$?" 0
eq "--png: 6 pairs read" "$(( $(sed -n 's/^unet-train: \([0-9]*\) training \/ \([0-9]*\) held-out.*/\1+\2/p' "$T/p1.err") ))" 6

# --- apply --------------------------------------------------------------------
M="$T/run/model.safetensors"
unet-train --apply "$M" <"$T/in.png" >"$T/enh.png" 2>/dev/null
eq "--apply: PNG stream in, PNG stream out" "$?" 0
tags() { tr '\0' ' ' <"$1" | grep -ao 'key_id [0-9]*\|word [a-z]*\|line [0-9]*'; }
tags "$T/in.png" >"$T/tags.in"; tags "$T/enh.png" >"$T/tags.out"
eq "--apply: 20 images out" "$(grep -c 'key_id' "$T/tags.out")" 20
same "--apply: every image keeps its tags, in order" "$T/tags.in" "$T/tags.out"
unet-train --apply "$T/run/checkpoint.safetensors" <"$T/in.png" >"$T/enh2.png" 2>/dev/null
same "--apply from the checkpoint: the same images as from the model" "$T/enh.png" "$T/enh2.png"
unet-train --apply "$M" --records <"$T/pairs.ndjson" >"$T/enh3.png" 2>/dev/null
eq "--apply --records: 20 images" "$(tags "$T/enh3.png" | grep -c key_id)" 20
unet-train --apply "$M" --records --vectorize --threshold 0.99 <"$T/pairs.ndjson" >"$T/vec.ndjson" 2>"$T/vec.err"
eq "--apply --records --vectorize: exit 0" "$?" 0
eq "--vectorize: 20 records" "$(wc -l <"$T/vec.ndjson" | tr -d ' ')" 20
n=$(grep -c '"initial":\[\[\[.*"canvas":{"width":32,"height":32}' "$T/vec.ndjson")
eq "--vectorize: strokes in the 32 px canvas, the input drawing kept as initial" "$n" 20
cut -c1-40 "$T/pairs.ndjson" >"$T/head.in"; cut -c1-40 "$T/vec.ndjson" >"$T/head.out"
same "--vectorize: the record's own fields carried over (key_id, word first)" "$T/head.in" "$T/head.out"
eq "--vectorize: target and degradations carried over" "$(grep -c '"target":.*"degradations"' "$T/vec.ndjson")" 20
unet-train --apply "$M" --vectorize --threshold 0.99 <"$T/in.png" >"$T/vec2.ndjson" 2>/dev/null
eq "--apply --vectorize on PNGs: records with the tags as fields" \
  "$(grep -c '"key_id":"[0-9]*","word":"fish".*"canvas"' "$T/vec2.ndjson")" 20

# --- bad input ------------------------------------------------------------------
rasterize --size 48 --width 1 <"$T/pairs.ndjson" | head -c 100000 >"$T/in48.png"
{ head -1 "$T/pairs.ndjson" | rasterize --size 32; head -1 "$T/pairs.ndjson" | rasterize --size 48 --field target; } >"$T/mixed.png"
expect_exit "--png: a pair whose images differ in size: exit 1, names the image and key_id" 1 \
  'image 1 \(key_id [0-9]+\).*differ in size: input 32x32, target 48x48' \
  unet-train $TINY --steps 2 --png -o "$T/x" "$T/mixed.png"
expect_exit "--targets: streams of two sizes: exit 1" 1 'differ in size' \
  unet-train $TINY --steps 2 --targets "$T/in48.png" -o "$T/x" "$T/in.png"
printf '{"key_id":"e1","word":"fish","drawing":[],"target":[[[0,9],[0,9]]]}\n' >"$T/e1.ndjson"
expect_exit "an empty drawing: exit 1, names the record" 1 'pairs-bad.ndjson:21: key_id e1.*empty drawing' \
  sh -c "cat '$T/pairs.ndjson' '$T/e1.ndjson' >'$T/pairs-bad.ndjson'; unet-train $TINY --steps 2 -o '$T/x' '$T/pairs-bad.ndjson'"
printf '{"key_id":"e2","word":"fish","drawing":[[[0,9],[0,9]]],"target":[]}\n' >"$T/e2.ndjson"
expect_exit "an empty target: exit 1, names the record" 1 'key_id e2.*target.*empty drawing' \
  unet-train $TINY --steps 2 -o "$T/x" "$T/e2.ndjson"
printf '{"key_id":"e3","word":"fish","drawing":[[[0,9],[0,9]]]}\n' >"$T/e3.ndjson"
expect_exit "a record without a target: exit 1, says qd-degrade" 1 'key_id e3.*qd-degrade' \
  unet-train $TINY --steps 2 -o "$T/x" "$T/e3.ndjson"
expect_exit "an empty drawing under --apply --records: exit 1, names the record" 1 'key_id e1.*empty drawing' \
  unet-train --apply "$M" --records "$T/e1.ndjson"

cp "$T/b/checkpoint.safetensors" "$T/keep"
expect_exit "--resume into another config: exit 5, names the tensor" 5 "tensor 'gen\.enc1\.conv\.weight' has shape" \
  unet-train $(echo "$R" | sed 's/--base 4/--base 8/') -o "$T/b" --resume "$T/pairs.ndjson"
expect_exit "--resume without a discriminator: exit 5, names the tensor" 5 "missing tensor 'disc\.|unexpected tensor 'disc\." \
  unet-train $R --no-gan -o "$T/b" --resume "$T/pairs.ndjson"
expect_exit "--resume with another seed: exit 5, names the setting" 5 'train.seed' \
  unet-train $R --seed 9 -o "$T/b" --resume "$T/pairs.ndjson"
same "a refused resume leaves the checkpoint as it was" "$T/keep" "$T/b/checkpoint.safetensors"
head -c 3000 "$T/keep" >"$T/b/checkpoint.safetensors"
expect_exit "--resume from a truncated checkpoint: exit 5, names the file" 5 'checkpoint.safetensors' \
  unet-train $R -o "$T/b" --resume "$T/pairs.ndjson"
expect_exit "--apply with a CLIP model: exit 5, not a unet-train model" 5 'unet\..*not a unet-train model' \
  unet-train --apply data/models/sketch-clip/model.safetensors "$T/in.png"
expect_exit "--apply with a truncated model: exit 5" 5 'model-cut' \
  sh -c "head -c 2000 '$M' >'$T/model-cut'; unet-train --apply '$T/model-cut' '$T/in.png'"
expect_exit "--apply to images of another size: exit 1, names the image" 1 'image 1 \(key_id [0-9]+\).*48x48.*32x32' \
  unet-train --apply "$M" "$T/in48.png"

sz=$(wc -c <"$T/in.png")
head -c $((sz - 300)) "$T/in.png" >"$T/cut.png"
unet-train --apply "$M" "$T/cut.png" >"$T/cut.out" 2>"$T/cut.err"
eq "--apply on a truncated PNG stream: exit 1" "$?" 1
grep -q 'image 20 (key_id [0-9]*): truncated' "$T/cut.err"
eq "--apply on a truncated PNG: names the image and key_id" "$?" 0
eq "--apply on a truncated PNG: the 19 images before it are written" "$(tags "$T/cut.out" | grep -c key_id)" 19
head -c $(($(wc -c <"$T/alt.png") - 200)) "$T/alt.png" >"$T/altcut.png"
expect_exit "--png training on a truncated stream: exit 1, names the image" 1 'image 12 \(key_id [0-9]+\): truncated' \
  unet-train $TINY --steps 2 --png -o "$T/x" "$T/altcut.png"
expect_exit "--records without --apply: exit 2" 2 'with --apply' unet-train $TINY --records -o "$T/x" "$T/pairs.ndjson"
expect_exit "no --out: exit 2" 2 'out' unet-train $TINY "$T/pairs.ndjson"
expect_exit "bad --lr-decay: exit 2" 2 'lr-decay' unet-train $TINY --lr-decay cosine -o "$T/x" "$T/pairs.ndjson"
expect_exit "a size the depth cannot halve to 1 is rounded up, a bad depth refused: exit 2" 2 'depth' \
  unet-train $TINY --depth 1 -o "$T/x" "$T/pairs.ndjson"

# --- the shipped model ----------------------------------------------------------
S=data/models/unet-small/model.safetensors
unet-train --apply "$S" --records <"$T/pairs.ndjson" >"$T/ship.png" 2>/dev/null
eq "shipped unet-small: --apply --records, 20 64-px images" \
  "$(tags "$T/ship.png" | grep -c key_id):$(od -An -tu1 -j16 -N8 "$T/ship.png" | awk '{print $3*256+$4}')" "20:64"
unet-train --apply "$S" --records --vectorize <"$T/pairs.ndjson" >"$T/ship.ndjson" 2>"$T/ship.err"
eq "shipped unet-small: none of 20 outputs is blank (each vectorises at threshold 0.5)" \
  "$?:$(wc -l <"$T/ship.ndjson" | tr -d ' ')" "0:20"
