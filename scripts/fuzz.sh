#!/bin/sh
# Build the libFuzzer targets (clang, ASan + UBSan) and run each one for SECONDS
# (default 45) from the committed seed corpus. Any crash, leak, sanitizer report or
# failed check makes the script exit non-zero and leaves the input that triggered it
# as BUILD/fuzz-artifacts/<target>-crash-* (the log beside it: <target>.log).
# JOBS targets run at once (default 1), each on one core.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (targets: shp geojson wkt snapshot csv query)
#   BUILD=build-fuzz CC=clang JOBS=2 scripts/fuzz.sh 60
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
jobs=${JOBS:-1}
case "$jobs" in '' | *[!0-9]* | 0) jobs=1 ;; esac

# one target: its verdict in $art/$t.status, a summary line in $art/$t.summary
fuzz_one() {
    t=$1
    # work on a copy: the committed corpus stays small; new finds stay in the build dir
    work="$build/fuzz-corpus/$t"
    mkdir -p "$work"
    cp tests/fuzz/corpus/$t/* "$work/"
    if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$art/$t-" "$work" >"$art/$t.log" 2>&1; then
        echo ok >"$art/$t.status"
        { printf 'fuzz_%s: %s s, ' "$t" "$secs"
          grep -E '^stat::number_of_executed_units|^Done' "$art/$t.log" | tr '\n' ' '
          echo; } >"$art/$t.summary"
    else
        echo failed >"$art/$t.status"
        echo "fuzz_$t FAILED ($art/$t.log)" >"$art/$t.summary"
    fi
}

# deal the targets round-robin into $jobs lanes; each lane runs its targets in turn
lanes=""
i=0
for t in $targets; do
    rm -f "$art/$t.status" "$art/$t.summary"
    lane=$((i % jobs))
    eval "lane_$lane=\"\${lane_$lane:-} $t\""
    i=$((i + 1))
done
echo "fuzzing $i targets for $secs s each, $jobs at a time"
pids=""
l=0
while [ $l -lt "$jobs" ] && [ $l -lt $i ]; do
    eval "lt=\$lane_$l"
    ( for t in $lt; do fuzz_one "$t"; done ) &
    pids="$pids $!"
    l=$((l + 1))
done
for p in $pids; do wait "$p" || true; done

status=0
for t in $targets; do
    cat "$art/$t.summary" 2>/dev/null || echo "fuzz_$t: no result"
    if [ "$(cat "$art/$t.status" 2>/dev/null)" != ok ]; then
        status=1
        echo "last lines of $art/$t.log:"
        tail -n 40 "$art/$t.log" 2>/dev/null || true
    fi
done
exit $status
