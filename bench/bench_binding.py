#!/usr/bin/env python3
"""Overhead of the Python binding: batch locate of 1,000,000 points through
libgrid.Grid.locate against the same batch through the C API (bench_locate_batch).

Both sides generate the same county (Grid.synth / lg_synth_county with --cells,
--seed) and the same points: splitmix64 draws, x of point i from draw 2i and y from
draw 2i+1, uniform in the county's bounds (reproduced here with numpy, bit for bit;
a checksum of the answers proves both sides located the same batch). Each side is
timed --runs times after a warm-up; rounds alternate C and Python so machine noise
hits both. The figure of merit is median(Python) / median(C) (target <= 1.3).

Also timed, to show where overhead would come from: float32 input (a conversion
copy), strided input (x[::2] of a 2M array: a gather copy), and a list input.

Usage:
  PYTHONPATH=build/bindings/python python3 bench/bench_binding.py \\
      --c-bench build/bench/bench_locate_batch [--cells 10000] [--points 1000000]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

import libgrid

GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix_draws(seed: int, n: int) -> np.ndarray:
    """The first n outputs of splitmix64 seeded with seed (as bench_locate_batch.c)."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + GOLDEN * np.arange(1, n + 1, dtype=np.uint64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def points(grid: libgrid.Grid, seed: int, n: int):
    minx, miny, maxx, maxy = grid.bounds
    u = (splitmix_draws(seed, 2 * n) >> np.uint64(11)).astype(np.float64)
    u *= 1.0 / 9007199254740992.0
    x = minx + (maxx - minx) * u[0::2]
    y = miny + (maxy - miny) * u[1::2]
    return np.ascontiguousarray(x), np.ascontiguousarray(y)


def time_py(fn, runs: int):
    fn()  # warm-up
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return t


def run_c(path: str, cells: int, n: int, seed: int, runs: int):
    out = subprocess.run([path, "--cells", str(cells), "--points", str(n), "--seed", str(seed),
                          "--runs", str(runs)], check=True, capture_output=True, text=True)
    kv = dict(item.split("=") for item in out.stdout.split())
    return float(kv["median_s"]), int(kv["checksum"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=10000)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=7, help="timed runs per round and side")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--c-bench", default=None, help="path of bench_locate_batch")
    args = ap.parse_args()

    grid = libgrid.Grid.synth(args.cells, seed=args.seed)
    x, y = points(grid, args.seed, args.points)
    rows = grid.locate(x, y)
    checksum = int((rows + 1).sum(dtype=np.uint64)) % (1 << 64)
    print("libgrid %s, %d cells, %d points, checksum %d"
          % (libgrid.__version__, len(grid), args.points, checksum))

    py_t, c_t = [], []
    for _ in range(args.rounds):
        if args.c_bench:
            med, csum = run_c(args.c_bench, args.cells, args.points, args.seed, args.runs)
            if csum != checksum:
                print("checksum mismatch: C %d, Python %d" % (csum, checksum))
                return 1
            c_t.append(med)
        py_t.append(statistics.median(time_py(lambda: grid.locate(x, y), args.runs)))
    py = statistics.median(py_t)
    print("python grid.locate (float64, contiguous): median %.4f s  (%.1f ns/point)"
          % (py, 1e9 * py / args.points))
    if c_t:
        c = statistics.median(c_t)
        print("C lg_layer_locate_many                 : median %.4f s  (%.1f ns/point)"
              % (c, 1e9 * c / args.points))
        print("ratio python / C: %.3f (medians of %d rounds x %d runs)"
              % (py / c, args.rounds, args.runs))

    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    xs = np.repeat(x, 2)[::2]
    ys = np.repeat(y, 2)[::2]
    for label, fn in (("float32 input (converted)", lambda: grid.locate(x32, y32)),
                      ("strided input (gathered)", lambda: grid.locate(xs, ys)),
                      ("Python lists", lambda: grid.locate(xl, yl))):
        if label == "Python lists":
            xl, yl = x.tolist(), y.tolist()
        t = statistics.median(time_py(fn, max(3, args.runs // 2)))
        print("python %-34s: median %.4f s  (x%.2f of contiguous float64)" % (label, t, t / py))
    return 0


if __name__ == "__main__":
    sys.exit(main())
