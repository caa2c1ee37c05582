#!/bin/sh
# tests/run.sh - runs every unit test binary ($UNITS/*) and every CLI test
# script (tests/cli/*.sh), counts "ok"/"not ok" lines, prints the failures and
# ends with "N passed, N failed".  Exit status is 0 only when nothing failed.
set -u
: "${BIN:?}" "${UNITS:?}"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export BIN UNITS ROOT PATH="$BIN:$PATH"
LOG=$(mktemp -d)
pass=0; fail=0
tally() { # name logfile rc
  p=$(grep -c '^ok - ' "$2"); f=$(grep -c '^not ok - ' "$2")
  if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $1 exited $3 without reporting a failure" >>"$2"; fi
  pass=$((pass + p)); fail=$((fail + f))
  if [ "$f" -gt 0 ]; then echo "FAIL $1 ($p ok, $f failed)"; grep -A20 '^not ok - ' "$2" | grep -E '^(not ok|#)' | head -40
  else echo "pass $1 ($p)"; fi
}
for u in "$UNITS"/*; do
  [ -f "$u" ] && [ -x "$u" ] || continue
  n=$(basename "$u")
  (cd "$ROOT" && "$u") >"$LOG/$n.log" 2>"$LOG/$n.err"; rc=$?
  tally "unit/$n" "$LOG/$n.log" $rc
done
for s in "$ROOT"/tests/cli/*.sh; do
  [ -f "$s" ] || continue
  n=$(basename "$s" .sh)
  T=$(mktemp -d); export T
  (cd "$ROOT" && . "$ROOT/tests/lib.sh" && . "$s") >"$LOG/$n.log" 2>"$LOG/$n.err"; rc=$?
  tally "cli/$n" "$LOG/$n.log" $rc
  rm -rf "$T"
done
rm -rf "$LOG"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
