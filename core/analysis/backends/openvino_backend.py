"""The OpenVINO engine: the same network, several times faster on an ordinary CPU.

The torch module is converted once per model version into an IR (``fp32.xml``/``.bin``) in
the project's files folder, preprocessing included so the engine takes the uint8 clips the
decoder produces, and compiled with OpenVINO's ``CACHE_DIR`` beside it: a second analysis
reads both from disk instead of converting (~10 s) and compiling again. One pass returns the
softmax, pool5 and fc7, so the feature cache and fine-tuning see the same three outputs as
with PyTorch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core.analysis.backends.base import EngineOutput, Pending
from core.model.network import C3D_BN
from core.model.spec import InputSpec
from core.store.records import ModelVersion

log = logging.getLogger(__name__)

FP32_XML = "fp32.xml"
KEEP_VERSIONS = 3
INT8_XML = "int8.xml"
_STREAMS = 2
_PRECISION_HINT = {"fp32": "f32", "int8": "f32"}
"""fp32 must not silently become bf16 on CPUs that have it (OpenVINO's default there);
the int8 model's few unquantized layers stay fp32 for the same reason."""


def openvino_root(files_dir: str | Path) -> Path:
    return Path(files_dir) / "openvino"


def cache_dir(files_dir: str | Path) -> Path:
    """OpenVINO's compiled-blob cache, shared by every variant of the project."""
    return openvino_root(files_dir) / "cache"


def variant_dir(files_dir: str | Path, version: ModelVersion) -> Path:
    """One folder per model version; the checkpoint's name guards against a reused id."""
    tag = hashlib.sha256(Path(version.checkpoint_path).name.encode()).hexdigest()[:8]
    return openvino_root(files_dir) / f"v{version.id}-{tag}"


class _ClipsToOutputs(nn.Module):
    """uint8 (B, T, H, W, 3) clips → (probabilities, pool5, fc7), normalisation inside the graph.

    The probabilities are every track's head side by side (``output_probs``): the small heads
    compile into the same graph and read the one trunk pass's fc7.
    """

    def __init__(self, model: C3D_BN, spec: InputSpec) -> None:
        super().__init__()
        self.model = model
        self.scale = float(spec.scale)
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(spec.mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(spec.std, dtype=torch.float32))

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = (clips.float() * self.scale - self.mean) / self.std
        out = self.model.forward_features(x.permute(0, 4, 1, 2, 3))
        return self.model.output_probs(out), out.pool5, out.fc7


def ensure_fp32_ir(folder: Path, model: C3D_BN, spec: InputSpec) -> Path:
    """The version's fp32 IR, converted only if it is not on disk yet; returns the .xml path.

    Written into a temporary folder and moved into place .bin first, .xml last, so an
    interrupted conversion never leaves an .xml that points at a half-written .bin.
    """
    xml = folder / FP32_XML
    if xml.is_file() and xml.with_suffix(".bin").is_file():
        return xml
    import openvino as ov

    folder.mkdir(parents=True, exist_ok=True)
    wrapper = _ClipsToOutputs(model, spec).to("cpu").eval()
    height, width = spec.output_size
    example = torch.zeros((1, spec.window, height, width, 3), dtype=torch.uint8)
    log.info("Converting the model for OpenVINO into %s", folder)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about the shape checks
        converted = ov.convert_model(
            wrapper, example_input=example, input=[(-1, spec.window, height, width, 3)]
        )
    save_ir(converted, xml)
    return xml


def save_ir(ov_model: Any, xml: Path) -> None:
    """Save an OpenVINO model as ``xml`` (+ .bin) without ever exposing a partial pair."""
    import openvino as ov

    with tempfile.TemporaryDirectory(prefix=".ir-", dir=xml.parent) as tmp:
        staged = Path(tmp) / xml.name
        ov.save_model(ov_model, str(staged), compress_to_fp16=False)
        os.replace(staged.with_suffix(".bin"), xml.with_suffix(".bin"))
        os.replace(staged, xml)


def prune_variants(files_dir: str | Path, current: Path, keep: int = KEEP_VERSIONS) -> list[Path]:
    """Drop the converted models of all but the ``keep`` most recently used versions.

    Each version costs ~400 MB (fp32 + int8) plus as much again in compiled blobs, and every
    fine-tuning run makes a new version; an older one that is used again is simply converted
    again. Returns the folders removed.
    """
    os.utime(current)  # "recently used" is the folder's mtime
    root = openvino_root(files_dir)
    folders = sorted(
        (p for p in root.glob("v*") if p.is_dir()), key=lambda p: p.stat().st_mtime_ns, reverse=True
    )
    removed = [p for p in folders[keep:] if p != current]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    blobs = sorted(cache_dir(files_dir).glob("*.blob"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for blob in blobs[2 * keep :]:
        blob.unlink(missing_ok=True)
    if removed:
        log.info("Removed the OpenVINO models of %d older versions", len(removed))
    return removed


class OpenVinoEngine:
    """A compiled IR on the CPU, run by one analysis thread at a time.

    Uncapped, it compiles two streams of half the cores each, with one infer request per
    stream. ``submit`` gives a whole batch to the next request, so the analysis loop keeps one
    batch computing while it stores the last and the decoder thread takes its share of the
    CPU from one stream only; with one stream of all cores, every decoder time slice stalled
    both threads at the next layer (on 2 cores, int8 ran 48 ms a window beside the decoder
    against 39 ms alone). ``run`` splits its batch between the two requests.
    """

    backend = "openvino"
    pads_batches = False

    def __init__(
        self, xml: Path, precision: str, files_dir: str | Path, note: str = "", threads: int | None = None
    ) -> None:
        """``threads`` caps OpenVINO's CPU threads (a cluster worker of one core); None: all cores.

        A capped engine does not pin its threads to cores: OpenVINO pins a 1-thread engine to
        the first core, so every worker process on a machine ran on that one core (2 workers
        got 0.52 + 0.52 of a core on an idle 2-core machine); unpinned, the OS spreads them.
        """
        import openvino as ov

        self.xml = xml
        self.precision = precision
        self.note = note
        cache = cache_dir(files_dir)
        cache.mkdir(parents=True, exist_ok=True)
        config: dict[str, object] = {
            "CACHE_DIR": str(cache),
            "INFERENCE_PRECISION_HINT": _PRECISION_HINT[precision],
        }
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = int(threads)
            config["ENABLE_CPU_PINNING"] = False
        elif (os.cpu_count() or 1) >= _STREAMS:
            config["NUM_STREAMS"] = _STREAMS
        self._compiled = ov.Core().compile_model(str(xml), "CPU", config)
        self._requests = [self._compiled.create_infer_request() for _ in range(_STREAMS)]
        self._started = [0] * _STREAMS  # batches started on each request, to catch a stale wait
        self._next = 0

    @property
    def label(self) -> str:
        suffix = f" ({self.note})" if self.note else ""
        return f"CPU · OpenVINO {self.precision}{suffix}"

    def run(self, clips: np.ndarray, want_features: bool) -> EngineOutput:
        halves = [h for h in np.array_split(clips, len(self._requests)) if len(h)]
        pending = [self.submit(h, want_features) for h in halves]
        outs = [wait() for wait in pending]
        if not want_features:
            return EngineOutput(np.concatenate([o.probs for o in outs]), None, None)
        fields = ("probs", "pool5", "fc7")
        return EngineOutput(*(np.concatenate([getattr(o, f) for o in outs]) for f in fields))

    def submit(self, clips: np.ndarray, want_features: bool) -> Pending:
        index = self._next
        self._next = (index + 1) % len(self._requests)
        request = self._requests[index]
        request.wait()  # a result nobody collected: the request is reused, never run twice at once
        request.start_async({0: np.ascontiguousarray(clips)})  # copies the clips in
        self._started[index] += 1
        ticket = self._started[index]

        def wait() -> EngineOutput:
            if self._started[index] != ticket:
                raise RuntimeError("More than two OpenVINO batches were pending; this one was overwritten.")
            request.wait()
            # The request reuses its output memory on the next call: copy out what is kept.
            results = request.results
            outputs = self._compiled.outputs
            probs = np.array(results[outputs[0]], dtype=np.float32)
            if not want_features:
                return EngineOutput(probs=probs, pool5=None, fc7=None)
            return EngineOutput(
                probs=probs,
                pool5=np.asarray(results[outputs[1]]).astype(np.float16),
                fc7=np.asarray(results[outputs[2]]).astype(np.float16),
            )

        return wait
