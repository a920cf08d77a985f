"""locate() against shapely/GEOS covers, scalar/array handling, CRS transforms."""

import threading

import numpy as np
import pytest

import libgrid
from conftest import cell_vertices, check_against_covers, covering_sets, shapely_cells

shapely = pytest.importorskip("shapely")
pytest.importorskip("shapely.geometry")


def random_points(rng, bounds, n, margin=0.05):
    minx, miny, maxx, maxy = bounds
    w, h = maxx - minx, maxy - miny
    x = rng.uniform(minx - margin * w, maxx + margin * w, n)
    y = rng.uniform(miny - margin * h, maxy + margin * h, n)
    return x, y


def test_synth_random_points_match_covers(synth_grid, rng):
    cells = shapely_cells(synth_grid)
    x, y = random_points(rng, synth_grid.bounds, 20000)
    got = synth_grid.locate(x, y)
    assert got.dtype == np.int64 and got.shape == x.shape
    sets = covering_sets(cells, x, y)
    check_against_covers(got, sets)
    # the margin puts some points outside and most inside
    assert (got == -1).any() and (got >= 0).sum() > len(x) // 2


def test_synth_vertices_belong_to_a_covering_cell(synth_grid, rng):
    """Shared vertices and edge points: ours must be one of the cells covering them."""
    cells = shapely_cells(synth_grid)
    rows = rng.choice(len(synth_grid), 40, replace=False)
    coords = np.concatenate([cell_vertices(cells[r]) for r in rows])
    x, y = coords[:, 0], coords[:, 1]
    got = synth_grid.locate(x, y)
    sets = covering_sets(cells, x, y)
    assert all(sets)
    check_against_covers(got, sets)
    assert (got >= 0).all()


def test_synth_stations_lie_in_their_cells():
    grid = libgrid.Grid.synth(300, seed=3, stations=20)
    x, y = libgrid.synth_stations(300, seed=3, stations=20)
    assert x.shape == y.shape == (20,)
    rows = grid.locate(x, y)
    assert (rows >= 0).all()
    np.testing.assert_array_equal(grid["station"][rows], np.arange(20))


def test_natural_earth_random_points_match_covers(ne_path, rng):
    grid = libgrid.Grid.from_file(ne_path)
    cells = shapely_cells(grid)
    x = rng.uniform(-180, 180, 20000)
    y = rng.uniform(-90, 90, 20000)
    got = grid.locate(x, y)
    check_against_covers(got, covering_sets(cells, x, y))
    assert (got >= 0).sum() > 2000  # land is about a quarter of the globe


def test_natural_earth_matches_geopandas_geometry(ne_path, ne_gdf, rng):
    """Same as above but against the geometries geopandas reads itself."""
    grid = libgrid.Grid.from_file(ne_path)
    x = rng.uniform(-180, 180, 5000)
    y = rng.uniform(-90, 90, 5000)
    got = grid.locate(x, y)
    check_against_covers(got, covering_sets(list(ne_gdf.geometry), x, y))


def test_scalars_give_python_int(synth_grid):
    x, y = libgrid.synth_stations(400, seed=7)
    r = synth_grid.locate(float(x[0]), float(y[0]))
    assert isinstance(r, int) and r == synth_grid.locate(x[:1], y[:1])[0]
    assert isinstance(synth_grid.locate(np.float64(x[0]), np.float64(y[0])), int)
    assert synth_grid.locate(0.0, 0.0) == -1


def test_shapes_and_dtypes(synth_grid):
    x, y = libgrid.synth_stations(400, seed=7)
    ref = synth_grid.locate(x, y)
    np.testing.assert_array_equal(synth_grid.locate(list(x), list(y)), ref)
    got2d = synth_grid.locate(x[:6].reshape(2, 3), y[:6].reshape(2, 3))
    assert got2d.shape == (2, 3)
    np.testing.assert_array_equal(got2d.ravel(), ref[:6])
    # non-contiguous and float32 input
    np.testing.assert_array_equal(synth_grid.locate(x[::2], y[::2]), ref[::2])
    got32 = synth_grid.locate(np.round(x).astype(np.int64), np.round(y).astype(np.int64))
    assert got32.shape == x.shape
    assert synth_grid.locate([], []).shape == (0,)


def test_shape_mismatch_is_argument_error(synth_grid):
    with pytest.raises(libgrid.ArgumentError, match="same shape") as ei:
        synth_grid.locate([1.0, 2.0], [1.0, 2.0, 3.0])
    assert isinstance(ei.value, ValueError)
    with pytest.raises(libgrid.ArgumentError):
        synth_grid.locate(np.zeros((2, 3)), np.zeros((3, 2)))


def test_non_finite_points_give_minus_one(synth_grid):
    x, y = libgrid.synth_stations(400, seed=7)
    bad = np.array([np.nan, np.inf, -np.inf, x[0], np.nan])
    yy = np.array([y[0], y[0], y[0], np.nan, np.inf])
    np.testing.assert_array_equal(synth_grid.locate(bad, yy), -1)
    assert synth_grid.locate(float("nan"), float("nan")) == -1


def test_crs_transform_matches_pyproj(synth_grid, rng):
    """EPSG:4326 points transformed by libgrid vs the same points located in the grid's CRS."""
    pyproj = pytest.importorskip("pyproj")
    x, y = random_points(rng, synth_grid.bounds, 5000, margin=0.0)
    tr = pyproj.Transformer.from_crs(synth_grid.crs, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(x, y)
    ref = synth_grid.locate(x, y)
    got = synth_grid.locate(lon, lat, crs="EPSG:4326")
    diff = np.nonzero(got != ref)[0]
    # a difference is only allowed within a millimetre of a cell boundary (round trip error)
    cells = shapely_cells(synth_grid)
    for i in diff:
        p = shapely.geometry.Point(x[i], y[i])
        d = min(cells[r].boundary.distance(p) for r in {int(got[i]), int(ref[i])} if r >= 0)
        assert d < 1e-3, "point %d: ours %d, expected %d, %.3g m from a boundary" % (
            i, got[i], ref[i], d)
    assert len(diff) < 5
    # the grid's own CRS: no transform, same answers
    np.testing.assert_array_equal(synth_grid.locate(x, y, crs=synth_grid.crs), ref)


def test_crs_scalar(synth_grid):
    pyproj = pytest.importorskip("pyproj")
    x, y = libgrid.synth_stations(400, seed=7)
    lon, lat = pyproj.Transformer.from_crs(synth_grid.crs, "EPSG:4326", always_xy=True).transform(
        x[0], y[0])
    assert synth_grid.locate(lon, lat, crs="EPSG:4326") == synth_grid.locate(x[0], y[0])


def test_locate_from_threads(synth_grid, rng):
    x, y = random_points(rng, synth_grid.bounds, 200000)
    ref = synth_grid.locate(x, y)
    results = [None] * 4

    def work(k):
        results[k] = synth_grid.locate(x, y)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, ref)


def test_big_batch_crosses_chunks(synth_grid, rng):
    """More points than one GIL-free chunk (1 << 20): every chunk is located."""
    n = (1 << 20) + 1000
    x, y = random_points(rng, synth_grid.bounds, 1000)
    xs, ys = np.resize(x, n), np.resize(y, n)
    got = synth_grid.locate(xs, ys)
    np.testing.assert_array_equal(got, np.resize(synth_grid.locate(x, y), n))
