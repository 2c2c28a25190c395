"""The main window: builds the widgets and wires actions to the hub. It computes nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.analysis.backends.base import PRECISIONS
from core.interchange.formats import WRITERS
from core.store.records import BACKGROUND, LabelClass
from gui import actions as action_table
from gui.app_state import AppState
from gui.dialogs import errors
from gui.dialogs.classes import ClassesDialog
from gui.dialogs.fine_tune import FineTuneDialog
from gui.dialogs.import_labels import ImportDialog
from gui.dialogs.shortcuts import ShortcutsDialog
from gui.learning_state import TRAIN_JOB
from gui.playback import Playback
from gui.widgets.analysis_panel import AnalysisPanel
from gui.widgets.models_panel import ModelsPanel
from gui.widgets.player import Player
from gui.widgets.postprocess_panel import PostprocessPanel
from gui.widgets.review_panel import ReviewPanel
from gui.widgets.timeline import Timeline
from gui.widgets.training_panel import TrainingPanel
from gui.widgets.video_list import VideoList

log = logging.getLogger(__name__)

TITLE = "C3D Labeller"


def class_keys(classes: list[LabelClass]) -> list[tuple[str, LabelClass]]:
    """0 for background, 1–9 for the other classes in order, plus each class's own key."""
    keys: list[tuple[str, LabelClass]] = []
    others = [c for c in classes if c.name != BACKGROUND]
    for cls in classes:
        if cls.name == BACKGROUND:
            keys.append(("0", cls))
    keys += [(str(n), cls) for n, cls in enumerate(others[:9], start=1)]
    keys += [(cls.shortcut, cls) for cls in classes if cls.shortcut]
    return keys


class MainWindow(QMainWindow):
    def __init__(self, state: AppState, settings: QSettings | None = None) -> None:
        super().__init__()
        self.state = state
        self.settings = settings or QSettings()
        self.playback = Playback(state, self)
        self._shut_down = False
        self.setWindowTitle(TITLE)

        self.player = Player(state, self.playback)
        self.timeline = Timeline(state)
        self.videos = VideoList(state)
        self.postprocess = PostprocessPanel(state)
        self.analysis = AnalysisPanel(state)
        self.training = TrainingPanel(state.learning)
        self.models = ModelsPanel(state.learning)
        self.review = ReviewPanel(state.learning)
        self.welcome = self._build_welcome()

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.player)
        splitter.addWidget(self.timeline)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        work = QWidget()
        work_layout = QVBoxLayout(work)
        work_layout.setContentsMargins(0, 0, 0, 0)
        work_layout.addWidget(splitter, 1)
        work_layout.addWidget(self.analysis)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(work)
        self.setCentralWidget(self.pages)
        self._dock("Videos", self.videos, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Post-processing", self.postprocess, Qt.DockWidgetArea.LeftDockWidgetArea)
        right = Qt.DockWidgetArea.RightDockWidgetArea
        models_dock = self._dock("Model versions", self.models, right)
        self.tabifyDockWidget(models_dock, self._dock("Review queue", self.review, right))
        models_dock.raise_()
        training_dock = self._dock("Training", self.training, right)
        self.resizeDocks([models_dock, training_dock], [330, 330], Qt.Orientation.Horizontal)
        self.resizeDocks([models_dock, training_dock], [440, 300], Qt.Orientation.Vertical)

        self.actions_by_name = action_table.build_actions(self, self._slots())
        self._build_menus()
        self._build_transport()
        self._class_actions: list[QAction] = []

        self.device_label = QLabel()
        self.model_label = QLabel()
        self.statusBar().addPermanentWidget(self.device_label)
        self.statusBar().addPermanentWidget(self.model_label)

        state.error.connect(self._show_error)
        state.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        state.video_changed.connect(self._on_video)
        state.videos_changed.connect(self._on_videos)
        state.model_changed.connect(self._on_model)
        state.classes_changed.connect(self._on_classes)
        state.selection_changed.connect(self._update_actions)
        state.jobs.changed.connect(self._update_actions)
        state.undo_group.canUndoChanged.connect(self._update_actions)
        state.undo_group.canRedoChanged.connect(self._update_actions)
        self.playback.playing_changed.connect(self._on_playing)
        self.resize(1280, 820)
        state.load()
        self._on_video()

    # --- construction ----------------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(area, dock)
        return dock

    def _build_welcome(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(2)
        title = QLabel(
            f"<h1>{TITLE}</h1><p>Label events in video with a C3D network that learns from you.</p>"
        )
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(title)
        self.add_button = QPushButton("Add videos…")
        self.demo_button = QPushButton("Open the demo")
        for button in (self.add_button, self.demo_button):
            button.setMinimumSize(220, 44)
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        hint = QLabel(
            "The demo writes a one-minute synthetic video with three kinds of events, partly labelled."
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(hint)
        layout.addStretch(3)
        self.add_button.clicked.connect(self.add_videos)
        self.demo_button.clicked.connect(lambda: self.state.open_demo())
        return page

    def _slots(self) -> dict[str, Callable[[], object]]:
        s, p, t = self.state, self.playback, self.timeline
        return {
            "add_videos": self.add_videos,
            "add_folder": self.add_folder,
            "open_project": self.open_project,
            "open_project_url": self.open_project_url,
            "open_demo": lambda: s.open_demo(),
            "import_labels": self.import_labels,
            "export_video": lambda: self.export(False),
            "export_project": lambda: self.export(True),
            "quit": self.close,
            "undo": s.undo_group.undo,
            "redo": s.undo_group.redo,
            "in_point": s.set_in_point,
            "out_point": s.set_out_point,
            "delete": s.delete_selection,
            "split": s.split_at_playhead,
            "merge": s.merge_selection_with_next,
            "select_none": s.clear_selection,
            "accept_event": s.accept_selected_event,
            "accept_visible": lambda: s.accept_in_range(*self._visible_frames()),
            "fill_visible": lambda: s.accept_in_range(*self._visible_frames(), fill_unlabelled_only=True),
            "reviewed": lambda: s.mark_reviewed(*self._visible_frames()),
            "classes": self.show_classes,
            "play": p.toggle,
            "step_back": lambda: s.step(-1),
            "step_forward": lambda: s.step(1),
            "jump_back": lambda: s.step(-self.jump_frames),
            "jump_forward": lambda: s.step(self.jump_frames),
            "jump_back_s": lambda: s.jump_seconds(-self.jump_seconds),
            "jump_forward_s": lambda: s.jump_seconds(self.jump_seconds),
            "prev_boundary": lambda: s.go_to_boundary(False),
            "next_boundary": lambda: s.go_to_boundary(True),
            "first": lambda: s.set_frame(0),
            "last": lambda: s.set_frame(s.frame_count - 1),
            "go_to": self.go_to,
            "slower": lambda: self.player.speed.setValue(self.player.speed.value() / 1.5),
            "faster": lambda: self.player.speed.setValue(self.player.speed.value() * 1.5),
            "jump_sizes": self.set_jump_sizes,
            "zoom_in": lambda: t.zoom(0.5),
            "zoom_out": lambda: t.zoom(2.0),
            "zoom_all": lambda: t.set_visible_range(0, s.frame_count),
            "analyse_selected": lambda: s.analyse(self.videos.selected_ids() or self._current_ids()),
            "analyse_all": lambda: s.analyse([st.video.id for st in s.statuses if not st.missing]),
            "cancel_analysis": s.cancel_analysis,
            "next_review": s.learning.next_to_review,
            "fine_tune": self.fine_tune,
            "cancel_training": s.learning.cancel_training,
            "import_weights": self.models.import_file,
            "clear_cache": s.learning.clear_feature_cache,
            "shortcuts": self.show_shortcuts,
        }

    def _build_menus(self) -> None:
        menus = {name: self.menuBar().addMenu(f"&{name}") for name in action_table.MENUS}
        for spec in action_table.SPECS:
            menus[spec.menu].addAction(self.actions_by_name[spec.name])
        self.class_menu = menus["Edit"].addMenu("Label selection as")
        self._build_precision_menu(menus["Analyse"])

    def _build_precision_menu(self, analyse: QMenu) -> None:
        """auto: int8 on the CPU once verified against fp32 (prepared in the background)."""
        menu = analyse.addMenu("Precision")
        group = QActionGroup(self)
        chosen = str(self.settings.value("analysis/precision", "auto"))
        self.state.precision = chosen if chosen in PRECISIONS else "auto"
        texts = {"auto": "Auto (int8 once verified)", "fp32": "fp32", "int8": "int8 (verify first)"}
        self.precision_actions: dict[str, QAction] = {}
        for name in PRECISIONS:
            action = menu.addAction(texts[name])
            action.setCheckable(True)
            action.setChecked(name == self.state.precision)
            action.triggered.connect(lambda _checked=False, n=name: self._set_precision(n))
            group.addAction(action)
            self.precision_actions[name] = action

    def _set_precision(self, name: str) -> None:
        self.state.precision = name
        self.settings.setValue("analysis/precision", name)

    def _build_transport(self) -> None:
        for name, text in (
            ("first", "|◀"),
            ("prev_boundary", "⇤"),
            ("jump_back", "«"),
            ("step_back", "‹"),
            ("play", "▶"),
            ("step_forward", "›"),
            ("jump_forward", "»"),
            ("next_boundary", "⇥"),
            ("last", "▶|"),
        ):
            button = QToolButton()
            button.setDefaultAction(self.actions_by_name[name])
            button.setText(text)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setObjectName(f"button_{name}")
            self.player.add_button(button)
        self.play_button = self.player.findChild(QToolButton, "button_play")

    # --- settings -------------------------------------------------------------------------------

    @property
    def jump_frames(self) -> int:
        return int(self.settings.value("jump/frames", 10))

    @property
    def jump_seconds(self) -> float:
        return float(self.settings.value("jump/seconds", 5.0))

    # --- state → window ---------------------------------------------------------------------------

    def _on_video(self) -> None:
        video = self.state.video
        has_any = bool(self.state.statuses) or video is not None
        self.pages.setCurrentIndex(1 if has_any else 0)
        name = "" if video is None else f" — {Path(video.path).name}"
        self.setWindowTitle(f"{TITLE}{name}")
        self._update_actions()

    def _on_videos(self) -> None:
        if self.state.statuses and self.pages.currentIndex() == 0:
            self.pages.setCurrentIndex(1)

    def _on_model(self) -> None:
        self.device_label.setText(self.state.device_label)
        model = self.state.model
        if model is None:
            self.model_label.setText("model: none yet (an untrained one is made on first Analyse)")
        elif model.untrained:
            self.model_label.setText(
                f"<b style='color:#d00000'>model #{model.id} {model.name}: "
                "UNTRAINED — predictions are meaningless</b>"
            )
        else:
            self.model_label.setText(f"model #{model.id} {model.name}")

    def _on_classes(self) -> None:
        for action in self._class_actions:
            self.removeAction(action)
        self.class_menu.clear()
        self._class_actions = []
        for key, cls in class_keys(self.state.classes):
            marker = "● " if cls.id == self.state.current_class_id else ""
            action = QAction(f"{marker}{cls.name}", self)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(lambda _checked=False, c=cls.id: self.state.relabel_selection(c))
            self.addAction(action)
            self.class_menu.addAction(action)
            self._class_actions.append(action)

    def _on_playing(self, playing: bool) -> None:
        if self.play_button is not None:
            self.play_button.setText("⏸" if playing else "▶")

    def _update_actions(self) -> None:
        if self._shut_down:
            return
        a, s = self.actions_by_name, self.state
        has_video = s.video is not None
        analysing = s.jobs.is_running("analysis")
        a["undo"].setEnabled(s.undo_group.canUndo())
        a["redo"].setEnabled(s.undo_group.canRedo())
        a["analyse_selected"].setEnabled(not analysing and bool(s.statuses))
        a["analyse_all"].setEnabled(not analysing and bool(s.statuses))
        a["cancel_analysis"].setEnabled(analysing)
        training = s.jobs.is_running(TRAIN_JOB)
        a["fine_tune"].setEnabled(not training and not analysing)
        a["cancel_training"].setEnabled(training)
        a["clear_cache"].setEnabled(not training and not analysing)
        a["next_review"].setEnabled(has_video)
        if training:  # analysis would race the run for the same features and the active model
            a["analyse_selected"].setEnabled(False)
            a["analyse_all"].setEnabled(False)
        a["open_demo"].setEnabled(not s.jobs.is_running("demo"))
        self.demo_button.setEnabled(not s.jobs.is_running("demo"))
        for name in ("export_video", "accept_visible", "fill_visible", "reviewed", "split", "merge", "go_to"):
            a[name].setEnabled(has_video)
        a["delete"].setEnabled(s.selection is not None)
        a["accept_event"].setEnabled(s.selected_event is not None)

    def _show_error(self, text: str, details: str) -> None:
        self.statusBar().showMessage(text.splitlines()[0], 8000)
        errors.show_warning(self, text, details)

    # --- user actions that need a dialog ----------------------------------------------------------

    def _visible_frames(self) -> tuple[int, int]:
        lo, hi = self.timeline.visible_range()
        return max(0, int(lo)), min(self.state.frame_count, int(hi) + 1)

    def _current_ids(self) -> list[int]:
        return [] if self.state.video is None else [self.state.video.id]

    def add_videos(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self,
            "Add videos",
            "",
            "Videos (*.mp4 *.avi *.mov *.mkv *.m4v *.webm *.mpg *.mpeg *.wmv *.ts);;All (*)",
        )
        if files:
            self.state.add_videos(files)

    def open_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Open or create a project",
            "",
            "Projects (*.sqlite3 *.sqlite *.db);;All (*)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if path:
            self.switch_project(path)

    def open_project_url(self) -> None:
        url, ok = QInputDialog.getText(
            self,
            "Open project",
            "SQLAlchemy URL or path, e.g. sqlite:///labels.sqlite3:",
            text=self.state.store.url,
        )
        if ok and url.strip():
            self.switch_project(url.strip())

    def switch_project(self, location: str) -> None:
        self.playback.pause()
        self.state.open_project(location)
        self._on_video()

    def add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add every video in a folder")
        if folder:
            self.state.add_videos([folder])

    def import_labels(self) -> ImportDialog | None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Import labels", "", "Labels (*.csv *.tsv *.json *.eaf *.boris *.txt);;All (*)"
        )
        if not files:
            return None
        dialog = ImportDialog(self.state.store, [Path(f) for f in files], self)
        if dialog.exec() and dialog.result is not None:
            self.state.labels_imported(dialog.result.summary())
        return dialog

    def export(self, whole_project: bool) -> None:
        filters = ";;".join(f"{name} (*{w.suffix})" for name, w in WRITERS.items())
        out, chosen = QFileDialog.getSaveFileName(self, "Export labels", "", filters)
        if out:
            name = chosen.split(" ", 1)[0] if chosen else next(iter(WRITERS))
            self.state.export_labels(name, out, whole_project)

    def go_to(self) -> None:
        text, ok = QInputDialog.getText(self, "Go to", "Frame number, or time as seconds / mm:ss.sss:")
        if not ok or not text.strip():
            return
        text = text.strip()
        if text.isdigit():
            self.state.set_frame(int(text))
            return
        try:
            parts = [float(p) for p in text.split(":")]
        except ValueError:
            self.statusBar().showMessage(f"“{text}” is neither a frame number nor a time.", 8000)
            return
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + part
        self.state.set_frame(self.state.frame_at(seconds))

    def set_jump_sizes(self) -> None:
        frames, ok = QInputDialog.getInt(self, "Jump sizes", "Jump by N frames:", self.jump_frames, 1, 100000)
        if ok:
            self.settings.setValue("jump/frames", frames)
        seconds, ok = QInputDialog.getDouble(
            self, "Jump sizes", "Jump by N seconds:", self.jump_seconds, 0.1, 3600.0, 1
        )
        if ok:
            self.settings.setValue("jump/seconds", seconds)

    def fine_tune(self) -> FineTuneDialog:
        """Open the Fine-tune dialog (window-modal, not blocking); Start runs it in a worker."""
        dialog = FineTuneDialog(self.state.learning, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.state.learning.start_training(dialog.config()))
        dialog.open()
        self.fine_tune_dialog = dialog
        return dialog

    def show_classes(self) -> None:
        ClassesDialog(self.state, self).exec()

    def show_shortcuts(self) -> ShortcutsDialog:
        keys = [(key, cls.name) for key, cls in class_keys(self.state.classes)]
        dialog = ShortcutsDialog(action_table.shortcut_rows(keys), self)
        dialog.show()
        return dialog

    def shutdown(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        self.playback.pause()
        self.state.jobs.shutdown()
        self.player.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
