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
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QMenu, QVBoxLayout, QWidget

from core.labels import editing
from core.store.classes import PALETTE
from core.store.records import BACKGROUND, Segment, SegmentSource
from gui.dialogs.notes import NotesDialog, notes_text
from gui.state import CurrentVideo, ProjectState
from gui.widgets.lane_groups import LaneGroups
from gui.widgets.lanes import (
    AXIS_PX,
    LaneAxis,
    LaneLayout,
    RowKind,
    TrackPredictions,
    lane_name,
)
from gui.widgets.seek_box import SeekViewBox
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
        lane = self.lane_at(ev.scenePos())
        if ev.button() == Qt.MouseButton.RightButton and lane is Lane.LABELS:
            ev.accept()
            self._timeline.label_menu_at(self.frame_at(ev.scenePos()))
            return
        if ev.button() != Qt.MouseButton.LeftButton:
            super().mouseClickEvent(ev)
            return
        ev.accept()
        frame = self.frame_at(ev.scenePos())
        self._timeline.clicked(frame, lane)

    def hoverEvent(self, ev: pg.GraphicsScene.mouseEvents.HoverEvent) -> None:
        if ev.isExit():
            self._timeline.show_tip("")
            return
        at = ev.scenePos()
        self._timeline.show_tip(self._timeline.tooltip_at(self.frame_at(at), self.lane_at(at)))

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


class Timeline(QWidget):
    visible_range_changed = Signal(float, float)

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

        # One lane group per track, in the project's order (see lane_groups.py).
        self.groups = LaneGroups(self, state, project)
        self.others = self.groups.plot
        self.others_box = self.groups.box
        self.others.setXLink(self.probs)

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
            plot.getAxis("left").setWidth(AXIS_PX)
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

    # The lane groups, as tests and the main window reach them.
    @property
    def lanes(self) -> LaneLayout:
        return self.groups.layout

    @property
    def lane_items(self) -> dict[tuple[int, RowKind], pg.GraphicsObject]:
        return self.groups.items

    @property
    def lane_axis(self) -> LaneAxis:
        return self.groups.axis

    @property
    def collapsed(self) -> set[int]:
        return self.groups.collapsed

    @property
    def collapsed_changed(self) -> Signal:
        return self.groups.collapsed_changed

    def set_collapsed(self, track_ids: set[int]) -> None:
        self.groups.set_collapsed(track_ids)

    def toggle_group(self, track_id: int) -> None:
        self.groups.toggle(track_id)

    def group_menu(self, track_id: int) -> QMenu:
        return self.groups.menu(track_id)

    def activate_at(self, y: float) -> None:
        self.groups.activate_at(y)

    def lanes_tooltip_at(self, frame: int, y: float) -> str:
        return self.groups.tooltip_at(frame, y)

    def set_track_predictions(self, track_id: int, predictions: TrackPredictions | None) -> None:
        """A track's probabilities and predicted events for its lane group (None: it has none)."""
        self.groups.set_predictions(track_id, predictions)

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
        name = "labels" if active is None or len(self.project.tracks) < 2 else f"✎ {lane_name(active)}"
        self.tracks.getAxis("left").setTicks([[(0.5, name), (1.5, "predicted")]])
        self.groups.redraw(self._frame_count)
        self._on_selection()

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
        self.groups.redraw()  # the other tracks' predicted events came with this reload
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

    def tooltip_at(self, frame: int, lane: Lane) -> str:
        """What the active track's label (or the predicted event) under the mouse is."""
        if lane is Lane.LABELS:
            segment = editing.segment_at(self.state.segments, frame)
            return "" if segment is None else notes_text(segment)
        return ""

    def show_tip(self, text: str) -> None:
        if self.view.toolTip() != text:
            self.view.setToolTip(text)

    def label_menu_at(self, frame: int) -> None:
        segment = self.state.select_segment_at(frame)
        if segment is not None:
            self.label_menu(segment).popup(QCursor.pos())

    def label_menu(self, segment: Segment) -> QMenu:
        menu = QMenu(self)
        menu.addAction("Modifiers and comment…", lambda: self.edit_notes(segment))
        return menu

    def edit_notes(self, segment: Segment) -> bool:
        """The small editor for a label's modifiers and comment; OK saves them as one undo step."""
        dialog = NotesDialog(segment, self.project.class_by_id(segment.class_id), self)
        if not dialog.exec():
            return False
        return self.state.set_notes(segment, dialog.modifiers(), dialog.comment_text())

    def edit_selected_notes(self) -> bool:
        segment = self.state.selected_segment() or editing.segment_at(self.state.segments, self.state.frame)
        if segment is None:
            self.state.message.emit("Select a label to give it modifiers or a comment.")
            return False
        return self.edit_notes(segment)

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
