"""Run examples/planning.py headless so that it never rots."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "examples", "planning.py")


def test_planning_example_runs(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("geopandas")
    import libgrid

    env = dict(os.environ, MPLBACKEND="Agg")
    pkg = os.path.dirname(os.path.dirname(libgrid.__file__))
    env["PYTHONPATH"] = pkg + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, SCRIPT, str(tmp_path)], env=env, cwd=str(tmp_path),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("stations.png", "zones.png", "coverage.png", "heat.png"):
        path = tmp_path / name
        assert path.exists() and path.stat().st_size > 1000, name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "StationPlan" in r.stdout and "hot spots" in r.stdout
