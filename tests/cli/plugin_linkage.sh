# tests/cli/plugin_linkage.sh - every shipped plugin links only the
# pure-maths layer: its .so exports the entry point alone (nm -D), needs no
# shared library beyond libc and libm (readelf -d; under SAN=1 also the
# sanitizer runtimes), leaves no symbol for the host to provide (ldd -r),
# and its source includes only standard headers, plugin.h, nn/ headers and
# the plugins' own static inline helper headers (plugins/*.h, themselves
# limited to standard headers, plugin.h and nn/).
: "${PLUGINS:?}"
n=0
for so in "$PLUGINS"/*.so; do
  [ -f "$so" ] || continue
  name=$(basename "$so" .so); n=$((n + 1))
  exp=$(nm -D --defined-only "$so" | awk '{print $NF}' | sort | tr '\n' ' ')
  eq "$name.so exports only invclip_plugin" "$exp" "invclip_plugin "
  allow='^(libc\.so\.6|libm\.so\.6)$'
  [ "${SAN:-}" = 1 ] && allow='^(libc\.so\.6|libm\.so\.6|libasan\.so\.[0-9]+|libubsan\.so\.[0-9]+|libstdc\+\+\.so\.[0-9]+|libgcc_s\.so\.[0-9]+)$'
  extra=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -Ev "$allow" | tr '\n' ' ')
  eq "$name.so needs nothing beyond libc and libm" "$extra" ""
  und=$(ldd -r "$so" 2>&1 | grep -i "undefined symbol" | head -3)
  eq "$name.so has no undefined symbols left for the host" "$und" ""
  src=plugins/$name.c
  if [ -f "$src" ]; then
    # plugin.h, nn/ headers, and the plugins' own static inline helper headers (plugins/*.h)
    bad=$(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$src" | grep -Ev '"(plugin\.h|nn/[a-z0-9_]+\.h)"' |
          while read -r line; do
            h=$(printf '%s\n' "$line" | sed -n 's/.*"\([a-z0-9_]*\.h\)".*/\1/p')
            [ -n "$h" ] && [ -f "plugins/$h" ] || printf '%s ' "$line"
          done)
    eq "$name.c includes only standard headers, plugin.h, nn/ and plugins/*.h" "$bad" ""
  fi
done
# the plugins' shared headers are held to the same rule (no project header but plugin.h and nn/)
for h in plugins/*.h; do
  [ -f "$h" ] || continue
  bad=$(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$h" | grep -Ev '"(plugin\.h|nn/[a-z0-9_]+\.h)"' | tr '\n' ' ')
  eq "$h includes only standard headers, plugin.h and nn/" "$bad" ""
done
num_ok "plugins checked ($n)" "$n >= 5"
# plugin.h stands alone: it compiles by itself with only the standard headers
printf '#include "plugin.h"\nint main(void) { return EXIT_PLUGIN == 4 && INVCLIP_PLUGIN_ABI == 2 ? 0 : 1; }\n' >"$T/alone.c"
mkdir -p "$T/inc" && cp common/plugin.h "$T/inc/"
if cc -std=c99 -Wall -Wextra -Werror -pedantic -I"$T/inc" -o "$T/alone" "$T/alone.c" 2>"$T/err" && "$T/alone"; then
  ok "plugin.h compiles alone (C99, pedantic) and defines the exit codes"
else notok "plugin.h compiles alone" "$(cat "$T/err")"; fi
# and the exit codes have one home: util.h takes them from plugin.h
if grep -q 'EXIT_PLUGIN *=' common/util.h; then notok "exit codes defined once (plugin.h)"; else ok "exit codes defined once (plugin.h)"; fi
# the pure-maths layer itself includes only standard headers and its own folder's
bad=$(grep -HE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' common/nn/*.c common/nn/*.h | grep -Ev '"[a-z0-9_]+\.h"' | tr '\n' ' ')
eq "common/nn/ includes nothing from outside nn/" "$bad" ""
for f in common/nn/*.c; do
  base=$(basename "$f" .c)
  for q in $(grep -hoE '#[[:space:]]*include[[:space:]]*"[a-z0-9_]+\.h"' "$f" | sed 's/.*"\(.*\)"/\1/'); do
    [ -f "common/nn/$q" ] || notok "common/nn/$base.c includes $q from outside nn/"
  done
done
