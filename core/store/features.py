"""Index of cached C3D features on disk, keyed by everything that changes them.

Features depend on the video's content, the network trunk's weights, the preprocessing,
the stride and the layer; a change to any of these means a different cache file. The
store only records entries: callers create and delete the files themselves.
"""

from __future__ import annotations

import builtins
import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.paths import from_stored, to_stored
from core.store.orm import FeatureCacheRow
from core.store.records import FeatureCacheEntry
from core.store.unit import Repository

log = logging.getLogger(__name__)


def to_record(row: FeatureCacheRow, files_dir: Path) -> FeatureCacheEntry:
    return FeatureCacheEntry(
        id=row.id,
        video_hash=row.video_hash,
        trunk_hash=row.trunk_hash,
        spec_hash=row.spec_hash,
        stride=row.stride,
        layer=row.layer,
        path=from_stored(row.path, files_dir),
        windows=row.windows,
        complete=row.complete,
    )


class FeatureRepository(Repository):
    """Cache folders under the project's files folder are stored relative to it."""

    def __init__(self, session_factory: sessionmaker[Session], files_dir: Path) -> None:
        super().__init__(session_factory)
        self._files_dir = files_dir

    def get(
        self, video_hash: str, trunk_hash: str, spec_hash: str, stride: int, layer: str
    ) -> FeatureCacheEntry | None:
        with self._read("look up cached features") as session:
            row = _find(session, video_hash, trunk_hash, spec_hash, stride, layer)
            return None if row is None else to_record(row, self._files_dir)

    def put(
        self,
        video_hash: str,
        trunk_hash: str,
        spec_hash: str,
        stride: int,
        layer: str,
        path: str,
        windows: int,
        complete: bool,
    ) -> FeatureCacheEntry:
        """Record (or update) the cache file for this key."""
        with self._write("record the feature cache") as session:
            row = _find(session, video_hash, trunk_hash, spec_hash, stride, layer)
            if row is None:
                row = FeatureCacheRow(
                    video_hash=video_hash,
                    trunk_hash=trunk_hash,
                    spec_hash=spec_hash,
                    stride=stride,
                    layer=layer,
                )
                session.add(row)
            row.path = to_stored(path, self._files_dir)
            row.windows, row.complete = int(windows), bool(complete)
            session.flush()
            return to_record(row, self._files_dir)

    def list(self) -> builtins.list[FeatureCacheEntry]:
        with self._read("list the feature cache") as session:
            return [
                to_record(r, self._files_dir)
                for r in session.scalars(select(FeatureCacheRow).order_by(FeatureCacheRow.id))
            ]

    def remove_stale(self, current_trunk_hashes: set[str]) -> builtins.list[FeatureCacheEntry]:
        """Forget entries whose trunk no model uses any more; returns them so files can go too."""
        with self._write("clean up the feature cache") as session:
            rows = list(
                session.scalars(
                    select(FeatureCacheRow).where(FeatureCacheRow.trunk_hash.not_in(current_trunk_hashes))
                )
            )
            return _delete_all(session, rows, self._files_dir)

    def clear(self) -> builtins.list[FeatureCacheEntry]:
        """Forget every entry; returns them so the caller can delete the files."""
        with self._write("clear the feature cache") as session:
            return _delete_all(session, list(session.scalars(select(FeatureCacheRow))), self._files_dir)


def _find(
    session: Session, video_hash: str, trunk_hash: str, spec_hash: str, stride: int, layer: str
) -> FeatureCacheRow | None:
    return session.scalar(
        select(FeatureCacheRow).where(
            FeatureCacheRow.video_hash == video_hash,
            FeatureCacheRow.trunk_hash == trunk_hash,
            FeatureCacheRow.spec_hash == spec_hash,
            FeatureCacheRow.stride == stride,
            FeatureCacheRow.layer == layer,
        )
    )


def _delete_all(session: Session, rows: list[FeatureCacheRow], files_dir: Path) -> list[FeatureCacheEntry]:
    records = [to_record(r, files_dir) for r in rows]
    for row in rows:
        session.delete(row)
    if records:
        log.info("Removed %d feature cache entries", len(records))
    return records
