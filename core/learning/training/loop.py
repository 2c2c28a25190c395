"""The epoch loop every mode shares: cancel, resume, early stopping, divergence, out-of-memory.

A mode supplies a ``Task`` (how to compute the loss of some training examples and the
probabilities of the validation ones); this loop owns everything a user relies on: progress,
a cancel honoured between micro-batches (well under 2 s on a CPU), a checkpoint after every
epoch with optimizer, scheduler and RNG state, and a resume that replays exactly. Shuffling
and dropout draw from generators seeded by (seed, epoch), so an epoch run after a resume
draws the same numbers as it would have without the interruption.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from core.errors import Cancelled, TrainingError
from core.learning.evaluation import frame_metrics
from core.learning.training.config import EpochRecord, TrainingProgress
from core.learning.training.state_file import load_state, save_state
from core.model.network import C3D_BN

log = logging.getLogger(__name__)

_CHECKPOINT = "state.safetensors"


class Task(Protocol):
    n_train: int
    val_labels: np.ndarray
    n_classes: int
    cpu_threads: int | None
    """Intra-op threads while training on the CPU; None keeps torch's setting."""

    def parameters(self) -> list[torch.nn.Parameter]: ...
    def loss(self, indices: np.ndarray, batch_total: int, rng: np.random.Generator) -> torch.Tensor: ...
    def predict_val(self, cancel: threading.Event) -> np.ndarray: ...
    def trainable_state(self) -> dict[str, torch.Tensor]: ...
    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None: ...
    def set_train_mode(self, micro_batch: int) -> None: ...
    def finalize(self) -> C3D_BN: ...


def modules_state(modules: list[torch.nn.Module]) -> dict[str, torch.Tensor]:
    """The state of several modules as one flat dict, keyed by each module's position."""
    return {f"{i}.{k}": v for i, m in enumerate(modules) for k, v in m.state_dict().items()}


def load_modules_state(modules: list[torch.nn.Module], state: dict[str, torch.Tensor]) -> None:
    """Undo ``modules_state``: each module gets back the entries under its position."""
    for i, module in enumerate(modules):
        module.load_state_dict({k.split(".", 1)[1]: v for k, v in state.items() if k.startswith(f"{i}.")})


@dataclass
class LoopSettings:
    epochs: int
    lr: float
    batch_size: int
    patience: int
    weight_decay: float
    seed: int
    micro_batch: int
    run_dir: Path
    writer: bool = True
    """Whether this process writes the checkpoint (in a distributed run only rank 0 does)."""


@dataclass
class LoopOutcome:
    history: list[EpochRecord] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] | None = None
    best_f1: float = -1.0
    best_probs: np.ndarray | None = None
    stopped_early: bool = False
    resumed_from_epoch: int = 0


def train_loop(
    task: Task,
    settings: LoopSettings,
    cancel: threading.Event,
    report: Callable[[TrainingProgress], None],
) -> LoopOutcome:
    """Run (or resume) the epochs; the best-by-validation-macro-F1 weights end up in ``task``."""
    with intra_op_threads(task.cpu_threads):
        return _train_loop(task, settings, cancel, report)


@contextmanager
def intra_op_threads(count: int | None) -> Iterator[None]:
    """Temporarily use ``count`` CPU threads for torch ops (per calling thread under OpenMP).

    Tiny matrix products (a 4096×C head) run ~15× faster on one thread than on two on a
    busy 2-core machine, where OpenMP workers spin waiting for a core.
    """
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def warm_up() -> None:
    """Import torch's optimizer machinery now (~3 s the first time, it pulls in dynamo).

    The GUI calls this on a background thread at start-up so the first Fine-tune click
    does not pay it.
    """
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])


def _train_loop(
    task: Task,
    settings: LoopSettings,
    cancel: threading.Event,
    report: Callable[[TrainingProgress], None],
) -> LoopOutcome:
    params = task.parameters()
    # The fused kernel is one pass over the weights: 6x faster than the default on the CPU,
    # where the optimizer step was the largest cost of a last-layers run (50M parameters).
    fused = params[0].device.type in ("cpu", "cuda")
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay, fused=fused)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(settings.epochs, 1))
    out = LoopOutcome()
    bad_epochs = 0
    micro = settings.micro_batch
    start_epoch = 0
    saved = _load(settings.run_dir)
    if saved is not None:
        task.load_trainable_state(saved["trainable"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        start_epoch, bad_epochs, micro = int(saved["epoch"]), int(saved["bad_epochs"]), int(saved["micro"])
        best = saved["best_state"]
        out.best_state = {k: v.clone() for k, v in saved["trainable"].items()} if best is None else best
        out.best_f1 = float(saved["best_f1"])
        out.history = [EpochRecord(*row) for row in saved["history"]]
        out.resumed_from_epoch = start_epoch
        log.info("Resuming training from epoch %d in %s", start_epoch, settings.run_dir)
    began = time.perf_counter()
    steps = max(math.ceil(task.n_train / settings.batch_size), 1)
    for epoch in range(start_epoch, settings.epochs):
        gen = torch.Generator().manual_seed(settings.seed * 100_003 + epoch)
        order = torch.randperm(task.n_train, generator=gen).numpy()
        aug_rng = np.random.default_rng([settings.seed, epoch])
        losses: list[float] = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed * 7_919 + epoch)  # dropout
            for step in range(steps):
                batch = order[step * settings.batch_size : (step + 1) * settings.batch_size]
                loss, micro = _step(task, optimizer, batch, micro, aug_rng, cancel)
                if not math.isfinite(loss):
                    raise TrainingError(
                        f"Training diverged in epoch {epoch + 1} (the loss became {loss}); the previous "
                        "model is kept. Try a lower learning rate."
                    )
                losses.append(loss)
                report(
                    TrainingProgress(
                        "train",
                        epoch + 1,
                        settings.epochs,
                        step + 1,
                        steps,
                        loss,
                        elapsed_s=time.perf_counter() - began,
                    )
                )
        scheduler.step()
        _check_finite(params, epoch)
        probs = task.predict_val(cancel)
        if cancel.is_set():
            raise Cancelled("Training cancelled; finished epochs are kept and the same run resumes.")
        metrics = frame_metrics(task.val_labels, probs.argmax(axis=1), task.n_classes)
        record = EpochRecord(epoch + 1, float(np.mean(losses)), metrics.accuracy, metrics.macro_f1)
        out.history.append(record)
        if metrics.macro_f1 > out.best_f1:
            out.best_f1, bad_epochs = metrics.macro_f1, 0
            out.best_state = {k: v.detach().clone() for k, v in task.trainable_state().items()}
            out.best_probs = probs
        else:
            bad_epochs += 1
        if settings.writer:
            _save(settings.run_dir, task, optimizer, scheduler, epoch + 1, bad_epochs, micro, out)
        report(
            TrainingProgress(
                "validate",
                epoch + 1,
                settings.epochs,
                steps,
                steps,
                record.loss,
                metrics.accuracy,
                metrics.macro_f1,
                elapsed_s=time.perf_counter() - began,
            )
        )
        if bad_epochs >= settings.patience:
            out.stopped_early = True
            log.info("Early stop after epoch %d: no better macro-F1 for %d epochs", epoch + 1, bad_epochs)
            break
    if out.best_state is not None:
        task.load_trainable_state(out.best_state)
    if out.best_probs is None:  # resumed after the best epoch: its probabilities were not saved
        out.best_probs = task.predict_val(cancel)
    return out


def _step(
    task: Task,
    optimizer: torch.optim.Optimizer,
    batch: np.ndarray,
    micro: int,
    rng: np.random.Generator,
    cancel: threading.Event,
) -> tuple[float, int]:
    """One optimizer step over ``batch`` in micro-batches; GPU out-of-memory halves them."""
    while True:
        task.set_train_mode(micro)
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        try:
            for first in range(0, len(batch), micro):
                if cancel.is_set():
                    raise Cancelled("Training cancelled; finished epochs are kept and the same run resumes.")
                loss = task.loss(batch[first : first + micro], len(batch), rng)
                loss.backward()
                total += float(loss.detach())
        except torch.OutOfMemoryError as exc:
            optimizer.zero_grad(set_to_none=True)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            if micro <= 1:
                raise TrainingError(
                    "The GPU ran out of memory even with one clip per batch; close other GPU programs "
                    "or train on the CPU."
                ) from exc
            micro = max(micro // 2, 1)
            log.warning("GPU out of memory: retrying with %d clips per batch", micro)
            continue
        if math.isfinite(total):
            optimizer.step()
        return total, micro


def _check_finite(params: list[torch.nn.Parameter], epoch: int) -> None:
    if not all(bool(torch.isfinite(p).all()) for p in params):
        raise TrainingError(
            f"Training diverged in epoch {epoch + 1} (weights became infinite); the previous model is kept. "
            "Try a lower learning rate."
        )


def _save(
    run_dir: Path,
    task: Task,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    epoch: int,
    bad_epochs: int,
    micro: int,
    out: LoopOutcome,
) -> None:
    """Atomically, so a crash mid-write leaves the previous epoch's checkpoint."""
    run_dir.mkdir(parents=True, exist_ok=True)
    state = {
        "epoch": epoch,
        "bad_epochs": bad_epochs,
        "micro": micro,
        "trainable": task.trainable_state(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng_seed": torch.tensor([epoch]),  # every stream is re-derived from (seed, epoch)
        # Omitted when this epoch is the best (the common case): saves writing the weights twice.
        "best_state": None if bad_epochs == 0 else out.best_state,
        "best_f1": out.best_f1,
        "history": [[r.epoch, r.loss, r.val_accuracy, r.val_macro_f1] for r in out.history],
    }
    save_state(run_dir / _CHECKPOINT, state)


def _load(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / _CHECKPOINT
    if not path.is_file():
        return None
    try:
        state = load_state(path)
    except ValueError as exc:
        log.warning("Ignoring an unreadable training checkpoint %s: %s", path, exc)
        return None
    return state
