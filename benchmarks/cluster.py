"""Analysis on a local Ray against plain single-process analysis, on the same videos, as JSON.

One run, so the ratios are comparable on a noisy shared machine:
- local: ``analyse_video`` in this process, on ``--threads`` threads (engine and OpenCV pinned);
- cluster_1: a local Ray, 1 worker of ``--threads`` threads;
- cluster_2: the same Ray, 2 workers of ``--threads`` threads each.
All three run the same engine (``--precision``, as ``infer`` chooses it: OpenVINO fp32 on a CPU
by default; ``--backend torch`` for PyTorch), each from an empty store with the same seeded
model, on videos indexed first (as after a first look), so each is cut into several chunks.

What is timed, and what is not:
- ``cluster_start_s``: Ray's own start (``ray.init``), reported apart;
- ``worker_start_s``: asking the pool until the *last* worker has loaded its model, reported apart;
- cluster clips/s (``pool_clips_per_s``) counts only the span from the last worker's start to the
  last chunk's end (a chunk that straddles the start counts for its part inside), so one and two
  workers are compared doing the same thing: computing;
- local clips/s: ``analyse_video`` over every video, the model already loaded; run before and
  again after the cluster's runs, and the ratios use the mean of the two (load drifts).
Ratios:
- ``speedup_2_workers``: cluster_2's clips/s over cluster_1's (≥ 1.6 expected with 2 free cores);
- ``overhead_vs_local_infer``: local clips/s over cluster_1's (≤ 1.15 expected).
CPU seconds per window (each worker's own process CPU time over its chunks; this process's for
local) are a sanity check that holds on a loaded machine, where wall-clock rates do not:
``cpu_overhead_vs_local`` near 1 means a worker does the same work per window as ``infer``.
``cores_got_*`` says how many cores the pool actually had: a local Ray's workers stay in the
driver's session, so with ``sched_autogroup`` (Linux's default) they share one scheduler group,
and on a machine other sessions keep busy a second worker adds no CPU at all; then
``speedup_2_workers`` measures the machine, not the code; read it only where ``cores_got_2_workers``
is near 2 (``speedup_2_workers_if_each_had_its_core`` is the projection from CPU time).

Usage: python benchmarks/cluster.py [--videos 2] [--frames 264] [--threads 1] [--chunk 8]
       [--precision fp32] [--backend openvino|torch]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.analysis.backends.select import BACKEND_ENV_VAR, load_for_analysis
from core.analysis.run import analyse_video
from core.cluster.ray_analysis import ClusterOutcome, ClusterSettings, ray_module, run_on_cluster
from core.cluster.worker import pin_threads
from core.media.demo import generate_demo_video
from core.media.library import add_video, open_reader
from core.model.device import choose_device
from core.model.registry import ensure_active_model, load_version
from core.store import open_store
from core.store.records import Video

STRIDE = 8


def _project(root: Path, name: str, paths: list[Path], precision: str, threads: int):  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{root / name}.sqlite3")
    videos: list[Video] = []
    for path in paths:  # indexed, as after a first look, so the cluster cuts them into chunks
        video = add_video(store, path)
        with open_reader(video) as reader:
            index = reader.build_index()
        videos.append(store.videos.set_index(video.id, index.frame_count, np.asarray(index.timestamps_s)))
    version = ensure_active_model(store)
    model, _ = load_version(store, version)
    loaded = load_for_analysis(store, version, model, choose_device("cpu"), precision, threads=threads)
    return store, videos, loaded


def local_run(root: Path, paths: list[Path], args: argparse.Namespace, name: str = "local") -> dict[str, Any]:
    pin_threads(args.threads)  # as a worker pins itself: torch, OpenCV (OpenVINO in its config)
    store, videos, loaded = _project(root, name, paths, args.precision, args.threads)
    began, began_cpu = time.perf_counter(), time.process_time()
    windows = sum(
        analyse_video(store, v, loaded, stride=STRIDE, batch_size=args.batch).windows_done for v in videos
    )
    seconds, cpu_s = time.perf_counter() - began, time.process_time() - began_cpu
    store.close()
    return {
        "engine": loaded.engine_label,
        "windows": windows,
        "seconds": round(seconds, 2),
        "clips_per_s": round(windows / seconds, 3),
        "cpu_s_per_window": round(cpu_s / windows, 4),
        "core_share": round(cpu_s / seconds, 3),
    }


def cluster_run(root: Path, paths: list[Path], workers: int, args: argparse.Namespace) -> dict[str, Any]:
    store, videos, loaded = _project(root, f"cluster{workers}", paths, args.precision, args.threads)
    settings = ClusterSettings(
        stride=STRIDE,
        batch_size=args.batch,
        workers=workers,
        threads=args.threads,
        chunk_windows=args.chunk,
        precision=args.precision,
    )
    outcome = run_on_cluster(store, videos, loaded, settings)
    store.close()
    return _summary(outcome)


def _summary(outcome: ClusterOutcome) -> dict[str, Any]:
    start, end = outcome.all_ready_at, max(c.began_at + c.seconds for c in outcome.chunks)
    span = max(end - start, 1e-9)
    per_worker = {}
    for pid, cpu_s in outcome.cpu_s_per_worker().items():
        mine = [c for c in outcome.chunks if c.pid == pid]
        busy = sum(max(min(c.began_at + c.seconds, end) - max(c.began_at, start), 0.0) for c in mine)
        windows = sum(c.windows for c in mine)
        per_worker[str(pid)] = {
            "chunks": len(mine),
            "windows": windows,
            "cpu_s_per_window": round(cpu_s / max(windows, 1), 4),
            "busy_fraction_while_all_up": round(busy / span, 3),  # ~1: never idle once every worker was up
            # CPU time over wall time while computing: ~1 (a little more: the decode thread)
            # when the worker has its core; well under 1 means the machine did not give it one.
            "core_share": round(cpu_s / max(sum(c.seconds for c in mine), 1e-9), 3),
        }
    cpu_total = sum(outcome.cpu_s_per_worker().values())
    return {
        "engines": sorted(outcome.worker_engines),
        "windows": outcome.windows_computed,
        "chunks": len(outcome.chunks),
        "seconds": round(outcome.compute_s, 2),
        "worker_start_s": round(max(outcome.all_ready_at - outcome.asked_at, 0.0), 2),
        "clips_per_s": round(outcome.pool_clips_per_s, 3),
        "clips_per_s_with_worker_start": round(outcome.clips_per_s, 3),
        "cpu_s_per_window": round(cpu_total / max(outcome.windows_computed, 1), 4),
        "workers": per_worker,
    }


def _mean(a: dict[str, Any], b: dict[str, Any], key: str) -> float:
    return (float(a[key]) + float(b[key])) / 2


def _cores(run: dict[str, Any]) -> float:
    return round(sum(w["core_share"] for w in run["workers"].values()), 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--frames", type=int, default=264, help="frames per video (264: 32 windows)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=8, help="windows per chunk")
    parser.add_argument("--precision", choices=("auto", "fp32", "int8"), default="fp32")
    parser.add_argument("--backend", choices=("openvino", "torch"), default="openvino")
    args = parser.parse_args()
    if args.backend == "torch":
        os.environ[BACKEND_ENV_VAR] = "torch"
    else:
        os.environ.pop(BACKEND_ENV_VAR, None)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        paths = [
            generate_demo_video(
                root / f"v{i}.avi", seconds=args.frames / 25, fps=25, size=(320, 240), seed=i
            ).path
            for i in range(args.videos)
        ]
        load_before = os.getloadavg()[0]
        local = local_run(root, paths, args)
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
            one = cluster_run(root, paths, 1, args)
            two = cluster_run(root, paths, 2, args)
        finally:
            ray.shutdown()
        # Local again, last: load drifts over minutes, so local is the mean of a run before and
        # one after the cluster's.
        local_after = local_run(root, paths, args, "local_after")
    result = {
        "cpu_count": os.cpu_count(),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "videos": args.videos,
        "frames_per_video": args.frames,
        "threads_per_worker": args.threads,
        "precision": args.precision,
        "cluster_start_s": round(cluster_start_s, 2),
        "local": local,
        "local_after": local_after,
        "cluster_1_worker": one,
        "cluster_2_workers": two,
        "speedup_2_workers": round(two["clips_per_s"] / one["clips_per_s"], 3),
        "overhead_vs_local_infer": round(_mean(local, local_after, "clips_per_s") / one["clips_per_s"], 3),
        "cpu_overhead_vs_local": round(
            one["cpu_s_per_window"] / _mean(local, local_after, "cpu_s_per_window"), 3
        ),
        # A local Ray's workers share the driver's scheduler autogroup, so on a loaded box two
        # workers may get no more CPU than one: the cores the pool actually got, and what the
        # same work per window and the same busy fractions give when each worker has its core.
        "cores_got_1_worker": _cores(one),
        "cores_got_2_workers": _cores(two),
        "speedup_2_workers_if_each_had_its_core": round(
            2
            * one["cpu_s_per_window"]
            / two["cpu_s_per_window"]
            * min(w["busy_fraction_while_all_up"] for w in two["workers"].values()),
            3,
        ),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
