"""Sliding-window inference on this machine's CPU: PyTorch against OpenVINO fp32 and int8, JSON out.

One run on generated 640×360 demo videos (stride 8), so ratios are comparable even on a noisy
shared machine:
1. a project whose demo events are all labelled; the first analysis (the default engine,
   OpenVINO fp32 before int8 exists) fills the feature cache and a quick ``features``
   fine-tune gives a trained head;
2. int8 for that head: NNCF on the project's windows, checked against fp32 on held-out ones
   (``int8_max_abs_dp``, ``int8_event_f1_vs_fp32``; the gate is ≤ 0.05 and ≥ 0.95);
3. model only, batch 8 on the same uint8 clips, rounds interleaved so load drifts hit all
   alike: today's torch fp32 ``channels_last_3d`` path, OpenVINO fp32, OpenVINO int8;
4. end to end with the default engine (``auto``: int8 once verified) on a second video:
   ``e2e_over_model`` against that engine's model-only rate;
5. ``--long``: analysing a 4-minute 30 fps video at stride 8 with the default engine.

Usage: python benchmarks/inference.py [--frames 600] [--batch 8] [--rounds 6]
       [--calibration 300] [--heldout 120] [--long] [--naive]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2
import numpy as np
import torch

from core.analysis.backends.openvino_backend import INT8_XML, OpenVinoEngine, variant_dir
from core.analysis.backends.select import Int8Settings, load_for_analysis, prepare_int8
from core.analysis.backends.torch_backend import TorchEngine
from core.analysis.run import LoadedModel, analyse_video
from core.analysis.windows import window_starts
from core.learning.training import TrainConfig, run_training
from core.media.demo import DEMO_CLASSES, DemoVideo, generate_demo_video
from core.media.library import add_video
from core.model.device import choose_device, cpu_has_native_bf16
from core.model.network import new_model, prepare_for_inference
from core.model.preprocess import clips_to_tensor, prepare_frame
from core.model.registry import ensure_active_model, load_version
from core.model.spec import DEFAULT_SPEC
from core.store import Store, open_store
from core.store.records import ModelVersion, NewSegment

STRIDE = 8
CPU_FP32 = choose_device("cpu", precision="fp32")


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def naive_clips_per_s(path: Path, n_classes: int, batch: int, max_windows: int) -> float:
    """What a straightforward script does: seek, decode 16 frames, fp32 NCDHW forward."""
    model = new_model(n_classes, seed=0).eval()
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    starts = window_starts(frames, 16, STRIDE)[:max_windows]
    began = time.perf_counter()
    for i in range(0, len(starts), batch):
        clips = []
        for start in starts[i : i + batch]:
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(start))
            clip = [prepare_frame(cap.read()[1], DEFAULT_SPEC) for _ in range(16)]
            clips.append(np.stack(clip))
        x = clips_to_tensor(np.stack(clips), DEFAULT_SPEC, torch.device("cpu"), channels_last=False)
        with torch.inference_mode():
            torch.softmax(model(x), dim=1)
    cap.release()
    return len(starts) / (time.perf_counter() - began)


def labelled_project(work: Path, frames: int) -> tuple[Store, DemoVideo]:
    store = open_store(f"sqlite:///{work / 'bench.sqlite3'}")
    for name in DEMO_CLASSES:
        store.classes.add(name)
    demo = generate_demo_video(work / "bench.avi", seconds=frames / 25, fps=25, size=(640, 360), seed=0)
    video = add_video(store, demo.path)
    ids = {c.name: c.id for c in store.classes.list()}
    labels = [NewSegment(ids["background"], 0, demo.frame_count)]  # later labels win
    labels += [NewSegment(ids[e.class_name], e.start_frame, e.end_frame) for e in demo.events]
    store.segments.paint(video.id, labels)
    return store, demo


@dataclass(frozen=True)
class Run:
    clips_per_s: float
    windows: int
    engine: str  # its label
    precision: str
    seconds: float


def e2e(store: Store, path: Path, version: ModelVersion, precision: str, batch: int) -> Run:
    """Analyse one new video as the app does, with the engine ``precision`` selects."""
    video = add_video(store, path)
    model, _ = load_version(store, version)
    if precision == "int8-forced":  # speed only: the int8 model even where the gate rejected it
        engine = OpenVinoEngine(variant_dir(store.files_dir, version) / INT8_XML, "int8", store.files_dir)
        loaded = LoadedModel(version, model, choose_device("cpu"), engine=engine)
    else:
        loaded = load_for_analysis(store, version, model, choose_device("cpu"), precision)
    began = time.perf_counter()
    result = analyse_video(store, video, loaded, stride=STRIDE, batch_size=batch)
    seconds = time.perf_counter() - began
    return Run(
        result.windows_done / seconds,
        result.windows_done,
        loaded.engine_label,
        loaded.engine.precision,
        seconds,
    )


def model_only(
    store: Store, version: ModelVersion, batch: int, rounds: int, only: str | None = None
) -> dict[str, float]:
    """clips/s of each engine on the same clips, two batches each per round, rounds interleaved."""
    model, meta = load_version(store, version)
    folder = variant_dir(store.files_dir, version)
    today = prepare_for_inference(model, CPU_FP32.device, channels_last=True)
    engines = {
        "torch_fp32": TorchEngine(today, meta.input_spec, CPU_FP32),
        "openvino_fp32": OpenVinoEngine(folder / "fp32.xml", "fp32", store.files_dir),
        "openvino_int8": OpenVinoEngine(folder / INT8_XML, "int8", store.files_dir),
    }
    if only is not None:
        engines = {only: engines[only]}
    clips = np.random.default_rng(0).integers(0, 255, (batch, 16, 112, 112, 3), dtype=np.uint8)
    spent = dict.fromkeys(engines, 0.0)
    for engine in engines.values():
        engine.run(clips, want_features=True)  # warm-up
    for _ in range(rounds):
        for name, engine in engines.items():
            began = time.perf_counter()
            # Two batches in flight, as the analysis loop submits them (OpenVINO: one per stream).
            pending = [engine.submit(clips, want_features=True) for _ in range(2)]
            for wait in pending:
                wait()
            spent[name] += time.perf_counter() - began
    return {name: 2 * batch * rounds / seconds for name, seconds in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6, help="interleaved model-only batches per engine")
    parser.add_argument("--calibration", type=int, default=300, help="int8 calibration windows")
    parser.add_argument("--heldout", type=int, default=120, help="int8 held-out check windows")
    parser.add_argument("--long", action="store_true", help="also analyse a 4-minute 30 fps video (int8)")
    parser.add_argument(
        "--long-precision",
        default="auto",
        help="for --long: auto, fp32, int8, int8-forced (the int8 model even if rejected)",
    )
    parser.add_argument("--naive", action="store_true", help="also time the naive seek-per-window loop")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.pop("C3D_LABELLER_BACKEND", None)
    flags = cpu_flags()
    out: dict[str, object] = {
        "cpu": cpu_model(),
        "cpu_vnni": bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"}),
        "cpu_native_bf16": cpu_has_native_bf16(),
        "threads": torch.get_num_threads(),
        "load_average_start": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        store, demo = labelled_project(work, args.frames)
        try:
            untrained = ensure_active_model(store)
            first = e2e(store, demo.path, untrained, "auto", args.batch)
            out |= {
                "first_analysis_engine": first.engine,
                "first_analysis_clips_per_s": round(first.clips_per_s, 3),
            }
            began = time.perf_counter()
            trained = run_training(store, TrainConfig(mode="features", device="cpu", activate=True)).version
            out["features_fine_tune_s"] = round(time.perf_counter() - began, 1)
            model, meta = load_version(store, trained)
            began = time.perf_counter()
            report = prepare_int8(
                store, trained, model, meta.input_spec, Int8Settings(args.calibration, args.heldout)
            )
            out |= {
                "int8_prepare_s": round(time.perf_counter() - began, 1),
                "int8_calibration_windows": report.calibration_windows,
                "int8_heldout_windows": report.heldout_windows,
                "int8_max_abs_dp": round(report.max_abs_dp, 5),
                "int8_mean_abs_dp": round(report.mean_abs_dp, 6),
                "int8_event_f1_vs_fp32": round(report.event_f1_vs_fp32, 4),
                "int8_events_fp32": report.events_fp32,
                "int8_verified": report.passed,
            }
            rates = model_only(store, trained, args.batch, args.rounds)
            torch_rate = rates["torch_fp32"]
            out |= {
                "torch_fp32_cl3d_clips_per_s": round(torch_rate, 3),
                "openvino_fp32_clips_per_s": round(rates["openvino_fp32"], 3),
                "openvino_int8_clips_per_s": round(rates["openvino_int8"], 3),
                "ov_fp32_over_torch": round(rates["openvino_fp32"] / torch_rate, 3),
                "ov_int8_over_torch": round(rates["openvino_int8"] / torch_rate, 3),
            }
            second = generate_demo_video(
                work / "second.avi", seconds=args.frames / 25, fps=25, size=(640, 360), seed=1
            )
            run = e2e(store, second.path, trained, "auto", args.batch)
            # The model alone again right after, so a change in the machine's load between the
            # two measurements does not pass for pipeline overhead: the mean of before and after.
            name = f"openvino_{run.precision}"
            after = model_only(store, trained, args.batch, args.rounds, only=name)[name]
            out["model_only_after_e2e_clips_per_s"] = round(after, 3)
            default_model = (rates[name] + after) / 2
            out |= {
                "default_engine": run.engine,
                "windows": run.windows,
                "e2e_clips_per_s": round(run.clips_per_s, 3),
                "model_only_clips_per_s": round(default_model, 3),
                "e2e_over_model": round(run.clips_per_s / default_model, 3),
            }
            if args.naive:
                naive = naive_clips_per_s(demo.path, 4, args.batch, run.windows // 2)
                out["naive_clips_per_s"] = round(naive, 3)
            if args.long:
                long_video = generate_demo_video(
                    work / "four_minutes.avi", seconds=240, fps=30, size=(640, 360), seed=2
                )
                long_run = e2e(store, long_video.path, trained, args.long_precision, args.batch)
                out |= {
                    "long_video": "640x360, 30 fps, 240 s, 7200 frames, stride 8",
                    "long_engine": long_run.engine,
                    "long_windows": long_run.windows,
                    "long_analysis_s": round(long_run.seconds, 1),
                    "long_clips_per_s": round(long_run.clips_per_s, 3),
                }
                if long_run.engine == run.engine:  # steady state, no start-up in a short video
                    out["long_e2e_over_model"] = round(long_run.clips_per_s / default_model, 3)
        finally:
            store.close()
    out["load_average_end"] = os.getloadavg()[0]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
