"""Resume checkpoints of a training run without pickle.

A run's state (weights, optimizer and scheduler state, counters, history) is a nest of dicts,
lists, numbers and tensors. Tensors go into a ``.safetensors`` file; the rest becomes a JSON
skeleton in its header that says where each tensor goes. Nothing is ever unpickled, so the
project's one ``torch.load`` stays the audited Sports-1M import.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

_SKELETON = "c3d_labeller.training_state"


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write atomically: a crash mid-write leaves the previous file in place."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _encode(state, tensors)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata={_SKELETON: json.dumps(skeleton)})
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_state(path: Path) -> dict[str, Any]:
    """Raises ``ValueError`` for a file that is not a state written by ``save_state``."""
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            header = (f.metadata() or {}).get(_SKELETON)
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"unreadable training state: {exc}") from exc
    if header is None:
        raise ValueError("not a training state file")
    state = _decode(json.loads(header), tensors)
    if not isinstance(state, dict):
        raise ValueError("malformed training state")
    return state


def _encode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous().clone()
        return {"__tensor__": key}
    if isinstance(obj, dict):  # keys may be ints (optimizer state): keep their type
        return {"__dict__": [[_encode(k, tensors), _encode(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, list | tuple):
        return [_encode(v, tensors) for v in obj]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a training state")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        return {_decode(k, tensors): _decode(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    return obj
