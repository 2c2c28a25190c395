"""Cutting the windows still to analyse into chunks a worker decodes front to back.

A chunk is one video's run of consecutive window starts, at most ``chunk_windows`` long: the
worker seeks once to its first frame and then decodes sequentially, so the price of a seek is
paid once per chunk rather than once per window. Windows already stored split runs, so a
resumed analysis never decodes a stretch whose windows are all done. A video whose frame count
is still unknown (never decoded whole) is one chunk to its true end: headers lie about length,
and only that full decode tells where the last window begins.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from core.analysis.windows import window_starts

log = logging.getLogger(__name__)

DEFAULT_CHUNK_WINDOWS = 64
"""512 frames at stride 8: ~20 s of C3D on a CPU worker, a fraction of a second on a GPU."""


@dataclass(frozen=True)
class Chunk:
    """Window starts of one video a worker computes; ``end_frame`` None means "to the true end"."""

    video_id: int
    run_id: int
    starts: tuple[int, ...]
    first_frame: int
    end_frame: int | None
    skip: tuple[int, ...] = ()  # only for a whole-video chunk: windows already stored

    @property
    def whole_video(self) -> bool:
        return self.end_frame is None

    def to_json(self) -> str:
        return json.dumps(
            {
                "video_id": self.video_id,
                "run_id": self.run_id,
                "starts": list(self.starts),
                "first_frame": self.first_frame,
                "end_frame": self.end_frame,
                "skip": list(self.skip),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Chunk:
        d = json.loads(text)
        return cls(
            video_id=int(d["video_id"]),
            run_id=int(d["run_id"]),
            starts=tuple(int(s) for s in d["starts"]),
            first_frame=int(d["first_frame"]),
            end_frame=None if d["end_frame"] is None else int(d["end_frame"]),
            skip=tuple(int(s) for s in d["skip"]),
        )


def plan_video(
    video_id: int,
    run_id: int,
    frame_count: int | None,
    done: Iterable[int],
    *,
    window: int,
    stride: int,
    chunk_windows: int = DEFAULT_CHUNK_WINDOWS,
) -> list[Chunk]:
    """The chunks covering every window of one video not in ``done`` (none if all are)."""
    if chunk_windows < 1:
        raise ValueError(f"chunk_windows must be at least 1, got {chunk_windows}.")
    done_set = set(done)
    if frame_count is None:
        return [Chunk(video_id, run_id, (), 0, None, tuple(sorted(done_set)))]
    starts = window_starts(max(frame_count, 1), window, stride).tolist()
    chunks: list[Chunk] = []
    run: list[int] = []
    for start in starts:
        if start in done_set:
            chunks.extend(_split(video_id, run_id, run, frame_count, window, stride, chunk_windows))
            run = []
        else:
            run.append(start)
    chunks.extend(_split(video_id, run_id, run, frame_count, window, stride, chunk_windows))
    return chunks


def _split(
    video_id: int,
    run_id: int,
    run: list[int],
    frame_count: int,
    window: int,
    stride: int,
    chunk_windows: int,
) -> list[Chunk]:
    out = []
    for i in range(0, len(run), chunk_windows):
        part = run[i : i + chunk_windows]
        # Decoding starts on the stride grid so the window producer's grid lines up with ours;
        # only the last, end-aligned window can lie off it, and it costs < stride extra frames.
        first = (part[0] // stride) * stride
        end = min(part[-1] + window, frame_count)
        out.append(Chunk(video_id, run_id, tuple(part), first, end))
    return out
