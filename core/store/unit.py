"""One unit of work per repository call, and database errors turned into sentences.

Every call opens its own session from the shared factory and commits or rolls back before
returning, so repositories are safe to use from any thread and never leak ORM objects.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import StoreError

log = logging.getLogger(__name__)

READ_ONLY_OPTION = "c3d_read_only"
"""Execution option read by the SQLite ``begin`` hook: readers need no write lock."""


class Keep(enum.Enum):
    KEEP = enum.auto()


KEEP: Final = Keep.KEEP
"""Marks an update argument as "leave unchanged", since None is a real value (no shortcut)."""


def explain(exc: SQLAlchemyError, action: str) -> StoreError:
    """A sentence for the user; the original exception stays chained for the log."""
    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    lowered = detail.lower()
    if isinstance(exc, OperationalError) and "locked" in lowered:
        hint = "the database is busy in another program. Close other copies of C3D Labeller and retry."
    elif isinstance(exc, OperationalError) and ("disk" in lowered or "full" in lowered):
        hint = f"the disk reported a problem ({detail}). Free some space or check the drive."
    elif isinstance(exc, OperationalError) and "readonly" in lowered.replace(" ", ""):
        hint = "the database file is read-only. Check its permissions or choose another with --db."
    elif isinstance(exc, IntegrityError):
        hint = f"it would break the database's consistency rules ({detail})."
    else:
        hint = f"the database reported: {detail}."
    return StoreError(f"Could not {action}: {hint}")


class Repository:
    """Shared plumbing for the repositories; each public method is one transaction."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory

    @contextmanager
    def _write(self, action: str) -> Iterator[Session]:
        """A transaction that may write; ``action`` completes "Could not …" in errors."""
        try:
            with self._factory.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            log.warning("Store write failed while trying to %s", action, exc_info=True)
            raise explain(exc, action) from exc

    @contextmanager
    def _read(self, action: str) -> Iterator[Session]:
        """A read-only transaction; on SQLite it takes no write lock, so it never waits on writers."""
        try:
            with self._factory.begin() as session:
                session.connection(execution_options={READ_ONLY_OPTION: True})
                yield session
        except SQLAlchemyError as exc:
            log.warning("Store read failed while trying to %s", action, exc_info=True)
            raise explain(exc, action) from exc
