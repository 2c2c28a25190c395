"""What a committed unit of work changed, named so that views redraw only that.

The store notes these as repositories write; once the unit commits they go to whoever
listens (``core.project`` turns them into named events). Plain frozen dataclasses: they cross
threads and processes unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentsChanged:
    """The labels of ``video_id`` in frames ``[start, end)`` may differ."""

    video_id: int
    start: int
    end: int


@dataclass(frozen=True)
class PredictionsChanged:
    """The scored windows (and so the predicted events) of ``video_id`` may differ."""

    video_id: int


@dataclass(frozen=True)
class ClassesChanged:
    """Names, colours, keys or the set of label classes changed (segments may have moved too)."""


@dataclass(frozen=True)
class ModelsChanged:
    """A model version was added or changed, or another one became active."""


@dataclass(frozen=True)
class VideosChanged:
    """A video was added, indexed, relinked or removed; ``None`` when several were."""

    video_id: int | None = None


Change = SegmentsChanged | PredictionsChanged | ClassesChanged | ModelsChanged | VideosChanged


def coalesce(changes: Iterable[Change]) -> tuple[Change, ...]:
    """One note per thing: a video's segment ranges become the one range spanning them all."""
    spans: dict[int, tuple[int, int]] = {}
    others: dict[Change, None] = {}
    for change in changes:
        if isinstance(change, SegmentsChanged):
            lo, hi = spans.get(change.video_id, (change.start, change.end))
            spans[change.video_id] = (min(lo, change.start), max(hi, change.end))
        else:
            others.setdefault(change, None)
    merged: list[Change] = [SegmentsChanged(v, lo, hi) for v, (lo, hi) in spans.items()]
    return (*merged, *others)


_KINDS: dict[str, type] = {
    "segments": SegmentsChanged,
    "predictions": PredictionsChanged,
    "classes": ClassesChanged,
    "models": ModelsChanged,
    "videos": VideosChanged,
}


def to_json(change: Change) -> dict[str, object]:
    """A change as JSON, for the change feed other processes read."""
    kind = next(name for name, cls in _KINDS.items() if isinstance(change, cls))
    return {"kind": kind, **vars(change)}


def from_json(data: dict[str, object]) -> Change | None:
    """The change ``to_json`` wrote; None for a kind this version does not know (a newer app's)."""
    fields = dict(data)
    cls = _KINDS.get(str(fields.pop("kind", "")))
    if cls is None:
        return None
    try:
        change: Change = cls(**fields)
    except TypeError:
        return None
    return change
