"""Adding videos to a project: validate them by opening, fingerprint, re-find moved files."""

from __future__ import annotations

import logging
from pathlib import Path

from core.errors import VideoError
from core.media.hashing import content_hash
from core.media.video import VideoIndex, VideoReader
from core.store import Store
from core.store.records import Video

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv", ".ts"})


def add_video(store: Store, path: str | Path) -> Video:
    """Register ``path`` (or return it if known); a known file at a new place is relinked."""
    resolved = Path(path).expanduser().resolve()
    known = store.videos.find(str(resolved))
    if known is not None:
        return known
    with VideoReader(resolved) as reader:
        fingerprint = content_hash(resolved)
        moved = _moved_copy(store, fingerprint)
        if moved is not None:
            log.info("Video %s was moved to %s; relinking", moved.path, resolved)
            store.videos.relink(moved.id, str(resolved))
            return store.videos.get(moved.id)
        return store.videos.add(
            path=str(resolved),
            content_hash=fingerprint,
            width=reader.width,
            height=reader.height,
            fps=reader.fps,
            header_frame_count=reader.header_frame_count,
        )


def expand_video_paths(items: list[str]) -> list[Path]:
    """Files, folders (searched recursively for video files) and globs → video paths, sorted."""
    found: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES))
        elif any(ch in item for ch in "*?["):
            matches = sorted(Path().glob(item)) if not path.is_absolute() else _abs_glob(path)
            if not matches:
                raise VideoError(f"No file matches {item!r}.")
            found.extend(p for p in matches if p.is_file())
        else:
            found.append(path)
    return found


def open_reader(video: Video) -> VideoReader:
    """A reader that reuses the stored index, so nothing is decoded twice to count frames."""
    index = None
    if video.frame_count is not None and video.timestamps_s is not None:
        index = VideoIndex(frame_count=video.frame_count, timestamps_s=video.timestamps_s)
    if not Path(video.path).exists():
        raise VideoError(f"The video file {video.path} is missing: relink it to its new location.")
    return VideoReader(video.path, index=index)


def _moved_copy(store: Store, fingerprint: str) -> Video | None:
    video = store.videos.find_by_hash(fingerprint)
    if video is not None and not Path(video.path).exists():
        return video
    return None


def _abs_glob(path: Path) -> list[Path]:
    anchor = Path(path.anchor)
    return sorted(anchor.glob(str(path.relative_to(anchor))))
