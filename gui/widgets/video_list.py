"""The project's videos with their state; double-click (or Enter) opens one."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
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
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.itemActivated.connect(self._open)
        self.itemDoubleClicked.connect(self._open)
        state.videos_changed.connect(self.refresh)
        current.video_changed.connect(self.refresh)
        runner.analysing_changed.connect(self.refresh)

    def refresh(self) -> None:
        selected = set(self.selected_ids())
        current = self.current.video.id if self.current.video is not None else None
        self.clear()
        for status in self.state.statuses:
            vid = status.video.id
            item = QListWidgetItem(status.text(self.runner.analysing.get(vid)))
            item.setData(Qt.ItemDataRole.UserRole, vid)
            item.setToolTip(status.video.path)
            if status.missing:
                item.setForeground(QColor("#e06060"))
            if vid == current:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.addItem(item)
            item.setSelected(vid in selected)

    def selected_ids(self) -> list[int]:
        return [int(i.data(Qt.ItemDataRole.UserRole)) for i in self.selectedItems()]

    def _open(self, item: QListWidgetItem) -> None:
        self.current.open_video(int(item.data(Qt.ItemDataRole.UserRole)))

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
