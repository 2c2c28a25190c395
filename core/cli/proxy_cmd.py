"""`proxy`: make the scrubbing proxies the player seeks in, and see how much room they take."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from core.cli.common import find_video, stderr_line
from core.errors import AppError, VideoError
from core.labels.overview import ensure_indexed
from core.media.proxy import DEFAULT_BUDGET_BYTES, BuildProgress, ProxyLibrary, build_video_proxy
from core.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    proxy = sub.add_parser("proxy", help="make or list scrubbing proxies (small copies for instant seeking)")
    actions = proxy.add_subparsers(dest="action", required=True)
    build = actions.add_parser("build", help="make (or finish) the proxies of videos; all videos by default")
    build.add_argument("videos", nargs="*", metavar="VIDEO", help="path or id")
    build.add_argument(
        "--budget-gb",
        type=float,
        default=DEFAULT_BUDGET_BYTES / 1e9,
        help="disk space all proxies of the project may take; least recently used go first (default 2)",
    )
    build.set_defaults(handler=proxy_build)
    listing = actions.add_parser("list", help="proxies on disk, least recently used first")
    listing.set_defaults(handler=proxy_list)


def proxy_build(args: argparse.Namespace, store: Store) -> int:
    if args.budget_gb <= 0:
        raise VideoError("--budget-gb must be more than 0.")
    videos = [find_video(store, ref) for ref in args.videos] if args.videos else store.videos.list()
    budget = int(args.budget_gb * 1e9)
    failed = 0
    for video in videos:
        name = Path(video.path).name
        try:
            video = ensure_indexed(store, video)
            result = build_video_proxy(store.files_dir, video, progress=_printer(name), budget_bytes=budget)
        except AppError as exc:  # one bad video does not stop the others
            print(f"\n{name}: {exc}", file=sys.stderr)
            failed += 1
            continue
        if result.written:
            print(file=sys.stderr)
        if result.busy:
            print(f"{video.id}\t{name}\tbeing built by another process")
        elif result.over_budget:
            print(f"{video.id}\t{name}\tstopped at {result.frames}/{result.total} frames: over the budget")
        else:
            rate = f"  ({result.frames_per_s:.0f} fps)" if result.written else ""
            print(f"{video.id}\t{name}\tproxy complete, {result.total} frames{rate}")
    return 1 if failed else 0


def _printer(name: str) -> Callable[[BuildProgress], None]:
    return lambda p: stderr_line(p.line(name))


def proxy_list(args: argparse.Namespace, store: Store) -> int:
    library = ProxyLibrary(store.files_dir)
    names = {library.folder(v.content_hash).name: Path(v.path).name for v in store.videos.list()}
    for folder, _used, size in library.proxies():
        state = "complete" if (folder / "complete").exists() else "partial"
        print(f"{names.get(folder.name, '(video not in project)')}\t{size / 1e6:.1f} MB\t{state}\t{folder}")
    used, budget = library.used_bytes() / 1e9, library.budget_bytes / 1e9
    print(f"total {used:.2f} GB of {budget:.2f} GB", file=sys.stderr)
    return 0
