# tests/cli/svg.sh - rasterize --svg: every SVG is parsed back (python3's
# xml.etree) and compared with its record: one <path> per stroke whose
# coordinates are the record's points, the canvas as viewBox (-0.5 -0.5 W H,
# pixel centres at integers), a fitted drawing's viewBox from the study's fit
# formula written out here, the stroke width and colour from the options, a
# one-point stroke as a dot, the title escaped; the viewBox agrees with the
# PNG that rasterize draws (the inked pixels' box, mapped back, holds the
# paths' box within 1.5 px); --out and --svg together write both; a bad
# --colour is a usage error.  Sourced by tests/run.sh.
if ! command -v python3 >/dev/null 2>&1; then
  echo "# SKIP svg: python3 is not installed; the SVG parse-back is not tested"
  ok "svg: skipped, python3 absent"
  return 0 2>/dev/null || exit 0
fi
qd-extract --word fish --limit 5 --fit 224 data/quickdraw/simplified/fish.ndjson.gz >"$T/canvas.ndjson"
zcat data/quickdraw/simplified/fish.ndjson.gz | head -5 >"$T/raw.ndjson"
# odd records: a one-point stroke, a word that needs escaping, no key_id
cat >>"$T/raw.ndjson" <<'J'
{"key_id":"dot1","word":"fish & <chips>","drawing":[[[10,60,90],[20,30,80]],[[50],[50]]]}
{"word":"nokey","drawing":[[[0,100],[0,40]]]}
J
rasterize --svg "$T/c" --colour '#1a2b3c' --width 3 <"$T/canvas.ndjson"; eq "rasterize --svg (canvas records) exits 0" "$?" 0
rasterize --svg "$T/f" --out "$T/fp" --size 128 --pad 8 --width 2.5 --colour navy <"$T/raw.ndjson"
eq "rasterize --svg --out (fitted records) exits 0" "$?" 0
eq "--svg alone writes 5 SVGs and no PNG" "$(ls "$T/c" | grep -c '\.svg$')/$(ls "$T/c" | grep -c '\.png$')" "5/0"
eq "--svg with --out writes 7 SVGs and 7 PNGs" "$(ls "$T/f" | grep -c '\.svg$')/$(ls "$T/fp" | grep -c '\.png$')" "7/7"

cat >"$T/check.py" <<'PY'
import json, math, re, struct, sys, zlib
import xml.etree.ElementTree as ET
mode, recs, sdir, pdir, size, pad, width, colour = sys.argv[1:9]
size, pad, width = int(size), float(pad), float(width)
NS = '{http://www.w3.org/2000/svg}'
def res(c, n): print(("ok - " if c else "not ok - ") + n)
def png_grey(path):  # 8-bit grey, non-interlaced (what rasterize writes)
    d = open(path, 'rb').read(); i = 8; idat = b''; w = h = 0
    while i < len(d):
        ln, = struct.unpack('>I', d[i:i+4]); t = d[i+4:i+8]; b = d[i+8:i+8+ln]; i += 12 + ln
        if t == b'IHDR': w, h = struct.unpack('>II', b[:8]); assert b[8] == 8 and b[9] == 0
        if t == b'IDAT': idat += b
    raw = zlib.decompress(idat); rows = []; prev = bytearray(w)
    for y in range(h):
        f = raw[y*(w+1)]; line = bytearray(raw[y*(w+1)+1:(y+1)*(w+1)])
        for x in range(w):
            a = line[x-1] if x else 0; b = prev[x]; c = prev[x-1] if x else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line); prev = line
    return rows
bad = []; n = 0; worst_pt = 0.0; worst_box = 0.0; dots = 0
for lineno, l in enumerate(open(recs), 1):
    r = json.loads(l); n += 1
    key = r.get('key_id'); name = key if key else 'line%d' % lineno
    root = ET.parse('%s/%s.svg' % (sdir, name)).getroot()
    if root.tag != NS + 'svg': bad.append('%s: root %s' % (name, root.tag)); continue
    vb = [float(v) for v in root.get('viewBox').split()]
    if root.get('width') != str(size) or root.get('height') != str(size): bad.append('%s: width/height' % name)
    pts = [(x, y) for s in r['drawing'] for x, y in zip(s[0], s[1])]
    if 'canvas' in r:
        want = [-0.5, -0.5, r['canvas']['width'], r['canvas']['height']]
    else:  # the study's fit (reference-system.md 1.3), inverted to drawing units
        xs = [p[0] for p in pts]; ys = [p[1] for p in pts]
        w = max(xs) - min(xs) + 1e-6; h = max(ys) - min(ys) + 1e-6; sc = (size - 2*pad) / max(w, h)
        ox = (size - sc*w) / 2 - min(xs)*sc; oy = (size - sc*h) / 2 - min(ys)*sc
        want = [(-0.5 - ox) / sc, (-0.5 - oy) / sc, size / sc, size / sc]
    if any(abs(a - b) > 1e-6 * max(1, abs(b)) for a, b in zip(vb, want)): bad.append('%s: viewBox %s want %s' % (name, vb, want))
    g = root.find(NS + 'g'); paths = g.findall(NS + 'path')
    if len(root.findall('.//' + NS + 'path')) != len(paths): bad.append('%s: paths outside the group' % name)
    if g.get('stroke') != colour or g.get('fill') != 'none': bad.append('%s: stroke %s fill %s' % (name, g.get('stroke'), g.get('fill')))
    sw = float(g.get('stroke-width')); want_sw = width * vb[2] / size
    if abs(sw - want_sw) > 1e-6 * want_sw: bad.append('%s: stroke-width %g want %g' % (name, sw, want_sw))
    if len(paths) != len(r['drawing']): bad.append('%s: %d paths for %d strokes' % (name, len(paths), len(r['drawing']))); continue
    for p, s in zip(paths, r['drawing']):
        toks = re.findall(r'[ML]|[-+0-9.eE]+', p.get('d'))
        if toks[0] != 'M' or (len(s[0]) > 1 and toks[3] != 'L'): bad.append('%s: path %s' % (name, p.get('d')[:40])); break
        nums = [float(t) for t in toks if t not in 'ML']; got = list(zip(nums[0::2], nums[1::2]))
        if len(s[0]) == 1:
            dots += 1
            if len(got) != 2 or got[0] != got[1]: bad.append('%s: a one-point stroke is not M p L p' % name)
            got = got[:1]
        if len(got) != len(s[0]): bad.append('%s: %d points for %d' % (name, len(got), len(s[0]))); break
        for (gx, gy), x, y in zip(got, s[0], s[1]): worst_pt = max(worst_pt, abs(gx - x), abs(gy - y))
    if key == 'dot1' and root.find(NS + 'title').text != 'fish & <chips> dot1': bad.append('title %r' % root.find(NS + 'title').text)
    if pdir != '-':  # the PNG's inked box, mapped through the viewBox, holds the paths' box
        rows = png_grey('%s/%s.png' % (pdir, name)); ink = [(x, y) for y, row in enumerate(rows) for x, v in enumerate(row) if v < 128]
        px = lambda X: vb[0] + (X + 0.5) * vb[2] / size; py = lambda Y: vb[1] + (Y + 0.5) * vb[3] / size
        ib = (px(min(i[0] for i in ink)), py(min(i[1] for i in ink)), px(max(i[0] for i in ink)), py(max(i[1] for i in ink)))
        pb = (min(p[0] for p in pts), min(p[1] for p in pts), max(p[0] for p in pts), max(p[1] for p in pts))
        u = vb[2] / size  # drawing units per pixel
        worst_box = max(worst_box, max(abs(a - b) for a, b in zip(ib, pb)) / u)
res(not bad, '%s: %d SVGs parse back to their records (paths = strokes, points within %.2g, viewBox, style)%s' % (mode, n, worst_pt, '' if not bad else ': ' + '; '.join(bad[:5])))
res(worst_pt <= 1e-9, '%s: coordinates exact (worst %.3g)' % (mode, worst_pt))
if pdir != '-':
    res(dots == 1, '%s: the one-point stroke is a dot' % mode)
    res(worst_box <= 1.5, '%s: PNG ink box = SVG paths box through the viewBox within 1.5 px (worst %.2f px)' % (mode, worst_box))
PY
python3 "$T/check.py" canvas "$T/canvas.ndjson" "$T/c" - 224 10 3 '#1a2b3c'
python3 "$T/check.py" fitted "$T/raw.ndjson" "$T/f" "$T/fp" 128 8 2.5 navy

# optimised drawings (canvas frame) as SVG
head -1 "$T/canvas.ndjson" | optimize -j 1 --loss clip-text:prompt=fish --steps 2 2>/dev/null >"$T/opt.ndjson"
rasterize --svg "$T/o" <"$T/opt.ndjson"
python3 "$T/check.py" optimized "$T/opt.ndjson" "$T/o" - 224 10 2 '#000000'

expect_exit "--colour with a quote is a usage error" 2 "colour" rasterize --svg "$T/x" --colour '"red' "$T/canvas.ndjson"
expect_exit "--colour #12345 is a usage error" 2 "colour" rasterize --svg "$T/x" --colour '#12345' "$T/canvas.ndjson"
head -1 "$T/canvas.ndjson" >"$T/dup.ndjson"; head -1 "$T/canvas.ndjson" >>"$T/dup.ndjson"
expect_exit "--svg: a repeated key_id is refused" 1 "already written" rasterize --svg "$T/d" "$T/dup.ndjson"
