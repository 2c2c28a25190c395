"""What each part of the ``features`` method adds, measured on the cached features.

Called by ``learning_loop.py --ablation`` with a project whose labels are set: the same
labels, cache and ground truth go through the head with one choice changed at a time, and
the frame macro-F1 on frames from ``first`` on is reported for each.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.analysis.windows import frame_scores
from core.learning.decoding import decode, learn_decoder
from core.learning.evaluation import frame_metrics
from core.learning.feature_cache import FeatureCache, FeatureKey, Layer
from core.learning.training.dataset import window_labels
from core.learning.training.events import LabelledWindows
from core.learning.training.heads import standardisation
from core.learning.training.ridge import cross_validate, fit_ridge, softmax
from core.media.demo import BACKGROUND, DemoVideo
from core.model.registry import ensure_active_model
from core.store import Store
from core.store.records import Video


def _features(store: Store, video: Video, layer: Layer) -> tuple[np.ndarray, np.ndarray]:
    """The untrained model's cached features (later versions may have cached their own fc7)."""
    fc7_hash = ensure_active_model(store).trunk_hash
    for entry in store.features.list():
        wanted = entry.layer == layer and (layer == "pool5" or entry.trunk_hash == fc7_hash)
        if wanted and entry.video_hash == video.content_hash and entry.complete:
            key = FeatureKey(entry.video_hash, entry.trunk_hash, entry.spec_hash, entry.stride, layer)
            loaded = FeatureCache(store).load(key)
            if loaded is not None:
                return loaded.starts, loaded.features.astype(np.float32)
    raise SystemExit(f"no complete {layer} cache for video {video.id}")


def ablation(store: Store, video: Video, demo: DemoVideo, first: int) -> dict[str, Any]:
    names = ensure_active_model(store).class_names
    index = {n: i for i, n in enumerate(names)}
    truth = np.full(demo.frame_count, index[BACKGROUND], dtype=np.int64)
    for event in demo.events:
        truth[event.start_frame : event.end_frame] = index[event.class_name]
    starts, fc7 = _features(store, video, "fc7")
    _, pool5 = _features(store, video, "pool5")
    labels = window_labels(store.segments.list(video.id), starts, 16, index)
    lab = labels >= 0
    data = LabelledWindows(np.zeros(int(lab.sum()), np.int64), starts[lab], labels[lab], 16)
    out: dict[str, Any] = {}
    around = np.vstack([pool5[:1], pool5[:-1]]), np.vstack([pool5[1:], pool5[-1:]])
    variants = {
        "fc7": fc7,
        "pool5": pool5,
        "pool5+fc7": np.hstack([pool5, fc7]),
        "pool5_context": np.hstack([around[0], pool5, around[1]]),  # neighbours' features too
    }
    for name, x in variants.items():
        mean, std = standardisation(x)
        xs = (x - mean) / std
        cv = cross_validate(xs[lab], data, len(names))
        fit = fit_ridge(xs[lab], labels[lab], len(names), cv.lam, cv.temperature)
        probs = softmax(fit.temperature * (xs @ fit.weight + fit.bias))
        for decoded in (False, True):
            p = decode(probs, learn_decoder([labels], len(names))) if decoded else probs
            scores = np.nan_to_num(frame_scores(starts, p.astype(np.float32), demo.frame_count, 16))
            f1 = frame_metrics(truth[first:], scores.argmax(axis=1)[first:], len(names)).macro_f1
            out[f"ridge_{name}{'_hmm' if decoded else ''}"] = round(f1, 4)
        out[f"cv_{name}"] = round(max(cv.f1_by_lambda.values()), 4)
    return out
