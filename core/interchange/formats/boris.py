"""BORIS: the aggregated-events table (TSV/CSV) both ways, and a ``.boris`` project's events.

Columns are found by header name, never position, in BORIS 7's and 8's spellings ("Media file"
or "Media file name", …). We write every segment as a STATE event with its exact frames in the
image-index columns, which our importer prefers; files from BORIS itself carry only times, which
are converted with the video's own timestamps. A ``.boris`` project stores START/STOP toggles,
paired here per subject and behaviour; exporting to a ``.boris`` file writes one
(``boris_project``), which BORIS opens.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from core.atomic import atomic_write
from core.interchange.formats.base import (
    BadFile,
    ParsedFile,
    ParsedSpan,
    VideoLabels,
    VideoRef,
    spreadsheet_safe,
    spreadsheet_unsafe,
)
from core.interchange.formats.boris_events import Event, pair_events, read_project
from core.interchange.formats.boris_project import write_project
from core.interchange.formats.groups import NO_SUBJECT, clean_subject, subject_and_category, track_name
from core.interchange.formats.numbers import frame_cell, seconds_cell
from core.interchange.formats.textfiles import Row, read_table, read_text, require

COLUMNS = (
    "Observation id", "Observation date", "Description", "Observation type", "Source",
    "Time offset (s)", "Media duration (s)", "FPS", "Subject", "Behavior", "Behavioral category",
    "Behavior type", "Start (s)", "Stop (s)", "Duration (s)", "Media file name",
    "Image index start", "Image index stop", "Comment start", "Comment stop", "Modifiers",
)  # fmt: skip
MODIFIER_SEPARATOR = "|"
MEDIA = ("media file name", "media file", "media")
START, STOP = ("start (s)", "start"), ("stop (s)", "stop")


class BorisTable:
    name = "boris"
    suffix = ".tsv"
    per_video = False
    keeps_notes = True

    def write(self, items: Sequence[VideoLabels], out: Path) -> None:
        """The aggregated-events table; a BORIS project when ``out`` ends in ``.boris``."""
        if out.suffix.lower() == ".boris":
            write_project(items, out)
            return
        with atomic_write(out) as f:
            writer = csv.writer(f, delimiter="\t", lineterminator="\n")
            writer.writerow(COLUMNS)
            for item in items:
                path = spreadsheet_safe(item.video.path)
                for seg in item.segments:
                    start = item.seconds(seg.start_frame)
                    stop = start if seg.point else item.seconds(seg.end_frame)
                    last = seg.start_frame if seg.point else seg.end_frame
                    subject, category = subject_and_category(seg.track, seg.subject, seg.point)
                    writer.writerow(
                        (
                            spreadsheet_safe(item.key), "", "", "Media file(s)", f"player #1:{path}",
                            "0.000", f"{item.duration_s:.6f}", f"{item.video.fps:.6g}",
                            spreadsheet_safe(subject or NO_SUBJECT),
                            spreadsheet_safe(seg.class_name), spreadsheet_safe(category),
                            "POINT" if seg.point else "STATE",
                            f"{start:.6f}", f"{stop:.6f}", f"{stop - start:.6f}", path,
                            seg.start_frame, last, spreadsheet_safe(seg.comment or ""), "",
                            spreadsheet_safe(MODIFIER_SEPARATOR.join(seg.modifiers)),
                        )
                    )  # fmt: skip

    def read(self, path: Path) -> ParsedFile:
        text = read_text(path)
        if path.suffix.lower() == ".boris" or text.lstrip().startswith("{"):
            return read_project(path)
        parsed = ParsedFile(path)
        table = read_table(path, parsed, text)
        if "status" in table.header and "time" in table.header:
            return _read_events_table(table.rows, parsed)
        require(table, path, ("behavior",), START, STOP)
        grouped = any(
            clean_subject(row.get("subject")) or row.get("behavioral category", "behavior category")
            for row in table.rows
        )
        for row in table.rows:
            where = f"line {row.line}"
            point = row.get("behavior type").casefold().startswith("point")
            subject = clean_subject(spreadsheet_unsafe(row.get("subject")))
            category = spreadsheet_unsafe(row.get("behavioral category", "behavior category")).strip()
            try:
                span = ParsedSpan(
                    video=_media(row),
                    class_name=spreadsheet_unsafe(row.get("behavior")),
                    where=where,
                    start_frame=frame_cell(_na(row.get("image index start")), "Image index start"),
                    end_frame=frame_cell(_na(row.get("image index stop")), "Image index stop"),
                    start_s=seconds_cell(row.get(*START), "Start (s)"),
                    end_s=seconds_cell(_na(row.get(*STOP)), "Stop (s)"),
                    point=point,
                    track=track_name(subject, category, point) if grouped else None,
                    subject=subject or None,
                    modifiers=_modifiers(spreadsheet_unsafe(row.get("modifiers"))),
                    comment=_na(spreadsheet_unsafe(row.get("comment start", "comment"))) or None,
                )
            except ValueError as exc:
                parsed.problem(where, str(exc))
                continue
            if span.start_s is None and span.start_frame is None:
                parsed.problem(where, "the row has no start time")
                continue
            parsed.spans.append(span)
        return parsed


def _media(row: Row) -> VideoRef:
    media = spreadsheet_unsafe(row.get(*MEDIA))
    if not media:
        source = spreadsheet_unsafe(row.get("source"))
        media = source.split(":", 1)[1] if source.lower().startswith("player #") else source
    media = media.strip()
    if not media:
        return VideoRef(name=spreadsheet_unsafe(row.get("observation id")) or None)
    has_dir = "/" in media or "\\" in media
    return VideoRef(path=media if has_dir else None, name=Path(media.replace("\\", "/")).name)


def _modifiers(text: str) -> tuple[str, ...]:
    """BORIS joins a label's modifiers with "|" (one per modifier set); "None" means none."""
    values = [v.strip() for v in _na(text).split(MODIFIER_SEPARATOR)]
    return tuple(v for v in values if v and v.casefold() != "none")


def _na(text: str) -> str:
    return "" if text.upper() == "NA" else text


def _read_events_table(rows: Sequence[Row], parsed: ParsedFile) -> ParsedFile:
    """BORIS's plain events export: one row per START, STOP or POINT."""
    events: list[Event] = []
    grouped = any(clean_subject(row.get("subject")) or row.get("behavioral category") for row in rows)
    for row in rows:
        try:
            time = seconds_cell(row.get("time"), "Time")
        except ValueError as exc:
            parsed.problem(f"line {row.line}", str(exc))
            continue
        if time is None:
            parsed.problem(f"line {row.line}", "the row has no time")
            continue
        status = row.get("status").upper()
        kind = "point" if status == "POINT" else "state"
        events.append(
            Event(
                time,
                clean_subject(spreadsheet_unsafe(row.get("subject"))),
                spreadsheet_unsafe(row.get("behavior")),
                kind,
                f"line {row.line}",
                _media(row),
                spreadsheet_unsafe(row.get("behavioral category")).strip(),
                _modifiers(spreadsheet_unsafe(row.get("modifiers"))),
                _na(spreadsheet_unsafe(row.get("comment"))) or None,
            )
        )
    pair_events(events, parsed, grouped)
    return parsed


__all__ = ["BadFile", "BorisTable"]
