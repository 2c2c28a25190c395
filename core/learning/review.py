"""The review queue: where a correction teaches the model most.

Two kinds of window deserve a person's eyes first. Where a human label exists and the model
disagrees with it, either the label is wrong or the model has a blind spot; both are worth
fixing and go first, most confident mistakes on top. Where nobody has labelled yet, the
queue orders by expected gain: how unsure the model is of the window (low top probability,
small margin, high entropy) together with how much it disagrees with its neighbours in time.
A window whose answer its neighbours agree against is where the head is confused, and a
label there moves it most; a window on an event's edge is unsure by nature (half of it is
each class), so its uncertainty counts for less.
Neighbouring windows overlap, so the queue keeps only the best window within one window
length: ten entries on the same second would waste the user's time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.analysis.predictions import load_predictions
from core.learning.training.dataset import TRUSTED_SOURCES, UNLABELLED, window_labels
from core.model.spec import InputSpec
from core.store import Store
from core.store.records import Segment, TrackKind, Video

log = logging.getLogger(__name__)

Reason = Literal["disagrees", "uncertain"]


@dataclass(frozen=True)
class ReviewItem:
    video_id: int
    start_frame: int
    end_frame: int  # exclusive
    centre_frame: int  # where "Next to review" puts the playhead
    reason: Reason
    score: float  # higher first; disagreements score above 1, uncertainty in [0, 1]
    predicted: int  # class index the model chose
    human: int | None  # class index a person gave the centre frame, if any


def uncertainty(probs: np.ndarray) -> np.ndarray:
    """Mean of low top probability, small margin and high entropy, each scaled to [0, 1]."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    n_classes = p.shape[1]
    top2 = -np.sort(-p, axis=1)[:, :2] if n_classes > 1 else np.hstack([p, np.zeros_like(p)])
    low_max = (1.0 - top2[:, 0]) / (1.0 - 1.0 / max(n_classes, 2))  # 1 when uniform
    small_margin = 1.0 - (top2[:, 0] - top2[:, 1])
    entropy = -(p * np.log(p)).sum(axis=1) / np.log(max(n_classes, 2))
    return np.asarray((low_max + small_margin + entropy) / 3.0)


def neighbour_disagreement(probs: np.ndarray) -> np.ndarray:
    """How far each window's probabilities lie from its neighbours' consensus (total variation).

    The consensus is the mean of the windows before and after it (time order; the ends use
    their one neighbour). A window that says something its neighbours agree against is a
    likely mistake of the head; one halfway between two different answers (a boundary, where
    any window is ambiguous) lies near their mean and scores low here.
    """
    p = np.asarray(probs, dtype=np.float64)
    if len(p) < 2:
        return np.zeros(len(p))
    padded = np.vstack([p[1:2], p, p[-2:-1]])
    around = 0.5 * (padded[:-2] + padded[2:])
    return np.asarray(0.5 * np.abs(p - around).sum(axis=1))


def edge_ambiguity(probs: np.ndarray) -> np.ndarray:
    """How much the two neighbours of each window disagree with each other (total variation).

    High where the answer changes across the window: it straddles an event's edge, so its
    content is partly both classes and no label makes it unambiguous.
    """
    p = np.asarray(probs, dtype=np.float64)
    if len(p) < 2:
        return np.zeros(len(p))
    padded = np.vstack([p[1:2], p, p[-2:-1]])
    return np.asarray(0.5 * np.abs(padded[:-2] - padded[2:]).sum(axis=1))


def expected_gain(probs: np.ndarray) -> np.ndarray:
    """Uncertainty (discounted at event edges) and disagreement with the neighbours, in [0, 1].

    Measured (benchmarks/learning_loop.py): ranking by plain uncertainty fills the queue with
    windows on event edges, and labelling those made the model worse than labelling random
    windows (0.958 against 0.966 macro-F1 from five events per class); discounted, it does not.
    """
    return np.asarray(
        0.5 * (uncertainty(probs) * (1.0 - edge_ambiguity(probs)) + neighbour_disagreement(probs))
    )


def rank_windows(
    starts: np.ndarray, probs: np.ndarray, human: np.ndarray, window: int, limit: int = 50
) -> list[tuple[int, Reason, float, int, int | None]]:
    """(window index, reason, score, predicted, human) best first, one per window length.

    ``human`` is the class index per window (``UNLABELLED`` where nobody labelled its centre).
    """
    starts = np.asarray(starts, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    human = np.asarray(human, dtype=np.int64)
    if len(starts) == 0:
        return []
    predicted = probs.argmax(axis=1)
    labelled = human != UNLABELLED
    p_human = np.where(labelled, probs[np.arange(len(starts)), np.maximum(human, 0)], 1.0)
    disagrees = labelled & (predicted != human)
    order_in_time = np.argsort(starts, kind="stable")
    gain = np.empty(len(starts))
    gain[order_in_time] = expected_gain(probs[order_in_time])
    score = np.where(disagrees, 1.0 + (1.0 - p_human), gain)
    score = np.where(labelled & ~disagrees, -1.0, score)  # agreed with a person: nothing to review
    order = np.argsort(-score, kind="stable")
    chosen: list[tuple[int, Reason, float, int, int | None]] = []
    taken: list[int] = []
    for i in order:
        if score[i] < 0 or len(chosen) >= limit:
            break
        if any(abs(int(starts[i]) - t) < window for t in taken):
            continue
        taken.append(int(starts[i]))
        reason: Reason = "disagrees" if disagrees[i] else "uncertain"
        chosen.append(
            (int(i), reason, float(score[i]), int(predicted[i]), int(human[i]) if labelled[i] else None)
        )
    return chosen


def review_queue(
    store: Store,
    video: Video,
    model_version_id: int | None = None,
    limit: int = 50,
    track: str | None = None,
) -> list[ReviewItem]:
    """The video's windows worth reviewing under the latest predictions of a model (default:
    active) for one track (default: the first). For a point track a window's classes are
    "no event" (index 0) and each event class (index k + 1)."""
    preds = load_predictions(store, video, model_version_id, track=track)
    if preds is None or len(preds.starts) == 0:
        return []
    version = store.models.get(preds.model_version_id)
    window = InputSpec.from_json(version.input_spec_json).window
    own = store.segments.list(video.id, track_id=store.tracks.resolve(preds.track or None).id)
    if preds.kind is TrackKind.POINT:
        probs = point_distribution(preds.probs)
        human = point_labels(store, video.id, own, preds.starts, window, preds.class_names)
    else:
        index = {name: i for i, name in enumerate(preds.class_names)}
        probs, human = preds.probs, window_labels(own, preds.starts, window, index)
    frames = max(video.best_frame_count, 1)
    items = []
    for i, reason, score, predicted, human_cls in rank_windows(preds.starts, probs, human, window, limit):
        start = int(preds.starts[i])
        items.append(
            ReviewItem(
                video_id=video.id,
                start_frame=start,
                end_frame=min(start + window, frames),
                centre_frame=min(start + window // 2, frames - 1),
                reason=reason,
                score=score,
                predicted=predicted,
                human=human_cls,
            )
        )
    return items


def point_distribution(probs: np.ndarray) -> np.ndarray:
    """A point head's independent sigmoids as one distribution: "no event", then each class."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    none = 1.0 - p.max(axis=1, initial=0.0)
    out = np.hstack([none[:, None], p])
    return np.asarray(out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12))


def point_labels(
    store: Store,
    video_id: int,
    own: list[Segment],
    starts: np.ndarray,
    window: int,
    class_names: tuple[str, ...],
) -> np.ndarray:
    """Per window: k + 1 where a person put an event of class k near its centre, 0 where the
    video is labelled (in any track) up to past the window and no event is near, else unlabelled."""
    from core.learning.track_learning import POINT_RADIUS

    centres = np.asarray(starts, dtype=np.int64) + window // 2
    trusted = [s for s in store.segments.list(video_id, all_tracks=True) if s.source in TRUSTED_SOURCES]
    until = max((s.end_frame for s in trusted), default=0)
    labels = np.where(centres < until, 0, UNLABELLED).astype(np.int64)
    index = {name: k + 1 for k, name in enumerate(class_names)}
    for seg in own:
        if seg.source in TRUSTED_SOURCES and seg.class_name in index:
            labels[np.abs(centres - seg.start_frame) <= POINT_RADIUS] = index[seg.class_name]
    return labels
