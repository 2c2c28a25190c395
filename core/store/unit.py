"""One unit of work per repository call, and database errors turned into sentences.

Every call opens its own session from the shared factory and commits or rolls back before
returning, so repositories are safe to use from any thread and never leak ORM objects.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import StoreError

log = logging.getLogger(__name__)

READ_ONLY_OPTION = "c3d_read_only"
"""Execution option read by the SQLite ``begin`` hook: readers need no write lock."""

BUSY_WAIT_S = 60.0
"""How long a write waits for another program's write to finish before giving up."""

T = TypeVar("T")


def _log_busy(message: str) -> None:
    log.warning("%s", message)


_busy_reporter: Callable[[str], None] = _log_busy


def set_busy_reporter(reporter: Callable[[str], None] | None) -> None:
    """Where "waiting for the store" messages go (the CLI prints them on stderr; default: the log)."""
    global _busy_reporter
    _busy_reporter = reporter or _log_busy


def is_busy(exc: BaseException) -> bool:
    """Another connection holds the write lock (SQLite: "database is locked" / "busy")."""
    if not isinstance(exc, OperationalError):
        return False
    detail = str(getattr(exc, "orig", None) or exc).lower()
    return "locked" in detail or "busy" in detail


def retry_busy(attempt: Callable[[], T], action: str, wait_s: float | None = None) -> T:
    """Run ``attempt`` again while the store is busy, saying so, for up to ``wait_s`` seconds.

    SQLite itself waits ``busy_timeout`` inside each attempt; this loop makes the wait longer
    than any one import and visible, so a second program waits instead of failing.
    """
    began = time.monotonic()
    limit = BUSY_WAIT_S if wait_s is None else wait_s
    while True:
        try:
            return attempt()
        except OperationalError as exc:
            waited = time.monotonic() - began
            if not is_busy(exc) or waited >= limit:
                raise
            _busy_reporter(
                f"The label store is busy (another program is writing); waited {waited:.0f} s "
                f"of up to {limit:.0f} s to {action}…"
            )
            time.sleep(0.05)


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
            session = retry_busy(lambda: self._locked_session(), action)
            with session:
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        except SQLAlchemyError as exc:
            log.warning("Store write failed while trying to %s", action, exc_info=True)
            raise explain(exc, action) from exc

    def _locked_session(self) -> Session:
        """A session whose transaction already holds the write lock (SQLite: BEGIN IMMEDIATE)."""
        session = self._factory()
        try:
            session.begin()
            session.connection()
        except BaseException:
            session.close()
            raise
        return session

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
