#!/usr/bin/env python3
"""Plot time per point against layer size from bench_locate's CSV.

Usage: plot_locate.py bench.csv locate.png
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(src, dst):
    rows = [r for r in csv.DictReader(open(src)) if r["layer"] == "generated county"]
    if not rows:
        sys.exit("plot_locate.py: no generated-county rows in " + src)
    cells = [int(r["cells"]) for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label in [("ns_single", "libgrid, one call per point"),
                       ("ns_batch", "libgrid, batch"),
                       ("ns_2threads", "libgrid, batch on 2 threads"),
                       ("ns_geos", "GEOS STRtree + prepared covers")]:
        ax.plot(cells, [float(r[key]) for r in rows], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("cells in the layer")
    ax.set_ylabel("ns per point (median)")
    ax.set_title("Locate: time per point against layer size (uniform random points)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(dst, dpi=120)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
