"""The one GUI-side hub: holds what is on screen, asks ``core`` to change it, signals the result.

Widgets read from here and write only through its methods; they never talk to each other.
Every label edit is committed to the store by ``core`` the moment it is made and pushed onto
the undo stack as a range snapshot. Long work (indexing, the demo, analysis) runs as jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoGroup, QUndoStack

from core.analysis.postprocess import PostprocessParams, PredictedEvent
from core.analysis.predictions import VideoPredictions, events_for, load_predictions
from core.errors import AppError
from core.labels import class_edits, editing
from core.labels.editing import Edit
from core.labels.overview import VideoStatus, ensure_indexed, video_statuses
from core.media.timebase import frame_to_seconds, seconds_to_frame
from core.paths import resolve_db_url
from core.store import Store, open_store
from core.store.records import LabelClass, ModelVersion, Segment, Video
from gui import jobs
from gui.commands import UNDO_LIMIT, StoreCommand, edit_command
from gui.learning_state import LearningState
from gui.workers import JobContext, Jobs, Worker

log = logging.getLogger(__name__)

INDEX_JOB = "index"
ADD_JOB = "add videos"
DEMO_JOB = "demo"
ANALYSE_JOB = "analysis"
INT8_JOB = "preparing int8"
T = TypeVar("T")


class AppState(QObject):
    videos_changed = Signal()
    video_changed = Signal()  # another video (or none) is open
    frame_changed = Signal(int)
    classes_changed = Signal()
    labels_changed = Signal()  # the open video's segments changed
    selection_changed = Signal()
    predictions_changed = Signal()  # scores and/or predicted events of the open video
    model_changed = Signal()
    error = Signal(str, str)  # message, details
    message = Signal(str)  # a status-bar note
    analysis_progress = Signal(object)  # jobs.AnalysisProgress

    def __init__(self, store: Store, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.jobs = Jobs(self)
        # One undo stack per project, kept (with its open store) for the session, so switching
        # projects and back keeps each project's history; the group follows the active one.
        self.undo_group = QUndoGroup(self)
        self._projects: dict[str, tuple[Store, QUndoStack]] = {}
        self.undo_stack = self._project_stack(store)
        self.statuses: list[VideoStatus] = []
        self.analysing: dict[int, float] = {}
        self.video: Video | None = None
        self.frame = 0
        self.classes: list[LabelClass] = []
        self.current_class_id: int | None = None
        self._class_chosen = False  # until the user picks one, new segments take the first event class
        self.segments: list[Segment] = []
        self.selection: tuple[int, int] | None = None
        self.selected_event: PredictedEvent | None = None
        self.in_point: int | None = None
        self.predictions: VideoPredictions | None = None
        self.params: dict[int, PostprocessParams] = {}
        self.events: list[PredictedEvent] = []
        self.model: ModelVersion | None = None
        self.device_label = "device: chosen when analysis starts"
        self.precision = "auto"  # auto | fp32 | int8, the Analyse › Precision menu
        self._int8_for: int | None = None  # model version to quantize once its analysis ends
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(250)
        self._reload_timer.timeout.connect(self.reload_predictions)
        self.learning = LearningState(self)  # fine-tuning, model versions, review queue

    # --- project ----------------------------------------------------------------------------

    def load(self) -> None:
        self.refresh_classes()
        self.refresh_model()
        self.refresh_videos()
        first = next((s.video for s in self.statuses if not s.missing), None)
        if first is not None:  # start where work is, not on an empty player
            self.open_video(first.id)

    def open_project(self, location: str) -> bool:
        """Switch to the store at a SQLAlchemy URL or SQLite path (a new file makes a new project).

        Running jobs are stopped first. The store left behind stays open with its undo stack,
        so switching back later finds its history intact.
        """
        url = resolve_db_url(location)
        if url == self.store.url:
            return True
        self.jobs.shutdown()
        known = self._projects.get(url)
        store = known[0] if known is not None else self._guard(lambda: open_store(url))
        if store is None:
            return False
        self.store = store
        self.undo_stack = self._project_stack(store)
        self.video, self.segments, self.predictions, self.events = None, [], None, []
        self.selection, self.selected_event, self.in_point = None, None, None
        self.analysing.clear()
        self.params.clear()
        self.current_class_id, self._class_chosen = None, False
        self.frame = 0
        self.video_changed.emit()
        self.labels_changed.emit()
        self.predictions_changed.emit()
        self.selection_changed.emit()
        self.load()
        if store.recovered_from is not None:
            self.message.emit(f"The database could not be read; it was moved to {store.recovered_from}.")
        else:
            self.message.emit(f"Opened project {url}.")
        return True

    def close_stores(self) -> None:
        """Close every store this session opened (at exit)."""
        for store, _stack in self._projects.values():
            store.close()

    def _project_stack(self, store: Store) -> QUndoStack:
        if store.url not in self._projects:
            stack = QUndoStack(self.undo_group)
            stack.setUndoLimit(UNDO_LIMIT)
            self.undo_group.addStack(stack)
            self._projects[store.url] = (store, stack)
        stack = self._projects[store.url][1]
        self.undo_group.setActiveStack(stack)
        return stack

    def refresh_videos(self) -> None:
        self.statuses = self._guard(lambda: video_statuses(self.store)) or []
        self.videos_changed.emit()

    def refresh_classes(self) -> None:
        self.classes = self._guard(self.store.classes.list) or []
        current = self.class_by_id(self.current_class_id) if self.current_class_id is not None else None
        if current is None or (current.name == "background" and not self._class_chosen):
            choices = [c for c in self.classes if c.name != "background"] or self.classes
            self.current_class_id = choices[0].id if choices else None
        self.classes_changed.emit()

    def refresh_model(self) -> None:
        self.model = self._guard(self.store.models.active)
        self.model_changed.emit()

    def class_by_id(self, class_id: int) -> LabelClass | None:
        return next((c for c in self.classes if c.id == class_id), None)

    def start_job(
        self,
        name: str,
        job: Callable[[JobContext], object],
        on_success: Callable[[object], None] | None = None,
        connect: Callable[[Worker], None] | None = None,
    ) -> Worker | None:
        if self.jobs.is_running(name):
            self.message.emit(f"{name.capitalize()} is already running.")
            return None
        worker = self.jobs.start(name, job)
        worker.failed.connect(self.error)
        if on_success is not None:
            worker.succeeded.connect(self.jobs.on_gui(name, on_success))
        if connect is not None:
            connect(worker)
        self.jobs.launch(name)
        return worker

    # --- the open video -----------------------------------------------------------------------

    @property
    def frame_count(self) -> int:
        return self.video.best_frame_count if self.video is not None else 0

    def open_video(self, video_id: int) -> None:
        video = self._guard(lambda: self.store.videos.get(video_id))
        if video is None:
            return
        if video.indexed:
            self._show_video(video)
            return
        self.message.emit(f"Indexing {Path(video.path).name}…")
        self.start_job(
            INDEX_JOB,
            lambda ctx: ensure_indexed(self.store, video, ctx.cancel),
            on_success=lambda v: self._show_video(v) if isinstance(v, Video) else None,
        )

    def _show_video(self, video: Video) -> None:
        self.video = video
        self.frame = 0
        self.selection = None
        self.selected_event = None
        self.in_point = None
        self.video_changed.emit()
        self.reload_labels()
        self.reload_predictions()
        self.frame_changed.emit(0)
        self.selection_changed.emit()
        self.refresh_videos()

    def reload_labels(self) -> None:
        if self.video is None:
            self.segments = []
        else:
            video_id = self.video.id
            self.segments = self._guard(lambda: self.store.segments.list(video_id)) or []
        self.labels_changed.emit()

    def reload_predictions(self) -> None:
        video = self.video
        self.predictions = None if video is None else self._guard(lambda: load_predictions(self.store, video))
        self.recompute_events()

    def schedule_prediction_reload(self) -> None:
        if not self._reload_timer.isActive():
            self._reload_timer.start()

    def recompute_events(self) -> None:
        preds = self.predictions
        self.events = [] if preds is None else events_for(preds, self.params)
        if self.selected_event not in self.events:
            self.selected_event = None
        self.predictions_changed.emit()

    def set_params(self, class_index: int, params: PostprocessParams) -> None:
        self.params[class_index] = params
        self.recompute_events()

    # --- time ---------------------------------------------------------------------------------

    def seconds(self, frame: int) -> float:
        if self.video is None:
            return 0.0
        return frame_to_seconds(frame, self.video.timestamps_s, self.video.fps)

    def frame_at(self, seconds: float) -> int:
        if self.video is None:
            return 0
        return seconds_to_frame(seconds, self.video.timestamps_s, self.video.fps)

    def set_frame(self, frame: int) -> None:
        if self.video is None:
            return
        frame = max(0, min(int(frame), self.frame_count - 1))
        if frame != self.frame:
            self.frame = frame
            self.frame_changed.emit(frame)

    def step(self, frames: int) -> None:
        self.set_frame(self.frame + frames)

    def jump_seconds(self, seconds: float) -> None:
        self.set_frame(self.frame_at(self.seconds(self.frame) + seconds))

    def go_to_boundary(self, forward: bool) -> None:
        bounds = editing.boundaries(self.segments)
        if forward:
            target = editing.next_boundary(bounds, self.frame)
        else:
            target = editing.previous_boundary(bounds, self.frame)
        if target is not None:
            self.set_frame(target)

    # --- selection ----------------------------------------------------------------------------

    def select_range(self, start: int, end: int) -> None:
        self.selection = (start, end) if end > start else None
        self.selected_event = None
        self.selection_changed.emit()

    def select_segment_at(self, frame: int) -> Segment | None:
        seg = editing.segment_at(self.segments, frame)
        self.selection = None if seg is None else (seg.start_frame, seg.end_frame)
        self.selected_event = None
        self.selection_changed.emit()
        return seg

    def select_event_at(self, frame: int) -> PredictedEvent | None:
        hits = [e for e in self.events if e.start_frame <= frame < e.end_frame]
        self.selected_event = max(hits, key=lambda e: e.score) if hits else None
        self.selection = None
        self.selection_changed.emit()
        return self.selected_event

    def clear_selection(self) -> None:
        self.selection, self.selected_event = None, None
        self.selection_changed.emit()

    def selected_segment(self) -> Segment | None:
        if self.selection is None:
            return None
        return next(
            (s for s in self.segments if (s.start_frame, s.end_frame) == self.selection),
            None,
        )

    def set_current_class(self, class_id: int) -> None:
        self.current_class_id, self._class_chosen = class_id, True
        self.classes_changed.emit()

    # --- edits ----------------------------------------------------------------------------------

    def push_edit(self, make: Callable[[], Edit], select: tuple[int, int] | None = None) -> bool:
        """Run an edit through core (committed at once) and make it undoable."""
        edit = self._guard(make)
        if edit is None:
            return False
        if edit.changed:
            self.undo_stack.push(edit_command(self.store, edit, self._after_undo, self._report))
        self.reload_labels()
        if select is not None:
            self.select_range(*select)
        self.refresh_videos()
        return True

    def _after_undo(self, video_id: int) -> None:
        if self.video is not None and video_id == self.video.id:
            self.reload_labels()
            self.clear_selection()
        self.refresh_videos()

    def _report(self, text: str) -> None:
        self.error.emit(text, "")

    def create_segment(self, start: int, end: int, class_id: int | None = None) -> None:
        video, chosen = self.video, class_id if class_id is not None else self.current_class_id
        start, end = max(0, min(start, end)), min(max(start, end), self.frame_count)
        if video is None or chosen is None or end <= start:
            return
        self.push_edit(lambda: editing.label_range(self.store, video.id, start, end, chosen), (start, end))

    def change_segment(self, segment: Segment, new_start: int, new_end: int) -> None:
        new_start, new_end = max(0, new_start), min(new_end, self.frame_count)
        if new_end <= new_start or (new_start, new_end) == (segment.start_frame, segment.end_frame):
            return
        self.push_edit(
            lambda: editing.change_segment(self.store, segment, new_start, new_end), (new_start, new_end)
        )

    def relabel_selection(self, class_id: int) -> None:
        if self.selection is None or self.video is None:
            self.set_current_class(class_id)
            return
        start, end = self.selection
        self.set_current_class(class_id)
        self.create_segment(start, end, class_id)

    def delete_selection(self) -> None:
        if self.selection is None or self.video is None:
            return
        video, (start, end) = self.video, self.selection
        self.push_edit(lambda: editing.clear_range(self.store, video.id, start, end))
        self.clear_selection()

    def split_at_playhead(self) -> None:
        seg = editing.segment_at(self.segments, self.frame)
        part = None if seg is None else editing.split_range(seg, self.frame)
        if part is None:
            self.message.emit("Put the playhead inside a segment to split it.")
            return
        self.select_range(*part)
        self.message.emit("Split: the part from the playhead on is selected; relabel or delete it.")

    def merge_selection_with_next(self) -> None:
        seg = self.selected_segment() or editing.segment_at(self.segments, self.frame)
        if seg is None or self.video is None:
            self.message.emit("Select a segment to merge with the next one.")
            return
        video = self.video
        self.push_edit(lambda: editing.merge_with_next(self.store, video.id, self.segments, seg))

    def mark_reviewed(self, start: int, end: int) -> None:
        video = self.video
        start, end = max(0, start), min(end, self.frame_count)
        if video is not None and end > start:
            self.push_edit(lambda: editing.mark_reviewed(self.store, video.id, start, end))

    def set_in_point(self) -> None:
        self.in_point = self.frame
        self.message.emit(f"In point at frame {self.frame}; press O at the out point.")
        self.selection_changed.emit()

    def set_out_point(self) -> None:
        if self.in_point is None:
            self.message.emit("Press I at the in point first.")
            return
        start, end = sorted((self.in_point, self.frame))
        self.in_point = None
        self.create_segment(start, end + 1)

    # --- predictions into labels -------------------------------------------------------------

    def accept_events(
        self,
        events: Sequence[PredictedEvent],
        start: int,
        end: int,
        fill_unlabelled_only: bool = False,
    ) -> None:
        from core.labels.accept import accept_events

        video, preds = self.video, self.predictions
        if video is None or preds is None or not events:
            self.message.emit("No predicted events to accept there.")
            return
        text = "Fill unlabelled from predictions" if fill_unlabelled_only else "Accept predictions"
        self.push_edit(
            lambda: editing.record_edit(
                self.store,
                text,
                video.id,
                start,
                end,
                lambda: accept_events(
                    self.store,
                    video.id,
                    events,
                    preds.class_names,
                    fill_unlabelled_only=fill_unlabelled_only,
                    start=start,
                    end=end,
                ),
            )
        )

    def accept_selected_event(self) -> None:
        event = self.selected_event
        if event is None:
            self.message.emit("Click a predicted event first.")
            return
        self.accept_events([event], event.start_frame, event.end_frame)

    def accept_in_range(self, start: int, end: int, fill_unlabelled_only: bool = False) -> None:
        start, end = max(0, start), min(end, self.frame_count)
        inside = [e for e in self.events if e.start_frame < end and e.end_frame > start]
        if end > start:
            self.accept_events(inside, start, end, fill_unlabelled_only)

    # --- project jobs ---------------------------------------------------------------------------

    def add_videos(self, items: list[str]) -> None:
        def done(result: object) -> None:
            added, problems = result if isinstance(result, tuple) else ([], [])
            self.refresh_videos()
            self.message.emit(f"Added {len(added)} video(s).")
            if problems:
                self.error.emit("Some files could not be added:\n" + "\n".join(problems), "")
            if added and self.video is None:
                self.open_video(added[0].id)

        self.start_job(ADD_JOB, lambda ctx: jobs.add_videos(self.store, items, ctx), done)

    def open_demo(self, seconds: float | None = None) -> None:
        length = jobs.DEMO_SECONDS if seconds is None else seconds

        def done(video: object) -> None:
            self.refresh_classes()
            self.refresh_videos()
            if isinstance(video, Video):
                self.open_video(video.id)
                self.message.emit("Demo ready: press Analyse to run the model, then review its events.")

        self.message.emit("Generating the demo video…")
        self.start_job(DEMO_JOB, lambda ctx: jobs.open_demo(self.store, ctx, length), done)

    def relink(self, video_id: int, path: str) -> None:
        self._guard(lambda: self.store.videos.relink(video_id, path))
        self.refresh_videos()

    def analyse(self, video_ids: list[int], stride: int = 8, batch_size: int = 4) -> Worker | None:
        if not video_ids:
            self.message.emit("Add a video first.")
            return None

        def connect(worker: Worker) -> None:
            worker.progress.connect(self._on_analysis_progress)
            worker.batch.connect(self._on_analysis_batch)
            worker.finished.connect(self._on_analysis_finished)
            worker.cancelled.connect(
                self.jobs.on_gui(
                    ANALYSE_JOB, lambda: self.message.emit("Analysis cancelled; finished windows are kept.")
                )
            )

        self.analysing = dict.fromkeys(video_ids, 0.0)
        self.refresh_videos()
        return self.start_job(
            ANALYSE_JOB,
            lambda ctx: jobs.analyse(self.store, video_ids, ctx, stride, batch_size, self.precision),
            self._analysis_done,
            connect,
        )

    def _analysis_done(self, _results: object) -> None:
        self.message.emit("Analysis finished.")
        version_id, self._int8_for = self._int8_for, None
        if version_id is None:
            return

        self.start_job(
            INT8_JOB,
            lambda ctx: jobs.prepare_int8(self.store, ctx, version_id),
            lambda verdict: self.message.emit(str(verdict)),
            lambda worker: worker.progress.connect(self._on_engine_note),  # a bound slot: GUI thread
        )

    def _on_engine_note(self, note: object) -> None:
        if isinstance(note, jobs.EngineNote):
            self.message.emit(note.text)

    def cancel_analysis(self) -> None:
        self.jobs.cancel(ANALYSE_JOB)

    def _on_analysis_progress(self, p: object) -> None:
        if isinstance(p, jobs.AnalysisProgress) and p.progress.total > 0:
            self.analysing[p.video_id] = 100.0 * p.progress.done / p.progress.total
            self.analysis_progress.emit(p)
            self.videos_changed.emit()

    def _on_analysis_batch(self, item: object) -> None:
        if isinstance(item, jobs.EngineNote):
            self.message.emit(item.text)
        elif isinstance(item, jobs.AnalysisStarted):
            self.device_label = item.device_label
            self._int8_for = item.model_id if item.int8_wanted else None
            self.refresh_model()
            self.refresh_videos()
        elif self.video is not None and item == self.video.id:
            self.schedule_prediction_reload()

    def _on_analysis_finished(self) -> None:
        self.analysing.clear()
        self.reload_predictions()
        self.refresh_videos()

    # --- classes ----------------------------------------------------------------------------------

    def add_class(self, name: str, color: str | None = None, shortcut: str | None = None) -> None:
        self._class_edit(lambda: class_edits.add_class(self.store, name, color, shortcut))

    def rename_class(self, class_id: int, name: str) -> None:
        self._class_edit(lambda: class_edits.rename_class(self.store, class_id, name))

    def recolour_class(self, class_id: int, color: str) -> None:
        self._class_edit(lambda: class_edits.recolour_class(self.store, class_id, color))

    def set_class_shortcut(self, class_id: int, shortcut: str | None) -> None:
        self._class_edit(lambda: class_edits.set_class_shortcut(self.store, class_id, shortcut))

    def delete_class(self, class_id: int, reassign_to: int | None) -> None:
        self._class_edit(lambda: class_edits.delete_class(self.store, class_id, reassign_to))

    def _class_edit(self, make: Callable[[], class_edits.ClassChange | None]) -> None:
        """Core makes the edit and hands back its inverse; the stack keeps it for undo."""
        change = self._guard(make)
        if change is not None:
            self.undo_stack.push(
                StoreCommand(change.text, change.undo, change.redo, self._after_class_undo, self._report)
            )
        self._after_class_undo()

    def _after_class_undo(self) -> None:
        self._classes_edited()
        self.refresh_videos()

    def _classes_edited(self) -> None:
        self.refresh_classes()
        self.reload_labels()

    # --- export -------------------------------------------------------------------------------------

    def export_labels(self, format_name: str, out: str, whole_project: bool) -> bool:
        from core.interchange.export import export_labels
        from core.interchange.formats import VideoLabels, format_for

        def write() -> int:
            fmt = format_for(format_name)
            if whole_project:
                videos = self.store.videos.list()
            else:
                videos = [] if self.video is None else [self.store.videos.get(self.video.id)]
            items = [VideoLabels.of(v, self.store.segments.list(v.id)) for v in videos]
            # One-video-per-file formats write a folder named after the chosen file.
            target = Path(out).with_suffix("") if fmt.per_video and len(items) > 1 else Path(out)
            export_labels(items, fmt, target)
            return sum(len(i.segments) for i in items)

        count = self._guard(write)
        if count is None:
            return False
        self.message.emit(f"Exported {count} segments to {out}.")
        return True

    def labels_imported(self, summary: str) -> None:
        """An import changed labels (and maybe classes) outside the undo stack: redraw all, and
        drop undo history whose snapshots predate the import."""
        self.undo_stack.clear()
        self.refresh_classes()
        self.refresh_videos()
        self.reload_labels()
        self.message.emit(summary.capitalize() + ".")

    # --- helpers --------------------------------------------------------------------------------

    def _guard(self, call: Callable[[], T]) -> T | None:
        """Run a core call; an AppError becomes a warning for the user instead of a crash."""
        try:
            return call()
        except AppError as exc:
            log.warning("%s", exc)
            self.error.emit(str(exc), "")
            return None
