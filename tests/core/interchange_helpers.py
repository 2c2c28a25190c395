"""Stores with registered (file-less) videos, for import/export tests that need no decoding."""

from __future__ import annotations

import numpy as np

from core.store import Store
from core.store.records import NewSegment, Video

CLIP = '/data/field, "day 1"/clip one.mp4'
HASH = "fp1:" + "ab" * 32


def vfr_times(n: int, fps: float) -> np.ndarray:
    """Irregular frame times (every 4th gap doubled), so seconds cannot be frame / fps."""
    k = np.arange(n)
    return (k + (k // 4)) / fps


def add_video(
    store: Store, path: str = CLIP, digest: str = HASH, frames: int = 120, fps: float = 30.0
) -> Video:
    video = store.videos.add(path, digest, 160, 120, fps, frames)
    return store.videos.set_index(video.id, frames, vfr_times(frames, fps))


def label(store: Store, video: Video, *spans: tuple[str, int, int]) -> None:
    ids = {c.name: c.id for c in store.classes.list()}
    for name, _, _ in spans:
        if name not in ids:
            ids[name] = store.classes.add(name).id
    store.segments.paint(video.id, [NewSegment(ids[n], s, e) for n, s, e in spans])


def snapshot(store: Store) -> tuple[list[tuple[int, str, int, int, str]], list[str]]:
    """Everything an import may change: all segments and all class names."""
    segs = [
        (v.id, s.class_name, s.start_frame, s.end_frame, str(s.source))
        for v in store.videos.list()
        for s in store.segments.list(v.id)
    ]
    return segs, [c.name for c in store.classes.list()]
