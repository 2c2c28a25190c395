"""A keyboard-first labelling session: keys reach the app whatever has focus, the video list
opens videos without crashing, threshold boxes can be typed into, and choosing a class never
relabels a segment the user did not select. Keys are real QTest events sent to whatever widget
has focus, as a user's keyboard would send them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QWidget

from core.store import Store
from gui.widgets.timeline import Lane
from tests.gui.conftest import TINY_FRAMES, click, drag, fake_predictions, open_video


def _key(key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """Press a key the way a keyboard does: into the widget that has focus."""
    focused = QApplication.focusWidget()
    assert focused is not None, "no widget has keyboard focus"
    QTest.keyClick(focused, key, modifier)


def _double_click(widget: QWidget, pos: QPoint) -> None:
    """Press, release, double-click, release: what a mouse sends (QTest.mouseDClick does not, in Qt 6)."""
    steps = (
        (QMouseEvent.Type.MouseButtonPress, Qt.MouseButton.LeftButton),
        (QMouseEvent.Type.MouseButtonRelease, Qt.MouseButton.NoButton),
        (QMouseEvent.Type.MouseButtonDblClick, Qt.MouseButton.LeftButton),
        (QMouseEvent.Type.MouseButtonRelease, Qt.MouseButton.NoButton),
    )
    for kind, held in steps:
        event = QMouseEvent(
            kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), Qt.MouseButton.LeftButton, held,
            Qt.KeyboardModifier.NoModifier,
        )  # fmt: skip
        QApplication.sendEvent(widget, event)


def _labels(store: Store, video_id: int) -> list[tuple[str, int, int]]:
    return [(s.class_name, s.start_frame, s.end_frame) for s in store.segments.list(video_id)]


def _in_player(win: Any, widget: QWidget | None) -> bool:
    return widget is not None and (widget is win.player or win.player.isAncestorOf(widget))


def test_keys_work_at_launch_and_after_using_the_video_list(
    qtbot: Any, window: Any, store: Store, tiny_video: Path
) -> None:
    open_video(qtbot, window, tiny_video)
    store.classes.add("walk")
    store.classes.add("run")
    window.project.refresh_classes()
    vid = window.current.video.id
    assert window.player.speed.focusPolicy() == Qt.FocusPolicy.ClickFocus

    _key(Qt.Key.Key_Right)  # at launch: no spin box swallows the key
    assert window.current.frame == 1
    _key(Qt.Key.Key_Period)
    assert window.current.frame == 2
    _key(Qt.Key.Key_Comma)
    assert window.current.frame == 1

    # the user opens the video from the list: the list has focus, arrows still step frames
    item = window.videos.item(0)
    _double_click(window.videos.viewport(), window.videos.visualItemRect(item).center())
    qtbot.waitUntil(lambda: not window.runner.jobs.is_running("index"))
    window.videos.setFocus()
    assert QApplication.focusWidget() is window.videos
    selected = window.videos.selected_ids()
    _key(Qt.Key.Key_Right)
    _key(Qt.Key.Key_Right)
    assert window.current.frame == 3
    _key(Qt.Key.Key_Left)
    assert window.current.frame == 2
    assert window.videos.selected_ids() == selected  # what Ctrl+R analyses did not change

    _key(Qt.Key.Key_2)  # class key
    assert window.project.current_class_id == store.classes.by_name("run").id
    _key(Qt.Key.Key_I)
    window.current.set_frame(6)
    _key(Qt.Key.Key_O)
    assert _labels(store, vid) == [("run", 2, 7)]
    _key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _labels(store, vid) == []
    _key(Qt.Key.Key_Space)
    assert window.playback.playing
    _key(Qt.Key.Key_Space)
    assert not window.playback.playing

    _key(Qt.Key.Key_Escape)  # Esc brings the keyboard back to the player
    assert _in_player(window, QApplication.focusWidget())


def test_speed_box_is_typed_into_after_a_click_and_gives_focus_back(
    qtbot: Any, window: Any, tiny_video: Path
) -> None:
    open_video(qtbot, window, tiny_video)
    speed = window.player.speed
    qtbot.mouseClick(speed.lineEdit(), Qt.MouseButton.LeftButton)
    assert speed.hasFocus()
    speed.lineEdit().selectAll()
    QTest.keyClicks(speed.lineEdit(), "2.5")
    _key(Qt.Key.Key_Return)
    assert speed.value() == pytest.approx(2.5) and window.playback.speed == pytest.approx(2.5)
    assert not speed.hasFocus() and _in_player(window, QApplication.focusWidget())
    _key(Qt.Key.Key_Right)
    assert window.current.frame == 1

    qtbot.mouseClick(speed.lineEdit(), Qt.MouseButton.LeftButton)
    _key(Qt.Key.Key_Escape)
    assert not speed.hasFocus()
    _key(Qt.Key.Key_Period)
    assert window.current.frame == 2


def test_double_clicking_videos_opens_them_without_errors(
    qtbot: Any, window: Any, tiny_video: Path, tmp_path: Path, warnings_shown: list[str]
) -> None:
    from tests.videos import write_mjpeg_avi

    open_video(qtbot, window, tiny_video)
    second = write_mjpeg_avi(tmp_path / "second.avi", 24, size=(112, 112))
    window.project.add_videos([str(second)])
    qtbot.waitUntil(lambda: window.videos.count() == 2 and not window.runner.jobs.is_running("add videos"))
    messages: list[str] = []
    window.current.message.connect(messages.append)
    lst = window.videos

    def dclick(row: int) -> None:
        _double_click(lst.viewport(), lst.visualItemRect(lst.item(row)).center())

    names = [Path(lst.item(r).toolTip()).name for r in range(2)]
    other = names.index("second.avi")
    dclick(other)  # not opened before: indexing starts and says so
    qtbot.waitUntil(
        lambda: window.current.video is not None and window.current.video.path.endswith("second.avi")
    )
    assert not any("already running" in m for m in messages)
    assert any("Indexing second.avi" in m for m in messages)
    first = names.index("tiny.avi")
    dclick(first)  # opened before
    qtbot.waitUntil(lambda: window.current.video.path.endswith("tiny.avi"))
    dclick(first)  # the one already open
    QApplication.processEvents()
    qtbot.waitUntil(lambda: not window.runner.jobs.is_running("index"))
    assert warnings_shown == []
    assert window.current.video.path.endswith("tiny.avi")


def test_threshold_boxes_take_typed_values(qtbot: Any, window: Any, store: Store, tiny_video: Path) -> None:
    open_video(qtbot, window, tiny_video)
    fake_predictions(store, window.current.video.id, TINY_FRAMES, ("background", "walk"))
    window.project.refresh_model()
    window.current.reload_predictions()
    panel = window.postprocess
    index = int(panel.class_box.currentData())
    for box, typed, expected in (
        (panel.open_threshold, "0.26", 0.26),
        (panel.open_threshold, "0.255", 0.255),
        (panel.close_threshold, "0.125", 0.125),
    ):
        qtbot.mouseClick(box.lineEdit(), Qt.MouseButton.LeftButton)
        box.lineEdit().selectAll()
        QTest.keyClicks(box.lineEdit(), typed)
        _key(Qt.Key.Key_Return)
        assert box.value() == pytest.approx(expected), typed
    params = window.current.params[index]
    assert (params.open_threshold, params.close_threshold) == pytest.approx((0.255, 0.125))


def test_a_class_key_relabels_only_what_the_user_selected(
    qtbot: Any, window: Any, store: Store, tiny_video: Path
) -> None:
    open_video(qtbot, window, tiny_video)
    tl = window.timeline
    view = tl.view.viewport()
    store.classes.add("walk")
    store.classes.add("run")
    window.project.refresh_classes()
    vid = window.current.video.id
    palette = window.palette_bar
    assert palette.current_name() == "walk"

    drag(view, tl.viewport_point(2.5, Lane.LABELS), tl.viewport_point(8.5, Lane.LABELS))
    _key(Qt.Key.Key_2)  # choose the next class: the segment just drawn keeps its class
    assert palette.current_name() == "run"
    drag(view, tl.viewport_point(12.5, Lane.LABELS), tl.viewport_point(18.5, Lane.LABELS))
    assert _labels(store, vid) == [("walk", 2, 9), ("run", 12, 19)]

    click(view, tl.viewport_point(4.5, Lane.LABELS))  # the user selects a segment: the key relabels it
    _key(Qt.Key.Key_2)
    assert _labels(store, vid) == [("run", 2, 9), ("run", 12, 19)]

    palette.button_for("walk").click()  # the palette chooses too, and shows the choice
    assert window.project.class_by_id(window.project.current_class_id).name == "walk"
    assert palette.button_for("walk").isChecked() and not palette.button_for("run").isChecked()
    assert "1" in palette.button_for("walk").text() and "2" in palette.button_for("run").text()
    assert _labels(store, vid) == [("run", 2, 9), ("run", 12, 19)]  # a click on the palette relabels nothing


def test_accept_works_with_a_panel_focused(qtbot: Any, window: Any, store: Store, tiny_video: Path) -> None:
    open_video(qtbot, window, tiny_video)
    store.classes.add("walk")
    window.project.refresh_classes()
    fake_predictions(store, window.current.video.id, TINY_FRAMES, ("background", "walk"))
    window.project.refresh_model()
    window.current.reload_predictions()
    event = window.current.events[0]
    window.current.select_event_at(event.start_frame)
    window.postprocess.class_box.setFocus()  # a panel the user just used
    assert QApplication.focusWidget() is window.postprocess.class_box
    _key(Qt.Key.Key_A)
    assert _labels(store, window.current.video.id) == [("walk", event.start_frame, event.end_frame)]


def test_no_widget_in_the_window_keeps_the_session_keys(qtbot: Any, window: Any, tiny_video: Path) -> None:
    """Whatever the user last clicked (a list, a table, a button, a tab, a plot), the arrows,
    Space and the class keys still reach the session; only a spin box being typed in keeps them."""
    open_video(qtbot, window, tiny_video)
    focusable = [
        w
        for w in window.findChildren(QWidget)
        if w.isVisible()
        and w.focusPolicy() != Qt.FocusPolicy.NoFocus
        and not isinstance(w, QAbstractSpinBox)
        and not isinstance(w.parentWidget(), QAbstractSpinBox)
    ]
    assert len(focusable) >= 5
    for widget in focusable:
        window.activateWindow()
        widget.setFocus()
        if QApplication.focusWidget() is not widget:
            continue  # a widget that cannot hold focus here cannot take keys either
        before = window.current.frame
        _key(Qt.Key.Key_Period)
        assert window.current.frame == before + 1, type(widget).__name__
        _key(Qt.Key.Key_Comma)
        assert window.current.frame == before, type(widget).__name__
