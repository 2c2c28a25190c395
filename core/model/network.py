"""The C3D_BN network: C3D (Tran et al., 2015) with a BatchNorm3d after every convolution.

Layer names match the published PyTorch port exactly, so Sports-1M weights map by name. The
forward pass is split at pool5 and fc7 because the learning loop caches those features once
and then trains only the head, which is orders of magnitude cheaper than re-running the trunk.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Literal, NamedTuple

import torch
from torch import nn

from core.model.spec import CLIP_SIZE, WINDOW_LENGTH

log = logging.getLogger(__name__)

POOL5_FEATURES = 8192
FC7_FEATURES = 4096
CLIP_SHAPE = (3, WINDOW_LENGTH, CLIP_SIZE, CLIP_SIZE)
"""One clip without the batch axis: (channels, frames, height, width)."""

CONV_LAYERS = ("conv1", "conv2", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b")
BN_LAYERS = tuple(f"{name}_bn" for name in CONV_LAYERS)
FC_LAYERS = ("fc6", "fc7", "fc8")

TrunkPart = Literal["pool5", "fc7"]

_FC8_STD = 0.01
"""Small output weights so a fresh head predicts near-uniform probabilities."""


class ClipOutputs(NamedTuple):
    """Everything one pass yields, so caching features never costs a second forward."""

    logits: torch.Tensor
    pool5: torch.Tensor
    """(B, 8192): the flattened trunk output, input of fc6."""
    fc7: torch.Tensor
    """(B, 4096): after ReLU, input of fc8."""


class C3D_BN(nn.Module):
    """C3D with batch normalisation; takes (B, 3, 16, 112, 112) clips."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"C3D_BN needs at least one class, got {num_classes}.")
        self.num_classes = num_classes
        k3 = (3, 3, 3)
        p1 = (1, 1, 1)

        self.conv1 = nn.Conv3d(3, 64, kernel_size=k3, padding=p1)
        self.conv1_bn = nn.BatchNorm3d(64)
        self.pool1 = nn.MaxPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2))

        self.conv2 = nn.Conv3d(64, 128, kernel_size=k3, padding=p1)
        self.conv2_bn = nn.BatchNorm3d(128)
        self.pool2 = nn.MaxPool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2))

        self.conv3a = nn.Conv3d(128, 256, kernel_size=k3, padding=p1)
        self.conv3a_bn = nn.BatchNorm3d(256)
        self.conv3b = nn.Conv3d(256, 256, kernel_size=k3, padding=p1)
        self.conv3b_bn = nn.BatchNorm3d(256)
        self.pool3 = nn.MaxPool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2))

        self.conv4a = nn.Conv3d(256, 512, kernel_size=k3, padding=p1)
        self.conv4a_bn = nn.BatchNorm3d(512)
        self.conv4b = nn.Conv3d(512, 512, kernel_size=k3, padding=p1)
        self.conv4b_bn = nn.BatchNorm3d(512)
        self.pool4 = nn.MaxPool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2))

        self.conv5a = nn.Conv3d(512, 512, kernel_size=k3, padding=p1)
        self.conv5a_bn = nn.BatchNorm3d(512)
        self.conv5b = nn.Conv3d(512, 512, kernel_size=k3, padding=p1)
        self.conv5b_bn = nn.BatchNorm3d(512)
        self.pool5 = nn.MaxPool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2), padding=(0, 1, 1))

        self.fc6 = nn.Linear(POOL5_FEATURES, 4096)
        self.fc7 = nn.Linear(4096, FC7_FEATURES)
        self.fc8 = nn.Linear(FC7_FEATURES, num_classes)
        self.relu = nn.ReLU()

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Convolutional part up to the flattened pool5 features, (B, 8192)."""
        _check_shape(x, CLIP_SHAPE, "clips")
        h = self.pool1(self.relu(self.conv1_bn(self.conv1(x))))
        h = self.pool2(self.relu(self.conv2_bn(self.conv2(h))))
        h = self.relu(self.conv3a_bn(self.conv3a(h)))
        h = self.pool3(self.relu(self.conv3b_bn(self.conv3b(h))))
        h = self.relu(self.conv4a_bn(self.conv4a(h)))
        h = self.pool4(self.relu(self.conv4b_bn(self.conv4b(h))))
        h = self.relu(self.conv5a_bn(self.conv5a(h)))
        h = self.pool5(self.relu(self.conv5b_bn(self.conv5b(h))))
        # flatten(1), never view(-1, 8192): a wrong input must fail, not be silently re-batched.
        return h.flatten(1)

    def fc7_from_pool5(self, pool5: torch.Tensor) -> torch.Tensor:
        """fc6 and fc7 with their ReLUs: the features a fc8-only head is trained on."""
        _check_shape(pool5, (POOL5_FEATURES,), "pool5 features")
        return self.relu(self.fc7(self.relu(self.fc6(pool5))))

    def head_from_pool5(self, pool5: torch.Tensor) -> torch.Tensor:
        """Logits from cached pool5 features (trains fc6, fc7 and fc8)."""
        return self.head_from_fc7(self.fc7_from_pool5(pool5))

    def head_from_fc7(self, fc7: torch.Tensor) -> torch.Tensor:
        """Logits from cached fc7 features (trains fc8 only)."""
        _check_shape(fc7, (FC7_FEATURES,), "fc7 features")
        out: torch.Tensor = self.fc8(fc7)
        return out

    def forward_features(self, x: torch.Tensor) -> ClipOutputs:
        pool5 = self.trunk(x)
        fc7 = self.fc7_from_pool5(pool5)
        return ClipOutputs(logits=self.fc8(fc7), pool5=pool5, fc7=fc7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_from_pool5(self.trunk(x))

    def output_probs(self, out: ClipOutputs) -> torch.Tensor:
        """What one pass predicts, (B, C): the softmax over the classes (a model with several
        tracks concatenates every track's head here, from the same pass)."""
        return torch.softmax(out.logits.float(), dim=1)

    def probs_from_fc7(self, fc7: torch.Tensor) -> torch.Tensor:
        """``output_probs`` from cached fc7 features (re-scoring without the trunk)."""
        return self.output_probs(ClipOutputs(self.fc8(fc7), fc7, fc7))


def _check_shape(t: torch.Tensor, tail: tuple[int, ...], what: str) -> None:
    """Reject anything but (B, *tail) before it can be reshaped into nonsense."""
    if t.dim() != len(tail) + 1 or tuple(t.shape[1:]) != tail:
        expected = ", ".join(("B", *(str(n) for n in tail)))
        raise ValueError(f"C3D_BN expects {what} shaped ({expected}) but got {tuple(t.shape)}.")


def new_model(num_classes: int, seed: int = 0) -> C3D_BN:
    """A freshly initialised network whose weights depend only on ``seed``.

    Built on the meta device first so the 78M parameters are drawn once, from a private
    generator, leaving the global RNG of the caller untouched.
    """
    with torch.device("meta"):
        model = C3D_BN(num_classes)
    model.to_empty(device="cpu")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name in CONV_LAYERS:
            conv = getattr(model, name)
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu", generator=gen)
            nn.init.zeros_(conv.bias)
        for name in BN_LAYERS:
            getattr(model, name).reset_parameters()  # γ=1, β=0, running mean 0, var 1
        for name in ("fc6", "fc7"):
            fc = getattr(model, name)
            nn.init.kaiming_normal_(fc.weight, nonlinearity="relu", generator=gen)
            nn.init.zeros_(fc.bias)
    _init_fc8(model.fc8, seed)
    log.debug("Initialised C3D_BN for %d classes with seed %d", num_classes, seed)
    return model


def _init_fc8(fc8: nn.Linear, seed: int) -> None:
    """Own generator, so a head rebuilt with a seed equals a new model's head with that seed."""
    gen = torch.Generator().manual_seed(seed)
    weight = torch.empty(fc8.weight.shape).normal_(0.0, _FC8_STD, generator=gen)
    with torch.no_grad():
        fc8.weight.copy_(weight)
        fc8.bias.zero_()


def replace_head(model: C3D_BN, num_classes: int, seed: int = 0) -> C3D_BN:
    """Swap fc8 for a fresh one in place (a class list change keeps everything it learned).

    Returns the same model for chaining.
    """
    old = model.fc8
    fc8 = nn.Linear(FC7_FEATURES, num_classes, device=old.weight.device, dtype=old.weight.dtype)
    _init_fc8(fc8, seed)
    fc8.train(old.training)
    model.fc8 = fc8
    model.num_classes = num_classes
    return model


def frozen_tensor_names(model: C3D_BN, upto: TrunkPart) -> list[str]:
    """State-dict keys that determine the features at ``upto``, in a fixed order.

    ``num_batches_tracked`` is left out: it never changes what the layer computes, and
    counting it would invalidate feature caches for nothing.
    """
    if upto not in ("pool5", "fc7"):
        raise ValueError(f"upto must be 'pool5' or 'fc7', got {upto!r}.")
    prefixes = [*CONV_LAYERS, *BN_LAYERS]
    if upto == "fc7":
        prefixes += ["fc6", "fc7"]
    names = [
        key
        for key in model.state_dict()
        if key.split(".", 1)[0] in prefixes and not key.endswith("num_batches_tracked")
    ]
    return sorted(names)


def trunk_hash(model: C3D_BN, upto: TrunkPart) -> str:
    """Identity of the frozen part, used to key feature caches.

    Bytes are taken on CPU in fp32 so the same weights hash alike on any device or precision.
    """
    state = model.state_dict()
    digest = hashlib.sha256(upto.encode())
    for name in frozen_tensor_names(model, upto):
        tensor = state[name].detach().to(device="cpu", dtype=torch.float32).contiguous()
        digest.update(name.encode())
        digest.update(repr(tuple(tensor.shape)).encode())
        digest.update(memoryview(tensor.numpy()).cast("B"))  # no copy of 300 MB
    return digest.hexdigest()[:16]


def prepare_for_inference(model: C3D_BN, device: torch.device, channels_last: bool) -> C3D_BN:
    """Eval mode (BN uses running stats), on ``device``, optionally channels-last.

    channels_last_3d lets cuDNN pick faster NDHWC kernels; inputs should then be converted
    the same way. The model is changed in place and returned.
    """
    model.eval()
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last_3d)  # type: ignore[call-overload]  # stubs lack it
    return model
