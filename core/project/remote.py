"""Other apps' edits, heard within a second: a background thread reads the store's change feed.

Every committed unit of work adds a row to ``change_feed`` naming what it changed (see
``core.store.unit``). This thread wakes when the store says something was committed — a
PostgreSQL ``NOTIFY``, or SQLite's ``PRAGMA data_version`` moving — and re-emits the rows other
processes wrote as the project's ordinary events. Views cannot tell a colleague's edit from
their own; the Qt bridge moves the call onto the GUI thread. No Qt here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import SQLAlchemyError

from core.errors import AppError
from core.store.changes import (
    Change,
    ClassesChanged,
    ModelsChanged,
    PredictionsChanged,
    SegmentsChanged,
    VideosChanged,
    from_json,
)
from core.store.feed import KEEP_S
from core.store.orm import ChangeFeedRow
from core.store.unit import NOTIFY_CHANNEL, READ_ONLY_OPTION

ALL_FRAMES = 2**31 - 1

if TYPE_CHECKING:
    from core.project.project import Project

log = logging.getLogger(__name__)

LOOKBACK_IDS = 200
"""Feed ids are taken at insert but committed in any order (PostgreSQL): re-read this many back."""

PRUNE_EVERY_S = 60.0
"""How often a listening app deletes feed rows older than ``core.store.feed.KEEP_S``."""


class RemoteChanges:
    """Start with ``start()``; ``stop()`` sets the stop event and joins the thread."""

    def __init__(self, project: Project, interval_s: float = 0.5) -> None:
        self.project = project
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="c3d-remote-changes", daemon=True)
        self._delivered: set[int] = set()
        self._last_id = 0
        self._last_wake = time.monotonic()
        self._behind = False
        self._next_prune = 0.0
        self.keep_s = KEEP_S
        self.ready = threading.Event()
        """Set once the thread listens: a commit after this is heard."""

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        store = self.project.store
        try:
            with store.engine.connect() as conn:
                conn = conn.execution_options(**{READ_ONLY_OPTION: True})
                with conn.begin():  # what was committed before we listened is not news
                    self._last_id = int(conn.scalar(select(func.max(ChangeFeedRow.id))) or 0)
                    recent = select(ChangeFeedRow.id).where(ChangeFeedRow.id > self._last_id - LOOKBACK_IDS)
                    self._delivered = set(conn.scalars(recent))
                if conn.dialect.name == "postgresql":
                    self._listen_postgres(conn)
                else:
                    self._poll_sqlite(conn)
        except SQLAlchemyError:
            log.exception("Stopped hearing other apps' edits: the store connection failed")
        finally:
            self.ready.set()

    def _poll_sqlite(self, conn: Connection) -> None:
        version: int | None = None
        self.ready.set()
        while not self._stop.is_set():
            with conn.begin():
                now = conn.exec_driver_sql("PRAGMA data_version").scalar()
                behind = self._woke()
                if now != version or behind:  # a commit (maybe ours: the feed says), or a long sleep
                    version = int(now or 0)
                    self._read_feed(conn)
            self._upkeep()
            self._stop.wait(self.interval_s)

    def _listen_postgres(self, conn: Connection) -> None:
        import psycopg

        url = conn.engine.url.set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as listener:
            listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
            self.ready.set()
            while not self._stop.is_set():
                # Wake on a NOTIFY, or after interval_s anyway (a missed one costs one interval).
                for _ in listener.notifies(timeout=self.interval_s, stop_after=1):
                    pass
                if not self._stop.is_set():
                    self._woke()
                    with conn.begin():
                        self._read_feed(conn)
                    self._upkeep()

    def _woke(self) -> bool:
        """Note a wake-up; True after a sleep longer than feed rows are kept (a suspended
        laptop): rows may have been pruned unread, so the next read refreshes everything."""
        now = time.monotonic()
        if now - self._last_wake > self.keep_s:
            self._behind = True
        self._last_wake = now
        return self._behind

    def _upkeep(self) -> None:
        """Prune old feed rows now and then; failing that (a busy store) is no one's problem."""
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY_S
        try:
            self.project.store.change_feed.prune(self.keep_s)
        except AppError as exc:
            log.info("Change feed not pruned this time: %s", exc)

    def _read_feed(self, conn: Connection) -> None:
        own = self.project.store.units.origin
        behind, self._behind = self._behind, False
        # The ids first (an index-only read of the last LOOKBACK_IDS), then the payloads of the
        # new ones only: re-reading 200 JSON payloads on every wake cost every annotator CPU.
        ids = conn.scalars(
            select(ChangeFeedRow.id).where(ChangeFeedRow.id > self._last_id - LOOKBACK_IDS)
        ).all()
        new = sorted(i for i in ids if i not in self._delivered)
        changes: list[Change] = []
        if new:
            rows = conn.execute(
                select(ChangeFeedRow.changes)
                .where(ChangeFeedRow.id.in_(new), ChangeFeedRow.origin != own)
                .order_by(ChangeFeedRow.id)
            ).all()
            for (payload,) in rows:
                changes.extend(_decode(payload))
            self._delivered.update(new)
        if ids:
            self._last_id = max(self._last_id, max(ids))
            floor = self._last_id - LOOKBACK_IDS
            self._delivered = {i for i in self._delivered if i > floor}
        if behind:  # asleep for longer than rows are kept: some may be gone, so re-read everything
            log.info("Fell behind the change feed; refreshing everything")
            changes = self._everything()
        if changes:
            log.debug("Heard %d change(s) from other apps", len(changes))
            self.project.announce(changes)

    def _everything(self) -> list[Change]:
        store = self.project.store
        try:
            videos = store.videos.list()
        except AppError:
            videos = []
        spans: list[Change] = [SegmentsChanged(v.id, 0, ALL_FRAMES) for v in videos]
        spans += [PredictionsChanged(v.id) for v in videos]
        return [*spans, ClassesChanged(), ModelsChanged(), VideosChanged(None)]


def _decode(payload: Any) -> Iterator[Change]:
    for item in payload if isinstance(payload, list) else []:
        change = from_json(item) if isinstance(item, dict) else None
        if change is not None:
            yield change


@contextmanager
def listening(project: Project, interval_s: float = 0.5) -> Iterator[RemoteChanges]:
    """For tests and scripts: hear others' edits for the length of a block."""
    remote = RemoteChanges(project, interval_s)
    remote.start()
    remote.ready.wait(10)
    try:
        yield remote
    finally:
        remote.stop()
