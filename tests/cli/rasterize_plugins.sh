# tests/cli/rasterize_plugins.sh - rasterize through renderer plugins: the
# listings, every renderer on real fish, and the loader's errors as a user
# meets them (exit 4 for plugin problems, 2 for bad parameters).
Q=data/quickdraw/simplified
qd-extract --word fish --limit 3 --fit 224 $Q/fish.ndjson.gz >"$T/f3.ndjson"
rasterize --list-plugins >"$T/list" 2>&1
for r in softline splat bezier; do
  if grep -q "^$r  *renderer" "$T/list"; then ok "--list-plugins shows $r"; else notok "--list-plugins shows $r" "$(cat "$T/list")"; fi
done
if grep -q "clipaug" "$T/list"; then notok "--list-plugins lists renderers only"; else ok "--list-plugins lists renderers only"; fi
rasterize --plugins-json >"$T/json"
n=$(grep -c '^{"name":' "$T/json"); num_ok "--plugins-json: one line per renderer ($n)" "$n >= 3"
if grep -q '"name":"softline","kind":"renderer"' "$T/json" && grep -q '"params":\[{"name":' "$T/json"; then ok "--plugins-json carries kind and parameter table"; else notok "--plugins-json content" "$(head -c 400 "$T/json")"; fi
rasterize --help-plugin bezier >"$T/hp"
if grep -q "^Parameters (bezier:key=value" "$T/hp" && grep -q "max_error" "$T/hp"; then ok "--help-plugin bezier"; else notok "--help-plugin bezier" "$(head -5 "$T/hp")"; fi

# every renderer draws the same 3 fish; ink lands in the same places
for r in builtin softline splat "bezier:max_error=1" "bezier:fit=study"; do
  d=$T/out-$(echo "$r" | tr ':=' '__')
  if rasterize --renderer "$r" --out "$d" <"$T/f3.ndjson" 2>"$T/err" && [ "$(ls "$d" | wc -l)" -eq 3 ]; then ok "renderer $r writes 3 PNGs"
  else notok "renderer $r writes 3 PNGs" "$(cat "$T/err")"; fi
done
# the default renderer is softline: identical bytes to an explicit --renderer softline
rasterize <"$T/f3.ndjson" >"$T/def.png"; rasterize --renderer softline <"$T/f3.ndjson" >"$T/soft.png"
same "default renderer is softline" "$T/def.png" "$T/soft.png"
rasterize --renderer builtin <"$T/f3.ndjson" >"$T/builtin.png"
if cmp -s "$T/def.png" "$T/builtin.png"; then notok "builtin differs from softline"; else ok "builtin differs from softline"; fi

# loader errors
expect_exit "unknown renderer -> exit 4" 4 "rasterize: plugin 'nosuch' not found" rasterize --renderer nosuch --out "$T/x"
expect_exit "augmentation as renderer -> exit 4" 4 "is an augmentation, not a renderer" rasterize --renderer clipaug --out "$T/x"
expect_exit "unknown parameter -> exit 2" 2 "plugin 'softline': unknown parameter 'nope'" rasterize --renderer softline:nope=1 --out "$T/x"
expect_exit "out-of-range parameter -> exit 2" 2 "plugin 'bezier': max_error=-1 is out of range" rasterize --renderer bezier:max_error=-1 --out "$T/x"
expect_exit "bad enum value -> exit 2" 2 "fit='nope' is not one of" rasterize --renderer bezier:fit=nope --out "$T/x"
expect_exit "missing plugin path -> exit 4" 4 "/no/such.so: plugin file not found" rasterize --renderer /no/such.so --out "$T/x"
INVCLIP_PLUGIN_PATH=$TPLUGINS expect_exit "ABI mismatch via INVCLIP_PLUGIN_PATH -> exit 4" 4 "plugin ABI version 99" rasterize --renderer t_badabi --out "$T/x"

# -j: the plugin renders on one pool of N threads; the output does not depend on N
for r in softline bezier; do
  rasterize -j 1 --renderer $r <"$T/f3.ndjson" >"$T/j1.png"; rasterize -j 3 --renderer $r <"$T/f3.ndjson" >"$T/j3.png"
  same "rasterize --renderer $r: -j 1 and -j 3 give identical PNGs" "$T/j1.png" "$T/j3.png"
done
