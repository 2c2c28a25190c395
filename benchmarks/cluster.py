"""Analysis on a local Ray against plain single-process analysis, on the same videos, as JSON.

One run, so the ratios are comparable on a noisy shared machine:
- local: ``analyse_video`` in this process, torch on ``--threads`` threads;
- cluster_1: a local Ray, 1 worker of ``--threads`` threads;
- cluster_2: the same Ray, 2 workers of ``--threads`` threads each.
Every variant starts from an empty store (nothing resumes) with the same seeded model.
Ray's own start (``ray.init``) is reported apart as ``cluster_start_s``, and the rates of the
cluster runs leave out the workers' start-up (loading the model), reported as
``worker_start_s``, since a long batch pays both once:
- ``speedup_2_workers``: cluster_2's clips/s over cluster_1's (≥ 1.6 expected with 2 free cores);
- ``overhead_vs_local_infer``: local clips/s over cluster_1's (≤ 1.15 expected).

Usage: python benchmarks/cluster.py [--videos 2] [--frames 264] [--threads 1] [--chunk 8]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from core.analysis.run import LoadedModel, analyse_video
from core.cluster.ray_analysis import ClusterSettings, ray_module, run_on_cluster
from core.media.demo import generate_demo_video
from core.media.library import add_video, open_reader
from core.model.device import choose_device
from core.model.registry import ensure_active_model, load_version
from core.store import open_store

STRIDE = 8


def _project(root: Path, name: str, paths: list[Path]):  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{root / name}.sqlite3")
    videos = []
    for path in paths:  # indexed, as after a first look, so the cluster cuts them into chunks
        video = add_video(store, path)
        with open_reader(video) as reader:
            index = reader.build_index()
        videos.append(store.videos.set_index(video.id, index.frame_count, np.asarray(index.timestamps_s)))
    version = ensure_active_model(store)
    model, _ = load_version(store, version)
    return store, videos, LoadedModel(version, model, choose_device("cpu"))


def local_run(root: Path, paths: list[Path], threads: int, batch: int) -> dict[str, float]:
    store, videos, loaded = _project(root, "local", paths)
    torch.set_num_threads(threads)
    began = time.perf_counter()
    windows = sum(
        analyse_video(store, v, loaded, stride=STRIDE, batch_size=batch).windows_done for v in videos
    )
    seconds = time.perf_counter() - began
    store.close()
    return {"windows": windows, "seconds": round(seconds, 2), "clips_per_s": round(windows / seconds, 3)}


def cluster_run(root: Path, paths: list[Path], workers: int, threads: int, batch: int, chunk: int) -> dict:  # type: ignore[type-arg]
    store, videos, loaded = _project(root, f"cluster{workers}", paths)
    settings = ClusterSettings(
        stride=STRIDE, batch_size=batch, workers=workers, threads=threads, chunk_windows=chunk
    )
    outcome = run_on_cluster(store, videos, loaded, settings)
    store.close()
    return {
        "windows": outcome.windows_computed,
        "seconds": round(outcome.compute_s, 2),
        "worker_start_s": round(outcome.workers_ready_s, 2),
        "clips_per_s": round(outcome.steady_clips_per_s, 3),
        "clips_per_s_with_worker_start": round(outcome.clips_per_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--frames", type=int, default=264, help="frames per video (264: 32 windows)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=8, help="windows per chunk")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        paths = [
            generate_demo_video(
                root / f"v{i}.avi", seconds=args.frames / 25, fps=25, size=(320, 240), seed=i
            ).path
            for i in range(args.videos)
        ]
        load_before = os.getloadavg()[0]
        local = local_run(root, paths, args.threads, args.batch)
        ray = ray_module()
        began = time.perf_counter()
        ray.init(
            num_cpus=2 * args.threads,
            include_dashboard=False,
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
        )
        cluster_start_s = time.perf_counter() - began
        try:
            one = cluster_run(root, paths, 1, args.threads, args.batch, args.chunk)
            two = cluster_run(root, paths, 2, args.threads, args.batch, args.chunk)
        finally:
            ray.shutdown()
    result = {
        "cpu_count": os.cpu_count(),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "videos": args.videos,
        "frames_per_video": args.frames,
        "threads_per_worker": args.threads,
        "cluster_start_s": round(cluster_start_s, 2),
        "local": local,
        "cluster_1_worker": one,
        "cluster_2_workers": two,
        "speedup_2_workers": round(two["clips_per_s"] / one["clips_per_s"], 3),
        "overhead_vs_local_infer": round(local["clips_per_s"] / one["clips_per_s"], 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
