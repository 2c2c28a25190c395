"""Videos known to the project, found by path or by content when a file has moved.

Paths are stored absolute and resolved, so the same file opened from two working
directories is one video.
"""

from __future__ import annotations

import builtins
import logging
from pathlib import Path

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.errors import StoreError
from core.store.changes import VideosChanged
from core.store.orm import VideoRow
from core.store.records import Video
from core.store.unit import Repository

log = logging.getLogger(__name__)


def normalize_path(path: str | Path) -> str:
    return str(Path(path).expanduser().resolve())


def to_record(row: VideoRow) -> Video:
    timestamps = None
    if row.timestamps is not None:
        timestamps = np.frombuffer(row.timestamps, dtype="<f8")  # read-only, like the record
    return Video(
        id=row.id,
        path=row.path,
        content_hash=row.content_hash,
        width=row.width,
        height=row.height,
        fps=row.fps,
        header_frame_count=row.header_frame_count,
        frame_count=row.frame_count,
        timestamps_s=timestamps,
    )


class VideoRepository(Repository):
    def add(
        self,
        path: str | Path,
        content_hash: str,
        width: int,
        height: int,
        fps: float,
        header_frame_count: int,
    ) -> Video:
        """Register a video; adding a path already known returns the existing record."""
        clean = normalize_path(path)
        with self._write(f"add the video {clean}") as session:
            existing = session.scalar(select(VideoRow).where(VideoRow.path == clean))
            if existing is not None:
                return to_record(existing)
            row = VideoRow(
                path=clean,
                content_hash=content_hash,
                width=int(width),
                height=int(height),
                fps=float(fps),
                header_frame_count=int(header_frame_count),
            )
            session.add(row)
            session.flush()
            self._changed(VideosChanged(row.id))
            log.info("Added video %s (id %d)", clean, row.id)
            return to_record(row)

    def get(self, video_id: int) -> Video:
        with self._read("read the video") as session:
            return to_record(_row(session, video_id))

    def list(self) -> builtins.list[Video]:
        with self._read("list the videos") as session:
            return [to_record(r) for r in session.scalars(select(VideoRow).order_by(VideoRow.id))]

    def find(self, path_or_id: str) -> Video | None:
        """A whole number is an id, anything else a path (relative to the working directory)."""
        text = path_or_id.strip()
        with self._read("look up the video") as session:
            if text.isdigit():
                row = session.get(VideoRow, int(text))
                if row is not None:
                    return to_record(row)
            row = session.scalar(select(VideoRow).where(VideoRow.path == normalize_path(text)))
            return None if row is None else to_record(row)

    def find_by_hash(self, content_hash: str) -> Video | None:
        """The oldest video with this content, to offer relinking a file that moved."""
        with self._read("look up the video by content") as session:
            row = session.scalars(
                select(VideoRow).where(VideoRow.content_hash == content_hash).order_by(VideoRow.id)
            ).first()
            return None if row is None else to_record(row)

    def set_index(self, video_id: int, frame_count: int, timestamps_s: np.ndarray) -> Video:
        """Record the true frame count and per-frame times once the video has been indexed."""
        stamps = np.ascontiguousarray(timestamps_s, dtype="<f8")
        if stamps.ndim != 1 or len(stamps) != frame_count:
            raise StoreError(
                f"The video index is inconsistent ({len(stamps)} time stamps for {frame_count} frames); "
                "index the video again."
            )
        with self._write("save the video index") as session:
            row = _row(session, video_id)
            row.frame_count, row.timestamps = int(frame_count), stamps.tobytes()
            self._changed(VideosChanged(video_id))
            return to_record(row)

    def relink(self, video_id: int, new_path: str | Path) -> Video:
        """Point a video at its file's new location, keeping its labels and predictions."""
        clean = normalize_path(new_path)
        with self._write(f"relink the video to {clean}") as session:
            row = _row(session, video_id)
            other = session.scalar(select(VideoRow).where(VideoRow.path == clean))
            if other is not None and other.id != video_id:
                raise StoreError(f"{clean} is already in the project as another video (id {other.id}).")
            row.path = clean
            self._changed(VideosChanged(video_id))
            return to_record(row)

    def remove(self, video_id: int) -> None:
        """Forget a video; its segments and prediction runs go with it (the file stays)."""
        with self._write("remove the video") as session:
            result = session.execute(delete(VideoRow).where(VideoRow.id == video_id))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise StoreError(f"There is no video with id {video_id}; it may have been removed already.")
            self._changed(VideosChanged(video_id))
            log.info("Removed video %d", video_id)


def _row(session: Session, video_id: int) -> VideoRow:
    row = session.get(VideoRow, video_id)
    if row is None:
        raise StoreError(f"There is no video with id {video_id}; it may have been removed from the project.")
    return row
