"""Analysis runs that go wrong: Ctrl+C records `cancelled`, a model that gives NaN fails the run
in one line and no NaN probability reaches the store."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.analysis.run import LoadedModel, analyse_video
from core.errors import InferenceError
from core.media.library import add_video
from core.model.device import DeviceChoice
from core.model.registry import ensure_active_model, load_version
from core.store import open_store
from core.store.records import RunStatus
from main import main
from tests.videos import write_mjpeg_avi

CPU = DeviceChoice(torch.device("cpu"), None, channels_last=True)


def test_ctrl_c_during_infer_records_the_run_as_cancelled(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = write_mjpeg_avi(tmp_path / "v.avi", 32, size=(112, 112))

    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("core.cli.infer_cmd.progress_bar", interrupted)
    code = main(["--db", db_url, "infer", str(clip), "--batch", "1", "--device", "cpu"])
    _, err = capsys.readouterr()
    assert code == 130 and "interrupted" in err and "Traceback" not in err
    with open_store(db_url) as store:
        (video,) = store.videos.list()
        run = store.predictions.latest_run(video.id)
        assert run is not None and run.status is RunStatus.CANCELLED


def test_a_model_giving_nan_fails_the_run_and_stores_no_nan(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    video = add_video(store, write_mjpeg_avi(tmp_path / "v.avi", 32, size=(112, 112)))
    version = ensure_active_model(store)
    model, _ = load_version(store, version)
    with torch.no_grad():
        model.fc8.bias.fill_(float("nan"))
    loaded = LoadedModel(version, model, CPU)
    with pytest.raises(InferenceError, match="NaN") as raised:
        analyse_video(store, video, loaded, stride=8, batch_size=2, cache_features=False)
    assert "\n" not in str(raised.value)
    run = store.predictions.latest_run(video.id)
    assert run is not None and run.status is RunStatus.FAILED
    starts, probs = store.predictions.windows(run.id)
    assert len(starts) == 0 and probs.size == 0


def test_videos_add_folder_adds_every_good_file_and_lists_every_bad_one(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    write_mjpeg_avi(folder / "a.avi", 8, size=(64, 48))
    (folder / "b.mp4").write_bytes(b"not a video at all" * 50)
    write_mjpeg_avi(folder / "c.avi", 8, size=(64, 48))
    (folder / "d.mkv").write_bytes(b"")
    code = main(["--db", db_url, "videos", "add", str(folder)])
    out, err = capsys.readouterr()
    assert code != 0
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "2 of 4 files could not be added" in err
    bad = [line for line in out.splitlines() if line.startswith("not added")]
    assert [line.split("\t")[1] for line in bad] == [str(folder / "b.mp4"), str(folder / "d.mkv")]
    assert all(line.split("\t")[2] for line in bad)  # each with its reason
    with open_store(db_url) as store:
        assert sorted(Path(v.path).name for v in store.videos.list()) == ["a.avi", "c.avi"]
