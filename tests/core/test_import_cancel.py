"""Cancelling a weights import stops it: no more clips are decoded and no model is added."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from core.errors import Cancelled
from core.model.network import BN_LAYERS, C3D_BN
from core.model.sports1m import calibrate_bn
from core.model.weights_import import import_weights
from core.store import Store


def test_calibration_stops_at_the_next_clip_and_leaves_the_model_unchanged(untrained_model: C3D_BN) -> None:
    cancel = threading.Event()
    pulled: list[int] = []

    def clips() -> Iterator[torch.Tensor]:
        for k in range(5):
            pulled.append(k)
            cancel.set()  # the user presses Cancel while the first clip is being used
            yield torch.zeros(1, 3, 16, 112, 112)

    before = {name: getattr(untrained_model, name).running_var.clone() for name in BN_LAYERS}
    with pytest.raises(Cancelled):
        calibrate_bn(untrained_model, clips(), 5, cancel)
    assert pulled == [0]
    for name in BN_LAYERS:
        assert torch.equal(getattr(untrained_model, name).running_var, before[name])


def test_a_cancelled_sports1m_import_adds_no_model(store: Store, tmp_path: Path) -> None:
    weights = tmp_path / "c3d.pickle"
    torch.save({"conv1.weight": torch.zeros(1)}, weights)  # not our checkpoint: the Sports-1M path
    store.videos.add("/nonexistent/v.avi", "hash", 64, 48, 25.0, 100)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        import_weights(store, weights, cancel=cancel)
    assert store.models.list() == []
