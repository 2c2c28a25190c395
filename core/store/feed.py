"""The change feed's upkeep: every commit adds a row (see ``core.store.unit``), and other apps
read only the newest ones within seconds, so rows older than a few minutes are news to no one.
They are deleted on a cheap schedule (each listening app, once a minute) so the table does
not grow with every edit the team ever made.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, func, select

from core.store.orm import ChangeFeedRow, utc_now
from core.store.unit import Repository

log = logging.getLogger(__name__)

KEEP_S = 600.0
"""How long a feed row is kept: far longer than any listener takes to read it (≤ 1 s), and
longer than the wait after which a listener that fell behind re-reads everything anyway."""


class ChangeFeedRepository(Repository):
    def prune(self, keep_s: float = KEEP_S) -> int:
        """Delete rows older than ``keep_s`` seconds; how many went."""
        cutoff = utc_now() - timedelta(seconds=keep_s)
        with self._write("tidy the change feed") as session:
            result = session.execute(delete(ChangeFeedRow).where(ChangeFeedRow.at < cutoff))
            gone = int(getattr(result, "rowcount", 0) or 0)
        if gone:
            log.debug("Pruned %d change-feed rows older than %.0f s", gone, keep_s)
        return gone

    def count(self) -> int:
        with self._read("count the change feed") as session:
            return int(session.scalar(select(func.count()).select_from(ChangeFeedRow)) or 0)
