"""Per-track predictions: stored side by side, read per track, accepted into that track only."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from core.analysis.postprocess import PostprocessParams
from core.analysis.predictions import events_for, load_predictions
from core.labels.accept import accept_events
from core.model.spec import DEFAULT_SPEC
from core.model.track_heads import TrackSpec, specs_to_json
from core.store import Store
from core.store.records import ModelState, NewSegment, RunStatus, TrackKind

WINDOWS, STRIDE = 40, 8
FRAMES = WINDOWS * STRIDE + 16


def _project(store: Store) -> tuple[int, tuple[TrackSpec, ...]]:
    video = store.videos.add("/v/a.mp4", "h", 64, 48, 25.0, FRAMES)
    light = store.tracks.add("light")
    onsets = store.tracks.add("onsets", TrackKind.POINT)
    store.classes.add("left")
    store.classes.add("flash", track_id=light.id)
    store.classes.add("onset", track_id=onsets.id)
    specs = (
        TrackSpec("behaviour", TrackKind.STATE, ("background", "left")),
        TrackSpec("light", TrackKind.STATE, ("background", "flash")),
        TrackSpec("onsets", TrackKind.POINT, ("background", "onset")),
    )
    return video.id, specs


def _store_run(
    store: Store, video_id: int, specs: tuple[TrackSpec, ...], probs: np.ndarray, **summary: object
) -> int:
    version = store.models.add(
        name="three heads",
        checkpoint_path="/nowhere/m.safetensors",
        class_names=specs[0].outputs,
        input_spec_json=DEFAULT_SPEC.to_json(),
        trunk_hash="t",
        state=ModelState.READY,
        mode="features",
        summary={"tracks": specs_to_json(specs), **summary},
    )
    run = store.predictions.start_run(video_id, version.id, STRIDE, WINDOWS)
    store.predictions.add_windows(run.id, np.arange(WINDOWS) * STRIDE, probs)
    store.predictions.finish(run.id, RunStatus.COMPLETE)
    store.models.set_active(version.id)
    return version.id


def _probs() -> np.ndarray:
    """behaviour: 'left' in windows 0–9; light: 'flash' in windows 20–29; onsets: peaks at 5 and 30."""
    p = np.zeros((WINDOWS, 5), dtype=np.float32)
    p[:, 0], p[:10, 0], p[:10, 1] = 1.0, 0.0, 1.0
    p[:, 2], p[20:30, 2], p[20:30, 3] = 1.0, 0.0, 1.0
    p[:, 4] = 0.05
    p[4, 4], p[5, 4], p[6, 4] = 0.6, 0.9, 0.55  # one event, its peak at window 5
    p[30, 4] = 0.8
    return p


def test_each_track_reads_its_own_columns_and_a_point_track_gives_peaks(store: Store) -> None:
    video_id, specs = _project(store)
    _store_run(store, video_id, specs, _probs())
    video = store.videos.get(video_id)
    body = load_predictions(store, video)
    light = load_predictions(store, video, track="light")
    onsets = load_predictions(store, video, track="onsets")
    assert body is not None and light is not None and onsets is not None
    assert (body.track, body.class_names, body.probs.shape) == ("behaviour", ("background", "left"), (40, 2))
    assert (light.track, light.class_names) == ("light", ("background", "flash"))
    assert np.array_equal(light.probs[:, 1], _probs()[:, 3])
    assert onsets.kind is TrackKind.POINT and onsets.class_names == ("onset",)
    body_events = [(e.start_frame, e.end_frame) for e in events_for(body)]
    light_events = [(e.start_frame, e.end_frame) for e in events_for(light)]
    assert body_events[0][0] == 0 and light_events[0][0] >= 19 * STRIDE
    # Point events: one per run above the threshold, on the peak window's centre frame.
    assert [(e.start_frame, e.end_frame) for e in events_for(onsets)] == [
        (5 * 8 + 8, 5 * 8 + 9),
        (30 * 8 + 8, 30 * 8 + 9),
    ]
    strict = events_for(onsets, PostprocessParams(open_threshold=0.85, close_threshold=0.5))
    assert [e.start_frame for e in strict] == [48]


def test_a_model_without_a_head_for_a_track_has_no_predictions_for_it(store: Store) -> None:
    video_id, specs = _project(store)
    _store_run(store, video_id, specs[:2], _probs()[:, :4])
    assert load_predictions(store, store.videos.get(video_id), track="onsets") is None


def test_accepting_one_tracks_predictions_never_touches_another_track(store: Store) -> None:
    video_id, specs = _project(store)
    _store_run(store, video_id, specs, _probs())
    behaviour = store.tracks.resolve("behaviour")
    left = store.classes.by_name("left")
    assert left is not None
    store.segments.paint(video_id, [NewSegment(left.id, 150, 250)])  # under the predicted flash
    before = store.segments.list(video_id, track_id=behaviour.id)
    light = store.tracks.resolve("light")
    preds = load_predictions(store, store.videos.get(video_id), track="light")
    assert preds is not None
    accept_events(store, video_id, events_for(preds), preds.class_names, track_id=light.id)
    assert store.segments.list(video_id, track_id=behaviour.id) == before
    flashes = [s for s in store.segments.list(video_id, track_id=light.id) if s.class_name == "flash"]
    assert len(flashes) == 1 and flashes[0].start_frame >= 19 * STRIDE
    onsets = store.tracks.resolve("onsets")
    points = load_predictions(store, store.videos.get(video_id), track="onsets")
    assert points is not None
    accept_events(store, video_id, events_for(points), points.class_names, track_id=onsets.id)
    got = [
        (s.class_name, s.start_frame, s.end_frame) for s in store.segments.list(video_id, track_id=onsets.id)
    ]
    assert got == [("onset", 48, 49), ("onset", 248, 249)]
    assert store.segments.list(video_id, track_id=behaviour.id) == before


def test_evaluate_reports_each_track_on_a_hand_worked_case(store: Store) -> None:
    from core.learning.assessment import ModelEvaluation, PointEvaluation, evaluate_tracks

    video_id, specs = _project(store)
    _store_run(store, video_id, specs, _probs())
    cls = {
        (t, c.name): c.id
        for t in ("behaviour", "light", "onsets")
        for c in store.classes.list(store.tracks.resolve(t).id)
    }
    store.segments.paint(
        video_id,
        [
            NewSegment(cls["behaviour", "left"], 0, 100),
            NewSegment(cls["behaviour", "background"], 100, 200),
            NewSegment(cls["light", "flash"], 170, 230),
            NewSegment(cls["light", "background"], 240, 300),
            NewSegment(cls["onsets", "onset"], 50, 51),
            NewSegment(cls["onsets", "onset"], 200, 201),
        ],
    )
    body, light, onsets = evaluate_tracks(store)
    assert isinstance(body, ModelEvaluation) and isinstance(light, ModelEvaluation)
    assert isinstance(onsets, PointEvaluation)
    # behaviour: windows 0–9 say 'left', so frames 0–79 are 'left'; 80–87 tie (background wins).
    assert (body.track, body.class_names) == ("behaviour", ("background", "left"))
    assert body.frames.precision[1] == 1.0 and body.frames.recall[1] == 0.8
    assert body.frames.precision[0] == 100 / 120 and body.frames.recall[0] == 1.0
    # Its predicted event [0, 88) against the label [0, 100): tIoU 0.88, found up to tIoU 0.85.
    assert body.average_map == 0.8
    # light: frames 168–239 are 'flash'; its event [160, 248) against [170, 230): tIoU 60/88.
    assert light.frames.f1.tolist() == [1.0, 1.0]
    assert light.average_map == 0.4 and light.segment_f1 == {0.1: 1.0, 0.25: 1.0, 0.5: 1.0}
    # onsets: predicted at 48 and 248, labelled at 50 and 200: one match within ±4 frames.
    assert onsets.per_class == {"onset": (1, 2, 2)} and onsets.f1 == 0.5
    assert evaluate_tracks(store, tolerance=1)[2].f1 == 0.0
    assert (
        "track onsets (point)" in onsets.lines()[0] and "event F1 within ±4 frames 0.500" in onsets.lines()[1]
    )


def test_the_review_queue_ranks_one_tracks_head_against_that_tracks_labels(store: Store) -> None:
    from core.learning.review import review_queue

    video_id, specs = _project(store)
    _store_run(store, video_id, specs, _probs())
    light = store.classes.list(store.tracks.resolve("light").id)
    onset = store.classes.by_name("onset", store.tracks.resolve("onsets").id)
    assert onset is not None
    store.segments.paint(
        video_id,
        [NewSegment(light[0].id, 170, 230), NewSegment(onset.id, 200, 201)],  # the light says "flash" there
    )
    video = store.videos.get(video_id)
    on_light = review_queue(store, video, track="light")
    assert on_light[0].reason == "disagrees" and 160 <= on_light[0].start_frame < 230
    # The behaviour head agrees with nobody's behaviour labels there: it has no disagreements.
    assert all(item.reason == "uncertain" for item in review_queue(store, video))
    on_onsets = review_queue(store, video, track="onsets")
    first = on_onsets[0]
    assert (first.reason, first.start_frame, first.human, first.predicted) == ("disagrees", 192, 1, 0)


def test_exported_predictions_name_their_track_and_accept_takes_one(
    store: Store, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from main import main

    video_id, specs = _project(store)
    _store_run(store, video_id, specs, _probs())
    out = tmp_path / "pred.csv"
    assert main(["--db", db_url, "export", "--format", "csv", "--predictions", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert {(r["track"], r["class"]) for r in rows} == {
        ("behaviour", "left"),
        ("light", "flash"),
        ("onsets", "onset"),
    }
    assert sorted(int(r["start_frame"]) for r in rows if r["track"] == "onsets") == [48, 248]
    only = tmp_path / "light.csv"
    assert (
        main(
            [
                "--db",
                db_url,
                "export",
                "--format",
                "csv",
                "--predictions",
                "--track",
                "light",
                "--out",
                str(only),
            ]
        )
        == 0
    )
    assert {r["class"] for r in csv.DictReader(only.open())} == {"flash"}
    capsys.readouterr()
    assert main(["--db", db_url, "accept-predictions", str(video_id), "--track", "onsets"]) == 0
    assert "accepted 2 predicted events" in capsys.readouterr().out
    got = [(s.class_name, s.start_frame) for s in store.segments.list(video_id, all_tracks=True)]
    assert got == [("onset", 48), ("onset", 248)]


def test_a_video_analysed_later_gets_each_state_tracks_hmm(store: Store) -> None:
    from core.analysis.run import decode_along_time
    from core.learning.decoding import Decoder, decode

    video_id, specs = _project(store)
    sticky = Decoder(np.array([[0.99, 0.01], [0.01, 0.99]]), np.array([0.5, 0.5]))
    version_id = _store_run(store, video_id, specs, _probs(), decoders={"light": sticky.to_json()})
    version = store.models.get(version_id)
    noisy = _probs()
    noisy[25, 2:4] = [0.7, 0.3]  # one flickering window inside the flash
    run = store.predictions.latest_run(video_id, version_id)
    assert run is not None
    store.predictions.replace_windows(run.id, np.arange(WINDOWS) * STRIDE, noisy)
    decode_along_time(store, run.id, version)
    _starts, stored = store.predictions.windows(run.id)
    assert np.allclose(stored[:, 2:4], decode(noisy[:, 2:4], sticky), atol=1e-6)
    assert stored[25, 3] > 0.5  # the HMM carried the flash through the flicker
    assert np.array_equal(stored[:, [0, 1, 4]], noisy[:, [0, 1, 4]])  # no decoder: left as they were
