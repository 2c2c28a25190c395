"""Interchange formats, one module each, all writing through the ``SegmentWriter`` shape."""

from __future__ import annotations

from core.errors import ImportFormatError
from core.formats.activitynet import ActivityNetJson
from core.formats.base import SegmentWriter, VideoLabels
from core.formats.segments_csv import SegmentsCsv

WRITERS: dict[str, SegmentWriter] = {w.name: w for w in (SegmentsCsv(), ActivityNetJson())}

__all__ = ["WRITERS", "SegmentWriter", "VideoLabels", "writer_for"]


def writer_for(name: str) -> SegmentWriter:
    try:
        return WRITERS[name]
    except KeyError:
        raise ImportFormatError(f"Unknown format {name!r}: choose one of {', '.join(WRITERS)}.") from None
