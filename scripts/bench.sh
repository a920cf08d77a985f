#!/bin/sh
# Run every benchmark from fixed seeds and write the tables to bench/out/:
# locate.md/.csv/.png, units.md, zones.md, coverage.md, plan.md, binding.md.
# Usage: scripts/bench.sh [BUILD_DIR] [--quick]
# --quick: smaller layers (no million-cell county), for a first look.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
quick=${2:-}
out=bench/out
mkdir -p "$out"
[ -d "$build" ] || meson setup "$build"
meson compile -C "$build"
PY=$(command -v /usr/bin/python3 || command -v python3)
{
  echo "Machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "Date: $(date -u +%Y-%m-%d), libgrid $(git describe --always --dirty 2>/dev/null || echo unknown)"
  echo
} > "$out/machine.md"
sizes=1000,10000,100000,1000000
[ "$quick" = "--quick" ] && sizes=1000,10000,100000
echo "== locate" >&2
"$build/bench/bench_locate" --real --sizes "$sizes" --points 2000000 --runs 5 \
  --csv "$out/locate.csv" > "$out/locate.md"
"$PY" bench/plot_locate.py "$out/locate.csv" "$out/locate.png" || echo "no plot (matplotlib?)" >&2
echo "== units" >&2
"$build/bench/bench_units" --runs 5 > "$out/units.md"
echo "== zones" >&2
"$build/bench/bench_zones" --sizes 1000,10000,100000 --runs 3 --library-adjacency > "$out/zones.md"
echo "== coverage" >&2
"$build/bench/bench_coverage" --cells 10000 --facilities 200 --runs 5 > "$out/coverage.md"
echo "== plan" >&2
"$build/bench/bench_plan" > "$out/plan.md"
if [ -f "$build/bindings/python/libgrid/__init__.py" ]; then
  echo "== binding" >&2
  PYTHONPATH="$build/bindings/python" "$PY" bench/bench_binding.py \
    --c-bench "$build/bench/bench_locate_batch" > "$out/binding.md"
fi
cat "$out/machine.md" "$out/locate.md"
