"""Where int8 loses agreement with fp32: the gate's max |Δp| with each convolution kept in fp32.

The int8 gate (max |Δp| ≤ 0.05 on held-out windows) rejected the benchmark's trained head at
0.057–0.094. This script asks whether one layer is to blame, so that keeping it in fp32 would
buy a verified int8 model cheaply: on the benchmark's project (600-frame demo, every event
labelled, a ``features`` head on the seeded trunk) it quantizes the version's fp32 IR with the
product's settings, then again with each convolution ignored in turn, with the first and last
together, with NNCF's MIXED preset, and with calibration ranges that also cover the held-out
windows (an oracle: if clipping caused the error, this would remove it). For each: max, 99.9th
percentile and mean |Δp| against fp32 over the held-out windows, and the probabilities of the
window where the largest difference falls. One line of JSON per variant, then a summary.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/int8_sensitivity.py [--calibration 128] [--heldout 160]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.inference import e2e, labelled_project
from core.analysis.backends.int8 import _probs, sample_windows
from core.analysis.backends.openvino_backend import OpenVinoEngine, ensure_fp32_ir, save_ir, variant_dir
from core.learning.training import TrainConfig, run_training
from core.model.registry import ensure_active_model, load_version


def quantize(xml: Path, data: list[np.ndarray], ignored: list[str], preset: object | None) -> object:
    """The product's NNCF settings (fc6–fc8 in fp32, min-max ranges) plus ``ignored`` layers."""
    import nncf
    import openvino as ov
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    extra = {"preset": preset} if preset is not None else {}
    with contextlib.redirect_stdout(sys.stderr):
        return nncf.quantize(
            ov.Core().read_model(str(xml)),
            nncf.Dataset(data),
            subset_size=len(data),
            fast_bias_correction=True,
            ignored_scope=nncf.IgnoredScope(types=["MatMul"], names=ignored),
            advanced_parameters=AdvancedQuantizationParameters(
                activations_range_estimator_params=RangeEstimatorParametersSet.MINMAX
            ),
            **extra,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calibration", type=int, default=128)
    parser.add_argument("--heldout", type=int, default=160)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import nncf
    import openvino as ov

    nncf.set_log_level(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        store, demo = labelled_project(work, 600)
        e2e(store, demo.path, ensure_active_model(store), "fp32", 8)
        trained = run_training(store, TrainConfig(mode="features", device="cpu", activate=True)).version
        model, meta = load_version(store, trained)
        xml = ensure_fp32_ir(variant_dir(store.files_dir, trained), model, meta.input_spec)
        calib, held = sample_windows(
            store, meta.input_spec, args.calibration, args.heldout, threading.Event()
        )
        clips = np.concatenate([np.stack(s.clips) for s in held])
        reference = _probs(OpenVinoEngine(xml, "fp32", store.files_dir), clips)
        convs = [
            op.get_friendly_name()
            for op in ov.Core().read_model(str(xml)).get_ordered_ops()
            if op.get_type_name() == "Convolution"
        ]
        names = ["conv1", "conv2", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b"]
        Variant = tuple[str, list[str], object | None, list[np.ndarray]]
        variants: list[Variant] = [("product", [], None, calib)]
        variants += [(f"{n}_fp32", [c], None, calib) for n, c in zip(names, convs, strict=True)]
        variants += [
            ("conv1_conv5b_fp32", [convs[0], convs[-1]], None, calib),
            ("mixed_preset", [], nncf.QuantizationPreset.MIXED, calib),
            ("oracle_ranges", [], None, calib + [c[None] for c in clips]),
        ]
        results = {}
        for name, ignored, preset, data in variants:
            began = time.perf_counter()
            out = work / f"{name}.xml"
            save_ir(quantize(xml, data, ignored, preset), out)
            probs = _probs(OpenVinoEngine(out, "int8", store.files_dir), clips)
            dp = np.abs(probs - reference)
            row = int(np.unravel_index(dp.argmax(), dp.shape)[0])
            results[name] = round(float(dp.max()), 4)
            line = {
                "variant": name,
                "max_abs_dp": round(float(dp.max()), 4),
                "p999_abs_dp": round(float(np.quantile(dp, 0.999)), 4),
                "mean_abs_dp": round(float(dp.mean()), 5),
                "fp32_at_max": reference[row].round(3).tolist(),
                "int8_at_max": probs[row].round(3).tolist(),
                "seconds": round(time.perf_counter() - began),
            }
            print(json.dumps(line), flush=True)
        store.close()
    print(json.dumps({"heldout_windows": len(clips), "max_abs_dp": results}, indent=1))


if __name__ == "__main__":
    main()
