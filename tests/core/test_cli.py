"""The command line end to end on a generated video: infer → segments add → export, checked
field by field; user errors exit non-zero with one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from core.media.demo import generate_demo_video
from main import main


@pytest.fixture
def demo(tmp_path: Path):  # type: ignore[no-untyped-def]
    return generate_demo_video(tmp_path / "demo clip.avi", seconds=2.0, fps=25, size=(160, 120), seed=2)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_infer_label_and_export_both_formats(tmp_path: Path, demo, db_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = _run(capsys, "--db", db_url, "infer", str(demo.path), "--batch", "4", "--device", "cpu")
    assert code == 0, err
    assert "UNTRAINED" in out
    assert f"{demo.path.name}: complete, 6/6 windows, 50 frames" in out
    assert "windows" in err  # the progress bar

    assert _run(capsys, "--db", db_url, "classes", "add", "flash")[0] == 0
    code, out, err = _run(capsys, "--db", db_url, "segments", "add", str(demo.path), "10", "35", "flash")
    assert code == 0, err
    code, out, _ = _run(capsys, "--db", db_url, "segments", "add", "1", "0", "10", "background")
    assert code == 0

    csv_path = tmp_path / "out" / "labels.csv"
    assert _run(capsys, "--db", db_url, "export", "--format", "csv", "--out", str(csv_path))[0] == 0
    with csv_path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["class"], r["start_frame"], r["end_frame"], r["source"]) for r in rows] == [
        ("background", "0", "10", "human"),
        ("flash", "10", "35", "human"),
    ]
    flash = rows[1]
    assert flash["video"] == str(demo.path.resolve())
    assert flash["video_hash"].startswith("fp1:")
    assert float(flash["start_s"]) == pytest.approx(10 / 25, abs=1e-4)
    assert float(flash["end_s"]) == pytest.approx(35 / 25, abs=1e-4)
    assert float(flash["fps"]) == pytest.approx(25.0)

    json_path = tmp_path / "out" / "gt.json"
    assert _run(capsys, "--db", db_url, "export", "--format", "activitynet", "--out", str(json_path))[0] == 0
    gt = json.loads(json_path.read_text(encoding="utf-8"))
    entry = gt["database"]["demo clip"]
    assert entry["frames"] == 50 and entry["fps"] == pytest.approx(25.0)
    assert entry["duration"] == pytest.approx(2.0, abs=1e-4)
    assert entry["subset"] == "training"
    assert entry["annotations"] == [{"segment": [0.4, 1.4], "label": "flash", "frames": [10, 35]}]
    assert [t["nodeName"] for t in gt["taxonomy"]] == ["flash"]
    assert set(gt) == {"version", "taxonomy", "database"}


def test_rerunning_infer_resumes_instead_of_recomputing(
    tmp_path: Path, demo, db_url: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Ctrl+C after the first batch, then re-run: only the missing windows go through the network."""
    import core.analysis.inference as inference
    import core.cli.infer_cmd as infer_cmd
    from core.store import open_store

    computed: list[int] = []  # windows whose results the network handed back
    window_batch = inference._window_batch

    def counting(item, out):  # type: ignore[no-untyped-def]
        computed.extend(item.starts)
        return window_batch(item, out)

    def ctrl_c(*_args: object) -> None:
        raise KeyboardInterrupt

    def stored() -> dict[int, list[float]]:
        with open_store(db_url) as store:
            run = store.predictions.latest_run(1)
            assert run is not None
            starts, probs = store.predictions.windows(run.id)
        return {int(s): p.tolist() for s, p in zip(starts, probs, strict=True)}

    monkeypatch.setattr(inference, "_window_batch", counting)
    with monkeypatch.context() as interrupted:
        interrupted.setattr(infer_cmd, "progress_bar", ctrl_c)  # the user presses Ctrl+C
        code, _, err = _run(
            capsys, "--db", db_url, "infer", str(demo.path), "--batch", "2", "--device", "cpu"
        )
    assert code == 130 and "a re-run resumes" in err
    first = stored()
    assert sorted(first) == sorted(computed) and len(first) == 2

    computed.clear()
    code, out, _ = _run(capsys, "--db", db_url, "infer", str(demo.path), "--batch", "2", "--device", "cpu")
    assert code == 0 and "complete, 6/6 windows" in out
    assert len(computed) == 4 and not set(computed) & set(first)  # the stored two were not recomputed
    after = stored()
    assert len(after) == 6 and {s: after[s] for s in first} == first

    computed.clear()
    code, out, _ = _run(capsys, "--db", db_url, "infer", str(demo.path), "--device", "cpu")
    assert code == 0 and "complete, 6/6 windows" in out
    assert computed == []  # a finished run is not computed again


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["infer", "/nonexistent/video.mp4"], "does not exist"),
        (["segments", "add", "42", "0", "10", "background"], "No video '42'"),
        (["classes", "remove", "nope"], "No class named 'nope'"),
        (["export", "--format", "csv", "--video", "7"], "No video '7'"),
        (["import-weights", "/nonexistent/weights.safetensors"], "weights.safetensors"),
    ],
)
def test_user_errors_exit_non_zero_with_one_clear_line(
    db_url: str, capsys, argv: list[str], words: str
) -> None:  # type: ignore[no-untyped-def]
    code, _, err = _run(capsys, "--db", db_url, *argv)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert words in lines[0]
    assert "Traceback" not in err


def test_segment_outside_the_video_is_refused(tmp_path: Path, demo, db_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    """Checked once the true frame count is known (the first analysis records it, as here)."""
    import numpy as np

    from core.store import open_store

    assert _run(capsys, "--db", db_url, "videos", "add", str(demo.path))[0] == 0
    frames = demo.frame_count  # 50
    with open_store(db_url) as store:
        store.videos.set_index(1, frames, np.arange(frames) / 25.0)
        store.classes.add("flash")
    for start, end in ((frames - 5, frames + 5), (frames, frames + 10)):
        code, _, err = _run(
            capsys, "--db", db_url, "segments", "add", "1", str(start), str(end), "background"
        )
        assert code != 0 and err.startswith("error: ") and "Traceback" not in err
    assert _run(capsys, "--db", db_url, "segments", "list", "1")[1] == ""  # nothing was stored
    code, _, err = _run(
        capsys, "--db", db_url, "segments", "add", "1", str(frames - 5), str(frames), "background"
    )
    assert code == 0, err  # the last frames themselves are fine


def test_db_env_var_selects_the_store(tmp_path: Path, demo, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'env.sqlite3'}"
    monkeypatch.setenv("C3D_LABELLER_DB", url)
    assert _run(capsys, "videos", "add", str(demo.path))[0] == 0
    assert (tmp_path / "env.sqlite3").exists()
    code, out, _ = _run(capsys, "videos", "list")
    assert code == 0 and "demo clip.avi" in out


def test_import_weights_registers_a_checkpoint_that_infer_can_use(
    tmp_path: Path, demo, db_url: str, capsys
) -> None:  # type: ignore[no-untyped-def]
    from core.model.checkpoint import CheckpointMeta, save_checkpoint
    from core.model.network import new_model
    from core.model.spec import DEFAULT_SPEC

    path = tmp_path / "mine.safetensors"
    meta = CheckpointMeta.create(("background", "flash"), DEFAULT_SPEC, name="mine")
    save_checkpoint(path, new_model(2, seed=7), meta)
    code, out, err = _run(capsys, "--db", db_url, "import-weights", str(path))
    assert code == 0, err
    assert "imported model #1 mine (2 classes)" in out
    code, out, _ = _run(capsys, "--db", db_url, "models")
    assert code == 0 and "mine\tready\timport" in out
    code, out, err = _run(capsys, "--db", db_url, "infer", str(demo.path), "--model", "1", "--device", "cpu")
    assert code == 0, err
    assert "UNTRAINED" not in out and "model #1 mine" in out
