"""Fingerprints must follow content, not paths, and stay cheap on huge files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from core.errors import VideoError
from core.media.hashing import CHUNK, content_hash
from tests import videos


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_same_content_at_a_new_path_has_the_same_hash(tmp_path: Path) -> None:
    clip = videos.write_mjpeg_avi(tmp_path / "a.avi", 20)
    moved = videos.copy_to(clip, tmp_path / "renamed elsewhere.avi")
    assert content_hash(clip) == content_hash(str(moved))
    assert content_hash(clip).startswith("fp1:")


@pytest.mark.parametrize("size", [100, 5 * CHUNK + 123])
def test_one_changed_byte_in_the_middle_changes_the_hash(tmp_path: Path, size: int) -> None:
    data = bytearray(os.urandom(size))
    before = content_hash(_write(tmp_path / "v.bin", bytes(data)))
    data[size // 2] ^= 0xFF
    assert content_hash(_write(tmp_path / "v.bin", bytes(data))) != before


def test_size_is_part_of_the_fingerprint(tmp_path: Path) -> None:
    data = os.urandom(4 * CHUNK)
    assert content_hash(_write(tmp_path / "a", data)) != content_hash(_write(tmp_path / "b", data + b"\0"))


class _CountingReader:
    def __init__(self, handle: BinaryIO) -> None:
        self.handle, self.read_bytes = handle, 0

    def __enter__(self) -> _CountingReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.handle.close()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)

    def read(self, n: int = -1) -> bytes:
        data = self.handle.read(n)
        self.read_bytes += len(data)
        return data


def test_a_huge_file_is_fingerprinted_from_three_samples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cheap on huge files, counted in bytes read (how fast that is lives in no unit test)."""
    big = tmp_path / "big.mp4"
    with big.open("wb") as fh:
        fh.truncate(2 << 30)  # 2 GiB, sparse: costs no disk
    readers: list[_CountingReader] = []
    real_open = Path.open

    def counting_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        readers.append(_CountingReader(real_open(self, *args, **kwargs)))
        return readers[-1]

    monkeypatch.setattr(Path, "open", counting_open)
    content_hash(big)
    assert sum(r.read_bytes for r in readers) == 3 * CHUNK


def test_empty_file_has_a_hash(tmp_path: Path) -> None:
    assert content_hash(_write(tmp_path / "empty.mp4", b"")).startswith("fp1:")


def test_missing_file_and_folder_raise_video_error(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="does not exist") as err:
        content_hash(tmp_path / "gone.mp4")
    assert "gone.mp4" in str(err.value)
    with pytest.raises(VideoError, match="folder"):
        content_hash(tmp_path)
