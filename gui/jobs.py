"""The bodies of the app's background jobs: plain compositions of ``core`` calls.

Each runs on a worker thread (see ``gui.workers``), reports through ``ctx`` and never touches Qt.
"""

from __future__ import annotations

import logging

from core import paths
from core.analysis.pipeline import AnalysisProgress, AnalysisStarted, analyse_videos, load_model
from core.analysis.run import AnalysisResult
from core.errors import AppError
from core.labels.overview import create_demo_project
from core.media.library import add_video, expand_video_paths
from core.store import Store
from core.store.records import Video
from gui.workers import JobContext

log = logging.getLogger(__name__)

__all__ = ["AnalysisProgress", "AnalysisStarted", "add_videos", "analyse", "open_demo"]

DEMO_SECONDS = 60.0


def add_videos(store: Store, items: list[str], ctx: JobContext) -> tuple[list[Video], list[str]]:
    """Add every video found; a file that cannot be read is reported, not fatal to the rest."""
    added: list[Video] = []
    problems: list[str] = []
    for path in expand_video_paths(items):
        if ctx.cancel.is_set():
            break
        try:
            added.append(add_video(store, path))
        except AppError as exc:
            problems.append(str(exc))
        ctx.progress(len(added))
    return added, problems


def open_demo(store: Store, ctx: JobContext, seconds: float = DEMO_SECONDS) -> Video:
    folder = paths.user_data_dir() / "demo"
    return create_demo_project(
        store, folder, seconds=seconds, cancel=ctx.cancel, progress=lambda d, t: ctx.progress((d, t))
    )


def analyse(
    store: Store, video_ids: list[int], ctx: JobContext, stride: int, batch_size: int
) -> list[AnalysisResult]:
    """The core pipeline: a new video is indexed by the same pass that analyses it."""
    loaded = load_model(store)
    ctx.batch(AnalysisStarted(loaded.device.label, loaded.label, loaded.version.id))
    videos = [store.videos.get(v) for v in video_ids]
    return list(
        analyse_videos(
            store,
            videos,
            loaded,
            stride=stride,
            batch_size=batch_size,
            cancel=ctx.cancel,
            on_progress=ctx.progress,
            on_batch=ctx.batch,
        )
    )
