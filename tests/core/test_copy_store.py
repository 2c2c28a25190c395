"""`copy-store --to URL`: a SQLite project becomes a PostgreSQL one, every row of every table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from core.model.spec import DEFAULT_SPEC
from core.project import Project, actions
from core.store import open_store
from core.store.orm import Base
from core.store.records import ModelState, NewSegment, RunStatus
from main import main
from tests.pg_server import PostgresServer


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with open_store(url) as store, store.engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
            for t in Base.metadata.sorted_tables
        }


def test_copy_to_postgresql_keeps_every_row(
    db_url: str,
    pg_server: PostgresServer,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the server project's files folder
    with open_store(db_url) as store:
        video = store.videos.add("/nonexistent/a.avi", "ha", 64, 48, 25.0, 100)
        store.videos.set_index(video.id, 100, np.arange(100) / 25.0)
        walk = store.classes.add("walk", shortcut="w")
        project = Project(store, "ann")
        actions.label_range(project, video.id, 10, 40, walk.id)
        store.segments.add(video.id, NewSegment(walk.id, 60, 70))
        model = store.models.add(
            "m", "models/m.safetensors", ("background", "walk"), DEFAULT_SPEC.to_json(), "t", ModelState.READY
        )
        store.models.set_active(model.id)
        run = store.predictions.start_run(video.id, model.id, 8, 3)
        store.predictions.add_windows(
            run.id, np.array([0, 8, 16]), np.random.default_rng(0).random((3, 2), dtype=np.float32)
        )
        store.predictions.finish(run.id, RunStatus.COMPLETE)
        store.codings.save(video.id, "ann", [("walk", 10, 40, "behaviour")])
        store.work.claim_next("ann")
        (store.files_dir / "models").mkdir(parents=True, exist_ok=True)
        (store.files_dir / "models" / "m.safetensors").write_bytes(b"weights")
    before = _rows(db_url)
    target = pg_server.new_url()
    assert main(["--db", db_url, "copy-store", "--to", target]) == 0
    out = capsys.readouterr().out
    assert "segments\t2" in out and "window_predictions\t3" in out
    after = _rows(target)
    assert after == before  # every table, row for row, ids and bytes included
    assert all(
        before[t] for t in ("videos", "segments", "edit_log", "window_predictions", "codings", "change_feed")
    )
    with open_store(target) as copied:
        assert (copied.files_dir / "models" / "m.safetensors").read_bytes() == b"weights"
        fresh = copied.segments.add(1, NewSegment(walk.id, 80, 90))  # sequences moved past copied ids
        assert fresh.id > max(r[0] for r in before["segments"])
    # A second copy into the now non-empty store is refused with one line.
    assert main(["--db", db_url, "copy-store", "--to", target]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already holds a project" in err


def test_copy_refuses_a_target_with_labels(tmp_path: Path, db_url: str) -> None:
    other = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    with open_store(other) as store:
        store.classes.add("run")
    with open_store(db_url) as source:
        from core.errors import StoreError
        from core.store.copy import copy_store

        with pytest.raises(StoreError, match="already holds a project"):
            copy_store(source, other)
