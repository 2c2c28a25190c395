"""Sliding-window inference throughput on this machine's CPU, printed as JSON.

Three figures from one run on one generated 640×360 video (stride 8), so their ratios are
comparable even on a noisy shared machine:
- naive: fp32, default memory layout, every window decoded on its own by seeking;
- model only: the best configuration ``choose_device`` picks, on pre-made tensors;
- end to end: ``analyse_video`` — decoding thread, ring buffer, batching, store writes.

Usage: python benchmarks/inference.py [--frames 600] [--batch 8]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from core.analysis.run import LoadedModel, analyse_video
from core.analysis.windows import window_starts
from core.media.demo import generate_demo_video
from core.media.library import add_video
from core.model.device import choose_device, cpu_has_native_bf16
from core.model.network import new_model, prepare_for_inference
from core.model.preprocess import clips_to_tensor, prepare_frame
from core.model.registry import ensure_active_model, load_version
from core.model.spec import DEFAULT_SPEC
from core.store import open_store

STRIDE = 8


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


def model_only_clips_per_s(n_classes: int, batch: int, batches: int) -> float:
    device = choose_device("auto")
    model = prepare_for_inference(new_model(n_classes, seed=0), device.device, device.channels_last)
    clips = np.random.default_rng(0).integers(0, 255, (batch, 16, 112, 112, 3), dtype=np.uint8)
    x = clips_to_tensor(clips, DEFAULT_SPEC, device.device, device.channels_last)
    dtype = device.autocast_dtype
    autocast = torch.autocast(device.device.type, dtype=dtype or torch.float32, enabled=dtype is not None)
    with torch.inference_mode(), autocast:
        model(x)  # warm-up
        began = time.perf_counter()
        for _ in range(batches):
            torch.softmax(model(x).float(), dim=1)
    return batch * batches / (time.perf_counter() - began)


def e2e(path: Path, work: Path, batch: int) -> tuple[float, int, str]:
    store = open_store(f"sqlite:///{work / 'bench.sqlite3'}")
    try:
        video = add_video(store, path)
        version = ensure_active_model(store)
        model, _ = load_version(store, version)
        device = choose_device("auto")
        loaded = LoadedModel(version, model, device)
        began = time.perf_counter()
        result = analyse_video(store, video, loaded, stride=STRIDE, batch_size=batch)
        seconds = time.perf_counter() - began
        return result.windows_done / seconds, result.windows_done, device.label
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        demo = generate_demo_video(
            work / "bench.avi", seconds=args.frames / 25, fps=25, size=(640, 360), seed=0
        )
        e2e_rate, windows, label = e2e(demo.path, work, args.batch)
        model_rate = model_only_clips_per_s(4, args.batch, batches=max(windows // args.batch // 2, 2))
        naive_rate = naive_clips_per_s(demo.path, 4, args.batch, max_windows=windows // 2)
    print(
        json.dumps(
            {
                "video": f"{demo.width}x{demo.height}, {demo.frame_count} frames, stride {STRIDE}",
                "windows": windows,
                "batch": args.batch,
                "device": label,
                "cpu_native_bf16": cpu_has_native_bf16(),
                "torch_threads": torch.get_num_threads(),
                "naive_clips_per_s": round(naive_rate, 3),
                "model_only_clips_per_s": round(model_rate, 3),
                "e2e_clips_per_s": round(e2e_rate, 3),
                "e2e_over_model": round(e2e_rate / model_rate, 3),
                "e2e_over_naive": round(e2e_rate / naive_rate, 3),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
