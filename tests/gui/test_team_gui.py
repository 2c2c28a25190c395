"""Team mode in the app: a colleague's edit appears on its own; editing frames they just changed
is refused with a message, the view then shows theirs, and the undo stack does not move."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.project import actions, open_project
from core.store import Store
from tests.gui.conftest import open_video


def _labels(segments: Any) -> list[tuple[str, int, int]]:
    return [(s.class_name, s.start_frame, s.end_frame) for s in segments]


def test_a_colleagues_edits_show_up_and_a_stale_edit_is_a_conflict(
    qtbot: Any, window: Any, store: Store, tiny_video: Path, warnings_shown: list[str]
) -> None:
    walk = store.classes.add("walk")
    open_video(qtbot, window, tiny_video)
    vid = window.current.video.id
    colleague = open_project(store.url, annotator="bob")
    try:
        actions.label_range(colleague, vid, 5, 15, walk.id)
        qtbot.waitUntil(lambda: _labels(window.current.segments) == [("walk", 5, 15)], timeout=10000)

        window.project.project.stop_listening()  # the next edit of Bob's has not reached us yet
        actions.label_range(colleague, vid, 20, 30, walk.id)
        stack = window.project.undo_stack
        depth = stack.index()
        window.current.create_segment(25, 35, walk.id)
        assert any("Someone else changed frames 25–35" in text for text in warnings_shown)
        assert stack.index() == depth
        assert _labels(store.segments.list(vid)) == [("walk", 5, 15), ("walk", 20, 30)]
        assert _labels(window.current.segments) == [("walk", 5, 15), ("walk", 20, 30)]
        window.current.create_segment(25, 35, walk.id)  # now that we have seen it, it goes through
        assert _labels(store.segments.list(vid)) == [("walk", 5, 15), ("walk", 20, 35)]
    finally:
        colleague.close()


def test_next_video_to_label_claims_and_opens_one_nobody_has(
    qtbot: Any, window: Any, store: Store, tiny_video: Path, tmp_path: Path
) -> None:
    from tests.videos import write_mjpeg_avi

    second = write_mjpeg_avi(tmp_path / "second.avi", 20, size=(112, 112))
    open_video(qtbot, window, tiny_video)
    window.project.add_videos([str(second)])
    qtbot.waitUntil(
        lambda: len(store.videos.list()) == 2 and not window.runner.is_running("add videos"), timeout=15000
    )
    first_id = store.videos.list()[0].id
    store.work.claim_next("bob")  # Bob has the first video already
    window.project.set_annotator("ann")
    window.actions_by_name["next_to_label"].trigger()
    second_id = store.videos.list()[1].id
    qtbot.waitUntil(
        lambda: window.current.video is not None and window.current.video.id == second_id, timeout=10000
    )
    claims = {a.video_id: a.claimed_by for a in store.work.list()}
    assert claims == {first_id: "bob", second_id: "ann"}
    window.actions_by_name["mark_labelled"].trigger()
    assert [a.state.value for a in store.work.list()] == ["to_label", "labelled"]
