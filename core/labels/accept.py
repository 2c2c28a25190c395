"""Accepting predicted events into the human labels.

Accepted segments are marked ``ACCEPTED`` so training and evaluation can tell a human's own
strokes from predictions a human approved. "Fill unlabelled only" never touches any existing
label; a plain accept overwrites the event's frames, as painting does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core.analysis.postprocess import PredictedEvent
from core.errors import StoreError
from core.store import Store
from core.store.records import NewSegment, Segment, SegmentSource

log = logging.getLogger(__name__)


def accept_events(
    store: Store,
    video_id: int,
    events: Sequence[PredictedEvent],
    class_names: Sequence[str],
    *,
    fill_unlabelled_only: bool = False,
    start: int | None = None,
    end: int | None = None,
    track_id: int | None = None,
) -> list[Segment]:
    """Write ``events`` (clipped to ``[start, end)`` when given) as accepted segments of one
    track (default: the first), never touching another track's labels.

    ``class_names`` are the model's head for that track, by index; each is matched to the
    track's class of the same name. Returns the track's segments afterwards.
    """
    project = {c.name.casefold(): c for c in store.classes.list(track_id)}
    new: list[NewSegment] = []
    missing: set[str] = set()
    for event in events:
        name = class_names[event.class_index]
        cls = project.get(name.casefold())
        if cls is None:
            missing.add(name)
            continue
        lo = event.start_frame if start is None else max(event.start_frame, start)
        hi = event.end_frame if end is None else min(event.end_frame, end)
        if lo < hi:
            new.append(NewSegment(cls.id, lo, hi, SegmentSource.ACCEPTED))
    if missing:
        log.warning("Skipped predicted events of classes not in the project: %s", ", ".join(sorted(missing)))
    if not new and missing:
        raise StoreError(
            f"The model's classes {', '.join(sorted(missing))} are not in this project: "
            "add them to accept these."
        )
    if fill_unlabelled_only:
        for seg in new:
            store.segments.fill_unlabelled(video_id, seg.start_frame, seg.end_frame, seg.class_id, seg.source)
    elif new:
        store.segments.paint(video_id, new)
    return store.segments.list(video_id, track_id=track_id)
