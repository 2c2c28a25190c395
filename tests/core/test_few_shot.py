"""Learning from a few events: event-level validation, the closed-form head, HMM decoding.

Synthetic features stand in for C3D's (fast, and the truth is known): windows every 8 frames,
16 long, in events of a few windows each.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import TrainingError
from core.learning.decoding import Decoder, decode, learn_decoder
from core.learning.evaluation import frame_metrics
from core.learning.training.closed_form import (
    raw_linear_head,
    ridge_head,
    score_linear,
    val_events_text,
    write_linear_head,
)
from core.learning.training.events import (
    LabelledWindows,
    event_counts,
    event_folds,
    event_groups,
    fold_train_mask,
)
from core.learning.training.ridge import cross_validate, fit_ridge, softmax
from core.model.network import POOL5_FEATURES, new_model

WINDOW, STRIDE = 16, 8


def _timeline(event_classes: list[int], windows_per_event: int = 6) -> LabelledWindows:
    labels = np.repeat(np.array(event_classes, dtype=np.int64), windows_per_event)
    starts = np.arange(len(labels), dtype=np.int64) * STRIDE
    return LabelledWindows(np.zeros(len(labels), np.int64), starts, labels, WINDOW)


def _features(data: LabelledWindows, signal: float, dims: int = 64, seed: int = 0) -> np.ndarray:
    """Class means plus noise that drifts slowly in time, as overlapping windows' features do."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(int(data.labels.max()) + 1, dims))
    drift = np.cumsum(rng.normal(size=(len(data), dims)), axis=0)
    drift -= drift.mean(axis=0)
    drift /= drift.std(axis=0)
    return np.asarray(signal * means[data.labels] + drift + 0.1 * rng.normal(size=drift.shape))


def test_events_are_runs_of_one_label_split_by_video_and_gaps() -> None:
    data = LabelledWindows(
        video=np.array([0, 0, 0, 0, 0, 1, 1]),
        starts=np.array([0, 8, 16, 48, 56, 0, 8]),
        labels=np.array([1, 1, 0, 0, 0, 0, 0]),
        window=WINDOW,
    )
    # 1,1 | 0 | (gap of 32 frames) 0,0 | other video 0,0
    assert event_groups(data).tolist() == [0, 0, 1, 2, 2, 3, 3]
    assert event_counts(data.labels, event_groups(data), 2).tolist() == [3, 1]


def test_no_event_is_on_both_sides_and_no_frame_is_shared() -> None:
    data = _timeline([0, 1, 0, 2, 0, 1, 0, 2, 0, 1, 0, 2])
    groups = event_groups(data)
    folds = event_folds(data.labels, groups, 3, seed=1)
    for g in np.unique(groups):
        assert len(np.unique(folds[groups == g])) == 1  # an event lies in one fold
    for fold in np.unique(folds):
        train = fold_train_mask(data, folds, fold)
        held = folds == fold
        assert not (train & held).any()
        gaps = np.abs(data.starts[train][:, None] - data.starts[held][None, :])
        assert gaps.min() >= WINDOW  # no training window shares a frame with a held-out one
    # Each class with several events is validated in more than one fold.
    for cls in (1, 2):
        assert len(np.unique(folds[data.labels == cls])) >= 2


def test_one_class_only_is_refused_with_a_sentence() -> None:
    data = _timeline([0, 0, 0])
    with pytest.raises(TrainingError, match="at least two classes"):
        event_folds(data.labels, event_groups(data), 2)


def test_cross_validation_over_events_does_not_credit_memorised_neighbours() -> None:
    """Features with no class signal, only slow drift: an event split scores near chance,
    while a split by window (the leak this prevents) would score far higher."""
    data = _timeline([0, 1] * 6)
    x = _features(data, signal=0.0)
    honest = max(cross_validate(x, data, 2).f1_by_lambda.values())
    assert honest < 0.6
    rng = np.random.default_rng(0)
    held = rng.random(len(data)) < 0.2
    fit = fit_ridge(x[~held], data.labels[~held], 2, lam=1e-3, temperature=1.0)
    leaky = (x[held] @ fit.weight + fit.bias).argmax(axis=1)
    assert frame_metrics(data.labels[held], leaky, 2).macro_f1 > honest + 0.25


def test_ridge_learns_from_five_events_per_class_and_picks_its_strength() -> None:
    data = _timeline([0, 1, 0, 2, 0, 3] * 5, windows_per_event=5)
    x = _features(data, signal=0.6, dims=400)
    cv = cross_validate(x, data, 4)
    assert min(cv.f1_by_lambda.values()) < max(cv.f1_by_lambda.values())  # the strength matters
    assert max(cv.f1_by_lambda.values()) > 0.8
    assert cv.lam == max(k for k, v in cv.f1_by_lambda.items() if v == max(cv.f1_by_lambda.values()))
    new = _timeline([0, 1, 0, 2, 0, 3] * 2, windows_per_event=5)
    fit = fit_ridge(x, data.labels, 4, cv.lam, cv.temperature)
    x_new = _features(new, signal=0.6, dims=400, seed=0)[: len(new)]
    probs = softmax(fit.temperature * (x_new @ fit.weight + fit.bias))
    assert frame_metrics(new.labels, probs.argmax(axis=1), 4).macro_f1 > 0.8
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)


def test_a_feature_that_varies_less_than_rounding_cannot_steer_the_head() -> None:
    """Features that hardly vary but happen to follow the labels (as some pool5 units of a
    trunk do) must not make the head's answers hang on rounding: int8 or a float16 cache
    moving every feature by 2% of a typical spread moves no probability by more than 0.05."""
    data = _timeline([0, 1, 0, 2] * 4)
    x = _features(data, signal=0.6, dims=64)
    rng = np.random.default_rng(1)
    hairline = 0.01 * (np.eye(3)[data.labels] @ rng.normal(size=(3, 32)))
    x = np.concatenate([x, hairline + 1e-4 * rng.normal(size=hairline.shape)], axis=1)
    weight, bias, _cv = ridge_head(x, x, data, 3)
    rounded = x + 0.02 * rng.normal(size=x.shape)
    clean, noisy = softmax(x @ weight + bias), softmax(rounded @ weight + bias)
    assert np.abs(noisy - clean).max() <= 0.05
    assert frame_metrics(data.labels, noisy.argmax(axis=1), 3).macro_f1 > 0.9


def test_class_balance_keeps_a_rare_class_found() -> None:
    data = _timeline([0] * 10 + [1, 0, 1], windows_per_event=4)
    x = _features(data, signal=0.8, dims=100)
    fit = fit_ridge(x, data.labels, 2, lam=1.0, temperature=1.0)
    predicted = (x @ fit.weight + fit.bias).argmax(axis=1)
    rare = data.labels == 1
    assert (predicted[rare] == 1).mean() > 0.9


def test_linear_head_is_written_exactly_into_fc6_to_fc8() -> None:
    model = new_model(3, seed=0)
    trunk_before = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("conv")}
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, POOL5_FEATURES)).astype(np.float32)
    mean, std = x.mean(axis=0), x.std(axis=0) + 0.5
    weight, bias = raw_linear_head(
        rng.normal(size=(POOL5_FEATURES, 3)) * 0.01, np.array([0.1, 0.0, -0.1]), 3.0, mean, std
    )
    write_linear_head(model, weight, bias)
    with torch.no_grad():
        from_model = torch.softmax(model.head_from_pool5(torch.from_numpy(x)), dim=1).numpy()
    np.testing.assert_allclose(from_model, score_linear(x, weight, bias), atol=1e-4)
    assert not np.allclose(from_model, 1 / 3, atol=0.05)  # a real head, not a uniform one
    for key, value in trunk_before.items():
        assert torch.equal(model.state_dict()[key], value)  # the conv trunk is the seed's


def test_decoder_learns_durations_and_orders_from_labels() -> None:
    labels = np.array([0] * 10 + [1] * 5 + [0] * 10 + [2] * 5 + [0] * 10 + [-1] * 4 + [1] * 5)
    decoder = learn_decoder([labels], 3)
    t = decoder.transitions
    np.testing.assert_allclose(t.sum(axis=1), 1.0)
    assert t[1, 1] > 0.7 and t[0, 0] > 0.85  # events last several windows
    assert t[1, 2] < 0.05 and t[1, 0] > 5 * t[1, 2]  # 1 was always followed by 0, never by 2
    assert Decoder.from_json(decoder.to_json()).transitions == pytest.approx(t, abs=1e-6)


def test_decoding_steadies_a_flickering_event() -> None:
    truth = np.array([0] * 12 + [1] * 8 + [0] * 12)
    probs = np.where(truth[:, None] == np.arange(2), 0.85, 0.15)
    probs[15] = [0.75, 0.25]  # one window inside the event looks like background
    probs[4] = [0.3, 0.7]  # one background window looks like the event
    decoded = decode(probs, learn_decoder([truth], 2))
    assert (probs.argmax(axis=1) != truth).sum() == 2
    assert (decoded.argmax(axis=1) == truth).all()
    np.testing.assert_allclose(decoded.sum(axis=1), 1.0, rtol=1e-5)


def test_validation_text_names_the_events_it_rests_on() -> None:
    metrics = {"val_macro_f1": 0.8, "val_macro_f1_range": [0.6, 0.9], "val_events": 7}
    assert val_events_text(metrics) == "macro-F1 0.80 (0.60–0.90) over 7 held-out events"
    assert val_events_text({"val_macro_f1": 0.8}) == ""
