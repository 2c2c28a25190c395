"""Model versions: each checkpoint with its classes, preprocessing and lineage.

A checkpoint is only meaningful with the class names and input spec it was trained with,
so those are stored with the version rather than looked up from the current project.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.errors import StoreError
from core.paths import from_stored, to_stored
from core.store.changes import ModelsChanged
from core.store.orm import ModelVersionRow, SettingsRow
from core.store.records import ModelState, ModelVersion
from core.store.unit import Repository

log = logging.getLogger(__name__)


def to_record(row: ModelVersionRow, files_dir: Path) -> ModelVersion:
    return ModelVersion(
        id=row.id,
        name=row.name,
        checkpoint_path=from_stored(row.checkpoint_path, files_dir),
        class_names=tuple(row.class_names),
        input_spec_json=row.input_spec,
        parent_id=row.parent_id,
        mode=row.mode,
        state=ModelState(row.state),
        metrics=dict(row.metrics or {}),
        summary=dict(row.summary or {}),
        trunk_hash=row.trunk_hash,
        created_at=row.created_at,
    )


class ModelRepository(Repository):
    """Checkpoint paths under the project's files folder are stored relative to it."""

    def __init__(self, session_factory: sessionmaker[Session], files_dir: Path) -> None:
        super().__init__(session_factory)
        self._files_dir = files_dir

    def add(
        self,
        name: str,
        checkpoint_path: str,
        class_names: Sequence[str],
        input_spec_json: str,
        trunk_hash: str,
        state: ModelState,
        parent_id: int | None = None,
        mode: str | None = None,
        metrics: dict[str, Any] | None = None,
        summary: dict[str, Any] | None = None,
    ) -> ModelVersion:
        with self._write(f"save the model version '{name}'") as session:
            self._changed(ModelsChanged())
            if parent_id is not None:
                _row(session, parent_id)
            row = ModelVersionRow(
                name=name,
                checkpoint_path=to_stored(checkpoint_path, self._files_dir),
                class_names=list(class_names),
                input_spec=input_spec_json,
                parent_id=parent_id,
                mode=mode,
                state=ModelState(state),
                metrics=dict(metrics or {}),
                summary=dict(summary or {}),
                trunk_hash=trunk_hash,
            )
            session.add(row)
            session.flush()
            log.info("Added model version %r (id %d, %s)", name, row.id, row.state)
            return to_record(row, self._files_dir)

    def get(self, model_id: int) -> ModelVersion:
        with self._read("read the model version") as session:
            return to_record(_row(session, model_id), self._files_dir)

    def list(self) -> builtins.list[ModelVersion]:
        with self._read("list the model versions") as session:
            rows = session.scalars(select(ModelVersionRow).order_by(ModelVersionRow.id))
            return [to_record(r, self._files_dir) for r in rows]

    def set_state(
        self, model_id: int, state: ModelState, metrics: dict[str, Any] | None = None
    ) -> ModelVersion:
        """Move a version through its life cycle; ``metrics`` replaces the old ones when given."""
        with self._write("update the model version") as session:
            self._changed(ModelsChanged())
            row = _row(session, model_id)
            row.state = ModelState(state)
            if metrics is not None:
                row.metrics = dict(metrics)
            return to_record(row, self._files_dir)

    def active(self) -> ModelVersion | None:
        with self._read("find the active model") as session:
            settings = session.get(SettingsRow, 1)
            if settings is None or settings.active_model_version_id is None:
                return None
            row = session.get(ModelVersionRow, settings.active_model_version_id)
            return None if row is None else to_record(row, self._files_dir)

    def set_active(self, model_id: int | None) -> None:
        """Choose the version used for predictions; None means no model is active."""
        with self._write("choose the active model") as session:
            self._changed(ModelsChanged())
            if model_id is not None:
                _row(session, model_id)
            settings = session.get(SettingsRow, 1)
            if settings is None:
                session.add(SettingsRow(id=1, active_model_version_id=model_id))
            else:
                settings.active_model_version_id = model_id


def _row(session: Session, model_id: int) -> ModelVersionRow:
    row = session.get(ModelVersionRow, model_id)
    if row is None:
        raise StoreError(f"There is no model version with id {model_id}; it may have been deleted.")
    return row
