"""GPU check, under five minutes on a CUDA machine: correctness against the CPU, then speed.

1. The same windows of a generated video through the CPU (fp32) and the GPU (autocast bf16,
   or fp16 where bf16 is missing, channels_last_3d): max |Δp| must be ≤ 0.02.
2. Model-only and end-to-end clips/s at batch 8, 32 and 64.
Prints one JSON object; exits 1 if the check fails or no GPU is present.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from core.analysis.backends.select import load_for_analysis
from core.analysis.inference import infer_windows
from core.analysis.run import analyse_video
from core.media.demo import generate_demo_video
from core.media.library import add_video
from core.media.video import VideoReader
from core.model.device import DeviceChoice, choose_device
from core.model.network import new_model, prepare_for_inference
from core.model.preprocess import clips_to_tensor
from core.model.registry import ensure_active_model, load_version
from core.model.spec import DEFAULT_SPEC
from core.store import open_store

TOLERANCE = 0.02


def decisive_model() -> torch.nn.Module:
    model = new_model(4, seed=3).eval()
    with torch.no_grad():
        model.fc8.weight.mul_(400.0)  # an untrained head is near-uniform; make it decide
    return model


def probs_on(path: Path, device: DeviceChoice) -> np.ndarray:
    model = prepare_for_inference(decisive_model(), device.device, device.channels_last)
    with VideoReader(path) as reader:
        batches = infer_windows(reader, model, DEFAULT_SPEC, device, stride=16, batch_size=8)
        return np.concatenate([b.probs for b in batches])


def model_only(device: DeviceChoice, batch: int, steps: int = 10) -> float:
    model = prepare_for_inference(new_model(4, seed=0), device.device, device.channels_last)
    clips = np.random.default_rng(0).integers(0, 255, (batch, 16, 112, 112, 3), dtype=np.uint8)
    x = clips_to_tensor(clips, DEFAULT_SPEC, device.device, device.channels_last)
    autocast = torch.autocast("cuda", dtype=device.autocast_dtype or torch.float32)
    with torch.inference_mode(), autocast:
        for _ in range(3):
            model(x)
        torch.cuda.synchronize()
        began = time.perf_counter()
        for _ in range(steps):
            model(x)
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - began)


def end_to_end(path: Path, work: Path, device: DeviceChoice, batch: int) -> float:
    store = open_store(f"sqlite:///{work / f'gpu-{batch}.sqlite3'}")
    try:
        video = add_video(store, path)
        version = ensure_active_model(store)
        # The app's own engine choice: on a GPU that is PyTorch with autocast, never OpenVINO.
        loaded = load_for_analysis(store, version, load_version(store, version)[0], device, "auto")
        if loaded.engine.backend != "torch":
            raise SystemExit(f"expected the PyTorch engine on the GPU, got {loaded.engine_label}")
        began = time.perf_counter()
        result = analyse_video(store, video, loaded, stride=8, batch_size=batch)
        return result.windows_done / (time.perf_counter() - began)
    finally:
        store.close()


def main() -> int:
    if not torch.cuda.is_available():
        print(json.dumps({"error": "no CUDA GPU here"}))
        return 1
    gpu = choose_device("cuda")
    cpu = DeviceChoice(torch.device("cpu"), None, channels_last=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        small = generate_demo_video(work / "check.avi", seconds=4, fps=25, size=(320, 240), seed=5)
        p_cpu, p_gpu = probs_on(small.path, cpu), probs_on(small.path, gpu)
        diff = float(np.abs(p_cpu - p_gpu).max())
        big = generate_demo_video(work / "speed.avi", seconds=60, fps=25, size=(640, 360), seed=6)
        speeds = {
            str(b): {"model_only_clips_per_s": round(model_only(gpu, b), 1),
                     "e2e_clips_per_s": round(end_to_end(big.path, work, gpu, b), 1)}
            for b in (8, 32, 64)
        }  # fmt: skip
    report = {
        "card": torch.cuda.get_device_name(0),
        "device": gpu.label,
        "windows_compared": len(p_cpu),
        "cpu_max_prob": float(p_cpu.max()),
        "max_abs_prob_diff": round(diff, 5),
        "tolerance": TOLERANCE,
        "ok": diff <= TOLERANCE,
        "speed": speeds,
    }
    print(json.dumps(report, indent=1))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
