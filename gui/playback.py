"""The playback clock: advances the hub's frame from wall-clock time at the chosen speed.

Frames are chosen by time (the video's own timestamps), so when decoding falls behind the
clock frames are skipped rather than the video slowing down.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from gui.state import CurrentVideo

log = logging.getLogger(__name__)

MIN_SPEED, MAX_SPEED = 0.1, 8.0


class Playback(QObject):
    playing_changed = Signal(bool)

    def __init__(self, state: CurrentVideo, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.speed = 1.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._t0 = 0.0
        self._video_t0 = 0.0
        state.video_changed.connect(self.pause)

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def set_speed(self, speed: float) -> None:
        self.speed = min(max(speed, MIN_SPEED), MAX_SPEED)
        if self.playing:
            self._restart_clock()

    def toggle(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        video = self.state.video
        if video is None or self.playing:
            return
        if self.state.frame >= self.state.frame_count - 1:
            self.state.set_frame(0)
        self._restart_clock()
        interval_ms = 1000.0 / (max(video.fps, 1.0) * self.speed)
        self._timer.start(max(5, min(40, int(interval_ms / 2))))
        self.playing_changed.emit(True)

    def pause(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self.playing_changed.emit(False)

    def _restart_clock(self) -> None:
        self._t0 = time.perf_counter()
        self._video_t0 = self.state.seconds(self.state.frame)

    def _tick(self) -> None:
        elapsed = (time.perf_counter() - self._t0) * self.speed
        frame = self.state.frame_at(self._video_t0 + elapsed)
        last = self.state.frame_count - 1
        if frame >= last:
            self.state.set_frame(last)
            self.pause()
            return
        self.state.set_frame(frame)
