"""Bring any database up to the schema this version of the application expects.

Alembic owns the schema. The migration scripts ship inside the package, so the location is
taken from this file and never from the working directory.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine

from core.errors import StoreError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """A Config with no ini file; pass ``connection`` to run against the app's own engine."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Run ``upgrade head`` in one transaction; a no-op when the schema is current."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations copy and drop tables; with foreign keys on, the drop would
            # cascade-delete every segment. The PRAGMA only works outside a transaction.
            _raw_pragma(connection, "PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                command.upgrade(alembic_config(connection), "head")
                if sqlite:
                    _check_foreign_keys(connection)
        except CommandError as exc:
            raise StoreError(
                "The label database was written by a newer version of C3D Labeller. "
                "Update the application, or open another database with --db."
            ) from exc
        finally:
            if sqlite:
                _raw_pragma(connection, "PRAGMA foreign_keys=ON")


def _raw_pragma(connection: Connection, sql: str) -> None:
    dbapi = connection.connection.dbapi_connection
    if dbapi is None:
        raise StoreError("The label database connection closed unexpectedly; restart the application.")
    try:
        dbapi.cursor().execute(sql)
    except sqlite3.Error as exc:
        raise StoreError(f"Could not prepare the label database for an update ({exc}).") from exc


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        log.error("Foreign key violations after migration: %s", broken[:20])
        raise StoreError(
            "Updating the label database left broken references; it was rolled back. "
            "Please report this with the log file."
        )
