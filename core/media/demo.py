"""A synthetic video with known events, for the app's demo, the tests and the benchmarks.

The events are deliberately large and high-contrast: the learning benchmark trains only a
linear head on features of an untrained C3D, which sees each frame shrunk to 112×112, so the
classes must be told apart by gross appearance and motion alone. Everything is drawn from one
seed so a test or a benchmark can regenerate exactly the same pixels and ground truth.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import Cancelled, VideoError

log = logging.getLogger(__name__)

DEMO_CLASSES: tuple[str, ...] = ("ball_left", "ball_right", "flash")
"""Event classes of the demo, in the order a project created from it should list them."""

BACKGROUND = "background"
"""Class name that :func:`label_prefix` gives the stretches between events."""

FLASH_PERIOD = 4
"""Frames the flash square stays on, then off: fast enough that every 16-frame clip blinks."""

_BALL_COLOUR = (60, 230, 255)  # BGR: a bright yellow, far from the grey-brown background
_FLASH_COLOUR = (255, 255, 255)
_NOISE_BANK = 8  # distinct per-frame noise fields, cycled at random: cheap "live camera" grain
_PROGRESS_EVERY = 250


@dataclass(frozen=True)
class DemoEvent:
    """One ground-truth event; frames are half-open ``[start_frame, end_frame)``."""

    class_name: str
    start_frame: int
    end_frame: int


@dataclass(frozen=True)
class DemoVideo:
    """A generated video together with the ground truth it was drawn from."""

    path: Path
    frame_count: int
    fps: float
    width: int
    height: int
    events: tuple[DemoEvent, ...]

    def background_gaps(self) -> list[tuple[int, int]]:
        """Half-open ranges that no event covers, so background can be labelled as a class."""
        gaps: list[tuple[int, int]] = []
        cursor = 0
        for event in sorted(self.events, key=lambda e: e.start_frame):
            if event.start_frame > cursor:
                gaps.append((cursor, event.start_frame))
            cursor = max(cursor, event.end_frame)
        if cursor < self.frame_count:
            gaps.append((cursor, self.frame_count))
        return gaps


def _validate(
    seconds: float,
    fps: float,
    size: tuple[int, int],
    min_event_s: float,
    max_event_s: float,
    min_gap_s: float,
    max_gap_s: float,
) -> None:
    if seconds <= 0 or fps <= 0:
        raise ValueError(f"seconds and fps must be positive, got seconds={seconds} and fps={fps}.")
    if size[0] < 16 or size[1] < 16:
        raise ValueError(f"The demo frame must be at least 16×16 pixels, got {size[0]}×{size[1]}.")
    if not 0 < min_event_s <= max_event_s:
        raise ValueError(f"Need 0 < min_event_s <= max_event_s, got {min_event_s} and {max_event_s}.")
    if not 0 < min_gap_s <= max_gap_s:
        raise ValueError(f"Need 0 < min_gap_s <= max_gap_s, got {min_gap_s} and {max_gap_s}.")


def _plan_events(
    rng: np.random.Generator,
    frame_count: int,
    event_frames: tuple[int, int],
    gap_frames: tuple[int, int],
) -> tuple[DemoEvent, ...]:
    """Alternate background gaps and events until the video is full.

    Classes are dealt in shuffled rounds of all three, so every class occurs about equally
    often wherever the video is cut; the video starts and ends with background.
    """
    events: list[DemoEvent] = []
    deck: list[str] = []
    cursor = 0
    while True:
        gap = int(rng.integers(gap_frames[0], gap_frames[1] + 1))
        length = int(rng.integers(event_frames[0], event_frames[1] + 1))
        start = cursor + gap
        if start + length + gap_frames[0] > frame_count:
            break
        if not deck:
            deck = [DEMO_CLASSES[i] for i in rng.permutation(len(DEMO_CLASSES))]
        events.append(DemoEvent(deck.pop(), start, start + length))
        cursor = start + length
    return tuple(events)


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A static, mildly textured scene: smooth colour blotches plus fixed fine grain."""
    coarse = rng.uniform(50.0, 120.0, size=(6, 8, 3)).astype(np.float32)
    scene = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    scene += rng.normal(0.0, 6.0, size=(height, width, 3)).astype(np.float32)
    return np.asarray(np.clip(scene, 0, 255), dtype=np.float32)


def _noisy_frames(rng: np.random.Generator, scene: np.ndarray) -> list[np.ndarray]:
    bank: list[np.ndarray] = []
    for _ in range(_NOISE_BANK):
        noisy = scene + rng.normal(0.0, 3.0, size=scene.shape).astype(np.float32)
        bank.append(np.clip(noisy, 0, 255).astype(np.uint8))
    return bank


def _draw_event(frame: np.ndarray, event: DemoEvent, index: int) -> None:
    height, width = frame.shape[:2]
    offset = index - event.start_frame
    duration = event.end_frame - event.start_frame
    if event.class_name == "flash":
        if (offset // FLASH_PERIOD) % 2 == 0:
            half = height // 4
            cx, cy = width // 2, height // 2
            cv2.rectangle(frame, (cx - half, cy - half), (cx + half - 1, cy + half - 1), _FLASH_COLOUR, -1)
        return
    radius = max(2, height // 8)
    # The ball enters fully outside one edge and leaves fully outside the other, so its
    # position is a steady linear function of time across the whole event.
    progress = (offset + 0.5) / duration
    travel = -radius + progress * (width + 2 * radius)
    x = travel if event.class_name == "ball_right" else width - travel
    cv2.circle(frame, (round(x), height // 2), radius, _BALL_COLOUR, -1, lineType=cv2.LINE_AA)


def _open_writer(path: Path, fps: float, width: int, height: int) -> cv2.VideoWriter:
    suffix = path.suffix.lower()
    if suffix == ".avi":
        fourcc = cv2.VideoWriter.fourcc(*"MJPG")
    elif suffix == ".mp4":
        fourcc = cv2.VideoWriter.fourcc(*"mp4v")
    else:
        raise ValueError(f"The demo video must end in .avi (MJPEG) or .mp4 (mp4v), got {path.name!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, fourcc, fps, (width, height))
    if not writer.isOpened():
        raise VideoError(f"Could not create the demo video at {path}; check the folder is writable.")
    return writer


def generate_demo_video(
    path: Path | str,
    *,
    seconds: float = 60,
    fps: float = 25,
    size: tuple[int, int] = (320, 240),
    seed: int = 0,
    min_event_s: float = 1.5,
    max_event_s: float = 4.0,
    min_gap_s: float = 1.0,
    max_gap_s: float = 3.0,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> DemoVideo:
    """Write the demo video and return its ground truth.

    ``size`` is (width, height). Use a ``.avi`` path (MJPEG, every frame a keyframe, read back
    frame-exactly); ``.mp4`` gives mp4v. ``progress(done, total)`` is called every few hundred
    frames; setting ``cancel`` stops the job, removes the partial file and raises Cancelled.
    """
    path = Path(path)
    _validate(seconds, fps, size, min_event_s, max_event_s, min_gap_s, max_gap_s)
    width, height = int(size[0]), int(size[1])
    frame_count = max(1, round(seconds * fps))

    rng = np.random.default_rng(seed)
    event_frames = (max(1, round(min_event_s * fps)), max(1, round(max_event_s * fps)))
    gap_frames = (max(1, round(min_gap_s * fps)), max(1, round(max_gap_s * fps)))
    events = _plan_events(rng, frame_count, event_frames, gap_frames)
    bank = _noisy_frames(rng, _background(rng, width, height))
    noise_order = rng.integers(0, _NOISE_BANK, size=frame_count)

    owner = np.full(frame_count, -1, dtype=np.int64)
    for number, event in enumerate(events):
        owner[event.start_frame : event.end_frame] = number

    writer = _open_writer(path, fps, width, height)
    frame = np.empty((height, width, 3), dtype=np.uint8)
    finished = False
    try:
        for index in range(frame_count):
            if cancel is not None and cancel.is_set():
                raise Cancelled("Writing the demo video was cancelled.")
            np.copyto(frame, bank[noise_order[index]])
            if owner[index] >= 0:
                _draw_event(frame, events[owner[index]], index)
            writer.write(frame)
            if progress is not None and (index + 1) % _PROGRESS_EVERY == 0:
                progress(index + 1, frame_count)
        finished = True
    finally:
        writer.release()
        if not finished:
            path.unlink(missing_ok=True)
    if progress is not None:
        progress(frame_count, frame_count)
    log.info("Wrote demo video %s: %d frames, %d events", path, frame_count, len(events))
    return DemoVideo(path, frame_count, float(fps), width, height, events)


def label_prefix(demo: DemoVideo, fraction: float) -> list[DemoEvent]:
    """Ground truth for the first ``fraction`` of the video, background stretches included.

    This is what a user who has labelled the start of the video would have stored, so tests
    and benchmarks can simulate "part of it labelled" in one call. An event cut by the end of
    the prefix is truncated, as a user stopping there would have done.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}.")
    cut = round(fraction * demo.frame_count)
    pieces = list(demo.events) + [DemoEvent(BACKGROUND, s, e) for s, e in demo.background_gaps()]
    prefix = [
        DemoEvent(p.class_name, p.start_frame, min(p.end_frame, cut)) for p in pieces if p.start_frame < cut
    ]
    return sorted(prefix, key=lambda p: p.start_frame)
