"""Import…: the dialog previews what will change and every problem, and commits all or nothing."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from core.store import Store
from gui.dialogs.import_labels import ImportDialog
from tests.core.interchange_helpers import add_video, snapshot

HEADER = "video,video_hash,class,start_frame,end_frame,start_s,end_s,source,fps\n"


def _csv(tmp_path: Path, video_path: str, rows: list[tuple[str, int, int]]) -> Path:
    path = tmp_path / "labels.csv"
    lines = [f'"{video_path}",,{name},{s},{e},,,human,30\n' for name, s, e in rows]
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    return path


def test_preview_then_import_writes_the_segments(qtbot, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    video = add_video(store, path="/data/day 1/clip.mp4")
    store.classes.add("groom")
    dialog = ImportDialog(store, [_csv(tmp_path, video.path, [("groom", 10, 20), ("Groom ", 30, 40)])])
    qtbot.addWidget(dialog)
    row = dialog.preview.topLevelItem(0)
    assert [row.text(i) for i in range(4)] == [Path(video.path).name, "2", "0", "0"]
    assert dialog.problems.count() == 0
    assert dialog.import_button.isEnabled()

    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert dialog.result is not None and dialog.result.segments == 2
    spans = [(s.class_name, s.start_frame, s.end_frame) for s in store.segments.list(video.id)]
    assert spans == [("groom", 10, 20), ("groom", 30, 40)]


def test_unknown_class_is_shown_and_blocks_import_until_the_user_allows_it(
    qtbot, store: Store, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    video = add_video(store, path="/data/day 1/clip.mp4")
    before = snapshot(store)
    dialog = ImportDialog(store, [_csv(tmp_path, video.path, [("rear", 0, 5), ("rear", 3, 1)])])
    qtbot.addWidget(dialog)
    texts = [dialog.problems.item(i).text() for i in range(dialog.problems.count())]
    assert any("class 'rear' is not in this project" in t for t in texts), texts
    assert not dialog.import_button.isEnabled()
    assert "errors" in dialog.verdict.text()

    dialog.create_classes.setChecked(True)  # the unknown class is now offered for creation
    texts = [dialog.problems.item(i).text() for i in range(dialog.problems.count())]
    assert any("line 3" in t and "error" in t for t in texts), texts  # start after end still blocks it
    assert not dialog.import_button.isEnabled()
    dialog.reject()
    assert snapshot(store) == before  # nothing partial was committed
