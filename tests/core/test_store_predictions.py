"""Prediction runs (resumable, idempotent window writes) and the feature cache index."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from core.errors import StoreError
from core.model.spec import DEFAULT_SPEC
from core.store import Store, open_store
from core.store.records import ModelState, RunStatus


@pytest.fixture
def url(backend_url: str) -> str:
    return backend_url


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    with open_store(url) as opened:
        yield opened


@pytest.fixture
def pair(store: Store) -> tuple[int, int]:
    video = store.videos.add("/v/a.mp4", "abc", 64, 48, 25.0, 1000)
    model = store.models.add(
        "m", "m.safetensors", ["background", "walk", "run"], DEFAULT_SPEC.to_json(), "trunk", ModelState.READY
    )
    return video.id, model.id


def probs(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 3), dtype=np.float32)


def test_windows_round_trip_sorted(store: Store, pair: tuple[int, int]) -> None:
    run = store.predictions.start_run(*pair, stride=8, windows_total=4)
    assert (run.status, run.windows_done) == (RunStatus.RUNNING, 0)
    starts, empty = store.predictions.windows(run.id)
    assert starts.shape == (0,) and empty.shape == (0, 3)
    p = probs(4)
    store.predictions.add_windows(run.id, np.array([16, 0]), p[:2])
    done = store.predictions.add_windows(run.id, np.array([24, 8]), p[2:])
    assert done.windows_done == 4
    starts, got = store.predictions.windows(run.id)
    np.testing.assert_array_equal(starts, [0, 8, 16, 24])
    np.testing.assert_array_equal(got, p[[1, 3, 0, 2]])
    assert got.dtype == np.float32


def test_add_windows_is_idempotent(store: Store, pair: tuple[int, int]) -> None:
    run = store.predictions.start_run(*pair, stride=8, windows_total=3)
    store.predictions.add_windows(run.id, np.array([0, 8]), probs(2))
    again = store.predictions.add_windows(run.id, np.array([8, 16, 16]), probs(3, seed=1))
    assert again.windows_done == 3
    assert store.predictions.done_starts(run.id) == {0, 8, 16}
    with pytest.raises(StoreError, match="do not line up"):
        store.predictions.add_windows(run.id, np.array([0]), probs(2))


def test_run_resumes_after_reopening(url: str, pair: tuple[int, int], store: Store) -> None:
    run = store.predictions.start_run(*pair, stride=8, windows_total=10)
    store.predictions.add_windows(run.id, np.array([0, 8, 16]), probs(3))
    store.predictions.finish(run.id, RunStatus.CANCELLED)
    store.close()
    with open_store(url) as reopened:
        assert reopened.predictions.get(run.id).status is RunStatus.CANCELLED
        resumed = reopened.predictions.start_run(*pair, stride=8, windows_total=10)
        assert resumed.id == run.id
        assert (resumed.status, resumed.windows_done) == (RunStatus.RUNNING, 3)
        assert reopened.predictions.done_starts(run.id) == {0, 8, 16}
        other = reopened.predictions.start_run(*pair, stride=4, windows_total=20)
        assert other.id != run.id


def test_replace_windows_and_run_lookup(store: Store, pair: tuple[int, int]) -> None:
    video, model = pair
    first = store.predictions.start_run(video, model, stride=8, windows_total=3)
    store.predictions.add_windows(first.id, np.array([0, 8, 16]), probs(3))
    second = store.predictions.start_run(video, model, stride=4, windows_total=2)
    replaced = store.predictions.replace_windows(second.id, np.array([4, 0]), probs(2, seed=2))
    assert replaced.windows_done == 2
    np.testing.assert_array_equal(store.predictions.windows(second.id)[0], [0, 4])
    store.predictions.finish(second.id, RunStatus.COMPLETE)
    latest = store.predictions.latest_run(video, model)
    assert latest is not None and latest.id == second.id and latest.status is RunStatus.COMPLETE
    assert [r.id for r in store.predictions.runs_for_model(model)] == [first.id, second.id]
    assert store.predictions.latest_run(video, model_version_id=999) is None


def test_start_run_validates(store: Store, pair: tuple[int, int]) -> None:
    with pytest.raises(StoreError, match="stride"):
        store.predictions.start_run(*pair, stride=0, windows_total=1)
    with pytest.raises(StoreError, match="no video"):
        store.predictions.start_run(999, pair[1], stride=8, windows_total=1)


def test_feature_cache_index(store: Store) -> None:
    key = ("video", "trunk-a", "spec", 8, "fc7")
    assert store.features.get(*key) is None
    entry = store.features.put(*key, path="f/a.npy", windows=10, complete=False)
    updated = store.features.put(*key, path="f/a.npy", windows=20, complete=True)
    assert updated.id == entry.id and updated.complete and updated.windows == 20
    assert store.features.get(*key) == updated
    other = store.features.put(
        "video", "trunk-b", "spec", 8, "pool5", path="f/b.npy", windows=5, complete=True
    )
    assert store.features.list() == [updated, other]
    assert store.features.remove_stale({"trunk-b"}) == [updated]
    assert store.features.list() == [other]
    assert store.features.clear() == [other]
    assert store.features.list() == []
