"""Frames for the player: the scrubbing proxy while the user moves, the original once still.

The GUI asks for a frame number and gets back a ``QImage`` through a signal. Two decoders run
on threads of their own: one reads the video's scrubbing proxy (``core.media.proxy``: any frame
in a few ms), the other the original file (exact, full resolution, but a seek in a long-GOP
H.264 file decodes forward from a keyframe for 100–400 ms). Seeks, drags and fast playback are
served from the proxy; when the playhead stays still for ``SETTLE_MS`` the original's frame
replaces the proxy's. Playback at normal speed reads the original in order, with read-ahead.
A frame the proxy does not have yet (it is still being made) comes from the original.

Requests coalesce: while a frame is being decoded, newer requests replace older ones, so
scrubbing never builds a backlog; every request gets a serial number and a result older than
what is on screen is dropped.

Proxies are made in the background (``ProxyBuilds``) for the video that is open, once it has
been indexed, and resume where they stopped.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QImage

from core.errors import AppError
from core.media.library import open_reader
from core.media.proxy import BuildProgress, BuildResult, ProxyReader, build_video_proxy, open_video_proxy
from core.media.video import VideoReader
from core.store.records import Video
from gui.workers import JobContext, Jobs

log = logging.getLogger(__name__)

READ_AHEAD = 12
SETTLE_MS = 150
"""How long the playhead must stay still before the original's frame replaces the proxy's."""


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
    """Frames of the original file, exact."""

    frame_ready = Signal(int, int, int, QImage)  # generation, serial, frame number, image
    failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._wanted: tuple[int, int, bool, tuple[int, int] | None] | None = None
        self._fit: tuple[int, int] | None = None
        self._ready_fit: tuple[int, int] | None = None
        self._generation = 0
        self._reader: VideoReader | None = None
        self._ready: OrderedDict[int, QImage] = OrderedDict()

    # Called from the GUI thread; the slots below run on the decoder thread.
    def want(self, serial: int, frame: int, ahead: bool, fit: tuple[int, int] | None) -> None:
        with self._lock:
            self._wanted = (serial, frame, ahead, fit)

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
            wanted, self._wanted = self._wanted, None
        if wanted is None or self._reader is None:
            return
        serial, frame, ahead, fit = wanted
        self._fit = fit
        if fit != self._ready_fit:  # frames read ahead at another size are stale
            self._ready.clear()
            self._ready_fit = fit
        image = self._ready.pop(frame, None)
        try:
            if image is None:
                image = to_qimage(self._reader.frame(frame), fit)
            self.frame_ready.emit(self._generation, serial, frame, image)
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


class _ProxyDecoder(QObject):
    """Frames of the scrubbing proxy; says so when it does not have one (yet)."""

    frame_ready = Signal(int, int, int, QImage)  # generation, serial, frame number, image
    missed = Signal(int, int, int)  # generation, serial, frame number

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._wanted: tuple[int, int, tuple[int, int] | None] | None = None
        self._generation = 0
        self._source: tuple[Path, Video] | None = None
        self._reader: ProxyReader | None = None

    def want(self, serial: int, frame: int, fit: tuple[int, int] | None) -> None:
        with self._lock:
            self._wanted = (serial, frame, fit)

    @Slot(int, object)
    def open(self, generation: int, source: object) -> None:
        self._close()
        self._generation = generation
        if isinstance(source, tuple):
            self._source = source
            self._reader = open_video_proxy(*source)

    @Slot()
    def serve(self) -> None:
        with self._lock:
            wanted, self._wanted = self._wanted, None
        if wanted is None:
            return
        serial, frame, fit = wanted
        if self._reader is None and self._source is not None:
            self._reader = open_video_proxy(*self._source)  # the build may have begun since
        try:
            if self._reader is not None and self._reader.has(frame):
                image = to_qimage(self._reader.frame(frame), fit)
                self.frame_ready.emit(self._generation, serial, frame, image)
                return
        except (AppError, OSError) as exc:  # a damaged proxy only costs speed
            log.warning("Scrubbing proxy frame %d unreadable (%s); showing the original", frame, exc)
            self._close()
        self.missed.emit(self._generation, serial, frame)

    @Slot()
    def close(self) -> None:
        self._close()
        self._source = None

    def _close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


class ProxyBuilds(QObject):
    """Makes the open video's scrubbing proxy in the background, one video at a time."""

    JOB = "scrubbing proxy"
    message = Signal(str)  # a progress line for the status bar

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = Jobs(self)
        self.jobs.changed.connect(self._next)
        self._wanted: tuple[Path, Video] | None = None
        self._building: Video | None = None
        self._settled: set[str] = set()  # videos whose proxy is done, or failed, this session
        self._step = -1

    def want(self, files_dir: Path | None, video: Video | None) -> None:
        """Make this video's proxy next (None: none); a build for another video stops."""
        self._wanted = (files_dir, video) if files_dir is not None and video is not None else None
        building = self._building
        if building is not None and (video is None or building.content_hash != video.content_hash):
            self.jobs.cancel(self.JOB)  # what it wrote stays; it resumes when that video is open again
        self._next()

    def _next(self) -> None:
        if self.jobs.is_running(self.JOB):
            return  # a build for another video stops first; this runs again when it has
        self._building = None
        if self._wanted is None:
            return
        files_dir, video = self._wanted
        if video.content_hash in self._settled or not video.indexed:
            return
        label = Path(video.path).name

        def job(ctx: JobContext) -> BuildResult:
            return build_video_proxy(files_dir, video, ctx.cancel, ctx.progress)

        worker = self.jobs.start(self.JOB, job)
        self._building, self._step = video, -1
        worker.progress.connect(self.jobs.on_gui(self.JOB, lambda p: self._progress(label, p)))
        worker.succeeded.connect(self.jobs.on_gui(self.JOB, lambda r: self._finished(video, label, r)))
        worker.failed.connect(self.jobs.on_gui(self.JOB, lambda text, _details: self._failed(video, text)))
        self.jobs.launch(self.JOB)

    def _progress(self, label: str, progress: object) -> None:
        """A status-bar line at every 5%: often enough to see it move, rarely enough not to
        hide the app's other messages."""
        if not isinstance(progress, BuildProgress):
            return
        step = 20 * progress.done // max(progress.total, 1)
        if step != self._step:
            self._step = step
            self.message.emit(progress.line(label))

    def _finished(self, video: Video, label: str, result: object) -> None:
        if not isinstance(result, BuildResult) or result.busy:
            return
        self._settled.add(video.content_hash)
        if result.over_budget:
            self.message.emit(
                f"Scrubbing proxy for {label} stopped at frame {result.frames}: the proxy budget is full."
            )
        elif result.written:
            self.message.emit(f"Scrubbing proxy for {label} ready ({result.frames_per_s:.0f} fps).")

    def _failed(self, video: Video, text: str) -> None:
        self._settled.add(video.content_hash)  # seeking still works, just slower: no dialog
        log.warning("Scrubbing proxy for %s failed: %s", video.path, text)
        self.message.emit(f"No scrubbing proxy for {Path(video.path).name}: {text}")

    def shutdown(self) -> None:
        self._wanted = None
        self.jobs.shutdown()


class FrameSource(QObject):
    """GUI-side handle: ``open(video, files_dir)``, ``request(frame)``; emits
    ``frame_ready(frame, image, exact)`` (``exact`` False: a proxy frame, replaced once still)."""

    frame_ready = Signal(int, QImage, bool)
    failed = Signal(str)
    message = Signal(str)  # proxy progress, for the status bar
    _open = Signal(int, object)
    _serve = Signal()
    _close = Signal()
    _proxy_open = Signal(int, object)
    _proxy_serve = Signal()
    _proxy_close = Signal()

    def __init__(self, parent: QObject | None = None, proxies: bool = True) -> None:
        super().__init__(parent)
        self.proxies = proxies  # False: always the original, as before proxies (benchmarks)
        self._generation = 0
        self._serial = 0
        self._shown: tuple[int, bool] = (0, True)  # serial and exactness of what is on screen
        self._still: tuple[int, tuple[int, int] | None] = (0, None)  # frame and fit to settle on
        self._threads: list[QThread] = []
        self._decoder = _Decoder()
        self._proxy = _ProxyDecoder()
        self._start(self._decoder, "frame-decoder", self._open, self._serve, self._close)
        self._start(self._proxy, "proxy-decoder", self._proxy_open, self._proxy_serve, self._proxy_close)
        self._decoder.frame_ready.connect(self._on_exact)
        self._decoder.failed.connect(self.failed)
        self._proxy.frame_ready.connect(self._on_proxy)
        self._proxy.missed.connect(self._on_missed)
        self.builds = ProxyBuilds(self)
        self.builds.message.connect(self.message)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._on_settled)

    def _start(self, decoder: QObject, name: str, open_: Signal, serve: Signal, close: Signal) -> None:
        thread = QThread()
        thread.setObjectName(name)
        decoder.moveToThread(thread)
        open_.connect(decoder.open)  # type: ignore[attr-defined]
        serve.connect(decoder.serve)  # type: ignore[attr-defined]
        close.connect(decoder.close)  # type: ignore[attr-defined]
        self._threads.append(thread)
        thread.start()

    def open(self, video: Video | None, files_dir: Path | None = None) -> None:
        self._generation += 1
        self._settle.stop()
        self._open.emit(self._generation, video)
        source = None
        if self.proxies and video is not None and files_dir is not None and video.indexed:
            source = (Path(files_dir), video)
        self._proxy_open.emit(self._generation, source)
        self.builds.want(*source if source is not None else (None, None))

    def request(
        self, frame: int, ahead: bool = False, fit: tuple[int, int] | None = None, fast: bool = False
    ) -> None:
        """Show ``frame``; ``ahead``: playing (read on in order); ``fast``: faster than the original
        can be decoded, so the proxy serves it."""
        self._serial += 1
        if self.proxies and (fast or not ahead):
            self._still = (frame, fit)
            self._proxy.want(self._serial, frame, fit)
            self._proxy_serve.emit()
            self._settle.start()
        else:
            self._settle.stop()
            self._exact(self._serial, frame, ahead, fit)

    def _exact(self, serial: int, frame: int, ahead: bool, fit: tuple[int, int] | None) -> None:
        self._decoder.want(serial, frame, ahead, fit)
        self._serve.emit()

    def _on_settled(self) -> None:
        if self._shown != (self._serial, True):
            frame, fit = self._still
            self._exact(self._serial, frame, False, fit)

    def _on_missed(self, generation: int, serial: int, frame: int) -> None:
        if generation == self._generation and serial == self._serial:  # else a newer request is on its way
            self._settle.stop()
            self._exact(serial, frame, False, self._still[1])

    def _on_proxy(self, generation: int, serial: int, frame: int, image: QImage) -> None:
        self._show(generation, serial, frame, image, exact=False)

    def _on_exact(self, generation: int, serial: int, frame: int, image: QImage) -> None:
        self._show(generation, serial, frame, image, exact=True)

    def _show(self, generation: int, serial: int, frame: int, image: QImage, exact: bool) -> None:
        if generation != self._generation or (serial, exact) <= self._shown:
            return  # another video, or older than what is on screen
        self._shown = (serial, exact)
        self.frame_ready.emit(frame, image, exact)

    def shutdown(self) -> None:
        self._settle.stop()
        self.builds.shutdown()
        if not any(t.isRunning() for t in self._threads):
            return
        self._close.emit()
        self._proxy_close.emit()
        for thread in self._threads:
            thread.quit()
        for thread in self._threads:
            thread.wait()
        self._decoder.close()
        self._proxy.close()
