"""Training-set rules: only trusted labels count, unlabelled is never background, splits never leak."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.analysis.windows import window_starts
from core.errors import TrainingError
from core.learning.training.dataset import (
    UNLABELLED,
    TrainingSet,
    VideoExamples,
    class_weights,
    window_labels,
)
from core.learning.training.split import EXCLUDED, TRAIN, VAL, make_split
from core.store.records import Segment, SegmentSource, Video

NOW = datetime.now(UTC)
NAMES = ("background", "a", "b")
INDEX = {n: i for i, n in enumerate(NAMES)}


def _seg(cls: str, start: int, end: int, video_id: int = 1) -> Segment:
    return Segment(0, video_id, INDEX[cls], cls, start, end, SegmentSource.HUMAN, NOW, NOW)


def _video(video_id: int, frames: int) -> Video:
    return Video(video_id, f"/v{video_id}.avi", f"h{video_id}", 112, 112, 25.0, frames, frames)


def test_window_label_is_the_class_at_its_centre_and_unlabelled_stays_unlabelled() -> None:
    starts = np.array([0, 8, 16, 24, 32])  # centres 8, 16, 24, 32, 40
    segments = [_seg("background", 0, 12), _seg("a", 12, 25), _seg("b", 38, 41)]
    labels = window_labels(segments, starts, 16, INDEX)
    # centre 32 lies in no segment: unlabelled, *not* background
    assert labels.tolist() == [0, 1, 1, UNLABELLED, 2]


def test_accepted_predictions_count_as_human_labels() -> None:
    seg = Segment(0, 1, 1, "a", 0, 40, SegmentSource.ACCEPTED, NOW, NOW)
    assert window_labels([seg], np.array([0]), 16, INDEX).tolist() == [1]


def test_class_weights_balance_and_skip_absent_classes() -> None:
    w = class_weights(np.array([90, 10, 0]))
    assert w[2] == 0.0
    assert w[0] * 90 == pytest.approx(w[1] * 10)
    assert (w * [90, 10, 0]).sum() / 100 == pytest.approx(1.0)  # the average example keeps weight 1


def _set(*videos: tuple[int, int, list[Segment]]) -> TrainingSet:
    items = []
    for vid, frames, segs in videos:
        starts = window_starts(frames, 16, 8)
        items.append(
            VideoExamples(_video(vid, frames), starts, window_labels(segs, starts, 16, INDEX), tuple(segs))
        )
    return TrainingSet(NAMES, 16, 8, items)


def test_two_labelled_videos_split_by_video() -> None:
    data = _set((1, 200, [_seg("a", 0, 200)]), (2, 200, [_seg("b", 0, 200, 2)]))
    split = make_split(data)
    assert split.kind == "videos" and len(split.val_video_ids) == 1
    held = split.val_video_ids[0]
    other = 3 - held
    assert (split.assign(held, data.videos[0].starts) == VAL).all()
    assert (split.assign(other, data.videos[0].starts) == TRAIN).all()
    assert split.to_json()["kind"] == "videos"


@settings(max_examples=60, deadline=None)
@example(frames=64, lo=0, fraction=0.1).via("the least the refusal message asks for")
@example(frames=64, lo=0, fraction=0.5).via("the least the refusal message asks for")
@given(
    frames=st.integers(min_value=64, max_value=4000),
    lo=st.integers(min_value=0, max_value=200),
    fraction=st.floats(min_value=0.1, max_value=0.5),
)
def test_time_block_split_keeps_a_window_length_between_train_and_validation(
    frames: int, lo: int, fraction: float
) -> None:
    data = _set(
        (1, frames + lo, [_seg("background", lo, lo + frames // 2), _seg("a", lo + frames // 2, lo + frames)])
    )
    # At least the 4 windows' worth of labelled frames the refusal asks for: it must split.
    split = make_split(data, val_fraction=fraction)
    assert split.kind == "time-blocks"
    starts = data.videos[0].starts
    roles = split.assign(1, starts)
    val_frames = np.zeros(frames + lo + 16, dtype=bool)
    for s in starts[roles == VAL]:
        val_frames[s : s + 16] = True
    for s in starts[roles == TRAIN]:
        near = val_frames[max(s - 16, 0) : s + 32]  # the window and one window length either side
        assert not near.any(), f"train window at {s} is within a window length of validation"
    assert (roles == VAL).any() and (roles == TRAIN).any()
    assert set(np.unique(roles)) <= {TRAIN, VAL, EXCLUDED}


def test_too_little_labelled_is_refused_with_a_sentence() -> None:
    data = _set((1, 24, [_seg("a", 0, 12), _seg("b", 12, 24)]))
    with pytest.raises(TrainingError, match="label at least"):
        make_split(data)
