"""`infer --cluster`: the same analysis, spread over a Ray cluster (or a local Ray)."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from core.analysis.backends.int8 import CALIBRATION_WINDOWS
from core.analysis.backends.select import Int8Settings
from core.analysis.pipeline import load_model
from core.cli.common import positive, stderr_line
from core.cluster.chunks import DEFAULT_CHUNK_WINDOWS
from core.cluster.ray_analysis import ClusterProgress, ClusterSettings, resolve_address, run_on_cluster
from core.errors import Cancelled
from core.media.library import add_video, expand_video_paths
from core.store import Store


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "cluster (needs the 'cluster' extra: pip install 'c3d-labeller[cluster]')"
    )
    group.add_argument(
        "--cluster",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="analyse on Ray: ray://HOST:10001, HOST:6379 or 'local' (no value: $RAY_ADDRESS, else local)",
    )
    group.add_argument(
        "--workers", type=positive, help="cluster workers (default: one per GPU, else per CPU)"
    )
    group.add_argument("--threads", type=positive, default=1, help="torch threads per CPU worker (default 1)")
    group.add_argument(
        "--chunk",
        type=positive,
        default=DEFAULT_CHUNK_WINDOWS,
        help=f"windows per chunk a worker decodes in one go (default {DEFAULT_CHUNK_WINDOWS})",
    )


def run_cluster_infer(args: argparse.Namespace, store: Store, version_ref: str | None) -> int:
    from core.cli.infer_cmd import model_for

    videos = [add_video(store, p) for p in expand_video_paths(args.videos)]
    version = model_for(store, version_ref)
    precision = getattr(args, "precision", "auto")
    # The engine is chosen here once, as for local ``infer`` (int8 prepared and verified here
    # if asked); every worker then loads that same engine.
    loaded = load_model(
        store,
        version,
        "cpu",
        precision,
        int8=Int8Settings(calibration_windows=getattr(args, "calibration_windows", CALIBRATION_WINDOWS)),
        on_status=lambda m: print(m, file=sys.stderr),
    )
    if version.untrained:
        print(f"note: model #{version.id} is UNTRAINED; its predictions are meaningless until you fine-tune")
    address = resolve_address(args.cluster)
    settings = ClusterSettings(
        address=address,
        stride=args.stride,
        batch_size=args.batch,
        workers=args.workers,
        threads=args.threads,
        chunk_windows=args.chunk,
        precision=precision,
    )
    print(f"cluster: {address}, engine: {loaded.engine_label}", file=sys.stderr)
    cancel = threading.Event()
    try:
        outcome = run_on_cluster(store, videos, loaded, settings, cancel, _show)
    except (KeyboardInterrupt, Cancelled):
        cancel.set()
        print("\ninterrupted; finished windows are kept and a re-run resumes", file=sys.stderr)
        return 130
    print(file=sys.stderr)
    names = {v.id: Path(v.path).name for v in videos}
    for run in outcome.runs:
        print(
            f"{names.get(run.video_id, run.video_id)}: {run.status.value}, "
            f"{run.windows_done}/{run.windows_total} windows, model {loaded.label}"
        )
    engines = ", ".join(sorted(outcome.worker_engines)) or loaded.engine_label
    print(
        f"cluster: {outcome.windows_computed} windows on {outcome.workers} worker(s) ({engines}), "
        f"{outcome.clips_per_s:.1f} clips/s, start-up {outcome.start_s:.1f} s"
    )
    return 0


def _show(p: ClusterProgress) -> None:
    eta = "?" if p.eta_s != p.eta_s else f"{p.eta_s:.0f}s"
    stderr_line(
        f"cluster: {p.done}/{p.total} windows, {p.videos_done}/{p.videos_total} videos, "
        f"{p.workers or 'starting'} worker{'' if p.workers == 1 else 's'}, {p.clips_per_s:.1f} clips/s, "
        f"ETA {eta}"
    )
