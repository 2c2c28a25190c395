"""Analyse › Analyse on a cluster… on a local Ray: progress across the cluster, windows on the
timeline as the workers store them, Cancel keeps them, and the next run resumes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.analysis.windows import window_starts
from core.cluster.ray_analysis import ray_module
from core.store import Store
from core.store.records import RunStatus
from gui.state.runner import ANALYSE_JOB
from tests.gui.conftest import open_video
from tests.videos import write_mjpeg_avi

FRAMES = 64


@pytest.fixture
def local_ray() -> Iterator[None]:
    ray = ray_module()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        yield
    finally:
        ray.shutdown()


def _start(qtbot: Any, window: Any, workers: int) -> None:
    window.actions_by_name["analyse_cluster"].trigger()
    dialog = window.cluster_dialog
    dialog.address.setText("local")
    dialog.workers.setValue(workers)
    dialog.chunk.setValue(1)  # one window per chunk: the timeline fills in window by window
    dialog.start.click()
    qtbot.waitUntil(lambda: window.runner.jobs.is_running(ANALYSE_JOB), timeout=5000)


@pytest.mark.slow
def test_analyse_on_a_local_ray_cancel_and_resume(
    qtbot: Any, window: Any, store: Store, tmp_path: Path, warnings_shown: list[str], local_ray: None
) -> None:
    open_video(qtbot, window, write_mjpeg_avi(tmp_path / "clip.avi", FRAMES, size=(112, 112)))
    vid = window.current.video.id
    total = len(window_starts(FRAMES, 16, 8))
    messages: list[str] = []
    window.runner.message.connect(messages.append)
    partial_while_running: list[bool] = []

    def on_predictions() -> None:
        preds = window.current.predictions
        if preds is not None and window.runner.jobs.is_running(ANALYSE_JOB):
            scored = ~np.isnan(preds.frame_scores).any(axis=1)
            partial_while_running.append(bool(scored.any() and not scored.all()))

    window.current.predictions_changed.connect(on_predictions)

    _start(qtbot, window, workers=1)
    assert window.analysis.isVisible() and not window.actions_by_name["analyse_cluster"].isEnabled()
    # Windows a worker process stored reach the timeline (the change feed) while the run goes on.
    qtbot.waitUntil(lambda: any(partial_while_running), timeout=180000)
    assert window.analysis.bar.format() == "cluster: %v/%m windows"
    assert "worker" in window.analysis.label.text() and "clips/s" in window.analysis.label.text()
    window.analysis.cancel.click()
    qtbot.waitUntil(lambda: not window.runner.jobs.is_running(ANALYSE_JOB), timeout=120000)
    run = store.predictions.latest_run(vid)
    assert run is not None and run.status is RunStatus.CANCELLED
    kept = run.windows_done
    assert 1 <= kept < total
    assert any("cancelled" in m for m in messages)

    _start(qtbot, window, workers=2)  # resumes: only the missing windows are computed
    qtbot.waitUntil(lambda: not window.runner.jobs.is_running(ANALYSE_JOB), timeout=240000)
    run = store.predictions.latest_run(vid)
    assert run is not None and run.status is RunStatus.COMPLETE and run.windows_done == total
    assert f"Analysis finished: {total - kept} windows on 2 cluster worker(s)" in " ".join(messages)
    preds = window.current.predictions
    assert preds is not None and preds.complete and not np.isnan(preds.frame_scores).any()
    assert window.actions_by_name["analyse_cluster"].isEnabled()
    assert warnings_shown == []
