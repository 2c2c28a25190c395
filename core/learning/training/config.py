"""What a training run is asked to do, what it reports while running, and what it returns.

Plain frozen dataclasses, so the GUI's dialog can build a config, its worker can forward
progress records as signals, and the CLI can print them, all without knowing the loop.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from core.store.records import ModelVersion

Mode = Literal["features", "last-layers", "full"]
Solver = Literal["ridge", "gradient"]
MODES: tuple[Mode, ...] = ("features", "last-layers", "full")

MODE_HELP: dict[str, str] = {
    "features": (
        "Fixed feature extractor: a linear classifier on the cached trunk (pool5) features, "
        "validated over whole events and decoded along time; seconds."
    ),
    "last-layers": "Fine-tunes fc6–fc8 on cached pool5 features, conv layers frozen; about a minute.",
    "full": "Fine-tunes every layer on decoded clips with augmentation; needs a GPU to be practical.",
}

# Measured on the 10-minute demo (benchmarks/learning_loop.py, 2-core CPU): a linear head on
# standardised fc7 features reaches its best validation macro-F1 within ~5 epochs, fc6–fc8
# on pool5 within 3; each last-layers epoch over ~1,100 windows costs ~10 s there.
_DEFAULTS: dict[str, dict[str, float]] = {
    "features": {"epochs": 10, "lr": 1e-3, "batch_size": 128, "patience": 4},
    "last-layers": {"epochs": 3, "lr": 1e-4, "batch_size": 128, "patience": 2},
    "full": {"epochs": 5, "lr": 3e-5, "batch_size": 8, "patience": 2},
}


@dataclass(frozen=True)
class TrainConfig:
    """A run's settings; None means the mode's default (see ``resolved``)."""

    mode: Mode
    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    patience: int | None = None
    weight_decay: float = 1e-4
    seed: int = 0
    stride: int = 8
    val_fraction: float = 0.2
    video_ids: tuple[int, ...] | None = None
    parent_id: int | None = None
    """Model version to start from; None means the active one."""
    device: str = "auto"
    hflip: bool | None = None
    """Flip clips left-right in ``full`` mode; None: only when no class name mentions a side."""
    activate: bool = True
    """Make the new version the active model (the timeline then shows its predictions)."""
    solver: Solver = "ridge"
    """``features`` mode: closed-form ridge on pool5 (default) or the epoch loop on fc7."""
    max_micro_batch: int | None = None
    """Largest number of clips per forward pass; None: the whole batch on GPU, 1 on CPU."""
    track_weights: tuple[tuple[str, float], ...] | None = None
    """``last-layers`` with several tracks: (track, weight) of each head's loss; 1 where unnamed."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"Unknown training mode {self.mode!r}; use one of {', '.join(MODES)}.")

    def resolved(self) -> TrainConfig:
        """Every None that has a per-mode default filled in."""
        d = _DEFAULTS[self.mode]
        return replace(
            self,
            epochs=int(self.epochs if self.epochs is not None else d["epochs"]),
            lr=float(self.lr if self.lr is not None else d["lr"]),
            batch_size=int(self.batch_size if self.batch_size is not None else d["batch_size"]),
            patience=int(self.patience if self.patience is not None else d["patience"]),
        )

    def to_json(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["video_ids"] = None if self.video_ids is None else list(self.video_ids)
        return raw

    def fingerprint(self, extra: Any) -> str:
        """Identifies a run so an interrupted one with the same settings and data resumes."""
        ignored = {"activate", "device"}
        text = json.dumps(
            {k: v for k, v in self.to_json().items() if k not in ignored} | {"extra": extra},
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class TrainingProgress:
    """One report to the caller; ``phase`` is "features", "train", "validate" or "rescore"."""

    phase: str
    epoch: int  # 1-based epoch being run (0 outside the epoch loop)
    epochs: int
    step: int = 0
    steps: int = 0
    loss: float = float("nan")
    val_accuracy: float = float("nan")
    val_macro_f1: float = float("nan")
    message: str = ""
    elapsed_s: float = 0.0

    @property
    def fraction(self) -> float:
        if self.epochs <= 0:
            return 0.0
        within = self.step / self.steps if self.steps else 0.0
        return min(1.0, (max(self.epoch - 1, 0) + within) / self.epochs)

    @property
    def eta_s(self) -> float:
        done = self.fraction
        return float("nan") if done <= 0 else self.elapsed_s * (1 - done) / done


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    loss: float
    val_accuracy: float
    val_macro_f1: float


@dataclass(frozen=True)
class TrainingResult:
    version: ModelVersion
    metrics: dict[str, Any]
    history: tuple[EpochRecord, ...]
    stopped_early: bool
    resumed_from_epoch: int
    rescored_video_ids: tuple[int, ...]
    seconds: float


_SECONDS_PER_WINDOW_EPOCH = {"features": 7e-4, "last-layers": 0.02, "full": 3.0}
"""CPU cost of one window in one epoch, measured on the 2-core benchmark machine."""
_GPU_SPEEDUP = {"features": 2.0, "last-layers": 20.0, "full": 100.0}
_FIXED_S = 3.0
_RIDGE_SECONDS_PER_WINDOW = 2e-3  # loading the parent, saving and registering the new version


def estimate_seconds(config: TrainConfig, labelled_windows: int, device_type: str) -> float:
    """A rough duration for the Fine-tune dialog: the full epoch count, no early stop."""
    cfg = config.resolved()
    if cfg.mode == "features" and cfg.solver == "ridge":
        # Closed form: one cross-validation and one fit, no epochs; the fixed cost of loading
        # and saving the checkpoint dominates (benchmarks/learning_loop.py: features_s).
        return _FIXED_S + _RIDGE_SECONDS_PER_WINDOW * labelled_windows
    per = _SECONDS_PER_WINDOW_EPOCH[cfg.mode]
    if device_type == "cuda":
        per /= _GPU_SPEEDUP[cfg.mode]
    return _FIXED_S + per * labelled_windows * int(cfg.epochs or 1)


Report = Callable[["TrainingProgress"], None]
"""Where a run sends its progress (the GUI's worker signal, the CLI's progress line)."""
