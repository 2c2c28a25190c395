"""Frame-exact reading of video files.

Labels are frame numbers, so a frame number must always mean the same image: the one sequential
decoding from the start yields. Containers' frame counts and OpenCV's ``CAP_PROP_POS_FRAMES``
seeking cannot be trusted for that (variable frame rate, truncated files, H.264 with B-frames and
long GOPs), so the reader learns the truth by decoding (``VideoIndex``), identifies where every
seek really landed before using it, and falls back to decoding from the start when it cannot tell.

Threads: a ``VideoReader`` and the iterators it returns belong to one thread. Open one reader per
thread (opening is cheap; pass the saved ``VideoIndex`` so it is not rebuilt).
"""

from __future__ import annotations

import logging
import math
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import Cancelled, VideoError

log = logging.getLogger(__name__)

FALLBACK_FPS = 25.0

_STILL_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*")
_CACHE_BYTES = 96 << 20
"""Recently decoded frames kept, so stepping back and forth in the GUI does not re-decode."""
_BACKFILL = (4, 32)
"""Fewest and most frames before a backward jump's target that are cached on the way there, so
the next steps back are free (a seek costs a decode from the keyframe, a cached frame ~1 ms)."""
_MATCH_TOL_S = 0.0005
"""Decoder timestamps are exact pts conversions; this only absorbs float rounding."""


@dataclass(frozen=True, eq=False)
class VideoIndex:
    """What a full decode learned: the true frame count and each frame's presentation time.

    ``timestamps_s`` start at 0 (the first frame) and strictly increase.
    """

    frame_count: int
    timestamps_s: np.ndarray

    def __post_init__(self) -> None:
        ts = np.array(self.timestamps_s, dtype=np.float64).reshape(-1)
        if self.frame_count < 0 or len(ts) != self.frame_count:
            raise ValueError(f"index has {len(ts)} timestamps for {self.frame_count} frames")
        ts.setflags(write=False)
        object.__setattr__(self, "timestamps_s", ts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VideoIndex):
            return NotImplemented
        return self.frame_count == other.frame_count and np.array_equal(self.timestamps_s, other.timestamps_s)

    __hash__ = None  # type: ignore[assignment]


def _check_file(path: Path) -> None:
    """Reject what FFmpeg would choke on, hang on (a FIFO) or accept as a one-frame "video"."""
    head = b""
    try:
        st = path.stat()
        if stat.S_ISREG(st.st_mode) and st.st_size > 0:
            with path.open("rb") as fh:
                head = fh.read(16)
    except FileNotFoundError as exc:
        raise VideoError(f"Video file '{path}' does not exist; check the path, or relink the video.") from exc
    except OSError as exc:
        raise VideoError(
            f"Video file '{path}' cannot be read ({exc.strerror}); check its permissions."
        ) from exc
    if stat.S_ISDIR(st.st_mode):
        raise VideoError(f"'{path}' is a folder, not a video file; choose a video file instead.")
    if not stat.S_ISREG(st.st_mode):
        raise VideoError(f"'{path}' is not a regular file; choose a video file instead.")
    if st.st_size == 0:
        raise VideoError(f"Video file '{path}' is empty (0 bytes); copy or export it again.")
    if head.startswith(_STILL_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        raise VideoError(f"'{path}' is a still image, not a video; choose a video file such as .mp4 or .avi.")


def _clean_timestamps(raw_ms: list[float], t0_ms: float, path: Path) -> np.ndarray:
    """Seconds from the first frame, made strictly increasing.

    Streams without usable pts repeat or reverse timestamps; nudging them keeps ``seconds()``
    monotonic, and such frames are never used to identify a seek landing (see ``_identify``).
    """
    ts = (np.asarray(raw_ms, dtype=np.float64) - t0_ms) / 1000.0
    bad = 0
    for k in range(1, len(ts)):
        if ts[k] <= ts[k - 1]:
            ts[k] = ts[k - 1] + 1e-6
            bad += 1
    if bad:
        log.warning("%s: %d frames have missing or out-of-order timestamps", path, bad)
    return ts


class _Decoder:
    """One ``cv2.VideoCapture`` and which frame it last decoded."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
            opened = self.cap.isOpened()
        except cv2.error as exc:
            raise _unreadable(path) from exc
        if not opened:
            raise _unreadable(path)
        self.last = -1  # number of the frame last grabbed
        self.contiguous = True  # every frame from 0 to ``last`` was grabbed in order

    def grab(self) -> float | None:
        """Decode the next frame; its timestamp in ms, or None where decoding stops."""
        try:
            if not self.cap.grab():
                return None
            ms = float(self.cap.get(cv2.CAP_PROP_POS_MSEC))
        except cv2.error as exc:
            log.warning("%s: decoding stopped after frame %d: %s", self.path, self.last, exc)
            return None
        self.last += 1
        return ms

    def retrieve(self) -> np.ndarray:
        error = VideoError(f"Frame {self.last} of '{self.path}' cannot be decoded; the file may be damaged.")
        try:
            ok, img = self.cap.retrieve()
        except cv2.error as exc:
            raise error from exc
        if not ok or img is None:
            raise error
        return np.asarray(img)

    def release(self) -> None:
        self.cap.release()


def _unreadable(path: Path) -> VideoError:
    return VideoError(
        f"Video file '{path}' cannot be opened: it is not a format FFmpeg can read or it is damaged "
        "(for example an unfinished recording or copy), so convert or re-export it."
    )


class _EndOfVideo(Exception):
    """Decoding stopped before the wanted frame."""


class VideoReader:
    """Exact frames of one video file, by number or in order. Use from one thread only."""

    def __init__(self, path: str | Path, index: VideoIndex | None = None) -> None:
        self.path = Path(path)
        _check_file(self.path)
        self._dec: _Decoder | None = _Decoder(self.path)
        cap = self._dec.cap
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        if not math.isfinite(fps) or fps <= 0.0 or fps > 10_000:
            log.warning("%s: header frame rate %r is unusable, assuming %s fps", self.path, fps, FALLBACK_FPS)
            fps = FALLBACK_FPS
        self.fps: float = fps
        count = float(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.header_frame_count: int = int(count) if math.isfinite(count) and 0 < count < 2**31 else 0
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._known_ms: list[float] = []  # raw timestamps of frames 0.. seen in order from the start
        self._index: VideoIndex | None = None
        self._ts_trusted = False
        self._grab_s = 0.004  # running estimates that decide between decoding forward and seeking
        self._seek_s = 0.2
        self._stats = {"seek": 0, "restart": 0, "fallback": 0}  # how frames were reached, for tests
        first = self._read_first(self._dec)
        self.height: int = int(first.shape[0])
        self.width: int = int(first.shape[1])
        if index is not None:
            self._adopt_index(index)

    def _read_first(self, dec: _Decoder) -> np.ndarray:
        ms = dec.grab()
        if ms is None:
            self.close()
            raise VideoError(
                f"Video file '{self.path}' has no decodable frames; it is damaged, so re-export it."
            )
        self._note(dec, ms)
        img = dec.retrieve()
        self._remember(0, img)
        self._t0_ms = ms
        # A second timestamp lets a saved index be checked against this decoder.
        if (ms1 := dec.grab()) is not None:
            self._note(dec, ms1)
        else:
            self._reached_end(dec)
        return img

    # --- index -------------------------------------------------------------------------------

    @property
    def index(self) -> VideoIndex | None:
        return self._index

    @property
    def frame_count(self) -> int:
        return self._index.frame_count if self._index is not None else self.header_frame_count

    def _adopt_index(self, index: VideoIndex) -> None:
        self._index = index
        ts = index.timestamps_s
        known = (np.asarray(self._known_ms[: len(ts)]) - self._t0_ms) / 1000.0
        self._ts_trusted = len(ts) > 0 and np.allclose(ts[: len(known)], known, rtol=0, atol=_MATCH_TOL_S)
        if not self._ts_trusted:
            log.warning("%s: saved index does not match the decoder; seeking will be slower", self.path)

    def _note(self, dec: _Decoder, ms: float) -> None:
        """Extend the known in-order timestamps when ``dec`` just decoded the next unseen frame."""
        if dec.contiguous and dec.last == len(self._known_ms):
            self._known_ms.append(ms)

    def _reached_end(self, dec: _Decoder) -> None:
        """A decoder that went from frame 0 to the end in order has seen the whole truth."""
        if self._index is None and dec.contiguous and dec.last + 1 == len(self._known_ms):
            ts = _clean_timestamps(self._known_ms, self._t0_ms, self.path)
            self._index = VideoIndex(len(ts), ts)
            self._ts_trusted = True
            if len(ts) != self.header_frame_count:
                log.info("%s: header claims %d frames, found %d", self.path, self.header_frame_count, len(ts))

    def build_index(
        self, cancel: threading.Event | None = None, progress: Callable[[int], None] | None = None
    ) -> VideoIndex:
        """Decode the whole file once (no colour conversion) to learn the true count and times.

        Raises ``Cancelled`` when ``cancel`` is set; ``progress`` gets the frames decoded so far.
        """
        if self._index is not None:
            return self._index
        dec = _Decoder(self.path)
        try:
            while (ms := dec.grab()) is not None:
                self._note(dec, ms)
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"Indexing '{self.path}' was cancelled; start it again to finish.")
                if progress is not None and dec.last % 256 == 0:
                    progress(dec.last + 1)
            self._reached_end(dec)
        finally:
            dec.release()
        if self._index is None:  # only if the file changed while open
            raise VideoError(f"Video file '{self.path}' changed while it was being indexed; open it again.")
        return self._index

    # --- time ------------------------------------------------------------------------------

    def seconds(self, frame: int) -> float:
        """Start time of ``frame``; ``frame_count`` gives the end of the video. Extrapolates at 1/fps."""
        if self._index is None or self._index.frame_count == 0:
            return frame / self.fps
        ts, n = self._index.timestamps_s, self._index.frame_count
        if frame < 0:
            return float(frame / self.fps)
        if frame < n:
            return float(ts[frame])
        last = float(ts[-1] - ts[-2]) if n >= 2 else 1.0 / self.fps
        return float(ts[-1]) + last + (frame - n) / self.fps

    def frame_at_seconds(self, t: float) -> int:
        """The frame on screen at time ``t`` (clamped to the first and last frame)."""
        if self._index is None or self._index.frame_count == 0:
            f = math.floor(t * self.fps + 1e-6)
            upper = self.header_frame_count - 1 if self.header_frame_count > 0 else f
            return max(0, min(f, upper))
        j = int(np.searchsorted(self._index.timestamps_s, t + 1e-9, side="right")) - 1
        return max(0, min(j, self._index.frame_count - 1))

    # --- frames ----------------------------------------------------------------------------

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` (BGR uint8), exactly as sequential decoding yields it. A copy: draw on it freely."""
        i = int(i)
        cached = self._cache.get(i)
        if cached is not None:
            self._cache.move_to_end(i)
            return cached.copy()
        self._check_range(i)
        if self._dec is None:
            raise VideoError(f"Video '{self.path}' was closed; open it again to read frames.")
        try:
            img = self._decode_to(self._dec, i, keep=self._backfill() if i < self._dec.last else 0)
        except _EndOfVideo as exc:
            raise self._past_end(i) from exc
        return img.copy()

    def _backfill(self) -> int:
        fits = _CACHE_BYTES // 2 // (self.width * self.height * 3)
        return max(_BACKFILL[0], min(_BACKFILL[1], fits))

    def _check_range(self, i: int) -> None:
        if i < 0 or (self._index is not None and i >= self._index.frame_count):
            raise self._past_end(i)

    def _past_end(self, i: int) -> VideoError:
        if self._index is None:
            return VideoError(f"Frame {i} of '{self.path}' cannot be decoded; the video ends before it.")
        n = self._index.frame_count
        return VideoError(f"Frame {i} is out of range for '{self.path}', which has frames 0 to {n - 1}.")

    def _remember(self, i: int, img: np.ndarray) -> None:
        self._cache[i] = img
        self._cache.move_to_end(i)
        while len(self._cache) > 1 and sum(a.nbytes for a in self._cache.values()) > _CACHE_BYTES:
            self._cache.popitem(last=False)

    def _decode_to(self, dec: _Decoder, target: int, keep: int = 0) -> np.ndarray:
        """Move ``dec`` so that it has just decoded ``target`` and return that image.

        The ``keep`` frames before the target are cached on the way. Raises ``_EndOfVideo``.
        """
        ahead = target - dec.last
        forward_limit = max(8, min(2000, int(self._seek_s / max(self._grab_s, 1e-5))))
        if ahead < 0 or ahead > forward_limit:
            if target <= forward_limit:
                self._restart(dec)
            else:
                self._seek(dec, target, margin=max(1, keep))
        started, start_last = time.perf_counter(), dec.last
        while dec.last < target:
            ms = dec.grab()
            if ms is None:
                self._reached_end(dec)
                raise _EndOfVideo
            self._note(dec, ms)
            if target - dec.last <= keep and dec.last < target:
                self._remember(dec.last, dec.retrieve())
        if dec.last > start_last + 4:
            per = (time.perf_counter() - started) / (dec.last - start_last)
            self._grab_s = 0.8 * self._grab_s + 0.2 * per
        img = dec.retrieve()
        self._remember(target, img)
        return img

    def _restart(self, dec: _Decoder) -> None:
        """Reopen at frame 0: slow for far targets, but exact without any identification."""
        self._stats["restart"] += 1
        dec.cap.release()
        fresh = _Decoder(self.path)
        dec.cap, dec.last, dec.contiguous = fresh.cap, -1, True

    def _seek(self, dec: _Decoder, target: int, margin: int) -> None:
        """Seek somewhere at or before ``target``, learn exactly where, or else restart."""
        for _ in range(3):
            back = max(0, target - margin)
            k = back
            if self._index is not None:  # OpenCV versions differ: frame index or time * fps
                k = min(k, math.floor(float(self._index.timestamps_s[back]) * self.fps + 1e-6))
            started = time.perf_counter()
            try:
                dec.cap.set(cv2.CAP_PROP_POS_FRAMES, float(k))
                ok = dec.cap.grab()
                ms = float(dec.cap.get(cv2.CAP_PROP_POS_MSEC))
                pos = float(dec.cap.get(cv2.CAP_PROP_POS_FRAMES))
            except cv2.error as exc:
                log.debug("%s: seek to %d failed: %s", self.path, k, exc)
                break
            self._seek_s = 0.7 * self._seek_s + 0.3 * (time.perf_counter() - started)
            landed = self._identify(ms, pos) if ok else None
            if landed is None:
                break
            if landed <= target:
                dec.last, dec.contiguous = landed, False
                self._stats["seek"] += 1
                return
            margin = margin * 4 + 8
        log.debug("%s: could not identify a seek to frame %d; decoding from the start", self.path, target)
        self._stats["fallback"] += 1
        self._restart(dec)

    def _identify(self, ms: float, pos_frames: float) -> int | None:
        """The number of the frame a seek landed on, or None when it cannot be told for sure."""
        t = (ms - self._t0_ms) / 1000.0
        if self._index is not None and self._ts_trusted:
            return _unique_match(self._index.timestamps_s, t)
        known = (np.asarray(self._known_ms) - self._t0_ms) / 1000.0
        if len(known) and t <= known[-1]:
            return _unique_match(known, t) if bool(np.all(np.diff(known) > 0)) else None
        # Unindexed and unseen: trust a constant-rate position only if OpenCV's count agrees with it
        # and every frame seen so far sat on the same grid. A VFR file can still fool this, which is
        # why the app indexes videos before labelling them.
        grid = t * self.fps
        n = round(grid)
        on_grid = np.abs(known * self.fps - np.arange(len(known))) < 0.1
        if abs(grid - n) < 0.1 and int(pos_frames) - 1 == n >= len(known) and bool(np.all(on_grid)):
            return n
        return None

    # --- iteration ---------------------------------------------------------------------------

    def __iter__(self) -> Iterator[np.ndarray]:
        """Every frame from 0, in order, on its own decoder; a full pass records the index."""
        for _, img in self.iter_from(0):
            yield img

    def iter_from(self, start: int) -> Iterator[tuple[int, np.ndarray]]:
        """(frame number, image) from ``start`` to the end, on a decoder of its own."""
        start = int(start)
        if start < 0 or (self._index is not None and start > self._index.frame_count):
            self._check_range(start)
        dec = _Decoder(self.path)
        try:
            try:
                img = self._decode_to(dec, start)
            except _EndOfVideo:
                if start == self.frame_count and self._index is not None:
                    return
                raise self._past_end(start) from None
            yield start, img.copy()  # the cache keeps ``img``
            while (ms := dec.grab()) is not None:
                self._note(dec, ms)
                yield dec.last, dec.retrieve()
            self._reached_end(dec)
        finally:
            dec.release()

    # --- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        if self._dec is not None:
            self._dec.release()
            self._dec = None
        self._cache.clear()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _unique_match(ts: np.ndarray, t: float) -> int | None:
    """Index of the timestamp equal to ``t``, if no neighbour is close enough to be confused with it."""
    j = int(np.searchsorted(ts, t))
    for cand in (j - 1, j):
        if 0 <= cand < len(ts) and abs(ts[cand] - t) <= _MATCH_TOL_S:
            gap_before = ts[cand] - ts[cand - 1] if cand > 0 else np.inf
            gap_after = ts[cand + 1] - ts[cand] if cand + 1 < len(ts) else np.inf
            return cand if min(gap_before, gap_after) > 2 * _MATCH_TOL_S else None
    return None
