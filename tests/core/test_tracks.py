"""Tracks: overlapping lanes of labels, each exclusive within itself; point events; modifiers;
stores made before tracks keep everything (migration 0003)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from core.errors import StoreError
from core.project import actions
from core.project.project import Project
from core.store import Store, open_store
from core.store.migrate import alembic_config
from core.store.records import BACKGROUND, DEFAULT_TRACK, NewSegment, SegmentSource, TrackKind


@pytest.fixture
def bstore(backend_url: str) -> Iterator[Store]:
    with open_store(backend_url) as opened:
        yield opened


def _spans(store: Store, video_id: int, track_id: int | None = None) -> list[tuple[str, int, int]]:
    segs = store.segments.list(video_id, track_id=track_id)
    return [(s.class_name, s.start_frame, s.end_frame) for s in segs]


def test_a_store_made_before_tracks_keeps_every_class_and_label(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0002")
        conn.execute(
            text(
                "INSERT INTO label_classes (id, name, name_key, color, shortcut, position) VALUES "
                "(1, 'background', 'background', '#808080', NULL, 0), "
                "(2, 'Walk', 'walk', '#e6194b', 'w', 1), (3, 'rest', 'rest', '#3cb44b', NULL, 2)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO videos (id, path, content_hash, width, height, fps, header_frame_count, "
                "frame_count, added_at) VALUES (1, '/v/a.mp4', 'h', 64, 48, 25.0, 100, 100, '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO segments (video_id, class_id, start_frame, end_frame, source, created_at, "
                "updated_at) VALUES (1, 2, 0, 10, 'human', '2026-01-01', '2026-01-01'), "
                "(1, 3, 10, 30, 'accepted', '2026-01-01', '2026-01-01')"
            )
        )
    engine.dispose()

    with open_store(url) as store:
        tracks = store.tracks.list()
        assert [(t.name, t.kind) for t in tracks] == [(DEFAULT_TRACK, TrackKind.STATE)]
        classes = store.classes.list()
        assert [(c.id, c.name, c.color, c.shortcut, c.track_id) for c in classes] == [
            (1, BACKGROUND, "#808080", None, tracks[0].id),
            (2, "Walk", "#e6194b", "w", tracks[0].id),
            (3, "rest", "#3cb44b", None, tracks[0].id),
        ]
        segs = store.segments.list(1)
        assert [(s.class_name, s.start_frame, s.end_frame, s.source, s.modifiers) for s in segs] == [
            ("Walk", 0, 10, SegmentSource.HUMAN, ()),
            ("rest", 10, 30, SegmentSource.ACCEPTED, ()),
        ]
        # The migrated store works as before: a new class and a track can be added.
        assert store.classes.add("groom").track_id == tracks[0].id
        assert store.tracks.add("head").name == "head"


def test_tracks_overlap_but_each_stays_exclusive(bstore: Store) -> None:
    video = bstore.videos.add("/v/a.mp4", "h", 64, 48, 25.0, 100)
    body = bstore.tracks.default()
    head = bstore.tracks.add("head", subject="mouse 1")
    walk = bstore.classes.add("walk")
    sniff = bstore.classes.add("sniff", track_id=head.id)
    groom = bstore.classes.add("groom", track_id=head.id)

    bstore.segments.add(video.id, NewSegment(walk.id, 0, 50))
    bstore.segments.add(video.id, NewSegment(sniff.id, 10, 30))
    bstore.segments.add(video.id, NewSegment(groom.id, 20, 40))  # trims sniff, not walk

    assert _spans(bstore, video.id) == [("walk", 0, 50)]
    assert _spans(bstore, video.id, body.id) == [("walk", 0, 50)]
    assert _spans(bstore, video.id, head.id) == [("sniff", 10, 20), ("groom", 20, 40)]
    assert len(bstore.segments.list(video.id, all_tracks=True)) == 3
    assert bstore.tracks.get(head.id).subject == "mouse 1"

    bstore.segments.replace_range(video.id, 0, 100, [], head.id)  # clears the head track only
    assert _spans(bstore, video.id, head.id) == []
    assert _spans(bstore, video.id) == [("walk", 0, 50)]


def test_each_track_has_its_own_background_names_and_keys(bstore: Store) -> None:
    head = bstore.tracks.add("head")
    assert [c.name for c in bstore.classes.list(head.id)] == [BACKGROUND]
    bstore.classes.add("walk", shortcut="w")
    same = bstore.classes.add("Walk", shortcut="w", track_id=head.id)  # another track: allowed
    assert same.track_id == head.id
    with pytest.raises(StoreError, match="already exists"):
        bstore.classes.add("WALK", track_id=head.id)
    with pytest.raises(StoreError, match="already used"):
        bstore.classes.add("run", shortcut="w")
    with pytest.raises(StoreError, match="already exists"):
        bstore.tracks.add("Head")


def test_point_events_are_one_frame_and_never_join(bstore: Store) -> None:
    video = bstore.videos.add("/v/a.mp4", "h", 64, 48, 25.0, 100)
    events = bstore.tracks.add("events", TrackKind.POINT)
    jump = bstore.classes.add("jump", track_id=events.id)
    bstore.segments.add(video.id, NewSegment(jump.id, 5, 6))
    bstore.segments.add(video.id, NewSegment(jump.id, 6, 7))
    assert _spans(bstore, video.id, events.id) == [("jump", 5, 6), ("jump", 6, 7)]
    with pytest.raises(StoreError, match="point track"):
        bstore.segments.add(video.id, NewSegment(jump.id, 10, 12))
    assert len(bstore.segments.list(video.id, track_id=events.id)) == 2


def test_modifiers_and_comments_are_kept_and_checked(bstore: Store) -> None:
    video = bstore.videos.add("/v/a.mp4", "h", 64, 48, 25.0, 100)
    turn = bstore.classes.add("turn", modifiers=["left", "right"])
    assert turn.modifiers == ("left", "right")
    bstore.segments.add(video.id, NewSegment(turn.id, 0, 10, modifiers=("left",), comment="fast"))
    bstore.segments.add(video.id, NewSegment(turn.id, 10, 20, modifiers=("right",)))
    segs = bstore.segments.list(video.id)
    assert [(s.start_frame, s.end_frame, s.modifiers, s.comment) for s in segs] == [
        (0, 10, ("left",), "fast"),
        (10, 20, ("right",), None),  # a different modifier: not joined
    ]
    with pytest.raises(StoreError, match="no modifier 'up'"):
        bstore.segments.add(video.id, NewSegment(turn.id, 30, 40, modifiers=("up",)))


def test_one_ethogram_for_two_subjects(bstore: Store) -> None:
    project = Project(bstore)
    actions.add_class(project, "walk", modifiers=["fast"])
    body = bstore.tracks.default()
    actions.add_track(project, "mouse 2", subject="mouse 2", like=body.id)
    other = bstore.tracks.resolve("mouse 2")
    assert [c.name for c in bstore.classes.list(other.id)] == [BACKGROUND, "walk"]
    assert bstore.classes.by_name("walk", other.id).modifiers == ("fast",)  # type: ignore[union-attr]

    change = actions.add_class(project, "rear", track_id=other.id)  # the set gains it in both tracks
    assert [c.name for c in bstore.classes.list(body.id)] == [BACKGROUND, "walk", "rear"]
    assert [c.name for c in bstore.classes.list(other.id)] == [BACKGROUND, "walk", "rear"]
    assert change is not None
    project.undo(change)
    assert [c.name for c in bstore.classes.list(body.id)] == [BACKGROUND, "walk"]
    assert [c.name for c in bstore.classes.list(other.id)] == [BACKGROUND, "walk"]


def test_deleting_a_track_undoes_with_its_classes_and_labels(bstore: Store) -> None:
    project = Project(bstore)
    video = bstore.videos.add("/v/a.mp4", "h", 64, 48, 25.0, 100)
    head = bstore.tracks.add("head")
    sniff = bstore.classes.add("sniff", track_id=head.id, modifiers=["nose"])
    edit = actions.label_range(project, video.id, 10, 20, sniff.id, modifiers=["nose"])
    assert edit is not None
    change = actions.remove_track(project, head.id)
    assert change is not None
    assert [t.name for t in bstore.tracks.list()] == [DEFAULT_TRACK]
    project.undo(change)
    assert [t.name for t in bstore.tracks.list()] == [DEFAULT_TRACK, "head"]
    assert bstore.segments.list(video.id, track_id=head.id)[0].modifiers == ("nose",)
    project.undo(edit)  # the earlier edit still undoes: the class kept its id
    assert _spans(bstore, video.id, head.id) == []
    bstore.tracks.remove(head.id)
    with pytest.raises(StoreError, match="only track"):
        bstore.tracks.remove(bstore.tracks.default().id)


def test_label_edits_in_one_track_leave_the_others_alone(bstore: Store) -> None:
    project = Project(bstore)
    video = bstore.videos.add("/v/a.mp4", "h", 64, 48, 25.0, 100)
    walk = bstore.classes.add("walk")
    head = bstore.tracks.add("head")
    sniff = bstore.classes.add("sniff", track_id=head.id)
    actions.label_range(project, video.id, 0, 50, walk.id)
    edit = actions.label_range(project, video.id, 20, 30, sniff.id)
    assert edit is not None
    cleared = actions.clear_range(project, video.id, 0, 100, head.id)
    assert cleared is not None
    assert _spans(bstore, video.id) == [("walk", 0, 50)]
    project.undo(cleared)
    assert _spans(bstore, video.id, head.id) == [("sniff", 20, 30)]
    project.undo(edit)
    assert _spans(bstore, video.id, head.id) == []
    assert _spans(bstore, video.id) == [("walk", 0, 50)]
