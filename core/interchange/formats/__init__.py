"""Interchange formats, one module each, all sharing the ``SegmentFormat`` interface."""

from __future__ import annotations

from core.errors import ImportFormatError
from core.interchange.formats.activitynet import ActivityNetJson
from core.interchange.formats.base import (
    PREDICTED,
    ParsedFile,
    ParsedSpan,
    Problem,
    SegmentFormat,
    SegmentWriter,
    Severity,
    Span,
    VideoLabels,
    VideoRef,
)
from core.interchange.formats.boris import BorisTable
from core.interchange.formats.eaf import ElanEaf
from core.interchange.formats.frames_csv import FramesCsv
from core.interchange.formats.labelstudio import LabelStudioJson
from core.interchange.formats.segments_csv import SegmentsCsv

FORMATS: dict[str, SegmentFormat] = {
    f.name: f
    for f in (SegmentsCsv(), FramesCsv(), ActivityNetJson(), BorisTable(), ElanEaf(), LabelStudioJson())
}
WRITERS = FORMATS  # the earlier name

__all__ = [
    "FORMATS",
    "PREDICTED",
    "WRITERS",
    "ParsedFile",
    "ParsedSpan",
    "Problem",
    "SegmentFormat",
    "SegmentWriter",
    "Severity",
    "Span",
    "VideoLabels",
    "VideoRef",
    "format_for",
    "writer_for",
]


def format_for(name: str) -> SegmentFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise ImportFormatError(f"Unknown format {name!r}: choose one of {', '.join(FORMATS)}.") from None


writer_for = format_for
