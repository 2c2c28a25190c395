"""Desktop app entry: the QApplication, the store, the hub and the main window."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from types import TracebackType

log = logging.getLogger(__name__)


def _install_excepthook() -> None:
    """Anything unexpected is logged and shown with its traceback, ready to copy into a report."""
    from gui.dialogs import errors

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        details = "".join(traceback.format_exception(kind, exc, tb))
        log.error("Unexpected error:\n%s", details)
        errors.show_warning(
            None, f"Something went wrong: {exc}\n\nShow Details to copy a bug report.", details
        )

    sys.excepthook = hook


def run_app(db_url: str, annotator: str | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from core.errors import AppError
    from core.project import open_project
    from gui.dialogs import errors
    from gui.main_window import MainWindow
    from gui.state import AppModels

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("C3D Labeller")
    app.setOrganizationName("c3d-labeller")
    from PySide6.QtCore import QSettings

    from core.project.project import ANNOTATOR_ENV

    # --annotator (remembered as the app's setting), then the environment, the setting, the login.
    settings = QSettings()
    if annotator:
        settings.setValue("team/annotator", annotator)
    annotator = annotator or os.environ.get(ANNOTATOR_ENV) or str(settings.value("team/annotator", "") or "")
    try:
        project = open_project(db_url, annotator or None)
    except AppError as exc:
        errors.show_warning(None, str(exc))
        return 2
    _install_excepthook()
    models: AppModels | None = None
    try:
        models = AppModels.create(project)
        window = MainWindow(models)
        if project.store.recovered_from is not None:
            models.project.message.emit(
                f"The database could not be read; it was moved to {project.store.recovered_from}."
            )
        window.show()
        code = int(app.exec())
        window.shutdown()
        stuck = models.runner.jobs.stuck
        if stuck:  # a job that ignores cancel: its thread must not be destroyed while it runs
            log.error("Jobs still running at exit: %s; leaving without waiting", [r.name for r in stuck])
            models.close()
            logging.shutdown()
            os._exit(code)
        return code
    finally:
        if models is not None:
            models.close()  # projects opened during the session, too
        else:
            project.close()
