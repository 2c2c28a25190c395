"""The bodies of the app's background jobs: plain compositions of ``core`` calls.

Each runs on a worker thread (see ``gui.workers``), reports through ``ctx`` and never touches Qt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from core import paths
from core.analysis.inference import Progress
from core.analysis.run import AnalysisResult, LoadedModel, analyse_video
from core.errors import AppError
from core.labels.overview import create_demo_project, ensure_indexed
from core.media.library import add_video, expand_video_paths
from core.store import Store
from core.store.records import Video
from gui.workers import JobContext

log = logging.getLogger(__name__)

DEMO_SECONDS = 60.0


@dataclass(frozen=True)
class AnalysisProgress:
    video_id: int
    video_name: str
    video_number: int  # 1-based among the videos of this job
    video_total: int
    progress: Progress


@dataclass(frozen=True)
class AnalysisStarted:
    device_label: str
    model_label: str
    model_id: int


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
    from core.model.device import choose_device
    from core.model.registry import ensure_active_model, load_version

    version = ensure_active_model(store)
    model, _ = load_version(store, version)
    device = choose_device()
    loaded = LoadedModel(version, model, device)
    ctx.batch(AnalysisStarted(device.label, loaded.label, version.id))
    results: list[AnalysisResult] = []
    for number, video_id in enumerate(video_ids, start=1):
        if ctx.cancel.is_set():
            break
        video = ensure_indexed(store, store.videos.get(video_id), ctx.cancel)
        name = Path(video.path).name

        def progress(p: Progress, vid: int = video.id, n: str = name, k: int = number) -> None:
            ctx.progress(AnalysisProgress(vid, n, k, len(video_ids), p))

        results.append(
            analyse_video(
                store,
                video,
                loaded,
                stride=stride,
                batch_size=batch_size,
                cancel=ctx.cancel,
                on_progress=progress,
                on_batch=lambda _b, vid=video.id: ctx.batch(vid),
            )
        )
    return results
