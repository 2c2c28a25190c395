"""Undoable edits as range snapshots, and the segment queries the editor uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import StoreError
from core.labels import editing
from core.labels.overview import create_demo_project, video_statuses
from core.store import Store
from core.store.records import NewSegment, SegmentSource


@pytest.fixture
def video_id(store: Store) -> int:
    video = store.videos.add("/nonexistent/v.avi", "hash", 64, 48, 25.0, 100)
    store.videos.set_index(video.id, 100, __import__("numpy").arange(100) / 25.0)
    return video.id


def _labels(store: Store, video_id: int) -> list[tuple[str, int, int, str]]:
    return [(s.class_name, s.start_frame, s.end_frame, s.source.value) for s in store.segments.list(video_id)]


def test_every_edit_undoes_and_redoes_exactly(store: Store, video_id: int) -> None:
    walk = store.classes.add("walk")
    run = store.classes.add("run")
    store.segments.add(video_id, NewSegment(walk.id, 10, 30))
    store.segments.add(video_id, NewSegment(run.id, 40, 50, SegmentSource.ACCEPTED))
    original = _labels(store, video_id)
    seg = store.segments.list(video_id)[0]
    edits = [
        lambda: editing.label_range(store, video_id, 20, 45, run.id),
        lambda: editing.clear_range(store, video_id, 0, 100),
        lambda: editing.change_segment(store, seg, 5, 35),
        lambda: editing.change_segment(store, seg, 35, 55),
        lambda: editing.merge_with_next(store, video_id, store.segments.list(video_id), seg),
        lambda: editing.mark_reviewed(store, video_id, 0, 100),
    ]
    for make in edits:
        edit = make()
        after = _labels(store, video_id)
        assert edit.changed
        edit.undo(store)
        assert _labels(store, video_id) == original
        edit.redo(store)
        assert _labels(store, video_id) == after
        edit.undo(store)


def test_mark_reviewed_fills_only_gaps(store: Store, video_id: int) -> None:
    walk = store.classes.add("walk")
    store.segments.add(video_id, NewSegment(walk.id, 10, 20))
    editing.mark_reviewed(store, video_id, 0, 30)
    assert _labels(store, video_id) == [
        ("background", 0, 10, "human"),
        ("walk", 10, 20, "human"),
        ("background", 20, 30, "human"),
    ]


def test_merge_needs_a_later_segment(store: Store, video_id: int) -> None:
    walk = store.classes.add("walk")
    store.segments.add(video_id, NewSegment(walk.id, 10, 20))
    segs = store.segments.list(video_id)
    with pytest.raises(StoreError):
        editing.merge_with_next(store, video_id, segs, segs[0])


def test_boundaries_and_split(store: Store, video_id: int) -> None:
    walk = store.classes.add("walk")
    store.segments.add(video_id, NewSegment(walk.id, 10, 20))
    store.segments.add(video_id, NewSegment(walk.id, 30, 40))
    segs = store.segments.list(video_id)
    bounds = editing.boundaries(segs)
    assert bounds == [10, 20, 30, 40]
    assert editing.next_boundary(bounds, 10) == 20
    assert editing.next_boundary(bounds, 40) is None
    assert editing.previous_boundary(bounds, 10) is None
    assert editing.previous_boundary(bounds, 25) == 20
    assert editing.segment_at(segs, 35) == segs[1]
    assert editing.segment_at(segs, 25) is None
    assert editing.split_range(segs[0], 15) == (15, 20)
    assert editing.split_range(segs[0], 10) is None
    assert editing.labelled_fraction(segs, 100) == pytest.approx(0.2)


def test_demo_project_is_partly_labelled(store: Store, tmp_path: Path) -> None:
    video = create_demo_project(store, tmp_path, seconds=4, size=(64, 48))
    assert video.indexed and video.frame_count == 100
    assert {"ball_left", "ball_right", "flash"} <= {c.name for c in store.classes.list()}
    labelled = store.segments.labelled_frames(video.id)
    assert 0 < labelled < video.frame_count
    (status,) = video_statuses(store)
    assert not status.missing and "not analysed" in status.text()
    assert status.labelled_pct == pytest.approx(100 * labelled / 100)
