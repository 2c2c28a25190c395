"""Scrubbing proxies: frame-exact on hard formats, resumable, and kept within their budget."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core.errors import Cancelled, VideoError
from core.media.proxy import MAX_SIDE, ProxyLibrary, build_proxy, build_video_proxy, open_video_proxy, shrink
from core.media.video import VideoIndex, VideoReader
from tests.videos import (
    probe_timestamps,
    read_number,
    vfr_timestamps,
    write_h264_bframes,
    write_mjpeg_avi,
    write_mpegts,
)

JPEG_MEAN_TOL = 4.0
"""Mean absolute difference (0–255) a JPEG at quality 85 stays within on these clips."""


def _index(path: Path) -> VideoIndex:
    with VideoReader(path) as reader:
        return reader.build_index()


def _assert_frame_exact(path: Path, tmp_path: Path) -> None:
    """Every proxy frame is the original's frame with the same number, shrunk the same way."""
    index = _index(path)
    result = build_proxy(path, index, "clip", ProxyLibrary(tmp_path / "files"))
    assert result.complete and result.frames == index.frame_count
    with VideoReader(path, index=index) as original, ProxyLibrary(tmp_path / "files").open("clip") as proxy:
        assert proxy is not None
        assert proxy.frame_count == index.frame_count
        assert np.array_equal(proxy.timestamps_s, index.timestamps_s)
        assert max(proxy.width, proxy.height) <= MAX_SIDE
        numbers = []
        for i, img in enumerate(original):
            small = proxy.frame(i)
            assert small.shape == (proxy.height, proxy.width, 3)
            diff = np.abs(small.astype(np.int16) - shrink(img, (proxy.width, proxy.height)).astype(np.int16))
            assert float(diff.mean()) < JPEG_MEAN_TOL, f"frame {i} differs from the original's"
            numbers.append(read_number(small))
        assert numbers == list(range(index.frame_count))
        # Random access, not just in order: what the player does.
        for i in (index.frame_count - 1, 0, index.frame_count // 2, 7):
            assert read_number(proxy.frame(i)) == i


def test_h264_bframes_proxy_is_frame_exact_and_downscaled(tmp_path: Path) -> None:
    clip = write_h264_bframes(tmp_path / "b.mp4", 60, size=(768, 432), gop=25, bframes=3)
    _assert_frame_exact(clip, tmp_path)
    with ProxyLibrary(tmp_path / "files").open("clip") as proxy:
        assert proxy is not None and (proxy.width, proxy.height) == (640, 360)


def test_vfr_mkv_proxy_is_frame_exact_with_the_originals_times(tmp_path: Path) -> None:
    clip = write_h264_bframes(tmp_path / "vfr.mkv", 48, size=(320, 240), gop=12, vfr=True)
    _assert_frame_exact(clip, tmp_path)
    with ProxyLibrary(tmp_path / "files").open("clip") as proxy:
        assert proxy is not None
        assert np.allclose(proxy.timestamps_s, vfr_timestamps(48), atol=1e-3)


def test_mpegts_proxy_is_frame_exact(tmp_path: Path) -> None:
    clip = write_mpegts(tmp_path / "cam.ts", 60, size=(320, 240), gop=20)
    _assert_frame_exact(clip, tmp_path)
    probed = probe_timestamps(clip)
    with ProxyLibrary(tmp_path / "files").open("clip") as proxy:
        assert proxy is not None
        assert np.allclose(proxy.timestamps_s, probed - probed[0], atol=1e-3)


def test_a_killed_build_resumes_where_it_stopped(tmp_path: Path) -> None:
    clip = write_h264_bframes(tmp_path / "b.mp4", 80, size=(160, 120), gop=30)
    index = _index(clip)
    library = ProxyLibrary(tmp_path / "files")
    full = build_proxy(clip, index, "clip", library)
    folder = full.folder
    # What a kill leaves: 23 recorded frames, a half-written end offset, bytes of the next frame.
    ends = (folder / "ends.u64").read_bytes()
    (folder / "ends.u64").write_bytes(ends[: 23 * 8 + 3])
    keep = int(np.frombuffer(ends[: 23 * 8], dtype="<u8")[-1])
    with (folder / "frames.bin").open("r+b") as fh:
        fh.truncate(keep + 1000)
    (folder / "complete").unlink()

    resumed = build_proxy(clip, index, "clip", library)

    assert resumed.written == 80 - 23
    assert resumed.complete
    with library.open("clip") as proxy:
        assert proxy is not None and proxy.complete
        assert [read_number(proxy.frame(i)) for i in range(80)] == list(range(80))


_SLOW_BUILD = """
import sys, time, cv2
import core.media.proxy as proxy
from core.media.video import VideoReader
encode = cv2.imencode
proxy.cv2.imencode = lambda *a: (time.sleep(0.01), encode(*a))[1]  # slow enough to be killed midway
with VideoReader(sys.argv[1]) as reader:
    index = reader.build_index()
proxy.build_proxy(sys.argv[1], index, "clip", proxy.ProxyLibrary(sys.argv[2]))
"""


def test_a_build_killed_with_sigkill_resumes_frame_exact(tmp_path: Path) -> None:
    clip = write_h264_bframes(tmp_path / "b.mp4", 300, size=(160, 120), gop=50)
    files = tmp_path / "files"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_BUILD, str(clip), str(files)], env=env)
    ends = files / "proxies" / "clip" / "ends.u64"
    try:
        deadline = time.monotonic() + 60
        while not (ends.exists() and ends.stat().st_size >= 30 * 8):
            assert proc.poll() is None and time.monotonic() < deadline, "the build ended before it was killed"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    library = ProxyLibrary(files)
    killed_at = library.open("clip")
    assert killed_at is not None and 30 <= killed_at.frames < 300 and not killed_at.complete
    killed_at.close()

    resumed = build_proxy(clip, _index(clip), "clip", library)

    assert resumed.complete and resumed.written == 300 - killed_at.frames
    with library.open("clip") as proxy:
        assert proxy is not None
        assert [read_number(proxy.frame(i)) for i in range(300)] == list(range(300))


class _StopAfter(threading.Event):
    """A cancel flag that trips after the build has checked it ``n`` times (once per frame)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def is_set(self) -> bool:
        self.left -= 1
        return self.left < 0


def test_a_cancelled_build_keeps_its_frames_and_a_partial_proxy_is_readable(tmp_path: Path) -> None:
    clip = write_h264_bframes(tmp_path / "b.mp4", 70, size=(160, 120), gop=30)
    index = _index(clip)
    library = ProxyLibrary(tmp_path / "files")
    with pytest.raises(Cancelled):
        build_proxy(clip, index, "clip", library, cancel=_StopAfter(41))
    with library.open("clip") as partial:
        assert partial is not None and not partial.complete
        assert partial.frames == 41
        assert read_number(partial.frame(40)) == 40
        assert not partial.has(41)
        with pytest.raises(VideoError, match="not in the scrubbing proxy"):
            partial.frame(60)
        resumed = build_proxy(clip, index, "clip", library)
        assert resumed.written == 70 - 41
        # A reader opened while the build ran sees the new frames.
        assert partial.has(69) and read_number(partial.frame(69)) == 69


def test_over_budget_drops_least_recently_used_and_keeps_the_current(tmp_path: Path) -> None:
    clip = write_mjpeg_avi(tmp_path / "a.avi", 30, size=(160, 120))
    index = _index(clip)
    roomy = ProxyLibrary(tmp_path / "files", budget_bytes=10**9)
    for key in ("old", "recent"):
        build_proxy(clip, index, key, roomy)
    one = roomy.used_bytes() // 2
    # "old" was last looked at yesterday, "recent" an hour ago.
    now = (tmp_path / "files").stat().st_mtime
    os.utime(roomy.folder("old") / "last_used", (now - 86400, now - 86400))
    os.utime(roomy.folder("recent") / "last_used", (now - 3600, now - 3600))

    tight = ProxyLibrary(tmp_path / "files", budget_bytes=int(one * 2.5))
    build_proxy(clip, index, "current", tight)

    assert not roomy.folder("old").exists()
    assert tight.open("recent") is not None
    assert tight.open("current") is not None
    assert tight.used_bytes() <= tight.budget_bytes

    # A budget smaller than one proxy still keeps the one being made.
    tiny = ProxyLibrary(tmp_path / "files", budget_bytes=one // 2)
    build_proxy(clip, index, "newest", tiny)
    assert [folder.name for folder, _, _ in tiny.proxies()] == ["newest"]


def test_project_video_proxy_needs_an_index_and_matches_it(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    from core.labels.overview import ensure_indexed
    from core.media.library import add_video

    clip = write_mjpeg_avi(tmp_path / "a.avi", 20, size=(160, 120))
    video = add_video(store, clip)
    with pytest.raises(VideoError, match="indexed"):
        build_video_proxy(store.files_dir, video)
    assert open_video_proxy(store.files_dir, video) is None
    video = ensure_indexed(store, video)
    result = build_video_proxy(store.files_dir, video)
    assert result.complete and Path(result.folder).parent == Path(store.files_dir) / "proxies"
    proxy = open_video_proxy(store.files_dir, video)
    assert proxy is not None and proxy.frame_count == 20
    proxy.close()
    again = build_video_proxy(store.files_dir, video)
    assert again.written == 0 and again.complete
    # Frame times that no longer match the proxy's (the video was indexed anew): made afresh.
    shifted = store.videos.set_index(video.id, 20, video.timestamps_s + 0.5)
    assert build_video_proxy(store.files_dir, shifted).written == 20


def test_cli_builds_proxies_with_a_progress_line_and_lists_them(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from main import main

    clip = write_h264_bframes(tmp_path / "clip one.mp4", 30, size=(160, 120), gop=10)
    assert main(["--db", db_url, "videos", "add", str(clip)]) == 0
    capsys.readouterr()

    assert main(["--db", db_url, "proxy", "build"]) == 0
    out, err = capsys.readouterr()
    assert "clip one.mp4\tproxy complete, 30 frames" in out
    assert "Scrubbing proxy for clip one.mp4: 100% (30/30 frames" in err

    assert main(["--db", db_url, "proxy", "list"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("clip one.mp4\t") and "\tcomplete\t" in out

    assert main(["--db", db_url, "proxy", "build", "--budget-gb", "0"]) != 0
    _out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and "--budget-gb must be more than 0" in err
