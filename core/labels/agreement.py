"""How much independent coders agree on one video: frame-level Cohen's kappa (overall and per
class) and segment F1@{0.1, 0.25, 0.5} for each pair of coders. Pure Python and numpy.

Frames nobody labelled count as their own category ("unlabelled"), so one coder leaving
frames empty where the other labelled them is disagreement, as a reader of the numbers would
expect. Segment F1 treats the first coder of a pair as the reference; F1 is the harmonic mean
of the two directions' precision and recall, so swapping the pair changes it little or not at all.

With several tracks (lanes of labels that overlap one another) each track is compared on its
own: a frame can be "walk" in one track and "head up" in another, so one frame vector per
track, and one table per track. ``video_agreement`` reads a video's codings from the store; the
rest is pure Python and numpy.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import StoreError
from core.learning.evaluation import SEGMENT_F1_THRESHOLDS, segment_f1_scores
from core.store import Store

log = logging.getLogger(__name__)

UNLABELLED = "(unlabelled)"

Coded = tuple[str, int, int]
"""(class name, start frame, end frame), half-open."""

TrackCoded = tuple[str, int, int, str]
"""(class name, start frame, end frame, track name): a coding of a video with tracks."""


def frame_labels(segments: Sequence[Coded], frames: int, vocabulary: Sequence[str]) -> np.ndarray:
    """One class index per frame (index 0 is unlabelled); later segments win where they overlap."""
    index = {name: i for i, name in enumerate(vocabulary)}
    out = np.zeros(frames, dtype=np.int64)
    for name, start, end in segments:
        out[max(0, start) : min(frames, end)] = index[name]
    return out


def cohen_kappa(a: np.ndarray, b: np.ndarray, n: int) -> float:
    """κ = (p_o − p_e) / (1 − p_e); 1.0 when both coders used one and the same category only."""
    if len(a) == 0:
        return float("nan")
    confusion = np.bincount(a * n + b, minlength=n * n).reshape(n, n).astype(np.float64) / len(a)
    observed = float(np.trace(confusion))
    expected = float(confusion.sum(axis=1) @ confusion.sum(axis=0))
    if expected >= 1.0:
        return 1.0 if observed >= 1.0 else 0.0
    return (observed - expected) / (1.0 - expected)


@dataclass(frozen=True)
class PairAgreement:
    coder_a: str
    coder_b: str
    kappa: float
    kappa_per_class: dict[str, float]
    segment_f1: dict[float, float]


def pair_agreement(
    coder_a: str, a: Sequence[Coded], coder_b: str, b: Sequence[Coded], frames: int
) -> PairAgreement:
    classes = sorted({s[0] for s in (*a, *b)})
    vocabulary = [UNLABELLED, *classes]
    la, lb = frame_labels(a, frames, vocabulary), frame_labels(b, frames, vocabulary)
    per_class = {
        name: cohen_kappa((la == i).astype(np.int64), (lb == i).astype(np.int64), 2)
        for i, name in enumerate(vocabulary)
        if i > 0
    }
    index = {name: i for i, name in enumerate(vocabulary)}
    f1 = segment_f1_scores(
        [(index[c], float(s), float(e)) for c, s, e in a],
        [(index[c], float(s), float(e)) for c, s, e in b],
        SEGMENT_F1_THRESHOLDS,
    )
    return PairAgreement(coder_a, coder_b, cohen_kappa(la, lb, len(vocabulary)), per_class, f1)


def agreement(codings: Mapping[str, Sequence[Coded]], frames: int) -> list[PairAgreement]:
    """Every pair of coders, in name order."""
    names = sorted(codings)
    return [pair_agreement(x, codings[x], y, codings[y], frames) for x, y in itertools.combinations(names, 2)]


def agreement_by_track(
    codings: Mapping[str, Sequence[TrackCoded]], frames: int, tracks: Sequence[str] = ()
) -> dict[str, list[PairAgreement]]:
    """Every pair of coders, per track someone labelled (in the order of ``tracks``, the
    project's, then any other). A coder who left such a track empty coded it all unlabelled."""
    used = {s[3] for c in codings.values() for s in c}
    names = [t for t in tracks if t in used] + sorted(used - set(tracks))
    return {
        track: agreement(
            {coder: [(n, a, b) for n, a, b, t in coding if t == track] for coder, coding in codings.items()},
            frames,
        )
        for track in names
    }


def report_lines(pairs: Sequence[PairAgreement], indent: str = "") -> list[str]:
    lines: list[str] = []
    for p in pairs:
        f1 = "  ".join(f"F1@{t:g} {v:.3f}" for t, v in p.segment_f1.items())
        lines.append(f"{indent}{p.coder_a} vs {p.coder_b}: kappa {p.kappa:.3f}  {f1}")
        for name, k in p.kappa_per_class.items():
            lines.append(f"{indent}  {name}: kappa {k:.3f}")
    return lines


def report_lines_by_track(by_track: Mapping[str, Sequence[PairAgreement]]) -> list[str]:
    """One block per track under its name; a single track prints as before, without a heading."""
    if len(by_track) == 1:
        return report_lines(next(iter(by_track.values())))
    lines: list[str] = []
    for track, pairs in by_track.items():
        lines.append(f"track {track}:")
        lines.extend(report_lines(pairs, "  "))
    return lines


def video_agreement(store: Store, video_id: int) -> dict[str, list[PairAgreement]]:
    """Every pair of the video's coders, per track (what the CLI prints and the app's dialog shows)."""
    video = store.videos.get(video_id)
    codings = store.codings.list(video_id)
    if len(codings) < 2:
        raise StoreError(
            f"Video {video_id} has {len(codings)} coding(s); agreement needs two "
            "(`coding save` by each coder)."
        )
    frames = max([video.best_frame_count, *(s[2] for c in codings.values() for s in c)])
    return agreement_by_track(codings, frames, [t.name for t in store.tracks.list()])
