"""Desktop app entry (filled in by the "Desktop app" issue)."""

from __future__ import annotations

import sys


def run_app(db_url: str) -> int:
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication(sys.argv)
    label = QLabel(f"C3D Labeller — store: {db_url}")
    label.setWindowTitle("C3D Labeller")
    label.resize(640, 120)
    label.show()
    return app.exec()
