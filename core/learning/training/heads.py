"""Modes 1 and 2: train the head on cached features, no video decoded.

``features`` trains fc8 on fc7 activations; ``last-layers`` trains fc6–fc8 on pool5. Inputs
are standardised per feature before training (an untrained trunk gives activations with a
spread of ~0.004, far too small for a learning rate chosen for unit-scale inputs), through a
reparametrised first layer that starts out computing exactly what the parent's layer did.
When training ends the standardisation is folded back into that layer's weights, so the
result is a plain C3D_BN again and nothing but the weights changes in the checkpoint.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.learning.training.loop import load_modules_state, modules_state
from core.model.network import C3D_BN

log = logging.getLogger(__name__)

_DROPOUT = 0.5  # on fc6/fc7 activations while training last-layers, as in the C3D paper
_EVAL_BATCH = 512


NOISE_FLOOR = 0.1
"""Rounding noise any engine adds to a feature, as a fraction of the median feature's spread.

Measured on the benchmark's demo: int8 against fp32 moves a pool5 feature by 0.002 rms
(median over features), 0.085 of the median spread (0.024), whatever that feature's own
spread. Dividing by a spread smaller than that noise hands the noise to the head as signal.
"""


def standardisation(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and spread, the spread floored at the noise level (``noise_floored``)."""
    mean = x.mean(axis=0, dtype=np.float64)
    std = noise_floored(x.std(axis=0, dtype=np.float64))
    return mean.astype(np.float32), std.astype(np.float32)


def noise_floored(std: np.ndarray) -> np.ndarray:
    """sqrt(spread² + floor²): a feature that varies less than rounding noise is scaled as if
    it were noise, so a head cannot lean on differences that int8, a float16 cache or another
    codec would change (a ridge head on the raw spreads swung |Δp| 0.05 under int8, 0.025
    with the floor, at the same cross-validated F1)."""
    positive = std[std > 0]
    floor = NOISE_FLOOR * float(np.median(positive)) if positive.size else 1.0
    return np.asarray(np.sqrt(std**2 + floor**2))


def _reparametrised(layer: nn.Linear, mean: torch.Tensor, std: torch.Tensor) -> nn.Linear:
    """A copy acting on standardised input that computes what ``layer`` did on raw input."""
    out = nn.Linear(layer.in_features, layer.out_features)
    with torch.no_grad():
        out.weight.copy_(layer.weight * std)
        out.bias.copy_(layer.bias + layer.weight @ mean)
    return out


def _fold(layer: nn.Linear, mean: torch.Tensor, std: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights for raw input equivalent to ``layer`` on standardised input."""
    weight = layer.weight.detach() / std
    bias = layer.bias.detach() - weight @ mean
    return weight, bias


class HeadTask:
    """The ``Task`` of modes 1–2: examples are rows of a cached feature matrix."""

    def __init__(
        self,
        model: C3D_BN,
        layer: str,
        train_x: np.ndarray,
        train_y: np.ndarray,
        val_x: np.ndarray,
        val_y: np.ndarray,
        class_weights: np.ndarray,
        device: torch.device,
    ) -> None:
        self.model = model
        self.layer = layer
        self.device = device
        self.n_classes = model.num_classes
        self.n_train = len(train_y)
        self.val_labels = np.asarray(val_y, dtype=np.int64)
        mean, std = standardisation(train_x)
        self.mean = torch.from_numpy(mean).to(device)
        self.std = torch.from_numpy(std).to(device)
        self.train_x = self._standardise(train_x)
        self.train_y = torch.from_numpy(np.asarray(train_y, dtype=np.int64)).to(device)
        self.val_x = self._standardise(val_x)
        self.weights = torch.as_tensor(class_weights, dtype=torch.float32, device=device)
        first = model.fc8 if layer == "fc7" else model.fc6
        self.first = _reparametrised(first, self.mean.cpu(), self.std.cpu()).to(device)
        rest: list[nn.Linear] = [] if layer == "fc7" else [model.fc7, model.fc8]
        self.rest = [nn.Linear(m.in_features, m.out_features).to(device) for m in rest]
        with torch.no_grad():
            for mine, theirs in zip(self.rest, rest, strict=True):
                mine.weight.copy_(theirs.weight)
                mine.bias.copy_(theirs.bias)
        self.training = True
        self.cpu_threads: int | None = 1 if layer == "fc7" and device.type == "cpu" else None

    def _standardise(self, x: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.asarray(x, dtype=np.float32)).to(self.device)
        return (t - self.mean) / self.std

    def _modules(self) -> list[nn.Module]:
        return [self.first, *self.rest]

    def parameters(self) -> list[nn.Parameter]:
        return [p for m in self._modules() for p in m.parameters()]

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        h = self.first(x)
        for layer in self.rest:
            h = F.relu(h)
            h = F.dropout(h, _DROPOUT, training=self.training)
            h = layer(h)
        return h

    def set_train_mode(self, micro_batch: int) -> None:
        self.training = True

    def loss(self, indices: np.ndarray, batch_total: int, rng: np.random.Generator) -> torch.Tensor:
        idx = torch.from_numpy(np.asarray(indices, dtype=np.int64)).to(self.device)
        logits = self._logits(self.train_x[idx])
        per_example = F.cross_entropy(logits, self.train_y[idx], weight=self.weights, reduction="none")
        return per_example.sum() / batch_total

    @torch.no_grad()
    def predict_val(self, cancel: threading.Event) -> np.ndarray:
        return self.predict_standardised(self.val_x)

    @torch.no_grad()
    def predict_standardised(self, x: torch.Tensor) -> np.ndarray:
        self.training = False
        parts = [
            torch.softmax(self._logits(x[i : i + _EVAL_BATCH]), dim=1) for i in range(0, len(x), _EVAL_BATCH)
        ]
        self.training = True
        if not parts:
            return np.zeros((0, self.n_classes), dtype=np.float32)
        return torch.cat(parts).cpu().numpy().astype(np.float32)

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return modules_state(self._modules())

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        load_modules_state(self._modules(), state)

    def finalize(self) -> C3D_BN:
        """Write the trained (folded) layers into the model and return it, on the CPU."""
        weight, bias = _fold(self.first, self.mean, self.std)
        targets = (
            [self.model.fc8] if self.layer == "fc7" else [self.model.fc6, self.model.fc7, self.model.fc8]
        )
        sources = [(weight, bias)] + [(m.weight.detach(), m.bias.detach()) for m in self.rest]
        with torch.no_grad():
            for target, (w, b) in zip(targets, sources, strict=True):
                target.weight.copy_(w.to(target.weight.device))
                target.bias.copy_(b.to(target.bias.device))
        return self.model.eval()


@torch.no_grad()
def score_features(model: C3D_BN, layer: str, features: np.ndarray, batch: int = _EVAL_BATCH) -> np.ndarray:
    """Softmax probabilities of cached ``layer`` features through the model's head."""
    model.eval()
    device = model.fc8.weight.device
    out = []
    for i in range(0, len(features), batch):
        x = torch.from_numpy(np.asarray(features[i : i + batch], dtype=np.float32)).to(device)
        logits = model.head_from_fc7(x) if layer == "fc7" else model.head_from_pool5(x)
        out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    if not out:
        return np.zeros((0, model.num_classes), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)


@torch.no_grad()
def scores_and_fc7(
    model: C3D_BN, pool5: np.ndarray, batch: int = _EVAL_BATCH
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and float16 fc7 features of cached pool5 ones, in one pass through fc6/fc7.

    The fc7 features fill the cache for the new fc6/fc7, so a later features run decodes nothing.
    """
    model.eval()
    device = model.fc6.weight.device
    probs, feats = [], []
    for i in range(0, len(pool5), batch):
        x = torch.from_numpy(np.asarray(pool5[i : i + batch], dtype=np.float32)).to(device)
        fc7 = model.fc7_from_pool5(x)
        probs.append(torch.softmax(model.head_from_fc7(fc7).float(), dim=1).cpu().numpy())
        feats.append(fc7.to(torch.float16).cpu().numpy())
    if not probs:
        return np.zeros((0, model.num_classes), np.float32), np.zeros((0, model.fc7.out_features), np.float16)
    return np.concatenate(probs).astype(np.float32), np.concatenate(feats)
