#!/bin/sh
# Run every test: a normal build (C, command line, Python), then the C and
# command-line suites again under AddressSanitizer + UndefinedBehaviorSanitizer,
# then the threaded tests under ThreadSanitizer, then every libFuzzer target for
# 30 s (clang; two at a time on a 2-core machine).
set -eu
cd "$(dirname "$0")/.."
# Build for a Python that has numpy. Debian's interpreter is /usr/bin/python3; a
# private python3 earlier on PATH (pyenv) usually lacks the Debian packages.
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import numpy' 2>/dev/null; then PY=$(command -v "$p"); break; fi
  done
fi
run() { echo "+ $*"; "$@"; }
setup() { # dir, options...
  dir=$1; shift
  if [ -d "$dir" ]; then run meson setup --reconfigure "$dir" "$@"; else run meson setup "$dir" "$@"; fi
}

setup build-test ${PY:+-Dpython_interpreter="$PY"}
run meson compile -C build-test
run meson test -C build-test --print-errorlogs --num-processes 2
run scripts/check-install.sh build-test

setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dpython=disabled -Dbench=false
run meson compile -C build-asan
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  run meson test -C build-asan --print-errorlogs --num-processes 2

# The tests that run threads, again under ThreadSanitizer.
setup build-tsan -Db_sanitize=thread -Db_lundef=false -Dpython=disabled -Dbench=false -Dtools=false
run meson compile -C build-tsan
TSAN_OPTIONS=halt_on_error=1 run meson test -C build-tsan --print-errorlogs concurrency units rtree locate

# Every libFuzzer target (ASan + UBSan) for 30 s from the committed seeds, two at a
# time: about 90 s plus the build. scripts/fuzz.sh creates build-fuzz when missing.
run env JOBS=${FUZZ_JOBS:-2} scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
