"""Resume state round-trips through safetensors, int keys and all, with no pickle involved."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.learning.training.state_file import load_state, save_state


def test_optimizer_and_scheduler_state_round_trip(tmp_path: Path) -> None:
    layer = torch.nn.Linear(4, 3)
    optimizer = torch.optim.AdamW(layer.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=5)
    layer(torch.randn(2, 4)).sum().backward()
    optimizer.step()
    scheduler.step()
    state = {
        "epoch": 3,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "best_state": None,
        "history": [[0, 0.5, 0.9, float("nan")]],
    }
    save_state(tmp_path / "s.safetensors", state)
    back = load_state(tmp_path / "s.safetensors")

    restored = torch.optim.AdamW(torch.nn.Linear(4, 3).parameters(), lr=1e-3)
    restored.load_state_dict(back["optimizer"])
    assert set(back["optimizer"]["state"]) == {0, 1}  # int keys survive
    for key, value in optimizer.state_dict()["state"][0].items():
        assert torch.equal(restored.state_dict()["state"][0][key], value)
    assert back["scheduler"] == scheduler.state_dict()
    assert back["epoch"] == 3 and back["best_state"] is None


def test_a_file_that_is_not_a_state_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="training state"):
        load_state(path)
