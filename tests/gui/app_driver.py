"""Runs the real app (``main.main``) in its own process and obeys commands a test appends to a file.

A test needs the app as a separate process to ``kill -9`` it, and to let a CLI run touch the
same store while it is open. Commands, one per line in ``<dir>/commands``; each is acknowledged
by appending its line to ``<dir>/acks`` once done:

- ``dialog FOLDER``: File › Export labels (whole project), show FOLDER in its dialog, then Esc.
- ``add-class NAME``: add a label class through the app, as the Classes dialog does.

Usage: ``python tests/gui/app_driver.py DIR`` with ``C3D_LABELLER_DB`` set; ``<dir>/ready``
appears once the main window is shown.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QFileDialog, QFileSystemModel  # noqa: E402

import main  # noqa: E402  (the worktree's own main.py)


class Driver:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.done = 0
        self.timer = QTimer()
        self.timer.timeout.connect(self.poll)
        self.timer.start(50)

    def window(self):  # type: ignore[no-untyped-def]
        from gui.main_window import MainWindow

        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, MainWindow) and widget.isVisible():
                return widget
        return None

    def ack(self, line: str) -> None:
        with (self.folder / "acks").open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    def poll(self) -> None:
        window = self.window()
        if window is None:
            return
        if not (self.folder / "ready").exists():
            (self.folder / "ready").write_text("ready\n")
        commands = self.folder / "commands"
        lines = commands.read_text(encoding="utf-8").splitlines() if commands.exists() else []
        if len(lines) <= self.done:
            return
        line = lines[self.done]
        self.done += 1
        verb, _, arg = line.partition(" ")
        if verb == "dialog":
            self.timer.stop()  # the dialog's modal loop keeps the timers running
            QTimer.singleShot(0, lambda: self.browse(Path(arg), line, 0))
            window.actions_by_name["export_project"].trigger()
        elif verb == "add-class":
            window.project.add_class(arg)
            self.ack(line)
        else:
            raise SystemExit(f"unknown command {line!r}")

    def browse(self, folder: Path, line: str, tries: int) -> None:
        """Inside the modal dialog: show FOLDER, wait until it is listed (and its files' types fetched), Esc.

        The dialog's name filter hides the store's files from the listing, not from Qt's
        file-info thread, which still looks at every file in the folder.
        """
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog):
            QTimer.singleShot(50, lambda: self.browse(folder, line, tries + 1))
            return
        if tries < 400:
            if Path(dialog.directory().absolutePath()) != folder:
                dialog.setDirectory(str(folder))
            model = dialog.findChild(QFileSystemModel)
            if model is None or model.rowCount(model.index(str(folder))) < 1:
                QTimer.singleShot(50, lambda: self.browse(folder, line, tries + 1))
                return
        QTimer.singleShot(1000, lambda: self.close_dialog(dialog, line))

    def close_dialog(self, dialog: QFileDialog, line: str) -> None:
        dialog.reject()
        self.ack(line)
        self.timer.start(50)


if __name__ == "__main__":
    app = QApplication(sys.argv[:1])
    driver = Driver(Path(sys.argv[1]))
    sys.exit(main.main([]))
