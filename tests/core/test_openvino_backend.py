"""The OpenVINO engine: fp32 agrees with PyTorch fp32, the converted model is reused, and an
int8 variant is used only when its recorded check against fp32 passes the gate."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from core.analysis.backends.base import Engine, EngineOutput
from core.analysis.backends.int8 import (
    Int8Gate,
    WindowSample,
    compare,
    read_report,
    sample_windows,
    write_report,
)
from core.analysis.backends.openvino_backend import (
    INT8_XML,
    OpenVinoEngine,
    cache_dir,
    prune_variants,
    variant_dir,
)
from core.analysis.backends.select import BACKEND_ENV_VAR, Int8Settings, load_for_analysis
from core.analysis.backends.torch_backend import TorchEngine
from core.analysis.inference import infer_windows
from core.analysis.run import analyse_video
from core.errors import InferenceError
from core.learning.feature_cache import FeatureCache, feature_key
from core.media.demo import generate_demo_video
from core.media.library import add_video
from core.media.video import VideoReader
from core.model.checkpoint import CheckpointMeta
from core.model.device import DeviceChoice, choose_device
from core.model.network import trunk_hash
from core.model.registry import ensure_active_model, load_version, register_model
from core.model.spec import InputSpec
from core.store import open_store
from core.store.records import ModelVersion
from main import main

CPU_FP32 = choose_device("cpu", precision="fp32")
STRIDE = 8


@pytest.fixture(autouse=True)
def openvino_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKEND_ENV_VAR, raising=False)


def _fitted_head(store, version: ModelVersion, demo) -> ModelVersion:  # type: ignore[no-untyped-def]
    """A head that separates the demo's events by their mean fc7, so predictions form events."""
    model, meta = load_version(store, version)
    engine = TorchEngine(model.eval(), meta.input_spec, CPU_FP32)
    with VideoReader(demo.path) as reader:
        batches = list(
            infer_windows(reader, engine, meta.input_spec, CPU_FP32, stride=16, want_features=True)
        )
    starts = np.concatenate([b.starts for b in batches])
    fc7 = np.concatenate([b.fc7 for b in batches]).astype(np.float64)
    inside = np.zeros(demo.frame_count, dtype=bool)
    for event in demo.events:
        inside[event.start_frame : event.end_frame] = True
    positive = np.array([inside[s : s + 16].mean() > 0.5 for s in starts])
    direction = fc7[positive].mean(axis=0) - fc7[~positive].mean(axis=0)
    projected = fc7 @ direction
    middle = (projected[positive].mean() + projected[~positive].mean()) / 2
    scale = 4.0 / max(float(np.abs(projected - middle).max()), 1e-9)  # logits within about ±4
    with torch.no_grad():
        flash = meta.class_names.index("flash")
        model.fc8.weight.zero_()
        model.fc8.bias.zero_()
        model.fc8.weight[flash] = torch.from_numpy(direction * scale).float()
        model.fc8.bias[flash] = float(-middle * scale)
    fitted = CheckpointMeta.create(meta.class_names, meta.input_spec, name="fitted")
    return register_model(store, model, fitted, mode="test", parent_id=version.id)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator:  # type: ignore[type-arg]
    tmp = tmp_path_factory.mktemp("openvino")
    store = open_store(f"sqlite:///{tmp / 'labels.sqlite3'}")
    store.classes.add("flash")
    demo = generate_demo_video(tmp / "demo.avi", seconds=8, fps=25, size=(160, 120), seed=1)
    video = add_video(store, demo.path)
    version = _fitted_head(store, ensure_active_model(store), demo)
    try:
        yield store, video, version, demo
    finally:
        store.close()


def _window_probs(engine: Engine, spec: InputSpec, path: Path) -> tuple[np.ndarray, np.ndarray]:
    with VideoReader(path) as reader:
        batches = list(infer_windows(reader, engine, spec, CPU_FP32, stride=16, batch_size=4))
    return np.concatenate([b.starts for b in batches]), np.concatenate([b.probs for b in batches])


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_openvino_fp32_agrees_with_pytorch_fp32_and_is_converted_once(project) -> None:  # type: ignore[no-untyped-def]
    store, _video, version, demo = project
    statuses: list[str] = []
    loaded = load_for_analysis(
        store, version, load_version(store, version)[0], CPU_FP32, "fp32", on_status=statuses.append
    )
    assert (loaded.engine.backend, loaded.engine.precision) == ("openvino", "fp32")
    assert loaded.engine_label == "CPU · OpenVINO fp32"
    assert any("converting" in s for s in statuses)

    reference = TorchEngine(load_version(store, version)[0].eval(), loaded.spec, CPU_FP32)
    starts, ov_probs = _window_probs(loaded.engine, loaded.spec, demo.path)
    pt_starts, pt_probs = _window_probs(reference, loaded.spec, demo.path)
    np.testing.assert_array_equal(starts, pt_starts)
    flash = version.class_names.index("flash")
    assert pt_probs[:, flash].max() > 0.6 and pt_probs[:, flash].min() < 0.4  # the head decides
    assert np.abs(ov_probs - pt_probs).max() <= 1e-3

    folder = variant_dir(store.files_dir, version)
    converted, compiled = _files(folder), _files(cache_dir(store.files_dir))
    assert "fp32.xml" in converted and "fp32.bin" in converted and compiled
    statuses.clear()
    again = load_for_analysis(
        store, version, load_version(store, version)[0], CPU_FP32, "fp32", on_status=statuses.append
    )
    assert again.engine.backend == "openvino" and not statuses
    assert _files(folder) == converted  # not converted again
    assert _files(cache_dir(store.files_dir)) == compiled  # compiled from the cache, not rewritten


@pytest.mark.slow
def test_submitted_batches_come_back_as_run_gives_them_and_an_overwritten_one_is_refused(project) -> None:  # type: ignore[no-untyped-def]
    store, _video, version, _demo = project
    engine = load_for_analysis(store, version, load_version(store, version)[0], CPU_FP32, "fp32").engine
    clips = np.random.default_rng(3).integers(0, 255, (6, 16, 112, 112, 3), dtype=np.uint8)
    whole = engine.run(clips, want_features=True)
    assert whole.probs.shape[0] == 6 and whole.pool5 is not None and whole.pool5.shape[0] == 6
    waits = [engine.submit(clips[i : i + 2], want_features=True) for i in (0, 2, 4)]
    with pytest.raises(RuntimeError, match="overwritten"):
        waits[0]()  # a third submit reused its request before anyone collected it
    for i, wait in zip((2, 4), waits[1:], strict=True):
        out = wait()
        np.testing.assert_allclose(out.probs, whole.probs[i : i + 2], atol=1e-5)
        assert out.pool5 is not None and out.pool5.shape == (2, whole.pool5.shape[1])


@pytest.mark.slow
def test_int8_is_used_only_while_its_check_against_fp32_passes(project) -> None:  # type: ignore[no-untyped-def]
    store, video, version, _demo = project
    model = load_version(store, version)[0]
    before = load_for_analysis(store, version, model, CPU_FP32, "auto")
    assert before.engine.precision == "fp32" and "int8 not prepared" in before.engine_label

    settings = Int8Settings(calibration_windows=8, heldout_windows=12)
    asked = load_for_analysis(store, version, model, CPU_FP32, "int8", int8=settings)
    folder = variant_dir(store.files_dir, version)
    report = read_report(folder)
    assert report is not None and report.model_version_id == version.id and report.passed
    assert report.calibration_windows == 8 and 0 < report.heldout_windows <= 12
    assert 0 < report.max_abs_dp <= 0.05 and report.mean_abs_dp <= report.max_abs_dp
    assert report.event_f1_vs_fp32 >= 0.95 and report.events_fp32 > 0
    assert asked.engine.precision == "int8" and asked.engine_label == "CPU · OpenVINO int8 (verified)"

    auto = load_for_analysis(store, version, model, CPU_FP32, "auto")
    assert auto.engine.precision == "int8"
    analyse_video(store, video, auto, stride=STRIDE)
    cache = FeatureCache(store)
    fp32_hash = trunk_hash(model, "fc7")
    assert cache.entry(feature_key(video, fp32_hash, auto.spec, STRIDE, "fc7")) is None
    marked = cache.entry(feature_key(video, f"{fp32_hash}+int8", auto.spec, STRIDE, "fc7"))
    assert marked is not None and marked.complete

    # The same variant measured against a stricter gate is rejected, and nothing uses it.
    strict = Int8Gate(max_abs_dp=report.max_abs_dp / 2)
    _calibration, heldout = sample_windows(store, auto.spec, 8, 12, threading.Event())
    reference = OpenVinoEngine(folder / "fp32.xml", "fp32", store.files_dir)
    candidate = OpenVinoEngine(folder / INT8_XML, "int8", store.files_dir)
    figures = compare(reference, candidate, heldout, version.class_names, auto.spec.window, strict)
    write_report(folder, version, 8, figures, strict)
    for precision in ("auto", "int8"):
        after = load_for_analysis(store, version, model, CPU_FP32, precision)
        assert after.engine.precision == "fp32"
        assert "int8 rejected: max |Δp|" in after.engine_label


@pytest.mark.slow
def test_infer_command_takes_a_precision_and_says_which_engine_ran(project, capsys) -> None:  # type: ignore[no-untyped-def]
    store, _video, version, demo = project
    code = main(
        ["--db", store.url, "infer", str(demo.path), "--model", str(version.id), "--precision", "fp32"]
    )
    _out, err = capsys.readouterr()
    assert code == 0, err
    assert "engine: CPU · OpenVINO fp32" in err


class _Scripted:
    """An engine whose flash probability per window is given; a clip's pixels hold its index."""

    backend = "test"
    precision = "fp32"
    pads_batches = False
    label = "scripted"

    def __init__(self, flash: np.ndarray) -> None:
        self.flash = flash

    def run(self, clips: np.ndarray, want_features: bool) -> EngineOutput:
        p = self.flash[clips[:, 0, 0, 0, 0].astype(int)]
        return EngineOutput(np.stack([1 - p, p], axis=1).astype(np.float32), None, None)


def _heldout(n: int) -> list[WindowSample]:
    clips = [np.full((16, 2, 2, 3), i, dtype=np.uint8) for i in range(n)]
    return [
        WindowSample(frame_count=(n - 1) * STRIDE + 16, starts=[i * STRIDE for i in range(n)], clips=clips)
    ]


@pytest.mark.parametrize(
    ("inside", "outside", "passes", "why"),
    [
        (0.88, 0.11, True, "within the gate"),
        (0.45, 0.10, False, "max |Δp| 0.4500 exceeds 0.05"),  # the event vanishes and |Δp| is large
        (0.49, 0.10, False, "event F1@0.5 against fp32 0.000 is below 0.95"),  # |Δp| ≤ 0.05, event lost
    ],
)
def test_gate_decides_on_both_dp_and_events(inside: float, outside: float, passes: bool, why: str) -> None:
    event = np.zeros(20, dtype=bool)
    event[6:12] = True
    reference = _Scripted(np.where(event, 0.9, 0.1))
    candidate = _Scripted(np.where(event, inside, outside))
    figures = compare(reference, candidate, _heldout(20), ("background", "flash"), 16, Int8Gate())
    assert figures["events_fp32"] == 1
    assert figures["passed"] is passes
    assert why in str(figures["reason"])


def test_no_events_on_either_side_is_agreement_not_failure() -> None:
    quiet = _Scripted(np.full(10, 0.2))
    figures = compare(
        quiet, _Scripted(np.full(10, 0.21)), _heldout(10), ("background", "flash"), 16, Int8Gate()
    )
    assert figures["event_f1_vs_fp32"] == 1.0 and figures["passed"] is True


def test_pytorch_runs_when_openvino_cannot_load(store, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    def broken(*_args: object) -> Path:
        raise RuntimeError("no CPU plugin here")

    monkeypatch.setattr("core.analysis.backends.select.ensure_fp32_ir", broken)
    version = ensure_active_model(store)
    loaded = load_for_analysis(store, version, load_version(store, version)[0], CPU_FP32, "auto")
    assert loaded.engine.backend == "torch"
    assert "OpenVINO could not load: no CPU plugin here" in loaded.engine_label


def test_int8_is_refused_on_a_gpu_with_a_clear_message(store) -> None:  # type: ignore[no-untyped-def]
    gpu = DeviceChoice(torch.device("cuda"), torch.bfloat16, channels_last=True)
    version = ensure_active_model(store)
    with pytest.raises(InferenceError, match="int8 runs on the CPU"):
        load_for_analysis(store, version, load_version(store, version)[0], gpu, "int8")


def test_only_the_most_recently_used_versions_keep_their_converted_models(tmp_path: Path) -> None:
    root = tmp_path / "openvino"
    folders = [root / f"v{i}-abc" for i in range(5)]
    for age, folder in enumerate(reversed(folders)):
        folder.mkdir(parents=True)
        (folder / "fp32.xml").write_text("x")
        os.utime(folder, (1_000_000 - age, 1_000_000 - age))  # v4 newest … v0 oldest
    removed = prune_variants(tmp_path, folders[0], keep=3)  # v0 is used now
    assert sorted(p.name for p in removed) == ["v1-abc", "v2-abc"]
    assert sorted(p.name for p in root.iterdir()) == ["v0-abc", "v3-abc", "v4-abc"]
