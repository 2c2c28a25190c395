"""Per-frame CSV in DeepEthogram's layout: one row per frame, one 1/0 column per class.

Background is the first class column and ``-1`` across a row marks a frame nobody labelled.
DeepEthogram keeps one file per video, named ``<video stem>_labels.csv``, and finds the video
by that name; so do we. Runs of equal rows become segments on import.
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
from core.interchange.formats.textfiles import read_table
from core.store.records import BACKGROUND

LABELS_SUFFIX = "_labels"
MAX_BAD_ROWS = 20
"""Bad rows before any good one: the file is not this format, so stop instead of listing all."""
_INDEX_NAMES = ("", "frame", "index", "unnamed: 0")


class FramesCsv:
    name = "frames-csv"
    suffix = "_labels.csv"
    per_video = True

    def write(self, items: Sequence[VideoLabels], out: Path) -> None:
        """One video per file: ``items`` holds exactly one (the exporter splits a project)."""
        names = class_columns(items)
        column = {name: i for i, name in enumerate(names)}
        with atomic_write(out) as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["", *(spreadsheet_safe(n) for n in names)])
            for item in items:
                labels = [-1] * item.frame_count
                for seg in item.segments:
                    for frame in range(seg.start_frame, min(seg.end_frame, item.frame_count)):
                        labels[frame] = column[seg.class_name]
                unlabelled = ["-1"] * len(names)
                for frame, label in enumerate(labels):
                    if label < 0:
                        writer.writerow([frame, *unlabelled])
                    else:
                        writer.writerow([frame, *("1" if i == label else "0" for i in range(len(names)))])

    def read(self, path: Path) -> ParsedFile:
        parsed = ParsedFile(path)
        table = read_table(path, parsed)
        has_index = table.header[0] in _INDEX_NAMES
        classes = [spreadsheet_unsafe(c) for c in table.raw_header[int(has_index) :]]
        if not classes:
            raise BadFile(path, "line 1", "the header names no class columns")
        stem = path.name[: -len(".csv")] if path.name.lower().endswith(".csv") else path.stem
        ref = VideoRef(name=stem[: -len(LABELS_SUFFIX)] if stem.endswith(LABELS_SUFFIX) else stem)
        run: tuple[str, int, int] | None = None  # (class, first frame, first line)
        expected = 0
        for row in table.rows:
            values = list(row.cells.values())
            frame = expected
            if has_index:
                try:
                    frame = int(values[0])
                except ValueError:
                    parsed.problem(
                        f"line {row.line}", f"the frame number {values[0]!r} is not a whole number"
                    )
                    return parsed
                values = values[1:]
            if frame != expected:
                parsed.problem(
                    f"line {row.line}",
                    f"frame {frame} follows frame {expected - 1}; rows must be consecutive",
                )
                return parsed
            expected += 1
            if parsed.error_count >= MAX_BAD_ROWS and not parsed.spans and run is None:
                raise BadFile(
                    path,
                    f"line {row.line}",
                    f"{parsed.error_count} problems before the first labelled frame: the rows are not "
                    "per-frame labels (1, 0 or -1 in each class column), so this is not a frames-csv file",
                )
            label = _frame_label(values, classes, parsed, row.line)
            if run is not None and (label is None or label != run[0]):
                _close(parsed, ref, run, frame, row.line)
                run = None
            if label is not None and run is None:
                run = (label, frame, row.line)
        if run is not None:
            _close(parsed, ref, run, expected, table.rows[-1].line + 1)
        return parsed


def class_columns(items: Sequence[VideoLabels]) -> list[str]:
    """Background first, then every class the videos use, by name."""
    used = {seg.class_name for item in items for seg in item.segments} - {BACKGROUND}
    return [BACKGROUND, *sorted(used)]


def _frame_label(values: list[str], classes: Sequence[str], parsed: ParsedFile, line: int) -> str | None:
    cells = [v.strip() for v in values]
    if all(c == "-1" for c in cells) or all(c in ("0", "") for c in cells):
        return None
    bad = [c for c in cells if c not in ("0", "1", "-1")]
    if bad:
        parsed.problem(f"line {line}", f"{bad[0][:20]!r} is not 1, 0 or -1")
        return None
    on = [name for name, c in zip(classes, cells, strict=True) if c == "1"]
    if len(on) > 1:
        parsed.problem(
            f"line {line}",
            f"the frame has {len(on)} classes ({', '.join(on[:3])}); a frame can carry one label",
        )
        return None
    return on[0] if on else None


def _close(parsed: ParsedFile, ref: VideoRef, run: tuple[str, int, int], end: int, end_line: int) -> None:
    name, start, line = run
    where = f"line {line}" if end_line - 1 == line else f"lines {line}–{end_line - 1}"
    parsed.spans.append(ParsedSpan(ref, name, where, start_frame=start, end_frame=end))
