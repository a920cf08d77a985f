"""Stations, the hierarchy lookup, units and run cards, coverage, siting and heat.

Thin Python classes over the C objects of ``_libgrid``; every name here is re-exported
by the ``libgrid`` package (import from there). Arrays go in and come out as numpy;
the batch calls release the GIL and honour Ctrl-C.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _libgrid
from . import Adjacency, ArgumentError, Grid, NotFoundError  # defined before this import

__all__ = [
    "STATION_KINDS", "UNIT_KINDS", "UNIT_STATUSES", "UNIT_CAPS", "PLAN_PROBLEMS",
    "Stations", "StationProblem", "StationPlan", "classify_stations", "validate_stations",
    "Hierarchy", "Units", "NearestResult", "RunCards", "run_cards",
    "Coverage", "coverage", "AreaCoverage", "coverage_area", "Siting", "site_mclp",
    "site_lscp", "Heat", "heat", "transform",
]

#: lg_station_kind values (plan.h); 0 means "no class".
STATION_KINDS: Dict[str, int] = {"central": 1, "base": 2, "border": 3}
#: Named unit kinds (units.h, LG_UNIT_*); kinds are 0..15.
UNIT_KINDS: Dict[str, int] = {"car": 0, "motorbike": 1, "foot": 2, "bicycle": 3, "van": 4}
#: Named statuses (units.h, LG_STATUS_*); statuses are 0..31.
UNIT_STATUSES: Dict[str, int] = {"available": 0, "en_route": 1, "on_scene": 2, "busy": 3,
                                 "off_duty": 4}
#: Named capability bits (units.h, LG_CAP_*); 32 bits, the rest are the caller's.
UNIT_CAPS: Dict[str, int] = {"public_security": 1, "traffic": 2, "medical": 4, "armed": 8}
#: lg_plan_problem_code -> name.
PLAN_PROBLEMS: Dict[int, str] = {
    1: "bad_kind", 2: "base_no_central", 3: "central_not_central", 4: "base_not_adjacent",
    5: "too_few_bases", 6: "too_many_bases", 7: "border_off_boundary",
    8: "boundary_not_border", 9: "station_no_cells", 10: "cell_no_station",
    11: "unexpected_central", 12: "isolated", 13: "component_size", 14: "unplaced",
}
_KIND_NAMES = np.array(["", "central", "base", "border"], dtype=object)

ArrayLike = Any


def _check_grid(grid: Any, what: str) -> Grid:
    if not isinstance(grid, Grid):
        raise TypeError("%s: expected a libgrid.Grid, not %s" % (what, type(grid).__name__))
    return grid


def _f64(a: Any) -> np.ndarray:
    return np.ascontiguousarray(np.atleast_1d(np.asarray(a, dtype=np.float64)).ravel())


def _xy_pair(points: Any, what: str) -> Tuple[np.ndarray, np.ndarray]:
    """(x, y) from a (x, y) tuple or an (n, 2) array."""
    if isinstance(points, tuple) and len(points) == 2:
        return _f64(points[0]), _f64(points[1])
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ArgumentError("%s: expected (x, y) or an (n, 2) array of points" % what)
    return np.ascontiguousarray(arr[:, 0]), np.ascontiguousarray(arr[:, 1])


def _per_cell_values(grid: Grid, value: Any, what: str, dtype: Any, null: Any) -> Optional[np.ndarray]:
    """A per-cell array from an array or a field name (nulls -> null)."""
    if value is None:
        return None
    if isinstance(value, str):
        col = grid[value]
        if isinstance(col, np.ma.MaskedArray):
            col = col.filled(null)
        arr = np.asarray(col)
        if arr.dtype == object:
            if dtype == np.int64:  # text: numbered in order of first appearance
                codes: Dict[Any, int] = {}
                return np.array([null if v is None else codes.setdefault(v, len(codes))
                                 for v in arr.tolist()], dtype=np.int64)
            raise ArgumentError("%s: field '%s' is text, not numeric" % (what, value))
        if arr.dtype.kind == "f" and dtype == np.int64:
            arr = np.where(np.isnan(arr), null, arr)
        return np.ascontiguousarray(arr, dtype=dtype)
    arr = np.ascontiguousarray(value, dtype=dtype)
    if arr.shape != (len(grid),):
        raise ArgumentError("%s: expected %d values (one per cell), got shape %s"
                            % (what, len(grid), arr.shape))
    return arr


def _as_grid(obj: Any, crs: Optional[str], what: str) -> Optional[Grid]:
    """A Grid from a Grid, a GeoDataFrame/GeoSeries or a shapely geometry (or None)."""
    if obj is None or isinstance(obj, Grid):
        return obj
    geoms = getattr(obj, "geometry", None)
    if geoms is not None and hasattr(obj, "crs") and hasattr(geoms, "to_wkb"):
        wkb = list(geoms.to_wkb())
        c = crs
        if obj.crs is not None:
            epsg = obj.crs.to_epsg()
            c = "EPSG:%d" % epsg if epsg is not None else obj.crs.to_wkt()
        return Grid.from_wkb(wkb, crs=c)
    if hasattr(obj, "wkb"):
        return Grid.from_wkb([obj.wkb], crs=crs)
    raise TypeError("%s: expected a libgrid.Grid, a GeoDataFrame or a shapely geometry" % what)


def _names_list(v: Union[None, str, Sequence[str]]) -> Optional[List[str]]:
    if v is None:
        return None
    return [v] if isinstance(v, str) else [str(s) for s in v]


def transform(x: ArrayLike, y: ArrayLike, src: str, dst: str) -> Tuple[np.ndarray, np.ndarray]:
    """Transform points from CRS ``src`` to ``dst`` (PROJ strings, EPSG codes, WKT,
    "GCJ-02", "BD-09"); returns float64 copies, NaN where a point fails.
    Axis order is always x = easting/longitude. Raises CRSError for a bad CRS."""
    return _libgrid.transform(src, dst, _f64(x), _f64(y))


def _to_grid_crs(grid: Optional[Grid], x: Any, y: Any,
                 crs: Optional[str]) -> Tuple[np.ndarray, np.ndarray]:
    x, y = _f64(x), _f64(y)
    if crs is None or grid is None or grid.crs is None or crs == grid.crs:
        return x, y
    return _libgrid.transform(crs, grid.crs, x, y)


# ================================================================== stations


class StationProblem(NamedTuple):
    """A problem of a station plan.

    ``kind``: a name of :data:`PLAN_PROBLEMS` ("base_not_adjacent", "too_few_bases",
    "border_off_boundary", "isolated", ...); ``code`` the C lg_plan_problem_code;
    ``station`` the station row concerned (-1 for a cell problem); ``related`` the
    central station, the cell... (-1 if none); ``message`` names the stations.
    """

    kind: str
    code: int
    station: int
    related: int
    message: str


class Stations:
    """Police stations: jurisdictions, optional station points, workload per station,
    the cells of each station and the station adjacency graph (``lg_stations``).

    Make one with :meth:`from_cells` (jurisdiction = the union of the cells whose
    station field names the station) or :meth:`from_layer` (a Grid of jurisdiction
    polygons, one row per station). Immutable.
    """

    __slots__ = ("_st", "_grids")

    def __init__(self, _st: Any, _grids: Tuple[Optional[Grid], Optional[Grid]]) -> None:
        """Internal: use Stations.from_cells or Stations.from_layer."""
        if not isinstance(_st, _libgrid.Stations):
            raise TypeError("use Stations.from_cells or Stations.from_layer")
        self._st = _st
        self._grids = _grids  # (jurisdiction grid or None, cell grid or None)

    @classmethod
    def from_cells(
        cls,
        grid: Grid,
        station_field: str,
        points: Any = None,
        workload: Union[None, str, Sequence[str]] = None,
        n_stations: Optional[int] = None,
        gap_m: float = 2.0,
        min_shared_m: float = 1.0,
    ) -> "Stations":
        """Stations from the cells of ``grid`` and its station field.

        An int field holds the station row (0..n-1); a text field station names,
        numbered in order of first appearance. Null or negative: a cell with no station.
        :param points: station points ``(x, y)`` or an (n, 2) array (grid CRS), one per
            station, or None.
        :param workload: numeric fields to carry (summed over each station's cells;
            nulls count 0); None: every numeric field but the id and station fields.
        :param n_stations: with an int field, the number of stations (None: largest+1).
        :param gap_m, min_shared_m: adjacency tolerances (see :meth:`Grid.adjacency`).
        :raises NotFoundError: no such field. Releases the GIL.
        """
        _check_grid(grid, "Stations.from_cells")
        px = py = None
        if points is not None:
            px, py = _xy_pair(points, "Stations.from_cells: points")
        st = _libgrid.stations(None, grid._layer, station_field, px, py, _names_list(workload),
                               int(n_stations or 0), float(gap_m), float(min_shared_m))
        return cls(st, (None, grid))

    @classmethod
    def from_layer(
        cls,
        stations: Any,
        cells: Optional[Grid] = None,
        station_field: Optional[str] = None,
        points: Any = None,
        workload: Union[None, str, Sequence[str]] = None,
        gap_m: float = 2.0,
        min_shared_m: float = 1.0,
    ) -> "Stations":
        """Stations from a Grid (or GeoDataFrame) of jurisdiction polygons, one row per
        station, named by its id field (or row numbers). ``cells`` (optional) link to the
        stations through ``station_field``, whose values are ids of ``stations``.
        A workload field is read from the station grid when it has it, else summed
        over the cells."""
        sgrid = _as_grid(stations, None, "Stations.from_layer")
        if cells is not None:
            _check_grid(cells, "Stations.from_layer")
        px = py = None
        if points is not None:
            px, py = _xy_pair(points, "Stations.from_layer: points")
        st = _libgrid.stations(sgrid._layer, None if cells is None else cells._layer,
                               station_field, px, py, _names_list(workload), 0, float(gap_m),
                               float(min_shared_m))
        return cls(st, (sgrid, cells))

    def __len__(self) -> int:
        """Number of stations."""
        return len(self._st)

    def __repr__(self) -> str:
        return "<libgrid.Stations %d stations%s>" % (
            len(self), "" if self.cells is None else " over %d cells" % len(self.cells))

    @property
    def names(self) -> List[str]:
        """Station names by row (text id, integer id or row number as text)."""
        return self._st.names()

    @property
    def points(self) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """(x, y) of the station points, or None when none were given."""
        return self._st.points()

    @property
    def cells(self) -> Optional[Grid]:
        """The cell grid, or None when built without cells."""
        return self._grids[1]

    @property
    def cell_station(self) -> Optional[np.ndarray]:
        """Station row of each cell (int64, -1: none), or None without cells."""
        return self._st.cell_station()

    @property
    def cell_counts(self) -> np.ndarray:
        """Number of cells of each station (int64)."""
        return self._st.cell_counts()

    @property
    def workload(self) -> Dict[str, np.ndarray]:
        """Workload fields: name -> float64 value per station."""
        return self._st.workload()

    def adjacency(self) -> Adjacency:
        """Station adjacency (shared jurisdiction boundary length) as an Adjacency."""
        return Adjacency(self._st.graph())

    @property
    def jurisdictions(self) -> Grid:
        """Jurisdictions as a Grid, one row per station (for from_cells: the GEOS union of
        each station's cells)."""
        return Grid(self._st.jurisdictions(), "jurisdictions")


class StationPlan:
    """A station plan: a class and a coordinating central station per station.

    Attributes: ``kind`` (object array of 'central' / 'base' / 'border', '' where
    unknown), ``kind_code`` (int32, lg_station_kind), ``central`` (int64: row of the
    coordinating central station of base stations, -1 otherwise), ``score`` (float64
    workload score, None for a validated plan), ``feasible``, ``problems`` (list of
    :class:`StationProblem`), ``stations`` (the :class:`Stations`), ``names``.
    Made by :func:`classify_stations` and :func:`validate_stations`.
    """

    def __init__(self, stations: Stations, kind: np.ndarray, central: np.ndarray,
                 score: Optional[np.ndarray], feasible: bool, problems: List[Tuple]) -> None:
        """Internal: use classify_stations or validate_stations."""
        self.stations = stations
        self.kind_code = np.asarray(kind, dtype=np.int32)
        codes = np.where((self.kind_code >= 0) & (self.kind_code <= 3), self.kind_code, 0)
        self.kind = _KIND_NAMES[codes]
        self.central = np.asarray(central, dtype=np.int64)
        self.score = score
        self.feasible = bool(feasible)
        self.problems = [StationProblem(PLAN_PROBLEMS.get(c, "unknown"), c, r, rel, m)
                         for c, r, rel, m in problems]

    @property
    def names(self) -> List[str]:
        """Station names by row."""
        return self.stations.names

    def __len__(self) -> int:
        """Number of stations."""
        return len(self.kind)

    def __repr__(self) -> str:
        counts = {k: int(np.sum(self.kind == k)) for k in STATION_KINDS}
        return "<libgrid.StationPlan %d central, %d base, %d border, feasible=%s, %d problems>" % (
            counts["central"], counts["base"], counts["border"], self.feasible,
            len(self.problems))

    def bases(self, central: int) -> np.ndarray:
        """Rows of the base stations coordinated by central station ``central``."""
        return np.nonzero((self.central == int(central)) & (self.kind == "base"))[0]

    def to_geodataframe(self) -> Any:
        """The plan as a GeoDataFrame of jurisdictions (dissolved cells for stations
        built from cells): columns station (row), name, kind, central (row, -1 none),
        central_name, score, cells, the workload fields, geometry."""
        import geopandas as gpd

        jur = self.stations.jurisdictions
        names = self.names
        data: Dict[str, Any] = {
            "station": np.arange(len(self), dtype=np.int64),
            "name": names,
            "kind": self.kind,
            "central": self.central,
            "central_name": [names[c] if 0 <= c < len(names) and c != i else None
                             for i, c in enumerate(self.central.tolist())],
            "score": self.score if self.score is not None else np.full(len(self), np.nan),
            "cells": self.stations.cell_counts,
        }
        for k, v in self.stations.workload.items():
            if k not in data:
                data[k] = v
        geoms = gpd.GeoSeries.from_wkb([jur.wkb(i) for i in range(len(jur))], crs=jur.crs)
        return gpd.GeoDataFrame(data, geometry=geoms, crs=jur.crs)


def _stations_arg(stations: Any, station_field: Optional[str], workload: Any) -> Stations:
    if isinstance(stations, Stations):
        return stations
    if isinstance(stations, Grid) and station_field is not None:
        return Stations.from_cells(stations, station_field)
    if isinstance(stations, Grid) or hasattr(stations, "geometry"):
        return Stations.from_layer(stations)
    raise TypeError("expected libgrid.Stations, a Grid of jurisdictions or a Grid of cells "
                    "with station_field, not %s" % type(stations).__name__)


def _classify_kw(st: Stations, region: Any, neighbours: Any, workload: Any, weights: Any,
                 min_bases: int, max_bases: int, border_min_m: float,
                 border_gap_m: float) -> Dict[str, Any]:
    if min_bases < 1 or max_bases < min_bases:
        raise ArgumentError("stations: need 1 <= min_bases <= max_bases, got %d..%d"
                            % (min_bases, max_bases))
    if not (border_min_m > 0 and border_gap_m > 0):
        raise ArgumentError("stations: border_min_m and border_gap_m must be > 0")
    crs = st.jurisdictions.crs
    reg = _as_grid(region, crs, "region")
    nb = _as_grid(neighbours, crs, "neighbours")
    wl = _names_list(workload)
    w = None
    if weights is not None:
        if wl is None:
            raise ArgumentError("stations: weights need workload field names")
        w = np.ascontiguousarray(weights, dtype=np.float64)
    return dict(region=None if reg is None else reg._layer,
                neighbours=None if nb is None else nb._layer, workload=wl, weights=w,
                min_bases=int(min_bases), max_bases=int(max_bases),
                border_min_m=float(border_min_m), border_gap_m=float(border_gap_m))


def classify_stations(
    stations: Any,
    region: Any = None,
    workload: Union[None, str, Sequence[str]] = None,
    min_bases: int = 1,
    max_bases: int = 2,
    weights: Optional[Sequence[float]] = None,
    neighbours: Any = None,
    border_min_m: float = 100.0,
    border_gap_m: float = 2.0,
    station_field: Optional[str] = None,
) -> StationPlan:
    """Plan station classes (docs/ZONES.md, libgrid/stations.c).

    Border stations share at least ``border_min_m`` of boundary (within
    ``border_gap_m``) with the region's outer boundary or a neighbouring county. The
    others form stars: a central station with ``min_bases``..``max_bases`` adjacent base
    stations, balancing each group's summed workload score; the central station of a
    group is its highest-scoring possible centre. Score = sum of weight * value / max.

    :param stations: a :class:`Stations`, a Grid (or GeoDataFrame) of jurisdictions, or
        a Grid of cells together with ``station_field``.
    :param region: the county: a Grid, GeoDataFrame or shapely geometry (same CRS);
        None: the union of all jurisdictions.
    :param workload: fields of the score (None: every workload field); ``weights`` one
        per field (None: 1 each).
    :param neighbours: neighbouring counties (Grid/GeoDataFrame), or None.
    :returns: a :class:`StationPlan`; when no plan meets the bounds, the best plan found
        with ``feasible`` False and ``problems`` naming the stations that make it
        impossible (plus every violation of the plan returned). Releases the GIL.
    """
    st = _stations_arg(stations, station_field, workload)
    kw = _classify_kw(st, region, neighbours, workload, weights, min_bases, max_bases,
                      border_min_m, border_gap_m)
    kind, central, score, feasible, problems = st._st.classify(**kw)
    return StationPlan(st, kind, central, score, feasible, problems)


def _kind_codes(kind: Any, n: int) -> np.ndarray:
    arr = np.asarray(kind)
    if arr.shape != (n,):
        raise ArgumentError("stations: expected %d kinds (one per station), got shape %s"
                            % (n, arr.shape))
    if arr.dtype.kind in "iu":
        return np.ascontiguousarray(arr, dtype=np.int32)
    out = np.zeros(n, dtype=np.int32)
    for i, v in enumerate(arr.tolist()):
        if isinstance(v, str):
            out[i] = STATION_KINDS.get(v.lower(), 0 if v == "" else -1)
        elif v is None:
            out[i] = 0
        else:
            out[i] = int(v)
    return out


def validate_stations(
    stations: Any,
    kind: Any,
    central: Any,
    region: Any = None,
    min_bases: int = 1,
    max_bases: int = 2,
    neighbours: Any = None,
    border_min_m: float = 100.0,
    border_gap_m: float = 2.0,
    station_field: Optional[str] = None,
) -> StationPlan:
    """Check any station plan (ours or a user's) and report every violation: a base
    station not adjacent to its central station, a central station with too few or too
    many bases, a border station off the boundary (or a boundary station not marked
    border), a station with no cells, a cell with no station, a bad kind.

    :param kind: per station 'central' / 'base' / 'border' (or 1 / 2 / 3).
    :param central: per station the row of its central station (-1: none; a central or
        border station may name itself).
    :returns: a :class:`StationPlan` with ``score`` None and ``feasible`` = no problems.
    """
    st = _stations_arg(stations, station_field, None)
    kw = _classify_kw(st, region, neighbours, None, None, min_bases, max_bases, border_min_m,
                      border_gap_m)
    n = len(st)
    k = _kind_codes(kind, n)
    c = np.ascontiguousarray(central, dtype=np.int64)
    if c.shape != (n,):
        raise ArgumentError("stations: expected %d central rows (one per station), got shape %s"
                            % (n, c.shape))
    kind_o, central_o, _, feasible, problems = st._st.classify(kind=k, central=c, **kw)
    return StationPlan(st, kind_o, central_o, None, feasible, problems)


# ================================================================= hierarchy


class Hierarchy:
    """Point -> cell, service-station zone, service station, police station, its class
    and its coordinating central station, in one batch call (``lg_hierarchy``).

    :param grid: the cell grid (the one the stations were built from).
    :param stations_plan: a :class:`StationPlan` (or a :class:`Stations`: classes unknown);
        its stations must have been built from cells (:meth:`Stations.from_cells`).
    :param zones_plan: a :class:`ZonePlan` of the same cells (zone and service-station
        level), or None.
    Immutable; ``lookup`` releases the GIL and may run in many threads at once.
    """

    __slots__ = ("_h", "grid", "plan", "zones")

    def __init__(self, grid: Grid, stations_plan: Any, zones_plan: Any = None) -> None:
        """Build the lookup (see the class docstring). ArgumentError when the stations
        were not built from ``grid``'s cells or the zone plan has another cell count."""
        _check_grid(grid, "Hierarchy")
        if isinstance(stations_plan, StationPlan):
            st, kind, central = stations_plan.stations, stations_plan.kind_code, stations_plan.central
        elif isinstance(stations_plan, Stations):
            st, kind, central = stations_plan, None, None
        else:
            raise TypeError("Hierarchy: expected a StationPlan or Stations, not %s"
                            % type(stations_plan).__name__)
        if st.cells is None or len(st.cells) != len(grid):
            raise ArgumentError("Hierarchy: the stations were not built from this grid's %d cells"
                                " (use Stations.from_cells(grid, ...))" % len(grid))
        cz = zs = None
        if zones_plan is not None:
            cz = np.ascontiguousarray(zones_plan.zone, dtype=np.int64)
            zs = np.ascontiguousarray(zones_plan.site, dtype=np.int64)
            if len(cz) != len(grid):
                raise ArgumentError("Hierarchy: the zone plan has %d cells, the grid %d"
                                    % (len(cz), len(grid)))
        self._h = _libgrid.hierarchy(st._st, kind, central, cz, zs)
        self.grid = grid
        self.plan = stations_plan
        self.zones = zones_plan

    def lookup(self, x: ArrayLike, y: ArrayLike, crs: Optional[str] = None) -> Dict[str, np.ndarray]:
        """Answer for points (x, y) (grid CRS, or ``crs``: e.g. "EPSG:4326" lon/lat).

        :returns: a dict of arrays of x's shape: ``cell``, ``zone``, ``service_station``
            (the zone's site cell), ``station``, ``central`` (int64, -1 where none),
            ``kind`` (object array of 'central'/'base'/'border'/'') and ``kind_code``
            (int32, 0 none). Base -> its central; central -> itself; border -> -1.
        """
        shape = np.shape(x)
        xs, ys = _to_grid_crs(self.grid, x, y, crs)
        cell, zone, site, station, kind, central = self._h.lookup(xs, ys)
        codes = np.where((kind >= 0) & (kind <= 3), kind, 0)
        out = {"cell": cell, "zone": zone, "service_station": site, "station": station,
               "kind": _KIND_NAMES[codes], "kind_code": kind, "central": central}
        return {k: v.reshape(shape) for k, v in out.items()}


# ===================================================================== units


def _code(v: Any, table: Dict[str, int], what: str, limit: int) -> int:
    if isinstance(v, str):
        key = v.strip().lower().replace(" ", "_").replace("-", "_")
        if key not in table:
            raise ArgumentError("unknown %s '%s' (known: %s, or an int 0..%d)"
                                % (what, v, ", ".join(table), limit - 1))
        return table[key]
    i = int(v)
    if not 0 <= i < limit:
        raise ArgumentError("%s %d out of range 0..%d" % (what, i, limit - 1))
    return i


def _caps_bits(v: Any) -> int:
    """Capability bits from int bits, a name, 'a|b' (or 'a+b', 'a,b') or a list."""
    if isinstance(v, str):
        bits = 0
        for part in re.split(r"[|+,]", v):
            key = part.strip().lower().replace(" ", "_").replace("-", "_")
            if not key:
                continue
            if key not in UNIT_CAPS:
                raise ArgumentError("unknown capability '%s' (known: %s, or int bits)"
                                    % (part.strip(), ", ".join(UNIT_CAPS)))
            bits |= UNIT_CAPS[key]
        return bits
    if isinstance(v, (list, tuple, set, frozenset)):
        bits = 0
        for p in v:
            bits |= _caps_bits(p)
        return bits
    i = int(v)
    if not 0 <= i < (1 << 32):
        raise ArgumentError("capability bits %d out of range (32 bits)" % i)
    return i


def _column(v: Any, n: int, conv: Any, dtype: Any, what: str) -> Optional[np.ndarray]:
    """Per-unit column: None, a scalar (broadcast) or n values (names converted)."""
    if v is None:
        return None
    if isinstance(v, (str, int, float, np.integer, np.floating)) or np.ndim(v) == 0:
        return np.full(n, conv(v) if conv else v, dtype=dtype)
    seq = list(v) if conv else v
    arr = np.asarray([conv(s) for s in seq] if conv else seq)
    if arr.shape != (n,):
        raise ArgumentError("units: %s: expected %d values, got shape %s" % (what, n, arr.shape))
    return np.ascontiguousarray(arr, dtype=dtype)


def _mask(v: Any, table: Dict[str, int], what: str, limit: int) -> int:
    if v is None:
        return 0
    items = [v] if isinstance(v, (str, int, np.integer)) else list(v)
    m = 0
    for it in items:
        m |= 1 << _code(it, table, what, limit)
    return m


def _caps_column(caps: Any, n: int) -> Optional[np.ndarray]:
    """Per-unit caps: a list of n entries is per unit; a shorter list of names is one
    set of bits for every unit."""
    if isinstance(caps, (list, tuple)) and len(caps) != n:
        return np.full(n, _caps_bits(caps), dtype=np.uint32)
    if isinstance(caps, np.ndarray) and caps.dtype.kind in "iu":
        return _column(caps, n, None, np.uint32, "caps")
    return _column(caps, n, _caps_bits, np.uint32, "caps")


class NearestResult(NamedTuple):
    """Full answer of :meth:`Units.nearest_full`: arrays of shape (n, k) (``count``: n),
    padded with -1 / inf / False where fewer units match."""

    ids: np.ndarray
    dist: np.ndarray
    eta: np.ndarray
    cross_station: np.ndarray
    cross_county: np.ndarray
    count: np.ndarray


class Units:
    """Registry of moving units (``lg_units``): updates from a feed, k-nearest matching
    units for incidents, with ETA and cross-station / cross-county flags.

    :param grid: cells locating incidents and units for the flags (None: no flags);
        the registry's CRS is the grid's (metres).
    :param station_field: station of each cell: a field name of ``grid`` (int, or text
        numbered in order of first appearance), a per-cell array, or a :class:`Stations`
        built from ``grid``.
    :param speeds: m/s per kind: a dict {kind name or int: speed} or 16 values (<= 0:
        the default; car 11.1, motorbike 8.3, foot 1.4, bicycle 4.2, van 10.0).
    :param detour: road-detour factor of ETAs.

    Thread-safety: one writer (``update``) and any number of readers (``nearest``, GIL
    released) at once; readers never see half a batch (docs/DISPATCH.md).
    """

    __slots__ = ("_u", "grid")

    def __init__(self, grid: Optional[Grid] = None, station_field: Any = None,
                 speeds: Any = None, detour: float = 1.3) -> None:
        """An empty registry (see the class docstring)."""
        cs = None
        if grid is not None:
            _check_grid(grid, "Units")
            if isinstance(station_field, Stations):
                cs = station_field.cell_station
                if cs is None or len(cs) != len(grid):
                    raise ArgumentError("Units: the stations were not built from this grid")
            else:
                cs = _per_cell_values(grid, station_field, "Units: station_field", np.int64, -1)
        elif station_field is not None:
            raise ArgumentError("Units: station_field needs a grid")
        sp = None
        if speeds is not None:
            sp = np.zeros(16, dtype=np.float64)
            if isinstance(speeds, dict):
                for k, v in speeds.items():
                    sp[_code(k, UNIT_KINDS, "unit kind", 16)] = float(v)
            else:
                vals = np.asarray(speeds, dtype=np.float64).ravel()
                if len(vals) > 16:
                    raise ArgumentError("Units: at most 16 speeds (one per kind)")
                sp[:len(vals)] = vals
        if not (detour > 0 and np.isfinite(detour)):
            raise ArgumentError("Units: detour must be a positive number")
        self._u = _libgrid.units(None if grid is None else grid._layer, cs, float(detour), sp)
        self.grid = grid

    def __len__(self) -> int:
        """Number of units (published state)."""
        return len(self._u)

    def __repr__(self) -> str:
        return "<libgrid.Units %d units>" % len(self)

    def update(self, ids: ArrayLike, x: ArrayLike = None, y: ArrayLike = None,
               status: Any = None, caps: Any = None, kind: Any = None, station: Any = None,
               time: ArrayLike = None, crs: Optional[str] = None) -> None:
        """Apply a batch of updates (a later entry for the same id wins). Unknown ids are
        inserted when positions are given. Each column is None (keep the current value;
        defaults for new units: available, no capabilities, car, no station, NaN time),
        a scalar for every unit, or one value per id. ``status``, ``kind`` accept names
        ('available', 'busy', 'car', 'foot', ...) or ints; ``caps`` names ('traffic',
        'traffic|armed', a list of names) or int bits. ``crs``: CRS of x, y if not the
        grid's. The whole batch is checked first: on an error (ArgumentError for a
        negative id, NaN position, bad status/kind; NotFoundError for an unknown id
        without positions) the registry is unchanged."""
        ids_a = np.ascontiguousarray(np.atleast_1d(np.asarray(ids)).ravel(), dtype=np.int64)
        n = len(ids_a)
        if (x is None) != (y is None):
            raise ArgumentError("units: give both x and y or neither")
        xs = ys = None
        if x is not None:
            xs, ys = _to_grid_crs(self.grid, np.broadcast_to(np.asarray(x, float), (n,)),
                                  np.broadcast_to(np.asarray(y, float), (n,)), crs)
        self._u.update(
            ids_a, xs, ys,
            _column(time, n, None, np.float64, "time"),
            _column(status, n, lambda s: _code(s, UNIT_STATUSES, "status", 32), np.int32,
                    "status"),
            _caps_column(caps, n),
            _column(kind, n, lambda s: _code(s, UNIT_KINDS, "unit kind", 16), np.int32, "kind"),
            _column(station, n, None, np.int64, "station"))

    def remove(self, ids: ArrayLike) -> None:
        """Remove units (NotFoundError, registry unchanged, if any id is unknown)."""
        self._u.remove(np.ascontiguousarray(np.atleast_1d(ids), dtype=np.int64))

    def flush(self) -> None:
        """Publish deferred batches (waits for readers holding old views)."""
        self._u.flush()

    def units(self) -> Dict[str, np.ndarray]:
        """Every unit of the published state, sorted by id: dict of arrays id, x, y,
        time, status, caps, kind, station."""
        d = self._u.get()
        order = np.argsort(d["id"], kind="stable")
        return {k: v[order] for k, v in d.items()}

    def _query(self, x: Any, y: Any, k: int, status: Any, caps: Any, kind: Any, station: Any,
               max_dist: Optional[float], caps_any: Any, crs: Optional[str]) -> Tuple:
        if int(k) < 1:
            raise ArgumentError("nearest: k must be >= 1")
        xs, ys = _to_grid_crs(self.grid, x, y, crs)
        return self._u.nearest(
            xs, ys, int(k),
            status_mask=_mask(status, UNIT_STATUSES, "status", 32),
            kind_mask=_mask(kind, UNIT_KINDS, "unit kind", 16),
            caps_all=0 if caps is None else _caps_bits(caps),
            caps_any=0 if caps_any is None else _caps_bits(caps_any),
            station=None if station is None else int(station),
            max_dist=0.0 if max_dist is None else float(max_dist))

    def nearest(self, x: ArrayLike, y: ArrayLike, k: int = 1, status: Any = None,
                caps: Any = None, kind: Any = None, station: Optional[int] = None,
                max_dist: Optional[float] = None, caps_any: Any = None,
                crs: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
        """The k nearest units matching the filter for each incident (x[i], y[i]).

        :param status: a status or a list of statuses accepted (names or ints).
        :param caps: capabilities the unit must all have (name, 'a|b', list, int bits);
            ``caps_any``: at least one of these.
        :param kind: a kind or list of kinds accepted. ``station``: home station.
        :param max_dist: only units within this many metres.
        :returns: ``(ids, dist)``, int64 and float64 arrays of shape (n, k) (n = number of
            incidents; a scalar incident gives n = 1), sorted by distance, ties by id;
            -1 and inf where fewer units match. GIL released.
        """
        r = self._query(x, y, k, status, caps, kind, station, max_dist, caps_any, crs)
        return r[0], r[1]

    def nearest_full(self, x: ArrayLike, y: ArrayLike, k: int = 1, status: Any = None,
                     caps: Any = None, kind: Any = None, station: Optional[int] = None,
                     max_dist: Optional[float] = None, caps_any: Any = None,
                     crs: Optional[str] = None) -> NearestResult:
        """As :meth:`nearest`, with the ETA (seconds: dist * detour / speed of the unit's
        kind), ``cross_station`` (the unit's home station differs from the incident's)
        and ``cross_county`` (incident or unit outside every cell) flags, and the number
        of matches per incident."""
        ids, dist, eta, flags, count = self._query(x, y, k, status, caps, kind, station,
                                                   max_dist, caps_any, crs)
        return NearestResult(ids, dist, eta, (flags & 1) != 0, (flags & 2) != 0,
                             count.astype(np.int64))

    def station_at(self, x: ArrayLike, y: ArrayLike) -> np.ndarray:
        """Station of the cell containing each point (-1: none)."""
        return self._u.station_at(_f64(x), _f64(y))

    def eta(self, dist_m: float, kind: Any = "car") -> float:
        """ETA in seconds of a unit of ``kind`` over ``dist_m`` straight-line metres."""
        return self._u.eta(_code(kind, UNIT_KINDS, "unit kind", 16), float(dist_m))


class RunCards:
    """Run cards: for every cell the first ``k`` stations by estimated response time.

    ``stations`` (int64, (n_cells, k), -1 padded), ``eta`` (seconds, inf padded),
    ``demand_x``/``demand_y`` (the cells' area centroids). Made by :func:`run_cards`.
    """

    def __init__(self, grid: Grid, stations: np.ndarray, eta: np.ndarray, dx: np.ndarray,
                 dy: np.ndarray) -> None:
        """Internal: use run_cards."""
        self.grid = grid
        self.stations = stations
        self.eta = eta
        self.demand_x = dx
        self.demand_y = dy

    @property
    def k(self) -> int:
        """Stations kept per cell."""
        return self.stations.shape[1]

    def __repr__(self) -> str:
        return "<libgrid.RunCards %d cells, k=%d>" % (len(self.stations), self.k)

    def at(self, x: ArrayLike, y: ArrayLike, crs: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Run cards of the cells containing the points: ``(stations, eta)`` of shape
        (n, k); -1 / inf for points in no cell."""
        xs, ys = _to_grid_crs(self.grid, x, y, crs)
        rows = np.asarray(self.grid.locate(xs, ys)).ravel()
        st = np.full((len(rows), self.k), -1, dtype=np.int64)
        eta = np.full((len(rows), self.k), np.inf)
        ok = rows >= 0
        st[ok] = self.stations[rows[ok]]
        eta[ok] = self.eta[rows[ok]]
        return st, eta


def run_cards(grid: Grid, station_x: ArrayLike, station_y: ArrayLike, k: int = 3,
              station_ids: Optional[ArrayLike] = None, speed: float = 11.1,
              detour: float = 1.3) -> RunCards:
    """Build run cards: for each cell, the stations ordered by ETA from the station
    point to the cell's area centroid (distance * detour / speed), first ``k`` kept;
    ties go to the smaller station id. ``station_ids`` None: 0..n-1.
    Rebuild when stations change (a few ms for 10,000 cells). Releases the GIL."""
    _check_grid(grid, "run_cards")
    if int(k) < 1:
        raise ArgumentError("run cards: k must be >= 1")
    ids = None if station_ids is None else np.ascontiguousarray(station_ids, dtype=np.int64)
    st, eta, dx, dy = _libgrid.runcards(grid._layer, _f64(station_x), _f64(station_y), ids,
                                        int(k), float(speed), float(detour))
    return RunCards(grid, st, eta, dx, dy)


# ================================================================== coverage


def _threshold(radius: Optional[float], minutes: Optional[float], speed: Optional[float],
               detour: Optional[float], what: str) -> Dict[str, float]:
    if radius is None and minutes is None:
        raise ArgumentError("%s: give a radius (metres) or minutes" % what)
    return dict(radius=0.0 if radius is None else float(radius),
                minutes=0.0 if minutes is None else float(minutes),
                speed=0.0 if speed is None else float(speed),
                detour=0.0 if detour is None else float(detour))


_TOTAL_KEYS = ("cells", "cells_covered", "cells_backup", "area_m2", "area_covered_m2",
               "area_backup_m2", "weight", "weight_covered", "weight_backup", "share_cells",
               "share_cells_backup", "share_area", "share_area_backup", "share",
               "backup_share", "mean_distance_m", "max_distance_m")


def _totals_table(rows: List[Dict[str, float]]) -> Dict[str, np.ndarray]:
    return {k: np.array([r[k] for r in rows], dtype=np.int64 if k.startswith("cells")
                        else np.float64) for k in _TOTAL_KEYS}


class Coverage:
    """Cell coverage (``lg_coverage_cells``). Per cell: ``nearest`` (facility index, -1
    none), ``distance`` (metres; NaN for an empty cell), ``eta`` (seconds), ``count``
    (facilities within the radius); ``covered`` (count >= 1); ``uncovered`` (rows of the
    non-empty cells with count 0). Totals: ``totals`` (dict), ``share`` (weighted share
    covered at least once), ``backup_share`` (at least twice), ``share_cells``,
    ``share_area``; ``group_totals`` and ``facility_totals`` (dicts of arrays, one value
    per group / facility catchment; keys as ``totals``); ``radius_m``."""

    def __init__(self, d: Dict[str, Any]) -> None:
        """Internal: use coverage()."""
        self.nearest: np.ndarray = d["nearest"]
        self.distance: np.ndarray = d["distance"]
        self.eta: np.ndarray = d["eta"]
        self.count: np.ndarray = d["count"]
        self.uncovered: np.ndarray = d["uncovered"]
        self.totals: Dict[str, float] = d["totals"]
        self.group_totals = _totals_table(d["group_totals"])
        self.facility_totals = _totals_table(d["facility_totals"])
        self.radius_m: float = d["radius_m"]

    @property
    def share(self) -> float:
        """Weighted share of the cells covered at least once (NaN: no weight)."""
        return self.totals["share"]

    @property
    def backup_share(self) -> float:
        """Weighted share of the cells covered at least twice."""
        return self.totals["backup_share"]

    @property
    def share_cells(self) -> float:
        """Share of the cells covered at least once."""
        return self.totals["share_cells"]

    @property
    def share_area(self) -> float:
        """Share of the area covered at least once (cell areas)."""
        return self.totals["share_area"]

    @property
    def covered(self) -> np.ndarray:
        """True where at least one facility is within the radius."""
        return self.count > 0

    def __repr__(self) -> str:
        return "<libgrid.Coverage %d cells, radius %.0f m, share %.3f, backup %.3f>" % (
            len(self.count), self.radius_m, self.share, self.backup_share)

    def to_geodataframe(self, grid: Grid) -> Any:
        """One row per cell: row, nearest, distance, eta, count, covered, geometry."""
        import geopandas as gpd

        if len(grid) != len(self.count):
            raise ArgumentError("to_geodataframe: the coverage has %d cells, the grid %d"
                                % (len(self.count), len(grid)))
        geoms = gpd.GeoSeries.from_wkb([grid.wkb(i) for i in range(len(grid))], crs=grid.crs)
        return gpd.GeoDataFrame({"row": np.arange(len(grid), dtype=np.int64),
                                 "nearest": self.nearest, "distance": self.distance,
                                 "eta": self.eta, "count": self.count,
                                 "covered": self.covered}, geometry=geoms, crs=grid.crs)


def coverage(grid: Grid, x: ArrayLike, y: ArrayLike, radius: Optional[float] = None,
             weight: Any = None, minutes: Optional[float] = None, group: Any = None,
             points: Any = None, speed: Optional[float] = None,
             detour: Optional[float] = None) -> Coverage:
    """Who can reach each cell: for facilities at (x, y) (grid CRS) and a threshold of
    ``radius`` metres or ``minutes`` (radius = minutes * 60 * speed / detour; speed
    11.1 m/s, detour 1.3 by default), per cell the nearest facility, its distance and
    the number within reach (backup coverage), and totals overall, per group and per
    facility catchment.

    :param weight: per-cell weight (array or numeric field name, e.g. "population").
    :param group: per-cell group (array or field name, e.g. "station"; -1: none).
    :param points: demand point per cell ``(x, y)``; None: area centroids.
    :raises ArgumentError: a non-finite facility (named by index), a bad threshold,
        weight or group. Releases the GIL.
    """
    _check_grid(grid, "coverage")
    th = _threshold(radius, minutes, speed, detour, "coverage")
    w = _per_cell_values(grid, weight, "coverage: weight", np.float64, 0.0)
    g = _per_cell_values(grid, group, "coverage: group", np.int64, -1)
    ng = int(g.max()) + 1 if g is not None and len(g) and g.max() >= 0 else 0
    px = py = None
    if points is not None:
        px, py = _xy_pair(points, "coverage: points")
    return Coverage(_libgrid.coverage(grid._layer, _f64(x), _f64(y), x=px, y=py, weight=w,
                                      group=g, n_groups=ng, **th))


class AreaCoverage:
    """Area coverage (``lg_coverage_area``): ``area`` (covered m^2), ``region_area``,
    ``uncovered_area``, ``share``, ``radius_m``, ``buffer_area_error`` (relative
    underestimate of a polygonal buffer), ``cell_covered`` (covered m^2 per cell),
    ``uncovered_grid`` (a Grid of the uncovered parts: fields "cell", "area_m2") and
    ``uncovered`` (the same as a GeoDataFrame)."""

    def __init__(self, d: Dict[str, Any]) -> None:
        """Internal: use coverage_area()."""
        self.area: float = d["covered_area_m2"]
        self.region_area: float = d["region_area_m2"]
        self.uncovered_area: float = d["uncovered_area_m2"]
        self.share: float = d["share"]
        self.radius_m: float = d["radius_m"]
        self.quadrant_segments: int = d["quadrant_segments"]
        self.buffer_area_error: float = d["buffer_area_error"]
        self.cells_full, self.cells_none, self.cells_clipped = (
            d["cells_full"], d["cells_none"], d["cells_clipped"])
        self.cell_covered: np.ndarray = d["cell_covered_m2"]
        lay = d["uncovered"]
        self.uncovered_grid: Optional[Grid] = None if lay is None else Grid(lay, "uncovered")

    def __repr__(self) -> str:
        return "<libgrid.AreaCoverage share %.4f of %.0f m^2, radius %.0f m>" % (
            self.share, self.region_area, self.radius_m)

    @property
    def uncovered(self) -> Any:
        """The uncovered part as a GeoDataFrame (columns cell, area_m2, geometry)."""
        if self.uncovered_grid is None:
            raise ArgumentError("coverage_area was called with uncovered=False")
        return self.uncovered_grid.to_geodataframe()


def coverage_area(grid: Grid, x: ArrayLike, y: ArrayLike, radius: Optional[float] = None,
                  minutes: Optional[float] = None, quadrant_segments: int = 32,
                  method: str = "clip", dissolve: bool = False, uncovered: bool = True,
                  speed: Optional[float] = None, detour: Optional[float] = None) -> AreaCoverage:
    """The part of the region (union of the cells) within reach of any facility, exact
    for polygonal buffers of ``quadrant_segments`` segments per quarter circle.

    :param method: "clip" (per cell, GEOS only where a buffer edge crosses; the grid must
        not overlap itself) or "union" (buffer, union, intersect: the straightforward way).
    :param dissolve: uncovered part as one row per polygon of the dissolved region
        instead of one row per cell.
    Releases the GIL; Ctrl-C cancels.
    """
    _check_grid(grid, "coverage_area")
    if method not in ("clip", "union"):
        raise ArgumentError("coverage_area: method must be 'clip' or 'union', not %r" % method)
    th = _threshold(radius, minutes, speed, detour, "coverage_area")
    return AreaCoverage(_libgrid.coverage_area(
        grid._layer, _f64(x), _f64(y), quadrant_segments=int(quadrant_segments),
        method=0 if method == "clip" else 1, dissolve=bool(dissolve),
        uncovered=bool(uncovered), **th))


class Siting:
    """A siting answer: ``sites`` (cell rows chosen, in the order added), ``gain``
    (weight each site adds), ``x``/``y`` (the sites' demand points) and the summary:
    ``total_weight``, ``existing_weight``, ``coverable_weight``, ``uncoverable_cells``,
    ``covered_weight``, ``greedy_weight``, ``upper_bound`` and ``swaps`` (MCLP),
    ``lower_bound`` and ``greedy_sites`` (LSCP)."""

    def __init__(self, d: Dict[str, Any], grid: Grid, px: Optional[np.ndarray],
                 py: Optional[np.ndarray]) -> None:
        """Internal: use site_mclp or site_lscp."""
        for k, v in d.items():
            setattr(self, k, v)
        self.sites: np.ndarray = d["sites"]
        self.gain: np.ndarray = d["gain"]
        if px is None:
            cx, cy, _ = grid.centroids()
        else:
            cx, cy = px, py
        self.x: np.ndarray = cx[self.sites]
        self.y: np.ndarray = cy[self.sites]

    def __len__(self) -> int:
        """Number of sites chosen."""
        return len(self.sites)

    def __repr__(self) -> str:
        return "<libgrid.Siting %d sites, covered weight %g of %g>" % (
            len(self.sites), getattr(self, "covered_weight"), getattr(self, "total_weight"))


def _siting(grid: Grid, mode: str, p: int, radius: Optional[float], minutes: Optional[float],
            weight: Any, candidates: Any, existing: Any, points: Any,
            max_swap_passes: Optional[int], speed: Optional[float],
            detour: Optional[float]) -> Siting:
    _check_grid(grid, "site_" + mode)
    th = _threshold(radius, minutes, speed, detour, "site_" + mode)
    w = _per_cell_values(grid, weight, "siting: weight", np.float64, 0.0)
    px = py = ex = ey = None
    if points is not None:
        px, py = _xy_pair(points, "siting: points")
    if existing is not None:
        ex, ey = _xy_pair(existing, "siting: existing")
    c = None if candidates is None else np.ascontiguousarray(candidates, dtype=np.int64)
    d = _libgrid.siting(grid._layer, mode, p=int(p), x=px, y=py, weight=w, candidates=c,
                        existing_x=ex, existing_y=ey, max_swap_passes=int(max_swap_passes or 0),
                        **th)
    return Siting(d, grid, px, py)


def site_mclp(grid: Grid, p: int, radius: Optional[float] = None,
              minutes: Optional[float] = None, weight: Any = None, candidates: Any = None,
              existing: Any = None, points: Any = None, max_swap_passes: Optional[int] = None,
              speed: Optional[float] = None, detour: Optional[float] = None) -> Siting:
    """Maximal covering: ``p`` new sites among candidate cells (None: every non-empty
    cell; a site stands at the cell's demand point) maximising the covered weight, on
    top of ``existing`` facilities ``(x, y)``. Greedy then swaps; ``upper_bound`` bounds
    the optimum (docs/COVERAGE.md). Deterministic. Releases the GIL."""
    if int(p) < 0:
        raise ArgumentError("site_mclp: p must be >= 0")
    return _siting(grid, "mclp", p, radius, minutes, weight, candidates, existing, points,
                   max_swap_passes, speed, detour)


def site_lscp(grid: Grid, radius: Optional[float] = None, minutes: Optional[float] = None,
              candidates: Any = None, existing: Any = None, points: Any = None,
              speed: Optional[float] = None, detour: Optional[float] = None) -> Siting:
    """Set covering: the fewest candidate sites covering every cell that existing
    facilities and candidates can cover (greedy, redundant sites dropped), with a
    ``lower_bound`` on the optimum. Releases the GIL."""
    return _siting(grid, "lscp", 0, radius, minutes, None, candidates, existing, points,
                   None, speed, detour)


# ====================================================================== heat


class Heat:
    """Incidents aggregated per cell (``lg_heat_aggregate``): ``cell`` (count or summed
    weight per cell), ``group`` (per group, when grouped), ``cell_of`` (the cell of each
    incident, -1 outside or out of the window), ``incidents``, ``in_window``,
    ``located``, ``outside``, ``total``."""

    def __init__(self, d: Dict[str, Any], grid: Grid) -> None:
        """Internal: use heat()."""
        self.grid = grid
        self.cell: np.ndarray = d["cell"]
        self.group: np.ndarray = d["group"]
        self.cell_of: np.ndarray = d["cell_of"]
        self.incidents: int = d["incidents"]
        self.in_window: int = d["in_window"]
        self.located: int = d["located"]
        self.outside: int = d["outside"]
        self.total: float = d["total"]

    def __repr__(self) -> str:
        return "<libgrid.Heat %d incidents, %d located, total %g>" % (
            self.incidents, self.located, self.total)

    def top(self, k: int = 10, density: bool = False) -> Tuple[np.ndarray, np.ndarray]:
        """Hot spots: ``(rows, score)`` of the k cells with the largest value (or value
        per km^2 with ``density``), ties by lower row; zero cells are skipped."""
        if int(k) < 0:
            raise ArgumentError("heat top: k must be >= 0")
        return _libgrid.heat_top(self.grid._layer, self.cell, int(k), bool(density))

    def to_geodataframe(self) -> Any:
        """One row per cell: row, value, density (per km^2), geometry."""
        import geopandas as gpd

        g = self.grid
        _, _, area = g.centroids()
        with np.errstate(divide="ignore", invalid="ignore"):
            dens = np.where(area > 0, self.cell / (area / 1e6), np.nan)
        geoms = gpd.GeoSeries.from_wkb([g.wkb(i) for i in range(len(g))], crs=g.crs)
        return gpd.GeoDataFrame({"row": np.arange(len(g), dtype=np.int64), "value": self.cell,
                                 "density": dens}, geometry=geoms, crs=g.crs)


def _time_value(v: Any, integer: bool, ns: bool) -> Any:
    if v is None:
        return None
    if ns:
        return int(np.datetime64(v, "ns").astype(np.int64))
    return int(v) if integer else float(v)


def heat(grid: Grid, x: ArrayLike, y: ArrayLike, weight: ArrayLike = None,
         time: ArrayLike = None, window: Optional[Tuple[Any, Any]] = None, group: Any = None,
         rows: ArrayLike = None, crs: Optional[str] = None) -> Heat:
    """Count (or sum ``weight`` of) incidents at (x, y) per cell and per group.

    :param time: per-incident times: integers (epoch seconds...), floats (NaN: never in
        the window) or numpy datetime64; ``window`` = (t0, t1) keeps t0 <= t < t1 (either
        may be None: open).
    :param group: per-cell group (array or field name such as "station").
    :param rows: per-incident cell rows if already located (-1 none); skips locating.
    :param crs: CRS of x, y when not the grid's.
    Releases the GIL; Ctrl-C cancels.
    """
    _check_grid(grid, "heat")
    xs, ys = _to_grid_crs(grid, x, y, crs)
    n = len(xs)
    kw: Dict[str, Any] = {}
    if weight is not None:
        kw["weight"] = _column(weight, n, None, np.float64, "heat: weight")
    if rows is not None:
        kw["rows"] = _column(rows, n, None, np.int64, "heat: rows")
    if time is not None:
        t = np.asarray(time)
        ns = t.dtype.kind == "M"
        if ns:
            t = t.astype("datetime64[ns]").astype(np.int64)
        integer = t.dtype.kind in "iu"
        kw["time"] = np.ascontiguousarray(t, dtype=np.int64 if integer else np.float64)
        if window is not None:
            kw["t0"] = _time_value(window[0], integer, ns)
            kw["t1"] = _time_value(window[1], integer, ns)
    elif window is not None:
        raise ArgumentError("heat: a window needs times")
    g = _per_cell_values(grid, group, "heat: group", np.int64, -1)
    if g is not None:
        kw["group"] = g
        kw["n_groups"] = int(g.max()) + 1 if len(g) and g.max() >= 0 else 0
    return Heat(_libgrid.heat(grid._layer, xs, ys, **kw), grid)
