"""Model versions: the untrained starter, loading the active model, importing weights.

Checkpoint files live in the store's files folder; the store only records where, so a model
version is always a (record, .safetensors file) pair and the file carries its own metadata.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

from core.atomic import atomic_write
from core.errors import CheckpointError
from core.model.checkpoint import CheckpointMeta, load_checkpoint, read_meta, save_checkpoint
from core.model.network import C3D_BN, new_model, trunk_hash
from core.model.spec import DEFAULT_SPEC
from core.paths import safe_file_stem
from core.store import Store
from core.store.records import ModelState, ModelVersion

log = logging.getLogger(__name__)

UNTRAINED_SEED = 0


def project_class_names(store: Store) -> tuple[str, ...]:
    return tuple(c.name for c in store.classes.list())


def models_dir(store: Store) -> Path:
    path = Path(store.files_dir) / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def ensure_active_model(store: Store) -> ModelVersion:
    """The active version; a fresh project (or an untrained one whose classes changed) gets a
    seeded untrained model so the pipeline runs end to end from the first minute."""
    active = store.models.active()
    names = project_class_names(store)
    if active is not None and (not active.untrained or active.class_names == names):
        return active
    model = new_model(len(names), seed=UNTRAINED_SEED)
    meta = CheckpointMeta(
        class_names=names,
        input_spec=DEFAULT_SPEC,
        created_at=_now(),
        parent=None,
        training={"note": f"untrained: seeded random initialisation (seed {UNTRAINED_SEED})"},
        name="untrained",
    )
    version = _register(store, model, meta, state=ModelState.UNTRAINED, mode=None, parent_id=None)
    store.models.set_active(version.id)
    return version


def load_version(store: Store, version: ModelVersion) -> tuple[C3D_BN, CheckpointMeta]:
    return load_checkpoint(version.checkpoint_path, expected_classes=version.class_names)


def import_checkpoint(store: Store, path: str | Path) -> ModelVersion:
    """Register a C3D Labeller ``.safetensors`` checkpoint (validated by loading it whole)."""
    model, meta = load_checkpoint(path)
    target = models_dir(store) / f"import-{_stamp()}.safetensors"
    shutil.copyfile(path, target)
    return store.models.add(
        name=meta.name or Path(path).stem,
        checkpoint_path=str(target),
        class_names=meta.class_names,
        input_spec_json=meta.input_spec.to_json(),
        trunk_hash=trunk_hash(model, "fc7"),
        state=ModelState.READY,
        mode="import",
        summary={"source": str(path), **meta.training},
    )


def export_version(store: Store, version_id: int, target: str | Path) -> Path:
    """Copy a version's checkpoint (weights, class names, preprocessing) to ``target``, atomically.

    The file is validated first, so a missing or damaged checkpoint is reported, not copied.
    """
    version = store.models.get(version_id)
    read_meta(version.checkpoint_path)
    out = Path(target)
    if out.suffix != ".safetensors":
        out = out.with_name(out.name + ".safetensors")
    try:
        with open(version.checkpoint_path, "rb") as src, atomic_write(out, "wb") as dst:
            shutil.copyfileobj(src, dst, length=16 << 20)
    except OSError as exc:
        raise CheckpointError(f"Could not write {out}: {exc.strerror or exc}.") from exc
    return out


def register_model(
    store: Store,
    model: C3D_BN,
    meta: CheckpointMeta,
    *,
    mode: str,
    parent_id: int | None,
    metrics: dict | None = None,
) -> ModelVersion:
    """Save ``model`` as a new ready version (used by imports and training runs)."""
    return _register(store, model, meta, ModelState.READY, mode, parent_id, metrics)


def is_checkpoint(path: str | Path) -> bool:
    try:
        read_meta(path)
    except CheckpointError:
        return False
    return True


def _register(
    store: Store,
    model: C3D_BN,
    meta: CheckpointMeta,
    state: ModelState,
    mode: str | None,
    parent_id: int | None,
    metrics: dict | None = None,
) -> ModelVersion:
    path = models_dir(store) / f"{safe_file_stem(meta.name or 'model', 'model')}-{_stamp()}.safetensors"
    save_checkpoint(path, model, meta)
    return store.models.add(
        name=meta.name or path.stem,
        checkpoint_path=str(path),
        class_names=meta.class_names,
        input_spec_json=meta.input_spec.to_json(),
        trunk_hash=trunk_hash(model, "fc7"),
        state=state,
        parent_id=parent_id,
        mode=mode,
        metrics=metrics or {},
        summary=dict(meta.training),
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
