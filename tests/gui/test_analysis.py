"""Analysis from the window: cancelled midway (finished windows kept), then run to completion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.store import Store
from core.store.records import RunStatus
from gui.state.runner import ANALYSE_JOB, INT8_JOB
from tests.gui.conftest import open_video


@pytest.mark.slow
def test_cancel_midway_then_analyse_to_completion(
    qtbot: Any, window: Any, store: Store, tiny_video: Path, warnings_shown: list[str]
) -> None:
    open_video(qtbot, window, tiny_video)
    state = window
    vid = state.current.video.id

    # The event loop keeps turning while the model runs: progress shows and Cancel works midway
    # (how late a GUI timer gets during analysis is measured in benchmarks/gui.py, not here).

    state.current.analyse([vid], stride=2, batch_size=1)  # 13 windows, one per batch
    assert window.analysis.isVisible()
    assert not window.actions_by_name["analyse_selected"].isEnabled()
    qtbot.waitUntil(lambda: window.analysis.bar.value() >= 1, timeout=60000)
    window.analysis.cancel.click()
    qtbot.waitUntil(lambda: not state.runner.jobs.is_running(ANALYSE_JOB), timeout=60000)
    run = store.predictions.latest_run(vid)
    assert run is not None and run.status is RunStatus.CANCELLED
    assert 1 <= run.windows_done < run.windows_total == 13
    assert state.current.predictions is not None and not state.current.predictions.complete
    assert np.isnan(state.current.predictions.frame_scores).any()  # unscored frames stay unknown
    assert "UNTRAINED" in window.model_label.text()

    window.videos.item(0).setSelected(True)
    window.actions_by_name["analyse_selected"].trigger()  # stride 8: 4 windows
    qtbot.waitUntil(lambda: not state.runner.jobs.is_running(ANALYSE_JOB), timeout=90000)
    run = store.predictions.latest_run(vid)
    assert run is not None and run.status is RunStatus.COMPLETE and run.windows_done == run.windows_total == 4
    preds = state.current.predictions
    assert preds is not None and preds.complete and preds.untrained
    assert not np.isnan(preds.frame_scores).any()
    assert len(window.timeline._curves) == len(preds.class_names) - 1  # background is not plotted
    assert "analysed with" in window.videos.item(0).text()
    assert "UNTRAINED" in window.timeline.probs.titleLabel.text
    assert warnings_shown == []


@pytest.mark.slow
def test_precision_menu_choice_runs_and_shows_that_engine(
    qtbot: Any,
    window: Any,
    store: Store,
    tiny_video: Path,
    warnings_shown: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("C3D_LABELLER_BACKEND", raising=False)
    open_video(qtbot, window, tiny_video)
    assert window.precision_actions["auto"].isChecked()

    window.precision_actions["fp32"].trigger()
    assert window.runner.precision == "fp32" and window.settings.value("analysis/precision") == "fp32"
    window.current.analyse([window.current.video.id])
    qtbot.waitUntil(lambda: not window.runner.jobs.is_running(ANALYSE_JOB), timeout=180000)
    assert window.device_label.text() == "CPU · OpenVINO fp32"
    assert not window.runner.jobs.is_running(INT8_JOB)  # fp32 asked for: nothing to prepare
    assert warnings_shown == []

    # auto with no int8 tried yet: fp32 now, and int8 is prepared in the background afterwards.
    window.precision_actions["auto"].trigger()
    window.current.analyse([window.current.video.id])
    qtbot.waitUntil(lambda: window.runner.jobs.is_running(INT8_JOB), timeout=180000)
    assert "int8 not prepared" in window.device_label.text()
    window.runner.jobs.cancel(INT8_JOB)
    qtbot.waitUntil(lambda: not window.runner.jobs.is_running(INT8_JOB), timeout=180000)
