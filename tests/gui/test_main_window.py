"""The real main window driven by mouse and keys; after each action the store is checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from core.store import Store
from core.store.records import SegmentSource
from gui.widgets.timeline import Lane
from tests.gui.conftest import TINY_FRAMES, click, drag, fake_predictions, open_video


def _store_labels(store: Store, video_id: int) -> list[tuple[str, int, int]]:
    return [(s.class_name, s.start_frame, s.end_frame) for s in store.segments.list(video_id)]


def _screen_labels(win: Any) -> list[tuple[str, int, int]]:
    names = {c.id: c.name for c in win.project.classes}
    return [(names[s.class_id], s.start_frame, s.end_frame) for s in win.current.segments]


def _drawn(win: Any) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in win.timeline.label_spans._spans]


def test_empty_project_offers_a_clear_start(window: Any) -> None:
    assert window.windowTitle().startswith("C3D Labeller")
    assert window.pages.currentWidget() is window.welcome
    assert window.add_button.text() == "Add videos…"
    assert window.demo_button.text() == "Open the demo"
    assert "none yet" in window.model_label.text()


def test_open_the_demo_writes_into_the_user_data_dir(
    qtbot: Any, window: Any, store: Store, isolated_dirs: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr("gui.jobs.DEMO_SECONDS", 3.0)
    qtbot.mouseClick(window.demo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: window.current.video is not None and window.player.view.shown_frame == 0, timeout=20000
    )
    video = window.current.video
    assert Path(video.path).is_relative_to(isolated_dirs)
    assert window.pages.currentIndex() == 1
    assert store.segments.labelled_frames(video.id) > 0
    assert _screen_labels(window) == _store_labels(store, video.id)
    assert _drawn(window) == [(s, e) for _, s, e in _store_labels(store, video.id)]
    assert "labelled" in window.videos.item(0).text()


def test_play_step_and_seek_by_clicking_the_timeline(qtbot: Any, window: Any, tiny_video: Path) -> None:
    open_video(qtbot, window, tiny_video)
    state, view = window, window.timeline.view.viewport()
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: window.player.view.shown_frame == 1)
    assert "frame 1 / 39" in window.player.position.text()
    qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)  # jump N = 10 frames
    assert state.current.frame == 11
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert state.current.frame == 10

    click(view, window.timeline.viewport_point(25.5))
    assert state.current.frame == 25
    qtbot.waitUntil(lambda: window.player.view.shown_frame == 25)
    assert "00:01.000" in window.player.position.text()  # frame 25 at 25 fps starts at 1 s

    window.player.speed.setValue(4.0)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.playback.playing
    qtbot.waitUntil(lambda: not window.playback.playing, timeout=5000)  # played to the end
    assert state.current.frame == TINY_FRAMES - 1
    qtbot.waitUntil(lambda: window.player.view.shown_frame == TINY_FRAMES - 1)


def test_create_resize_relabel_delete_with_mouse_keys_and_undo(
    qtbot: Any, window: Any, store: Store, tiny_video: Path
) -> None:
    open_video(qtbot, window, tiny_video)
    state, tl = window, window.timeline
    view = tl.view.viewport()
    walk = store.classes.add("walk")
    store.classes.add("run")
    state.project.refresh_classes()
    vid = state.current.video.id

    drag(view, tl.viewport_point(5.5, Lane.LABELS), tl.viewport_point(14.5, Lane.LABELS))
    assert _store_labels(store, vid) == [("walk", 5, 15)]
    assert _screen_labels(window) == _store_labels(store, vid) and _drawn(window) == [(5, 15)]
    assert state.current.selection == (5, 15)

    drag(view, tl.viewport_point(15.0, Lane.LABELS), tl.viewport_point(25.0, Lane.LABELS))  # end edge
    assert _store_labels(store, vid) == [("walk", 5, 25)]
    drag(view, tl.viewport_point(10.5, Lane.LABELS), tl.viewport_point(12.5, Lane.LABELS))  # body: move +2
    assert _store_labels(store, vid) == [("walk", 7, 27)]

    qtbot.keyClick(window, Qt.Key.Key_2)  # relabel the selection as the second class
    assert _store_labels(store, vid) == [("run", 7, 27)]
    assert store.segments.list(vid)[0].source is SegmentSource.HUMAN
    qtbot.keyClick(window, Qt.Key.Key_Delete)
    assert _store_labels(store, vid) == [] == _screen_labels(window)

    undo = window.actions_by_name["undo"]
    undo.trigger()
    assert _store_labels(store, vid) == [("run", 7, 27)] == _screen_labels(window)
    for _ in range(3):
        undo.trigger()
    assert _store_labels(store, vid) == [("walk", 5, 15)]
    undo.trigger()
    assert _store_labels(store, vid) == [] == _screen_labels(window)
    qtbot.keyClick(
        window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert _store_labels(store, vid) == [("walk", 5, 15)] == _screen_labels(window)

    # in/out keys, split at the playhead, merge, mark reviewed
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.keyClick(window, Qt.Key.Key_1)  # nothing selected: the key picks the class to draw with
    state.current.set_frame(30)
    qtbot.keyClick(window, Qt.Key.Key_I)
    state.current.set_frame(34)
    qtbot.keyClick(window, Qt.Key.Key_O)
    assert _store_labels(store, vid)[-1] == ("walk", 30, 35)
    state.current.set_frame(10)
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert state.current.selection == (10, 15)
    qtbot.keyClick(window, Qt.Key.Key_2)
    assert _store_labels(store, vid) == [("walk", 5, 10), ("run", 10, 15), ("walk", 30, 35)]
    click(view, tl.viewport_point(12.5, Lane.LABELS))
    qtbot.keyClick(window, Qt.Key.Key_M)
    assert _store_labels(store, vid) == [("walk", 5, 10), ("run", 10, 35)]
    qtbot.keyClick(window, Qt.Key.Key_R)  # whole video is in view: gaps become background
    assert _store_labels(store, vid) == [
        ("background", 0, 5),
        ("walk", 5, 10),
        ("run", 10, 35),
        ("background", 35, TINY_FRAMES),
    ]
    assert _screen_labels(window) == _store_labels(store, vid)
    assert walk.id in {s.class_id for s in store.segments.list(vid)}
    # Marking reviewed was one action: one undo takes back both background fills, nothing more.
    undo.trigger()
    assert _store_labels(store, vid) == [("walk", 5, 10), ("run", 10, 35)] == _screen_labels(window)


def test_accept_predictions(qtbot: Any, window: Any, store: Store, tiny_video: Path) -> None:
    open_video(qtbot, window, tiny_video)
    state, tl = window, window.timeline
    store.classes.add("walk")
    state.project.refresh_classes()
    vid = state.current.video.id
    fake_predictions(store, vid, TINY_FRAMES, ("background", "walk"))
    state.project.refresh_model()
    state.current.reload_predictions()
    assert len(state.current.events) == 1
    event = state.current.events[0]
    assert len(tl._curves) == 1 and tl.event_spans._spans

    click(tl.view.viewport(), tl.viewport_point(event.start_frame + 1.5, Lane.EVENTS))
    assert state.current.selected_event == event
    qtbot.keyClick(window, Qt.Key.Key_A)
    segs = store.segments.list(vid)
    assert [(s.class_name, s.start_frame, s.end_frame, s.source) for s in segs] == [
        ("walk", event.start_frame, event.end_frame, SegmentSource.ACCEPTED)
    ]
    assert _screen_labels(window) == _store_labels(store, vid)
    window.actions_by_name["undo"].trigger()
    assert store.segments.list(vid) == []

    # "fill unlabelled only" never overwrites a human label
    state.current.create_segment(
        event.start_frame, event.start_frame + 3, state.project.class_by_id(state.project.current_class_id).id
    )
    human = _store_labels(store, vid)
    qtbot.keyClick(
        window, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    after = store.segments.list(vid)
    assert (human[0][1], human[0][2]) in {
        (s.start_frame, s.end_frame) for s in after if s.source is SegmentSource.HUMAN
    }
    assert any(s.source is SegmentSource.ACCEPTED for s in after)

    # post-processing controls change the predicted track live
    panel = window.postprocess
    panel.min_length.setValue(TINY_FRAMES + 1)
    assert state.current.events == [] and tl.event_spans._spans == []
    panel.min_length.setValue(1)
    assert len(state.current.events) == 1


def _portable(keys: str) -> tuple[str, ...]:
    return tuple(QKeySequence(k.strip()).toString() for k in keys.split(", "))


def test_shortcuts_dialog_lists_the_keys_the_window_really_answers_to(
    qtbot: Any, window: Any, store: Store
) -> None:
    """Checked against the window's live actions (what a key press triggers), not the spec table."""
    store.classes.add("walk")
    window.project.refresh_classes()
    bound: dict[tuple[str, ...], str] = {}
    for action in window.actions():
        if action.shortcuts():
            bound[tuple(k.toString() for k in action.shortcuts())] = action.text().removeprefix("● ")
    dialog = window.show_shortcuts()
    qtbot.addWidget(dialog)
    table = dialog.table
    listed = {
        _portable(table.item(r, 0).text()): table.item(r, 1).text()
        for r in range(table.rowCount())
        if table.item(r, 2).text() != "Timeline"  # mouse gestures, not keys
    }
    assert set(listed) == set(bound)
    for keys, text in bound.items():
        if text in {"background", "walk"}:  # a class key: the row names its class
            assert f"“{text}”" in listed[keys], keys
        else:
            assert listed[keys] == text, keys
    assert listed[("0",)].endswith("“background”") and listed[("1",)].endswith("“walk”")
