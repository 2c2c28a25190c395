"""Units of work: everything one action writes commits together, or nothing does.

``store.unit()`` opens one session and makes it this thread's ambient unit: every repository
call made inside it (on this thread) joins that session instead of opening its own, so an
action composed of several calls (clear then paint; delete a class and repaint its segments)
is one transaction. A repository call made outside any unit is a unit of its own. After a
unit commits, the changes its writes noted go to the store's listeners; a unit that fails
rolls back and tells no one. Database errors become sentences a user understands.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from core.errors import ConflictError, StoreError
from core.store.changes import Change, coalesce, to_json
from core.store.orm import ChangeFeedRow

log = logging.getLogger(__name__)

READ_ONLY_OPTION = "c3d_read_only"
"""Execution option read by the SQLite ``begin`` hook: readers need no write lock."""

Listener = Callable[[Sequence[Change]], None]

NOTIFY_CHANNEL = "c3d_changes"
"""PostgreSQL channel that wakes other apps after a commit; the payload is the origin."""

NOTIFY_GAP_S = 0.05
"""At most one NOTIFY per this many seconds per process: a listener reads every row since its
last read anyway, and 50 ms is nothing next to the 2 s in which others must see an edit."""

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


def locked_session(factory: sessionmaker[Session]) -> Session:
    """A session whose transaction already holds the write lock (SQLite: BEGIN IMMEDIATE), so
    a busy store shows up here, where it can be waited for, not half-way through a unit."""
    session = factory()
    try:
        session.begin()
        session.connection()
    except BaseException:
        session.close()
        raise
    return session


class Keep(enum.Enum):
    KEEP = enum.auto()


KEEP: Final = Keep.KEEP
"""Marks an update argument as "leave unchanged", since None is a real value (no shortcut)."""


def explain(exc: SQLAlchemyError, action: str) -> StoreError:
    """A sentence for the user; the original exception stays chained for the log."""
    if isinstance(exc, StaleDataError) or "deadlock detected" in str(getattr(exc, "orig", "")):
        return ConflictError(
            f"Could not {action}: someone else changed these labels at the same moment. "
            "The view now shows their edit; make yours again if it is still needed.",
            retryable=True,
        )
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


def _log_failure(exc: SQLAlchemyError, action: str) -> None:
    """A race two edits lost to each other is expected in team mode: no traceback for that."""
    if isinstance(exc, StaleDataError):
        log.info("Store write met a concurrent change while trying to %s", action)
    else:
        log.warning("Store write failed while trying to %s", action, exc_info=True)


class UnitOfWork:
    """One open transaction and the changes noted in it so far."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.changes: list[Change] = []

    def note(self, change: Change) -> None:
        self.changes.append(change)


class Notifier:
    """Wakes other apps after a commit (PostgreSQL ``NOTIFY``) from a thread of its own.

    Inside the edit's transaction, NOTIFY cost a round trip per edit and, worse, PostgreSQL
    serialises the commits of all notifying transactions on one global lock: four annotators'
    edits queued there. After the commit, off the edit's path, a burst of commits becomes one
    NOTIFY; a listener that misses one still reads the feed within its polling interval.
    """

    def __init__(self, bind: Any, origin: str) -> None:
        self._engine = bind.engine if hasattr(bind, "engine") else bind
        self._origin = origin
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="c3d-notifier", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        conn: Connection | None = None
        try:
            while True:
                self._wake.wait()
                if self._stop.is_set():
                    return
                self._wake.clear()
                try:
                    if conn is None:
                        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                    conn.execute(
                        text("SELECT pg_notify(:channel, :origin)"),
                        {"channel": NOTIFY_CHANNEL, "origin": self._origin},
                    )
                except SQLAlchemyError as exc:  # listeners still poll the feed: late, not lost
                    log.info("Could not wake the other apps (they will poll): %s", exc)
                    if conn is not None:
                        conn.close()
                    conn = None
                    self._stop.wait(1.0)
                self._stop.wait(NOTIFY_GAP_S)  # a burst of commits in the meantime: one NOTIFY
        finally:
            if conn is not None:
                conn.close()


class Units:
    """The ambient unit of each thread for one store, and who hears about committed changes."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._local = threading.local()
        self._listeners: list[Listener] = []
        self.origin = uuid.uuid4().hex
        """Names this process's store in the change feed, so it can skip its own commits."""
        self._notifier: Notifier | None = None

    def close(self) -> None:
        """Stop the notifier thread (the store is closing)."""
        if self._notifier is not None:
            self._notifier.stop()
            self._notifier = None

    def current(self) -> UnitOfWork | None:
        unit: UnitOfWork | None = getattr(self._local, "unit", None)
        return unit

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @contextmanager
    def unit(self, action: str = "save the change") -> Iterator[UnitOfWork]:
        """Join this thread's unit, or begin one that commits (then notifies) on leaving."""
        outer = self.current()
        if outer is not None:
            yield outer
            return
        unit: UnitOfWork | None = None
        try:
            session = retry_busy(lambda: locked_session(self._factory), action)
            with session:
                try:
                    unit = UnitOfWork(session)
                    self._local.unit = unit
                    try:
                        yield unit
                        if unit.changes:
                            self._publish(session, unit.changes)
                    finally:
                        self._local.unit = None
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        except SQLAlchemyError as exc:
            _log_failure(exc, action)
            raise explain(exc, action) from exc
        if unit.changes:
            if self._notifier is not None:
                self._notifier.poke()
            self._notify(coalesce(unit.changes))

    def _publish(self, session: Session, changes: Sequence[Change]) -> None:
        """Tell other processes, in the same transaction: a feed row (the NOTIFY that wakes
        them on PostgreSQL follows the commit, from the notifier thread)."""
        session.add(ChangeFeedRow(origin=self.origin, changes=[to_json(c) for c in coalesce(changes)]))
        if self._notifier is None and session.get_bind().dialect.name == "postgresql":
            self._notifier = Notifier(session.get_bind(), self.origin)

    def _notify(self, changes: Sequence[Change]) -> None:
        for listener in list(self._listeners):
            try:
                listener(changes)
            except Exception:  # a broken view must not make a committed edit look failed
                log.exception("A store listener failed on %s", changes)


_UNITS: weakref.WeakKeyDictionary[sessionmaker[Session], Units] = weakref.WeakKeyDictionary()
_UNITS_LOCK = threading.Lock()


def units_for(factory: sessionmaker[Session]) -> Units:
    """The one ``Units`` of a session factory, shared by every repository built on it."""
    with _UNITS_LOCK:
        units = _UNITS.get(factory)
        if units is None:
            units = _UNITS[factory] = Units(factory)
        return units


class Repository:
    """Shared plumbing: each public method joins the caller's unit of work or is one itself."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self._units = units_for(session_factory)

    @contextmanager
    def _write(self, action: str) -> Iterator[Session]:
        """A transaction that may write; ``action`` completes "Could not …" in errors."""
        outer = self._units.current()
        if outer is None:
            with self._units.unit(action) as unit:
                yield unit.session
            return
        try:
            yield outer.session
            outer.session.flush()
        except SQLAlchemyError as exc:  # the caller's unit rolls back when this reaches it
            _log_failure(exc, action)
            raise explain(exc, action) from exc

    def _changed(self, change: Change) -> None:
        """Note what the write in progress changed; heard by listeners once its unit commits."""
        unit = self._units.current()
        if unit is None:
            raise RuntimeError("_changed outside a write")
        unit.note(change)

    @contextmanager
    def _read(self, action: str) -> Iterator[Session]:
        """A read; inside a unit it sees that unit's writes, outside it takes no write lock."""
        outer = self._units.current()
        try:
            if outer is not None:
                yield outer.session
                return
            with self._factory.begin() as session:
                session.connection(execution_options={READ_ONLY_OPTION: True})
                yield session
        except SQLAlchemyError as exc:
            log.warning("Store read failed while trying to %s", action, exc_info=True)
            raise explain(exc, action) from exc
