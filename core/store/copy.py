"""Copy a whole project to another store (SQLite → PostgreSQL to start a team project).

Every table is copied row for row, ids included, in foreign-key order in one transaction on
the target; PostgreSQL's id sequences are then moved past the copied ids. The files folder
(model checkpoints, feature caches) is copied too; scrubbing proxies are not, since any app
remakes them. The target must be new: copying into a project with labels would merge two
projects' ids, so it is refused.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from core.errors import StoreError
from core.store.db import Store, open_store
from core.store.orm import Base, LabelClassRow, VideoRow
from core.store.unit import explain

log = logging.getLogger(__name__)

BATCH_ROWS = 1000
SKIPPED_FOLDERS = ("proxies",)


def copy_store(
    source: Store, target_url: str, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Copy everything in ``source`` to the store at ``target_url``; returns rows copied per table."""
    target = open_store(target_url)
    try:
        with target.engine.connect() as check:
            videos = check.scalar(select(func.count()).select_from(VideoRow))
            classes = check.scalar(select(func.count()).select_from(LabelClassRow))
        if videos or (classes or 0) > 1:
            raise StoreError(f"{target_url} already holds a project; copy into a new, empty database.")
        counts: dict[str, int] = {}
        tables = Base.metadata.sorted_tables
        try:
            with source.engine.connect() as src, target.engine.begin() as dst:
                for table in reversed(tables):  # the defaults a new store made (background, settings)
                    dst.execute(table.delete())
                for table in tables:
                    copied = 0
                    result = src.execution_options(yield_per=BATCH_ROWS).execute(
                        select(table).order_by(*table.primary_key.columns)
                    )
                    for batch in result.mappings().partitions(BATCH_ROWS):
                        dst.execute(table.insert(), [dict(row) for row in batch])
                        copied += len(batch)
                    counts[table.name] = copied
                    if progress is not None:
                        progress(table.name, copied)
                if dst.dialect.name == "postgresql":
                    for table in tables:
                        dst.execute(
                            text(
                                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                            )
                        )
        except SQLAlchemyError as exc:
            raise explain(exc, f"copy the project to {target_url}") from exc
        _copy_files(source, target)
        return counts
    finally:
        target.close()


def _copy_files(source: Store, target: Store) -> None:
    if not source.files_dir.is_dir() or source.files_dir.resolve() == target.files_dir.resolve():
        return
    try:
        shutil.copytree(
            source.files_dir,
            target.files_dir,
            dirs_exist_ok=True,
            ignore=lambda folder, names: [n for n in names if n in SKIPPED_FOLDERS],
        )
    except OSError as exc:
        raise StoreError(
            f"The labels were copied, but the project's files could not be copied to "
            f"{target.files_dir} ({exc})."
        ) from exc
