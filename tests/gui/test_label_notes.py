"""Modifiers and comments in the app: the class manager sets the modifiers a class offers, a
label's context menu edits its modifiers and comment, and its tooltip shows them; each change
is one undo step."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from core.store import Store
from core.store.records import NewSegment, TrackKind
from gui.dialogs.classes import ClassesDialog
from gui.dialogs.notes import NotesDialog
from gui.widgets.timeline import Lane
from tests.gui.conftest import MOVE_GAP_S, open_video


def _hover(window: Any, frame: float, lane: Lane) -> str:
    """Move the mouse (no button held) over a lane and return the timeline's tooltip."""
    QApplication.processEvents()
    time.sleep(MOVE_GAP_S)  # pyqtgraph drops hover moves closer together than its rate limit
    port = window.timeline.view.viewport()
    pos = window.timeline.viewport_point(frame, lane)
    event = QMouseEvent(
        QMouseEvent.Type.MouseMove,
        QPointF(pos),
        QPointF(port.mapToGlobal(pos)),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(port, event)
    QApplication.processEvents()
    return window.timeline.view.toolTip()


def test_class_modifiers_are_edited_in_the_class_manager(
    qtbot: Any, window: Any, store: Store, monkeypatch: Any
) -> None:
    walk = store.classes.add("walk")
    window.project.refresh_classes()
    dialog = ClassesDialog(window.project, window)
    qtbot.addWidget(dialog)
    dialog.table.selectRow([c.id for c in window.project.classes].index(walk.id))
    monkeypatch.setattr("gui.dialogs.classes.QInputDialog.getText", lambda *_a, **_k: ("fast, slow ,", True))
    dialog.set_modifiers()
    assert store.classes.get(walk.id).modifiers == ("fast", "slow")
    row = [c.id for c in window.project.classes].index(walk.id)
    assert dialog.table.item(row, 3).text() == "fast, slow"
    window.actions_by_name["undo"].trigger()
    assert store.classes.get(walk.id).modifiers == ()


def test_a_label_gets_modifiers_and_a_comment_from_its_menu_and_shows_them(
    qtbot: Any, window: Any, store: Store, tiny_video: Path, monkeypatch: Any
) -> None:
    walk = store.classes.add("walk", modifiers=["fast", "slow"])
    window.project.refresh_classes()
    open_video(qtbot, window, tiny_video)
    vid = window.current.video.id
    store.segments.paint(vid, [NewSegment(walk.id, 5, 25)])
    qtbot.waitUntil(lambda: len(window.current.segments) == 1)
    assert _hover(window, 10, Lane.LABELS) == "walk, frames 5–25"

    def fill(dialog: NotesDialog) -> int:
        assert list(dialog.boxes) == ["fast", "slow"]
        dialog.boxes["slow"].setChecked(True)
        dialog.comment.setPlainText("  limps on the left  ")
        return 1

    monkeypatch.setattr(NotesDialog, "exec", fill)
    menu = window.timeline.label_menu(window.current.segments[0])
    next(a for a in menu.actions() if a.text() == "Modifiers and comment…").trigger()
    [seg] = store.segments.list(vid)
    assert (seg.start_frame, seg.end_frame, seg.modifiers, seg.comment) == (
        5,
        25,
        ("slow",),
        "limps on the left",
    )
    qtbot.waitUntil(lambda: window.current.segments[0].modifiers == ("slow",))
    assert _hover(window, 10, Lane.LABELS) == "walk (slow), frames 5–25\n“limps on the left”"

    window.actions_by_name["undo"].trigger()  # one step takes both back
    [seg] = store.segments.list(vid)
    assert (seg.modifiers, seg.comment) == ((), None)


def test_a_point_event_in_another_lane_shows_its_modifiers(
    qtbot: Any, window: Any, store: Store, tiny_video: Path
) -> None:
    jumps = store.tracks.add("jumps", TrackKind.POINT)
    jump = store.classes.add("jump", track_id=jumps.id, modifiers=["left", "right"])
    window.project.refresh_classes()
    open_video(qtbot, window, tiny_video)
    store.segments.paint(window.current.video.id, [NewSegment(jump.id, 12, 13, modifiers=("left",))])
    qtbot.waitUntil(lambda: len(window.current.other_segments) == 1)
    group = next(g for g in window.timeline.lanes.groups if g.track.id == jumps.id)
    assert window.timeline.lanes_tooltip_at(12, group.y1 - 0.5) == "jump (left), frames 12–13"
    assert window.timeline.lanes_tooltip_at(30, group.y1 - 0.5) == ""
