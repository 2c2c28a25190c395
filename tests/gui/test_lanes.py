"""Lane groups: a BORIS project imported through the app shows one group per track with its
labels (ticks for points); a header click collapses a group (remembered per project), a header
drag or its menu moves a track (one undo step); painting trims within a track, never across."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from core.store import Store
from gui.dialogs.import_labels import ImportDialog
from gui.widgets.lanes import RowKind
from tests.gui.conftest import click, drag, open_video
from tests.tracks_sources import BORIS_TRACKS, EAF_TRACKS, FPS, FRAMES, write_boris_project, write_eaf
from tests.videos import write_mjpeg_avi


def _labels(segments: Any) -> list[tuple[str, int, int]]:
    return [(s.class_name, s.start_frame, s.end_frame) for s in segments]


def _headers(window: Any) -> list[str]:
    return [name for _y, name in window.timeline.lane_axis._tickLevels[0]]


def _lane(window: Any, track_name: str) -> list[tuple[int, int]]:
    """What a track's labels row draws: (start, end) per span, (frame, frame + 1) per tick."""
    track = next(t for t in window.project.tracks if t.name == track_name)
    item = window.timeline.lane_items[(track.id, RowKind.LABELS)]
    if track.point:
        return [(int(x), int(x) + 1) for x in item.getData()[0]]
    return [(s.start, s.end) for s in item._spans]


def _viewport(window: Any) -> Any:
    return window.timeline.view.viewport()


def _imported(qtbot: Any, window: Any, tmp_path: Path, eaf: bool = False) -> Path:
    """A label file imported through the app's dialog, as File › Import labels… does."""
    clip = write_mjpeg_avi(tmp_path / "two mice.avi", FRAMES, size=(112, 112), fps=FPS)
    open_video(qtbot, window, clip)
    source = (
        write_eaf(clip, tmp_path / "mice.eaf") if eaf else write_boris_project(clip, tmp_path / "m.boris")
    )
    dialog = ImportDialog(window.project.store, [source])
    qtbot.addWidget(dialog)
    dialog.create_classes.setChecked(True)
    assert dialog.import_button.isEnabled()
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert dialog.result is not None
    window.project.labels_imported(dialog.result.summary())
    qtbot.waitUntil(lambda: len(window.project.tracks) == 1 + len(EAF_TRACKS if eaf else BORIS_TRACKS))
    return clip


def test_an_imported_boris_project_shows_a_lane_group_per_track(
    qtbot: Any, window: Any, store: Store, tmp_path: Path
) -> None:
    _imported(qtbot, window, tmp_path)
    tracks = store.tracks.list()
    assert sorted(t.name for t in tracks[1:]) == sorted(BORIS_TRACKS)
    marks = {"m1 events": " ·", "m2 events": " ·"}
    assert _headers(window) == ["▾ ● behaviour", *(f"▾ {t.name}{marks.get(t.name, '')}" for t in tracks[1:])]
    for name, (_kind, _subject, labels) in BORIS_TRACKS.items():
        assert _lane(window, name) == [(s, e) for _c, s, e in labels], name

    # Collapsing a group by clicking its header leaves its header alone; the choice is kept.
    timeline = window.timeline
    head = next(g for g in timeline.lanes.groups if g.track.name == "m1: head")
    QApplication.processEvents()  # the lanes are laid out before the mouse aims at them
    click(_viewport(window), timeline.lanes_point(FRAMES / 2, (head.y0 + head.header_y1) / 2))
    assert "▸ m1: head" in _headers(window)
    assert (head.track.id, RowKind.LABELS) not in timeline.lane_items
    assert window.current.frame == 0  # a header click only folds; it does not seek
    saved = QSettings().value(f"{window._project_key()}/collapsed_tracks")
    assert saved == str(head.track.id)
    timeline.set_collapsed(set())
    window._restore_lanes()  # what opening the project again does
    assert timeline.collapsed == {head.track.id}


def test_an_imported_eaf_shows_a_lane_group_per_tier(
    qtbot: Any, window: Any, store: Store, tmp_path: Path
) -> None:
    _imported(qtbot, window, tmp_path, eaf=True)
    names = [t.name for t in store.tracks.list()]
    subjects = {"body": "ann", "gaze": "bob", "clicks": "ann"}
    assert _headers(window) == [
        "▾ ● behaviour",
        *(f"▾ {n} ({subjects[n]}){' ·' if n == 'clicks' else ''}" for n in names[1:]),
    ]
    for name, (_kind, _subject, labels) in EAF_TRACKS.items():
        assert _lane(window, name) == [(s, e) for _c, s, e in labels], name


def test_moving_a_track_by_menu_or_header_drag_is_one_undo_step(
    qtbot: Any, window: Any, store: Store, tmp_path: Path
) -> None:
    _imported(qtbot, window, tmp_path)
    timeline = window.timeline
    order = [t.name for t in store.tracks.list()]
    last = store.tracks.list()[-1]
    menu = timeline.group_menu(last.id)
    up = next(a for a in menu.actions() if a.text() == "Move up")
    assert not next(a for a in menu.actions() if a.text() == "Move down").isEnabled()  # already last
    up.trigger()
    moved = [t.name for t in store.tracks.list()]
    assert moved == [*order[:-2], order[-1], order[-2]]
    assert [h.split(" ", 1)[1].rstrip(" ·") for h in _headers(window)[-2:]] == [order[-1], order[-2]]
    window.actions_by_name["undo"].trigger()
    assert [t.name for t in store.tracks.list()] == order

    # Drag the "m2: body" header onto the first group: the track moves to the top.
    QApplication.processEvents()
    groups = timeline.lanes.groups
    body2 = next(g for g in groups if g.track.name == "m2: body")
    start = timeline.lanes_point(FRAMES / 2, (body2.y0 + body2.header_y1) / 2)
    end = timeline.lanes_point(FRAMES / 2, (groups[0].y0 + groups[0].y1) / 2)
    drag(_viewport(window), start, end)
    assert store.tracks.default().name == "m2: body"
    assert _headers(window)[0] == "▾ m2: body"
    window.actions_by_name["undo"].trigger()
    assert [t.name for t in store.tracks.list()] == order


def test_painting_trims_within_a_track_and_never_across(
    qtbot: Any, window: Any, store: Store, tiny_video: Path
) -> None:
    from gui.widgets.timeline import Lane
    from tests.gui.conftest import TINY_FRAMES

    walk, rest = store.classes.add("walk"), store.classes.add("rest")
    head = store.tracks.add("head")
    sniff = store.classes.add("sniff", track_id=head.id)
    window.project.refresh_classes()
    open_video(qtbot, window, tiny_video)
    vid = window.current.video.id
    timeline, port = window.timeline, _viewport(window)
    window.project.set_current_class(walk.id)
    drag(port, timeline.viewport_point(2.5, Lane.LABELS), timeline.viewport_point(20.5, Lane.LABELS))
    window.project.set_current_class(rest.id)
    drag(port, timeline.viewport_point(30.5, Lane.LABELS), timeline.viewport_point(15.5, Lane.LABELS))
    assert _labels(store.segments.list(vid)) == [("walk", 2, 15), ("rest", 15, 31)]  # trimmed in its track

    window.project.set_active_track(head.id)
    window.project.set_current_class(sniff.id)
    drag(
        port,
        timeline.viewport_point(0.5, Lane.LABELS),
        timeline.viewport_point(TINY_FRAMES - 0.5, Lane.LABELS),
    )
    assert _labels(store.segments.list(vid, track_id=head.id)) == [("sniff", 0, TINY_FRAMES)]
    assert _labels(store.segments.list(vid)) == [
        ("walk", 2, 15),
        ("rest", 15, 31),
    ]  # another track: untouched
    assert _lane(window, "behaviour") == [(2, 15), (15, 31)]


def test_a_tracks_predictions_get_probability_and_event_rows_in_its_group(
    qtbot: Any, window: Any, store: Store, tiny_video: Path
) -> None:
    """The slot per-track predictions use: a group grows the two rows, and loses them again."""
    import numpy as np

    from gui.widgets.lanes import TrackPredictions
    from gui.widgets.segment_items import Span

    head = store.tracks.add("head")
    store.classes.add("sniff", track_id=head.id)
    window.project.refresh_classes()
    open_video(qtbot, window, tiny_video)
    timeline = window.timeline
    scores = np.zeros((40, 2), dtype=np.float32)
    scores[10:20, 1] = 0.9
    timeline.set_track_predictions(
        head.id, TrackPredictions(scores, ("#808080", "#ff0000"), 0, (Span(10, 20, "#ff0000"),))
    )
    group = next(g for g in timeline.lanes.groups if g.track.id == head.id)
    assert [r.kind for r in group.rows] == [RowKind.PROBABILITIES, RowKind.PREDICTED, RowKind.LABELS]
    assert [(s.start, s.end) for s in timeline.lane_items[(head.id, RowKind.PREDICTED)]._spans] == [(10, 20)]
    timeline.set_track_predictions(head.id, None)
    group = next(g for g in timeline.lanes.groups if g.track.id == head.id)
    assert [r.kind for r in group.rows] == [RowKind.LABELS]
