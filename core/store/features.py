"""Index of cached C3D features on disk, keyed by everything that changes them.

Features depend on the video's content, the network trunk's weights, the preprocessing,
the stride and the layer; a change to any of these means a different cache file. The
store only records entries: callers create and delete the files themselves.
"""

from __future__ import annotations

import builtins
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.store.orm import FeatureCacheRow
from core.store.records import FeatureCacheEntry
from core.store.unit import Repository

log = logging.getLogger(__name__)


def to_record(row: FeatureCacheRow) -> FeatureCacheEntry:
    return FeatureCacheEntry(
        id=row.id,
        video_hash=row.video_hash,
        trunk_hash=row.trunk_hash,
        spec_hash=row.spec_hash,
        stride=row.stride,
        layer=row.layer,
        path=row.path,
        windows=row.windows,
        complete=row.complete,
    )


class FeatureRepository(Repository):
    def get(
        self, video_hash: str, trunk_hash: str, spec_hash: str, stride: int, layer: str
    ) -> FeatureCacheEntry | None:
        with self._read("look up cached features") as session:
            row = _find(session, video_hash, trunk_hash, spec_hash, stride, layer)
            return None if row is None else to_record(row)

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
            row.path, row.windows, row.complete = str(path), int(windows), bool(complete)
            session.flush()
            return to_record(row)

    def list(self) -> builtins.list[FeatureCacheEntry]:
        with self._read("list the feature cache") as session:
            return [
                to_record(r) for r in session.scalars(select(FeatureCacheRow).order_by(FeatureCacheRow.id))
            ]

    def remove_stale(self, current_trunk_hashes: set[str]) -> builtins.list[FeatureCacheEntry]:
        """Forget entries whose trunk no model uses any more; returns them so files can go too."""
        with self._write("clean up the feature cache") as session:
            rows = list(
                session.scalars(
                    select(FeatureCacheRow).where(FeatureCacheRow.trunk_hash.not_in(current_trunk_hashes))
                )
            )
            return _delete_all(session, rows)

    def clear(self) -> builtins.list[FeatureCacheEntry]:
        """Forget every entry; returns them so the caller can delete the files."""
        with self._write("clear the feature cache") as session:
            return _delete_all(session, list(session.scalars(select(FeatureCacheRow))))


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


def _delete_all(session: Session, rows: list[FeatureCacheRow]) -> list[FeatureCacheEntry]:
    records = [to_record(r) for r in rows]
    for row in rows:
        session.delete(row)
    if records:
        log.info("Removed %d feature cache entries", len(records))
    return records
