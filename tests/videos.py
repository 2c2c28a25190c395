"""Test clips whose frames carry their own number, so exactness survives lossy codecs.

Every frame has a strip of 12 black/white blocks at the top (the frame number in binary, most
significant bit first) and the number as text below it. ``read_number`` decodes the blocks, so a
test can tell which frame a decoder really returned even after H.264 or MJPEG compression. The
background moves from frame to frame so encoders have real motion to predict (and B-frames to use).

All generators are deterministic: the same arguments give the same pixels.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

BITS = 12
"""Frame numbers up to 4095 fit in the code strip."""

MAX_FRAMES = 1 << BITS


def _block_layout(width: int) -> tuple[int, int, int]:
    """(block side, left margin, top margin) of the code strip for a frame ``width`` pixels wide.

    Blocks are at least 8x8 so chroma subsampling and DCT ringing cannot flip a bit.
    """
    side = max(8, width // (BITS + 1))
    left = (width - side * BITS) // 2
    return side, left, side // 2


def make_frame(i: int, size: tuple[int, int] = (160, 120)) -> np.ndarray:
    """The BGR uint8 image of frame ``i`` for a clip of ``size`` = (width, height)."""
    if not 0 <= i < MAX_FRAMES:
        raise ValueError(f"frame number {i} does not fit in {BITS} bits")
    width, height = size
    side, left, top = _block_layout(width)
    if height < top + side * 3:
        raise ValueError(f"frame size {size} is too small for the code strip")
    ys, xs = np.mgrid[0:height, 0:width]
    frame = np.empty((height, width, 3), np.uint8)
    frame[..., 0] = (xs + 3 * i) % 200 + 28
    frame[..., 1] = (ys + 2 * i) % 200 + 28
    frame[..., 2] = ((xs + ys) // 2 + i) % 200 + 28
    # A moving square so there is motion to predict.
    sq = max(8, height // 6)
    x0 = (5 * i) % max(1, width - sq)
    y0 = top + side * 2 + (3 * i) % max(1, height - sq - top - side * 2)
    frame[y0 : y0 + sq, x0 : x0 + sq] = (40, 200, 240)
    # The code strip on a grey band so blocks have a steady neighbourhood.
    frame[0 : top + side + top, :] = 128
    for bit in range(BITS):
        on = (i >> (BITS - 1 - bit)) & 1
        x = left + bit * side
        frame[top : top + side, x : x + side] = 255 if on else 0
    scale = max(0.4, width / 400)
    cv2.putText(
        frame,
        str(i),
        (left, top * 2 + side + int(22 * scale)),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        (255, 255, 255),
        max(1, int(2 * scale)),
        cv2.LINE_AA,
    )
    return frame


def read_number(frame: np.ndarray) -> int:
    """The frame number drawn by ``make_frame``, read back from a (possibly lossy) decoded image."""
    side, left, top = _block_layout(frame.shape[1])
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    q = side // 4
    value = 0
    for bit in range(BITS):
        x = left + bit * side
        patch = gray[top + q : top + side - q, x + q : x + side - q]
        value = (value << 1) | int(float(patch.mean()) > 127.0)
    return value


def _frames(n_frames: int, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """Made one at a time: a long 720p clip would not fit in memory at once."""
    if not 0 < n_frames <= MAX_FRAMES:
        raise ValueError(f"n_frames must be in 1..{MAX_FRAMES}, got {n_frames}")
    return (make_frame(i, size) for i in range(n_frames))


def _write_with_opencv(path: Path, fourcc: str, n_frames: int, size: tuple[int, int], fps: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter.fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {fourcc} to {path}")
    try:
        for frame in _frames(n_frames, size):
            writer.write(frame)
    finally:
        writer.release()
    return path


def write_opencv_mp4(
    path: str | Path, n_frames: int, size: tuple[int, int] = (160, 120), fps: float = 25.0
) -> Path:
    """MPEG-4 Part 2 (``mp4v``) in MP4, as OpenCV's own writer makes it."""
    return _write_with_opencv(Path(path), "mp4v", n_frames, size, fps)


def write_mjpeg_avi(
    path: str | Path, n_frames: int, size: tuple[int, int] = (160, 120), fps: float = 25.0
) -> Path:
    """Motion JPEG in AVI: every frame a keyframe, the easy case for seeking."""
    return _write_with_opencv(Path(path), "MJPG", n_frames, size, fps)


def vfr_timestamps(n_frames: int, fps: float = 25.0) -> np.ndarray:
    """Presentation times (s) of ``write_h264_bframes(vfr=True)``: every 4th gap is 3 frames long."""
    k = np.arange(n_frames)
    return (k + 2 * (k // 4)) / fps


def write_h264_bframes(
    path: str | Path,
    n_frames: int,
    size: tuple[int, int] = (160, 120),
    fps: float = 25.0,
    gop: int = 250,
    bframes: int = 3,
    vfr: bool = False,
    faststart: bool = False,
) -> Path:
    """H.264 with B-frames and a long GOP (the hard case for exact seeking), via system ffmpeg.

    The container follows the suffix (``.mp4``, ``.mkv``, ``.mov`` or ``.ts``). ``vfr=True`` gives
    the frames the irregular times of ``vfr_timestamps``; ``faststart`` puts the MP4 index first,
    so a truncated copy still opens and claims the full frame count.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov", ".ts": "mpegts"}[path.suffix.lower()]
    width, height = size
    cmd = [
        "ffmpeg", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", f"{fps}", "-i", "-",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
        "-bf", str(bframes), "-x264-params", "b-adapt=0",
        "-threads", "1",
    ]  # fmt: skip
    if vfr:
        cmd += ["-vf", f"setpts=(N+2*floor(N/4))/({fps}*TB)", "-fps_mode", "vfr"]
    if faststart and fmt == "mp4":
        cmd += ["-movflags", "+faststart"]
    cmd += ["-f", fmt, str(path)]
    frames = _frames(n_frames, size)
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=errors)
        assert proc.stdin is not None
        try:
            for frame in frames:
                proc.stdin.write(frame.tobytes())
        finally:
            proc.stdin.close()
            code = proc.wait()
        if code != 0:
            errors.seek(0)
            raise RuntimeError(f"ffmpeg failed on {path}: {errors.read().decode(errors='replace')}")
    return path


def write_mpegts(
    path: str | Path, n_frames: int, size: tuple[int, int] = (160, 120), fps: float = 25.0, gop: int = 50
) -> Path:
    """H.264 with B-frames in an MPEG transport stream (broadcast and camera recordings): no
    index, timestamps that start well above zero, seeking by byte position."""
    path = Path(path)
    if path.suffix.lower() != ".ts":
        raise ValueError(f"an MPEG-TS file should end in .ts, not {path.suffix!r}")
    return write_h264_bframes(path, n_frames, size=size, fps=fps, gop=gop)


def probe_timestamps(path: str | Path) -> np.ndarray:
    """Presentation times (s) of every video frame, in display order, as ffprobe reports them."""
    out = subprocess.run(
        [
            "ffprobe", "-v", "error", "-select_streams", "v:0",
            "-show_entries", "frame=pts_time,best_effort_timestamp_time", "-of", "json", str(path),
        ],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    frames = json.loads(out)["frames"]
    times = [float(f.get("best_effort_timestamp_time", f.get("pts_time"))) for f in frames]
    return np.asarray(times, dtype=np.float64)


def truncate_copy(src: str | Path, dst: str | Path, keep_fraction: float) -> Path:
    """A copy of ``src`` cut after ``keep_fraction`` of its bytes, like an interrupted transfer."""
    data = Path(src).read_bytes()
    dst = Path(dst)
    dst.write_bytes(data[: int(len(data) * keep_fraction)])
    return dst


def copy_to(src: str | Path, dst: str | Path) -> Path:
    """Same bytes at another path (a moved or renamed video)."""
    return Path(shutil.copyfile(src, dst))


def write_text_file(path: str | Path, text: str = "this is not a video\n") -> Path:
    path = Path(path)
    path.write_text(text * 50)
    return path


def write_still_image(path: str | Path, size: tuple[int, int] = (160, 120)) -> Path:
    """A single frame saved as an image (the format follows the suffix: .png, .jpg)."""
    path = Path(path)
    if not cv2.imwrite(str(path), make_frame(7, size)):
        raise RuntimeError(f"OpenCV cannot write an image to {path}")
    return path
