"""The app's committed edits survive a CLI run on the same store and a ``kill -9`` of the app.

The app runs as a real process (tests/gui/app_driver.py around main.py, offscreen). Before the
file-dialog fix, showing the store's folder in a dialog dropped the app's SQLite locks; the CLI
then believed it was alone, deleted the WAL on exit, and the app's next edit went into the
deleted file: gone after a crash.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.media.library import add_video
from core.store import open_store
from tests.videos import write_mjpeg_avi

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("app_driver.py")
TIMEOUT_S = 60.0


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _wait_for(what: str, check: object, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        if proc.poll() is not None:
            log = Path(proc.args[-1]) / "app.log"  # type: ignore[index]
            pytest.fail(f"the app exited ({proc.returncode}) waiting for {what}:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


class App:
    """The driven app process; ``send`` appends a command and waits for its acknowledgement."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.proc = subprocess.Popen(
            [sys.executable, str(DRIVER), str(folder)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=(folder / "app.log").open("w"),
            text=True,
        )
        _wait_for("the main window", lambda: (folder / "ready").exists(), self.proc)

    def send(self, line: str) -> None:
        with (self.folder / "commands").open("a", encoding="utf-8") as f:
            f.write(line + "\n")
        acks = self.folder / "acks"
        _wait_for(line, lambda: acks.exists() and line in acks.read_text().splitlines(), self.proc)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture
def app_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        C3D_LABELLER_DB=f"sqlite:///{tmp_path / 'store' / 's.db'}",
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        HOME=str(tmp_path / "home"),
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture
def driven_app(tmp_path: Path, app_env: dict[str, str]) -> Iterator[App]:
    """The app on a store holding one video (so exporting the whole project is on offer)."""
    with open_store(app_env["C3D_LABELLER_DB"]) as store:
        add_video(store, write_mjpeg_avi(tmp_path / "clip.avi", 20, size=(112, 112)))
    control = tmp_path / "control"
    control.mkdir()
    app = App(control, app_env)
    try:
        yield app
    finally:
        app.kill()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SQLite's POSIX locks are what is tested")
def test_cli_write_then_kill_9_of_the_app_loses_nothing(
    tmp_path: Path, app_env: dict[str, str], driven_app: App
) -> None:
    store_dir = tmp_path / "store"
    driven_app.send(f"dialog {store_dir}")  # a glance at the store's folder in a file dialog
    _cli(app_env, "classes", "add", "from-cli")  # another process writes while the app is open
    driven_app.send("add-class from-app")  # the app commits an edit after that
    driven_app.kill()  # and crashes

    with sqlite3.connect(store_dir / "s.db") as db:
        names = {name for (name,) in db.execute("SELECT name FROM label_classes")}
    assert {"from-cli", "from-app"} <= names
