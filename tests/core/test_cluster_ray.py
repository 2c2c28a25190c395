"""Analysis on a local Ray (2 CPUs, loopback): same numbers as one process, resumable, fault-tolerant."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from core.analysis.backends.select import load_for_analysis
from core.analysis.inference import infer_windows
from core.analysis.run import LoadedModel
from core.analysis.windows import window_starts
from core.cluster.ray_analysis import ClusterSettings, analyse_on_cluster, ray_module, run_on_cluster
from core.cluster.worker import FAIL_ONCE_ENV
from core.errors import Cancelled
from core.learning.feature_cache import FeatureCache, feature_key
from core.media.library import add_video
from core.media.video import VideoReader
from core.model.device import DeviceChoice
from core.model.registry import ensure_active_model, load_version
from core.store import open_store
from core.store.records import RunStatus
from main import main
from tests.videos import write_mjpeg_avi

CPU = DeviceChoice(torch.device("cpu"), None, channels_last=True)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray = ray_module()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        yield
    finally:
        ray.shutdown()


def _loaded(store) -> LoadedModel:  # type: ignore[no-untyped-def]
    version = ensure_active_model(store)
    model, _ = load_version(store, version)
    return LoadedModel(version, model, CPU)


def _single_process(path: Path, loaded: LoadedModel) -> tuple[np.ndarray, np.ndarray]:
    with VideoReader(path) as reader:
        batches = list(infer_windows(reader, loaded.model, loaded.spec, CPU, stride=8, batch_size=4))
    return np.concatenate([b.starts for b in batches]), np.concatenate([b.probs for b in batches])


@pytest.mark.slow
def test_cluster_probabilities_equal_single_process_ones(tmp_path: Path, backend_url: str, local_ray) -> None:  # type: ignore[no-untyped-def]
    store = open_store(backend_url)
    try:
        long_path = write_mjpeg_avi(tmp_path / "long.avi", 56, size=(112, 112))
        short_path = write_mjpeg_avi(tmp_path / "short.avi", 30, size=(112, 112))
        long_video = add_video(store, long_path)
        analyse_index(store, long_video.id)  # known length: cut into chunks
        short_video = add_video(store, short_path)  # never decoded: one chunk to its true end
        loaded = _loaded(store)
        settings = ClusterSettings(stride=8, batch_size=2, workers=2, chunk_windows=2)
        seen = []
        outcome = run_on_cluster(
            store, [store.videos.get(long_video.id), short_video], loaded, settings, on_progress=seen.append
        )
        assert {r.status for r in outcome.runs} == {RunStatus.COMPLETE}
        total = len(window_starts(56, 16, 8)) + len(window_starts(30, 16, 8))
        assert seen[-1].done == seen[-1].total == total and seen[-1].videos_done == 2
        assert outcome.windows_computed == total
        for run, path in (
            (r, long_path if r.video_id == long_video.id else short_path) for r in outcome.runs
        ):
            starts, probs = store.predictions.windows(run.id)
            want_starts, want_probs = _single_process(path, loaded)
            assert starts.tolist() == want_starts.tolist()
            assert float(np.abs(probs - want_probs).max()) <= 1e-5
            video = store.videos.get(run.video_id)
            for layer in ("pool5", "fc7"):
                key = feature_key(video, loaded.trunk_hashes[layer], loaded.spec, 8, layer)
                cached = FeatureCache(store).load(key)
                assert cached is not None and cached.complete and cached.starts.tolist() == starts.tolist()
        assert store.videos.get(short_video.id).frame_count == 30  # the whole-video chunk indexed it
    finally:
        store.close()


@pytest.mark.slow
def test_cluster_runs_the_engine_local_infer_chose(
    tmp_path: Path, db_url: str, local_ray, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """--precision fp32 on CPUs is OpenVINO fp32 locally, so it is on every worker, with equal numbers."""
    monkeypatch.delenv("C3D_LABELLER_BACKEND", raising=False)
    store = open_store(db_url)
    try:
        path = write_mjpeg_avi(tmp_path / "v.avi", 48, size=(112, 112))
        video = add_video(store, path)  # never decoded: indexed on the cluster, then cut into chunks
        version = ensure_active_model(store)
        model, _ = load_version(store, version)
        loaded = load_for_analysis(store, version, model, CPU, "fp32")
        assert loaded.engine.backend == "openvino"
        settings = ClusterSettings(stride=8, batch_size=2, workers=2, chunk_windows=2, precision="fp32")
        outcome = run_on_cluster(store, [video], loaded, settings)
        assert outcome.worker_engines == {loaded.engine_label}
        assert len(outcome.chunks) == 3 and store.videos.get(video.id).frame_count == 48  # 5 windows by 2
        (run,) = outcome.runs
        starts, probs = store.predictions.windows(run.id)
        with VideoReader(path) as reader:
            batches = list(infer_windows(reader, loaded.engine, loaded.spec, CPU, stride=8, batch_size=4))
        assert starts.tolist() == np.concatenate([b.starts for b in batches]).tolist()
        assert float(np.abs(probs - np.concatenate([b.probs for b in batches])).max()) <= 1e-5
    finally:
        store.close()


@pytest.mark.slow
def test_cancel_then_resume_through_a_dying_worker(tmp_path: Path, db_url: str, local_ray) -> None:  # type: ignore[no-untyped-def]
    store = open_store(db_url)
    try:
        video = add_video(store, write_mjpeg_avi(tmp_path / "v.avi", 64, size=(112, 112)))
        video = analyse_index(store, video.id)
        loaded = _loaded(store)
        total = len(window_starts(64, 16, 8))
        cancel = threading.Event()
        settings = ClusterSettings(stride=8, batch_size=1, workers=1, chunk_windows=1)
        with pytest.raises(Cancelled):
            for p in analyse_on_cluster(store, [video], loaded, settings, cancel):
                if p.done >= 1:
                    cancel.set()
        (run,) = store.predictions.runs_for_model(loaded.version.id)
        assert store.predictions.get(run.id).status is RunStatus.CANCELLED
        kept = store.predictions.done_starts(run.id)
        assert 1 <= len(kept) < total

        marker = tmp_path / "died"
        dying = ClusterSettings(
            stride=8, batch_size=1, workers=2, chunk_windows=2, worker_env={FAIL_ONCE_ENV: str(marker)}
        )
        outcome = run_on_cluster(store, [video], loaded, dying)
        assert marker.exists()  # a worker did die after storing its first window
        assert outcome.runs[0].status is RunStatus.COMPLETE
        assert outcome.windows_computed == total - len(kept)  # kept windows were not recomputed
        starts, probs = store.predictions.windows(run.id)
        want_starts, want_probs = _single_process(Path(video.path), loaded)
        assert starts.tolist() == want_starts.tolist()
        assert float(np.abs(probs - want_probs).max()) <= 1e-5
    finally:
        store.close()


@pytest.mark.slow
def test_cli_infer_on_the_cluster(tmp_path: Path, db_url: str, local_ray, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write_mjpeg_avi(tmp_path / "clip.avi", 24, size=(112, 112))
    code = main(["--db", db_url, "infer", str(path), "--cluster", "local", "--batch", "2", "--workers", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "clip.avi: complete, 2/2 windows" in out
    assert "2/2 windows" in err  # the progress line


def analyse_index(store, video_id: int):  # type: ignore[no-untyped-def]
    from core.media.library import open_reader

    video = store.videos.get(video_id)
    with open_reader(video) as reader:
        index = reader.build_index()
    return store.videos.set_index(video_id, index.frame_count, np.asarray(index.timestamps_s))
