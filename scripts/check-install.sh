#!/bin/sh
# Install a build into a staging directory and build an example against the
# installed header and pkg-config file, then run it.
set -eu
build=${1:-build-test}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
meson install -C "$build" --destdir "$stage" >/dev/null
prefix=$(meson introspect "$build" --buildoptions | /usr/bin/python3 -c \
  'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
libdir=$(meson introspect "$build" --buildoptions | /usr/bin/python3 -c \
  'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"))')
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac
pcdir=$stage$libdir/pkgconfig
test -f "$pcdir/libgrid.pc"
test -f "$stage$prefix/include/libgrid.h"
test -x "$stage$prefix/bin/libgrid"
# the soname is versioned
ls "$stage$libdir"/libgrid.so.0 >/dev/null
cflags=$(PKG_CONFIG_SYSROOT_DIR="$stage" PKG_CONFIG_PATH="$pcdir" pkg-config --cflags libgrid)
libs=$(PKG_CONFIG_SYSROOT_DIR="$stage" PKG_CONFIG_PATH="$pcdir" pkg-config --libs libgrid)
cc -std=c11 -Wall -Wextra -Werror examples/locate_points.c $cflags $libs -o "$stage/locate_points"
LD_LIBRARY_PATH="$stage$libdir" "$stage/locate_points" --synth | grep -q "220 cells"
echo "install check: 1 passed, 0 failed"

# As a meson subproject: a consumer project whose subprojects/libgrid is this tree.
sub=$(mktemp -d)
trap 'rm -rf "$stage" "$sub"' EXIT
mkdir -p "$sub/subprojects"
ln -s "$(pwd)" "$sub/subprojects/libgrid"
cp examples/locate_points.c "$sub/"
cat > "$sub/meson.build" <<'MESON'
project('consumer', 'c', default_options : ['c_std=c11'])
grid = dependency('libgrid', fallback : ['libgrid', 'libgrid_dep'],
  default_options : ['tests=false', 'tools=false', 'bench=false', 'python=disabled'])
executable('locate_points', 'locate_points.c', dependencies : grid)
MESON
meson setup "$sub/build" "$sub" --force-fallback-for=libgrid >/dev/null
meson compile -C "$sub/build" >/dev/null
"$sub/build/locate_points" --synth | grep -q "220 cells"
echo "subproject check: 1 passed, 0 failed"
