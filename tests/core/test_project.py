"""One user action = one unit of work: a failure midway changes nothing, and events follow commits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from core.analysis.postprocess import PredictedEvent
from core.errors import StoreError
from core.project import Project, actions
from core.store import Store
from core.store.changes import ClassesChanged, SegmentsChanged
from core.store.records import NewSegment, SegmentSource


@pytest.fixture
def project(store: Store) -> Iterator[Project]:
    yield Project(store)


@pytest.fixture
def video_id(store: Store) -> int:
    video = store.videos.add("/nonexistent/v.avi", "hash", 64, 48, 25.0, 100)
    store.videos.set_index(video.id, 100, np.arange(100) / 25.0)
    return video.id


def _labels(store: Store, video_id: int) -> list[tuple[str, int, int, str]]:
    return [(s.class_name, s.start_frame, s.end_frame, s.source.value) for s in store.segments.list(video_id)]


def _fail_on_call(monkeypatch: pytest.MonkeyPatch, obj: object, name: str, on_call: int = 1) -> None:
    """Make ``obj.name`` raise on its ``on_call``-th call (earlier calls write as usual)."""
    original: Callable[..., Any] = getattr(obj, name)
    calls = [0]

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] >= on_call:
            raise StoreError("Could not save the segment: the disk reported a problem (injected).")
        return original(*args, **kwargs)

    monkeypatch.setattr(obj, name, failing)


def _record(project: Project) -> list[object]:
    heard: list[object] = []
    for emitter in (project.events.segments, project.events.classes, project.events.predictions):
        emitter.connect(heard.append)
    return heard


def test_resizing_a_segment_that_fails_after_clearing_it_changes_nothing(
    project: Project, store: Store, video_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    walk = store.classes.add("walk")
    seg = store.segments.add(video_id, NewSegment(walk.id, 10, 30))
    before = _labels(store, video_id)
    heard = _record(project)
    # change_segment clears the old range, then paints the new one: the paint fails.
    _fail_on_call(monkeypatch, store.segments, "add")
    with pytest.raises(StoreError, match="injected"):
        actions.change_segment(project, seg, 20, 50)
    assert _labels(store, video_id) == before
    assert heard == []


def test_a_committed_edit_announces_its_range_once_and_undo_restores_it(
    project: Project, store: Store, video_id: int
) -> None:
    walk = store.classes.add("walk")
    seg = store.segments.add(video_id, NewSegment(walk.id, 10, 30))
    heard = _record(project)
    change = actions.change_segment(project, seg, 20, 50)
    assert change is not None and _labels(store, video_id) == [("walk", 20, 50, "human")]
    assert heard == [SegmentsChanged(video_id, 10, 50)]
    project.undo(change)
    assert _labels(store, video_id) == [("walk", 10, 30, "human")]
    project.redo(change)
    assert _labels(store, video_id) == [("walk", 20, 50, "human")]
    assert len(heard) == 3


def test_an_undo_that_fails_midway_changes_nothing(
    project: Project, store: Store, video_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    walk = store.classes.add("walk")
    store.segments.paint(video_id, [NewSegment(walk.id, 10, 20), NewSegment(walk.id, 40, 60)])
    other = store.videos.add("/nonexistent/w.avi", "hash2", 64, 48, 25.0, 100)
    store.videos.set_index(other.id, 100, np.arange(100) / 25.0)
    store.segments.add(other.id, NewSegment(walk.id, 5, 9))
    change = actions.delete_class(project, walk.id)
    assert change is not None and store.classes.by_name("walk") is None
    # Undo re-creates the class, then repaints each video's segments: the second video fails.
    _fail_on_call(monkeypatch, store.segments, "paint", on_call=2)
    with pytest.raises(StoreError):
        project.undo(change)
    assert store.classes.by_name("walk") is None
    assert _labels(store, video_id) == [] and _labels(store, other.id) == []


def test_deleting_a_class_with_reassignment_is_one_change_with_events(
    project: Project, store: Store, video_id: int
) -> None:
    walk, run = store.classes.add("walk"), store.classes.add("run")
    store.segments.paint(video_id, [NewSegment(walk.id, 10, 20), NewSegment(run.id, 20, 30)])
    heard = _record(project)
    change = actions.delete_class(project, walk.id, reassign_to=run.id)
    assert change is not None and _labels(store, video_id) == [("run", 10, 30, "human")]
    assert ClassesChanged() in heard and SegmentsChanged(video_id, 10, 20) in heard
    project.undo(change)
    assert _labels(store, video_id) == [("walk", 10, 20, "human"), ("run", 20, 30, "human")]


def test_fill_unlabelled_that_fails_on_its_second_event_writes_none(
    project: Project, store: Store, video_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.classes.add("walk")
    events = [PredictedEvent(0, 10, 20, 0.9), PredictedEvent(0, 40, 50, 0.8)]
    _fail_on_call(monkeypatch, store.segments, "fill_unlabelled", on_call=2)
    with pytest.raises(StoreError):
        actions.accept(project, video_id, events, ["walk"], 0, 100, fill_unlabelled_only=True)
    assert _labels(store, video_id) == []
    monkeypatch.undo()
    change = actions.accept(project, video_id, events, ["walk"], 0, 100, fill_unlabelled_only=True)
    assert change is not None
    assert _labels(store, video_id) == [("walk", 10, 20, "accepted"), ("walk", 40, 50, "accepted")]
    project.undo(change)
    assert _labels(store, video_id) == []


def test_an_edit_that_changes_nothing_is_no_undo_step(project: Project, store: Store, video_id: int) -> None:
    walk = store.classes.add("walk")
    store.segments.add(video_id, NewSegment(walk.id, 10, 30, SegmentSource.HUMAN))
    assert actions.label_range(project, video_id, 10, 30, walk.id) is None


def test_writes_from_another_thread_are_announced_too(project: Project, store: Store, video_id: int) -> None:
    import threading

    walk = store.classes.add("walk")
    heard = _record(project)
    thread = threading.Thread(target=lambda: store.segments.add(video_id, NewSegment(walk.id, 1, 2)))
    thread.start()
    thread.join()
    assert heard == [SegmentsChanged(video_id, 1, 2)]


def test_class_keys_that_clash_with_an_action_or_a_position_are_refused(
    project: Project, store: Store
) -> None:
    walk = store.classes.add("walk")
    reserved = {"Space": "Play / pause", "Shift+A": "Accept predicted events in view", "I": "Set in point"}
    for key, why in (("space", "Play"), ("a+shift", "Accept"), ("i", "in point"), ("3", "position")):
        with pytest.raises(StoreError, match=why):
            actions.set_class_shortcut(project, walk.id, key, reserved)
    assert store.classes.get(walk.id).shortcut is None
    change = actions.set_class_shortcut(project, walk.id, "W", reserved)
    assert change is not None and store.classes.get(walk.id).shortcut == "W"


def test_a_failing_action_changes_nothing_on_every_backend(
    backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.project import open_project

    project = open_project(backend_url)
    try:
        store = project.store
        video = store.videos.add("/nonexistent/v.avi", "hash", 64, 48, 25.0, 100)
        store.videos.set_index(video.id, 100, np.arange(100) / 25.0)
        walk, run = store.classes.add("walk"), store.classes.add("run")
        store.segments.paint(video.id, [NewSegment(walk.id, 10, 20), NewSegment(run.id, 30, 40)])
        before = _labels(store, video.id)
        _fail_on_call(monkeypatch, store.segments, "add")
        seg = store.segments.list(video.id)[0]
        with pytest.raises(StoreError):
            actions.change_segment(project, seg, 25, 35)
        assert _labels(store, video.id) == before
        monkeypatch.undo()
        change = actions.delete_class(project, walk.id, reassign_to=run.id)
        assert change is not None and _labels(store, video.id) == [
            ("run", 10, 20, "human"),
            ("run", 30, 40, "human"),
        ]
        project.undo(change)
        assert _labels(store, video.id) == before
    finally:
        project.close()


def test_label_rules_are_atomic_even_when_called_without_a_project(
    store: Store, video_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.labels import editing

    walk = store.classes.add("walk")
    seg = store.segments.add(video_id, NewSegment(walk.id, 10, 30))
    _fail_on_call(monkeypatch, store.segments, "add")
    with pytest.raises(StoreError):
        editing.change_segment(store, seg, 20, 50)
    assert _labels(store, video_id) == [("walk", 10, 30, "human")]
