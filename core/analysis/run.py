"""Analysing a video: inference whose results land in the store batch by batch.

Each batch is committed in its own transaction, so a cancelled or killed run keeps what it
finished, and running the same model at the same stride again resumes where it stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from core.analysis.backends.base import Engine, features_tag
from core.analysis.backends.torch_backend import TorchEngine
from core.analysis.inference import InferenceOutcome, Progress, WindowBatch, ensure_finite, infer_windows
from core.analysis.windows import window_starts
from core.errors import Cancelled
from core.learning.decoding import Decoder, decode
from core.learning.feature_cache import FeatureCache, FeatureSink, Layer, model_trunk_hashes
from core.media.library import open_reader
from core.media.video import VideoReader
from core.model.device import DeviceChoice
from core.model.network import C3D_BN, prepare_for_inference
from core.model.spec import InputSpec
from core.store import Store
from core.store.records import ModelVersion, RunStatus, Video

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalysisResult:
    video_id: int
    run_id: int
    status: RunStatus
    windows_done: int
    windows_total: int
    frame_count: int
    padded: bool  # shorter than one window: its single window repeats the last frame
    clips_per_s: float
    seconds: float

    def summary(self, video_name: str, model_label: str) -> str:
        note = " (shorter than 16 frames: the window was padded with its last frame)" if self.padded else ""
        return (
            f"{video_name}: {self.status.value}, {self.windows_done}/{self.windows_total} windows, "
            f"{self.frame_count} frames, {self.clips_per_s:.1f} clips/s, {self.seconds:.1f} s, "
            f"model {model_label}{note}"
        )


class LoadedModel:
    """A model version ready to run on one device: loaded and prepared once, reused per video."""

    def __init__(
        self, version: ModelVersion, model: C3D_BN, device: DeviceChoice, engine: Engine | None = None
    ) -> None:
        self.version = version
        self.spec = InputSpec.from_json(version.input_spec_json)
        self.device = device
        self.model = prepare_for_inference(model, device.device, device.channels_last)
        self.engine: Engine = engine or TorchEngine(self.model, self.spec, device)
        """What runs the windows; ``backends.select.load_for_analysis`` picks OpenVINO on CPUs."""

    @cached_property
    def trunk_hashes(self) -> dict[Layer, str]:
        """Keys of this model's feature cache entries; its weights never change once loaded.

        Features an int8 engine made are keyed apart ("<hash>+int8"), so fine-tuning, which
        looks up the fp32 trunk's key, never trains on them by mistake.
        """
        tag = features_tag(self.engine)
        return {layer: f"{h}+{tag}" if tag else h for layer, h in model_trunk_hashes(self.model).items()}

    @property
    def engine_label(self) -> str:
        return self.engine.label

    @property
    def label(self) -> str:
        suffix = " — UNTRAINED, predictions are meaningless" if self.version.untrained else ""
        return f"#{self.version.id} {self.version.name}{suffix}"


def analyse_video(
    store: Store,
    video: Video,
    loaded: LoadedModel,
    *,
    stride: int = 8,
    batch_size: int = 8,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_batch: Callable[[WindowBatch], None] | None = None,
    cache_features: bool = True,
) -> AnalysisResult:
    """Run (or resume) the windows of ``video`` not yet in the store; returns what was done.

    With ``cache_features`` the pool5 and fc7 activations of every window go to the feature
    cache as a side effect, so the first analysis of a video already prepares fine-tuning; a
    window counts as done only when both its predictions and its features are stored.
    """
    began = time.perf_counter()
    cancel = cancel or threading.Event()
    with open_reader(video) as reader:
        total = len(window_starts(max(reader.frame_count, 1), loaded.spec.window, stride))
        run = store.predictions.start_run(video.id, loaded.version.id, stride, total)
        done = store.predictions.done_starts(run.id)
        sink = None
        if cache_features:
            sink = FeatureSink(FeatureCache(store), video, loaded.trunk_hashes, loaded.spec, stride)
            done &= sink.done_starts()
        if video.indexed and _covers(done, video, loaded, stride):
            store.predictions.finish(run.id, RunStatus.COMPLETE)
            return _result(
                store, video, run.id, RunStatus.COMPLETE, video.best_frame_count, False, 0.0, began
            )
        outcome = InferenceOutcome()
        rate = 0.0

        def progress(p: Progress) -> None:
            nonlocal rate
            rate = p.clips_per_s
            if on_progress is not None:
                on_progress(p)

        status = RunStatus.COMPLETE
        try:
            for batch in infer_windows(
                reader,
                loaded.engine,
                loaded.spec,
                loaded.device,
                stride=stride,
                batch_size=batch_size,
                skip_starts=done,
                want_features=sink is not None,
                cancel=cancel,
                on_progress=progress,
                outcome=outcome,
            ):
                ensure_finite(batch, video.path)
                store.predictions.add_windows(run.id, batch.starts, batch.probs)
                if sink is not None:
                    sink.add(batch.starts, batch.pool5, batch.fc7)
                if on_batch is not None:
                    on_batch(batch)
        except Cancelled:
            status = RunStatus.CANCELLED
        except KeyboardInterrupt:  # Ctrl+C is the user stopping the run, not the run failing
            store.predictions.finish(run.id, RunStatus.CANCELLED)
            raise
        except BaseException:
            store.predictions.finish(run.id, RunStatus.FAILED)
            raise
        frame_count = _record_index(store, video, reader, outcome)
        if status is RunStatus.COMPLETE:
            total = len(window_starts(frame_count, loaded.spec.window, stride))
        if sink is not None and status is RunStatus.COMPLETE:
            sink.finish()
        if status is RunStatus.COMPLETE:
            decode_along_time(store, run.id, loaded.version)
        store.predictions.finish(run.id, status, windows_total=total)
    return _result(store, video, run.id, status, frame_count, outcome.padded, rate, began)


def decode_along_time(store: Store, run_id: int, version: ModelVersion) -> None:
    """Give a new video the same HMM decoding that re-scoring gave the videos a head was trained on.

    A ``features`` run learns a decoder from the labels and re-scored videos store its
    posteriors; without this, a video analysed later would show the raw, flickering window
    probabilities of the same model. Applied once, when the run becomes complete.
    """
    raw = version.summary.get("decoder")
    several = isinstance(version.summary.get("decoders"), dict)  # a head per track: one HMM each
    if not isinstance(raw, dict) and not several:
        return
    starts, probs = store.predictions.windows(run_id)
    if len(starts) and several:
        from core.learning.track_learning import decode_tracks

        store.predictions.replace_windows(run_id, starts, decode_tracks(probs, version))
    elif len(starts) and isinstance(raw, dict):
        store.predictions.replace_windows(run_id, starts, decode(probs, Decoder.from_json(raw)))


def _covers(done: set[int], video: Video, loaded: LoadedModel, stride: int) -> bool:
    """Every window of an indexed video is already stored: nothing to decode again."""
    return set(window_starts(video.best_frame_count, loaded.spec.window, stride).tolist()) <= done


def _result(
    store: Store,
    video: Video,
    run_id: int,
    status: RunStatus,
    frame_count: int,
    padded: bool,
    rate: float,
    began: float,
) -> AnalysisResult:
    finished = store.predictions.get(run_id)
    return AnalysisResult(
        video_id=video.id,
        run_id=run_id,
        status=status,
        windows_done=finished.windows_done,
        windows_total=finished.windows_total,
        frame_count=frame_count,
        padded=padded,
        clips_per_s=rate,
        seconds=time.perf_counter() - began,
    )


def _record_index(store: Store, video: Video, reader: VideoReader, outcome: InferenceOutcome) -> int:
    """The first full decode tells the truth about the frame count and timestamps: keep it."""
    index = reader.index
    if index is not None and not video.indexed:
        store.videos.set_index(video.id, index.frame_count, np.asarray(index.timestamps_s))
        return int(index.frame_count)
    if outcome.frame_count is not None:
        return outcome.frame_count
    return video.best_frame_count
