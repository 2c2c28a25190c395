"""Decoding window probabilities along time with a small HMM learnt from the user's labels.

A classifier looks at one 16-frame window at a time, so its answers flicker where a window
is ambiguous. Events last seconds, though, and follow each other in patterns the labels show
(in the demo an event is always followed by background): a hidden Markov model whose
states are the classes, whose transition probabilities are counted from consecutive
labelled windows and whose emissions are the classifier's probabilities, turns the flicker
into steady events. Forward–backward gives each window a posterior probability (not just a
best path), so the timeline, thresholds and the review queue keep working on probabilities.
The parameters are a few numbers per class, kept in the model version's training summary.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_PSEUDO = 0.05
"""Dirichlet pseudo-count added to every transition, so an unseen one stays possible."""


@dataclass(frozen=True)
class Decoder:
    """Transition matrix (rows: from) and initial distribution over the classes."""

    transitions: np.ndarray  # float64 (C, C), rows sum to 1
    initial: np.ndarray  # float64 (C,)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "hmm",
            "transitions": np.round(self.transitions, 6).tolist(),
            "initial": np.round(self.initial, 6).tolist(),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Decoder:
        return cls(
            transitions=np.asarray(raw["transitions"], dtype=np.float64),
            initial=np.asarray(raw["initial"], dtype=np.float64),
        )


def learn_decoder(sequences: Sequence[np.ndarray], n_classes: int, pseudo: float = _PSEUDO) -> Decoder:
    """Count transitions between consecutive windows of each labelled sequence.

    ``sequences`` hold class indices of windows in time order, negative where unlabelled; a
    transition is counted only between two labelled neighbours.
    """
    counts = np.full((n_classes, n_classes), pseudo)
    occupancy = np.full(n_classes, pseudo)
    for seq in sequences:
        s = np.asarray(seq, dtype=np.int64)
        both = (s[:-1] >= 0) & (s[1:] >= 0)
        np.add.at(counts, (s[:-1][both], s[1:][both]), 1.0)
        occupancy += np.bincount(s[s >= 0], minlength=n_classes)
    transitions = counts / counts.sum(axis=1, keepdims=True)
    return Decoder(transitions, occupancy / occupancy.sum())


def decode(probs: np.ndarray, decoder: Decoder) -> np.ndarray:
    """Posterior class probabilities of each window (forward–backward, scaled)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-9, 1.0)
    n, c = p.shape
    if n == 0:
        return np.zeros((0, c), dtype=np.float32)
    emit = p / p.sum(axis=1, keepdims=True)
    trans = decoder.transitions
    alpha = np.empty((n, c))
    a = decoder.initial * emit[0]
    alpha[0] = a / a.sum()
    for t in range(1, n):
        a = (alpha[t - 1] @ trans) * emit[t]
        alpha[t] = a / a.sum()
    beta = np.ones(c)
    post = np.empty((n, c))
    post[-1] = alpha[-1]
    for t in range(n - 2, -1, -1):
        b = trans @ (emit[t + 1] * beta)
        beta = b / b.sum()
        g = alpha[t] * beta
        post[t] = g / g.sum()
    return post.astype(np.float32)
