"""Showing a failure to the user: a warning for an AppError, details to copy for a bug report."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger(__name__)


def show_warning(parent: QWidget | None, text: str, details: str = "") -> None:
    box = QMessageBox(QMessageBox.Icon.Warning, "C3D Labeller", text, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)  # the "Show Details…" text can be selected and copied
    box.exec()
