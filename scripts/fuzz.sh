#!/bin/sh
# Build the libFuzzer targets (clang, ASan + UBSan) and run each one for SECONDS
# (default 45) from the committed seed corpus. Any crash, leak, sanitizer report or
# failed check stops the script with a non-zero status and leaves the input that
# triggered it as BUILD/fuzz-artifacts/<target>-crash-*.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (targets: shp geojson wkt snapshot csv query)
#   BUILD=build-fuzz CC=clang scripts/fuzz.sh 60
set -eu
cd "$(dirname "$0")/.."
secs=${1:-45}
[ $# -gt 0 ] && shift
targets=${*:-"shp geojson wkt snapshot csv query"}
build=${BUILD:-build-fuzz}
cc=${CC:-clang}
case "$cc" in *clang*) ;; *) cc=clang ;; esac
if [ ! -f "$build/build.ninja" ]; then
    CC=$cc meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false \
        -Dpython=disabled -Dbench=false -Dfuzz=true >/dev/null
fi
exes=""
for t in $targets; do exes="$exes tests/fuzz/fuzz_$t"; done
ninja -C "$build" $exes >"$build/fuzz-build.log" 2>&1 || { cat "$build/fuzz-build.log"; exit 1; }
art="$build/fuzz-artifacts"
mkdir -p "$art"
status=0
for t in $targets; do
    # work on a copy: the committed corpus stays small; new finds stay in the build dir
    work="$build/fuzz-corpus/$t"
    mkdir -p "$work"
    cp tests/fuzz/corpus/$t/* "$work/"
    echo "fuzz_$t: $secs s"
    if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$art/$t-" "$work" >"$art/$t.log" 2>&1; then
        echo "fuzz_$t FAILED; last lines of $art/$t.log:"
        tail -n 40 "$art/$t.log"
        status=1
    else
        grep -E '^stat::number_of_executed_units|^Done' "$art/$t.log" | tr '\n' ' '
        echo
    fi
done
exit $status
