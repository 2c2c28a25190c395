"""Segments: one label per frame, exact undo through replace_range, gap filling, validation."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import StoreError
from core.store import Store, open_store
from core.store.records import NewSegment, Segment, SegmentSource

HUMAN, ACCEPTED = SegmentSource.HUMAN, SegmentSource.ACCEPTED


@pytest.fixture
def store(backend_url: str) -> Iterator[Store]:
    with open_store(backend_url) as opened:
        yield opened


@pytest.fixture
def ids(store: Store) -> dict[str, int]:
    """A video of 100 indexed frames and three classes."""
    video = store.videos.add("/v/a.mp4", "hash", 64, 48, 25.0, 100)
    store.videos.set_index(video.id, 100, np.arange(100) / 25.0)
    return {
        "video": video.id,
        "bg": store.classes.list()[0].id,
        "walk": store.classes.add("walk").id,
        "run": store.classes.add("run").id,
    }


def spans(segments: list[Segment]) -> list[tuple[str, int, int, str]]:
    return [(s.class_name, s.start_frame, s.end_frame, s.source.value) for s in segments]


def test_add_over_a_segment_splits_it(store: Store, ids: dict[str, int]) -> None:
    v = ids["video"]
    store.segments.add(v, NewSegment(ids["walk"], 0, 50))
    added = store.segments.add(v, NewSegment(ids["run"], 20, 30))
    assert (added.class_name, added.start_frame, added.end_frame) == ("run", 20, 30)
    assert spans(store.segments.list(v)) == [
        ("walk", 0, 20, "human"),
        ("run", 20, 30, "human"),
        ("walk", 30, 50, "human"),
    ]


def test_add_trims_segments_sticking_out_and_swallows_those_inside(store: Store, ids: dict[str, int]) -> None:
    v = ids["video"]
    store.segments.paint(
        v, [NewSegment(ids["walk"], 0, 20), NewSegment(ids["run"], 25, 30), NewSegment(ids["walk"], 40, 60)]
    )
    store.segments.add(v, NewSegment(ids["bg"], 10, 50))
    assert spans(store.segments.list(v)) == [
        ("walk", 0, 10, "human"),
        ("background", 10, 50, "human"),
        ("walk", 50, 60, "human"),
    ]


def test_touching_equal_labels_are_one_segment(store: Store, ids: dict[str, int]) -> None:
    v = ids["video"]
    store.segments.add(v, NewSegment(ids["walk"], 0, 10))
    joined = store.segments.add(v, NewSegment(ids["walk"], 10, 20))
    assert (joined.start_frame, joined.end_frame) == (0, 20)
    store.segments.add(v, NewSegment(ids["walk"], 20, 30, ACCEPTED))  # another source stays apart
    assert spans(store.segments.list(v)) == [("walk", 0, 20, "human"), ("walk", 20, 30, "accepted")]


def test_list_with_a_range_returns_overlapping_segments(store: Store, ids: dict[str, int]) -> None:
    v = ids["video"]
    store.segments.paint(
        v, [NewSegment(ids["walk"], 0, 10), NewSegment(ids["run"], 10, 20), NewSegment(ids["walk"], 30, 40)]
    )
    assert [s.start_frame for s in store.segments.list(v, 9, 31)] == [0, 10, 30]
    assert [s.start_frame for s in store.segments.list(v, 10, 30)] == [10]
    assert [s.start_frame for s in store.segments.list(v, start=25)] == [30]
    assert store.segments.list(v, 20, 30) == []


def test_replace_range_round_trips_an_undo_snapshot(store: Store, ids: dict[str, int]) -> None:
    v = ids["video"]
    store.segments.paint(
        v,
        [
            NewSegment(ids["walk"], 0, 40),
            NewSegment(ids["run"], 45, 55, ACCEPTED),
            NewSegment(ids["walk"], 60, 90),
        ],
    )
    original = store.segments.list(v)
    start, end = 30, 70
    snapshot = [
        NewSegment(s.class_id, max(s.start_frame, start), min(s.end_frame, end), s.source)
        for s in store.segments.list(v, start, end)
    ]
    store.segments.add(v, NewSegment(ids["bg"], start, end))
    store.segments.fill_unlabelled(v, 0, 100, ids["run"])
    assert spans(store.segments.list(v)) != spans(original)
    store.segments.replace_range(v, 0, 100, [])
    assert store.segments.list(v) == []
    store.segments.replace_range(
        v, 0, 100, [NewSegment(s.class_id, s.start_frame, s.end_frame, s.source) for s in original]
    )
    assert spans(store.segments.list(v)) == spans(original)

    # The undo of a single edit: only the edited range is restored.
    store.segments.add(v, NewSegment(ids["bg"], start, end))
    restored = store.segments.replace_range(v, start, end, snapshot)
    assert spans(store.segments.list(v)) == spans(original)
    assert spans(restored) == spans(store.segments.list(v, start, end))


def test_replace_range_refuses_segments_outside_the_range(store: Store, ids: dict[str, int]) -> None:
    with pytest.raises(StoreError, match="outside the range"):
        store.segments.replace_range(ids["video"], 10, 20, [NewSegment(ids["walk"], 5, 15)])


def test_fill_unlabelled_never_touches_existing_labels(store: Store, ids: dict[str, int]) -> None:
    v = ids["video"]
    store.segments.paint(v, [NewSegment(ids["walk"], 10, 20), NewSegment(ids["run"], 30, 40)])
    before = {s.id: s for s in store.segments.list(v)}
    result = store.segments.fill_unlabelled(v, 0, 50, ids["bg"], ACCEPTED)
    assert spans(result) == [
        ("background", 0, 10, "accepted"),
        ("walk", 10, 20, "human"),
        ("background", 20, 30, "accepted"),
        ("run", 30, 40, "human"),
        ("background", 40, 50, "accepted"),
    ]
    for segment in store.segments.list(v):
        if segment.id in before:
            assert segment == before[segment.id]
    assert store.segments.labelled_frames(v) == 50


def test_update_moves_and_relabels_keeping_exclusivity(store: Store, ids: dict[str, int]) -> None:
    v = ids["video"]
    store.segments.paint(v, [NewSegment(ids["walk"], 0, 10), NewSegment(ids["run"], 20, 30)])
    run = store.segments.list(v)[1]
    moved = store.segments.update(run.id, start_frame=5, end_frame=15)
    assert moved.id == run.id
    assert spans(store.segments.list(v)) == [("walk", 0, 5, "human"), ("run", 5, 15, "human")]
    accepted = store.segments.update(run.id, source=ACCEPTED, class_id=ids["bg"])
    assert (accepted.class_name, accepted.source) == ("background", ACCEPTED)
    with pytest.raises(StoreError, match="end after it starts"):
        store.segments.update(run.id, end_frame=2)


def test_remove_and_count(store: Store, ids: dict[str, int]) -> None:
    v = ids["video"]
    store.segments.paint(v, [NewSegment(ids["walk"], 0, 10), NewSegment(ids["run"], 20, 25)])
    assert store.segments.labelled_frames(v) == 15
    store.segments.remove(store.segments.list(v)[0].id)
    assert store.segments.labelled_frames(v) == 5
    with pytest.raises(StoreError, match="no segment"):
        store.segments.remove(12345)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (-1, 5, "before frame 0"),
        (5, 5, "end after it starts"),
        (9, 3, "end after it starts"),
        (90, 101, "past the end of the video, which has 100 frames"),
    ],
)
def test_invalid_ranges_are_refused(
    store: Store, ids: dict[str, int], start: int, end: int, message: str
) -> None:
    with pytest.raises(StoreError, match=message):
        store.segments.add(ids["video"], NewSegment(ids["walk"], start, end))
    assert store.segments.list(ids["video"]) == []


def test_unknown_class_or_video_is_refused(store: Store, ids: dict[str, int]) -> None:
    with pytest.raises(StoreError, match="no label class with id 999"):
        store.segments.add(ids["video"], NewSegment(999, 0, 5))
    with pytest.raises(StoreError, match="no video with id 999"):
        store.segments.add(999, NewSegment(ids["walk"], 0, 5))


def test_unindexed_video_accepts_frames_past_the_header_count(store: Store, ids: dict[str, int]) -> None:
    video = store.videos.add("/v/b.mp4", "other", 64, 48, 25.0, 10)  # header counts are only a guess
    assert store.segments.add(video.id, NewSegment(ids["walk"], 5, 20)).end_frame == 20


FRAMES = 40
paint_op = st.tuples(
    st.integers(0, FRAMES - 1),
    st.integers(1, 15),
    st.sampled_from(["bg", "walk", "run"]),
    st.sampled_from([HUMAN, ACCEPTED]),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(paint_op, min_size=1, max_size=4), min_size=1, max_size=5))
def test_paint_keeps_one_label_per_frame(
    store: Store, ids: dict[str, int], batches: list[list[tuple[int, int, str, SegmentSource]]]
) -> None:
    # Each example paints a fresh video, so examples cannot see each other's segments.
    v = store.videos.add(f"/v/{len(store.videos.list())}.mp4", "h", 64, 48, 25.0, FRAMES).id
    expected: list[tuple[int, SegmentSource] | None] = [None] * FRAMES
    for batch in batches:
        new = []
        for start, length, name, source in batch:
            end = min(start + length, FRAMES)
            new.append(NewSegment(ids[name], start, end, source))
            expected[start:end] = [(ids[name], source)] * (end - start)
        if len(new) == 1:
            store.segments.add(v, new[0])
        else:
            store.segments.paint(v, new)

    segments = store.segments.list(v)
    actual: list[tuple[int, SegmentSource] | None] = [None] * FRAMES
    for earlier, later in itertools.pairwise(segments):
        assert earlier.end_frame <= later.start_frame, "segments overlap"
        if earlier.end_frame == later.start_frame:
            assert (earlier.class_id, earlier.source) != (later.class_id, later.source), "not joined"
    for s in segments:
        actual[s.start_frame : s.end_frame] = [(s.class_id, s.source)] * (s.end_frame - s.start_frame)
    assert actual == expected
