"""A file dialog showing the store's folder must not drop the app's SQLite locks.

POSIX advisory locks belong to the process; closing *any* descriptor on a file drops them all.
Qt's stock dialog opened each listed file to sniff its type, so a glance at the store's folder
left the app unlocked (a CLI run then deleted the WAL under it). These tests read /proc/locks.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QFileDialog, QFileSystemModel

from core.store import open_store
from gui import file_dialogs

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/locks")


def _locks_held(paths: list[Path]) -> set[str]:
    """Which of these files this process holds a POSIX lock on, by inode (as /proc/locks names them)."""
    inodes = {os.stat(p).st_ino: p.name for p in paths if p.exists()}
    held = set()
    pid = str(os.getpid())
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        # "1: POSIX  ADVISORY  READ 1234 fe:00:5678 128 128"
        if len(fields) >= 6 and fields[1] == "POSIX" and fields[4] == pid:
            inode = int(fields[5].rsplit(":", 1)[1])
            if inode in inodes:
                held.add(inodes[inode])
    return held


@pytest.mark.parametrize("hide_live_databases", [True, False], ids=["export", "project-picker"])
def test_showing_the_store_folder_keeps_the_store_locked(
    qtbot: Any, tmp_path: Path, hide_live_databases: bool
) -> None:
    folder = tmp_path / "project"
    db = folder / "s.db"
    (folder / "clip.avi").parent.mkdir(parents=True)
    (folder / "clip.avi").write_bytes(b"RIFF....AVI ")
    store = open_store(f"sqlite:///{db}")
    try:
        store.classes.add("groom")  # a write, so the WAL and its index are in use
        files = [db, folder / "s.db-wal", folder / "s.db-shm"]
        before = _locks_held(files)
        assert before, "the open store should hold POSIX locks (WAL index at least)"

        dialog = file_dialogs.make_dialog(
            None, "Export labels", str(folder), hide_live_databases=hide_live_databases
        )
        dialog.setViewMode(QFileDialog.ViewMode.Detail)  # the Type column sniffed contents, too
        qtbot.addWidget(dialog)
        dialog.show()
        model = dialog.findChild(QFileSystemModel)
        assert model is not None
        listed = lambda: model.rowCount(model.index(str(folder)))  # noqa: E731
        qtbot.waitUntil(lambda: listed() >= 4)  # the store's three files and the clip were listed
        qtbot.wait(300)  # icons and types are fetched after the listing
        proxy = dialog.proxyModel()
        root = proxy.mapFromSource(model.index(str(folder)))
        shown = {proxy.index(r, 0, root).data() for r in range(proxy.rowCount(root))}
        expected = {"clip.avi", "s_files"} | (set() if hide_live_databases else {"s.db"})
        assert shown == expected
        dialog.reject()
        qtbot.wait(50)

        assert _locks_held(files) == before
        # And the store still works, its WAL the one on disk.
        store.classes.add("rear")
        assert {c.name for c in store.classes.list()} >= {"groom", "rear"}
    finally:
        store.close()


def test_the_store_files_are_hidden_but_a_live_project_can_be_picked(qtbot: Any, tmp_path: Path) -> None:

    for name in ("s.db", "s.db-wal", "s.db-shm", "old.db", "old.db-journal", "clip.avi"):
        (tmp_path / name).write_bytes(b"")
    names = {p.name for p in tmp_path.iterdir() if not file_dialogs.is_hidden_store_file(str(p))}
    assert names == {"old.db", "clip.avi"}
    picker = {p.name for p in tmp_path.iterdir() if not file_dialogs.is_hidden_store_file(str(p), False)}
    assert picker == {"s.db", "old.db", "clip.avi"}


def test_a_dialog_without_a_folder_opens_in_documents_not_the_working_directory(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    dialog = file_dialogs.make_dialog(None, "Export labels")
    qtbot.addWidget(dialog)
    assert Path(dialog.directory().absolutePath()) == Path(file_dialogs.default_folder())
    assert Path(dialog.directory().absolutePath()) != tmp_path
    named = file_dialogs.make_dialog(None, "Export model", "model-3.safetensors")
    qtbot.addWidget(named)
    assert Path(named.directory().absolutePath()) == Path(file_dialogs.default_folder())


def test_the_default_folder_is_never_one_holding_a_store_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    documents = home / "Documents"
    documents.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(file_dialogs.QStandardPaths, "writableLocation", lambda _location: str(documents))
    assert file_dialogs.default_folder() == str(documents)
    store = open_store(f"sqlite:///{documents / 'labels.sqlite3'}")
    try:
        store.classes.add("groom")
        assert (documents / "labels.sqlite3-wal").exists()
        assert file_dialogs.default_folder() == str(home)
    finally:
        store.close()


def test_every_file_dialog_in_the_app_comes_from_the_factory() -> None:
    """Qt's static helpers build a dialog that sniffs files; only gui/file_dialogs.py may use QFileDialog."""
    gui = Path(__file__).resolve().parents[2] / "gui"
    offenders = []
    for path in gui.rglob("*.py"):
        if path.name == "file_dialogs.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name | ast.Attribute) and "QFileDialog" in ast.unparse(node):
                offenders.append(f"{path.relative_to(gui.parent)}:{node.lineno}")
    assert offenders == []
