"""The timeline's plain view box: left button seeks, the wheel zooms x, a middle drag pans."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal


class SeekViewBox(pg.ViewBox):
    """Left button seeks; wheel zooms x; middle drag pans. Subclasses add lane editing."""

    seek = Signal(int)

    def __init__(self) -> None:
        super().__init__(enableMenu=False)
        self.setMouseEnabled(x=True, y=False)
        self.frame_count = 1

    def frame_at(self, scene_pos: QPointF) -> int:
        x = self.mapSceneToView(scene_pos).x()
        return int(np.clip(np.floor(x), 0, max(self.frame_count - 1, 0)))

    def mouseClickEvent(self, ev: pg.GraphicsScene.mouseEvents.MouseClickEvent) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.seek.emit(self.frame_at(ev.scenePos()))
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(
        self, ev: pg.GraphicsScene.mouseEvents.MouseDragEvent, axis: int | None = None
    ) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.seek.emit(self.frame_at(ev.scenePos()))
        elif ev.button() == Qt.MouseButton.MiddleButton:
            super().mouseDragEvent(ev, axis)
        else:
            ev.ignore()
