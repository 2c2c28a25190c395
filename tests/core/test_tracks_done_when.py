"""Issue 10's "done when", through the command line: a BORIS project with two subjects,
overlapping state behaviours in exclusive groups, point events and modifiers imports into
tracks, trains, and exports back to BORIS with every event, subject and modifier equal; the
same for an EAF with three tiers (participants as subjects, zero-length annotations as points)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.store import open_store
from main import main
from tests.tracks_sources import (
    BORIS_TRACKS,
    EAF_ANNOTATIONS,
    EAF_TRACKS,
    FPS,
    FRAMES,
    boris_expected_rows,
    boris_project_summary,
    boris_table_rows,
    eaf_annotations,
    write_boris_project,
    write_eaf,
)
from tests.videos import write_mjpeg_avi

pytestmark = pytest.mark.slow  # decodes a clip and runs C3D over it on the CPU to train


def _run(capsys: pytest.CaptureFixture[str], db_url: str, *argv: str) -> str:
    code = main(["--db", db_url, *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def _tracks(db_url: str) -> dict[str, tuple[str, str | None, list[tuple[str, int, int]]]]:
    with open_store(db_url) as store:
        video = store.videos.list()[0]
        out = {}
        for track in store.tracks.list():
            labels = [
                (s.class_name, s.start_frame, s.end_frame)
                for s in store.segments.list(video.id, track_id=track.id)
            ]
            if labels:
                out[track.name] = (track.kind.value, track.subject, labels)
        return out


def _train(capsys: pytest.CaptureFixture[str], db_url: str, tracks: set[str]) -> None:
    """``train --mode features`` fits a head per track: each imported one is scored."""
    out = _run(capsys, db_url, "train", "--mode", "features", "--epochs", "1", "--device", "cpu")
    scored = {line.split("\t")[0] for line in out.splitlines() if line.count("\t") >= 2}
    assert tracks <= scored, out
    assert re.search(rf"model #\d+ features .*: {len(tracks) + 1} track heads", out), out


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_mjpeg_avi(tmp_path / "two mice.avi", FRAMES, size=(112, 112), fps=FPS)


def test_a_boris_project_imports_into_tracks_trains_and_exports_back_equal(
    tmp_path: Path, db_url: str, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, db_url, "videos", "add", str(clip))
    source = write_boris_project(clip, tmp_path / "two mice.boris")
    _run(capsys, db_url, "import", "--format", "boris", str(source), "--create-classes")
    assert _tracks(db_url) == BORIS_TRACKS
    with open_store(db_url) as store:
        classes = {(store.tracks.get(c.track_id).name, c.name): c.modifiers for c in store.classes.list_all()}
        assert classes[("m1: body", "walk")] == ("fast",) and classes[("m2 events", "jump")] == (
            "left",
            "right",
        )

    _train(capsys, db_url, set(BORIS_TRACKS))

    back = tmp_path / "back.tsv"
    _run(capsys, db_url, "export", "--format", "boris", "--out", str(back))
    assert boris_table_rows(back) == boris_expected_rows()
    project = tmp_path / "back.boris"  # and as a project BORIS opens
    _run(capsys, db_url, "export", "--format", "boris", "--out", str(project))
    assert boris_project_summary(project) == boris_project_summary(source)


def test_an_eaf_with_three_tiers_imports_into_tracks_trains_and_exports_back_equal(
    tmp_path: Path, db_url: str, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, db_url, "videos", "add", str(clip))
    source = write_eaf(clip, tmp_path / "two mice.eaf")
    _run(capsys, db_url, "import", "--format", "eaf", str(source), "--create-classes")
    assert _tracks(db_url) == EAF_TRACKS
    with open_store(db_url) as store:
        walk = store.segments.list(1, track_id=store.tracks.resolve("body").id)[0]
        assert walk.comment == "brisk"

    _train(capsys, db_url, set(EAF_TRACKS))

    back = tmp_path / "back.eaf"
    _run(capsys, db_url, "export", "--format", "eaf", "--out", str(back))
    assert eaf_annotations(back) == eaf_annotations(source) == sorted(EAF_ANNOTATIONS)
