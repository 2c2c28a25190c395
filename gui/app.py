"""Desktop app entry: the QApplication, the store, the hub and the main window."""

from __future__ import annotations

import logging
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


def run_app(db_url: str) -> int:
    from PySide6.QtWidgets import QApplication

    from core.errors import AppError
    from core.store import open_store
    from gui.app_state import AppState
    from gui.dialogs import errors
    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("C3D Labeller")
    app.setOrganizationName("c3d-labeller")
    try:
        store = open_store(db_url)
    except AppError as exc:
        errors.show_warning(None, str(exc))
        return 2
    _install_excepthook()
    state: AppState | None = None
    try:
        state = AppState(store)
        window = MainWindow(state)
        if store.recovered_from is not None:
            state.message.emit(f"The database could not be read; it was moved to {store.recovered_from}.")
        window.show()
        return int(app.exec())
    finally:
        if state is not None:
            state.close_stores()  # projects opened during the session, too
        store.close()
