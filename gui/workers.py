"""One generic worker that runs a ``core`` job on a QThread and only emits signals.

A job is a plain function ``job(ctx) -> result``; ``ctx`` carries the cancel event and two
callbacks that become signals (progress and batch). The worker never touches a widget. The
``Jobs`` registry keeps Python references until each thread has finished and shuts every
thread down with cancel → quit → wait (the queued ``finished → quit`` cannot run while the GUI
thread is blocked in ``wait()``).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.errors import AppError, Cancelled

log = logging.getLogger(__name__)


@dataclass
class JobContext:
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: Callable[[object], None] = lambda _p: None
    batch: Callable[[object], None] = lambda _b: None


Job = Callable[[JobContext], Any]


class Worker(QObject):
    progress = Signal(object)
    batch = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, str)  # user message, details (traceback, empty for an AppError)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, job: Job) -> None:
        super().__init__()
        self._job = job
        self.ctx = JobContext(progress=self.progress.emit, batch=self.batch.emit)

    def cancel(self) -> None:
        self.ctx.cancel.set()

    @Slot()
    def run(self) -> None:
        try:
            result = self._job(self.ctx)
        except Cancelled:
            self.cancelled.emit()
        except AppError as exc:
            self.failed.emit(str(exc), "")
        except Exception as exc:  # an unexpected failure still ends the job and reaches the user
            log.exception("Background job failed")
            self.failed.emit(f"Unexpected error: {exc}", traceback.format_exc())
        else:
            if self.ctx.cancel.is_set():
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)
        finally:
            self.finished.emit()


@dataclass
class Running:
    name: str
    thread: QThread
    worker: Worker


class Jobs(QObject):
    """Starts named jobs on threads; at most one job per name runs at a time."""

    changed = Signal()  # a job started or finished: actions re-check whether they are enabled

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._running: dict[str, Running] = {}

    def is_running(self, name: str) -> bool:
        return name in self._running

    def start(self, name: str, job: Job) -> Worker:
        if name in self._running:
            raise RuntimeError(f"job {name!r} is already running")
        thread = QThread()
        thread.setObjectName(f"job-{name}")
        worker = Worker(job)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit)
        thread.finished.connect(lambda n=name: self._done(n))
        self._running[name] = Running(name, thread, worker)
        self.changed.emit()
        return worker

    def launch(self, name: str) -> None:
        """Start the thread of a job created by ``start`` once its signals are connected."""
        self._running[name].thread.start()

    def cancel(self, name: str) -> None:
        running = self._running.get(name)
        if running is not None:
            running.worker.cancel()

    def _done(self, name: str) -> None:
        running = self._running.pop(name, None)
        if running is not None:
            running.worker.deleteLater()
            running.thread.deleteLater()
        self.changed.emit()

    def shutdown(self, timeout_ms: int = 30000) -> None:
        for running in list(self._running.values()):
            running.worker.cancel()
            running.thread.quit()
            if not running.thread.wait(timeout_ms):
                log.error("Job %s did not stop in time", running.name)
        for name in list(self._running):
            self._done(name)
