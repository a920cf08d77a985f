"""Shared fixtures of the libgrid Python tests (run by `meson test --suite python`)."""

import glob
import os
import sys

# `python -m pytest` puts the working directory first on sys.path. meson runs the tests
# from the build root, where the C library's libgrid.so would shadow the libgrid package
# ("dynamic module does not define module export function (PyInit_libgrid)").
if glob.glob(os.path.join(os.getcwd(), "libgrid*.so*")):
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.getcwd()]

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import libgrid  # noqa: E402

NATURAL_EARTH = os.environ.get(
    "LG_NATURAL_EARTH",
    "/usr/lib/python3/dist-packages/geopandas/datasets/naturalearth_lowres/naturalearth_lowres.shp",
)


@pytest.fixture(scope="session")
def synth_grid():
    return libgrid.Grid.synth(400, seed=7)


@pytest.fixture(scope="session")
def ne_path():
    if not os.path.exists(NATURAL_EARTH):
        pytest.skip("Natural Earth countries not found at " + NATURAL_EARTH)
    return NATURAL_EARTH


@pytest.fixture(scope="session")
def ne_gdf(ne_path):
    gpd = pytest.importorskip("geopandas")
    return gpd.read_file(ne_path)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def shapely_cells(grid):
    """The grid's cells as shapely geometries, read back from its WKB (shapely 1.8 or 2)."""
    wkb = pytest.importorskip("shapely.wkb")
    return [wkb.loads(grid.wkb(i)) for i in range(len(grid))]


def covering_sets(cells, x, y):
    """For each point, the set of cells that GEOS says cover it (box filter, then a
    prepared covers test on the candidates)."""
    prepared = pytest.importorskip("shapely.prepared")
    geometry = pytest.importorskip("shapely.geometry")
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    sets = [set() for _ in range(len(x))]
    for c, cell in enumerate(cells):
        if cell.is_empty:
            continue
        minx, miny, maxx, maxy = cell.bounds
        cand = np.nonzero((x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy))[0]
        if len(cand) == 0:
            continue
        prep = prepared.prep(cell)
        for i in cand:
            if prep.covers(geometry.Point(x[i], y[i])):
                sets[i].add(c)
    return sets


def cell_vertices(cell):
    """All ring vertices of a Polygon/MultiPolygon as an (n, 2) array."""
    polys = getattr(cell, "geoms", [cell])
    out = []
    for p in polys:
        out.append(np.asarray(p.exterior.coords))
        out.extend(np.asarray(r.coords) for r in p.interiors)
    return np.concatenate(out)


def check_against_covers(got, sets):
    """Where exactly one cell covers a point the answers must be equal; where several
    do, ours must be one of them; where none does, ours must be -1."""
    bad = []
    for i, (g, s) in enumerate(zip(got, sets)):
        if (not s and g != -1) or (s and int(g) not in s):
            bad.append((i, int(g), sorted(s)))
    assert not bad, "disagreements with GEOS covers (point, ours, covering): %r" % bad[:10]
