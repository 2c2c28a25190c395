"""Spans stay drawn when the view is scrolled into their middle, also when spans overlap
(predicted events of different classes do)."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtGui import QColor

from gui.widgets.segment_items import Span, SpansItem

LONG, SHORT, LATER = "#ff0000", "#00ff00", "#0000ff"


def _colour_at(plot: pg.PlotWidget, frame: float) -> str:
    plot.repaint()
    image = plot.grab().toImage()
    point = plot.plotItem.vb.mapViewToScene(pg.Point(frame, 0.5))
    pos = plot.mapFromScene(point)
    return QColor(image.pixel(pos.x(), pos.y())).name()


def test_overlapping_spans_are_drawn_wherever_the_view_is(qtbot: Any) -> None:
    plot = pg.PlotWidget()
    plot.hideAxis("left")
    plot.hideAxis("bottom")
    qtbot.addWidget(plot)
    plot.resize(400, 120)
    plot.show()
    qtbot.waitExposed(plot)
    item = SpansItem(0.0, 1.0)
    plot.addItem(item)
    # a long event of one class overlaps a short one of another and ends after it
    item.set_spans([Span(0, 1000, LONG), Span(100, 200, SHORT), Span(300, 400, LATER)], 2000)
    plot.setYRange(0, 1, padding=0)

    for lo, hi, probe, expected in (
        (0, 2000, 150, SHORT),
        (500, 600, 550, LONG),  # inside the long one only, past the short one's end
        (350, 360, 355, LATER),
        (900, 950, 920, LONG),
    ):
        plot.setXRange(lo, hi, padding=0)
        assert _colour_at(plot, probe) == expected, (lo, hi)
