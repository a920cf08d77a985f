"""Exceptions: one class per lg_error code, raised by real bad inputs with useful messages."""

import pytest

import libgrid

CODES = {
    1: (libgrid.NoMemoryError, MemoryError),
    2: (libgrid.ArgumentError, ValueError),
    3: (libgrid.FileError, OSError),
    4: (libgrid.FormatError, None),
    5: (libgrid.UnsupportedError, None),
    6: (libgrid.CRSError, None),
    7: (libgrid.GeometryError, None),
    8: (libgrid.NotFoundError, LookupError),
    9: (libgrid.CapacityError, None),
    10: (libgrid.InternalError, None),
    11: (libgrid.CancelledError, None),
}


def test_table_covers_every_code():
    assert set(libgrid.ERRORS) == set(CODES)
    for code, (cls, extra) in CODES.items():
        assert libgrid.ERRORS[code] is cls and cls.code == code
        assert issubclass(cls, libgrid.Error) and issubclass(cls, Exception)
        assert not issubclass(cls, RuntimeError)
        if extra is not None:
            assert issubclass(cls, extra)
    assert not issubclass(libgrid.NotFoundError, KeyError)  # KeyError would quote str()
    assert str(libgrid.FileError("x.shp: gone")) == "x.shp: gone"


def test_missing_file(tmp_path):
    for name in ("missing.shp", "missing.geojson", "missing.wkt"):
        path = str(tmp_path / name)
        with pytest.raises(libgrid.FileError) as ei:
            libgrid.Grid.from_file(path)
        assert path in str(ei.value)
        assert isinstance(ei.value, OSError)


def test_malformed_geojson(tmp_path):
    path = tmp_path / "bad.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(libgrid.FormatError) as ei:
        libgrid.Grid.from_file(path)
    assert str(path) in str(ei.value)


def test_non_finite_geometry(tmp_path):
    path = tmp_path / "nan.wkt"
    path.write_text("POLYGON((0 0, 1 0, 1 1, 0 0))\nPOLYGON((0 0, 1 0, nan 1, 0 0))\n")
    with pytest.raises(libgrid.GeometryError) as ei:
        libgrid.Grid.from_file(path)
    msg = str(ei.value)
    assert str(path) in msg and "record 1" in msg


def test_unknown_format(tmp_path):
    path = tmp_path / "cells.xyz"
    path.write_text("")
    with pytest.raises(libgrid.UnsupportedError) as ei:
        libgrid.Grid.from_file(path)
    assert str(path) in str(ei.value)


def test_unknown_id_field(ne_path):
    with pytest.raises(libgrid.NotFoundError) as ei:
        libgrid.Grid.from_file(ne_path, id_field="no_such_field")
    msg = str(ei.value)
    assert ne_path in msg and "no_such_field" in msg
    assert isinstance(ei.value, LookupError)


def test_unknown_attribute(synth_grid):
    with pytest.raises(libgrid.NotFoundError, match="'nope'"):
        synth_grid["nope"]
    with pytest.raises(TypeError):
        synth_grid[0]


def test_bad_crs(ne_path, synth_grid):
    with pytest.raises(libgrid.CRSError) as ei:
        libgrid.Grid.from_file(ne_path, crs="EPSG:999999")
    assert ne_path in str(ei.value) and "EPSG:999999" in str(ei.value)
    with pytest.raises(libgrid.CRSError, match="no-such-crs"):
        synth_grid.locate([0.0], [0.0], crs="no-such-crs")
    with pytest.raises(libgrid.CRSError):
        libgrid.check_crs("no-such-crs")
    assert libgrid.check_crs("EPSG:4326")


def test_locate_crs_without_grid_crs(tmp_path):
    path = tmp_path / "cells.wkt"
    path.write_text("POLYGON((0 0, 1 0, 1 1, 0 0))\n")
    grid = libgrid.Grid.from_file(path)
    assert grid.crs is None
    with pytest.raises(libgrid.CRSError):
        grid.locate([0.5], [0.1], crs="EPSG:4326")


def test_bad_synth_arguments():
    with pytest.raises(libgrid.ArgumentError, match="cells"):
        libgrid.Grid.synth(5)
    with pytest.raises(libgrid.ArgumentError):
        libgrid.Grid.synth(100, cell_size_m=-1.0)
    with pytest.raises(libgrid.ArgumentError):
        libgrid.synth_stations(5)


def test_write_to_missing_directory(synth_grid, tmp_path):
    path = tmp_path / "no" / "such" / "dir" / "county.geojson"
    with pytest.raises(libgrid.FileError) as ei:
        synth_grid.to_file(path)
    assert "county.geojson" in str(ei.value)


def test_grid_cannot_be_made_directly():
    with pytest.raises(TypeError):
        libgrid.Grid(None)


def test_every_code_raises_its_class_through_the_extension():
    """The C side's code -> class lookup, for every code, including those no Python call
    can provoke on demand (out of memory, capacity, internal, cancelled)."""
    from libgrid import _libgrid

    for code, (cls, _) in CODES.items():
        with pytest.raises(cls) as ei:
            _libgrid._raise_code(code, b"file.shp: record 3: reason")
        assert type(ei.value) is cls
        assert str(ei.value) == "file.shp: record 3: reason"
    # an empty message falls back to lg_strerror; a non-UTF-8 one is decoded leniently
    with pytest.raises(libgrid.FormatError) as ei:
        _libgrid._raise_code(4, b"")
    assert str(ei.value) == _libgrid.strerror(4)
    with pytest.raises(libgrid.FileError) as ei:
        _libgrid._raise_code(3, b"caf\xe9.shp: cannot open")
    assert str(ei.value).endswith(".shp: cannot open")


def test_ctrl_c_interrupts_a_long_locate(synth_grid):
    """SIGINT during a batch locate raises KeyboardInterrupt; the grid stays usable."""
    import os
    import signal
    import threading

    import numpy as np

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    n = 8 << 20
    x = np.full(n, synth_grid.bounds[0] + 10.0)
    y = np.full(n, synth_grid.bounds[1] + 10.0)
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGINT))
    try:
        rows = None
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            rows = synth_grid.locate(x, y)
            timer.join()  # should the call be quicker than the timer
            rows = synth_grid.locate(x, y)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, old)
    assert synth_grid.locate(x[:10], y[:10]).shape == (10,)
