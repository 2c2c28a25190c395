"""The player: the decoded frame scaled to fit (aspect kept), transport controls, position."""

from __future__ import annotations

import logging

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.frame_source import FrameSource
from gui.playback import MAX_SPEED, MIN_SPEED, Playback
from gui.state import CurrentVideo

log = logging.getLogger(__name__)


def format_time(seconds: float) -> str:
    minutes, sec = divmod(max(seconds, 0.0), 60.0)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours:d}:{minutes:02d}:{sec:06.3f}" if hours else f"{minutes:02d}:{sec:06.3f}"


class VideoView(QWidget):
    """Paints the latest frame, scaled to fit with its aspect ratio kept."""

    resized = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.shown_frame: int | None = None
        self.shown_exact = True  # False while a scrubbing-proxy frame stands in for the original's
        self.placeholder = "No video open — use “Add videos…” or “Open the demo”"
        self.setMinimumSize(240, 160)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # where the keyboard comes home (Esc)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(640, 400)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.resized.emit()

    def set_image(self, frame: int, image: QImage | None, exact: bool = True) -> None:
        self.image, self.shown_frame, self.shown_exact = image, frame, exact
        self.update()

    def target_rect(self) -> QRectF:
        if self.image is None or self.image.isNull():
            return QRectF()
        scale = min(self.width() / self.image.width(), self.height() / self.image.height())
        w, h = self.image.width() * scale, self.image.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#101010"))
        if self.image is None:
            painter.setPen(QColor("#aaaaaa"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        target = self.target_rect()
        if abs(target.width() - self.image.width()) > 1.0:  # already fitted by the decoder: a plain blit
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(target, self.image)


class Player(QWidget):
    def __init__(self, state: CurrentVideo, playback: Playback, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.playback = playback
        self.frames = FrameSource(self)
        self.view = VideoView()
        self.position = QLabel()
        self.position.setObjectName("position")
        self.position.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.position.font()
        font.setFamily("monospace")
        font.setStyleHint(font.StyleHint.Monospace)
        self.position.setFont(font)
        self.speed = QDoubleSpinBox()
        self.speed.setRange(MIN_SPEED, MAX_SPEED)
        self.speed.setSingleStep(0.1)
        self.speed.setDecimals(1)
        self.speed.setValue(1.0)
        self.speed.setSuffix("×")
        self.speed.setToolTip("Playback speed, 0.1× to 8× (Ctrl+Up / Ctrl+Down)")
        self.speed.valueChanged.connect(playback.set_speed)
        self.controls = QHBoxLayout()
        self.controls.setContentsMargins(4, 0, 4, 0)
        self.controls.setSpacing(1)
        self.controls.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        bar = QHBoxLayout()
        bar.addLayout(self.controls)
        bar.addWidget(self.speed)
        bar.addSpacing(12)
        bar.addWidget(self.position)
        layout.addLayout(bar)

        self.frames.frame_ready.connect(self._on_frame_ready)
        self.view.resized.connect(self._on_resized)
        self.frames.failed.connect(lambda text: state.error.emit(text, ""))
        self.frames.message.connect(state.message)
        self._fix_position_width()
        state.video_changed.connect(self._on_video)
        state.frame_changed.connect(self._on_frame)
        self._update_position()

    def add_button(self, button: QToolButton) -> None:
        self.controls.insertWidget(self.controls.count() - 1, button)

    def _on_video(self) -> None:
        self._fix_position_width()
        self.view.set_image(0, None)
        self.frames.open(self.state.video, self.state.store.files_dir)
        if self.state.video is not None:
            self.frames.request(self.state.frame, fit=self._fit())
        self._update_position()

    def _on_frame(self, frame: int) -> None:
        playing = self.playback.playing
        self.frames.request(frame, ahead=playing, fit=self._fit(), fast=playing and self.playback.speed > 1.0)
        self._update_position()

    def _on_resized(self) -> None:
        if self.state.video is not None and not self.playback.playing:
            self.frames.request(self.state.frame, fit=self._fit())

    def _fit(self) -> tuple[int, int]:
        ratio = self.view.devicePixelRatioF()
        return round(self.view.width() * ratio), round(self.view.height() * ratio)

    def _on_frame_ready(self, frame: int, image: QImage, exact: bool) -> None:
        self.view.set_image(frame, image, exact)

    def _update_position(self) -> None:
        state = self.state
        if state.video is None:
            self.position.setText("frame – / –   –:–")
            return
        total = state.frame_count
        now, end = state.seconds(state.frame), state.seconds(total)
        self.position.setText(f"frame {state.frame} / {total - 1}   {format_time(now)} / {format_time(end)}")

    def _fix_position_width(self) -> None:
        """As wide as this video's longest position text, so the bar never shifts while playing."""
        total = max(self.state.frame_count, 1)
        end = format_time(self.state.seconds(total))
        widest = f"frame {total - 1} / {total - 1}   {end} / {end}".replace("1", "8")
        self.position.setFixedWidth(self.position.fontMetrics().horizontalAdvance(widest) + 8)

    def shutdown(self) -> None:
        self.frames.shutdown()
