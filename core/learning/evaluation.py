"""How good a model is against human labels: frame metrics, segment F1, ActivityNet mAP.

Pure numpy on plain arrays and dicts, so the GUI, the CLI, the training runner and outside
tools share one definition of every number. ``activitynet_map`` reproduces the official
ActivityNet detection evaluation (``eval_detection.py``) exactly, because people compare our
numbers with published ones: greedy matching by descending score against not-yet-matched
ground truth in order of descending tIoU, all-point interpolated AP, the mean over classes
present in the ground truth, and tIoU computed in seconds without the +1 of frame counts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MAP_TIOU_THRESHOLDS: tuple[float, ...] = tuple(float(t) for t in np.round(np.linspace(0.5, 0.95, 10), 2))
"""ActivityNet's standard 0.5:0.05:0.95."""
THUMOS_TIOU_THRESHOLDS: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7)
SEGMENT_F1_THRESHOLDS: tuple[float, ...] = (0.1, 0.25, 0.5)


@dataclass(frozen=True)
class FrameMetrics:
    """Per-class arrays are indexed by class; ``macro_f1`` averages the classes that occur."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray  # true frames per class
    confusion: np.ndarray  # [true, predicted] counts
    accuracy: float
    macro_f1: float
    frames: int


def frame_metrics(true: np.ndarray, pred: np.ndarray, n_classes: int, ignore: int = -1) -> FrameMetrics:
    """Frame (or window) level scores; entries where ``true == ignore`` (unlabelled) are skipped.

    Macro-F1 averages over classes that occur in the labels or the predictions, like
    scikit-learn's default, so a class nobody labelled and nobody predicted cannot dilute it.
    """
    t = np.asarray(true, dtype=np.int64).reshape(-1)
    p = np.asarray(pred, dtype=np.int64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"{len(t)} labels but {len(p)} predictions")
    keep = t != ignore
    t, p = t[keep], p[keep]
    confusion = np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    tp = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0).astype(np.float64)
    support = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = (support > 0) | (predicted > 0)
    macro = float(f1[present].mean()) if present.any() else 0.0
    accuracy = float(tp.sum() / len(t)) if len(t) else 0.0
    return FrameMetrics(precision, recall, f1, support, confusion, accuracy, macro, len(t))


def tiou(candidate: tuple[float, float], segments: np.ndarray) -> np.ndarray:
    """Temporal IoU of one [start, end] with each row of ``segments`` (no +1: continuous time)."""
    segs = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    inter = (np.minimum(candidate[1], segs[:, 1]) - np.maximum(candidate[0], segs[:, 0])).clip(0)
    union = (segs[:, 1] - segs[:, 0]) + (candidate[1] - candidate[0]) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


Interval = tuple[int, float, float]
"""(class, start, end); start and end in frames or seconds, as long as both sides agree."""


def segment_f1(truth: Sequence[Interval], predicted: Sequence[Interval], threshold: float) -> float:
    """F1@threshold as in MS-TCN: each prediction hits the best-overlapping true segment of
    its class if the tIoU reaches the threshold and that segment was not hit before."""
    tp = fp = 0
    used: set[int] = set()
    truth_arr = [(c, s, e) for c, s, e in truth]
    for cls, start, end in predicted:
        idx = [i for i, (c, _, _) in enumerate(truth_arr) if c == cls]
        if not idx:
            fp += 1
            continue
        overlaps = tiou((start, end), np.array([truth_arr[i][1:] for i in idx]))
        best = int(np.argmax(overlaps))
        if overlaps[best] >= threshold and idx[best] not in used:
            tp += 1
            used.add(idx[best])
        else:
            fp += 1
    fn = len(truth_arr) - len(used)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def segment_f1_scores(
    truth: Sequence[Interval],
    predicted: Sequence[Interval],
    thresholds: Sequence[float] = SEGMENT_F1_THRESHOLDS,
) -> dict[float, float]:
    return {float(t): segment_f1(truth, predicted, t) for t in thresholds}


def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """All-point interpolated AP, as ActivityNet's ``interpolated_prec_rec``."""
    mprec = np.hstack([[0.0], precision, [0.0]])
    mrec = np.hstack([[0.0], recall, [1.0]])
    for i in range(len(mprec) - 1)[::-1]:
        mprec[i] = max(mprec[i], mprec[i + 1])
    idx = np.where(mrec[1:] != mrec[0:-1])[0] + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


def _average_precision(
    truth: list[tuple[str, float, float]],
    preds: list[tuple[str, float, float, float]],
    thresholds: np.ndarray,
) -> np.ndarray:
    """AP of one class at each threshold (ActivityNet ``compute_average_precision_detection``)."""
    ap = np.zeros(len(thresholds))
    if not preds:
        return ap
    npos = float(len(truth))
    lock = -np.ones((len(thresholds), len(truth)))
    order = np.array([p[3] for p in preds]).argsort()[::-1]  # the official order, ties included
    tp = np.zeros((len(thresholds), len(preds)))
    fp = np.zeros((len(thresholds), len(preds)))
    by_video: dict[str, list[int]] = {}
    for i, (video, _, _) in enumerate(truth):
        by_video.setdefault(video, []).append(i)
    for rank, pi in enumerate(order):
        video, start, end, _ = preds[pi]
        gt_idx = by_video.get(video)
        if not gt_idx:
            fp[:, rank] = 1
            continue
        overlaps = tiou((start, end), np.array([truth[i][1:] for i in gt_idx]))
        best_first = overlaps.argsort()[::-1]
        for t, threshold in enumerate(thresholds):
            for j in best_first:
                if overlaps[j] < threshold:
                    fp[t, rank] = 1
                    break
                if lock[t, gt_idx[j]] >= 0:
                    continue
                tp[t, rank] = 1
                lock[t, gt_idx[j]] = rank
                break
            if fp[t, rank] == 0 and tp[t, rank] == 0:
                fp[t, rank] = 1
    tp_cum = np.cumsum(tp, axis=1).astype(np.float64)
    fp_cum = np.cumsum(fp, axis=1).astype(np.float64)
    recall = tp_cum / npos
    precision = tp_cum / (tp_cum + fp_cum)
    for t in range(len(thresholds)):
        ap[t] = interpolated_ap(precision[t, :], recall[t, :])
    return ap


def activitynet_map(
    ground_truth: Mapping[str, Any],
    predictions: Mapping[str, Any],
    tiou_thresholds: Sequence[float] = MAP_TIOU_THRESHOLDS,
    subset: str | None = None,
) -> dict[float, float]:
    """mAP at each tIoU threshold from the two official JSON structures as dicts.

    ``ground_truth["database"][video]["annotations"]`` holds ``{"segment": [s, e], "label"}``;
    ``predictions["results"][video]`` holds ``{"segment", "label", "score"}``. ``subset``
    keeps only ground-truth videos of that subset (the official tool defaults to
    "validation"); None keeps all. Predictions of labels absent from the ground truth are
    ignored; predictions on videos without ground truth of their class are false positives.
    """
    thresholds = np.asarray(tiou_thresholds, dtype=np.float64)
    truth: dict[str, list[tuple[str, float, float]]] = {}
    for video, item in ground_truth.get("database", {}).items():
        if subset is not None and item.get("subset") != subset:
            continue
        for ann in item.get("annotations", []):
            start, end = (float(v) for v in ann["segment"])
            truth.setdefault(str(ann["label"]), []).append((video, start, end))
    preds: dict[str, list[tuple[str, float, float, float]]] = {label: [] for label in truth}
    for video, items in predictions.get("results", {}).items():
        for pred in items:
            label = str(pred["label"])
            if label in preds:
                start, end = (float(v) for v in pred["segment"])
                preds[label].append((video, start, end, float(pred["score"])))
    if not truth:
        return {float(t): 0.0 for t in thresholds}
    ap = np.stack([_average_precision(truth[label], preds[label], thresholds) for label in sorted(truth)])
    return {float(t): float(v) for t, v in zip(thresholds, ap.mean(axis=0), strict=True)}


def suggest_thresholds(scores: np.ndarray, labels: np.ndarray, ignore: int = -1) -> dict[int, float]:
    """Per class, the open threshold that maximises one-vs-rest F1 on validation windows.

    Candidates are the scores themselves (every distinct cut); classes without a positive
    example get no suggestion, so the post-processing default stays.
    """
    probs = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    keep = y != ignore
    probs, y = probs[keep], y[keep]
    out: dict[int, float] = {}
    for cls in range(probs.shape[1]):
        positive = y == cls
        if not positive.any():
            continue
        order = np.argsort(-probs[:, cls], kind="mergesort")
        ranked, hits = probs[order, cls], positive[order]
        tp = np.cumsum(hits)
        predicted = np.arange(1, len(ranked) + 1)
        f1 = 2 * tp / (predicted + positive.sum())
        last_of_tie = np.r_[ranked[1:] != ranked[:-1], True]  # a threshold keeps a whole tie
        f1 = np.where(last_of_tie, f1, -1.0)
        best = int(np.argmax(f1))
        out[cls] = float(np.clip(ranked[best], 0.01, 0.99))
    return out


def match_events(predicted: Sequence[int], truth: Sequence[int], tolerance: int) -> int:
    """Events matched one-to-one when within ``tolerance`` frames (greedy, nearest first)."""
    free = sorted(truth)
    matched = 0
    for frame in sorted(predicted):
        near = [t for t in free if abs(t - frame) <= tolerance]
        if near:
            free.remove(min(near, key=lambda t: abs(t - frame)))
            matched += 1
    return matched
