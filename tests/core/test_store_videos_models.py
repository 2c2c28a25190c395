"""Videos (lookup, index, relink, cascading removal) and model versions (state, active model)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from core.errors import StoreError
from core.model.spec import DEFAULT_SPEC
from core.store import Store, open_store
from core.store.records import ModelState, NewSegment


@pytest.fixture
def store(backend_url: str) -> Iterator[Store]:
    with open_store(backend_url) as opened:
        yield opened


def add_model(store: Store, name: str = "m1", parent_id: int | None = None) -> int:
    return store.models.add(
        name,
        "ckpt/m1.safetensors",
        ["background", "walk"],
        DEFAULT_SPEC.to_json(),
        "trunk",
        ModelState.READY,
        parent_id=parent_id,
    ).id


def test_add_is_idempotent_per_path_and_find_accepts_ids_and_paths(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    video = store.videos.add("clips/a.mp4", "abc", 640, 480, 29.97, 300)
    assert video.path == str(tmp_path / "clips" / "a.mp4")
    assert store.videos.add(tmp_path / "clips" / "a.mp4", "other", 1, 1, 1.0, 1) == video
    assert store.videos.find(str(video.id)) == video
    assert store.videos.find("clips/a.mp4") == video
    assert store.videos.find(str(tmp_path / "clips" / "a.mp4")) == video
    assert store.videos.find("nothing.mp4") is None
    assert store.videos.find_by_hash("abc") == video
    assert store.videos.find_by_hash("zzz") is None
    assert store.videos.list() == [video]
    assert not video.indexed and video.best_frame_count == 300


def test_set_index_round_trips_timestamps(store: Store) -> None:
    video = store.videos.add("/v/a.mp4", "abc", 64, 48, 25.0, 5)
    stamps = np.array([0.0, 0.04, 0.0801, 0.12, 0.16])
    indexed = store.videos.set_index(video.id, 5, stamps)
    assert indexed.indexed and indexed.frame_count == 5
    np.testing.assert_array_equal(store.videos.get(video.id).timestamps_s, stamps)
    with pytest.raises(StoreError, match="inconsistent"):
        store.videos.set_index(video.id, 6, stamps)


def test_relink_keeps_labels_and_refuses_a_taken_path(store: Store) -> None:
    a = store.videos.add("/v/a.mp4", "abc", 64, 48, 25.0, 100)
    store.videos.add("/v/b.mp4", "def", 64, 48, 25.0, 100)
    store.segments.add(a.id, NewSegment(store.classes.list()[0].id, 0, 10))
    moved = store.videos.relink(a.id, "/elsewhere/a.mp4")
    assert moved.path == "/elsewhere/a.mp4" and moved.id == a.id
    assert len(store.segments.list(a.id)) == 1
    with pytest.raises(StoreError, match="already in the project"):
        store.videos.relink(a.id, "/v/b.mp4")


def test_removing_a_video_cascades_to_segments_and_runs(store: Store) -> None:
    video = store.videos.add("/v/a.mp4", "abc", 64, 48, 25.0, 100)
    keep = store.videos.add("/v/b.mp4", "def", 64, 48, 25.0, 100)
    background = store.classes.list()[0].id
    for v in (video, keep):
        store.segments.add(v.id, NewSegment(background, 0, 10))
    model = add_model(store)
    run = store.predictions.start_run(video.id, model, 8, 3)
    store.predictions.add_windows(run.id, np.array([0, 8]), np.full((2, 2), 0.5, np.float32))
    store.videos.remove(video.id)
    with store.engine.connect() as conn:
        counts = [
            conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("segments", "prediction_runs", "window_predictions")
        ]
    assert counts == [1, 0, 0]
    assert store.predictions.latest_run(video.id) is None
    with pytest.raises(StoreError, match="no video with id"):
        store.videos.get(video.id)
    with pytest.raises(StoreError, match="removed already"):
        store.videos.remove(video.id)


def test_model_versions_keep_their_metadata(store: Store) -> None:
    parent = add_model(store, "base")
    child = store.models.add(
        "tuned",
        "ckpt/t.safetensors",
        ("background", "walk", "run"),
        DEFAULT_SPEC.to_json(),
        "trunk",
        ModelState.TRAINING,
        parent_id=parent,
        mode="last-layers",
        summary={"epochs": 3},
    )
    assert child.class_names == ("background", "walk", "run")
    assert child.parent_id == parent and child.mode == "last-layers"
    assert child.summary == {"epochs": 3} and child.metrics == {}
    assert child.created_at.tzinfo is UTC
    ready = store.models.set_state(child.id, ModelState.READY, metrics={"f1": 0.8})
    assert ready.state is ModelState.READY and ready.metrics == {"f1": 0.8}
    assert store.models.get(child.id) == ready
    assert [m.name for m in store.models.list()] == ["base", "tuned"]
    with pytest.raises(StoreError, match="no model version"):
        store.models.add("orphan", "x", ["background"], "{}", "t", ModelState.READY, parent_id=999)


def test_active_model(store: Store) -> None:
    assert store.models.active() is None
    model = add_model(store)
    store.models.set_active(model)
    active = store.models.active()
    assert active is not None and active.id == model
    store.models.set_active(None)
    assert store.models.active() is None
    with pytest.raises(StoreError, match="no model version with id 42"):
        store.models.set_active(42)
