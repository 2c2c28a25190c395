"""Mode 3: every layer trains on decoded clips, with augmentation.

Augmentation is what a few hundred labelled windows need to not be memorised: a random crop
(scale and position jitter, resized back), a horizontal flip only when no class has a side
(flipping "ball_left" makes it "ball_right"), and a temporal jitter of the window start by
up to a quarter window. On a GPU the forward runs under autocast with channels_last_3d.
BN layers keep their running statistics (eval mode) whenever fewer than 8 clips go through
at once: statistics of 1–7 clips are noise and would wreck a pretrained network.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from core.media.library import open_reader
from core.media.video import VideoReader
from core.model.device import DeviceChoice
from core.model.network import BN_LAYERS, C3D_BN
from core.model.preprocess import clips_to_tensor, prepare_frame
from core.model.spec import InputSpec
from core.store.records import Video

log = logging.getLogger(__name__)

BN_TRAIN_MIN_BATCH = 8
CPU_WARNING = (
    "Full fine-tuning on the CPU is slow (several seconds per clip); "
    "the features and last-layers modes take seconds to a minute."
)
_SIDED = re.compile(r"left|right|links|rechts|clockwise", re.IGNORECASE)
_MIN_CROP = 0.8


def flip_allowed(class_names: Sequence[str]) -> bool:
    """A mirrored clip keeps its class unless some class is about a direction."""
    return not any(_SIDED.search(name) for name in class_names)


@dataclass(frozen=True)
class ClipExample:
    video: Video
    start: int
    label: int


class ClipReader:
    """Reads 16-frame clips (prepared to the spec) from any of the project's videos."""

    def __init__(self, spec: InputSpec) -> None:
        self.spec = spec
        self._readers: dict[int, VideoReader] = {}

    def clip(self, video: Video, start: int) -> np.ndarray:
        reader = self._readers.get(video.id)
        if reader is None:
            reader = self._readers[video.id] = open_reader(video)
        frames: list[np.ndarray] = []
        for _, frame in reader.iter_from(max(start, 0)):
            frames.append(prepare_frame(frame, self.spec))
            if len(frames) == self.spec.window:
                break
        while len(frames) < self.spec.window:  # a video shorter than a window repeats its end
            frames.append(frames[-1])
        return np.stack(frames)

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()


def augment(clip: np.ndarray, rng: np.random.Generator, flip: bool) -> np.ndarray:
    """Random crop (80–100% of the side, anywhere) resized back, then maybe mirrored."""
    t, h, w, _ = clip.shape
    scale = rng.uniform(_MIN_CROP, 1.0)
    ch, cw = max(int(h * scale), 1), max(int(w * scale), 1)
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    out = np.empty_like(clip)
    for i in range(t):
        out[i] = cv2.resize(clip[i, top : top + ch, left : left + cw], (w, h), interpolation=cv2.INTER_LINEAR)
    if flip and rng.random() < 0.5:
        out = np.ascontiguousarray(out[:, :, ::-1])
    return out


class ClipTask:
    """The ``Task`` of mode 3; the model itself is trained."""

    def __init__(
        self,
        model: C3D_BN,
        spec: InputSpec,
        train: list[ClipExample],
        val: list[ClipExample],
        class_weights: np.ndarray,
        device: DeviceChoice,
        flip: bool,
    ) -> None:
        self.model = model.to(device.device)
        if device.channels_last and device.device.type == "cuda":
            self.model.to(memory_format=torch.channels_last_3d)  # type: ignore[call-overload]
        self.spec = spec
        self.device = device
        self.train = train
        self.val = val
        self.n_train = len(train)
        self.n_classes = model.num_classes
        self.val_labels = np.array([e.label for e in val], dtype=np.int64)
        self.weights = torch.as_tensor(class_weights, dtype=torch.float32, device=device.device)
        self.flip = flip
        self.cpu_threads: int | None = None
        self.reader = ClipReader(spec)
        # fp16 gradients underflow without loss scaling; bf16 (every recent GPU) needs none.
        # bf16 training only on CUDA: on the CPU (AVX512-BF16) a full fine-tune of C3D_BN turned
        # its loss into NaN in 1 run of 3 (oneDNN's bf16 kernels), and 5 of 5 fp32 runs were fine.
        bf16 = device.autocast_dtype == torch.bfloat16 and device.device.type == "cuda"
        self.amp_dtype = torch.bfloat16 if bf16 else None

    def parameters(self) -> list[torch.nn.Parameter]:
        return list(self.model.parameters())

    def set_train_mode(self, micro_batch: int) -> None:
        self.model.train()
        if micro_batch < BN_TRAIN_MIN_BATCH:
            for name in BN_LAYERS:
                getattr(self.model, name).eval()

    def _autocast(self) -> torch.autocast:
        dtype = self.amp_dtype
        kind = self.device.device.type
        return torch.autocast(kind, dtype=dtype or torch.float32, enabled=dtype is not None)

    def _tensor(self, clips: list[np.ndarray]) -> torch.Tensor:
        return clips_to_tensor(np.stack(clips), self.spec, self.device.device, self.device.channels_last)

    def loss(self, indices: np.ndarray, batch_total: int, rng: np.random.Generator) -> torch.Tensor:
        jitter = self.spec.window // 4
        clips, labels = [], []
        for i in indices:
            example = self.train[int(i)]
            shift = int(rng.integers(-jitter, jitter + 1))
            last = max(example.video.best_frame_count - self.spec.window, 0)
            start = int(np.clip(example.start + shift, 0, last))
            clips.append(augment(self.reader.clip(example.video, start), rng, self.flip))
            labels.append(example.label)
        y = torch.tensor(labels, dtype=torch.int64, device=self.device.device)
        with self._autocast():
            logits = self.model(self._tensor(clips))
        per_example = F.cross_entropy(logits.float(), y, weight=self.weights, reduction="none")
        return per_example.sum() / batch_total

    @torch.no_grad()
    def predict_val(self, cancel: threading.Event) -> np.ndarray:
        self.model.eval()
        out = np.zeros((len(self.val), self.n_classes), dtype=np.float32)
        batch = 8 if self.device.device.type == "cuda" else 2
        for first in range(0, len(self.val), batch):
            if cancel.is_set():
                break
            chunk = self.val[first : first + batch]
            clips = [self.reader.clip(e.video, e.start) for e in chunk]
            with self._autocast():
                logits = self.model(self._tensor(clips))
            out[first : first + len(chunk)] = torch.softmax(logits.float(), dim=1).cpu().numpy()
        return out

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu") for k, v in self.model.state_dict().items()}

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)

    def finalize(self) -> C3D_BN:
        self.reader.close()
        self.model.to("cpu").to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
        return self.model.eval()
