#!/bin/bash
# The shared library must export exactly the functions of the version map, which
# scripts/gen-map.py writes from the LG_API declarations of the public headers:
# a declared function that is not defined, or an internal one that leaks, fails.
set -eu
lib=$1 map=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRW]$/ {print $3}' | sed 's/@.*//' | grep -v '^LIBGRID' | sort -u)
mapped=$(sed -n 's/^ *\(lg_[a-z0-9_]*\);.*/\1/p' "$map" | sort -u)
if [ "$exported" != "$mapped" ]; then
  echo "exported symbols differ from $map (< exported, > declared):"
  diff <(echo "$exported") <(echo "$mapped") || true
  echo "0 passed, 1 failed"
  exit 1
fi
echo "$(echo "$exported" | wc -l) symbols exported, all declared"
echo "1 passed, 0 failed"
