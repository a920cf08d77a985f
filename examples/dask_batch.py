#!/usr/bin/env python3
"""Attribute a large point set to cells, zones and stations on Dask, and measure the
speed-up of 2 workers over 1 (see docs/DASK.md).

The points are generated inside the workers (dask.array.random, deterministic for
--seed) so that the client never holds them, as with real data read from Parquet or
CSV partitions; each partition is located with libgrid.dask.locate_partitions and
reduced to call counts per cell, per zone and per station, summed on the scheduler.
Every configuration must give the same counts (checked), and the same as one
grid.locate over all points in this process (--check, costs memory: 16 bytes/point).

  PYTHONPATH=build/bindings/python python3 examples/dask_batch.py --points 20000000
  python3 examples/dask_batch.py --scheduler tcp://10.0.0.5:8786   # an existing cluster
"""

import argparse
import resource
import time

import numpy as np

import dask
import dask.array as da
from distributed import Client, LocalCluster

import libgrid
import libgrid.dask as lgd


def make_points(grid, n, chunk, seed):
    minx, miny, maxx, maxy = grid.bounds
    rs = da.random.RandomState(seed)
    x = rs.uniform(minx, maxx, size=n, chunks=chunk)
    y = rs.uniform(miny, maxy, size=n, chunks=chunk)
    return x, y


def counts(grid, plan, x, y):
    """Calls per cell, per zone and per station (index -1 -> last slot: outside)."""
    res = lgd.locate_partitions(grid, (x, y), ids=False,
                                hierarchy={"zone": plan.zone, "station": grid["station"]})
    n_st = int(np.max(grid["station"])) + 1
    return {
        "cell": da.bincount(res["cell"] + 1, minlength=len(grid) + 1),
        "zone": da.bincount(res["zone"] + 1, minlength=plan.n_zones + 1),
        "station": da.bincount(res["station"] + 1, minlength=n_st + 1),
    }


def worker_cpu(client):
    """CPU seconds (user + system) used so far by every worker process."""
    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    return sum(client.run(cpu).values())


def run(client, grid, plan, args):
    x, y = make_points(grid, args.points, args.chunk, args.seed)
    t0 = time.perf_counter()
    out = dask.compute(counts(grid, plan, x, y))[0]
    return time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=10000)
    ap.add_argument("--points", type=int, default=20_000_000)
    ap.add_argument("--chunk", type=int, default=1_000_000, help="points per partition")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per configuration")
    ap.add_argument("--scheduler", default=None,
                    help="address of an existing cluster (tcp://host:8786); default: "
                         "LocalClusters of 1 and 2 single-threaded worker processes")
    ap.add_argument("--check", action="store_true",
                    help="also locate all points in this process and compare")
    args = ap.parse_args()

    grid = libgrid.Grid.synth(args.cells, seed=args.seed)
    plan = libgrid.plan_zones(grid, 6, 8, weight="calls", seed=args.seed)
    print("%d cells, %d zones, %d points in partitions of %d"
          % (len(grid), plan.n_zones, args.points, args.chunk))

    if args.scheduler:
        configs = [("cluster " + args.scheduler, lambda: Client(args.scheduler))]
    else:
        def local(n, threads=1):
            def make():
                cluster = LocalCluster(n_workers=n, threads_per_worker=threads, processes=True,
                                       dashboard_address=None, silence_logs=40)
                return Client(cluster)
            return make
        # two processes hold two copies of the grid; one process with two threads shares
        # one (locate releases the GIL)
        configs = [("1 worker", local(1)), ("2 workers", local(2)),
                   ("1 worker x 2 threads", local(1, 2))]

    results = {}
    for label, make in configs:
        client = make()
        try:
            run(client, grid, plan, args)  # warm-up: workers import libgrid, get the grid
            times = []
            cpu0 = worker_cpu(client)
            for _ in range(args.repeat):
                t, out = run(client, grid, plan, args)
                times.append(t)
            cpu = worker_cpu(client) - cpu0
            results[label] = (float(np.median(times)), out)
            # busy cores: worker CPU seconds per wall second (the machine may be shared)
            print("%-20s median %.2f s over %d runs (%.0f ns/point), workers busy %.2f cores, "
                  "%.2f CPU s per run" % (label, results[label][0], args.repeat,
                                          1e9 * results[label][0] / args.points,
                                          cpu / sum(times), cpu / args.repeat))
        finally:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()

    outs = [out for _, out in results.values()]
    for other in outs[1:]:
        for k in outs[0]:
            assert np.array_equal(outs[0][k], other[k]), "configurations disagree on " + k
    for label in results:
        if label != "1 worker" and "1 worker" in results:
            print("speed-up %s / 1 worker: %.2fx"
                  % (label, results["1 worker"][0] / results[label][0]))
    if args.check:
        x, y = make_points(grid, args.points, args.chunk, args.seed)
        t0 = time.perf_counter()
        xs, ys = dask.compute(x, y, scheduler="sync")
        rows = grid.locate(xs, ys)
        t = time.perf_counter() - t0
        want = np.bincount(rows + 1, minlength=len(grid) + 1)
        assert np.array_equal(want, outs[0]["cell"]), "Dask differs from one grid.locate"
        print("single process (numpy + grid.locate, no Dask): %.2f s; counts identical" % t)
    print("outside every cell: %d points" % outs[0]["cell"][0])


if __name__ == "__main__":
    main()
