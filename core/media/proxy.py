"""Scrubbing proxies: every frame of a video as its own small JPEG, so any frame shows at once.

Exact seeking in a long-GOP H.264 file decodes forward from the previous keyframe (100–400 ms
for 720p here); a proxy frame is one file read and a ~1 ms JPEG decode. The proxy is made by
decoding the original in order with ``VideoReader`` and storing each frame as it comes, so frame
i of the proxy *is* frame i of the original (same count; the timestamps are the original's
index), whatever the container does with B-frames, variable frame rate or timestamps. Only the
player shows proxies; the model always reads the original.

On disk, one folder per video under ``<project files>/proxies/``, named by content hash so a moved
file keeps its proxy::

    meta.json       the recipe (size, quality, frame count) the rest was made with
    timestamps.npy  the original's frame times, so the proxy describes itself
    frames.bin      the JPEGs back to back
    ends.u64        each frame's end offset in frames.bin (uint64, little-endian), one per frame
    complete        present once every frame is in
    last_used       touched whenever the proxy is built or opened: least recently used goes first

Each frame's bytes are flushed before its end offset is appended, so a killed build leaves at
worst some bytes after the last recorded end; resuming trims them and decodes on from there.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import cv2
import numpy as np

from core.atomic import atomic_write
from core.errors import Cancelled, VideoError
from core.media.video import VideoIndex, VideoReader
from core.store.records import Video

log = logging.getLogger(__name__)

MAX_SIDE = 640
"""Display resolution: the long side of a proxy frame (the player's view is rarely wider)."""
JPEG_QUALITY = 85
DEFAULT_BUDGET_BYTES = 2_000_000_000
"""Per project; when proxies outgrow it, the least recently used are deleted."""
FORMAT_VERSION = 1
_EVICT_EVERY = 512
"""Frames between budget checks while building."""

_META, _TIMES, _DATA, _ENDS, _COMPLETE, _USED = (
    "meta.json",
    "timestamps.npy",
    "frames.bin",
    "ends.u64",
    "complete",
    "last_used",
)


def proxy_size(width: int, height: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """(width, height) of the proxy of a ``width`` x ``height`` video: aspect kept, never enlarged."""
    scale = min(1.0, max_side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def shrink(bgr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The frame at proxy ``size``; tests compare proxies against exactly this."""
    if (bgr.shape[1], bgr.shape[0]) == size:
        return bgr
    return cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class BuildProgress:
    done: int
    total: int
    frames_per_s: float

    def line(self, name: str) -> str:
        pct = 100.0 * self.done / max(self.total, 1)
        counts = f"{self.done}/{self.total} frames, {self.frames_per_s:.0f} fps"
        return f"Scrubbing proxy for {name}: {pct:.0f}% ({counts})"


@dataclass(frozen=True)
class BuildResult:
    folder: Path
    frames: int  # frames in the proxy now
    total: int  # frames of the original
    written: int  # frames this call wrote (0 when the proxy was already complete)
    seconds: float
    over_budget: bool = False  # stopped because this proxy alone would not fit the budget
    busy: bool = False  # another process is building it

    @property
    def complete(self) -> bool:
        return self.frames == self.total

    @property
    def frames_per_s(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0


class ProxyLibrary:
    """The proxies of one project: where each lives, how big they are, which to drop."""

    def __init__(self, files_dir: str | Path, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.root = Path(files_dir) / "proxies"
        self.budget_bytes = int(budget_bytes)

    def folder(self, content_hash: str) -> Path:
        safe = "".join(ch for ch in content_hash if ch.isalnum() or ch in "-_")
        if not safe:
            raise VideoError(
                "A video without a content hash cannot have a proxy; add it to the project again."
            )
        return self.root / safe

    def open(self, content_hash: str) -> ProxyReader | None:
        """The proxy of a video if one exists (complete or not), marked as just used."""
        folder = self.folder(content_hash)
        if not (folder / _META).exists():
            return None
        try:
            reader = ProxyReader(folder)
        except (OSError, ValueError) as exc:
            log.warning("Proxy %s is unreadable (%s); it will be rebuilt", folder, exc)
            return None
        touch(folder)
        return reader

    def proxies(self) -> list[tuple[Path, float, int]]:
        """(folder, last used, bytes) of every proxy, least recently used first."""
        if not self.root.is_dir():
            return []
        found = []
        for folder in self.root.iterdir():
            if folder.is_dir():
                found.append((folder, _last_used(folder), _folder_bytes(folder)))
        return sorted(found, key=lambda item: item[1])

    def used_bytes(self) -> int:
        return sum(size for _, _, size in self.proxies())

    def evict(self, keep: Path | None = None) -> list[Path]:
        """Delete least-recently-used proxies until the rest fit the budget; ``keep`` stays."""
        entries = self.proxies()
        total = sum(size for _, _, size in entries)
        removed: list[Path] = []
        for folder, _, size in entries:
            if total <= self.budget_bytes:
                break
            if keep is not None and folder == keep:
                continue
            try:
                shutil.rmtree(folder)
            except OSError as exc:  # in use elsewhere (Windows) or vanished: try the next
                log.warning("Could not delete proxy %s: %s", folder, exc)
                continue
            log.info("Deleted scrubbing proxy %s (%d bytes) to stay within the budget", folder, size)
            removed.append(folder)
            total -= size
        return removed


def touch(folder: Path) -> None:
    """Mark a proxy as just used (its place in the least-recently-used order)."""
    try:
        (folder / _USED).touch()
    except OSError as exc:
        log.debug("Cannot mark proxy %s as used: %s", folder, exc)


def _last_used(folder: Path) -> float:
    for name in (_USED, _META):
        try:
            return (folder / name).stat().st_mtime
        except OSError:
            continue
    return 0.0


def _folder_bytes(folder: Path) -> int:
    total = 0
    for item in folder.iterdir():
        try:
            total += item.stat().st_size
        except OSError:
            continue
    return total


class ProxyReader:
    """Frames of one proxy by number. A proxy still being built grows: ``refresh`` sees new frames.

    Use from one thread.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        meta = json.loads((self.folder / _META).read_text(encoding="utf-8"))
        if meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"proxy format {meta.get('version')!r} is not {FORMAT_VERSION}")
        self.frame_count: int = int(meta["frame_count"])
        self.width: int = int(meta["width"])
        self.height: int = int(meta["height"])
        self.timestamps_s: np.ndarray = np.load(self.folder / _TIMES)
        self._ends = np.zeros(0, dtype=np.uint64)
        self._data: IO[bytes] = (self.folder / _DATA).open("rb")
        self.complete = False
        self.refresh()

    @property
    def frames(self) -> int:
        """Frames readable now (all of them once ``complete``)."""
        return len(self._ends)

    def refresh(self) -> int:
        """Pick up frames a running build has added since; returns ``frames``."""
        if self.complete:
            return self.frames
        complete = (self.folder / _COMPLETE).exists()
        self._ends = _read_ends(self.folder / _ENDS, os.fstat(self._data.fileno()).st_size)[
            : self.frame_count
        ]
        self.complete = complete and self.frames == self.frame_count
        return self.frames

    def has(self, i: int) -> bool:
        return 0 <= i < self.frames or (0 <= i < self.frame_count and i < self.refresh())

    def jpeg(self, i: int) -> bytes:
        if not self.has(i):
            raise VideoError(f"Frame {i} is not in the scrubbing proxy of '{self.folder.name}' yet.")
        start = int(self._ends[i - 1]) if i > 0 else 0
        self._data.seek(start)
        return self._data.read(int(self._ends[i]) - start)

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` (BGR uint8) at proxy size."""
        img = cv2.imdecode(np.frombuffer(self.jpeg(i), dtype=np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise VideoError(
                f"Frame {i} of the scrubbing proxy '{self.folder}' is damaged; delete the folder."
            )
        return img

    def close(self) -> None:
        self._data.close()

    def __enter__(self) -> ProxyReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _read_ends(path: Path, data_size: int) -> np.ndarray:
    """The recorded frame ends that are whole, increasing and backed by data."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return np.zeros(0, dtype=np.uint64)
    ends = np.frombuffer(raw[: len(raw) // 8 * 8], dtype="<u8").astype(np.uint64)
    if len(ends) == 0:
        return ends
    good = np.concatenate(([ends[0] > 0], np.diff(ends.astype(np.int64)) > 0)) & (ends <= data_size)
    bad = np.flatnonzero(~good)
    return ends[: bad[0]] if len(bad) else ends


def build_proxy(
    video_path: str | Path,
    index: VideoIndex,
    content_hash: str,
    library: ProxyLibrary,
    cancel: threading.Event | None = None,
    progress: Callable[[BuildProgress], None] | None = None,
    max_side: int = MAX_SIDE,
    quality: int = JPEG_QUALITY,
) -> BuildResult:
    """Make (or finish) the proxy of a video; frames already written are kept.

    Raises ``Cancelled`` when ``cancel`` is set (what was written stays, and the next call
    resumes) and ``VideoError`` when the original no longer decodes to its indexed frames.
    """
    started = time.perf_counter()
    folder = library.folder(content_hash)
    folder.mkdir(parents=True, exist_ok=True)
    with _BuildLock(folder) as locked:
        if not locked:
            log.info("Proxy %s is being built by another process", folder)
            return BuildResult(folder, 0, index.frame_count, 0, 0.0, busy=True)
        touch(folder)
        with VideoReader(video_path, index=index) as reader:
            size = proxy_size(reader.width, reader.height, max_side)
            meta = {
                "version": FORMAT_VERSION,
                "frame_count": index.frame_count,
                "width": size[0],
                "height": size[1],
                "quality": quality,
                "source_width": reader.width,
                "source_height": reader.height,
            }
            done = _prepare(folder, meta, index)
            if done < index.frame_count:
                result = _encode_from(reader, done, folder, library, size, quality, cancel, progress, started)
                if result is not None:
                    return result
        (folder / _COMPLETE).touch()
    library.evict(keep=folder)
    seconds = time.perf_counter() - started
    written = index.frame_count - done
    log.info(
        "Proxy %s complete: %d frames (%d written in %.1f s)", folder, index.frame_count, written, seconds
    )
    return BuildResult(folder, index.frame_count, index.frame_count, written, seconds)


def _prepare(folder: Path, meta: dict[str, int], index: VideoIndex) -> int:
    """Frames already made with the same recipe (0 after starting afresh); stray bytes trimmed."""
    try:
        old = json.loads((folder / _META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    if old != meta or not _same_times(folder / _TIMES, index):
        if old is not None:
            log.info("Proxy %s was made differently; starting it again", folder)
        for name in (_COMPLETE, _ENDS, _DATA, _TIMES):
            (folder / name).unlink(missing_ok=True)
        np.save(folder / _TIMES, index.timestamps_s)
        (folder / _DATA).touch()
        with atomic_write(folder / _META) as fh:
            json.dump(meta, fh)
        return 0
    data = folder / _DATA
    data.touch()
    ends = _read_ends(folder / _ENDS, data.stat().st_size)
    with (folder / _ENDS).open("r+b" if (folder / _ENDS).exists() else "wb") as fh:
        fh.truncate(len(ends) * 8)
    with data.open("r+b") as fh:
        fh.truncate(int(ends[-1]) if len(ends) else 0)
    if len(ends) < index.frame_count:
        (folder / _COMPLETE).unlink(missing_ok=True)
    elif len(ends):
        log.debug("Proxy %s was already complete", folder)
    return len(ends)


def _same_times(path: Path, index: VideoIndex) -> bool:
    """The proxy was made for this index (a re-indexed or replaced video starts afresh)."""
    try:
        return bool(np.array_equal(np.load(path), index.timestamps_s))
    except (OSError, ValueError):
        return False


def _encode_from(
    reader: VideoReader,
    start: int,
    folder: Path,
    library: ProxyLibrary,
    size: tuple[int, int],
    quality: int,
    cancel: threading.Event | None,
    progress: Callable[[BuildProgress], None] | None,
    started: float,
) -> BuildResult | None:
    """Append frames ``start``… ; a result only when stopping early (over budget)."""
    total = reader.frame_count
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    done, since = start, time.perf_counter()
    last_report = 0.0
    with (folder / _DATA).open("ab") as data, (folder / _ENDS).open("ab") as ends:
        offset = data.tell()
        for i, img in reader.iter_from(start):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"Making the scrubbing proxy stopped at frame {done}; it resumes next time.")
            if i >= total:
                break
            ok, jpeg = cv2.imencode(".jpg", shrink(img, size), params)
            if not ok:
                raise VideoError(f"Frame {i} could not be encoded for the scrubbing proxy.")
            data.write(jpeg.tobytes())
            data.flush()
            offset += len(jpeg)
            ends.write(np.uint64(offset).astype("<u8").tobytes())
            ends.flush()
            done = i + 1
            now = time.perf_counter()
            if progress is not None and (now - last_report > 0.5 or done == total):
                last_report = now
                progress(BuildProgress(done, total, (done - start) / max(now - since, 1e-9)))
            if done % _EVICT_EVERY == 0:
                library.evict(keep=folder)
                if _folder_bytes(folder) > library.budget_bytes:
                    log.warning("Proxy %s stopped at frame %d: it would not fit the budget", folder, done)
                    return BuildResult(
                        folder, done, total, done - start, time.perf_counter() - started, over_budget=True
                    )
    if done != total:
        raise VideoError(
            f"'{reader.path}' now decodes to {done} frames, not the {total} it was indexed with; "
            "it changed on disk, so add it to the project again."
        )
    return None


class _BuildLock:
    """An advisory lock on the proxy folder, so two processes never append to one proxy."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / ".lock"
        self._fh: IO[bytes] | None = None

    def __enter__(self) -> bool:
        self._fh = self.path.open("ab")
        try:
            import fcntl
        except ImportError:  # Windows: one app per project is the norm there
            return True
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def __exit__(self, *exc_info: object) -> None:
        if self._fh is not None:
            self._fh.close()  # closing releases the lock
            self._fh = None


def build_video_proxy(
    files_dir: str | Path,
    video: Video,
    cancel: threading.Event | None = None,
    progress: Callable[[BuildProgress], None] | None = None,
    budget_bytes: int = DEFAULT_BUDGET_BYTES,
) -> BuildResult:
    """``build_proxy`` for a project's video; it must be indexed (the index fixes the frames)."""
    if video.frame_count is None or video.timestamps_s is None:
        raise VideoError(f"'{Path(video.path).name}' must be indexed before its scrubbing proxy is made.")
    if not Path(video.path).exists():
        raise VideoError(f"The video file {video.path} is missing: relink it to its new location.")
    index = VideoIndex(video.frame_count, video.timestamps_s)
    library = ProxyLibrary(files_dir, budget_bytes)
    return build_proxy(video.path, index, video.content_hash, library, cancel, progress)


def open_video_proxy(files_dir: str | Path, video: Video) -> ProxyReader | None:
    """The proxy of a project's video when one exists that matches its index; else None."""
    if video.frame_count is None:
        return None
    reader = ProxyLibrary(files_dir).open(video.content_hash)
    if reader is not None and reader.frame_count != video.frame_count:
        log.warning(
            "Proxy %s has %d frames, the video %d; not using it",
            reader.folder,
            reader.frame_count,
            video.frame_count,
        )
        reader.close()
        return None
    return reader
