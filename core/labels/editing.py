"""Label edits as undoable range snapshots, plus the segment arithmetic the editor needs.

Segments are stored frame-exclusive and canonical (touching equal segments are one), so what a
range holds is fully described by the labels of its frames. An edit therefore records what its
range held before and after, and undo/redo are one ``replace_range`` each, whatever the edit
was. Everything here is plain Python over the store: the GUI wraps an ``Edit`` in a
``QUndoCommand`` and nothing more.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from core.errors import ConflictError, StoreError
from core.store import Store
from core.store.records import BACKGROUND, NewSegment, Segment, SegmentSource

log = logging.getLogger(__name__)


def snapshot(segments: Sequence[Segment], start: int, end: int) -> tuple[NewSegment, ...]:
    """The labels of ``[start, end)``, clipped to it, as segments ready to write back."""
    out: list[NewSegment] = []
    for seg in sorted(segments, key=lambda s: s.start_frame):
        lo, hi = max(seg.start_frame, start), min(seg.end_frame, end)
        if lo < hi:
            out.append(NewSegment(seg.class_id, lo, hi, seg.source, seg.modifiers, seg.comment))
    return tuple(out)


@dataclass(frozen=True)
class Edit:
    """What one edit changed: the labels of ``[start, end)`` in one track before and after it."""

    text: str
    video_id: int
    start: int
    end: int
    before: tuple[NewSegment, ...]
    after: tuple[NewSegment, ...]
    track_id: int | None = None  # None: the default track

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def undo(self, store: Store) -> None:
        store.segments.replace_range(self.video_id, self.start, self.end, self.before, self.track_id)

    def redo(self, store: Store) -> None:
        store.segments.replace_range(self.video_id, self.start, self.end, self.after, self.track_id)


_SEEN: ContextVar[Sequence[Segment] | None] = ContextVar("seen_segments", default=None)


@contextmanager
def seen(segments: Sequence[Segment] | None) -> Iterator[None]:
    """Edits inside this block name what their author saw: if the store now holds anything
    else in the edited range (someone else changed it), they raise ``ConflictError``."""
    token = _SEEN.set(None if segments is None else tuple(segments))
    try:
        yield
    finally:
        _SEEN.reset(token)


def check_seen(
    current: Sequence[Segment],
    saw: Sequence[Segment],
    video_id: int,
    start: int,
    end: int,
    track_id: int | None = None,
) -> None:
    """The versions read must still be there, or at least the same labels on these frames
    (a long segment may have changed far outside them: that is no conflict). Only the edited
    track counts (``track_id``; every segment seen when None): other tracks' edits never conflict."""
    saw_here = [s for s in saw if s.video_id == video_id and (track_id is None or s.track_id == track_id)]
    ours = {(s.id, s.version) for s in saw_here if s.start_frame < end and s.end_frame > start}
    now = {(s.id, s.version) for s in current}
    if ours == now:
        return
    if snapshot(current, start, end) == snapshot(saw_here, start, end):
        return
    raise ConflictError(
        f"Someone else changed frames {start}–{end} since you last saw them; nothing was saved. "
        "The view now shows their labels: look, then make your edit again if it is still needed.",
        video_id,
        start,
        end,
    )


def record_edit(
    store: Store,
    text: str,
    video_id: int,
    start: int,
    end: int,
    action: Callable[[], object],
    track_id: int | None = None,
) -> Edit:
    """Run ``action`` (which must only change frames in ``[start, end)`` of the track) and record it."""
    if end <= start:
        raise StoreError(f"Nothing to edit: the range {start}–{end} is empty.")
    with store.unit("save the label edit"):  # joins the caller's unit, if any: all or nothing
        store.segments.lock_range(video_id, start, end)  # check-then-write is one step, also on PostgreSQL
        current = store.segments.list(video_id, start, end, track_id=track_id)
        saw = _SEEN.get()
        if saw is not None:
            edited = track_id if track_id is not None else store.tracks.default().id
            check_seen(current, saw, video_id, start, end, edited)
        before = snapshot(current, start, end)
        action()
        after = snapshot(store.segments.list(video_id, start, end, track_id=track_id), start, end)
    return Edit(text, video_id, start, end, before, after, track_id)


# --- edits ----------------------------------------------------------------------------------


def label_range(
    store: Store,
    video_id: int,
    start: int,
    end: int,
    class_id: int,
    modifiers: Sequence[str] = (),
    comment: str | None = None,
) -> Edit:
    """Give ``[start, end)`` of the class's track one human label, overwriting what was there."""
    with store.unit("save the label edit"):
        track_id = store.classes.get(class_id).track_id
        label = NewSegment(class_id, start, end, SegmentSource.HUMAN, tuple(modifiers), comment)
        return record_edit(
            store, "Label frames", video_id, start, end, lambda: store.segments.add(video_id, label), track_id
        )


def clear_range(store: Store, video_id: int, start: int, end: int, track_id: int | None = None) -> Edit:
    """Unlabel ``[start, end)`` of one track (the default one unless named)."""
    return record_edit(
        store,
        "Delete label",
        video_id,
        start,
        end,
        lambda: store.segments.replace_range(video_id, start, end, [], track_id),
        track_id,
    )


def change_segment(store: Store, segment: Segment, new_start: int, new_end: int) -> Edit:
    """Resize or move a segment; frames it leaves become unlabelled, frames it enters are overwritten."""
    if new_end <= new_start:
        raise StoreError("A segment must keep at least one frame.")
    lo, hi = min(segment.start_frame, new_start), max(segment.end_frame, new_end)
    moved = (new_end - new_start) == (segment.end_frame - segment.start_frame)
    text = "Move segment" if moved and new_start != segment.start_frame else "Resize segment"

    def action() -> None:
        store.segments.replace_range(
            segment.video_id, segment.start_frame, segment.end_frame, [], segment.track_id
        )
        store.segments.add(
            segment.video_id,
            NewSegment(
                segment.class_id, new_start, new_end, segment.source, segment.modifiers, segment.comment
            ),
        )

    return record_edit(store, text, segment.video_id, lo, hi, action, segment.track_id)


def set_notes(store: Store, segment: Segment, modifiers: Sequence[str], comment: str | None) -> Edit:
    """Give a label its modifiers and comment (a blank comment is none); its frames stay."""
    clean = comment.strip() if comment is not None else ""
    return record_edit(
        store,
        "Set modifiers and comment",
        segment.video_id,
        segment.start_frame,
        segment.end_frame,
        lambda: store.segments.update(segment.id, modifiers=tuple(modifiers), comment=clean or None),
        segment.track_id,
    )


def merge_with_next(store: Store, video_id: int, segments: Sequence[Segment], segment: Segment) -> Edit:
    """Extend ``segment`` over the gap and the next segment, in its own class."""
    following = [s for s in segments if s.start_frame >= segment.end_frame]
    if not following:
        raise StoreError("There is no later segment to merge with.")
    nxt = min(following, key=lambda s: s.start_frame)
    start, end = segment.start_frame, nxt.end_frame
    return record_edit(
        store,
        "Merge segments",
        video_id,
        start,
        end,
        lambda: store.segments.add(
            video_id,
            NewSegment(segment.class_id, start, end, segment.source, segment.modifiers, segment.comment),
        ),
        segment.track_id,
    )


def mark_reviewed(store: Store, video_id: int, start: int, end: int, track_id: int | None = None) -> Edit:
    """Label the unlabelled frames of ``[start, end)`` as background: a human looked and saw nothing."""
    background = store.classes.by_name(BACKGROUND, track_id)
    if background is None:  # the store creates it; only a damaged database lacks it
        raise StoreError("The project has no background class; reopen it to recreate it.")
    return record_edit(
        store,
        "Mark reviewed",
        video_id,
        start,
        end,
        lambda: store.segments.fill_unlabelled(video_id, start, end, background.id),
        track_id,
    )


# --- queries ----------------------------------------------------------------------------------


def segment_at(segments: Sequence[Segment], frame: int) -> Segment | None:
    for seg in segments:
        if seg.start_frame <= frame < seg.end_frame:
            return seg
    return None


def split_range(segment: Segment, frame: int) -> tuple[int, int] | None:
    """The part of ``segment`` from ``frame`` on, if ``frame`` lies strictly inside it.

    Touching equal segments are stored as one, so a split is a selection of the second part:
    relabelling or deleting it then makes two segments.
    """
    if segment.start_frame < frame < segment.end_frame:
        return frame, segment.end_frame
    return None


def boundaries(segments: Sequence[Segment]) -> list[int]:
    """Every start and end frame, sorted, without repeats."""
    return sorted({s.start_frame for s in segments} | {s.end_frame for s in segments})


def next_boundary(bounds: Sequence[int], frame: int) -> int | None:
    i = bisect.bisect_right(bounds, frame)
    return bounds[i] if i < len(bounds) else None


def previous_boundary(bounds: Sequence[int], frame: int) -> int | None:
    i = bisect.bisect_left(bounds, frame)
    return bounds[i - 1] if i > 0 else None


def labelled_fraction(segments: Sequence[Segment], frame_count: int) -> float:
    if frame_count <= 0:
        return 0.0
    return min(1.0, sum(s.end_frame - s.start_frame for s in segments) / frame_count)
