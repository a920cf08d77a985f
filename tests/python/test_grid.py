"""Grid loading, attributes, ids, validity problems, WKB and writing, against geopandas."""

import json
import os

import numpy as np
import pytest

import libgrid
from conftest import shapely_cells

shapely = pytest.importorskip("shapely")
geometry = pytest.importorskip("shapely.geometry")
shapely_ops = pytest.importorskip("shapely.ops")
shapely_wkb = pytest.importorskip("shapely.wkb")


def assert_column_equal(got, want, name):
    if want.dtype.kind in "iu":
        assert got.dtype == np.int64, name
        np.testing.assert_array_equal(got, want.to_numpy(), err_msg=name)
    elif want.dtype.kind == "f":
        np.testing.assert_allclose(np.asarray(got, dtype=float), want.to_numpy(), rtol=0,
                                   atol=0, equal_nan=True, err_msg=name)
    else:
        assert got.dtype == object, name
        assert list(got) == [None if v is None else str(v) for v in want], name


def test_natural_earth_fields_and_attributes(ne_path, ne_gdf):
    grid = libgrid.Grid.from_file(ne_path)
    assert len(grid) == len(ne_gdf)
    cols = [c for c in ne_gdf.columns if c != "geometry"]
    assert grid.fields == cols
    kinds = {"int": "iu", "real": "f", "text": "O"}
    for name in cols:
        assert ne_gdf[name].dtype.kind in kinds[grid.field_types[name]], name
        assert_column_equal(grid[name], ne_gdf[name], name)
    assert "name" in grid and "nope" not in grid
    # no id field: ids are row numbers
    assert grid.id_field is None
    np.testing.assert_array_equal(grid.ids, np.arange(len(grid)))
    assert grid.find_id(5) == 5 and grid.find_id(len(grid)) == -1


def test_natural_earth_bounds_crs_and_geometry(ne_path, ne_gdf):
    grid = libgrid.Grid.from_file(ne_path)
    np.testing.assert_allclose(grid.bounds, ne_gdf.total_bounds, rtol=0, atol=1e-9)
    assert grid.crs is not None and "WGS" in grid.crs.upper() or "4326" in grid.crs
    cells = shapely_cells(grid)
    for i in range(len(grid)):
        want = ne_gdf.geometry.iloc[i]
        sym = cells[i].symmetric_difference(want).area
        assert sym <= 1e-9 * max(want.area, 1e-12), "row %d differs" % i
        np.testing.assert_allclose(grid.cell_bounds(i), want.bounds, atol=1e-9)


def test_text_ids(ne_path, ne_gdf):
    grid = libgrid.Grid.from_file(ne_path, id_field="name")
    assert grid.id_field == "name"
    assert list(grid.ids) == list(ne_gdf["name"])
    for i in (0, 17, len(grid) - 1):
        assert grid.find_id(ne_gdf["name"].iloc[i]) == i
    assert grid.find_id("Atlantis") == -1
    assert grid.find_id(3) == -1  # an int is no text id
    grid2 = libgrid.Grid.from_file(ne_path, id_field="iso_a3")
    assert grid2.find_id("FRA") == ne_gdf.index[ne_gdf.iso_a3 == "FRA"][0]


def test_int_ids(ne_path, ne_gdf):
    grid = libgrid.Grid.from_file(ne_path, id_field="gdp_md_est")
    np.testing.assert_array_equal(grid.ids, ne_gdf["gdp_md_est"].to_numpy())
    v = int(ne_gdf["gdp_md_est"].iloc[10])
    first = int(np.nonzero(ne_gdf["gdp_md_est"].to_numpy() == v)[0][0])
    assert grid.find_id(v) == first
    assert grid.find_id(np.int64(v)) == first


def test_synth_grid_basics(synth_grid):
    assert len(synth_grid) == 400
    assert synth_grid.fields == ["cell_id", "station", "population", "calls"]
    assert set(synth_grid.field_types.values()) == {"int"}
    assert synth_grid.crs is not None and "4545" in synth_grid.crs
    cells = shapely_cells(synth_grid)
    assert all(c.is_valid for c in cells)
    # cells tile the county: areas add up to the union's area
    union = shapely_ops.unary_union(cells)
    assert abs(sum(c.area for c in cells) - union.area) < 1e-6 * union.area
    np.testing.assert_allclose(synth_grid.bounds, union.bounds, rtol=0, atol=1e-6)
    assert synth_grid.problems == []
    assert "400 cells" in repr(synth_grid)


def test_synth_is_deterministic():
    a = libgrid.Grid.synth(100, seed=42)
    b = libgrid.Grid.synth(100, seed=42)
    c = libgrid.Grid.synth(100, seed=43)
    assert [a.wkb(i) for i in range(100)] == [b.wkb(i) for i in range(100)]
    assert [a.wkb(i) for i in range(100)] != [c.wkb(i) for i in range(100)]
    xa, ya = libgrid.synth_stations(100, seed=42)
    xb, yb = libgrid.synth_stations(100, seed=42)
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(ya, yb)
    assert len(xa) >= 1


def test_wkb_rows(synth_grid):
    assert synth_grid.wkb(-1) == synth_grid.wkb(len(synth_grid) - 1)
    with pytest.raises(IndexError):
        synth_grid.wkb(len(synth_grid))
    g = shapely_wkb.loads(synth_grid.wkb(0))
    assert g.geom_type in ("Polygon", "MultiPolygon")


@pytest.mark.parametrize("ext", [".shp", ".geojson"])
def test_to_file_round_trip(synth_grid, tmp_path, ext):
    gpd = pytest.importorskip("geopandas")
    path = tmp_path / ("county" + ext)
    synth_grid.to_file(path)
    back = libgrid.Grid.from_file(path, id_field="cell_id", crs="EPSG:4545" if ext != ".shp" else None)
    assert len(back) == len(synth_grid)
    assert back.fields == synth_grid.fields
    for f in synth_grid.fields:
        np.testing.assert_array_equal(back[f], synth_grid[f])
    np.testing.assert_array_equal(back.ids, synth_grid["cell_id"])
    # geopandas reads what we wrote
    gdf = gpd.read_file(path)
    assert len(gdf) == len(synth_grid)
    for f in synth_grid.fields:
        np.testing.assert_array_equal(gdf[f].to_numpy(), synth_grid[f])
    cells = shapely_cells(synth_grid)
    assert all(a.equals(b) for a, b in zip(gdf.geometry, cells))
    rng = np.random.default_rng(1)
    minx, miny, maxx, maxy = synth_grid.bounds
    x, y = rng.uniform(minx, maxx, 5000), rng.uniform(miny, maxy, 5000)
    np.testing.assert_array_equal(back.locate(x, y), synth_grid.locate(x, y))


def test_to_file_unknown_extension(synth_grid, tmp_path):
    with pytest.raises(libgrid.ArgumentError, match="county.txt"):
        synth_grid.to_file(tmp_path / "county.txt")


def write_geojson(path, features):
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": geometry.mapping(geom)}
        for props, geom in features]}
    path.write_text(json.dumps(fc))


def test_problems_and_nulls(tmp_path):
    """Duplicate ids, null ids, invalid cells and null attributes, checked with pandas/GEOS."""
    box = geometry.box
    bowtie = geometry.Polygon([(10, 0), (11, 1), (11, 0), (10, 1), (10, 0)])
    feats = [
        ({"gid": 1, "name": "a", "w": 1.5}, box(0, 0, 1, 1)),
        ({"gid": 2, "name": None, "w": None}, box(1, 0, 2, 1)),
        ({"gid": 1, "name": "c", "w": 2.5}, box(2, 0, 3, 1)),
        ({"gid": None, "name": "d", "w": 3.5}, box(3, 0, 4, 1)),
        ({"gid": 5, "name": "e", "w": 4.5}, bowtie),
    ]
    path = tmp_path / "cells.geojson"
    write_geojson(path, feats)
    grid = libgrid.Grid.from_file(path, id_field="gid")
    kinds = {(p.row, p.kind) for p in grid.problems}
    assert (2, "duplicate_id") in kinds
    assert (3, "null_id") in kinds
    assert not bowtie.is_valid and (4, "invalid") in kinds
    for p in grid.problems:
        assert isinstance(p, libgrid.Problem) and isinstance(p.message, str) and p.message
    # int ids with a null: a masked array
    ids = grid.ids
    assert isinstance(ids, np.ma.MaskedArray)
    assert list(ids.mask) == [False, False, False, True, False]
    assert list(ids.compressed()) == [1, 2, 1, 5]
    assert list(grid["name"]) == ["a", None, "c", "d", "e"]
    w = grid["w"]
    assert w.dtype == np.float64 and np.isnan(w[1]) and w[4] == 4.5
    assert grid.find_id(1) == 0  # the first of the duplicates

    repaired = libgrid.Grid.from_file(path, id_field="gid", repair=True)
    assert (4, "repaired") in {(p.row, p.kind) for p in repaired.problems}
    assert shapely_wkb.loads(repaired.wkb(4)).is_valid


def test_wkt_file(tmp_path):
    path = tmp_path / "cells.wkt"
    polys = [geometry.box(0, 0, 1, 1), geometry.box(1, 0, 2, 1)]
    path.write_text("".join(p.wkt + "\n" for p in polys))
    grid = libgrid.Grid.from_file(path, crs="EPSG:4545")
    assert len(grid) == 2 and grid.fields == []
    assert grid.locate([0.5, 1.5, 5.0], [0.5, 0.5, 0.5]).tolist() == [0, 1, -1]


def test_from_wkb(synth_grid):
    cells = shapely_cells(synth_grid)
    grid = libgrid.Grid.from_wkb([c.wkb for c in cells], crs="EPSG:4545")
    assert len(grid) == len(synth_grid)
    x, y = libgrid.synth_stations(400, seed=7)
    np.testing.assert_array_equal(grid.locate(x, y), synth_grid.locate(x, y))


def test_pathlike_and_docstrings(ne_path):
    import pathlib
    assert len(libgrid.Grid.from_file(pathlib.Path(ne_path))) > 0
    for obj in (libgrid.Grid, libgrid.Grid.from_file, libgrid.Grid.synth, libgrid.Grid.locate,
                libgrid.Grid.to_file, libgrid.Grid.wkb, libgrid.Grid.find_id,
                libgrid.Grid.__getitem__, libgrid.synth_stations, libgrid.Grid.ids,
                libgrid.Grid.crs, libgrid.Grid.bounds, libgrid.Grid.fields,
                libgrid.Grid.problems, libgrid.Error, libgrid.check_crs):
        assert obj.__doc__ and obj.__doc__.strip(), obj
    assert libgrid.__version__.count(".") == 2
