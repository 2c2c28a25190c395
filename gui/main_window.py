"""The main window: builds the widgets and wires actions to the hub. It computes nothing."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths, Qt
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDockWidget,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.analysis.backends.base import PRECISIONS
from core.interchange.formats import WRITERS
from core.store.work import WorkState
from gui import actions as action_table
from gui import file_dialogs
from gui.dialogs import errors
from gui.dialogs.agreement import AgreementDialog
from gui.dialogs.classes import ClassesDialog
from gui.dialogs.cluster import ClusterDialog
from gui.dialogs.fine_tune import FineTuneDialog
from gui.dialogs.import_labels import ImportDialog
from gui.dialogs.shortcuts import ShortcutsDialog
from gui.dialogs.tracks import TracksDialog
from gui.keyboard import edit_on_click
from gui.playback import Playback
from gui.state import AppModels
from gui.state.learning import TRAIN_JOB
from gui.state.runner import ANALYSE_JOB
from gui.widgets.analysis_panel import AnalysisPanel
from gui.widgets.class_palette import ClassPalette, class_keys
from gui.widgets.models_panel import ModelsPanel
from gui.widgets.player import Player
from gui.widgets.postprocess_panel import PostprocessPanel
from gui.widgets.review_panel import ReviewPanel
from gui.widgets.timeline import Timeline
from gui.widgets.training_panel import TrainingPanel
from gui.widgets.transport_icons import boundary_icon
from gui.widgets.video_list import VideoList

log = logging.getLogger(__name__)

TITLE = "C3D Labeller"
SIDE_WIDTH = 300  # one column of docks: the video and the timeline get the rest
STATUS_MS = 6000  # a hint fades after this, and sooner when the user moves on
LAYOUT_VERSION = 2  # bump when the docks change, so an old saved layout is not restored onto them


class MainWindow(QMainWindow):
    def __init__(self, models: AppModels, settings: QSettings | None = None) -> None:
        super().__init__()
        self.app_models = models
        self.project, self.current, self.runner = models.project, models.current, models.runner
        self.learning, self.team = models.learning, models.team
        self.settings = settings or QSettings()
        self.playback = Playback(self.current, self)
        self._shut_down = False
        self.setWindowTitle(TITLE)

        self.player = Player(self.current, self.playback)
        self.timeline = Timeline(self.current, self.project)
        self.palette_bar = ClassPalette(self.project)
        self.videos = VideoList(self.project, self.current, self.runner)
        self.postprocess = PostprocessPanel(self.current)
        self.analysis = AnalysisPanel(self.runner)
        self.training = TrainingPanel(self.learning)
        self.models = ModelsPanel(self.learning)
        self.review = ReviewPanel(self.learning)
        self.welcome = self._build_welcome()

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.player)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.setSpacing(0)
        lower_layout.addWidget(self.palette_bar)
        lower_layout.addWidget(self.timeline, 1)
        splitter.addWidget(lower)
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
        right = Qt.DockWidgetArea.RightDockWidgetArea
        videos_dock = self._dock("Videos", self.videos, right)
        self.tabifyDockWidget(videos_dock, self._dock("Post-processing", self.postprocess, right))
        videos_dock.raise_()
        models_dock = self._dock("Model versions", self.models, right)
        self.tabifyDockWidget(models_dock, self._dock("Review queue", self.review, right))
        self.tabifyDockWidget(models_dock, self._dock("Training", self.training, right))
        models_dock.raise_()
        self.resizeDocks([videos_dock], [SIDE_WIDTH], Qt.Orientation.Horizontal)
        self.resizeDocks([videos_dock, models_dock], [360, 340], Qt.Orientation.Vertical)

        self.actions_by_name = action_table.build_actions(self, self._slots())
        self._build_menus()
        self._build_transport()
        self._class_actions: list[QAction] = []

        self.device_label = QLabel()
        self.model_label = QLabel()
        for label in (self.device_label, self.model_label):
            label.setMinimumWidth(60)  # may be cut on a small screen rather than widen the window
            self.statusBar().addPermanentWidget(label)

        for source in (self.project, self.current, self.runner):
            source.error.connect(self._show_error)
            source.message.connect(self._show_message)
        # A hint about the last video, or one the last edit answered, is stale once the user moves on.
        self.current.video_changed.connect(self.statusBar().clearMessage)
        self.current.labels_changed.connect(self.statusBar().clearMessage)
        self.current.video_changed.connect(self._on_video)
        self.project.videos_changed.connect(self._on_videos)
        self.project.model_changed.connect(self._on_model)
        self.runner.device_changed.connect(self._on_model)
        self.project.classes_changed.connect(self._on_classes)
        self.project.project_loaded.connect(self._restore_lanes)
        self.timeline.collapsed_changed.connect(self._remember_lanes)
        self._restore_lanes()
        self.current.selection_changed.connect(self._update_actions)
        self.runner.jobs.changed.connect(self._update_actions)
        self.project.undo_group.canUndoChanged.connect(self._update_actions)
        self.project.undo_group.canRedoChanged.connect(self._update_actions)
        self.playback.playing_changed.connect(self._on_playing)
        for box in self.findChildren(QAbstractSpinBox):
            edit_on_click(box, self.focus_player)
        self._fit_to_screen(1600, 1000)
        self._restore_layout()
        self.player.speed.setValue(float(self.settings.value("playback/speed", 1.0)))
        self.player.speed.valueChanged.connect(lambda v: self.settings.setValue("playback/speed", v))
        self.current.video_changed.connect(self._remember_video)
        self.current.remembered_video = self._remembered_video
        models.load()
        self._on_video()
        self.focus_player()

    # --- construction ----------------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
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
        self.demo_button.clicked.connect(lambda: self.project.open_demo())
        return page

    def _slots(self) -> dict[str, Callable[[], object]]:
        s, c, p, t = self.project, self.current, self.playback, self.timeline
        return {
            "add_videos": self.add_videos,
            "add_folder": self.add_folder,
            "open_project": self.open_project,
            "open_project_url": self.open_project_url,
            "open_demo": lambda: s.open_demo(),
            "next_to_label": self.team.next_to_label,
            "mark_labelled": lambda: self.team.mark(c.video.id if c.video else None, WorkState.LABELLED),
            "mark_reviewed_video": lambda: self.team.mark(
                c.video.id if c.video else None, WorkState.REVIEWED
            ),
            "agreement": self.show_agreement,
            "annotator": self.set_annotator,
            "import_labels": self.import_labels,
            "export_video": lambda: self.export(False),
            "export_project": lambda: self.export(True),
            "quit": self.close,
            "undo": s.undo,
            "redo": s.redo,
            "in_point": c.set_in_point,
            "out_point": c.set_out_point,
            "delete": c.delete_selection,
            "split": c.split_at_playhead,
            "merge": c.merge_selection_with_next,
            "notes": t.edit_selected_notes,
            "select_none": self.select_none,
            "accept_event": c.accept_selected_event,
            "accept_visible": lambda: c.accept_in_range(*self._visible_frames()),
            "fill_visible": lambda: c.accept_in_range(*self._visible_frames(), fill_unlabelled_only=True),
            "reviewed": lambda: c.mark_reviewed(*self._visible_frames()),
            "classes": self.show_classes,
            "tracks": self.show_tracks,
            "play": p.toggle,
            "step_back": lambda: c.step(-1),
            "step_forward": lambda: c.step(1),
            "jump_back": lambda: c.step(-self.jump_frames),
            "jump_forward": lambda: c.step(self.jump_frames),
            "jump_back_s": lambda: c.jump_seconds(-self.jump_seconds),
            "jump_forward_s": lambda: c.jump_seconds(self.jump_seconds),
            "prev_boundary": lambda: c.go_to_boundary(False),
            "next_boundary": lambda: c.go_to_boundary(True),
            "first": lambda: c.set_frame(0),
            "last": lambda: c.set_frame(c.frame_count - 1),
            "go_to": self.go_to,
            "slower": lambda: self.player.speed.setValue(self.player.speed.value() / 1.5),
            "faster": lambda: self.player.speed.setValue(self.player.speed.value() * 1.5),
            "jump_sizes": self.set_jump_sizes,
            "zoom_in": lambda: t.zoom(0.5),
            "zoom_out": lambda: t.zoom(2.0),
            "zoom_all": lambda: t.set_visible_range(0, c.frame_count),
            "next_track": lambda: s.step_track(1),
            "previous_track": lambda: s.step_track(-1),
            "analyse_selected": lambda: c.analyse(self.videos.selected_ids() or self._current_ids()),
            "analyse_all": lambda: c.analyse([st.video.id for st in s.statuses if not st.missing]),
            "analyse_cluster": self.analyse_on_cluster,
            "cancel_analysis": self.runner.cancel_analysis,
            "next_review": self.learning.next_to_review,
            "fine_tune": self.fine_tune,
            "cancel_training": self.learning.cancel_training,
            "import_weights": self.models.import_file,
            "clear_cache": self.learning.clear_feature_cache,
            "shortcuts": self.show_shortcuts,
        }

    def _build_menus(self) -> None:
        menus = {name: self.menuBar().addMenu(f"&{name}") for name in action_table.MENUS}
        for spec in action_table.SPECS:
            menus[spec.menu].addAction(self.actions_by_name[spec.name])
        self.class_menu = menus["Edit"].addMenu("Label selection as")
        panels = menus["View"].addMenu("Panels")  # a closed dock comes back from here
        for dock in self.findChildren(QDockWidget):
            panels.addAction(dock.toggleViewAction())
        self._build_precision_menu(menus["Analyse"])

    def _build_precision_menu(self, analyse: QMenu) -> None:
        """auto: int8 on the CPU once verified against fp32 (prepared in the background)."""
        menu = analyse.addMenu("Precision")
        group = QActionGroup(self)
        chosen = str(self.settings.value("analysis/precision", "auto"))
        self.runner.precision = chosen if chosen in PRECISIONS else "auto"
        texts = {"auto": "Auto (int8 once verified)", "fp32": "fp32", "int8": "int8 (verify first)"}
        self.precision_actions: dict[str, QAction] = {}
        for name in PRECISIONS:
            action = menu.addAction(texts[name])
            action.setCheckable(True)
            action.setChecked(name == self.runner.precision)
            action.triggered.connect(lambda _checked=False, n=name: self._set_precision(n))
            group.addAction(action)
            self.precision_actions[name] = action

    def _set_precision(self, name: str) -> None:
        self.runner.precision = name
        self.settings.setValue("analysis/precision", name)

    def _build_transport(self) -> None:
        """The style's own media icons (a font may lack ⏸ or ⇤), on buttons that never change size."""
        sp = QStyle.StandardPixmap
        style = self.style()
        for name, icon in (
            ("first", style.standardIcon(sp.SP_MediaSkipBackward)),
            ("prev_boundary", boundary_icon(self.palette(), forward=False)),
            ("jump_back", style.standardIcon(sp.SP_MediaSeekBackward)),
            ("step_back", style.standardIcon(sp.SP_ArrowLeft)),
            ("play", style.standardIcon(sp.SP_MediaPlay)),
            ("step_forward", style.standardIcon(sp.SP_ArrowRight)),
            ("jump_forward", style.standardIcon(sp.SP_MediaSeekForward)),
            ("next_boundary", boundary_icon(self.palette(), forward=True)),
            ("last", style.standardIcon(sp.SP_MediaSkipForward)),
        ):
            action = self.actions_by_name[name]
            action.setIcon(icon)
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setObjectName(f"button_{name}")
            button.setFixedSize(button.sizeHint())
            self.player.add_button(button)
        self.play_button = self.player.findChild(QToolButton, "button_play")

    def focus_player(self) -> None:
        """The keyboard's home: no widget there claims a key the actions use."""
        self.player.view.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def select_none(self) -> None:
        self.current.clear_selection()
        self.focus_player()

    # --- settings -------------------------------------------------------------------------------

    @property
    def jump_frames(self) -> int:
        return int(self.settings.value("jump/frames", 10))

    @property
    def jump_seconds(self) -> float:
        return float(self.settings.value("jump/seconds", 5.0))

    # --- state → window ---------------------------------------------------------------------------

    def _on_video(self) -> None:
        video = self.current.video
        has_any = bool(self.project.statuses) or video is not None
        self.pages.setCurrentIndex(1 if has_any else 0)
        name = "" if video is None else f" — {Path(video.path).name}"
        self.setWindowTitle(f"{TITLE}{name}")
        self._update_actions()

    def _on_videos(self) -> None:
        if self.project.statuses and self.pages.currentIndex() == 0:
            self.pages.setCurrentIndex(1)
        self._update_actions()

    def _on_model(self) -> None:
        self.device_label.setText(self.runner.device_label)
        self.device_label.setToolTip(self.runner.device_label)
        model = self.project.model
        if model is None:
            self.model_label.setText("model: none yet")
            self.model_label.setToolTip(
                "An untrained model is made on the first Analyse; fine-tune it on your labels."
            )
        elif model.untrained:
            self.model_label.setText(f"<b style='color:#d00000'>model #{model.id}: UNTRAINED</b>")
            self.model_label.setToolTip(
                f"{model.name}: its predictions are meaningless until it is fine-tuned."
            )
        else:
            self.model_label.setText(f"model #{model.id} {model.name}")
            self.model_label.setToolTip("")

    def _on_classes(self) -> None:
        for action in self._class_actions:
            self.removeAction(action)
        self.class_menu.clear()
        self._class_actions = []
        for key, cls in class_keys(self.project.classes):
            marker = "● " if cls.id == self.project.current_class_id else ""
            action = QAction(f"{marker}{cls.name}", self)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(lambda _checked=False, c=cls.id: self.current.relabel_selection(c))
            self.addAction(action)
            self.class_menu.addAction(action)
            self._class_actions.append(action)

    def _on_playing(self, playing: bool) -> None:
        pixmap = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.actions_by_name["play"].setIcon(self.style().standardIcon(pixmap))

    def _update_actions(self) -> None:
        if self._shut_down:
            return
        a, s, c, jobs = self.actions_by_name, self.project, self.current, self.runner.jobs
        has_video = c.video is not None
        analysing = jobs.is_running(ANALYSE_JOB)
        a["undo"].setEnabled(s.undo_group.canUndo())
        a["redo"].setEnabled(s.undo_group.canRedo())
        a["analyse_selected"].setEnabled(not analysing and bool(s.statuses))
        a["analyse_all"].setEnabled(not analysing and bool(s.statuses))
        a["analyse_cluster"].setEnabled(not analysing and bool(s.statuses))
        a["cancel_analysis"].setEnabled(analysing)
        training = jobs.is_running(TRAIN_JOB)
        a["fine_tune"].setEnabled(not training and not analysing)
        a["cancel_training"].setEnabled(training)
        a["clear_cache"].setEnabled(not training and not analysing)
        a["next_review"].setEnabled(has_video)
        if training:  # analysis would race the run for the same features and the active model
            a["analyse_selected"].setEnabled(False)
            a["analyse_all"].setEnabled(False)
            a["analyse_cluster"].setEnabled(False)
        a["open_demo"].setEnabled(not jobs.is_running("demo"))
        self.demo_button.setEnabled(not jobs.is_running("demo"))
        for name in ("export_video", "accept_visible", "fill_visible", "reviewed", "split", "merge", "go_to"):
            a[name].setEnabled(has_video)
        a["export_project"].setEnabled(bool(self.project.statuses))
        a["delete"].setEnabled(c.selection is not None)
        a["accept_event"].setEnabled(c.selected_event is not None)

    def _show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_MS)

    def _show_error(self, text: str, details: str) -> None:
        self.statusBar().showMessage(text.splitlines()[0], 8000)
        errors.show_warning(self, text, details)

    # --- user actions that need a dialog ----------------------------------------------------------

    def _visible_frames(self) -> tuple[int, int]:
        lo, hi = self.timeline.visible_range()
        return max(0, int(lo)), min(self.current.frame_count, int(hi) + 1)

    def _current_ids(self) -> list[int]:
        return [] if self.current.video is None else [self.current.video.id]

    def add_videos(self) -> None:
        files = file_dialogs.open_files(
            self,
            "Add videos",
            "",
            "Videos (*.mp4 *.avi *.mov *.mkv *.m4v *.webm *.mpg *.mpeg *.wmv *.ts);;All (*)",
        )
        if files:
            self.project.add_videos(files)

    def open_project(self) -> None:
        path, _ = file_dialogs.save_file(
            self,
            "Open or create a project",
            "",
            "Projects (*.sqlite3 *.sqlite *.db);;All (*)",
            confirm_overwrite=False,
            hide_live_databases=False,  # switching back to a project opened earlier
        )
        if path:
            self.switch_project(path)

    def open_project_url(self) -> None:
        url, ok = QInputDialog.getText(
            self,
            "Open project",
            "SQLAlchemy URL or path, e.g. sqlite:///labels.sqlite3:",
            text=self.project.project.url,
        )
        if ok and url.strip():
            self.switch_project(url.strip())

    def set_annotator(self) -> None:
        name, ok = QInputDialog.getText(
            self, "Annotator", "Your name, as your edits are signed:", text=self.project.project.annotator
        )
        if ok and name.strip():
            self.team.set_annotator(name.strip())
            self.settings.setValue("team/annotator", name.strip())

    def switch_project(self, location: str) -> None:
        self.playback.pause()
        self.project.open_project(location)
        self._on_video()

    def add_folder(self) -> None:
        folder = file_dialogs.existing_folder(self, "Add every video in a folder")
        if folder:
            self.project.add_videos([folder])

    def import_labels(self) -> ImportDialog | None:
        files = file_dialogs.open_files(
            self, "Import labels", "", "Labels (*.csv *.tsv *.json *.eaf *.boris *.txt);;All (*)"
        )
        if not files:
            return None
        dialog = ImportDialog(self.project.store, [Path(f) for f in files], self, self.team.annotator)
        if dialog.exec() and dialog.result is not None:
            self.project.labels_imported(dialog.result.summary())
        return dialog

    def export(self, whole_project: bool) -> None:
        """Export starts in the folder of the last export, else the user's documents; never in
        the working directory or the store's folder."""
        also = {"boris": " *.boris"}  # a .boris name writes a BORIS project instead of its table
        filters = ";;".join(f"{name} (*{w.suffix}{also.get(name, '')})" for name, w in WRITERS.items())
        documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        folder = str(self.settings.value("export/folder", "") or documents or Path.home())
        out, chosen = file_dialogs.save_file(self, "Export labels", folder, filters)
        if out:
            self.settings.setValue("export/folder", str(Path(out).parent))
            name = chosen.split(" ", 1)[0] if chosen else next(iter(WRITERS))
            self.project.export_labels(name, out, None if whole_project else self._current_ids())

    def go_to(self) -> None:
        text, ok = QInputDialog.getText(self, "Go to", "Frame number, or time as seconds / mm:ss.sss:")
        if not ok or not text.strip():
            return
        text = text.strip()
        if text.isdigit():
            self.current.set_frame(int(text))
            return
        try:
            parts = [float(p) for p in text.split(":")]
        except ValueError:
            self.statusBar().showMessage(f"“{text}” is neither a frame number nor a time.", 8000)
            return
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + part
        self.current.set_frame(self.current.frame_at(seconds))

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
        dialog = FineTuneDialog(self.learning, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.learning.start_training(dialog.config()))
        dialog.open()
        self.fine_tune_dialog = dialog
        return dialog

    def analyse_on_cluster(self) -> ClusterDialog:
        """Analyse › Analyse on a cluster… (window-modal): the selected videos, else all of them."""
        ids = self.videos.selected_ids() or [st.video.id for st in self.project.statuses if not st.missing]
        dialog = ClusterDialog(self.settings, len(ids), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(
            lambda: self.runner.analyse_on_cluster(self.project.store, ids, dialog.cluster_settings())
        )
        dialog.open()
        self.cluster_dialog = dialog
        return dialog

    def show_classes(self) -> None:
        ClassesDialog(self.project, self).exec()

    def show_tracks(self) -> None:
        TracksDialog(self.project, self).exec()

    def show_agreement(self) -> AgreementDialog:
        video = self.current.video
        dialog = AgreementDialog(self.team, video.id if video is not None else None, self)
        dialog.show()
        self.agreement_dialog = dialog
        return dialog

    def show_shortcuts(self) -> ShortcutsDialog:
        keys = [(key, cls.name) for key, cls in class_keys(self.project.classes)]
        dialog = ShortcutsDialog(action_table.shortcut_rows(keys), self)
        dialog.show()
        dialog.fit_columns()
        return dialog

    # --- what a restart brings back -----------------------------------------------------------

    def _fit_to_screen(self, width: int, height: int) -> None:
        screen = self.screen()
        if screen is not None:
            room = screen.availableGeometry()
            width, height = min(width, room.width()), min(height, room.height())
        self.resize(width, height)

    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        layout = self.settings.value("window/state")
        if layout is not None:
            self.restoreState(layout, LAYOUT_VERSION)

    def _save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))

    def _project_key(self) -> str:
        """Settings key of the open project (its URL holds characters QSettings treats as paths)."""
        return "projects/" + hashlib.sha1(self.project.store.url.encode()).hexdigest()[:16]

    def _remember_lanes(self) -> None:
        """Which lane groups are collapsed, per project (the order is the project's own)."""
        ids = ",".join(str(i) for i in sorted(self.timeline.collapsed))
        self.settings.setValue(f"{self._project_key()}/collapsed_tracks", ids)

    def _restore_lanes(self) -> None:
        value = str(self.settings.value(f"{self._project_key()}/collapsed_tracks", "") or "")
        self.timeline.set_collapsed({int(v) for v in value.split(",") if v.strip().isdigit()})

    def _remember_video(self) -> None:
        if self.current.video is not None:
            self.settings.setValue(f"{self._project_key()}/video", self.current.video.id)

    def _remembered_video(self) -> int | None:
        value = self.settings.value(f"{self._project_key()}/video")
        try:
            return None if value is None else int(value)
        except (TypeError, ValueError):
            return None

    def shutdown(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        self._save_layout()
        self.playback.pause()
        self.app_models.shutdown()
        self.player.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
