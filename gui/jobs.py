"""The bodies of the app's background jobs: plain compositions of ``core`` calls.

Each runs on a worker thread (see ``gui.workers``), reports through ``ctx`` and never touches Qt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from core import paths
from core.analysis.inference import Progress
from core.analysis.run import AnalysisResult, analyse_video
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
    int8_wanted: bool = False
    """``auto`` ran fp32 on OpenVINO because no int8 was ever tried for this model: prepare one."""


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
    from core.analysis.backends.select import int8_record, load_for_analysis
    from core.model.device import choose_device
    from core.model.registry import ensure_active_model, load_version

    version = ensure_active_model(store)
    model, _ = load_version(store, version)
    device = choose_device()
    loaded = load_for_analysis(
        store,
        version,
        model,
        device,
        precision,
        cancel=ctx.cancel,
        on_status=lambda m: ctx.batch(EngineNote(m)),
    )
    wanted = (
        precision == "auto" and loaded.engine.backend == "openvino" and int8_record(store, version) is None
    )
    ctx.batch(AnalysisStarted(loaded.engine_label, loaded.label, version.id, int8_wanted=wanted))
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
