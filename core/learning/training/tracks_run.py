"""Training a project with several tracks: one shared trunk, one head per track.

``features`` fits every head in closed form on cached fc7; ``last-layers`` (cached pool5) and
``full`` (decoded clips) train with the heads' losses summed. Each ends in one new model
version holding every head, like the single-track modes in ``runner``.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.analysis.run import LoadedModel
from core.errors import TrainingError
from core.learning.feature_cache import FeatureCache, FeatureKey, feature_key
from core.learning.training.config import Report, TrainConfig, TrainingProgress, TrainingResult
from core.learning.training.feature_fill import analyse_missing
from core.learning.training.full import CPU_WARNING, flip_allowed
from core.learning.training.loop import LoopSettings, train_loop
from core.model.checkpoint import CheckpointMeta
from core.model.device import choose_device
from core.model.network import C3D_BN, trunk_hash
from core.model.registry import (
    load_version,
    register_model,
)
from core.model.spec import InputSpec
from core.store import Store
from core.store.records import ModelVersion, RunStatus, TrackKind, Video


def run_tracks_features(
    store: Store,
    cfg: TrainConfig,
    parent: ModelVersion,
    cancel: threading.Event,
    report: Report,
    began: float,
) -> TrainingResult:
    """Mode ``features`` with several tracks: every head on the parent's cached fc7, one version."""
    from core.learning.track_learning import train_tracks

    spec = InputSpec.from_json(parent.input_spec_json)

    def key_of(video: Video) -> FeatureKey:
        return feature_key(video, parent.trunk_hash, spec, cfg.stride, "fc7")

    cache = FeatureCache(store)
    chosen = store.videos.list() if cfg.video_ids is None else [store.videos.get(v) for v in cfg.video_ids]
    if any(store.segments.list(v.id, all_tracks=True) and not _complete(cache, key_of(v)) for v in chosen):
        model, _ = load_version(store, parent, as_parent=True)
        _cache_tracks_features(store, cfg, parent, model, key_of, cancel, report)
    report(TrainingProgress("train", 1, 1, 0, 1, message="fitting every track's head"))
    result = train_tracks(store, parent, cfg.stride, activate=cfg.activate)
    if result.version is None:  # train_tracks registers unless told not to
        raise TrainingError("The track heads were fitted but not registered; this is a bug.")
    report(
        TrainingProgress(
            "validate", 1, 1, 1, 1, 0.0, 0.0, float(result.version.metrics.get("val_macro_f1", 0.0))
        )
    )
    return TrainingResult(
        version=result.version,
        metrics=result.version.metrics,
        history=(),
        stopped_early=False,
        resumed_from_epoch=0,
        rescored_video_ids=result.rescored_video_ids,
        seconds=time.perf_counter() - began,
    )


def _cache_tracks_features(
    store: Store,
    cfg: TrainConfig,
    parent: ModelVersion,
    model: C3D_BN,
    key_of: Callable[[Video], FeatureKey],
    cancel: threading.Event,
    report: Report,
) -> None:
    """Analyse (decode) the videos labelled in any track whose features are not cached yet."""
    cache = FeatureCache(store)
    chosen = store.videos.list() if cfg.video_ids is None else [store.videos.get(v) for v in cfg.video_ids]
    missing = [
        v for v in chosen if store.segments.list(v.id, all_tracks=True) and not _complete(cache, key_of(v))
    ]
    if not missing:
        return
    loaded = LoadedModel(parent, model, choose_device(cfg.device))
    analyse_missing(store, loaded, missing, cfg.stride, cancel, report)


def run_tracks_layers(
    store: Store,
    cfg: TrainConfig,
    parent: ModelVersion,
    cancel: threading.Event,
    report: Report,
    began: float,
) -> TrainingResult:
    """Modes ``last-layers`` (fc6, fc7 and every head on cached pool5) and ``full`` (every layer
    on decoded clips) with several tracks: the heads' losses summed (``cfg.track_weights``,
    equal by default); one new version."""
    from core.learning.track_learning import Gathered, evaluate, gather
    from core.learning.training.tracks_full import ClipRows, TracksClipTask, clip_rows
    from core.learning.training.tracks_task import TracksHeadTask, tracked_start
    from core.model.registry import project_specs

    model, meta = load_version(store, parent, as_parent=True)
    spec = meta.input_spec
    pool5_hash = trunk_hash(model, "pool5")
    specs = project_specs(store)
    weights = dict(cfg.track_weights or ())
    full = cfg.mode == "full"

    def key_of(video: Video) -> FeatureKey:
        return feature_key(video, pool5_hash, spec, cfg.stride, "pool5")

    task: TracksHeadTask | TracksClipTask
    data: ClipRows | Gathered
    if full:
        device = choose_device(cfg.device)
        if device.device.type == "cpu":
            report(TrainingProgress("train", 0, int(cfg.epochs or 1), message=CPU_WARNING))
        data = clip_rows(store, specs, spec.window, cfg.stride, cfg.video_ids)
        train, val = ~data.held, data.held
        _check_held_out(train, val)
        tracked = tracked_start(model.to("cpu"), specs, cfg.seed)
        flip = flip_allowed([c for s in specs for c in s.classes]) if cfg.hflip is None else cfg.hflip
        (train_rows, train_y), (val_rows, val_y) = data.part(train), data.part(val)
        task = TracksClipTask(tracked, spec, train_rows, train_y, val_rows, val_y, device, flip, weights)
        micro = cfg.max_micro_batch or (int(cfg.batch_size or 1) if device.device.type == "cuda" else 1)
    else:
        _cache_tracks_features(store, cfg, parent, model, key_of, cancel, report)
        cached = gather(store, specs, key_of)
        train, val = ~cached.held, cached.held
        _check_held_out(train, val)
        tracked = tracked_start(model.to("cpu"), specs, cfg.seed)
        val_y = {n: t[val] for n, t in cached.targets.items()}
        train_y = {n: t[train] for n, t in cached.targets.items()}
        task = TracksHeadTask(
            tracked,
            cached.features[train],
            train_y,
            cached.features[val],
            val_y,
            choose_device(cfg.device).device,
            weights,
        )
        data = cached
        micro = cfg.max_micro_batch or int(cfg.batch_size or 1)
    run_key = cfg.fingerprint(
        {"parent": parent.id, "tracks": [s.to_json() for s in specs], "n": len(data.starts)}
    )
    run_dir = Path(store.files_dir) / "training" / run_key
    settings = LoopSettings(
        epochs=int(cfg.epochs or 1),
        lr=float(cfg.lr or 0.0),
        batch_size=int(cfg.batch_size or 1),
        patience=int(cfg.patience or 1),
        weight_decay=cfg.weight_decay,
        seed=cfg.seed,
        micro_batch=micro,
        run_dir=run_dir,
    )
    outcome = train_loop(task, settings, cancel, report)
    predicted = task.predict_all(cancel) if isinstance(task, TracksClipTask) else task.predict_all(task.val_x)
    held_probs = dict(zip([s.name for s in specs], predicted, strict=True))
    scores = evaluate(specs, held_probs, {n: t[val] for n, t in data.targets.items()}, data.starts[val])
    final = task.finalize()
    metrics: dict[str, Any] = {
        "validation": "blocks",
        "tracks": {
            s.track: {"kind": s.kind.value, "f1": s.f1, "held_out_windows": s.support} for s in scores
        },
        "train_windows": int(train.sum()),
        "val_windows": int(val.sum()),
        "epochs_run": len(outcome.history),
    }
    first_state = next((s for s in scores if s.kind is TrackKind.STATE), None)
    if first_state is not None:
        metrics["val_macro_f1"] = first_state.f1
    summary = {
        "mode": cfg.mode,
        "config": cfg.to_json(),
        "history": [[r.epoch, r.loss, r.val_accuracy, r.val_macro_f1] for r in outcome.history],
        "stopped_early": outcome.stopped_early,
    }
    new_meta = CheckpointMeta.create(
        specs[0].outputs,
        spec,
        parent=str(parent.id),
        training=summary,
        name=f"{cfg.mode} {time.strftime('%Y-%m-%d %H:%M')}",
        tracks=specs,
    )
    version = register_model(store, final, new_meta, mode=cfg.mode, parent_id=parent.id, metrics=metrics)
    shutil.rmtree(run_dir, ignore_errors=True)
    rescored: list[int] = []
    if not full:  # a new trunk makes every cached feature stale: its videos are analysed again
        report(TrainingProgress("rescore", 1, 1, message="re-scoring the timelines"))
        rescored = _rescore_tracks_from_pool5(store, version, final, key_of, cfg.stride)
    if cfg.activate:
        store.models.set_active(version.id)
    return TrainingResult(
        version=version,
        metrics=metrics,
        history=tuple(outcome.history),
        stopped_early=outcome.stopped_early,
        resumed_from_epoch=outcome.resumed_from_epoch,
        rescored_video_ids=tuple(rescored),
        seconds=time.perf_counter() - began,
    )


def _check_held_out(train: np.ndarray, val: np.ndarray) -> None:
    if not train.any() or not val.any():
        raise TrainingError("Too few labelled windows to hold some out: label a little more first.")


def _rescore_tracks_from_pool5(
    store: Store, version: ModelVersion, model: C3D_BN, key_of: Callable[[Video], FeatureKey], stride: int
) -> list[int]:
    """Every head's probabilities of each video with cached pool5, and its new fc7 cached too."""
    cache = FeatureCache(store)
    spec = InputSpec.from_json(version.input_spec_json)
    done = []
    for video in store.videos.list():
        cached = cache.load(key_of(video))
        if cached is None or not cached.complete:
            continue
        probs, fc7 = [], []
        with torch.no_grad():
            for i in range(0, len(cached.starts), 512):
                x = torch.as_tensor(np.asarray(cached.features[i : i + 512], dtype=np.float32))
                f = model.fc7_from_pool5(x)
                probs.append(model.probs_from_fc7(f).numpy())
                fc7.append(f.to(torch.float16).numpy())
        cache.store_complete(
            feature_key(video, version.trunk_hash, spec, stride, "fc7"), cached.starts, np.concatenate(fc7)
        )
        run = store.predictions.start_run(video.id, version.id, stride, len(cached.starts))
        store.predictions.replace_windows(run.id, cached.starts, np.concatenate(probs))
        store.predictions.finish(run.id, RunStatus.COMPLETE, windows_total=len(cached.starts))
        done.append(video.id)
    return done


def _complete(cache: FeatureCache, key: FeatureKey) -> bool:
    entry = cache.entry(key)
    return entry is not None and entry.complete
