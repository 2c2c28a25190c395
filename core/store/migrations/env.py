"""Alembic environment for the label store.

The application runs migrations itself and passes its open connection in
``config.attributes["connection"]``, so the PRAGMAs and the transaction are the app's own.
Logging is left alone: the application configured it already.
"""

from __future__ import annotations

import logging

from alembic import context
from sqlalchemy import Connection, create_engine

from core.store.orm import Base

log = logging.getLogger(__name__)

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only alter tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Only for developers running the alembic command line against a URL.
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("The label store has no offline (SQL script) migrations")
run_migrations_online()
