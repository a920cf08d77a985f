#!/bin/bash
# Tests of `libgrid render` on the bundled sample county. Usage: test_render.sh path/to/libgrid
# Oracles (Debian's /usr/bin/python3): xml.etree parses the SVG; geopandas/shapely read
# the cells independently: the cell paths must be the cells (count, ids, and each path's
# box where the cell's box goes under x' = a + s x, y' = b - s y), the hatched cells those
# whose area centroid is farther than the radius from every station (brute force), the
# zone of each path the one in zones.csv, adjacent zones coloured differently; the scale
# bar's drawn length equals its label in metres times the map scale. Bad inputs: exit
# codes and messages naming file, line and reason.
set -u
LIBGRID=${1:?usage: test_render.sh path/to/libgrid}
LIBGRID=$(cd "$(dirname "$LIBGRID")" && pwd)/$(basename "$LIBGRID")
SRC=$(cd "$(dirname "$0")/.." && pwd)
DATA=$SRC/examples/data
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $1"; }
run() { # run EXPECTED_RC ARGS...
    local want=$1
    shift
    "$LIBGRID" "$@" > out.txt 2> err.txt
    RC=$?
    if [ "$RC" -eq "$want" ]; then ok "libgrid $* -> exit $want"; else
        bad "libgrid $* -> exit $RC, expected $want"
        sed 's/^/    /' err.txt | head -5
    fi
}
errhas() { # errhas NAME PATTERN: stderr of the last run matches
    if grep -Eq -- "$2" err.txt; then ok "$1"; else
        bad "$1: stderr lacks /$2/"
        sed 's/^/    /' err.txt | head -5
    fi
}

if ! "$PY" -c 'import xml.etree.ElementTree, shapely, geopandas' 2> /dev/null; then
    echo "SKIP: $PY lacks shapely/geopandas (apt-get install python3-geopandas)"
    exit 77
fi

# 10-minute drive at the defaults: 600 s * 11.1 m/s / 1.3
R=$("$PY" -c 'print(600 * 11.1 / 1.3)')

# ----------------------------------------------------------------- the full map
run 0 render "$DATA/cells.shp" --station-field station --stations "$DATA/stations.csv" \
    --plan "$DATA/plan.csv" --zones "$DATA/zones.csv" --units "$DATA/units.csv" \
    --incidents "$DATA/incidents.csv" --coverage "$R" --title "Sample county" \
    -o map.svg --html map.html
errhas "render reports the cells drawn" "220 cells drawn to map.svg and map.html"
leftover=$(ls -A | grep -c tmp)
[ "$leftover" -eq 0 ] && ok "no temporary files left" || bad "temporary files left: $(ls -A)"

cat > check.py << 'EOF'
import sys, re, math, csv
import xml.etree.ElementTree as ET
import geopandas as gpd
from shapely.geometry import Point

svg_path, data, R = sys.argv[1], sys.argv[2], float(sys.argv[3])
NS = '{http://www.w3.org/2000/svg}'
fails = []
def check(cond, what):
    print(('ok - ' if cond else 'FAIL - ') + what)
    if not cond:
        fails.append(what)

tree = ET.parse(svg_path)              # well-formed XML or an exception
root = tree.getroot()
check(root.tag == NS + 'svg', 'root element is svg')
cells = gpd.read_file(data + '/cells.shp')
ids = [str(int(v)) for v in cells['cell_id']]
paths = [p for p in root.iter(NS + 'path') if p.get('class') == 'cell']
check(len(paths) == len(cells), '%d cell paths for %d cells' % (len(paths), len(cells)))
check(sorted(p.get('data-cell') for p in paths) == sorted(ids), 'cell paths carry the cell ids')

def pts(d):
    return [(float(a), float(b)) for a, b in re.findall(r'[ML](-?[\d.]+) (-?[\d.]+)', d)]

# transform: x' = a + s x, y' = b - s y; s from the overall boxes, then every cell's box
allp = [q for p in paths for q in pts(p.get('d'))]
minx, miny, maxx, maxy = cells.total_bounds
px0 = min(q[0] for q in allp); px1 = max(q[0] for q in allp)
py0 = min(q[1] for q in allp); py1 = max(q[1] for q in allp)
s = (px1 - px0) / (maxx - minx)
check(abs((py1 - py0) / (maxy - miny) - s) < 1e-3 * s, 'same scale in x and y (%.6f px/m)' % s)
byid = {p.get('data-cell'): p for p in paths}
worst = 0.0
for cid, geom in zip(ids, cells.geometry):
    q = pts(byid[cid].get('d'))
    b = geom.bounds
    want = (px0 + s * (b[0] - minx), py0 + s * (maxy - b[3]), px0 + s * (b[2] - minx),
            py0 + s * (maxy - b[1]))
    got = (min(v[0] for v in q), min(v[1] for v in q), max(v[0] for v in q), max(v[1] for v in q))
    worst = max(worst, max(abs(g - w) for g, w in zip(got, want)))
check(worst <= 0.11, 'every cell drawn where it lies, y flipped (worst %.3f px)' % worst)

# coverage: hatched cells = centroid farther than R from every station (brute force)
st = list(csv.DictReader(open(data + '/stations.csv')))
sx = [float(r['x']) for r in st]; sy = [float(r['y']) for r in st]
want_unc = set()
for cid, geom in zip(ids, cells.geometry):
    c = geom.centroid
    if min(math.hypot(c.x - x, c.y - y) for x, y in zip(sx, sy)) > R:
        want_unc.add(cid)
got_unc = {p.get('data-cell') for p in root.iter(NS + 'path') if p.get('class') == 'unc'}
check(got_unc == want_unc, 'hatched cells: %d, brute force: %d, equal' % (len(got_unc), len(want_unc)))
check(0 < len(want_unc) < len(cells) // 4, 'a 10-minute drive covers most but not all cells')
circles = list(root.find(".//{0}g[@id='reach']".format(NS)))
check(len(circles) == len(st), 'one reach circle per station')
check(all(abs(float(c.get('r')) - R * s) < 0.11 for c in circles), 'reach circles have the radius')

# zones: data-zone per cell as in zones.csv; adjacent zones differ in colour
zones = {r['cell']: r['zone'] for r in csv.DictReader(open(data + '/zones.csv')) if r['zone']}
got_z = {p.get('data-cell'): p.get('data-zone') for p in paths if p.get('data-zone') is not None}
check(got_z == zones, 'zones of %d cells as in zones.csv' % len(zones))
fill = {p.get('data-zone'): p.get('fill') for p in paths if p.get('data-zone') is not None}
check(all(len({p.get('fill') for p in paths if p.get('data-zone') == z}) == 1 for z in fill),
      'one colour per zone')
zc = cells.assign(zone=[zones.get(i) for i in ids]).dropna(subset=['zone']).dissolve('zone')
clash = 0
for a in zc.index:
    for b in zc.index:
        if a < b and zc.geometry[a].intersection(zc.geometry[b]).length > 1.0:
            clash += fill[a] == fill[b]
check(clash == 0, 'adjacent zones have different colours (%d zones)' % len(zc))

# stations by class: symbols per kind as in plan.csv
plan = list(csv.DictReader(open(data + '/plan.csv')))
for kind in ('central', 'base', 'border'):
    n_want = sum(r['kind'] == kind for r in plan)
    g = root.find(".//{0}g[@id='stations']".format(NS))
    n_got = sum(1 for e in g if e.get('class') == 'st-' + kind)
    check(n_got == n_want, '%d %s station symbols (plan: %d)' % (n_got, kind, n_want))
text = ' '.join(t.text or '' for t in root.iter(NS + 'text'))
for name in (r['name'] for r in st):
    if name not in text:
        fails.append('label ' + name)
check(all(r['name'] in text for r in st), 'every station labelled with its name')

# legend, scale bar, north arrow
legend = root.find(".//{0}g[@id='legend']".format(NS))
check(legend is not None, 'legend present')
ltext = ' '.join(t.text or '' for t in legend.iter(NS + 'text'))
for w in ('central station', 'base station', 'border station', 'service-station zone',
          'not reached', 'car', 'motorbike', 'foot patrol', 'available', 'incident'):
    check(w in ltext, 'legend mentions "%s"' % w)
sb = root.find(".//{0}g[@id='scalebar']".format(NS))
check(sb is not None, 'scale bar present')
label = [t.text for t in sb.iter(NS + 'text') if t.text != '0'][0]
m = re.fullmatch(r'(\d+(?:\.\d+)?) (km|m)', label)
check(m is not None, 'scale label "%s" in m or km' % label)
metres = float(m.group(1)) * (1000 if m.group(2) == 'km' else 1)
mant = metres / 10 ** math.floor(math.log10(metres))
check(abs(mant - round(mant)) < 1e-9 and round(mant) in (1, 2, 5), 'scale length is a round number')
bar = sum(float(r.get('width')) for r in sb.iter(NS + 'rect'))
check(abs(bar - metres * s) < 0.5, 'scale bar: %.1f px for %s (%.1f px expected)' % (bar, label, metres * s))
check(root.find(".//{0}g[@id='north']".format(NS)) is not None, 'north arrow present')
units = list(csv.DictReader(open(data + '/units.csv')))
ug = root.find(".//{0}g[@id='units']".format(NS))
check(len(list(ug)) == len(units), 'one symbol per unit')
ig = root.find(".//{0}g[@id='incidents']".format(NS))
n_inc = sum(1 for _ in csv.DictReader(open(data + '/incidents.csv')))
check(len(list(ig)) == n_inc, 'one dot per incident')
sys.exit(1 if fails else 0)
EOF
if "$PY" check.py map.svg "$DATA" "$R" > check.txt 2>&1; then
    ok "SVG checked against geopandas/shapely ($(grep -c '^ok' check.txt) checks)"
else
    bad "SVG check"
    grep -v '^ok' check.txt | sed 's/^/    /' | head -20
fi

# the HTML page embeds the very SVG and fetches nothing
"$PY" - map.svg map.html << 'EOF' && ok "HTML embeds the SVG, no scripts, no network" || bad "HTML page"
import sys, re
svg = open(sys.argv[1], encoding='utf-8').read()
html = open(sys.argv[2], encoding='utf-8').read()
assert html.startswith('<!DOCTYPE html>'), 'doctype'
assert svg in html, 'svg not embedded verbatim'
rest = html.replace('http://www.w3.org/2000/svg', '')
assert not re.search(r'https?://|<script|<link|<img|@import', rest), 'external reference'
EOF
size=$(stat -c %s map.svg)
[ "$size" -lt 1500000 ] && ok "SVG size reasonable ($size bytes)" || bad "SVG is $size bytes"

# minimal map: the grid alone, with the default id field and a coverage CSV
"$LIBGRID" coverage "$DATA/cells.shp" --id-field cell_id --facilities "$DATA/stations.csv" \
    --radius 4000 -o cov.csv 2> /dev/null
run 0 render "$DATA/cells.shp" -o plain.svg
"$PY" -c "
import xml.etree.ElementTree as ET, sys
r = ET.parse('plain.svg').getroot()
n = sum(1 for p in r.iter('{http://www.w3.org/2000/svg}path') if p.get('class') == 'cell')
sys.exit(0 if n == 220 else 1)" && ok "plain map: 220 cells" || bad "plain map"
run 0 render "$DATA/cells.shp" --coverage cov.csv -o cov.svg
"$PY" - cov.csv cov.svg << 'EOF' && ok "coverage CSV: hatched cells are those with count 0" || bad "coverage CSV"
import csv, sys
import xml.etree.ElementTree as ET
want = {r['cell'] for r in csv.DictReader(open(sys.argv[1])) if r['count'] == '0'}
r = ET.parse(sys.argv[2]).getroot()
got = {p.get('data-cell') for p in r.iter('{http://www.w3.org/2000/svg}path') if p.get('class') == 'unc'}
assert want and got == want, (len(got), len(want))
EOF
# a plan as polygons (libgrid stations -o plan.geojson): jurisdictions with their kind
"$LIBGRID" stations "$DATA/cells.shp" --station-field station --id-field cell_id \
    --workload population,calls -o plan.geojson 2> /dev/null
run 0 render "$DATA/cells.shp" --stations plan.geojson -o planpoly.svg
"$PY" - planpoly.svg "$DATA/plan.csv" << 'EOF' && ok "plan polygons: one symbol per station, by class" || bad "plan polygons"
import csv, sys
import xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
plan = list(csv.DictReader(open(sys.argv[2])))
g = r.find(".//{http://www.w3.org/2000/svg}g[@id='stations']")
for kind in ('central', 'base', 'border'):
    assert sum(1 for e in g if e.get('class') == 'st-' + kind) == sum(p['kind'] == kind for p in plan), kind
EOF

# ----------------------------------------------------------------- bad inputs
run 0 render --help
grep -q "usage: libgrid render" out.txt && ok "render --help prints the usage" || bad "render --help"
run 64 render "$DATA/cells.shp"
errhas "missing -o" "-o MAP.svg is required"
run 64 render "$DATA/cells.shp" -o map.png
errhas "-o must be .svg" "ending in .svg"
run 64 render "$DATA/cells.shp" --coverage 5000 -o x.svg
errhas "radius needs stations" "give --stations too"
run 64 render "$DATA/cells.shp" --plan "$DATA/plan.csv" -o x.svg
errhas "plan needs stations" "give --stations too"
run 66 render nowhere.shp -o x.svg
errhas "missing grid named" "nowhere.shp"
printf 'cell,zone\n1,0\n99999,1\n' > badzones.csv
run 65 render "$DATA/cells.shp" --zones badzones.csv -o x.svg
errhas "unknown cell in zones: file, line, reason" "badzones.csv: line 3: no cell with id '99999'"
printf 'cell,zone\n1,x\n' > badzones2.csv
run 65 render "$DATA/cells.shp" --zones badzones2.csv -o x.svg
errhas "bad zone value: file, line, reason" "badzones2.csv: line 2: zone 'x' is not an integer"
printf 'id,x,y,status,caps,kind,station\n1,500000,3270000,sleeping,traffic,car,0\n' > badunits.csv
run 65 render "$DATA/cells.shp" --units badunits.csv -o x.svg
errhas "bad unit status: file, line, reason" "badunits.csv: line 2: unknown status 'sleeping'"
printf 'id,x,y,status,caps,kind,station\n1,500000,3270000,available,flying,car,0\n' > badcaps.csv
run 65 render "$DATA/cells.shp" --units badcaps.csv -o x.svg
errhas "bad capability: file, line, reason" "badcaps.csv: line 2: unknown capability 'flying'"
printf 'id,name,x,y\n0,A,500000,north\n' > badst.csv
run 65 render "$DATA/cells.shp" --stations badst.csv -o x.svg
errhas "bad station coordinate: file, line, reason" "badst.csv: line 2: coordinate"
printf 'station,kind\n0,capital\n' > badplan.csv
run 65 render "$DATA/cells.shp" --stations "$DATA/stations.csv" --plan badplan.csv -o x.svg
errhas "bad plan kind: file, line, reason" "badplan.csv: line 2: kind 'capital'"
run 73 render "$DATA/cells.shp" -o /nonexistent-dir/x.svg
errhas "unwritable output named" "/nonexistent-dir/x.svg"
[ ! -e x.svg ] && ok "no map written on errors" || bad "x.svg written despite errors"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
