"""Frames for the player, decoded on a thread of their own by ``core.media.video``.

The GUI asks for a frame number and gets back a ``QImage`` through a signal. Requests
coalesce: while a frame is being decoded, newer requests replace older ones, so scrubbing
never builds a backlog. During playback the decoder also reads ahead a few frames, so a
video plays at its rate when one frame decodes faster than its display interval on average.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

import cv2
import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

from core.errors import AppError
from core.media.library import open_reader
from core.media.video import VideoReader
from core.store.records import Video

log = logging.getLogger(__name__)

READ_AHEAD = 12


def to_qimage(bgr: np.ndarray, fit: tuple[int, int] | None = None) -> QImage:
    """RGB QImage of a BGR frame, shrunk (aspect kept) to fit ``fit`` = (width, height) if larger.

    Shrinking here, on the decoder thread, keeps the GUI thread's paint a plain blit.
    """
    if fit is not None and fit[0] > 0 and fit[1] > 0:
        scale = min(fit[0] / bgr.shape[1], fit[1] / bgr.shape[0])
        if scale < 1.0:
            size = (max(1, round(bgr.shape[1] * scale)), max(1, round(bgr.shape[0] * scale)))
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    height, width = rgb.shape[:2]
    return QImage(rgb.data, width, height, rgb.strides[0], QImage.Format.Format_RGB888).copy()


class _Decoder(QObject):
    frame_ready = Signal(int, int, QImage)  # generation, frame number, image
    failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._wanted: int | None = None
        self._ahead = False
        self._fit: tuple[int, int] | None = None
        self._ready_fit: tuple[int, int] | None = None
        self._generation = 0
        self._reader: VideoReader | None = None
        self._ready: OrderedDict[int, QImage] = OrderedDict()

    # Called from the GUI thread; the slots below run on the decoder thread.
    def want(self, frame: int, ahead: bool, fit: tuple[int, int] | None) -> None:
        with self._lock:
            self._wanted, self._ahead, self._fit = frame, ahead, fit

    @Slot(int, object)
    def open(self, generation: int, video: object) -> None:
        self._close()
        self._generation = generation
        if not isinstance(video, Video):
            return
        try:
            self._reader = open_reader(video)
        except AppError as exc:
            self.failed.emit(str(exc))

    @Slot()
    def serve(self) -> None:
        with self._lock:
            frame, ahead, fit, self._wanted = self._wanted, self._ahead, self._fit, None
        if frame is None or self._reader is None:
            return
        if fit != self._ready_fit:  # frames read ahead at another size are stale
            self._ready.clear()
            self._ready_fit = fit
        image = self._ready.pop(frame, None)
        try:
            if image is None:
                image = to_qimage(self._reader.frame(frame), fit)
            self.frame_ready.emit(self._generation, frame, image)
            if ahead:
                self._read_ahead(frame)
        except AppError as exc:
            self.failed.emit(str(exc))

    def _read_ahead(self, frame: int) -> None:
        if self._reader is None:
            return
        for key in [k for k in self._ready if k < frame]:
            del self._ready[key]
        for nxt in range(frame + 1, frame + 1 + READ_AHEAD):
            with self._lock:
                if self._wanted is not None:
                    return  # a newer request goes first
            if nxt in self._ready:
                continue
            if nxt >= self._reader.frame_count:
                return
            self._ready[nxt] = to_qimage(self._reader.frame(nxt), self._fit)

    @Slot()
    def close(self) -> None:
        self._close()

    def _close(self) -> None:
        self._ready.clear()
        if self._reader is not None:
            self._reader.close()
            self._reader = None


class FrameSource(QObject):
    """GUI-side handle: ``open(video)``, ``request(frame)``; emits ``frame_ready(frame, image)``."""

    frame_ready = Signal(int, QImage)
    failed = Signal(str)
    _open = Signal(int, object)
    _serve = Signal()
    _close = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0
        self._thread = QThread()
        self._thread.setObjectName("frame-decoder")
        self._decoder = _Decoder()
        self._decoder.moveToThread(self._thread)
        self._open.connect(self._decoder.open)
        self._serve.connect(self._decoder.serve)
        self._close.connect(self._decoder.close)
        self._decoder.frame_ready.connect(self._on_ready)
        self._decoder.failed.connect(self.failed)
        self._thread.start()

    def open(self, video: Video | None) -> None:
        self._generation += 1
        self._open.emit(self._generation, video)

    def request(self, frame: int, ahead: bool = False, fit: tuple[int, int] | None = None) -> None:
        self._decoder.want(frame, ahead, fit)
        self._serve.emit()

    def _on_ready(self, generation: int, frame: int, image: QImage) -> None:
        if generation == self._generation:
            self.frame_ready.emit(frame, image)

    def shutdown(self) -> None:
        if not self._thread.isRunning():
            return
        self._close.emit()
        self._thread.quit()
        self._thread.wait()
        self._decoder.close()
