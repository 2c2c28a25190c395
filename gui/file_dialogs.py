"""Every file dialog the app shows comes from here, built so it never opens a file it lists.

Why: SQLite's locks are POSIX advisory locks, which belong to the process, and the kernel drops
all of them the moment *any* descriptor on the file is closed. Qt's stock file dialog sniffs
each listed file's contents (QMimeDatabase, for its icon and "Type" column), so merely showing
the store's folder opened and closed ``labels.sqlite3``, ``-wal`` and ``-shm``: the app lost its
locks, the next CLI run deleted the WAL under it, and edits made after that were lost on a crash.

So the dialogs here are Qt's own (non-native, the same on every platform), with an icon provider
that decides from the name alone, and a filter that hides SQLite's companion files and (unless a
project is being picked) any database that is open right now. None of them starts in the store's
folder: a dialog without a folder opens in the user's documents.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import (
    QFileInfo,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    QStandardPaths,
)
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QFileDialog, QFileIconProvider, QFileSystemModel, QStyle, QWidget

SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
"""Files SQLite keeps beside a database; nobody picks them, and listing one is a way to touch it."""


class NameOnlyIconProvider(QFileIconProvider):
    """Icons and type names from the file name only: never opens the file to look inside.

    Qt calls this from its file-info thread as well, so the icons are made once, up front.
    """

    def __init__(self) -> None:
        super().__init__()
        style = QApplication.style()
        self._folder = style.standardIcon(QStyle.StandardPixmap.SP_DirIcon)
        self._file = style.standardIcon(QStyle.StandardPixmap.SP_FileIcon)
        self._drive = style.standardIcon(QStyle.StandardPixmap.SP_DriveHDIcon)

    def icon(self, what: object) -> QIcon:  # type: ignore[override]
        if isinstance(what, QFileInfo):
            if what.isRoot():
                return self._drive
            return self._folder if what.isDir() else self._file
        if what == QFileIconProvider.IconType.Folder:
            return self._folder
        if what == QFileIconProvider.IconType.Drive:
            return self._drive
        return self._file

    def type(self, info: QFileInfo) -> str:
        if info.isDir():
            return "Folder"
        suffix = info.suffix()
        return f"{suffix.upper()} file" if suffix else "File"


def is_hidden_store_file(path: str, hide_live_databases: bool = True) -> bool:
    """SQLite's companion files always; a database in use (its ``-wal`` exists) unless asked not to.

    Decided from names and ``stat`` only: opening the file is exactly what must not happen.
    """
    if path.endswith(SQLITE_COMPANIONS):
        return True
    return hide_live_databases and os.path.exists(path + "-wal")


class _HideStoreFiles(QSortFilterProxyModel):
    def __init__(self, hide_live_databases: bool, parent: QWidget) -> None:
        super().__init__(parent)
        self._hide_live = hide_live_databases

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        if not isinstance(model, QFileSystemModel):
            return True
        index = model.index(row, 0, parent)
        if model.isDir(index):
            return True
        return not is_hidden_store_file(model.filePath(index), self._hide_live)


def default_folder() -> str:
    """The user's documents, else home; never the working directory, nor a folder with a store in use.

    (A folder listing reads names only; the ``-wal`` beside a database says it is open.)
    """
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    candidates = [Path(documents)] if documents else []
    candidates.append(Path.home())
    for folder in candidates:
        if folder.is_dir() and not any(folder.glob("*-wal")):
            return str(folder)
    return str(Path.home().parent if Path.home().parent.is_dir() else Path("/"))


def _start_in(directory: str) -> str:
    """A folder or file name to start in; a bare file name is placed in the default folder."""
    if not directory:
        return default_folder()
    path = Path(directory)
    if not path.is_absolute():
        return str(Path(default_folder()) / path)
    return directory


def make_dialog(
    parent: QWidget | None,
    caption: str,
    directory: str = "",
    name_filter: str = "",
    mode: QFileDialog.FileMode = QFileDialog.FileMode.ExistingFile,
    accept: QFileDialog.AcceptMode = QFileDialog.AcceptMode.AcceptOpen,
    hide_live_databases: bool = True,
) -> QFileDialog:
    """The one way the app builds a file dialog (see the module docstring for why)."""
    dialog = QFileDialog(parent, caption, _start_in(directory), name_filter)
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    dialog.setOption(QFileDialog.Option.DontUseCustomDirectoryIcons, True)
    dialog.setFileMode(mode)
    dialog.setAcceptMode(accept)
    # Set before the model lists anything, and kept alive by the dialog.
    provider = NameOnlyIconProvider()
    dialog.setIconProvider(provider)
    dialog._icon_provider = provider  # type: ignore[attr-defined]  # the dialog does not own it
    dialog.setProxyModel(_HideStoreFiles(hide_live_databases, dialog))
    return dialog


def _run(dialog: QFileDialog) -> tuple[list[str], str]:
    try:
        if not dialog.exec():
            return [], ""
        return dialog.selectedFiles(), dialog.selectedNameFilter()
    finally:
        dialog.deleteLater()


def open_file(parent: QWidget | None, caption: str, directory: str = "", name_filter: str = "") -> str:
    files, _ = _run(make_dialog(parent, caption, directory, name_filter))
    return files[0] if files else ""


def open_files(parent: QWidget | None, caption: str, directory: str = "", name_filter: str = "") -> list[str]:
    files, _ = _run(make_dialog(parent, caption, directory, name_filter, QFileDialog.FileMode.ExistingFiles))
    return files


def existing_folder(parent: QWidget | None, caption: str, directory: str = "") -> str:
    dialog = make_dialog(parent, caption, directory, mode=QFileDialog.FileMode.Directory)
    dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
    files, _ = _run(dialog)
    return files[0] if files else ""


def save_file(
    parent: QWidget | None,
    caption: str,
    directory: str = "",
    name_filter: str = "",
    confirm_overwrite: bool = True,
    hide_live_databases: bool = True,
) -> tuple[str, str]:
    """The chosen path and name filter, or ``("", "")`` when cancelled."""
    dialog = make_dialog(
        parent,
        caption,
        directory,
        name_filter,
        QFileDialog.FileMode.AnyFile,
        QFileDialog.AcceptMode.AcceptSave,
        hide_live_databases,
    )
    dialog.setOption(QFileDialog.Option.DontConfirmOverwrite, not confirm_overwrite)
    files, chosen = _run(dialog)
    return (files[0], chosen) if files else ("", "")
