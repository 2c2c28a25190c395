"""`infer`: analyse videos (files, folders, globs), resuming any run that was interrupted."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from core.analysis.backends.base import PRECISIONS
from core.analysis.backends.int8 import CALIBRATION_WINDOWS
from core.analysis.backends.select import Int8Settings
from core.analysis.pipeline import AnalysisProgress, analyse_videos, load_model
from core.cli.cluster_cmd import add_cluster_options, run_cluster_infer
from core.cli.common import positive, progress_bar
from core.media.library import add_video, expand_video_paths
from core.model.device import DEVICE_NAMES
from core.model.registry import ensure_active_model, import_checkpoint
from core.store import Store
from core.store.records import ModelVersion


def register(sub: argparse._SubParsersAction) -> None:
    infer = sub.add_parser("infer", help="analyse videos (adds them first if new)")
    infer.add_argument("videos", nargs="+", metavar="VIDEO", help="files, folders or globs")
    infer.add_argument("--model", help="model version id or a .safetensors file (default: the active one)")
    infer.add_argument("--stride", type=positive, default=8)
    infer.add_argument("--batch", type=positive, default=8)
    infer.add_argument("--device", choices=DEVICE_NAMES, default="auto")
    infer.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto: int8 on the CPU once verified against fp32; int8 prepares and verifies it first",
    )
    infer.add_argument(
        "--calibration-windows",
        type=positive,
        default=CALIBRATION_WINDOWS,
        help="windows of the project's videos int8 is calibrated on",
    )
    add_cluster_options(infer)
    infer.set_defaults(handler=run_infer)


def run_infer(args: argparse.Namespace, store: Store) -> int:
    if getattr(args, "cluster", None) is not None:
        return run_cluster_infer(args, store, args.model)
    videos = [add_video(store, p) for p in expand_video_paths(args.videos)]
    settings = Int8Settings(calibration_windows=args.calibration_windows)
    loaded = load_model(
        store,
        model_for(store, args.model),
        args.device,
        args.precision,
        int8=settings,
        on_status=lambda m: print(m, file=sys.stderr),
    )
    version = loaded.version
    if version.untrained:
        print(f"note: model #{version.id} is UNTRAINED; its predictions are meaningless until you fine-tune")
    print(f"engine: {loaded.engine_label}", file=sys.stderr)
    cancel = threading.Event()
    current = ""

    def show(p: AnalysisProgress) -> None:
        nonlocal current
        current = p.video_name
        progress_bar(p.video_name, p.progress)

    results = analyse_videos(
        store, videos, loaded, stride=args.stride, batch_size=args.batch, cancel=cancel, on_progress=show
    )
    try:
        for video, result in zip(videos, results, strict=False):
            print(file=sys.stderr)
            print(result.summary(Path(video.path).name, loaded.label))
    except KeyboardInterrupt:
        cancel.set()
        print(f"\n{current}: interrupted; finished windows are kept and a re-run resumes", file=sys.stderr)
        return 130
    return 0


def model_for(store: Store, ref: str | None) -> ModelVersion:
    if ref is None:
        return ensure_active_model(store)
    if ref.isdigit():
        return store.models.get(int(ref))
    return import_checkpoint(store, ref)
