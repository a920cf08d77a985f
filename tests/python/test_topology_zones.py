"""Adjacency, centroids and service-station zones through Python.

Oracles: shapely/GEOS for shared boundary lengths, centroids and areas; an independent
breadth-first search over the edge list for zone contiguity; plain numpy counting for
sizes, groups and workloads."""

import pickle
from collections import deque

import numpy as np
import pytest

import libgrid
from conftest import shapely_cells


@pytest.fixture(scope="module")
def small():
    return libgrid.Grid.synth(150, seed=11)


@pytest.fixture(scope="module")
def small_adj(small):
    return small.adjacency()


def test_adjacency_matches_shapely(small, small_adj):
    cells = shapely_cells(small)
    b = np.array([c.bounds for c in cells])
    want = {}
    for i in range(len(cells)):
        near = np.nonzero((b[:, 0] <= b[i, 2]) & (b[:, 2] >= b[i, 0]) & (b[:, 1] <= b[i, 3])
                          & (b[:, 3] >= b[i, 1]))[0]
        for j in near[near > i]:
            shared = cells[i].boundary.intersection(cells[j].boundary).length
            if shared >= 1.0:
                want[(i, int(j))] = shared
    a, bb, w = small_adj.edges
    got = {(int(p), int(q)): float(s) for p, q, s in zip(a, bb, w)}
    assert set(got) == set(want)
    for k, s in want.items():
        assert got[k] == pytest.approx(s, rel=1e-9, abs=1e-6), k
    assert small_adj.n_edges == len(want) and small_adj.n_nodes == len(small) == len(small_adj)


def test_csr_neighbors_and_weight_agree(small_adj):
    adj = small_adj
    indptr, indices, weights = adj.indptr, adj.indices, adj.weights
    assert indptr.dtype == np.int64 and indices.dtype == np.int64 and weights.dtype == np.float64
    assert indptr[0] == 0 and indptr[-1] == len(indices) == 2 * adj.n_edges
    np.testing.assert_array_equal(adj.degree(), np.diff(indptr))
    for i in range(len(adj)):
        nodes, w = adj.neighbors(i)
        assert list(nodes) == sorted(nodes) and i not in nodes
        for j, s in zip(nodes, w):
            assert adj.weight(i, j) == s == adj.weight(j, i)
    assert adj.weight(0, 0) == 0.0
    np.testing.assert_array_equal(adj.neighbors(-1)[0], adj.neighbors(len(adj) - 1)[0])
    with pytest.raises(IndexError):
        adj.neighbors(len(adj))
    with pytest.raises(IndexError):
        adj.weight(0, len(adj))
    with pytest.raises(ValueError):
        indices[0] = 5  # read-only views
    assert "Adjacency" in repr(adj)


def test_from_edges_and_pickle(small_adj):
    a, b, w = small_adj.edges
    again = libgrid.Adjacency.from_edges(len(small_adj), b, a, w)  # reversed direction
    np.testing.assert_array_equal(again.indptr, small_adj.indptr)
    np.testing.assert_array_equal(again.indices, small_adj.indices)
    np.testing.assert_array_equal(again.weights, small_adj.weights)
    p = pickle.loads(pickle.dumps(small_adj))
    np.testing.assert_array_equal(p.weights, small_adj.weights)
    # duplicates merge, weights default to 1
    g = libgrid.Adjacency.from_edges(3, [0, 1, 0], [1, 2, 1])
    assert g.n_edges == 2 and g.weight(0, 1) == 2.0 and g.weight(1, 2) == 1.0
    with pytest.raises(libgrid.ArgumentError):
        libgrid.Adjacency.from_edges(3, [0], [0])  # self-loop
    with pytest.raises(libgrid.ArgumentError):
        libgrid.Adjacency.from_edges(3, [0], [7])  # out of range
    with pytest.raises(libgrid.ArgumentError):
        libgrid.Adjacency.from_edges(3, [0, 1], [2])  # lengths differ
    with pytest.raises(TypeError):
        libgrid.Adjacency(object())


def test_adjacency_arguments(small):
    with pytest.raises(libgrid.ArgumentError):
        small.adjacency(gap_m=0)
    with pytest.raises(libgrid.ArgumentError):
        small.adjacency(min_shared_m=-1)
    # a huge minimum shared length leaves no edges
    assert small.adjacency(min_shared_m=1e9).n_edges == 0


def test_to_scipy(small_adj):
    sparse = pytest.importorskip("scipy.sparse")
    m = small_adj.to_scipy()
    assert isinstance(m, sparse.csr_matrix) and (m != m.T).nnz == 0


def test_centroids_match_shapely(small):
    x, y, area = small.centroids()
    cells = shapely_cells(small)
    for i, c in enumerate(cells):
        assert area[i] == pytest.approx(c.area, rel=1e-9)
        assert x[i] == pytest.approx(c.centroid.x, abs=1e-6)
        assert y[i] == pytest.approx(c.centroid.y, abs=1e-6)


def bfs_components(nodes, adj):
    """Connected pieces of the node set under the edges of adj (independent of libgrid's
    zone code: uses only the CSR arrays)."""
    nodes = set(int(n) for n in nodes)
    seen, pieces = set(), []
    indptr, indices = adj.indptr, adj.indices
    for s in sorted(nodes):
        if s in seen:
            continue
        piece, q = [], deque([s])
        seen.add(s)
        while q:
            u = q.popleft()
            piece.append(u)
            for v in indices[indptr[u]:indptr[u + 1]]:
                v = int(v)
                if v in nodes and v not in seen:
                    seen.add(v)
                    q.append(v)
        pieces.append(piece)
    return pieces


def check_plan(plan, adj, lo, hi, group=None):
    """Every zone contiguous (BFS), within size bounds, inside one group."""
    z = plan.zone
    assert z.dtype == np.int64 and len(z) == len(adj)
    assert z.min() >= -1 and z.max() < plan.n_zones
    for k in range(plan.n_zones):
        cells = plan.cells(k)
        if len(cells) == 0:
            continue
        assert lo <= len(cells) <= hi, (k, len(cells))
        assert len(bfs_components(cells, adj)) == 1, "zone %d is not contiguous" % k
        if group is not None:
            assert len(set(group[cells].tolist())) == 1, "zone %d crosses groups" % k
        assert plan.site[k] in cells or plan.site[k] == -1
    if plan.feasible:
        assert (z >= 0).all()
        hist = np.bincount(np.bincount(z), minlength=len(plan.histogram))
        np.testing.assert_array_equal(plan.histogram, hist[:len(plan.histogram)])


def test_plan_zones_valid_by_bfs(synth_grid):
    adj = synth_grid.adjacency()
    plan = libgrid.plan_zones(synth_grid, 6, 8, seed=1, adjacency=adj)
    assert plan.feasible and not [p for p in plan.problems if p.kind != "no_site"]
    check_plan(plan, adj, 6, 8)
    q = plan.quality
    assert q["zones"] == len(np.unique(plan.zone)) == plan.n_zones == len(plan)
    assert q["cells_assigned"] == len(synth_grid) and q["cells_unassigned"] == 0
    sizes = np.bincount(plan.zone)
    assert q["size_min"] == sizes.min() and q["size_max"] == sizes.max()
    assert q["weight_mean"] == pytest.approx(sizes.mean())  # unit weights
    # deterministic for a seed; the default adjacency is the same graph
    again = libgrid.plan_zones(synth_grid, 6, 8, seed=1)
    np.testing.assert_array_equal(again.zone, plan.zone)
    assert "ZonePlan" in repr(plan)


def test_plan_zones_with_weights_groups_and_sites(synth_grid):
    adj = synth_grid.adjacency()
    station = np.asarray(synth_grid["station"])
    plan = libgrid.plan_zones(synth_grid, 3, 9, weight="calls", group="station", seed=2,
                              adjacency=adj)
    check_plan(plan, adj, 3, 9, group=station)
    calls = np.asarray(synth_grid["calls"], dtype=float)
    zw = np.bincount(plan.zone[plan.zone >= 0], weights=calls[plan.zone >= 0])
    zw = zw[zw > 0]
    assert plan.quality["weight_max"] == pytest.approx(zw.max())
    assert plan.quality["weight_min"] == pytest.approx(zw.min())
    # an array weight gives the same plan as the field name
    same = libgrid.plan_zones(synth_grid, 3, 9, weight=calls, group=station, seed=2,
                              adjacency=adj)
    np.testing.assert_array_equal(same.zone, plan.zone)
    # candidate sites: the station points; each used site lies in its zone
    sx, sy = libgrid.synth_stations(400, seed=7)
    p2 = libgrid.plan_zones(synth_grid, 6, 8, sites=(sx, sy), adjacency=adj)
    used = p2.site_candidate >= 0
    rows = synth_grid.locate(p2.site_x[used], p2.site_y[used])
    np.testing.assert_array_equal(rows, p2.site[used])
    np.testing.assert_array_equal(p2.site_x[used], sx[p2.site_candidate[used]])
    assert any(p.kind == "no_site" for p in p2.problems) == (p2.n_zones > len(sx))
    p3 = libgrid.plan_zones(synth_grid, 6, 8, sites=np.column_stack([sx, sy]), adjacency=adj)
    np.testing.assert_array_equal(p3.zone, p2.zone)


def test_infeasible_plan_names_cells():
    # a path of 5 cells cannot be cut into zones of 3..4 cells
    grid = libgrid.Grid.synth(10, seed=1)
    adj = libgrid.Adjacency.from_edges(len(grid), [0, 1, 2, 3], [1, 2, 3, 4])
    plan = libgrid.plan_zones(grid, 3, 4, adjacency=adj)
    assert not plan.feasible and plan.problems
    named = set(np.concatenate([p.cells for p in plan.problems]).tolist())
    assert named & set(range(5, 10))  # the isolated cells 5..9 are islands
    check_plan(plan, adj, 3, 4)


def test_validate_zones_reports_violations(synth_grid):
    adj = synth_grid.adjacency()
    plan = libgrid.plan_zones(synth_grid, 6, 8, seed=3, adjacency=adj)
    ok = libgrid.validate_zones(synth_grid, plan.zone, 6, 8, adjacency=adj)
    assert ok.feasible and ok.problems == []
    np.testing.assert_array_equal(ok.zone, plan.zone)
    bad = plan.zone.copy()
    # move one cell of zone 0 into a zone it does not touch -> disconnected + too small/large
    z0 = plan.cells(0)
    far = [k for k in range(plan.n_zones)
           if not set(plan.cells(k)) & set(adj.indices[adj.indptr[z0[0]]:adj.indptr[z0[0] + 1]])
           and k != 0][0]
    bad[z0[0]] = far
    bad[z0[1]] = -1
    res = libgrid.validate_zones(synth_grid, bad, 6, 8, adjacency=adj)
    kinds = {p.kind for p in res.problems}
    assert not res.feasible and {"disconnected", "unassigned"} <= kinds
    dis = [p for p in res.problems if p.kind == "disconnected"][0]
    assert dis.zone == far and z0[0] in dis.cells
    un = [p for p in res.problems if p.kind == "unassigned"][0]
    assert list(un.cells) == [z0[1]] and un.message
    # zones crossing groups
    res = libgrid.validate_zones(synth_grid, np.zeros(len(synth_grid), np.int64), 1,
                                 len(synth_grid), group="station", adjacency=adj)
    assert any(p.kind == "crosses_group" for p in res.problems)
    with pytest.raises(libgrid.ArgumentError):
        libgrid.validate_zones(synth_grid, plan.zone[:-1], adjacency=adj)


def test_zone_argument_errors(synth_grid):
    with pytest.raises(libgrid.ArgumentError):
        libgrid.plan_zones(synth_grid, 8, 6)
    with pytest.raises(libgrid.ArgumentError):
        libgrid.plan_zones(synth_grid, weight=np.ones(3))
    with pytest.raises(libgrid.ArgumentError):
        libgrid.plan_zones(synth_grid, weight=-np.ones(len(synth_grid)))
    with pytest.raises(libgrid.ArgumentError):
        libgrid.plan_zones(synth_grid, adjacency=libgrid.Adjacency.from_edges(3, [0], [1]))
    with pytest.raises(libgrid.ArgumentError):
        libgrid.plan_zones(synth_grid, sites=np.zeros((4, 3)))
    with pytest.raises(libgrid.NotFoundError):
        libgrid.plan_zones(synth_grid, weight="no_such_field")
    with pytest.raises(TypeError):
        libgrid.plan_zones("not a grid")


def test_plan_to_geodataframe(synth_grid, tmp_path):
    gpd = pytest.importorskip("geopandas")
    plan = libgrid.plan_zones(synth_grid, 6, 8, seed=4)
    zones = plan.to_geodataframe(synth_grid)
    assert list(zones["zone"]) == list(range(plan.n_zones))
    np.testing.assert_array_equal(zones["cells"], np.bincount(plan.zone))
    _, _, area = synth_grid.centroids()
    want = np.bincount(plan.zone, weights=area)
    np.testing.assert_allclose(zones.geometry.area, want, rtol=1e-9)
    assert (zones.geometry.geom_type == "Polygon").all()  # contiguous zones dissolve to one
    assert zones.crs.to_epsg() == 4545
    per_cell = plan.to_geodataframe(synth_grid, dissolve=False)
    assert len(per_cell) == len(synth_grid)
    np.testing.assert_array_equal(per_cell["zone"], plan.zone)
    path = tmp_path / "zones.shp"
    zones.to_file(path)
    back = gpd.read_file(path)
    assert len(back) == plan.n_zones and back.crs.to_epsg() == 4545
    with pytest.raises(libgrid.ArgumentError):
        plan.to_geodataframe(libgrid.Grid.synth(20))
