"""After a ``features`` or ``last-layers`` run: new timeline predictions without decoding.

Every video analysed at this stride whose features are cached for the new model's frozen
part gets a prediction run of the new version, computed from the cache through the new
head (milliseconds for fc8, a few seconds for fc6–fc8 on an hour of video). A
``last-layers`` run also caches the new fc7 features, so a later ``features`` run on top of
it needs no decoding either.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np

from core.errors import Cancelled
from core.learning.decoding import Decoder, decode
from core.learning.feature_cache import FeatureCache, Layer, feature_key
from core.learning.training.heads import score_features, scores_and_fc7
from core.model.network import C3D_BN
from core.model.spec import InputSpec
from core.store import Store
from core.store.records import ModelVersion, RunStatus

log = logging.getLogger(__name__)


def rescore_from_cache(
    store: Store,
    version: ModelVersion,
    model: C3D_BN,
    layer: Layer,
    stride: int,
    pool5_hash: str,
    cancel: threading.Event | None = None,
    on_video: Callable[[int, int], None] | None = None,
    score: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[int]:
    """Write a complete prediction run of ``version`` for each analysed video; returns their ids.

    Videos whose cache is missing or incomplete are skipped (the next analysis fills it).
    ``pool5_hash`` is the frozen conv part's hash (unchanged by these modes, so the caller
    already has it); the fc7 one is the version's own, saving a second pass over the weights.
    ``score`` replaces the pass through the model's head (a linear head on pool5 is one
    small product); a version whose summary holds a decoder has its window probabilities
    decoded along time before they are stored.
    """
    cancel = cancel or threading.Event()
    cache = FeatureCache(store)
    spec = InputSpec.from_json(version.input_spec_json)
    hashes: dict[Layer, str] = {"pool5": pool5_hash, "fc7": version.trunk_hash}
    raw_decoder = version.summary.get("decoder")
    decoder = Decoder.from_json(raw_decoder) if isinstance(raw_decoder, dict) else None
    analysed = [v for v in store.videos.list() if store.predictions.latest_run(v.id) is not None]
    done: list[int] = []
    for number, video in enumerate(analysed, start=1):
        if cancel.is_set():
            raise Cancelled("Re-scoring cancelled; the new model is saved, re-run analysis to update.")
        cached = cache.load(feature_key(video, hashes[layer], spec, stride, layer))
        if cached is None or not cached.complete:
            log.info("Video %d has no complete %s cache for the new model; not re-scored", video.id, layer)
            continue
        if score is not None:
            probs = score(cached.features)
        elif layer == "pool5":
            probs, fc7 = scores_and_fc7(model, cached.features)
            cache.store_complete(feature_key(video, hashes["fc7"], spec, stride, "fc7"), cached.starts, fc7)
        else:
            probs = score_features(model, layer, cached.features)
        if decoder is not None:
            probs = decode(probs, decoder)
        run = store.predictions.start_run(video.id, version.id, stride, len(cached.starts))
        store.predictions.replace_windows(run.id, cached.starts, probs)
        store.predictions.finish(run.id, RunStatus.COMPLETE, windows_total=len(cached.starts))
        done.append(video.id)
        if on_video is not None:
            on_video(number, len(analysed))
    log.info("Re-scored %d of %d analysed videos from the %s cache", len(done), len(analysed), layer)
    return done
