"""One shared C3D_BN trunk, one head per track: softmax for a state track, sigmoid for a point track.

The trunk (conv1 … fc7, exactly the seed's) runs once per clip and every track's head reads its
fc7 features, so a project with three tracks costs one forward pass plus three small matrix
products. The first track's head is the trunk's own ``fc8``, the others sit beside it in
``heads``; a one-track project therefore keeps a plain C3D_BN, byte for byte the seed's
format. A point track's head says, per event class, how likely an event falls in the window's
central frames. The model's outputs are every head's probabilities side by side, in track
order (``column_slices`` says which columns are whose), which is how they are stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from core.errors import CheckpointError
from core.model.network import C3D_BN, FC7_FEATURES, ClipOutputs
from core.store.records import BACKGROUND, TrackKind

log = logging.getLogger(__name__)


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
            return tuple(c for c in self.classes if c.casefold() != BACKGROUND)
        return self.classes

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind.value, "classes": list(self.classes)}


def specs_to_json(specs: Sequence[TrackSpec]) -> list[dict[str, object]]:
    return [s.to_json() for s in specs]


def specs_from_raw(raw: Any, label: str) -> tuple[TrackSpec, ...]:
    """Specs from their JSON form (a list of dicts); a damaged list is the file's fault."""
    try:
        specs = tuple(
            TrackSpec(str(t["name"]), TrackKind(t["kind"]), tuple(str(c) for c in t["classes"])) for t in raw
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{label} has an unreadable list of tracks, so it is damaged.") from exc
    if not specs or any(not s.outputs for s in specs):
        raise CheckpointError(f"{label} has a damaged list of tracks (a track without outputs).")
    return specs


def specs_from_json(text: str, label: str) -> tuple[TrackSpec, ...]:
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise CheckpointError(f"{label} has an unreadable list of tracks, so it is damaged.") from exc
    return specs_from_raw(raw, label)


def model_specs(specs: Sequence[TrackSpec]) -> list[TrackSpec]:
    """The tracks that get a head: a point track without event classes has nothing to predict."""
    return [s for s in specs if s.outputs]


def column_slices(specs: Sequence[TrackSpec]) -> dict[str, slice]:
    """Which columns of the concatenated outputs are each track's."""
    out: dict[str, slice] = {}
    at = 0
    for spec in specs:
        out[spec.name] = slice(at, at + len(spec.outputs))
        at += len(spec.outputs)
    return out


def head_probs(spec: TrackSpec, logits: torch.Tensor) -> torch.Tensor:
    """Softmax over a state track's classes, an independent sigmoid per point class."""
    logits = logits.float()
    return torch.sigmoid(logits) if spec.kind is TrackKind.POINT else torch.softmax(logits, 1)


class TrackHeads(nn.Module):
    """A linear layer on fc7 per track, in the project's track order (fitted on cached features)."""

    def __init__(self, specs: Sequence[TrackSpec]) -> None:
        super().__init__()
        if not specs:
            raise ValueError("Track heads need at least one track.")
        self.specs = tuple(specs)
        self.layers = nn.ModuleList(nn.Linear(FC7_FEATURES, len(s.outputs)) for s in self.specs)

    def forward(self, fc7: torch.Tensor) -> dict[str, torch.Tensor]:
        """Probabilities per track: rows sum to 1 for a state track; independent for a point track."""
        return {
            spec.name: head_probs(spec, layer(fc7))
            for spec, layer in zip(self.specs, self.layers, strict=True)
        }


class TrackedC3D(C3D_BN):
    """The seed's C3D_BN whose ``fc8`` is the first track's head, plus a head per further track.

    Its outputs (``output_probs``) are every track's probabilities concatenated; the state dict
    is C3D_BN's plus ``heads.<i>.weight``/``bias`` for track ``i + 1``.
    """

    def __init__(self, specs: Sequence[TrackSpec]) -> None:
        specs = tuple(specs)
        if len(specs) < 2:
            raise ValueError("A tracked model has at least two tracks; one track is a plain C3D_BN.")
        super().__init__(len(specs[0].outputs))
        self.specs = specs
        self.heads = nn.ModuleList(nn.Linear(FC7_FEATURES, len(s.outputs)) for s in specs[1:])

    def head_layers(self) -> list[nn.Linear]:
        return [self.fc8, *(h for h in self.heads if isinstance(h, nn.Linear))]

    def output_probs(self, out: ClipOutputs) -> torch.Tensor:
        """All heads from the one trunk pass: fc8's logits are reused, the others read fc7."""
        parts = [head_probs(self.specs[0], out.logits)]
        for spec, layer in zip(self.specs[1:], self.heads, strict=True):
            parts.append(head_probs(spec, layer(out.fc7)))
        return torch.cat(parts, dim=1)

    def probs_from_fc7(self, fc7: torch.Tensor) -> torch.Tensor:
        return self.output_probs(ClipOutputs(self.fc8(fc7), fc7, fc7))


def install_heads(model: C3D_BN, heads: TrackHeads) -> C3D_BN:
    """``model``'s trunk (fc6, fc7 included) with the fitted heads: a tracked model, or for a
    single track a plain C3D_BN whose fc8 is that head."""
    layers = [layer for layer in heads.layers if isinstance(layer, nn.Linear)]
    state = {
        k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith(("fc8.", "heads."))
    }
    state["fc8.weight"], state["fc8.bias"] = (
        layers[0].weight.detach().clone(),
        layers[0].bias.detach().clone(),
    )
    for i, layer in enumerate(layers[1:]):
        state[f"heads.{i}.weight"] = layer.weight.detach().clone()
        state[f"heads.{i}.bias"] = layer.bias.detach().clone()
    with torch.device("meta"):
        built = TrackedC3D(heads.specs) if len(heads.specs) > 1 else C3D_BN(len(heads.specs[0].outputs))
    built.load_state_dict(state, strict=True, assign=True)
    return built.eval()


def check_tracks(found: Sequence[TrackSpec], project: Sequence[TrackSpec], label: str) -> None:
    """Every head of a model must belong to a project track of the same kind and classes.

    A project track without a head is allowed (a track added after training): it simply has
    no predictions until the next training run.
    """
    have = {s.name.casefold(): s for s in project}
    for spec in found:
        mine = have.get(spec.name.casefold())
        if mine is None:
            raise CheckpointError(
                f"{label} has a head for the track '{spec.name}', which this project lacks; "
                "add the track or train the model again."
            )
        if mine.kind is not spec.kind:
            raise CheckpointError(
                f"{label} treats '{spec.name}' as a {spec.kind.value} track, but the project's is a "
                f"{mine.kind.value} track; train the model again."
            )
        if mine.outputs != spec.outputs:
            raise CheckpointError(
                f"{label} knows the classes {', '.join(spec.classes)} for '{spec.name}', but the project "
                f"has {', '.join(mine.classes)}; train the model again."
            )
