"""Shutting jobs down never deletes a thread that is still running."""

from __future__ import annotations

import threading
from typing import Any

from gui.workers import JobContext, Jobs


def test_a_job_that_ignores_cancel_is_kept_alive_until_it_ends(qtbot: Any) -> None:
    release = threading.Event()
    jobs = Jobs()

    def stubborn(_ctx: JobContext) -> str:
        release.wait(10)  # ignores ctx.cancel, as a blocking library call would
        return "done"

    jobs.start("stubborn", stubborn)
    jobs.launch("stubborn")
    thread = jobs._running["stubborn"].thread
    qtbot.waitUntil(thread.isRunning, timeout=5000)
    assert jobs.shutdown(timeout_ms=50) == ["stubborn"]
    assert thread.isRunning() and not jobs.is_running("stubborn")  # alive, not deleted
    release.set()
    qtbot.waitUntil(lambda: not jobs.stuck, timeout=5000)  # released once its thread finished


def test_a_job_that_honours_cancel_stops_at_shutdown(qtbot: Any) -> None:
    jobs = Jobs()
    jobs.start("polite", lambda ctx: ctx.cancel.wait(10))
    jobs.launch("polite")
    thread = jobs._running["polite"].thread
    qtbot.waitUntil(thread.isRunning, timeout=5000)
    assert jobs.shutdown(timeout_ms=5000) == []
    assert not jobs.stuck and not jobs.is_running("polite")
