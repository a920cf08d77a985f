#!/bin/sh
# Install the Debian/Ubuntu packages libgrid needs to build, test and benchmark.
set -eu
PKGS="build-essential meson ninja-build pkg-config
  libgeos-dev libproj-dev proj-data libshp-dev libjson-c-dev libxxhash-dev libcmocka-dev
  python3 python3-dev python3-numpy python3-pytest python3-shapely python3-geopandas python3-dask python3-distributed
  python3-mesonpy python3-pip python3-venv unzip clang-format
  g++ libboost-dev libnanoflann-dev libspatialindex-dev python3-matplotlib
  chromium"
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
