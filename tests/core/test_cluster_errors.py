"""Without Ray, or with a cluster that cannot be reached, `infer --cluster` says so in one line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.cluster.ray_analysis import ray_module
from core.errors import ClusterError
from main import main
from tests.videos import write_mjpeg_avi


def test_missing_ray_is_one_clear_line(tmp_path: Path, db_url: str, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ClusterError, match=r"pip install 'c3d-labeller\[cluster\]'"):
        ray_module()
    path = write_mjpeg_avi(tmp_path / "clip.avi", 24, size=(112, 112))
    code = main(["--db", db_url, "infer", str(path), "--cluster"])
    _, err = capsys.readouterr()
    assert code != 0 and "c3d-labeller[cluster]" in err and "Traceback" not in err


def test_unreachable_cluster_is_one_clear_line(tmp_path: Path, db_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write_mjpeg_avi(tmp_path / "clip.avi", 24, size=(112, 112))
    code = main(["--db", db_url, "infer", str(path), "--cluster", "ray://127.0.0.1:1"])
    _, err = capsys.readouterr()
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code != 0 and "Traceback" not in err
    assert "Cannot reach the Ray cluster at ray://127.0.0.1:1" in lines[-1]
