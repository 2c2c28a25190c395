"""A linear head fitted in closed form, its regularisation chosen by cross-validation over events.

With a few hundred labelled windows and thousands of features, gradient descent either stops
before it has learnt anything or memorises the few events; the ridge solution is exact and
cheap in its dual form (an n×n system, n the labelled windows). One eigendecomposition per
fold gives the solution for every regularisation strength at once, so choosing it by
cross-validation over whole events costs about as much as a single fit. Classes are
weighted by inverse frequency so background, usually the bulk of the labels, cannot win by
default; a softmax temperature fitted on the held-out scores turns ridge scores into
probabilities the timeline, the review queue and the decoder can trust.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np
import torch

from core.errors import Cancelled
from core.learning.evaluation import frame_metrics
from core.learning.training.events import LabelledWindows, event_folds, event_groups, fold_train_mask
from core.learning.training.loop import intra_op_threads

log = logging.getLogger(__name__)

RELATIVE_LAMBDAS: tuple[float, ...] = tuple(float(v) for v in np.logspace(-3, 2, 11))
"""Regularisation strengths tried, relative to the mean squared norm of a training window."""
_TEMPERATURES = np.exp(np.linspace(np.log(0.5), np.log(200.0), 80))


@dataclass(frozen=True)
class RidgeFit:
    weight: np.ndarray  # float64 (D, C): scores = x @ weight + bias, x standardised
    bias: np.ndarray  # float64 (C,)
    temperature: float  # probabilities = softmax(temperature * scores)
    lam: float  # the chosen relative regularisation strength


@dataclass(frozen=True)
class CrossValidation:
    lam: float
    temperature: float
    oof_probs: np.ndarray  # float64 (N, C) held-out probabilities of every labelled window
    folds: np.ndarray  # int64 (N,)
    groups: np.ndarray  # int64 (N,) event of each window
    f1_by_lambda: dict[float, float]


def softmax(scores: np.ndarray) -> np.ndarray:
    z = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def balanced_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-window weight, inverse to its class's count, averaging 1."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    present = counts > 0
    per_class = np.zeros(n_classes)
    per_class[present] = len(labels) / (present.sum() * counts[present])
    return np.asarray(per_class[labels])


class _Gram:
    """Solves weighted ridge on subsets of rows of one precomputed Gram matrix."""

    def __init__(self, gram: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> None:
        self.gram = gram
        self.targets = targets
        self.weights = weights

    def fit_predict(self, train: np.ndarray, test: np.ndarray, lams: np.ndarray) -> list[np.ndarray]:
        """Scores of the ``test`` rows for each absolute ``lam``, fitted on ``train`` rows."""
        g = self.gram
        w = self.weights[train]
        w_sum = w.sum()
        # Centre on the weighted mean of the training rows, in kernel form.
        gt = g[np.ix_(train, train)]
        mean_dot_t = gt @ w / w_sum  # x_i · m for training rows
        mm = float(w @ mean_dot_t / w_sum)
        kc = gt - mean_dot_t[:, None] - mean_dot_t[None, :] + mm
        mean_dot_s = g[np.ix_(test, train)] @ w / w_sum
        ks = g[np.ix_(test, train)] - mean_dot_s[:, None] - mean_dot_t[None, :] + mm
        y = self.targets[train]
        y_mean = w @ y / w_sum
        d = np.sqrt(w)
        vals, vecs = _eigh(d[:, None] * kc * d[None, :])
        proj = vecs.T @ (d[:, None] * (y - y_mean))
        out = []
        for lam in lams:
            alpha = d[:, None] * (vecs @ (proj / (np.maximum(vals, 0.0) + lam)[:, None]))
            out.append(ks @ alpha + y_mean)
        return out


def _fit_temperature(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> float:
    """The softmax temperature with the lowest weighted held-out log-loss."""
    best, best_t = np.inf, 1.0
    for t in _TEMPERATURES:
        p = softmax(t * scores)
        nll = float(-(weights * np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, 1))).sum())
        if nll < best:
            best, best_t = nll, float(t)
    return best_t


def cross_validate(
    x: np.ndarray,
    data: LabelledWindows,
    n_classes: int,
    seed: int = 0,
    cancel: threading.Event | None = None,
) -> CrossValidation:
    """Held-out scores over events for every strength; keeps the best macro-F1 (ties: stronger)."""
    labels = data.labels
    groups = event_groups(data)
    folds = event_folds(labels, groups, n_classes, seed)
    weights = balanced_weights(labels, n_classes)
    gram = _gram(x)
    scale = float(np.mean(np.diag(gram)))
    lams = np.array(RELATIVE_LAMBDAS) * scale
    targets = np.eye(n_classes)[labels]
    solver = _Gram(gram, targets, weights)
    oof = np.zeros((len(RELATIVE_LAMBDAS), len(labels), n_classes))
    judged = np.ones(len(labels), dtype=bool)  # the window's class was in its fold's training
    for fold in range(int(folds.max()) + 1):
        if cancel is not None and cancel.is_set():
            raise Cancelled("Training cancelled; nothing was saved.")
        test = np.flatnonzero(folds == fold)
        train = np.flatnonzero(fold_train_mask(data, folds, fold))
        if len(test) == 0 or len(np.unique(labels[train])) < 2:
            oof[:, test] = 1.0 / n_classes  # no model to judge these events with: a coin toss
            judged[test] = False
            continue
        for i, scores in enumerate(solver.fit_predict(train, test, lams)):
            oof[i, test] = scores
        judged[test] = np.isin(labels[test], labels[train])
    f1s = [frame_metrics(labels, oof[i].argmax(axis=1), n_classes).macro_f1 for i in range(len(lams))]
    best = max(range(len(lams)), key=lambda i: (round(f1s[i], 6), i))  # ties: stronger regularisation
    # A class with one event is absent from the training side of its own fold: those windows
    # say nothing about how sure a model that knows the class should be.
    temperature = _fit_temperature(oof[best][judged], labels[judged], weights[judged])
    log.info("Ridge CV over %d events in %d folds: F1 by strength %s", groups.max() + 1, folds.max() + 1, f1s)
    return CrossValidation(
        lam=RELATIVE_LAMBDAS[best],
        temperature=temperature,
        oof_probs=softmax(temperature * oof[best]),
        folds=folds,
        groups=groups,
        f1_by_lambda={RELATIVE_LAMBDAS[i]: float(f1s[i]) for i in range(len(lams))},
    )


def fit_ridge(x: np.ndarray, labels: np.ndarray, n_classes: int, lam: float, temperature: float) -> RidgeFit:
    """The head on every labelled window at relative strength ``lam``, returned in primal form."""
    w = balanced_weights(labels, n_classes)
    gram = _gram(x)
    mean_dot = gram @ w / w.sum()  # x_i · m, m the weighted mean window
    mm = float(w @ mean_dot / w.sum())
    kc = gram - mean_dot[:, None] - mean_dot[None, :] + mm
    y = np.eye(n_classes)[labels]
    y_mean = w @ y / w.sum()
    absolute = lam * float(np.mean(np.diag(gram)))
    d = np.sqrt(w)
    vals, vecs = _eigh(d[:, None] * kc * d[None, :])
    inner = (vecs.T @ (d[:, None] * (y - y_mean))) / (np.maximum(vals, 0.0) + absolute)[:, None]
    alpha = d[:, None] * (vecs @ inner)
    x64 = np.asarray(x, dtype=np.float64)
    mean = w @ x64 / w.sum()
    weight = x64.T @ alpha - np.outer(mean, alpha.sum(axis=0))  # (X − m)ᵀ α
    return RidgeFit(weight=weight, bias=y_mean - mean @ weight, temperature=temperature, lam=lam)


def _gram(x: np.ndarray) -> np.ndarray:
    """X Xᵀ in float32, accumulated by torch on one thread (see ``_eigh``)."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    with intra_op_threads(1):
        return (t @ t.T).double().numpy()


def _eigh(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigendecomposition on one thread: on a busy 2-core machine numpy's threaded LAPACK
    took 3.8 s for a 900×900 matrix and torch's on two threads 13 s, torch's on one 0.8 s."""
    with intra_op_threads(1):
        vals, vecs = torch.linalg.eigh(torch.from_numpy(np.ascontiguousarray(matrix)))
    return vals.numpy(), vecs.numpy()
