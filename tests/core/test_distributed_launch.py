"""The torchrun launcher: the command it builds, and a cancel that reaches every rank."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from core.errors import Cancelled, ClusterError
from core.learning.training import launch
from core.learning.training.config import TrainConfig
from core.learning.training.launch import Launch, run_distributed, torchrun_command


def test_one_node_is_standalone_and_several_need_a_rendezvous() -> None:
    config = TrainConfig(mode="full", epochs=2)
    one = torchrun_command("sqlite:///x.sqlite3", config, Launch(nproc=2))
    assert "--standalone" in one and "--nproc-per-node=2" in one
    assert one[-4:-2] == ["--db", "sqlite:///x.sqlite3"]
    two = torchrun_command("postgresql://h/db", config, Launch(nproc=8, nnodes=2, rdzv_endpoint="h:29400"))
    assert "--rdzv-endpoint=h:29400" in two and "--nnodes=2" in two and "--standalone" not in two
    # Every node runs the same command: the same config must give the same rendezvous id.
    again = torchrun_command("postgresql://h/db", config, Launch(nproc=8, nnodes=2, rdzv_endpoint="h:29400"))
    assert [a for a in two if a.startswith("--rdzv-id")] == [a for a in again if a.startswith("--rdzv-id")]
    with pytest.raises(ClusterError, match="rdzv-endpoint"):
        torchrun_command("postgresql://h/db", config, Launch(nproc=8, nnodes=2))


def test_cancel_creates_the_stop_file_the_ranks_watch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in for torchrun that, like every rank, ends once the stop file appears."""
    seen = tmp_path / "seen"
    rank = (
        "import os, pathlib, time\n"
        "stop = pathlib.Path(os.environ['C3D_DDP_STOP_FILE'])\n"
        "while not stop.exists(): time.sleep(0.05)\n"
        f"pathlib.Path({str(seen)!r}).write_text('stopped')\n"
    )
    monkeypatch.setattr(launch, "torchrun_command", lambda *_a: [sys.executable, "-c", rank])
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    with pytest.raises(Cancelled):
        run_distributed("sqlite:///x.sqlite3", TrainConfig(mode="full"), Launch(nproc=2), cancel)
    assert seen.read_text() == "stopped"
