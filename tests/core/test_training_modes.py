"""Each training mode on a tiny generated video on the CPU, and what every run promises:
cancel, resume with identical weights, NaN stop, out-of-memory retry, class-list change,
cache invalidation after a full run, re-scoring without decoding, the CLI.

One project (96 frames, 112×112, analysed at stride 8: 11 windows) is built once for the
module, since the analysis is what costs, and every test gets it back exactly as the analysis
left it (database and files restored from a snapshot), so no test depends on what another
trained, cached or cleared, nor on the order they run in.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from core.analysis.run import LoadedModel, analyse_video
from core.analysis.windows import window_starts
from core.errors import Cancelled, CheckpointError, TrainingError
from core.learning.feature_cache import FeatureCache, feature_key, model_trunk_hashes
from core.learning.review import review_queue
from core.learning.training import TrainConfig, TrainingProgress, run_training
from core.learning.training.heads import HeadTask
from core.media.demo import DEMO_CLASSES, generate_demo_video, label_prefix
from core.media.library import add_video
from core.model.device import DeviceChoice
from core.model.network import BN_LAYERS
from core.model.registry import ensure_active_model, load_version
from core.model.spec import DEFAULT_SPEC
from core.store import open_store
from core.store.records import NewSegment

pytestmark = pytest.mark.slow
CPU = DeviceChoice(torch.device("cpu"), None, channels_last=True)
DB = "labels.sqlite3"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int, int]:
    """The analysed project, built once, and a snapshot of it (database + files) to restore from."""
    root = tmp_path_factory.mktemp("learning")
    demo = generate_demo_video(
        root / "tiny.avi", seconds=96 / 25, fps=25, size=(112, 112), seed=1,
        min_event_s=0.6, max_event_s=0.9, min_gap_s=0.5, max_gap_s=0.7,
    )  # fmt: skip
    with open_store(f"sqlite:///{root / DB}") as store:
        for name in DEMO_CLASSES:
            store.classes.add(name)
        video = add_video(store, demo.path)
        ids = {c.name: c.id for c in store.classes.list()}
        store.segments.paint(
            video.id,
            [NewSegment(ids[e.class_name], e.start_frame, e.end_frame) for e in label_prefix(demo, 1.0)],
        )
        untrained = ensure_active_model(store)
        model, _ = load_version(store, untrained)
        analyse_video(store, video, LoadedModel(untrained, model, CPU), stride=8, batch_size=4)
        files = store.files_dir
    snapshot = tmp_path_factory.mktemp("learning-snapshot")
    shutil.copy2(root / DB, snapshot / DB)  # closed above, so the WAL is folded in
    # Hard links: the store writes its files atomically (write, then rename), never in place.
    shutil.copytree(files, snapshot / files.name, copy_function=os.link)
    return root, snapshot, video.id, untrained.id


@pytest.fixture
def project(pristine: tuple[Path, Path, int, int]):  # type: ignore[no-untyped-def]
    """Each test gets the project as analysis left it, at the same paths (the store keeps them
    absolute), whatever earlier tests trained, cached or cleared."""
    root, snapshot, video_id, untrained_id = pristine
    for suffix in ("", "-wal", "-shm"):
        (root / f"{DB}{suffix}").unlink(missing_ok=True)
    files = root / f"{Path(DB).stem}_files"
    shutil.rmtree(files, ignore_errors=True)
    shutil.copy2(snapshot / DB, root / DB)
    shutil.copytree(snapshot / files.name, files, copy_function=os.link)
    url = f"sqlite:///{root / DB}"
    store = open_store(url)
    assert store.files_dir == files
    try:
        yield store, store.videos.get(video_id), store.models.get(untrained_id), url
    finally:
        store.close()


def _config(untrained, **kw) -> TrainConfig:  # type: ignore[no-untyped-def]
    return TrainConfig(parent_id=untrained.id, activate=False, device="cpu", stride=8, **kw)


def test_analysis_filled_the_cache_with_both_layers(project) -> None:  # type: ignore[no-untyped-def]
    store, video, untrained, _ = project
    model, _ = load_version(store, untrained)
    hashes = model_trunk_hashes(model)
    assert hashes["fc7"] == untrained.trunk_hash
    cache = FeatureCache(store)
    pool5 = cache.load(feature_key(video, hashes["pool5"], DEFAULT_SPEC, 8, "pool5"))
    fc7 = cache.load(feature_key(video, hashes["fc7"], DEFAULT_SPEC, 8, "fc7"))
    assert pool5 is not None and fc7 is not None and pool5.complete and fc7.complete
    assert pool5.starts.tolist() == fc7.starts.tolist() == window_starts(96, 16, 8).tolist()
    assert pool5.features.shape == (11, 8192) and fc7.features.shape == (11, 4096)
    with torch.no_grad():
        again = model.fc7_from_pool5(torch.from_numpy(pool5.features.astype(np.float32))).numpy()
    np.testing.assert_allclose(again, fc7.features.astype(np.float32), rtol=0.02, atol=1e-3)


def test_features_mode_learns_registers_and_rescores_without_decoding(project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store, video, untrained, _ = project

    def no_decoding(*_a, **_k):  # type: ignore[no-untyped-def]
        raise AssertionError("a video was decoded")

    monkeypatch.setattr("core.media.video.VideoReader.__init__", no_decoding)
    result = run_training(store, _config(untrained, mode="features"))
    version = result.version
    assert version.mode == "features" and version.parent_id == untrained.id
    assert 0.0 <= version.metrics["val_macro_f1"] <= 1.0
    # Every labelled window is judged once, by a model that never saw its event.
    assert version.metrics["validation"] == "events"
    assert version.metrics["val_windows"] == version.metrics["train_windows"] == 11
    assert version.metrics["val_events"] == sum(version.metrics["val_events_per_class"].values()) >= 3
    low, high = version.metrics["val_macro_f1_range"]
    assert 0.0 <= low <= high <= 1.0
    assert version.summary["split"]["kind"] == "events"
    assert version.summary["decoder"]["kind"] == "hmm"
    assert version.summary["data"]["videos"][0]["id"] == video.id
    parent, child = load_file(untrained.checkpoint_path), load_file(version.checkpoint_path)
    for name in (*BN_LAYERS, "conv1", "conv5b"):  # the convolutional trunk stayed the seed's
        key = f"{name}.weight"
        assert torch.equal(parent[key], child[key])
    assert result.rescored_video_ids == (video.id,)
    run = store.predictions.latest_run(video.id, version.id)
    assert run is not None and run.windows_done == 11
    _starts, probs = store.predictions.windows(run.id)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    assert store.models.active().id == untrained.id  # activate=False


def test_last_layers_mode_trains_fc6_to_fc8_and_caches_the_new_fc7(project) -> None:  # type: ignore[no-untyped-def]
    store, video, untrained, _ = project
    result = run_training(store, _config(untrained, mode="last-layers", epochs=1))
    version = result.version
    assert version.mode == "last-layers"
    assert version.trunk_hash != untrained.trunk_hash  # fc6/fc7 changed, so fc7 features did
    parent = load_file(untrained.checkpoint_path)
    child = load_file(version.checkpoint_path)
    assert torch.equal(parent["conv5b.weight"], child["conv5b.weight"])
    assert not torch.equal(parent["fc6.weight"], child["fc6.weight"])
    fc7 = FeatureCache(store).load(feature_key(video, version.trunk_hash, DEFAULT_SPEC, 8, "fc7"))
    assert fc7 is not None and fc7.complete and len(fc7.starts) == 11
    assert result.rescored_video_ids == (video.id,)


def test_a_new_class_rebuilds_fc8_only(project) -> None:  # type: ignore[no-untyped-def]
    store, _, untrained, _ = project
    extra = store.classes.add("extra")
    try:
        result = run_training(store, _config(untrained, mode="features", epochs=2, solver="gradient"))
    finally:
        store.classes.remove(extra.id)
    assert result.version.class_names == (*untrained.class_names, "extra")
    assert result.version.trunk_hash == untrained.trunk_hash
    assert load_file(result.version.checkpoint_path)["fc8.weight"].shape[0] == len(untrained.class_names) + 1


def test_cancel_stops_before_the_next_micro_batch_and_registers_nothing(project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Counted in work, not seconds: no micro-batch is computed once cancel is asked."""
    store, _, untrained, _ = project
    before = len(store.models.list())
    cancel = threading.Event()
    computed_after_cancel: list[int] = []
    real = HeadTask.loss

    def counting(self, indices, batch_total, rng):  # type: ignore[no-untyped-def]
        if cancel.is_set():
            computed_after_cancel.append(len(indices))
        return real(self, indices, batch_total, rng)

    def on_progress(p: TrainingProgress) -> None:
        if p.phase == "train":
            cancel.set()

    monkeypatch.setattr(HeadTask, "loss", counting)
    with pytest.raises(Cancelled):
        run_training(
            store, _config(untrained, mode="last-layers", epochs=3, batch_size=4), cancel, on_progress
        )
    assert cancel.is_set() and computed_after_cancel == []
    assert len(store.models.list()) == before


def test_resumed_run_ends_with_the_same_weights(project) -> None:  # type: ignore[no-untyped-def]
    store, _, untrained, _ = project
    config = _config(untrained, mode="features", epochs=4, patience=10, seed=3, solver="gradient")
    cancel = threading.Event()

    def stop_after_epoch_2(p: TrainingProgress) -> None:
        if p.phase == "validate" and p.epoch == 2:
            cancel.set()

    with pytest.raises(Cancelled):
        run_training(store, config, cancel, stop_after_epoch_2)
    resumed = run_training(store, config)
    assert resumed.resumed_from_epoch == 2
    fresh = run_training(store, config)  # the finished run's checkpoint is gone: starts over
    assert fresh.resumed_from_epoch == 0
    a, b = load_file(resumed.version.checkpoint_path), load_file(fresh.version.checkpoint_path)
    assert torch.equal(a["fc8.weight"], b["fc8.weight"]) and torch.equal(a["fc8.bias"], b["fc8.bias"])
    assert [r.loss for r in resumed.history] == [r.loss for r in fresh.history]


def test_nan_loss_stops_the_run_and_keeps_the_previous_model(project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store, _, untrained, _ = project
    before = len(store.models.list())
    real = HeadTask.loss

    def poisoned(self, indices, batch_total, rng):  # type: ignore[no-untyped-def]
        return real(self, indices, batch_total, rng) * float("nan")

    monkeypatch.setattr(HeadTask, "loss", poisoned)
    with pytest.raises(TrainingError, match="diverged"):
        run_training(store, _config(untrained, mode="features", epochs=2, solver="gradient"))
    assert len(store.models.list()) == before
    assert store.models.active().id == untrained.id


def test_out_of_memory_retries_with_half_the_batch(project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store, _, untrained, _ = project
    real = HeadTask.loss
    sizes: list[int] = []

    def small_gpu(self, indices, batch_total, rng):  # type: ignore[no-untyped-def]
        sizes.append(len(indices))
        if len(indices) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(self, indices, batch_total, rng)

    monkeypatch.setattr(HeadTask, "loss", small_gpu)
    result = run_training(
        store, _config(untrained, mode="features", epochs=1, batch_size=6, solver="gradient")
    )
    assert result.version.mode == "features"
    assert sizes[:3] == [6, 3, 1]  # 6 → 3 (still too big) → 1


def test_full_mode_trains_every_layer_with_frozen_bn_and_leaves_the_cache_stale(project) -> None:  # type: ignore[no-untyped-def]
    store, video, untrained, _ = project
    config = TrainConfig(
        mode="full", epochs=1, batch_size=2, stride=16, parent_id=untrained.id, activate=False, device="cpu"
    )
    messages: list[str] = []
    result = run_training(store, config, on_progress=lambda p: p.message and messages.append(p.message))
    assert any("slow" in m for m in messages)  # said so before starting on the CPU
    version = result.version
    assert version.mode == "full" and version.metrics["train_windows"] == 3  # starts 0, 16, 32
    parent, child = load_file(untrained.checkpoint_path), load_file(version.checkpoint_path)
    assert not torch.equal(parent["conv1.weight"], child["conv1.weight"])
    for bn in BN_LAYERS:  # batches under 8 clips: BN statistics frozen
        assert torch.equal(parent[f"{bn}.running_mean"], child[f"{bn}.running_mean"])
    model, _ = load_version(store, version)
    hashes = model_trunk_hashes(model)
    cache = FeatureCache(store)
    assert cache.load(feature_key(video, hashes["pool5"], DEFAULT_SPEC, 8, "pool5")) is None
    assert result.rescored_video_ids == ()


def test_review_queue_puts_disagreements_first(project) -> None:  # type: ignore[no-untyped-def]
    store, video, untrained, _ = project
    items = review_queue(store, video, untrained.id, limit=20)
    assert items, "an untrained model disagrees with the labels somewhere"
    reasons = [i.reason for i in items]
    assert reasons == sorted(reasons)  # "disagrees" < "uncertain"
    starts = sorted(i.start_frame for i in items)
    assert all(b - a >= 16 for a, b in itertools.pairwise(starts))


def test_cli_train_evaluate_and_clear_the_cache(project, capsys) -> None:  # type: ignore[no-untyped-def]
    from main import main

    store, _, untrained, url = project
    store.models.set_active(untrained.id)
    code = main(["--db", url, "train", "--mode", "features", "--epochs", "3", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "validation macro-F1" in out and "re-scored 1 video" in out
    assert re.search(r"validation: macro-F1 [0-9.]+ \([0-9.]+–[0-9.]+\) over \d+ held-out events", out), out
    code = main(["--db", url, "evaluate"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "macro-F1" in out and "mAP@0.5:0.95" in out and "segment F1" in out
    assert main(["--db", url, "cache", "clear"]) == 0
    assert "cleared the feature cache" in capsys.readouterr().out
    assert store.features.list() == []
    store.models.set_active(untrained.id)
    assert main(["--db", url, "evaluate", "--model", "999"]) != 0
    err = capsys.readouterr().err
    assert "999" in err and len(err.strip().splitlines()) == 1  # one line, no traceback


def _add_light_and_onsets(store, video) -> None:  # type: ignore[no-untyped-def]
    """Two more tracks on the same video: the flash (state) and its onsets (point)."""
    from core.store.records import TrackKind

    light = store.tracks.add("light")
    onsets = store.tracks.add("onsets", TrackKind.POINT)
    flash = store.classes.add("flash", track_id=light.id)
    onset = store.classes.add("onset", track_id=onsets.id)
    dark = store.classes.by_name("background", light.id)
    flashes = [s for s in store.segments.list(video.id) if s.class_name == "flash"]
    store.segments.paint(video.id, [NewSegment(dark.id, 0, 96)])
    store.segments.paint(video.id, [NewSegment(flash.id, s.start_frame, s.end_frame) for s in flashes])
    store.segments.paint(video.id, [NewSegment(onset.id, s.start_frame, s.start_frame + 1) for s in flashes])


@pytest.mark.parametrize("mode", ["features", "last-layers"])
def test_with_several_tracks_every_mode_but_full_trains_a_head_per_track(project, mode, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from core.analysis.predictions import load_predictions
    from core.learning.track_learning import decode_tracks
    from core.model.registry import version_tracks
    from core.model.track_heads import column_slices

    store, video, untrained, _ = project
    _add_light_and_onsets(store, video)
    before = {
        t: store.segments.list(video.id, track_id=store.tracks.resolve(t).id) for t in ("light", "onsets")
    }

    def no_decoding(*_a, **_k):  # type: ignore[no-untyped-def]
        raise AssertionError("a video was decoded")

    monkeypatch.setattr("core.media.video.VideoReader.__init__", no_decoding)
    result = run_training(store, _config(untrained, mode=mode, epochs=2))
    version = result.version
    assert [t.name for t in version_tracks(store, version)] == ["behaviour", "light", "onsets"]
    assert set(version.metrics["tracks"]) == {"behaviour", "light", "onsets"}
    model, meta = load_version(store, version)
    assert [t.name for t in meta.tracks] == ["behaviour", "light", "onsets"]
    parent = load_file(untrained.checkpoint_path)
    child = load_file(version.checkpoint_path)
    assert torch.equal(parent["conv5b.weight"], child["conv5b.weight"])
    assert {"heads.0.weight", "heads.1.weight"} <= set(child)
    assert result.rescored_video_ids == (video.id,)
    light = load_predictions(store, video, version.id, track="light")
    onsets = load_predictions(store, video, version.id, track="onsets")
    assert light is not None and light.class_names == ("background", "flash") and light.probs.shape == (11, 2)
    np.testing.assert_allclose(light.probs.sum(axis=1), 1.0, atol=1e-3)
    assert onsets is not None and onsets.probs.shape == (11, 1)
    # The stored probabilities are the new network's, one trunk pass for every head.
    cached = FeatureCache(store).load(feature_key(video, version.trunk_hash, DEFAULT_SPEC, 8, "fc7"))
    assert cached is not None
    with torch.no_grad():
        again = model.probs_from_fc7(torch.from_numpy(cached.features.astype(np.float32))).numpy()
    columns = column_slices(meta.tracks)
    if mode == "features":  # each state track's columns then go through its own HMM
        assert set(version.summary["decoders"]) == {"behaviour", "light"}
        again = decode_tracks(again, version)
    np.testing.assert_allclose(again[:, columns["light"]], light.probs, atol=1e-2)
    assert before == {t: store.segments.list(video.id, track_id=store.tracks.resolve(t).id) for t in before}
    if mode != "features":
        return
    # A class added since: analysing with the old heads is refused, training from them is not.
    store.classes.add("bounce", track_id=store.tracks.resolve("light").id)
    with pytest.raises(CheckpointError, match="'light'"):
        load_version(store, version)
    again = run_training(store, TrainConfig(parent_id=version.id, activate=False, device="cpu", mode=mode))
    assert version_tracks(store, again.version)[1].classes == ("background", "flash", "bounce")


def test_full_mode_with_several_tracks_says_which_modes_do(project) -> None:  # type: ignore[no-untyped-def]
    store, video, untrained, _ = project
    _add_light_and_onsets(store, video)
    with pytest.raises(TrainingError, match="'features' or 'last-layers'"):
        run_training(store, _config(untrained, mode="full", epochs=1))
