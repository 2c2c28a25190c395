"""Atomic file writes: a crash, a full disk or a missing permission never leaves a half-written
file behind, and the file the user already had stays as it was.

The temporary file sits beside the target and is locked (``flock``) while it is written, so
``remove_debris`` can tell the leftovers of a killed writer (unlocked) from a write still in
progress in another process (locked), and clean the former at start-up. Finished files get
the permissions any other program would give them (the user's umask), not ``mkstemp``'s 0600.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from core.errors import FileWriteError

try:
    import fcntl
except ImportError:  # Windows: no flock; debris is recognised by age instead
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

TMP_SUFFIX = ".tmp"
UNLOCKED_DEBRIS_AGE_S = 24 * 3600
"""Without ``flock``, a temporary file this old cannot belong to a running write."""


@contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temporary file beside ``path``, fsync it, then rename it over ``path``.

    Any ``OSError`` becomes a ``FileWriteError`` with one sentence naming the file and the cause.
    """
    target = Path(path)
    binary = "b" in mode
    with temp_beside(target) as (fd, tmp_name):
        try:
            with os.fdopen(
                os.dup(fd), mode, encoding=None if binary else encoding, newline=None if binary else ""
            ) as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp_name, target)
        except OSError as exc:
            raise FileWriteError(write_failure(target, exc)) from exc


@contextmanager
def temp_beside(target: Path, *, make_parents: bool = True, what: str = "") -> Iterator[tuple[int, str]]:
    """A locked temporary file next to ``target``, with ``target``'s final permissions.

    The caller writes it and renames it over ``target``; if the rename has not happened when
    the block ends, the temporary file is removed.
    """
    try:
        if make_parents:
            target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TMP_SUFFIX, dir=target.parent)
    except OSError as exc:
        raise FileWriteError(write_failure(target, exc, what)) from exc
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        if hasattr(os, "fchmod"):
            os.fchmod(fd, final_mode(target))
        yield fd, tmp_name
    finally:
        os.close(fd)
        Path(tmp_name).unlink(missing_ok=True)  # a no-op once renamed over the target


def final_mode(target: Path) -> int:
    """Keep the mode of the file being replaced; a new file gets 0666 less the umask."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process umask, read without changing it where the kernel says it (Linux ≥ 4.7)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_failure(target: Path, exc: OSError, what: str = "") -> str:
    """The sentence "Could not write <what> X: <why>", with a why the user can act on."""
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        why = "the disk is full; free some space and try again"
    elif code in (errno.EACCES, errno.EPERM):
        why = f"permission denied (the folder {target.parent} is not writable, or the file is protected)"
    elif code == errno.EROFS:
        why = "the drive is read-only"
    elif code in (errno.ENOTDIR, errno.EEXIST) or isinstance(exc, NotADirectoryError | FileExistsError):
        blocker = _file_in_the_way(target.parent)
        why = f"{blocker} is a file, not a folder" if blocker else "a file is in the way of its folder"
    elif code == errno.EISDIR:
        why = "it is a folder"
    else:
        why = exc.strerror or str(exc)
    return f"Could not write {what + ' ' if what else ''}{target}: {why}. Nothing was changed."


def _file_in_the_way(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate if not candidate.is_dir() else None
    return None


def remove_debris(folder: Path) -> int:
    """Delete temporary files that no running write holds (a killed save leaves 312 MB behind).

    Returns the bytes freed. A file locked by another process is a write in progress and is
    left alone.
    """
    freed = 0
    if not folder.is_dir():
        return 0
    for tmp in folder.rglob(f".*{TMP_SUFFIX}"):
        try:
            if not tmp.is_file() or not _abandoned(tmp):
                continue
            size = tmp.stat().st_size
            tmp.unlink()
        except OSError as exc:
            log.debug("Could not check or remove %s: %s", tmp, exc)
            continue
        freed += size
        log.info("Removed %s (%d bytes) left by an interrupted write", tmp, size)
    return freed


def _abandoned(tmp: Path) -> bool:
    if fcntl is None:
        return time.time() - tmp.stat().st_mtime > UNLOCKED_DEBRIS_AGE_S
    fd = os.open(tmp, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing releases the lock
    return True
