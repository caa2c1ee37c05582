# tests/cli/bench_args.sh - the A/B benchmark scripts refuse what they cannot
# use before running anything (no PyTorch and no weights needed here): a
# count that is not a number, too few pairs or steps, a missing build or
# model - each exit 2 with a message naming the problem; with no arguments
# ab.sh prints its usage.  The measurements themselves need PyTorch and the
# 605 MB ViT-B/32 file and are not run in CI.  Sourced by tests/run.sh.
expect_exit "ab.sh: no arguments prints the usage, exit 2" 2 "Usage: sh bench/ab.sh" sh "$ROOT/bench/ab.sh"
expect_exit "ab.sh: a folder without optimize is named, exit 2" 2 "no optimize and clip-embed in $T" \
  sh "$ROOT/bench/ab.sh" "$T" "$BIN"
expect_exit "ab.sh: pairs that are not a count, exit 2" 2 "pairs 'x' is not a count" \
  sh "$ROOT/bench/ab.sh" "$BIN" "$BIN" x
expect_exit "ab.sh: fewer than 2 steps, exit 2" 2 "steps >= 2" sh "$ROOT/bench/ab.sh" "$BIN" "$BIN" 3 1
expect_exit "ab.sh: a missing model file is named with how to write it, exit 2" 2 "nope.safetensors missing" \
  env MODEL="$T/nope.safetensors" sh "$ROOT/bench/ab.sh" "$BIN" "$BIN" 1 2
expect_exit "pairs.sh: pairs that are not a count, exit 2" 2 "pairs 'x' is not a count" sh "$ROOT/bench/pairs.sh" x
expect_exit "pairs.sh: zero pairs, exit 2" 2 "at least one pair" sh "$ROOT/bench/pairs.sh" 0
expect_exit "pairs.sh: a PRECISION other than bf16 or float32, exit 2" 2 "PRECISION 'fp16' is not bf16 or float32" \
  env PRECISION=fp16 sh "$ROOT/bench/pairs.sh" 1
expect_exit "pairs.sh: a missing model file is named, exit 2" 2 "nope.safetensors missing" \
  env MODEL="$T/nope.safetensors" sh "$ROOT/bench/pairs.sh" 1
expect_exit "pairs.sh: a Python without torch is named, exit 2" 2 "cannot import torch" \
  env MODEL="$ROOT/data/reference/perfectFish.jpeg" PYTHON=/bin/false sh "$ROOT/bench/pairs.sh" 1
