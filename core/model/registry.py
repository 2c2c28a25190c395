"""Model versions: the untrained starter, loading the active model, importing weights.

Checkpoint files live in the store's files folder; the store only records where, so a model
version is always a (record, .safetensors file) pair and the file carries its own metadata.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

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
    seeded untrained model so the pipeline runs end to end from the first minute.

    The untrained model is a pure function of (seed, classes), so there is one file and one
    version per pair, shared: a project that goes back to earlier classes, or two programs
    starting on the same store at once, reuse it instead of writing another 312 MB copy.
    """
    names = project_class_names(store)
    active = _fitting(store.models.active(), names)
    if active is not None:
        return active
    folder = models_dir(store)
    with _exclusive(folder / ".untrained.lock"):
        active = _fitting(store.models.active(), names)  # another program may have made it meanwhile
        if active is not None:
            return active
        path = folder / untrained_file_name(UNTRAINED_SEED, names)
        version = next(
            (
                m
                for m in store.models.list()
                if m.untrained and m.class_names == names and Path(m.checkpoint_path) == path
            ),
            None,
        )
        if version is None:
            version = _register_untrained(store, path, names)
        store.models.set_active(version.id)
        return version


def untrained_file_name(seed: int, class_names: tuple[str, ...]) -> str:
    """Content-addressed: the same seed and classes always give the same weights."""
    digest = hashlib.sha256(json.dumps(list(class_names)).encode()).hexdigest()[:16]
    return f"untrained-seed{seed}-{digest}.safetensors"


def _fitting(active: ModelVersion | None, names: tuple[str, ...]) -> ModelVersion | None:
    """The active version unless it is an untrained one made for other classes."""
    if active is not None and (not active.untrained or active.class_names == names):
        return active
    return None


def _register_untrained(store: Store, path: Path, names: tuple[str, ...]) -> ModelVersion:
    model = new_model(len(names), seed=UNTRAINED_SEED)
    reusable = False
    if path.is_file():  # written before a kill, never recorded
        try:
            reusable = read_meta(path).class_names == names
        except CheckpointError:
            reusable = False
    meta = CheckpointMeta(
        class_names=names,
        input_spec=DEFAULT_SPEC,
        created_at=_now(),
        parent=None,
        training={"note": f"untrained: seeded random initialisation (seed {UNTRAINED_SEED})"},
        name="untrained",
    )
    if not reusable:
        save_checkpoint(path, model, meta)
    return store.models.add(
        name="untrained",
        checkpoint_path=str(path),
        class_names=names,
        input_spec_json=DEFAULT_SPEC.to_json(),
        trunk_hash=trunk_hash(model, "fc7"),
        state=ModelState.UNTRAINED,
        parent_id=None,
        mode=None,
        metrics={},
        summary=dict(meta.training),
    )


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """One program at a time makes the untrained model (a no-op lock where flock is missing)."""
    with open(lock_path, "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def load_version(store: Store, version: ModelVersion) -> tuple[C3D_BN, CheckpointMeta]:
    return load_checkpoint(version.checkpoint_path, expected_classes=version.class_names)


def import_checkpoint(store: Store, path: str | Path) -> ModelVersion:
    """Register a C3D Labeller ``.safetensors`` checkpoint (validated by loading it whole)."""
    model, meta = load_checkpoint(path)
    target = models_dir(store) / f"import-{_stamp()}.safetensors"
    try:  # atomically: a kill mid-copy leaves only a .tmp, which the next start removes
        with open(path, "rb") as src, atomic_write(target, "wb") as dst:
            shutil.copyfileobj(src, dst, length=16 << 20)
    except OSError as exc:
        raise CheckpointError(
            f"Could not copy {Path(path).name} into the project: {exc.strerror or exc}."
        ) from exc
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
