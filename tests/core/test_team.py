"""Team mode: two apps (two Project objects on one URL) editing one store, on both backends."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from core.errors import ConflictError
from core.project import Project, actions, open_project
from core.project.remote import listening
from core.store.changes import SegmentsChanged
from core.store.imports import ImportedSegment
from core.store.work import WorkState

Labels = list[tuple[str, int, int]]


@pytest.fixture
def team(backend_url: str) -> Iterator[tuple[Project, Project, int, int]]:
    """Ann's and Bob's apps on one store, one 200-frame video and a class ``walk``."""
    ann = open_project(backend_url, annotator="ann")
    bob = open_project(backend_url, annotator="bob")
    video = ann.store.videos.add("/nonexistent/v.avi", "hash", 64, 48, 25.0, 200)
    ann.store.videos.set_index(video.id, 200, np.arange(200) / 25.0)
    walk = ann.store.classes.add("walk")
    try:
        yield ann, bob, video.id, walk.id
    finally:
        ann.close()
        bob.close()


def _labels(project: Project, video_id: int) -> Labels:
    return [(s.class_name, s.start_frame, s.end_frame) for s in project.store.segments.list(video_id)]


def test_second_edit_of_the_same_frames_is_a_conflict_and_keeps_the_first(
    team: tuple[Project, Project, int, int],
) -> None:
    ann, bob, video, walk = team
    run = bob.store.classes.add("run")
    ann_saw, bob_saw = ann.store.segments.list(video), bob.store.segments.list(video)
    actions.label_range(ann, video, 10, 50, walk, seen=ann_saw)
    refreshed: list[SegmentsChanged] = []
    bob.events.segments.connect(refreshed.append)
    with pytest.raises(ConflictError, match="Someone else changed frames 30–70"):
        actions.label_range(bob, video, 30, 70, run.id, seen=bob_saw)
    assert _labels(bob, video) == [("walk", 10, 50)]  # Ann's edit, untouched
    assert refreshed == [SegmentsChanged(video, 30, 70)]  # Bob's view is told to re-read
    # Having seen Ann's labels, Bob's edit goes through.
    actions.label_range(bob, video, 30, 70, run.id, seen=bob.store.segments.list(video))
    assert _labels(ann, video) == [("walk", 10, 30), ("run", 30, 70)]


def test_edits_of_other_ranges_or_videos_never_conflict(team: tuple[Project, Project, int, int]) -> None:
    ann, bob, video, walk = team
    other = ann.store.videos.add("/nonexistent/w.avi", "hash2", 64, 48, 25.0, 200)
    actions.label_range(ann, video, 0, 100, walk)  # one long segment both will see
    ann_saw, bob_saw = ann.store.segments.list(video), bob.store.segments.list(video)
    actions.clear_range(ann, video, 0, 10, seen=ann_saw)  # trims the long segment's head …
    actions.clear_range(bob, video, 90, 100, seen=bob_saw)  # … Bob its tail: different frames
    actions.label_range(bob, video, 150, 160, walk, seen=bob_saw)
    actions.label_range(bob, other.id, 10, 20, walk, seen=[])
    assert _labels(ann, video) == [("walk", 10, 90), ("walk", 150, 160)]
    assert _labels(ann, other.id) == [("walk", 10, 20)]


def test_undo_after_someone_else_changed_the_range_is_refused(
    team: tuple[Project, Project, int, int],
) -> None:
    ann, bob, video, walk = team
    change = actions.label_range(ann, video, 10, 50, walk)
    assert change is not None
    actions.clear_range(bob, video, 20, 30, seen=bob.store.segments.list(video))
    with pytest.raises(ConflictError, match="Cannot undo"):
        ann.undo(change)
    assert _labels(ann, video) == [("walk", 10, 20), ("walk", 30, 50)]  # Bob's edit stands
    # An edit elsewhere does not block undo.
    second = actions.label_range(ann, video, 100, 120, walk)
    actions.label_range(bob, video, 150, 160, walk)
    assert second is not None
    ann.undo(second)
    ann.redo(second)
    assert ("walk", 100, 120) in _labels(bob, video)


def test_versions_move_with_every_change(team: tuple[Project, Project, int, int]) -> None:
    ann, _bob, video, walk = team
    actions.label_range(ann, video, 10, 50, walk)
    (first,) = ann.store.segments.list(video)
    actions.clear_range(ann, video, 40, 50)
    (trimmed,) = ann.store.segments.list(video)
    assert trimmed.id == first.id and trimmed.version == first.version + 1


def test_concurrent_edits_of_one_range_lose_nothing(team: tuple[Project, Project, int, int]) -> None:
    """Both read the empty range, then edit at once: exactly one wins, the other is told."""
    ann, bob, video, walk = team
    results: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def edit(who: Project) -> None:
        saw = who.store.segments.list(video)
        barrier.wait()
        try:
            actions.label_range(who, video, 10, 50, walk, seen=saw)
            results[who.annotator] = "saved"
        except ConflictError:
            results[who.annotator] = "conflict"

    threads = [threading.Thread(target=edit, args=(p,)) for p in (ann, bob)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results.values()) == ["conflict", "saved"]
    log = ann.store.edit_log.list(video)
    assert [e.annotator for e in log] == [k for k, v in results.items() if v == "saved"]


def test_each_app_hears_the_others_edits(team: tuple[Project, Project, int, int]) -> None:
    ann, bob, video, walk = team
    heard: list[SegmentsChanged] = []
    bob.events.segments.connect(heard.append)
    with listening(bob, interval_s=0.05):
        actions.label_range(ann, video, 10, 50, walk)
        deadline = time.monotonic() + 10
        while not heard and time.monotonic() < deadline:
            time.sleep(0.02)
        own = actions.label_range(bob, video, 60, 70, walk)
        time.sleep(0.3)
    assert own is not None
    # Ann's edit once (from the feed), Bob's own once (from his commit, not again from the feed).
    assert heard == [SegmentsChanged(video, 10, 50), SegmentsChanged(video, 60, 70)]


def test_the_edit_log_says_who_changed_what_and_restores_it(team: tuple[Project, Project, int, int]) -> None:
    ann, bob, video, walk = team
    actions.label_range(ann, video, 10, 50, walk)
    actions.clear_range(bob, video, 0, 100)
    log = ann.store.edit_log.list(video)
    assert [(e.annotator, e.action, e.start_frame, e.end_frame) for e in log] == [
        ("ann", "Label frames", 10, 50),
        ("bob", "Delete label", 0, 100),
    ]
    assert _labels(ann, video) == []
    restored = actions.restore_logged(ann, log[1].id)
    assert restored is not None
    assert _labels(bob, video) == [("walk", 10, 50)]
    assert ann.store.edit_log.list(video)[-1].action == f"Restore edit {log[1].id}"


def test_claims_under_concurrency_never_give_a_video_twice(backend_url: str) -> None:
    setup = open_project(backend_url)
    for i in range(12):
        setup.store.videos.add(f"/nonexistent/{i}.avi", f"h{i}", 64, 48, 25.0, 100)
    coders = [open_project(backend_url, annotator=f"coder{i}") for i in range(4)]
    got: dict[str, list[int]] = {p.annotator: [] for p in coders}
    barrier = threading.Barrier(len(coders))

    def claim(project: Project) -> None:
        barrier.wait()
        for _ in range(5):
            assignment = project.store.work.claim_next(project.annotator)
            if assignment is None:
                return
            got[project.annotator].append(assignment.video_id)
            project.store.work.set_state(assignment.video_id, WorkState.LABELLED)

    threads = [threading.Thread(target=claim, args=(p,)) for p in coders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    claimed = [v for ids in got.values() for v in ids]
    assert sorted(claimed) == sorted({v.id for v in setup.store.videos.list()})  # all, none twice
    assert {a.claimed_by for a in setup.store.work.list()} == {
        p.annotator for p in coders if got[p.annotator]
    }
    for p in (setup, *coders):
        p.close()


def test_concurrent_edits_of_different_frames_of_one_segment_both_land(
    team: tuple[Project, Project, int, int],
) -> None:
    """Both cut a hole in the same long segment at once: different frames, so no conflict,
    although both change its row (the loser of that race is run again, transparently)."""
    ann, bob, video, walk = team
    actions.label_range(ann, video, 0, 200, walk)
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def cut(who: Project, start: int) -> None:
        saw = who.store.segments.list(video)
        barrier.wait()
        try:
            actions.clear_range(who, video, start, start + 10, seen=saw)
        except ConflictError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=cut, args=a) for a in ((ann, 20), (bob, 150))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert _labels(ann, video) == [("walk", 0, 20), ("walk", 30, 150), ("walk", 160, 200)]


def _track_labels(project: Project, video_id: int, track_id: int) -> Labels:
    return [
        (s.class_name, s.start_frame, s.end_frame)
        for s in project.store.segments.list(video_id, track_id=track_id)
    ]


def test_edits_in_other_tracks_never_conflict(team: tuple[Project, Project, int, int]) -> None:
    """Tracks overlap in time: what someone did in another track is no conflict, and an edit
    is checked, undone and restored against its own track only."""
    ann, bob, video, walk = team
    head = ann.store.tracks.add("head")
    nod = ann.store.classes.add("nod", track_id=head.id, modifiers=["left"])
    ann_saw_head = ann.store.segments.list(video, track_id=head.id)
    actions.label_range(bob, video, 10, 50, walk, seen=bob.store.segments.list(video))
    change = actions.label_range(  # the same frames, in another track
        ann, video, 20, 40, nod.id, modifiers=["left"], comment="slow", seen=ann_saw_head
    )
    assert change is not None
    with pytest.raises(ConflictError, match="Someone else changed frames 30–35"):
        actions.label_range(bob, video, 30, 35, nod.id, seen=ann_saw_head)  # a stale view of that track
    ann.undo(change)  # Bob's default-track labels on these frames do not block it
    assert _track_labels(ann, video, head.id) == []
    ann.redo(change)
    assert _track_labels(bob, video, head.id) == [("nod", 20, 40)]
    assert _labels(bob, video) == [("walk", 10, 50)]
    cleared = actions.clear_range(ann, video, 0, 100, head.id)
    assert cleared is not None
    actions.restore_logged(bob, ann.store.edit_log.list(video)[-1].id)
    assert _track_labels(ann, video, head.id) == [("nod", 20, 40)]
    (restored,) = ann.store.segments.list(video, track_id=head.id)
    assert (restored.modifiers, restored.comment) == (("left",), "slow")  # the log keeps them too
    assert _labels(ann, video) == [("walk", 10, 50)]


def test_imports_into_a_track_move_the_versions(team: tuple[Project, Project, int, int]) -> None:
    ann, _bob, video, _walk = team
    head = ann.store.tracks.add("head")
    nod = ann.store.classes.add("nod", track_id=head.id)
    actions.label_range(ann, video, 10, 50, nod.id)
    (first,) = ann.store.segments.list(video, track_id=head.id)
    ann.store.imports.apply([], {video: [ImportedSegment("nod", 40, 60, track="head")]})
    (joined,) = ann.store.segments.list(video, track_id=head.id)
    assert (joined.id, joined.start_frame, joined.end_frame) == (first.id, 10, 60)
    assert joined.version == first.version + 1  # the row changed: a view from before it names the old one


def test_codings_keep_every_track_and_the_reference_is_one_undo_step(
    team: tuple[Project, Project, int, int],
) -> None:
    """Two tracks whose classes share a name: each coder's coding keeps both, agreement is
    per track, and using a coding writes each track's own labels as one undoable action."""
    from core.labels.agreement import agreement_by_track

    ann, bob, video, walk = team
    head = ann.store.tracks.add("head")
    head_walk = ann.store.classes.add("walk", track_id=head.id)  # same name, other track
    actions.label_range(ann, video, 0, 40, walk)
    actions.label_range(ann, video, 50, 60, head_walk.id)
    actions.save_coding(ann, video, clear=True)
    assert ann.store.segments.list(video, all_tracks=True) == []  # both tracks cleared for Bob
    actions.label_range(bob, video, 10, 40, walk)
    actions.save_coding(bob, video)
    codings = bob.store.codings.list(video)
    assert sorted(codings["ann"]) == [("walk", 0, 40, "behaviour"), ("walk", 50, 60, "head")]
    by_track = agreement_by_track(codings, 200, [t.name for t in bob.store.tracks.list()])
    assert by_track["behaviour"][0].kappa > 0.5 and by_track["head"][0].kappa == pytest.approx(0.0)
    depth = len(bob.store.edit_log.list(video))
    change = actions.use_coding(bob, video, "ann")
    assert change is not None
    assert _labels(bob, video) == [("walk", 0, 40)]
    assert _track_labels(bob, video, head.id) == [("walk", 50, 60)]
    log = bob.store.edit_log.list(video)[depth:]
    assert [(e.annotator, e.action) for e in log] == [("bob", "Use ann's coding")] * 2  # one per track
    bob.undo(change)
    assert _labels(bob, video) == [("walk", 10, 40)] and _track_labels(bob, video, head.id) == []


def test_the_change_feed_is_pruned_as_it_ages(team: tuple[Project, Project, int, int]) -> None:
    """Rows older than the keep time go (a listening app prunes on its own); new ones stay and
    are still heard. An app that slept longer than rows are kept refreshes everything."""
    from datetime import timedelta

    from sqlalchemy import select, update

    from core.store.changes import ClassesChanged
    from core.store.orm import ChangeFeedRow, utc_now

    ann, bob, video, walk = team
    for start in range(0, 50, 10):
        actions.label_range(ann, video, start, start + 5, walk)
    total = ann.store.change_feed.count()
    assert total >= 5
    with ann.store.session_factory.begin() as session:  # five of them were written 20 minutes ago
        old = session.scalars(select(ChangeFeedRow.id).order_by(ChangeFeedRow.id).limit(5)).all()
        session.execute(
            update(ChangeFeedRow)
            .where(ChangeFeedRow.id.in_(old))
            .values(at=utc_now() - timedelta(minutes=20))
        )
    heard: list[object] = []
    bob.events.segments.connect(heard.append)
    bob.events.classes.connect(heard.append)
    with listening(bob, interval_s=0.05) as remote:
        deadline = time.monotonic() + 10
        while ann.store.change_feed.count() != total - 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ann.store.change_feed.count() == total - 5
        actions.label_range(ann, video, 100, 110, walk)
        while SegmentsChanged(video, 100, 110) not in heard and time.monotonic() < deadline:
            time.sleep(0.02)
        assert heard == [SegmentsChanged(video, 100, 110)]
        remote._last_wake -= 2 * remote.keep_s  # as if the machine had been asleep
        while ClassesChanged() not in heard and time.monotonic() < deadline:
            time.sleep(0.02)
    assert SegmentsChanged(video, 0, 2**31 - 1) in heard and ClassesChanged() in heard
    assert ann.store.change_feed.prune(keep_s=0) == total - 5 + 1  # and by hand: everything
