"""Hostile or foreign store files and URLs: refused in one line, left byte-identical; busy stores
are waited for visibly instead of failing."""

from __future__ import annotations

import importlib.util
import sqlite3
import threading
from pathlib import Path

import pytest

from core.errors import StoreError
from core.store import db, open_store, unit
from core.store.guard import APPLICATION_ID
from main import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _foreign_db(path: Path, *tables: str, app_id: int = 0) -> bytes:
    with sqlite3.connect(path) as conn:
        for table in tables:
            conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT)")
            conn.execute(f"INSERT INTO {table} (name) VALUES ('keep me')")
        if app_id:
            conn.execute(f"PRAGMA application_id={app_id}")
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize(
    ("tables", "app_id", "words"),
    [
        (("customers", "orders"), 0, "another application's SQLite database"),
        (("segments",), 0, "another application's SQLite database"),  # a clash on our table name
        ((), 0x12345678, "belongs to another application"),
    ],
)
def test_another_applications_sqlite_file_is_refused_and_left_byte_identical(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tables: tuple[str, ...], app_id: int, words: str
) -> None:
    path = tmp_path / "theirs.db"
    before = _foreign_db(path, *tables, app_id=app_id)
    listing = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = _run(capsys, "--db", str(path), "classes", "list")
    assert code != 0
    line = _one_line(err)
    assert words in line and "theirs.db" in line and "left untouched" in line
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # no -wal, no files folder


def test_a_file_that_is_not_sqlite_is_refused_and_left_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.txt"
    garbage = b"this is not a database, just some bytes " * 200
    path.write_bytes(garbage)
    code, _, err = _run(capsys, "--db", str(path), "classes", "list")
    assert code != 0
    assert "is not a SQLite database" in _one_line(err)
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_our_own_store_damaged_inside_is_still_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "labels.sqlite3"
    with open_store(f"sqlite:///{path}") as store:
        store.classes.add("walk")
    data = bytearray(path.read_bytes())
    assert int.from_bytes(data[68:72], "big") == APPLICATION_ID  # stamped at creation
    data[100:] = b"\xee" * (len(data) - 100)  # keep the header, wreck every page
    path.write_bytes(bytes(data))
    with open_store(f"sqlite:///{path}") as store:
        assert store.recovered_from is not None
        assert store.recovered_from.read_bytes() == bytes(data)
        assert [c.name for c in store.classes.list()] == ["background"]


def test_a_store_from_before_the_application_id_still_opens_and_is_stamped(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with open_store(f"sqlite:///{path}") as store:
        store.classes.add("walk")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA application_id=0")
    conn.close()
    with open_store(f"sqlite:///{path}") as store:
        assert "walk" in [c.name for c in store.classes.list()]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
    conn.close()


def test_an_empty_file_becomes_a_store_and_the_user_is_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    code, out, err = _run(capsys, "--db", str(path), "classes", "list")
    assert code == 0
    line = _one_line(err)
    assert "empty" in line and "0 bytes" in line and "empty.db" in line
    assert "background" in out
    code, _, err = _run(capsys, "--db", str(path), "classes", "list")
    assert code == 0 and err == ""  # said once, when it happened


def test_a_folder_as_the_store_is_named_as_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "--db", str(tmp_path), "classes", "list")
    assert code != 0 and "is a folder" in _one_line(err)


@pytest.mark.parametrize(
    ("url", "driver", "words"),
    [
        ("postgresql://user@localhost:1/labels", "psycopg", "pip install 'psycopg[binary]'"),
        ("mysql://user@localhost:1/labels", "MySQLdb", "pip install pymysql"),
        ("foo://bar", None, "'foo' is not a database"),
    ],
)
def test_unusable_database_urls_say_what_to_install_or_use(
    capsys: pytest.CaptureFixture[str], url: str, driver: str | None, words: str
) -> None:
    if driver is not None and importlib.util.find_spec(driver) is not None:
        words = "Could not open the label database"  # the driver is there: no server answers on port 1
    code, _, err = _run(capsys, "--db", url, "classes", "list")
    assert code != 0
    line = _one_line(err)
    assert words in line
    if url.startswith("foo"):
        assert "sqlite:///" in line


def test_a_busy_store_is_waited_for_and_the_wait_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 50)  # SQLite gives up quickly; our retry must not
    heard: list[str] = []
    unit.set_busy_reporter(heard.append)
    path = tmp_path / "labels.sqlite3"
    try:
        with open_store(f"sqlite:///{path}") as store:
            other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            other.execute("BEGIN IMMEDIATE")
            released = threading.Timer(0.8, lambda: other.execute("ROLLBACK"))
            released.start()
            try:
                added = store.classes.add("walk")  # would fail at once without the retry
            finally:
                released.join()
                other.close()
            assert store.classes.by_name("walk") == added
    finally:
        unit.set_busy_reporter(None)
    assert heard and "busy" in heard[0]


def test_a_store_that_stays_busy_still_fails_with_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 20)
    monkeypatch.setattr(unit, "BUSY_WAIT_S", 0.3)
    path = tmp_path / "labels.sqlite3"
    with open_store(f"sqlite:///{path}") as store:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        heard: list[str] = []
        unit.set_busy_reporter(heard.append)
        try:
            with pytest.raises(StoreError, match="busy"):
                store.classes.add("walk")
        finally:
            unit.set_busy_reporter(None)
            other.execute("ROLLBACK")
            other.close()
        assert heard and all("busy" in line for line in heard)  # it waited, visibly, before failing
