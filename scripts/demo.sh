#!/bin/sh
# The README's first command: on a fresh Debian/Ubuntu machine, install the Debian
# packages, build libgrid and run the demo on the bundled sample county.
#
#   scripts/demo.sh            (from anywhere inside a clone)
#
# Builds in ./build (reused when it exists); the map goes to ./libgrid-demo/.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build
meson compile -C build
exec build/tools/libgrid demo --out libgrid-demo
