"""What one cluster worker does with one chunk: decode it, run the model, write the results.

``compute_chunk`` is plain code (tested without Ray): it feeds the chunk's frames to the same
window producer and engine as local analysis (``infer_windows``), so a window's
probabilities do not depend on where it ran. The driver chooses the engine once, as local
``infer`` does (``backends.select``: OpenVINO fp32, verified int8, or PyTorch), and every worker
runs exactly that one (``EngineChoice``): the same IR file, or PyTorch in the same precision.
Results go to the shared store batch by batch, exactly as a local run writes them, so a
worker that dies loses at most its unfinished batches and the retried chunk skips nothing it
should not. ``ChunkWorker`` is the Ray Data callable class around it: the model and engine
are loaded once per worker process, not per chunk.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from core.analysis.backends.base import Engine
from core.analysis.backends.openvino_backend import OpenVinoEngine
from core.analysis.backends.torch_backend import TorchEngine
from core.analysis.inference import InferenceOutcome, ensure_finite, infer_windows
from core.analysis.run import LoadedModel
from core.analysis.windows import window_starts
from core.atomic import atomic_write
from core.cluster.chunks import Chunk
from core.errors import ClusterError
from core.learning.feature_cache import LAYERS, FeatureCache, FeatureKey, feature_key
from core.media.library import open_reader
from core.media.video import VideoReader
from core.model.device import DeviceChoice, choose_device
from core.model.network import C3D_BN
from core.model.registry import load_version
from core.model.spec import InputSpec
from core.store import Store, open_store

log = logging.getLogger(__name__)

FAIL_ONCE_ENV = "C3D_CLUSTER_FAIL_ONCE"
"""Fault injection for the tests: a path; the first worker to see it missing creates it and dies."""


THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""Set for CPU workers before they import anything, so no library sizes a pool for the node."""


@dataclass(frozen=True)
class ChunkDone:
    video_id: int
    windows: int  # computed by this call (a retried chunk may find some already stored)
    frame_count: int | None  # the true count, when this chunk decoded its video to the end
    seconds: float
    cpu_s: float = 0.0  # this process's CPU time for the chunk (all its threads, decoding included)
    began_at: float = 0.0  # wall clock, so the driver can line chunks of several workers up


@dataclass(frozen=True)
class EngineChoice:
    """The engine the driver chose, as a worker rebuilds it: a plain value that crosses to Ray.

    ``xml`` is the OpenVINO IR relative to the project's files folder (shared by every node);
    ``requested`` is what the user asked (``auto|fp32|int8``), which decides PyTorch's autocast
    on a GPU worker exactly as it does for local ``infer --device cuda``.
    """

    backend: str  # "torch" | "openvino"
    precision: str  # what computes: "fp32", "bf16", "fp16", "int8"
    requested: str = "auto"
    xml: str | None = None

    @classmethod
    def of(cls, engine: Engine, files_dir: Path, requested: str = "auto") -> EngineChoice:
        if isinstance(engine, OpenVinoEngine):
            return cls("openvino", engine.precision, requested, str(Path(engine.xml).relative_to(files_dir)))
        return cls("torch", engine.precision, requested)

    def build(
        self, model: C3D_BN, spec: InputSpec, device: DeviceChoice, files_dir: Path, threads: int | None
    ) -> Engine:
        """This choice on this worker; a GPU worker runs PyTorch on its GPU, as local ``infer`` would."""
        if device.device.type != "cpu":
            if self.requested == "int8":
                raise ClusterError("int8 runs on CPU workers through OpenVINO: use --precision fp32 or auto.")
            if self.requested == "fp32":
                device = replace(device, autocast_dtype=None)
            return TorchEngine(model, spec, device)
        if self.backend == "openvino" and self.xml is not None:
            return OpenVinoEngine(files_dir / self.xml, self.precision, files_dir, threads=threads)
        if self.precision == "fp32":
            device = replace(device, autocast_dtype=None)
        return TorchEngine(model, spec, device)


class ChunkFrames:
    """Frames ``[first, end)`` of a video presented as a video of their own.

    The window producer numbers frames from 0 and tiles them with windows on the stride grid;
    starting on the grid (``first`` a multiple of the stride) keeps its windows ours.
    """

    def __init__(self, reader: VideoReader, first: int, end: int | None) -> None:
        self._reader = reader
        self.path = reader.path
        self._first = first
        self._end = end
        self.index = None  # never a whole video: nothing to record from here
        self.frame_count = (end if end is not None else reader.frame_count) - first

    def __iter__(self) -> Iterator[np.ndarray]:
        for number, image in self._reader.iter_from(self._first):
            if self._end is not None and number >= self._end:
                return
            yield image


def compute_chunk(
    store: Store,
    loaded: LoadedModel,
    chunk: Chunk,
    *,
    stride: int,
    batch_size: int,
    cancel: threading.Event | None = None,
    on_batch: Callable[[], None] | None = None,
) -> ChunkDone:
    """Compute and store the chunk's windows (predictions and both feature layers).

    A retried chunk computes them all again: storing is idempotent (a start already stored
    keeps its row; repeated feature starts are dropped when parts are merged), and the chunk
    is small, so the retry costs at most one chunk's work.
    """
    began, began_cpu, began_at = time.perf_counter(), time.process_time(), time.time()
    video = store.videos.get(chunk.video_id)
    window = loaded.spec.window
    keys = {
        layer: feature_key(video, loaded.trunk_hashes[layer], loaded.spec, stride, layer) for layer in LAYERS
    }
    cache = FeatureCache(store)
    computed = 0
    with open_reader(video) as reader:
        if chunk.whole_video:
            frames: VideoReader | ChunkFrames = reader
            skip = set(chunk.skip)
            first = 0
        else:
            first = chunk.first_frame
            frames = ChunkFrames(reader, first, chunk.end_frame)
            grid = set(window_starts(max(frames.frame_count, 1), window, stride).tolist())
            skip = grid - {s - first for s in chunk.starts}
        outcome = InferenceOutcome()
        for batch in infer_windows(
            frames,  # type: ignore[arg-type]  # duck-typed: iteration, path, frame_count
            loaded.engine,
            loaded.spec,
            loaded.device,
            stride=stride,
            batch_size=batch_size,
            skip_starts=skip,
            want_features=True,
            cancel=cancel,
            outcome=outcome,
        ):
            ensure_finite(batch, video.path)
            starts = batch.starts + first
            # Features first: a stored prediction then always means its features are stored too.
            _append_features(store, cache, keys["pool5"], starts, batch.pool5)
            _append_features(store, cache, keys["fc7"], starts, batch.fc7)
            store.predictions.add_windows(chunk.run_id, starts, batch.probs)
            computed += len(starts)
            if on_batch is not None:
                on_batch()
        frame_count = None
        if chunk.whole_video:
            frame_count = _record_index(store, chunk.video_id, reader, outcome)
    return ChunkDone(
        chunk.video_id,
        computed,
        frame_count,
        time.perf_counter() - began,
        time.process_time() - began_cpu,
        began_at,
    )


def _record_index(store: Store, video_id: int, reader: VideoReader, outcome: InferenceOutcome) -> int | None:
    """A whole-video chunk decoded to the true end: keep the frame count and timestamps."""
    index = reader.index
    if index is not None:
        store.videos.set_index(video_id, index.frame_count, np.asarray(index.timestamps_s))
        return int(index.frame_count)
    return outcome.frame_count


def _append_features(
    store: Store, cache: FeatureCache, key: FeatureKey, starts: np.ndarray, feats: np.ndarray | None
) -> None:
    """One part file per batch, named as ``FeatureWriter`` names them, so merging finds them.

    The entry's window count is only a hint while parts accumulate (several workers add to
    it at once); the driver's final merge sets the exact count.
    """
    if feats is None or len(starts) == 0:
        return
    folder = cache.root / key.folder_name()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"part-{int(starts[0]):09d}-{int(starts[-1]):09d}.npz"
    with atomic_write(folder / name, "wb") as handle:
        np.savez(handle, starts=np.asarray(starts, np.int64), features=np.asarray(feats, np.float16))
    entry = store.features.get(key.video_hash, key.trunk_hash, key.spec_hash, key.stride, key.layer)
    windows = (entry.windows if entry is not None else 0) + len(starts)
    store.features.put(
        key.video_hash, key.trunk_hash, key.spec_hash, key.stride, key.layer, str(folder), windows, False
    )


class ChunkWorker:
    """Ray Data callable class: one per worker process, the model loaded once in ``__init__``."""

    def __init__(
        self,
        store_url: str,
        files_dir: str,
        version_id: int,
        stride: int,
        batch_size: int,
        threads: int,
        use_gpu: bool,
        engine: EngineChoice | None = None,
        trunk_hashes: dict[str, str] | None = None,
    ) -> None:
        if not use_gpu:
            pin_threads(threads)
        logging.basicConfig(level=logging.WARNING)
        # Checkpoints and the feature cache are in the project's files folder, which every
        # node must see at the same path (a shared mount): the driver says where it is.
        self.store = replace(open_store(store_url), files_dir=Path(files_dir))
        version = self.store.models.get(version_id)
        model, _ = load_version(self.store, version)
        self.loaded = LoadedModel(version, model, choose_device("cuda" if use_gpu else "cpu"))
        choice = engine or EngineChoice("torch", "fp32")
        pinned = None if use_gpu else threads
        self.loaded.engine = choice.build(
            self.loaded.model, self.loaded.spec, self.loaded.device, Path(files_dir), pinned
        )
        if trunk_hashes:  # the driver's keys: features land where it merges them, no re-hashing here
            self.loaded.__dict__["trunk_hashes"] = dict(trunk_hashes)
        else:
            _ = self.loaded.trunk_hashes  # ~1 s for 78M parameters
        self.stride = stride
        self.batch_size = batch_size
        self.ready_at = time.time()  # wall clock: lets the driver tell start-up from work

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = [self._one(Chunk.from_json(str(text))) for text in batch["chunk"]]
        return {
            "video_id": np.array([r.video_id for r in rows], dtype=np.int64),
            "windows": np.array([r.windows for r in rows], dtype=np.int64),
            "frame_count": np.array([-1 if r.frame_count is None else r.frame_count for r in rows]),
            "seconds": np.array([r.seconds for r in rows], dtype=np.float64),
            "cpu_s": np.array([r.cpu_s for r in rows], dtype=np.float64),
            "began_at": np.array([r.began_at for r in rows], dtype=np.float64),
            "ready_at": np.full(len(rows), self.ready_at, dtype=np.float64),
            "pid": np.full(len(rows), os.getpid(), dtype=np.int64),
            "engine": np.array([self.loaded.engine_label] * len(rows)),
        }

    def _one(self, chunk: Chunk) -> ChunkDone:
        return compute_chunk(
            self.store,
            self.loaded,
            chunk,
            stride=self.stride,
            batch_size=self.batch_size,
            on_batch=_maybe_fail_once,
        )


def index_video(store_url: str, video_id: int) -> int:
    """A Ray task: decode a never-indexed video once to record its true length and timestamps,
    so the driver can cut it into chunks for several workers instead of one whole-video chunk."""
    store = open_store(store_url)
    try:
        video = store.videos.get(video_id)
        with open_reader(video) as reader:
            index = reader.build_index()
        store.videos.set_index(video_id, index.frame_count, np.asarray(index.timestamps_s))
        return int(index.frame_count)
    finally:
        store.close()


def pin_threads(threads: int) -> None:
    """A CPU worker computes on ``threads`` cores and no more: torch, OpenCV's decoder helpers.

    The OpenMP/MKL pools read their size from the environment the driver gives the actor
    (``THREAD_ENV_VARS``); OpenVINO takes it in its compile config (``EngineChoice.build``).
    Two one-thread workers on two cores then never fight over a core.
    """
    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # fixed once anything ran in parallel: harmless
        torch.set_num_interop_threads(1)
    import cv2

    cv2.setNumThreads(threads)


def _maybe_fail_once() -> None:
    marker = os.environ.get(FAIL_ONCE_ENV)
    if not marker:
        return
    try:
        with open(marker, "x") as handle:
            handle.write(str(os.getpid()))
    except FileExistsError:
        return
    log.warning("Fault injection: worker %d dies now", os.getpid())
    os._exit(1)
