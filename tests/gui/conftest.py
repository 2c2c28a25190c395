"""GUI test fixtures: offscreen Qt, settings and data redirected to tmp_path, no thread left behind."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
import pytest

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any QApplication exists

from PySide6.QtCore import QPoint, QPointF, QSettings, Qt, QThread
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget

from core.store import Store
from tests.videos import write_mjpeg_avi

TINY_FRAMES = 40
MOVE_GAP_S = 1.5 / float(pg.getConfigOption("mouseRateLimit"))


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """platformdirs and QSettings write under tmp_path, never into the user's real folders."""
    data = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    return data


@pytest.fixture(autouse=True)
def no_dangling_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail a test that leaves a QThread running (as napari's fixture does)."""
    started: list[QThread] = []
    original = QThread.start

    def start(self: QThread, *args: Any) -> None:
        started.append(self)
        original(self, *args)

    monkeypatch.setattr(QThread, "start", start)
    yield
    QApplication.processEvents()
    running = []
    for thread in started:
        try:
            if thread.isRunning():
                running.append(thread.objectName())
        except RuntimeError:  # the C++ object is gone: it finished and was deleted
            continue
    assert not running, f"threads still running after the test: {running}"


@pytest.fixture
def warnings_shown(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Message boxes are recorded instead of shown (a modal dialog would block the test)."""
    shown: list[str] = []
    monkeypatch.setattr(
        "gui.dialogs.errors.show_warning", lambda _parent, text, details="": shown.append(text)
    )
    return shown


@pytest.fixture
def tiny_video(tmp_path: Path) -> Path:
    return write_mjpeg_avi(tmp_path / "tiny.avi", TINY_FRAMES, size=(112, 112))


@pytest.fixture
def window(qtbot: Any, store: Store, warnings_shown: list[str]) -> Iterator[Any]:
    from core.project import Project
    from gui.main_window import MainWindow
    from gui.state import AppModels

    win = MainWindow(AppModels.create(Project(store)), QSettings())
    qtbot.addWidget(win)
    win.resize(1280, 820)  # the offscreen screen is small; tests aim drags of a few frames
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


def open_video(qtbot: Any, win: Any, path: Path) -> None:
    win.project.add_videos([str(path)])
    qtbot.waitUntil(lambda: win.current.video is not None and win.player.view.shown_frame == 0, timeout=15000)
    # The add job's thread finishes just after its result arrives; a second add before then is
    # refused as "already running", so let it end before the test goes on.
    qtbot.waitUntil(lambda: not win.runner.is_running("add videos"), timeout=15000)


def mouse(
    widget: QWidget, kind: str, pos: QPoint, buttons: Qt.MouseButton = Qt.MouseButton.LeftButton
) -> None:
    """Send one mouse event with the button state pyqtgraph's drag detection reads."""
    types = {
        "press": QMouseEvent.Type.MouseButtonPress,
        "move": QMouseEvent.Type.MouseMove,
        "release": QMouseEvent.Type.MouseButtonRelease,
    }
    button = Qt.MouseButton.NoButton if kind == "move" else Qt.MouseButton.LeftButton
    held = Qt.MouseButton.NoButton if kind == "release" else buttons
    local = QPointF(pos)
    event = QMouseEvent(
        types[kind], local, QPointF(widget.mapToGlobal(pos)), button, held, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, event)


def drag(widget: QWidget, start: QPoint, end: QPoint, steps: int = 6) -> None:
    QApplication.processEvents()  # a user's gestures never start before the last one's redraw
    mouse(widget, "press", start)
    for k in range(1, steps + 1):
        p = start + (end - start) * (k / steps)
        # pyqtgraph drops mouse moves closer together than 1/mouseRateLimit s; a hand never is
        # that fast, but a test is, and then a drag turns into a click on a loaded machine.
        time.sleep(MOVE_GAP_S)
        mouse(widget, "move", QPoint(round(p.x()), round(p.y())))
    mouse(widget, "release", end)


def click(widget: QWidget, pos: QPoint) -> None:
    QApplication.processEvents()
    mouse(widget, "press", pos)
    mouse(widget, "release", pos)


def fake_predictions(store: Store, video_id: int, frame_count: int, class_names: tuple[str, ...]) -> int:
    """A model version and a complete run whose windows say class 1 around frames 16–24, without a network."""
    from core.analysis.windows import window_starts
    from core.model.spec import DEFAULT_SPEC
    from core.store.records import ModelState, RunStatus

    version = store.models.add(
        "fake", "/nonexistent.safetensors", class_names, DEFAULT_SPEC.to_json(), "t", ModelState.READY
    )
    store.models.set_active(version.id)
    starts = window_starts(frame_count, 16, 4)
    probs = np.full((len(starts), len(class_names)), 0.05, dtype=np.float32)
    probs[:, 0] = 0.9
    hot = (starts >= 8) & (starts <= 16)
    probs[hot, 0], probs[hot, 1] = 0.05, 0.9
    run = store.predictions.start_run(video_id, version.id, 4, len(starts))
    store.predictions.add_windows(run.id, starts, probs)
    store.predictions.finish(run.id, RunStatus.COMPLETE)
    return version.id
