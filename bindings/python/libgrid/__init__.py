"""libgrid: spatial core for police dispatch and planning.

Load patrol grid cells (polygons) from Shapefile, GeoJSON or WKT, or generate a
synthetic county, and locate points in them exactly::

    import libgrid
    grid = libgrid.Grid.from_file("cells.shp", id_field="GRID_ID")
    rows = grid.locate(lon, lat, crs="EPSG:4326")   # int64 rows, -1 outside
    ids = grid.ids[rows[rows >= 0]]

Errors are raised as subclasses of :class:`libgrid.Error`, one per C error code,
with the library's message (file, record, reason).

Also here: snapshots (:meth:`Grid.save`, :meth:`Grid.open`; grids pickle through
them), cell adjacency (:meth:`Grid.adjacency`), centroids, service-station zones
(:func:`plan_zones`, :func:`validate_zones`), GeoPandas in and out
(:meth:`Grid.from_geodataframe`, :meth:`Grid.to_geodataframe`,
:meth:`ZonePlan.to_geodataframe`) and, in :mod:`libgrid.dask`, attributing very large
point sets on a Dask cluster.
"""

from __future__ import annotations

import os
import uuid
import warnings
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from ._errors import (
    ERRORS,
    ArgumentError,
    CancelledError,
    CapacityError,
    CRSError,
    Error,
    FileError,
    FormatError,
    GeometryError,
    InternalError,
    NoMemoryError,
    NotFoundError,
    UnsupportedError,
)
from . import _libgrid

__all__ = [
    "Grid",
    "Problem",
    "Adjacency",
    "ZonePlan",
    "ZoneProblem",
    "plan_zones",
    "validate_zones",
    "synth_stations",
    "check_crs",
    "version",
    "__version__",
    "Error",
    "NoMemoryError",
    "ArgumentError",
    "FileError",
    "FormatError",
    "UnsupportedError",
    "CRSError",
    "GeometryError",
    "NotFoundError",
    "CapacityError",
    "InternalError",
    "CancelledError",
    "ERRORS",
]

__version__: str = _libgrid.version()

PathLike = Union[str, "os.PathLike[str]"]


def version() -> str:
    """Version of the C library, "MAJOR.MINOR.PATCH"."""
    return _libgrid.version()


def check_crs(crs: str) -> str:
    """Check that PROJ understands ``crs``; return it normalised ("EPSG:n" when identified).

    Raises :class:`CRSError` when it does not.
    """
    return _libgrid.crs_check(crs)


class Problem(NamedTuple):
    """A validity problem found at load time.

    ``kind`` is one of "invalid", "repaired", "empty", "duplicate_id", "null_id",
    "overlap"; ``x``, ``y`` is where (NaN when there is no place).
    """

    row: int
    kind: str
    x: float
    y: float
    message: str


def synth_stations(
    cells: int = 220,
    seed: int = 0,
    stations: Optional[int] = None,
    cell_size_m: float = 1000.0,
    crs: Optional[str] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """Station points of the county :meth:`Grid.synth` makes with the same arguments.

    Returns ``(x, y)``, two float64 arrays. Station ``i`` lies inside a cell whose
    "station" field is ``i``.
    """
    return _libgrid.synth_stations(cells, seed, stations or 0, cell_size_m, crs)


class Grid:
    """A layer of patrol grid cells with attributes and an exact locate index.

    Rows are numbered 0..len-1 in file order. A Grid is immutable and can be queried
    from any number of threads at once (``locate`` releases the GIL).
    Make one with :meth:`from_file`, :meth:`synth` or :meth:`from_wkb`.
    """

    __slots__ = ("_layer", "_fields", "_source", "_extra", "_pyid", "_idmap", "_token",
                 "__weakref__")

    def __init__(self, _layer: Any, _source: str = "",
                 _extra: Optional[Dict[str, Tuple[str, np.ndarray]]] = None,
                 _pyid: Optional[str] = None) -> None:
        """Internal: use Grid.from_file, Grid.synth, Grid.from_wkb, Grid.open or
        Grid.from_geodataframe."""
        if not isinstance(_layer, _libgrid.Layer):
            raise TypeError("use Grid.from_file, Grid.synth or Grid.from_wkb to make a Grid")
        self._layer = _layer
        self._fields: List[Tuple[str, str]] = _layer.fields()
        self._source = _source
        # Attributes kept on the Python side (grids from a GeoDataFrame: the C API has no
        # call that adds attributes to a layer): name -> (type, values as __getitem__ gives).
        self._extra = dict(_extra) if _extra else None
        self._pyid = _pyid
        self._idmap: Optional[Dict[Any, int]] = None
        self._token: Optional[str] = None
        if self._extra:
            self._fields = self._fields + [(k, t) for k, (t, _) in self._extra.items()]

    # ------------------------------------------------------------ making

    @classmethod
    def from_file(
        cls,
        path: PathLike,
        id_field: Optional[str] = None,
        crs: Optional[str] = None,
        repair: bool = False,
        format: Optional[str] = None,
    ) -> "Grid":
        """Load cells from a file.

        :param path: an ESRI Shapefile (.shp with .shx/.dbf/.prj), GeoJSON (.geojson,
            .json) or WKT file (.wkt, one Polygon/MultiPolygon per line).
        :param id_field: attribute holding the cell ids (int or text); None: row numbers.
        :param crs: CRS of the data when the file has none or it is wrong
            ("EPSG:4547", WKT or a PROJ string).
        :param repair: repair invalid polygons (each repair is listed in ``problems``).
        :param format: "shp", "geojson" or "wkt" to override the extension.
        :raises FileError: the file cannot be read; FormatError: malformed contents;
            NotFoundError: no field ``id_field``; CRSError: bad ``crs``.
        """
        p = os.fspath(path)
        return cls(_libgrid.load(p, id_field, crs, bool(repair), format), str(p))

    @classmethod
    def synth(
        cls,
        cells: int = 220,
        seed: int = 0,
        stations: Optional[int] = None,
        cell_size_m: float = 1000.0,
        crs: Optional[str] = None,
    ) -> "Grid":
        """Generate a synthetic county (deterministic from ``seed``).

        Cells share edges exactly; fields are "cell_id", "station", "population" and
        "calls" (all int); ids are the row numbers. ``stations`` None: about
        cells / 9. ``crs`` None: "EPSG:4545" (CGCS2000 3-degree GK CM 108E).
        """
        layer = _libgrid.synth(cells, seed, stations or 0, cell_size_m, crs)
        return cls(layer, "synth(cells=%d, seed=%d)" % (cells, seed))

    @classmethod
    def from_wkb(cls, geoms: Any, crs: Optional[str] = None) -> "Grid":
        """Build a grid from a sequence of WKB bytes (e.g. ``shapely.to_wkb(gdf.geometry)``).

        The grid has no attributes; ids are row numbers.
        """
        return cls(_libgrid.from_wkb([bytes(g) for g in geoms], crs), "wkb")

    # ------------------------------------------------------------ properties

    def __len__(self) -> int:
        """Number of cells."""
        return len(self._layer)

    def __repr__(self) -> str:
        return "<libgrid.Grid %d cells, crs=%r, fields=%r>" % (len(self), self.crs, self.fields)

    @property
    def crs(self) -> Optional[str]:
        """CRS of the cells as given or read ("EPSG:n", WKT, ...), or None if unknown."""
        return self._layer.crs

    @property
    def bounds(self) -> Tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of all cells; all NaN for an empty grid."""
        return self._layer.bounds

    @property
    def fields(self) -> List[str]:
        """Names of the attribute fields, in file order."""
        return [name for name, _ in self._fields]

    @property
    def field_types(self) -> dict:
        """Mapping field name -> "int", "real" or "text"."""
        return dict(self._fields)

    @property
    def id_field(self) -> Optional[str]:
        """Name of the field holding the ids, or None when ids are row numbers."""
        if self._pyid is not None:
            return self._pyid
        f = self._layer.id_field
        return None if f is None else self._fields[f][0]

    @property
    def ids(self) -> np.ndarray:
        """Cell ids by row: the id field's values (int64 for an int field, an object
        array of str for a text field; see ``__getitem__`` for nulls), or
        ``np.arange(len(grid))`` when the grid has no id field."""
        if self._pyid is not None:
            return self[self._pyid]
        f = self._layer.id_field
        if f is None:
            return np.arange(len(self), dtype=np.int64)
        return self._column(f)

    @property
    def problems(self) -> List[Problem]:
        """Validity problems recorded at load: a list of :class:`Problem`."""
        return [Problem(*p) for p in self._layer.problems()]

    def __getitem__(self, name: str) -> np.ndarray:
        """Values of attribute ``name`` by row.

        int fields: int64 array; when some values are null, a ``numpy.ma.MaskedArray``
        of int64 with the nulls masked (so large ids keep full precision).
        real fields: float64 with NaN for nulls. text fields: object array of str
        with None for nulls. Raises NotFoundError (a LookupError) for an unknown name.
        """
        if not isinstance(name, str):
            raise TypeError("grid[name]: name must be a str, not %s" % type(name).__name__)
        if self._extra and name in self._extra:
            return self._extra[name][1].copy()
        return self._column(self._layer.field_index(name))

    def __contains__(self, name: object) -> bool:
        """True if the grid has a field called ``name``."""
        return isinstance(name, str) and name in self.fields

    def _column(self, index: int) -> np.ndarray:
        values, nulls = self._layer.column(index)
        if nulls is not None and values.dtype == np.int64:
            return np.ma.MaskedArray(values, mask=nulls)
        return values

    def cell_bounds(self, row: int) -> Tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of one cell (NaN for an empty cell)."""
        return self._layer.cell_bounds(self._row(row))

    # ------------------------------------------------------------ queries

    def find_id(self, id: Union[int, str]) -> int:
        """Row of the cell with this id (int or str, as the id field), or -1.

        Without an id field the ids are row numbers.
        """
        if self._pyid is None:
            return self._layer.find_id(id)
        if self._idmap is None:
            ids = self.ids
            mask = np.ma.getmaskarray(ids) if isinstance(ids, np.ma.MaskedArray) else None
            m: Dict[Any, int] = {}
            for r, v in enumerate(np.asarray(ids).tolist()):
                if v is not None and (mask is None or not mask[r]) and v not in m:
                    m[v] = r
            self._idmap = m
        return self._idmap.get(id, -1)

    def wkb(self, row: int) -> bytes:
        """Cell ``row`` as ISO little-endian WKB (``shapely.from_wkb`` reads it).

        Negative rows count from the end; IndexError out of range.
        """
        return self._layer.wkb(self._row(row))

    def _row(self, row: int) -> int:
        n = len(self)
        r = int(row)
        if r < 0:
            r += n
        if not 0 <= r < n:
            raise IndexError("row %d out of range for a grid of %d cells" % (int(row), n))
        return r

    def locate(self, x: Any, y: Any, crs: Optional[str] = None) -> Union[np.ndarray, int]:
        """Rows of the cells containing the points (x, y); -1 where no cell does.

        :param x, y: array-likes of the same shape (or two scalars) of coordinates in
            the grid's CRS, or in ``crs`` when given (e.g. "EPSG:4326": x = longitude,
            y = latitude; "GCJ-02" and "BD-09" are accepted too).
        :returns: an int64 array of the shape of ``x``; for two scalars, a Python int.
            Non-finite points and points that fail to transform give -1.
        :raises ArgumentError: x and y differ in shape; CRSError: bad ``crs``.

        Boundary rule: a point on an edge shared by two cells belongs to the one
        containing the points just left of it; off boundaries the answer equals
        GEOS/shapely ``covers``. The GIL is released while locating.
        """
        out = self._layer.locate(x, y, crs)
        if out.ndim == 0 and np.ndim(x) == 0 and np.ndim(y) == 0:
            return int(out)
        return out

    def to_file(self, path: PathLike) -> None:
        """Write the grid with its attributes: ESRI Shapefile (.shp, with .shx, .dbf,
        .prj) or GeoJSON (.geojson / .json), chosen by the extension."""
        p = os.fspath(path)
        ext = os.path.splitext(p)[1].lower()
        if self._extra and ext in (".shp", ".geojson", ".json"):
            # attributes live on the Python side: let GeoPandas write them
            driver = "ESRI Shapefile" if ext == ".shp" else "GeoJSON"
            self.to_geodataframe().to_file(p, driver=driver)
        elif ext == ".shp":
            self._layer.write(p, "shp")
        elif ext in (".geojson", ".json"):
            self._layer.write(p, "geojson")
        else:
            raise ArgumentError(
                "%s: cannot tell the format from the extension (use .shp, .geojson or .json)" % p
            )

    # ------------------------------------------------------------ snapshots

    def save(self, path: PathLike) -> None:
        """Save the grid as a snapshot file: cells, attributes, ids, problems and the
        locate accelerator, versioned and checksummed; :meth:`open` maps it back in
        milliseconds. Written under a temporary name and renamed into place.

        Attributes from a GeoDataFrame are in the file (they live in the C layer), but
        the choice of ``id_field`` made in :meth:`from_geodataframe` is not (the C API
        cannot mark a derived column as the id field yet): a UserWarning says so; after
        :meth:`open` the ids are row numbers and the column is an ordinary field.
        Pickling keeps the id field.
        :raises FileError: the file cannot be written.
        """
        if self._extra:
            warnings.warn(
                "Grid.save: attributes from the GeoDataFrame (%s) are not saved in the "
                "snapshot; pickle the grid to keep them" % ", ".join(self._extra),
                UserWarning, stacklevel=2)
        if self._pyid is not None:
            warnings.warn(
                "Grid.save: the id field '%s' is saved as an ordinary field, not as the ids; "
                "pickle the grid to keep it as the id field" % self._pyid,
                UserWarning, stacklevel=2)
        self._layer.save(os.fspath(path))

    @classmethod
    def open(cls, path: PathLike, verify: bool = True) -> "Grid":
        """Open a snapshot written by :meth:`save`, memory-mapped (the file must stay
        in place while the grid lives).

        :param verify: check the section checksums (xxHash, fast). False skips them; the
            header, section table and index arrays are still bounds-checked, so a corrupt
            file cannot crash, but it may answer wrongly.
        :raises FileError: cannot read the file; FormatError: not a snapshot, truncated or
            corrupt; UnsupportedError: written by a newer libgrid.
        """
        p = os.fspath(path)
        return cls(_libgrid.open_snapshot(p, bool(verify)), str(p))

    def to_snapshot_bytes(self) -> bytes:
        """The grid's snapshot (what :meth:`save` writes) as bytes."""
        return self._layer.snapshot()

    @classmethod
    def from_snapshot_bytes(cls, data: Any, verify: bool = True) -> "Grid":
        """A grid from snapshot bytes (any bytes-like object; copied).

        :raises FormatError: not a snapshot, truncated or corrupt.
        """
        return cls(_libgrid.read_snapshot(data, bool(verify)), "snapshot")

    def __reduce__(self) -> Tuple[Any, ...]:
        """Pickle through the snapshot bytes (cheap to ship to worker processes)."""
        if self._extra or self._pyid is not None:
            return (_from_snapshot_bytes, (self._layer.snapshot(), self._extra, self._pyid))
        return (_from_snapshot_bytes, (self._layer.snapshot(),))

    def __copy__(self) -> "Grid":
        return self  # immutable

    def __deepcopy__(self, memo: Any) -> "Grid":
        return self  # immutable

    def __dask_tokenize__(self) -> Tuple[str, str]:
        """A cheap token for Dask (a grid is immutable: one random token per object)."""
        if self._token is None:
            self._token = uuid.uuid4().hex
        return ("libgrid.Grid", self._token)

    # ------------------------------------------------------------ topology

    def adjacency(self, gap_m: float = 2.0, min_shared_m: float = 1.0) -> "Adjacency":
        """Cell adjacency by shared boundary length (layer units, metres when projected).

        :param gap_m: boundaries closer than this count as shared (slivers, small gaps).
        :param min_shared_m: a shorter shared boundary is no adjacency; touching at a
            single point never is.
        :returns: an :class:`Adjacency` (edges, CSR arrays, neighbours).
        The GIL is released while it runs.
        """
        if not (gap_m > 0 and min_shared_m > 0):
            raise ArgumentError("adjacency: gap_m and min_shared_m must be > 0")
        return Adjacency(self._layer.adjacency(float(gap_m), float(min_shared_m)))

    def centroids(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, y, area) of every cell: the area-weighted centroid of its rings (holes
        count negative) and its area (m^2 in a projected CRS); NaN for empty cells."""
        return self._layer.centroids()

    # ------------------------------------------------------------ GeoPandas

    @classmethod
    def from_geodataframe(cls, gdf: Any, id_field: Optional[str] = None) -> "Grid":
        """Build a grid from a GeoDataFrame of Polygons/MultiPolygons.

        Geometry goes through WKB (``lg_layer_from_wkb``); the CRS is taken from
        ``gdf.crs`` ("EPSG:n" when it has an EPSG code, else its WKT). Every other
        column becomes an attribute of the C layer (``lg_layer_derive``): integer and
        boolean columns "int" (nullable ones with nulls), float columns "real" (NaN is
        null), anything else "text" (str, None for nulls). Attributes are therefore
        saved in snapshots, pickled and written by :meth:`to_file`.

        :param id_field: column holding the cell ids (int or text); None: row numbers.
        :raises NotFoundError: no column ``id_field``; GeometryError/FormatError: unusable
            geometry; ArgumentError: two columns with the same name.
        """
        import pandas as pd

        geom_name = gdf.geometry.name
        wkb = [_EMPTY_POLYGON_WKB if g is None else g.wkb for g in gdf.geometry]
        crs = None
        if gdf.crs is not None:
            epsg = gdf.crs.to_epsg()
            crs = "EPSG:%d" % epsg if epsg is not None else gdf.crs.to_wkt()
        layer = _libgrid.from_wkb(wkb, crs)
        cols = []
        for col in gdf.columns:
            if col == geom_name:
                continue
            typ, vals = _column_from_pandas(gdf[col], pd)
            cols.append(_column_spec(str(col), typ, vals))
        if id_field is not None and id_field not in [c[0] for c in cols]:
            raise NotFoundError("from_geodataframe: no column '%s' for the ids" % id_field)
        if cols:
            layer = _libgrid.derive(layer, cols)
        return cls(layer, "GeoDataFrame", None, id_field)

    def with_columns(self, columns: Dict[str, Any]) -> "Grid":
        """A new grid with the same cells, attributes, ids and CRS plus extra columns
        (``lg_layer_derive``): ``{name: values}`` with one value per cell; int arrays
        (or masked int arrays: masked = null) become "int", float "real" (NaN is null),
        anything else "text" (None is null).

        :raises ArgumentError: a name the grid already has, a wrong length.
        """
        cols = []
        for name, values in columns.items():
            if isinstance(values, np.ma.MaskedArray):
                typ = "int" if values.dtype.kind in "iub" else "real"
                vals = values
            else:
                arr = np.asarray(values)
                if arr.dtype.kind in "iub":
                    typ, vals = "int", arr.astype(np.int64)
                elif arr.dtype.kind == "f":
                    typ, vals = "real", arr.astype(np.float64)
                else:
                    typ = "text"
                    vals = np.array([None if v is None else str(v) for v in arr.tolist()],
                                    dtype=object)
            cols.append(_column_spec(str(name), typ, vals))
        g = Grid(_libgrid.derive(self._layer, cols), self._source, self._extra, self._pyid)
        return g

    def dissolve(self, group: Any) -> "Grid":
        """Cells dissolved by group (array or field name; negative: left out): one row
        per group that has cells, ascending, geometry the GEOS union of its cells, fields
        "group" and "cells". Releases the GIL."""
        if isinstance(group, str):
            col = self[group]
            if isinstance(col, np.ma.MaskedArray):
                col = col.filled(-1)
            group = col
        g = np.ascontiguousarray(group, dtype=np.int64)
        return Grid(_libgrid.dissolve(self._layer, g), "dissolve")

    def to_geodataframe(self) -> Any:
        """The cells as a GeoDataFrame: every attribute (int fields with nulls as
        pandas "Int64"), the geometry (from WKB) and the CRS."""
        import geopandas as gpd
        import pandas as pd

        data: Dict[str, Any] = {}
        for name in self.fields:
            col = self[name]
            if isinstance(col, np.ma.MaskedArray):
                data[name] = pd.array(col.filled(0), dtype="Int64")
                data[name][np.ma.getmaskarray(col)] = pd.NA
            else:
                data[name] = col
        geoms = gpd.GeoSeries.from_wkb([self._layer.wkb(i) for i in range(len(self))],
                                       crs=self.crs)
        return gpd.GeoDataFrame(data, geometry=geoms, crs=self.crs)


_EMPTY_POLYGON_WKB = bytes.fromhex("010300000000000000")


def _column_from_pandas(series: Any, pd: Any) -> Tuple[str, np.ndarray]:
    """A pandas column as (type, values in the form Grid.__getitem__ returns)."""
    dtype = series.dtype
    isna = series.isna().to_numpy()
    kind = getattr(dtype, "kind", "O")
    if kind in "iub" and not pd.api.types.is_extension_array_dtype(dtype):
        return "int", series.to_numpy().astype(np.int64)
    if kind in "iub":  # nullable Int64/boolean
        vals = series.to_numpy(dtype="float64", na_value=0).astype(np.int64)
        if isna.any():
            vals = series.fillna(0).to_numpy().astype(np.int64)
            return "int", np.ma.MaskedArray(vals, mask=isna)
        return "int", series.to_numpy().astype(np.int64)
    if kind == "f":
        return "real", series.to_numpy(dtype=np.float64, na_value=np.nan)
    out = np.empty(len(series), dtype=object)
    for i, (v, na) in enumerate(zip(series.tolist(), isna)):
        out[i] = None if na else str(v)
    return "text", out


def _column_spec(name: str, typ: str, vals: Any) -> Tuple[str, str, Any, Any]:
    """(name, type, values, nulls) for _libgrid.derive."""
    if typ == "text":
        return (name, "text", list(vals), None)
    if isinstance(vals, np.ma.MaskedArray):
        nulls = np.ma.getmaskarray(vals).astype(np.uint8)
        data = vals.filled(0)
    else:
        data = np.asarray(vals)
        nulls = np.isnan(data).astype(np.uint8) if typ == "real" else None
        if nulls is not None and not nulls.any():
            nulls = None
    return (name, typ, np.ascontiguousarray(data, dtype=np.int64 if typ == "int"
                                            else np.float64), nulls)


def _from_snapshot_bytes(data: Any, extra: Optional[Dict[str, Tuple[str, np.ndarray]]] = None,
                         pyid: Optional[str] = None) -> Grid:
    """Unpickle a Grid (see Grid.__reduce__)."""
    return Grid(_libgrid.read_snapshot(data, True), "snapshot", extra, pyid)


def _adjacency_from_edges(n_nodes: int, a: np.ndarray, b: np.ndarray,
                          shared: np.ndarray) -> "Adjacency":
    return Adjacency.from_edges(n_nodes, a, b, shared)


class Adjacency:
    """An undirected weighted graph over cells: edge weights are the shared boundary
    length. Immutable. Neighbours are sorted by node.

    CSR form (scipy-free): ``indptr``, ``indices``, ``weights``: the neighbours of node
    ``i`` are ``indices[indptr[i]:indptr[i+1]]``. Edge list: ``edges`` = (a, b, shared)
    with a < b. Get one from :meth:`Grid.adjacency` or :meth:`from_edges`.
    """

    __slots__ = ("_graph", "_csr")

    def __init__(self, _graph: Any) -> None:
        """Internal: use Grid.adjacency or Adjacency.from_edges."""
        if not isinstance(_graph, _libgrid.Graph):
            raise TypeError("use Grid.adjacency or Adjacency.from_edges")
        self._graph = _graph
        self._csr: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None

    @classmethod
    def from_edges(cls, n_nodes: int, a: Any, b: Any, shared: Any = None) -> "Adjacency":
        """A graph of ``n_nodes`` nodes from undirected edges a[i]-b[i] with weights
        ``shared`` (None: 1.0). Duplicate edges are merged (weights summed).

        :raises ArgumentError: a self-loop, a node out of range, lengths that differ.
        """
        return cls(_libgrid.graph_from_edges(int(n_nodes), a, b, shared))

    def _arrays(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._csr is None:
            arrs = self._graph.csr()
            for arr in arrs:
                arr.flags.writeable = False
            self._csr = arrs
        return self._csr

    def __len__(self) -> int:
        """Number of nodes."""
        return len(self._graph)

    def __repr__(self) -> str:
        return "<libgrid.Adjacency %d nodes, %d edges>" % (len(self), self.n_edges)

    @property
    def n_nodes(self) -> int:
        """Number of nodes (cells)."""
        return len(self._graph)

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return self._graph.edge_count()

    @property
    def indptr(self) -> np.ndarray:
        """CSR row pointers, int64[n_nodes + 1] (read-only)."""
        return self._arrays()[0]

    @property
    def indices(self) -> np.ndarray:
        """CSR neighbour nodes, int64[2 * n_edges] (read-only)."""
        return self._arrays()[1]

    @property
    def weights(self) -> np.ndarray:
        """CSR shared lengths, float64[2 * n_edges] (read-only)."""
        return self._arrays()[2]

    @property
    def edges(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(a, b, shared): every undirected edge once, a < b, sorted by (a, b)."""
        indptr, indices, weights = self._arrays()
        src = np.repeat(np.arange(len(self), dtype=np.int64), np.diff(indptr))
        keep = src < indices
        return src[keep], indices[keep].copy(), weights[keep].copy()

    def neighbors(self, node: int) -> Tuple[np.ndarray, np.ndarray]:
        """(nodes, shared) of the neighbours of ``node``, sorted by node."""
        n = len(self)
        i = int(node)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("node %d out of range for a graph of %d nodes" % (int(node), n))
        indptr, indices, weights = self._arrays()
        return indices[indptr[i]:indptr[i + 1]], weights[indptr[i]:indptr[i + 1]]

    def degree(self) -> np.ndarray:
        """Number of neighbours of every node."""
        return np.diff(self.indptr)

    def weight(self, a: int, b: int) -> float:
        """Shared length between a and b, 0.0 when not adjacent."""
        return self._graph.weight(int(a), int(b))

    def to_scipy(self) -> Any:
        """The graph as a ``scipy.sparse.csr_matrix`` of shared lengths (needs scipy)."""
        from scipy.sparse import csr_matrix

        n = len(self)
        return csr_matrix((self.weights, self.indices, self.indptr), shape=(n, n))

    def __reduce__(self) -> Tuple[Any, ...]:
        """Pickle as the edge list."""
        a, b, w = self.edges
        return (_adjacency_from_edges, (len(self), a, b, w))


class ZoneProblem(NamedTuple):
    """A problem of a zone plan.

    ``kind``: "island", "component_size", "unplaced", "unassigned", "bad_id", "empty",
    "disconnected", "too_small", "too_large", "crosses_group" or "no_site" (a warning);
    ``zone``: the zone concerned or -1; ``cells``: the cells concerned (sorted).
    """

    kind: str
    zone: int
    cells: np.ndarray
    message: str


class ZonePlan:
    """Service-station zones: a zone per cell, a site per zone, feasibility, problems
    and quality figures (see docs/ZONES.md). Made by :func:`plan_zones` and
    :func:`validate_zones`.

    Attributes: ``zone`` (int64 per cell, -1 unassigned), ``site`` (int64 per zone: the
    cell holding the zone's service station, -1 when none), ``site_candidate`` (index
    into the ``sites`` given, -1 when the zone's 1-median cell stands in), ``site_x``,
    ``site_y``, ``feasible``, ``problems`` (list of :class:`ZoneProblem`), ``quality``
    (dict), ``histogram`` (zones per size).
    """

    zone: np.ndarray
    site: np.ndarray
    site_candidate: np.ndarray
    site_x: np.ndarray
    site_y: np.ndarray
    feasible: bool
    problems: List[ZoneProblem]
    quality: Dict[str, float]
    histogram: np.ndarray

    def __init__(self, d: Dict[str, Any]) -> None:
        """Internal: use plan_zones or validate_zones."""
        self.zone = d["zone"]
        self.site = d["site_cell"]
        self.site_candidate = d["site_candidate"]
        self.site_x = d["site_x"]
        self.site_y = d["site_y"]
        self.feasible = bool(d["feasible"])
        self.problems = [ZoneProblem(*p) for p in d["problems"]]
        self.quality = dict(d["quality"])
        self.histogram = np.asarray(d["histogram"], dtype=np.int64)

    @property
    def n_zones(self) -> int:
        """Number of zone ids (0..n_zones-1)."""
        return len(self.site)

    def __len__(self) -> int:
        """Number of zone ids."""
        return self.n_zones

    def __repr__(self) -> str:
        return "<libgrid.ZonePlan %d zones over %d cells, feasible=%s, %d problems>" % (
            self.n_zones, len(self.zone), self.feasible, len(self.problems))

    def cells(self, zone: int) -> np.ndarray:
        """Rows of the cells of ``zone``."""
        return np.nonzero(self.zone == int(zone))[0]

    def to_geodataframe(self, grid: Grid, dissolve: bool = True) -> Any:
        """The plan as a GeoDataFrame in the grid's CRS.

        ``dissolve=True``: one row per zone (columns zone, cells, site, site_x, site_y,
        geometry = the union of its cells via shapely ``unary_union``). ``dissolve=False``:
        one row per cell (columns row, zone, geometry). Either plots with ``.plot()``
        and saves with ``.to_file()``.
        """
        import geopandas as gpd

        if len(grid) != len(self.zone):
            raise ArgumentError("to_geodataframe: the plan has %d cells, the grid %d"
                                % (len(self.zone), len(grid)))
        cells = gpd.GeoSeries.from_wkb([grid.wkb(i) for i in range(len(grid))], crs=grid.crs)
        if not dissolve:
            return gpd.GeoDataFrame({"row": np.arange(len(grid), dtype=np.int64),
                                     "zone": self.zone}, geometry=cells, crs=grid.crs)
        try:
            from shapely import unary_union
        except ImportError:  # shapely 1.8
            from shapely.ops import unary_union
        geoms = []
        counts = np.bincount(self.zone[self.zone >= 0], minlength=self.n_zones)
        order = np.argsort(self.zone, kind="stable")
        starts = np.searchsorted(self.zone[order], np.arange(self.n_zones))
        for z in range(self.n_zones):
            rows = order[starts[z]:starts[z] + counts[z]]
            geoms.append(unary_union([cells.iloc[r] for r in rows]))
        return gpd.GeoDataFrame(
            {"zone": np.arange(self.n_zones, dtype=np.int64), "cells": counts.astype(np.int64),
             "site": self.site, "site_x": self.site_x, "site_y": self.site_y},
            geometry=gpd.GeoSeries(geoms, crs=grid.crs), crs=grid.crs)


def _per_cell(grid: Grid, value: Any, what: str, dtype: Any, null: Any) -> Optional[np.ndarray]:
    if value is None:
        return None
    if isinstance(value, str):
        col = grid[value]
        if isinstance(col, np.ma.MaskedArray):
            col = col.filled(null)
        arr = np.asarray(col)
        if arr.dtype == object:
            raise ArgumentError("%s: field '%s' is text, not numeric" % (what, value))
        return np.ascontiguousarray(np.where(np.isnan(arr), null, arr) if arr.dtype.kind == "f"
                                    and dtype != np.float64 else arr, dtype=dtype)
    return np.ascontiguousarray(value, dtype=dtype)


def _zone_args(grid: Grid, min_cells: int, max_cells: int, weight: Any, seed: int, group: Any,
               sites: Any, points: Any, balance: float, max_passes: Optional[int],
               adjacency: Optional[Adjacency]) -> Dict[str, Any]:
    if not isinstance(grid, Grid):
        raise TypeError("expected a libgrid.Grid, not %s" % type(grid).__name__)
    if min_cells < 1 or max_cells < min_cells:
        raise ArgumentError("zones: need 1 <= min_cells <= max_cells, got %d..%d"
                            % (min_cells, max_cells))
    adj = adjacency if adjacency is not None else grid.adjacency()
    if len(adj) != len(grid):
        raise ArgumentError("zones: the adjacency has %d nodes, the grid %d cells"
                            % (len(adj), len(grid)))
    kw: Dict[str, Any] = dict(
        min_cells=int(min_cells), max_cells=int(max_cells), seed=int(seed),
        weight=_per_cell(grid, weight, "weight", np.float64, 0.0),
        group=_per_cell(grid, group, "group", np.int64, -1),
        balance=-1.0 if balance == 0 else float(balance),
        max_passes=int(max_passes or 0))
    if sites is not None:
        if isinstance(sites, tuple) and len(sites) == 2:
            sx, sy = sites
        else:
            arr = np.asarray(sites, dtype=np.float64)
            if arr.ndim != 2 or arr.shape[1] != 2:
                raise ArgumentError("zones: sites must be (x, y) or an (n, 2) array")
            sx, sy = arr[:, 0], arr[:, 1]
        kw["site_x"] = np.ascontiguousarray(sx, dtype=np.float64)
        kw["site_y"] = np.ascontiguousarray(sy, dtype=np.float64)
    if points is not None:
        kw["x"] = np.ascontiguousarray(points[0], dtype=np.float64)
        kw["y"] = np.ascontiguousarray(points[1], dtype=np.float64)
    kw["graph"] = adj._graph
    kw["layer"] = grid._layer
    return kw


def plan_zones(
    grid: Grid,
    min_cells: int = 6,
    max_cells: int = 8,
    weight: Union[None, str, Sequence[float], np.ndarray] = None,
    seed: int = 0,
    group: Union[None, str, Sequence[int], np.ndarray] = None,
    sites: Any = None,
    adjacency: Optional[Adjacency] = None,
    points: Optional[Tuple[Any, Any]] = None,
    balance: float = 1.0,
    max_passes: Optional[int] = None,
) -> ZonePlan:
    """Partition the cells into contiguous service-station zones of min_cells..max_cells
    cells, compact and balanced in workload, each inside one group (docs/ZONES.md).

    :param weight: workload per cell (array, or the name of a numeric field such as
        "calls"; nulls count 0); None: 1 per cell.
    :param group: group per cell, e.g. the police station (array or field name such as
        "station"; -1/null: a group of its own); a zone never spans groups.
    :param sites: candidate service-station points, ``(x, y)`` or an (n, 2) array; None:
        each zone's site is its 1-median cell.
    :param adjacency: the cell graph (default: ``grid.adjacency()``).
    :param points: demand point per cell ``(x, y)``; None: the centroids.
    :param balance: weight of workload balance against compactness (0: ignore balance).
    :param max_passes: improvement passes (None: 30).
    :returns: a :class:`ZonePlan`. When no valid partition exists (or none is found) the
        plan is the best partial one: ``feasible`` is False and ``problems`` names the
        cells responsible. Deterministic for a seed. Releases the GIL; Ctrl-C cancels.
    """
    kw = _zone_args(grid, min_cells, max_cells, weight, seed, group, sites, points, balance,
                    max_passes, adjacency)
    return ZonePlan(_libgrid.zones(**kw))


def validate_zones(
    grid: Grid,
    zone: Any,
    min_cells: int = 6,
    max_cells: int = 8,
    weight: Union[None, str, Sequence[float], np.ndarray] = None,
    group: Union[None, str, Sequence[int], np.ndarray] = None,
    sites: Any = None,
    adjacency: Optional[Adjacency] = None,
    points: Optional[Tuple[Any, Any]] = None,
) -> ZonePlan:
    """Check any zone assignment (``zone[i]`` = zone of cell i, -1 unassigned) and report
    every violation: contiguity, size bounds, unassigned cells, bad or empty ids, zones
    crossing groups (when ``group`` is given). Sites and quality are computed as for a
    planned zone; ``feasible`` means no problems. Arguments as :func:`plan_zones`.
    """
    kw = _zone_args(grid, min_cells, max_cells, weight, 0, group, sites, points, 1.0, None,
                    adjacency)
    kw["zone"] = np.ascontiguousarray(zone, dtype=np.int64)
    return ZonePlan(_libgrid.zones(**kw))


# Stations, hierarchy, units, run cards, coverage, siting, heat (need Grid defined).
from ._planning import *  # noqa: E402,F401,F403
from ._planning import __all__ as _planning_all  # noqa: E402

__all__ += _planning_all
