# tests/cli/browser.sh - summarize's report.html in a real browser (headless Chromium): it loads with no
# script or console error and every image on it decodes (naturalWidth > 0), as the page's own check
# records them into the DOM; and a screenshot (BROWSER_SHOT=FILE keeps it for a person to look at).
# The check is shown to fail on a page with a missing picture and on one with a console error.
# Skipped, saying so, where Chromium is absent.
CHROME=
for c in chromium chromium-browser google-chrome; do command -v "$c" >/dev/null 2>&1 && { CHROME=$c; break; }; done
if [ -z "$CHROME" ]; then
  ok "# SKIP browser test: no chromium on this machine (apt-get install chromium)"
  echo "browser.sh: SKIPPED: chromium is not installed" >&2
else
  # a small real run: a tiny optimize with frames and the U-Net's pictures, and a training log
  zcat data/quickdraw/simplified/fish.ndjson.gz | head -2 | qd-degrade --seed 1 --mix tremor >"$T/pairs.ndjson"
  optimize -j 1 --steps 4 --frames "$T/frames.png" --frame-every 2 --loss clip-text:prompt=fish \
    <"$T/pairs.ndjson" >"$T/opt.ndjson" 2>/dev/null
  unet-train --apply data/models/unet-small/model.safetensors --records <"$T/pairs.ndjson" >"$T/u.png" 2>/dev/null
  unet-train --apply data/models/unet-small/model.safetensors --records --vectorize <"$T/pairs.ndjson" >"$T/u.ndjson" 2>/dev/null
  summarize -o "$T/rep" -l opt -f "$T/frames.png" "$T/opt.ndjson" -l unet --picture none --picture "$T/u.png" \
    "$T/u.ndjson" --train data/models/unet-small 2>"$T/err" || notok "summarize for the browser" "$(cat "$T/err")"
  # headless, as root in a container, offline: no sandbox, no GPU, no first-run or network services
  browse() { # browse URL OUT ARGS...: DOM to OUT, Chromium's log to OUT.log
    _u=$1 _o=$2; shift 2
    HOME=$T/home timeout 60 "$CHROME" --headless --disable-gpu --no-sandbox --no-first-run --disable-extensions \
      --disable-background-networking --disable-sync --disable-component-update --user-data-dir="$T/profile" \
      --enable-logging=stderr --v=0 "$@" "$_u" >"$_o" 2>"$_o.log"
  }
  t0=$(date +%s)
  shot=${BROWSER_SHOT:-$T/shot.png}
  browse "file://$T/rep/report.html" "$T/dom.html" --dump-dom --hide-scrollbars --window-size=1400,2200 --screenshot="$shot"; rc=$?
  eq "chromium exits 0" "$rc" 0
  body=$(grep -o '<body[^>]*>' "$T/dom.html" | head -1)
  case "$body" in *'data-checked="1"'*) ok "the page ran its check after load" ;; *) notok "page check ran" "$body $(tail -5 "$T/dom.html.log")" ;; esac
  n=$(printf '%s' "$body" | sed -n 's/.*data-images="\([0-9]*\)".*/\1/p')
  num_ok "it has the pictures: 2x3 per record, the gallery, the training curves and samples ($n)" "${n:-0} == 15"
  case "$body" in *'data-broken="0"'*) ok "every image decodes (naturalWidth > 0)" ;; *) notok "images decode" "$(grep -o 'selfcheck">[^<]*' "$T/dom.html")" ;; esac
  case "$body" in *'data-errors="0"'*) ok "no script error" ;; *) notok "no script error" "$(grep -o 'selfcheck">[^<]*' "$T/dom.html")" ;; esac
  if grep -E 'CONSOLE|Uncaught' "$T/dom.html.log" >/dev/null; then notok "no console message" "$(grep -E 'CONSOLE|Uncaught' "$T/dom.html.log" | head -5)"
  else ok "no console message in Chromium's log"; fi
  # the check can fail: the same page with a picture missing and a console error
  cp -R "$T/rep" "$T/broken" && rm "$T/broken/gallery.png"
  sed 's#</body>#<script>console.error("deliberate");</script></body>#' "$T/rep/report.html" >"$T/broken/report.html"
  browse "file://$T/broken/report.html" "$T/dom2.html" --dump-dom
  grep -q 'data-broken="1"' "$T/dom2.html" && grep -q 'failed to load.*gallery.png' "$T/dom2.html" &&
    ok "a missing picture is caught and named" || notok "missing picture caught" "$(grep -o '<body[^>]*>' "$T/dom2.html")"
  grep -q 'data-errors="2"' "$T/dom2.html" && grep -q 'deliberate' "$T/dom2.html" &&
    ok "a console error is caught" || notok "console error caught" "$(grep -o '<body[^>]*>' "$T/dom2.html")"
  python3 - "$shot" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
w, h = struct.unpack(">II", d[16:24]) if d[:8] == b"\x89PNG\r\n\x1a\n" else (0, 0)
print(("ok - " if (w, h) == (1400, 2200) and len(d) > 50000 else "not ok - ") + "a screenshot of the page (%dx%d, %d bytes)" % (w, h, len(d)))
EOF
  echo "browser.sh: $CHROME, $(($(date +%s) - t0)) s for 2 page loads; screenshot $shot" >&2
fi
