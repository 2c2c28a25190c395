"""Exporting a project in any format: one file, or a folder with one file per video.

Formats that hold one video per file (EAF, DeepEthogram's per-frame CSV) always write into a
folder, named by each video's stem; the others write one file, or ``labels<suffix>`` inside a
folder. Every file is written atomically by its format.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from core.errors import ImportFormatError
from core.interchange.formats import SegmentFormat, VideoLabels
from core.store import Store
from core.store.records import Video

log = logging.getLogger(__name__)


def is_folder_target(out: Path) -> bool:
    """An existing folder, or a path with no suffix, means "write into this folder"."""
    return out.is_dir() or not out.suffix


def export_labels(items: Sequence[VideoLabels], fmt: SegmentFormat, out: Path) -> list[Path]:
    """Write ``items`` to ``out`` (a file or a folder); returns the files written."""
    if not fmt.per_video:
        target = out / f"labels{fmt.suffix}" if is_folder_target(out) else out
        fmt.write(items, target)
        return [target]
    if not is_folder_target(out):
        if len(items) != 1:
            raise ImportFormatError(
                f"The {fmt.name} format holds one video per file: "
                f"give a folder to export {len(items)} videos."
            )
        fmt.write(items, out)
        return [out]
    written: list[Path] = []
    taken: set[str] = set()
    for item in items:
        stem = item.key if item.key not in taken else f"{item.key}-{item.video.id}"
        taken.add(stem)
        target = out / f"{stem}{fmt.suffix}"
        fmt.write([item], target)
        written.append(target)
    return written


def dropped_notes(items: Sequence[VideoLabels], fmt: SegmentFormat) -> str | None:
    """A sentence saying what the format leaves out, when the labels carry modifiers or comments
    it has no place for; None when nothing is lost."""
    if fmt.keeps_notes:
        return None
    noted = sum(1 for item in items for s in item.segments if s.modifiers or s.comment)
    if not noted:
        return None
    labels = "label carries" if noted == 1 else "labels carry"
    return (
        f"{noted} {labels} modifiers or a comment, which the {fmt.name} format has no place for: "
        "they were not written (csv, frames-csv, boris, eaf and labelstudio keep them)."
    )


def project_labels(store: Store, videos: Sequence[Video]) -> list[VideoLabels]:
    """Every video's labels for export: one track as before, several with each span's track."""
    tracks = store.tracks.list()
    if len(tracks) == 1:
        return [VideoLabels.of(v, store.segments.list(v.id)) for v in videos]
    by_id = {t.id: t for t in tracks}
    order = {t.id: i for i, t in enumerate(tracks)}
    items = []
    for video in videos:
        segs = sorted(
            store.segments.list(video.id, all_tracks=True), key=lambda s: (order[s.track_id], s.start_frame)
        )
        items.append(VideoLabels.of(video, segs, by_id))
    return items
