"""Windows must cover every frame exactly as the hand-worked cases say, for any length."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.analysis.windows import centre_frames, frame_scores, window_starts


@pytest.mark.parametrize(
    ("frame_count", "stride", "expected"),
    [
        (16, 8, [0]),
        (17, 8, [0, 1]),
        (40, 8, [0, 8, 16, 24]),
        (41, 8, [0, 8, 16, 24, 25]),
        (5, 8, [0]),
        (1, 8, [0]),
        (40, 16, [0, 16, 24]),
        (20, 1, [0, 1, 2, 3, 4]),
    ],
)
def test_hand_worked_starts(frame_count: int, stride: int, expected: list[int]) -> None:
    starts = window_starts(frame_count, 16, stride)
    assert starts.dtype == np.int64
    assert starts.tolist() == expected


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"frame_count": 0}, "frame_count"),
        ({"frame_count": 10, "stride": 0}, "stride"),
        ({"frame_count": 10, "length": 0}, "length"),
    ],
)
def test_bad_arguments_name_the_culprit(kwargs: dict[str, int], name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be at least 1"):
        window_starts(**kwargs)


def _coverage(starts: np.ndarray, length: int, frame_count: int) -> np.ndarray:
    covered = np.zeros(frame_count, dtype=np.int64)
    for start in starts:
        covered[start : start + length] += 1
    return covered


@settings(deadline=None)  # the 2 shared cores make per-example timing meaningless
@given(
    frame_count=st.integers(1, 600),
    length=st.integers(1, 40),
    stride_fraction=st.floats(0.0, 1.0),
)
def test_windows_tile_any_video(frame_count: int, length: int, stride_fraction: float) -> None:
    stride = max(1, round(stride_fraction * length))
    starts = window_starts(frame_count, length, stride)
    assert starts[0] == 0
    assert np.all(np.diff(starts) > 0)
    assert np.all(np.diff(starts) <= stride)
    if frame_count >= length:
        assert starts[-1] + length == frame_count
        assert np.all(starts + length <= frame_count)
    else:
        assert starts.tolist() == [0]
    assert np.all(_coverage(starts, length, frame_count) >= 1)


def test_frame_scores_hand_worked() -> None:
    probs = np.array([[1.0, 0.0], [0.0, 1.0]])
    scores = frame_scores(np.array([0, 2]), probs, frame_count=6, length=4)
    expected = np.array([[1, 0], [1, 0], [0.5, 0.5], [0.5, 0.5], [0, 1], [0, 1]])
    np.testing.assert_allclose(scores, expected)


def test_uncovered_frames_are_nan() -> None:
    scores = frame_scores(np.array([4]), np.array([[0.25, 0.75]]), frame_count=10, length=3)
    assert np.isnan(scores[:4]).all() and np.isnan(scores[7:]).all()
    np.testing.assert_allclose(scores[4:7], [[0.25, 0.75]] * 3)
    assert np.isnan(frame_scores(np.array([], dtype=np.int64), np.zeros((0, 3)), 5)).all()


def test_padded_window_of_a_short_video_is_clipped() -> None:
    scores = frame_scores(window_starts(5), np.array([[0.2, 0.8]]), frame_count=5)
    assert scores.shape == (5, 2)
    np.testing.assert_allclose(scores, [[0.2, 0.8]] * 5)


def test_frame_scores_refuses_mismatched_probs() -> None:
    with pytest.raises(ValueError, match="one row per window"):
        frame_scores(np.array([0, 8]), np.zeros((3, 2)), frame_count=30)


@settings(deadline=None)  # the 2 shared cores make per-example timing meaningless
@given(
    frame_count=st.integers(1, 200),
    stride=st.integers(1, 16),
    classes=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_frame_scores_are_the_mean_of_covering_windows(
    frame_count: int, stride: int, classes: int, seed: int
) -> None:
    starts = window_starts(frame_count, 16, stride)
    probs = np.random.default_rng(seed).random((starts.size, classes))
    scores = frame_scores(starts, probs, frame_count)
    assert not np.isnan(scores).any()
    for frame in range(0, frame_count, 7):
        covering = (starts <= frame) & (frame < starts + 16)
        np.testing.assert_allclose(scores[frame], probs[covering].mean(axis=0), rtol=1e-9, atol=1e-12)


def test_centre_frames() -> None:
    assert centre_frames(np.array([0, 8, 24])).tolist() == [8, 16, 32]
    assert centre_frames(np.array([0]), 16, frame_count=5).tolist() == [4]
    assert centre_frames(np.array([0, 2]), 4, frame_count=6).tolist() == [2, 4]
