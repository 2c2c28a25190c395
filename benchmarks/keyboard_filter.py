"""What the application-wide "shortcuts first" event filter costs: every event in the app
passes through it, so compare event delivery with and without it, in the same run.

Prints one JSON object: per-event microseconds for a stream of non-key events (ones the
filter lets through at once) and for key events (the ones it inspects), without and with the
filter, and their ratios.

Usage: python benchmarks/keyboard_filter.py [--events 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QListWidget, QMainWindow

from gui.keyboard import ShortcutsFirst


def _deliver(widget: QListWidget, keys: bool, count: int) -> float:
    """Seconds per event to send ``count`` events (key-override events or plain ones) to ``widget``."""
    no_mod = Qt.KeyboardModifier.NoModifier
    events = [
        QKeyEvent(QEvent.Type.ShortcutOverride, Qt.Key.Key_Right, no_mod)
        if keys
        else QEvent(QEvent.Type.User)
        for _ in range(count)
    ]
    start = time.perf_counter()
    for event in events:
        QApplication.sendEvent(widget, event)
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    window = QMainWindow()
    widget = QListWidget()
    window.setCentralWidget(widget)
    window.show()
    app.processEvents()
    plain_other = _deliver(widget, False, args.events)
    plain_keys = _deliver(widget, True, args.events)
    ShortcutsFirst(window)
    filtered_other = _deliver(widget, False, args.events)
    filtered_keys = _deliver(widget, True, args.events)
    print(
        json.dumps(
            {
                "events": args.events,
                "other_us_without": round(plain_other * 1e6, 3),
                "other_us_with": round(filtered_other * 1e6, 3),
                "other_ratio": round(filtered_other / plain_other, 2),
                "key_us_without": round(plain_keys * 1e6, 3),
                "key_us_with": round(filtered_keys * 1e6, 3),
                "key_ratio": round(filtered_keys / plain_keys, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
