"""Per-frame CSV in DeepEthogram's layout: one row per frame, one 1/0 column per class.

Background is the first class column and ``-1`` across a row marks a frame nobody labelled.
DeepEthogram keeps one file per video, named ``<video stem>_labels.csv``, and finds the video
by that name; so do we. Runs of equal rows become segments on import. With several tracks the
columns are ``track/class``, one block per track (each with its own background), and each
block is one track's per-frame labels.
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
from core.interchange.formats.textfiles import Table, read_table
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
        blocks = track_blocks(items)
        header = [f"{t}/{n}" if t is not None else n for t, names in blocks for n in names]
        with atomic_write(out) as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["", *(spreadsheet_safe(n) for n in header)])
            for item in items:
                cells = [_block_cells(item, track, names) for track, names in blocks]
                for frame in range(item.frame_count):
                    writer.writerow([frame, *(c for block in cells for c in block[frame])])

    def read(self, path: Path) -> ParsedFile:
        parsed = ParsedFile(path)
        table = read_table(path, parsed)
        has_index = table.header[0] in _INDEX_NAMES
        columns = [spreadsheet_unsafe(c) for c in table.raw_header[int(has_index) :]]
        if not columns:
            raise BadFile(path, "line 1", "the header names no class columns")
        if all("/" in c for c in columns):
            return _read_tracks(path, table, has_index, columns, parsed)
        classes = columns
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


def track_blocks(items: Sequence[VideoLabels]) -> list[tuple[str | None, list[str]]]:
    """One block of class columns per track (background first), or one block without tracks."""
    tracks = list(dict.fromkeys(seg.track for item in items for seg in item.segments if seg.track))
    if not tracks:
        return [(None, class_columns(items))]
    blocks: list[tuple[str | None, list[str]]] = []
    for track in tracks:
        used = {s.class_name for item in items for s in item.segments if s.track == track} - {BACKGROUND}
        blocks.append((track, [BACKGROUND, *sorted(used)]))
    return blocks


def _block_cells(item: VideoLabels, track: str | None, names: list[str]) -> list[list[str]]:
    column = {name: i for i, name in enumerate(names)}
    labels = [-1] * item.frame_count
    for seg in item.segments:
        if seg.track == track:
            for frame in range(seg.start_frame, min(seg.end_frame, item.frame_count)):
                labels[frame] = column[seg.class_name]
    unlabelled = ["-1"] * len(names)
    return [
        unlabelled if lab < 0 else ["1" if i == lab else "0" for i in range(len(names))] for lab in labels
    ]


def _read_tracks(
    path: Path, table: Table, has_index: bool, columns: list[str], parsed: ParsedFile
) -> ParsedFile:
    """``track/class`` columns: each track's block read as its own per-frame labels."""
    stem = path.name[: -len(".csv")] if path.name.lower().endswith(".csv") else path.stem
    ref = VideoRef(name=stem[: -len(LABELS_SUFFIX)] if stem.endswith(LABELS_SUFFIX) else stem)
    groups: dict[str, list[int]] = {}
    for i, column in enumerate(columns):
        groups.setdefault(column.split("/", 1)[0], []).append(i)
    names = [c.split("/", 1)[1] for c in columns]
    runs: dict[str, tuple[str, int, int] | None] = dict.fromkeys(groups)
    frame = 0
    for frame, row in enumerate(table.rows):
        values = list(row.cells.values())[int(has_index) :]
        for track, indices in groups.items():
            label = _frame_label([values[i] for i in indices], [names[i] for i in indices], parsed, row.line)
            run = runs[track]
            if run is not None and (label is None or label != run[0]):
                _close(parsed, ref, run, frame, row.line, track)
                run = None
            if label is not None and run is None:
                run = (label, frame, row.line)
            runs[track] = run
    for track, run in runs.items():
        if run is not None:
            _close(parsed, ref, run, len(table.rows), table.rows[-1].line + 1, track)
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


def _close(
    parsed: ParsedFile,
    ref: VideoRef,
    run: tuple[str, int, int],
    end: int,
    end_line: int,
    track: str | None = None,
) -> None:
    name, start, line = run
    where = f"line {line}" if end_line - 1 == line else f"lines {line}–{end_line - 1}"
    parsed.spans.append(ParsedSpan(ref, name, where, start_frame=start, end_frame=end, track=track))
