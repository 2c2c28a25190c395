"""int8, verified before it is trusted.

NNCF quantizes the version's fp32 IR after training on a few hundred windows of the
project's own videos; a disjoint set of held-out windows then runs through both the fp32 and
the int8 model, and the result — max and mean |Δp|, and the segment F1@0.5 of the int8
model's predicted events against the fp32 model's — is written as ``int8.json`` beside the
quantized model. Only a variant whose record passes the gate is ever used; otherwise the
record says why and analysis stays on fp32.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.analysis.backends.base import Engine
from core.analysis.backends.openvino_backend import INT8_XML, save_ir
from core.analysis.inference import WindowProducer
from core.analysis.postprocess import PostprocessParams, predicted_events
from core.analysis.windows import frame_scores
from core.atomic import atomic_write
from core.errors import Cancelled, InferenceError
from core.learning.evaluation import Interval, segment_f1
from core.media.library import open_reader
from core.model.spec import InputSpec
from core.store import Store
from core.store.records import BACKGROUND, ModelVersion, Video

log = logging.getLogger(__name__)

REPORT_JSON = "int8.json"
CALIBRATION_WINDOWS = 300
HELDOUT_WINDOWS = 120
_BATCH = 8


@dataclass(frozen=True)
class Int8Gate:
    """When an int8 variant may replace fp32."""

    max_abs_dp: float = 0.05
    min_event_f1: float = 0.95


@dataclass(frozen=True)
class Int8Report:
    """What the held-out comparison measured, kept with the model version it belongs to."""

    model_version_id: int
    checkpoint: str
    calibration_windows: int
    heldout_windows: int
    max_abs_dp: float
    mean_abs_dp: float
    event_f1_vs_fp32: float
    events_fp32: int
    events_int8: int
    passed: bool
    reason: str
    gate: dict[str, float] = field(default_factory=dict)
    created_at: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Int8Report:
        return cls(**json.loads(text))


def read_report(folder: Path) -> Int8Report | None:
    """The recorded verification of this folder's int8 model; None if absent or unreadable."""
    path = folder / REPORT_JSON
    if not path.is_file():
        return None
    try:
        return Int8Report.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError) as exc:
        log.warning("Ignoring unreadable int8 record %s: %s", path, exc)
        return None


def usable(folder: Path, report: Int8Report | None) -> bool:
    return report is not None and report.passed and (folder / INT8_XML).is_file()


@dataclass
class WindowSample:
    """Windows of one video: the starts and their uint8 clips, in order."""

    frame_count: int
    starts: list[int] = field(default_factory=list)
    clips: list[np.ndarray] = field(default_factory=list)


def sample_windows(
    store: Store,
    spec: InputSpec,
    calibration: int,
    heldout: int,
    cancel: threading.Event,
) -> tuple[list[np.ndarray], list[WindowSample]]:
    """Evenly spread windows of every readable video, alternately for calibration and held out.

    Windows are spaced so that roughly ``calibration + heldout`` are taken in all, shared
    between videos by their length; the two sets never share a window.
    """
    videos = [v for v in store.videos.list() if Path(v.path).is_file()]
    if not videos:
        raise InferenceError("int8 needs at least one readable video in the project to calibrate on.")
    wanted = calibration + heldout
    frames_total = sum(max(v.best_frame_count, 1) for v in videos)
    calib: list[np.ndarray] = []
    held: list[WindowSample] = []
    held_count = 0
    for video in videos:
        share = max(2, round(wanted * max(video.best_frame_count, 1) / frames_total))
        stride = max(1, max(video.best_frame_count, 1) // share)
        sample = WindowSample(frame_count=max(video.best_frame_count, 1))
        for number, (start, clip) in enumerate(_windows_of(video, spec, stride, cancel)):
            if number % 2 == 0 and len(calib) < calibration:
                calib.append(clip[None])
            elif number % 2 == 1 and held_count < heldout:
                sample.starts.append(start)
                sample.clips.append(clip)
                held_count += 1
        if sample.starts:
            held.append(sample)
    if not calib or not held:
        raise InferenceError("The project's videos are too short to calibrate and check int8 on.")
    return calib, held


def _windows_of(
    video: Video, spec: InputSpec, stride: int, cancel: threading.Event
) -> Iterator[tuple[int, np.ndarray]]:
    with open_reader(video) as reader:
        producer = WindowProducer(reader, spec, stride, _BATCH, set(), cancel)
        for batch in producer.batches():
            for row, start in enumerate(batch.starts):
                yield start, batch.clips[row].copy()
    if cancel.is_set():
        raise Cancelled("Preparing int8 was cancelled.")


def quantize(fp32_xml: Path, calibration: list[np.ndarray], cancel: threading.Event) -> Path:
    """NNCF post-training quantization of the fp32 IR; writes ``int8.xml`` beside it."""
    import nncf
    import openvino as ov
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    def transform(clip: np.ndarray) -> np.ndarray:
        if cancel.is_set():
            raise Cancelled("Preparing int8 was cancelled.")
        return clip

    nncf.set_log_level(logging.WARNING)  # its INFO lines go to stdout, which is the CLI's
    model = ov.Core().read_model(str(fp32_xml))
    log.info("Quantizing %s on %d windows", fp32_xml, len(calibration))
    # Two choices measured on a head fine-tuned on the demo (held-out max |Δp| against fp32):
    # - fc6, fc7 and fc8 stay fp32. A head trained on fc7 reads small differences between
    #   windows, which per-tensor int8 activations of pool5 and fc6 wipe out (0.48, every event
    #   lost; 0.022 and all events kept without them). They are ~0.1% of the network's work.
    # - full min-max activation ranges: NNCF's default quantile ranges clip the rare large
    #   activations that carry an event (0.52 against 0.48 here; 0.23-0.56 against 0.005 on
    #   the tests' hand-made head).
    advanced = AdvancedQuantizationParameters(
        activations_range_estimator_params=RangeEstimatorParametersSet.MINMAX
    )
    # NNCF draws its progress bars on stdout, which the CLI keeps for results.
    with contextlib.redirect_stdout(sys.stderr):
        quantized = nncf.quantize(
            model,
            nncf.Dataset(calibration, transform),
            subset_size=len(calibration),
            fast_bias_correction=True,
            ignored_scope=nncf.IgnoredScope(types=["MatMul"]),
            advanced_parameters=advanced,
        )
    xml = fp32_xml.with_name(INT8_XML)
    save_ir(quantized, xml)
    return xml


def compare(
    reference: Engine,
    candidate: Engine,
    heldout: list[WindowSample],
    class_names: tuple[str, ...],
    window: int,
    gate: Int8Gate,
    cancel: threading.Event | None = None,
) -> dict[str, float | int | bool | str]:
    """Run the held-out windows through both engines; the figures and the gate's decision."""
    # Every head's columns (a model with several tracks has a background column per state track).
    skip = frozenset(i for i, n in enumerate(class_names) if n.lower() == BACKGROUND)
    diffs: list[np.ndarray] = []
    truth: list[Interval] = []
    found: list[Interval] = []
    offset = 0
    for sample in heldout:
        if cancel is not None and cancel.is_set():
            raise Cancelled("Preparing int8 was cancelled.")
        clips = np.stack(sample.clips)
        ref = _probs(reference, clips)
        cand = _probs(candidate, clips)
        diffs.append(np.abs(cand - ref).reshape(-1))
        starts = np.asarray(sample.starts, dtype=np.int64)
        for probs, out in ((ref, truth), (cand, found)):
            scores = frame_scores(starts, probs, sample.frame_count, window)
            events = predicted_events(scores, PostprocessParams(), skip_classes=skip)
            out.extend((e.class_index, e.start_frame + offset, e.end_frame + offset) for e in events)
        offset += sample.frame_count + window  # videos never overlap in the combined timeline
    dp = np.concatenate(diffs)
    # Both finding no event at all is perfect agreement, not an undefined F1.
    f1 = 1.0 if not truth and not found else segment_f1(truth, found, 0.5)
    max_dp, mean_dp = float(dp.max()), float(dp.mean())
    reasons = []
    if not max_dp <= gate.max_abs_dp:
        reasons.append(f"max |Δp| {max_dp:.4f} exceeds {gate.max_abs_dp}")
    if not f1 >= gate.min_event_f1:
        reasons.append(f"event F1@0.5 against fp32 {f1:.3f} is below {gate.min_event_f1}")
    return {
        "heldout_windows": len(dp) // max(len(class_names), 1),
        "max_abs_dp": max_dp,
        "mean_abs_dp": mean_dp,
        "event_f1_vs_fp32": f1,
        "events_fp32": len(truth),
        "events_int8": len(found),
        "passed": not reasons,
        "reason": "; ".join(reasons) or "within the gate",
    }


def _probs(engine: Engine, clips: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [engine.run(clips[i : i + _BATCH], want_features=False).probs for i in range(0, len(clips), _BATCH)]
    )


def write_report(
    folder: Path,
    version: ModelVersion,
    calibration_windows: int,
    figures: dict[str, float | int | bool | str],
    gate: Int8Gate,
) -> Int8Report:
    report = Int8Report(
        model_version_id=version.id,
        checkpoint=Path(version.checkpoint_path).name,
        calibration_windows=calibration_windows,
        gate=asdict(gate),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        **figures,  # type: ignore[arg-type]
    )
    with atomic_write(folder / REPORT_JSON) as handle:
        handle.write(report.to_json())
    return report
