# tests/lib.sh - helpers for the CLI tests (sourced by tests/run.sh).
# Each assertion prints "ok - name" or "not ok - name" and counts.
# $BIN holds the tools; $T is a fresh scratch directory per test file.

ok()   { echo "ok - $1"; }
notok(){ echo "not ok - $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/#   /' | head -20; }

# check NAME COMMAND... : passes when COMMAND exits 0
check() { _cn=$1; shift; if "$@" >/dev/null 2>&1; then ok "$_cn"; else notok "$_cn" "command failed: $*"; fi; }

# expect_exit NAME CODE PATTERN CMD... : CMD exits with CODE and stderr matches PATTERN (grep -E)
expect_exit() {
  _en=$1; code=$2; pat=$3; shift 3
  "$@" >"$T/out" 2>"$T/err"; rc=$?
  if [ "$rc" -eq "$code" ] && grep -Eq -- "$pat" "$T/err"; then ok "$_en"
  else notok "$_en" "exit $rc (want $code); stderr: $(head -c 600 "$T/err")"; fi
}

# same NAME FILE1 FILE2 : files are identical
same() { if cmp -s "$2" "$3"; then ok "$1"; else notok "$1" "$(diff "$2" "$3" | head -10)"; fi; }

# eq NAME GOT WANT
eq() { if [ "$2" = "$3" ]; then ok "$1"; else notok "$1" "got '$2' want '$3'"; fi; }

# num_ok NAME EXPR : awk-evaluated boolean, e.g. num_ok "rate" "$x >= 0.9"
num_ok() { if awk "BEGIN{exit !($2)}"; then ok "$1"; else notok "$1" "false: $2"; fi; }
