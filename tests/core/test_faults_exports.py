"""Exports that cannot be written say why in one line, leave the old file as it was and no
temporary file; written files get the user's umask; debris of a killed write is cleaned."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import atomic
from core.store import open_store
from main import main


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _export(capsys: pytest.CaptureFixture[str], db: Path, out: Path) -> tuple[int, str]:
    code = main(["--db", str(db), "export", "--format", "csv", "--out", str(out)])
    _, err = capsys.readouterr()
    return code, err


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _no_tmp(folder: Path) -> None:
    assert [p.name for p in folder.rglob("*.tmp")] == []


def test_full_disk_keeps_the_old_export_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out" / "labels.csv"
    out.parent.mkdir()
    out.write_text("the export from yesterday\n")

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    code, err = _export(capsys, tmp_path / "l.sqlite3", out)
    assert code != 0
    line = _one_line(err)
    assert "disk is full" in line and "labels.csv" in line
    assert out.read_text() == "the export from yesterday\n"
    _no_tmp(tmp_path)


def test_unwritable_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() == 0:  # root may write anywhere: make the folder refuse like a real one would

        def refuse(*_args: object, **_kwargs: object) -> tuple[int, str]:
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    else:
        folder.chmod(0o555)
    try:
        code, err = _export(capsys, tmp_path / "l.sqlite3", folder / "labels.csv")
    finally:
        folder.chmod(0o755)
    assert code != 0
    assert "permission denied" in _one_line(err)
    assert list(folder.iterdir()) == []


def test_parent_that_is_a_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine\n")
    code, err = _export(capsys, tmp_path / "l.sqlite3", blocker / "labels.csv")
    assert code != 0
    assert f"{blocker} is a file, not a folder" in _one_line(err)
    assert blocker.read_text() == "mine\n"
    _no_tmp(tmp_path)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_exported_files_follow_the_umask(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], umask: None, mask: int, mode: int
) -> None:
    os.umask(mask)
    out = tmp_path / "labels.csv"
    code, err = _export(capsys, tmp_path / "l.sqlite3", out)
    assert code == 0, err
    assert out.stat().st_mode & 0o777 == mode


def test_replacing_a_file_keeps_its_permissions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], umask: None
) -> None:
    out = tmp_path / "labels.csv"
    out.write_text("old\n")
    out.chmod(0o600)
    assert _export(capsys, tmp_path / "l.sqlite3", out)[0] == 0
    assert out.read_text() != "old\n" and out.stat().st_mode & 0o777 == 0o600


def test_debris_of_a_killed_write_is_removed_at_start_up_but_a_live_write_is_not(tmp_path: Path) -> None:
    models = tmp_path / "l_files" / "models"
    models.mkdir(parents=True)
    dead = models / ".untrained.safetensors.k3j4.tmp"
    dead.write_bytes(b"\0" * 4096)
    live = models / ".other.safetensors.x9.tmp"
    live.write_bytes(b"\0" * 10)
    keep = models / "model.safetensors"
    keep.write_bytes(b"weights")
    fd = os.open(live, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a write in progress in another process holds it
    try:
        with open_store(f"sqlite:///{tmp_path / 'l.sqlite3'}"):
            pass
        assert not dead.exists()
        assert live.exists() and keep.read_bytes() == b"weights"
    finally:
        os.close(fd)
