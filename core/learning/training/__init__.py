"""Fine-tuning on the user's corrections: three transfer modes behind one call.

``run_training(store, TrainConfig(mode=...), cancel, on_progress)`` is the whole public API;
the modules below it are the training set, the split, the modes and the shared epoch loop.
"""

from core.learning.training.config import (
    MODE_HELP,
    MODES,
    TrainConfig,
    TrainingProgress,
    TrainingResult,
    estimate_seconds,
)
from core.learning.training.loop import warm_up
from core.learning.training.runner import run_training

__all__ = [
    "MODES",
    "MODE_HELP",
    "TrainConfig",
    "TrainingProgress",
    "TrainingResult",
    "estimate_seconds",
    "run_training",
    "warm_up",
]
