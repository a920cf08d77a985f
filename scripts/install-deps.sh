#!/bin/sh
# Install the Debian/Ubuntu packages libgrid needs to build, test and benchmark.
set -eu
PKGS="build-essential meson ninja-build pkg-config
  libgeos-dev libproj-dev proj-data libshp-dev libjson-c-dev libxxhash-dev libcmocka-dev
  python3 python3-dev python3-numpy python3-pytest python3-shapely python3-geopandas python3-dask python3-distributed
  python3-mesonpy python3-pip python3-venv unzip clang-format
  g++ libboost-dev libnanoflann-dev libspatialindex-dev python3-matplotlib
  chromium clang"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi

# The libFuzzer and sanitizer runtimes for clang (scripts/fuzz.sh): a package of their
# own on Debian 12 (libclang-rt-14-dev, through libclang-rt-dev), only recommended by
# clang's packages; part of libclang-common-14-dev, which clang needs, on Ubuntu 22.04.
if ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 &&
   ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-aarch64.a >/dev/null 2>&1; then
  echo "installing: libclang-rt-dev"
  [ -n "$missing" ] || $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends libclang-rt-dev
fi
