"""`train`, `evaluate` and `cache`: the learning loop from the command line."""

from __future__ import annotations

import argparse
import sys
import threading

from core.cli.common import find_video, positive, stderr_line
from core.cli.distributed_cmd import add_distributed_options, run_distributed_train
from core.errors import Cancelled, TrainingError
from core.learning.training.closed_form import val_events_text
from core.learning.training.config import MODE_HELP, MODES, TrainConfig, TrainingProgress
from core.model.device import DEVICE_NAMES
from core.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="fine-tune on the project's labels: features | last-layers | full")
    train.add_argument(
        "--mode", choices=MODES, required=True, help="; ".join(f"{k}: {v}" for k, v in MODE_HELP.items())
    )
    train.add_argument("--epochs", type=positive)
    train.add_argument("--lr", type=float, help="learning rate (default depends on the mode)")
    train.add_argument("--batch", type=positive, help="examples per step (default depends on the mode)")
    train.add_argument(
        "--videos", nargs="+", metavar="VIDEO", help="ids or paths (default: every labelled video)"
    )
    train.add_argument("--stride", type=positive, default=8)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", choices=DEVICE_NAMES, default="auto")
    train.add_argument("--model", type=int, help="model version to start from (default: the active one)")
    train.add_argument(
        "--track-weight",
        action="append",
        default=[],
        metavar="TRACK=W",
        help="last-layers with several tracks: weight of a track's loss (default 1 each)",
    )
    add_distributed_options(train)
    train.set_defaults(handler=train_cmd)

    evaluate = sub.add_parser("evaluate", help="frame and segment metrics of a model against human labels")
    evaluate.add_argument("--model", type=int, help="model version id (default: the active one)")
    evaluate.add_argument(
        "--agreement", metavar="VIDEO", help="instead: agreement between the coders of VIDEO (see `coding`)"
    )
    evaluate.add_argument(
        "--tolerance",
        type=int,
        default=4,
        help="frames a point event may miss by and still count (default 4)",
    )
    evaluate.set_defaults(handler=evaluate_cmd)

    cache = sub.add_parser("cache", help="the feature cache: 'cache list' or 'cache clear'")
    cache.add_argument("action", choices=["list", "clear"])
    cache.set_defaults(handler=cache_cmd)


def _show(p: TrainingProgress) -> None:
    if p.message:
        print(f"\n{p.message}", file=sys.stderr)
    elif p.phase == "train":
        stderr_line(f"epoch {p.epoch}/{p.epochs} step {p.step}/{p.steps} loss {p.loss:.4f}")
    elif p.phase == "validate":
        stderr_line(
            f"epoch {p.epoch}/{p.epochs} loss {p.loss:.4f} val accuracy {p.val_accuracy:.3f} "
            f"macro-F1 {p.val_macro_f1:.3f}\n"
        )


def parse_track_weights(store: Store, items: list[str]) -> tuple[tuple[str, float], ...] | None:
    """``TRACK=W`` pairs, each track checked, each weight a non-negative number."""
    out = []
    for item in items:
        name, sep, value = item.rpartition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if not sep or weight < 0:
            raise TrainingError(f"--track-weight takes TRACK=W with W a number ≥ 0; {item!r} is not one.")
        out.append((store.tracks.resolve(name).name, weight))
    return tuple(out) or None


def train_cmd(args: argparse.Namespace, store: Store) -> int:
    from core.learning.training import run_training

    video_ids = None if not args.videos else tuple(find_video(store, ref).id for ref in args.videos)
    config = TrainConfig(
        mode=args.mode,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch,
        stride=args.stride,
        seed=args.seed,
        device=args.device,
        video_ids=video_ids,
        parent_id=args.model,
        track_weights=parse_track_weights(store, getattr(args, "track_weight", [])),
    )
    if getattr(args, "nproc", None):
        return run_distributed_train(args, store, config)
    cancel = threading.Event()
    try:
        result = run_training(store, config, cancel, _show)
    except (KeyboardInterrupt, Cancelled):
        cancel.set()
        print(
            "\ntraining interrupted; the same command resumes from the last finished epoch", file=sys.stderr
        )
        return 130
    m = result.metrics
    if "tracks" in m:  # several tracks: one head each, scored on held-out blocks
        for name, score in m["tracks"].items():
            measure = "event F1" if score["kind"] == "point" else "macro-F1"
            held = score["held_out_windows"]
            print(f"{name}\t{score['kind']}\t{measure} {score['f1']:.3f}\t{held} held-out windows")
        heads = len(m["tracks"])
        print(f"model #{result.version.id} {result.version.name}: {heads} track heads, {result.seconds:.1f}s")
        if result.rescored_video_ids:
            print(f"re-scored {len(result.rescored_video_ids)} video(s) from the feature cache")
        return 0
    print(
        f"model #{result.version.id} {result.version.name}: validation macro-F1 {m['val_macro_f1']:.3f}, "
        f"accuracy {m['val_accuracy']:.3f}, {m['epochs_run']} epochs"
        f"{' (stopped early)' if result.stopped_early else ''}, {result.seconds:.1f} s"
    )
    resting_on = val_events_text(m)
    if resting_on:  # with few labels the score is a rough estimate: say what it rests on
        print(f"validation: {resting_on}")
    if result.rescored_video_ids:
        print(f"re-scored {len(result.rescored_video_ids)} video(s) from the feature cache")
    return 0


def evaluate_cmd(args: argparse.Namespace, store: Store) -> int:
    if getattr(args, "agreement", None):
        from core.cli.team_cmds import agreement_report

        return agreement_report(store, args.agreement)
    from core.learning.assessment import evaluate_tracks

    for number, evaluation in enumerate(evaluate_tracks(store, args.model, args.tolerance)):
        if number:
            print()
        for line in evaluation.lines():
            print(line)
    return 0


def cache_cmd(args: argparse.Namespace, store: Store) -> int:
    from core.learning.feature_cache import FeatureCache

    cache = FeatureCache(store)
    if args.action == "clear":
        count = cache.clear()
        print(f"cleared the feature cache ({count} entries)")
        return 0
    entries = store.features.list()
    for e in entries:
        state = "complete" if e.complete else "partial"
        print(f"{e.id}\t{e.layer}\t{e.windows} windows\tstride {e.stride}\t{state}\ttrunk {e.trunk_hash}")
    print(f"{len(entries)} entries, {cache.size_bytes() / 1e6:.1f} MB")
    return 0
