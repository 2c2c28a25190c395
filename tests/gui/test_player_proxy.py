"""The player scrubs on the proxy and settles on the original: the right frame either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtGui import QImage

from core.media.proxy import MAX_SIDE, ProxyLibrary
from core.store import Store
from tests.gui.conftest import open_video
from tests.videos import read_number, write_h264_bframes

FRAMES = 60


def _bgr(image: QImage) -> np.ndarray:
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = rgb.width(), rgb.height()
    arr = np.frombuffer(rgb.constBits(), dtype=np.uint8).reshape(height, rgb.bytesPerLine())
    return np.ascontiguousarray(arr[:, : width * 3].reshape(height, width, 3)[..., ::-1])


def _record(window: Any) -> list[tuple[int, bool, int, int]]:
    """(frame, exact, image width, number drawn in the pixels) of every frame the player shows."""
    shown: list[tuple[int, bool, int, int]] = []
    window.player.frames.frame_ready.connect(
        lambda frame, image, exact: shown.append((frame, exact, image.width(), read_number(_bgr(image))))
    )
    return shown


def _proxy_complete(store: Store, window: Any) -> bool:
    proxy = ProxyLibrary(store.files_dir).open(window.current.video.content_hash)
    if proxy is None:
        return False
    proxy.close()
    return proxy.complete


def test_scrubbing_shows_proxy_frames_then_the_original_once_still(
    qtbot: Any, window: Any, store: Store, tmp_path: Path
) -> None:
    clip = write_h264_bframes(tmp_path / "wide.mp4", FRAMES, size=(960, 540), gop=FRAMES, bframes=3)
    window.resize(1400, 1000)
    open_video(qtbot, window, clip)
    qtbot.waitUntil(lambda: _proxy_complete(store, window), timeout=30000)
    assert "Scrubbing proxy for wide.mp4" in window.statusBar().currentMessage()
    shown = _record(window)

    for target in (50, 9, 33, 34, 57):
        window.current.set_frame(target)
        qtbot.waitUntil(lambda t=target: (t, True) in [(f, e) for f, e, _w, _n in shown], timeout=20000)
        mine = [s for s in shown if s[0] == target]
        first, last = mine[0], mine[-1]
        assert first[1] is False, "while moving, the proxy frame shows first"
        assert first[2] <= MAX_SIDE and first[3] == target
        assert last[1] is True and last[3] == target
        assert window.player.view.shown_frame == target and window.player.view.shown_exact
        assert all(n == f for f, _e, _w, n in shown), "every image shown is the frame it claims to be"

    # A drag: many positions in a row; whatever was shown on the way was the right frame, and the
    # player comes to rest on the original's last one.
    shown.clear()
    for target in range(0, FRAMES, 4):
        window.current.set_frame(target)
        qtbot.wait(1)
    qtbot.waitUntil(
        lambda: window.player.view.shown_frame == 56 and window.player.view.shown_exact, timeout=20000
    )
    assert any(not exact for _f, exact, _w, _n in shown)
    assert all(n == f for f, _e, _w, n in shown)


def test_without_a_proxy_the_original_is_shown(qtbot: Any, window: Any, tmp_path: Path) -> None:
    clip = write_h264_bframes(tmp_path / "small.mp4", 30, size=(160, 120), gop=30)
    window.player.frames.proxies = False
    open_video(qtbot, window, clip)
    shown = _record(window)
    window.current.set_frame(21)
    qtbot.waitUntil(lambda: window.player.view.shown_frame == 21, timeout=20000)
    assert shown[-1][::3] == (21, 21)
    assert all(exact and n == f for f, exact, _w, n in shown)
    assert not (Path(window.project.store.files_dir) / "proxies").exists()


def test_fast_playback_runs_on_the_proxy_and_stops_on_the_original(
    qtbot: Any, window: Any, store: Store, tmp_path: Path
) -> None:
    clip = write_h264_bframes(tmp_path / "play.mp4", FRAMES, size=(320, 240), gop=FRAMES)
    open_video(qtbot, window, clip)
    qtbot.waitUntil(lambda: _proxy_complete(store, window), timeout=30000)
    shown = _record(window)
    window.player.speed.setValue(4.0)
    window.playback.play()
    qtbot.waitUntil(lambda: not window.playback.playing, timeout=20000)
    view = window.player.view
    qtbot.waitUntil(lambda: view.shown_frame == FRAMES - 1 and view.shown_exact, timeout=20000)
    assert any(not exact for _f, exact, _w, _n in shown), "fast playback shows proxy frames"
    assert all(n == f for f, _e, _w, n in shown)
