#!/bin/bash
# libgrid demo and the sample county. Usage: test_demo.sh path/to/libgrid
# Oracles: the committed examples/data must be what the generator makes (byte for byte);
# the demo's zones and station classes must equal those of `libgrid zones` and
# `libgrid stations` in examples/data (made by scripts/make-sample-county.sh); its
# 10-minute coverage figures must equal a brute-force count with shapely centroids.
set -u
LIBGRID=${1:?usage: test_demo.sh path/to/libgrid}
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

if "$LIBGRID" demo --out out > demo.txt 2> demo.err; then ok "libgrid demo --out out: exit 0"; else
    bad "libgrid demo exit $?"
    cat demo.err
fi
for f in map.svg map.html plan.csv zones.csv; do
    [ -s "out/$f" ] && ok "demo wrote $f" || bad "demo did not write $f"
done
grep -q "file://$T/out/map.html" demo.txt && ok "demo prints where the map is" || bad "map location not printed"
[ ! -s demo.err ] && ok "demo is quiet on stderr" || { bad "demo wrote to stderr"; head -3 demo.err; }
grep -q "across the station line" demo.txt && ok "demo shows a cross-station dispatch" || bad "no cross-station dispatch shown"

# the committed sample is the generator's output
LIBGRID="$LIBGRID" "$SRC/scripts/make-sample-county.sh" regen > /dev/null 2>&1
if diff -r "$DATA" regen > diff.txt; then ok "examples/data regenerates byte-identically"; else
    bad "examples/data differs from the generator's output"
    head -5 diff.txt
fi

if "$PY" -c 'import geopandas, shapely' 2> /dev/null; then
    cat > oracle.py << 'PYEOF'
import sys, csv, math, re
import geopandas as gpd
data, out, report = sys.argv[1:4]
z_cli = {(r['cell'], r['zone']) for r in csv.DictReader(open(data + '/zones.csv'))}
z_demo = {(r['cell'], r['zone']) for r in csv.DictReader(open(out + '/zones.csv'))}
assert z_cli == z_demo, 'zones differ from libgrid zones'
p_cli = {(r['station'], r['kind'], r['central']) for r in csv.DictReader(open(data + '/plan.csv'))}
p_demo = {(r['station'], r['kind'], r['central']) for r in csv.DictReader(open(out + '/plan.csv'))}
assert p_cli == p_demo, 'station classes differ from libgrid stations'
cells = gpd.read_file(data + '/cells.shp')
st = list(csv.DictReader(open(data + '/stations.csv')))
R = 600 * 11.1 / 1.3
covered = pop = pop_cov = 0
for geom, p in zip(cells.geometry, cells['population']):
    c = geom.centroid
    hit = min(math.hypot(c.x - float(s['x']), c.y - float(s['y'])) for s in st) <= R
    covered += hit
    pop += p
    pop_cov += p * hit
text = open(report).read()
m = re.search(r'reaches (\d+) of (\d+) cells \(([\d.]+)%\) and ([\d.]+)% of\s+the population', text)
assert m, 'coverage line not found'
assert int(m.group(1)) == covered and int(m.group(2)) == len(cells), (m.groups(), covered)
assert abs(float(m.group(4)) - round(100 * pop_cov / pop, 1)) < 0.051, (m.group(4), 100 * pop_cov / pop)
print('zones, classes, coverage %d/%d cells, %.1f%% population' % (covered, len(cells), 100 * pop_cov / pop))
PYEOF
    if "$PY" oracle.py "$DATA" out demo.txt > py.txt 2>&1; then
        ok "demo figures match the oracles: $(cat py.txt)"
    else
        bad "demo figures"
        cat py.txt
    fi
else
    echo "# shapely checks skipped: $PY lacks geopandas"
fi

"$LIBGRID" demo --data nowhere --out out2 > /dev/null 2> err.txt
rc=$?
[ "$rc" -eq 66 ] && grep -q "nowhere: no sample" err.txt && ok "demo --data nowhere: exit 66, named" || bad "demo --data nowhere: exit $rc"
"$LIBGRID" demo --out /nonexistent-dir/x > /dev/null 2> err.txt
rc=$?
[ "$rc" -eq 73 ] && ok "demo --out unwritable: exit 73" || bad "demo --out unwritable: exit $rc"
"$LIBGRID" demo --help | grep -q "usage: libgrid demo" && ok "demo --help" || bad "demo --help"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
