"""This app's own CSV: one row per segment, frames (exact) and seconds (for people) side by side."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from core.atomic import atomic_write
from core.formats.base import VideoLabels, spreadsheet_safe

COLUMNS = ("video", "video_hash", "class", "start_frame", "end_frame", "start_s", "end_s", "source", "fps")


class SegmentsCsv:
    name = "csv"
    suffix = ".csv"

    def write(self, items: Sequence[VideoLabels], out: Path) -> None:
        with atomic_write(out) as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(COLUMNS)
            for item in items:
                for seg in item.segments:
                    writer.writerow(
                        (
                            spreadsheet_safe(item.video.path),
                            item.video.content_hash,
                            spreadsheet_safe(seg.class_name),
                            seg.start_frame,
                            seg.end_frame,
                            f"{item.seconds(seg.start_frame):.6f}",
                            f"{item.seconds(seg.end_frame):.6f}",
                            seg.source.value,
                            f"{item.video.fps:.6g}",
                        )
                    )
