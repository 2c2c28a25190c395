"""Training and scoring every track's head on cached fc7 features, in one run.

Targets come from each window's central frames: a state track's class at the centre frame, a
point track's event classes falling within ``POINT_RADIUS`` frames of the centre. Each head is
fitted in closed form (class-balanced ridge regression on standardised features, folded back
into one linear layer), so three tracks on a 10-minute video train in about a second: no
epochs, no learning rate, nothing to tune but the ridge. A point track's unlabelled windows are
those past the last frame a human labelled in any track of the video (``labelled_until``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from core.errors import TrainingError
from core.learning.decoding import Decoder, decode, learn_decoder
from core.learning.evaluation import match_events
from core.learning.feature_cache import FeatureCache, FeatureKey, feature_key
from core.learning.training.dataset import TRUSTED_SOURCES, UNLABELLED
from core.learning.training.heads import noise_floored
from core.model.checkpoint import CheckpointMeta
from core.model.network import C3D_BN
from core.model.spec import WINDOW_LENGTH, InputSpec
from core.model.track_heads import TrackHeads, TrackSpec, column_slices, install_heads, specs_from_raw
from core.store import Store
from core.store.records import ModelVersion, RunStatus, Segment, TrackKind, Video

log = logging.getLogger(__name__)

POINT_RADIUS = 4
"""A point event belongs to windows whose centre lies within this many frames of it: half the
default stride, so every event has a window of its own (at radius 2 an event 3–4 frames from
the nearest centre had none, and the benchmark counted the head's correct find as a false one)."""
RIDGE = 10.0
SHARPNESS = 8.0
"""Ridge scores are near 0/1; this turns them into confident probabilities (argmax unchanged)."""


def project_specs(store: Store) -> list[TrackSpec]:
    """Every track of the project as its head will see it."""
    from core.model.registry import project_specs as specs_of

    return specs_of(store)


def track_targets(
    spec: TrackSpec, segments: Sequence[Segment], starts: np.ndarray, labelled_until: int
) -> np.ndarray:
    """A state track: class index per window (``UNLABELLED`` where no human label covers the
    centre). A point track: (windows, event classes) of 0/1, rows of ``UNLABELLED`` past
    ``labelled_until``."""
    centres = np.asarray(starts, dtype=np.int64) + WINDOW_LENGTH // 2
    index = {name: i for i, name in enumerate(spec.outputs)}
    trusted = [s for s in segments if s.source in TRUSTED_SOURCES and s.class_name in index]
    if spec.kind is TrackKind.STATE:
        labels = np.full(len(centres), UNLABELLED, dtype=np.int64)
        for seg in trusted:
            labels[(centres >= seg.start_frame) & (centres < seg.end_frame)] = index[seg.class_name]
        return labels
    events = np.zeros((len(centres), max(1, len(spec.outputs))), dtype=np.int64)
    for seg in trusted:
        events[np.abs(centres - seg.start_frame) <= POINT_RADIUS, index[seg.class_name]] = 1
    events[centres >= labelled_until] = UNLABELLED
    return events


@dataclass(frozen=True)
class Prepared:
    """Standardised features and, when there are fewer windows than features, their Gram
    matrix: computed once and shared by every track's fit (and by a trial fit on a subset)."""

    z: torch.Tensor  # (N, D) float32
    mean: torch.Tensor  # (D,) float32
    std: torch.Tensor  # (D,) float32
    gram: torch.Tensor | None  # (N, N) float32 = z zᵀ, or None in the primal case


def prepare(features: np.ndarray) -> Prepared:
    """float32 throughout: fc7 activations are float16 in the cache, and a float64 copy of
    the window × 4096 matrix cost more than the whole fit (measured in benchmarks/)."""
    x = torch.as_tensor(np.asarray(features), dtype=torch.float32)
    mean = x.mean(0)
    std = torch.from_numpy(noise_floored(x.std(0).double().numpy())).float()
    z = (x - mean) / std
    gram = z @ z.T if z.shape[0] < z.shape[1] else None
    return Prepared(z, mean, std, gram)


def fit_heads(
    specs: Sequence[TrackSpec],
    features: np.ndarray | Prepared,
    targets: Mapping[str, np.ndarray],
    subset: np.ndarray | None = None,
) -> TrackHeads:
    """Every track's head from the same fc7 features (rows) and that track's targets, using
    only the rows in ``subset`` (a boolean mask) when given."""
    ready = features if isinstance(features, Prepared) else prepare(features)
    heads = TrackHeads(specs)
    for spec, module in zip(specs, heads.layers, strict=True):
        layer = module if isinstance(module, torch.nn.Linear) else None
        if layer is None:
            raise TypeError("A track head must be a linear layer.")
        y = np.asarray(targets[spec.name])
        rows = y != UNLABELLED if spec.kind is TrackKind.STATE else (y != UNLABELLED).all(1)
        if subset is not None:
            rows = rows & subset
        if spec.kind is TrackKind.STATE:
            onehot = np.zeros((int(rows.sum()), layer.out_features))
            onehot[np.arange(onehot.shape[0]), y[rows]] = 1.0
            goal, labels = onehot, y[rows]
        else:
            goal, labels = y[rows].astype(np.float64), y[rows].max(1)
        if not rows.any():
            log.warning("Track %r has no labelled windows; its head stays untrained", spec.name)
            continue
        weight, bias = _ridge(ready, rows, torch.as_tensor(goal), torch.as_tensor(_balance(labels)))
        if spec.kind is TrackKind.POINT:
            weight, bias = weight * SHARPNESS, (bias - 0.5) * SHARPNESS
        else:
            weight, bias = weight * SHARPNESS, bias * SHARPNESS
        # Fold the standardisation in: the head reads raw fc7, as the trunk hands it over.
        folded = weight / ready.std[:, None]
        with torch.no_grad():
            layer.weight.copy_(folded.T.float())
            layer.bias.copy_((bias - ready.mean @ folded).float())
    return heads


def _balance(labels: np.ndarray) -> np.ndarray:
    """Inverse-frequency sample weights, so background does not drown the events."""
    values, counts = np.unique(labels, return_counts=True)
    per = {v: len(labels) / (len(values) * c) for v, c in zip(values, counts, strict=True)}
    return np.array([per[v] for v in labels], dtype=np.float64)


def _ridge(
    ready: Prepared, rows: np.ndarray, y: torch.Tensor, w: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted ridge with an unpenalised intercept on the chosen rows.

    In the dual (fewer rows than features) the centred, weighted Gram matrix is derived from
    the shared one, so a track costs one n×n Cholesky solve rather than another n×n×4096
    product; the n×4096 products run on the whole shared matrix with zero weight outside the
    rows, so no copy of it is made per track.
    """
    index = torch.as_tensor(np.flatnonzero(rows))
    total = ready.z.shape[0]
    y, w = y.float(), w.float()
    wn = w / w.sum()
    wn_all = torch.zeros(total).index_copy_(0, index, wn)
    zm = wn_all @ ready.z
    ym = wn @ y
    sw = w.sqrt()
    yc = (y - ym) * sw[:, None]
    if ready.gram is not None:
        k = ready.gram.index_select(0, index).index_select(1, index)
        kz = k @ wn  # z_i · zm
        kc = (k - kz[:, None] - kz[None, :] + wn @ kz) * sw[:, None] * sw[None, :]
        kc.diagonal().add_(RIDGE)
        factor, info = torch.linalg.cholesky_ex(kc)
        if int(info) == 0:
            alpha = torch.cholesky_solve(yc, factor)
        else:  # not positive definite in float32 (nearly collinear rows): the general solver
            alpha = torch.linalg.solve(kc.double(), yc.double()).float()
        beta = torch.zeros(total, y.shape[1]).index_copy_(0, index, sw[:, None] * alpha)
        weight = ready.z.T @ beta - zm[:, None] * (sw @ alpha)[None, :]
    else:
        zc = (ready.z.index_select(0, index) - zm) * sw[:, None]
        gram_d = zc.T @ zc
        gram_d.diagonal().add_(RIDGE)
        weight = torch.linalg.solve(gram_d, zc.T @ yc)
    return weight, ym - zm @ weight


def predict(heads: TrackHeads, features: np.ndarray) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = heads(torch.as_tensor(np.asarray(features), dtype=torch.float32))
    return {name: probs.numpy() for name, probs in out.items()}


@dataclass(frozen=True)
class TrackScore:
    """A track's quality on held-out windows: macro-F1 (state) or event F1 within ±tolerance (point)."""

    track: str
    kind: TrackKind
    f1: float
    support: int


def evaluate(
    specs: Sequence[TrackSpec],
    probs: Mapping[str, np.ndarray],
    targets: Mapping[str, np.ndarray],
    starts: np.ndarray,
    tolerance: int = 4,
) -> list[TrackScore]:
    scores = []
    for spec in specs:
        p, y = probs[spec.name], np.asarray(targets[spec.name])
        if spec.kind is TrackKind.STATE:
            rows = y != UNLABELLED
            scores.append(
                TrackScore(spec.name, spec.kind, macro_f1(p[rows].argmax(1), y[rows]), int(rows.sum()))
            )
        else:
            rows = (y != UNLABELLED).all(1)
            centres = (np.asarray(starts) + WINDOW_LENGTH // 2)[rows]
            f1s = [
                event_f1(
                    window_peaks(centres, p[rows, k] >= 0.5),
                    window_peaks(centres, y[rows, k] == 1),
                    tolerance,
                )
                for k in range(p.shape[1])
            ]
            scores.append(TrackScore(spec.name, spec.kind, float(np.mean(f1s)), int(rows.sum())))
    return scores


def macro_f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Mean F1 over the classes present in truth or prediction."""
    classes = np.union1d(np.unique(truth), np.unique(predicted))
    if len(classes) == 0:
        return 0.0
    f1s = []
    for c in classes:
        tp = float(np.sum((predicted == c) & (truth == c)))
        fp = float(np.sum((predicted == c) & (truth != c)))
        fn = float(np.sum((predicted != c) & (truth == c)))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)
    return float(np.mean(f1s))


def window_peaks(centres: np.ndarray, on: np.ndarray) -> list[int]:
    """One event per run of consecutive "on" windows, at the run's middle window centre."""
    events: list[int] = []
    run: list[int] = []
    for centre, flag in zip(centres.tolist(), on.tolist(), strict=True):
        if flag and (not run or centre - run[-1] <= WINDOW_LENGTH):
            run.append(centre)
            continue
        if run:
            events.append(run[len(run) // 2])
        run = [centre] if flag else []
    if run:
        events.append(run[len(run) // 2])
    return events


def event_f1(predicted: Sequence[int], truth: Sequence[int], tolerance: int) -> float:
    """F1 of events matched one-to-one when within ``tolerance`` frames (greedy, nearest first)."""
    if not predicted and not truth:
        return 1.0
    return 2 * match_events(predicted, truth, tolerance) / (len(predicted) + len(truth))


VAL_EVERY = 5
"""Every fifth block of ``VAL_BLOCK`` windows is held out: whole blocks, so neighbouring
(overlapping) windows never sit on both sides of the split."""
VAL_BLOCK = 20
MAX_ROWS = 1500
"""Windows the heads learn from at most: beyond it every k-th is kept (plus every window near a
point event, which are few and would otherwise be thinned away). Neighbouring windows overlap
by half and are near copies, while the fit costs n²·4096 for the shared Gram matrix."""


@dataclass(frozen=True)
class TracksResult:
    model: C3D_BN
    """The parent's trunk with the fitted heads (a ``TrackedC3D`` for several tracks)."""
    heads: TrackHeads
    scores: list[TrackScore]
    """Held-out quality per track (heads fitted on the other windows)."""
    windows: int
    seconds: float
    """Reading the cached features and fitting every head (trial and final fits)."""
    version: ModelVersion | None = None
    rescored_video_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Gathered:
    features: np.ndarray  # float32 (N, 4096)
    starts: np.ndarray
    held: np.ndarray  # bool (N,)
    targets: dict[str, np.ndarray]


def held_blocks(n: int) -> np.ndarray:
    """Every fifth block of consecutive windows is held out (short videos get short blocks)."""
    block = max(1, min(VAL_BLOCK, n // (2 * VAL_EVERY)))
    return (np.arange(n) // block) % VAL_EVERY == VAL_EVERY - 1


def video_targets(
    specs: Sequence[TrackSpec], track_ids: Mapping[str, int], segments: Sequence[Segment], starts: np.ndarray
) -> dict[str, np.ndarray]:
    """Each track's targets for one video's windows (``segments``: all of its tracks' labels)."""
    until = max(s.end_frame for s in segments)
    return {
        spec.name: track_targets(
            spec, [s for s in segments if s.track_id == track_ids[spec.name]], starts, until
        )
        for spec in specs
    }


def gather(store: Store, specs: Sequence[TrackSpec], key_of: Callable[[Video], FeatureKey]) -> Gathered:
    cache = FeatureCache(store)
    features: list[np.ndarray] = []
    starts_all: list[np.ndarray] = []
    targets: dict[str, list[np.ndarray]] = {s.name: [] for s in specs}
    held: list[np.ndarray] = []
    tracks = {t.name: t.id for t in store.tracks.list()}
    for video in store.videos.list():
        everything = store.segments.list(video.id, all_tracks=True)
        if not everything:
            continue
        cached = cache.load(key_of(video))
        if cached is None or not cached.complete:
            continue
        features.append(np.asarray(cached.features, dtype=np.float32))
        starts_all.append(cached.starts)
        held.append(held_blocks(len(cached.starts)))
        for name, target in video_targets(specs, tracks, everything, cached.starts).items():
            targets[name].append(target)
    if not features:
        raise TrainingError(
            "No labelled video has its features cached for the active model: analyse the videos first."
        )
    return Gathered(
        np.concatenate(features),
        np.concatenate(starts_all),
        np.concatenate(held),
        {name: np.concatenate(parts) for name, parts in targets.items()},
    )


def _kept_rows(specs: Sequence[TrackSpec], targets: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """Windows labelled in some track, thinned to about ``MAX_ROWS``; point events all kept."""
    labelled = np.zeros(n, dtype=bool)
    events = np.zeros(n, dtype=bool)
    for spec in specs:
        y = np.asarray(targets[spec.name])
        if spec.kind is TrackKind.STATE:
            labelled |= y != UNLABELLED
        else:
            labelled |= (y != UNLABELLED).all(1)
            events |= (y == 1).any(1)
    rows = np.flatnonzero(labelled)
    every = max(1, -(-len(rows) // MAX_ROWS))
    keep = np.zeros(n, dtype=bool)
    keep[rows[::every]] = True
    return keep | (events & labelled)


def fit_all_tracks(
    specs: Sequence[TrackSpec],
    features: np.ndarray,
    targets: Mapping[str, np.ndarray],
    starts: np.ndarray,
    held: np.ndarray,
) -> tuple[TrackHeads, list[TrackScore]]:
    """Every head on one shared standardisation and Gram matrix: a trial fit without the held-out
    blocks (scored on them), then the final fit on every kept window."""
    keep = _kept_rows(specs, targets, len(features))
    ready = prepare(features[keep])
    y = {name: np.asarray(t)[keep] for name, t in targets.items()}
    trial = fit_heads(specs, ready, y, subset=~held[keep])
    val = held  # scored on every held-out window, thinned or not
    scores = evaluate(
        specs, predict(trial, features[val]), {n: np.asarray(t)[val] for n, t in targets.items()}, starts[val]
    )
    return fit_heads(specs, ready, y), scores


def train_tracks(
    store: Store,
    parent: ModelVersion,
    stride: int = 8,
    *,
    register: bool = True,
    activate: bool = True,
) -> TracksResult:
    """Mode ``features`` for a project with several tracks: every track's head fitted on the
    parent's cached fc7 features in one run, registered as one new model version (trunk
    untouched, so the same cache serves it) whose timelines are re-scored at once."""
    from core.model.registry import load_version, project_specs, register_model

    began = time.perf_counter()
    specs = project_specs(store)
    input_spec = InputSpec.from_json(parent.input_spec_json)
    data = gather(store, specs, lambda v: feature_key(v, parent.trunk_hash, input_spec, stride, "fc7"))
    heads, scores = fit_all_tracks(specs, data.features, data.targets, data.starts, data.held)
    seconds = time.perf_counter() - began  # reading the cache and fitting: what the user waits for
    log.info("Trained %d track heads on %d windows in %.2f s", len(specs), len(data.features), seconds)
    trunk, _ = load_version(store, parent, as_parent=True)
    model = install_heads(trunk, heads)
    if not register:
        return TracksResult(model, heads, scores, len(data.features), seconds)
    metrics: dict[str, Any] = {
        "validation": "blocks",
        "tracks": {
            s.track: {"kind": s.kind.value, "f1": s.f1, "held_out_windows": s.support} for s in scores
        },
        "train_windows": len(data.features),
        "epochs_run": 1,
    }
    state = [s for s in scores if s.kind is TrackKind.STATE]
    if state:
        metrics["val_macro_f1"] = state[0].f1
    summary = {
        "mode": "features",
        "head": {"kind": "ridge on fc7, per track", "ridge": RIDGE},
        "decoders": {name: d.to_json() for name, d in learn_track_decoders(specs, data).items()},
    }
    meta = CheckpointMeta.create(
        specs[0].outputs,
        input_spec,
        parent=str(parent.id),
        training=summary,
        name=f"features {time.strftime('%Y-%m-%d %H:%M')}",
        tracks=specs if len(specs) > 1 else (),
    )
    version = register_model(store, model, meta, mode="features", parent_id=parent.id, metrics=metrics)
    rescored = rescore_tracks(store, version, model, parent.trunk_hash, stride)
    if activate:
        store.models.set_active(version.id)
    return TracksResult(model, heads, scores, len(data.features), seconds, version, tuple(rescored))


def rescore_tracks(
    store: Store, version: ModelVersion, model: C3D_BN, fc7_hash: str, stride: int
) -> list[int]:
    """A complete prediction run of ``version`` per video with cached fc7: the heads alone."""
    spec = InputSpec.from_json(version.input_spec_json)
    cache = FeatureCache(store)
    done = []
    for video in store.videos.list():
        cached = cache.load(feature_key(video, fc7_hash, spec, stride, "fc7"))
        if cached is None or not cached.complete:
            continue
        with torch.no_grad():
            fc7 = torch.as_tensor(np.asarray(cached.features, dtype=np.float32))
            probs = decode_tracks(model.probs_from_fc7(fc7).numpy(), version)
        run = store.predictions.start_run(video.id, version.id, stride, len(cached.starts))
        store.predictions.replace_windows(run.id, cached.starts, probs)
        store.predictions.finish(run.id, RunStatus.COMPLETE, windows_total=len(cached.starts))
        done.append(video.id)
    return done


def learn_track_decoders(specs: Sequence[TrackSpec], data: Gathered) -> dict[str, Decoder]:
    """An HMM over each state track's classes from its labels, video by video (as the one-track
    ``features`` mode learns one), so stored probabilities follow the durations people labelled."""
    cuts = np.flatnonzero(np.diff(data.starts) <= 0) + 1  # a new video starts again from frame 0
    return {
        s.name: learn_decoder(np.split(np.asarray(data.targets[s.name]), cuts), len(s.outputs))
        for s in specs
        if s.kind is TrackKind.STATE
    }


def decode_tracks(probs: np.ndarray, version: ModelVersion) -> np.ndarray:
    """One video's window probabilities (every head side by side, in time order) with each
    state track's columns decoded by the version's HMM for that track, when it has one."""
    decoders = version.summary.get("decoders")
    raw_tracks = version.summary.get("tracks")
    if not isinstance(decoders, dict) or not raw_tracks:
        return probs
    specs = specs_from_raw(raw_tracks, f"Model version {version.id}")
    out = np.array(probs, dtype=np.float32, copy=True)
    for spec in specs:
        raw = decoders.get(spec.name)
        if isinstance(raw, dict) and spec.kind is TrackKind.STATE:
            cols = column_slices(specs)[spec.name]
            out[:, cols] = decode(out[:, cols], Decoder.from_json(raw))
    return out
