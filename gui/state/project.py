"""The open project as the GUI holds it: its classes, videos and model, and its undo history.

Edits reach the store only through ``apply`` (one core action, one unit of work, one undo
command); what is shown here is refreshed by the bridge's events, never by the code that
made an edit. Undo and redo run in the store first and move the stack only when it
succeeded, so a failed undo leaves the history where it was and says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoGroup, QUndoStack

from core.errors import AppError
from core.labels.overview import VideoStatus, video_status, video_statuses
from core.paths import resolve_db_url
from core.project import Project, Undoable, actions, open_project
from core.store import Store
from core.store.records import LabelClass, ModelVersion, Track, TrackKind, Video
from core.store.unit import KEEP, Keep
from gui import jobs
from gui.state.bridge import EventBridge
from gui.state.runner import JobRunner

log = logging.getLogger(__name__)

UNDO_LIMIT = 1000
ADD_JOB = "add videos"
DEMO_JOB = "demo"
T = TypeVar("T")


class ProjectCommand(QUndoCommand):
    """An entry of the undo stack; the store work is done by ``ProjectState`` before it moves."""

    def __init__(self, change: Undoable) -> None:
        super().__init__(change.text)
        self.change = change

    def redo(self) -> None:  # the stack calls this on push and on redo: the store already changed
        pass

    def undo(self) -> None:
        pass


class ProjectState(QObject):
    project_changed = Signal()  # another project is open: everything shown is stale
    project_loaded = Signal()  # … and its classes, videos and model have been read
    classes_changed = Signal()  # the classes, or the current class
    videos_changed = Signal()  # ``statuses``
    model_changed = Signal()  # the active model
    history_moved = Signal()  # an undo or redo changed the store
    open_requested = Signal(int, bool)  # a job made this video; open it even if another is open?
    error = Signal(str, str)  # message, details
    message = Signal(str)

    def __init__(
        self,
        project: Project,
        bridge: EventBridge,
        runner: JobRunner,
        reserved_keys: Mapping[str, str] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge, self.runner = bridge, runner
        self.reserved_keys: Mapping[str, str] = reserved_keys or {}
        self.undo_group = QUndoGroup(self)
        # One undo stack per project, kept (with its open project) for the session, so switching
        # projects and back keeps each project's history; the group follows the active one.
        self._projects: dict[str, tuple[Project, QUndoStack]] = {}
        self.project = project
        self.undo_stack = self._project_stack(project)
        bridge.attach(project)
        project.listen_to_others()  # colleagues' edits arrive as events, like our own
        self.statuses: list[VideoStatus] = []
        self.classes: list[LabelClass] = []
        self.tracks: list[Track] = []
        self.all_classes: list[LabelClass] = []  # every track's, for drawing the other tracks
        self.active_track_id: int | None = None  # class keys and edits act on this track
        self.current_class_id: int | None = None
        self._class_chosen = False  # until the user picks one, new segments take the first event class
        self.model: ModelVersion | None = None
        self._stale_videos: set[int] = set()
        self._all_stale = False
        self._status_timer = QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.setInterval(400)  # one query burst per burst of events, not per event
        self._status_timer.timeout.connect(self._refresh_stale_statuses)
        self._videos_timer = QTimer(self)  # at the next turn of the event loop: a folder of added
        self._videos_timer.setSingleShot(True)  # videos is one refresh, not one per video
        self._videos_timer.setInterval(0)
        self._videos_timer.timeout.connect(self.refresh_videos)
        bridge.classes_changed.connect(self.refresh_classes)
        bridge.models_changed.connect(self._on_models)
        bridge.videos_changed.connect(self._on_videos)
        bridge.segments_changed.connect(lambda video_id, _a, _b: self._stale(video_id))
        bridge.predictions_changed.connect(self._stale)
        runner.analysis_finished.connect(self.flush_statuses)

    @property
    def store(self) -> Store:
        return self.project.store

    # --- project ----------------------------------------------------------------------------------

    def load(self) -> None:
        self.refresh_classes()
        self.refresh_model()
        self.refresh_videos()

    def open_project(self, location: str) -> bool:
        """Switch to the store at a SQLAlchemy URL or SQLite path (a new file makes a new project).

        Running jobs are stopped first. The project left behind stays open with its undo stack,
        so switching back later finds its history intact.
        """
        url = resolve_db_url(location)
        if url == self.project.url:
            return True
        self.runner.shutdown()
        known = self._projects.get(url)
        project = known[0] if known is not None else self.guard(lambda: open_project(url))
        if project is None:
            return False
        self.project = project
        self.undo_stack = self._project_stack(project)
        self.bridge.attach(project)
        project.listen_to_others()
        self.current_class_id, self._class_chosen = None, False
        self.statuses, self.classes, self.model = [], [], None
        self.tracks, self.active_track_id = [], None
        self.project_changed.emit()
        self.load()
        self.project_loaded.emit()
        if project.store.recovered_from is not None:
            self.message.emit(
                f"The database could not be read; it was moved to {project.store.recovered_from}."
            )
        else:
            self.message.emit(f"Opened project {url}.")
        return True

    def stop_listening(self) -> None:
        """No more events from other apps (at shutdown, before the views go away)."""
        for project, _stack in self._projects.values():
            project.stop_listening()

    def close_all(self) -> None:
        """Close every project this session opened (at exit)."""
        self.bridge.detach()
        for project, _stack in self._projects.values():
            project.close()

    def _project_stack(self, project: Project) -> QUndoStack:
        if project.url not in self._projects:
            stack = QUndoStack(self.undo_group)
            stack.setUndoLimit(UNDO_LIMIT)
            self.undo_group.addStack(stack)
            self._projects[project.url] = (project, stack)
        stack = self._projects[project.url][1]
        self.undo_group.setActiveStack(stack)
        return stack

    # --- what is shown ----------------------------------------------------------------------------

    def refresh_videos(self) -> None:
        self._videos_timer.stop()
        self._stale_videos.clear()
        self._all_stale = False
        self.statuses = self.guard(lambda: video_statuses(self.store)) or []
        self.videos_changed.emit()

    def refresh_classes(self) -> None:
        self.tracks = self.guard(self.store.tracks.list) or []
        if self.active_track_id not in {t.id for t in self.tracks}:
            self.active_track_id = self.tracks[0].id if self.tracks else None
        track_id = self.active_track_id
        self.classes = self.guard(lambda: self.store.classes.list(track_id)) or []
        self.all_classes = (self.guard(self.store.classes.list_all) or []) if len(self.tracks) > 1 else []
        current = self.class_by_id(self.current_class_id) if self.current_class_id is not None else None
        if current is None or (current.name == "background" and not self._class_chosen):
            choices = [c for c in self.classes if c.name != "background"] or self.classes
            self.current_class_id = choices[0].id if choices else None
        self.classes_changed.emit()

    def refresh_model(self) -> None:
        self.model = self.guard(self.store.models.active)
        self.model_changed.emit()

    @property
    def active_track(self) -> Track | None:
        return next((t for t in self.tracks if t.id == self.active_track_id), None)

    def set_active_track(self, track_id: int) -> None:
        if track_id != self.active_track_id and any(t.id == track_id for t in self.tracks):
            at = [t.id for t in self.tracks].index(track_id)
            now = [t.id for t in self.tracks].index(self.active_track_id) if self.active_track_id else 0
            self.step_track(at - now)

    def step_track(self, delta: int) -> None:
        """Make the next (or previous) track active: its classes take the class keys."""
        if len(self.tracks) < 2:
            return
        ids = [t.id for t in self.tracks]
        at = ids.index(self.active_track_id) if self.active_track_id in ids else 0
        self.active_track_id = ids[(at + delta) % len(ids)]
        self.current_class_id, self._class_chosen = None, False
        self.refresh_classes()
        track = self.active_track
        if track is not None:
            subject = f" ({track.subject})" if track.subject else ""
            self.message.emit(f"Track {track.name}{subject}: class keys label it.")

    def class_by_id(self, class_id: int | None) -> LabelClass | None:
        return next((c for c in self.classes if c.id == class_id), None)

    def set_current_class(self, class_id: int) -> None:
        self.current_class_id, self._class_chosen = class_id, True
        self.classes_changed.emit()

    def _on_models(self) -> None:
        self.refresh_model()
        self._all_stale = True  # "analysed with" depends on the active model
        self._status_timer.start()

    def _on_videos(self, _video_id: object) -> None:
        self._videos_timer.start()

    def _stale(self, video_id: int) -> None:
        self._stale_videos.add(video_id)
        if not self._status_timer.isActive():
            self._status_timer.start()

    def flush_statuses(self) -> None:
        if self._status_timer.isActive():
            self._status_timer.stop()
            self._refresh_stale_statuses()

    def _refresh_stale_statuses(self) -> None:
        """Recompute only the lines of the videos an event named (a few small queries)."""
        if self._all_stale:
            self.refresh_videos()
            return
        stale, self._stale_videos = self._stale_videos, set()
        if not stale:
            return
        active = self.model

        def update() -> list[VideoStatus]:
            return [
                video_status(self.store, self.store.videos.get(s.video.id), active)
                if s.video.id in stale
                else s
                for s in self.statuses
            ]

        statuses = self.guard(update)
        if statuses is not None:
            self.statuses = statuses
            self.videos_changed.emit()

    # --- edits ------------------------------------------------------------------------------------

    def apply(self, action: Callable[[], Undoable | None]) -> bool:
        """Run one core action (one unit of work) and make it one undo step; False if it failed."""
        try:
            change = action()
        except AppError as exc:
            log.warning("%s", exc)
            self.error.emit(str(exc), "")
            return False
        if change is not None:
            self.undo_stack.push(ProjectCommand(change))
        return True

    def undo(self) -> bool:
        return self._step(back=True)

    def redo(self) -> bool:
        return self._step(back=False)

    def _step(self, back: bool) -> bool:
        stack = self.undo_stack
        if not (stack.canUndo() if back else stack.canRedo()):
            return False
        command = stack.command(stack.index() - 1 if back else stack.index())
        if not isinstance(command, ProjectCommand):
            return False
        verb = "undo" if back else "redo"
        try:
            (self.project.undo if back else self.project.redo)(command.change)
        except AppError as exc:  # e.g. its class was deleted since: the stack stays where it was
            log.warning("Could not %s %s: %s", verb, command.text(), exc)
            self.error.emit(f"Could not {verb} “{command.text()}”: {exc}", "")
            return False
        if back:
            stack.undo()
        else:
            stack.redo()
        self.history_moved.emit()
        return True

    # --- classes ----------------------------------------------------------------------------------

    def add_class(self, name: str, color: str | None = None, shortcut: str | None = None) -> None:
        track_id = self.active_track_id  # the class manager edits the active track's classes
        self.apply(
            lambda: actions.add_class(self.project, name, color, shortcut, self.reserved_keys, track_id)
        )

    def rename_class(self, class_id: int, name: str) -> None:
        self.apply(lambda: actions.rename_class(self.project, class_id, name))

    def recolour_class(self, class_id: int, color: str) -> None:
        self.apply(lambda: actions.recolour_class(self.project, class_id, color))

    def set_class_shortcut(self, class_id: int, shortcut: str | None) -> None:
        self.apply(lambda: actions.set_class_shortcut(self.project, class_id, shortcut, self.reserved_keys))

    def delete_class(self, class_id: int, reassign_to: int | None) -> None:
        self.apply(lambda: actions.delete_class(self.project, class_id, reassign_to))

    def set_class_modifiers(self, class_id: int, modifiers: list[str]) -> bool:
        return self.apply(lambda: actions.set_class_modifiers(self.project, class_id, modifiers))

    # --- tracks -----------------------------------------------------------------------------------

    def add_track(
        self, name: str, point: bool = False, subject: str | None = None, like: int | None = None
    ) -> bool:
        kind = TrackKind.POINT if point else TrackKind.STATE
        return self.apply(lambda: actions.add_track(self.project, name, kind, subject, like))

    def delete_track(self, track_id: int) -> bool:
        return self.apply(lambda: actions.remove_track(self.project, track_id))

    def change_track(self, track_id: int, name: str | None = None, subject: str | Keep | None = KEEP) -> bool:
        return self.apply(lambda: actions.change_track(self.project, track_id, name, subject))

    def move_track(self, track_id: int, delta: int) -> bool:
        """Move a track's lanes up (negative) or down; the order is the project's, one undo step."""
        return self.apply(lambda: actions.move_track(self.project, track_id, delta))

    # --- videos -----------------------------------------------------------------------------------

    def add_videos(self, items: list[str]) -> None:
        def done(result: object) -> None:
            added, problems = result if isinstance(result, tuple) else ([], [])
            self.message.emit(f"Added {len(added)} video(s).")
            if problems:
                self.error.emit("Some files could not be added:\n" + "\n".join(problems), "")
            if added:
                self.open_requested.emit(added[0].id, False)

        store = self.store
        self.runner.start_job(ADD_JOB, lambda ctx: jobs.add_videos(store, items, ctx), done)

    def open_demo(self, seconds: float | None = None) -> None:
        length = jobs.DEMO_SECONDS if seconds is None else seconds

        def done(video: object) -> None:
            if isinstance(video, Video):
                self.open_requested.emit(video.id, True)
                self.message.emit("Demo ready: press Analyse to run the model, then review its events.")

        self.message.emit("Generating the demo video…")
        store = self.store
        self.runner.start_job(DEMO_JOB, lambda ctx: jobs.open_demo(store, ctx, length), done)

    def relink(self, video_id: int, path: str) -> None:
        self.guard(lambda: self.store.videos.relink(video_id, path))

    # --- import and export ------------------------------------------------------------------------

    def export_labels(self, format_name: str, out: str, video_ids: list[int] | None) -> bool:
        """Write the labels of ``video_ids`` (every video when None) in ``format_name``."""
        from core.interchange.export import dropped_notes, export_labels, project_labels
        from core.interchange.formats import format_for

        store = self.store
        notes: list[str] = []

        def write() -> int:
            fmt = format_for(format_name)
            videos = store.videos.list() if video_ids is None else [store.videos.get(v) for v in video_ids]
            items = project_labels(store, videos)
            # One-video-per-file formats write a folder named after the chosen file.
            target = Path(out).with_suffix("") if fmt.per_video and len(items) > 1 else Path(out)
            export_labels(items, fmt, target)
            notes.append(dropped_notes(items, fmt) or "")  # what the format has no place for
            return sum(len(i.segments) for i in items)

        count = self.guard(write)
        if count is None:
            return False
        self.message.emit(f"Exported {count} segments to {out}. {''.join(notes)}".strip())
        return True

    def labels_imported(self, summary: str) -> None:
        """An import changed labels (and maybe classes) outside the undo stack; its events redraw
        them. Undo history whose snapshots predate the import is dropped."""
        self.undo_stack.clear()
        self.message.emit(summary.capitalize() + ".")

    # --- helpers ----------------------------------------------------------------------------------

    def guard(self, call: Callable[[], T]) -> T | None:
        """Run a core call; an AppError becomes a warning for the user instead of a crash."""
        try:
            return call()
        except AppError as exc:
            log.warning("%s", exc)
            self.error.emit(str(exc), "")
            return None
