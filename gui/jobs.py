"""The bodies of the app's background jobs: plain compositions of ``core`` calls.

Each runs on a worker thread (see ``gui.workers``), reports through ``ctx`` and never touches Qt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core import paths
from core.analysis.pipeline import AnalysisProgress, AnalysisStarted, analyse_videos, load_model
from core.analysis.run import AnalysisResult
from core.cluster.ray_analysis import ClusterOutcome, ClusterProgress, ClusterSettings
from core.errors import AppError
from core.labels.overview import create_demo_project
from core.media.library import add_video, expand_video_paths
from core.store import Store
from core.store.records import Video
from gui.workers import JobContext

log = logging.getLogger(__name__)

__all__ = [
    "AnalysisProgress",
    "AnalysisStarted",
    "ClusterProgress",
    "add_videos",
    "analyse",
    "analyse_on_cluster",
    "open_demo",
]

DEMO_SECONDS = 60.0


@dataclass(frozen=True)
class EngineNote:
    """A line about the engine (converting, quantizing, the int8 verdict) for the status bar."""

    text: str


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
    store: Store, video_ids: list[int], ctx: JobContext, stride: int, batch_size: int, precision: str = "auto"
) -> list[AnalysisResult]:
    """The core pipeline: a new video is indexed by the same pass that analyses it."""
    from core.analysis.backends.select import int8_record

    loaded = load_model(
        store, precision=precision, cancel=ctx.cancel, on_status=lambda m: ctx.batch(EngineNote(m))
    )
    wanted = (
        precision == "auto"
        and loaded.engine.backend == "openvino"
        and int8_record(store, loaded.version) is None
    )
    ctx.batch(AnalysisStarted(loaded.engine_label, loaded.label, loaded.version.id, int8_wanted=wanted))
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


def analyse_on_cluster(
    store: Store, video_ids: list[int], ctx: JobContext, settings: ClusterSettings
) -> ClusterOutcome:
    """The same analysis on Ray: the engine is chosen here once, as for a local analysis, and
    every worker runs it; workers store their windows themselves, which the app hears through
    the store's change feed and draws as they arrive."""
    from core.cluster.ray_analysis import run_on_cluster

    loaded = load_model(
        store,
        device="cpu",
        precision=settings.precision,
        cancel=ctx.cancel,
        on_status=lambda m: ctx.batch(EngineNote(m)),
    )
    where = "local Ray" if settings.address == "local" else f"Ray at {settings.address}"
    ctx.batch(AnalysisStarted(f"{where} · {loaded.engine_label}", loaded.label, loaded.version.id))
    videos = [store.videos.get(v) for v in video_ids]
    return run_on_cluster(store, videos, loaded, settings, ctx.cancel, ctx.progress)


def prepare_int8(store: Store, ctx: JobContext, version_id: int) -> str:
    """Quantize and verify the model in the background, so the next analysis can use int8."""
    from core.analysis.backends.select import prepare_int8 as prepare
    from core.analysis.backends.select import verdict
    from core.model.registry import load_version

    version = store.models.get(version_id)
    model, meta = load_version(store, version)
    report = prepare(
        store,
        version,
        model,
        meta.input_spec,
        cancel=ctx.cancel,
        on_status=lambda m: ctx.progress(EngineNote(m)),
    )
    return verdict(report)
