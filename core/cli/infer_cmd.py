"""`infer`: analyse videos (files, folders, globs), resuming any run that was interrupted."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from core.analysis.backends.base import PRECISIONS
from core.analysis.backends.int8 import CALIBRATION_WINDOWS
from core.analysis.backends.select import Int8Settings, load_for_analysis
from core.analysis.run import analyse_video
from core.cli.common import positive, progress_bar
from core.media.library import add_video, expand_video_paths
from core.model.device import DEVICE_NAMES, choose_device
from core.model.registry import ensure_active_model, import_checkpoint, load_version
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
    infer.set_defaults(handler=run_infer)


def run_infer(args: argparse.Namespace, store: Store) -> int:
    videos = [add_video(store, p) for p in expand_video_paths(args.videos)]
    version = model_for(store, args.model)
    model, _ = load_version(store, version)
    device = choose_device(args.device)
    settings = Int8Settings(calibration_windows=args.calibration_windows)
    loaded = load_for_analysis(
        store,
        version,
        model,
        device,
        args.precision,
        int8=settings,
        on_status=lambda m: print(m, file=sys.stderr),
    )
    if version.untrained:
        print(f"note: model #{version.id} is UNTRAINED; its predictions are meaningless until you fine-tune")
    print(f"engine: {loaded.engine_label}", file=sys.stderr)
    cancel = threading.Event()
    for video in videos:
        name = Path(video.path).name
        try:
            result = analyse_video(
                store,
                video,
                loaded,
                stride=args.stride,
                batch_size=args.batch,
                cancel=cancel,
                on_progress=lambda p, n=name: progress_bar(n, p),  # type: ignore[misc]
            )
        except KeyboardInterrupt:
            cancel.set()
            print(f"\n{name}: interrupted; finished windows are kept and a re-run resumes", file=sys.stderr)
            return 130
        print(file=sys.stderr)
        print(result.summary(name, loaded.label))
    return 0


def model_for(store: Store, ref: str | None) -> ModelVersion:
    if ref is None:
        return ensure_active_model(store)
    if ref.isdigit():
        return store.models.get(int(ref))
    return import_checkpoint(store, ref)
