#!/bin/sh
# mk/deps.sh - make sure the system libraries the build needs are present.
# Checks each pkg-config module; when some are missing, installs the Debian
# packages with apt-get if run as root, otherwise prints the exact command and
# fails.  Called by the Makefile before the first compile (and by .ci/run).
set -u
# pkg-config module : Debian package
want="libpng:libpng-dev libcjson:libcjson-dev zlib:zlib1g-dev openblas:libopenblas-dev libpcre2-8:libpcre2-dev libzip:libzip-dev libjpeg:libjpeg-dev cairo:libcairo2-dev fontconfig:libfontconfig-dev"
missing=""
if ! command -v pkg-config >/dev/null 2>&1; then
  missing="pkg-config"
fi
for pair in $want; do
  mod=${pair%%:*}; pkg=${pair#*:}
  if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists "$mod"; then
    missing="$missing $pkg"
  fi
done
# giflib (summarize's animations) has no pkg-config file on Debian: look for its header
[ -f /usr/include/gif_lib.h ] || missing="$missing libgif-dev"
# summarize's text: a sans-serif face for cairo (fontconfig picks DejaVu Sans)
[ -d /usr/share/fonts/truetype/dejavu ] || missing="$missing fonts-dejavu-core"
command -v cc >/dev/null 2>&1 || missing="$missing gcc"
command -v make >/dev/null 2>&1 || missing="$missing make"
# the test suite measures peak memory of a few runs with GNU time
[ -x /usr/bin/time ] || missing="$missing time"
[ -z "$missing" ] && exit 0
missing=$(echo $missing)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "deps: installing $missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends $missing >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends $missing >&2; } || {
    echo "deps: apt-get failed; install by hand: apt-get install $missing" >&2; exit 1; }
  exit 0
fi
echo "deps: missing system libraries. Install them with:" >&2
echo "  sudo apt-get install $missing" >&2
exit 1
