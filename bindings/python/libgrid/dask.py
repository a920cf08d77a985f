"""Attribute very large point sets to cells, zones and stations on Dask.

::

    import dask.dataframe as dd
    from distributed import Client
    import libgrid, libgrid.dask

    client = Client("tcp://scheduler:8786")         # or LocalCluster(), or no client
    grid = libgrid.Grid.open("county.lgs")
    plan = libgrid.plan_zones(grid, weight="calls", group="station")
    ddf = dd.read_parquet("incidents/*.parquet")    # columns x, y (any CRS)
    out = libgrid.dask.locate_partitions(
        grid, ddf, x="lon", y="lat", crs="EPSG:4326",
        hierarchy={"zone": plan.zone, "station": grid["station"]})
    out.to_parquet("attributed/")

The grid, its ids and the per-cell tables travel once per worker: with a distributed
``Client`` active they are scattered with ``broadcast=True``; otherwise they are a
single ``dask.delayed`` node of the graph. A Grid pickles as its snapshot bytes, so
shipping it costs a memory copy, not a rebuild. See docs/DASK.md.
"""

from __future__ import annotations

import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

import dask
import dask.array as da
import dask.dataframe as dd

from . import ArgumentError, Grid

__all__ = ["locate_partitions", "locate_frame", "Lookup"]


def _extended(values: Any) -> np.ndarray:
    """values with a "none" sentinel appended, so that values_ext[rows] maps row -1 to it."""
    if isinstance(values, np.ma.MaskedArray):
        values = values.filled(-1)
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        return np.append(arr.astype(np.int64), np.int64(-1))
    if arr.dtype.kind == "f":
        return np.append(arr.astype(np.float64), np.nan)
    out = np.empty(len(arr) + 1, dtype=object)
    out[:-1] = arr
    out[-1] = None
    return out


class Lookup:
    """What a worker needs: the grid, its ids and the per-cell tables, each with a
    sentinel at the end for "outside every cell". Pickles compactly (the grid as its
    snapshot); shipped once per worker."""

    def __init__(self, grid: Grid, hierarchy: Optional[Mapping[str, Any]] = None,
                 ids: bool = True) -> None:
        self.grid = grid
        self.ids = _extended(grid.ids) if ids else None
        self.tables: Dict[str, np.ndarray] = {}
        for name, values in (hierarchy or {}).items():
            if isinstance(values, str):
                values = grid[values]
            if len(values) != len(grid):
                raise ArgumentError("locate_partitions: hierarchy['%s'] has %d values, the "
                                    "grid %d cells" % (name, len(values), len(grid)))
            self.tables[str(name)] = _extended(values)
        self._token = uuid.uuid4().hex

    def __dask_tokenize__(self) -> Tuple[str, str]:
        return ("libgrid.dask.Lookup", self._token)

    def columns(self, out: str) -> List[Tuple[str, np.dtype]]:
        cols = [(out, np.dtype(np.int64))]
        if self.ids is not None:
            cols.append((out + "_id", self.ids.dtype))
        cols += [(k, v.dtype) for k, v in self.tables.items()]
        return cols

    def attribute(self, x: np.ndarray, y: np.ndarray, crs: Optional[str],
                  out: str) -> Dict[str, np.ndarray]:
        rows = np.asarray(self.grid.locate(np.asarray(x, dtype=np.float64),
                                           np.asarray(y, dtype=np.float64), crs=crs))
        res = {out: rows}
        if self.ids is not None:
            res[out + "_id"] = self.ids[rows]  # row -1 takes the sentinel
        for k, v in self.tables.items():
            res[k] = v[rows]
        return res


def locate_frame(df: Any, lookup: Lookup, x: str = "x", y: str = "y",
                 crs: Optional[str] = None, out: str = "cell") -> Any:
    """One pandas partition: ``df`` with the columns of :meth:`Lookup.columns` added."""
    res = lookup.attribute(df[x].to_numpy(), df[y].to_numpy(), crs, out)
    df = df.copy(deep=False)
    for k, v in res.items():
        df[k] = v
    return df


def _locate_block(xb: np.ndarray, yb: np.ndarray, lookup: Lookup, crs: Optional[str],
                  out: str) -> Dict[str, np.ndarray]:
    return lookup.attribute(xb, yb, crs, out)


def _ship(lookup: Lookup) -> Any:
    """A reference to lookup that sends it once per worker."""
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        client = None
    if client is not None:
        return client.scatter(lookup, broadcast=True, hash=False)
    return dask.delayed(lookup, pure=True)


def locate_partitions(
    grid: Grid,
    data: Any,
    x: str = "x",
    y: str = "y",
    crs: Optional[str] = None,
    out: str = "cell",
    hierarchy: Union[None, Mapping[str, Any], Sequence[str]] = None,
    ids: bool = True,
) -> Any:
    """Attribute points to cells (and zones, stations, ...) partition by partition.

    :param grid: the cells.
    :param data: a Dask DataFrame with point columns ``x`` and ``y``, or a pair
        ``(xs, ys)`` of 1-d Dask arrays with the same chunks.
    :param crs: CRS of the points (None: the grid's); e.g. "EPSG:4326" (x = longitude).
    :param out: name of the cell-row column (-1 outside every cell); the id column is
        ``out + "_id"`` (-1 / None outside).
    :param hierarchy: per-cell tables to attribute too: a mapping name -> array of one
        value per cell (e.g. ``{"zone": plan.zone, "station": grid["station"]}``) or a
        list of field names of the grid. Outside every cell: -1 (int), NaN (float) or
        None (text).
    :param ids: add the id column.
    :returns: for a DataFrame, a lazy Dask DataFrame: the input's columns plus ``out``,
        ``out_id`` and the hierarchy columns (``map_partitions``); for arrays, a dict
        name -> lazy Dask array. Results equal ``grid.locate`` on the whole set.
    """
    if not isinstance(grid, Grid):
        raise TypeError("locate_partitions: expected a libgrid.Grid, not %s"
                        % type(grid).__name__)
    if hierarchy is not None and not isinstance(hierarchy, Mapping):
        hierarchy = {str(name): grid[name] for name in hierarchy}
    lookup = Lookup(grid, hierarchy, ids)
    ref = _ship(lookup)
    cols = lookup.columns(out)
    if isinstance(data, dd.DataFrame):
        for c in (x, y):
            if c not in data.columns:
                raise ArgumentError("locate_partitions: no column '%s' in the DataFrame" % c)
        clash = [c for c, _ in cols if c in data.columns]
        if clash:
            raise ArgumentError("locate_partitions: the DataFrame already has columns %s"
                                % clash)
        meta = data._meta.copy()
        for name, dtype in cols:
            meta[name] = np.empty(0, dtype=dtype)
        return data.map_partitions(locate_frame, ref, x, y, crs, out, meta=meta,
                                   align_dataframes=False)
    if isinstance(data, tuple) and len(data) == 2:
        xs, ys = (d if isinstance(d, da.Array) else da.asarray(d) for d in data)
        if xs.ndim != 1 or ys.ndim != 1 or xs.chunks != ys.chunks:
            raise ArgumentError("locate_partitions: x and y must be 1-d Dask arrays with the "
                                "same chunks")
        parts = [dask.delayed(_locate_block, pure=True)(xb, yb, ref, crs, out)
                 for xb, yb in zip(xs.to_delayed(), ys.to_delayed())]
        result = {}
        for name, dtype in cols:
            result[name] = da.concatenate([
                da.from_delayed(p[name], shape=(n,), dtype=dtype)
                for p, n in zip(parts, xs.chunks[0])])
        return result
    raise TypeError("locate_partitions: data must be a Dask DataFrame or a pair of Dask "
                    "arrays, not %s" % type(data).__name__)
