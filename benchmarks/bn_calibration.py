"""Does calibrating the untrained trunk's BN layers on the project's videos help a few-shot head?

An untrained C3D_BN starts with BN running statistics of 0 and 1, so in eval mode BN does
nothing and every layer passes on whatever scale and offset the random convolutions give.
Calibrating (one pass over clips of the project's own videos in train mode with cumulative
statistics) makes every channel zero-mean and unit-variance before its ReLU, as a trained
network's would be. This script measures the ``features`` head on the app's demo with and
without it: same labels, same method, only the trunk's BN statistics differ. It analyses the
demo once more with the calibrated trunk (~3 minutes on a 2-core CPU). Prints JSON.

    .venv/bin/python benchmarks/bn_calibration.py [--work DIR] [--clips 64]
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from torch import nn

from benchmarks.learning_loop import CPU, prepare_app_demo, score, train
from core.analysis.run import LoadedModel, analyse_video
from core.labels.overview import DEMO_LABELLED_FRACTION
from core.model.checkpoint import CheckpointMeta
from core.model.network import BN_LAYERS, C3D_BN
from core.model.registry import ensure_active_model, load_version, register_model
from core.model.spec import DEFAULT_SPEC
from core.model.weights_import import sample_clips


@torch.no_grad()
def calibrate_untrained_bn(model: C3D_BN, clips: list[torch.Tensor]) -> C3D_BN:
    """A copy whose BN layers normalise each channel with the clips' statistics (γ=1, β=0)."""
    out = copy.deepcopy(model)
    layers: list[nn.BatchNorm3d] = [getattr(out, name) for name in BN_LAYERS]
    for bn in layers:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: every batch counts equally
    out.train()
    for batch in clips:
        out.trunk(batch)
    for bn in layers:
        bn.momentum = 0.1
    return out.eval()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "c3d-learning-loop")
    parser.add_argument("--clips", type=int, default=64)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    store, video, demo = prepare_app_demo(args.work)
    untrained = ensure_active_model(store)
    first = round(DEMO_LABELLED_FRACTION * demo.frame_count)
    _, plain = train(store, untrained)
    out: dict[str, object] = {"plain_demo_macro_f1": score(store, video, demo, plain.version.id, first)}
    calibrated = next((v for v in store.models.list() if v.mode == "bn-calibrated"), None)
    if calibrated is None:
        model, meta = load_version(store, untrained)
        began = time.perf_counter()
        clips = list(sample_clips([video], DEFAULT_SPEC, args.clips))
        model = calibrate_untrained_bn(model, clips)
        out["calibration_s"] = round(time.perf_counter() - began, 1)
        new_meta = CheckpointMeta.create(
            meta.class_names, meta.input_spec, training={"kind": "bn-calibrated", "clips": args.clips}
        )
        calibrated = register_model(store, model, new_meta, mode="bn-calibrated", parent_id=untrained.id)
    model, _ = load_version(store, calibrated)
    analyse_video(store, video, LoadedModel(calibrated, model, CPU), stride=8, batch_size=8)
    _, tuned = train(store, calibrated)
    out["calibrated_demo_macro_f1"] = score(store, video, demo, tuned.version.id, first)
    out["plain_val_macro_f1"] = round(plain.metrics["val_macro_f1"], 4)
    out["calibrated_val_macro_f1"] = round(tuned.metrics["val_macro_f1"], 4)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
