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
clip-embed --model $R/tiny_rn.pt --preprocess normalize $R/rn64.png >"$T/rnpt.emb"
vals "$T/rnpt.emb" >"$T/rnpt.v"
same "tiny_rn.pt (PyTorch zip) with --preprocess normalize: the same numbers" "$T/rn.v" "$T/rnpt.v"
"$UNITS/test_clip_resnet" --mk "$T/rnmk.safetensors"
clip-embed --model "$T/rnmk.safetensors" --text 'a sketch of a fish' >"$T/rnt.emb"; rc=$?
eq "a full-vocabulary ResNet CLIP embeds text: exit 0" "$rc" 0
eq "one 16-d text embedding" "$(vals "$T/rnt.emb" | wc -l | tr -d ' ')" 16
clip-embed --model "$T/rnmk.safetensors" --zero-shot fish,cat,tree $R/rn64.png >"$T/zs.out" 2>"$T/zs.err"; rc=$?
eq "zero-shot with a ResNet CLIP: exit 0" "$rc" 0
if grep -q '"top":\[{"label":"[a-z]*","score":' "$T/zs.out"; then ok "zero-shot lists the classes with scores"
else notok "zero-shot output" "$(head -c 300 "$T/zs.out")"; fi
