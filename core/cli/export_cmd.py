"""`export`: a whole project (or one video) in one call, written atomically."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.common import find_video
from core.formats import WRITERS, VideoLabels, writer_for
from core.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="export labels")
    export.add_argument("--format", required=True, choices=sorted(WRITERS))
    export.add_argument("--video", help="one video (path or id); default: the whole project")
    export.add_argument("--out", help="output file (default: labels<suffix> in the current folder)")
    export.set_defaults(handler=export_labels)


def export_labels(args: argparse.Namespace, store: Store) -> int:
    writer = writer_for(args.format)
    videos = [find_video(store, args.video)] if args.video else store.videos.list()
    items = [VideoLabels(v, tuple(store.segments.list(v.id))) for v in videos]
    out = Path(args.out) if args.out else Path(f"labels{writer.suffix}")
    writer.write(items, out)
    count = sum(len(i.segments) for i in items)
    print(f"exported {count} segments of {len(items)} videos to {out} ({writer.name})")
    return 0
