"""One fine-tuning run from start to registered model version: what the GUI and CLI call.

``run_training`` is a plain blocking function taking a ``threading.Event`` to cancel and a
progress callback, so the GUI runs it on its generic worker thread and the CLI calls it
directly. Nothing is registered until the run completes: a cancelled, diverged or crashed
run leaves the project's models exactly as they were (and a cancelled one resumes).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.analysis.run import LoadedModel
from core.errors import Cancelled, TrainingError
from core.learning.evaluation import frame_metrics, suggest_thresholds
from core.learning.feature_cache import FeatureCache, Layer, feature_key
from core.learning.training.closed_form import fit_features_head, score_linear, val_events_text
from core.learning.training.config import Report, TrainConfig, TrainingProgress, TrainingResult
from core.learning.training.dataset import TrainingSet, build_training_set, class_weights, window_labels
from core.learning.training.distributed import DistContext, distribute
from core.learning.training.feature_fill import analyse_missing
from core.learning.training.full import CPU_WARNING, ClipExample, ClipTask, flip_allowed
from core.learning.training.heads import HeadTask
from core.learning.training.loop import LoopSettings, Task, train_loop
from core.learning.training.rescore import rescore_from_cache
from core.learning.training.split import TRAIN, VAL, Split, make_split
from core.learning.training.tracks_run import run_tracks_features, run_tracks_layers
from core.model.checkpoint import CheckpointMeta
from core.model.device import DeviceChoice, choose_device
from core.model.network import C3D_BN, trunk_hash
from core.model.registry import (
    ensure_active_model,
    load_version,
    model_tracks,
    project_class_names,
    register_model,
)
from core.model.spec import InputSpec
from core.store import Store
from core.store.records import ModelVersion

log = logging.getLogger(__name__)


def adapt_head(model: C3D_BN, old: Sequence[str], new: Sequence[str], seed: int) -> bool:
    """Fit fc8 to a changed class list, keeping the rows of classes that remain.

    Everything below fc8 is untouched, so what the network learnt carries over. Returns
    whether anything changed.
    """
    if tuple(old) == tuple(new):
        return False
    fc8 = nn.Linear(model.fc8.in_features, len(new))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        fc8.weight.copy_(torch.empty(fc8.weight.shape).normal_(0.0, 0.01, generator=gen))
        fc8.bias.zero_()
        for row, name in enumerate(new):
            if name in old:
                fc8.weight[row] = model.fc8.weight[old.index(name)]
                fc8.bias[row] = model.fc8.bias[old.index(name)]
    model.fc8 = fc8.to(model.fc6.weight.device)
    model.num_classes = len(new)
    log.info("Class list changed (%s → %s): fc8 rebuilt, other layers kept", list(old), list(new))
    return True


def run_training(
    store: Store,
    config: TrainConfig,
    cancel: threading.Event | None = None,
    on_progress: Report | None = None,
) -> TrainingResult:
    """Train, validate, register the new version and (modes 1–2) re-score every timeline."""
    result = train_rank(store, config, cancel, on_progress)
    if result is None:  # only a distributed rank other than 0 returns nothing
        raise TrainingError("This process was not the run's writer; no model was registered here.")
    return result


def train_rank(
    store: Store,
    config: TrainConfig,
    cancel: threading.Event | None = None,
    on_progress: Report | None = None,
    dist: DistContext | None = None,
) -> TrainingResult | None:
    """``run_training``, or one rank of a torchrun run (``dist``): rank 0 alone registers."""
    began = time.perf_counter()
    cfg = config.resolved()
    cancel = cancel or threading.Event()
    report: Report = on_progress or (lambda _p: None)
    parent = store.models.get(cfg.parent_id) if cfg.parent_id is not None else ensure_active_model(store)
    if model_tracks(store):
        if dist is not None:
            raise TrainingError(
                "This project has several tracks, and distributed training trains one head only: "
                "train on one machine ('features' or 'last-layers')."
            )
        if cfg.mode in ("last-layers", "full"):
            return run_tracks_layers(store, cfg, parent, cancel, report, began)
        return run_tracks_features(store, cfg, parent, cancel, report, began)
    model, meta = load_version(store, parent, as_parent=True)
    spec = meta.input_spec
    names = project_class_names(store)
    data = build_training_set(store, names, spec.window, cfg.stride, cfg.video_ids)
    device = dist.device if dist is not None else choose_device(cfg.device)
    if cfg.mode == "features" and cfg.solver == "ridge":
        return _run_ridge(store, cfg, parent, model, data, device, cancel, report, began)
    split = make_split(data, cfg.val_fraction, cfg.seed)
    epochs, batch_size = int(cfg.epochs or 1), int(cfg.batch_size or 1)  # filled by resolved()
    task: Task
    pool5_hash = ""
    if cfg.mode == "full":
        if device.device.type == "cpu":
            report(TrainingProgress("train", 0, epochs, message=CPU_WARNING))
        adapt_head(model, parent.class_names, names, cfg.seed)
        task = _clip_task(model, spec, data, split, device, cfg)
        micro = cfg.max_micro_batch or (batch_size if device.device.type == "cuda" else 1)
    else:
        layer: Layer = "fc7" if cfg.mode == "features" else "pool5"
        # The version records its fc7 hash; only last-layers needs the (cheaper) pool5 one.
        pool5_hash = trunk_hash(model, "pool5") if layer == "pool5" else ""
        key_args = (pool5_hash or parent.trunk_hash, spec, cfg.stride, layer)
        if dist is None or dist.is_writer:  # one rank decodes; the others wait for the cache
            _ensure_features(store, parent, model, data, key_args, device, cancel, report)
        if dist is not None:
            dist.barrier()
        model.to("cpu")
        adapt_head(model, parent.class_names, names, cfg.seed)
        task = _head_task(store, model, data, split, key_args, device.device)
        micro = cfg.max_micro_batch or batch_size
    key_extra = {"parent": parent.id, "data": _data_digest(data), "split": split.to_json()}
    if dist is not None:  # a checkpoint's micro-batch is per world size
        key_extra["world"] = dist.world_size
    run_key = cfg.fingerprint(key_extra)
    run_dir = Path(store.files_dir) / "training" / run_key
    settings = LoopSettings(
        epochs=epochs,
        lr=float(cfg.lr or 0.0),
        batch_size=batch_size,
        patience=int(cfg.patience or 1),
        weight_decay=cfg.weight_decay,
        seed=cfg.seed,
        micro_batch=micro,
        run_dir=run_dir,
    )
    loop_cancel = cancel
    if dist is not None:
        task, settings, loop_cancel = distribute(task, settings, dist, cancel)
    outcome = train_loop(task, settings, loop_cancel, report)
    final = task.finalize()
    if dist is not None and not dist.is_writer:
        return None
    probs = outcome.best_probs if outcome.best_probs is not None else np.zeros((0, len(names)))
    val = frame_metrics(task.val_labels, probs.argmax(axis=1), len(names))
    thresholds = {names[c]: t for c, t in suggest_thresholds(probs, task.val_labels).items()}
    metrics = {
        "val_macro_f1": val.macro_f1,
        "val_accuracy": val.accuracy,
        "val_windows": len(task.val_labels),
        "train_windows": int(task.n_train),
        "epochs_run": len(outcome.history),
        "per_class_f1": {n: float(f) for n, f in zip(names, val.f1, strict=True)},
    }
    summary = {
        "mode": cfg.mode,
        "config": cfg.to_json(),
        "data": data.summary(),
        "split": split.to_json(),
        "history": [[r.epoch, r.loss, r.val_accuracy, r.val_macro_f1] for r in outcome.history],
        "stopped_early": outcome.stopped_early,
        "suggested_thresholds": thresholds,
        "device": device.label,
    }
    stamp = time.strftime("%Y-%m-%d %H:%M")
    new_meta = CheckpointMeta.create(
        names, spec, parent=str(parent.id), training=summary, name=f"{cfg.mode} {stamp}"
    )
    version = register_model(store, final, new_meta, mode=cfg.mode, parent_id=parent.id, metrics=metrics)
    shutil.rmtree(run_dir, ignore_errors=True)
    rescored: list[int] = []
    if cfg.mode != "full":
        report(TrainingProgress("rescore", epochs, epochs, message="re-scoring the timelines"))
        # Not cancellable: the version is saved already and this takes seconds.
        rescored = rescore_from_cache(store, version, final, layer, cfg.stride, pool5_hash)
    if cfg.activate:
        store.models.set_active(version.id)
    log.info("Registered model version %d (%s), val macro-F1 %.3f", version.id, cfg.mode, val.macro_f1)
    return TrainingResult(
        version=version,
        metrics=metrics,
        history=tuple(outcome.history),
        stopped_early=outcome.stopped_early,
        resumed_from_epoch=outcome.resumed_from_epoch,
        rescored_video_ids=tuple(rescored),
        seconds=time.perf_counter() - began,
    )


def _run_ridge(
    store: Store,
    cfg: TrainConfig,
    parent: ModelVersion,
    model: C3D_BN,
    data: TrainingSet,
    device: DeviceChoice,
    cancel: threading.Event,
    report: Report,
    began: float,
) -> TrainingResult:
    """Mode ``features``: closed-form head on pool5, event-level validation, HMM decoding."""
    spec = InputSpec.from_json(parent.input_spec_json)
    pool5_hash = trunk_hash(model, "pool5")
    key_args: tuple[str, InputSpec, int, Layer] = (pool5_hash, spec, cfg.stride, "pool5")
    _ensure_features(store, parent, model, data, key_args, device, cancel, report)
    model.to("cpu")
    adapt_head(model, parent.class_names, data.class_names, cfg.seed)
    keys = {item.video.id: feature_key(item.video, *key_args) for item in data.videos}
    head = fit_features_head(model, data, FeatureCache(store), keys, cfg.seed, cancel, report)
    if cancel.is_set():
        raise Cancelled("Training cancelled; nothing was saved.")
    summary = {
        "mode": cfg.mode,
        "config": cfg.to_json(),
        "data": data.summary(),
        "split": {"kind": "events", "folds": head.metrics["val_folds"]},
        "history": [[r.epoch, r.loss, r.val_accuracy, r.val_macro_f1] for r in head.history],
        "stopped_early": False,
        "suggested_thresholds": {
            data.class_names[c]: t for c, t in suggest_thresholds(head.val_probs, head.val_labels).items()
        },
        "device": "cpu",
    } | head.summary
    stamp = time.strftime("%Y-%m-%d %H:%M")
    meta = CheckpointMeta.create(
        data.class_names, spec, parent=str(parent.id), training=summary, name=f"{cfg.mode} {stamp}"
    )
    version = register_model(store, model, meta, mode=cfg.mode, parent_id=parent.id, metrics=head.metrics)
    report(TrainingProgress("rescore", 1, 1, message="re-scoring the timelines"))
    rescored = rescore_from_cache(
        store,
        version,
        model,
        "pool5",
        cfg.stride,
        pool5_hash,
        score=lambda x: score_linear(x, head.weight, head.bias),
    )
    if cfg.activate:
        store.models.set_active(version.id)
    log.info("Registered model version %d (features, ridge), %s", version.id, val_events_text(head.metrics))
    return TrainingResult(
        version=version,
        metrics=head.metrics,
        history=head.history,
        stopped_early=False,
        resumed_from_epoch=0,
        rescored_video_ids=tuple(rescored),
        seconds=time.perf_counter() - began,
    )


def _data_digest(data: TrainingSet) -> str:
    digest = hashlib.sha256()
    for item in data.videos:
        digest.update(item.video.content_hash.encode())
        digest.update(item.starts.tobytes())
        digest.update(item.labels.tobytes())
    return digest.hexdigest()[:16]


def _ensure_features(
    store: Store,
    parent: ModelVersion,
    model: C3D_BN,
    data: TrainingSet,
    key_args: tuple[str, InputSpec, int, Layer],
    device: DeviceChoice,
    cancel: threading.Event,
    report: Report,
) -> None:
    """Analyse (decode) only videos whose features are not cached yet for this trunk."""
    cache = FeatureCache(store)
    stride = key_args[2]
    missing = []
    for item in data.videos:
        entry = cache.entry(feature_key(item.video, *key_args))
        if entry is None or not entry.complete:
            missing.append(item.video)
    if not missing:
        return
    analyse_missing(store, LoadedModel(parent, model, device), missing, stride, cancel, report)


def _head_task(
    store: Store,
    model: C3D_BN,
    data: TrainingSet,
    split: Split,
    key_args: tuple[str, InputSpec, int, Layer],
    device: torch.device,
) -> HeadTask:
    cache = FeatureCache(store)
    index = {n: i for i, n in enumerate(data.class_names)}
    parts: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {TRAIN: ([], []), VAL: ([], [])}
    for item in data.videos:
        cached = cache.load(feature_key(item.video, *key_args))
        if cached is None:
            continue
        labels = window_labels(item.segments, cached.starts, data.window, index)
        roles = split.assign(item.video.id, cached.starts)
        for role in (TRAIN, VAL):
            keep = (labels >= 0) & (roles == role)
            parts[role][0].append(cached.features[keep])
            parts[role][1].append(labels[keep])
    if any(sum(len(y) for y in parts[role][1]) == 0 for role in (TRAIN, VAL)):
        raise TrainingError("The cached features miss the labelled windows; analyse the videos again.")
    train_x, train_y = (np.concatenate(p) for p in parts[TRAIN])
    val_x, val_y = (np.concatenate(p) for p in parts[VAL])
    weights = class_weights(np.bincount(train_y, minlength=len(data.class_names)))
    return HeadTask(model, key_args[3], train_x, train_y, val_x, val_y, weights, device)


def _clip_task(
    model: C3D_BN, spec: InputSpec, data: TrainingSet, split: Split, device: DeviceChoice, cfg: TrainConfig
) -> ClipTask:
    train: list[ClipExample] = []
    val: list[ClipExample] = []
    for item in data.videos:
        roles = split.assign(item.video.id, item.starts)
        for start, label, role in zip(
            item.starts.tolist(), item.labels.tolist(), roles.tolist(), strict=True
        ):
            if label < 0:
                continue
            if role == TRAIN:
                train.append(ClipExample(item.video, start, label))
            elif role == VAL:
                val.append(ClipExample(item.video, start, label))
    labels = np.array([e.label for e in train], dtype=np.int64)
    weights = class_weights(np.bincount(labels, minlength=len(data.class_names)))
    flip = flip_allowed(data.class_names) if cfg.hflip is None else cfg.hflip
    return ClipTask(model, spec, train, val, weights, device, flip)
