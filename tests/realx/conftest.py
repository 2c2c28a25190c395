"""Real-X harness: an Xvfb server, the app (``main.py``) on it, and xdotool for real key events.

Offscreen tests cannot see keyboard focus, real key routing, or what another part of the process
does to the store's files; these tests can. The app's state is read from the store (and
/proc/locks, and exported files), never from pixels.

Xvfb has no window manager, so nothing gives a window focus by itself: ``XApp.focus`` does what a
window manager would (X input focus, then a click on a neutral spot), and is called again after a
dialog closes. ``make test`` installs Xvfb and xdotool (Debian packages); under CI a missing tool
fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
TITLE = "C3D Labeller"
WAIT_S = 30.0
T = TypeVar("T")


def _require_tools() -> None:
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if not missing:
        return
    # Never a skip: `make test` installs both, and a skipped real-X test would pass CI unseen.
    pytest.fail(f"{' and '.join(missing)} not installed: run `make test` (it installs xvfb and xdotool)")


@pytest.fixture
def display() -> Iterator[str]:
    """A fresh Xvfb on a free display (Xvfb picks it and tells us through -displayfd)."""
    _require_tools()
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as pipe:
            number = pipe.readline().strip()
        if not number:
            pytest.fail(f"Xvfb did not start (exit code {server.poll()})")
        yield f":{number}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = WAIT_S) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what} (last seen: {last!r})")


def query(db: Path, sql: str, *params: object) -> list[tuple]:
    """Read the store the app is using, from outside, the way another process would."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute(sql, params).fetchall()


class XApp:
    """The app running on ``display``, driven by xdotool."""

    def __init__(self, display: str, env: dict[str, str], log: Path) -> None:
        self.env = {**env, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py")],
            env=self.env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.log = log
        self.window = wait_for("the main window", self._find_window, timeout=90)

    def _find_window(self) -> str | None:
        if self.proc.poll() is not None:
            pytest.fail(f"the app exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
        found = self.xdotool("search", "--onlyvisible", "--name", f"^{TITLE}", check=False)
        return found.split()[0] if found else None

    def xdotool(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=30, check=False
        )
        if check and done.returncode != 0:
            pytest.fail(f"xdotool {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def focus(self) -> None:
        """What a window manager would do: focus the main window, then click where nothing reacts."""
        self.xdotool("windowfocus", "--sync", self.window)
        shell = self.xdotool("getwindowgeometry", "--shell", self.window)
        height = int(dict(line.split("=", 1) for line in shell.splitlines())["HEIGHT"])
        # The left end of the status bar: no widget there takes focus or acts on a click.
        self.xdotool("mousemove", "--window", self.window, "12", str(height - 6), "click", "1")
        time.sleep(0.3)

    def key(self, *keys: str) -> None:
        self.xdotool("key", "--delay", "120", *keys)
        time.sleep(0.3)

    def type(self, text: str) -> None:
        self.xdotool("type", "--delay", "40", text)

    def focused_window_name(self) -> str:
        return self.xdotool("getwindowfocus", "getwindowname", check=False)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._log.close()

    def kill_9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=15)


def locks_held(pid: int, paths: list[Path]) -> set[str]:
    """Which of ``paths`` process ``pid`` holds a POSIX lock on (/proc/locks names files by inode)."""
    inodes = {os.stat(p).st_ino: p.name for p in paths if p.exists()}
    held = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()  # "1: POSIX  ADVISORY  READ 1234 fe:00:5678 128 128"
        if len(fields) >= 6 and fields[1] == "POSIX" and fields[4] == str(pid):
            inode = int(fields[5].rsplit(":", 1)[1])
            if inode in inodes:
                held.add(inodes[inode])
    return held
