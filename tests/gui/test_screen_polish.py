"""What a user sees and expects the app to remember: a steady transport bar with real media
icons, room for the video at 1024×700, docks and settings that survive a restart, export in
the user's documents, a readable video list and a legend for background."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDockWidget, QStyle, QToolButton

from core.store import Store, open_store
from core.store.records import ModelState
from gui import file_dialogs
from gui.widgets.timeline import Lane
from tests.gui.conftest import TINY_FRAMES, fake_predictions, open_video


@pytest.fixture
def restart(qtbot: Any, store: Store) -> Iterator[Any]:
    """Build a main window on the same store and settings, as a restart of the app would."""
    from core.project import Project
    from gui.main_window import MainWindow
    from gui.state import AppModels

    windows: list[Any] = []

    def make() -> Any:
        if windows:
            windows[-1].close()
        win = MainWindow(AppModels.create(Project(store)), QSettings())
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        windows.append(win)
        return win

    yield make
    for win in windows:
        win.shutdown()


def _image(icon: Any) -> Any:
    return icon.pixmap(16, 16).toImage()


def test_transport_bar_stays_put_and_uses_media_icons(qtbot: Any, window: Any, tiny_video: Path) -> None:
    open_video(qtbot, window, tiny_video)
    style = window.style()
    buttons = window.player.findChildren(QToolButton)
    play = window.play_button
    assert _image(play.icon()) == _image(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
    places = [b.geometry() for b in buttons]
    label_width = window.player.position.width()

    window.playback.play()
    window.current.set_frame(TINY_FRAMES - 1)
    qtbot.wait(20)
    assert _image(play.icon()) == _image(style.standardIcon(QStyle.StandardPixmap.SP_MediaPause))
    assert [b.geometry() for b in buttons] == places  # the second click on ▶ lands on ⏸
    assert window.player.position.width() == label_width
    window.playback.pause()


def test_small_window_gives_the_space_to_video_and_timeline(
    qtbot: Any, window: Any, tiny_video: Path
) -> None:
    open_video(qtbot, window, tiny_video)
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() == 1024)
    qtbot.wait(20)
    assert window.centralWidget().width() >= 0.62 * window.width()
    for button in window.player.findChildren(QToolButton):
        assert not button.icon().isNull(), button.objectName()  # never a blank button
        assert button.width() >= button.sizeHint().width() - 1
    docks = window.findChildren(QDockWidget)
    assert docks and all(d.features() & QDockWidget.DockWidgetFeature.DockWidgetClosable for d in docks)


def test_docks_speed_and_open_video_come_back_after_a_restart(
    qtbot: Any, restart: Any, tiny_video: Path, tmp_path: Path
) -> None:
    from tests.videos import write_mjpeg_avi

    win = restart()
    open_video(qtbot, win, tiny_video)
    second = write_mjpeg_avi(tmp_path / "second.avi", 24, size=(112, 112))
    win.project.add_videos([str(second)])
    qtbot.waitUntil(lambda: win.videos.count() == 2 and not win.runner.jobs.is_running("add videos"))
    second_id = next(s.video.id for s in win.project.statuses if s.video.path.endswith("second.avi"))
    win.current.open_video(second_id)
    qtbot.waitUntil(lambda: win.current.video.id == second_id and not win.runner.jobs.is_running("index"))
    win.player.speed.setValue(2.5)
    training = win.findChild(QDockWidget, "Training")
    training.close()

    win = restart()
    qtbot.waitUntil(lambda: win.current.video is not None and not win.runner.jobs.is_running("index"))
    assert win.current.video.id == second_id
    assert win.player.speed.value() == pytest.approx(2.5) and win.playback.speed == pytest.approx(2.5)
    assert not win.findChild(QDockWidget, "Training").isVisible()
    assert win.findChild(QDockWidget, "Videos").isVisible()


def test_postprocess_settings_are_kept_in_the_project(
    qtbot: Any, restart: Any, store: Store, tiny_video: Path, db_url: str
) -> None:
    win = restart()
    open_video(qtbot, win, tiny_video)
    fake_predictions(store, win.current.video.id, TINY_FRAMES, ("background", "walk"))
    win.project.refresh_model()
    win.current.reload_predictions()
    panel = win.postprocess
    panel.open_threshold.setValue(0.8)
    panel.close_threshold.setValue(0.35)
    panel.min_length.setValue(3)

    win = restart()
    qtbot.waitUntil(lambda: win.current.predictions is not None)
    panel = win.postprocess
    assert (panel.open_threshold.value(), panel.close_threshold.value(), panel.min_length.value()) == (
        pytest.approx(0.8),
        pytest.approx(0.35),
        3,
    )
    walk = win.current.predictions.class_names.index("walk")
    assert win.current.params[walk].open_threshold == pytest.approx(0.8)
    with open_store(db_url) as other:  # in the project's store, not in this user's settings
        assert {s.class_name: s.open_threshold for s in other.postprocess.list()} == {
            "walk": pytest.approx(0.8)
        }


def test_training_panel_names_the_active_model_after_a_restart(restart: Any, store: Store) -> None:
    version = store.models.add(
        "tuned", "/nonexistent.safetensors", ("background", "walk"), "{}", "t", ModelState.READY,
        mode="last-layers", metrics={"val_macro_f1": 0.91},
    )  # fmt: skip
    store.models.set_active(version.id)
    win = restart()
    text = win.training.status.text()
    assert f"#{version.id}" in text and "0.91" in text
    assert "No training run yet" not in text


def test_export_starts_in_documents_then_remembers_the_folder(
    qtbot: Any, window: Any, tiny_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_video(qtbot, window, tiny_video)
    asked: list[str] = []
    out = tmp_path / "exports" / "labels.csv"
    out.parent.mkdir()

    def save_name(_parent: Any, _title: str, folder: str, filters: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(folder)
        return str(out), filters.split(";;")[0]

    monkeypatch.setattr(file_dialogs, "save_file", save_name)
    window.actions_by_name["export_video"].trigger()
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    assert Path(asked[0]) == Path(documents)
    assert Path(asked[0]) not in (Path.cwd(), Path(window.project.store.url.split("///")[-1]).parent)
    window.actions_by_name["export_project"].trigger()
    assert Path(asked[1]) == out.parent


def test_whole_project_export_needs_a_video(qtbot: Any, window: Any, tiny_video: Path) -> None:
    assert not window.actions_by_name["export_project"].isEnabled()
    open_video(qtbot, window, tiny_video)
    assert window.actions_by_name["export_project"].isEnabled()


def test_shortcuts_dialog_shows_every_column_whole(qtbot: Any, window: Any) -> None:
    dialog = window.show_shortcuts()
    qtbot.addWidget(dialog)
    qtbot.waitExposed(dialog)
    table = dialog.table
    for column in range(table.columnCount()):
        right = table.columnViewportPosition(column) + table.columnWidth(column)
        assert right <= table.viewport().width(), column
        assert table.columnWidth(column) >= table.sizeHintForColumn(column) - 1 or table.wordWrap()
    assert not table.horizontalScrollBar().isVisible()


def test_video_names_elide_in_the_middle_with_the_path_in_a_tooltip(
    qtbot: Any, window: Any, tmp_path: Path
) -> None:
    from PySide6.QtCore import Qt

    from tests.videos import write_mjpeg_avi

    path = write_mjpeg_avi(tmp_path / ("a-very-long-name-" * 6 + "end.avi"), 16, size=(64, 64))
    open_video(qtbot, window, path)
    item = window.videos.item(0)
    assert item.text().splitlines()[0] == path.name
    assert item.toolTip() == str(path)
    assert window.videos.textElideMode() == Qt.TextElideMode.ElideMiddle


def test_background_segments_stand_out_and_have_a_legend(
    qtbot: Any, window: Any, store: Store, tiny_video: Path
) -> None:
    open_video(qtbot, window, tiny_video)
    tl = window.timeline
    background = next(c for c in window.project.classes if c.name == "background")
    window.current.create_segment(0, 20, background.id)
    tl.repaint()
    image = tl.view.grab().toImage()
    ratio = tl.view.devicePixelRatioF()

    def colours(frame_lo: float, frame_hi: float) -> set[str]:
        found = set()
        for k in range(12):
            p = tl.viewport_point(frame_lo + (frame_hi - frame_lo) * k / 12, Lane.LABELS)
            for dy in range(-3, 4):
                found.add(QColor(image.pixel(round(p.x() * ratio), round((p.y() + dy) * ratio))).name())
        return found

    empty = colours(25, 38)
    inside = colours(2, 18)
    lightness = [QColor(c).lightness() for c in inside]
    lane = max(QColor(c).lightness() for c in empty)
    assert max(lightness) - lane >= 40  # visibly lighter marks than the empty lane
    assert len(inside) >= 2  # a pattern, not one more flat colour beside the classes
    legend = window.palette_bar.button_for("background")
    assert "0" in legend.text() and not legend.icon().isNull()


def test_auto_range_button_is_hidden(window: Any) -> None:
    for plot in (window.timeline.probs, window.timeline.tracks, window.timeline.overview):
        plot.mouseHovering = True
        plot.updateButtons()
        assert not plot.autoBtn.isVisible()


def test_status_hints_clear_when_the_context_changes(qtbot: Any, window: Any, tiny_video: Path) -> None:
    open_video(qtbot, window, tiny_video)
    window.actions_by_name["in_point"].trigger()
    assert "press O" in window.statusBar().currentMessage()
    window.current.set_frame(5)
    window.actions_by_name["out_point"].trigger()
    assert "press O" not in window.statusBar().currentMessage()
