"""The learning loop from the window: fine-tune, model versions, review queue, cancel.

Two tiny generated videos (40 and 36 frames, 112×112) are labelled through the store with two
classes and background, analysed from the window (which fills the feature cache), and the
``features`` mode then trains in seconds. Two labelled videos give a split by video; the
first keeps one unlabelled window so its review queue is never empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from core.model.registry import ensure_active_model
from core.store import Store
from core.store.records import NewSegment, RunStatus
from gui import file_dialogs
from gui.state.learning import COMPARE_JOB, EXPORT_JOB, IMPORT_JOB
from gui.state.runner import ANALYSE_JOB
from tests.gui.conftest import open_video
from tests.videos import write_mjpeg_avi

pytestmark = pytest.mark.slow


def _labelled_project(qtbot: Any, window: Any, store: Store, first: Path, tmp_path: Path) -> tuple[int, int]:
    """Open both videos and label them; returns their ids (the first one is open)."""
    second = write_mjpeg_avi(tmp_path / "second.avi", 36, size=(112, 112))
    open_video(qtbot, window, first)
    state = window
    state.project.add_videos([str(second)])
    qtbot.waitUntil(
        lambda: len(state.project.statuses) == 2 and not state.runner.jobs.is_running("add videos"),
        timeout=15000,
    )
    a = state.current.video.id
    b = next(s.video.id for s in state.project.statuses if s.video.id != a)
    ids = {c.name: c.id for c in (store.classes.add("walk"), store.classes.add("run"))}
    bg = next(c.id for c in store.classes.list() if c.name == "background")
    # Windows start every 8 frames and are labelled by their centre frame (start + 8).
    store.segments.paint(a, [NewSegment(bg, 0, 12), NewSegment(ids["walk"], 12, 28)])  # centre 32 open
    store.segments.paint(b, [NewSegment(bg, 0, 12), NewSegment(ids["run"], 12, 28)])
    state.project.refresh_classes()
    state.current.reload_labels()
    state.project.refresh_videos()
    return a, b


def _start_features_run(qtbot: Any, window: Any, epochs: int) -> Any:
    window.actions_by_name["fine_tune"].trigger()
    dialog = window.fine_tune_dialog
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.mode == "features"
    assert "labelled windows in 2 video(s)" in dialog.summary.text()
    # How many events the validation will rest on: background 2, walk 1, run 1.
    assert "rests on 4 labelled events" in dialog.summary.text()
    assert all("here" in label.text() for label in dialog.estimates.values())
    assert dialog.videos.count() == 2 and dialog.video_ids() is None
    dialog.epochs.setValue(epochs)
    assert dialog.start.isEnabled()
    dialog.start.click()
    assert not dialog.isVisible()
    return dialog


def test_fine_tune_versions_and_review(
    qtbot: Any,
    window: Any,
    store: Store,
    tiny_video: Path,
    tmp_path: Path,
    warnings_shown: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = _labelled_project(qtbot, window, store, tiny_video, tmp_path)
    state, learning = window, window.learning
    state.current.analyse([a, b])
    qtbot.waitUntil(lambda: not state.runner.jobs.is_running(ANALYSE_JOB), timeout=60000)
    untrained = store.models.active()
    assert untrained is not None and untrained.untrained
    assert window.models.table.rowCount() == 1 and window.models.table.item(0, 0).text() == "●"

    _start_features_run(qtbot, window, epochs=3)
    assert learning.training and window.training.cancel.isEnabled()
    assert not window.actions_by_name["fine_tune"].isEnabled()
    qtbot.waitUntil(lambda: not learning.training, timeout=60000)
    assert warnings_shown == []

    # A new version, active, listed first with the marker; the timeline shows its predictions.
    trained = store.models.active()
    assert trained is not None and trained.id != untrained.id and trained.mode == "features"
    assert trained.parent_id == untrained.id and "val_macro_f1" in trained.metrics
    assert window.models.table.rowCount() == 2
    assert window.models.table.item(0, 1).text() == str(trained.id)
    assert window.models.table.item(0, 0).text() == "●"
    assert window.training.points() >= 1 and len(window.training.loss_curve.getData()[0]) >= 1
    assert f"Model #{trained.id}" in window.training.status.text()
    # The estimate shows what it rests on, in the dock and in the model list.
    assert "over 4 held-out events" in window.training.status.text()
    assert window.models.table.item(0, 3).text().endswith("(4 ev)")
    assert f"#{trained.id}" in window.model_label.text() and "UNTRAINED" not in window.model_label.text()
    assert state.current.predictions is not None and state.current.predictions.model_version_id == trained.id
    assert f"Model #{trained.id}" in window.timeline.probs.titleLabel.text

    # Next to review (N) jumps to the first item of the queue and selects its window.
    assert learning.review_items  # the unlabelled window at least
    first = learning.review_items[0]
    assert window.review.list.count() == len(learning.review_items)
    state.current.set_frame(0)
    window.activateWindow()  # offscreen Qt does not hand activation back after the modal dialog
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_N)
    assert state.current.frame == first.centre_frame and state.current.selection == (
        first.start_frame,
        first.end_frame,
    )
    last = learning.review_items[-1]
    window.review._go(window.review.list.item(window.review.list.count() - 1))
    assert state.current.frame == last.centre_frame

    # Compare the two versions side by side (evaluated in a worker).
    window.models.select_ids([untrained.id, trained.id])
    assert window.models.compare.isEnabled()
    dialog = window.models.compare_selected()
    qtbot.waitUntil(lambda: not state.runner.jobs.is_running(COMPARE_JOB), timeout=30000)
    qtbot.waitUntil(lambda: any(label.startswith("All labels") for label, _ in dialog.rows()))
    rows = dict(dialog.rows())
    assert rows["Mode"] == ("untrained", "features") or rows["Mode"] == ("features", "untrained")
    assert all(v != "–" for v in rows["All labels: frame macro-F1"])
    dialog.close()

    # Export the trained version and import it back as a new version.
    out = tmp_path / "exported.safetensors"
    monkeypatch.setattr(file_dialogs, "save_file", lambda *a, **k: (str(out), ""))
    monkeypatch.setattr(file_dialogs, "open_file", lambda *a, **k: str(out))
    window.models.select_ids([trained.id])
    window.models.export.click()
    qtbot.waitUntil(lambda: not state.runner.jobs.is_running(EXPORT_JOB), timeout=30000)
    assert out.is_file()
    window.models.import_button.click()
    qtbot.waitUntil(lambda: not state.runner.jobs.is_running(IMPORT_JOB), timeout=60000)
    assert window.models.table.rowCount() == 3 and store.models.list()[-1].mode == "import"
    assert store.models.active().id == trained.id  # importing does not switch

    # Use: switch back to the untrained model from the panel; status bar and timeline follow.
    window.models.select_ids([untrained.id])
    window.models.use.click()
    assert store.models.active().id == untrained.id
    assert "UNTRAINED" in window.model_label.text()
    assert f"Model #{untrained.id}" in window.timeline.probs.titleLabel.text
    row = next(r for r in range(3) if window.models.table.item(r, 1).text() == str(untrained.id))
    assert window.models.table.item(row, 0).text() == "●"
    assert warnings_shown == []


def test_cancel_training_midway_registers_nothing(
    qtbot: Any, window: Any, store: Store, tiny_video: Path, tmp_path: Path, warnings_shown: list[str]
) -> None:
    a, _b = _labelled_project(qtbot, window, store, tiny_video, tmp_path)
    state, learning = window, window.learning
    ensure_active_model(store)  # the run's parent; the videos are not analysed yet
    state.project.refresh_model()
    before = [v.id for v in store.models.list()]

    _start_features_run(qtbot, window, epochs=3)
    # No features are cached, so the run first decodes the videos: cancel it there.
    qtbot.waitUntil(
        lambda: learning.last_progress is not None and learning.last_progress.phase == "features",
        timeout=60000,
    )
    assert "features" in window.training.status.text().lower()
    window.training.cancel.click()
    qtbot.waitUntil(lambda: not learning.training, timeout=30000)
    assert [v.id for v in store.models.list()] == before
    assert store.models.active().id == before[0]
    assert "no new model" in window.training.status.text()
    assert not window.training.cancel.isEnabled() and window.actions_by_name["fine_tune"].isEnabled()
    run = store.predictions.latest_run(a)
    assert run is None or run.status is not RunStatus.COMPLETE  # stopped while decoding
    assert warnings_shown == []


def test_new_version_is_quantized_in_the_background_after_training(
    qtbot: Any,
    window: Any,
    store: Store,
    tiny_video: Path,
    tmp_path: Path,
    warnings_shown: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With ``auto`` on a CPU with OpenVINO, a new version gets its int8 variant made (and
    verified) before anyone analyses with it; with fp32 chosen, nothing is prepared."""
    a, b = _labelled_project(qtbot, window, store, tiny_video, tmp_path)
    window.current.analyse([a, b])
    qtbot.waitUntil(lambda: not window.runner.jobs.is_running(ANALYSE_JOB), timeout=60000)
    monkeypatch.delenv("C3D_LABELLER_BACKEND", raising=False)  # OpenVINO, as on a user's CPU
    prepared: list[int] = []
    monkeypatch.setattr(window.runner, "prepare_int8", lambda _store, version_id: prepared.append(version_id))

    window.precision_actions["fp32"].trigger()
    _start_features_run(qtbot, window, epochs=1)
    qtbot.waitUntil(lambda: not window.learning.training, timeout=60000)
    assert prepared == []

    window.precision_actions["auto"].trigger()
    _start_features_run(qtbot, window, epochs=1)
    qtbot.waitUntil(lambda: not window.learning.training, timeout=60000)
    assert prepared == [store.models.active().id]
    assert warnings_shown == []
