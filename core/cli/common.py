"""Pieces every command shares: finding a video, argument types, progress on stderr."""

from __future__ import annotations

import argparse
import sys

from core.analysis.inference import Progress
from core.errors import StoreError
from core.store import Store
from core.store.records import Video


def find_video(store: Store, ref: str) -> Video:
    video = store.videos.find(ref)
    if video is None:
        raise StoreError(f"No video {ref!r} in this project: use 'videos list' to see ids and paths.")
    return video


def progress_bar(name: str, p: Progress) -> None:
    width = 30
    filled = int(width * p.done / max(p.total, 1))
    eta = "?" if p.eta_s != p.eta_s else f"{p.eta_s:.0f}s"
    bar = "#" * filled + "-" * (width - filled)
    stderr_line(f"{name} [{bar}] {p.done}/{p.total} windows  {p.clips_per_s:.1f} clips/s  ETA {eta}")


def stderr_line(text: str) -> None:
    sys.stderr.write("\r" + text[:160])
    sys.stderr.flush()


def positive(text: str) -> int:
    value = frame_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def frame_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of frames") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value
