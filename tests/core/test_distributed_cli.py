"""`train --nproc 2` end to end: torchrun, two gloo ranks on the real network, one model registered."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.analysis.run import LoadedModel, analyse_video
from core.media.demo import DEMO_CLASSES, generate_demo_video, label_prefix
from core.media.library import add_video
from core.model.device import DeviceChoice
from core.model.network import BN_LAYERS
from core.model.registry import ensure_active_model, load_version
from core.store import open_store
from core.store.records import NewSegment
from main import main

pytestmark = pytest.mark.slow
CPU = DeviceChoice(torch.device("cpu"), None, channels_last=True)


@pytest.fixture
def project(tmp_path: Path):  # type: ignore[no-untyped-def]
    demo = generate_demo_video(
        tmp_path / "tiny.avi", seconds=96 / 25, fps=25, size=(112, 112), seed=1,
        min_event_s=0.6, max_event_s=0.9, min_gap_s=0.5, max_gap_s=0.7,
    )  # fmt: skip
    url = f"sqlite:///{tmp_path / 'labels.sqlite3'}"
    with open_store(url) as store:
        for name in DEMO_CLASSES:
            store.classes.add(name)
        video = add_video(store, demo.path)
        ids = {c.name: c.id for c in store.classes.list()}
        segments = [
            NewSegment(ids[e.class_name], e.start_frame, e.end_frame) for e in label_prefix(demo, 1.0)
        ]
        store.segments.paint(video.id, segments)
        untrained = ensure_active_model(store)
        model, _ = load_version(store, untrained)
        analyse_video(store, video, LoadedModel(untrained, model, CPU), stride=8, batch_size=4)
    return url, untrained.id


def test_last_layers_on_two_processes_registers_one_model(project, capfd) -> None:  # type: ignore[no-untyped-def]
    url, parent = project
    args = ["train", "--mode", "last-layers", "--epochs", "1", "--batch", "4", "--model", str(parent)]
    code = main(["--db", url, *args, "--device", "cpu", "--nproc", "2"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert "1 epochs on 2 processes" in out
    with open_store(url) as store:
        versions = store.models.list()
        trained = [v for v in versions if v.parent_id == parent]
        assert len(trained) == 1  # rank 0 registered it; rank 1 did not
        assert trained[0].mode == "last-layers"
        assert not list((Path(store.files_dir) / "training").glob("*/state.safetensors"))  # cleaned up


def test_full_mode_on_two_processes_keeps_bn_statistics_on_cpus(project, capfd) -> None:  # type: ignore[no-untyped-def]
    url, parent = project
    args = ["train", "--mode", "full", "--epochs", "1", "--batch", "2", "--model", str(parent)]
    code = main(["--db", url, *args, "--device", "cpu", "--nproc", "2"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert "on 2 processes" in out
    with open_store(url) as store:
        (trained,) = [v for v in store.models.list() if v.parent_id == parent]
        before, _ = load_version(store, store.models.get(parent))
        after, _ = load_version(store, trained)  # loads as the seed's C3D_BN
    # gloo has no SyncBatchNorm: BN statistics stay frozen rather than drift apart per rank.
    for name in BN_LAYERS:
        assert torch.equal(getattr(before, name).running_mean, getattr(after, name).running_mean)
    assert not torch.equal(before.conv1.weight, after.conv1.weight)  # every layer trained
