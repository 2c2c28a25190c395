"""Graphics items the timeline draws: coloured frame ranges on a lane, painted only where visible."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import QStyleOptionGraphicsItem, QWidget

BACKGROUND_BASE = QColor("#3a3a3a")
BACKGROUND_HATCH = QColor("#b8b8b8")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    color: str
    hatched: bool = False  # accepted predictions are drawn hatched, human labels solid
    background: bool = False  # "nothing happens here": a light cross-hatch, unlike any class colour


class SpansItem(pg.GraphicsObject):
    """Ranges ``[start, end)`` drawn as rectangles between ``y0`` and ``y1``.

    Only the spans inside the visible x range are painted, and spans narrower than a pixel
    still get one, so a one-hour video with thousands of segments redraws quickly. Spans may
    overlap (predicted events of different classes do), so their ends are not sorted: the
    search runs on the running maximum of the ends, which is.
    """

    def __init__(self, y0: float, y1: float) -> None:
        super().__init__()
        self._y0, self._y1 = y0, y1
        self._spans: list[Span] = []
        self._starts = np.empty(0, dtype=np.int64)
        self._ends = np.empty(0, dtype=np.int64)
        self._reach = np.empty(0, dtype=np.int64)  # the furthest end of spans[:i + 1]
        self._extent = 1

    def set_spans(self, spans: list[Span], extent: int) -> None:
        self.prepareGeometryChange()
        self._spans = sorted(spans, key=lambda s: s.start)
        self._starts = np.array([s.start for s in self._spans], dtype=np.int64)
        self._ends = np.array([s.end for s in self._spans], dtype=np.int64)
        self._reach = np.maximum.accumulate(self._ends) if len(self._ends) else self._ends
        self._extent = max(extent, 1)
        self.update()

    def visible_slice(self, lo: float, hi: float) -> tuple[int, int]:
        """Indexes [first, last) of the spans that may show in x range [lo, hi]: every span
        before ``first`` ends (with all before it) by ``lo``; every one from ``last`` starts after ``hi``."""
        first = int(np.searchsorted(self._reach, lo, side="right"))
        last = int(np.searchsorted(self._starts, hi, side="left"))
        return first, last

    def boundingRect(self) -> QRectF:
        return QRectF(0.0, self._y0, float(self._extent), self._y1 - self._y0)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if not self._spans:
            return
        view = self.getViewBox()
        lo, hi = (0.0, float(self._extent)) if view is None else view.viewRange()[0]
        first, last = self.visible_slice(lo, hi)
        px = self.pixelWidth() or 0.0
        painter.setPen(Qt.PenStyle.NoPen)
        for span in self._spans[first:last]:
            if span.end <= lo:  # ends before the view, though a span before it reaches in
                continue
            width = max(float(span.end - span.start), px)
            color = QColor(span.color)
            rect = QRectF(span.start, self._y0, width, self._y1 - self._y0)
            if span.background:
                painter.setBrush(QBrush(BACKGROUND_BASE))
                painter.drawRect(rect)
                painter.setBrush(QBrush(BACKGROUND_HATCH, Qt.BrushStyle.DiagCrossPattern))
                painter.drawRect(rect)
                continue
            if span.hatched:
                painter.setBrush(QBrush(color.lighter(130), Qt.BrushStyle.BDiagPattern))
                painter.drawRect(QRectF(span.start, self._y0, width, self._y1 - self._y0))
                color.setAlpha(140)
            painter.setBrush(QBrush(color))
            painter.drawRect(QRectF(span.start, self._y0, width, self._y1 - self._y0))


class OutlineItem(pg.GraphicsObject):
    """A highlighted range (the selection, the selected event, a drag preview)."""

    def __init__(self, y0: float, y1: float, color: str = "#ffffff", fill: bool = False) -> None:
        super().__init__()
        self._y0, self._y1 = y0, y1
        self._range: tuple[float, float] | None = None
        self._pen = QPen(QColor(color), 2)
        self._pen.setCosmetic(True)
        fill_color = QColor(color)
        fill_color.setAlpha(70)
        self._brush = QBrush(fill_color) if fill else QBrush(Qt.BrushStyle.NoBrush)

    def set_range(self, span: tuple[float, float] | None) -> None:
        self.prepareGeometryChange()
        self._range = span
        self.setVisible(span is not None)
        self.update()

    def boundingRect(self) -> QRectF:
        if self._range is None:
            return QRectF()
        start, end = self._range
        return QRectF(start, self._y0, max(end - start, 0.0), self._y1 - self._y0)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._range is None:
            return
        painter.setPen(self._pen)
        painter.setBrush(self._brush)
        painter.drawRect(self.boundingRect())
