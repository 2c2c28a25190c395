"""Review queue ranking: disagreements with people first, then the model's least certain windows."""

from __future__ import annotations

import numpy as np
import pytest

from core.learning.review import rank_windows, uncertainty
from core.learning.training.dataset import UNLABELLED


def test_uncertainty_orders_sure_before_torn() -> None:
    probs = np.array([[0.98, 0.01, 0.01], [0.6, 0.3, 0.1], [0.34, 0.33, 0.33]])
    u = uncertainty(probs)
    assert u[0] < u[1] < u[2]
    assert u.min() >= 0.0 and u.max() <= 1.0
    assert u[2] == pytest.approx(1.0, abs=0.02)


def test_disagreements_come_first_most_confident_mistake_on_top() -> None:
    starts = np.arange(0, 80, 16)
    probs = np.array(
        [
            [0.9, 0.1],  # labelled 0, agrees: never listed
            [0.55, 0.45],  # unlabelled and torn: uncertain
            [0.2, 0.8],  # labelled 0, model says 1 with 0.8: strong disagreement
            [0.4, 0.6],  # labelled 0, mild disagreement
            [0.99, 0.01],  # unlabelled, sure: low uncertainty
        ]
    )
    human = np.array([0, UNLABELLED, 0, 0, UNLABELLED])
    ranked = rank_windows(starts, probs, human, window=16)
    assert [r[0] for r in ranked] == [2, 3, 1, 4]
    assert [r[1] for r in ranked] == ["disagrees", "disagrees", "uncertain", "uncertain"]
    assert ranked[0][3:] == (1, 0)  # predicted 1, a person said 0
    assert ranked[2][4] is None


def test_overlapping_neighbours_are_listed_once() -> None:
    starts = np.array([0, 8, 16, 24])
    probs = np.full((4, 2), 0.5)
    ranked = rank_windows(starts, probs, np.full(4, UNLABELLED), window=16)
    assert [starts[r[0]] for r in ranked] == [0, 16]
