#!/bin/bash
# Exported symbols of the shared library must equal the version map, and every
# function the header declares must be in the map.
set -eu
lib=$1 map=$2 header=$3
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sed 's/@.*//' | grep -v '^LIBGRID' | sort -u)
mapped=$(sed -n 's/^ *\(lg_[a-z0-9_]*\);.*/\1/p' "$map" | sort -u)
declared=$(grep -oE 'lg_[a-z0-9_]+\(' "$header" | tr -d '(' | sort -u)
fail=0
if [ "$exported" != "$mapped" ]; then
  echo "exported symbols differ from $map:"; diff <(echo "$exported") <(echo "$mapped") || true; fail=1
fi
missing=$(comm -23 <(echo "$declared") <(echo "$mapped"))
if [ -n "$missing" ]; then echo "declared in the header but not exported: $missing"; fail=1; fi
[ $fail -eq 0 ] && echo "1 passed, 0 failed"
exit $fail
