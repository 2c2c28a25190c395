"""The timeline: class probabilities, predicted events, human labels, playhead, overview strip.

x is the frame number everywhere. Left-click or left-drag seeks; the wheel zooms around the
mouse; middle-drag pans (or drag the window in the overview strip). On the label lane a left
drag creates a segment in the current class, dragging a segment's edge resizes it, dragging
its body moves it; a click selects. Edits are committed through the hub when the mouse is
released, never during the drag.
"""

from __future__ import annotations

import logging
from enum import Enum

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QCursor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QMenu, QVBoxLayout, QWidget

from core.store.classes import PALETTE
from core.store.records import BACKGROUND, Segment, SegmentSource, Track
from gui.state import CurrentVideo, ProjectState
from gui.widgets.lanes import (
    UNIT_PX,
    LaneAxis,
    LaneLayout,
    LaneRow,
    RowKind,
    TrackPredictions,
    lane_name,
    layout_groups,
)
from gui.widgets.segment_items import OutlineItem, Span, SpansItem

log = logging.getLogger(__name__)

LABEL_LANE = (0.05, 0.95)
EVENT_LANE = (1.05, 1.95)
EDGE_PX = 5.0
PLAYHEAD_PEN = pg.mkPen("#ffd400", width=2)


class Lane(Enum):
    LABELS = "labels"
    EVENTS = "events"


class _Drag(Enum):
    SEEK = "seek"
    CREATE = "create"
    MOVE = "move"
    START_EDGE = "start"
    END_EDGE = "end"


class SeekViewBox(pg.ViewBox):
    """Left button seeks; wheel zooms x; middle drag pans. Subclasses add lane editing."""

    seek = Signal(int)

    def __init__(self) -> None:
        super().__init__(enableMenu=False)
        self.setMouseEnabled(x=True, y=False)
        self.frame_count = 1

    def frame_at(self, scene_pos: QPointF) -> int:
        x = self.mapSceneToView(scene_pos).x()
        return int(np.clip(np.floor(x), 0, max(self.frame_count - 1, 0)))

    def mouseClickEvent(self, ev: pg.GraphicsScene.mouseEvents.MouseClickEvent) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.seek.emit(self.frame_at(ev.scenePos()))
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(
        self, ev: pg.GraphicsScene.mouseEvents.MouseDragEvent, axis: int | None = None
    ) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.seek.emit(self.frame_at(ev.scenePos()))
        elif ev.button() == Qt.MouseButton.MiddleButton:
            super().mouseDragEvent(ev, axis)
        else:
            ev.ignore()


class TrackViewBox(SeekViewBox):
    """The predicted-event and label lanes, with the label editing gestures."""

    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self._timeline = timeline
        self._drag: _Drag | None = None
        self._segment: Segment | None = None
        self._anchor = 0

    def lane_at(self, scene_pos: QPointF) -> Lane:
        return Lane.EVENTS if self.mapSceneToView(scene_pos).y() >= 1.0 else Lane.LABELS

    def mouseClickEvent(self, ev: pg.GraphicsScene.mouseEvents.MouseClickEvent) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            super().mouseClickEvent(ev)
            return
        ev.accept()
        frame = self.frame_at(ev.scenePos())
        self._timeline.clicked(frame, self.lane_at(ev.scenePos()))

    def mouseDragEvent(
        self, ev: pg.GraphicsScene.mouseEvents.MouseDragEvent, axis: int | None = None
    ) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        frame = self.frame_at(ev.scenePos())
        x = self.mapSceneToView(ev.scenePos()).x()
        if ev.isStart():
            down = ev.buttonDownScenePos()
            self._begin(self.frame_at(down), self.mapSceneToView(down).x(), self.lane_at(down))
        if self._drag is None:
            return
        self._timeline.drag_preview(self._drag, self._segment, self._anchor, frame, x)
        if ev.isFinish():
            self._timeline.drag_finished(self._drag, self._segment, self._anchor, frame, x)
            self._drag, self._segment = None, None

    def _begin(self, frame: int, x: float, lane: Lane) -> None:
        self._anchor = frame
        self._segment = None
        if lane is Lane.EVENTS:
            self._drag = _Drag.SEEK
            return
        px = self.viewPixelSize()[0] * EDGE_PX
        for seg in self._timeline.state.segments:
            if abs(x - seg.start_frame) <= px:
                self._drag, self._segment = _Drag.START_EDGE, seg
                return
            if abs(x - seg.end_frame) <= px:
                self._drag, self._segment = _Drag.END_EDGE, seg
                return
        for seg in self._timeline.state.segments:
            if seg.start_frame <= frame < seg.end_frame:
                self._drag, self._segment = _Drag.MOVE, seg
                return
        self._drag = _Drag.CREATE


class LanesBox(SeekViewBox):
    """The lane groups: a click on a header collapses or expands it, a click on a lane seeks and
    makes its track active, dragging a header moves the track, a right-click opens a menu."""

    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self._timeline = timeline
        self._dragged: int | None = None  # the track whose header is being dragged

    def mouseClickEvent(self, ev: pg.GraphicsScene.mouseEvents.MouseClickEvent) -> None:
        y = self.mapSceneToView(ev.scenePos()).y()
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            self._timeline.group_menu_at(y)
            return
        if ev.button() == Qt.MouseButton.LeftButton and self._timeline.header_at(y) is not None:
            ev.accept()
            self._timeline.toggle_group_at(y)
            return
        super().mouseClickEvent(ev)
        if ev.button() == Qt.MouseButton.LeftButton:
            self._timeline.activate_at(y)

    def mouseDragEvent(
        self, ev: pg.GraphicsScene.mouseEvents.MouseDragEvent, axis: int | None = None
    ) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and ev.isStart():
            self._dragged = self._timeline.header_at(self.mapSceneToView(ev.buttonDownScenePos()).y())
        if ev.button() != Qt.MouseButton.LeftButton or self._dragged is None:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if ev.isFinish():
            self._timeline.drop_group(self._dragged, self.mapSceneToView(ev.scenePos()).y())
            self._dragged = None


class Timeline(QWidget):
    visible_range_changed = Signal(float, float)
    collapsed_changed = Signal()  # a lane group was collapsed or expanded

    def __init__(self, state: CurrentVideo, project: ProjectState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.project = state, project
        self._frame_count = 1
        self._curves: list[pg.PlotDataItem] = []
        self._syncing = False

        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("#1e1e1e")
        self.view.ci.layout.setSpacing(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

        self.prob_box = SeekViewBox()
        self.probs = self.view.addPlot(row=0, col=0, viewBox=self.prob_box)
        self.probs.setLabel("left", "p")
        self.probs.setYRange(0, 1.02, padding=0)
        self.probs.hideAxis("bottom")
        self.probs.setClipToView(True)
        self.probs.setDownsampling(auto=True, mode="peak")
        self.probs.addLegend(offset=(-5, 2), labelTextSize="8pt", colCount=4)
        self.probs.setTitle("")

        self.track_box = TrackViewBox(self)
        self.tracks = self.view.addPlot(row=1, col=0, viewBox=self.track_box)
        self.tracks.setYRange(0, 2, padding=0)
        self.tracks.getAxis("left").setTicks([[(0.5, "labels"), (1.5, "predicted")]])
        self.tracks.setXLink(self.probs)
        self.label_spans = SpansItem(*LABEL_LANE)
        self.event_spans = SpansItem(*EVENT_LANE)
        self.selection_outline = OutlineItem(LABEL_LANE[0] - 0.03, LABEL_LANE[1] + 0.03)
        self.event_outline = OutlineItem(EVENT_LANE[0] - 0.03, EVENT_LANE[1] + 0.03)
        self.preview = OutlineItem(*LABEL_LANE, color="#ffd400", fill=True)
        for item in (
            self.label_spans,
            self.event_spans,
            self.selection_outline,
            self.event_outline,
            self.preview,
        ):
            self.tracks.addItem(item)
        self.preview.set_range(None)
        self.selection_outline.set_range(None)
        self.event_outline.set_range(None)
        self.in_marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("#7fdbff", style=Qt.PenStyle.DashLine))
        self.tracks.addItem(self.in_marker)
        self.in_marker.setVisible(False)

        # One lane group per track, in the project's order (the active one highlighted; its
        # labels are also the editable lane above): header, then probabilities and predicted
        # events when the track has them, then labels (ticks on a point track).
        self.others_box = LanesBox(self)
        self.others_box.invertY(True)  # the first track on top
        self.lane_axis = LaneAxis("left")
        self.lane_axis.header_clicked.connect(self._header_clicked)
        self.others = self.view.addPlot(
            row=2, col=0, viewBox=self.others_box, axisItems={"left": self.lane_axis}
        )
        self.others.setXLink(self.probs)
        self.others.hideAxis("bottom")
        self.others.setMouseEnabled(x=True, y=False)
        self._other_items: list[pg.GraphicsObject] = []
        self.lane_items: dict[tuple[int, RowKind], pg.GraphicsObject] = {}  # (track, row) → its item
        self.lanes = LaneLayout()
        self.collapsed: set[int] = set()
        self.track_predictions: dict[int, TrackPredictions] = {}

        self.overview_box = pg.ViewBox(enableMenu=False)
        self.overview_box.setMouseEnabled(x=False, y=False)
        self.overview = self.view.addPlot(row=3, col=0, viewBox=self.overview_box)
        self.overview.getAxis("left").setTicks([[(1.0, "overview")]])
        self.overview.setYRange(0, 2, padding=0)
        self.overview.hideAxis("bottom")  # the lanes above carry the frame numbers
        self.overview.setMaximumHeight(44)  # a strip: the probabilities get the height
        self.overview_labels = SpansItem(*LABEL_LANE)
        self.overview_events = SpansItem(*EVENT_LANE)
        self.overview.addItem(self.overview_labels)
        self.overview.addItem(self.overview_events)
        self.window_region = pg.LinearRegionItem(brush=pg.mkBrush(255, 255, 255, 40))
        self.overview.addItem(self.window_region)

        for plot in (self.probs, self.tracks, self.others, self.overview):
            plot.getAxis("left").setWidth(96)
            plot.hideButtons()  # pyqtgraph's "A" (auto-range): Ctrl+0 shows the whole video
        self.view.ci.layout.setRowStretchFactor(0, 5)
        self.view.ci.layout.setRowStretchFactor(1, 3)
        self.view.ci.layout.setRowStretchFactor(2, 2)
        self.view.ci.layout.setRowStretchFactor(3, 1)

        self.playheads = [pg.InfiniteLine(angle=90, pen=PLAYHEAD_PEN) for _ in range(4)]
        plots = (self.probs, self.tracks, self.others, self.overview)
        for plot, line in zip(plots, self.playheads, strict=True):
            plot.addItem(line, ignoreBounds=True)

        self.prob_box.seek.connect(state.set_frame)
        self.window_region.sigRegionChanged.connect(self._region_moved)
        self.probs.sigXRangeChanged.connect(self._view_moved)
        state.video_changed.connect(self._on_video)
        state.labels_changed.connect(self._on_labels)
        project.classes_changed.connect(self._on_labels)
        project.classes_changed.connect(self._on_predictions)
        state.predictions_changed.connect(self._on_predictions)
        state.selection_changed.connect(self._on_selection)
        state.frame_changed.connect(self._on_frame)
        self._on_video()

    # --- geometry helpers (also used by tests to aim the mouse) -----------------------------

    def viewport_point(self, frame: float, lane: Lane | None = None) -> QPoint:
        """Where on the view's viewport frame ``frame`` of a lane (or the probability plot) is."""
        if lane is None:
            box, y = self.prob_box, 0.5
        else:
            box = self.track_box
            y = sum(LABEL_LANE) / 2 if lane is Lane.LABELS else sum(EVENT_LANE) / 2
        scene = box.mapViewToScene(QPointF(frame, y))
        return self.view.mapFromScene(scene)

    def lanes_point(self, frame: float, y: float) -> QPoint:
        """Where on the view's viewport frame ``frame`` at height ``y`` of the lane groups is."""
        return self.view.mapFromScene(self.others_box.mapViewToScene(QPointF(frame, y)))

    def visible_range(self) -> tuple[float, float]:
        lo, hi = self.probs.viewRange()[0]
        return float(lo), float(hi)

    def set_visible_range(self, lo: float, hi: float) -> None:
        self.probs.setXRange(lo, hi, padding=0)

    def zoom(self, factor: float) -> None:
        lo, hi = self.visible_range()
        centre = float(self.state.frame)
        width = max((hi - lo) * factor, 10.0)
        self.set_visible_range(centre - width / 2, centre + width / 2)

    # --- state → screen -----------------------------------------------------------------------

    def _on_video(self) -> None:
        self._frame_count = max(self.state.frame_count, 1)
        for box in (self.prob_box, self.track_box, self.others_box):
            box.frame_count = self._frame_count
        limits = {"xMin": 0, "xMax": self._frame_count, "minXRange": 8}
        self.prob_box.setLimits(**limits)
        self.track_box.setLimits(**limits)
        self.overview.setXRange(0, self._frame_count, padding=0)
        self.window_region.setBounds((0, self._frame_count))
        self.set_visible_range(0, self._frame_count)
        self._on_labels()
        self._on_predictions()
        self._on_frame(self.state.frame)

    def _class_color(self, name: str, index: int) -> str:
        for cls in self.project.classes:
            if cls.name.casefold() == name.casefold():
                return cls.color
        return PALETTE[index % len(PALETTE)]

    def _on_labels(self) -> None:
        colors = {c.id: c.color for c in self.project.classes}
        background = {c.id for c in self.project.classes if c.name == BACKGROUND}
        spans = [
            Span(
                s.start_frame,
                s.end_frame,
                colors.get(s.class_id, "#888888"),
                s.source is SegmentSource.ACCEPTED,
                s.class_id in background,
            )
            for s in self.state.segments
        ]
        self.label_spans.set_spans(spans, self._frame_count)
        self.overview_labels.set_spans(spans, self._frame_count)
        active = self.project.active_track
        name = "labels" if active is None or len(self.project.tracks) < 2 else f"▸ {lane_name(active)}"
        self.tracks.getAxis("left").setTicks([[(0.5, name), (1.5, "predicted")]])
        self._draw_other_tracks()
        self._on_selection()

    def _draw_other_tracks(self) -> None:
        """Every track's lane group; with one track there is nothing to group."""
        for item in self._other_items:
            self.others.removeItem(item)
        self._other_items = []
        self.lane_items = {}
        tracks = self.project.tracks if len(self.project.tracks) > 1 else []
        self.lanes = layout_groups(
            tracks, self.project.active_track_id, self.collapsed, self.track_predictions
        )
        self.others.setVisible(bool(tracks))
        height = int(self.lanes.height * UNIT_PX) + 6 if tracks else 0
        self.others.setMinimumHeight(height)
        self.others.setMaximumHeight(height)
        if not tracks:
            return
        classes = self.project.all_classes or self.project.classes
        colors = {c.id: c.color for c in classes}
        background = {c.id for c in classes if c.name == BACKGROUND}
        segments = [*self.state.segments, *self.state.other_segments]
        for group in self.lanes.groups:
            self._add_band(group.y0, group.header_y1, "#2c2c2c")
            if group.active:
                self._add_band(group.y0, group.y1, "#ffd40026")
            labels = group.row(RowKind.LABELS)
            if labels is not None:
                segs = [s for s in segments if s.track_id == group.track.id]
                self._add_labels(group.track, labels, segs, colors, background)
            predictions = self.track_predictions.get(group.track.id)
            predicted = group.row(RowKind.PREDICTED)
            if predictions is not None and predicted is not None:
                spans_item = SpansItem(predicted.y0 + 0.1, predicted.y1 - 0.1)
                spans_item.set_spans(list(predictions.events), self._frame_count)
                self._add(spans_item)
                self.lane_items[(group.track.id, RowKind.PREDICTED)] = spans_item
            probabilities = group.row(RowKind.PROBABILITIES)
            if predictions is not None and predictions.scores is not None and probabilities is not None:
                self._add_curves(predictions, probabilities)
        self.others.setYRange(0, self.lanes.height, padding=0)
        ticks = [((g.y0 + g.header_y1) / 2, g.header) for g in self.lanes.groups]
        self.lane_axis.setTicks([ticks, []])

    def _add(self, item: pg.GraphicsObject) -> None:
        self.others.addItem(item, ignoreBounds=True)
        self._other_items.append(item)

    def _add_band(self, y0: float, y1: float, color: str) -> None:
        band = QGraphicsRectItem(0.0, y0, float(self._frame_count), y1 - y0)
        band.setPen(QPen(Qt.PenStyle.NoPen))
        band.setBrush(QBrush(QColor(color)))
        band.setZValue(-10)
        self._add(band)

    def _add_labels(
        self,
        track: Track,
        row: LaneRow,
        segs: list[Segment],
        colors: dict[int, str],
        background: set[int],
    ) -> None:
        if track.point:  # one tick per event
            ticks = pg.ScatterPlotItem(
                x=[s.start_frame + 0.5 for s in segs],
                y=[(row.y0 + row.y1) / 2] * len(segs),
                symbol="|",
                size=[14] * len(segs),
                pen=[pg.mkPen(colors.get(s.class_id, "#888888"), width=2) for s in segs],
                brush=None,
            )
            self._add(ticks)
            self.lane_items[(track.id, RowKind.LABELS)] = ticks
            return
        spans_item = SpansItem(row.y0 + 0.1, row.y1 - 0.1)
        spans_item.set_spans(
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
        self._add(spans_item)
        self.lane_items[(track.id, RowKind.LABELS)] = spans_item

    def _add_curves(self, predictions: TrackPredictions, row: LaneRow) -> None:
        scores = predictions.scores
        if scores is None:
            return
        x = np.arange(scores.shape[0], dtype=np.float64)
        for index in range(scores.shape[1]):
            if index == predictions.background_index:
                continue
            y = row.y1 - 0.05 - scores[:, index] * (row.y1 - row.y0 - 0.1)  # y grows downwards
            curve = pg.PlotDataItem(x, y, pen=pg.mkPen(predictions.colors[index], width=1), connect="finite")
            self._add(curve)

    def set_track_predictions(self, track_id: int, predictions: TrackPredictions | None) -> None:
        """A track's probabilities and predicted events on the open video (None: it has none)."""
        if predictions is None:
            self.track_predictions.pop(track_id, None)
        else:
            self.track_predictions[track_id] = predictions
        self._draw_other_tracks()

    def set_collapsed(self, track_ids: set[int]) -> None:
        self.collapsed = set(track_ids)
        self._draw_other_tracks()

    def toggle_group(self, track_id: int) -> None:
        """Collapse or expand a track's lane group (remembered per project)."""
        self.collapsed ^= {track_id}
        self._draw_other_tracks()
        self.collapsed_changed.emit()

    def header_at(self, y: float) -> int | None:
        found = self.lanes.at(y)
        return found[0].track.id if found is not None and found[1] else None

    def toggle_group_at(self, y: float) -> None:
        track_id = self.header_at(y)
        if track_id is not None:
            self.toggle_group(track_id)

    def activate_at(self, y: float) -> None:
        """A click on a track's lanes makes it the active track."""
        found = self.lanes.at(y)
        if found is not None:
            self.project.set_active_track(found[0].track.id)

    def drop_group(self, track_id: int, y: float) -> None:
        """A header dropped on another group moves its track there."""
        found = self.lanes.at(y)
        if found is None:
            to = len(self.lanes.groups) - 1 if y > 0 else 0
        else:
            to = self.lanes.index(found[0].track.id)
        delta = to - self.lanes.index(track_id)
        if delta:
            self.project.move_track(track_id, delta)

    def _header_clicked(self, y: float, right: bool) -> None:
        if right:
            self.group_menu_at(y)
        else:
            self.toggle_group_at(y)

    def group_menu(self, track_id: int) -> QMenu:
        """Make active, collapse or expand, move up or down: what a track's header offers."""
        menu = QMenu(self)
        index = self.lanes.index(track_id)
        group = self.lanes.groups[index]
        menu.addAction("Make active", lambda: self.project.set_active_track(track_id))
        menu.addAction("Expand" if group.collapsed else "Collapse", lambda: self.toggle_group(track_id))
        up = menu.addAction("Move up", lambda: self.project.move_track(track_id, -1))
        down = menu.addAction("Move down", lambda: self.project.move_track(track_id, 1))
        up.setEnabled(index > 0)
        down.setEnabled(index < len(self.lanes.groups) - 1)
        return menu

    def group_menu_at(self, y: float) -> None:
        found = self.lanes.at(y)
        if found is not None:
            self.group_menu(found[0].track.id).popup(QCursor.pos())

    def _on_predictions(self) -> None:
        preds = self.state.predictions
        for curve in self._curves:
            self.probs.removeItem(curve)
        self._curves = []
        if self.probs.legend is not None:
            self.probs.legend.clear()
        if preds is None:
            self.probs.setTitle("<span style='color:#aaa'>No predictions yet: run Analyse</span>", size="9pt")
            self.event_spans.set_spans([], self._frame_count)
            self.overview_events.set_spans([], self._frame_count)
            self._on_selection()
            return
        scores = preds.frame_scores
        x = np.arange(scores.shape[0], dtype=np.float64)
        background = preds.background_index
        connect = "finite" if np.isnan(scores).any() else "all"  # NaN-aware drawing costs 3x
        for index, name in enumerate(preds.class_names):
            if index == background:
                continue
            pen = pg.mkPen(self._class_color(name, index), width=1)  # wide pens are slow in Qt
            curve = pg.PlotDataItem(x, scores[:, index], pen=pen, name=name, connect=connect)
            self.probs.addItem(curve)
            self._curves.append(curve)
        warning = " — <b style='color:#ff5555'>UNTRAINED model: predictions are meaningless</b>"
        status = "" if preds.complete else " (partial)"
        self.probs.setTitle(
            f"<span style='color:#ccc'>Model #{preds.model_version_id}{status}</span>"
            + (warning if preds.untrained else ""),
            size="9pt",
        )
        spans = [
            Span(
                e.start_frame, e.end_frame, self._class_color(preds.class_names[e.class_index], e.class_index)
            )
            for e in self.state.events
        ]
        self.event_spans.set_spans(spans, self._frame_count)
        self.overview_events.set_spans(spans, self._frame_count)
        self._on_selection()

    def _on_selection(self) -> None:
        self.selection_outline.set_range(self.state.selection)
        event = self.state.selected_event
        self.event_outline.set_range(None if event is None else (event.start_frame, event.end_frame))
        in_point = self.state.in_point
        self.in_marker.setVisible(in_point is not None)
        if in_point is not None:
            self.in_marker.setValue(in_point)

    def _on_frame(self, frame: int) -> None:
        for line in self.playheads:
            line.setValue(frame + 0.5)
        lo, hi = self.visible_range()
        if not lo <= frame < hi and hi > lo:  # keep the playhead in view while playing
            width = hi - lo
            start = min(max(frame - width * 0.1, 0.0), max(self._frame_count - width, 0.0))
            self.set_visible_range(start, start + width)

    def _view_moved(self) -> None:
        if self._syncing:
            return
        self._syncing = True
        lo, hi = self.visible_range()
        self.window_region.setRegion((lo, hi))
        self._syncing = False
        self.visible_range_changed.emit(lo, hi)

    def _region_moved(self) -> None:
        if self._syncing:
            return
        self._syncing = True
        lo, hi = self.window_region.getRegion()
        self.set_visible_range(lo, hi)
        self._syncing = False

    # --- gestures → hub ---------------------------------------------------------------------------

    def clicked(self, frame: int, lane: Lane) -> None:
        self.state.set_frame(frame)
        if lane is Lane.LABELS:
            self.state.select_segment_at(frame)
        else:
            self.state.select_event_at(frame)

    def _drag_range(
        self, kind: _Drag, segment: Segment | None, anchor: int, frame: int, x: float
    ) -> tuple[int, int]:
        snapped = int(np.clip(round(x), 0, self._frame_count))
        if kind is _Drag.CREATE:
            return min(anchor, frame), max(anchor, frame) + 1
        if segment is None:
            return anchor, anchor + 1
        if kind is _Drag.START_EDGE:
            return min(snapped, segment.end_frame - 1), segment.end_frame
        if kind is _Drag.END_EDGE:
            return segment.start_frame, max(snapped, segment.start_frame + 1)
        length = segment.end_frame - segment.start_frame
        start = int(np.clip(segment.start_frame + frame - anchor, 0, self._frame_count - length))
        return start, start + length

    def drag_preview(self, kind: _Drag, segment: Segment | None, anchor: int, frame: int, x: float) -> None:
        if kind is _Drag.SEEK:
            self.state.set_frame(frame)
            return
        self.preview.set_range(self._drag_range(kind, segment, anchor, frame, x))

    def drag_finished(self, kind: _Drag, segment: Segment | None, anchor: int, frame: int, x: float) -> None:
        self.preview.set_range(None)
        if kind is _Drag.SEEK:
            return
        start, end = self._drag_range(kind, segment, anchor, frame, x)
        if kind is _Drag.CREATE:
            self.state.create_segment(start, end)
        elif segment is not None:
            self.state.change_segment(segment, start, end)
