# tests/cli/resnet.sh - ResNet CLIPs end to end (issue 15): clip-embed on the tiny ResNet CLIP of
# tests/gen_resnet_ref.py gives the PyTorch twin's unit embedding of an exact-size PNG, from
# safetensors and from a PyTorch zip alike; a full-vocabulary ResNet CLIP (test_clip_resnet --mk)
# embeds text and runs zero-shot; the two-model geometric loss (CLIPasso's) on the tiny ResNet and
# the tiny ViT.
R=tests/fixtures/resnet
clip-embed --model $R/tiny_rn.safetensors $R/rn64.png >"$T/rn.emb" 2>"$T/rn.err"; rc=$?
eq "clip-embed --model tiny_rn.safetensors: exit 0" "$rc" 0
vals() { sed 's/.*"embedding":\[//; s/\]}//' "$1" | tr ',' '\n'; }
vals "$T/rn.emb" >"$T/rn.v"
md=$(paste "$T/rn.v" $R/rn64.emb.txt | awk '{d=$1-$2; if (d<0) d=-d; if (d>m) m=d} END {printf "%.2g", m+0}')
num_ok "the PyTorch twin's unit embedding within 2e-6 (max diff $md)" "$md <= 2e-6 && $(wc -l <"$T/rn.v") == 16"
clip-embed --model $R/tiny_rn_jit.pt --preprocess normalize $R/rn64.png >"$T/rnpt.emb"
vals "$T/rnpt.emb" >"$T/rnpt.v"
same "tiny_rn_jit.pt (TorchScript, as OpenAI ships RN101.pt) with --preprocess normalize: the same numbers" "$T/rn.v" "$T/rnpt.v"
"$UNITS/test_clip_resnet" --mk "$T/rnmk.safetensors"
clip-embed --model "$T/rnmk.safetensors" --text 'a sketch of a fish' >"$T/rnt.emb"; rc=$?
eq "a full-vocabulary ResNet CLIP embeds text: exit 0" "$rc" 0
eq "one 16-d text embedding" "$(vals "$T/rnt.emb" | wc -l | tr -d ' ')" 16
clip-embed --model "$T/rnmk.safetensors" --zero-shot fish,cat,tree $R/rn64.png >"$T/zs.out" 2>"$T/zs.err"; rc=$?
eq "zero-shot with a ResNet CLIP: exit 0" "$rc" 0
if grep -q '"top":\[{"label":"[a-z]*","score":' "$T/zs.out"; then ok "zero-shot lists the classes with scores"
else notok "zero-shot output" "$(head -c 300 "$T/zs.out")"; fi

# pipelines/clipasso-rn.sh on a tiny pair: the run's ViT (test_mkclip, saliency) + a ResNet (geometric loss)
"$UNITS/test_mkclip" "$T/vit.safetensors"
"$UNITS/test_clip_resnet" --mk "$T/rn32.safetensors" 32
CLIP="$T/vit.safetensors" CLIP_RN="$T/rn32.safetensors" STEPS=3 N=1 THREADS=1 OUT="$T/pair" \
  sh pipelines/clipasso-rn.sh >"$T/pair.log" 2>&1; rc=$?
eq "clipasso-rn with CLIP_RN and CLIP: exit 0" "$rc" 0
h0() { sed 's/.*"history":\[{//; s/}.*//' "$1"; }
if [ -s "$T/pair/results.md" ] && h0 "$T/pair/object/records.ndjson" | grep -q '"geometric":[0-9.e-]*,"geometric.conv":[0-9.e-]*,"geometric.fc_similarity":[0-9.e-]*'
then ok "clipasso-rn: results table; the history has the geometric loss, its conv term and fc similarity"
else notok "clipasso-rn outputs" "$(tail -5 "$T/pair.log")"; fi
python3 - "$T/pair/object/records.ndjson" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
print(("ok - " if len(r["initial"]) == 16 and len(r["optimize"]["restart_losses"]) == 3 else "not ok - ") +
      "clipasso-rn: 16 strokes from the saliency map, 3 seeds")
PY
CLIP="$T/vit.safetensors" STEPS=3 N=1 THREADS=1 OUT="$T/alone" sh pipelines/clipasso-rn.sh >"$T/alone.log" 2>&1; rc=$?
eq "clipasso-rn without CLIP_RN (the run's model alone): exit 0" "$rc" 0
g1=$(h0 "$T/pair/object/records.ndjson" | sed 's/.*"geometric":\([0-9.e-]*\).*/\1/')
g2=$(h0 "$T/alone/object/records.ndjson" | sed 's/.*"geometric":\([0-9.e-]*\).*/\1/')
num_ok "the ResNet's loss ($g1) is not the ViT's ($g2): CLIP_RN chooses the loss's model" "$g1 != $g2 && $g1 > 0 && $g2 > 0"
expect_exit "unreadable CLIP_RN: exit 2" 2 "CLIP_RN=$T/nosuch.pt: cannot read" env CLIP_RN="$T/nosuch.pt" sh pipelines/clipasso-rn.sh
# a ResNet as the run's model: the token-block losses refuse it, pointing to geometric; geometric runs on it
"$BIN/qd-extract" --word fish --limit 1 data/quickdraw/simplified/fish.ndjson.gz >"$T/one.ndjson"
expect_exit "perceptual on a ResNet run model: exit 5" 5 "the model is a ResNet \\(use the geometric loss\\)" \
  optimize --model "$T/rn32.safetensors" -j 1 --steps 1 --loss "perceptual:image=$R/rn64.png" <"$T/one.ndjson"
optimize --model "$T/rn32.safetensors" -j 1 --steps 2 --loss "geometric:image=$R/rn64.png" <"$T/one.ndjson" >"$T/g.ndjson"; rc=$?
eq "geometric on a ResNet run model (no model=): exit 0" "$rc" 0
