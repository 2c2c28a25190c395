"""The edit path as a user meets it: the undo stack moves only when the store did, views follow
committed events (from any thread or writer) without re-reading more than the edited range."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from core.errors import StoreError
from core.store import Store
from core.store.records import NewSegment
from tests.gui.conftest import open_video


def _labels(segments: Any) -> list[tuple[str, int, int]]:
    return [(s.class_name, s.start_frame, s.end_frame) for s in segments]


def test_a_failing_undo_leaves_the_stack_and_the_labels_and_says_so(
    qtbot: Any, window: Any, store: Store, tiny_video: Path, warnings_shown: list[str], monkeypatch: Any
) -> None:
    walk = store.classes.add("walk")
    open_video(qtbot, window, tiny_video)
    vid = window.current.video.id
    window.current.create_segment(2, 8, walk.id)
    window.current.create_segment(20, 30, walk.id)
    stack = window.project.undo_stack
    assert stack.index() == 2

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise StoreError("Could not restore the segments: the disk reported a problem (injected).")

    monkeypatch.setattr(store.segments, "replace_range", broken)
    window.actions_by_name["undo"].trigger()
    assert stack.index() == 2 and stack.canUndo()
    assert _labels(store.segments.list(vid)) == [("walk", 2, 8), ("walk", 20, 30)]
    assert _labels(window.current.segments) == _labels(store.segments.list(vid))
    assert any("Could not undo" in text and "injected" in text for text in warnings_shown)

    monkeypatch.undo()
    window.actions_by_name["undo"].trigger()
    assert stack.index() == 1 and _labels(store.segments.list(vid)) == [("walk", 2, 8)]
    assert _labels(window.current.segments) == [("walk", 2, 8)]


def test_a_failing_edit_pushes_nothing_and_changes_nothing(
    qtbot: Any, window: Any, store: Store, tiny_video: Path, warnings_shown: list[str], monkeypatch: Any
) -> None:
    walk = store.classes.add("walk")
    open_video(qtbot, window, tiny_video)
    vid = window.current.video.id
    window.current.create_segment(10, 20, walk.id)
    (segment,) = window.current.segments
    original = store.segments.add

    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise StoreError("Could not save the segment: injected.")

    monkeypatch.setattr(store.segments, "add", fail)  # the move clears, then fails to paint
    window.current.change_segment(segment, 25, 35)
    assert window.project.undo_stack.count() == 1
    assert _labels(store.segments.list(vid)) == [("walk", 10, 20)]
    assert _labels(window.current.segments) == [("walk", 10, 20)]
    assert warnings_shown
    monkeypatch.setattr(store.segments, "add", original)


def test_a_write_from_a_worker_thread_reaches_the_timeline_on_the_gui_thread(
    qtbot: Any, window: Any, store: Store, tiny_video: Path
) -> None:
    walk = store.classes.add("walk")
    open_video(qtbot, window, tiny_video)
    vid = window.current.video.id
    thread = threading.Thread(target=lambda: store.segments.add(vid, NewSegment(walk.id, 3, 9)))
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: _labels(window.current.segments) == [("walk", 3, 9)], timeout=5000)
    qtbot.waitUntil(
        lambda: (
            "labelled" in window.videos.item(0).text() and "0% labelled" not in window.videos.item(0).text()
        ),
        timeout=5000,
    )


def test_an_edit_rereads_only_the_segments_around_its_range(
    qtbot: Any, window: Any, store: Store, tiny_video: Path, monkeypatch: Any
) -> None:
    walk = store.classes.add("walk")
    open_video(qtbot, window, tiny_video)
    vid = window.current.video.id
    store.segments.paint(vid, [NewSegment(walk.id, 0, 4), NewSegment(walk.id, 30, 36)])
    reads: list[tuple[int | None, int | None]] = []
    original = store.segments.list

    def counting(video_id: int, start: int | None = None, end: int | None = None) -> Any:
        reads.append((start, end))
        return original(video_id, start, end)

    monkeypatch.setattr(store.segments, "list", counting)
    window.current.create_segment(10, 16, walk.id)
    assert _labels(window.current.segments) == [("walk", 0, 4), ("walk", 10, 16), ("walk", 30, 36)]
    assert (None, None) not in reads  # never the whole video after an edit


@pytest.mark.parametrize("key", ["Space", "I", "shift+a", "5"])
def test_a_class_key_that_an_action_uses_is_refused_with_a_message(
    window: Any, store: Store, warnings_shown: list[str], key: str
) -> None:
    walk = store.classes.add("walk")
    window.project.set_class_shortcut(walk.id, key)
    assert store.classes.get(walk.id).shortcut is None
    assert warnings_shown and key.casefold() in warnings_shown[-1].casefold()
    assert window.project.undo_stack.count() == 0


def test_the_fine_tune_dialog_does_not_query_the_store_per_spin_box_change(
    qtbot: Any, window: Any, store: Store, tiny_video: Path, monkeypatch: Any
) -> None:
    import gui.state.learning as learning_module

    walk = store.classes.add("walk")
    open_video(qtbot, window, tiny_video)
    window.current.create_segment(0, 20, walk.id)
    calls = [0]
    original = learning_module.build_training_set

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(learning_module, "build_training_set", counting)
    dialog = window.fine_tune()
    first = calls[0]
    assert first >= 1
    for epochs in range(2, 8):
        dialog.epochs.setValue(epochs)
    dialog.batch.setValue(dialog.batch.value() + 1)
    assert calls[0] == first
    window.current.create_segment(20, 30, walk.id)  # the labels changed: counted afresh once
    dialog.epochs.setValue(9)
    assert calls[0] == first + 1
    dialog.reject()


def test_a_burst_of_added_videos_refreshes_the_list_once(
    qtbot: Any, window: Any, store: Store, monkeypatch: Any
) -> None:
    import gui.state.project as project_module

    calls = [0]
    original = project_module.video_statuses

    def counting(s: Store) -> Any:
        calls[0] += 1
        return original(s)

    monkeypatch.setattr(project_module, "video_statuses", counting)

    def add_all() -> None:  # as the Add folder job does, on its worker thread
        for k in range(10):
            store.videos.add(f"/nonexistent/{k}.avi", f"h{k}", 64, 48, 25.0, 100)

    thread = threading.Thread(target=add_all)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: len(window.project.statuses) == 10, timeout=5000)
    assert window.videos.count() == 10
    assert calls[0] <= 2  # not one full refresh per video
