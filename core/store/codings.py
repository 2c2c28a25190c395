"""Independent codings: each annotator's labels of a video, kept apart for agreement.

A coding is saved from the video's labels as they stand (``save``), optionally clearing them
so the next coder starts blank; ``list`` feeds the agreement report. Choosing one as the
reference is an ordinary label edit (see ``core.project.actions.use_coding``).
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from core.errors import StoreError
from core.store.changes import VideosChanged
from core.store.orm import CodingRow, TrackRow, utc_now
from core.store.records import DEFAULT_TRACK
from core.store.unit import Repository

log = logging.getLogger(__name__)

Coded = tuple[str, int, int, str]
"""(class name, start frame, end frame, track name): names, since a coding may outlive a
class's id. Codings saved before they named tracks hold three fields: the default track's."""


class CodingRepository(Repository):
    def save(self, video_id: int, coder: str, segments: Sequence[Coded]) -> None:
        """Keep ``coder``'s coding of a video (replacing an earlier one of theirs)."""
        with self._write("save the coding") as session:
            row = session.scalars(
                select(CodingRow).where(CodingRow.video_id == video_id, CodingRow.coder == coder)
            ).first()
            data = [[name, int(start), int(end), track] for name, start, end, track in segments]
            if row is None:
                session.add(CodingRow(video_id=video_id, coder=coder[:100], segments=data))
            else:
                row.segments, row.at = data, utc_now()
            self._changed(VideosChanged(video_id))

    def list(self, video_id: int) -> dict[str, builtins.list[Coded]]:
        """Every coder's coding of a video, by coder."""
        with self._read("read the codings") as session:
            rows = session.scalars(select(CodingRow).where(CodingRow.video_id == video_id)).all()
            if not rows:
                return {}
            default = session.scalars(select(TrackRow.name).order_by(TrackRow.position, TrackRow.id)).first()
            return {r.coder: [_coded(item, default or DEFAULT_TRACK) for item in r.segments] for r in rows}

    def coders(self) -> dict[int, builtins.list[str]]:
        """Who has coded each video (videos nobody coded are left out), coders by name."""
        with self._read("read the codings") as session:
            out: dict[int, builtins.list[str]] = {}
            for video_id, coder in session.execute(
                select(CodingRow.video_id, CodingRow.coder).order_by(CodingRow.video_id, CodingRow.coder)
            ):
                out.setdefault(int(video_id), []).append(str(coder))
            return out

    def get(self, video_id: int, coder: str) -> builtins.list[Coded]:
        """One coder's coding, or a sentence saying who has coded the video."""
        coding = self.list(video_id).get(coder)
        if coding is None:
            raise StoreError(
                f"{coder!r} has not saved a coding of video {video_id}; `coding list` shows who has."
            )
        return coding


def _coded(item: Sequence[Any], default_track: str) -> Coded:
    track = str(item[3]) if len(item) > 3 else default_track
    return (str(item[0]), int(item[1]), int(item[2]), track)
