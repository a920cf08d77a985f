"""Coverage, area coverage, siting and heat from Python against numpy and shapely
oracles; derived layers (attributes in C) and the error classes of the new calls."""

import itertools
import pickle

import numpy as np
import pytest

import libgrid

shapely = pytest.importorskip("shapely")
from shapely import wkb as shp_wkb  # noqa: E402
from shapely.geometry import Point  # noqa: E402
from shapely.ops import unary_union  # noqa: E402


@pytest.fixture(scope="module")
def county():
    grid = libgrid.Grid.synth(250, seed=11)
    sx, sy = libgrid.synth_stations(250, seed=11)
    cells = [shp_wkb.loads(grid.wkb(i)) for i in range(len(grid))]
    return grid, sx, sy, cells


def test_cell_coverage_against_numpy(county):
    grid, sx, sy, cells = county
    cov = libgrid.coverage(grid, sx, sy, radius=2500.0, weight="population", group="station")
    cx = np.array([c.centroid.x for c in cells])
    cy = np.array([c.centroid.y for c in cells])
    d = np.hypot(cx[:, None] - sx[None, :], cy[:, None] - sy[None, :])
    np.testing.assert_allclose(cov.distance, d.min(axis=1), rtol=1e-9)
    np.testing.assert_array_equal(cov.nearest, d.argmin(axis=1))
    count = (d <= 2500.0).sum(axis=1)
    np.testing.assert_array_equal(cov.count, count)
    np.testing.assert_array_equal(cov.uncovered, np.nonzero(count == 0)[0])
    pop = grid["population"].astype(float)
    assert cov.share == pytest.approx(pop[count >= 1].sum() / pop.sum())
    assert cov.backup_share == pytest.approx(pop[count >= 2].sum() / pop.sum())
    assert cov.share_cells == pytest.approx(np.mean(count >= 1))
    areas = np.array([c.area for c in cells])
    assert cov.share_area == pytest.approx(areas[count >= 1].sum() / areas.sum())
    st = np.asarray(grid["station"])
    for g in range(st.max() + 1):
        m = st == g
        assert cov.group_totals["cells"][g] == m.sum()
        assert cov.group_totals["weight_covered"][g] == pytest.approx(pop[m & (count >= 1)].sum())
    # catchments: the cells whose nearest facility is f
    np.testing.assert_array_equal(cov.facility_totals["cells"],
                                  np.bincount(d.argmin(axis=1), minlength=len(sx)))
    # minutes: radius = minutes * 60 * speed / detour
    cm = libgrid.coverage(grid, sx, sy, minutes=3.0, speed=10.0, detour=1.2)
    assert cm.radius_m == pytest.approx(3 * 60 * 10 / 1.2)
    np.testing.assert_array_equal(cm.count, (d <= cm.radius_m).sum(axis=1))
    np.testing.assert_allclose(cm.eta, d.min(axis=1) * 1.2 / 10.0, rtol=1e-9)
    gdf = cov.to_geodataframe(grid)
    assert len(gdf) == len(grid) and list(gdf["covered"]) == list(count >= 1)
    # no facilities: everything uncovered
    empty = libgrid.coverage(grid, [], [], radius=1000.0)
    assert empty.share == 0 and len(empty.uncovered) == len(grid)
    assert np.all(empty.nearest == -1) and np.all(np.isinf(empty.distance))


def test_area_coverage_against_shapely(county):
    grid, sx, sy, cells = county
    r = 1800.0
    area = libgrid.coverage_area(grid, sx, sy, radius=r, quadrant_segments=16)
    region = unary_union(cells)
    bufs = unary_union([Point(x, y).buffer(r, 16) for x, y in zip(sx, sy)])
    covered = region.intersection(bufs)
    assert area.region_area == pytest.approx(region.area, rel=1e-9)
    assert area.area == pytest.approx(covered.area, rel=1e-6)
    assert area.share == pytest.approx(covered.area / region.area, rel=1e-6)
    unc = area.uncovered
    assert unc.crs.to_epsg() == 4545
    assert unc.geometry.area.sum() == pytest.approx(region.difference(bufs).area, rel=1e-6)
    assert set(unc.columns) >= {"cell", "area_m2", "geometry"}
    np.testing.assert_allclose(unc["area_m2"], unc.geometry.area, rtol=1e-6)
    assert area.cell_covered.sum() == pytest.approx(covered.area, rel=1e-6)
    # the union method and the dissolved output agree
    u = libgrid.coverage_area(grid, sx, sy, radius=r, quadrant_segments=16, method="union",
                              dissolve=True)
    assert u.area == pytest.approx(area.area, rel=1e-6)
    assert u.uncovered.geometry.area.sum() == pytest.approx(area.uncovered_area, rel=1e-6)


def _covered_weight(d, r, w, chosen, existing):
    cov = existing.copy()
    for c in chosen:
        cov |= d[:, c] <= r
    return w[cov].sum()


def test_siting_against_exhaustive_search():
    grid = libgrid.Grid.synth(40, seed=2)
    cx, cy, _ = grid.centroids()
    d = np.hypot(cx[:, None] - cx[None, :], cy[:, None] - cy[None, :])
    w = grid["population"].astype(float)
    r = 1500.0
    ex = (np.array([cx[0]]), np.array([cy[0]]))
    existing = np.hypot(cx - ex[0][0], cy - ex[1][0]) <= r
    for p in (1, 2, 3):
        m = libgrid.site_mclp(grid, p, radius=r, weight="population", existing=ex)
        assert len(m) == p
        got = _covered_weight(d, r, w, m.sites, existing)
        assert m.covered_weight == pytest.approx(got)
        best = max(_covered_weight(d, r, w, c, existing)
                   for c in itertools.combinations(range(len(grid)), p))
        assert got <= best + 1e-9 and m.upper_bound >= best - 1e-9
        assert got >= 0.9 * best
        np.testing.assert_allclose(m.gain.sum(), got - w[existing].sum())
        np.testing.assert_allclose(m.x, cx[m.sites])
    # set covering on a smaller county, exhaustive over bit masks
    grid = libgrid.Grid.synth(24, seed=4)
    cx, cy, _ = grid.centroids()
    d = np.hypot(cx[:, None] - cx[None, :], cy[:, None] - cy[None, :])
    r = 1200.0
    s = libgrid.site_lscp(grid, radius=r)
    cover = np.zeros(len(grid), bool)
    for c in s.sites:
        cover |= d[:, c] <= r
    assert cover.all()
    masks = [sum(1 << i for i in np.nonzero(d[:, c] <= r)[0]) for c in range(len(grid))]
    full = (1 << len(grid)) - 1
    smallest = None
    for k in range(1, len(s) + 1):
        if any(np.bitwise_or.reduce([masks[c] for c in comb]) == full
               for comb in itertools.combinations(range(len(grid)), k)):
            smallest = k
            break
    assert smallest is not None and s.lower_bound <= smallest <= len(s)


def test_heat_against_locate_loop(county, rng):
    grid, sx, sy, cells = county
    minx, miny, maxx, maxy = grid.bounds
    n = 20000
    x = rng.uniform(minx, maxx, n)
    y = rng.uniform(miny, maxy, n)
    w = rng.uniform(0, 3, n)
    t = rng.integers(0, 86400, n)
    h = libgrid.heat(grid, x, y, weight=w, time=t, window=(3600, 7200), group="station")
    rows = grid.locate(x, y)
    want = np.zeros(len(grid))
    inwin = (t >= 3600) & (t < 7200)
    for i in range(n):
        if inwin[i] and rows[i] >= 0:
            want[rows[i]] += w[i]
    np.testing.assert_allclose(h.cell, want)
    assert h.in_window == inwin.sum() and h.located == (inwin & (rows >= 0)).sum()
    assert h.total == pytest.approx(want.sum())
    st = np.asarray(grid["station"])
    np.testing.assert_allclose(h.group, np.bincount(st, weights=want, minlength=st.max() + 1))
    np.testing.assert_array_equal(h.cell_of[inwin], rows[inwin])
    top, score = h.top(5)
    order = np.lexsort((np.arange(len(want)), -want))[:5]
    np.testing.assert_array_equal(top, order)
    np.testing.assert_allclose(score, want[order])
    _, _, area = grid.centroids()
    dtop, dscore = h.top(3, density=True)
    dens = want / (area / 1e6)
    np.testing.assert_array_equal(dtop, np.lexsort((np.arange(len(want)), -dens))[:3])
    # datetime64 times, counting, float times with NaN
    base = np.datetime64("2024-05-01T00:00:00")
    tt = base + t.astype("timedelta64[s]")
    h2 = libgrid.heat(grid, x, y, time=tt, window=("2024-05-01T01:00", "2024-05-01T02:00"))
    np.testing.assert_allclose(h2.cell, np.bincount(rows[inwin & (rows >= 0)],
                                                    minlength=len(grid)))
    tf = t.astype(float)
    tf[::2] = np.nan
    h3 = libgrid.heat(grid, x, y, time=tf, window=(3600.0, None))
    keep = ~np.isnan(tf) & (tf >= 3600) & (rows >= 0)
    np.testing.assert_allclose(h3.cell, np.bincount(rows[keep], minlength=len(grid)))
    gdf = h.to_geodataframe()
    np.testing.assert_allclose(gdf["value"], want)


def test_with_columns_dissolve_and_pickle(county, tmp_path):
    grid, sx, sy, cells = county
    n = len(grid)
    vals = np.ma.MaskedArray(np.arange(n), mask=np.arange(n) % 7 == 0)
    g2 = grid.with_columns({"k": vals, "r": np.linspace(0, 1, n),
                            "t": [None if i % 5 == 0 else "c%d" % i for i in range(n)]})
    assert g2.fields == grid.fields + ["k", "r", "t"]
    assert list(np.ma.getmaskarray(g2["k"])) == list(vals.mask)
    assert g2["t"][0] is None and g2["t"][1] == "c1"
    back = pickle.loads(pickle.dumps(g2))
    assert back.fields == g2.fields and list(back["t"]) == list(g2["t"])
    g2.save(tmp_path / "g2.lgs")
    opened = libgrid.Grid.open(tmp_path / "g2.lgs")
    np.testing.assert_allclose(opened["r"], g2["r"])
    with pytest.raises(libgrid.ArgumentError):
        grid.with_columns({"station": np.zeros(n, int)})  # name taken
    d = grid.dissolve("station")
    st = np.asarray(grid["station"])
    assert len(d) == st.max() + 1 and list(d["cells"]) == list(np.bincount(st))
    for s in range(len(d)):
        union = unary_union([cells[i] for i in np.nonzero(st == s)[0]])
        assert shp_wkb.loads(d.wkb(s)).symmetric_difference(union).area < 1.0


def test_errors_of_planning_calls(county):
    grid, sx, sy, cells = county
    bad = sx.copy()
    bad[3] = np.nan
    with pytest.raises(libgrid.ArgumentError, match="3"):
        libgrid.coverage(grid, bad, sy, radius=100.0)
    with pytest.raises(libgrid.ArgumentError):
        libgrid.coverage(grid, sx, sy, radius=-5.0)
    with pytest.raises(libgrid.ArgumentError, match="radius"):
        libgrid.coverage(grid, sx, sy)
    with pytest.raises(libgrid.ArgumentError, match="same size|expected"):
        libgrid.coverage(grid, sx, sy[:-1], radius=100.0)
    with pytest.raises(libgrid.NotFoundError, match="nope"):
        libgrid.coverage(grid, sx, sy, radius=100.0, weight="nope")
    with pytest.raises(libgrid.ArgumentError):
        libgrid.coverage_area(grid, sx, sy, radius=100.0, method="fast")
    with pytest.raises(libgrid.ArgumentError):
        libgrid.heat(grid, [0.0], [0.0], weight=[np.inf])
    with pytest.raises(libgrid.ArgumentError, match="window needs times"):
        libgrid.heat(grid, [0.0], [0.0], window=(0, 1))
    with pytest.raises(libgrid.NotFoundError, match="nope"):
        libgrid.Stations.from_cells(grid, "nope")
    with pytest.raises(libgrid.ArgumentError, match="min_bases"):
        libgrid.classify_stations(grid, station_field="station", min_bases=3, max_bases=2)
    with pytest.raises(libgrid.CRSError):
        libgrid.transform([0.0], [0.0], "EPSG:999999", "EPSG:4326")
    with pytest.raises(TypeError):
        libgrid.coverage("grid", sx, sy, radius=1.0)
    with pytest.raises(libgrid.ArgumentError):
        libgrid.site_mclp(grid, -1, radius=100.0)
