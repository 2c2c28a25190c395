"""Which engine analyses: OpenVINO on the CPU (int8 only when verified), PyTorch on a GPU.

PyTorch is also the fallback wherever OpenVINO cannot load; the reason is logged and shown
next to the engine's label, so the user always sees what actually ran.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from core.analysis.backends.base import PRECISIONS, Engine
from core.analysis.backends.int8 import (
    CALIBRATION_WINDOWS,
    HELDOUT_WINDOWS,
    Int8Gate,
    Int8Report,
    compare,
    quantize,
    read_report,
    sample_windows,
    usable,
    write_report,
)
from core.analysis.backends.openvino_backend import (
    INT8_XML,
    OpenVinoEngine,
    ensure_fp32_ir,
    prune_variants,
    variant_dir,
)
from core.analysis.backends.torch_backend import TorchEngine
from core.analysis.run import LoadedModel
from core.errors import AppError, InferenceError
from core.model.device import DeviceChoice, choose_device
from core.model.network import C3D_BN
from core.model.registry import version_tracks
from core.model.spec import InputSpec
from core.store import Store
from core.store.records import ModelVersion

log = logging.getLogger(__name__)

BACKEND_ENV_VAR = "C3D_LABELLER_BACKEND"
"""Set to "torch" to keep OpenVINO out of the way (e.g. to compare, or work around a bug)."""

StatusFn = Callable[[str], None]


@dataclass(frozen=True)
class Int8Settings:
    calibration_windows: int = CALIBRATION_WINDOWS
    heldout_windows: int = HELDOUT_WINDOWS
    gate: Int8Gate = field(default_factory=Int8Gate)


def load_for_analysis(
    store: Store,
    version: ModelVersion,
    model: C3D_BN,
    device: DeviceChoice,
    precision: str = "auto",
    *,
    int8: Int8Settings | None = None,
    cancel: threading.Event | None = None,
    on_status: StatusFn | None = None,
    threads: int | None = None,
) -> LoadedModel:
    """The model ready to analyse with the engine ``precision`` asks for, or the nearest one.

    ``int8`` prepares (quantizes and verifies) the variant first if it was never tried for
    this version; ``auto`` only uses one that is already verified, so it never makes an
    analysis wait for quantization. ``threads`` pins OpenVINO's CPU threads (default: all).
    """
    if precision not in PRECISIONS:
        raise InferenceError(f"Unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}.")
    if device.device.type != "cpu":
        if precision == "int8":
            raise InferenceError("int8 runs on the CPU through OpenVINO: use --device cpu, or fp32/auto.")
        if precision == "fp32":
            device = replace(device, autocast_dtype=None)
        return LoadedModel(version, model, device)
    loaded = LoadedModel(version, model, device)
    if os.environ.get(BACKEND_ENV_VAR, "").strip().lower() == "torch":
        return _torch_fallback(loaded, precision, f"{BACKEND_ENV_VAR}=torch")
    try:
        engine = _openvino_engine(
            store, loaded, precision, int8 or Int8Settings(), cancel, on_status, threads
        )
    except AppError:  # the user's own problem (cancelled, no video to calibrate on): say so
        raise
    except Exception as exc:  # any failure to load OpenVINO leaves PyTorch, which always works
        log.warning("OpenVINO could not load, falling back to PyTorch: %s", exc, exc_info=True)
        return _torch_fallback(loaded, precision, f"OpenVINO could not load: {exc}")
    loaded.engine = engine
    return loaded


def _torch_fallback(loaded: LoadedModel, precision: str, why: str) -> LoadedModel:
    device = replace(loaded.device, autocast_dtype=None) if precision != "auto" else loaded.device
    loaded.engine = TorchEngine(loaded.model, loaded.spec, device, note=why)
    return loaded


def _openvino_engine(
    store: Store,
    loaded: LoadedModel,
    precision: str,
    settings: Int8Settings,
    cancel: threading.Event | None,
    on_status: StatusFn | None,
    threads: int | None = None,
) -> Engine:
    status = on_status or (lambda _m: None)
    folder = variant_dir(store.files_dir, loaded.version)
    if not (folder / "fp32.xml").is_file():
        status("converting the model for OpenVINO (once per model version)")
    fp32_xml = ensure_fp32_ir(folder, loaded.model, loaded.spec)
    prune_variants(store.files_dir, folder)
    if precision == "fp32":
        return OpenVinoEngine(fp32_xml, "fp32", store.files_dir, threads=threads)
    report = read_report(folder)
    if report is None and precision == "int8":
        report = prepare_int8(
            store, loaded.version, loaded.model, loaded.spec, settings, cancel=cancel, on_status=status
        )
    if usable(folder, report):
        return OpenVinoEngine(folder / INT8_XML, "int8", store.files_dir, note="verified", threads=threads)
    note = "int8 not prepared for this model yet" if report is None else f"int8 rejected: {report.reason}"
    return OpenVinoEngine(fp32_xml, "fp32", store.files_dir, note=note, threads=threads)


def prepare_int8(
    store: Store,
    version: ModelVersion,
    model: C3D_BN,
    spec: InputSpec,
    settings: Int8Settings | None = None,
    *,
    cancel: threading.Event | None = None,
    on_status: StatusFn | None = None,
) -> Int8Report:
    """Quantize ``version`` on the project's videos, verify it on held-out windows, record it.

    Runs again from scratch when called again (a changed project gives a new calibration);
    the analysis only calls it for a version that has no record yet.
    """
    settings = settings or Int8Settings()
    cancel = cancel or threading.Event()
    status = on_status or (lambda _m: None)
    folder = variant_dir(store.files_dir, version)
    fp32_xml = ensure_fp32_ir(folder, model, spec)
    status(f"int8: reading {settings.calibration_windows + settings.heldout_windows} windows")
    calibration, heldout = sample_windows(
        store, spec, settings.calibration_windows, settings.heldout_windows, cancel
    )
    status(f"int8: quantizing on {len(calibration)} windows")
    int8_xml = quantize(fp32_xml, calibration, cancel)
    status(f"int8: checking against fp32 on {sum(len(s.starts) for s in heldout)} held-out windows")
    reference = OpenVinoEngine(fp32_xml, "fp32", store.files_dir)
    candidate = OpenVinoEngine(int8_xml, "int8", store.files_dir)
    columns = tuple(name for track in version_tracks(store, version) for name in track.outputs)
    figures = compare(reference, candidate, heldout, columns, spec.window, settings.gate, cancel)
    report = write_report(folder, version, len(calibration), figures, settings.gate)
    log.info(
        "int8 for model %d: max |Δp| %.4f, mean %.5f, event F1 %.3f → %s",
        version.id,
        report.max_abs_dp,
        report.mean_abs_dp,
        report.event_f1_vs_fp32,
        "verified" if report.passed else f"rejected ({report.reason})",
    )
    status(verdict(report))
    return report


def verdict(report: Int8Report) -> str:
    figures = (
        f"max |Δp| {report.max_abs_dp:.4f}, mean |Δp| {report.mean_abs_dp:.5f}, "
        f"event F1@0.5 vs fp32 {report.event_f1_vs_fp32:.3f}"
    )
    if report.passed:
        return f"int8 verified: {figures}"
    return f"int8 rejected, staying on fp32: {report.reason} ({figures})"


def int8_wanted(store: Store, version: ModelVersion) -> bool:
    """Whether ``auto`` here would run an int8 variant of ``version`` that was never prepared.

    True on a CPU-only machine where OpenVINO is installed and not switched off, so a new
    model version can be quantized in the background before anyone analyses with it.
    """
    if os.environ.get(BACKEND_ENV_VAR, "").strip().lower() == "torch":
        return False
    if choose_device("auto").device.type != "cpu" or importlib.util.find_spec("openvino") is None:
        return False
    return int8_record(store, version) is None


def int8_record(store: Store, version: ModelVersion) -> Int8Report | None:
    """The recorded int8 verification of ``version``, if it was ever tried."""
    return read_report(variant_dir(store.files_dir, version))
