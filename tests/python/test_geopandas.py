"""GeoPandas in and out: Natural Earth through a GeoDataFrame, locate against shapely,
to_geodataframe -> to_file -> read back."""

import pickle

import numpy as np
import pytest

import libgrid
from conftest import check_against_covers, covering_sets, shapely_cells

gpd = pytest.importorskip("geopandas")
pd = pytest.importorskip("pandas")


def test_from_geodataframe_natural_earth(ne_gdf, rng):
    grid = libgrid.Grid.from_geodataframe(ne_gdf)
    assert len(grid) == len(ne_gdf)
    assert grid.crs == "EPSG:4326"
    assert grid.fields == [c for c in ne_gdf.columns if c != "geometry"]
    assert grid.field_types["pop_est"] in ("int", "real") and grid.field_types["name"] == "text"
    assert list(grid["name"]) == list(ne_gdf["name"])
    np.testing.assert_array_equal(np.asarray(grid["gdp_md_est"], dtype=float),
                                  ne_gdf["gdp_md_est"].to_numpy(dtype=float))
    # geometry went through WKB unchanged
    cells = shapely_cells(grid)
    for i in range(len(grid)):
        want = ne_gdf.geometry.iloc[i]
        assert cells[i].symmetric_difference(want).area <= 1e-9 * max(want.area, 1e-12)
    # locate agrees with shapely covers on the GeoDataFrame's own geometry
    x = rng.uniform(-180, 180, 3000)
    y = rng.uniform(-90, 84, 3000)
    check_against_covers(grid.locate(x, y), covering_sets(list(ne_gdf.geometry), x, y))


def test_from_geodataframe_ids(ne_gdf):
    grid = libgrid.Grid.from_geodataframe(ne_gdf, id_field="name")
    assert grid.id_field == "name"
    assert list(grid.ids) == list(ne_gdf["name"])
    fr = int(np.nonzero(ne_gdf["name"].to_numpy() == "France")[0][0])
    assert grid.find_id("France") == fr and grid.find_id("Atlantis") == -1
    x, y = ne_gdf.geometry.iloc[fr].representative_point().coords[0]
    assert grid.ids[grid.locate(x, y)] == "France"
    with pytest.raises(libgrid.NotFoundError):
        libgrid.Grid.from_geodataframe(ne_gdf, id_field="nope")
    # pickling keeps the Python-side attributes and ids
    back = pickle.loads(pickle.dumps(grid))
    assert back.fields == grid.fields and back.find_id("France") == fr
    assert list(back["iso_a3"]) == list(grid["iso_a3"])


def test_from_geodataframe_crs_and_nulls():
    geometry = pytest.importorskip("shapely.geometry")
    sq = [geometry.box(i, 0, i + 1, 1) for i in range(4)]
    gdf = gpd.GeoDataFrame({
        "n": pd.array([1, None, 3, 4], dtype="Int64"),
        "f": [1.5, np.nan, 2.5, 3.5],
        "s": ["a", None, "c", "d"],
        "b": [True, False, True, False],
    }, geometry=sq, crs="EPSG:4545")
    grid = libgrid.Grid.from_geodataframe(gdf, id_field="n")
    assert grid.crs == "EPSG:4545"
    n = grid["n"]
    assert isinstance(n, np.ma.MaskedArray) and list(np.ma.getmaskarray(n)) == [0, 1, 0, 0]
    assert grid.find_id(3) == 2 and grid.find_id(2) == -1
    assert np.isnan(grid["f"][1]) and list(grid["s"]) == ["a", None, "c", "d"]
    assert list(grid["b"]) == [1, 0, 1, 0]
    assert grid.locate(2.5, 0.5) == 2
    # a CRS without an EPSG code travels as WKT
    custom = gdf.set_crs("+proj=tmerc +lon_0=108.3 +x_0=500000 +ellps=GRS80", allow_override=True)
    g2 = libgrid.Grid.from_geodataframe(custom)
    assert "PROJCRS" in g2.crs or "PROJCS" in g2.crs
    # no CRS at all
    nocrs = gpd.GeoDataFrame({"s": gdf["s"]}, geometry=list(gdf.geometry))
    assert libgrid.Grid.from_geodataframe(nocrs).crs is None
    # round trip of the nullable int column
    out = grid.to_geodataframe()
    assert str(out["n"].dtype) == "Int64" and out["n"].isna().tolist() == [False, True,
                                                                           False, False]


def test_save_keeps_geodataframe_attributes(tmp_path):
    """GeoDataFrame columns live in the C layer (lg_layer_derive): saved in snapshots;
    only the choice of id field is not (a warning says so)."""
    geometry = pytest.importorskip("shapely.geometry")
    gdf = gpd.GeoDataFrame({"s": ["a"], "k": [7]}, geometry=[geometry.box(0, 0, 1, 1)],
                           crs="EPSG:4326")
    grid = libgrid.Grid.from_geodataframe(gdf)
    grid.save(tmp_path / "g.lgs")
    back = libgrid.Grid.open(tmp_path / "g.lgs")
    assert back.fields == ["s", "k"] and back.locate(0.5, 0.5) == 0
    assert list(back["s"]) == ["a"] and list(back["k"]) == [7]
    with pytest.warns(UserWarning, match="id field 'k'"):
        libgrid.Grid.from_geodataframe(gdf, id_field="k").save(tmp_path / "h.lgs")


def test_to_geodataframe_to_file_and_back(synth_grid, tmp_path):
    gdf = synth_grid.to_geodataframe()
    assert list(gdf.columns) == synth_grid.fields + ["geometry"]
    assert gdf.crs.to_epsg() == 4545
    for name in synth_grid.fields:
        np.testing.assert_array_equal(gdf[name].to_numpy(), synth_grid[name])
    for ext, driver in ((".gpkg", "GPKG"), (".shp", "ESRI Shapefile")):
        path = tmp_path / ("cells" + ext)
        gdf.to_file(path, driver=driver)
        back = gpd.read_file(path)
        assert back.crs.to_epsg() == 4545
        grid = libgrid.Grid.from_geodataframe(back, id_field="cell_id")
        assert len(grid) == len(synth_grid)
        np.testing.assert_array_equal(grid.ids, synth_grid["cell_id"])
        rng = np.random.default_rng(9)
        minx, miny, maxx, maxy = synth_grid.bounds
        x = rng.uniform(minx, maxx, 20000)
        y = rng.uniform(miny, maxy, 20000)
        np.testing.assert_array_equal(grid.locate(x, y), synth_grid.locate(x, y))


def test_grid_from_gdf_to_file(tmp_path):
    """Grid.to_file of a grid with Python-side attributes goes through GeoPandas."""
    geometry = pytest.importorskip("shapely.geometry")
    gdf = gpd.GeoDataFrame({"name": ["a", "b"]},
                           geometry=[geometry.box(0, 0, 1, 1), geometry.box(1, 0, 2, 1)],
                           crs="EPSG:4326")
    grid = libgrid.Grid.from_geodataframe(gdf)
    path = tmp_path / "two.geojson"
    grid.to_file(path)
    back = libgrid.Grid.from_file(path)
    assert list(back["name"]) == ["a", "b"] and back.locate(1.5, 0.5) == 1
