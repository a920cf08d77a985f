"""Stations, hierarchy lookup, units and run cards from Python, against independent
oracles: shapely for the station classes, grid.locate + the plan arrays for the
hierarchy, a numpy brute force for nearest units and run cards."""

import numpy as np
import pytest

import libgrid

shapely = pytest.importorskip("shapely")
from shapely import wkb as shp_wkb  # noqa: E402
from shapely.ops import unary_union  # noqa: E402


@pytest.fixture(scope="module")
def county():
    grid = libgrid.Grid.synth(300, seed=5)
    stations = libgrid.Stations.from_cells(grid, "station")
    plan = libgrid.classify_stations(stations, workload=["calls", "population"])
    return grid, stations, plan


def _jurisdictions(grid):
    """Station jurisdictions as the shapely union of their cells (independent of C)."""
    cells = [shp_wkb.loads(grid.wkb(i)) for i in range(len(grid))]
    st = np.asarray(grid["station"])
    return [unary_union([cells[i] for i in np.nonzero(st == s)[0]])
            for s in range(int(st.max()) + 1)], unary_union(cells)


def test_classification_rules_with_shapely(county):
    grid, stations, plan = county
    jur, region = _jurisdictions(grid)
    assert len(plan) == len(stations) == len(jur)
    assert set(plan.kind) <= {"central", "base", "border"}
    assert plan.feasible, plan.problems
    outline = region.boundary
    for s, j in enumerate(jur):
        on_outline = j.boundary.intersection(outline.buffer(2.0)).length
        if on_outline > 110:
            assert plan.kind[s] == "border", (s, on_outline)
        elif on_outline < 90:
            assert plan.kind[s] != "border", (s, on_outline)
    for s in np.nonzero(plan.kind == "base")[0]:
        c = plan.central[s]
        assert plan.kind[c] == "central"
        shared = jur[s].boundary.intersection(jur[c].boundary).length
        assert shared > 1.0, "base %d not adjacent to its central %d" % (s, c)
    for c in np.nonzero(plan.kind == "central")[0]:
        assert 1 <= len(plan.bases(c)) <= 2
        assert plan.central[c] in (-1, c)
    assert np.all(plan.central[plan.kind == "border"] == -1)
    # the station graph agrees with shapely's shared lengths
    adj = stations.adjacency()
    for a, b, w in zip(*adj.edges):
        assert w == pytest.approx(jur[a].boundary.intersection(jur[b].boundary).length, rel=1e-6)
    # workload sums
    np.testing.assert_allclose(stations.workload["calls"],
                               np.bincount(grid["station"], weights=grid["calls"]))
    np.testing.assert_array_equal(stations.cell_counts, np.bincount(grid["station"]))


def test_validate_stations_reports_every_violation(county):
    grid, stations, plan = county
    ok = libgrid.validate_stations(stations, plan.kind, plan.central)
    assert ok.feasible and ok.problems == [] and ok.score is None
    kind = plan.kind.copy()
    central = plan.central.copy()
    bases = np.nonzero(kind == "base")[0]
    centrals = np.nonzero(kind == "central")[0]
    adj = stations.adjacency()
    b = bases[0]
    far = [c for c in centrals if adj.weight(b, c) == 0.0]
    assert far, "need a central station not adjacent to base %d" % b
    central[b] = far[0]
    bad = libgrid.validate_stations(stations, kind, central)
    assert not bad.feasible
    kinds = {p.kind for p in bad.problems}
    assert "base_not_adjacent" in kinds
    p = [p for p in bad.problems if p.kind == "base_not_adjacent"][0]
    assert p.station == b and p.related == far[0] and stations.names[b] in p.message
    # every base made central: too few bases everywhere
    k2 = np.where(kind == "base", "central", kind)
    bad2 = libgrid.validate_stations(stations, k2, np.where(k2 == "central", -1, central))
    assert any(p.kind == "too_few_bases" for p in bad2.problems)
    # a border station moved inside
    inner = [s for s in range(len(kind)) if kind[s] != "border"][0]
    k3 = kind.copy()
    k3[inner] = "border"
    bad3 = libgrid.validate_stations(stations, k3, np.where(k3 == "border", -1, central))
    assert any(p.kind == "border_off_boundary" and p.station == inner for p in bad3.problems)


def test_classify_from_jurisdiction_grid_and_geodataframe(county):
    grid, stations, plan = county
    jur = stations.jurisdictions
    assert len(jur) == len(stations)
    p2 = libgrid.classify_stations(jur, workload=None)
    assert len(p2) == len(stations)
    gdf = plan.to_geodataframe()
    assert list(gdf["kind"]) == list(plan.kind)
    assert gdf.crs.to_epsg() == 4545
    jur_shapely, _ = _jurisdictions(grid)
    for s in range(len(gdf)):
        assert gdf.geometry.iloc[s].symmetric_difference(jur_shapely[s]).area < 1.0
    p3 = libgrid.classify_stations(gdf[["geometry"]])
    np.testing.assert_array_equal(p3.kind, p2.kind)


def test_isolated_station_is_infeasible_and_named():
    geometry = pytest.importorskip("shapely.geometry")
    gpd = pytest.importorskip("geopandas")
    # a 5x5 block of cells; station 0 is the centre cell, ringed by stations 1-3 that all
    # reach the outline (so border stations), and an island station 4 far away inside the
    # region: neither 0 nor 4 has a non-border neighbour, so no star is possible.
    boxes, st = [], []
    for i in range(5):
        for j in range(5):
            boxes.append(geometry.box(i * 1000, j * 1000, (i + 1) * 1000, (j + 1) * 1000))
            st.append(0 if (i, j) in ((2, 2),) else (1 if i < 2 else 2 if i > 2 else 3))
    boxes.append(geometry.box(20000, 0, 21000, 1000))
    st.append(4)
    region = unary_union(boxes[:25]).union(geometry.box(19000, -1000, 22000, 2000))
    gdf = gpd.GeoDataFrame({"station": st}, geometry=boxes, crs="EPSG:4545")
    grid = libgrid.Grid.from_geodataframe(gdf)
    plan = libgrid.classify_stations(grid, station_field="station", region=region)
    assert not plan.feasible
    isolated = [p for p in plan.problems if p.kind == "isolated"]
    assert sorted(p.station for p in isolated) == [0, 4], plan.problems
    assert list(plan.kind[1:4]) == ["border"] * 3


def test_hierarchy_lookup_against_locate(county, rng):
    grid, stations, plan = county
    zones = libgrid.plan_zones(grid, group="station")
    h = libgrid.Hierarchy(grid, plan, zones)
    minx, miny, maxx, maxy = grid.bounds
    x = rng.uniform(minx - 500, maxx + 500, 20000)
    y = rng.uniform(miny - 500, maxy + 500, 20000)
    got = h.lookup(x, y)
    cell = grid.locate(x, y)
    np.testing.assert_array_equal(got["cell"], cell)
    inside = cell >= 0
    cs = stations.cell_station
    station = np.where(inside, cs[np.maximum(cell, 0)], -1)
    np.testing.assert_array_equal(got["station"], station)
    zone = np.where(inside, zones.zone[np.maximum(cell, 0)], -1)
    np.testing.assert_array_equal(got["zone"], zone)
    site = np.where(zone >= 0, zones.site[np.maximum(zone, 0)], -1)
    np.testing.assert_array_equal(got["service_station"], site)
    kind = np.where(station >= 0, plan.kind[np.maximum(station, 0)], "")
    assert list(got["kind"]) == list(kind)
    want_central = np.full(len(x), -1)
    for i in np.nonzero(station >= 0)[0]:
        s = station[i]
        want_central[i] = plan.central[s] if plan.kind[s] == "base" else (
            s if plan.kind[s] == "central" else -1)
    np.testing.assert_array_equal(got["central"], want_central)
    # in lon/lat: the same answers as locating the transformed points
    lon, lat = libgrid.transform(x[:500], y[:500], grid.crs, "EPSG:4326")
    got2 = h.lookup(lon, lat, crs="EPSG:4326")
    np.testing.assert_array_equal(got2["cell"], grid.locate(lon, lat, crs="EPSG:4326"))
    # shape follows x; without zones, zone levels are -1
    h2 = libgrid.Hierarchy(grid, stations)
    g2 = h2.lookup(x[:6].reshape(2, 3), y[:6].reshape(2, 3))
    assert g2["cell"].shape == (2, 3) and np.all(g2["zone"] == -1)
    assert np.all(g2["kind"][g2["cell"] >= 0] == "")


def test_hierarchy_wrong_grid(county):
    grid, stations, plan = county
    with pytest.raises(libgrid.ArgumentError, match="not built from this grid"):
        libgrid.Hierarchy(libgrid.Grid.synth(50, seed=1), plan)


# ------------------------------------------------------------------ units

STATUS = list(libgrid.UNIT_STATUSES)
KINDS = list(libgrid.UNIT_KINDS)


def _brute(state, x, y, k, status=None, caps=None, caps_any=None, kind=None, station=None,
           max_dist=None):
    ok = np.ones(len(state["id"]), bool)
    if status is not None:
        codes = [libgrid.UNIT_STATUSES[s] for s in ([status] if isinstance(status, str) else status)]
        ok &= np.isin(state["status"], codes)
    if kind is not None:
        codes = [libgrid.UNIT_KINDS[s] for s in ([kind] if isinstance(kind, str) else kind)]
        ok &= np.isin(state["kind"], codes)
    if caps is not None:
        bits = sum(libgrid.UNIT_CAPS[c] for c in caps)
        ok &= (state["caps"] & bits) == bits
    if caps_any is not None:
        bits = sum(libgrid.UNIT_CAPS[c] for c in caps_any)
        ok &= (state["caps"] & bits) != 0
    if station is not None:
        ok &= state["station"] == station
    ids_out = np.full((len(x), k), -1)
    d_out = np.full((len(x), k), np.inf)
    for i in range(len(x)):
        d = np.hypot(state["x"] - x[i], state["y"] - y[i])
        m = ok & ((d <= max_dist) if max_dist else True)
        idx = np.nonzero(m)[0]
        order = np.lexsort((state["id"][idx], d[idx]))[:k]
        ids_out[i, :len(order)] = state["id"][idx][order]
        d_out[i, :len(order)] = d[idx][order]
    return ids_out, d_out


def test_units_nearest_against_brute_force(county, rng):
    grid, stations, plan = county
    units = libgrid.Units(grid, stations, detour=1.4)
    assert len(units) == 0
    ids, dist = units.nearest([0.0], [0.0], k=2)
    assert ids.tolist() == [[-1, -1]] and np.all(np.isinf(dist))
    minx, miny, maxx, maxy = grid.bounds
    n = 400
    uid = rng.permutation(10000)[:n]
    capnames = list(libgrid.UNIT_CAPS)
    caps = [capnames[i] + ("|" + capnames[(i + 1) % 4] if i % 2 else "")
            for i in rng.integers(0, 4, n)]
    units.update(uid, rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n),
                 status=[STATUS[i] for i in rng.integers(0, 5, n)], caps=caps,
                 kind=rng.integers(0, 5, n), station=rng.integers(0, len(stations), n),
                 time=np.arange(n, dtype=float))
    assert len(units) == n
    qx = rng.uniform(minx, maxx, 60)
    qy = rng.uniform(miny, maxy, 60)
    filters = [{}, {"status": "available"}, {"status": ["available", "en_route"]},
               {"caps": ["traffic"]}, {"caps": ["traffic", "armed"]},
               {"caps_any": ["medical", "armed"]}, {"kind": "car"}, {"kind": ["foot", "van"]},
               {"station": 3}, {"max_dist": 1500.0},
               {"status": "available", "caps": ["public_security"], "kind": ["car"],
                "max_dist": 4000.0}]
    for rnd in range(3):
        # moves interleaved with queries
        mv = rng.choice(uid, 100, replace=False)
        units.update(mv, rng.uniform(minx, maxx, 100), rng.uniform(miny, maxy, 100),
                     status=[STATUS[i] for i in rng.integers(0, 5, 100)])
        units.flush()
        state = units.units()
        for f in filters:
            for k in (1, 5):
                kw = dict(f)
                if "caps" in kw:
                    kw["caps"] = "|".join(kw["caps"])
                ids, dist = units.nearest(qx, qy, k=k, **kw)
                want_ids, want_d = _brute(state, qx, qy, k, **f)
                assert ids.shape == (60, k)
                np.testing.assert_array_equal(ids, want_ids, err_msg=str(f))
                np.testing.assert_allclose(dist, want_d, rtol=1e-12, err_msg=str(f))
    # k larger than the matches
    ids, dist = units.nearest(qx[:3], qy[:3], k=n + 10)
    assert np.all(ids[:, :n] >= 0) and np.all(ids[:, n:] == -1) and np.all(np.isinf(dist[:, n:]))
    # full answer: ETA and cross flags
    full = units.nearest_full(qx, qy, k=3)
    state = units.units()
    pos = {i: j for j, i in enumerate(state["id"])}
    speeds = {0: 11.1, 1: 8.3, 2: 1.4, 3: 4.2, 4: 10.0}
    inc_station = units.station_at(qx, qy)
    qcell = grid.locate(qx, qy)
    np.testing.assert_array_equal(inc_station,
                                  np.where(qcell >= 0, stations.cell_station[qcell], -1))
    for i in range(60):
        for j in range(3):
            u = pos[full.ids[i, j]]
            assert full.eta[i, j] == pytest.approx(full.dist[i, j] * 1.4 /
                                                   speeds[state["kind"][u]], rel=1e-9)
            assert full.cross_station[i, j] == (state["station"][u] != inc_station[i])
            ucell = grid.locate(state["x"][u], state["y"][u])
            assert full.cross_county[i, j] == (ucell < 0 or qcell[i] < 0)
    assert np.all(full.count == 3)
    assert units.eta(1000.0, "foot") == pytest.approx(1000 * 1.4 / 1.4)
    units.remove(uid[:10])
    assert len(units) == n - 10


def test_units_errors():
    units = libgrid.Units()
    with pytest.raises(libgrid.ArgumentError) as e:
        units.update([1, 2], [0.0, np.nan], [0.0, 0.0])
    assert "record 1" in str(e.value) or "1" in str(e.value)
    assert len(units) == 0
    with pytest.raises(libgrid.ArgumentError, match="unknown status 'parked'"):
        units.update([1], [0.0], [0.0], status="parked")
    with pytest.raises(libgrid.ArgumentError, match="unknown capability 'flying'"):
        units.nearest(0.0, 0.0, caps="traffic|flying")
    with pytest.raises(libgrid.ArgumentError):
        units.update([-1], [0.0], [0.0])
    with pytest.raises(libgrid.NotFoundError):
        units.update([5], status="busy")  # unknown unit without a position
    with pytest.raises(libgrid.NotFoundError):
        units.remove([99])
    with pytest.raises(libgrid.ArgumentError, match="k must be"):
        units.nearest(0.0, 0.0, k=0)
    with pytest.raises(libgrid.ArgumentError, match="unit kind 16"):
        units.update([1], [0.0], [0.0], kind=16)
    units.update(7, 1.0, 2.0, status=3, caps=10, kind="van", station=4, time=5.0)
    st = units.units()
    assert st["id"].tolist() == [7] and st["status"][0] == 3 and st["caps"][0] == 10
    assert st["kind"][0] == 4 and st["station"][0] == 4 and st["time"][0] == 5.0


# -------------------------------------------------------------- run cards

def test_run_cards_against_brute_force(county):
    grid, stations, plan = county
    sx, sy = libgrid.synth_stations(300, seed=5)
    ids = np.arange(len(sx)) * 10 + 3
    rc = libgrid.run_cards(grid, sx, sy, k=3, station_ids=ids, speed=10.0, detour=1.5)
    cx, cy, _ = grid.centroids()
    np.testing.assert_allclose(rc.demand_x, cx)
    for r in range(len(grid)):
        d = np.hypot(sx - cx[r], sy - cy[r]) * 1.5 / 10.0
        order = np.lexsort((ids, d))[:3]
        np.testing.assert_array_equal(rc.stations[r], ids[order])
        np.testing.assert_allclose(rc.eta[r], d[order], rtol=1e-9)
    st, eta = rc.at([cx[5], 1e9], [cy[5], 1e9])
    np.testing.assert_array_equal(st[0], rc.stations[5])
    assert np.all(st[1] == -1) and np.all(np.isinf(eta[1]))
    with pytest.raises(libgrid.ArgumentError):
        libgrid.run_cards(grid, [np.nan], [0.0])
