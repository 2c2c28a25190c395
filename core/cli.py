"""The command line: inspect and edit the store, analyse videos, export — all without a display.

Every command prints what it did on stdout, progress on stderr, and exits non-zero with one
clear line on stderr for any user error (``AppError``); ``main.py`` does that last part.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from core.analysis import LoadedModel, analyse_video
from core.device import DEVICE_NAMES, choose_device
from core.errors import AppError, StoreError
from core.formats import WRITERS, VideoLabels, writer_for
from core.inference import Progress
from core.library import add_video, expand_video_paths
from core.registry import ensure_active_model, import_checkpoint, load_version
from core.store import Store
from core.store.records import ModelVersion, NewSegment, SegmentSource, Video

Handler = Callable[[argparse.Namespace, Store], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="c3d-labeller", description="Label events in video with C3D_BN.")
    parser.add_argument(
        "--db", help="SQLAlchemy URL of the store (default: $C3D_LABELLER_DB, then a local file)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    infer = sub.add_parser("infer", help="analyse videos (adds them first if new)")
    infer.add_argument("videos", nargs="+", metavar="VIDEO", help="files, folders or globs")
    infer.add_argument("--model", help="model version id or a .safetensors file (default: the active one)")
    infer.add_argument("--stride", type=_positive, default=8)
    infer.add_argument("--batch", type=_positive, default=8)
    infer.add_argument("--device", choices=DEVICE_NAMES, default="auto")
    infer.set_defaults(handler=cmd_infer)

    videos = sub.add_parser("videos", help="list or add videos").add_subparsers(dest="action", required=True)
    videos.add_parser("list").set_defaults(handler=cmd_videos_list)
    vadd = videos.add_parser("add")
    vadd.add_argument("paths", nargs="+", metavar="PATH")
    vadd.set_defaults(handler=cmd_videos_add)

    classes = sub.add_parser("classes", help="list, add or remove label classes")
    cls_sub = classes.add_subparsers(dest="action", required=True)
    cls_sub.add_parser("list").set_defaults(handler=cmd_classes_list)
    cadd = cls_sub.add_parser("add")
    cadd.add_argument("names", nargs="+", metavar="NAME")
    cadd.set_defaults(handler=cmd_classes_add)
    crm = cls_sub.add_parser("remove", help="remove classes (their segments are deleted)")
    crm.add_argument("names", nargs="+", metavar="NAME")
    crm.set_defaults(handler=cmd_classes_remove)

    segs = sub.add_parser("segments", help="list, add or remove labelled segments")
    seg_sub = segs.add_subparsers(dest="action", required=True)
    sadd = seg_sub.add_parser("add", help="label frames [START, END) of VIDEO (path or id) as CLASS")
    sadd.add_argument("video")
    sadd.add_argument("start", type=_frame)
    sadd.add_argument("end", type=_frame)
    sadd.add_argument("class_name", metavar="CLASS")
    sadd.set_defaults(handler=cmd_segments_add)
    slist = seg_sub.add_parser("list")
    slist.add_argument("video", nargs="?")
    slist.set_defaults(handler=cmd_segments_list)
    srm = seg_sub.add_parser("remove")
    srm.add_argument("ids", nargs="+", type=int, metavar="ID")
    srm.set_defaults(handler=cmd_segments_remove)

    export = sub.add_parser("export", help="export labels")
    export.add_argument("--format", required=True, choices=sorted(WRITERS))
    export.add_argument("--video", help="one video (path or id); default: the whole project")
    export.add_argument("--out", help="output file (default: labels<suffix> in the current folder)")
    export.set_defaults(handler=cmd_export)

    weights = sub.add_parser("import-weights", help="import a .safetensors checkpoint or the Sports-1M port")
    weights.add_argument("file")
    weights.add_argument(
        "--calibrate-on", nargs="*", default=[], metavar="VIDEO", help="videos for Sports-1M BN calibration"
    )
    weights.set_defaults(handler=cmd_import_weights)

    models = sub.add_parser("models", help="list model versions, or 'models use ID'")
    models.add_argument("action", nargs="?", choices=["list", "use"], default="list")
    models.add_argument("id", nargs="?", type=int)
    models.set_defaults(handler=cmd_models)
    return parser


def run_command(args: argparse.Namespace, store: Store) -> int:
    handler: Handler = args.handler
    return handler(args, store)


# -- videos ------------------------------------------------------------------------------------


def cmd_videos_list(args: argparse.Namespace, store: Store) -> int:
    for v in store.videos.list():
        frames = f"{v.frame_count} frames" if v.frame_count is not None else f"~{v.header_frame_count} frames"
        missing = "" if Path(v.path).exists() else "  [MISSING]"
        print(f"{v.id}\t{v.path}\t{v.width}x{v.height}\t{v.fps:.3f} fps\t{frames}{missing}")
    return 0


def cmd_videos_add(args: argparse.Namespace, store: Store) -> int:
    for path in expand_video_paths(args.paths):
        video = add_video(store, path)
        print(f"added {video.id}\t{video.path}")
    return 0


def find_video(store: Store, ref: str) -> Video:
    video = store.videos.find(ref)
    if video is None:
        raise StoreError(f"No video {ref!r} in this project: use 'videos list' to see ids and paths.")
    return video


# -- classes -----------------------------------------------------------------------------------


def cmd_classes_list(args: argparse.Namespace, store: Store) -> int:
    for c in store.classes.list():
        print(f"{c.id}\t{c.name}\t{c.color}\t{c.shortcut or ''}")
    return 0


def cmd_classes_add(args: argparse.Namespace, store: Store) -> int:
    for name in args.names:
        c = store.classes.add(name)
        print(f"added class {c.id}\t{c.name}")
    return 0


def cmd_classes_remove(args: argparse.Namespace, store: Store) -> int:
    for name in args.names:
        c = store.classes.by_name(name)
        if c is None:
            raise StoreError(f"No class named {name!r}: use 'classes list'.")
        store.classes.remove(c.id)
        print(f"removed class {c.name}")
    return 0


# -- segments ----------------------------------------------------------------------------------


def cmd_segments_add(args: argparse.Namespace, store: Store) -> int:
    video = find_video(store, args.video)
    cls = store.classes.by_name(args.class_name)
    if cls is None:
        raise StoreError(f"No class named {args.class_name!r}: add it with 'classes add {args.class_name}'.")
    seg = store.segments.add(video.id, NewSegment(cls.id, args.start, args.end, SegmentSource.HUMAN))
    print(f"added segment {seg.id}\t{video.id}\t{seg.class_name}\t[{seg.start_frame}, {seg.end_frame})")
    return 0


def cmd_segments_list(args: argparse.Namespace, store: Store) -> int:
    videos = [find_video(store, args.video)] if args.video else store.videos.list()
    for video in videos:
        for s in store.segments.list(video.id):
            print(f"{s.id}\t{video.id}\t{s.class_name}\t{s.start_frame}\t{s.end_frame}\t{s.source.value}")
    return 0


def cmd_segments_remove(args: argparse.Namespace, store: Store) -> int:
    for seg_id in args.ids:
        store.segments.remove(seg_id)
        print(f"removed segment {seg_id}")
    return 0


# -- export ------------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace, store: Store) -> int:
    writer = writer_for(args.format)
    videos = [find_video(store, args.video)] if args.video else store.videos.list()
    items = [VideoLabels(v, tuple(store.segments.list(v.id))) for v in videos]
    out = Path(args.out) if args.out else Path(f"labels{writer.suffix}")
    writer.write(items, out)
    count = sum(len(i.segments) for i in items)
    print(f"exported {count} segments of {len(items)} videos to {out} ({writer.name})")
    return 0


# -- models ------------------------------------------------------------------------------------


def cmd_models(args: argparse.Namespace, store: Store) -> int:
    if args.action == "use":
        if args.id is None:
            raise StoreError("Say which model version to use: 'models use ID'.")
        version = store.models.get(args.id)
        store.models.set_active(version.id)
        print(f"active model is now #{version.id} {version.name}")
        return 0
    active = store.models.active()
    for m in store.models.list():
        mark = "*" if active is not None and m.id == active.id else " "
        metrics = " ".join(f"{k}={v:.3f}" for k, v in m.metrics.items() if isinstance(v, float))
        print(f"{mark}{m.id}\t{m.name}\t{m.state.value}\t{m.mode or '-'}\t{metrics}")
    return 0


def cmd_import_weights(args: argparse.Namespace, store: Store) -> int:
    from core.weights_import import import_weights

    videos = [add_video(store, p) for p in expand_video_paths(args.calibrate_on)]
    version = import_weights(store, args.file, videos, progress=_stderr_line)
    print(f"imported model #{version.id} {version.name} ({len(version.class_names)} classes)")
    return 0


# -- inference ---------------------------------------------------------------------------------


def cmd_infer(args: argparse.Namespace, store: Store) -> int:
    videos = [add_video(store, p) for p in expand_video_paths(args.videos)]
    version = _model_for(store, args.model)
    model, _ = load_version(store, version)
    device = choose_device(args.device)
    loaded = LoadedModel(version, model, device)
    if version.untrained:
        print(f"note: model #{version.id} is UNTRAINED; its predictions are meaningless until you fine-tune")
    print(f"device: {device.label}", file=sys.stderr)
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
                on_progress=lambda p, n=name: _progress_bar(n, p),  # type: ignore[misc]
            )
        except KeyboardInterrupt:
            cancel.set()
            print(file=sys.stderr)
            print(f"{name}: interrupted; finished windows are kept and a re-run resumes", file=sys.stderr)
            return 130
        print(file=sys.stderr)
        print(result.summary(name, loaded.label))
    return 0


def _model_for(store: Store, ref: str | None) -> ModelVersion:
    if ref is None:
        return ensure_active_model(store)
    if ref.isdigit():
        return store.models.get(int(ref))
    return import_checkpoint(store, ref)


def _progress_bar(name: str, p: Progress) -> None:
    width = 30
    filled = int(width * p.done / max(p.total, 1))
    eta = "?" if p.eta_s != p.eta_s else f"{p.eta_s:.0f}s"
    bar = "#" * filled + "-" * (width - filled)
    _stderr_line(f"{name} [{bar}] {p.done}/{p.total} windows  {p.clips_per_s:.1f} clips/s  ETA {eta}")


def _stderr_line(text: str) -> None:
    sys.stderr.write("\r" + text[:160])
    sys.stderr.flush()


# -- argument types ----------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = _frame(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _frame(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of frames") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


__all__ = ["AppError", "build_parser", "run_command"]
