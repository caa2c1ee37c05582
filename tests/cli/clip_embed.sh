# tests/cli/clip_embed.sh - clip-embed end to end: the same tiny model from a
# safetensors file in both namings and from a PyTorch zip gives identical
# embeddings; unit vectors; ids and words from PNG text chunks; batching does
# not change results; text prompts and zero-shot with a full-vocabulary model
# written by test_mkclip; zero-shot top-1/top-5 and ranks checked against the
# scores; the default model ($INVCLIP_MODEL, the shipped model or the exit-5
# error that says how to get one); JPEG input; errors and exit codes.
F=tests/fixtures/clip
Q=data/quickdraw/simplified
qd-extract --word fish --limit 3 --fit 224 $Q/fish.ndjson.gz >"$T/f.ndjson"
qd-extract --word cat --limit 3 --fit 224 $Q/cat.ndjson.gz >>"$T/f.ndjson"
rasterize <"$T/f.ndjson" >"$T/six.png"
nomodel() { sed 's/"model":"[^"]*",//' "$1"; }
clip-embed --model $F/tiny_openai.safetensors "$T/six.png" >"$T/a.emb"
clip-embed --model $F/tiny_hf.safetensors "$T/six.png" >"$T/b.emb"
clip-embed --model $F/tiny_hf.bin <"$T/six.png" | sed 's/"file":"<stdin>"/"file":"X"/' >"$T/c.emb"
clip-embed --model $F/tiny_hf.bin --batch 1 <"$T/six.png" | sed 's/"file":"<stdin>"/"file":"X"/' >"$T/d.emb"
eq "one line per image" "$(wc -l <"$T/a.emb" | tr -d ' ')" 6
nomodel "$T/a.emb" >"$T/a2"; nomodel "$T/b.emb" >"$T/b2"
same "OpenAI vs HF safetensors: identical embeddings" "$T/a2" "$T/b2"
sed "s#\"file\":\"[^\"]*six.png\"#\"file\":\"X\"#" "$T/a2" >"$T/a3"; nomodel "$T/c.emb" >"$T/c3"
same "safetensors vs pytorch_model.bin: identical embeddings" "$T/a3" "$T/c3"
# batch size changes only the float summation order inside sgemm
vals() { sed 's/.*"embedding":\[//; s/\]}//' "$1" | tr ',' '\n'; }
vals "$T/c.emb" >"$T/c.v"; vals "$T/d.emb" >"$T/d.v"
md=$(paste "$T/c.v" "$T/d.v" | awk '{d=$1-$2; if (d<0) d=-d; if (d>m) m=d} END {printf "%.2g", m+0}')
num_ok "batch 8 vs batch 1 agree within 1e-5 (max diff $md)" "$md <= 1e-5 && $(wc -l <"$T/c.v") == 192"
if head -1 "$T/a.emb" | grep -q '^{"id":"[0-9]*","key_id":"[0-9]*","word":"fish","file":"[^"]*six.png","index":1,"model":"tiny_openai.safetensors","dim":32,"embedding":\['; then
  ok "record fields from PNG text chunks"; else notok "record fields" "$(head -c 300 "$T/a.emb")"; fi
norms=$(sed 's/.*"embedding":\[//; s/\]}//' "$T/a.emb" | awk -F, '{s=0; for(i=1;i<=NF;i++) s+=$i*$i; printf "%.5f\n", sqrt(s)}' | sort -u)
eq "embeddings are unit vectors" "$norms" "1.00000"
clip-embed --model $F/tiny_openai.safetensors --raw "$T/six.png" >"$T/raw.emb"
n1=$(sed 's/.*"embedding":\[//; s/\]}//' "$T/raw.emb" | awk -F, 'NR==1{s=0; for(i=1;i<=NF;i++) s+=$i*$i; printf "%.3f", sqrt(s)}')
num_ok "--raw keeps the norm ($n1)" "$n1 != 1.000"

# text and zero-shot need CLIP's vocabulary: a full-vocabulary model made now
"$UNITS/test_mkclip" "$T/mk.safetensors"
check "--text runs clean" clip-embed --model "$T/mk.safetensors" --text "a fish" --text "a sketch of a cat"
clip-embed --model "$T/mk.safetensors" --text "a fish" --text "a sketch of a cat" >"$T/t.emb"
eq "two text lines" "$(grep -c '^{"text":"a' "$T/t.emb")" 2
printf 'a fish\n\na sketch of a cat\n' >"$T/prompts.txt"
check "--text-file runs clean" clip-embed --model "$T/mk.safetensors" --text-file "$T/prompts.txt"
clip-embed --model "$T/mk.safetensors" --text-file "$T/prompts.txt" >"$T/t2.emb"
same "--text-file equals --text" "$T/t.emb" "$T/t2.emb"
clip-embed --model "$T/mk.safetensors" --zero-shot fish,cat --top-k 2 --summary "$T/sum.json" "$T/six.png" >"$T/zs" 2>"$T/zs.err"
eq "zero-shot exits 0" "$?" 0
eq "zero-shot: one line per image" "$(grep -c '"top":\[{"label":' "$T/zs")" 6
eq "zero-shot lines carry pred, correct, correct5 (2 classes: always) and rank" \
  "$(grep -c '"pred":"\(fish\|cat\)","correct":\(true\|false\),"correct5":true,"rank":[12]}$' "$T/zs")" 6
if grep -q '^clip-embed: zero-shot top-1: [0-9.]* ([0-9]*/6), top-5: 1.0000 (6/6)$' "$T/zs.err" && grep -q '"top5":1.000000,' "$T/sum.json" &&
   grep -q '"total":6' "$T/sum.json"; then ok "accuracy summary on stderr and in --summary; 2 classes: top-5 = 1"
else notok "accuracy summary" "$(cat "$T/zs.err" "$T/sum.json")"; fi
nc=$(grep -c '"correct":true' "$T/zs"); num_ok "summary counts the correct lines" "$(grep -o '"correct":[0-9]*,"correct5":[0-9]*,"total":6' "$T/sum.json" | head -1 | sed 's/"correct":\([0-9]*\).*/\1/') == $nc"
if grep -q '^  fish  *top-1 [0-9.]* ([0-9]/3)  top-5 1.0000 (3/3)$' "$T/zs.err"; then ok "per-class top-1 and top-5 on stderr"
else notok "per-class top-1 and top-5 on stderr" "$(cat "$T/zs.err")"; fi

# top-5 on a constructed case: 6 classes, every score listed (--top-k 6), so
# each image's rank of its true class can be recomputed from the scores.
# With this closed-form model fish ranks 5th (bird, flower, dog, tree above
# it: top-5 but not top-1) and cat 6th (neither): top-1 0, top-5 0.5.
clip-embed --model "$T/mk.safetensors" --zero-shot fish,cat,bird,flower,dog,tree --top-k 6 --summary "$T/sum5.json" "$T/six.png" >"$T/zs5" 2>"$T/zs5.err"
awk '{ w = $0; sub(/.*"word":"/, "", w); sub(/".*/, "", w)
       t = $0; sub(/.*"top":\[/, "", t); sub(/\].*/, "", t); n = split(t, L, /\},?/)
       r = 0; for (i = 1; i < n; i++) { lab = L[i]; sub(/.*"label":"/, "", lab); sub(/".*/, "", lab); if (lab == w) r = i }
       c1 = r == 1 ? "true" : "false"; c5 = r >= 1 && r <= 5 ? "true" : "false"
       got = $0; sub(/.*"correct":/, "\"correct\":", got)
       print (got == "\"correct\":" c1 ",\"correct5\":" c5 ",\"rank\":" r "}") ? "same" : "differs: " got " want rank " r }' "$T/zs5" | sort | uniq -c >"$T/zs5.chk"
eq "correct, correct5 and rank agree with the listed scores on every line" "$(cat "$T/zs5.chk" | tr -s ' ')" " 6 same"
eq "constructed case: ranks (fish 5th, cat 6th)" "$(sed 's/.*"rank":\([0-9]*\)}/\1/' "$T/zs5" | tr '\n' ' ')" "5 5 5 6 6 6 "
if grep -q '"top1":0.000000,"top5":0.500000,"correct":0,"correct5":3,"total":6,' "$T/sum5.json" &&
   grep -q '"label":"fish","accuracy":0.000000,"top1":0.000000,"top5":1.000000,"correct":0,"correct5":3,"total":3}' "$T/sum5.json" &&
   grep -q '"label":"cat","accuracy":0.000000,"top1":0.000000,"top5":0.000000,"correct":0,"correct5":0,"total":3}' "$T/sum5.json"
then ok "constructed case: top-1 0, top-5 0.5 overall; per class fish 1, cat 0"; else notok "constructed top-5 summary" "$(cat "$T/sum5.json")"; fi
eq "constructed case: stderr line" "$(head -1 "$T/zs5.err")" "clip-embed: zero-shot top-1: 0.0000 (0/6), top-5: 0.5000 (3/6)"
clip-embed --model "$T/mk.safetensors" --zero-shot fish,cat,bird,flower,dog,tree --top-k 1 --summary "$T/sum5k1.json" "$T/six.png" >"$T/zs5k1" 2>/dev/null
same "top-5 does not depend on --top-k (the list printed)" "$T/sum5.json" "$T/sum5k1.json"
eq "--top-k 1 lists one class" "$(grep -c '"top":\[{[^]]*}\],' "$T/zs5k1")" 6

# the default model: $INVCLIP_MODEL, announced once; --model wins over it
INVCLIP_MODEL=$F/tiny_hf.safetensors clip-embed "$T/six.png" >"$T/env.emb" 2>"$T/env.err"; rc=$?
eq "INVCLIP_MODEL: exit 0" "$rc" 0
same "INVCLIP_MODEL gives the embeddings of --model with that file" "$T/b.emb" "$T/env.emb"
eq "no --model is said once on stderr" "$(grep -c 'no --model' "$T/env.err")" 1
if grep -q "^clip-embed: no --model: using \$INVCLIP_MODEL $F/tiny_hf.safetensors$" "$T/env.err"; then ok "the note names the file"
else notok "the note names the file" "$(cat "$T/env.err")"; fi
INVCLIP_MODEL=/no/such.safetensors clip-embed --model $F/tiny_hf.safetensors "$T/six.png" >"$T/env2.emb" 2>"$T/env2.err"; rc=$?
if [ $rc -eq 0 ] && cmp -s "$T/b.emb" "$T/env2.emb" && ! grep -q 'no --model' "$T/env2.err"; then ok "--model overrides INVCLIP_MODEL, silently"
else notok "--model overrides INVCLIP_MODEL" "rc=$rc $(cat "$T/env2.err")"; fi
INVCLIP_MODEL="$T/mk.safetensors" clip-embed --zero-shot fish,cat --top-k 2 "$T/six.png" >"$T/zsenv" 2>/dev/null
same "zero-shot with no --model uses INVCLIP_MODEL" "$T/zs" "$T/zsenv"
expect_exit "INVCLIP_MODEL naming a missing file -> exit 5" 5 "/no/such.safetensors: no such model file \(named by .INVCLIP_MODEL" \
  env INVCLIP_MODEL=/no/such.safetensors clip-embed --text hi
SHIPPED=data/models/sketch-clip/model.safetensors
if [ -f "$SHIPPED" ]; then
  env -u INVCLIP_MODEL clip-embed --text "a sketch of a fish" >"$T/ship.emb" 2>"$T/ship.err"; rc=$?
  if [ $rc -eq 0 ] && grep -q '"model":"model.safetensors"' "$T/ship.emb" &&
     grep -q "^clip-embed: no --model: using the shipped sketch-domain CLIP .*$SHIPPED$" "$T/ship.err"; then ok "no --model: the shipped model embeds text"
  else notok "no --model: the shipped model" "rc=$rc $(cat "$T/ship.err")"; fi
else
  expect_exit "no --model and no shipped model -> exit 5 saying how to get one" 5 \
    "$SHIPPED: the shipped sketch-domain CLIP is missing: .make train-clip. trains it, or give --model FILE" env -u INVCLIP_MODEL clip-embed --text hi
fi

# JPEG input with the study's squash preprocessing
clip-embed --model $F/tiny_openai.safetensors --preprocess squash tests/fixtures/imgprep/perfectFish.jpeg >"$T/j.emb"
if grep -q '"id":"tests/fixtures/imgprep/perfectFish.jpeg#1"' "$T/j.emb"; then ok "JPEG file"; else notok "JPEG file" "$(cat "$T/j.emb")"; fi

# errors
expect_exit "missing weight file -> exit 5" 5 "/no/such.safetensors: cannot open" clip-embed --model /no/such.safetensors --text hi
head -c 1000 $F/tiny_openai.safetensors >"$T/cut.safetensors"
expect_exit "truncated weight file -> exit 5" 5 "cut.safetensors: .*truncated" clip-embed --model "$T/cut.safetensors" --text hi
expect_exit "300-token model cannot embed text -> exit 5" 5 "smaller than CLIP's BPE" clip-embed --model $F/tiny_openai.safetensors --text hi
expect_exit "bad --heads -> exit 2" 2 "--heads: 'x' is not V,T" clip-embed --model $F/tiny_openai.safetensors --heads x
expect_exit "bad --preprocess -> exit 2" 2 "--preprocess: 'zoom'" clip-embed --model $F/tiny_openai.safetensors --preprocess zoom
head -c 5000 "$T/six.png" >"$T/cut.png"
clip-embed --model $F/tiny_openai.safetensors --batch 1 "$T/cut.png" >"$T/cut.emb" 2>"$T/cut.err"; rc=$?
if [ $rc -eq 1 ] && grep -q "cut.png: image [0-9]*: truncated PNG" "$T/cut.err" && [ "$(wc -l <"$T/cut.emb")" -ge 1 ]; then ok "truncated PNG stream -> exit 1, earlier images kept"
else notok "truncated PNG stream" "rc=$rc $(cat "$T/cut.err")"; fi
printf 'not an image' >"$T/junk.jpg"
expect_exit "garbage input -> exit 1" 1 "junk.jpg" clip-embed --model $F/tiny_openai.safetensors "$T/junk.jpg"

# -j: one pool of N threads; the output depends on N only through float rounding inside sgemm
clip-embed -j 1 --model "$T/mk.safetensors" --text "a fish" --zero-shot fish,cat "$T/six.png" >"$T/j1" 2>/dev/null
clip-embed -j 3 --model "$T/mk.safetensors" --text "a fish" --zero-shot fish,cat "$T/six.png" >"$T/j3" 2>/dev/null
sed 's/-\{0,1\}[0-9][0-9.e+-]*/N/g' "$T/j1" >"$T/j1s"; sed 's/-\{0,1\}[0-9][0-9.e+-]*/N/g' "$T/j3" >"$T/j3s"
same "clip-embed -j 1 and -j 3: the same records, labels and predictions" "$T/j1s" "$T/j3s"
tr -c '0-9.e+-' '\n' <"$T/j1" | grep '[0-9]' >"$T/j1n"; tr -c '0-9.e+-' '\n' <"$T/j3" | grep '[0-9]' >"$T/j3n"
d=$(paste "$T/j1n" "$T/j3n" | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { print m + 0 }')
num_ok "clip-embed -j 1 and -j 3: every number within 1e-5 (worst $d)" "$d <= 1e-5"
expect_exit "--threads out of range -> exit 2" 2 "--threads: 5000 is out of range" clip-embed -j 5000 --model $F/tiny_openai.safetensors "$T/six.png"

# a prompt longer than the context is refused (OpenAI's tokenize(truncate=False)), never cut
long=$(printf 'fish %.0s' $(seq 1 100))
expect_exit "a prompt longer than the context: exit 1, names it" 1 "text 'fish fish.*\.\.\.': .*too long for context length 16" \
  clip-embed --text "$long"

# --precision bf16: the image tower's products in bfloat16; the lines say so; text stays float32
expect_exit "--precision takes float32 or bf16 (exit 2)" 2 "not one of float32, bf16" \
  clip-embed --model $F/tiny_openai.safetensors --precision half "$T/six.png"
clip-embed --model $F/tiny_openai.safetensors --precision bf16 "$T/six.png" >"$T/bf.emb" 2>"$T/bf.err"; rc=$?
if [ "$rc" -eq 2 ] && grep -q AVX512_BF16 "$T/bf.err"; then
  ok "--precision bf16 without AVX512_BF16: exit 2 saying so"
else
  eq "--precision bf16 exits 0" "$rc" 0
  python3 - "$T/a.emb" "$T/bf.emb" >"$T/py" 2>&1 <<'PYEOF'
import json, math, sys
f = [json.loads(l) for l in open(sys.argv[1])]; b = [json.loads(l) for l in open(sys.argv[2])]
def ok(c, n): print(("ok - " if c else "not ok - ") + n)
ok(len(f) == len(b) > 0 and all(r.get("precision") == "bf16" for r in b) and all("precision" not in r for r in f),
   "bf16 image lines say \"precision\":\"bf16\" (float32 lines do not)")
cos = [sum(x * y for x, y in zip(p["embedding"], q["embedding"])) for p, q in zip(f, b)]
ok(all(0.999 < c < 1.0 for c in cos), "bf16 embeddings: cosine to float32's in (0.999, 1) (min %.6f)" % min(cos))
ok([list(p.keys()) for p in f] == [[k for k in q if k != "precision"] for q in b], "otherwise the same fields in the same order")
PYEOF
  cat "$T/py"
fi
# --gemm packed: float32 products through the packed weights; an image's embedding is then the
# same bits whatever --batch (and the lines say "gemm":"packed")
expect_exit "--gemm takes openblas or packed (exit 2)" 2 "not one of openblas, packed" \
  clip-embed --model $F/tiny_openai.safetensors --gemm fast "$T/six.png"
clip-embed --model $F/tiny_openai.safetensors --gemm packed "$T/six.png" >"$T/p8.emb" 2>"$T/p.err"; rc=$?
if [ "$rc" -eq 2 ] && grep -q AVX2 "$T/p.err"; then
  ok "--gemm packed without AVX2+FMA: exit 2 saying so"
else
  eq "--gemm packed exits 0" "$rc" 0
  clip-embed --model $F/tiny_openai.safetensors --gemm packed --batch 1 "$T/six.png" >"$T/p1.emb" 2>/dev/null
  clip-embed --model $F/tiny_openai.safetensors --gemm packed --batch 4 -j 1 "$T/six.png" >"$T/p4.emb" 2>/dev/null
  same "--gemm packed: --batch 1 writes --batch 8's bytes" "$T/p8.emb" "$T/p1.emb"
  same "--gemm packed: --batch 4 on one thread writes them too" "$T/p8.emb" "$T/p4.emb"
  python3 - "$T/a.emb" "$T/p8.emb" >"$T/py" 2>&1 <<'PYEOF'
import json, sys
f = [json.loads(l) for l in open(sys.argv[1])]; p = [json.loads(l) for l in open(sys.argv[2])]
def ok(c, n): print(("ok - " if c else "not ok - ") + n)
ok(len(f) == len(p) == 6 and all(r.get("gemm") == "packed" for r in p) and all("gemm" not in r for r in f),
   "packed image lines say \"gemm\":\"packed\" (OpenBLAS lines do not)")
md = max(abs(x - y) for a, b in zip(f, p) for x, y in zip(a["embedding"], b["embedding"]))
ok(md < 1e-5, "packed and OpenBLAS embeddings agree within 1e-5 (max diff %.2g)" % md)
PYEOF
  cat "$T/py"
fi
