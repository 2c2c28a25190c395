"""Applying a checked import plan: one transaction, all of it or none of it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.errors import ImportFormatError
from core.interchange.plan import ImportPlan
from core.labels.audit import logged
from core.store import Store
from core.store.imports import ImportedSegment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportResult:
    segments: int
    videos: int
    new_classes: tuple[str, ...]

    def summary(self) -> str:
        created = f"; created classes {', '.join(self.new_classes)}" if self.new_classes else ""
        return f"imported {self.segments} segments into {self.videos} videos{created}"


def commit_import(store: Store, plan: ImportPlan, annotator: str | None = None) -> ImportResult:
    """Write the plan's additions; refused while the plan has errors, so nothing partial lands.
    What it changed goes into the edit log, signed ``annotator``."""
    errors = plan.errors
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ImportFormatError(f"Nothing was imported: {errors[0]}{more}.")
    writes = {
        vp.video.id: [
            ImportedSegment(
                s.class_name, s.start_frame, s.end_frame, s.source, s.track, s.modifiers, s.comment
            )
            for s in vp.added
        ]
        for vp in plan.videos
        if vp.added
    }
    with logged(store, annotator, "Import labels", writes):
        count = store.imports.apply(plan.default_new_classes, writes, plan.new_tracks, plan.classes)
    return ImportResult(count, len(writes), tuple(plan.new_classes))
