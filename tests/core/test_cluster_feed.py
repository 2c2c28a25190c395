"""A cluster worker's writes reach an open app through the store's change feed (no Ray needed:
the worker's code runs here on a store of its own, as it would in a worker process)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from core.analysis.run import LoadedModel
from core.analysis.windows import window_starts
from core.cluster.chunks import plan_video
from core.cluster.worker import compute_chunk
from core.media.library import add_video, open_reader
from core.model.device import DeviceChoice
from core.model.registry import ensure_active_model, load_version
from core.project.project import open_project
from core.project.remote import listening
from core.store import open_store
from core.store.changes import PredictionsChanged
from tests.videos import write_mjpeg_avi

CPU = DeviceChoice(torch.device("cpu"), None, channels_last=True)


def _wait(condition, timeout_s: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.mark.slow
def test_an_open_app_hears_a_workers_predictions_on_sqlite(tmp_path: Path, db_url: str) -> None:
    app = open_project(db_url)
    worker_store = open_store(db_url)  # a worker process's own connection
    try:
        video = add_video(app.store, write_mjpeg_avi(tmp_path / "v.avi", 40, size=(112, 112)))
        with open_reader(video) as reader:
            index = reader.build_index()
        video = app.store.videos.set_index(video.id, index.frame_count, np.asarray(index.timestamps_s))
        version = ensure_active_model(app.store)
        model, _ = load_version(app.store, version)
        loaded = LoadedModel(version, model, CPU)
        total = len(window_starts(40, 16, 8))
        run = app.store.predictions.start_run(video.id, version.id, 8, total)  # the driver's part
        (chunk, *_rest) = plan_video(video.id, run.id, 40, set(), window=16, stride=8, chunk_windows=2)

        heard: list[PredictionsChanged] = []
        lock = threading.Lock()

        def hear(change: PredictionsChanged) -> None:
            with lock:
                heard.append(change)

        app.events.predictions.connect(hear)
        with listening(app, interval_s=0.05):
            compute_chunk(worker_store, loaded, chunk, stride=8, batch_size=1)
            assert _wait(lambda: len(heard) >= 2), "the app heard nothing of the worker's batches"
        assert {c.video_id for c in heard} == {video.id}
        assert app.store.predictions.done_starts(run.id) == set(chunk.starts)  # and can read them
    finally:
        worker_store.close()
        app.close()
