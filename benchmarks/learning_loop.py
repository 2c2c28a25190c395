"""Benchmark of the learning loop: how fast, and how well, a few corrections become a timeline.

Two generated demo videos, each analysed once by the untrained model (what the app does
first), which fills the feature cache; every figure after that trains from the cache:

* ``demo_macro_f1``: the app's own demo project (``create_demo_project``: 60 s, its first
  40% labelled), one ``features`` fine-tune, frame macro-F1 on the unlabelled 60% against
  the generator's ground truth (target ≥ 0.9);
* ``five_events_macro_f1``: a 10-minute demo labelled only up to its fifteenth event (five
  per class, with the background between them), scored on the rest (target ≥ 0.8);
* ``queue_vs_random``: from there, the first 20 windows of the review queue labelled (with
  the ground truth) against 20 random unlabelled windows, macro-F1 after retraining, as a
  ratio over the mean of five random draws (target > 1); ``queue_vs_random_one_event`` the
  same from one labelled event per class, where the model still has much to learn;
* ``features_s``: a ``features`` run on the 10-minute video with its first 60% labelled,
  training plus re-scoring the whole timeline (target < 5 s); ``macro_f1`` is that model's
  score on the last 40%; ``last_layers_s`` likewise for ``last-layers`` (``--last-layers``).

``--tracks`` runs only the three-track case: the long demo read as two state tracks
(``behaviour``: the ball and the flash; ``light``: the flash alone) and one point track
(``onsets``: where each flash starts), labelled on its first 60%; ``tracks_features_s`` times
``train_tracks`` fitting all three heads on the cached fc7 features, and each track is scored
on the last 40% against the generator's truth (macro-F1 of windows; event F1 within ±4 frames
for points).

``--ablation`` adds the choices measured on the cached features (layer, temporal decoding,
the earlier gradient-trained fc8). The analyses take ~3 and ~25 minutes on a 2-core CPU, so
they run in a work folder kept between invocations (a finished analysis is skipped). Prints
JSON. Not a timed test.

    .venv/bin/python benchmarks/learning_loop.py [--seconds 600] [--work DIR] [--ablation]
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from core.analysis.predictions import load_predictions
from core.analysis.run import LoadedModel, analyse_video
from core.labels.overview import DEMO_LABELLED_FRACTION, create_demo_project
from core.learning.evaluation import frame_metrics
from core.learning.feature_cache import FeatureCache, feature_key
from core.learning.review import review_queue
from core.learning.track_learning import (
    POINT_RADIUS,
    evaluate,
    event_f1,
    macro_f1,
    predict,
    project_specs,
    train_tracks,
    window_peaks,
)
from core.learning.training import TrainConfig, TrainingResult, run_training, warm_up
from core.media.demo import BACKGROUND, DEMO_CLASSES, DemoEvent, DemoVideo, generate_demo_video, label_prefix
from core.media.library import add_video
from core.model.device import DeviceChoice
from core.model.registry import ensure_active_model, load_version
from core.model.spec import WINDOW_LENGTH, InputSpec
from core.model.track_heads import TrackSpec
from core.store import Store, open_store
from core.store.records import ModelVersion, NewSegment, RunStatus, TrackKind, Video

LABELLED_FRACTION = 0.6
QUEUE_WINDOWS = 20
RANDOM_DRAWS = 5
CPU = DeviceChoice(torch.device("cpu"), None, channels_last=True)


def _plan(seconds: float, work: Path) -> DemoVideo:
    """The generator's ground truth without writing the pixels again (same seed, same plan)."""
    return generate_demo_video(work / "plan.avi", seconds=seconds, fps=25, seed=0, size=(16, 16))


def _analyse(store: Store, video: Video, label: str) -> None:
    """The app's first analysis with the untrained model; skipped once complete."""
    version = ensure_active_model(store)
    run = store.predictions.latest_run(video.id, version.id)
    entries = store.features.list()
    if run is not None and run.status is RunStatus.COMPLETE and entries and all(e.complete for e in entries):
        return
    model, _ = load_version(store, version)
    began = time.perf_counter()
    result = analyse_video(
        store,
        video,
        LoadedModel(version, model, CPU),
        stride=8,
        batch_size=8,
        cancel=threading.Event(),
        on_progress=lambda p: print(
            f"\r{label}: inference {p.done}/{p.total} {p.clips_per_s:.1f} clips/s", end="", file=sys.stderr
        ),
    )
    print(f"\n{result.summary(label, version.name)} ({time.perf_counter() - began:.0f} s)", file=sys.stderr)


def prepare_app_demo(work: Path) -> tuple[Store, Video, DemoVideo]:
    """The app's demo project exactly as File › Open the demo creates it, analysed."""
    folder = work / "app_demo"
    folder.mkdir(parents=True, exist_ok=True)
    store = open_store(f"sqlite:///{folder / 'project.sqlite3'}")
    video = create_demo_project(store, folder)
    _analyse(store, video, "app demo")
    return store, store.videos.get(video.id), _plan(60, work)


def prepare_long(work: Path, seconds: float) -> tuple[Store, Video, DemoVideo]:
    """The long demo video in its own project, analysed; labels are set per scenario."""
    folder = work / "long"
    folder.mkdir(parents=True, exist_ok=True)
    video_path = folder / f"demo_{int(seconds)}s.avi"
    if not video_path.exists():
        generate_demo_video(video_path, seconds=seconds, fps=25, seed=0)
    store = open_store(f"sqlite:///{folder / f'project_{int(seconds)}s.sqlite3'}")
    known = {c.name for c in store.classes.list()}
    for name in DEMO_CLASSES:
        if name not in known:
            store.classes.add(name)
    video = add_video(store, video_path)
    _analyse(store, video, f"{int(seconds)} s demo")
    return store, store.videos.get(video.id), _plan(seconds, work)


def set_labels(store: Store, video: Video, pieces: list[DemoEvent]) -> None:
    """Replace every label of the video with ``pieces`` (ground truth a user would have drawn)."""
    for seg in store.segments.list(video.id):
        store.segments.remove(seg.id)
    add_labels(store, video, pieces)


def add_labels(store: Store, video: Video, pieces: list[DemoEvent]) -> None:
    ids = {c.name: c.id for c in store.classes.list()}
    store.segments.paint(
        video.id, [NewSegment(ids[p.class_name], p.start_frame, p.end_frame) for p in pieces]
    )


def truth_pieces(demo: DemoVideo, start: int, end: int) -> list[DemoEvent]:
    """Ground truth of frames [start, end), background included, as a person would paint it."""
    pieces = list(demo.events) + [DemoEvent(BACKGROUND, s, e) for s, e in demo.background_gaps()]
    return [
        DemoEvent(p.class_name, max(p.start_frame, start), min(p.end_frame, end))
        for p in pieces
        if p.start_frame < end and p.end_frame > start
    ]


def frame_truth(demo: DemoVideo, class_names: tuple[str, ...]) -> np.ndarray:
    """The generator's ground truth per frame, background where no event is."""
    truth = np.full(demo.frame_count, class_names.index(BACKGROUND), dtype=np.int64)
    for event in demo.events:
        truth[event.start_frame : event.end_frame] = class_names.index(event.class_name)
    return truth


def train(
    store: Store, parent: ModelVersion, mode: str = "features", **kw: Any
) -> tuple[float, TrainingResult]:
    config = TrainConfig(mode=mode, parent_id=parent.id, activate=False, device="cpu", **kw)  # type: ignore[arg-type]
    began = time.perf_counter()
    result = run_training(store, config)
    return time.perf_counter() - began, result


def score(store: Store, video: Video, demo: DemoVideo, version_id: int, first: int) -> float:
    """Frame macro-F1 of a version's stored predictions on frames from ``first`` on."""
    preds = load_predictions(store, video, version_id)
    if preds is None:
        raise SystemExit(f"model #{version_id} did not re-score the video")
    truth = frame_truth(demo, preds.class_names)
    guess = np.nan_to_num(preds.frame_scores).argmax(axis=1)
    return round(frame_metrics(truth[first:], guess[first:], len(preds.class_names)).macro_f1, 4)


def events_shown(result: TrainingResult) -> dict[str, object]:
    m = result.metrics
    return {
        "val_macro_f1": round(m["val_macro_f1"], 4),
        "val_range": [round(v, 3) for v in m.get("val_macro_f1_range", [])],
        "val_events": m.get("val_events"),
    }


def demo_figures(work: Path, ablation: bool) -> dict[str, object]:
    store, video, demo = prepare_app_demo(work)
    untrained = ensure_active_model(store)
    seconds, result = train(store, untrained)
    first = round(DEMO_LABELLED_FRACTION * demo.frame_count)
    out: dict[str, object] = {
        "demo_macro_f1": score(store, video, demo, result.version.id, first),
        "demo_features_s": round(seconds, 2),
        "demo": events_shown(result),
    }
    if ablation:
        out["ablation_demo"] = _ablation(store, video, demo, untrained, first)
    return out


def five_event_cut(demo: DemoVideo, per_class: int = 5) -> int:
    """End frame of the event by which every class has ``per_class`` events."""
    seen: dict[str, int] = {}
    for event in demo.events:
        seen[event.class_name] = seen.get(event.class_name, 0) + 1
        if len(seen) == len(DEMO_CLASSES) and min(seen.values()) >= per_class:
            return event.end_frame
    raise SystemExit(f"the demo video is too short for {per_class} events per class")


def long_figures(work: Path, seconds: float, last_layers: bool, ablation: bool) -> dict[str, object]:
    store, video, demo = prepare_long(work, seconds)
    untrained = ensure_active_model(store)
    out: dict[str, object] = {}

    set_labels(store, video, label_prefix(demo, LABELLED_FRACTION))
    cut = round(LABELLED_FRACTION * demo.frame_count)
    warm_up()  # the app does this on a background thread at start-up
    out["features_s"], result = train(store, untrained)
    out["features_s"] = round(float(out["features_s"]), 2)  # type: ignore[arg-type]
    out["macro_f1"] = score(store, video, demo, result.version.id, cut)
    out["sixty_percent"] = events_shown(result)
    if last_layers:
        last_s, last = train(store, untrained, "last-layers")
        out["last_layers_s"] = round(last_s, 2)
        out["last_layers_macro_f1"] = score(store, video, demo, last.version.id, cut)
    if ablation:
        out["ablation_sixty_percent"] = _ablation(store, video, demo, untrained, cut)

    five_end = five_event_cut(demo)
    five = truth_pieces(demo, 0, five_end)
    set_labels(store, video, five)
    five_s, base = train(store, untrained)
    out["five_events_macro_f1"] = score(store, video, demo, base.version.id, five_end)
    out["five_events"] = events_shown(result=base) | {"labelled_s": round(five_end / demo.fps, 1)}
    out["five_events_features_s"] = round(five_s, 2)
    if ablation:
        out["ablation_five_events"] = _ablation(store, video, demo, untrained, five_end)

    out["queue_vs_random"], out["queue_five_events"] = queue_vs_random(
        store, video, demo, untrained, five, base
    )
    one_end = five_event_cut(demo, per_class=1)
    one = truth_pieces(demo, 0, one_end)
    set_labels(store, video, one)
    _, one_base = train(store, untrained)
    out["queue_vs_random_one_event"], out["queue_one_event"] = queue_vs_random(
        store, video, demo, untrained, one, one_base
    )
    return out


def queue_vs_random(
    store: Store,
    video: Video,
    demo: DemoVideo,
    parent: ModelVersion,
    labels: list[DemoEvent],
    base: TrainingResult,
) -> tuple[float, dict[str, object]]:
    """Macro-F1 after labelling the queue's first windows over the mean after random ones."""
    first = max(p.end_frame for p in labels)
    queue = review_queue(store, video, base.version.id, limit=3 * QUEUE_WINDOWS)
    picked = [q.start_frame for q in queue if q.human is None][:QUEUE_WINDOWS]
    add_labels(store, video, [p for s in picked for p in truth_pieces(demo, s, s + 16)])
    _, queued = train(store, parent)
    queue_f1 = score(store, video, demo, queued.version.id, first)
    preds = load_predictions(store, video, base.version.id)
    if preds is None:
        raise SystemExit("the starting model did not re-score the video")
    candidates = preds.starts[preds.starts >= first]
    random_f1 = []
    for draw in range(RANDOM_DRAWS):
        set_labels(store, video, labels)
        starts = np.random.default_rng(draw).choice(candidates, size=QUEUE_WINDOWS, replace=False)
        add_labels(store, video, [p for s in starts for p in truth_pieces(demo, int(s), int(s) + 16)])
        _, drawn = train(store, parent)
        random_f1.append(score(store, video, demo, drawn.version.id, first))
    set_labels(store, video, labels)
    detail = {
        "start_macro_f1": score(store, video, demo, base.version.id, first),
        "queue_macro_f1": queue_f1,
        "random_macro_f1": random_f1,
        "windows_labelled": len(picked),
        "labelled_s": round(first / demo.fps, 1),
    }
    return round(queue_f1 / float(np.mean(random_f1)), 4), detail


def _ablation(
    store: Store, video: Video, demo: DemoVideo, parent: ModelVersion, first: int
) -> dict[str, object]:
    """The choices measured on the same labels and cache: what each part of the method adds."""
    from benchmarks.learning_ablation import ablation  # only needed here

    seconds, gradient = train(store, parent, solver="gradient")
    return ablation(store, video, demo, first) | {
        "gradient_fc8_fc7": score(store, video, demo, gradient.version.id, first),
        "gradient_fc8_fc7_s": round(seconds, 2),
    }


def tracks_case(store: Store, video: Video, demo: DemoVideo) -> dict[str, object]:
    """Three tracks on the demo: fit every head at once, score each on the unlabelled part."""
    cut = round(LABELLED_FRACTION * demo.frame_count)
    if not store.segments.list(video.id):
        set_labels(store, video, truth_pieces(demo, 0, cut))
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
    # The untrained model that analysed the video (its fc7 is what the cache holds), even when
    # an earlier run of this case registered a trained version since.
    version = next((m for m in store.models.list() if m.untrained), None)
    if version is None:
        raise SystemExit("the video was not analysed")
    result = train_tracks(store, version, stride=8, register=False)
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
    # A point track against the generator's own onset frames (not windows near them), ±4 frames.
    onsets = [e.start_frame for e in demo.events if e.class_name == "flash" and e.start_frame >= cut]
    found = window_peaks(centres[held], probs["onsets"][:, 0] >= 0.5)
    onset_f1 = event_f1(found, onsets, 4)
    began = time.perf_counter()
    registered = train_tracks(store, version, stride=8, activate=False)
    assert registered.version is not None
    decoded = {}  # what the timeline shows: the registered version's stored (HMM-decoded) windows
    for spec in specs:
        shown = load_predictions(store, video, registered.version.id, track=spec.name)
        if shown is not None and spec.kind is TrackKind.STATE:
            decoded[spec.name] = round(macro_f1(shown.probs[held].argmax(1), truth[spec.name]), 4)
    return {
        "tracks_features_s": round(result.seconds, 3),
        "tracks_windows": result.windows,
        "tracks_f1": {s.track: round(s.f1, 4) for s in scores} | {"onsets": round(onset_f1, 4)},
        "onsets_found_vs_true": [len(found), len(onsets)],
        "tracks_val_f1": {s.track: round(s.f1, 4) for s in result.scores},
        "tracks_f1_decoded": decoded,
        "tracks_train_and_register_s": round(time.perf_counter() - began, 3),
        "tracks_rescored_videos": len(registered.rescored_video_ids),
    }


def tracks_fit_timing(plan: DemoVideo) -> dict[str, object]:
    """``fit_all_tracks`` at the size of a 10-minute video (stride 8), timed on synthetic fc7.

    The fit's cost depends on the shapes (windows, labelled windows, point events), not on the
    feature values, so random ReLU features with the plan's three-track targets stand in for
    a 25-minute analysis. The one-track ridge on the same rows is timed beside it, in the same
    run, so the ratio holds on a busy machine.
    """
    from core.learning.track_learning import fit_all_tracks, fit_heads, prepare

    starts = np.arange(0, plan.frame_count - WINDOW_LENGTH + 1, 8)
    centres = starts + WINDOW_LENGTH // 2
    rng = np.random.default_rng(0)
    x = np.maximum(rng.normal(size=(len(starts), 4096)), 0).astype(np.float32)
    specs = [
        TrackSpec("behaviour", TrackKind.STATE, ("background", *DEMO_CLASSES)),
        TrackSpec("light", TrackKind.STATE, ("background", "flash")),
        TrackSpec("onsets", TrackKind.POINT, ("background", "onset")),
    ]
    cut = round(LABELLED_FRACTION * plan.frame_count)
    targets = {}
    for spec in specs:
        y = _truth(spec, plan, centres)
        y[centres >= cut] = -1
        targets[spec.name] = y
    held = (np.arange(len(starts)) // 20) % 5 == 4
    began = time.perf_counter()
    fit_all_tracks(specs, x, targets, starts, held)
    three = time.perf_counter() - began
    began = time.perf_counter()
    fit_heads(
        specs[:1],
        prepare(x[targets["behaviour"] != -1]),
        {"behaviour": targets["behaviour"][targets["behaviour"] != -1]},
    )
    one_unthinned = time.perf_counter() - began
    return {
        "tracks_fit_10min_s": round(three, 3),
        "tracks_fit_10min_windows": len(starts),
        "one_head_unthinned_fit_10min_s": round(one_unthinned, 3),
        "threads": torch.get_num_threads(),
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
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the long demo video")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "c3d-learning-loop")
    parser.add_argument("--prepare-only", action="store_true", help="only generate and analyse")
    parser.add_argument("--last-layers", action="store_true", help="also time a last-layers run")
    parser.add_argument("--ablation", action="store_true", help="also measure the method's parts")
    parser.add_argument("--skip-long", action="store_true", help="only the app's demo")
    parser.add_argument("--tracks", action="store_true", help="only the three-track case")
    parser.add_argument(
        "--tracks-fit-only", action="store_true", help="only time the three-head fit at the 10-minute size"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.tracks:
        figures = tracks_case(*prepare_long(args.work, args.seconds))
        print(json.dumps(figures | tracks_fit_timing(_plan(600.0, args.work)), indent=2))
        return 0
    if args.tracks_fit_only:
        print(json.dumps(tracks_fit_timing(_plan(args.seconds, args.work)), indent=2))
        return 0
    if args.prepare_only:
        prepare_app_demo(args.work)
        if not args.skip_long:
            prepare_long(args.work, args.seconds)
        return 0
    out: dict[str, object] = demo_figures(args.work, args.ablation)
    if not args.skip_long:
        out |= long_figures(args.work, args.seconds, args.last_layers, args.ablation)
    out["threads"] = torch.get_num_threads()
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
