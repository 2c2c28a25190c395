"""Per-frame CSV in DeepEthogram's layout: one row per frame, one 1/0 column per class.

Background is the first class column and ``-1`` across a row marks a frame nobody labelled.
DeepEthogram keeps one file per video, named ``<video stem>_labels.csv``, and finds the video
by that name; so do we. Runs of equal rows become segments on import. With several tracks the
columns are ``track/class``, one block per track (each with its own background), and each
block is one track's per-frame labels. A point track's block has no background column (its
events are single frames, each its own event). Labels with modifiers or a comment add a
``[modifiers]`` (joined with "|") and a ``[comment]`` column after their block's classes, the
values repeated on every frame of the label, so runs split exactly where the store's segments
do. DeepEthogram reads only files without those columns and without tracks.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
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
MODIFIERS, COMMENT = "[modifiers]", "[comment]"
MODIFIER_SEPARATOR = "|"
Label = tuple[str, tuple[str, ...], str | None]
"""A frame's label in one block: class, modifiers, comment."""


@dataclass(frozen=True)
class Block:
    """One track's columns: its classes (background first unless a point track), then notes."""

    track: str | None
    names: list[str]
    point: bool = False
    modifiers: bool = False
    comment: bool = False

    def header(self) -> list[str]:
        notes = [n for n, on in ((MODIFIERS, self.modifiers), (COMMENT, self.comment)) if on]
        return [n if self.track is None else f"{self.track}/{n}" for n in (*self.names, *notes)]


class FramesCsv:
    name = "frames-csv"
    suffix = "_labels.csv"
    per_video = True
    keeps_notes = True

    def write(self, items: Sequence[VideoLabels], out: Path) -> None:
        """One video per file: ``items`` holds exactly one (the exporter splits a project)."""
        blocks = track_blocks(items)
        header = [h for block in blocks for h in block.header()]
        with atomic_write(out) as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["", *(spreadsheet_safe(n) for n in header)])
            for item in items:
                cells = [_block_cells(item, block) for block in blocks]
                for frame in range(item.frame_count):
                    writer.writerow([frame, *(c for block in cells for c in block[frame])])

    def read(self, path: Path) -> ParsedFile:
        parsed = ParsedFile(path)
        table = read_table(path, parsed)
        has_index = table.header[0] in _INDEX_NAMES
        columns = [spreadsheet_unsafe(c) for c in table.raw_header[int(has_index) :]]
        if not columns:
            raise BadFile(path, "line 1", "the header names no class columns")
        stem = path.name[: -len(".csv")] if path.name.lower().endswith(".csv") else path.stem
        ref = VideoRef(name=stem[: -len(LABELS_SUFFIX)] if stem.endswith(LABELS_SUFFIX) else stem)
        tracked = all("/" in c for c in columns)
        groups: dict[str | None, list[int]] = {}
        for i, column in enumerate(columns):
            groups.setdefault(column.split("/", 1)[0] if tracked else None, []).append(i)
        names = [c.split("/", 1)[1] if tracked else c for c in columns]
        readers = [_BlockReader(parsed, ref, track, indices, names) for track, indices in groups.items()]
        if not any(r.classes for r in readers):
            raise BadFile(path, "line 1", "the header names no class columns")
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
            if parsed.error_count >= MAX_BAD_ROWS and not parsed.spans and not any(r.run for r in readers):
                raise BadFile(
                    path,
                    f"line {row.line}",
                    f"{parsed.error_count} problems before the first labelled frame: the rows are not "
                    "per-frame labels (1, 0 or -1 in each class column), so this is not a frames-csv file",
                )
            for reader in readers:
                reader.frame(values, frame, row.line)
        end_line = table.rows[-1].line + 1 if table.rows else 2
        for reader in readers:
            reader.close(expected, end_line)
        return parsed


def track_blocks(items: Sequence[VideoLabels]) -> list[Block]:
    """One block of class columns per track (background first), or one block without tracks."""
    spans = [seg for item in items for seg in item.segments]
    tracks = list(dict.fromkeys(seg.track for seg in spans if seg.track))
    if not tracks:
        return [
            Block(
                None,
                class_columns(items),
                modifiers=any(s.modifiers for s in spans),
                comment=any(s.comment for s in spans),
            )
        ]
    blocks: list[Block] = []
    for track in tracks:
        mine = [s for s in spans if s.track == track]
        point = all(s.point for s in mine)
        used = sorted({s.class_name for s in mine} - {BACKGROUND})
        blocks.append(
            Block(
                track,
                used if point else [BACKGROUND, *used],
                point,
                any(s.modifiers for s in mine),
                any(s.comment for s in mine),
            )
        )
    return blocks


def _block_cells(item: VideoLabels, block: Block) -> list[list[str]]:
    column = {name: i for i, name in enumerate(block.names)}
    labels: list[Label | None] = [None] * item.frame_count
    for seg in item.segments:
        if seg.track == block.track:
            for frame in range(seg.start_frame, min(seg.end_frame, item.frame_count)):
                labels[frame] = (seg.class_name, seg.modifiers, seg.comment)
    width = len(block.names)
    unlabelled = ["-1"] * width
    out = []
    for label in labels:
        if label is None:
            cells = list(unlabelled)
        else:
            at = column[label[0]]
            cells = ["1" if i == at else "0" for i in range(width)]
        if block.modifiers:
            cells.append("" if label is None else spreadsheet_safe(MODIFIER_SEPARATOR.join(label[1])))
        if block.comment:
            cells.append("" if label is None else spreadsheet_safe(label[2] or ""))
        out.append(cells)
    return out


class _BlockReader:
    """One block's columns read frame by frame; runs of one label become spans."""

    def __init__(
        self, parsed: ParsedFile, ref: VideoRef, track: str | None, indices: list[int], names: list[str]
    ) -> None:
        self.parsed, self.ref, self.track = parsed, ref, track
        self.classes = [i for i in indices if names[i] not in (MODIFIERS, COMMENT)]
        self.class_names = [names[i] for i in self.classes]
        self.modifiers = next((i for i in indices if names[i] == MODIFIERS), None)
        self.comment = next((i for i in indices if names[i] == COMMENT), None)
        self.point = track is not None and BACKGROUND not in self.class_names
        self.run: tuple[Label, int, int] | None = None  # (label, first frame, first line)

    def frame(self, values: list[str], frame: int, line: int) -> None:
        if not self.classes:
            return
        name = _frame_label([values[i] for i in self.classes], self.class_names, self.parsed, line)
        label: Label | None = None
        if name is not None:
            mods = "" if self.modifiers is None else spreadsheet_unsafe(values[self.modifiers])
            note = "" if self.comment is None else spreadsheet_unsafe(values[self.comment])
            label = (name, tuple(m for m in mods.split(MODIFIER_SEPARATOR) if m.strip()), note or None)
        if self.run is not None and (self.point or label != self.run[0]):
            self._emit(self.run, frame, line)
        if label is not None and self.run is None:
            self.run = (label, frame, line)

    def close(self, end: int, end_line: int) -> None:
        if self.run is not None:
            self._emit(self.run, end, end_line)

    def _emit(self, run: tuple[Label, int, int], end: int, end_line: int) -> None:
        (name, modifiers, comment), start, line = run
        where = f"line {line}" if end_line - 1 == line else f"lines {line}–{end_line - 1}"
        self.parsed.spans.append(
            ParsedSpan(
                self.ref,
                name,
                where,
                start_frame=start,
                end_frame=end,
                point=self.point,
                track=self.track,
                modifiers=modifiers,
                comment=comment,
            )
        )
        self.run = None


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
