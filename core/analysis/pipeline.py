"""The analysis pipeline, assembled once for the CLI and the app: model, device, then each video.

A video not yet indexed is not indexed first: ``analyse_video`` records the true frame count
and timestamps from the same decoding pass that scores its windows, so every frame is
decoded once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.analysis.backends.select import Int8Settings, load_for_analysis
from core.analysis.inference import Progress, WindowBatch
from core.analysis.run import AnalysisResult, LoadedModel, analyse_video
from core.store import Store
from core.store.records import ModelVersion, Video

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalysisStarted:
    """The model is loaded: what the user should see before the first window is scored."""

    device_label: str
    model_label: str
    model_id: int
    int8_wanted: bool = False
    """``auto`` ran fp32 on OpenVINO because no int8 was ever tried for this model: prepare one."""


@dataclass(frozen=True)
class AnalysisProgress:
    video_id: int
    video_name: str
    video_number: int  # 1-based among the videos of this run
    video_total: int
    progress: Progress


def load_model(
    store: Store,
    version: ModelVersion | None = None,
    device: str = "auto",
    precision: str = "auto",
    *,
    int8: Int8Settings | None = None,
    cancel: threading.Event | None = None,
    on_status: Callable[[str], None] | None = None,
) -> LoadedModel:
    """``version`` (default: the active model, made untrained if there is none) on ``device``,
    with the engine ``precision`` asks for (OpenVINO fp32/int8 on CPUs, PyTorch on GPUs)."""
    from core.model.device import choose_device
    from core.model.registry import ensure_active_model, load_version

    chosen = version if version is not None else ensure_active_model(store)
    model, _ = load_version(store, chosen)
    return load_for_analysis(
        store, chosen, model, choose_device(device), precision, int8=int8, cancel=cancel, on_status=on_status
    )


def analyse_videos(
    store: Store,
    videos: Sequence[Video],
    loaded: LoadedModel,
    *,
    stride: int = 8,
    batch_size: int = 8,
    cancel: threading.Event | None = None,
    on_progress: Callable[[AnalysisProgress], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Iterator[AnalysisResult]:
    """Analyse (or resume) each video in turn, yielding its result; stops early when cancelled.

    ``on_batch`` gets the video id after each stored batch (a view may redraw its scores).
    """
    cancel = cancel or threading.Event()
    for number, video in enumerate(videos, start=1):
        if cancel.is_set():
            return
        name = Path(video.path).name

        def progress(p: Progress, vid: int = video.id, n: str = name, k: int = number) -> None:
            if on_progress is not None:
                on_progress(AnalysisProgress(vid, n, k, len(videos), p))

        def batch(_b: WindowBatch, vid: int = video.id) -> None:
            if on_batch is not None:
                on_batch(vid)

        yield analyse_video(
            store,
            video,
            loaded,
            stride=stride,
            batch_size=batch_size,
            cancel=cancel,
            on_progress=progress,
            on_batch=batch,
        )
