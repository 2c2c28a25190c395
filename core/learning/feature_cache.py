"""Cached pool5/fc7 activations, so training a head never decodes a video again.

Features depend on the video's content, the frozen part's weights, the preprocessing, the
stride and the layer; all five make up the key, so a trunk changed by a ``full`` run simply
finds no entry (stale files are never read). Each entry is a folder beside the database:
while inference runs, every batch lands in its own small ``part-*.npz`` (float16), which is
what makes a cancelled analysis resumable; once the video is done the parts are merged into
one ``features.npz`` that loads in a single read.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from core.atomic import atomic_write
from core.model.network import C3D_BN, FC7_FEATURES, POOL5_FEATURES, trunk_hash
from core.model.spec import InputSpec
from core.store import Store
from core.store.records import FeatureCacheEntry, Video

log = logging.getLogger(__name__)

Layer = Literal["pool5", "fc7"]
LAYERS: tuple[Layer, ...] = ("fc7", "pool5")
LAYER_WIDTH = {"pool5": POOL5_FEATURES, "fc7": FC7_FEATURES}
_MERGED = "features.npz"


def spec_hash(spec: InputSpec) -> str:
    return hashlib.sha256(spec.to_json().encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FeatureKey:
    """Everything the features depend on; two equal keys always mean identical features."""

    video_hash: str
    trunk_hash: str
    spec_hash: str
    stride: int
    layer: Layer

    def folder_name(self) -> str:
        text = f"{self.video_hash}|{self.trunk_hash}|{self.spec_hash}|{self.stride}|{self.layer}"
        return f"{self.layer}-{hashlib.sha256(text.encode()).hexdigest()[:24]}"


def feature_key(video: Video, trunk: str, spec: InputSpec, stride: int, layer: Layer) -> FeatureKey:
    return FeatureKey(video.content_hash, trunk, spec_hash(spec), int(stride), layer)


def model_trunk_hashes(model: C3D_BN) -> dict[Layer, str]:
    """Both frozen-part hashes; ~1 s for 78M parameters, so compute once per loaded model."""
    return {"pool5": trunk_hash(model, "pool5"), "fc7": trunk_hash(model, "fc7")}


@dataclass(frozen=True)
class CachedFeatures:
    starts: np.ndarray  # int64 (N,), sorted, unique
    features: np.ndarray  # float16 (N, D)
    complete: bool


class FeatureCache:
    """The cache of one store: look up, fill, and clear entries."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.root = Path(store.files_dir) / "features"

    def entry(self, key: FeatureKey) -> FeatureCacheEntry | None:
        """The index entry, or None; an entry whose folder vanished is forgotten here."""
        found = self._store.features.get(key.video_hash, key.trunk_hash, key.spec_hash, key.stride, key.layer)
        if found is not None and not Path(found.path).is_dir():
            log.warning("Feature cache folder %s is missing; forgetting the entry", found.path)
            self._store.features.put(*_key_tuple(key), path=found.path, windows=0, complete=False)
            return None
        return found

    def load(self, key: FeatureKey) -> CachedFeatures | None:
        """Every window cached so far for ``key`` (None if nothing is)."""
        found = self.entry(key)
        if found is None or found.windows == 0:
            return None
        folder = Path(found.path)
        merged = folder / _MERGED
        files = [merged] if merged.is_file() else sorted(folder.glob("part-*.npz"))
        if not files:
            return None
        starts, feats = _read_parts(files, LAYER_WIDTH[key.layer])
        return CachedFeatures(starts, feats, complete=found.complete and merged.is_file())

    def done_starts(self, key: FeatureKey) -> set[int]:
        cached = self.load(key)
        return set() if cached is None else set(cached.starts.tolist())

    def writer(self, key: FeatureKey) -> FeatureWriter:
        return FeatureWriter(self, key)

    def store_complete(self, key: FeatureKey, starts: np.ndarray, features: np.ndarray) -> None:
        """Write a whole entry at once (re-scoring computes fc7 of a new model this way)."""
        writer = self.writer(key)
        writer.reset()
        writer.add(starts, features)
        writer.finish()

    def clear(self) -> int:
        """Delete every entry and its files; returns how many entries there were."""
        removed = self._store.features.clear()
        shutil.rmtree(self.root, ignore_errors=True)
        log.info("Cleared the feature cache (%d entries)", len(removed))
        return len(removed)

    def size_bytes(self) -> int:
        if not self.root.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.root.rglob("*.npz"))

    def _record(self, key: FeatureKey, folder: Path, windows: int, complete: bool) -> None:
        self._store.features.put(*_key_tuple(key), path=str(folder), windows=windows, complete=complete)


class FeatureWriter:
    """Appends batches to one entry; ``finish`` merges them once the video is complete."""

    def __init__(self, cache: FeatureCache, key: FeatureKey) -> None:
        self._cache = cache
        self.key = key
        self.folder = cache.root / key.folder_name()
        self._count = len(cache.done_starts(key))

    def reset(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self._count = 0

    def add(self, starts: np.ndarray, features: np.ndarray) -> None:
        starts_i = np.asarray(starts, dtype=np.int64).reshape(-1)
        if len(starts_i) == 0:
            return
        feats = np.asarray(features, dtype=np.float16)
        if feats.shape != (len(starts_i), LAYER_WIDTH[self.key.layer]):
            raise ValueError(f"{self.key.layer} features of shape {feats.shape} for {len(starts_i)} windows")
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{int(starts_i[0]):09d}-{int(starts_i[-1]):09d}.npz"
        with atomic_write(self.folder / name, "wb") as handle:
            np.savez(handle, starts=starts_i, features=feats)
        self._count += len(starts_i)
        self._cache._record(self.key, self.folder, self._count, complete=False)

    def finish(self) -> None:
        """Merge the parts into one file and mark the entry complete."""
        parts = sorted(self.folder.glob("part-*.npz"))
        merged = self.folder / _MERGED
        if not parts:  # nothing new since the last merge
            if merged.is_file():
                self._cache._record(self.key, self.folder, self._count, complete=True)
            return
        files = [*parts, merged] if merged.is_file() else parts
        starts, feats = _read_parts(files, LAYER_WIDTH[self.key.layer])
        with atomic_write(merged, "wb") as handle:
            np.savez(handle, starts=starts, features=feats)
        for part in parts:
            part.unlink(missing_ok=True)
        self._count = len(starts)
        self._cache._record(self.key, self.folder, self._count, complete=True)


class FeatureSink:
    """Both layers of one video, filled as inference yields batches (the analysis hook)."""

    def __init__(
        self, cache: FeatureCache, video: Video, hashes: dict[Layer, str], spec: InputSpec, stride: int
    ) -> None:
        self.writers = {
            layer: cache.writer(feature_key(video, hashes[layer], spec, stride, layer)) for layer in LAYERS
        }
        self._cache = cache

    def done_starts(self) -> set[int]:
        """Windows cached in every layer: only these may be skipped by a resumed analysis."""
        sets = [self._cache.done_starts(w.key) for w in self.writers.values()]
        return set.intersection(*sets)

    def add(self, starts: np.ndarray, pool5: np.ndarray | None, fc7: np.ndarray | None) -> None:
        if pool5 is None or fc7 is None:
            raise ValueError("The feature cache needs inference run with want_features=True.")
        self.writers["pool5"].add(starts, pool5)
        self.writers["fc7"].add(starts, fc7)

    def finish(self) -> None:
        for writer in self.writers.values():
            writer.finish()


def _read_parts(files: list[Path], width: int) -> tuple[np.ndarray, np.ndarray]:
    starts_list, feats_list = [], []
    for path in files:
        with np.load(path) as data:
            starts_list.append(np.asarray(data["starts"], dtype=np.int64))
            feats_list.append(np.asarray(data["features"], dtype=np.float16))
    starts = np.concatenate(starts_list)
    feats = np.concatenate(feats_list).reshape(len(starts), width)
    order = np.argsort(starts, kind="stable")
    starts, feats = starts[order], feats[order]
    keep = np.concatenate(([True], np.diff(starts) != 0))  # a retried batch may repeat starts
    return starts[keep], feats[keep]


def _key_tuple(key: FeatureKey) -> tuple[str, str, str, int, str]:
    return (key.video_hash, key.trunk_hash, key.spec_hash, key.stride, key.layer)
