"""Honest validation with few labels: whole events, never single windows, are held out.

Windows overlap (16 frames every 8), so a validation window always shares frames with its
neighbours; a split by window would score the model on frames it trained on. Here every run
of consecutive windows with the same label is one *event*, events are dealt into folds class
by class, and a training window may not share a frame with any window held out in its fold.
Each event is then judged once, by a model that never saw any of its frames.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from core.errors import TrainingError

log = logging.getLogger(__name__)

MAX_FOLDS = 5


@dataclass(frozen=True)
class LabelledWindows:
    """The labelled windows of every video, in video order and time order within each."""

    video: np.ndarray  # int64 (N,) index of the video each window comes from
    starts: np.ndarray  # int64 (N,)
    labels: np.ndarray  # int64 (N,)
    window: int

    def __len__(self) -> int:
        return len(self.labels)


def event_groups(data: LabelledWindows) -> np.ndarray:
    """Event number of each window: a new event starts where the video or the label changes,
    or where windows stop being consecutive (an unlabelled stretch in between)."""
    n = len(data)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    stride_gap = np.diff(data.starts) > data.window  # an unlabelled stretch separates them
    new = np.concatenate(([True], (np.diff(data.video) != 0) | (np.diff(data.labels) != 0) | stride_gap))
    return np.cumsum(new) - 1


def event_counts(labels: np.ndarray, groups: np.ndarray, n_classes: int) -> np.ndarray:
    """How many distinct events of each class the labelled windows hold."""
    counts = np.zeros(n_classes, dtype=np.int64)
    for g in np.unique(groups):
        counts[int(labels[groups == g][0])] += 1
    return counts


def event_folds(labels: np.ndarray, groups: np.ndarray, n_classes: int, seed: int = 0) -> np.ndarray:
    """Fold number of each window; the events of each class are dealt round-robin over folds.

    The number of folds is the largest event count of any class (at most ``MAX_FOLDS``), so
    the commonest class has an event in every fold; rarer classes continue where the previous
    class stopped dealing, which spreads them across folds.
    """
    counts = event_counts(labels, groups, n_classes)
    if int((counts > 0).sum()) < 2:
        raise TrainingError(
            "Training needs labelled events of at least two classes (for example an event and "
            "background); label some more."
        )
    k = int(min(MAX_FOLDS, max(2, counts.max())))
    rng = np.random.default_rng(seed)
    fold_of_group: dict[int, int] = {}
    dealt = 0
    for cls in range(n_classes):
        mine = np.unique(groups[labels == cls])
        for g in rng.permutation(mine):
            fold_of_group[int(g)] = dealt % k
            dealt += 1
    return np.array([fold_of_group[int(g)] for g in groups], dtype=np.int64)


def fold_train_mask(data: LabelledWindows, folds: np.ndarray, fold: int) -> np.ndarray:
    """Windows of the other folds that share no frame with a window held out in ``fold``."""
    held = folds == fold
    train = ~held
    for vid in np.unique(data.video[held]):
        held_starts = data.starts[held & (data.video == vid)]
        mine = np.flatnonzero(train & (data.video == vid))
        # A window [s, s + w) overlaps a held one [h, h + w) when |s - h| < w.
        pos = np.searchsorted(held_starts, data.starts[mine])
        left = np.abs(data.starts[mine] - held_starts[np.clip(pos - 1, 0, len(held_starts) - 1)])
        right = np.abs(held_starts[np.clip(pos, 0, len(held_starts) - 1)] - data.starts[mine])
        train[mine[np.minimum(left, right) < data.window]] = False
    return train
