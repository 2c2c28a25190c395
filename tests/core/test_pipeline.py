"""The one analysis pipeline decodes a new video once: indexing rides on the analysing pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.analysis.pipeline import AnalysisProgress, analyse_videos
from core.analysis.run import LoadedModel
from core.media import video as video_module
from core.media.library import add_video
from core.model.device import DeviceChoice
from core.model.network import C3D_BN
from core.model.registry import ensure_active_model
from core.store import Store
from core.store.records import RunStatus
from tests.videos import write_mjpeg_avi

FRAMES = 40


def test_a_new_video_is_decoded_once_and_indexed_by_the_analysis(
    tmp_path: Path, store: Store, untrained_model: C3D_BN, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = add_video(store, write_mjpeg_avi(tmp_path / "v.avi", FRAMES, size=(112, 112)))
    assert not video.indexed
    grabs = [0]
    original = video_module._Decoder.grab

    def counting(self: video_module._Decoder) -> float | None:
        grabs[0] += 1
        return original(self)

    monkeypatch.setattr(video_module._Decoder, "grab", counting)
    version = ensure_active_model(store)
    loaded = LoadedModel(
        version, untrained_model, DeviceChoice(torch.device("cpu"), None, channels_last=False)
    )
    seen: list[AnalysisProgress] = []
    (result,) = analyse_videos(store, [video], loaded, stride=8, batch_size=4, on_progress=seen.append)
    assert result.status is RunStatus.COMPLETE
    assert store.videos.get(video.id).frame_count == FRAMES  # indexed on the way
    assert grabs[0] < 1.25 * FRAMES  # once (plus a few header probes); indexing first would double it
    assert seen and all(p.video_id == video.id and p.video_total == 1 for p in seen)


def test_indexing_first_as_the_app_used_to_decodes_twice(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The yardstick for the bound above: an index pass alone already costs a full decode."""
    from core.labels.overview import ensure_indexed

    video = add_video(store, write_mjpeg_avi(tmp_path / "v.avi", FRAMES, size=(112, 112)))
    grabs = [0]
    original = video_module._Decoder.grab

    def counting(self: video_module._Decoder) -> float | None:
        grabs[0] += 1
        return original(self)

    monkeypatch.setattr(video_module._Decoder, "grab", counting)
    ensure_indexed(store, video)
    assert grabs[0] >= FRAMES
