"""A planning session on a generated county, notebook style.

Load (or generate) a county, classify its police stations, plan service-station zones,
measure 10-minute coverage, aggregate a day of incidents and save maps as PNG files.
Runs headless (MPLBACKEND=Agg); tests/python/test_example_planning.py runs it.

    MPLBACKEND=Agg PYTHONPATH=build/bindings/python python3 examples/planning.py [OUTDIR]
"""

import os
import sys

import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import libgrid  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else "planning-out"
os.makedirs(out, exist_ok=True)

# %% 1. The county: 600 patrol cells with station, population and calls fields.
grid = libgrid.Grid.synth(600, seed=42, stations=24)
sx, sy = libgrid.synth_stations(600, seed=42, stations=24)
print(grid)

# %% 2. Stations: border / central / base, workload from calls and population.
stations = libgrid.Stations.from_cells(grid, "station", points=(sx, sy))
plan = libgrid.classify_stations(stations, workload=["calls", "population"],
                                 weights=[2.0, 1.0])
print(plan)
for p in plan.problems:
    print("  problem:", p.message)
st_gdf = plan.to_geodataframe()
ax = st_gdf.plot(column="kind", categorical=True, legend=True, edgecolor="black",
                 figsize=(7, 7))
ax.scatter(sx, sy, s=12, c="black")
ax.set_title("Police stations by class")
plt.savefig(os.path.join(out, "stations.png"), dpi=80)
plt.close("all")

# %% 3. Service-station zones of 6-8 cells inside each station, balanced on calls.
zones = libgrid.plan_zones(grid, min_cells=6, max_cells=8, weight="calls", group="station")
print(zones, {k: round(v, 3) for k, v in list(zones.quality.items())[:4]})
zones.to_geodataframe(grid).plot(column="zone", cmap="tab20", edgecolor="white",
                                 figsize=(7, 7))
plt.title("Service-station zones")
plt.savefig(os.path.join(out, "zones.png"), dpi=80)
plt.close("all")

# %% 4. One-call lookup for an incident: cell, zone, service station, station, class.
hier = libgrid.Hierarchy(grid, plan, zones)
print({k: v[0] for k, v in hier.lookup([sx[0] + 50], [sy[0] + 50]).items()})

# %% 5. Coverage from the stations at 10 minutes: cars at 5 m/s on congested county
# roads, road detour 1.3 (radius = 10 * 60 * 5 / 1.3 = 2.3 km).
TEN_MIN = dict(minutes=10, speed=5.0, detour=1.3)
cov = libgrid.coverage(grid, sx, sy, weight="population", group="station", **TEN_MIN)
print(cov, "uncovered cells:", len(cov.uncovered))
area = libgrid.coverage_area(grid, sx, sy, dissolve=True, **TEN_MIN)
print(area)
ax = cov.to_geodataframe(grid).plot(column="count", cmap="viridis", legend=True,
                                    figsize=(7, 7))
if len(area.uncovered):
    area.uncovered.plot(ax=ax, color="red", alpha=0.6)
ax.set_title("Stations within 10 minutes (red: not reached)")
plt.savefig(os.path.join(out, "coverage.png"), dpi=80)
plt.close("all")

# Where should two new service stations go?
mclp = libgrid.site_mclp(grid, 2, weight="population", existing=(sx, sy), **TEN_MIN)
print("new sites at cells", mclp.sites.tolist(), "gain", mclp.gain.round(1).tolist())

# %% 6. A day of incidents: heat per cell in the evening peak, top hot spots.
rng = np.random.default_rng(1)
minx, miny, maxx, maxy = grid.bounds
hot = rng.integers(0, len(sx), 5)
ix = np.concatenate([rng.uniform(minx, maxx, 3000), rng.normal(sx[hot].repeat(400), 600)])
iy = np.concatenate([rng.uniform(miny, maxy, 3000), rng.normal(sy[hot].repeat(400), 600)])
t = rng.integers(0, 86400, len(ix))
heat = libgrid.heat(grid, ix, iy, time=t, window=(18 * 3600, 23 * 3600), group="station")
rows, score = heat.top(5)
print(heat, "hot spots:", list(zip(rows.tolist(), score.tolist())))
heat.to_geodataframe().plot(column="value", cmap="OrRd", legend=True, figsize=(7, 7))
plt.title("Incidents 18:00-23:00")
plt.savefig(os.path.join(out, "heat.png"), dpi=80)
plt.close("all")

# %% 7. Dispatch: the nearest available traffic-capable units for an incident.
units = libgrid.Units(grid, stations)
n = 60
units.update(np.arange(n), rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n),
             status=rng.choice(["available", "busy"], n), caps="traffic|public_security",
             kind=rng.choice(["car", "motorbike"], n), station=rng.integers(0, len(sx), n))
full = units.nearest_full([ix[0]], [iy[0]], k=3, status="available", caps="traffic")
print("units", full.ids[0].tolist(), "eta s", full.eta[0].round(0).tolist(),
      "cross-station", full.cross_station[0].tolist())
print("maps written to", out)
