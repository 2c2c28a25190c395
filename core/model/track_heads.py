"""One shared C3D_BN trunk, one head per track: softmax for a state track, sigmoid for a point track.

The trunk (conv1 … fc7, exactly the seed's) runs once per clip and every track's head reads its
fc7 features, so a project with three tracks costs one forward pass plus three small matrix
products. A point track's head says, per event class, how likely an event falls in the window's
central frames. The heads travel in a safetensors file whose header lists every track with its
kind and classes; loading refuses a file whose tracks do not match the project's.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save
from torch import nn

from core.atomic import atomic_write
from core.errors import CheckpointError
from core.model.network import C3D_BN, FC7_FEATURES, ClipOutputs
from core.store.records import BACKGROUND, TrackKind

log = logging.getLogger(__name__)

HEADS_FORMAT = 1


@dataclass(frozen=True)
class TrackSpec:
    """What a head predicts: a track's name, kind and classes (background first for a state track)."""

    name: str
    kind: TrackKind
    classes: tuple[str, ...]

    @property
    def outputs(self) -> tuple[str, ...]:
        """A state head scores every class; a point head every event class (not background)."""
        if self.kind is TrackKind.POINT:
            return tuple(c for c in self.classes if c != BACKGROUND)
        return self.classes

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind.value, "classes": list(self.classes)}


def specs_from_json(text: str, label: str) -> list[TrackSpec]:
    try:
        raw = json.loads(text)
        return [
            TrackSpec(str(t["name"]), TrackKind(t["kind"]), tuple(str(c) for c in t["classes"])) for t in raw
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{label} has an unreadable list of tracks; export the heads again.") from exc


class TrackHeads(nn.Module):
    """A linear layer on fc7 per track, in the project's track order."""

    def __init__(self, specs: Sequence[TrackSpec]) -> None:
        super().__init__()
        if not specs:
            raise ValueError("Track heads need at least one track.")
        self.specs = tuple(specs)
        self.layers = nn.ModuleList(nn.Linear(FC7_FEATURES, max(1, len(s.outputs))) for s in self.specs)

    def forward(self, fc7: torch.Tensor) -> dict[str, torch.Tensor]:
        """Probabilities per track: rows sum to 1 for a state track; independent for a point track."""
        out: dict[str, torch.Tensor] = {}
        for spec, layer in zip(self.specs, self.layers, strict=True):
            logits = layer(fc7)
            out[spec.name] = (
                torch.sigmoid(logits) if spec.kind is TrackKind.POINT else torch.softmax(logits, 1)
            )
        return out


class MultiTrackC3D(nn.Module):
    """The seed's trunk plus per-track heads: one trunk pass serves every track."""

    def __init__(self, trunk: C3D_BN, heads: TrackHeads) -> None:
        super().__init__()
        self.trunk = trunk
        self.heads = heads

    def forward(self, clips: torch.Tensor) -> tuple[dict[str, torch.Tensor], ClipOutputs]:
        features = self.trunk.forward_features(clips)
        return self.heads(features.fc7), features


def save_heads(path: str | os.PathLike[str], heads: TrackHeads, trunk_hash: str) -> None:
    """Write the heads with their tracks and the trunk they were trained on, atomically."""
    tensors = {
        f"head{i}.{k}": v.detach().contiguous()
        for i, layer in enumerate(heads.layers)
        for k, v in layer.state_dict().items()
    }
    meta = {
        "format": str(HEADS_FORMAT),
        "tracks": json.dumps([s.to_json() for s in heads.specs]),
        "trunk_hash": trunk_hash,
    }
    with atomic_write(Path(path), "wb") as f:
        f.write(save(tensors, metadata=meta))


def load_heads(
    path: str | os.PathLike[str], project: Sequence[TrackSpec], trunk_hash: str | None = None
) -> TrackHeads:
    """The heads of a file, checked against the project's tracks (and trunk, when given)."""
    label = f"The model heads file {Path(path).name}"
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{label} cannot be read ({exc}); choose another file.") from exc
    if "tracks" not in meta:
        raise CheckpointError(f"{label} lists no tracks; it is not a per-track model.")
    specs = specs_from_json(meta["tracks"], label)
    _check_tracks(specs, project, label)
    if trunk_hash is not None and meta.get("trunk_hash") != trunk_hash:
        raise CheckpointError(f"{label} was trained on another trunk; train the heads again for this model.")
    heads = TrackHeads(specs)
    try:
        for i, layer in enumerate(heads.layers):
            layer.load_state_dict({k: tensors[f"head{i}.{k}"] for k in ("weight", "bias")})
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{label} is missing or has misshapen head weights.") from exc
    return heads


def _check_tracks(found: Sequence[TrackSpec], wanted: Sequence[TrackSpec], label: str) -> None:
    have = {s.name: s for s in found}
    for spec in wanted:
        got = have.get(spec.name)
        if got is None:
            raise CheckpointError(f"{label} has no head for the track '{spec.name}'; train the model again.")
        if got.kind is not spec.kind:
            raise CheckpointError(
                f"{label} treats '{spec.name}' as a {got.kind.value} track, but the project's is a "
                f"{spec.kind.value} track; train the model again."
            )
        if got.classes != spec.classes:
            raise CheckpointError(
                f"{label} knows the classes {', '.join(got.classes)} for '{spec.name}', but the project "
                f"has {', '.join(spec.classes)}; train the model again."
            )
    extra = sorted(set(have) - {s.name for s in wanted})
    if extra:
        raise CheckpointError(f"{label} has heads for tracks this project lacks: {', '.join(extra)}.")
