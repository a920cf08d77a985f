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
for cmd in info locate synth; do
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

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
