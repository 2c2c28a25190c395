"""Class-manager edits are undoable, and each project's undo history survives switching projects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.store import Store
from tests.gui.conftest import open_video


def _names(win: Any) -> list[str]:
    return [c.name for c in win.project.classes]


def test_add_rename_recolour_and_key_undo_and_redo(window: Any, store: Store) -> None:
    state, undo, redo = window, window.actions_by_name["undo"], window.actions_by_name["redo"]
    state.project.add_class("walk")
    walk = store.classes.by_name("walk")
    assert walk is not None and "walk" in _names(window)
    state.project.rename_class(walk.id, "stroll")
    state.project.recolour_class(walk.id, "#123456")
    state.project.set_class_shortcut(walk.id, "w")
    assert store.classes.get(walk.id).shortcut == "w"

    undo.trigger()
    assert store.classes.get(walk.id).shortcut is None
    undo.trigger()
    assert store.classes.get(walk.id).color == walk.color
    undo.trigger()
    assert store.classes.get(walk.id).name == "walk" and "walk" in _names(window)
    undo.trigger()
    assert store.classes.by_name("walk") is None and "walk" not in _names(window)

    for _ in range(4):
        redo.trigger()
    again = store.classes.get(walk.id)  # re-created with its id, so later commands still apply
    assert (again.name, again.color, again.shortcut) == ("stroll", "#123456", "w")
    assert state.project.class_by_id(walk.id) == again


def test_delete_class_undo_restores_it_and_its_segments(
    qtbot: Any, window: Any, store: Store, tiny_video: Path
) -> None:
    state = window
    walk = store.classes.add("walk")
    run = store.classes.add("run")
    state.project.refresh_classes()
    open_video(qtbot, window, tiny_video)
    vid = state.current.video.id
    state.current.create_segment(2, 8, walk.id)
    state.current.create_segment(8, 12, run.id)
    before = [(s.class_id, s.start_frame, s.end_frame) for s in store.segments.list(vid)]

    state.project.delete_class(walk.id, run.id)  # its segments move to run
    assert [(s.class_id, s.start_frame, s.end_frame) for s in store.segments.list(vid)] == [(run.id, 2, 12)]
    assert state.project.undo_stack.count() == 3  # history kept

    window.actions_by_name["undo"].trigger()
    assert store.classes.get(walk.id).name == "walk"
    assert [(s.class_id, s.start_frame, s.end_frame) for s in store.segments.list(vid)] == before
    assert [(s.class_id, s.start_frame, s.end_frame) for s in state.current.segments] == before
    window.actions_by_name["undo"].trigger()  # an earlier label edit still undoes
    window.actions_by_name["undo"].trigger()
    assert store.segments.list(vid) == []

    for _ in range(3):
        window.actions_by_name["redo"].trigger()
    assert store.classes.by_name("walk") is None
    assert [(s.class_id, s.start_frame, s.end_frame) for s in store.segments.list(vid)] == [(run.id, 2, 12)]


def test_undo_history_survives_switching_projects(
    qtbot: Any, window: Any, store: Store, tiny_video: Path, tmp_path: Path
) -> None:
    state = window
    walk_a = store.classes.add("walk")
    state.project.refresh_classes()
    open_video(qtbot, window, tiny_video)
    vid_a = state.current.video.id
    state.current.create_segment(3, 9, walk_a.id)
    labels_a = [(s.class_id, s.start_frame, s.end_frame) for s in store.segments.list(vid_a)]
    assert labels_a == [(walk_a.id, 3, 9)]

    path_b = tmp_path / "project_b.sqlite3"
    window.switch_project(str(path_b))  # a new file: a new, empty project
    store_b = state.project.store
    assert store_b is not store and path_b.exists()
    assert state.current.video is None and state.project.statuses == []
    assert not window.actions_by_name["undo"].isEnabled()  # B's history is its own
    run_b = store_b.classes.add("run")
    state.project.refresh_classes()
    open_video(qtbot, window, tiny_video)
    vid_b = state.current.video.id
    state.current.create_segment(10, 20, run_b.id)
    labels_b = [(s.class_id, s.start_frame, s.end_frame) for s in store_b.segments.list(vid_b)]
    assert labels_b == [(run_b.id, 10, 20)]

    window.switch_project(store.url)
    assert (
        state.project.store is store and state.current.video is not None and state.current.video.id == vid_a
    )
    assert window.actions_by_name["undo"].isEnabled()
    window.actions_by_name["undo"].trigger()
    assert store.segments.list(vid_a) == [] and state.current.segments == []
    assert [(s.class_id, s.start_frame, s.end_frame) for s in store_b.segments.list(vid_b)] == labels_b

    window.switch_project(str(path_b))
    window.actions_by_name["undo"].trigger()  # B's own edit, still on B's stack
    assert store_b.segments.list(vid_b) == []
    assert store.segments.list(vid_a) == []
    state.project.close_all()


def test_open_project_from_the_file_menu(window: Any, tmp_path: Path, monkeypatch: Any) -> None:
    target = tmp_path / "chosen.sqlite3"
    monkeypatch.setattr("gui.file_dialogs.save_file", lambda *_a, **_k: (str(target), ""))
    window.actions_by_name["open_project"].trigger()
    assert window.project.store.url.endswith("chosen.sqlite3") and target.exists()
    assert window.pages.currentWidget() is window.welcome
    assert [c.name for c in window.project.classes] == ["background"]
    window.project.close_all()
