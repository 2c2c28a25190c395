"""The video on screen: its labels and predictions, the playhead and the selection.

Labels and predictions shown here follow the bridge's events: a committed edit of frames
[a, b) re-reads only the segments touching that range; a burst of prediction batches
reloads the scores once. Edits go through ``ProjectState.apply`` as core actions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from core.analysis.postprocess import PostprocessParams, PredictedEvent
from core.analysis.postprocess_settings import load_params, save_params
from core.analysis.predictions import VideoPredictions, events_for, load_predictions, track_events
from core.labels import editing
from core.labels.overview import ensure_indexed
from core.media.timebase import frame_to_seconds, seconds_to_frame
from core.project import Undoable, actions
from core.store import Store
from core.store.records import Segment, Video
from gui.state.bridge import EventBridge
from gui.state.project import ProjectState
from gui.state.runner import JobRunner

log = logging.getLogger(__name__)

INDEX_JOB = "index"


class CurrentVideo(QObject):
    video_changed = Signal()  # another video (or none) is open
    frame_changed = Signal(int)
    labels_changed = Signal()  # the open video's segments changed
    selection_changed = Signal()
    predictions_changed = Signal()  # scores and/or predicted events of the open video
    error = Signal(str, str)
    message = Signal(str)

    def __init__(
        self, project: ProjectState, runner: JobRunner, bridge: EventBridge, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.project, self.runner = project, runner
        self.video: Video | None = None
        self.frame = 0
        self.segments: list[Segment] = []
        self.other_segments: list[Segment] = []  # the other tracks' labels, shown read-only
        self.selection: tuple[int, int] | None = None
        self.selection_by_user = False  # a class key relabels only a selection the user made
        self._indexing = ""  # the name of the video being indexed, for the status bar
        self.remembered_video: Callable[[], int | None] = lambda: None  # the window's settings say
        self.selected_event: PredictedEvent | None = None
        self.in_point: int | None = None
        self.predictions: VideoPredictions | None = None
        self.params: dict[int, PostprocessParams] = {}
        self.events: list[PredictedEvent] = []
        self.other_events: dict[int, tuple[tuple[str, ...], list[PredictedEvent]]] = {}
        """The other tracks' predicted events (track id → the head's classes and its events)."""
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(250)
        self._reload_timer.timeout.connect(self.reload_predictions)
        bridge.segments_changed.connect(self._on_segments)
        bridge.predictions_changed.connect(self._on_predictions)
        bridge.models_changed.connect(self.schedule_prediction_reload)
        bridge.videos_changed.connect(self._on_videos)
        project.classes_changed.connect(self._on_classes)
        project.project_changed.connect(self.close_video)
        project.project_loaded.connect(self.open_first)
        project.history_moved.connect(self.clear_selection)
        project.open_requested.connect(self._on_open_requested)
        runner.analysis_finished.connect(self.flush_prediction_reload)

    # --- the open video ---------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The store of the project the video belongs to (its files folder holds the proxies)."""
        return self.project.store

    @property
    def frame_count(self) -> int:
        return self.video.best_frame_count if self.video is not None else 0

    def open_first(self) -> None:
        """Start where work is, not on an empty player."""
        remembered = self.remembered_video()  # the one open when the app was last closed
        present = [s.video for s in self.project.statuses if not s.missing]
        first = next((v for v in present if v.id == remembered), None) or next(iter(present), None)
        if first is not None:
            self.open_video(first.id)

    def open_video(self, video_id: int) -> None:
        store = self.project.store
        video = self.project.guard(lambda: store.videos.get(video_id))
        if video is None:
            return
        if video.indexed:
            self._show_video(video)
            return
        if self.runner.is_running(INDEX_JOB):
            self.message.emit(f"Indexing {self._indexing} is under way; it opens when done.")
            return
        self._indexing = Path(video.path).name
        self.message.emit(f"Indexing {self._indexing}…")
        self.runner.start_job(
            INDEX_JOB,
            lambda ctx: ensure_indexed(store, video, ctx.cancel),
            on_success=lambda v: self._show_video(v) if isinstance(v, Video) else None,
        )

    def close_video(self) -> None:
        self.video, self.segments, self.predictions, self.events = None, [], None, []
        self.other_events = {}
        self.selection, self.selected_event, self.in_point = None, None, None
        self.params.clear()
        self.frame = 0
        self.video_changed.emit()
        self.labels_changed.emit()
        self.predictions_changed.emit()
        self.selection_changed.emit()

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

    def _on_open_requested(self, video_id: int, even_if_one_is_open: bool) -> None:
        if self.video is None or even_if_one_is_open:
            self.open_video(video_id)

    def _on_videos(self, video_id: object) -> None:
        if self.video is not None and video_id == self.video.id:  # indexed or relinked
            video = self.project.guard(lambda: self.project.store.videos.get(video_id))  # type: ignore[arg-type]
            if video is not None:
                self.video = video

    def _on_classes(self) -> None:
        if self.video is not None:
            self.reload_labels()  # segments carry their class's name
        self.reload_predictions()  # the active track may have changed: show its head's

    # --- labels and predictions ---------------------------------------------------------------------

    def reload_labels(self) -> None:
        video = self.video
        store = self.project.store
        self.segments = (
            []
            if video is None
            else self.project.guard(lambda: store.segments.list(video.id, track_id=self._track_id)) or []
        )
        self._reload_others(None, None)
        self.labels_changed.emit()

    def _reload_others(self, lo: int | None, hi: int | None) -> None:
        """The other tracks' labels (all, or those touching ``[lo, hi)``), when there are others."""
        video, active = self.video, self._track_id
        if video is None or len(self.project.tracks) < 2:
            self.other_segments = []
            return
        store = self.project.store
        fresh = self.project.guard(lambda: store.segments.list(video.id, lo, hi, all_tracks=True)) or []
        fresh = [s for s in fresh if s.track_id != active]
        if lo is None or hi is None:
            self.other_segments = fresh
            return
        kept = [s for s in self.other_segments if s.end_frame <= lo or s.start_frame >= hi]
        self.other_segments = sorted(kept + fresh, key=lambda s: s.start_frame)

    def _on_segments(self, video_id: int, start: int, end: int) -> None:
        """Re-read only the segments touching ``[start, end)``: neighbours may have joined them."""
        video = self.video
        if video is None or video_id != video.id:
            return
        lo, hi = max(0, start - 1), end + 1
        store = self.project.store
        fresh = self.project.guard(lambda: store.segments.list(video.id, lo, hi, track_id=self._track_id))
        if fresh is None:
            return
        kept = [s for s in self.segments if s.end_frame <= lo or s.start_frame >= hi]
        self.segments = sorted(kept + fresh, key=lambda s: s.start_frame)
        self._reload_others(lo, hi)
        self.labels_changed.emit()

    @property
    def _track_id(self) -> int | None:
        """The active track: the timeline shows and edits its labels."""
        return self.project.active_track_id

    def _on_predictions(self, video_id: int) -> None:
        if self.video is not None and video_id == self.video.id:
            self.schedule_prediction_reload()

    def reload_predictions(self) -> None:
        video = self.video
        store = self.project.store
        name = None if (track := self.project.active_track) is None else track.name
        self.predictions = (  # the active track's head: its lane shows and A accepts them
            None if video is None else self.project.guard(lambda: load_predictions(store, video, track=name))
        )
        preds = self.predictions
        if preds is not None:  # the project's saved thresholds, by class name
            track_id = self._track_id
            self.params = self.project.guard(lambda: load_params(store, preds.class_names, track_id)) or {}
        others = [t for t in self.project.tracks if t.id != self._track_id] if video is not None else []
        found = {
            t.id: self.project.guard(lambda t=t: track_events(store, video, t.id, t.name)) for t in others
        }
        self.other_events = {tid: f for tid, f in found.items() if f is not None}
        self.recompute_events()

    def schedule_prediction_reload(self) -> None:
        if not self._reload_timer.isActive():
            self._reload_timer.start()

    def flush_prediction_reload(self) -> None:
        """A reload waiting for more batches happens now (the last batch has come)."""
        if self._reload_timer.isActive():
            self._reload_timer.stop()
            self.reload_predictions()

    def recompute_events(self) -> None:
        preds = self.predictions
        self.events = [] if preds is None else events_for(preds, self.params)
        if self.selected_event not in self.events:
            self.selected_event = None
        self.predictions_changed.emit()

    def set_params(self, class_index: int, params: PostprocessParams) -> None:
        self.params[class_index] = params
        preds, store = self.predictions, self.project.store
        if preds is not None:
            track_id = self._track_id
            self.project.guard(lambda: save_params(store, preds.class_names[class_index], params, track_id))
        self.recompute_events()

    # --- time -----------------------------------------------------------------------------------

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

    # --- selection --------------------------------------------------------------------------------

    def select_range(self, start: int, end: int, by_user: bool = True) -> None:
        self.selection = (start, end) if end > start else None
        self.selection_by_user = by_user
        self.selected_event = None
        self.selection_changed.emit()

    def select_segment_at(self, frame: int) -> Segment | None:
        seg = editing.segment_at(self.segments, frame)
        self.selection = None if seg is None else (seg.start_frame, seg.end_frame)
        self.selection_by_user = True
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
        return next((s for s in self.segments if (s.start_frame, s.end_frame) == self.selection), None)

    # --- edits ----------------------------------------------------------------------------------

    def _edit(
        self,
        action: Callable[[], Undoable | None],
        select: tuple[int, int] | None = None,
        by_user: bool = True,
    ) -> bool:
        done = self.project.apply(action)
        if done and select is not None:
            self.select_range(*select, by_user=by_user)
        return done

    def create_segment(self, start: int, end: int, class_id: int | None = None) -> None:
        video = self.video
        chosen = class_id if class_id is not None else self.project.current_class_id
        start, end = max(0, min(start, end)), min(max(start, end), self.frame_count)
        track = self.project.active_track
        if track is not None and track.point:  # a point event sits on one frame
            end = min(start + 1, self.frame_count)
        if video is None or chosen is None or end <= start:
            return
        project, seen = self.project.project, list(self.segments)  # what the user saw: a stale view conflicts
        # A freshly drawn segment is shown selected, but choosing the next class must not relabel it.
        self._edit(
            lambda: actions.label_range(project, video.id, start, end, chosen, seen=seen),
            (start, end),
            by_user=False,
        )

    def change_segment(self, segment: Segment, new_start: int, new_end: int) -> None:
        new_start, new_end = max(0, new_start), min(new_end, self.frame_count)
        if new_end <= new_start or (new_start, new_end) == (segment.start_frame, segment.end_frame):
            return
        project, seen = self.project.project, list(self.segments)
        self._edit(
            lambda: actions.change_segment(project, segment, new_start, new_end, seen), (new_start, new_end)
        )

    def set_notes(self, segment: Segment, modifiers: list[str], comment: str | None) -> bool:
        """Give a label its modifiers and comment: one undoable edit."""
        project, seen = self.project.project, list(self.segments)
        return self._edit(lambda: actions.set_notes(project, segment, modifiers, comment, seen))

    def relabel_selection(self, class_id: int) -> None:
        self.project.set_current_class(class_id)
        if self.selection is None or self.video is None or not self.selection_by_user:
            return
        start, end = self.selection
        self.create_segment(start, end, class_id)
        self.selection_by_user = self.selection == (start, end)  # still the user's: a second key corrects it

    def delete_selection(self) -> None:
        if self.selection is None or self.video is None:
            return
        video, (start, end) = self.video, self.selection
        project, seen = self.project.project, list(self.segments)
        track_id = self._track_id
        self._edit(lambda: actions.clear_range(project, video.id, start, end, track_id, seen))
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
        video, segments, project = self.video, list(self.segments), self.project.project
        self._edit(lambda: actions.merge_with_next(project, video.id, segments, seg, segments))

    def mark_reviewed(self, start: int, end: int) -> None:
        video = self.video
        start, end = max(0, start), min(end, self.frame_count)
        if video is not None and end > start:
            project, seen = self.project.project, list(self.segments)
            track_id = self._track_id
            self._edit(lambda: actions.mark_reviewed(project, video.id, start, end, track_id, seen))

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

    # --- predictions into labels -------------------------------------------------------------------

    def accept_events(
        self, events: Sequence[PredictedEvent], start: int, end: int, fill_unlabelled_only: bool = False
    ) -> None:
        video, preds = self.video, self.predictions
        if video is None or preds is None or not events:
            self.message.emit("No predicted events to accept there.")
            return
        project, seen, names = self.project.project, list(self.segments), preds.class_names
        track, only = self._track_id, fill_unlabelled_only
        self._edit(lambda: actions.accept(project, video.id, events, names, start, end, only, seen, track))

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

    def analyse(self, video_ids: list[int], stride: int = 8, batch_size: int = 4) -> None:
        self.runner.analyse(self.project.store, video_ids, stride, batch_size)
