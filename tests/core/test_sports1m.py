"""Sports-1M import on a synthetic state dict with the real port's keys and shapes.

Nothing is downloaded: random tensors of the published shapes stand in for the weights. The
heavy fixtures (a 300 MB pickle, one import with two calibration clips) are built once.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from core.errors import CheckpointError
from core.model.checkpoint import CheckpointMeta, load_checkpoint, save_checkpoint
from core.model.network import BN_LAYERS, C3D_BN
from core.model.spec import SPORTS1M_SPEC
from core.model.sports1m import PRETRAINED_KEYS, calibrate_bn, import_sports1m, read_sports1m_state

CLASSES = ("serve", "rally", "break")
CONV_SHAPES = {
    "conv1": (64, 3), "conv2": (128, 64), "conv3a": (256, 128), "conv3b": (256, 256),
    "conv4a": (512, 256), "conv4b": (512, 512), "conv5a": (512, 512), "conv5b": (512, 512),
}  # fmt: skip


def synthetic_state_dict() -> dict[str, torch.Tensor]:
    """The public port's layout (no BN, fc8 for 487 sports), He-scaled so activations stay sane."""
    gen = torch.Generator().manual_seed(42)
    state: dict[str, torch.Tensor] = {}
    for name, (out_c, in_c) in CONV_SHAPES.items():
        fan_in = in_c * 27
        state[f"{name}.weight"] = torch.randn(out_c, in_c, 3, 3, 3, generator=gen) * (2 / fan_in) ** 0.5
        state[f"{name}.bias"] = torch.randn(out_c, generator=gen) * 0.1
    for name, (out_f, in_f) in {"fc6": (4096, 8192), "fc7": (4096, 4096), "fc8": (487, 4096)}.items():
        state[f"{name}.weight"] = torch.randn(out_f, in_f, generator=gen) * (2 / in_f) ** 0.5
        state[f"{name}.bias"] = torch.zeros(out_f)
    return state


def clip(seed: int, batch: int = 1) -> torch.Tensor:
    """Roughly what SPORTS1M_SPEC produces: BGR 0–255 minus the mean."""
    return torch.randn(batch, 3, 16, 112, 112, generator=torch.Generator().manual_seed(seed)) * 50


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    return synthetic_state_dict()


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory, state: dict[str, torch.Tensor]) -> Path:
    path = tmp_path_factory.mktemp("sports1m") / "c3d.pickle"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def calibration() -> list[torch.Tensor]:
    return [clip(1), clip(2)]


@pytest.fixture(scope="module")
def imported(weights_file: Path, calibration: list[torch.Tensor]) -> tuple[C3D_BN, CheckpointMeta]:
    return import_sports1m(weights_file, CLASSES, iter(calibration), seed=3)


@pytest.mark.slow
def test_import_copies_pretrained_weights_exactly(
    imported: tuple[C3D_BN, CheckpointMeta], state: dict[str, torch.Tensor]
) -> None:
    model, _ = imported
    params = dict(model.named_parameters())
    for key in PRETRAINED_KEYS:
        assert torch.equal(params[key], state[key]), key
    assert model.fc8.weight.shape == (len(CLASSES), 4096)
    assert torch.equal(model.fc8.bias, torch.zeros(len(CLASSES)))
    assert not model.training


@pytest.mark.slow
def test_import_meta(imported: tuple[C3D_BN, CheckpointMeta]) -> None:
    _, meta = imported
    assert meta.class_names == CLASSES
    assert meta.input_spec == SPORTS1M_SPEC
    assert meta.parent == "sports1m:c3d.pickle"
    assert meta.training["calibration_clips"] == 2


@pytest.mark.slow
def test_calibrated_bn_is_identity_with_the_clips_statistics(
    imported: tuple[C3D_BN, CheckpointMeta], calibration: list[torch.Tensor]
) -> None:
    model, _ = imported
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def keep(name: str):  # type: ignore[no-untyped-def]
        def hook(_m: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            seen[name] = (inputs[0], output)

        return hook

    handles = [getattr(model, name).register_forward_hook(keep(name)) for name in BN_LAYERS]
    try:
        with torch.no_grad():
            model.trunk(torch.cat(calibration))
    finally:
        for handle in handles:
            handle.remove()

    for name in BN_LAYERS:
        x, y = seen[name]
        scale = x.abs().max().item()
        assert (y - x).abs().max().item() <= 1e-5 * scale, name
        bn = getattr(model, name)
        var, mean = torch.var_mean(x, dim=[0, 2, 3, 4], correction=0)
        torch.testing.assert_close(bn.running_mean, mean, rtol=1e-4, atol=1e-5 * scale)
        torch.testing.assert_close(bn.running_var, var, rtol=1e-4, atol=1e-5 * scale**2)
        torch.testing.assert_close(bn.weight, torch.sqrt(bn.running_var + bn.eps))
        assert torch.equal(bn.bias, bn.running_mean)


@pytest.mark.slow
def test_import_round_trips_through_a_checkpoint(
    imported: tuple[C3D_BN, CheckpointMeta], tmp_path: Path
) -> None:
    model, meta = imported
    path = tmp_path / "sports1m.safetensors"
    save_checkpoint(path, model, meta)
    loaded, loaded_meta = load_checkpoint(path, expected_classes=CLASSES)
    assert loaded_meta == meta
    assert loaded_meta.input_spec == SPORTS1M_SPEC
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


@pytest.mark.slow
def test_calibrate_stops_at_max_clips_without_pulling_more(imported: tuple[C3D_BN, CheckpointMeta]) -> None:
    model = copy.deepcopy(imported[0])
    model.train()
    pulled = []

    def clips() -> Iterator[torch.Tensor]:
        for seed in range(3):
            pulled.append(seed)
            yield clip(seed, batch=2)

    assert calibrate_bn(model, clips(), max_clips=1) == 1
    assert pulled == [0]
    assert model.training


@pytest.mark.parametrize("training", [True, False])
def test_calibrate_with_no_clips_changes_nothing(untrained_model: C3D_BN, training: bool) -> None:
    model = copy.deepcopy(untrained_model)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():  # BN state that differs from the defaults, so a reset would show
        for name in BN_LAYERS:
            bn = getattr(model, name)
            for tensor in (bn.weight, bn.bias, bn.running_mean):
                tensor.copy_(torch.randn(tensor.shape, generator=generator))
            bn.running_var.copy_(torch.rand(bn.running_var.shape, generator=generator) + 0.5)
    model.train(training)
    before = {key: value.clone() for key, value in model.state_dict().items()}

    assert calibrate_bn(model, iter([]), max_clips=10) == 0
    after = model.state_dict()
    assert after.keys() == before.keys()
    assert [key for key in before if not torch.equal(after[key], before[key])] == []
    assert model.training is training


@pytest.mark.slow
def test_wrapped_and_prefixed_state_dicts_are_accepted(
    tmp_path: Path, state: dict[str, torch.Tensor]
) -> None:
    path = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 7}, path)
    loaded = read_sports1m_state(path)
    assert sorted(loaded) == sorted(PRETRAINED_KEYS)
    for key in PRETRAINED_KEYS:
        assert torch.equal(loaded[key], state[key]), key


@pytest.mark.slow
def test_import_without_clips_is_refused(weights_file: Path) -> None:
    with pytest.raises(CheckpointError, match="needs at least one video clip"):
        import_sports1m(weights_file, CLASSES, iter([]))


def test_wrong_shape_names_the_key(tmp_path: Path) -> None:
    good = {"conv1.weight": torch.zeros(64, 3, 3, 3, 3), "conv1.bias": torch.zeros(64)}
    torch.save(
        {**good, "conv2.weight": torch.zeros(128, 64, 3, 3), "conv2.bias": torch.zeros(128)},
        tmp_path / "w.pt",
    )
    with pytest.raises(
        CheckpointError,
        match=r"w\.pt has 'conv2\.weight' shaped \(128, 64, 3, 3\) where C3D needs \(128, 64, 3, 3, 3\)",
    ):
        import_sports1m(tmp_path / "w.pt", CLASSES, iter([]))


def test_missing_key_is_named(tmp_path: Path) -> None:
    torch.save({"module.conv1.weight": torch.zeros(64, 3, 3, 3, 3)}, tmp_path / "w.pt")
    with pytest.raises(CheckpointError, match=r"lacks 'conv1\.bias'"):
        import_sports1m(tmp_path / "w.pt", CLASSES, iter([]))


@pytest.mark.parametrize("payload", [[1, 2, 3], {"weights": torch.zeros(2)}, torch.zeros(3)])
def test_a_pickle_that_is_not_a_state_dict(tmp_path: Path, payload: object) -> None:
    torch.save(payload, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=r"other\.pt does not hold a C3D state dict"):
        import_sports1m(tmp_path / "other.pt", CLASSES, iter([]))


def test_a_pickled_module_is_refused_safely(tmp_path: Path) -> None:
    torch.save(nn.Linear(2, 2), tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="holds Python objects besides weights"):
        import_sports1m(tmp_path / "model.pt", CLASSES, iter([]))


@pytest.mark.parametrize("content", [b"not a pickle at all", b"", b"\x00\x01garbage"])
def test_a_file_that_is_not_pytorch(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "c3d.pickle").write_bytes(content)
    with pytest.raises(
        CheckpointError, match=r"c3d\.pickle is not a PyTorch weights file|holds Python objects"
    ):
        import_sports1m(tmp_path / "c3d.pickle", CLASSES, iter([]))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        import_sports1m(tmp_path / "absent.pickle", CLASSES, iter([]))
