"""`import`, `export`, `accept-predictions` and `import-dataset` end to end through ``main``:
each prints what it did, and a user's mistake exits non-zero with one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.model.spec import InputSpec
from core.store.records import ModelState, RunStatus
from main import main
from tests.core.interchange_helpers import CLIP, add_video, label, snapshot
from tests.videos import write_mjpeg_avi


def _run(capsys: pytest.CaptureFixture[str], db_url: str, *argv: str) -> tuple[int, str, str]:
    code = main(["--db", db_url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(store):  # type: ignore[no-untyped-def]
    video = add_video(store)
    label(store, video, ("walk", 0, 30), ("run", 30, 45))
    return store


def test_import_previews_then_commits(project, db_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "in.csv"
    src.write_text("video,class,start_frame,end_frame\nclip one.mp4,jump,50,60\nclip one.mp4,WALK,0,10\n")
    before = snapshot(project)
    code, out, err = _run(
        capsys, db_url, "import", "--format", "csv", str(src), "--create-classes", "--dry-run"
    )
    assert code == 0, err
    assert out.splitlines() == [
        f"{CLIP}: 1 added, 0 changed, 1 skipped",
        "new classes: jump",
        "dry run: would import 1 segments; nothing was written",
    ]
    assert snapshot(project) == before
    code, out, _ = _run(capsys, db_url, "import", "--format", "csv", str(src), "--create-classes")
    assert code == 0 and out.splitlines()[-1] == "imported 1 segments into 1 videos; created classes jump"
    assert ("jump", 50, 60) in [(s.class_name, s.start_frame, s.end_frame) for s in project.segments.list(1)]


def test_import_with_problems_lists_them_and_exits_with_one_line(
    project, db_url: str, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "in.csv"
    src.write_text("video,class,start_frame,end_frame\nclip one.mp4,jump,50,60\nclip one.mp4,walk,9,3\n")
    before = snapshot(project)
    code, out, err = _run(capsys, db_url, "import", "--format", "csv", str(src), "--map-classes", "jump=run")
    assert code != 0
    assert "in.csv, line 3: error: it ends (frame 3) before it starts (frame 9)" in out
    assert err.strip().splitlines() == ["error: 1 problem found (listed above); nothing was imported."]
    assert snapshot(project) == before


def test_bad_map_classes_argument_is_one_line(project, db_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = _run(capsys, db_url, "import", "--format", "csv", "x.csv", "--map-classes", "nope")
    assert code != 0 and err.strip() == "error: --map-classes takes OLD=NEW pairs; 'nope' is not one."


def test_export_per_video_formats_into_a_folder_and_back(
    project, db_url: str, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    out_dir = tmp_path / "eaf"
    code, out, err = _run(capsys, db_url, "export", "--format", "eaf", "--out", str(out_dir), "--videos", "1")
    assert code == 0, err
    assert out.strip() == f"exported 2 segments of 1 videos to {out_dir / 'clip one.eaf'} (eaf)"
    before = snapshot(project)
    code, out, err = _run(capsys, db_url, "import", "--format", "eaf", str(out_dir / "clip one.eaf"))
    assert code == 0, err
    assert out.splitlines() == [f"{CLIP}: 0 added, 0 changed, 2 skipped", "imported 0 segments into 0 videos"]
    assert snapshot(project) == before


def test_export_to_a_file_with_one_video_per_file_format_needs_one_video(
    project, db_url, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    add_video(project, path="/data/second.mp4", digest="fp1:02")
    code, _, err = _run(capsys, db_url, "export", "--format", "eaf", "--out", str(tmp_path / "x.eaf"))
    assert code != 0
    assert err.strip() == (
        "error: The eaf format holds one video per file: give a folder to export 2 videos."
    )


def _predictions(store) -> None:  # type: ignore[no-untyped-def]
    version = store.models.add(
        "tiny",
        "/nowhere.safetensors",
        ["background", "walk", "run"],
        InputSpec().to_json(),
        "trunk",
        ModelState.READY,
    )
    store.models.set_active(version.id)
    starts = np.arange(0, 105, 8)
    probs = np.tile(np.float32([0.9, 0.05, 0.05]), (len(starts), 1))
    probs[(starts >= 56) & (starts < 88)] = [0.05, 0.05, 0.9]  # "run" around frames 56–103
    run = store.predictions.start_run(1, version.id, 8, len(starts))
    store.predictions.add_windows(run.id, starts, probs)
    store.predictions.finish(run.id, RunStatus.COMPLETE)


def test_accept_predictions_and_export_them(project, db_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _predictions(project)
    code, out, err = _run(capsys, db_url, "accept-predictions", "1", "--fill-unlabelled-only")
    assert code == 0, err
    assert out.startswith(f"{CLIP}: accepted 1 predicted events, +")
    segs = [(s.class_name, s.start_frame, s.end_frame, str(s.source)) for s in project.segments.list(1)]
    assert segs[:2] == [("walk", 0, 30, "human"), ("run", 30, 45, "human")]  # untouched
    assert all(s[0] == "run" and s[3] == "accepted" for s in segs[2:]) and segs[2:]

    gt = tmp_path / "pred.json"
    code, out, err = _run(
        capsys, db_url, "export", "--format", "activitynet", "--predictions", "--out", str(gt)
    )
    assert code == 0, err
    doc = json.loads(gt.read_text(encoding="utf-8"))
    [detection] = doc["results"]["clip one"]
    assert (
        detection["label"] == "run"
        and 0.5 < detection["score"] <= 1
        and set(doc) >= {"version", "external_data"}
    )

    code, out, _ = _run(capsys, db_url, "export", "--format", "windows-csv", "--out", str(tmp_path / "w.csv"))
    assert (
        code == 0 and out.strip() == f"exported 14 windows of 1 videos to {tmp_path / 'w.csv'} (windows-csv)"
    )
    lines = (tmp_path / "w.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "video,video_hash,model_version,start_frame,end_frame,background,walk,run"
    assert lines[1].endswith(",1,0,16,0.9,0.05,0.05") and len(lines) == 15

    code, _, _ = _run(capsys, db_url, "export", "--format", "windows-npz", "--out", str(tmp_path / "w.npz"))
    with np.load(tmp_path / "w.npz") as npz:
        assert (
            code == 0
            and npz["probs"].shape == (14, 3)
            and list(npz["class_names"]) == ["background", "walk", "run"]
        )


def test_accept_predictions_without_any_is_one_line(project, db_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = _run(capsys, db_url, "accept-predictions", "--all")
    assert code != 0 and err.strip() == "error: No video has predictions from that model: run 'infer' first."


def test_import_dataset_labels_each_clip_with_its_folder(db_url: str, tmp_path: Path, capsys, store) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "ucf"
    write_mjpeg_avi(root / "Jumping Jack" / "v_1.avi", 6, size=(64, 48))
    write_mjpeg_avi(root / "Walk" / "v_2.avi", 8, size=(64, 48))
    code, out, err = _run(capsys, db_url, "import-dataset", str(root))
    assert code == 0, err
    assert out.strip() == "imported 2 clips of 2 classes (2 new)"
    got = sorted(
        (Path(v.path).name, s.class_name, s.start_frame, s.end_frame)
        for v in store.videos.list()
        for s in store.segments.list(v.id)
    )
    assert got == [("v_1.avi", "Jumping Jack", 0, 6), ("v_2.avi", "Walk", 0, 8)]


def test_import_dataset_of_a_missing_folder_is_one_line(db_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = _run(capsys, db_url, "import-dataset", str(tmp_path / "nope"))
    assert (
        code != 0
        and err.startswith("error: ")
        and "is not a folder" in err
        and len(err.strip().splitlines()) == 1
    )


def test_the_cli_accepts_and_exports_what_the_saved_post_processing_shows(
    project, db_url: str, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    """Settings tuned in the app's post-processing panel apply on the command line too: here
    "run" events must last 200 frames, so the ~48-frame one is neither accepted nor exported."""
    from core.analysis.postprocess import PostprocessParams
    from core.analysis.postprocess_settings import save_params

    _predictions(project)
    save_params(project, "run", PostprocessParams(min_length=200))
    code, out, err = _run(capsys, db_url, "accept-predictions", "1", "--fill-unlabelled-only")
    assert code == 0, err
    assert out.startswith(f"{CLIP}: accepted 0 predicted events, +0")
    gt = tmp_path / "pred.json"
    code, _, err = _run(
        capsys, db_url, "export", "--format", "activitynet", "--predictions", "--out", str(gt)
    )
    assert code == 0, err
    doc = json.loads(gt.read_text(encoding="utf-8"))
    found = [d["label"] for per_video in doc.get("results", {}).values() for d in per_video]
    found += [a["label"] for v in doc.get("database", {}).values() for a in v["annotations"]]
    assert found == []
