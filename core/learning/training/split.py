"""Validation splits that cannot leak.

Windows overlap (a 16-frame window every 8 frames), so a random split of windows would put
half of every validation clip into training and report a score the model has not earned.
With two or more labelled videos whole videos are held out. With one, contiguous time
blocks are, and every training window stays at least one window length away from them, so
no frame is seen on both sides. The split is saved with the model version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from core.errors import TrainingError
from core.learning.training.dataset import TrainingSet

log = logging.getLogger(__name__)

TRAIN, VAL, EXCLUDED = 0, 1, -1
_MAX_BLOCKS = 4
_MIN_BLOCK_WINDOWS = 10  # a block shorter than ~10 window lengths wastes too much on gaps


@dataclass(frozen=True)
class Split:
    kind: Literal["videos", "time-blocks"]
    window: int
    gap: int
    val_video_ids: tuple[int, ...] = ()
    val_blocks: tuple[tuple[int, int, int], ...] = ()  # (video id, first frame, end frame)

    def assign(self, video_id: int, starts: np.ndarray) -> np.ndarray:
        """TRAIN, VAL or EXCLUDED (too close to a validation block) for each window start."""
        s = np.asarray(starts, dtype=np.int64)
        if self.kind == "videos":
            return np.full(len(s), VAL if video_id in self.val_video_ids else TRAIN, dtype=np.int64)
        out = np.full(len(s), TRAIN, dtype=np.int64)
        end = s + self.window
        for vid, first, last in self.val_blocks:
            if vid != video_id:
                continue
            near = (end > first - self.gap) & (s < last + self.gap)
            out[near] = EXCLUDED
            out[(s >= first) & (end <= last)] = VAL
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "window": self.window,
            "gap": self.gap,
            "val_video_ids": list(self.val_video_ids),
            "val_blocks": [list(b) for b in self.val_blocks],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Split:
        return cls(
            kind=raw["kind"],
            window=int(raw["window"]),
            gap=int(raw["gap"]),
            val_video_ids=tuple(int(v) for v in raw["val_video_ids"]),
            val_blocks=tuple((int(a), int(b), int(c)) for a, b, c in raw["val_blocks"]),
        )


def make_split(data: TrainingSet, val_fraction: float = 0.2, seed: int = 0) -> Split:
    """Held-out videos when there are two or more labelled videos, else time blocks."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    window = data.window
    if len(data.videos) >= 2:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(data.videos))
        total = sum(v.n_labelled for v in data.videos)
        chosen: list[int] = []
        held = 0
        for i in order[:-1]:  # always keep one video for training
            chosen.append(data.videos[i].video.id)
            held += data.videos[i].n_labelled
            if held >= val_fraction * total:
                break
        return Split("videos", window, window, val_video_ids=tuple(sorted(chosen)))

    item = data.videos[0]
    labelled = item.starts[item.labelled]
    lo, hi = int(labelled.min()), int(labelled.max()) + window
    span = hi - lo
    val_total = max(window, round(span * val_fraction))
    n_blocks = int(np.clip(val_total // (_MIN_BLOCK_WINDOWS * window), 1, _MAX_BLOCKS))
    block = max(window, val_total // n_blocks)
    blocks = []
    for i in range(n_blocks):  # each block ends at the end of its share, the last at ``hi``
        end = lo + round(span * (i + 1) / n_blocks)
        blocks.append((item.video.id, max(lo, end - block), end))
    split = Split("time-blocks", window, window, val_blocks=tuple(blocks))
    roles = split.assign(item.video.id, item.starts)[item.labelled]
    if not (roles == TRAIN).any() or not (roles == VAL).any():
        raise TrainingError(
            f"Too little is labelled to hold some out for validation: label at least {4 * window} "
            "consecutive frames, or label a second video."
        )
    return split
