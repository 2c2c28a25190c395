"""Start a project from the public Sports-1M C3D weights instead of from random ones.

Those weights come as a PyTorch pickle of a C3D without batch normalisation. The convolutions
and fc6/fc7 carry over by name; the BN layers are new, so they are calibrated on the user's own
clips to start out as the identity: the pretrained responses pass through unchanged, and BN
still gets sensible statistics to fine-tune from. fc8 (487 sports) is replaced by a fresh head.
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import torch
from safetensors import SafetensorError
from torch import nn

from core.errors import Cancelled, CheckpointError
from core.model.checkpoint import CheckpointMeta, check_finite
from core.model.network import BN_LAYERS, C3D_BN, CONV_LAYERS, replace_head
from core.model.spec import SPORTS1M_SPEC

log = logging.getLogger(__name__)

PRETRAINED_KEYS = tuple(
    f"{layer}.{part}" for layer in (*CONV_LAYERS, "fc6", "fc7") for part in ("weight", "bias")
)
"""What carries over, in network order so errors name the earliest problem."""

SPORTS1M_CLASSES = 487
SIZE_SLACK = 1.25
"""How far a file may exceed C3D's float32 weights (pickle, alignment, a few extra tensors)."""


def read_sports1m_state(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The validated conv1…conv5b and fc6/fc7 tensors of a Sports-1M C3D port, as float32."""
    path = Path(path)
    label = path.name
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a Sports-1M weights file.")
    if not path.is_file():
        raise CheckpointError(f"The Sports-1M weights file {path} does not exist.")
    check_declared_size(path)
    try:
        # The only torch.load in the project. weights_only=True makes the unpickler refuse
        # anything but tensors and plain containers, so a malicious or foreign file cannot run
        # code; say it explicitly rather than trusting the default of whichever torch is installed.
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{label} holds Python objects besides weights (perhaps a whole pickled model), "
            "so it cannot be opened safely; save the model's state_dict() instead."
        ) from exc
    except SafetensorError as exc:  # torch.load hands a .safetensors file over to safetensors
        raise CheckpointError(f"{label} is a damaged .safetensors file ({exc}).") from exc
    except (EOFError, KeyError, ValueError, RuntimeError, TypeError, IndexError, MemoryError) as exc:
        raise CheckpointError(f"{label} is not a PyTorch weights file or is damaged.") from exc
    except OSError as exc:
        raise CheckpointError(f"Could not read {label}: {exc}.") from exc
    return _pretrained_tensors(raw, label)


def _sports1m_bytes() -> tuple[int, int]:
    """(all tensors, the largest one) of the original C3D in float32, fc8's 487 sports included."""
    with torch.device("meta"):
        reference = C3D_BN(SPORTS1M_CLASSES).state_dict()
    sizes = [value.numel() * 4 for value in reference.values()]
    return sum(sizes), max(sizes)


def check_declared_size(path: Path) -> None:
    """Refuse a file that would unpack to more than C3D's weights, before anything is read.

    ``torch.save`` writes a zip whose members are the raw tensors, and ``torch.load`` allocates
    each member at the size the zip's directory declares: a small deflated "zip bomb" would take
    gigabytes before any check on shapes could run. The directory alone is read here.
    """
    total, largest = _sports1m_bytes()
    limit = int(total * SIZE_SLACK) + (16 << 20)
    label = path.name
    size = path.stat().st_size
    if size > limit:
        raise CheckpointError(
            f"{label} is {size / 1e6:,.0f} MB, more than C3D's weights can take ({total / 1e6:,.0f} MB); "
            "it is not the Sports-1M C3D port."
        )
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"{label} is not a PyTorch weights file or is damaged ({exc}).") from exc
    declared = sum(m.file_size for m in members)
    biggest = max(members, key=lambda m: m.file_size, default=None)
    if declared > limit or (biggest is not None and biggest.file_size > int(largest * SIZE_SLACK)):
        raise CheckpointError(
            f"{label} declares {declared / 1e6:,.0f} MB of contents"
            f"{f' ({biggest.filename} alone {biggest.file_size / 1e6:,.0f} MB)' if biggest else ''}, "
            f"more than C3D's {total / 1e6:,.0f} MB of weights: it is damaged or hostile and was not opened."
        )


def _pretrained_tensors(raw: Any, label: str) -> dict[str, torch.Tensor]:
    not_c3d = f"{label} does not hold a C3D state dict (no 'conv1.weight' tensor was found)."
    if isinstance(raw, dict) and isinstance(raw.get("state_dict"), dict):
        raw = raw["state_dict"]
    if not isinstance(raw, dict):
        raise CheckpointError(not_c3d)
    state = {key.removeprefix("module."): value for key, value in raw.items() if isinstance(key, str)}
    if not any(key in state for key in PRETRAINED_KEYS):
        raise CheckpointError(not_c3d)

    with torch.device("meta"):
        reference = C3D_BN(1).state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for key in PRETRAINED_KEYS:
        value = state.get(key)
        if value is None:
            raise CheckpointError(f"{label} lacks '{key}', so it is not a complete C3D state dict.")
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise CheckpointError(f"{label} has '{key}' that is not a tensor of real numbers.")
        wanted = tuple(reference[key].shape)
        if tuple(value.shape) != wanted:
            raise CheckpointError(
                f"{label} has '{key}' shaped {tuple(value.shape)} where C3D needs {wanted}."
            )
        tensors[key] = value.float()
    check_finite(tensors, label)
    ignored = sorted(set(state) - set(PRETRAINED_KEYS))
    if ignored:
        log.debug("Ignoring %d tensors from %s: %s", len(ignored), label, ignored)
    return tensors


def import_sports1m(
    path: str | os.PathLike[str],
    class_names: Sequence[str],
    calibration_clips: Iterable[torch.Tensor],
    *,
    seed: int = 0,
    max_clips: int = 300,
    device: torch.device | str = "cpu",
    cancel: threading.Event | None = None,
) -> tuple[C3D_BN, CheckpointMeta]:
    """A C3D_BN for ``class_names`` with Sports-1M features, ready to save or fine-tune.

    ``calibration_clips`` are preprocessed with SPORTS1M_SPEC, which the result records, since
    those weights only see the world through the C3D paper's preprocessing. Calibration runs
    on ``device`` (a GPU makes 300 clips take seconds, not minutes); the model returned is on
    the CPU in eval mode.
    """
    if not class_names:
        raise ValueError("import_sports1m needs at least one class name.")
    path = Path(path)
    _check_cancel(cancel)
    pretrained = read_sports1m_state(path)
    _check_cancel(cancel)
    with torch.device("meta"):
        model = C3D_BN(len(class_names))
    model.to_empty(device="cpu")  # every tensor is overwritten below, so skip a random init
    with torch.no_grad():
        for key, value in pretrained.items():
            model.get_parameter(key).copy_(value)
        for name in BN_LAYERS:
            getattr(model, name).reset_parameters()
    replace_head(model, len(class_names), seed)

    model.to(device)
    used = calibrate_bn(model, calibration_clips, max_clips, cancel)
    model.to("cpu").eval()
    if used == 0:
        raise CheckpointError(
            "Importing Sports-1M weights needs at least one video clip to calibrate on; add a video first."
        )
    meta = CheckpointMeta.create(
        class_names,
        SPORTS1M_SPEC,
        parent=f"sports1m:{path.name}",
        training={"kind": "sports1m_import", "calibration_clips": used, "seed": seed},
        name=f"Sports-1M ({path.stem})",
    )
    log.info("Imported %s for %d classes, BN calibrated on %d clips", path, len(class_names), used)
    return model, meta


class _ChannelStats:
    """Exact per-channel mean and variance over every clip (Chan's pairwise merge, float64).

    Running sums rather than BN's momentum average, so each clip counts equally and the
    result does not depend on the order the clips came in.
    """

    def __init__(self) -> None:
        self.count = 0
        self.mean = torch.zeros(0, dtype=torch.float64)
        self.m2 = torch.zeros(0, dtype=torch.float64)

    def add(self, x: torch.Tensor) -> None:
        dims = [d for d in range(x.dim()) if d != 1]
        n = x.numel() // x.shape[1]
        batch_mean = x.sum(dim=dims, dtype=torch.float64) / n
        shape = [1, -1] + [1] * (x.dim() - 2)
        # Centre in the input's precision (a float64 copy of conv1's output would be 100 MB a
        # clip); squares are summed in float64.
        centred = x - batch_mean.to(x.dtype).view(shape)
        batch_m2 = centred.square().sum(dim=dims, dtype=torch.float64)
        if self.count == 0:
            self.count, self.mean, self.m2 = n, batch_mean, batch_m2
            return
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + batch_m2 + delta.square() * (self.count * n / total)
        self.count = total

    def variance(self) -> torch.Tensor:
        return (self.m2 / max(self.count, 1)).clamp_min(0.0)


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("Importing the weights was cancelled; no model was added.")


def calibrate_bn(
    model: C3D_BN, clips: Iterable[torch.Tensor], max_clips: int, cancel: threading.Event | None = None
) -> int:
    """Make every BN layer the identity on these clips while giving it their statistics.

    BN layers are bypassed during the pass, so each one sees exactly the input it will see
    once calibrated (a calibrated layer is the identity too); that is why a single pass over
    a one-shot iterable calibrates all layers as if done in order. Afterwards running stats
    are the clips' per-channel mean and variance, γ = sqrt(var + eps) and β = mean, so eval
    mode reproduces the input and train mode starts close to it. Returns the clips used.
    ``cancel`` is checked before each clip; a cancelled calibration leaves the model as it was.
    """
    stats = {name: _ChannelStats() for name in BN_LAYERS}

    def bypass(name: str) -> Any:
        def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> torch.Tensor:
            stats[name].add(inputs[0])
            return inputs[0]

        return hook

    handles = [getattr(model, name).register_forward_hook(bypass(name)) for name in BN_LAYERS]
    was_training = model.training
    param = model.conv1.weight
    used = 0
    model.eval()
    try:
        with torch.no_grad():
            source = iter(clips)
            while used < max_clips:  # checked before pulling, so no clip is decoded for nothing
                _check_cancel(cancel)
                clip = next(source, None)
                if clip is None:
                    break
                batch = clip[: max_clips - used].to(device=param.device, dtype=param.dtype)
                if batch.shape[0] == 0:
                    continue
                model.trunk(batch)
                used += batch.shape[0]
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)

    if used == 0:
        log.warning("BN calibration got no clips; BN layers left unchanged")
        return 0
    with torch.no_grad():
        for name in BN_LAYERS:
            bn: nn.BatchNorm3d = getattr(model, name)
            layer = stats[name]
            running_mean = cast(torch.Tensor, bn.running_mean)  # always tracked in C3D_BN
            running_var = cast(torch.Tensor, bn.running_var)
            mean = layer.mean.to(running_mean.device, torch.float32)
            var = layer.variance().to(running_var.device, torch.float32)
            running_mean.copy_(mean)
            running_var.copy_(var)
            bn.weight.copy_(torch.sqrt(var + bn.eps))
            bn.bias.copy_(mean)
    log.info("Calibrated %d BN layers on %d clips", len(BN_LAYERS), used)
    return used
