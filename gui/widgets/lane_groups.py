"""The timeline's lane groups: one per track, under the editor lanes, in the project's order.

Each group is drawn from ``lanes.layout_groups``: a header band (the active group banded in
the playhead's yellow), then the rows it has: probabilities and predicted events when
``set_predictions`` gave the track some, and its labels (ticks on a point track). Gestures:
a header click collapses or expands the group (the timeline's owner keeps the choice per
project), a header drag or the header's menu moves the track (one undo step), a click on a
lane seeks and makes its track active. Only the track order and the active track are written,
through ``ProjectState``; the rest is view state.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QCursor, QFontMetrics, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QMenu, QWidget

from core.labels import editing
from core.store.classes import PALETTE
from core.store.records import BACKGROUND, LabelClass, Segment, SegmentSource, Track
from gui.dialogs.notes import notes_text
from gui.state import CurrentVideo, ProjectState
from gui.widgets.lanes import (
    AXIS_PX,
    UNIT_PX,
    LaneAxis,
    LaneLayout,
    LaneRow,
    RowKind,
    TrackPredictions,
    layout_groups,
)
from gui.widgets.seek_box import SeekViewBox
from gui.widgets.segment_items import Span, SpansItem

ACTIVE_BAND = QColor(255, 212, 0, 38)  # the playhead's yellow, faint


class LanesBox(SeekViewBox):
    """The groups' view box: header click folds, header drag moves, lane click activates."""

    def __init__(self, groups: LaneGroups) -> None:
        super().__init__()
        self._groups = groups
        self._dragged: int | None = None  # the track whose header is being dragged

    def mouseClickEvent(self, ev: pg.GraphicsScene.mouseEvents.MouseClickEvent) -> None:
        y = self.mapSceneToView(ev.scenePos()).y()
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            self._groups.menu_at(y)
            return
        if ev.button() == Qt.MouseButton.LeftButton and self._groups.header_at(y) is not None:
            ev.accept()
            self._groups.toggle_at(y)
            return
        super().mouseClickEvent(ev)
        if ev.button() == Qt.MouseButton.LeftButton:
            self._groups.activate_at(y)

    def hoverEvent(self, ev: pg.GraphicsScene.mouseEvents.HoverEvent) -> None:
        if ev.isExit():
            self._groups.show_tip("")
            return
        at = ev.scenePos()
        self._groups.show_tip(self._groups.tooltip_at(self.frame_at(at), self.mapSceneToView(at).y()))

    def mouseDragEvent(
        self, ev: pg.GraphicsScene.mouseEvents.MouseDragEvent, axis: int | None = None
    ) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and ev.isStart():
            self._dragged = self._groups.header_at(self.mapSceneToView(ev.buttonDownScenePos()).y())
        if ev.button() != Qt.MouseButton.LeftButton or self._dragged is None:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if ev.isFinish():
            self._groups.drop(self._dragged, self.mapSceneToView(ev.scenePos()).y())
            self._dragged = None


class LaneGroups(QObject):
    collapsed_changed = Signal()  # a group was collapsed or expanded

    def __init__(self, timeline: QWidget, state: CurrentVideo, project: ProjectState) -> None:
        super().__init__(timeline)
        self._timeline, self.state, self.project = timeline, state, project
        self.box = LanesBox(self)
        self.box.invertY(True)  # the first track on top
        self.box.seek.connect(state.set_frame)
        self.axis = LaneAxis("left")
        self.axis.header_clicked.connect(self._header_clicked)
        view = timeline.view  # type: ignore[attr-defined]
        self.plot = view.addPlot(row=2, col=0, viewBox=self.box, axisItems={"left": self.axis})
        self.plot.hideAxis("bottom")
        self.plot.setMouseEnabled(x=True, y=False)
        self.layout = LaneLayout()
        self.collapsed: set[int] = set()
        self.predictions: dict[int, TrackPredictions] = {}
        self.items: dict[tuple[int, RowKind], pg.GraphicsObject] = {}  # (track, row) → its item
        self._drawn: list[pg.GraphicsObject] = []
        self._frame_count = 1

    # --- drawing --------------------------------------------------------------------------------

    def redraw(self, frame_count: int | None = None) -> None:
        """Every track's group; with one track there is nothing to group."""
        if frame_count is not None:
            self._frame_count = max(frame_count, 1)
            self.box.frame_count = self._frame_count
        for item in self._drawn:
            self.plot.removeItem(item)
        self._drawn, self.items = [], {}
        tracks = self.project.tracks if len(self.project.tracks) > 1 else []
        classes = self.project.all_classes or self.project.classes
        predictions = {**self._heads_events(tracks, classes), **self.predictions}
        self.layout = layout_groups(tracks, self.project.active_track_id, self.collapsed, predictions)
        self.plot.setVisible(bool(tracks))
        height = int(self.layout.height * UNIT_PX) + 6 if tracks else 0
        self.plot.setMinimumHeight(height)
        self.plot.setMaximumHeight(height)
        if not tracks:
            return
        colors = {c.id: c.color for c in classes}
        background = {c.id for c in classes if c.name == BACKGROUND}
        segments = [*self.state.segments, *self.state.other_segments]
        for group in self.layout.groups:
            self._band(group.y0, group.header_y1, QColor("#2c2c2c"))
            if group.active:
                self._band(group.y0, group.y1, ACTIVE_BAND)
            labels = group.row(RowKind.LABELS)
            if labels is not None:
                segs = [s for s in segments if s.track_id == group.track.id]
                self._labels(group.track, labels, segs, colors, background)
            found = predictions.get(group.track.id)
            predicted = group.row(RowKind.PREDICTED)
            if found is not None and predicted is not None:
                self._events(group.track, predicted, found)
            probabilities = group.row(RowKind.PROBABILITIES)
            if found is not None and found.scores is not None and probabilities is not None:
                self._curves(found, probabilities)
        self.plot.setYRange(0, self.layout.height, padding=0)
        # pyqtgraph drops a label wider than its axis: elide long names instead.
        metrics = QFontMetrics(self.axis.style["tickFont"] or self.axis.font())
        room = AXIS_PX - 14  # the tick and the text's offset
        ticks = [
            ((g.y0 + g.header_y1) / 2, metrics.elidedText(g.header, Qt.TextElideMode.ElideRight, room))
            for g in self.layout.groups
        ]
        self.axis.setTicks([ticks, []])

    def _add(self, item: pg.GraphicsObject) -> None:
        self.plot.addItem(item, ignoreBounds=True)
        self._drawn.append(item)

    def _band(self, y0: float, y1: float, color: QColor) -> None:
        band = QGraphicsRectItem(0.0, y0, float(self._frame_count), y1 - y0)
        band.setPen(QPen(Qt.PenStyle.NoPen))
        band.setBrush(QBrush(color))
        band.setZValue(-10)
        self._add(band)

    def _labels(
        self, track: Track, row: LaneRow, segs: list[Segment], colors: dict[int, str], background: set[int]
    ) -> None:
        if track.point:  # one tick per event
            item: pg.GraphicsObject = pg.ScatterPlotItem(
                x=[s.start_frame + 0.5 for s in segs],
                y=[(row.y0 + row.y1) / 2] * len(segs),
                symbol="|",
                size=[14] * len(segs),
                pen=[pg.mkPen(colors.get(s.class_id, "#888888"), width=2) for s in segs],
                brush=None,
            )
        else:
            item = SpansItem(row.y0 + 0.1, row.y1 - 0.1)
            item.set_spans(
                [
                    Span(
                        s.start_frame,
                        s.end_frame,
                        colors.get(s.class_id, "#888888"),
                        s.source is SegmentSource.ACCEPTED,
                        s.class_id in background,
                    )
                    for s in segs
                ],
                self._frame_count,
            )
        self._add(item)
        self.items[(track.id, RowKind.LABELS)] = item

    def _heads_events(self, tracks: list[Track], classes: list[LabelClass]) -> dict[int, TrackPredictions]:
        """The other tracks' predicted events the open video's analysis gave (each track's head),
        coloured as their classes."""
        out: dict[int, TrackPredictions] = {}
        for track in tracks:
            found = self.state.other_events.get(track.id)
            if not found:
                continue
            names, events = found
            by_name = {c.name.casefold(): c.color for c in classes if c.track_id == track.id}
            colours = tuple(by_name.get(n.casefold(), PALETTE[i % len(PALETTE)]) for i, n in enumerate(names))
            spans = tuple(Span(e.start_frame, e.end_frame, colours[e.class_index]) for e in events)
            out[track.id] = TrackPredictions(None, colours, None, spans)
        return out

    def _events(self, track: Track, row: LaneRow, found: TrackPredictions) -> None:
        """Predicted events: spans, or hollow ticks on a point track."""
        item: pg.GraphicsObject
        if track.point:
            item = pg.ScatterPlotItem(
                x=[e.start + 0.5 for e in found.events],
                y=[(row.y0 + row.y1) / 2] * len(found.events),
                symbol="t",
                size=[9] * len(found.events),
                brush=None,
                pen=[pg.mkPen(e.color) for e in found.events],
            )
        else:
            item = SpansItem(row.y0 + 0.1, row.y1 - 0.1)
            item.set_spans(list(found.events), self._frame_count)
        self._add(item)
        self.items[(track.id, RowKind.PREDICTED)] = item

    def _curves(self, found: TrackPredictions, row: LaneRow) -> None:
        scores = found.scores
        if scores is None:
            return
        x = np.arange(scores.shape[0], dtype=np.float64)
        for index in range(scores.shape[1]):
            if index == found.background_index:
                continue
            y = row.y1 - 0.05 - scores[:, index] * (row.y1 - row.y0 - 0.1)  # y grows downwards
            self._add(pg.PlotDataItem(x, y, pen=pg.mkPen(found.colors[index], width=1), connect="finite"))

    # --- what the timeline's owner sets ------------------------------------------------------------

    def set_predictions(self, track_id: int, predictions: TrackPredictions | None) -> None:
        if predictions is None:
            self.predictions.pop(track_id, None)
        else:
            self.predictions[track_id] = predictions
        self.redraw()

    def set_collapsed(self, track_ids: set[int]) -> None:
        self.collapsed = set(track_ids)
        self.redraw()

    # --- gestures ------------------------------------------------------------------------------------

    def toggle(self, track_id: int) -> None:
        """Collapse or expand a track's group."""
        self.collapsed ^= {track_id}
        self.redraw()
        self.collapsed_changed.emit()

    def header_at(self, y: float) -> int | None:
        found = self.layout.at(y)
        return found[0].track.id if found is not None and found[1] else None

    def toggle_at(self, y: float) -> None:
        track_id = self.header_at(y)
        if track_id is not None:
            self.toggle(track_id)

    def activate_at(self, y: float) -> None:
        """A click on a track's lanes makes it the active track."""
        found = self.layout.at(y)
        if found is not None:
            self.project.set_active_track(found[0].track.id)

    def drop(self, track_id: int, y: float) -> None:
        """A header dropped on another group moves its track there."""
        found = self.layout.at(y)
        if found is None:
            to = len(self.layout.groups) - 1 if y > 0 else 0
        else:
            to = self.layout.index(found[0].track.id)
        delta = to - self.layout.index(track_id)
        if delta:
            self.project.move_track(track_id, delta)

    def _header_clicked(self, y: float, right: bool) -> None:
        if right:
            self.menu_at(y)
        else:
            self.toggle_at(y)

    def menu(self, track_id: int) -> QMenu:
        """Make active, collapse or expand, move up or down: what a track's header offers."""
        menu = QMenu(self._timeline)
        index = self.layout.index(track_id)
        group = self.layout.groups[index]
        menu.addAction("Make active", lambda: self.project.set_active_track(track_id))
        menu.addAction("Expand" if group.collapsed else "Collapse", lambda: self.toggle(track_id))
        up = menu.addAction("Move up", lambda: self.project.move_track(track_id, -1))
        down = menu.addAction("Move down", lambda: self.project.move_track(track_id, 1))
        up.setEnabled(index > 0)
        down.setEnabled(index < len(self.layout.groups) - 1)
        return menu

    def menu_at(self, y: float) -> None:
        found = self.layout.at(y)
        if found is not None:
            self.menu(found[0].track.id).popup(QCursor.pos())

    def tooltip_at(self, frame: int, y: float) -> str:
        """The label under the mouse (a point track's event within a frame of it)."""
        found = self.layout.at(y)
        if found is None or found[1]:
            return ""
        track = found[0].track
        segs = [s for s in (*self.state.segments, *self.state.other_segments) if s.track_id == track.id]
        near = [s for s in segs if s.start_frame - 1 <= frame < s.end_frame + 1] if track.point else []
        segment = near[0] if near else editing.segment_at(segs, frame)
        return "" if segment is None else notes_text(segment)

    def show_tip(self, text: str) -> None:
        view = self._timeline.view  # type: ignore[attr-defined]
        if view.toolTip() != text:
            view.setToolTip(text)
