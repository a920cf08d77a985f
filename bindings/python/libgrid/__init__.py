"""libgrid: spatial core for police dispatch and planning.

Load patrol grid cells (polygons) from Shapefile, GeoJSON or WKT, or generate a
synthetic county, and locate points in them exactly::

    import libgrid
    grid = libgrid.Grid.from_file("cells.shp", id_field="GRID_ID")
    rows = grid.locate(lon, lat, crs="EPSG:4326")   # int64 rows, -1 outside
    ids = grid.ids[rows[rows >= 0]]

Errors are raised as subclasses of :class:`libgrid.Error`, one per C error code,
with the library's message (file, record, reason).
"""

from __future__ import annotations

import os
from typing import Any, List, NamedTuple, Optional, Tuple, Union

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

    __slots__ = ("_layer", "_fields", "_source")

    def __init__(self, _layer: Any, _source: str = "") -> None:
        """Internal: use Grid.from_file, Grid.synth or Grid.from_wkb."""
        if not isinstance(_layer, _libgrid.Layer):
            raise TypeError("use Grid.from_file, Grid.synth or Grid.from_wkb to make a Grid")
        self._layer = _layer
        self._fields: List[Tuple[str, str]] = _layer.fields()
        self._source = _source

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
        f = self._layer.id_field
        return None if f is None else self._fields[f][0]

    @property
    def ids(self) -> np.ndarray:
        """Cell ids by row: the id field's values (int64 for an int field, an object
        array of str for a text field; see ``__getitem__`` for nulls), or
        ``np.arange(len(grid))`` when the grid has no id field."""
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
        return self._layer.find_id(id)

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
        if ext == ".shp":
            self._layer.write(p, "shp")
        elif ext in (".geojson", ".json"):
            self._layer.write(p, "geojson")
        else:
            raise ArgumentError(
                "%s: cannot tell the format from the extension (use .shp, .geojson or .json)" % p
            )
