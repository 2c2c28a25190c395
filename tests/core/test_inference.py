"""Sliding-window inference: every frame covered, each window holds the right frames, reduced
precision agrees with fp32."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from core.analysis.backends.base import EngineOutput, Pending
from core.analysis.inference import WindowProducer, infer_windows
from core.analysis.windows import window_starts
from core.errors import Cancelled
from core.media.video import VideoReader
from core.model.device import DeviceChoice
from core.model.network import prepare_for_inference
from core.model.spec import InputSpec
from tests.videos import read_number, write_mjpeg_avi

IDENTITY_SPEC = InputSpec(resize=(112, 112), crop=None, color_order="RGB")
CPU_FP32 = DeviceChoice(torch.device("cpu"), None, channels_last=True)


def _window_frames(path: Path, stride: int, batch: int, skip: set[int] | None = None) -> dict[int, list[int]]:
    """Which frame numbers (read from the pixels) each produced window holds."""
    got: dict[int, list[int]] = {}
    with VideoReader(path) as reader:
        producer = WindowProducer(reader, IDENTITY_SPEC, stride, batch, skip or set(), threading.Event())
        for item in producer.batches():
            for start, clip in zip(item.starts, item.clips, strict=False):
                got[start] = [read_number(cv2.cvtColor(f, cv2.COLOR_RGB2BGR)) for f in clip]
        assert producer.frame_count == reader.frame_count
    return got


@pytest.mark.parametrize(("frames", "stride"), [(40, 8), (45, 8), (16, 4), (33, 16)])
def test_windows_cover_every_frame_and_hold_consecutive_frames(
    tmp_path: Path, frames: int, stride: int
) -> None:
    path = write_mjpeg_avi(tmp_path / "n.avi", frames, size=(112, 112))
    got = _window_frames(path, stride, batch=3)
    assert sorted(got) == list(window_starts(frames, 16, stride))
    for start, numbers in got.items():
        assert numbers == list(range(start, start + 16))
    covered = {f for numbers in got.values() for f in numbers}
    assert covered == set(range(frames))


def test_short_video_is_one_window_padded_with_its_last_frame(tmp_path: Path) -> None:
    path = write_mjpeg_avi(tmp_path / "short.avi", 5, size=(112, 112))
    got = _window_frames(path, 8, batch=4)
    assert got == {0: [0, 1, 2, 3, 4] + [4] * 11}


def test_skipped_windows_are_not_produced(tmp_path: Path) -> None:
    path = write_mjpeg_avi(tmp_path / "n.avi", 40, size=(112, 112))
    got = _window_frames(path, 8, batch=2, skip={0, 16})
    assert sorted(got) == [8, 24]


def test_probabilities_per_window_sum_to_one_and_follow_the_stride(tmp_path: Path, untrained_model) -> None:  # type: ignore[no-untyped-def]
    path = write_mjpeg_avi(tmp_path / "n.avi", 24, size=(112, 112))
    model = prepare_for_inference(untrained_model, torch.device("cpu"), channels_last=True)
    with VideoReader(path) as reader:
        batches = list(infer_windows(reader, model, IDENTITY_SPEC, CPU_FP32, stride=8, batch_size=2))
    starts = np.concatenate([b.starts for b in batches])
    probs = np.concatenate([b.probs for b in batches])
    assert starts.tolist() == [0, 8]
    assert probs.shape == (2, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_cancel_stops_with_cancelled(tmp_path: Path, untrained_model) -> None:  # type: ignore[no-untyped-def]
    path = write_mjpeg_avi(tmp_path / "n.avi", 64, size=(112, 112))
    model = prepare_for_inference(untrained_model, torch.device("cpu"), channels_last=True)
    cancel = threading.Event()
    seen = 0
    with VideoReader(path) as reader, pytest.raises(Cancelled):
        for _batch in infer_windows(
            reader, model, IDENTITY_SPEC, CPU_FP32, stride=8, batch_size=1, cancel=cancel
        ):
            seen += 1
            cancel.set()
    assert seen == 1


class _Deferred:
    """An engine that computes when asked for the result, recording submits and waits."""

    backend, precision, pads_batches, label = "test", "fp32", False, "deferred"

    def __init__(self) -> None:
        self.submitted = 0
        self.waited: set[int] = set()

    def run(self, clips: np.ndarray, want_features: bool) -> EngineOutput:
        first = np.array([read_number(cv2.cvtColor(c[0], cv2.COLOR_RGB2BGR)) for c in clips], np.float32)
        return EngineOutput(np.stack([first, -first], axis=1), None, None)

    def submit(self, clips: np.ndarray, want_features: bool) -> Pending:
        number, self.submitted = self.submitted, self.submitted + 1
        clips = clips.copy()

        def wait() -> EngineOutput:
            self.waited.add(number)
            return self.run(clips, want_features)

        return wait


def test_the_next_batch_computes_while_the_caller_stores_and_none_is_left_running(tmp_path: Path) -> None:
    path = write_mjpeg_avi(tmp_path / "n.avi", 64, size=(112, 112))
    engine = _Deferred()
    submitted_when_handed: list[int] = []
    with VideoReader(path) as reader:
        batches = []
        for batch in infer_windows(reader, engine, IDENTITY_SPEC, CPU_FP32, stride=8, batch_size=2):
            submitted_when_handed.append(engine.submitted)
            batches.append(batch)
    starts = np.concatenate([b.starts for b in batches])
    assert starts.tolist() == list(window_starts(64, 16, 8))
    np.testing.assert_array_equal(np.concatenate([b.probs for b in batches])[:, 0], starts)  # in order
    assert submitted_when_handed[:-1] == list(range(2, len(batches) + 1))  # always one ahead
    assert engine.waited == set(range(engine.submitted))

    cancel, engine = threading.Event(), _Deferred()
    with VideoReader(path) as reader, pytest.raises(Cancelled):
        for _batch in infer_windows(
            reader, engine, IDENTITY_SPEC, CPU_FP32, stride=8, batch_size=2, cancel=cancel
        ):
            cancel.set()
    assert engine.submitted == 2 and engine.waited == {0, 1}  # the batch in flight was waited for


def _round_to_bf16(model: torch.nn.Module) -> list[torch.utils.hooks.RemovableHandle]:
    """Emulate bf16 autocast numerics in fp32: every conv/linear sees bf16-rounded inputs and
    weights (accumulating in fp32, as oneDNN and cuDNN do) and emits a bf16-rounded output.
    Used where the CPU has no native bf16, on which real autocast runs ~100× slower."""

    def pre(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        return (args[0].bfloat16().float(),)

    def post(module: torch.nn.Module, args: object, out: torch.Tensor) -> torch.Tensor:
        return out.bfloat16().float()

    handles = []
    for layer in model.modules():
        if isinstance(layer, torch.nn.Conv3d | torch.nn.Linear):
            layer.weight.data = layer.weight.data.bfloat16().float()
            handles += [layer.register_forward_pre_hook(pre), layer.register_forward_hook(post)]
    return handles


def test_bf16_probabilities_stay_within_0_02_of_fp32(tmp_path: Path) -> None:
    """The reduced-precision path must not change what the user sees: max |Δp| ≤ 0.02 on
    decisive (not uniform) probabilities. Real bf16 autocast where the CPU computes bf16
    natively, a faithful fp32 emulation of its rounding elsewhere. (That choose_device picks bf16
    and infer_windows really runs under autocast is tested below on a model small enough.)"""
    from core.media.demo import generate_demo_video
    from core.model.device import cpu_has_native_bf16
    from core.model.network import new_model

    demo = generate_demo_video(tmp_path / "demo.avi", seconds=1.5, fps=25, size=(160, 120), seed=1)

    def probs(dtype: torch.dtype | None, emulate: bool) -> np.ndarray:
        model = new_model(4, seed=3).eval()
        with torch.no_grad():
            model.fc8.weight.mul_(400.0)  # an untrained head is near-uniform; make it decide
        if emulate:
            _round_to_bf16(model)
        model = prepare_for_inference(model, torch.device("cpu"), channels_last=True)
        device = DeviceChoice(torch.device("cpu"), dtype, channels_last=True)
        with VideoReader(demo.path) as reader:
            batches = list(infer_windows(reader, model, IDENTITY_SPEC, device, stride=16, batch_size=2))
        return np.concatenate([b.probs for b in batches])

    fp32 = probs(None, emulate=False)
    native = cpu_has_native_bf16()
    bf16 = probs(torch.bfloat16 if native else None, emulate=not native)
    assert fp32.max() > 0.5, "the check needs decisive probabilities to mean anything"
    assert not np.array_equal(bf16, fp32), "bf16 rounding must actually have happened"
    assert np.abs(bf16 - fp32).max() <= 0.02


CPUINFO = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse sse2 avx2 avx512f {extra}\n\n"


@pytest.fixture
def fake_cpuinfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Make /proc/cpuinfo say what the test wants, on a machine with no GPU; returns a setter."""
    import core.model.device as device_module

    real_path = device_module.Path
    fake = tmp_path / "cpuinfo"
    monkeypatch.setattr(
        device_module, "Path", lambda p: real_path(fake) if str(p) == "/proc/cpuinfo" else real_path(p)
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)

    def set_flags(extra: str) -> None:
        fake.write_text(CPUINFO.format(extra=extra), encoding="ascii")
        device_module.cpu_has_native_bf16.cache_clear()

    yield set_flags
    device_module.cpu_has_native_bf16.cache_clear()


@pytest.mark.parametrize(
    ("flags", "precision", "expected"),
    [
        ("avx512_bf16", "auto", torch.bfloat16),
        ("amx_bf16 amx_tile", "auto", torch.bfloat16),
        ("avx512_vnni", "auto", None),  # no native bf16: emulated bf16 would be far slower
        ("", "auto", None),
        ("avx512_bf16", "fp32", None),  # the user can always force fp32
    ],
)
def test_choose_device_takes_bf16_only_where_the_cpu_computes_it(
    fake_cpuinfo, flags: str, precision: str, expected: torch.dtype | None
) -> None:  # type: ignore[no-untyped-def]
    from core.model.device import choose_device

    fake_cpuinfo(flags)
    for name in ("auto", "cpu"):
        choice = choose_device(name, precision)
        assert choice.device.type == "cpu" and choice.autocast_dtype is expected
        assert choice.label == ("CPU (bf16)" if expected is torch.bfloat16 else "CPU (fp32)")


class _TinyC3D(torch.nn.Module):
    """Enough of the network's interface for infer_windows, small enough for real bf16 on any CPU."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(5)
        self.conv = torch.nn.Conv3d(3, 8, 3, padding=1)
        self.head = torch.nn.Linear(8, 3)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * 2)
        self.conv_dtypes: list[torch.dtype] = []
        self.conv.register_forward_hook(lambda _m, _a, out: self.conv_dtypes.append(out.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3, 4)))


def test_inference_runs_under_the_autocast_choose_device_picked(tmp_path: Path, fake_cpuinfo) -> None:  # type: ignore[no-untyped-def]
    """The real path: choose_device on a bf16 CPU, then infer_windows' autocast, not test hooks."""
    from core.model.device import choose_device

    spec = InputSpec(resize=(24, 24), crop=None, color_order="RGB")
    path = write_mjpeg_avi(tmp_path / "v.avi", 40, size=(112, 112))

    def run(flags: str) -> tuple[np.ndarray, list[torch.dtype]]:
        fake_cpuinfo(flags)
        model = _TinyC3D().eval()
        with VideoReader(path) as reader:
            batches = list(infer_windows(reader, model, spec, choose_device("cpu"), stride=8, batch_size=2))
        return np.concatenate([b.probs for b in batches]), model.conv_dtypes

    fp32, fp32_dtypes = run("")
    bf16, bf16_dtypes = run("avx512_bf16")
    assert set(fp32_dtypes) == {torch.float32}
    assert set(bf16_dtypes) == {torch.bfloat16}  # the convolutions really ran in bf16
    assert bf16.dtype == np.float32 and np.allclose(bf16.sum(axis=1), 1.0, atol=1e-5)
    assert fp32.max() > 0.5, "the comparison needs decisive probabilities to mean anything"
    assert not np.array_equal(bf16, fp32)
    assert np.abs(bf16 - fp32).max() <= 0.02
