"""`train --nproc N`: the same fine-tuning, data-parallel over N processes (torchrun, DDP)."""

from __future__ import annotations

import argparse
import sys
import threading

from core.cli.common import positive
from core.errors import Cancelled
from core.learning.training.config import TrainConfig
from core.store import Store


def add_distributed_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("distributed (torchrun + DistributedDataParallel)")
    group.add_argument("--nproc", type=positive, help="processes on this node: one per GPU, or CPU processes")
    group.add_argument("--nnodes", type=positive, default=1, help="machines taking part (default 1)")
    group.add_argument(
        "--rdzv-endpoint", metavar="HOST:PORT", help="rendezvous on the first node (several nodes)"
    )


def run_distributed_train(args: argparse.Namespace, store: Store, config: TrainConfig) -> int:
    from core.learning.training.launch import Launch, run_distributed  # torch.distributed: only when used

    launch = Launch(nproc=args.nproc, nnodes=args.nnodes, rdzv_endpoint=args.rdzv_endpoint)
    cancel = threading.Event()
    try:
        code = run_distributed(store.url, config, launch, cancel)
    except (KeyboardInterrupt, Cancelled):
        cancel.set()
        print(
            "\ntraining interrupted; the same command resumes from the last finished epoch", file=sys.stderr
        )
        return 130
    if code != 0:
        print(f"error: distributed training failed (torchrun exit status {code})", file=sys.stderr)
    return code
