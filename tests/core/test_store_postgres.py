"""The store on a real PostgreSQL server: the schema Alembic makes, and every command end to end.

The repository tests (test_store_*.py) already run on both backends through ``backend_url``;
this file holds what only makes sense against a server.
"""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import pytest
from alembic import command

from core.media.demo import generate_demo_video
from core.paths import files_dir_for, resolve_db_url
from core.store import open_store
from core.store.migrate import alembic_config
from core.store.records import NewSegment
from main import main
from tests.pg_server import PostgresServer


@pytest.fixture
def pg_url(pg_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return pg_server.new_url()


def test_alembic_schema_matches_the_models_on_postgresql(pg_url: str) -> None:
    with open_store(pg_url) as store, store.engine.connect() as conn:
        assert store.engine.dialect.name == "postgresql"
        command.check(alembic_config(conn))


def test_reopening_keeps_everything_on_postgresql(pg_url: str) -> None:
    with open_store(pg_url) as first:
        video = first.videos.add("/v/a.mp4", "h", 64, 48, 25.0, 100)
        background = first.classes.list()[0].id
        first.segments.add(video.id, NewSegment(background, 0, 10))
    with open_store(pg_url) as again:
        assert [(s.start_frame, s.end_frame) for s in again.segments.list(video.id)] == [(0, 10)]
        assert [c.name for c in again.classes.list()] == ["background"]


def test_concurrent_writers_on_postgresql_lose_nothing(pg_url: str) -> None:
    with open_store(pg_url) as store:
        video = store.videos.add("/v/a.mp4", "h", 64, 48, 25.0, 10_000)
        background = store.classes.list()[0].id
        errors: list[BaseException] = []

        def work(offset: int) -> None:
            try:
                for i in range(20):
                    start = offset * 1000 + i * 10
                    store.segments.add(video.id, NewSegment(background, start, start + 5))
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert len(store.segments.list(video.id)) == 80


def test_server_projects_keep_their_files_apart(
    pg_server: PostgresServer, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    first, second = pg_server.new_url(), pg_server.new_url()
    assert files_dir_for(first) != files_dir_for(second)
    assert files_dir_for(first).is_relative_to(tmp_path)


@pytest.mark.slow
def test_every_command_runs_against_postgresql(pg_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    demo = generate_demo_video(tmp_path / "clip.avi", seconds=2.0, fps=25, size=(160, 120), seed=2)

    def run(*argv: str) -> str:
        code = main(["--db", pg_url, *argv])
        out, err = capsys.readouterr()
        assert code == 0, err
        return out

    run("videos", "add", str(demo.path))
    run("classes", "add", "flash")
    run("segments", "add", str(demo.path), "10", "35", "flash")
    assert "flash" in run("segments", "list")
    assert "complete, 6/6 windows" in run("infer", str(demo.path), "--batch", "4", "--device", "cpu")
    out_csv = tmp_path / "labels.csv"
    run("export", "--format", "csv", "--out", str(out_csv))
    with out_csv.open(newline="", encoding="utf-8") as f:
        rows = [(r["class"], r["start_frame"], r["end_frame"]) for r in csv.DictReader(f)]
    assert rows == [("flash", "10", "35")]
    assert "flash" in run("classes", "list")


def test_plain_postgresql_urls_use_the_driver_we_ship(pg_server: PostgresServer) -> None:
    """Users copy "postgresql://…" from their server's docs; it must not ask for psycopg2."""
    plain = pg_server.url("postgres").replace("postgresql+psycopg://", "postgresql://")
    resolved = resolve_db_url(plain)
    assert resolved.startswith("postgresql+psycopg://")
    assert resolve_db_url(plain.replace("postgresql://", "postgres://")) == resolved
