"""Data-parallel fine-tuning across processes and machines (torchrun + DistributedDataParallel).

Every rank runs the same epoch loop over the same shuffled order (it is seeded by (seed,
epoch)), and each micro-batch of the global batch is split between ranks: rank r takes
examples r, r+W, r+2W… and decodes only those. DDP averages the ranks' gradients; scaling each
rank's loss by W turns that average into the sum a single process would have computed, so a
W-process run takes the same steps as one process with the same global batch. The loss value
every rank sees is the all-reduced global one, so all ranks agree on divergence and progress.

BatchNorm, as the seed's modes require: ``last-layers`` and ``features`` train only linear
layers behind a frozen trunk, so BN is untouched. ``full`` trains BN statistics only when a
forward pass holds at least 8 clips; across ranks that count is the global micro-batch, and
the layers become SyncBatchNorm so the statistics are those of the global batch (NCCL). On
CPUs (gloo) PyTorch has no SyncBatchNorm, so BN stays frozen there: per-rank statistics would
let the ranks' models drift apart.

Cancel: a rank that wants to stop (its event, or the launcher's stop file) says so at the next
micro-batch through an all-reduce, and every rank raises ``Cancelled`` at the same step. Only
rank 0 writes checkpoints, atomically, as in a single-process run.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from core.errors import Cancelled, ClusterError
from core.learning.training.loop import LoopSettings, Task
from core.model.device import DeviceChoice, choose_device
from core.model.network import BN_LAYERS

log = logging.getLogger(__name__)

STOP_FILE_ENV = "C3D_DDP_STOP_FILE"
"""A path the launcher creates to stop every rank (the GUI's or CLI's cancel)."""

_CANCEL_MESSAGE = "Training cancelled; finished epochs are kept and the same run resumes."


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    backend: str  # "nccl" or "gloo"
    device: DeviceChoice

    @property
    def is_writer(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        dist.barrier()


def init_from_env(device: str = "auto", timeout_s: float = 1800.0) -> DistContext:
    """Join the process group torchrun described in the environment (RANK, WORLD_SIZE, …)."""
    try:
        rank, world, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    except KeyError as exc:
        raise ClusterError("Not started by torchrun: RANK, WORLD_SIZE and LOCAL_RANK are unset.") from exc
    use_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(local)
        choice = replace(choose_device("cuda"), device=torch.device("cuda", local))
    else:
        choice = choose_device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    log.info("Rank %d/%d (local %d) on %s with %s", rank, world, local, choice.label, backend)
    return DistContext(rank, world, local, backend, choice)


class _Loss(nn.Module):
    """The task's loss as a module over its parameters, so DDP can own their gradients."""

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.task = task
        self.params = nn.ParameterList(task.parameters())

    def forward(self, indices: np.ndarray, batch_total: int, rng: np.random.Generator) -> torch.Tensor:
        return self.task.loss(indices, batch_total, rng)


class DistributedTask:
    """A ``Task`` that computes its share of every micro-batch and agrees with the other ranks."""

    def __init__(
        self,
        task: Task,
        ctx: DistContext,
        stop_requested: Callable[[], bool],
    ) -> None:
        self.inner = task
        self.ctx = ctx
        self.n_train = task.n_train
        self.val_labels = task.val_labels
        self.n_classes = task.n_classes
        self.cpu_threads = task.cpu_threads
        self._stop_requested = stop_requested
        self._sync_bn = ctx.backend == "nccl" and hasattr(task, "model")
        if self._sync_bn:
            task.model = nn.SyncBatchNorm.convert_sync_batchnorm(task.model)  # type: ignore[attr-defined]
        device_ids = [ctx.device.device.index] if ctx.device.device.type == "cuda" else None
        # Parameters are broadcast from rank 0 here, so every rank starts from the same weights.
        self.ddp = DistributedDataParallel(_Loss(task), device_ids=device_ids, broadcast_buffers=False)

    def parameters(self) -> list[torch.nn.Parameter]:
        return self.inner.parameters()

    def set_train_mode(self, micro_batch: int) -> None:
        self.inner.set_train_mode(micro_batch)
        model = getattr(self.inner, "model", None)
        if model is not None and not self._sync_bn:
            for name in BN_LAYERS:
                layer = getattr(model, name, None)
                if layer is not None:
                    layer.eval()

    def loss(self, indices: np.ndarray, batch_total: int, rng: np.random.Generator) -> torch.Tensor:
        self._agree_to_go_on()
        world = self.ctx.world_size
        own = indices[self.ctx.rank :: world]
        weight = 1.0
        if len(own) == 0:
            # Every rank must run forward and backward for DDP's all-reduce; a rank left
            # without an example in a short last micro-batch computes one with weight zero.
            own, weight = indices[:1], 0.0
        part = self.ddp(own, batch_total, rng) * weight
        total = part.detach().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        scaled = part * world  # DDP divides the summed gradients by the world size
        return scaled + (total - scaled.detach())  # value: the global loss; gradient: ours × W

    def predict_val(self, cancel: threading.Event) -> np.ndarray:
        self._agree_to_go_on()
        # Every rank scores the whole validation set so all take the same early-stopping
        # decision without another exchange; it is a small fraction of an epoch's work.
        return self.inner.predict_val(threading.Event())

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return self.inner.trainable_state()

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        self.inner.load_trainable_state(state)

    def finalize(self) -> Any:
        model = self.inner.finalize()
        return _plain_batchnorm(model) if self._sync_bn else model

    def _agree_to_go_on(self) -> None:
        flag = torch.tensor([1.0 if self._stop_requested() else 0.0], device=self._flag_device())
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if float(flag.item()) > 0:
            raise Cancelled(_CANCEL_MESSAGE)

    def _flag_device(self) -> torch.device:
        return self.ctx.device.device if self.ctx.backend == "nccl" else torch.device("cpu")


def distribute(
    task: Task, settings: LoopSettings, ctx: DistContext, cancel: threading.Event
) -> tuple[DistributedTask, LoopSettings, threading.Event]:
    """The task, loop settings and loop cancel event of this rank.

    The micro-batch grows W-fold (each rank still runs the per-process size); the loop gets an
    event of its own because a rank stopping alone would leave the others waiting in an
    all-reduce: stops go through ``DistributedTask``'s agreement instead.
    """
    stop_file = os.environ.get(STOP_FILE_ENV)

    def stop_requested() -> bool:
        return cancel.is_set() or (stop_file is not None and Path(stop_file).exists())

    wrapped = DistributedTask(task, ctx, stop_requested)
    settings = replace(settings, micro_batch=settings.micro_batch * ctx.world_size, writer=ctx.is_writer)
    return wrapped, settings, threading.Event()


def _plain_batchnorm(model: nn.Module) -> nn.Module:
    """SyncBatchNorm layers back to BatchNorm3d, so the saved model is the seed's C3D_BN."""
    for name in BN_LAYERS:
        layer = getattr(model, name, None)
        if isinstance(layer, nn.SyncBatchNorm):
            plain = nn.BatchNorm3d(layer.num_features, layer.eps, layer.momentum, layer.affine)
            plain.load_state_dict(layer.state_dict())
            setattr(model, name, plain.to(next(layer.parameters()).device))
    return model
