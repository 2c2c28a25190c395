"""Metrics against hand-worked examples (numbers derived on paper in the comments)."""

from __future__ import annotations

import numpy as np
import pytest

from core.learning.evaluation import (
    activitynet_map,
    frame_metrics,
    interpolated_ap,
    segment_f1,
    suggest_thresholds,
    tiou,
)


def test_frame_metrics_by_hand() -> None:
    # truth:  0 0 0 1 1 2 -1 ; pred: 0 0 1 1 2 2 0 (the -1 frame is unlabelled and ignored)
    m = frame_metrics(np.array([0, 0, 0, 1, 1, 2, -1]), np.array([0, 0, 1, 1, 2, 2, 0]), 3)
    assert m.frames == 6
    np.testing.assert_array_equal(m.confusion, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    np.testing.assert_allclose(m.precision, [1.0, 0.5, 0.5])
    np.testing.assert_allclose(m.recall, [2 / 3, 0.5, 1.0])
    np.testing.assert_allclose(m.f1, [0.8, 0.5, 2 / 3])
    assert m.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m.accuracy == pytest.approx(4 / 6)


def test_macro_f1_ignores_a_class_nobody_labelled_or_predicted() -> None:
    m = frame_metrics(np.array([0, 1]), np.array([0, 1]), 5)
    assert m.macro_f1 == 1.0


def test_tiou_is_in_continuous_time_without_plus_one() -> None:
    # [0, 10] vs [5, 15]: intersection 5, union 15 (a frame-count +1 would give 6/16).
    assert tiou((5.0, 15.0), np.array([[0.0, 10.0]]))[0] == pytest.approx(1 / 3)


def test_segment_f1_by_hand() -> None:
    truth = [(1, 0, 10), (1, 20, 30), (2, 40, 50)]
    # hits (1,0,10) exactly; (1,22,30) has tIoU 0.8; a second hit on (1,0,10) is a false positive;
    # class 2 is predicted at a place with tIoU 0 → FP; (2,40,50) missed → FN.
    predicted = [(1, 0, 10), (1, 22, 30), (1, 1, 10), (2, 60, 70)]
    # @0.5: tp 2, fp 2, fn 1 → P 0.5, R 2/3 → F1 4/7
    assert segment_f1(truth, predicted, 0.5) == pytest.approx(4 / 7)
    # @0.85: the 0.8 hit fails → tp 1, fp 3, fn 2 → P .25 R 1/3 → F1 2/7
    assert segment_f1(truth, predicted, 0.85) == pytest.approx(2 / 7)


def test_interpolated_ap_all_points() -> None:
    # precision [1, .5, 2/3], recall [.5, .5, 1]: envelope [1, 2/3, 2/3] → .5*1 + .5*(2/3)
    assert interpolated_ap(np.array([1.0, 0.5, 2 / 3]), np.array([0.5, 0.5, 1.0])) == pytest.approx(5 / 6)


def _gt(**videos: list[tuple[float, float, str]]) -> dict:
    return {
        "database": {
            v: {"subset": "validation", "annotations": [{"segment": [s, e], "label": c} for s, e, c in anns]}
            for v, anns in videos.items()
        }
    }


def _pred(**videos: list[tuple[float, float, str, float]]) -> dict:
    return {
        "results": {
            v: [{"segment": [s, e], "label": c, "score": p} for s, e, c, p in items]
            for v, items in videos.items()
        }
    }


def test_activitynet_map_hand_worked() -> None:
    gt = _gt(a=[(0, 10, "jump"), (20, 30, "jump")])
    # ranked: exact hit (tIoU 1), [21, 30] (tIoU .9), a miss in another video (FP: no GT there).
    pred = _pred(a=[(0, 10, "jump", 0.9), (21, 30, "jump", 0.8)], b=[(0, 10, "jump", 0.7)])
    result = activitynet_map(gt, pred, tiou_thresholds=[0.5, 0.95])
    # @0.5: TP TP FP → P [1 1 2/3], R [.5 1 1] → AP 1
    assert result[0.5] == pytest.approx(1.0)
    # @0.95: TP FP FP → P [1 .5 1/3], R [.5 .5 .5] → AP .5 (recall never passes .5)
    assert result[0.95] == pytest.approx(0.5)


def test_activitynet_map_greedy_by_score_and_one_match_per_ground_truth() -> None:
    gt = _gt(a=[(0, 10, "x")])
    # The lower-scored prediction overlaps better, but the higher-scored one takes the GT first;
    # the better one is then a duplicate → FP. P [1 .5], R [1 1] → AP 1 at 0.5.
    pred = _pred(a=[(0, 8, "x", 0.9), (0, 10, "x", 0.5)])
    assert activitynet_map(gt, pred, [0.5])[0.5] == pytest.approx(1.0)
    # At 0.85 the first (tIoU .8) fails, the second matches: FP TP → P [0 .5] R [0 1] → AP .5
    assert activitynet_map(gt, pred, [0.85])[0.85] == pytest.approx(0.5)


def test_activitynet_map_averages_over_ground_truth_classes_only() -> None:
    gt = _gt(a=[(0, 10, "x"), (20, 30, "y")])
    pred = _pred(a=[(0, 10, "x", 0.9), (40, 50, "z", 0.9)])  # y never predicted (AP 0); z not in GT
    assert activitynet_map(gt, pred, [0.5])[0.5] == pytest.approx(0.5)


def test_activitynet_map_subset_filter() -> None:
    gt = _gt(a=[(0, 10, "x")])
    gt["database"]["a"]["subset"] = "training"
    gt["database"]["b"] = {"subset": "validation", "annotations": [{"segment": [0, 10], "label": "x"}]}
    pred = _pred(b=[(0, 10, "x", 1.0)])
    assert activitynet_map(gt, pred, [0.5], subset="validation")[0.5] == pytest.approx(1.0)
    assert activitynet_map(gt, pred, [0.5])[0.5] == pytest.approx(0.5)


def test_threshold_suggestion_separates_the_classes() -> None:
    scores = np.array([[0.9, 0.1], [0.7, 0.3], [0.4, 0.6], [0.2, 0.8], [0.5, 0.5]])
    labels = np.array([0, 0, 1, 1, -1])
    thresholds = suggest_thresholds(scores, labels)
    assert thresholds[0] == pytest.approx(0.7)  # class 0 positives score .9/.7, negatives .4/.2
    assert thresholds[1] == pytest.approx(0.6)
