#!/bin/sh
# Regenerate the bundled sample county (examples/data) with the libgrid command.
# Deterministic: the files come out byte-identical on every run and platform.
#
#   scripts/make-sample-county.sh [OUT_DIR]      (default examples/data)
#   LIBGRID=path/to/libgrid scripts/make-sample-county.sh
#
# What is made (docs/DEMO.md describes each file):
#   cells.shp     220 police grid cells (lg_synth_county, seed 20240315, 2200 m cells,
#                 25 stations): fields cell_id, station, population, calls; .prj EPSG:4545
#   town.shp      the 48 town-centre cells (same fields)
#   stations.csv  id,name,x,y (lg_synth_stations; pinyin names)
#   units.csv     id,x,y,status,caps,kind,station
#   incidents.csv id,x,y,time,type (a day: 15 March 2024, Unix seconds)
#   zones.csv     cell,zone: the town's service-station zones (libgrid zones)
#   zone_sites.csv  one row per zone with its service-station site
#   plan.csv      station classes (libgrid stations)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
LIBGRID=${LIBGRID:-$here/build/tools/libgrid}
OUT=${1:-$here/examples/data}
if [ ! -x "$LIBGRID" ]; then
  echo "make-sample-county: $LIBGRID not found: build first (meson setup build && meson compile -C build)" >&2
  exit 66
fi
mkdir -p "$OUT"
"$LIBGRID" demo --make-data "$OUT"
"$LIBGRID" zones "$OUT/town.shp" --id-field cell_id --weight calls --seed 1 --min 6 --max 8 \
  --cells-out "$OUT/zones.csv" -o "$OUT/zone_sites.csv" 2>/dev/null
"$LIBGRID" stations "$OUT/cells.shp" --station-field station --id-field cell_id \
  --workload population,calls -o "$OUT/plan.csv" 2>/dev/null
echo "sample county written to $OUT"
