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


class GuiCall(QObject):
    """Runs a plain Python callable on the GUI thread when a worker's signal fires.

    PySide calls a lambda or closure connected to a signal in the *emitting* thread, so a
    closure on a worker's signal would run GUI code on the worker thread (seen here: a job's
    success handler starting the next job from the worker thread, which hung the app). A slot
    of this object, which lives on the GUI thread, makes Qt queue the call there instead.
    """

    def __init__(self, fn: Callable[..., object], parent: QObject) -> None:
        super().__init__(parent)
        self._fn = fn

    @Slot()
    @Slot(object)
    @Slot(str, str)
    def call(self, *args: object) -> None:
        self._fn(*args)


@dataclass
class Running:
    name: str
    thread: QThread
    worker: Worker
    calls: list[GuiCall] = field(default_factory=list)


class Jobs(QObject):
    """Starts named jobs on threads; at most one job per name runs at a time."""

    changed = Signal()  # a job started or finished: actions re-check whether they are enabled

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._running: dict[str, Running] = {}
        self.stuck: list[Running] = []
        """Jobs that did not stop at shutdown: kept alive (deleting a running QThread aborts
        the process) until their thread finishes on its own."""

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
        self._running[name] = Running(name, thread, worker)
        done = self.on_gui(name, lambda n=name, t=thread: self._done(n, t))
        thread.finished.connect(done)
        self.changed.emit()
        return worker

    def on_gui(self, name: str, fn: Callable[..., object]) -> Callable[..., None]:
        """A slot that runs ``fn`` on the GUI thread: connect job signals to this, never to a
        bare lambda or closure (see ``GuiCall``)."""
        call = GuiCall(fn, self)
        self._running[name].calls.append(call)
        return call.call

    def launch(self, name: str) -> None:
        """Start the thread of a job created by ``start`` once its signals are connected."""
        self._running[name].thread.start()

    def cancel(self, name: str) -> None:
        running = self._running.get(name)
        if running is not None:
            running.worker.cancel()

    def _done(self, name: str, thread: QThread | None = None) -> None:
        stuck = next((r for r in self.stuck if r.thread is thread), None)
        if stuck is not None:  # a job shutdown gave up waiting for has finished after all
            self.stuck.remove(stuck)
            self._release(stuck)
            return
        running = self._running.get(name)
        if running is None or (thread is not None and running.thread is not thread):
            return  # a late "finished" of a job ``shutdown`` already cleared: not the current one
        del self._running[name]
        self._release(running)
        self.changed.emit()

    def _release(self, running: Running) -> None:
        running.worker.deleteLater()
        running.thread.deleteLater()
        for call in running.calls:
            call.deleteLater()

    def shutdown(self, timeout_ms: int = 30000) -> list[str]:
        """Cancel every job, then quit and wait for each thread; returns the jobs that did not stop.

        ``quit`` is called directly because the queued ``finished → quit`` cannot run while
        this thread blocks in ``wait``. A thread still running after ``timeout_ms`` is never
        deleted (that aborts the process): it is kept in ``stuck`` until it finishes.
        """
        for running in self._running.values():
            running.worker.cancel()
            running.thread.quit()
        stopped: list[str] = []
        for running in list(self._running.values()):
            if running.thread.wait(timeout_ms):
                stopped.append(running.name)
            else:
                log.error("Job %s did not stop in time; leaving its thread to finish", running.name)
                running.thread.quit()  # its event loop starts once the job returns: end it at once
                self.stuck.append(self._running.pop(running.name))
        for name in stopped:
            self._done(name)
        if not stopped and not self.stuck:
            return []
        self.changed.emit()
        return [r.name for r in self.stuck]
