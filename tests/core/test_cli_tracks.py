"""`tracks`, and `classes`/`segments` with --track and --modifier, through main() on a real store."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.analysis.predictions import load_predictions
from core.errors import CheckpointError
from core.learning.track_learning import project_specs
from core.media.demo import generate_demo_video
from core.model.registry import load_version
from core.project import actions
from core.project.project import Project
from core.store import open_store
from core.store.records import TrackKind
from main import main


def _run(capsys: pytest.CaptureFixture[str], db_url: str, *argv: str) -> tuple[int, str, str]:
    code = main(["--db", db_url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def video_db(db_url: str) -> str:
    with open_store(db_url) as store:
        store.videos.add("/v/a.mp4", "h", 64, 48, 25.0, 100)
    return db_url


def test_one_track_works_as_before(video_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, video_db, "classes", "add", "walk")[0] == 0
    code, out, err = _run(capsys, video_db, "segments", "add", "1", "0", "10", "walk")
    assert code == 0, err
    _, out, _ = _run(capsys, video_db, "segments", "list")
    assert out.split("\t")[2:6] == ["walk", "0", "10", "human\n"]  # no track column with one track
    _, out, _ = _run(capsys, video_db, "tracks", "list")
    assert out == "1\tbehaviour\tstate\t\tbackground,walk\n"


def test_tracks_subjects_points_and_modifiers(video_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, video_db, "classes", "add", "walk", "rest", "--modifier", "fast")[0] == 0
    assert (
        _run(capsys, video_db, "tracks", "add", "mouse 2", "--subject", "m2", "--like", "behaviour")[0] == 0
    )
    code, out, err = _run(capsys, video_db, "tracks", "add", "events", "--point")
    assert code == 0, err
    assert "added point track" in out
    assert _run(capsys, video_db, "classes", "add", "jump", "--track", "events")[0] == 0

    assert _run(capsys, video_db, "segments", "add", "1", "0", "50", "walk", "--modifier", "fast")[0] == 0
    assert _run(capsys, video_db, "segments", "add", "1", "10", "30", "rest", "--track", "mouse 2")[0] == 0
    assert _run(capsys, video_db, "segments", "add", "1", "20", "21", "jump", "--track", "events")[0] == 0
    code, _, err = _run(capsys, video_db, "segments", "add", "1", "20", "25", "jump", "--track", "events")
    assert code != 0 and "point track" in err and len(err.strip().splitlines()) == 1

    with open_store(video_db) as store:
        segs = store.segments.list(1, all_tracks=True)
        by_track = {
            store.tracks.get(s.track_id).name: (s.class_name, s.start_frame, s.end_frame) for s in segs
        }
        assert by_track == {
            "behaviour": ("walk", 0, 50),
            "mouse 2": ("rest", 10, 30),
            "events": ("jump", 20, 21),
        }
        assert [s.modifiers for s in segs if s.class_name == "walk"] == [("fast",)]
        assert store.tracks.resolve("mouse 2").subject == "m2"

    _, out, _ = _run(capsys, video_db, "tracks", "list")
    assert [line.split("\t")[1:4] for line in out.splitlines()] == [
        ["behaviour", "state", ""],
        ["mouse 2", "state", "m2"],
        ["events", "point", ""],
    ]
    _, out, _ = _run(capsys, video_db, "segments", "list", "1", "--track", "events")
    assert out.strip().split("\t")[2:] == ["jump", "20", "21", "human", "events"]
    assert _run(capsys, video_db, "tracks", "remove", "events")[0] == 0
    _, out, _ = _run(capsys, video_db, "segments", "list")
    assert len(out.splitlines()) == 2


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["classes", "add", "x", "--track", "nope"], "no track named 'nope'"),
        (["tracks", "remove", "behaviour"], "only track"),
        (["segments", "add", "1", "0", "10", "walk", "--track", "behaviour"], "No class named 'walk'"),
        (["segments", "add", "1", "0", "10", "background", "--modifier", "odd"], "no modifier 'odd'"),
    ],
)
def test_track_mistakes_are_one_line(
    video_db: str, capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    code, _, err = _run(capsys, video_db, *argv)
    assert code != 0
    assert len(err.strip().splitlines()) == 1 and words in err


@pytest.mark.slow
def test_tracks_train_fits_a_head_per_track_on_the_analysed_video(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = generate_demo_video(tmp_path / "demo.avi", seconds=8.0, fps=25, size=(96, 72), seed=3)
    code, _, err = _run(capsys, db_url, "infer", str(demo.path), "--batch", "8", "--device", "cpu")
    assert code == 0, err
    # Three tracks from one demo: the ball (left/right), the flash, and the flash's onsets as points.
    with open_store(db_url) as store:
        project = Project(store)
        flash_track = store.tracks.add("light")
        onsets = store.tracks.add("onsets", TrackKind.POINT)
        left, right = store.classes.add("ball_left"), store.classes.add("ball_right")
        flash = store.classes.add("flash", track_id=flash_track.id)
        onset = store.classes.add("onset", track_id=onsets.id)
        video_id = store.videos.list()[0].id
        actions.mark_reviewed(project, video_id, 0, demo.frame_count)
        actions.mark_reviewed(project, video_id, 0, demo.frame_count, flash_track.id)
        for event in demo.events:
            if event.class_name == "flash":
                actions.label_range(project, video_id, event.start_frame, event.end_frame, flash.id)
                actions.label_range(project, video_id, event.start_frame, event.start_frame + 1, onset.id)
            else:
                cls = left if event.class_name == "ball_left" else right
                actions.label_range(project, video_id, event.start_frame, event.end_frame, cls.id)
    code, out, err = _run(capsys, db_url, "tracks", "train")
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split("\t")[:2] for line in lines[:3]] == [
        ["behaviour", "state"],
        ["light", "state"],
        ["onsets", "point"],
    ]
    assert "event F1" in lines[2] and "macro-F1" in lines[0]
    assert lines[-1].startswith("registered model version ")
    with open_store(db_url) as store:
        version = store.models.active()
        assert version is not None and version.mode == "features"
        _model, meta = load_version(store, version)
        assert [t.name for t in meta.tracks] == ["behaviour", "light", "onsets"]
        assert meta.tracks == tuple(project_specs(store))
        preds = load_predictions(store, store.videos.list()[0], track="light")
        assert preds is not None and preds.class_names == ("background", "flash")
        store.classes.add("bounce", track_id=store.tracks.resolve("light").id)
        with pytest.raises(CheckpointError, match="'light'"):
            load_version(store, version)
