"""Lane groups: one per track, stacked in the project's track order under the editor lanes.

A group is a header (the track's name and subject; click it to collapse or expand, drag it to
reorder, right-click for a menu) above its rows: probabilities and predicted events when the
track has them, then its labels (ticks on a point track). The layout is plain arithmetic on
tracks, so it is tested without drawing; y grows downwards, one unit per labels row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

from core.store.records import Track
from gui.widgets.segment_items import Span

HEADER = 0.9
ROW_HEIGHT = {"probabilities": 1.6, "predicted": 0.8, "labels": 1.0}
GAP = 0.15
UNIT_PX = 18
AXIS_PX = 120
"""Width of the timeline's lane names; a longer name is elided."""


class RowKind(StrEnum):
    PROBABILITIES = "probabilities"
    PREDICTED = "predicted"
    LABELS = "labels"


@dataclass(frozen=True)
class LaneRow:
    kind: RowKind
    y0: float
    y1: float


@dataclass(frozen=True)
class TrackPredictions:
    """What a track's model says on the open video, for its group's probability and event rows."""

    scores: np.ndarray | None  # frames × classes, background included; None: events only
    colors: tuple[str, ...]  # one per class column
    background_index: int | None
    events: tuple[Span, ...] = ()


@dataclass(frozen=True)
class LaneGroup:
    track: Track
    y0: float
    header_y1: float
    rows: tuple[LaneRow, ...]
    collapsed: bool
    active: bool

    @property
    def y1(self) -> float:
        return self.rows[-1].y1 if self.rows else self.header_y1

    @property
    def header(self) -> str:
        """▾ expanded / ▸ collapsed, ● when active, the name (with its subject), · for points."""
        mark = "▸" if self.collapsed else "▾"
        return f"{mark} {'● ' if self.active else ''}{lane_name(self.track)}"

    def row(self, kind: RowKind) -> LaneRow | None:
        return next((r for r in self.rows if r.kind is kind), None)


@dataclass
class LaneLayout:
    groups: list[LaneGroup] = field(default_factory=list)

    @property
    def height(self) -> float:
        return self.groups[-1].y1 if self.groups else 0.0

    def at(self, y: float) -> tuple[LaneGroup, bool] | None:
        """The group at ``y``, and whether ``y`` is on its header."""
        for group in self.groups:
            if group.y0 <= y < group.y1 + GAP:
                return group, y < group.header_y1
        return None

    def index(self, track_id: int) -> int:
        return [g.track.id for g in self.groups].index(track_id)


def layout_groups(
    tracks: Sequence[Track],
    active_id: int | None,
    collapsed: set[int],
    with_predictions: Mapping[int, TrackPredictions] | None = None,
) -> LaneLayout:
    """Groups top to bottom in track order; a collapsed group is its header alone."""
    groups: list[LaneGroup] = []
    y = 0.0
    found = with_predictions or {}
    for track in tracks:
        header_y1 = y + HEADER
        rows: list[LaneRow] = []
        at = header_y1
        if track.id not in collapsed:
            kinds: list[RowKind] = []
            predictions = found.get(track.id)
            if predictions is not None and predictions.scores is not None:
                kinds.append(RowKind.PROBABILITIES)
            if predictions is not None:
                kinds.append(RowKind.PREDICTED)
            kinds.append(RowKind.LABELS)
            for kind in kinds:
                rows.append(LaneRow(kind, at, at + ROW_HEIGHT[kind.value]))
                at += ROW_HEIGHT[kind.value]
        group = LaneGroup(track, y, header_y1, tuple(rows), track.id in collapsed, track.id == active_id)
        groups.append(group)
        y = group.y1 + GAP
    return LaneLayout(groups)


def lane_name(track: Track) -> str:
    """A lane's label: the track, with its subject when the name does not already say it."""
    mark = " ·" if track.point else ""
    if track.subject and track.subject not in track.name:
        return f"{track.name} ({track.subject}){mark}"
    return f"{track.name}{mark}"


class LaneAxis(pg.AxisItem):
    """The groups' headers: a click on one collapses or expands it, a right-click opens its menu."""

    header_clicked = Signal(float, bool)  # y in the lanes' coordinates, right button?

    def mouseClickEvent(self, ev: pg.GraphicsScene.mouseEvents.MouseClickEvent) -> None:
        view = self.linkedView()
        if view is None or ev.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return
        ev.accept()
        y = view.mapSceneToView(ev.scenePos()).y()
        self.header_clicked.emit(y, ev.button() == Qt.MouseButton.RightButton)
