"""Tracks in the app: one track is active, its classes take the class keys, a key moves
between tracks, and edits in one track never touch another's labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.store import Store
from core.store.records import TrackKind
from tests.gui.conftest import open_video


def _labels(segments: Any) -> list[tuple[str, int, int]]:
    return [(s.class_name, s.start_frame, s.end_frame) for s in segments]


def test_the_active_track_takes_the_class_keys_and_edits(
    qtbot: Any, window: Any, store: Store, tiny_video: Path
) -> None:
    walk = store.classes.add("walk")
    head = store.tracks.add("head", subject="m1")
    store.classes.add("sniff", track_id=head.id)
    jumps = store.tracks.add("jumps", TrackKind.POINT)
    store.classes.add("jump", track_id=jumps.id)
    window.project.refresh_classes()
    open_video(qtbot, window, tiny_video)
    vid = window.current.video.id
    assert window.project.active_track.name == "behaviour"
    window.current.create_segment(0, 10, walk.id)

    window.actions_by_name["next_track"].trigger()
    assert window.project.active_track.name == "head"
    assert [c.name for c in window.project.classes] == ["background", "sniff"]
    assert window.current.segments == []  # the timeline shows the head track's labels
    window.current.create_segment(5, 15)  # the current class is now the head track's
    assert _labels(store.segments.list(vid, track_id=head.id)) == [("sniff", 5, 15)]
    assert _labels(store.segments.list(vid)) == [("walk", 0, 10)]  # overlap never trims another track

    window.current.select_range(0, 20)
    window.current.delete_selection()
    assert _labels(store.segments.list(vid, track_id=head.id)) == []
    assert _labels(store.segments.list(vid)) == [("walk", 0, 10)]
    window.actions_by_name["undo"].trigger()
    assert _labels(store.segments.list(vid, track_id=head.id)) == [("sniff", 5, 15)]

    window.actions_by_name["next_track"].trigger()
    assert window.project.active_track.name == "jumps"
    window.current.create_segment(12, 30)  # on a point track a key drops one event
    assert _labels(store.segments.list(vid, track_id=jumps.id)) == [("jump", 12, 13)]
    assert _labels(window.current.segments) == [("jump", 12, 13)]

    timeline = window.timeline
    # Every track has a lane group, first track on top, the active one marked; its labels are
    # also the editable lane above.
    assert _headers(timeline) == ["▾ behaviour", "▾ head (m1)", "▾ ● jumps ·"]
    assert _labels(window.current.other_segments) == [("walk", 0, 10), ("sniff", 5, 15)]
    timeline.activate_at(timeline.lanes.groups[0].y1 - 0.5)  # the behaviour group's labels
    assert window.project.active_track.name == "behaviour"
    assert _labels(window.current.segments) == [("walk", 0, 10)]
    window.actions_by_name["previous_track"].trigger()
    assert window.project.active_track.name == "jumps"
    window.actions_by_name["next_track"].trigger()
    assert window.project.active_track.name == "behaviour"


def _headers(timeline: Any) -> list[str]:
    return [name for _y, name in timeline.lane_axis._tickLevels[0]]


def test_the_track_manager_adds_renames_and_deletes_tracks_undoably(
    qtbot: Any, window: Any, store: Store, monkeypatch: Any
) -> None:
    from PySide6.QtWidgets import QMessageBox

    from gui.dialogs.tracks import NewTrackDialog, TracksDialog

    walk = store.classes.add("walk")
    window.project.refresh_classes()
    dialog = TracksDialog(window.project, window)
    qtbot.addWidget(dialog)

    def fill(form: NewTrackDialog) -> int:
        form.name.setText("mouse 2")
        form.subject.setText("m2")
        form.like.setCurrentIndex(1)  # the classes of behaviour
        return 1

    monkeypatch.setattr(NewTrackDialog, "exec", fill)
    dialog.add()
    track = store.tracks.resolve("mouse 2")
    assert (track.subject, [c.name for c in store.classes.list(track.id)]) == ("m2", ["background", "walk"])
    assert dialog.table.rowCount() == 2 and dialog.table.item(1, 3).text() == "background, walk"

    dialog.table.selectRow(1)
    monkeypatch.setattr("gui.dialogs.tracks.QInputDialog.getText", lambda *_a: ("mouse two", True))
    dialog.rename()
    assert store.tracks.get(track.id).name == "mouse two" and store.tracks.get(track.id).subject == "m2"

    monkeypatch.setattr("gui.dialogs.tracks.QMessageBox.question", lambda *_a: QMessageBox.StandardButton.Yes)
    dialog.delete()
    assert [t.name for t in store.tracks.list()] == ["behaviour"]
    window.actions_by_name["undo"].trigger()
    assert [t.name for t in store.tracks.list()] == ["behaviour", "mouse two"]
    assert store.classes.by_name("walk").id == walk.id  # type: ignore[union-attr]


def test_the_track_manager_moves_tracks_and_lists_modifiers(qtbot: Any, window: Any, store: Store) -> None:
    from gui.dialogs.tracks import TracksDialog

    store.classes.add("walk", modifiers=["fast", "slow"])
    store.tracks.add("head")
    window.project.refresh_classes()
    dialog = TracksDialog(window.project, window)
    qtbot.addWidget(dialog)
    assert dialog.table.item(0, 3).text() == "background, walk (fast, slow)"
    dialog.table.selectRow(1)
    dialog.move(-1)
    assert [t.name for t in store.tracks.list()] == ["head", "behaviour"]
    assert dialog.table.item(0, 0).text() == "head" and dialog.table.currentRow() == 0
    window.actions_by_name["undo"].trigger()
    assert [t.name for t in store.tracks.list()] == ["behaviour", "head"]


def test_each_track_shows_its_heads_predictions_and_shift_a_accepts_the_active_ones(
    qtbot: Any, window: Any, store: Store, tiny_video: Path
) -> None:
    import numpy as np

    from core.model.spec import DEFAULT_SPEC
    from core.model.track_heads import TrackSpec, specs_to_json
    from core.store.records import ModelState, RunStatus

    store.classes.add("walk")
    light = store.tracks.add("light")
    store.classes.add("flash", track_id=light.id)
    onsets = store.tracks.add("onsets", TrackKind.POINT)
    store.classes.add("onset", track_id=onsets.id)
    window.project.refresh_classes()
    open_video(qtbot, window, tiny_video)
    video = window.current.video
    specs = (
        TrackSpec("behaviour", TrackKind.STATE, ("background", "walk")),
        TrackSpec("light", TrackKind.STATE, ("background", "flash")),
        TrackSpec("onsets", TrackKind.POINT, ("background", "onset")),
    )
    version = store.models.add(
        "three heads", "/nowhere.safetensors", specs[0].outputs, DEFAULT_SPEC.to_json(), "t",
        ModelState.READY, summary={"tracks": specs_to_json(specs)},
    )  # fmt: skip
    starts = np.arange(0, video.best_frame_count - 15, 4)
    probs = np.zeros((len(starts), 5), dtype=np.float32)
    probs[:, 0] = 1.0  # behaviour: nothing but background
    probs[:, 2] = 1.0
    probs[starts < 12, 2], probs[starts < 12, 3] = 0.0, 1.0  # light: a flash at the start
    probs[:, 4] = 0.0
    probs[2, 4] = 0.9  # onsets: one event, at the centre of window 2
    run = store.predictions.start_run(video.id, version.id, 4, len(starts))
    store.predictions.add_windows(run.id, starts, probs)
    store.predictions.finish(run.id, RunStatus.COMPLETE)
    store.models.set_active(version.id)
    qtbot.waitUntil(lambda: window.current.predictions is not None, timeout=10000)
    window.current.flush_prediction_reload()

    current = window.current
    assert current.predictions.track == "behaviour" and current.events == []
    assert {track for track in current.other_events} == {light.id, onsets.id}
    names, flashes = current.other_events[light.id]
    assert names == ("background", "flash") and [e.start_frame for e in flashes] == [0]
    assert [(e.start_frame, e.end_frame) for e in current.other_events[onsets.id][1]] == [(16, 17)]
    # … and the lane groups draw them in each track's predicted row (a point track's as ticks).
    from gui.widgets.lanes import RowKind

    items = window.timeline.lane_items
    assert [(x.start, x.end) for x in items[(light.id, RowKind.PREDICTED)]._spans] == [
        (e.start_frame, e.end_frame) for e in flashes
    ]
    assert list(items[(onsets.id, RowKind.PREDICTED)].getData()[0]) == [16.5]

    window.actions_by_name["next_track"].trigger()  # light: its head fills the probabilities lane
    qtbot.waitUntil(lambda: current.predictions is not None and current.predictions.track == "light")
    assert [e.class_index for e in current.events] == [1]
    assert set(current.other_events) == {store.tracks.default().id, onsets.id}
    window.timeline.set_visible_range(0, video.best_frame_count)
    window.actions_by_name["accept_visible"].trigger()
    assert [(s.class_name, s.source.value) for s in store.segments.list(video.id, track_id=light.id)] == [
        ("flash", "accepted")
    ]
    assert store.segments.list(video.id) == [] and store.segments.list(video.id, track_id=onsets.id) == []
