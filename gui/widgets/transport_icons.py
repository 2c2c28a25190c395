"""Icons the style has no standard pixmap for: jump to the previous / next segment boundary."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPalette, QPixmap, QPolygonF

SIZE = 32  # drawn large, scaled down by the button


def boundary_icon(palette: QPalette, forward: bool) -> QIcon:
    """A triangle running into a bar: ◀| toward the previous boundary, |▶ toward the next."""
    pixmap = QPixmap(SIZE, SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(palette.color(QPalette.ColorRole.ButtonText))
    m, h = SIZE * 0.2, SIZE * 0.6
    if forward:
        tip = SIZE - m - 5
        painter.drawPolygon(QPolygonF([QPointF(m, m), QPointF(tip, SIZE / 2), QPointF(m, m + h)]))
        painter.drawRect(QRectF(SIZE - m - 4, m, 4, h))
    else:
        tip = m + 5
        painter.drawPolygon(
            QPolygonF([QPointF(SIZE - m, m), QPointF(tip, SIZE / 2), QPointF(SIZE - m, m + h)])
        )
        painter.drawRect(QRectF(m, m, 4, h))
    painter.end()
    return QIcon(pixmap)
