"""The Dask path: libgrid.dask.locate_partitions on a 2-process LocalCluster (and with
no cluster) gives exactly what one grid.locate over the whole set gives."""

import numpy as np
import pytest

import libgrid

pytestmark = pytest.mark.filterwarnings("ignore:make_current is deprecated:DeprecationWarning")

dask = pytest.importorskip("dask", reason="dask is not installed (apt-get install python3-dask)")
dd = pytest.importorskip("dask.dataframe", reason="dask.dataframe needs pandas")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip(
    "distributed", reason="distributed is not installed (apt-get install python3-distributed)")
pd = pytest.importorskip("pandas")

import libgrid.dask as lgd  # noqa: E402

N = 200_000
PARTS = 8


@pytest.fixture(scope="module")
def points(synth_grid):
    rng = np.random.default_rng(2024)
    minx, miny, maxx, maxy = synth_grid.bounds
    x = rng.uniform(minx - 300, maxx + 300, N)  # some points fall outside
    y = rng.uniform(miny - 300, maxy + 300, N)
    return x, y


@pytest.fixture(scope="module")
def expected(synth_grid, points):
    rows = synth_grid.locate(*points)
    plan = libgrid.plan_zones(synth_grid, 6, 8, seed=1)
    station = np.asarray(synth_grid["station"])
    ids = np.asarray(synth_grid.ids)
    return {
        "cell": rows,
        "cell_id": np.where(rows >= 0, ids[rows], -1),
        "zone": np.where(rows >= 0, plan.zone[rows], -1),
        "station": np.where(rows >= 0, station[rows], -1),
        "plan": plan,
    }


def frame(points):
    x, y = points
    df = pd.DataFrame({"x": x, "y": y, "k": np.arange(N)})
    return dd.from_pandas(df, npartitions=PARTS)


def check_frame(out, expected):
    out = out.sort_values("k")
    assert out["k"].to_numpy().tolist() == list(range(N))
    for name in ("cell", "cell_id", "zone", "station"):
        assert out[name].dtype == np.int64, name
        np.testing.assert_array_equal(out[name].to_numpy(), expected[name], err_msg=name)
    assert (expected["cell"] == -1).any() and (expected["cell"] >= 0).any()


def test_without_cluster(synth_grid, points, expected):
    """No distributed client: the grid is one dask.delayed node of the graph."""
    ddf = frame(points)
    out = lgd.locate_partitions(synth_grid, ddf, hierarchy={
        "zone": expected["plan"].zone, "station": synth_grid["station"]})
    assert out.npartitions == PARTS
    check_frame(out.compute(scheduler="threads"), expected)
    # dask arrays in, dask arrays out
    xs = da.from_array(points[0], chunks=N // PARTS)
    ys = da.from_array(points[1], chunks=N // PARTS)
    res = lgd.locate_partitions(synth_grid, (xs, ys), hierarchy=["station"])
    assert set(res) == {"cell", "cell_id", "station"}
    np.testing.assert_array_equal(res["cell"].compute(scheduler="sync"), expected["cell"])
    np.testing.assert_array_equal(res["station"].compute(scheduler="sync"),
                                  expected["station"])


def test_bad_arguments(synth_grid, points):
    ddf = frame(points)
    with pytest.raises(libgrid.ArgumentError):
        lgd.locate_partitions(synth_grid, ddf, x="lon")
    with pytest.raises(libgrid.ArgumentError):
        lgd.locate_partitions(synth_grid, ddf, out="k", ids=False)
    with pytest.raises(libgrid.ArgumentError):
        lgd.locate_partitions(synth_grid, ddf, hierarchy={"zone": np.zeros(3)})
    with pytest.raises(libgrid.NotFoundError):
        lgd.locate_partitions(synth_grid, ddf, hierarchy=["nope"])
    with pytest.raises(TypeError):
        lgd.locate_partitions(synth_grid, points[0])
    with pytest.raises(TypeError):
        lgd.locate_partitions("grid", ddf)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def test_local_cluster_matches_single_process(synth_grid, points, expected, client):
    ddf = frame(points)
    out = lgd.locate_partitions(synth_grid, ddf, hierarchy={
        "zone": expected["plan"].zone, "station": synth_grid["station"]})
    check_frame(out.compute(), expected)
    # the work ran in both worker processes
    xs = da.from_array(points[0], chunks=N // PARTS)
    ys = da.from_array(points[1], chunks=N // PARTS)
    res = lgd.locate_partitions(synth_grid, (xs, ys))
    np.testing.assert_array_equal(res["cell"].compute(), expected["cell"])


def test_local_cluster_ships_the_grid_once_per_worker(synth_grid, client):
    lookup = lgd.Lookup(synth_grid)
    ref = lgd._ship(lookup)
    assert isinstance(ref, distributed.Future)
    holders = client.who_has([ref])[ref.key]
    assert len(holders) == 2  # broadcast: a copy on every worker, before any task runs
    # a worker unpickles a working grid
    n = client.submit(lambda lk: len(lk.grid), ref).result(timeout=30)
    assert n == len(synth_grid)


def test_local_cluster_crs(synth_grid, client):
    pyproj = pytest.importorskip("pyproj")
    rng = np.random.default_rng(8)
    minx, miny, maxx, maxy = synth_grid.bounds
    x = rng.uniform(minx, maxx, 20000)
    y = rng.uniform(miny, maxy, 20000)
    lon, lat = pyproj.Transformer.from_crs("EPSG:4545", "EPSG:4326", always_xy=True).transform(x, y)
    ddf = dd.from_pandas(pd.DataFrame({"lon": lon, "lat": lat}), npartitions=4)
    out = lgd.locate_partitions(synth_grid, ddf, x="lon", y="lat", crs="EPSG:4326",
                                ids=False).compute()
    np.testing.assert_array_equal(out["cell"].to_numpy(),
                                  synth_grid.locate(lon, lat, crs="EPSG:4326"))
