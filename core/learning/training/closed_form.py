"""Mode ``features`` from a few corrections: a ridge head on cached pool5, decoded along time.

What it does, and why (figures in benchmarks/README.md):

* use pool5, the convolutional trunk's own output: on the demo a linear head on it beats one
  on the (random, for an untrained model) fc7 projection of it, 0.92 against 0.83 macro-F1;
* standardise over every cached window of the videos (labelled or not): with a handful of
  events the labelled windows alone give a poor estimate of each feature's spread;
* fit a class-balanced ridge head in closed form, its strength chosen by cross-validation
  over whole events (``ridge``, ``events``), with a softmax temperature fitted on the
  held-out scores, and write it exactly into fc6–fc8 (``write_linear_head``), so the
  checkpoint stays a plain C3D_BN whose convolutional trunk is untouched and a fresh
  analysis with it gives the same window probabilities;
* learn an HMM over the classes from the labels (``core.learning.decoding``); re-scoring
  stores its posteriors, which follow the durations and orders of events the user labelled.

The reported validation is the held-out (out-of-fold) macro-F1 over events, with the number
of events it rests on and a bootstrap range over those events.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from core.errors import TrainingError
from core.learning.decoding import Decoder, decode, learn_decoder
from core.learning.evaluation import frame_metrics
from core.learning.feature_cache import FeatureCache, FeatureKey
from core.learning.training.config import EpochRecord, TrainingProgress
from core.learning.training.dataset import TrainingSet, window_labels
from core.learning.training.events import LabelledWindows, event_counts
from core.learning.training.heads import standardisation
from core.learning.training.ridge import CrossValidation, cross_validate, fit_ridge, softmax
from core.model.network import C3D_BN

log = logging.getLogger(__name__)

_BOOTSTRAP = 200
MAX_WINDOWS = 600
"""Labelled windows the head learns from at most; beyond it every k-th is kept. Neighbouring
windows overlap by half and are near copies, so thinning loses little, while the cost grows
with the cube of the count (an n×n eigendecomposition per fold)."""
_RANGE = (10.0, 90.0)


@dataclass(frozen=True)
class HeadOutcome:
    model: C3D_BN
    weight: np.ndarray  # float64 (8192, C): logits = pool5 @ weight + bias, what fc6–fc8 now compute
    bias: np.ndarray
    decoder: Decoder
    metrics: dict[str, Any]
    summary: dict[str, Any]
    history: tuple[EpochRecord, ...]
    val_labels: np.ndarray
    val_probs: np.ndarray


@dataclass(frozen=True)
class _VideoFeatures:
    starts: np.ndarray
    features: np.ndarray  # float16 (N, 8192)
    labels: np.ndarray  # int64 (N,), UNLABELLED where nobody said


def fit_features_head(
    model: C3D_BN,
    data: TrainingSet,
    cache: FeatureCache,
    keys: dict[int, FeatureKey],
    seed: int,
    cancel: threading.Event,
    report: Callable[[TrainingProgress], None],
) -> HeadOutcome:
    """Fit the head of ``model`` (in place, on the CPU) and return what the version records."""
    names = data.class_names
    n_classes = len(names)
    videos = _load(data, cache, keys)
    report(TrainingProgress("train", 1, 1, 0, 2, message="cross-validating over events"))
    every = _thinning(sum(int((v.labels >= 0).sum()) for v in videos))
    rows = [np.flatnonzero(v.labels >= 0)[::every] for v in videos]
    labelled = LabelledWindows(
        video=np.concatenate([np.full(len(r), i) for i, r in enumerate(rows)]),
        starts=np.concatenate([v.starts[r] for v, r in zip(videos, rows, strict=True)]),
        labels=np.concatenate([v.labels[r] for v, r in zip(videos, rows, strict=True)]),
        # Kept windows lie ``every`` strides apart: a wider window still reads them as one event,
        # and only widens the margin kept around held-out events, which errs on the safe side.
        window=data.window * every,
    )
    weight, bias, cv = ridge_head(
        np.concatenate([v.features for v in videos]),
        np.concatenate([v.features[r] for v, r in zip(videos, rows, strict=True)]),
        labelled,
        n_classes,
        seed,
        cancel,
    )
    write_linear_head(model, weight, bias)
    decoder = learn_decoder([v.labels for v in videos], n_classes)
    held_out = _decode_labelled(cv.oof_probs, labelled, decoder)
    val = frame_metrics(labelled.labels, held_out.argmax(axis=1), n_classes)
    raw = frame_metrics(labelled.labels, cv.oof_probs.argmax(axis=1), n_classes)
    events = event_counts(labelled.labels, cv.groups, n_classes)
    low, high = _bootstrap_range(labelled.labels, held_out.argmax(axis=1), cv.groups, n_classes, seed)
    loss = float(-np.log(np.clip(held_out[np.arange(len(held_out)), labelled.labels], 1e-12, 1)).mean())
    report(TrainingProgress("train", 1, 1, 2, 2, loss))  # the held-out log-loss: the one "epoch"
    report(TrainingProgress("validate", 1, 1, 2, 2, loss, val.accuracy, val.macro_f1))
    metrics: dict[str, Any] = {
        "val_macro_f1": val.macro_f1,
        "val_accuracy": val.accuracy,
        "val_windows": len(held_out),
        "train_windows": len(held_out),
        "epochs_run": 1,
        "per_class_f1": {n: float(f) for n, f in zip(names, val.f1, strict=True)},
        "validation": "events",
        "val_events": int(events.sum()),
        "val_events_per_class": {n: int(c) for n, c in zip(names, events, strict=True)},
        "val_folds": int(cv.folds.max()) + 1,
        "val_macro_f1_range": [low, high],
        "val_macro_f1_undecoded": raw.macro_f1,
    }
    summary = {
        "head": {
            "kind": "ridge",
            "features": "pool5, standardised over all cached windows",
            "relative_lambda": cv.lam,
            "temperature": cv.temperature,
            "cv_macro_f1_by_lambda": {f"{k:g}": v for k, v in cv.f1_by_lambda.items()},
        },
        "decoder": decoder.to_json(),
    }
    history = (EpochRecord(1, loss, val.accuracy, val.macro_f1),)
    return HeadOutcome(model, weight, bias, decoder, metrics, summary, history, labelled.labels, held_out)


def ridge_head(
    all_x: np.ndarray,
    x: np.ndarray,
    labelled: LabelledWindows,
    n_classes: int,
    seed: int = 0,
    cancel: threading.Event | None = None,
) -> tuple[np.ndarray, np.ndarray, CrossValidation]:
    """The cross-validated ridge head on raw features (``logits = x @ weight + bias``).

    ``all_x`` (every cached window) gives the standardisation, ``x`` the labelled rows.
    """
    mean, std = standardisation(all_x)
    z = (np.asarray(x, dtype=np.float32) - mean) / std
    cv = cross_validate(z, labelled, n_classes, seed, cancel)
    fit = fit_ridge(z, labelled.labels, n_classes, cv.lam, cv.temperature)
    weight, bias = raw_linear_head(fit.weight, fit.bias, fit.temperature, mean, std)
    return weight, bias, cv


def val_events_text(metrics: dict[str, Any]) -> str:
    """'macro-F1 0.91 (0.84–0.95) over 15 held-out events', or '' for older versions."""
    events = metrics.get("val_events")
    f1 = metrics.get("val_macro_f1")
    if not isinstance(events, int) or not isinstance(f1, int | float):
        return ""
    low, high = (metrics.get("val_macro_f1_range") or [f1, f1])[:2]
    return f"macro-F1 {f1:.2f} ({low:.2f}–{high:.2f}) over {events} held-out events"


def _thinning(n_labelled: int) -> int:
    return max(1, -(-n_labelled // MAX_WINDOWS))


def _load(data: TrainingSet, cache: FeatureCache, keys: dict[int, FeatureKey]) -> list[_VideoFeatures]:
    index = {n: i for i, n in enumerate(data.class_names)}
    out = []
    for item in data.videos:
        cached = cache.load(keys[item.video.id])
        if cached is None:
            continue
        labels = window_labels(item.segments, cached.starts, data.window, index)
        out.append(_VideoFeatures(cached.starts, cached.features, labels))
    if not out or not any((v.labels >= 0).any() for v in out):
        raise TrainingError("The cached features miss the labelled windows; analyse the videos again.")
    return out


def raw_linear_head(
    weight: np.ndarray, bias: np.ndarray, temperature: float, mean: np.ndarray, std: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The head on raw features: logits = temperature · (((x − mean) / std) @ weight + bias)."""
    w = temperature * weight / std[:, None].astype(np.float64)
    return w, temperature * bias - mean.astype(np.float64) @ w


def write_linear_head(model: C3D_BN, weight: np.ndarray, bias: np.ndarray) -> None:
    """Make fc6–fc8 compute ``pool5 @ weight + bias`` exactly, leaving the conv trunk alone.

    The first C units of fc6 carry the C scores and the next C their negatives; fc7 passes
    those 2C units through unchanged and fc8 takes their difference, which undoes both ReLUs
    (relu(s) − relu(−s) = s). The other units keep the parent's weights, cut off from the
    score units, so a later ``last-layers`` run starts from live units rather than dead ones.
    """
    n_classes = weight.shape[1]
    width = 2 * n_classes
    if width > model.fc6.out_features:
        raise TrainingError(f"A linear head for {n_classes} classes does not fit into fc6.")
    w = torch.from_numpy(np.ascontiguousarray(weight.T, dtype=np.float32))
    eye = torch.eye(n_classes)
    with torch.no_grad():
        model.fc6.weight[:n_classes] = w
        model.fc6.weight[n_classes:width] = -w
        model.fc6.bias[:width] = 0.0
        model.fc7.weight[:width] = 0.0
        model.fc7.weight[:, :width] = 0.0
        model.fc7.weight[:width, :width] = torch.eye(width)
        model.fc7.bias[:width] = 0.0
        model.fc8.weight.zero_()
        model.fc8.weight[:, :n_classes] = eye
        model.fc8.weight[:, n_classes:width] = -eye
        model.fc8.bias.copy_(torch.from_numpy(bias.astype(np.float32)))
    model.eval()


def _decode_labelled(probs: np.ndarray, data: LabelledWindows, decoder: Decoder) -> np.ndarray:
    """Decode the held-out probabilities of each video's labelled windows in time order."""
    out = np.empty_like(probs)
    for vid in np.unique(data.video):
        rows = np.flatnonzero(data.video == vid)
        out[rows] = decode(probs[rows], decoder)
    return out


def _bootstrap_range(
    labels: np.ndarray, predicted: np.ndarray, groups: np.ndarray, n_classes: int, seed: int
) -> tuple[float, float]:
    """Macro-F1 over events drawn with replacement: how much the estimate rests on which events."""
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    values = []
    for _ in range(_BOOTSTRAP):
        rows = np.concatenate([members[i] for i in rng.integers(0, len(members), len(members))])
        values.append(frame_metrics(labels[rows], predicted[rows], n_classes).macro_f1)
    low, high = np.percentile(values, _RANGE)
    return float(low), float(high)


def score_linear(features: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Probabilities of raw cached features under ``raw_linear_head`` weights (float32)."""
    logits = np.asarray(features, dtype=np.float32) @ weight.astype(np.float32) + bias.astype(np.float32)
    return softmax(logits.astype(np.float64)).astype(np.float32)
