# tests/cli/losses.sh - the loss plugins as a user meets them before the
# optimiser exists: each is found by its name (clip-text lives in
# clip_text.so), --help-plugin prints its formula and parameter table, it has
# a section in docs/losses.md, and a tool that wants a renderer refuses it
# with exit 4.  Their maths is tested in tests/unit/test_loss_*.c.
for l in tv structure stroke-reg clip-text clip-image exemplar perceptual style fair; do
  if rasterize --help-plugin "$l" >"$T/hp" 2>"$T/err" && grep -q "^$l (loss" "$T/hp" &&
     grep -q "^Parameters ($l:key=value" "$T/hp"; then ok "--help-plugin $l"
  else notok "--help-plugin $l" "$(cat "$T/err") $(head -5 "$T/hp")"; fi
  if grep -q "^## $l\b" docs/losses.md; then ok "docs/losses.md has a section for $l"; else notok "docs/losses.md section $l"; fi
  expect_exit "$l is not a renderer -> exit 4" 4 "is a loss, not a renderer" rasterize --renderer "$l" --out "$T/x"
done
