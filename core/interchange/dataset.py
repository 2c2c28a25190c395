"""A folder-per-class dataset (UCF101 / Kinetics layout, ``root/<class>/<clip>``) as labels.

Each clip becomes a project video labelled from its first frame to its last with its folder's
class, ready for fine-tuning. Clips are opened (and so checked) before any label is written, and
all labels and new classes go in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from core.errors import AppError, ImportFormatError
from core.labels.audit import logged
from core.media.library import VIDEO_SUFFIXES, add_video
from core.store import Store
from core.store.classes import name_key
from core.store.imports import ImportedSegment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetClip:
    class_name: str
    path: Path


@dataclass(frozen=True)
class DatasetResult:
    clips: int
    classes: tuple[str, ...]
    new_classes: tuple[str, ...]

    def summary(self) -> str:
        created = f" ({len(self.new_classes)} new)" if self.new_classes else ""
        return f"imported {self.clips} clips of {len(self.classes)} classes{created}"


def find_clips(root: Path) -> list[DatasetClip]:
    """Every video file under each class folder, by class then file name."""
    if not root.is_dir():
        raise ImportFormatError(
            f"{root} is not a folder: give the dataset's root, which holds a folder per class."
        )
    clips = [
        DatasetClip(" ".join(folder.name.split()), clip)
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        for clip in sorted(folder.rglob("*"))
        if clip.is_file() and clip.suffix.lower() in VIDEO_SUFFIXES
    ]
    if not clips:
        raise ImportFormatError(
            f"No video files in class folders under {root}: expected root/<class>/<clip>.avi."
        )
    return clips


def import_dataset(
    store: Store, root: Path, dry_run: bool = False, annotator: str | None = None
) -> DatasetResult:
    clips = find_clips(root)
    known = {name_key(c.name) for c in store.classes.list()}
    classes = tuple(dict.fromkeys(c.class_name for c in clips))
    new = tuple(name for name in classes if name_key(name) not in known)
    if dry_run:
        return DatasetResult(len(clips), classes, new)
    writes: dict[int, list[ImportedSegment]] = {}
    failed: list[str] = []
    for clip in clips:
        try:
            video = add_video(store, clip.path)
        except AppError as exc:
            failed.append(f"{clip.path.name}: {exc}")
            continue
        writes[video.id] = [ImportedSegment(clip.class_name, 0, video.best_frame_count)]
    if failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise ImportFormatError(f"No labels were written: {failed[0]}{more}")
    with logged(store, annotator, "Import dataset", writes):
        store.imports.apply(new, writes)
    return DatasetResult(len(clips), classes, new)
