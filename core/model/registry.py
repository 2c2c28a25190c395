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

import torch

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from core.atomic import atomic_write
from core.errors import CheckpointError
from core.model.checkpoint import CheckpointMeta, load_checkpoint, read_meta, save_checkpoint
from core.model.network import C3D_BN, _init_fc8, new_model, trunk_hash
from core.model.spec import DEFAULT_SPEC
from core.model.track_heads import (
    TrackHeads,
    TrackSpec,
    install_heads,
    model_specs,
    specs_from_raw,
    specs_to_json,
)
from core.paths import safe_file_stem
from core.store import Store
from core.store.records import ModelState, ModelVersion, TrackKind

log = logging.getLogger(__name__)

UNTRAINED_SEED = 0


def project_class_names(store: Store) -> tuple[str, ...]:
    return tuple(c.name for c in store.classes.list())


def project_specs(store: Store) -> list[TrackSpec]:
    """Every track of the project as a head sees it (a point track without events has none)."""
    return model_specs(
        [
            TrackSpec(t.name, t.kind, tuple(c.name for c in store.classes.list(t.id)))
            for t in store.tracks.list()
        ]
    )


def model_tracks(store: Store) -> tuple[TrackSpec, ...]:
    """The tracks a new model of this project carries heads for; empty for one track (a plain
    C3D_BN over the default track's classes, exactly as before tracks)."""
    specs = project_specs(store)
    return tuple(specs) if len(specs) > 1 else ()


def version_tracks(store: Store, version: ModelVersion) -> tuple[TrackSpec, ...]:
    """The tracks whose probabilities a version's predictions hold, in column order."""
    raw = version.summary.get("tracks")
    if raw:
        return specs_from_raw(raw, f"Model version {version.id}")
    return (TrackSpec(store.tracks.default().name, TrackKind.STATE, version.class_names),)


def _wanted_names(store: Store, tracks: tuple[TrackSpec, ...]) -> tuple[str, ...]:
    return tracks[0].outputs if tracks else project_class_names(store)


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
    tracks = model_tracks(store)
    names = _wanted_names(store, tracks)
    active = _fitting(store.models.active(), names, tracks)
    if active is not None:
        return active
    folder = models_dir(store)
    with _exclusive(folder / ".untrained.lock"):
        active = _fitting(store.models.active(), names, tracks)  # another program may have made it meanwhile
        if active is not None:
            return active
        path = folder / untrained_file_name(UNTRAINED_SEED, names, tracks)
        version = next(
            (
                m
                for m in store.models.list()
                if m.untrained and m.class_names == names and Path(m.checkpoint_path) == path
            ),
            None,
        )
        if version is None:
            version = _register_untrained(store, path, names, tracks)
        store.models.set_active(version.id)
        return version


def untrained_file_name(seed: int, class_names: tuple[str, ...], tracks: tuple[TrackSpec, ...] = ()) -> str:
    """Content-addressed: the same seed and classes (and tracks) always give the same weights."""
    key: object = list(class_names) if not tracks else specs_to_json(tracks)
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
    return f"untrained-seed{seed}-{digest}.safetensors"


def _fitting(
    active: ModelVersion | None, names: tuple[str, ...], tracks: tuple[TrackSpec, ...] = ()
) -> ModelVersion | None:
    """The active version unless it is an untrained one made for other classes or tracks."""
    if active is None:
        return None
    if not active.untrained:
        return active
    made_for = active.summary.get("tracks") or []
    if active.class_names == names and made_for == specs_to_json(tracks):
        return active
    return None


def new_tracked_model(tracks: tuple[TrackSpec, ...], seed: int) -> C3D_BN:
    """A seeded network with a fresh head per track (a plain C3D_BN for one track)."""
    model = new_model(len(tracks[0].outputs), seed=seed)
    heads = TrackHeads(tracks)
    for i, layer in enumerate(heads.layers):
        if isinstance(layer, torch.nn.Linear):
            _init_fc8(layer, seed + i)
    return install_heads(model, heads)


def _register_untrained(
    store: Store, path: Path, names: tuple[str, ...], tracks: tuple[TrackSpec, ...] = ()
) -> ModelVersion:
    model = (
        new_tracked_model(tracks, UNTRAINED_SEED) if tracks else new_model(len(names), seed=UNTRAINED_SEED)
    )
    reusable = False
    if path.is_file():  # written before a kill, never recorded
        try:
            found = read_meta(path)
            reusable = found.class_names == names and found.tracks == tracks
        except CheckpointError:
            reusable = False
    meta = CheckpointMeta(
        class_names=names,
        input_spec=DEFAULT_SPEC,
        created_at=_now(),
        parent=None,
        training={"note": f"untrained: seeded random initialisation (seed {UNTRAINED_SEED})"},
        name="untrained",
        tracks=tracks,
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
        summary=version_summary(meta),
    )


def version_summary(meta: CheckpointMeta) -> dict:
    """What the store records of a checkpoint's run, with its tracks when it has several."""
    summary = dict(meta.training)
    if meta.tracks:
        summary["tracks"] = specs_to_json(meta.tracks)
    return summary


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


def load_version(
    store: Store, version: ModelVersion, *, as_parent: bool = False
) -> tuple[C3D_BN, CheckpointMeta]:
    """The version's network, its heads checked against the project's tracks.

    ``as_parent``: the trunk a training run starts from, whose heads are fitted again, so a
    class or track changed since it was trained must not stop the run that fixes exactly that.
    """
    return load_checkpoint(
        version.checkpoint_path,
        expected_classes=version.class_names,
        project_tracks=None if as_parent else project_specs(store),
    )


def import_checkpoint(store: Store, path: str | Path) -> ModelVersion:
    """Register a C3D Labeller ``.safetensors`` checkpoint (validated by loading it whole)."""
    model, meta = load_checkpoint(path, project_tracks=project_specs(store))
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
        summary={"source": str(path), **version_summary(meta)},
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
        summary=version_summary(meta),
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
