"""Sliding-window inference: decode once, overlap decoding with the model, batch windows.

A producer thread decodes the video sequentially, prepares each frame exactly once into a
16-frame ring buffer, and copies every needed window out of it into batches; the caller's
thread runs the network on one batch while the next is being decoded. Windows are 16
consecutive frames every ``stride`` frames, the last one aligned to the video's true end
(headers lie about frame counts, so the end is only known once decoding reaches it).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import cast

import numpy as np
from torch import nn

from core.analysis.backends.base import Engine, EngineOutput, Pending
from core.analysis.backends.torch_backend import TorchEngine
from core.analysis.windows import window_starts
from core.errors import Cancelled, InferenceError
from core.media.video import VideoReader
from core.model.device import DeviceChoice
from core.model.network import C3D_BN
from core.model.preprocess import prepare_frame
from core.model.spec import InputSpec

log = logging.getLogger(__name__)

_QUEUE_DEPTH = 2  # batches decoded ahead: enough to overlap, little memory


@dataclass(frozen=True)
class WindowBatch:
    starts: np.ndarray  # int64 (B,)
    probs: np.ndarray  # float32 (B, C), softmax
    pool5: np.ndarray | None = None  # float16 (B, 8192)
    fc7: np.ndarray | None = None  # float16 (B, 4096)


def ensure_finite(batch: WindowBatch, path: str) -> None:
    """Refuse a batch with NaN or infinite probabilities before anything of it is stored."""
    if not np.isfinite(batch.probs).all():
        raise InferenceError(
            f"The model gave non-numbers (NaN or infinity) for {path}, so its weights are damaged; "
            "the run was stopped and nothing from this batch was stored."
        )


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    clips_per_s: float

    @property
    def eta_s(self) -> float:
        return eta_seconds(self.done, self.total, self.clips_per_s)


def eta_seconds(done: int, total: int, per_s: float) -> float:
    """Time left at the current rate; NaN before there is a rate to go by."""
    if per_s <= 0:
        return float("nan")
    return max(total - done, 0) / per_s


@dataclass
class ClipBatch:
    """Window starts and their uint8 (N, T, H, W, 3) clips; rows past ``len(starts)`` are stale."""

    starts: list[int]
    clips: np.ndarray


@dataclass
class _Done:
    frame_count: int
    padded: bool


@dataclass
class _Failed:
    error: BaseException


@dataclass
class InferenceOutcome:
    """Filled in as the run goes: what the decoder found out about the video."""

    frame_count: int | None = None
    padded: bool = False


class WindowProducer:
    """Decodes and batches the windows of one video on a background thread."""

    def __init__(
        self,
        reader: VideoReader,
        spec: InputSpec,
        stride: int,
        batch_size: int,
        skip_starts: set[int],
        cancel: threading.Event,
    ) -> None:
        self._reader = reader
        self._spec = spec
        self._stride = stride
        self._batch_size = batch_size
        self._skip = skip_starts
        self._cancel = cancel
        self._queue: queue.Queue[ClipBatch | _Done | _Failed] = queue.Queue(maxsize=_QUEUE_DEPTH)
        self._thread = threading.Thread(target=self._run, name="window-producer", daemon=True)
        self._stop = threading.Event()  # ours; ``cancel`` is the caller's and is only read
        self.frame_count: int | None = None
        self.padded = False

    def start(self) -> None:
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()

    def batches(self) -> Iterator[ClipBatch]:
        """Batches in order; re-raises the decoder's error; sets ``frame_count`` at the end."""
        self.start()
        try:
            while True:
                item = self._next()
                if self._stopping():
                    return
                if isinstance(item, _Failed):
                    raise item.error
                if isinstance(item, _Done):
                    self.frame_count, self.padded = item.frame_count, item.padded
                    return
                yield item
        finally:
            self.join()

    def _next(self) -> ClipBatch | _Done | _Failed:
        while True:
            try:
                return self._queue.get(timeout=0.1)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    return _Failed(InferenceError("The video decoder stopped unexpectedly."))

    def _stopping(self) -> bool:
        return self._cancel.is_set() or self._stop.is_set()

    def join(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:  # unblock a producer waiting on a full queue
                self._queue.get_nowait()
            except queue.Empty:
                self._thread.join(timeout=0.05)

    def _put(self, item: ClipBatch | _Done | _Failed) -> bool:
        while not self._stopping():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            self._produce()
        except BaseException as exc:  # handed to the consumer, which raises it there
            self._put(_Failed(exc))

    def _produce(self) -> None:
        length = self._spec.window
        h, w = self._spec.output_size
        ring = np.empty((length, h, w, 3), dtype=np.uint8)
        pending = ClipBatch([], np.empty((self._batch_size, length, h, w, 3), dtype=np.uint8))
        count = 0
        for index, frame in enumerate(self._reader):
            if self._stopping():
                return
            ring[index % length] = prepare_frame(frame, self._spec)
            count = index + 1
            start = index - length + 1
            if start >= 0 and start % self._stride == 0 and start not in self._skip:
                pending = self._add(pending, start, ring, count)
        if count == 0:
            raise InferenceError(f"No frame of {self._reader.path.name} could be decoded.")
        padded = count < length
        last = int(window_starts(count, length, self._stride)[-1])
        if (padded or last % self._stride != 0) and last not in self._skip:
            pending = self._add(pending, last, ring, count)
        if pending.starts:
            self._put(pending)  # short last batch: the consumer pads or trims it
        self._put(_Done(count, padded))

    def _add(self, pending: ClipBatch, start: int, ring: np.ndarray, count: int) -> ClipBatch:
        length = self._spec.window
        frames = [min(f, count - 1) % length for f in range(start, start + length)]
        pending.clips[len(pending.starts)] = ring[frames]
        pending.starts.append(start)
        if len(pending.starts) < self._batch_size:
            return pending
        self._put(pending)
        return ClipBatch([], np.empty_like(pending.clips))


def infer_windows(
    reader: VideoReader,
    model: C3D_BN | Engine,
    spec: InputSpec,
    device: DeviceChoice,
    *,
    stride: int = 8,
    batch_size: int = 8,
    skip_starts: set[int] | None = None,
    want_features: bool = False,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    outcome: InferenceOutcome | None = None,
) -> Iterator[WindowBatch]:
    """Yield batches of window predictions in order; raises ``Cancelled`` when asked to stop.

    ``model`` is an engine, or a network already prepared for ``device`` (eval mode, memory
    format) that then runs through PyTorch.
    """
    if stride < 1 or batch_size < 1:
        raise InferenceError("Stride and batch size must both be at least 1.")
    # Any torch network (C3D_BN, or a stand-in with its forward_features) runs through PyTorch.
    engine: Engine = TorchEngine(cast(C3D_BN, model), spec, device) if isinstance(model, nn.Module) else model
    cancel = cancel or threading.Event()
    skip = skip_starts or set()
    total = len(window_starts(max(reader.frame_count, 1), spec.window, stride))
    done = len(skip)
    producer = WindowProducer(reader, spec, stride, batch_size, skip, cancel)
    began = time.perf_counter()
    computed = 0
    for batch in _pipelined(engine, producer.batches(), want_features, cancel):
        computed += len(batch.starts)
        done += len(batch.starts)
        total = max(total, done)
        yield batch
        if on_progress is not None:
            rate = computed / max(time.perf_counter() - began, 1e-9)
            on_progress(Progress(done=done, total=total, clips_per_s=rate))
    if cancel.is_set():
        raise Cancelled("Analysis cancelled; the windows finished so far are kept.")
    if outcome is not None:
        outcome.frame_count, outcome.padded = producer.frame_count, producer.padded


def _pipelined(
    engine: Engine, items: Iterator[ClipBatch], want_features: bool, cancel: threading.Event
) -> Iterator[WindowBatch]:
    """Each batch's results, in order, with the next batch submitted before they are handed
    on: the engine computes while the caller stores. A batch still computing when the loop
    ends early (cancel, an error) is waited for, so the engine is never left busy."""
    flight: deque[tuple[ClipBatch, Pending]] = deque()
    try:
        for item in items:
            if cancel.is_set():
                return
            clips = item.clips if engine.pads_batches else item.clips[: len(item.starts)]
            flight.append((item, engine.submit(clips, want_features)))
            if len(flight) > 1:
                done, wait = flight.popleft()
                yield _window_batch(done, wait())
        while flight and not cancel.is_set():
            done, wait = flight.popleft()
            yield _window_batch(done, wait())
    finally:
        for _item, wait in flight:
            wait()


def _window_batch(item: ClipBatch, out: EngineOutput) -> WindowBatch:
    n = len(item.starts)
    return WindowBatch(
        starts=np.asarray(item.starts, dtype=np.int64),
        probs=out.probs[:n],
        pool5=None if out.pool5 is None else out.pool5[:n],
        fc7=None if out.fc7 is None else out.fc7[:n],
    )
