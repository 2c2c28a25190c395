"""What the video list shows for each video, and the demo project a first-time user opens.

Both are GUI-independent decisions about the project, kept here so the desktop app only
renders them and tests can check them without Qt.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.media.demo import DEMO_CLASSES, generate_demo_video, label_prefix
from core.media.library import add_video, open_reader
from core.store import Store
from core.store.records import ModelVersion, NewSegment, RunStatus, SegmentSource, Video
from core.store.work import Assignment, WorkState

log = logging.getLogger(__name__)

DEMO_FILENAME = "c3d-labeller-demo.avi"
DEMO_LABELLED_FRACTION = 0.4


@dataclass(frozen=True)
class VideoStatus:
    video: Video
    missing: bool
    analysed_with: str | None  # model label of a complete run
    analysed_pct: float | None  # progress of an unfinished run of the active model
    labelled_pct: float
    work: Assignment | None = None  # team mode: the video's place in the work queue

    @property
    def name(self) -> str:
        return Path(self.video.path).name

    def text(self, analysing_pct: float | None = None) -> str:
        if self.missing:
            return f"{self.name} — MISSING (right-click › Relink…)"
        if analysing_pct is not None:
            state = f"analysing {analysing_pct:.0f}%"
        elif self.analysed_with is not None:
            state = f"analysed with {self.analysed_with}"
        elif self.analysed_pct is not None:
            state = f"analysed {self.analysed_pct:.0f}% (resume with Analyse)"
        else:
            state = "not analysed"
        return f"{self.name} — {state} — {self.labelled_pct:.0f}% labelled"

    def work_text(self) -> str:
        """Where the video is in the team's queue; nothing for a video nobody has claimed."""
        work = self.work
        if work is None or (work.state is WorkState.TO_LABEL and work.claimed_by is None):
            return ""
        if work.state is WorkState.TO_LABEL:
            return f"to label, claimed by {work.claimed_by}"
        by = f" by {work.claimed_by}" if work.claimed_by else ""
        if work.state is WorkState.LABELLED:
            return f"labelled{by}"
        return f"reviewed (labelled{by})"


def video_statuses(store: Store) -> list[VideoStatus]:
    active = store.models.active()
    work = {a.video_id: a for a in store.work.list()}
    return [video_status(store, video, active, work.get(video.id)) for video in store.videos.list()]


def video_status(
    store: Store, video: Video, active: ModelVersion | None, work: Assignment | None = None
) -> VideoStatus:
    """One video's line: a label edit needs only its own video's line recomputed."""
    analysed_with: str | None = None
    analysed_pct: float | None = None
    if active is not None:
        run = store.predictions.latest_run(video.id, active.id)
        if run is not None and run.status is RunStatus.COMPLETE:
            analysed_with = f"#{active.id} {active.name}" + (" (UNTRAINED)" if active.untrained else "")
        elif run is not None and run.windows_total > 0:
            analysed_pct = 100.0 * run.windows_done / run.windows_total
    frames = video.best_frame_count
    labelled = store.segments.labelled_frames(video.id)
    return VideoStatus(
        video=video,
        missing=not Path(video.path).exists(),
        analysed_with=analysed_with,
        analysed_pct=analysed_pct,
        labelled_pct=100.0 * labelled / frames if frames > 0 else 0.0,
        work=work if work is not None else store.work.get(video.id),
    )


def ensure_indexed(store: Store, video: Video, cancel: threading.Event | None = None) -> Video:
    """Decode the video once to learn its true frame count and timestamps, and keep them."""
    if video.indexed:
        return video
    with open_reader(video) as reader:
        index = reader.build_index(cancel=cancel)
    return store.videos.set_index(video.id, index.frame_count, index.timestamps_s)


def create_demo_project(
    store: Store,
    folder: Path,
    *,
    seconds: float = 60,
    size: tuple[int, int] = (320, 240),
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Video:
    """Write the demo video into ``folder``, add its classes and label its first part."""
    demo = generate_demo_video(
        folder / DEMO_FILENAME, seconds=seconds, size=size, cancel=cancel, progress=progress
    )
    known = {c.name.casefold() for c in store.classes.list()}
    for name in DEMO_CLASSES:
        if name.casefold() not in known:
            store.classes.add(name)
    video = ensure_indexed(store, add_video(store, demo.path), cancel)
    if store.segments.labelled_frames(video.id) == 0:
        ids = {c.name.casefold(): c.id for c in store.classes.list()}
        store.segments.paint(
            video.id,
            [
                NewSegment(ids[e.class_name.casefold()], e.start_frame, e.end_frame, SegmentSource.HUMAN)
                for e in label_prefix(demo, DEMO_LABELLED_FRACTION)
            ],
        )
    log.info("Demo project ready: %s", demo.path)
    return video
