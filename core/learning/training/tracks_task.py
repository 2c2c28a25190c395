"""Mode ``last-layers`` with several tracks: fc6, fc7 and every track's head trained together.

The loss is the sum of the heads' losses, each weighted (equal by default): a state track's
class-weighted cross-entropy over its labelled windows, a point track's binary cross-entropy
per event class (positives up-weighted, as they are rare) over the windows up to where the
video is labelled. Windows unlabelled in one track still teach the others. Early stopping
watches the first state track's validation macro-F1; the others are scored after training.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.learning.training.dataset import UNLABELLED, class_weights
from core.learning.training.heads import _fold, _reparametrised, standardisation
from core.learning.training.loop import load_modules_state, modules_state
from core.model.network import C3D_BN, _init_fc8
from core.model.track_heads import TrackedC3D, TrackHeads, TrackSpec, head_probs, install_heads
from core.store.records import TrackKind

log = logging.getLogger(__name__)

_DROPOUT = 0.5
_EVAL_BATCH = 512


def tracked_start(parent: C3D_BN, specs: Sequence[TrackSpec], seed: int) -> TrackedC3D:
    """The parent's network with a head per track: its own heads where its tracks match, fresh
    (seeded) ones elsewhere."""
    known = (
        dict(zip(parent.specs, parent.head_layers(), strict=True)) if isinstance(parent, TrackedC3D) else {}
    )
    heads = TrackHeads(specs)
    for i, (spec, layer) in enumerate(zip(specs, heads.layers, strict=True)):
        assert isinstance(layer, nn.Linear)
        source = known.get(spec)
        if source is None and i == 0 and not known and parent.fc8.out_features == len(spec.outputs):
            source = parent.fc8  # a one-track parent's head is the first track's
        with torch.no_grad():
            if source is not None:
                layer.weight.copy_(source.weight)
                layer.bias.copy_(source.bias)
            else:
                _init_fc8(layer, seed + i)
    model = install_heads(parent, heads)
    if not isinstance(model, TrackedC3D):
        raise ValueError("Several tracks make a tracked model.")
    return model


class TracksHeadTask:
    """The loop's ``Task``: rows of cached pool5 features with a target array per track."""

    def __init__(
        self,
        model: TrackedC3D,
        train_x: np.ndarray,
        train_y: Mapping[str, np.ndarray],
        val_x: np.ndarray,
        val_y: Mapping[str, np.ndarray],
        device: torch.device,
        track_weights: Mapping[str, float] | None = None,
    ) -> None:
        self.model = model
        self.specs = model.specs
        self.device = device
        self.n_train = len(train_x)
        self.cpu_threads: int | None = None
        self.watched, self.n_classes, self.val_labels = watched_track(self.specs, val_y, len(val_x))
        self.weights = {s.name: float((track_weights or {}).get(s.name, 1.0)) for s in self.specs}
        mean, std = standardisation(train_x)
        self.mean, self.std = torch.from_numpy(mean).to(device), torch.from_numpy(std).to(device)
        self.train_x = self._standardise(train_x)
        self.val_x = self._standardise(val_x)
        self.train_y = {
            s.name: torch.as_tensor(np.asarray(train_y[s.name]), device=device) for s in self.specs
        }
        self.class_w = track_class_weights(self.specs, train_y, device)
        self.fc6 = _reparametrised(model.fc6, self.mean.cpu(), self.std.cpu()).to(device)
        self.fc7 = nn.Linear(model.fc7.in_features, model.fc7.out_features).to(device)
        self.heads = nn.ModuleList(nn.Linear(h.in_features, h.out_features) for h in model.head_layers()).to(
            device
        )
        with torch.no_grad():
            for mine, theirs in zip([self.fc7, *self.heads], [model.fc7, *model.head_layers()], strict=True):
                mine.weight.copy_(theirs.weight)
                mine.bias.copy_(theirs.bias)
        self.training = True

    def _standardise(self, x: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.asarray(x, dtype=np.float32)).to(self.device)
        return (t - self.mean) / self.std

    def _modules(self) -> list[nn.Module]:
        return [self.fc6, self.fc7, *self.heads]

    def parameters(self) -> list[nn.Parameter]:
        return [p for m in self._modules() for p in m.parameters()]

    def _fc7(self, x: torch.Tensor) -> torch.Tensor:
        h = F.dropout(F.relu(self.fc6(x)), _DROPOUT, training=self.training)
        return F.dropout(F.relu(self.fc7(h)), _DROPOUT, training=self.training)

    def set_train_mode(self, micro_batch: int) -> None:
        self.training = True

    def loss(self, indices: np.ndarray, batch_total: int, rng: np.random.Generator) -> torch.Tensor:
        idx = torch.from_numpy(np.asarray(indices, dtype=np.int64)).to(self.device)
        fc7 = self._fc7(self.train_x[idx])
        logits = [head(fc7) for head in self.heads]
        targets = {name: y[idx] for name, y in self.train_y.items()}
        return summed_loss(self.specs, logits, targets, self.class_w, self.weights) / batch_total

    @torch.no_grad()
    def predict_all(self, x: torch.Tensor) -> list[np.ndarray]:
        """Every head's probabilities of standardised pool5 rows, in track order."""
        self.training = False
        parts: list[list[torch.Tensor]] = [[] for _ in self.specs]
        for i in range(0, len(x), _EVAL_BATCH):
            fc7 = self._fc7(x[i : i + _EVAL_BATCH])
            for k, (spec, head) in enumerate(zip(self.specs, self.heads, strict=True)):
                parts[k].append(head_probs(spec, head(fc7)))
        self.training = True
        return [
            torch.cat(p).cpu().numpy() if p else np.zeros((0, len(s.outputs)), np.float32)
            for s, p in zip(self.specs, parts, strict=True)
        ]

    @torch.no_grad()
    def predict_val(self, cancel: threading.Event) -> np.ndarray:
        return watched_probs(self.specs[self.watched], self.predict_all(self.val_x)[self.watched])

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return modules_state(self._modules())

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        load_modules_state(self._modules(), state)

    def finalize(self) -> C3D_BN:
        """The trained layers written into the model (standardisation folded into fc6), on the CPU."""
        weight, bias = _fold(self.fc6, self.mean, self.std)
        sources = [(weight, bias)] + [(m.weight.detach(), m.bias.detach()) for m in [self.fc7, *self.heads]]
        targets = [self.model.fc6, self.model.fc7, *self.model.head_layers()]
        with torch.no_grad():
            for target, (w, b) in zip(targets, sources, strict=True):
                target.weight.copy_(w.to(target.weight.device))
                target.bias.copy_(b.to(target.bias.device))
        return self.model.eval()


def watched_track(
    specs: Sequence[TrackSpec], val_y: Mapping[str, np.ndarray], n_val: int
) -> tuple[int, int, np.ndarray]:
    """Early stopping watches the first state track (a point-only project: "any event" as two
    classes): its index, its number of classes and its held-out labels."""
    watched = next((s for s in specs if s.kind is TrackKind.STATE), specs[0])
    labels = np.asarray(val_y[watched.name], dtype=np.int64).reshape(n_val, -1)[:, 0]
    n_classes = 2 if watched.kind is TrackKind.POINT else len(watched.outputs)
    return specs.index(watched), n_classes, labels


def watched_probs(spec: TrackSpec, probs: np.ndarray) -> np.ndarray:
    if spec.kind is TrackKind.POINT:
        top = probs.max(axis=1, initial=0.0)
        return np.stack([1.0 - top, top], axis=1)
    return probs


def track_class_weights(
    specs: Sequence[TrackSpec], train_y: Mapping[str, np.ndarray], device: torch.device
) -> dict[str, torch.Tensor]:
    """A state track's classes balanced; a point track's rare positives up-weighted (≤ 100×)."""
    weights: dict[str, torch.Tensor] = {}
    for spec in specs:
        y = np.asarray(train_y[spec.name])
        if spec.kind is TrackKind.STATE:
            counts = np.bincount(y[y != UNLABELLED], minlength=len(spec.outputs))
            w = class_weights(counts)
        else:
            rows = y[(y != UNLABELLED).all(1)]
            positives = rows.sum(0).astype(np.float64)
            w = np.clip((len(rows) - positives) / np.maximum(positives, 1.0), 1.0, 100.0)
        weights[spec.name] = torch.as_tensor(w, dtype=torch.float32, device=device)
    return weights


def summed_loss(
    specs: Sequence[TrackSpec],
    logits: Sequence[torch.Tensor],
    targets: Mapping[str, torch.Tensor],
    class_w: Mapping[str, torch.Tensor],
    weights: Mapping[str, float],
) -> torch.Tensor:
    """Σ over tracks of weight × (cross-entropy of a state track's labelled windows, or binary
    cross-entropy of a point track's rows up to where the video is labelled), summed over rows."""
    total = torch.zeros((), device=logits[0].device)
    for spec, out in zip(specs, logits, strict=True):
        y = targets[spec.name]
        if spec.kind is TrackKind.STATE:
            part = F.cross_entropy(
                out.float(), y, weight=class_w[spec.name], ignore_index=UNLABELLED, reduction="sum"
            )
        else:
            rows = (y != UNLABELLED).all(1)
            part = F.binary_cross_entropy_with_logits(
                out.float()[rows], y[rows].float(), pos_weight=class_w[spec.name], reduction="sum"
            )
        total = total + weights[spec.name] * part
    return total
