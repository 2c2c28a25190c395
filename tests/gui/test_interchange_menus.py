"""File › Import labels… and Export labels…: what the user picks is what lands, in the store or on disk."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QDialog

from core.store import Store
from core.store.records import NewSegment
from gui import file_dialogs
from gui.dialogs import import_labels
from tests.gui.conftest import open_video


def _trigger(win: Any, name: str) -> None:
    next(a for a in win.actions() if a.objectName() == name).trigger()


@pytest.mark.parametrize(("fmt", "suffix"), [("csv", ".csv"), ("eaf", ".eaf")])
def test_export_this_video_writes_the_chosen_format(
    qtbot: Any,
    window: Any,
    store: Store,
    tiny_video: Path,
    tmp_path: Path,
    monkeypatch: Any,
    fmt: str,
    suffix: str,
) -> None:
    open_video(qtbot, window, tiny_video)
    video = window.current.video
    groom = store.classes.add("groom")
    store.segments.add(video.id, NewSegment(groom.id, 4, 12))
    out = tmp_path / f"exported{suffix}"
    monkeypatch.setattr(file_dialogs, "save_file", lambda *a, **k: (str(out), f"{fmt} (*{suffix})"))
    _trigger(window, "export_video")
    assert out.exists()
    if fmt == "csv":
        with out.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        assert [(r["class"], r["start_frame"], r["end_frame"]) for r in rows] == [("groom", "4", "12")]
    else:
        root = ET.parse(out).getroot()
        assert root.tag == "ANNOTATION_DOCUMENT"
        assert [t.get("TIER_ID") for t in root.iter("TIER")] == ["groom"]


def test_import_labels_menu_commits_and_redraws(
    qtbot: Any, window: Any, store: Store, tiny_video: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    open_video(qtbot, window, tiny_video)
    video = window.current.video
    labels = tmp_path / "in.csv"
    labels.write_text(f"video,class,start_frame,end_frame\n{video.path},rear,2,9\n", encoding="utf-8")
    monkeypatch.setattr(file_dialogs, "open_files", lambda *a, **k: [str(labels)])

    def accept_with_new_classes(dialog: import_labels.ImportDialog) -> int:
        dialog.create_classes.setChecked(True)
        assert dialog.import_button.isEnabled()
        dialog.import_button.click()
        return QDialog.DialogCode.Accepted.value

    monkeypatch.setattr(import_labels.ImportDialog, "exec", accept_with_new_classes)
    _trigger(window, "import_labels")
    assert [(s.class_name, s.start_frame, s.end_frame) for s in store.segments.list(video.id)] == [
        ("rear", 2, 9)
    ]
    assert [(s.class_name, s.start_frame, s.end_frame) for s in window.current.segments] == [("rear", 2, 9)]
    assert "rear" in [c.name for c in window.project.classes]
