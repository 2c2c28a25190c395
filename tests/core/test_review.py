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
    # Unlabelled after labelled: 4 is sure, but its neighbour says otherwise; 1 is torn, but it
    # sits between two different answers (an event's edge), which no label makes clear.
    assert [r[0] for r in ranked] == [2, 3, 4, 1]
    assert [r[1] for r in ranked] == ["disagrees", "disagrees", "uncertain", "uncertain"]
    assert ranked[0][3:] == (1, 0)  # predicted 1, a person said 0
    assert ranked[3][4] is None


def test_overlapping_neighbours_are_listed_once() -> None:
    starts = np.array([0, 8, 16, 24])
    probs = np.full((4, 2), 0.5)
    ranked = rank_windows(starts, probs, np.full(4, UNLABELLED), window=16)
    assert [starts[r[0]] for r in ranked] == [0, 16]


def test_expected_gain_prefers_where_the_model_changes_its_mind() -> None:
    """Two equally torn windows: the one whose neighbours agree against it comes first."""
    steady = [0.55, 0.45]
    probs = np.array(
        [steady, steady, steady, steady, [0.9, 0.1], [0.5, 0.5], [0.9, 0.1], [0.9, 0.1], [0.9, 0.1]]
    )
    probs[1] = [0.5, 0.5]  # torn, but so are its neighbours
    starts = np.arange(len(probs)) * 16
    ranked = rank_windows(starts, probs, np.full(len(probs), UNLABELLED), window=16)
    order = [r[0] for r in ranked]
    assert order.index(5) < order.index(1)
    assert uncertainty(probs[[1, 5]])[0] == pytest.approx(uncertainty(probs[[1, 5]])[1])


def test_neighbour_disagreement_is_zero_on_a_steady_stretch_and_follows_time_order() -> None:
    from core.learning.review import neighbour_disagreement

    steady = np.tile([0.7, 0.3], (5, 1))
    assert np.allclose(neighbour_disagreement(steady), 0.0)
    flip = steady.copy()
    flip[2] = [0.3, 0.7]
    d = neighbour_disagreement(flip)
    assert d[2] == pytest.approx(0.4) and d.argmax() == 2
    # rank_windows takes windows in any order but compares neighbours in time.
    shuffled = np.array([4, 0, 2, 1, 3])
    ranked = rank_windows(shuffled * 16, flip[shuffled], np.full(5, UNLABELLED), window=16)
    assert shuffled[ranked[0][0]] == 2


def test_a_window_on_an_event_edge_counts_for_less_than_a_torn_one_elsewhere() -> None:
    """Both maximally unsure; the edge window lies between two confident, different answers."""
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.1, 0.9], [0.1, 0.9], [0.52, 0.48], [0.5, 0.5], [0.52, 0.48]])
    starts = np.arange(len(probs)) * 16
    ranked = rank_windows(starts, probs, np.full(len(probs), UNLABELLED), window=16)
    order = [r[0] for r in ranked]
    assert order.index(5) < order.index(1)
