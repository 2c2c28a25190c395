"""Edit-log entries for writes that are not one range edit: imports, deleting a class or a
track (and undoing that), a dataset import. Whatever such a write changed is logged per video
and track, as the frames it changed before and after, so `log VIDEO` shows it with its author
and `log restore` can put it back like any other entry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from core.labels.editing import snapshot
from core.project.project import default_annotator
from core.store import Store
from core.store.records import Segment

log = logging.getLogger(__name__)


@contextmanager
def logged(
    store: Store, annotator: str | None, text: str, video_ids: Iterable[int] | None = None
) -> Iterator[None]:
    """Run the block as one unit and log what it changed in ``video_ids`` (every video, those
    the block adds included, when None), signed ``annotator`` (default: ``default_annotator``).
    Joins the caller's unit if there is one."""
    annotator = annotator or default_annotator()
    with store.unit(f"save “{text}”"):
        ids = None if video_ids is None else sorted(set(video_ids))
        before = {v: store.segments.list(v, all_tracks=True) for v in (ids or _all_videos(store))}
        yield
        for video_id in ids if ids is not None else _all_videos(store):
            after = store.segments.list(video_id, all_tracks=True)
            _log_changes(store, annotator, text, video_id, before.get(video_id, []), after)


def _all_videos(store: Store) -> list[int]:
    return [v.id for v in store.videos.list()]


def _key(s: Segment) -> tuple[object, ...]:
    return (s.class_id, s.start_frame, s.end_frame, s.source, s.modifiers, s.comment)


def _log_changes(
    store: Store,
    annotator: str,
    text: str,
    video_id: int,
    before: Sequence[Segment],
    after: Sequence[Segment],
) -> None:
    """One entry per track whose labels changed, spanning the frames that changed."""
    for track_id in sorted({s.track_id for s in (*before, *after)}):
        was = [s for s in before if s.track_id == track_id]
        now = [s for s in after if s.track_id == track_id]
        differ = {_key(s) for s in was} ^ {_key(s) for s in now}
        changed = [s for s in (*was, *now) if _key(s) in differ]
        if not changed:
            continue
        start, end = min(s.start_frame for s in changed), max(s.end_frame for s in changed)
        store.edit_log.append(
            video_id, annotator, text, start, end, snapshot(was, start, end), snapshot(now, start, end)
        )
