"""Benchmark of the learning loop: how fast a correction becomes a better timeline.

A generated demo video (default 10 minutes at 25 fps, three event classes plus background)
has its first 60% labelled; an earlier inference pass (the app's first analysis of the video)
has filled the feature cache. Timed: a ``features`` run and a ``last-layers`` run, each
training plus re-scoring the whole timeline from the cache. Quality: frame-level macro-F1 of
the ``features`` model on the unlabelled last 40%, against the generator's ground truth.

The inference pass takes ~12 minutes on a 2-core CPU, so it runs in a work folder that is
kept between invocations (the analysis resumes and is skipped once complete). Prints JSON:
``{"features_s", "last_layers_s", "macro_f1", ...}``. Not a timed test.

The three-track case (``--tracks``) reads the same demo as two state tracks (``behaviour``:
the ball and the flash; ``light``: the flash alone) and one point track (``onsets``: where each
flash starts), labelled on the same first 60%, and times ``train_tracks`` fitting all three
heads on the cached fc7 features (``tracks_features_s``); quality per track on the last 40%
against the generator's truth (macro-F1 of windows; event F1 within ±4 frames for points).

    .venv/bin/python benchmarks/learning_loop.py [--seconds 600] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from core.analysis.predictions import load_predictions
from core.analysis.run import LoadedModel, analyse_video
from core.learning.evaluation import frame_metrics
from core.learning.feature_cache import FeatureCache, feature_key
from core.learning.track_learning import POINT_RADIUS, evaluate, predict, project_specs, train_tracks
from core.learning.training import TrainConfig, TrainingResult, run_training, warm_up
from core.media.demo import DEMO_CLASSES, DemoVideo, generate_demo_video, label_prefix
from core.media.library import add_video
from core.model.device import DeviceChoice
from core.model.registry import ensure_active_model, load_version
from core.model.spec import WINDOW_LENGTH, InputSpec
from core.model.track_heads import TrackSpec
from core.store import Store, open_store
from core.store.records import NewSegment, RunStatus, TrackKind, Video

LABELLED_FRACTION = 0.6


def prepare(work: Path, seconds: float) -> tuple[Store, Video, DemoVideo]:
    """Demo video, project with the first 60% labelled, and a complete first analysis."""
    work.mkdir(parents=True, exist_ok=True)
    video_path = work / f"demo_{int(seconds)}s.avi"
    demo = (
        generate_demo_video(video_path, seconds=seconds, fps=25, seed=0) if not video_path.exists() else None
    )
    if demo is None:  # same seed, same plan: regenerate only the ground truth (cheap) by re-planning
        demo = generate_demo_video(work / "plan.avi", seconds=seconds, fps=25, seed=0, size=(16, 16))
        demo = DemoVideo(video_path, demo.frame_count, demo.fps, 320, 240, demo.events)
    store = open_store(f"sqlite:///{work / f'project_{int(seconds)}s.sqlite3'}")
    for name in DEMO_CLASSES:
        if store.classes.by_name(name) is None:
            store.classes.add(name)
    video = add_video(store, video_path)
    if store.segments.labelled_frames(video.id) == 0:
        ids = {c.name: c.id for c in store.classes.list()}
        store.segments.paint(
            video.id,
            [
                NewSegment(ids[e.class_name], e.start_frame, e.end_frame)
                for e in label_prefix(demo, LABELLED_FRACTION)
            ],
        )
    version = ensure_active_model(store)
    run = store.predictions.latest_run(video.id, version.id)
    entries = store.features.list()
    if (
        run is not None
        and run.status is RunStatus.COMPLETE
        and len(entries) >= 2
        and all(e.complete for e in entries)
    ):
        return store, store.videos.get(video.id), demo  # analysed and cached by an earlier invocation
    model, _ = load_version(store, version)
    cpu = DeviceChoice(torch.device("cpu"), None, channels_last=True)
    began = time.perf_counter()
    result = analyse_video(
        store,
        video,
        LoadedModel(version, model, cpu),
        stride=8,
        batch_size=8,
        cancel=threading.Event(),
        on_progress=lambda p: print(
            f"\rinference {p.done}/{p.total} {p.clips_per_s:.1f} clips/s", end="", file=sys.stderr
        ),
    )
    print(
        f"\n{result.summary(video_path.name, version.name)} ({time.perf_counter() - began:.0f} s)",
        file=sys.stderr,
    )
    return store, store.videos.get(video.id), demo


def frame_truth(demo: DemoVideo, class_names: tuple[str, ...]) -> np.ndarray:
    """The generator's ground truth per frame, background where no event is."""
    truth = np.full(demo.frame_count, class_names.index("background"), dtype=np.int64)
    for event in demo.events:
        truth[event.start_frame : event.end_frame] = class_names.index(event.class_name)
    return truth


def timed_run(store: Store, mode: str, parent_id: int, epochs: int | None) -> tuple[float, TrainingResult]:
    config = TrainConfig(mode=mode, parent_id=parent_id, activate=False, device="cpu", epochs=epochs)  # type: ignore[arg-type]
    began = time.perf_counter()
    result = run_training(store, config)
    return time.perf_counter() - began, result


def measure(store: Store, video: Video, demo: DemoVideo, last_layers_epochs: int | None) -> dict[str, object]:
    parent = ensure_active_model(store)
    began = time.perf_counter()
    warm_up()  # what the app does on a background thread at start-up: a one-off ~3 s import
    warm_up_s = time.perf_counter() - began
    features_s, features = timed_run(store, "features", parent.id, None)
    last_s, last = timed_run(store, "last-layers", parent.id, last_layers_epochs)
    cut = round(LABELLED_FRACTION * demo.frame_count)
    out: dict[str, object] = {
        "features_s": round(features_s, 2),
        "last_layers_s": round(last_s, 2),
        "warm_up_s": round(warm_up_s, 2),
    }
    for key, result in (("macro_f1", features), ("last_layers_macro_f1", last)):
        preds = load_predictions(store, video, result.version.id)
        if preds is None:
            raise SystemExit(f"the {key} model did not re-score the video")
        truth = frame_truth(demo, preds.class_names)
        guess = np.nan_to_num(preds.frame_scores).argmax(axis=1)
        out["windows"] = len(preds.starts)
        out[key] = round(frame_metrics(truth[cut:], guess[cut:], len(preds.class_names)).macro_f1, 4)
    out |= {
        "video_s": demo.frame_count / demo.fps,
        "features_epochs": features.metrics["epochs_run"],
        "last_layers_epochs": last.metrics["epochs_run"],
        "features_val_macro_f1": round(features.metrics["val_macro_f1"], 4),
        "last_layers_val_macro_f1": round(last.metrics["val_macro_f1"], 4),
        "threads": torch.get_num_threads(),
    }
    return out


def tracks_case(store: Store, video: Video, demo: DemoVideo) -> dict[str, object]:
    """Three tracks on the demo: fit every head at once, score each on the unlabelled part."""
    cut = round(LABELLED_FRACTION * demo.frame_count)
    if store.tracks.by_name("light") is None:
        light = store.tracks.add("light")
        onsets = store.tracks.add("onsets", TrackKind.POINT)
        flash = store.classes.add("flash", track_id=light.id)
        onset = store.classes.add("onset", track_id=onsets.id)
        dark = store.classes.by_name("background", light.id)
        assert dark is not None
        prefix = label_prefix(demo, LABELLED_FRACTION)
        store.segments.paint(
            video.id,
            [
                NewSegment((flash if e.class_name == "flash" else dark).id, e.start_frame, e.end_frame)
                for e in prefix
            ]
            + [
                NewSegment(onset.id, e.start_frame, e.start_frame + 1)
                for e in prefix
                if e.class_name == "flash"
            ],
        )
    version = ensure_active_model(store)
    result = train_tracks(store, version, stride=8, save=False)
    specs = project_specs(store)
    cached = FeatureCache(store).load(
        feature_key(video, version.trunk_hash, InputSpec.from_json(version.input_spec_json), 8, "fc7")
    )
    if cached is None:
        raise SystemExit("the video's fc7 features are not cached")
    centres = cached.starts + WINDOW_LENGTH // 2
    held = centres >= cut
    probs = {n: p[held] for n, p in predict(result.heads, cached.features).items()}
    truth = {s.name: _truth(s, demo, centres)[held] for s in specs}
    scores = evaluate(specs, probs, truth, cached.starts[held])
    return {
        "tracks_features_s": round(result.seconds, 3),
        "tracks_windows": result.windows,
        "tracks_f1": {s.track: round(s.f1, 4) for s in scores},
        "tracks_val_f1": {s.track: round(s.f1, 4) for s in result.scores},
    }


def _truth(spec: TrackSpec, demo: DemoVideo, centres: np.ndarray) -> np.ndarray:
    """The generator's truth as a track's targets: class at each centre, or events near it."""
    index = {name: i for i, name in enumerate(spec.outputs)}
    if spec.kind is TrackKind.POINT:
        starts = np.array([e.start_frame for e in demo.events if e.class_name == "flash"])
        near = np.abs(centres[:, None] - starts[None, :]).min(1) <= POINT_RADIUS
        return near.astype(np.int64)[:, None]
    labels = np.full(len(centres), index["background"], dtype=np.int64)
    for event in demo.events:
        if event.class_name in index:
            labels[(centres >= event.start_frame) & (centres < event.end_frame)] = index[event.class_name]
    return labels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the demo video")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "c3d-learning-loop")
    parser.add_argument("--prepare-only", action="store_true", help="only generate and analyse")
    parser.add_argument("--last-layers-epochs", type=int, help="default: the mode's default")
    parser.add_argument("--tracks", action="store_true", help="only the three-track case")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    store, video, demo = prepare(args.work, args.seconds)
    if args.tracks:
        print(json.dumps(tracks_case(store, video, demo), indent=2))
    elif not args.prepare_only:
        print(json.dumps(measure(store, video, demo, args.last_layers_epochs), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
