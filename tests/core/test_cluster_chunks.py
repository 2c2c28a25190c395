"""Chunk planning and chunk computation, without Ray: chunks reproduce a local analysis exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.analysis.run import LoadedModel, analyse_video
from core.analysis.windows import window_starts
from core.cluster.chunks import plan_video
from core.cluster.worker import compute_chunk
from core.learning.feature_cache import FeatureCache, feature_key
from core.media.library import add_video
from core.model.device import DeviceChoice
from core.model.registry import ensure_active_model, load_version
from core.store import open_store
from tests.videos import write_mjpeg_avi

CPU = DeviceChoice(torch.device("cpu"), None, channels_last=True)


def test_chunks_cover_exactly_the_missing_windows_in_runs_of_at_most_n() -> None:
    starts = window_starts(100, 16, 8).tolist()  # 0, 8, ..., 80, 84
    done = {16, 24, 56}
    chunks = plan_video(1, 7, 100, done, window=16, stride=8, chunk_windows=3)
    got = [s for c in chunks for s in c.starts]
    assert sorted(got) == [s for s in starts if s not in done]
    assert len(got) == len(set(got))
    assert all(len(c.starts) <= 3 for c in chunks)
    for c in chunks:  # consecutive windows only, decoding from the stride grid to the last window's end
        assert [starts.index(s) for s in c.starts] == list(
            range(starts.index(c.starts[0]), starts.index(c.starts[-1]) + 1)
        )
        assert c.first_frame % 8 == 0 and c.first_frame <= c.starts[0]
        assert c.end_frame == min(c.starts[-1] + 16, 100)
    assert chunks[-1].starts[-1] == 84  # the end-aligned window


def test_a_video_of_unknown_length_is_one_chunk_to_its_true_end() -> None:
    (chunk,) = plan_video(1, 7, None, {0, 8}, window=16, stride=8, chunk_windows=3)
    assert chunk.whole_video and chunk.first_frame == 0 and set(chunk.skip) == {0, 8}


def test_nothing_to_plan_when_every_window_is_stored() -> None:
    assert plan_video(1, 7, 40, set(window_starts(40, 16, 8).tolist()), window=16, stride=8) == []


@pytest.mark.slow
def test_chunks_computed_apart_equal_one_local_analysis(tmp_path: Path) -> None:
    """Windows computed chunk by chunk (as cluster workers do) match a whole-video run."""
    path = write_mjpeg_avi(tmp_path / "v.avi", 60, size=(112, 112))  # starts 0..40 and 44
    local = open_store(f"sqlite:///{tmp_path / 'local.sqlite3'}")
    chunked = open_store(f"sqlite:///{tmp_path / 'chunked.sqlite3'}")
    results = []
    for store in (local, chunked):
        version = ensure_active_model(store)
        model, _ = load_version(store, version)
        results.append((store, add_video(store, path), LoadedModel(version, model, CPU)))
    (_, lv, lloaded), (_, cv, cloaded) = results
    run = analyse_video(local, lv, lloaded, stride=8, batch_size=4)
    cv = analyse_index_only(chunked, cv)
    crun = chunked.predictions.start_run(cv.id, cloaded.version.id, 8, 7)
    for chunk in plan_video(cv.id, crun.id, cv.frame_count, set(), window=16, stride=8, chunk_windows=3):
        compute_chunk(chunked, cloaded, chunk, stride=8, batch_size=2)
    ls, lp = local.predictions.windows(run.run_id)
    cs, cp = chunked.predictions.windows(crun.id)
    assert cs.tolist() == ls.tolist() == window_starts(60, 16, 8).tolist()
    assert float(np.abs(cp - lp).max()) <= 1e-5
    key = feature_key(cv, cloaded.trunk_hashes["fc7"], cloaded.spec, 8, "fc7")
    cached = FeatureCache(chunked).load(key)
    assert cached is not None and cached.starts.tolist() == ls.tolist()
    local.close()
    chunked.close()


def analyse_index_only(store, video):  # type: ignore[no-untyped-def]
    """Index the video as a first decode would, so it can be cut into chunks."""
    from core.media.library import open_reader

    with open_reader(video) as reader:
        index = reader.build_index()
    return store.videos.set_index(video.id, index.frame_count, np.asarray(index.timestamps_s))
