"""DDP mechanics with 2 CPU processes (gloo): ranks stay identical, match one process, stop together.

The distribution machinery is what is tested here, so the task is a tiny stand-in (two linear
layers on fixed inputs); the product always trains the seed's C3D_BN through the same wrapper.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from torch import nn
from torch.nn import functional as F

from core.errors import Cancelled
from core.learning.training.config import TrainingProgress
from core.learning.training.distributed import distribute, init_from_env
from core.learning.training.loop import LoopSettings, train_loop
from core.model.network import C3D_BN

N_TRAIN, N_VAL, WIDTH, CLASSES = 12, 6, 6, 3


class TinyTask:
    """A ``Task`` over fixed random features; nothing random after construction."""

    def __init__(self) -> None:
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(N_TRAIN + N_VAL, WIDTH, generator=gen)
        self.y = torch.randint(0, CLASSES, (N_TRAIN + N_VAL,), generator=gen)
        torch.manual_seed(0)
        self.model = nn.Sequential(nn.Linear(WIDTH, 8), nn.ReLU(), nn.Linear(8, CLASSES))
        self.n_train = N_TRAIN
        self.val_labels = self.y[N_TRAIN:].numpy()
        self.n_classes = CLASSES
        self.cpu_threads: int | None = None
        self.examples_seen: list[int] = []

    def parameters(self) -> list[nn.Parameter]:
        return list(self.model.parameters())

    def loss(self, indices: np.ndarray, batch_total: int, rng: np.random.Generator) -> torch.Tensor:
        self.examples_seen.extend(int(i) for i in indices)
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        return F.cross_entropy(self.model(self.x[idx]), self.y[idx], reduction="sum") / batch_total

    def predict_val(self, cancel: threading.Event) -> np.ndarray:
        with torch.no_grad():
            return torch.softmax(self.model(self.x[N_TRAIN:]), dim=1).numpy()

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)

    def set_train_mode(self, micro_batch: int) -> None:
        self.model.train()

    def finalize(self) -> C3D_BN:
        return self.model  # type: ignore[return-value]


def _settings(run_dir: Path, micro: int, epochs: int = 2) -> LoopSettings:
    # 12 examples in batches of 5: the last batch has 2, so a rank gets an empty share.
    return LoopSettings(
        epochs=epochs,
        lr=0.05,
        batch_size=5,
        patience=10,
        weight_decay=0.0,
        seed=3,
        micro_batch=micro,
        run_dir=run_dir,
    )


def _flat(task: TinyTask) -> np.ndarray:
    return torch.cat([p.detach().flatten() for p in task.parameters()]).numpy().copy()


def _recorder(task: TinyTask, steps: list[np.ndarray]):  # type: ignore[no-untyped-def]
    def report(p: TrainingProgress) -> None:
        if p.phase == "train":
            steps.append(_flat(task))

    return report


def _rank_main(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    ctx = init_from_env("cpu", timeout_s=120)
    out_dir = Path(out)
    # 1. Two epochs: record the weights after every optimizer step.
    task = TinyTask()
    steps: list[np.ndarray] = []
    wrapped, settings, loop_cancel = distribute(
        task,
        _settings(out_dir / "run", micro=2),
        ctx,
        threading.Event(),  # type: ignore[arg-type]
    )
    train_loop(wrapped, settings, loop_cancel, _recorder(task, steps))  # type: ignore[arg-type]
    np.save(out_dir / f"steps-{rank}.npy", np.stack(steps))
    np.save(out_dir / f"seen-{rank}.npy", np.asarray(task.examples_seen))
    # 2. Rank 1 alone is asked to stop after its second step: both ranks stop there.
    task = TinyTask()
    cancel = threading.Event()
    done: list[np.ndarray] = []

    def report(p: TrainingProgress) -> None:
        if p.phase == "train":
            done.append(_flat(task))
            if rank == 1 and len(done) == 2:
                cancel.set()

    wrapped, settings, loop_cancel = distribute(
        task,
        _settings(out_dir / "cancelled", micro=2),
        ctx,
        cancel,  # type: ignore[arg-type]
    )
    try:
        train_loop(wrapped, settings, loop_cancel, report)  # type: ignore[arg-type]
    except Cancelled:
        (out_dir / f"cancelled-{rank}-after-{len(done)}").touch()
    torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_ranks_stay_identical_match_one_process_and_stop_together(tmp_path: Path) -> None:
    mp.spawn(_rank_main, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    rank0, rank1 = np.load(tmp_path / "steps-0.npy"), np.load(tmp_path / "steps-1.npy")
    assert rank0.shape[0] == 2 * 3  # 2 epochs of 3 steps
    np.testing.assert_array_equal(rank0, rank1)  # the same weights on every rank after each step

    single = TinyTask()
    steps: list[np.ndarray] = []
    train_loop(single, _settings(tmp_path / "single", micro=4), threading.Event(), _recorder(single, steps))  # type: ignore[arg-type]
    np.testing.assert_allclose(rank0, np.stack(steps), rtol=0, atol=1e-6)
    assert not np.allclose(rank0[0], rank0[-1])  # it did learn something

    seen0, seen1 = (
        set(np.load(tmp_path / "seen-0.npy").tolist()),
        set(np.load(tmp_path / "seen-1.npy").tolist()),
    )
    assert seen0 | seen1 == set(range(N_TRAIN)) and len(seen1 - seen0) > 0  # each rank read its share

    assert (tmp_path / "run" / "state.safetensors").is_file()  # written once, by rank 0
    assert {p.name for p in tmp_path.glob("cancelled-*")} == {"cancelled-0-after-2", "cancelled-1-after-2"}
