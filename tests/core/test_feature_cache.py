"""The feature cache on its own: parts while filling, one file when complete, keys that never go stale."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.learning.feature_cache import FeatureCache, FeatureKey, spec_hash
from core.model.spec import DEFAULT_SPEC, SPORTS1M_SPEC

KEY = FeatureKey("fp1:video", "trunk-a", spec_hash(DEFAULT_SPEC), 8, "fc7")


def _feats(starts: list[int]) -> np.ndarray:
    return np.stack([np.full(4096, s / 100, dtype=np.float16) for s in starts])


def test_batches_resume_then_merge_into_one_file(store) -> None:  # type: ignore[no-untyped-def]
    cache = FeatureCache(store)
    writer = cache.writer(KEY)
    writer.add(np.array([0, 8]), _feats([0, 8]))
    partial = cache.load(KEY)
    assert partial is not None and not partial.complete
    assert cache.done_starts(KEY) == {0, 8}

    again = cache.writer(KEY)  # a resumed analysis: picks up the count, adds the rest (one repeated)
    again.add(np.array([16, 8]), _feats([16, 8]))
    again.finish()
    done = cache.load(KEY)
    assert done is not None and done.complete
    assert done.starts.tolist() == [0, 8, 16]
    assert done.features.dtype == np.float16
    np.testing.assert_allclose(done.features[:, 0], [0.0, 0.08, 0.16], atol=1e-3)
    folder = Path(store.features.list()[0].path)
    assert [p.name for p in folder.iterdir()] == ["features.npz"]
    assert store.features.list()[0].windows == 3


def test_any_change_of_trunk_spec_or_stride_misses(store) -> None:  # type: ignore[no-untyped-def]
    cache = FeatureCache(store)
    cache.store_complete(KEY, np.array([0]), _feats([0]))
    assert cache.load(KEY) is not None
    for other in (
        FeatureKey(KEY.video_hash, "trunk-b", KEY.spec_hash, 8, "fc7"),
        FeatureKey(KEY.video_hash, KEY.trunk_hash, spec_hash(SPORTS1M_SPEC), 8, "fc7"),
        FeatureKey(KEY.video_hash, KEY.trunk_hash, KEY.spec_hash, 4, "fc7"),
        FeatureKey("fp1:other", KEY.trunk_hash, KEY.spec_hash, 8, "fc7"),
    ):
        assert cache.load(other) is None


def test_clear_removes_entries_and_files(store) -> None:  # type: ignore[no-untyped-def]
    cache = FeatureCache(store)
    cache.store_complete(KEY, np.array([0, 8]), _feats([0, 8]))
    assert cache.size_bytes() > 0
    assert cache.clear() == 1
    assert store.features.list() == []
    assert not cache.root.exists()
    assert cache.load(KEY) is None


def test_a_deleted_folder_is_a_miss_not_a_crash(store) -> None:  # type: ignore[no-untyped-def]
    cache = FeatureCache(store)
    cache.store_complete(KEY, np.array([0]), _feats([0]))
    for path in cache.root.rglob("*.npz"):
        path.unlink()
    for folder in cache.root.iterdir():
        folder.rmdir()
    assert cache.load(KEY) is None
