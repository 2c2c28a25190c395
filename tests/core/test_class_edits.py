"""Class edits come back with working inverses: what the GUI's undo stack relies on."""

from __future__ import annotations

import numpy as np

from core.labels import class_edits
from core.store.records import NewSegment, SegmentSource


def _spans(store, video_id: int) -> list[tuple[str, int, int]]:  # type: ignore[no-untyped-def]
    return [(s.class_name, s.start_frame, s.end_frame) for s in store.segments.list(video_id)]


def test_delete_undo_redo_restores_the_class_and_its_segments(store) -> None:  # type: ignore[no-untyped-def]
    video = store.videos.add("/v.mp4", "fp1:x", 160, 120, 25.0, 100)
    store.videos.set_index(video.id, 100, np.arange(100) / 25.0)
    walk = store.classes.add("walk")
    store.segments.paint(video.id, [NewSegment(walk.id, 10, 20, SegmentSource.HUMAN)])
    change = class_edits.delete_class(store, walk.id)
    assert store.classes.by_name("walk") is None and _spans(store, video.id) == []
    change.undo()
    assert store.classes.get(walk.id) == walk
    assert _spans(store, video.id) == [("walk", 10, 20)]
    change.redo()
    assert store.classes.by_name("walk") is None and _spans(store, video.id) == []


def test_rename_undo_puts_the_old_name_back_and_no_change_is_no_edit(store) -> None:  # type: ignore[no-untyped-def]
    walk = store.classes.add("walk", color="#112233")
    change = class_edits.rename_class(store, walk.id, "stroll")
    assert change is not None and store.classes.get(walk.id).name == "stroll"
    change.undo()
    assert store.classes.get(walk.id) == walk
    assert class_edits.recolour_class(store, walk.id, "#112233") is None
