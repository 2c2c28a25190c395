"""Importing weights: this app's own checkpoints, or the Sports-1M C3D port calibrated on clips
from the user's own videos (its BN layers are new, so they need the user's statistics)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch

from core.analysis.inference import WindowProducer
from core.analysis.windows import window_starts
from core.errors import CheckpointError
from core.media.library import open_reader
from core.model.checkpoint import looks_like_safetensors
from core.model.preprocess import clips_to_tensor
from core.model.registry import import_checkpoint, project_class_names, register_model
from core.model.spec import SPORTS1M_SPEC, InputSpec
from core.store import Store
from core.store.records import ModelVersion, Video

log = logging.getLogger(__name__)

CALIBRATION_CLIPS = 300


def sample_clips(
    videos: Sequence[Video],
    spec: InputSpec,
    max_clips: int,
    batch_size: int = 8,
    cancel: threading.Event | None = None,
) -> Iterator[torch.Tensor]:
    """Evenly spread windows over ``videos`` (about ``max_clips`` in all), as input tensors.

    ``cancel`` also stops the decoding thread of the video being read.
    """
    stop = cancel if cancel is not None else threading.Event()
    per_video = max(max_clips // max(len(videos), 1), 1)
    for video in videos:
        with open_reader(video) as reader:
            n_windows = len(window_starts(max(reader.frame_count, 1), spec.window, 1))
            stride = max(n_windows // per_video, 1)
            producer = WindowProducer(reader, spec, stride, batch_size, set(), stop)
            for item in producer.batches():
                if stop.is_set():
                    return
                clips = item.clips[: len(item.starts)]
                yield clips_to_tensor(clips, spec, torch.device("cpu"), channels_last=False)


def import_sports1m_version(
    store: Store,
    path: str | Path,
    videos: Sequence[Video],
    progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> ModelVersion:
    """Import the Sports-1M C3D port, BN calibrated on the project's videos, as a new version.

    ``cancel`` is honoured while reading the weights and before every calibration clip;
    a cancelled import registers nothing.
    """
    from core.model.sports1m import check_declared_size, import_sports1m

    check_declared_size(Path(path))  # a hostile file is refused before anything else is asked
    videos = list(videos) or store.videos.list()
    if not videos:
        raise CheckpointError(
            "Sports-1M weights need a few of your videos to calibrate their new BN layers: add videos first."
        )
    if progress is not None:
        progress(f"calibrating BN layers on up to {CALIBRATION_CLIPS} clips of {len(videos)} videos…")
    clips = sample_clips(videos, SPORTS1M_SPEC, CALIBRATION_CLIPS, cancel=cancel)
    model, meta = import_sports1m(
        path, project_class_names(store), clips, max_clips=CALIBRATION_CLIPS, cancel=cancel
    )
    return register_model(store, model, meta, mode="import", parent_id=None)


def import_weights(
    store: Store,
    path: str | Path,
    calibration_videos: Sequence[Video] = (),
    progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> ModelVersion:
    """A ``.safetensors`` checkpoint of ours, else the Sports-1M port (a PyTorch state dict)."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a weights file.")
    if not path.is_file():
        raise CheckpointError(f"The weights file {path} does not exist.")
    if looks_like_safetensors(path):  # damaged or not: say what is wrong with it as a checkpoint
        return import_checkpoint(store, path)
    return import_sports1m_version(store, path, calibration_videos, progress, cancel)
