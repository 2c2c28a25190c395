"""Hand-worked post-processing cases, plus the invariants any event list must keep."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from core.analysis.postprocess import (
    PostprocessParams,
    events_for_class,
    predicted_events,
    smooth,
)


def _spans(scores: list[float], **params: float) -> list[tuple[int, int]]:
    found = events_for_class(np.array(scores), PostprocessParams(**params), 0)  # type: ignore[arg-type]
    return [(e.start_frame, e.end_frame) for e in found]


def test_a_dip_between_the_thresholds_stays_one_event() -> None:
    events = events_for_class(np.array([0.0, 0.6, 0.45, 0.42, 0.7, 0.3, 0.0]), PostprocessParams(), 2)
    assert [(e.class_index, e.start_frame, e.end_frame) for e in events] == [(2, 1, 5)]
    assert events[0].score == pytest.approx((0.6 + 0.45 + 0.42 + 0.7) / 4)


def test_a_rise_that_never_reaches_open_makes_no_event() -> None:
    assert _spans([0.0, 0.45, 0.49, 0.45, 0.0]) == []


def test_a_dip_below_close_splits_the_event() -> None:
    assert _spans([0.6, 0.39, 0.6]) == [(0, 1), (2, 3)]


def test_events_touching_the_ends_are_kept() -> None:
    assert _spans([0.9, 0.0, 0.9, 0.9]) == [(0, 1), (2, 4)]
    assert _spans([0.9] * 5) == [(0, 5)]


def test_unknown_frames_close_an_event() -> None:
    assert _spans([0.9, float("nan"), 0.9]) == [(0, 1), (2, 3)]


def test_min_length_drops_short_events() -> None:
    assert _spans([0.9, 0.0, 0.9, 0.9, 0.9, 0.0], min_length=2) == [(2, 5)]


def test_fill_gaps_joins_events_of_the_same_class() -> None:
    scores = [0.9, 0.9, 0.0, 0.0, 0.9, 0.9, 0.0, 0.0, 0.0, 0.9]
    assert _spans(scores, fill_gaps=1) == [(0, 2), (4, 6), (9, 10)]
    assert _spans(scores, fill_gaps=2) == [(0, 6), (9, 10)]
    assert _spans(scores, fill_gaps=3) == [(0, 10)]


def test_gaps_are_filled_before_short_events_are_dropped() -> None:
    assert _spans([0.9, 0.0, 0.9, 0.0], min_length=3, fill_gaps=1) == [(0, 3)]


def test_smoothing_runs_first() -> None:
    # One flickering frame is not an event once averaged with its neighbours.
    assert _spans([0.0, 0.0, 0.9, 0.0, 0.0], smoothing=3) == []
    # A one-frame dip is bridged: smoothed, the scores are [0.45, 0.6, 0.6, 0.9, 0.9].
    assert _spans([0.9, 0.0, 0.9, 0.9, 0.9]) == [(0, 1), (2, 5)]
    assert _spans([0.9, 0.0, 0.9, 0.9, 0.9], smoothing=3) == [(1, 5)]


def test_smooth_keeps_the_length_and_averages_what_exists() -> None:
    np.testing.assert_allclose(smooth(np.array([0.0, 0.0, 3.0, 0.0, 0.0]), 3), [0, 1, 1, 1, 0])
    np.testing.assert_allclose(smooth(np.array([3.0, 0.0, 0.0]), 3), [1.5, 1.0, 0.0])
    np.testing.assert_allclose(smooth(np.array([2.0, 4.0]), 9), [3.0, 3.0])
    two_d = np.arange(12, dtype=np.float64).reshape(6, 2)
    assert smooth(two_d, 5).shape == (6, 2)
    np.testing.assert_allclose(smooth(two_d, 3)[:, 1], [2, 3, 5, 7, 9, 10])


def test_smooth_skips_unknown_frames() -> None:
    nan = float("nan")
    np.testing.assert_allclose(smooth(np.array([nan, 1.0, nan, nan, nan]), 3), [1, 1, 1, nan, nan])
    np.testing.assert_allclose(smooth(np.array([1.0, 2.0]), 1), [1.0, 2.0])


@settings(max_examples=60, deadline=None)
@given(
    values=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 25), st.integers(1, 2)),
        elements=st.one_of(st.floats(0, 1), st.just(float("nan"))),
    ),
    half=st.integers(0, 6),
)
def test_smooth_matches_a_plain_nanmean(values: np.ndarray, half: int) -> None:
    got = smooth(values, 2 * half + 1)
    assert got.shape == values.shape
    for i in range(values.shape[0]):
        window = values[max(0, i - half) : i + half + 1]
        for c in range(values.shape[1]):
            known = window[:, c][~np.isnan(window[:, c])]
            expected = known.mean() if known.size else np.nan
            np.testing.assert_allclose(got[i, c], expected, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"smoothing": 2},
        {"smoothing": 0},
        {"open_threshold": 0.3, "close_threshold": 0.4},
        {"min_length": 0},
        {"fill_gaps": -1},
    ],
)
def test_bad_params_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PostprocessParams(**kwargs)  # type: ignore[arg-type]


def test_predicted_events_skips_background_and_sorts_by_start() -> None:
    scores = np.array(
        [
            [0.9, 0.0, 0.0],
            [0.9, 0.0, 0.8],
            [0.0, 0.9, 0.8],
            [0.0, 0.9, 0.0],
        ]
    )
    events = predicted_events(scores, PostprocessParams(), skip_classes={0})
    assert [(e.class_index, e.start_frame, e.end_frame) for e in events] == [(2, 1, 3), (1, 2, 4)]


def test_predicted_events_takes_params_per_class() -> None:
    scores = np.array([[0.9, 0.9], [0.0, 0.0], [0.9, 0.9]])
    params = {0: PostprocessParams(fill_gaps=1)}  # class 1 falls back to the defaults
    events = predicted_events(scores, params)
    assert [(e.class_index, e.start_frame, e.end_frame) for e in events] == [(0, 0, 3), (1, 0, 1), (1, 2, 3)]


@st.composite
def _params(draw: st.DrawFn) -> PostprocessParams:
    close = draw(st.floats(0, 1))
    return PostprocessParams(
        smoothing=2 * draw(st.integers(0, 4)) + 1,
        open_threshold=draw(st.floats(close, 1)),
        close_threshold=close,
        min_length=draw(st.integers(1, 6)),
        fill_gaps=draw(st.integers(0, 5)),
    )


@settings(max_examples=100, deadline=None)
@given(
    scores=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 80), st.integers(1, 3)),
        elements=st.one_of(st.floats(0, 1), st.just(float("nan"))),
    ),
    params=_params(),
)
def test_events_never_overlap_and_stay_in_the_video(scores: np.ndarray, params: PostprocessParams) -> None:
    events = predicted_events(scores, params)
    assert [e.start_frame for e in events] == sorted(e.start_frame for e in events)
    smoothed = smooth(scores, params.smoothing)
    for c in range(scores.shape[1]):
        mine = [e for e in events if e.class_index == c]
        for event in mine:
            assert 0 <= event.start_frame < event.end_frame <= scores.shape[0]
            assert event.end_frame - event.start_frame >= params.min_length
            assert np.nanmax(smoothed[event.start_frame : event.end_frame, c]) >= params.open_threshold
        for before, after in itertools.pairwise(mine):
            assert after.start_frame - before.end_frame > params.fill_gaps
