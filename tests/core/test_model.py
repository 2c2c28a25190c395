"""C3D_BN: the seed's architecture, its split forward passes, seeding and the trunk hash.

Structure and shape checks run on the meta device (no memory, no compute); only the tests
that really need weights share one model built per module.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import pytest
import torch

from core.model.network import (
    C3D_BN,
    ClipOutputs,
    new_model,
    prepare_for_inference,
    replace_head,
    trunk_hash,
)

CORE = Path(__file__).resolve().parents[2] / "core"


def meta_model(num_classes: int = 8) -> C3D_BN:
    with torch.device("meta"):
        return C3D_BN(num_classes)


@pytest.fixture(scope="module")
def model() -> C3D_BN:
    return new_model(8, seed=0)


def test_parameter_count_matches_the_seed() -> None:
    assert sum(p.numel() for p in meta_model(8).parameters()) == 78_034_056


def test_layer_names_and_order_match_the_seed() -> None:
    names = [name for name, _ in meta_model().named_children()]
    assert names == [
        "conv1", "conv1_bn", "pool1",
        "conv2", "conv2_bn", "pool2",
        "conv3a", "conv3a_bn", "conv3b", "conv3b_bn", "pool3",
        "conv4a", "conv4a_bn", "conv4b", "conv4b_bn", "pool4",
        "conv5a", "conv5a_bn", "conv5b", "conv5b_bn", "pool5",
        "fc6", "fc7", "fc8", "relu",
    ]  # fmt: skip


def test_layer_shapes() -> None:
    m = meta_model(5)
    assert m.num_classes == 5
    assert m.pool5.padding == (0, 1, 1)
    assert (m.fc6.in_features, m.fc6.out_features) == (8192, 4096)
    assert (m.fc7.in_features, m.fc7.out_features) == (4096, 4096)
    assert (m.fc8.in_features, m.fc8.out_features) == (4096, 5)
    assert m.conv5b_bn.num_features == 512


@pytest.mark.parametrize(
    "shape", [(1, 3, 8, 112, 112), (1, 3, 16, 128, 128), (3, 16, 112, 112), (2, 1, 16, 112, 112)]
)
def test_wrong_clip_shape_raises_instead_of_rebatching(shape: tuple[int, ...]) -> None:
    m = meta_model()
    x = torch.empty(shape, device="meta")
    for call in (m, m.forward_features, m.trunk):
        with pytest.raises(ValueError, match=r"\(B, 3, 16, 112, 112\)") as info:
            call(x)
        assert str(tuple(shape)) in str(info.value)


def test_heads_reject_the_wrong_feature_width() -> None:
    m = meta_model()
    with pytest.raises(ValueError, match=r"pool5 features shaped \(B, 8192\)"):
        m.head_from_pool5(torch.empty(1, 4096, device="meta"))
    with pytest.raises(ValueError, match=r"fc7 features shaped \(B, 4096\)"):
        m.head_from_fc7(torch.empty(1, 8192, device="meta"))


def test_new_model_initialises_bn_as_identity(model: C3D_BN) -> None:
    for name in ("conv1_bn", "conv3b_bn", "conv5b_bn"):
        bn = getattr(model, name)
        assert torch.equal(bn.weight, torch.ones_like(bn.weight))
        assert torch.equal(bn.bias, torch.zeros_like(bn.bias))
        assert torch.equal(bn.running_mean, torch.zeros(bn.num_features))
        assert torch.equal(bn.running_var, torch.ones(bn.num_features))
    assert model.conv1.bias is not None
    assert torch.equal(model.conv1.bias, torch.zeros(64))
    std = model.conv1.weight.std().item()  # Kaiming fan-out: sqrt(2 / (64 * 27))
    assert std == pytest.approx((2 / (64 * 27)) ** 0.5, rel=0.1)


@pytest.mark.slow
def test_same_seed_same_weights_and_global_rng_untouched(model: C3D_BN) -> None:
    rng_before = torch.random.get_rng_state()
    again = new_model(8, seed=0)
    assert torch.equal(torch.random.get_rng_state(), rng_before)
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
    del again
    other = new_model(8, seed=1)
    assert not torch.equal(other.conv1.weight, model.conv1.weight)
    assert not torch.equal(other.fc8.weight, model.fc8.weight)


def test_trunk_hash_is_stable_and_short(model: C3D_BN) -> None:
    first = trunk_hash(model, "pool5")
    assert first == trunk_hash(model, "pool5")
    assert len(first) == 16
    int(first, 16)
    with pytest.raises(ValueError, match="upto"):
        trunk_hash(model, "fc8")  # type: ignore[arg-type]


@pytest.fixture()
def scratch(model: C3D_BN) -> C3D_BN:
    return copy.deepcopy(model)


@pytest.mark.slow
def test_trunk_hash_tracks_exactly_the_frozen_part(scratch: C3D_BN) -> None:
    pool5, fc7 = trunk_hash(scratch, "pool5"), trunk_hash(scratch, "fc7")
    assert pool5 != fc7
    with torch.no_grad():
        scratch.fc8.weight[0, 0] += 1.0
    assert (trunk_hash(scratch, "pool5"), trunk_hash(scratch, "fc7")) == (pool5, fc7)

    with torch.no_grad():
        scratch.fc6.bias[0] += 1.0
    assert trunk_hash(scratch, "pool5") == pool5
    fc7_after_fc6 = trunk_hash(scratch, "fc7")
    assert fc7_after_fc6 != fc7

    with torch.no_grad():
        scratch.conv4b.weight[0, 0, 0, 0, 0] += 1e-3
    pool5_after_conv = trunk_hash(scratch, "pool5")
    assert pool5_after_conv != pool5
    assert trunk_hash(scratch, "fc7") != fc7_after_fc6

    running_var = scratch.conv3a_bn.running_var
    assert running_var is not None
    running_var[7] += 1e-3
    assert trunk_hash(scratch, "pool5") != pool5_after_conv


def test_replace_head_keeps_the_trunk(scratch: C3D_BN) -> None:
    before = trunk_hash(scratch, "fc7")
    replace_head(scratch, 3, seed=5)
    assert scratch.num_classes == 3
    assert scratch.fc8.weight.shape == (3, 4096)
    assert trunk_hash(scratch, "fc7") == before
    first = scratch.fc8.weight.clone()
    assert replace_head(scratch, 3, seed=5) is scratch
    assert torch.equal(scratch.fc8.weight, first)
    assert torch.equal(scratch.fc8.bias, torch.zeros(3))


@pytest.mark.slow
def test_split_passes_agree_with_forward(model: C3D_BN) -> None:
    model.eval()
    x = torch.randn(1, 3, 16, 112, 112, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model.forward_features(x)
        logits = model(x)
        assert isinstance(out, ClipOutputs)
        assert logits.shape == (1, 8)
        assert out.pool5.shape == (1, 8192)
        assert out.fc7.shape == (1, 4096)
        assert bool((out.fc7 >= 0).all())
        torch.testing.assert_close(out.logits, logits)
        torch.testing.assert_close(model.head_from_pool5(out.pool5), logits)
        torch.testing.assert_close(model.head_from_fc7(out.fc7), logits)
        assert torch.equal(model.trunk(x), out.pool5)


def test_prepare_for_inference_uses_channels_last() -> None:
    m = meta_model()
    m.train()
    result = prepare_for_inference(m, torch.device("meta"), channels_last=True)
    assert result is m
    assert not m.training
    assert m.conv1.weight.is_contiguous(memory_format=torch.channels_last_3d)
    assert not m.conv1.weight.is_contiguous()
    plain = prepare_for_inference(meta_model(), torch.device("meta"), channels_last=False)
    assert plain.conv1.weight.is_contiguous()


def _torch_load_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "load"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "torch"
    ]


def test_torch_load_only_in_sports1m_and_always_weights_only() -> None:
    """Unpickling a user's file can run code; one audited call site keeps that contained."""
    users = {}
    for path in sorted(CORE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        rel = path.relative_to(CORE.parent).as_posix()
        calls = _torch_load_calls(ast.parse(source))
        if calls or "torch.load(" in source:
            users[rel] = calls
        assert "from torch import load" not in source, rel
    tree = ast.parse((CORE / "model" / "checkpoint.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {"pickle", "dill", "cloudpickle"} & imported, "checkpoint.py must never unpickle"
    assert list(users) == ["core/model/sports1m.py"]
    assert users["core/model/sports1m.py"], "core/sports1m.py should load with torch.load"
    for call in users["core/model/sports1m.py"]:
        flags = {kw.arg: kw.value for kw in call.keywords}
        value = flags.get("weights_only")
        assert isinstance(value, ast.Constant) and value.value is True, ast.unparse(call)
