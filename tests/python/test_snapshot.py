"""Snapshots and pickling: save/open round trips, corrupt and truncated files, pickle
through processes. The oracle for "same grid" is the original grid's own answers
(locate on random points, attributes, WKB of every cell, problems)."""

import concurrent.futures
import multiprocessing
import os
import pickle
import struct

import numpy as np
import pytest

import libgrid

HEADER = 128
ENTRY = 32


def assert_same_grid(a, b, rng=None):
    assert len(a) == len(b)
    assert a.crs == b.crs and a.fields == b.fields and a.field_types == b.field_types
    assert a.id_field == b.id_field
    np.testing.assert_array_equal(np.asarray(a.ids), np.asarray(b.ids))
    for name in a.fields:
        np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(b[name]))
    np.testing.assert_array_equal(a.bounds, b.bounds)
    for i in range(0, len(a), max(1, len(a) // 37)):
        assert a.wkb(i) == b.wkb(i)
    assert a.problems == b.problems or (len(a.problems) == len(b.problems))
    rng = rng or np.random.default_rng(3)
    minx, miny, maxx, maxy = a.bounds
    x = rng.uniform(minx - 50, maxx + 50, 20000)
    y = rng.uniform(miny - 50, maxy + 50, 20000)
    np.testing.assert_array_equal(a.locate(x, y), b.locate(x, y))


def sections(data):
    """(offset, nbytes) of every non-empty section, read from the documented layout."""
    count, table_off = struct.unpack_from("<QQ", data, 24)
    out = []
    for i in range(count):
        _id, elem, off, n, _h = struct.unpack_from("<IIQQQ", data, table_off + i * ENTRY)
        if elem * n:
            out.append((off, elem * n))
    return out


def test_save_open_round_trip(synth_grid, tmp_path):
    path = tmp_path / "county.lgs"
    synth_grid.save(path)
    assert path.stat().st_size == len(synth_grid.to_snapshot_bytes())
    for verify in (True, False):
        g = libgrid.Grid.open(path, verify=verify)
        assert_same_grid(synth_grid, g)
    # str path too, and a snapshot of a snapshot is byte-identical
    g = libgrid.Grid.open(str(path))
    assert g.to_snapshot_bytes() == synth_grid.to_snapshot_bytes()


def test_natural_earth_snapshot_keeps_text_ids_and_problems(ne_path, tmp_path):
    grid = libgrid.Grid.from_file(ne_path, id_field="name")
    path = tmp_path / "ne.lgs"
    grid.save(path)
    g = libgrid.Grid.open(path)
    assert_same_grid(grid, g)
    assert g.find_id("France") == grid.find_id("France") >= 0
    assert g.problems == grid.problems


def test_bytes_round_trip_and_buffer_types(synth_grid):
    data = synth_grid.to_snapshot_bytes()
    for buf in (data, bytearray(data), memoryview(data), np.frombuffer(data, np.uint8)):
        assert_same_grid(synth_grid, libgrid.Grid.from_snapshot_bytes(buf))


def test_corrupt_byte_in_every_section_is_format_error(synth_grid, tmp_path):
    data = synth_grid.to_snapshot_bytes()
    secs = sections(data)
    assert len(secs) >= 5
    # header, section table, and the middle byte of every section
    spots = [3, 20, 100, struct.unpack_from("<Q", data, 32)[0] + 5]
    spots += [off + n // 2 for off, n in secs]
    for pos in spots:
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        with pytest.raises(libgrid.FormatError) as ei:
            libgrid.Grid.from_snapshot_bytes(bytes(bad))
        assert "snapshot" in str(ei.value)
        path = tmp_path / ("bad%d.lgs" % pos)
        path.write_bytes(bad)
        with pytest.raises(libgrid.FormatError) as ei:
            libgrid.Grid.open(path)
        assert str(path) in str(ei.value)


def test_unverified_corrupt_file_never_crashes(synth_grid, tmp_path, rng):
    """Without checksums a corrupt section may give wrong answers, never a crash."""
    data = synth_grid.to_snapshot_bytes()
    minx, miny, maxx, maxy = synth_grid.bounds
    x = rng.uniform(minx, maxx, 5000)
    y = rng.uniform(miny, maxy, 5000)
    for off, n in sections(data):
        bad = bytearray(data)
        for k in range(0, n, max(1, n // 16)):
            bad[off + k] ^= 0xFF
        try:
            g = libgrid.Grid.from_snapshot_bytes(bytes(bad), verify=False)
        except libgrid.FormatError:
            continue
        rows = g.locate(x, y)
        assert rows.min() >= -1 and rows.max() < len(g)


def test_truncated_file_is_format_error(synth_grid, tmp_path):
    data = synth_grid.to_snapshot_bytes()
    for cut in (0, 10, HEADER - 1, HEADER, len(data) // 2, len(data) - 1):
        path = tmp_path / ("cut%d.lgs" % cut)
        path.write_bytes(data[:cut])
        with pytest.raises(libgrid.FormatError) as ei:
            libgrid.Grid.open(path)
        assert str(path) in str(ei.value)
        with pytest.raises(libgrid.FormatError):
            libgrid.Grid.from_snapshot_bytes(data[:cut])


def test_newer_version_is_unsupported(synth_grid):
    bad = bytearray(synth_grid.to_snapshot_bytes())
    struct.pack_into("<I", bad, 8, 99)
    with pytest.raises(libgrid.UnsupportedError) as ei:
        libgrid.Grid.from_snapshot_bytes(bytes(bad))
    assert "version 99" in str(ei.value)


def test_open_missing_and_not_a_snapshot(tmp_path, ne_path):
    with pytest.raises(libgrid.FileError) as ei:
        libgrid.Grid.open(tmp_path / "missing.lgs")
    assert "missing.lgs" in str(ei.value)
    with pytest.raises(libgrid.FormatError) as ei:
        libgrid.Grid.open(ne_path)
    assert "magic" in str(ei.value)
    with pytest.raises(libgrid.FileError):
        libgrid.Grid.open(tmp_path)  # a directory
    with pytest.raises(libgrid.FileError):
        libgrid.Grid.synth(50).save(tmp_path / "no" / "such" / "dir.lgs")


def test_pickle_round_trip(synth_grid):
    for proto in (3, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL):
        data = pickle.dumps(synth_grid, protocol=proto)
        # the payload is the snapshot, not a per-cell Python structure
        assert len(data) < len(synth_grid.to_snapshot_bytes()) + 512
        assert_same_grid(synth_grid, pickle.loads(data))
    red = synth_grid.__reduce__()
    assert red[0] is libgrid._from_snapshot_bytes
    assert red[1] == (synth_grid.to_snapshot_bytes(),)


def _locate_in_child(grid, x, y):
    return grid.locate(x, y), os.getpid()


def _points(grid, n=20000, seed=5):
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = grid.bounds
    return rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)


def test_pickle_through_process_pool_executor(synth_grid):
    x, y = _points(synth_grid)
    want = synth_grid.locate(x, y)
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing inherited
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as ex:
        futs = [ex.submit(_locate_in_child, synth_grid, x[i::2], y[i::2]) for i in range(2)]
        res = [f.result(timeout=60) for f in futs]
    assert all(pid != os.getpid() for _, pid in res)
    got = np.empty_like(want)
    got[0::2], got[1::2] = res[0][0], res[1][0]
    np.testing.assert_array_equal(got, want)


def test_pickle_through_multiprocessing_pool(synth_grid):
    x, y = _points(synth_grid, seed=6)
    want = synth_grid.locate(x, y)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        res = pool.starmap(_locate_in_child, [(synth_grid, x[:9000], y[:9000]),
                                              (synth_grid, x[9000:], y[9000:])])
    np.testing.assert_array_equal(np.concatenate([r for r, _ in res]), want)
