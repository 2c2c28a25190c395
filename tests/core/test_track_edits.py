"""The edits behind the lanes and the modifiers editor: moving a track, a label's modifiers and
comment, a class's modifiers, and class keys checked against each other; each one undo step."""

from __future__ import annotations

import pytest

from core.errors import StoreError
from core.project import actions
from core.project.project import Project
from core.store import Store
from core.store.records import NewSegment, TrackKind
from tests.core.interchange_helpers import add_video


def _order(store: Store) -> list[str]:
    return [t.name for t in store.tracks.list()]


def test_moving_a_track_changes_the_project_order_and_undoes(store: Store) -> None:
    project = Project(store)
    store.tracks.add("head")
    points = store.tracks.add("jumps", TrackKind.POINT)
    change = actions.move_track(project, points.id, -1)
    assert change is not None and _order(store) == ["behaviour", "jumps", "head"]
    assert actions.move_track(project, store.tracks.resolve("behaviour").id, -1) is None  # already first
    change.undo()
    assert _order(store) == ["behaviour", "head", "jumps"]
    change.redo()
    assert _order(store) == ["behaviour", "jumps", "head"]
    actions.move_track(project, points.id, -5)  # the first track is what commands mean by none
    assert store.tracks.default().name == "jumps"


def test_a_label_gets_modifiers_and_a_comment_in_one_undoable_edit(store: Store) -> None:
    project = Project(store)
    video = add_video(store)
    walk = store.classes.add("walk", modifiers=["fast", "slow"])
    [seg] = store.segments.paint(video.id, [NewSegment(walk.id, 10, 20)])
    change = actions.set_notes(project, seg, ["slow"], "  limps  ")
    [after] = store.segments.list(video.id)
    assert (after.start_frame, after.end_frame, after.modifiers, after.comment) == (
        10,
        20,
        ("slow",),
        "limps",
    )
    assert change is not None
    change.undo()
    [undone] = store.segments.list(video.id)
    assert (undone.modifiers, undone.comment) == ((), None)
    with pytest.raises(StoreError, match="no modifier 'left'"):
        actions.set_notes(project, undone, ["left"], None)


def test_class_modifiers_follow_the_class_set_and_in_use_ones_stay(store: Store) -> None:
    project = Project(store)
    video = add_video(store)
    walk = store.classes.add("walk", modifiers=["fast"])
    twin = store.tracks.add("mouse 2", like=store.tracks.default().id)
    change = actions.set_class_modifiers(project, walk.id, ["fast", "slow"])
    assert change is not None
    assert store.classes.by_name("walk", twin.id).modifiers == ("fast", "slow")  # type: ignore[union-attr]
    change.undo()
    assert store.classes.by_name("walk", twin.id).modifiers == ("fast",)  # type: ignore[union-attr]
    store.segments.paint(video.id, [NewSegment(walk.id, 0, 5, modifiers=("fast",))])
    with pytest.raises(StoreError, match="'fast' is still carried by the label at frames 0–5"):
        actions.set_class_modifiers(project, walk.id, ["slow"])
    assert store.classes.get(walk.id).modifiers == ("fast",)  # nothing half-done
    with pytest.raises(StoreError, match=r"contains '\|'"):
        actions.set_class_modifiers(project, walk.id, ["fast", "left|right"])


def test_class_keys_are_checked_against_each_other_and_the_app_keys(store: Store) -> None:
    project = Project(store)
    walk = store.classes.add("walk")
    rest = store.classes.add("rest")
    reserved = {"Space": "Play / pause"}
    actions.set_class_shortcut(project, walk.id, "w", reserved)
    with pytest.raises(StoreError, match="'W' is used by “the class 'walk'”"):
        actions.set_class_shortcut(project, rest.id, "W", reserved)
    with pytest.raises(StoreError, match="Play / pause"):
        actions.add_class(project, "run", shortcut="space", reserved=reserved)
    head = store.tracks.add("head")  # another track's classes may reuse a key: keys act on the active track
    assert actions.add_class(project, "sniff", shortcut="w", reserved=reserved, track_id=head.id) is not None
