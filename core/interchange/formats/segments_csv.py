"""This app's own CSV: one row per segment, frames (exact) and seconds (for people) side by side.

On import frames win when a row has both; a row with only seconds (typed by hand, or from
another tool) is converted with the video's own timestamps.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from core.atomic import atomic_write
from core.interchange.formats.base import (
    ParsedFile,
    ParsedSpan,
    VideoLabels,
    VideoRef,
    spreadsheet_safe,
    spreadsheet_unsafe,
)
from core.interchange.formats.numbers import frame_cell, seconds_cell
from core.interchange.formats.textfiles import read_table, require

COLUMNS = ("video", "video_hash", "class", "start_frame", "end_frame", "start_s", "end_s", "source", "fps")
TRACK_COLUMNS = ("track", "subject", "kind", "modifiers", "comment")
"""Written when a label has a track (the project has several) or carries modifiers or a comment."""
MODIFIER_SEPARATOR = "|"


class SegmentsCsv:
    name = "csv"
    suffix = ".csv"
    per_video = False
    keeps_notes = True

    def write(self, items: Sequence[VideoLabels], out: Path) -> None:
        extended = any(s.track or s.modifiers or s.comment for item in items for s in item.segments)
        with atomic_write(out) as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(COLUMNS + TRACK_COLUMNS if extended else COLUMNS)
            for item in items:
                for seg in item.segments:
                    extra = (
                        (
                            spreadsheet_safe(seg.track or ""),
                            spreadsheet_safe(seg.subject or ""),
                            "point" if seg.point else "state",
                            spreadsheet_safe(MODIFIER_SEPARATOR.join(seg.modifiers)),
                            spreadsheet_safe(seg.comment or ""),
                        )
                        if extended
                        else ()
                    )
                    writer.writerow(
                        (
                            spreadsheet_safe(item.video.path),
                            item.video.content_hash,
                            spreadsheet_safe(seg.class_name),
                            seg.start_frame,
                            seg.end_frame,
                            f"{item.seconds(seg.start_frame):.6f}",
                            f"{item.seconds(seg.end_frame):.6f}",
                            seg.source,
                            f"{item.video.fps:.6g}",
                            *extra,
                        )
                    )

    def read(self, path: Path) -> ParsedFile:
        parsed = ParsedFile(path)
        table = read_table(path, parsed)
        require(table, path, ("class",), ("start_frame", "start_s"), ("end_frame", "end_s"))
        for row in table.rows:
            where = f"line {row.line}"
            video = spreadsheet_unsafe(row.get("video"))
            ref = VideoRef(
                path=video if ("/" in video or "\\" in video) else None,
                content_hash=row.get("video_hash") or None,
                name=Path(video.replace("\\", "/")).name if video else None,
            )
            try:
                span = ParsedSpan(
                    video=ref,
                    class_name=spreadsheet_unsafe(row.cells.get("class", "")),
                    where=where,
                    start_frame=frame_cell(row.get("start_frame"), "start_frame"),
                    end_frame=frame_cell(row.get("end_frame"), "end_frame"),
                    start_s=seconds_cell(row.get("start_s"), "start_s"),
                    end_s=seconds_cell(row.get("end_s"), "end_s"),
                    source=row.get("source") or None,
                    track=spreadsheet_unsafe(row.get("track")) or None,
                    subject=spreadsheet_unsafe(row.get("subject")) or None,
                    point=row.get("kind").casefold() == "point",
                    modifiers=tuple(
                        m for m in spreadsheet_unsafe(row.get("modifiers")).split(MODIFIER_SEPARATOR) if m
                    ),
                    comment=spreadsheet_unsafe(row.cells.get("comment", "")) or None,
                )
            except ValueError as exc:
                parsed.problem(where, str(exc))
                continue
            parsed.spans.append(span)
        return parsed
