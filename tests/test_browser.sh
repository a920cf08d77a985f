#!/bin/bash
# The sample county's map in a real headless browser (Debian chromium).
# Usage: test_browser.sh path/to/libgrid. Skips (exit 77) when chromium is absent.
# Checks: the page loads without console errors, the DOM the browser built holds the SVG
# with its 220 cell paths and the legend, and a screenshot is not blank: many colours,
# among them the zone fills and the central-station red as the SVG specifies them.
set -u
LIBGRID=${1:?usage: test_browser.sh path/to/libgrid}
LIBGRID=$(cd "$(dirname "$LIBGRID")" && pwd)/$(basename "$LIBGRID")
SRC=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    echo "SKIP: chromium not installed (apt-get install chromium, or scripts/install-deps.sh)"
    exit 77
fi
if ! "$PY" -c 'import PIL' 2> /dev/null && ! "$PY" -c 'import matplotlib.image' 2> /dev/null; then
    echo "SKIP: $PY has neither PIL nor matplotlib to read the screenshot"
    exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $1"; }

if "$LIBGRID" demo --out demo > demo.txt 2> demo.err; then ok "libgrid demo wrote the map"; else
    bad "libgrid demo failed"
    cat demo.err
    exit 1
fi
PAGE="file://$T/demo/map.html"
FLAGS=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --disable-default-apps --disable-extensions --mute-audio --hide-scrollbars
    --window-size=1400,1000)

# the DOM as the browser parsed it, with the console on stderr
timeout 120 "$CHROMIUM" "${FLAGS[@]}" --user-data-dir="$T/profile1" --enable-logging=stderr --v=0 \
    --dump-dom "$PAGE" > dom.html 2> console.txt
rc=$?
[ "$rc" -eq 0 ] && ok "chromium --dump-dom exit 0" || bad "chromium --dump-dom exit $rc"
if grep -Eiq "Uncaught|:CONSOLE|Failed to load|net::ERR|XML Parsing Error|error on line" console.txt; then
    bad "console errors:"
    grep -Ei "Uncaught|:CONSOLE|Failed to load|net::ERR|XML Parsing Error|error on line" console.txt | head -5
else
    ok "page loaded without console errors"
fi
n=$(grep -o '<path class="cell"' dom.html | wc -l)
[ "$n" -eq 220 ] && ok "DOM holds 220 cell paths" || bad "DOM holds $n cell paths"
grep -q 'id="legend"' dom.html && ok "DOM holds the legend" || bad "no legend in the DOM"

timeout 120 "$CHROMIUM" "${FLAGS[@]}" --user-data-dir="$T/profile2" --screenshot="$T/shot.png" \
    "$PAGE" > shot.out 2>&1
[ -s shot.png ] && ok "screenshot written" || bad "no screenshot"
if [ -n "${LG_KEEP_SCREENSHOT:-}" ] && [ -s shot.png ]; then cp shot.png "$LG_KEEP_SCREENSHOT"; fi

"$PY" - shot.png demo/map.svg << 'EOF' > colours.txt 2>&1 && ok "screenshot: $(cat colours.txt)" || { bad "screenshot"; cat colours.txt; }
import sys, re
try:
    from PIL import Image
    img = Image.open(sys.argv[1]).convert('RGB')
    w, h = img.size
    px = list(img.getdata())
except ImportError:
    import matplotlib.image as mpimg
    a = mpimg.imread(sys.argv[1])
    h, w = a.shape[:2]
    px = [tuple(int(round(255 * c)) for c in a[y, x, :3]) for y in range(h) for x in range(w)]
colours = set(px)
svg = open(sys.argv[2]).read()
def rgb(hexs):
    return tuple(int(hexs[i:i + 2], 16) for i in (1, 3, 5))
zone_fills = {rgb(m) for m in re.findall(r'data-zone="\d+" fill="(#[0-9a-f]{6})"', svg)}
seen_zone = {c for c in zone_fills if c in colours}
red = rgb('#b2182b')
print('%d distinct colours, %d of %d zone colours, central-station red %s'
      % (len(colours), len(seen_zone), len(zone_fills), 'present' if red in colours else 'absent'))
white = sum(1 for p in px if p == (255, 255, 255))
assert len(colours) > 10, 'blank'
assert white < 0.9 * len(px), 'mostly white'
assert len(seen_zone) >= min(3, len(zone_fills)), 'zone colours not drawn'
assert red in colours, 'no central station drawn'
EOF

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
