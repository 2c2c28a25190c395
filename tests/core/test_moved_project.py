"""A project moved with its files folder keeps its models and feature cache; file names are portable."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from core.model.spec import DEFAULT_SPEC
from core.paths import safe_file_stem
from core.store import open_store
from core.store.records import ModelState


def _add_model(url: str) -> str:
    with open_store(url) as store:
        target = store.files_dir / "models" / "m.safetensors"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"weights")
        store.models.add("m", str(target), ("a", "b"), DEFAULT_SPEC.to_json(), "t", ModelState.READY)
        cache = store.files_dir / "features" / "k1"
        cache.mkdir(parents=True)
        store.features.put("v", "t", "s", 4, "fc7", str(cache), 3, True)
        return str(target)


def test_a_moved_project_finds_its_checkpoint_and_cache(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    _add_model(f"sqlite:///{old / 'p.sqlite3'}")
    new = tmp_path / "new"
    shutil.move(old, new)
    with open_store(f"sqlite:///{new / 'p.sqlite3'}") as store:
        (version,) = store.models.list()
        assert Path(version.checkpoint_path).read_bytes() == b"weights"
        assert Path(version.checkpoint_path).is_relative_to(new)
        (entry,) = store.features.list()
        assert Path(entry.path).is_dir() and Path(entry.path).is_relative_to(new)


def test_absolute_paths_of_older_projects_become_relative_at_open(tmp_path: Path) -> None:
    db = tmp_path / "p.sqlite3"
    url = f"sqlite:///{db}"
    target = _add_model(url)
    outside = tmp_path / "elsewhere.safetensors"
    with sqlite3.connect(db) as conn:  # as an older version wrote them
        conn.execute("UPDATE model_versions SET checkpoint_path = ?", (target,))
        conn.execute("UPDATE feature_cache SET path = ?", (str(tmp_path / "p_files" / "features" / "k1"),))
        conn.execute(
            "INSERT INTO model_versions (name, checkpoint_path, class_names, input_spec, state, metrics,"
            " summary, trunk_hash, created_at) SELECT 'x', ?, class_names, input_spec, state, metrics,"
            " summary, trunk_hash, created_at FROM model_versions",
            (str(outside),),
        )
    for _ in range(2):  # idempotent
        open_store(url).close()
        with sqlite3.connect(db) as conn:
            paths = [r[0] for r in conn.execute("SELECT checkpoint_path FROM model_versions ORDER BY id")]
            cache = conn.execute("SELECT path FROM feature_cache").fetchone()[0]
        assert paths == ["models/m.safetensors", str(outside)]
        assert cache == "features/k1"


def test_model_file_names_are_valid_on_windows() -> None:
    for name in ("head 2026-12-01 13:45", 'a<b>c:"d"/e\\f|g?h*', "..", ""):
        stem = safe_file_stem(name, "model")
        assert stem and not set(stem) & set('<>:"/\\|?*')
    assert safe_file_stem("head 2026-12-01 13:45") == "head 2026-12-01 13-45"
