#!/bin/bash
# Tests of the libgrid command. Usage: test_cli.sh path/to/libgrid
# Oracles: the Python binding (same library, independent CSV handling) when it can be
# imported from $LG_BUILD_DIR, cs2cs (PROJ) for --crs, and the input itself for the
# pass-through of CSV records. Prints "N passed, M failed"; exits 1 on any failure.
set -u

LIBGRID=${1:?usage: test_cli.sh path/to/libgrid}
LIBGRID=$(cd "$(dirname "$LIBGRID")" && pwd)/$(basename "$LIBGRID")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $1"; }
check() { # check NAME COMMAND...: passes when the command succeeds
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
# run EXPECTED_RC ARGS...: run libgrid, keep out/err, check the exit code
run() {
    local want=$1
    shift
    "$LIBGRID" "$@" > out.txt 2> err.txt
    RC=$?
    if [ "$RC" -eq "$want" ]; then
        ok "libgrid $* -> exit $want"
    else
        bad "libgrid $* -> exit $RC, expected $want (stderr: $(head -c 300 err.txt))"
    fi
}
contains() { grep -qF -- "$2" "$1"; }
empty() { [ ! -s "$1" ]; }

PY=/usr/bin/python3
HAVE_PY=0
if [ -n "${LG_BUILD_DIR:-}" ] && [ -x "$PY" ] &&
    PYTHONPATH="$LG_BUILD_DIR/bindings/python" "$PY" -c 'import libgrid' 2> /dev/null; then
    HAVE_PY=1
fi
pyrun() { (cd / && PYTHONPATH="$LG_BUILD_DIR/bindings/python" "$PY" "$@"); }

# ------------------------------------------------------------ version / help
run 0 --version
check "version text" contains out.txt "libgrid 0."
run 0 help
check "help lists commands" contains out.txt "locate"
for cmd in info locate synth validate stations zones snapshot nearest coverage heat; do
    run 0 "$cmd" --help
    check "$cmd --help prints usage" contains out.txt "usage: libgrid $cmd"
    check "$cmd --help: nothing on stderr" empty err.txt
    run 0 help "$cmd"
done
run 64
check "no command: usage on stderr, nothing on stdout" empty out.txt
run 64 frobnicate
check "unknown command message" contains err.txt "libgrid: unknown command 'frobnicate'"
run 64 locate --bogus grid.shp
check "unknown option named" contains err.txt "libgrid: locate: unknown option '--bogus'"
run 64 synth -n 100
check "synth without -o" contains err.txt "-o"
run 64 synth -n lots -o x.shp
run 64 synth -n 100 -o county.txt

# ------------------------------------------------------------------- synth
run 0 synth -n 200 --seed 5 -o county.shp
check "synth writes .shp/.shx/.dbf/.prj" test -s county.shp -a -s county.shx -a -s county.dbf -a -s county.prj
check "synth: nothing on stdout" empty out.txt
run 0 synth -n 200 --seed 5 --stations 7 --cell-size 500 -o county.geojson
check "synth writes GeoJSON" contains county.geojson "FeatureCollection"
run 73 synth -n 200 -o "$T/no/such/dir/county.shp"
check "cannot create output: message names it" contains err.txt "county.shp"
run 64 synth -n 5 -o small.shp
check "cells out of range: library message" contains err.txt "cells"

# -------------------------------------------------------------------- info
run 0 info county.shp --id-field cell_id
check "info: cells" contains out.txt "cells: 200"
check "info: id field" contains out.txt "id field: cell_id"
check "info: field types" contains out.txt "  station int"
check "info: no problems" contains out.txt "problems: 0"
check "info: crs" grep -q "^crs: ." out.txt
read -r MINX MINY MAXX MAXY < <(sed -n 's/^bounds: //p' out.txt)
check "info: bounds" test -n "${MAXY:-}"
run 66 info missing.shp
check "missing file named" contains err.txt "libgrid: missing.shp:"
check "missing file: nothing on stdout" empty out.txt
run 64 info county.shp --id-field no_such_field
check "unknown id field named" contains err.txt "no_such_field"
run 64 info county.shp --crs not-a-crs
check "bad --crs named" contains err.txt "not-a-crs"
printf 'POLYGON((0 0, 1 0, 1 1, 0 0))\nPOLYGON((0 0, 1 0, 1 1))\n' > broken.wkt
run 65 info broken.wkt
check "malformed grid: file named" contains err.txt "broken.wkt"
# a bow tie is reported as a problem with row and kind, not a failure
printf 'POLYGON((0 0, 1 0, 1 1, 0 0))\nPOLYGON((10 0, 11 1, 11 0, 10 1, 10 0))\n' > bowtie.wkt
run 0 info bowtie.wkt
check "info reports the invalid row" grep -q "^  row 1: invalid" out.txt

# ------------------------------------------------------------------ locate
# 2000 points over the county's box and a margin around it (deterministic)
awk -v minx="$MINX" -v miny="$MINY" -v maxx="$MAXX" -v maxy="$MAXY" 'BEGIN {
    srand(42); w = maxx - minx; h = maxy - miny; print "id,x,y";
    for (i = 0; i < 2000; i++)
        printf "%d,%.6f,%.6f\n", i, minx - 0.05*w + rand()*1.1*w, miny - 0.05*h + rand()*1.1*h
}' > points.csv
run 0 locate county.shp --id-field cell_id -i points.csv -o located.csv
check "locate: header gets a cell column" test "$(head -1 located.csv)" = "id,x,y,cell"
check "locate: one output row per input row" test "$(wc -l < located.csv)" -eq 2001
check "locate: input records unchanged" cmp -s <(cut -d, -f1-3 located.csv) points.csv
check "locate: some points outside (empty cell)" grep -q ',$' located.csv
check "locate: many points inside" test "$(grep -c ",[0-9][0-9]*$" located.csv)" -gt 500
check "locate: nothing on stderr" empty err.txt
# stdin / stdout give the same bytes
"$LIBGRID" locate county.shp --id-field cell_id < points.csv > located2.csv 2> /dev/null
check "locate: stdin/stdout same as files" cmp -s located.csv located2.csv

if [ "$HAVE_PY" = 1 ]; then
    pyrun - "$T/county.shp" "$T/points.csv" > expected.csv << 'EOF'
import sys, numpy as np, libgrid
g = libgrid.Grid.from_file(sys.argv[1], id_field="cell_id")
d = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1)
rows = g.locate(d[:, 1], d[:, 2])
ids = g.ids
for r in rows:
    print("" if r < 0 else ids[r])
EOF
    check "locate: cells equal the Python binding's" cmp -s <(tail -n +2 located.csv | cut -d, -f4) expected.csv
else
    echo "# skip: Python binding not importable, no cross-check"
fi

# row numbers without --id-field: cell_id of row r is what --id-field prints
run 0 locate county.shp -i points.csv -o rows.csv
if [ "$HAVE_PY" = 1 ]; then
    pyrun - "$T/county.shp" "$T/rows.csv" "$T/located.csv" << 'EOF' > py_rows.txt
import sys, csv, libgrid
g = libgrid.Grid.from_file(sys.argv[1])
cid = g["cell_id"]
a = list(csv.reader(open(sys.argv[2])))[1:]
b = list(csv.reader(open(sys.argv[3])))[1:]
print(all((ra[3] == "" and rb[3] == "") or str(cid[int(ra[3])]) == rb[3] for ra, rb in zip(a, b)))
EOF
    check "locate: row numbers map to the id field" test "$(cat py_rows.txt)" = "True"
fi

# --crs: the same points as longitude/latitude (transformed by cs2cs) give the same cells
if command -v cs2cs > /dev/null; then
    CRS=EPSG:4545
    # EPSG:4545 is northing, easting in and EPSG:4326 latitude, longitude out
    tail -n +2 points.csv | awk -F, '{ print $3, $2 }' |
        cs2cs -f '%.12f' "$CRS" EPSG:4326 2> /dev/null |
        awk 'BEGIN { print "name,latitude,longitude" } { printf "p%d,%s,%s\n", NR - 1, $1, $2 }' > lonlat.csv
    run 0 locate county.shp --id-field cell_id --crs EPSG:4326 -i lonlat.csv -o located_ll.csv
    DIFF=$(paste -d' ' <(tail -n +2 located.csv | cut -d, -f4) <(tail -n +2 located_ll.csv | cut -d, -f4) |
        awk '$1 != $2' | wc -l)
    # points within rounding error of an edge may differ; random points almost never are
    check "locate --crs EPSG:4326 agrees with cs2cs-transformed points ($DIFF differ)" test "$DIFF" -le 2
    check "locate --crs: latitude/longitude columns detected" test "$(wc -l < located_ll.csv)" -eq 2001
else
    echo "# skip: cs2cs not found"
fi

# explicit columns, quoted fields with commas, quotes and newlines, CRLF line ends
P1=$(sed -n 2p points.csv | cut -d, -f2,3)
P2=$(sed -n 3p points.csv | cut -d, -f2,3)
W1=$(sed -n 2p located.csv | cut -d, -f4)
W2=$(sed -n 3p located.csv | cut -d, -f4)
{
    printf 'note,"east",north\r\n'
    printf '"Smith, ""J"" said\r\nhello",%s\r\n' "$P1"
    printf 'plain,%s\r\n' "$P2"
    printf '"",%s' "$P1"
} > quoted.csv
run 0 locate county.shp --id-field cell_id --x-col east --y-col north -i quoted.csv -o quoted_out.csv
{
    printf 'note,"east",north,cell\r\n'
    printf '"Smith, ""J"" said\r\nhello",%s,%s\r\n' "$P1" "$W1"
    printf 'plain,%s,%s\r\n' "$P2" "$W2"
    printf '"",%s,%s\r\n' "$P1" "$W1"
} > quoted_want.csv
check "quoted fields, embedded newline, CRLF: records kept, cells right" cmp -s quoted_out.csv quoted_want.csv
run 64 locate county.shp --x-col nope --y-col north -i quoted.csv
check "unknown column named" contains err.txt "nope"
printf 'a,b\n1,2\n' > nocoords.csv
run 64 locate county.shp -i nocoords.csv
check "no coordinate columns: says so" contains err.txt "--x-col"

# bad rows: wrong column count / unparseable number -> 65 with file and line
{
    echo 'id,x,y'
    echo "0,$P1"
    printf '"two\nlines",%s\n' "$P2"
    echo "3,not-a-number,5"
    echo "4,$P1"
} > badrow.csv
run 65 locate county.shp -i badrow.csv -o badrow_out.csv
check "bad number: file and line 5 named" contains err.txt "badrow.csv: line 5:"
check "bad number: reason" contains err.txt "not a number"
{
    echo 'id,x,y'
    echo "0,$P1"
    echo "1,$P1,extra"
} > badcols.csv
run 65 locate county.shp -i badcols.csv
check "wrong column count: line 3 and reason" contains err.txt "badcols.csv: line 3: 4 columns, the header has 3"
printf 'id,x,y\n1,"unterminated,2\n' > badquote.csv
run 65 locate county.shp -i badquote.csv
check "unterminated quote reported" contains err.txt "unterminated quoted field"
run 0 locate county.shp --id-field cell_id --skip-bad -i badrow.csv -o skip_out.csv
check "--skip-bad: all rows out" test "$(grep -c . skip_out.csv)" -eq 6
check "--skip-bad: bad row passed through with empty cell" grep -qx '3,not-a-number,5,' skip_out.csv
check "--skip-bad: good rows located" grep -qx "4,$P1,$W1" skip_out.csv

# missing input / grid, unwritable output
run 66 locate county.shp -i missing.csv
check "missing input named" contains err.txt "missing.csv"
run 66 locate missing.shp -i points.csv
run 73 locate county.shp -i points.csv -o "$T/no/such/dir/out.csv"
run 64 locate county.shp --crs not-a-crs -i points.csv
check "bad --crs: nothing on stdout" empty out.txt

# more rows than one chunk (65536): every chunk located the same way
awk 'NR == 1 { print; next } NR <= 101 { row[NR] = $0 } END {
    for (i = 0; i < 70000; i++) print row[2 + i % 100] }' points.csv > many.csv
run 0 locate county.shp --id-field cell_id -i many.csv -o many_out.csv
check "chunked: row count" test "$(wc -l < many_out.csv)" -eq 70001
check "chunked: cells repeat with the points" cmp -s \
    <(tail -n +2 many_out.csv | cut -d, -f4) \
    <(awk -F, 'NR >= 2 && NR <= 101 { c[NR - 2] = $4 } END {
        for (i = 0; i < 70000; i++) print c[i % 100] }' located.csv)

# ============================================================ planning and dispatch
# Independent oracles: shapely/geopandas (Debian python3) for adjacency, areas,
# centroids, point-in-polygon; brute force for the nearest units.
GP=0
if "$PY" -c 'import geopandas, shapely' 2> /dev/null; then GP=1; fi
gp() { (cd "$T" && "$PY" "$@"); }

# ---------------------------------------------------------------- validate
run 0 validate county.shp --id-field cell_id
check "validate: clean grid prints only the header" test "$(cat out.txt)" = "row,id,kind,x,y,message"
run 65 validate bowtie.wkt
check "validate: invalid row 1 reported as CSV" grep -q '^1,1,invalid,' out.txt
printf 'POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))\nPOLYGON((5 5, 15 5, 15 15, 5 15, 5 5))\nPOLYGON((10 0, 20 0, 20 5, 10 5, 10 0))\n' > overlap.wkt
run 65 validate overlap.wkt
check "validate: overlap of rows 0 and 1 found" grep -q '^0,0,overlap,.*overlaps cell 1 (row 1) over an area of 25' out.txt
check "validate: one overlap (the pair once, edge-sharing cells not)" test "$(grep -c overlap, out.txt)" -eq 1
run 0 validate bowtie.wkt --crs EPSG:4545 --repair -o fixed.geojson
check "validate --repair: repaired row listed" grep -q '^1,1,repaired,' out.txt
if [ "$GP" = 1 ]; then
    check "validate --repair: output valid (shapely)" gp -c '
import geopandas as g; d = g.read_file("fixed.geojson"); assert len(d) == 2 and d.is_valid.all()'
fi
run 64 validate county.shp -o x.shp
check "validate: -o without --repair refused" contains err.txt "--repair"

# ---------------------------------------------------------------- snapshot
run 0 snapshot county.shp -o county.lgsnap --id-field cell_id
run 0 snapshot --check county.lgsnap
check "snapshot --check: cells" contains out.txt "cells: 200"
check "snapshot --check: id field" contains out.txt "id field: cell_id"
check "snapshot --check: crs" contains out.txt "crs: EPSG:4545"
run 0 locate county.lgsnap -i points.csv -o located_snap.csv
check "locate on a snapshot equals locate on the Shapefile" cmp -s located_snap.csv located.csv
cp county.lgsnap broken.lgsnap
SZ=$(stat -c %s broken.lgsnap)
printf '\x55\xAA\x55\xAA' | dd of=broken.lgsnap bs=1 seek=$((SZ / 2)) conv=notrunc status=none
run 65 snapshot --check broken.lgsnap
check "corrupt snapshot: file named" contains err.txt "broken.lgsnap"
run 66 snapshot --check missing.lgsnap
run 64 snapshot county.shp -o county.bin
run 64 locate county.lgsnap --id-field station -i points.csv
check "snapshot id field is fixed: says so" contains err.txt "id field"

# ---------------------------------------------------------------- stations
run 0 synth -n 220 --seed 1 -o c220.shp
run 0 stations c220.shp --station-field station --id-field cell_id --workload population,calls -o plan.csv
check "stations: one row per station" test "$(tail -n +2 plan.csv | wc -l)" -eq "$(tail -n +2 plan.csv | cut -d, -f1 | sort -u | wc -l)"
check "stations: header" test "$(head -1 plan.csv)" = "station,kind,central,score,cells,population,calls"
check "stations: has central, base and border" test "$(tail -n +2 plan.csv | cut -d, -f2 | sort -u | tr '\n' ' ')" = "base border central "
cut -d, -f1-3 plan.csv > plan3.csv
run 0 stations c220.shp --station-field station --validate plan3.csv
if [ "$GP" = 1 ]; then
    # independent: jurisdictions by shapely union; each base adjacent (shared boundary
    # > 1 m) to its central; each central has 1..2 bases; border stations on the outline
    check "stations: plan valid by shapely (adjacency, bases per central, border)" gp - << 'PYEOF'
import csv, geopandas as g
from shapely.ops import unary_union
cells = g.read_file("c220.shp")
jur = {int(k): unary_union(v.geometry.values) for k, v in cells.groupby("station")}
outline = unary_union(list(jur.values())).boundary
plan = list(csv.DictReader(open("plan.csv")))
kind = {int(r["station"]): r["kind"] for r in plan}
for r in plan:
    s = int(r["station"])
    if r["kind"] == "base":
        c = int(r["central"])
        assert kind[c] == "central", r
        assert jur[s].boundary.intersection(jur[c].boundary).length > 1.0, r
    if r["kind"] == "border":
        assert jur[s].boundary.intersection(outline.buffer(2)).length >= 100, r
    if r["kind"] == "central":
        nb = sum(1 for q in plan if q["kind"] == "base" and q["central"] == r["station"])
        assert 1 <= nb <= 2, (r, nb)
    assert int(r["cells"]) == int((cells.station == s).sum())
PYEOF
fi
run 0 stations c220.shp --station-field station --id-field cell_id --workload population,calls -o plan.geojson
run 0 stations c220.shp --station-field station --id-field cell_id --workload population,calls -o plan_shp.shp
check "stations -o .shp writes a .prj" test -s plan_shp.prj
if [ "$GP" = 1 ]; then
    check "stations GeoJSON/Shapefile: jurisdiction areas equal summed cell areas, kinds match CSV" gp - << 'PYEOF'
import csv, geopandas as g
cells = g.read_file("c220.shp")
plan = {r["station"]: r for r in csv.DictReader(open("plan.csv"))}
for f in ("plan.geojson", "plan_shp.shp"):
    d = g.read_file(f)
    assert str(d.crs.to_epsg()) == "4545", d.crs
    assert len(d) == len(plan)
    for _, r in d.iterrows():
        a = cells[cells.station == int(r["station"])].area.sum()
        assert abs(r.geometry.area - a) <= 1e-6 * a, (r["station"], r.geometry.area, a)
        assert r["kind"] == plan[str(r["station"])]["kind"]
PYEOF
fi
# a broken plan: a base whose central is a border station, the last station left out
BORDER=$(awk -F, '$2 == "border" { print $1; exit }' plan3.csv)
awk -F, -v B="$BORDER" 'BEGIN { OFS = "," } NR > 1 && $2 == "base" && !done { $3 = B; done = 1 } { print }' plan3.csv | sed '$d' > badplan.csv
run 65 stations c220.shp --station-field station --validate badplan.csv
check "stations --validate: every violation reported (>= 2 problems)" test "$(grep -c 'libgrid: stations: ' err.txt)" -ge 3
{ head -2 plan3.csv; echo "99,base,0"; } > unknown.csv
run 65 stations c220.shp --station-field station --validate unknown.csv
check "stations plan: unknown station on line 3" contains err.txt "unknown.csv: line 3: unknown station '99'"
{ head -3 plan3.csv; echo "$(sed -n 4p plan3.csv | cut -d, -f1),chief,"; } > badkind.csv
run 65 stations c220.shp --station-field station --validate badkind.csv
check "stations plan: bad kind on line 4" contains err.txt "badkind.csv: line 4: kind 'chief'"
run 64 stations c220.shp --station-field nope
check "stations: missing field named" contains err.txt "no field 'nope'"
run 64 stations c220.shp
run 64 stations c220.shp --station-field station --workload population --weights 1,2

# ------------------------------------------------------------------- zones
run 0 zones c220.shp --id-field cell_id --weight population --seed 3 -o zones.geojson --cells-out zcells.csv
check "zones: quality report on stderr" grep -q "^zones: .* zones, 220 cells assigned" err.txt
check "zones: feasible" contains err.txt "feasible"
run 0 zones c220.shp --id-field cell_id --validate zcells.csv
run 0 zones c220.shp --id-field cell_id --weight population --seed 3
check "zones: same seed, same plan (stdout = --cells-out)" cmp -s out.txt zcells.csv
run 0 zones county.lgsnap --cells-out zsnap.shp
if [ "$GP" = 1 ]; then
    check "zones: 6..8 cells, connected over shapely adjacency, every cell once; polygons" gp - << 'PYEOF'
import csv, geopandas as g
from collections import defaultdict
cells = g.read_file("c220.shp")
zone = {int(r["cell"]): int(r["zone"]) for r in csv.DictReader(open("zcells.csv"))}
assert sorted(zone) == sorted(cells.cell_id)
geom = dict(zip(cells.cell_id, cells.geometry))
ids = list(geom)
adj = defaultdict(set)
for a in ids:
    for j in cells.sindex.query(geom[a]):
        b = ids[j]
        if a != b and geom[a].boundary.intersection(geom[b].boundary).length > 1.0:
            adj[a].add(b)
members = defaultdict(list)
for c, z in zone.items():
    members[z].append(c)
for z, m in members.items():
    assert 6 <= len(m) <= 8, (z, len(m))
    seen, todo = {m[0]}, [m[0]]
    while todo:
        c = todo.pop()
        for d in adj[c]:
            if zone[d] == z and d not in seen:
                seen.add(d)
                todo.append(d)
    assert len(seen) == len(m), ("disconnected", z)
d = g.read_file("zones.geojson")
assert len(d) == len(members)
for _, r in d.iterrows():
    sel = cells[cells.cell_id.isin(members[int(r["group"])])]
    assert abs(r.geometry.area - sel.area.sum()) <= 1e-6 * sel.area.sum()
    assert abs(r["weight"] - sel.population.sum()) < 1e-6 and int(r["cells"]) == len(sel)
z = g.read_file("zsnap.shp")
assert "zone" in z.columns and z.zone.notna().all() and len(z) == 200
PYEOF
fi
# broken plans: a cell moved to another zone, an unknown cell, a bad zone value
awk -F, 'BEGIN { OFS = "," } NR == 2 { $2 = $2 + 1 } { print }' zcells.csv > zbad.csv
run 65 zones c220.shp --id-field cell_id --validate zbad.csv
check "zones --validate: violation reported" grep -Eq "zones: (too_small|too_large|disconnected)" err.txt
{ head -3 zcells.csv; echo "999999,1"; } > zunknown.csv
run 65 zones c220.shp --id-field cell_id --validate zunknown.csv
check "zones plan: unknown cell on line 4" contains err.txt "zunknown.csv: line 4: unknown cell '999999'"
{ head -2 zcells.csv; echo "$(sed -n 3p zcells.csv | cut -d, -f1),x7"; } > zbadval.csv
run 65 zones c220.shp --id-field cell_id --validate zbadval.csv
check "zones plan: bad zone value on line 3" contains err.txt "zbadval.csv: line 3: zone 'x7'"
printf 'cell\n1\n' > znozone.csv
run 65 zones c220.shp --id-field cell_id --validate znozone.csv
check "zones plan: missing column named" contains err.txt "no column 'zone'"
run 64 zones c220.shp --weight nope
check "zones: missing weight field named" contains err.txt "no field 'nope'"
run 64 zones c220.shp --min 9 --max 8
run 64 zones c220.shp -o zones.txt

# ----------------------------------------------------------------- nearest
read -r CMINX CMINY CMAXX CMAXY < <("$LIBGRID" info c220.shp | sed -n 's/^bounds: //p')
awk -v a="$CMINX" -v b="$CMINY" -v c="$CMAXX" -v d="$CMAXY" 'BEGIN { srand(7);
    print "id,x,y,status,caps,kind,station"
    split("available en_route busy available", st, " "); split("car foot motorbike", kd, " ")
    for (i = 0; i < 60; i++)
        printf "%d,%.3f,%.3f,%s,%s,%s,%d\n", i + 100, a + rand() * (c - a), b + rand() * (d - b),
            st[1 + i % 4], (i % 3 == 0 ? "traffic|public_security" : (i % 3 == 1 ? "public_security" : "traffic")),
            kd[1 + i % 3], i % 24 }' > units.csv
awk -v a="$CMINX" -v b="$CMINY" -v c="$CMAXX" -v d="$CMAXY" 'BEGIN { srand(8); print "id,x,y"
    for (i = 0; i < 40; i++) printf "inc%d,%.3f,%.3f\n", i, a - 2000 + rand() * (c - a + 4000), b + rand() * (d - b) }' > incidents.csv
run 0 nearest --units units.csv --incidents incidents.csv -k 3 --grid c220.shp --station-field station --status available --caps traffic -o near.csv
check "nearest: header" test "$(head -1 near.csv)" = "incident,rank,unit,distance_m,eta_s,cross_station,cross_county"
if [ "$GP" = 1 ]; then
    check "nearest: equals brute force (filter, order, distance, ETA, flags)" gp - << 'PYEOF'
import csv, math, geopandas as g
from shapely.ops import unary_union
from shapely.geometry import Point
cells = g.read_file("c220.shp")
def station_at(x, y):
    hit = cells[cells.contains(Point(x, y))]
    return int(hit.station.iloc[0]) if len(hit) else None
units = [u for u in csv.DictReader(open("units.csv"))
         if u["status"] == "available" and "traffic" in u["caps"].split("|")]
speed = {"car": 11.1, "foot": 1.4, "motorbike": 8.3}
got = list(csv.DictReader(open("near.csv")))
for inc in csv.DictReader(open("incidents.csv")):
    x, y = float(inc["x"]), float(inc["y"])
    best = sorted((math.hypot(float(u["x"]) - x, float(u["y"]) - y), int(u["id"]), u["kind"], u["station"], u["x"], u["y"]) for u in units)[:3]
    rows = [r for r in got if r["incident"] == inc["id"]]
    assert len(rows) == len(best), inc
    si = station_at(x, y)
    for r, (d, uid, kind, st, ux, uy) in zip(rows, best):
        assert int(r["unit"]) == uid and abs(float(r["distance_m"]) - d) < 1e-3, (r, d, uid)
        assert abs(float(r["eta_s"]) - d * 1.3 / speed[kind]) < 0.1, r
        assert r["cross_station"] == ("0" if si is not None and si == int(st) else "1"), (r, si, st)
        county = si is None or station_at(float(ux), float(uy)) is None
        assert r["cross_county"] == ("1" if county else "0"), r
PYEOF
fi
check "nearest: 3 rows per incident" test "$(tail -n +2 near.csv | wc -l)" -eq 120
check "nearest: some incident outside the county" grep -q ',1$' near.csv
run 0 nearest --units units.csv --incidents incidents.csv --max-dist 1 --kind foot
check "nearest: no match gives an empty row" grep -q '^inc0,,,,,,$' out.txt
printf 'id,x,y,status\n1,5,5,available\n2,6,6,sleeping\n' > badunits.csv
run 65 nearest --units badunits.csv --incidents incidents.csv
check "nearest: bad status on line 3" contains err.txt "badunits.csv: line 3: unit 2: bad status 'sleeping'"
run 64 nearest --units units.csv --incidents incidents.csv --caps flying
check "nearest: unknown capability named" contains err.txt "flying"
run 64 nearest --units units.csv --incidents incidents.csv --crs EPSG:4326
if command -v cs2cs > /dev/null; then
    tail -n +2 incidents.csv | awk -F, '{ print $3, $2 }' | cs2cs -f '%.12f' EPSG:4545 EPSG:4326 2> /dev/null |
        awk 'BEGIN { print "id,lat,lon" } { printf "inc%d,%s,%s\n", NR - 1, $1, $2 }' > inc_ll.csv
    tail -n +2 units.csv | awk -F, '{ print $3, $2 }' | cs2cs -f '%.12f' EPSG:4545 EPSG:4326 2> /dev/null |
        paste -d' ' - <(tail -n +2 units.csv) |
        awk 'BEGIN { print "lat,lon,id,status,caps,kind,station" } { split($4, f, ","); printf "%s,%s,%s,%s,%s,%s,%s\n", $1, $2, f[1], f[4], f[5], f[6], f[7] }' > units_ll.csv
    run 0 nearest --units units_ll.csv --incidents inc_ll.csv -k 3 --grid c220.shp --station-field station --status available --caps traffic --crs EPSG:4326 -o near_ll.csv
    check "nearest --crs EPSG:4326: same units as projected input" cmp -s <(cut -d, -f1-3 near.csv) <(cut -d, -f1-3 near_ll.csv)
fi

# ---------------------------------------------------------------- coverage
head -6 units.csv | cut -d, -f1-3 > fac.csv
run 0 coverage c220.shp --id-field cell_id --facilities fac.csv --radius 4000 --weight population --group station -o cov.csv
check "coverage: totals on stderr" contains err.txt "coverage: all cells: 220 cells"
run 0 coverage c220.shp --facilities fac.csv --minutes 5 --area --uncovered-out unc.geojson -o cov.shp
check "coverage: area report" contains err.txt "coverage: area:"
if [ "$GP" = 1 ]; then
    check "coverage: nearest, distance, count and uncovered area against shapely" gp - << 'PYEOF'
import csv, math, geopandas as g
from shapely.ops import unary_union
from shapely.geometry import Point
cells = g.read_file("c220.shp")
fac = [(r["id"], float(r["x"]), float(r["y"])) for r in csv.DictReader(open("fac.csv"))]
rows = {int(r["cell"]): r for r in csv.DictReader(open("cov.csv"))}
for _, c in cells.iterrows():
    p = c.geometry.centroid
    d = sorted((math.hypot(p.x - x, p.y - y), i) for i, (fid, x, y) in enumerate(fac))
    r = rows[int(c.cell_id)]
    assert abs(float(r["distance_m"]) - d[0][0]) < 1e-3, (r, d[0])
    assert r["nearest"] == fac[d[0][1]][0]
    assert int(r["count"]) == sum(1 for q in d if q[0] <= 4000)
s = g.read_file("cov.shp")
assert len(s) == 220 and "cov_count" in s.columns
u = g.read_file("unc.geojson")
rad = 5 * 60 * 11.1 / 1.3
covered = unary_union([Point(x, y).buffer(rad, 64) for _, x, y in fac])
region = unary_union(cells.geometry.values)
expect = region.difference(covered).area
assert abs(u.area.sum() - expect) <= 0.002 * region.area, (u.area.sum(), expect)
PYEOF
fi
run 64 coverage c220.shp --facilities fac.csv
check "coverage: needs a threshold" contains err.txt "--radius"

# -------------------------------------------------------------------- heat
awk -v a="$CMINX" -v b="$CMINY" -v c="$CMAXX" -v d="$CMAXY" 'BEGIN { srand(9); print "x,y,t,w"
    for (i = 0; i < 3000; i++) printf "%.3f,%.3f,%d,%d\n", a + rand() * (c - a), b + rand() * (d - b), i, 1 + i % 3 }' > hpts.csv
run 0 heat c220.shp --id-field cell_id --incidents hpts.csv -o heat.csv
run 0 heat c220.shp --id-field cell_id --incidents hpts.csv --weight-col w --time-col t --from 1000 --to 2000 --top 5 -o heatw.geojson
check "heat --top: 5 ranked rows" test "$(tail -n +2 out.txt | wc -l)" -eq 5
cp out.txt heattop.csv
if [ "$GP" = 1 ]; then
    check "heat: counts and windowed weights equal shapely point-in-polygon" gp - << 'PYEOF'
import csv, geopandas as g, pandas as pd
cells = g.read_file("c220.shp")
pts = pd.read_csv("hpts.csv")
gpts = g.GeoDataFrame(pts, geometry=g.points_from_xy(pts.x, pts.y), crs=cells.crs)
j = g.sjoin(gpts, cells[["cell_id", "geometry"]], predicate="within")
cnt = j.groupby("cell_id").size()
got = {int(r["cell"]): float(r["heat"]) for r in csv.DictReader(open("heat.csv"))}
assert sum(got.values()) == len(j)
bad = [c for c in got if got[c] != cnt.get(c, 0)]
assert len(bad) <= 2, bad  # points exactly on edges may go either way
w = j[(j.t >= 1000) & (j.t < 2000)].groupby("cell_id").w.sum()
d = g.read_file("heatw.geojson")
assert abs(d.heat.sum() - w.sum()) < 1e-9
top = list(csv.DictReader(open("heattop.csv")))
assert float(top[0]["heat"]) == max(d.heat)
PYEOF
fi
printf 'x,y\n1,2\n3,oops\n' > hbad.csv
run 65 heat c220.shp --incidents hbad.csv
check "heat: bad number on line 3" contains err.txt "hbad.csv: line 3: y is not a number"

# ---------------------------------------------------------------- progress
run 0 locate county.shp -i many.csv -o many_out2.csv
check "locate: quiet when stderr is not a terminal" empty err.txt
if command -v script > /dev/null; then
    script -qec "$LIBGRID locate county.shp --id-field cell_id -i many.csv -o tty_out.csv" /dev/null > tty.txt 2>&1
    check "locate: row counter on a terminal" grep -q "locate: 65536 rows" tty.txt
    check "locate: same output on a terminal" cmp -s tty_out.csv many_out.csv
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
