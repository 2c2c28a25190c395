"""One trunk, one head per track: heads fitted on fc7 features learn each track on its own,
run in one trunk pass, and travel in a file that names their tracks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from core.analysis.backends.base import Engine
from core.errors import CheckpointError, TrainingError
from core.learning.track_learning import evaluate, fit_heads, predict, project_specs, track_targets
from core.model.checkpoint import CheckpointMeta, load_checkpoint, save_checkpoint
from core.model.network import C3D_BN, CLIP_SHAPE, FC7_FEATURES
from core.model.spec import DEFAULT_SPEC, WINDOW_LENGTH
from core.model.track_heads import TrackedC3D, TrackHeads, TrackSpec, column_slices, install_heads
from core.store import Store
from core.store.records import NewSegment, TrackKind

STRIDE, WINDOWS = 8, 400


def _three_track_project(store: Store) -> tuple[int, np.ndarray]:
    """Body (walk/rest) and head (sniff) overlap freely; jumps are point events."""
    frames = WINDOWS * STRIDE + WINDOW_LENGTH
    video = store.videos.add("/v/a.mp4", "h", 64, 48, 25.0, frames)
    head = store.tracks.add("head", subject="m1")
    jumps = store.tracks.add("jumps", TrackKind.POINT)
    walk, rest = store.classes.add("walk"), store.classes.add("rest")
    sniff = store.classes.add("sniff", track_id=head.id)
    jump = store.classes.add("jump", track_id=jumps.id)
    rng = np.random.default_rng(0)
    labels: list[NewSegment] = []
    still = store.classes.by_name("background")
    quiet = store.classes.by_name("background", head.id)
    assert still is not None and quiet is not None
    body_classes = (still, walk, rest)
    for start in range(0, frames - 60, 60):  # 60-frame blocks: body walks, rests or neither
        labels.append(NewSegment(body_classes[int(rng.integers(3))].id, start, start + 60))
    for start in range(30, frames - 90, 90):  # the head sniffs, or not, at the same time
        labels.append(NewSegment((sniff if rng.random() < 0.5 else quiet).id, start, start + 90))
    for frame in range(50, frames - 50, 70):
        labels.append(NewSegment(jump.id, frame, frame + 1))
    store.segments.paint(video.id, labels)
    return video.id, np.arange(WINDOWS) * STRIDE


def _features(store: Store, video_id: int, starts: np.ndarray) -> np.ndarray:
    """fc7-like features: noise plus a direction per (track, class) the window's centre shows."""
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, (len(starts), FC7_FEATURES))
    directions = rng.normal(0.0, 1.0, (16, FC7_FEATURES)) * 0.3
    specs = project_specs(store)
    k = 0
    for spec in specs:
        track = store.tracks.resolve(spec.name)
        y = track_targets(spec, store.segments.list(video_id, track_id=track.id), starts, 10**9)
        hot = y if y.ndim == 1 else np.where(y[:, 0] == 1, 1, 0)  # class 0 is background
        for c in range(1, int(hot.max()) + 1):
            x[hot == c] += directions[k]
            k += 1
    return np.maximum(x, 0.0)  # fc7 is after a ReLU


def test_every_track_learns_from_the_same_features(store: Store) -> None:
    video_id, starts = _three_track_project(store)
    specs = project_specs(store)
    assert [(s.name, s.kind, s.classes) for s in specs] == [
        ("behaviour", TrackKind.STATE, ("background", "walk", "rest")),
        ("head", TrackKind.STATE, ("background", "sniff")),
        ("jumps", TrackKind.POINT, ("background", "jump")),
    ]
    features = _features(store, video_id, starts)
    split = int(0.6 * WINDOWS)
    cut = int(starts[split])
    targets = {}
    for spec in specs:
        track_id = store.tracks.resolve(spec.name).id
        targets[spec.name] = track_targets(
            spec, store.segments.list(video_id, track_id=track_id), starts, 10**9
        )
    train = {n: t[:split] for n, t in targets.items()}
    heads = fit_heads(specs, features[:split], train)
    scores = evaluate(
        specs, predict(heads, features[split:]), {n: t[split:] for n, t in targets.items()}, starts[split:]
    )
    assert [s.track for s in scores] == ["behaviour", "head", "jumps"]
    assert all(s.f1 >= 0.9 for s in scores), scores
    assert cut > 0

    shuffled = fit_heads(
        specs, features[:split], {**train, "head": np.random.default_rng(5).permutation(train["head"])}
    )
    worse = evaluate(
        specs, predict(shuffled, features[split:]), {n: t[split:] for n, t in targets.items()}, starts[split:]
    )
    assert worse[1].f1 < 0.7  # a head learns its own track's labels, not another's


def test_point_track_windows_past_the_labelled_part_are_unlabelled(store: Store) -> None:
    video_id, starts = _three_track_project(store)
    spec = project_specs(store)[2]
    track_id = store.tracks.resolve("jumps").id
    y = track_targets(spec, store.segments.list(video_id, track_id=track_id), starts, labelled_until=400)
    centres = starts + WINDOW_LENGTH // 2
    assert (y[centres >= 400] == -1).all()
    assert y[(centres >= 50 - 2) & (centres <= 50 + 2)].tolist() == [[1]] * int(
        ((centres >= 48) & (centres <= 52)).sum()
    )


SPECS = (
    TrackSpec("body", TrackKind.STATE, ("background", "walk", "rest")),
    TrackSpec("head", TrackKind.STATE, ("background", "sniff")),
    TrackSpec("jumps", TrackKind.POINT, ("background", "jump", "bite")),
)


def _tracked(untrained_model: C3D_BN, seed: int = 3) -> C3D_BN:
    heads = TrackHeads(SPECS)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in heads.layers:
            assert isinstance(layer, torch.nn.Linear)
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * 0.05)
            layer.bias.copy_(torch.randn(layer.bias.shape, generator=gen))
    return install_heads(untrained_model, heads)


def test_all_heads_share_one_trunk_pass_and_equal_fc7_times_their_weights(untrained_model: C3D_BN) -> None:
    model = _tracked(untrained_model)
    assert isinstance(model, TrackedC3D)
    calls = []
    hook = model.conv1.register_forward_hook(lambda *_: calls.append(1))
    clips = torch.rand((2, *CLIP_SHAPE))
    try:
        with torch.no_grad():
            out = model.forward_features(clips)
            probs = model.output_probs(out)
    finally:
        hook.remove()
    assert len(calls) == 1
    assert tuple(probs.shape) == (2, 3 + 2 + 2)
    cols = column_slices(SPECS)
    layers = model.head_layers()
    with torch.no_grad():
        by_hand = [out.fc7 @ layer.weight.T + layer.bias for layer in layers]
    assert torch.allclose(probs[:, cols["body"]], torch.softmax(by_hand[0], 1), atol=1e-6)
    assert torch.allclose(probs[:, cols["head"]], torch.softmax(by_hand[1], 1), atol=1e-6)
    assert torch.allclose(probs[:, cols["jumps"]], torch.sigmoid(by_hand[2]), atol=1e-6)
    assert not torch.allclose(probs[:, cols["jumps"]].sum(1), torch.ones(2))  # independent sigmoids


def test_a_tracked_checkpoint_round_trips_and_refuses_another_projects_tracks(
    untrained_model: C3D_BN, tmp_path: Path
) -> None:
    model = _tracked(untrained_model)
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, model, CheckpointMeta.create(SPECS[0].outputs, DEFAULT_SPEC, tracks=SPECS))
    loaded, meta = load_checkpoint(path, project_tracks=SPECS)
    assert meta.tracks == SPECS and meta.class_names == SPECS[0].classes
    assert isinstance(loaded, TrackedC3D)
    fc7 = torch.rand(3, FC7_FEATURES)
    with torch.no_grad():
        assert torch.equal(model.probs_from_fc7(fc7), loaded.probs_from_fc7(fc7))
    # A project that gained a track loads it (that track just has no predictions yet).
    gaze = TrackSpec("gaze", TrackKind.STATE, ("background", "left"))
    load_checkpoint(path, project_tracks=[*SPECS, gaze])
    renamed = [*SPECS[:2], TrackSpec("jumps", TrackKind.POINT, ("background", "hop"))]
    with pytest.raises(CheckpointError, match="knows the classes background, jump, bite for 'jumps'"):
        load_checkpoint(path, project_tracks=renamed)
    with pytest.raises(CheckpointError, match="head for the track 'head', which this project lacks"):
        load_checkpoint(path, project_tracks=[SPECS[0], SPECS[2]])
    with pytest.raises(CheckpointError, match="as a point track"):
        load_checkpoint(
            path, project_tracks=[*SPECS[:2], TrackSpec("jumps", TrackKind.STATE, SPECS[2].classes)]
        )


def test_a_one_track_checkpoint_is_the_seeds_c3d_bn(untrained_model: C3D_BN, tmp_path: Path) -> None:
    path = tmp_path / "one.safetensors"
    names = tuple(f"c{i}" for i in range(untrained_model.fc8.out_features))
    save_checkpoint(path, untrained_model, CheckpointMeta.create(names, DEFAULT_SPEC))
    with safe_open(str(path), framework="pt") as f:
        assert set(f.keys()) == set(untrained_model.state_dict())
        assert not any(k.endswith("tracks") for k in (f.metadata() or {}))
    loaded, meta = load_checkpoint(path, project_tracks=[TrackSpec("x", TrackKind.STATE, ("a", "b"))])
    assert type(loaded) is C3D_BN and meta.tracks == ()


def test_the_shared_gram_dual_solves_the_same_ridge_as_the_primal() -> None:
    from dataclasses import replace

    from core.learning.track_learning import prepare

    rng = np.random.default_rng(2)
    x = np.maximum(rng.normal(size=(300, FC7_FEATURES)), 0.0)
    specs = [
        TrackSpec("a", TrackKind.STATE, ("background", "x", "y")),
        TrackSpec("p", TrackKind.POINT, ("background", "o")),
    ]
    targets = {"a": rng.integers(-1, 3, 300), "p": rng.integers(0, 2, (300, 1))}
    subset = rng.random(300) < 0.7
    ready = prepare(x)
    dual = fit_heads(specs, ready, targets, subset=subset)
    primal = fit_heads(specs, replace(ready, gram=None), targets, subset=subset)
    for a, b in zip(dual.layers, primal.layers, strict=True):
        # float32 (weights here are ~0.08): the two solves agree to a few parts in 10,000.
        assert torch.allclose(a.weight, b.weight, rtol=1e-2, atol=2e-4)
        assert torch.allclose(a.bias, b.bias, rtol=1e-2, atol=1e-3)


def _engines_agree_on_heads(engine: Engine, model: C3D_BN) -> None:
    assert isinstance(model, TrackedC3D)
    clips = np.random.default_rng(0).integers(0, 255, (2, 16, 112, 112, 3), dtype=np.uint8)
    out = engine.run(clips, True)
    assert out.probs.shape == (2, 7) and out.fc7 is not None
    with torch.no_grad():  # every head from the engine's own fc7: one pass gave them all
        by_hand = model.probs_from_fc7(torch.as_tensor(out.fc7, dtype=torch.float32)).numpy()
    assert np.allclose(out.probs, by_hand, atol=2e-3)


def test_the_torch_engine_computes_every_head_in_its_one_pass(untrained_model: C3D_BN) -> None:
    from core.analysis.backends.torch_backend import TorchEngine
    from core.model.device import DeviceChoice

    model = _tracked(untrained_model).eval()
    _engines_agree_on_heads(
        TorchEngine(model, DEFAULT_SPEC, DeviceChoice(torch.device("cpu"), None, False)), model
    )


@pytest.mark.slow
def test_the_openvino_engine_compiles_every_head_into_its_graph(
    untrained_model: C3D_BN, tmp_path: Path
) -> None:
    from core.analysis.backends.openvino_backend import OpenVinoEngine, ensure_fp32_ir

    model = _tracked(untrained_model).eval()
    xml = ensure_fp32_ir(tmp_path / "v1", model, DEFAULT_SPEC)
    _engines_agree_on_heads(OpenVinoEngine(xml, "fp32", tmp_path), model)


def test_last_layers_sums_the_heads_losses_with_their_weights(untrained_model: C3D_BN, store: Store) -> None:
    from core.cli.learning_cmds import parse_track_weights
    from core.learning.training.tracks_task import TracksHeadTask, tracked_start

    model = tracked_start(untrained_model, SPECS, seed=0)
    rng = np.random.default_rng(0)
    x = rng.random((12, 8192)).astype(np.float32)
    y = {
        "body": rng.integers(-1, 3, 12),
        "head": rng.integers(0, 2, 12),
        "jumps": rng.integers(0, 2, (12, 2)),
    }
    rows = np.arange(12)

    def loss(weights: dict[str, float]) -> float:
        task = TracksHeadTask(
            model, x, y, x[:4], {k: v[:4] for k, v in y.items()}, torch.device("cpu"), weights
        )
        task.training = False  # no dropout: the same loss each call
        return float(task.loss(rows, 12, rng).detach())

    parts = {
        name: loss({n: float(n == name) for n in ("body", "head", "jumps")})
        for name in ("body", "head", "jumps")
    }
    assert all(v > 0 for v in parts.values())
    assert np.isclose(loss({}), sum(parts.values()), rtol=1e-4)
    assert np.isclose(loss({"jumps": 3.0}), parts["body"] + parts["head"] + 3 * parts["jumps"], rtol=1e-4)
    head = store.tracks.add("head")
    assert parse_track_weights(store, ["HEAD=2.5", "behaviour=0"]) == (("head", 2.5), ("behaviour", 0.0))
    with pytest.raises(TrainingError, match="TRACK=W"):
        parse_track_weights(store, ["head=-1"])
    assert head.name == "head"
