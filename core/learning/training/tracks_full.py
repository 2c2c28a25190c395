"""Mode ``full`` with several tracks: every layer trains on decoded clips, the heads' losses summed.

The same losses as ``last-layers`` with several tracks (``tracks_task.summed_loss``), but the
whole network learns from augmented clips, as single-track ``full`` does. No temporal jitter
here: a point track's target says an event falls in the window's central frames, which a
shifted window would no longer be true of.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.errors import TrainingError
from core.learning.track_learning import held_blocks, video_targets
from core.learning.training.dataset import UNLABELLED
from core.learning.training.full import BN_TRAIN_MIN_BATCH, ClipReader, augment
from core.learning.training.tracks_task import (
    summed_loss,
    track_class_weights,
    watched_probs,
    watched_track,
)
from core.model.device import DeviceChoice
from core.model.network import BN_LAYERS, C3D_BN
from core.model.preprocess import clips_to_tensor
from core.model.spec import InputSpec
from core.model.track_heads import TrackedC3D, TrackSpec, head_probs
from core.store import Store
from core.store.records import TrackKind, Video


@dataclass(frozen=True)
class ClipRows:
    """Every window of the labelled videos: where it is, whether it is held out, its targets."""

    videos: list[Video]
    starts: np.ndarray  # int64 (N,)
    held: np.ndarray  # bool (N,)
    targets: dict[str, np.ndarray]

    def part(self, mask: np.ndarray) -> tuple[list[tuple[Video, int]], dict[str, np.ndarray]]:
        rows = np.flatnonzero(mask)
        return (
            [(self.videos[i], int(self.starts[i])) for i in rows],
            {name: t[rows] for name, t in self.targets.items()},
        )


def clip_rows(
    store: Store, specs: Sequence[TrackSpec], window: int, stride: int, video_ids: Sequence[int] | None
) -> ClipRows:
    """Windows at ``stride`` over every video labelled in some track (no feature cache needed)."""
    from core.analysis.windows import window_starts

    track_ids = {t.name: t.id for t in store.tracks.list()}
    chosen = store.videos.list() if video_ids is None else [store.videos.get(v) for v in video_ids]
    videos: list[Video] = []
    starts: list[np.ndarray] = []
    held: list[np.ndarray] = []
    targets: dict[str, list[np.ndarray]] = {s.name: [] for s in specs}
    for video in chosen:
        segments = store.segments.list(video.id, all_tracks=True)
        if not segments:
            continue
        these = window_starts(max(video.best_frame_count, 1), window, stride)
        videos += [video] * len(these)
        starts.append(these)
        held.append(held_blocks(len(these)))
        for name, target in video_targets(specs, track_ids, segments, these).items():
            targets[name].append(target)
    if not videos:
        raise TrainingError("Nothing is labelled yet: label some frames in any track first.")
    joined = {n: np.concatenate(p) for n, p in targets.items()}
    # A window no track labels teaches nothing, and decoding it costs seconds on a CPU.
    keep = np.zeros(len(videos), dtype=bool)
    for spec in specs:
        y = joined[spec.name]
        keep |= (y != UNLABELLED) if spec.kind is TrackKind.STATE else (y != UNLABELLED).all(1)
    rows = np.flatnonzero(keep)
    return ClipRows(
        [videos[i] for i in rows],
        np.concatenate(starts)[rows],
        np.concatenate(held)[rows],
        {n: y[rows] for n, y in joined.items()},
    )


class TracksClipTask:
    """The loop's ``Task``: the tracked network itself trains, on decoded, augmented clips."""

    def __init__(
        self,
        model: TrackedC3D,
        spec: InputSpec,
        train: list[tuple[Video, int]],
        train_y: Mapping[str, np.ndarray],
        val: list[tuple[Video, int]],
        val_y: Mapping[str, np.ndarray],
        device: DeviceChoice,
        flip: bool,
        track_weights: Mapping[str, float] | None = None,
    ) -> None:
        self.model = model.to(device.device)
        self.specs = model.specs
        self.spec = spec
        self.device = device
        self.train, self.val = train, val
        self.n_train = len(train)
        self.cpu_threads: int | None = None
        self.watched, self.n_classes, self.val_labels = watched_track(self.specs, val_y, len(val))
        self.weights = {s.name: float((track_weights or {}).get(s.name, 1.0)) for s in self.specs}
        self.train_y = {n: torch.as_tensor(np.asarray(y), device=device.device) for n, y in train_y.items()}
        self.class_w = track_class_weights(self.specs, train_y, device.device)
        self.flip = flip
        self.reader = ClipReader(spec)

    def parameters(self) -> list[torch.nn.Parameter]:
        return list(self.model.parameters())

    def set_train_mode(self, micro_batch: int) -> None:
        self.model.train()
        if micro_batch < BN_TRAIN_MIN_BATCH:  # statistics of a few clips are noise
            for name in BN_LAYERS:
                getattr(self.model, name).eval()

    def _logits(self, clips: list[np.ndarray]) -> list[torch.Tensor]:
        x = clips_to_tensor(np.stack(clips), self.spec, self.device.device, self.device.channels_last)
        out = self.model.forward_features(x)
        return [out.logits, *(head(out.fc7) for head in self.model.heads)]

    def loss(self, indices: np.ndarray, batch_total: int, rng: np.random.Generator) -> torch.Tensor:
        clips = [augment(self.reader.clip(*self.train[int(i)]), rng, self.flip) for i in indices]
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64), device=self.device.device)
        targets = {name: y[idx] for name, y in self.train_y.items()}
        return summed_loss(self.specs, self._logits(clips), targets, self.class_w, self.weights) / batch_total

    @torch.no_grad()
    def predict_all(self, cancel: threading.Event | None = None) -> list[np.ndarray]:
        """Every head's probabilities of the held-out clips, in track order."""
        self.model.eval()
        parts: list[list[np.ndarray]] = [[] for _ in self.specs]
        for first in range(0, len(self.val), 2):
            if cancel is not None and cancel.is_set():
                break
            clips = [self.reader.clip(*row) for row in self.val[first : first + 2]]
            for k, (spec, logits) in enumerate(zip(self.specs, self._logits(clips), strict=True)):
                parts[k].append(head_probs(spec, logits).cpu().numpy())
        return [
            np.concatenate(p) if p else np.zeros((0, len(s.outputs)), np.float32)
            for s, p in zip(self.specs, parts, strict=True)
        ]

    def predict_val(self, cancel: threading.Event) -> np.ndarray:
        return watched_probs(self.specs[self.watched], self.predict_all(cancel)[self.watched])

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu") for k, v in self.model.state_dict().items()}

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)

    def finalize(self) -> C3D_BN:
        self.reader.close()
        return self.model.to("cpu").eval()
