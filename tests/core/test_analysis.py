"""Analysis writes to the store batch by batch: a cancelled run keeps its windows and resumes."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch

from core.analysis.run import LoadedModel, analyse_video
from core.analysis.windows import window_starts
from core.media.library import add_video
from core.model.device import DeviceChoice
from core.model.registry import ensure_active_model, load_version
from core.store.records import RunStatus
from tests.videos import write_mjpeg_avi

CPU = DeviceChoice(torch.device("cpu"), None, channels_last=True)


def _loaded(store) -> LoadedModel:  # type: ignore[no-untyped-def]
    version = ensure_active_model(store)
    model, _ = load_version(store, version)
    return LoadedModel(version, model, CPU)


def test_cancelled_run_keeps_its_windows_and_a_rerun_resumes(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    video = add_video(store, write_mjpeg_avi(tmp_path / "v.avi", 48, size=(112, 112)))
    loaded = _loaded(store)
    cancel = threading.Event()
    first: list[int] = []

    def stop_after_first(batch) -> None:  # type: ignore[no-untyped-def]
        first.extend(batch.starts.tolist())
        cancel.set()

    result = analyse_video(
        store, video, loaded, stride=8, batch_size=2, cancel=cancel, on_batch=stop_after_first
    )
    assert result.status is RunStatus.CANCELLED
    assert first == [0, 8]
    assert store.predictions.done_starts(result.run_id) == {0, 8}

    again: list[int] = []
    result2 = analyse_video(
        store, video, loaded, stride=8, batch_size=2, on_batch=lambda b: again.extend(b.starts)
    )
    assert result2.run_id == result.run_id
    assert result2.status is RunStatus.COMPLETE
    assert again == [16, 24, 32]  # only what was missing was computed
    starts, probs = store.predictions.windows(result.run_id)
    assert starts.tolist() == window_starts(48).tolist()
    assert probs.shape == (5, len(loaded.version.class_names))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_first_analysis_records_the_true_frame_count_and_timestamps(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    video = add_video(store, write_mjpeg_avi(tmp_path / "v.avi", 20, size=(112, 112), fps=10.0))
    assert not video.indexed
    result = analyse_video(store, video, _loaded(store), stride=8, batch_size=4)
    indexed = store.videos.get(video.id)
    assert indexed.frame_count == 20 == result.frame_count
    np.testing.assert_allclose(indexed.timestamps_s, np.arange(20) / 10.0, atol=1e-3)
    assert result.windows_total == result.windows_done == 2


def test_short_video_gets_one_padded_window_and_says_so(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    video = add_video(store, write_mjpeg_avi(tmp_path / "short.avi", 6, size=(112, 112)))
    loaded = _loaded(store)
    result = analyse_video(store, video, loaded, stride=8, batch_size=4)
    assert result.padded and result.windows_done == 1
    assert "padded" in result.summary("short.avi", loaded.label)
    assert "UNTRAINED" in loaded.label


def test_file_that_decodes_partway_gets_windows_up_to_where_frames_end(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    from tests.videos import truncate_copy, write_h264_bframes

    whole = write_h264_bframes(tmp_path / "whole.mp4", 96, (112, 112), faststart=True)
    partial = truncate_copy(whole, tmp_path / "partial.mp4", 0.5)
    video = add_video(store, partial)
    assert video.header_frame_count == 96  # the header still promises every frame
    result = analyse_video(store, video, _loaded(store), stride=8, batch_size=8)
    assert result.status is RunStatus.COMPLETE
    assert 16 <= result.frame_count < 96
    starts, _ = store.predictions.windows(result.run_id)
    assert starts.tolist() == window_starts(result.frame_count).tolist()
    assert int(starts[-1]) + 16 == result.frame_count  # the last window ends where the frames end
    assert store.videos.get(video.id).frame_count == result.frame_count


def test_rerunning_a_complete_analysis_decodes_nothing(tmp_path: Path, store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    video = add_video(store, write_mjpeg_avi(tmp_path / "v.avi", 24, size=(112, 112)))
    loaded = _loaded(store)
    first = analyse_video(store, video, loaded, stride=8, batch_size=4)
    assert first.status is RunStatus.COMPLETE

    def no_decoding(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("a complete run was decoded again")

    monkeypatch.setattr("core.analysis.run.infer_windows", no_decoding)
    again = analyse_video(store, store.videos.get(video.id), loaded, stride=8, batch_size=4)
    assert again.status is RunStatus.COMPLETE and again.run_id == first.run_id
    assert again.windows_done == again.windows_total == 2


def test_a_model_with_a_learnt_decoder_decodes_new_videos_like_the_rescored_ones(
    tmp_path: Path,
    store,  # type: ignore[no-untyped-def]
) -> None:
    """A `features` run keeps an HMM in its summary; a video analysed later must get it too."""
    from dataclasses import replace

    from core.learning.decoding import Decoder, decode

    raw_video = add_video(store, write_mjpeg_avi(tmp_path / "a.avi", 48, size=(112, 112)))
    new_video = add_video(store, write_mjpeg_avi(tmp_path / "b.avi", 48, size=(112, 112)))
    for name in ("walk", "run"):
        store.classes.add(name)
    loaded = _loaded(store)
    n = len(loaded.version.class_names)
    stay = np.eye(n) * 0.9 + (1 - np.eye(n)) * (0.1 / (n - 1))
    sticky = Decoder(stay, np.full(n, 1 / n))
    version = replace(loaded.version, summary={"decoder": sticky.to_json()})
    with_decoder = LoadedModel(version, loaded.model, CPU)

    raw = analyse_video(store, raw_video, loaded, stride=8, batch_size=4)
    decoded = analyse_video(store, new_video, with_decoder, stride=8, batch_size=4)

    _, raw_probs = store.predictions.windows(raw.run_id)
    _, stored = store.predictions.windows(decoded.run_id)
    expected = decode(raw_probs, Decoder.from_json(sticky.to_json()))
    np.testing.assert_allclose(stored, expected, atol=1e-5)
    assert not np.allclose(stored, raw_probs, atol=1e-4)  # the decoder really changed something
