"""Team mode in the app: a colleague's edit appears on its own; editing frames they just changed
is refused with a message, the view then shows theirs, and the undo stack does not move."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

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
    window.team.set_annotator("ann")
    window.actions_by_name["next_to_label"].trigger()
    second_id = store.videos.list()[1].id
    qtbot.waitUntil(
        lambda: window.current.video is not None and window.current.video.id == second_id, timeout=10000
    )
    claims = {a.video_id: a.claimed_by for a in store.work.list()}
    assert claims == {first_id: "bob", second_id: "ann"}
    window.actions_by_name["mark_labelled"].trigger()
    assert [a.state.value for a in store.work.list()] == ["to_label", "labelled"]

    def shown() -> list[str]:
        return [window.videos.item(r).text().splitlines()[-1] for r in range(window.videos.count())]

    qtbot.waitUntil(lambda: shown()[1] == "labelled by ann", timeout=5000)
    assert shown()[0] == "to label, claimed by bob"
    window.actions_by_name["mark_reviewed_video"].trigger()
    assert [a.state.value for a in store.work.list()] == ["to_label", "reviewed"]
    qtbot.waitUntil(lambda: shown()[1] == "reviewed (labelled by ann)", timeout=5000)


def test_agreement_dialog_shows_each_track_and_sets_the_reference_in_one_undo_step(
    qtbot: Any, window: Any, store: Store, tiny_video: Path, tmp_path: Path
) -> None:
    """40 frames. Behaviour: Ann walk 0–20, Bob walk 10–20 (kappa: p_o .75, p_e .5*.25+.5*.75 =
    .5, so .5; tIoU .5, F1 1 at 0.1 and 0.25 and at 0.5 too). Head: both up 30–35 (kappa 1)."""
    walk = store.classes.add("walk")
    head = store.tracks.add("head")
    up = store.classes.add("up", track_id=head.id)
    open_video(qtbot, window, tiny_video)
    vid = window.current.video.id
    for coder, start in (("ann", 0), ("bob", 10)):
        coder_app = open_project(store.url, annotator=coder)
        try:
            actions.label_range(coder_app, vid, start, 20, walk.id)
            actions.label_range(coder_app, vid, 30, 35, up.id)
            actions.save_coding(coder_app, vid, clear=True)
        finally:
            coder_app.close()
    window.actions_by_name["agreement"].trigger()  # Model › Agreement between coders…
    dialog = window.agreement_dialog
    assert dialog.video_id() == vid
    assert dialog.rows() == [
        ("behaviour", "ann vs bob", "(all)", "0.500", "1.000", "1.000", "1.000"),
        ("behaviour", "ann vs bob", "walk", "0.500", "", "", ""),
        ("head", "ann vs bob", "(all)", "1.000", "1.000", "1.000", "1.000"),
        ("head", "ann vs bob", "up", "1.000", "", "", ""),
    ]
    dialog.grab().save(str(tmp_path / "agreement.png"))

    stack = window.project.undo_stack
    depth = stack.index()
    dialog.reference.setCurrentText("bob")
    qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert _labels(store.segments.list(vid)) == [("walk", 10, 20)]
    assert _labels(store.segments.list(vid, track_id=head.id)) == [("up", 30, 35)]
    assert stack.index() == depth + 1
    qtbot.waitUntil(lambda: _labels(window.current.segments) == [("walk", 10, 20)], timeout=5000)
    window.project.undo()
    assert store.segments.list(vid, all_tracks=True) == []

    window.team.set_annotator("carol")  # labels the video, saves her coding from the dialog
    assert dialog.save_button.text() == "Save my coding (carol)"
    actions.label_range(window.project.project, vid, 0, 10, walk.id)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert store.codings.list(vid)["carol"] == [("walk", 0, 10, "behaviour")]
    qtbot.waitUntil(lambda: "ann, bob, carol" in dialog.video.currentText(), timeout=5000)
    assert [r[1] for r in dialog.rows() if r[2] == "(all)"][:3] == [
        "ann vs bob",
        "ann vs carol",
        "bob vs carol",
    ]
    dialog.close()  # deleted with its connections: later codings reach no dead dialog
    qtbot.waitUntil(lambda: not window.findChildren(type(dialog)), timeout=5000)
    window.team.save_coding(vid)
    qtbot.wait(50)
