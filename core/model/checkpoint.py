"""Model files: C3D_BN weights plus the class names and preprocessing they only make sense with.

The format is safetensors, so opening a file a user picked can never run code; the metadata
lives in the safetensors header, which makes reading it cheap (no tensor data is touched).
Loading checks everything a broken, foreign or mismatched file could get wrong and explains
it in one sentence, because the user chose the file and must be able to fix the choice.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from core.atomic import temp_beside, write_failure
from core.errors import CheckpointError, FileWriteError
from core.model.network import C3D_BN
from core.model.spec import InputSpec
from core.model.track_heads import TrackedC3D, TrackSpec, check_tracks, specs_from_json, specs_to_json

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_PREFIX = "c3d_labeller."
_FIELDS = ("format_version", "name", "class_names", "input_spec", "created_at", "parent", "training")
_PICKLE_MAGICS = (b"PK\x03\x04", b"\x80")  # zip-based torch.save, legacy pickle protocol ≥ 2
MAX_HEADER_BYTES = 100 << 20
"""safetensors' own limit on the header; ours are a few KB."""


@dataclass(frozen=True)
class CheckpointMeta:
    """What a checkpoint says about itself; ``training`` is a JSON-able run summary."""

    class_names: tuple[str, ...]
    input_spec: InputSpec
    created_at: str
    parent: str | None
    training: dict[str, Any]
    format_version: int = FORMAT_VERSION
    name: str = ""
    tracks: tuple[TrackSpec, ...] = ()
    """Every track with a head, in output order; empty for a one-track model (a plain C3D_BN,
    whose ``class_names`` are its one track's)."""

    def __post_init__(self) -> None:
        # A list passed in would make equal metas compare unequal after a round trip.
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "tracks", tuple(self.tracks))

    @classmethod
    def create(
        cls,
        class_names: Sequence[str],
        input_spec: InputSpec,
        *,
        parent: str | None = None,
        training: dict[str, Any] | None = None,
        name: str = "",
        tracks: Sequence[TrackSpec] = (),
    ) -> CheckpointMeta:
        """Stamped now, so callers cannot forget the timestamp or get its format wrong."""
        return cls(
            class_names=tuple(class_names),
            input_spec=input_spec,
            created_at=utc_now_iso(),
            parent=parent,
            training=dict(training or {}),
            name=name,
            tracks=tuple(tracks),
        )


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _encode_meta(meta: CheckpointMeta) -> dict[str, str]:
    values: dict[str, Any] = {
        "format_version": meta.format_version,
        "name": meta.name,
        "class_names": list(meta.class_names),
        "created_at": meta.created_at,
        "parent": meta.parent,
        "training": meta.training,
    }
    encoded = {_PREFIX + key: json.dumps(value, sort_keys=True) for key, value in values.items()}
    encoded[_PREFIX + "input_spec"] = meta.input_spec.to_json()
    if meta.tracks:  # absent for one track: such a file stays exactly today's format
        encoded[_PREFIX + "tracks"] = json.dumps(specs_to_json(meta.tracks), sort_keys=True)
    return encoded


def _decode_meta(raw: dict[str, str] | None, label: str) -> CheckpointMeta:
    if not raw or not any(key.startswith(_PREFIX) for key in raw):
        raise CheckpointError(
            f"{label} has no C3D Labeller metadata (class names and preprocessing), "
            "so it was not saved by this application and cannot be opened as a model."
        )
    values: dict[str, Any] = {}
    for field_name in _FIELDS:
        text = raw.get(_PREFIX + field_name)
        if text is None:
            raise CheckpointError(f"{label} lacks the '{field_name}' metadata field, so it is damaged.")
        try:
            values[field_name] = InputSpec.from_json(text) if field_name == "input_spec" else json.loads(text)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise CheckpointError(f"{label} has a damaged '{field_name}' metadata field.") from exc

    version = values["format_version"]
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{label} has a damaged 'format_version' metadata field.")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{label} was saved in model format {version} by a newer C3D Labeller; update to open it."
        )
    names = values["class_names"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise CheckpointError(f"{label} has a damaged 'class_names' metadata field.")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CheckpointError(f"{label} lists the class {_quoted(duplicates)} more than once.")
    types: dict[str, type | tuple[type, ...]] = {
        "name": str,
        "created_at": str,
        "parent": (str, type(None)),
        "training": dict,
    }
    for field_name, kind in types.items():
        if not isinstance(values[field_name], kind):
            raise CheckpointError(f"{label} has a damaged '{field_name}' metadata field.")
    tracks: tuple[TrackSpec, ...] = ()
    if _PREFIX + "tracks" in raw:
        tracks = specs_from_json(raw[_PREFIX + "tracks"], label)
        if len(tracks) < 2 or tracks[0].outputs != tuple(names):
            raise CheckpointError(f"{label} has a 'tracks' metadata field that disagrees with its classes.")
    return CheckpointMeta(
        class_names=tuple(names),
        input_spec=values["input_spec"],
        created_at=values["created_at"],
        parent=values["parent"],
        training=values["training"],
        format_version=version,
        name=values["name"],
        tracks=tracks,
    )


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def save_checkpoint(path: str | os.PathLike[str], model: C3D_BN, meta: CheckpointMeta) -> None:
    """Write atomically: a crash or full disk leaves the old file, never half a new one."""
    path = Path(path)
    specs = model.specs if isinstance(model, TrackedC3D) else ()
    if tuple(meta.tracks) != tuple(specs):
        raise ValueError("meta lists other tracks than the model has heads for.")
    if len(meta.class_names) != model.fc8.out_features:
        raise ValueError(
            f"meta has {len(meta.class_names)} class names "
            f"but the model has {model.fc8.out_features} outputs."
        )
    tensors = {
        key: (value.float() if value.is_floating_point() else value).detach().to("cpu").contiguous()
        for key, value in model.state_dict().items()
    }
    metadata = _encode_meta(meta)
    try:
        with temp_beside(path, make_parents=False, what="the model file") as (fd, tmp_name):
            save_file(tensors, tmp_name, metadata=metadata)
            os.fsync(fd)
            os.replace(tmp_name, path)
        _fsync_dir(path.parent)
    except FileWriteError as exc:
        raise CheckpointError(str(exc)) from exc
    except OSError as exc:
        raise CheckpointError(write_failure(path, exc, "the model file")) from exc
    except SafetensorError as exc:
        raise CheckpointError(f"Could not write the model file {path}: {exc}.") from exc
    log.info("Saved checkpoint %s (%d classes)", path, len(meta.class_names))


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; only POSIX can open a directory for this."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_header(path: Path) -> tuple[dict[str, str] | None, dict[str, tuple[list[int], str]]]:
    """Metadata and each tensor's (shape, dtype), without reading any tensor data."""
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a model file.")
    if not path.exists():
        raise CheckpointError(f"The model file {path} does not exist.")
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw = handle.metadata()
            layout = {}
            for key in handle.keys():  # noqa: SIM118 - safe_open is not a Mapping
                tensor_slice = handle.get_slice(key)
                layout[key] = (list(tensor_slice.get_shape()), str(tensor_slice.get_dtype()))
    except SafetensorError as exc:
        raise CheckpointError(_not_safetensors_message(path)) from exc
    except OSError as exc:
        raise CheckpointError(f"Could not read the model file {path}: {exc}.") from exc
    return raw, layout


def _not_safetensors_message(path: Path) -> str:
    """What exactly is wrong, from the first bytes: a pickle, a cut file, a damaged header."""
    name = path.name
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(9)
            if head.startswith(_PICKLE_MAGICS) and head[8:9] != b"{":
                return (
                    f"{name} is not a .safetensors model file but a PyTorch pickle (.pt); "
                    "if it holds Sports-1M C3D weights, use Import Sports-1M weights instead."
                )
            if len(head) < 9 or head[8:9] != b"{":  # no JSON header after the length field
                return f"{name} is not a .safetensors model file or is damaged."
            header_len = int.from_bytes(head[:8], "little")
            if header_len > size - 8:
                return (
                    f"{name} is damaged or cut short: its header claims {header_len:,} bytes "
                    f"but the whole file has {size:,}."
                )
            if header_len > MAX_HEADER_BYTES:
                return (
                    f"{name} is damaged: its header claims {header_len:,} bytes, far more than a model needs."
                )
            raw = head[8:] + handle.read(header_len - 1)
    except OSError as exc:
        return f"Could not read the model file {name}: {exc.strerror or exc}."
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return f"{name} is not a .safetensors model file, or its header is damaged (not valid JSON)."
    if not isinstance(header, dict):
        return f"{name} is not a .safetensors model file, or its header is damaged."
    ends = [
        entry["data_offsets"][1]
        for key, entry in header.items()
        if key != "__metadata__"
        and isinstance(entry, dict)
        and isinstance(entry.get("data_offsets"), list)
        and len(entry["data_offsets"]) == 2
        and isinstance(entry["data_offsets"][1], int)
    ]
    needed = 8 + header_len + max(ends, default=0)
    if needed > size:
        return (
            f"{name} is cut short: its tensors need {needed:,} bytes but the file has only {size:,} "
            "(an interrupted copy or download?)."
        )
    return f"{name} is not a .safetensors model file or is damaged."


def looks_like_safetensors(path: Path) -> bool:
    """The file is meant to be a checkpoint of ours (by name or by its header), damaged or not."""
    if path.suffix.lower() == ".safetensors":
        return True
    try:
        with open(path, "rb") as handle:
            head = handle.read(9)
    except OSError:
        return False
    return len(head) == 9 and head[8:9] == b"{"  # an 8-byte header length, then the JSON header


def check_finite(tensors: dict[str, torch.Tensor], label: str) -> None:
    """NaN or infinite weights make every prediction NaN; refuse them when a file is opened."""
    for key, value in tensors.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(
                f"{label} has NaN or infinite values in '{key}', so its weights are damaged "
                "and every prediction would be meaningless."
            )


def read_meta(path: str | os.PathLike[str]) -> CheckpointMeta:
    """Cheap enough to call for every file in a model list: only the header is read."""
    path = Path(path)
    raw, _ = _open_header(path)
    return _decode_meta(raw, path.name)


def load_checkpoint(
    path: str | os.PathLike[str],
    expected_classes: Sequence[str] | None = None,
    project_tracks: Sequence[TrackSpec] | None = None,
) -> tuple[C3D_BN, CheckpointMeta]:
    """Validated model and meta; the model is in eval mode on the CPU.

    Eval mode, because a forward pass in train mode would silently rewrite BN running stats.
    ``project_tracks`` checks a model with several tracks against the project's tracks.
    """
    path = Path(path)
    label = path.name
    raw, layout = _open_header(path)
    meta = _decode_meta(raw, label)
    if expected_classes is not None:
        _check_classes(meta.class_names, tuple(expected_classes), label)
    if project_tracks is not None and meta.tracks:
        check_tracks(meta.tracks, project_tracks, label)

    num_classes = len(meta.class_names)
    with torch.device("meta"):
        model = TrackedC3D(meta.tracks) if meta.tracks else C3D_BN(num_classes)
    expected = {key: list(value.shape) for key, value in model.state_dict().items()}
    fc8 = layout.get("fc8.weight")
    if fc8 is not None and fc8[0][:1] != [num_classes]:
        raise CheckpointError(
            f"{label} lists {num_classes} class names but its output layer has "
            f"{fc8[0][0] if fc8[0] else 0} rows, so it is damaged."
        )
    unknown = sorted(set(layout) - set(expected))
    if unknown:
        shown = _quoted(unknown[:3]) + (", …" if len(unknown) > 3 else "")
        raise CheckpointError(f"{label} contains tensors C3D_BN does not have ({shown}).")
    for key, shape in expected.items():
        if key not in layout:
            raise CheckpointError(f"{label} is missing the tensor '{key}', so it is incomplete.")
        found_shape, dtype = layout[key]
        if found_shape != shape:
            raise CheckpointError(
                f"{label} has tensor '{key}' shaped {tuple(found_shape)} where C3D_BN needs {tuple(shape)}."
            )
        wants_float = not key.endswith("num_batches_tracked")
        if wants_float != dtype.startswith(("F", "BF")):
            raise CheckpointError(f"{label} has tensor '{key}' of the wrong type {dtype}.")

    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"Could not read the weights in {label}, so the file is damaged.") from exc
    check_finite(tensors, label)
    state = {k: (v.float() if v.is_floating_point() else v.long()) for k, v in tensors.items()}
    model.load_state_dict(state, strict=True, assign=True)
    model.eval()
    log.info("Loaded checkpoint %s (%d classes)", path, num_classes)
    return model, meta


def _check_classes(found: tuple[str, ...], wanted: tuple[str, ...], label: str) -> None:
    if found == wanted:
        return
    if sorted(found) == sorted(wanted):
        raise CheckpointError(
            f"{label} has the project's classes in a different order "
            f"(file: {_quoted(found)}; project: {_quoted(wanted)})."
        )
    parts = []
    missing = [n for n in wanted if n not in found]
    extra = [n for n in found if n not in wanted]
    if missing:
        parts.append(f"it lacks the project's {_quoted(missing)}")
    if extra:
        parts.append(f"its {_quoted(extra)} are not in the project")
    if not parts:
        parts.append(f"the file has {_quoted(found)} and the project has {_quoted(wanted)}")
    raise CheckpointError(f"{label} was trained for other classes: {' and '.join(parts)}.")
