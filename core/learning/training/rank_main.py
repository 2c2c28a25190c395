"""One rank of a torchrun fine-tuning run: ``python -m core.learning.training.rank_main``.

torchrun starts this once per process with RANK/WORLD_SIZE set; every rank opens the shared
store, trains its share, and rank 0 alone reports progress, checkpoints and registers the
model. Errors end the rank with one line on stderr, as the CLI does.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading

import torch.distributed as dist

from core.errors import AppError, Cancelled
from core.learning.training.config import TrainConfig, TrainingProgress
from core.learning.training.distributed import init_from_env
from core.learning.training.runner import train_rank
from core.store import open_store

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rank_main")
    parser.add_argument("--db", required=True)
    parser.add_argument("--config", required=True, help="TrainConfig as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raw = json.loads(args.config)
    raw["video_ids"] = None if raw.get("video_ids") is None else tuple(raw["video_ids"])
    config = TrainConfig(**raw)
    rank = -1
    try:
        ctx = init_from_env(config.device)
        rank = ctx.rank
        with open_store(args.db) as store:
            result = train_rank(store, config, threading.Event(), _show if ctx.is_writer else None, ctx)
    except Cancelled as exc:
        if rank <= 0:
            print(f"\n{exc}", file=sys.stderr)
        return 130
    except AppError as exc:
        print(f"error (rank {rank}): {exc}", file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if result is not None:
        m = result.metrics
        print(
            f"model #{result.version.id} {result.version.name}: validation macro-F1 {m['val_macro_f1']:.3f}, "
            f"accuracy {m['val_accuracy']:.3f}, {m['epochs_run']} epochs on {ctx.world_size} processes, "
            f"{result.seconds:.1f} s",
            flush=True,
        )
    return 0


def _show(p: TrainingProgress) -> None:
    if p.message:
        print(p.message, file=sys.stderr)
    elif p.phase == "train":
        print(f"epoch {p.epoch}/{p.epochs} step {p.step}/{p.steps} loss {p.loss:.4f}", file=sys.stderr)
    elif p.phase == "validate":
        print(
            f"epoch {p.epoch}/{p.epochs} val accuracy {p.val_accuracy:.3f} macro-F1 {p.val_macro_f1:.3f}",
            file=sys.stderr,
        )


if __name__ == "__main__":
    sys.exit(main())
