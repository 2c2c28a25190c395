"""Which files and URLs the store may open, decided before anything touches them.

Opening a SQLite file with our settings switches it to WAL and migrations add tables, so a
wrong ``--db`` would quietly change another application's database. Only a file that is new,
empty, or already ours is opened; ours means our ``PRAGMA application_id`` (set at creation)
or, for stores made before that, our Alembic version table. Everything is read from the
100-byte header or through a read-only connection, so a refused file stays byte-identical.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from urllib.parse import quote

from core.errors import StoreError

log = logging.getLogger(__name__)

APPLICATION_ID = 0x43334C42
"""``PRAGMA application_id`` of every store this application creates ("C3LB")."""

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100
_APP_ID_OFFSET = 68
OUR_TABLE = "alembic_version"

DRIVERS = {
    "postgresql": "the PostgreSQL driver: pip install 'psycopg[binary]'",
    "mysql": "the MySQL driver: pip install pymysql, and write the URL as mysql+pymysql://…",
    "mariadb": "the MariaDB driver: pip install pymysql, and write the URL as mariadb+pymysql://…",
    "mssql": "the SQL Server driver: pip install pyodbc",
    "oracle": "the Oracle driver: pip install oracledb",
}
SUPPORTED = "sqlite:///path/to/labels.sqlite3 (or a plain file path), postgresql://… or mysql://…"


def check_sqlite_file(db_file: Path) -> str | None:
    """Raise ``StoreError`` unless ``db_file`` may be opened; returns a note for the user, if any."""
    if not db_file.exists():
        return None
    if db_file.is_dir():
        raise StoreError(f"{db_file} is a folder, not a database file; give a file path with --db.")
    try:
        with open(db_file, "rb") as handle:
            header = handle.read(HEADER_BYTES)
    except OSError as exc:
        raise StoreError(f"Could not read the label database {db_file}: {exc.strerror or exc}.") from exc
    if not header:
        return f"{db_file} was empty (0 bytes); it is now a new label store."
    if not header.startswith(SQLITE_MAGIC):
        raise StoreError(
            f"{db_file} is not a SQLite database, so it is not a C3D Labeller store; "
            "it was left untouched (choose another file with --db)."
        )
    app_id = int.from_bytes(header[_APP_ID_OFFSET : _APP_ID_OFFSET + 4], "big", signed=False)
    if app_id == APPLICATION_ID:
        return None
    if app_id != 0:
        raise StoreError(
            f"{db_file} belongs to another application (SQLite application id {app_id:#010x}); "
            "it was left untouched (choose another file with --db)."
        )
    tables = table_names(db_file)
    if OUR_TABLE in tables or not tables:
        return None  # a store made before the application id, or a SQLite file with nothing in it
    shown = ", ".join(sorted(tables)[:4]) + (", …" if len(tables) > 4 else "")
    raise StoreError(
        f"{db_file} is another application's SQLite database (tables {shown}); "
        "it was left untouched (choose another file with --db)."
    )


def table_names(db_file: Path) -> set[str]:
    """The file's tables, read without writing anything (not even a journal)."""
    uri = f"file:{quote(str(db_file.absolute()))}"
    last: sqlite3.Error | None = None
    # mode=ro sees a WAL the last writer left behind; immutable works where ro cannot open
    # (no permission to create the -shm beside it).
    for options in ("?mode=ro", "?immutable=1"):
        try:
            conn = sqlite3.connect(uri + options, uri=True)
        except sqlite3.Error as exc:
            last = exc
            continue
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            return {str(name) for (name,) in rows}
        except sqlite3.Error as exc:
            last = exc
        finally:
            conn.close()
    raise StoreError(f"{db_file} has a SQLite header but cannot be read ({last}); it was left untouched.")


def missing_driver_message(url: str, backend: str) -> str:
    """One line that says what to install, or which databases work at all."""
    need = DRIVERS.get(backend)
    shown = url.split("://", 1)[0] + "://…"
    if need is not None:
        return f"The database URL {shown} needs {need}."
    return f"'{backend}' is not a database C3D Labeller can use; use {SUPPORTED}."
