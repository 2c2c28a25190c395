"""The project's videos with their state; double-click (or Enter) opens one.

Opening a video refreshes this list, so the list is updated in place (never cleared while
one of its own signals is being handled) and the open is queued after the click ends.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QMenu, QWidget

from gui import file_dialogs
from gui.state import CurrentVideo, JobRunner, ProjectState


class VideoList(QListWidget):
    def __init__(
        self, state: ProjectState, current: CurrentVideo, runner: JobRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.state, self.current, self.runner = state, current, runner
        self.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a name keeps its start and its end
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWordWrap(False)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.itemActivated.connect(self._open)  # a double-click or Enter, once (per the style)
        state.videos_changed.connect(self.refresh)
        current.video_changed.connect(self.refresh)
        runner.analysing_changed.connect(self.refresh)

    def refresh(self) -> None:
        selected = set(self.selected_ids())
        current = self.current.video.id if self.current.video is not None else None
        ids = [s.video.id for s in self.state.statuses]
        if ids != [self.item(r).data(Qt.ItemDataRole.UserRole) for r in range(self.count())]:
            self.clear()
            for vid in ids:
                item = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, vid)
                self.addItem(item)
        for row, status in enumerate(self.state.statuses):
            vid = status.video.id
            item = self.item(row)
            detail = status.text(self.runner.analysing.get(vid)).removeprefix(f"{status.name} — ")
            work = status.work_text()  # team mode: a line of its own, never elided away
            item.setText(f"{status.name}\n{detail}" + (f"\n{work}" if work else ""))
            item.setToolTip(status.video.path)
            if status.missing:
                item.setForeground(QColor("#e06060"))
            else:
                item.setData(Qt.ItemDataRole.ForegroundRole, None)
            font = item.font()
            font.setBold(vid == current)
            item.setFont(font)
            item.setSelected(vid in selected)

    def selected_ids(self) -> list[int]:
        return [int(i.data(Qt.ItemDataRole.UserRole)) for i in self.selectedItems()]

    def _open(self, item: QListWidgetItem) -> None:
        video_id = int(item.data(Qt.ItemDataRole.UserRole))
        if self.current.video is not None and self.current.video.id == video_id:
            return  # already open: keep the playhead where it is
        QTimer.singleShot(0, self, lambda: self.current.open_video(video_id))

    def _menu(self, pos: QPoint) -> None:
        item = self.itemAt(pos)
        if item is None:
            return
        video_id = int(item.data(Qt.ItemDataRole.UserRole))
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.current.open_video(video_id))
        menu.addAction("Relink…", lambda: self._relink(video_id))
        menu.exec(self.mapToGlobal(pos))

    def _relink(self, video_id: int) -> None:
        path = file_dialogs.open_file(self, "Where is this video now?")
        if path:
            self.state.relink(video_id, path)
