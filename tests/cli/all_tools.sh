# tests/cli/all_tools.sh - what every tool promises: --help (exit 0, usage on
# stdout, exit-code table), --version, an unknown option is a usage error
# (exit 2) naming the option, and a missing input file is an I/O error
# (exit 3) naming the file.
for tool in "$BIN"/*; do
  [ -x "$tool" ] || continue
  n=$(basename "$tool")
  "$tool" --help >"$T/help" 2>"$T/err"; rc=$?
  if [ $rc -eq 0 ] && grep -q "^Usage: $n" "$T/help" && grep -q "Exit codes" "$T/help"; then ok "$n --help"
  else notok "$n --help" "exit $rc; $(head -3 "$T/help")"; fi
  check "$n --version" "$tool" --version
  expect_exit "$n unknown option" 2 "$n: unknown option '--no-such-option'" "$tool" --no-such-option
done
for n in qd-extract qd-degrade rasterize; do
  [ -x "$BIN/$n" ] || { notok "$n is built"; continue; }
  expect_exit "$n missing file" 3 "$n: /nonexistent/in.ndjson: cannot open" sh -c "'$BIN/$n' /nonexistent/in.ndjson > $T/o"
done
