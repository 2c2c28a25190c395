"""Starting a data-parallel fine-tuning run with torchrun, and stopping it.

The launcher runs ``python -m torch.distributed.run`` (torchrun) over
``core.learning.training.rank_main``; torchrun starts one process per GPU (or per requested
CPU process), sets RANK/WORLD_SIZE, and on several machines meets the other nodes at the
rendezvous endpoint. Cancel creates a stop file every rank polls, so all ranks stop at the
same step and rank 0's last checkpoint resumes the run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from core.errors import Cancelled, ClusterError
from core.learning.training.config import TrainConfig
from core.learning.training.distributed import STOP_FILE_ENV

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Launch:
    nproc: int  # processes on this node (one per GPU, usually)
    nnodes: int = 1
    rdzv_endpoint: str | None = None  # HOST:PORT of the rendezvous, needed with several nodes


def torchrun_command(db_url: str, config: TrainConfig, launch: Launch) -> list[str]:
    if launch.nproc < 1 or launch.nnodes < 1:
        raise ClusterError("--nproc and --nnodes must be at least 1.")
    config_json = json.dumps(config.to_json(), sort_keys=True)
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={launch.nproc}"]
    if launch.rdzv_endpoint:
        # Every node runs the same command, so the same config gives the same run id.
        run_id = "c3d-" + hashlib.sha256(config_json.encode()).hexdigest()[:12]
        cmd += [
            f"--nnodes={launch.nnodes}",
            "--rdzv-backend=c10d",
            f"--rdzv-endpoint={launch.rdzv_endpoint}",
            f"--rdzv-id={run_id}",
        ]
    elif launch.nnodes > 1:
        raise ClusterError("Training on several nodes needs --rdzv-endpoint HOST:PORT (the first node).")
    else:
        cmd += ["--standalone"]
    return [*cmd, "-m", "core.learning.training.rank_main", "--db", db_url, "--config", config_json]


def run_distributed(
    db_url: str, config: TrainConfig, launch: Launch, cancel: threading.Event | None = None
) -> int:
    """Run torchrun to the end (its output goes to ours); returns its exit status.

    Raises ``Cancelled`` when ``cancel`` was set and the ranks have stopped.
    """
    cancel = cancel or threading.Event()
    cmd = torchrun_command(db_url, config, launch)
    with tempfile.TemporaryDirectory(prefix="c3d-ddp-") as folder:
        stop_file = Path(folder) / "stop"
        env = dict(os.environ)
        env[STOP_FILE_ENV] = str(stop_file)
        log.info("Starting %s", " ".join(cmd[:8]))
        try:
            proc = subprocess.Popen(cmd, env=env)
        except OSError as exc:
            raise ClusterError(f"Cannot start torchrun: {exc}.") from exc
        try:
            while True:
                try:
                    code = proc.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    if cancel.is_set() and not stop_file.exists():
                        stop_file.touch()
        finally:
            if proc.poll() is None:  # KeyboardInterrupt: the ranks got SIGINT too; let them end
                stop_file.touch()
                proc.wait()
    if cancel.is_set():
        raise Cancelled("Training cancelled; finished epochs are kept and the same command resumes.")
    return code
