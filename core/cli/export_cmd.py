"""`export`: a whole project (or some videos) in one call, labels or predictions, written atomically."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli.common import find_video
from core.interchange.export import dropped_notes, export_labels, project_labels
from core.interchange.formats import FORMATS, format_for
from core.store import Store

WINDOW_FORMATS = ("windows-csv", "windows-npz")


def register(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="export labels or predictions")
    export.add_argument("--format", required=True, choices=[*FORMATS, *WINDOW_FORMATS])
    export.add_argument("--videos", nargs="+", metavar="VIDEO", help="videos (paths or ids); default: all")
    export.add_argument("--video", help=argparse.SUPPRESS)  # the earlier single-video spelling
    export.add_argument("--out", help="output file or folder (default: the current folder)")
    export.add_argument(
        "--predictions", action="store_true", help="export the model's predicted events instead of labels"
    )
    export.add_argument(
        "--model", type=int, help="model version id for --predictions (default: the active one)"
    )
    export.add_argument(
        "--track",
        help="with --predictions: only this track's head (default: every track; windows formats: the first)",
    )
    export.set_defaults(handler=export_cmd)


def export_cmd(args: argparse.Namespace, store: Store) -> int:
    refs = [*(args.videos or []), *([args.video] if args.video else [])]
    videos = [find_video(store, r) for r in refs] if refs else store.videos.list()
    out = Path(args.out) if args.out else Path()
    if args.predictions or args.format in WINDOW_FORMATS:
        from core.interchange.prediction_export import (
            every_track_predictions,
            predicted_items,
            predictions_of,
            write_windows,
        )

        if args.format in WINDOW_FORMATS:
            found = predictions_of(store, videos, args.model, args.track)
            target = write_windows(store, found, args.format, out)
            windows = sum(len(p.starts) for _, p in found)
            print(f"exported {windows} windows of {len(found)} videos to {target} ({args.format})")
            return 0
        if args.track is not None:
            items = predicted_items(predictions_of(store, videos, args.model, args.track))
        else:
            found, subjects = every_track_predictions(store, videos, args.model)
            items = predicted_items(found, subjects=subjects)
        what = "predicted events"
    else:
        items = project_labels(store, videos)
        what = "segments"
    fmt = format_for(args.format)
    written = export_labels(items, fmt, out)
    count = sum(len(i.segments) for i in items)
    where = written[0] if len(written) == 1 else f"{len(written)} files in {out}"
    print(f"exported {count} {what} of {len(items)} videos to {where} ({fmt.name})")
    note = dropped_notes(items, fmt)
    if note:
        print(f"note: {note}", file=sys.stderr)
    return 0
