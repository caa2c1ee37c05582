# bench/lib.sh - helpers the benchmark sections share (sourced by clip.sh,
# conv.sh, train.sh after they set ROOT and BUILD).
#   bench_bin NAME     path of build/bench/NAME, built first when missing
#   torch_python       the first of $PYTHON, python3, /usr/bin/python3 that imports torch, or ""
#   load               the load average (1, 5, 15 min), or n/a
bench_bin() {
  _b=$BUILD/bench/$1
  if [ ! -x "$_b" ]; then
    (cd "$ROOT" && make --no-print-directory "build/bench/$1" >&2)
    _b=$ROOT/build/bench/$1
  fi
  echo "$_b"
}
torch_python() {
  for _p in ${PYTHON:-} python3 /usr/bin/python3; do
    if "$_p" -c 'import torch' >/dev/null 2>&1; then echo "$_p"; return; fi
  done
}
load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a; }
