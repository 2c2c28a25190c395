"""Frame-exact reading: every path to a frame must give the image sequential decoding gives."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import core.media.video as video_module
from core.errors import Cancelled, VideoError
from core.media.video import VideoIndex, VideoReader
from tests import videos

SIZE = (160, 120)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Generated once per module: the encoders are the slow part."""
    d = tmp_path_factory.mktemp("clips")
    partial_src = videos.write_h264_bframes(d / "whole.mp4", 300, SIZE, faststart=True)
    return {
        "h264_mp4": videos.write_h264_bframes(d / "h264.mp4", 300, SIZE, gop=250, bframes=3),
        "h264_mkv": videos.write_h264_bframes(d / "h264.mkv", 120, SIZE, gop=40, bframes=3),
        "mjpeg_avi": videos.write_mjpeg_avi(d / "mjpeg.avi", 90, SIZE),
        "opencv_mp4": videos.write_opencv_mp4(d / "opencv.mp4", 90, SIZE),
        "vfr_mkv": videos.write_h264_bframes(d / "vfr.mkv", 80, SIZE, gop=30, vfr=True),
        "vfr_mp4": videos.write_h264_bframes(d / "vfr.mp4", 80, SIZE, gop=30, vfr=True),
        "partial": videos.truncate_copy(partial_src, d / "partial.mp4", 0.5),
        "short": videos.write_h264_bframes(d / "short.mp4", 5, SIZE),
    }


def write_empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def sequential(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return list(reader)


def eager_seeker(path: Path, index: VideoIndex | None = None) -> VideoReader:
    """A reader that seeks instead of decoding forward whenever it can, to exercise seeking."""
    reader = VideoReader(path, index=index)
    reader._seek_s = 0.0
    return reader


def test_frame_numbers_survive_encoding(clips: dict[str, Path]) -> None:
    frame = videos.make_frame(2741, SIZE)
    assert videos.read_number(frame) == 2741
    assert [videos.read_number(f) for f in sequential(clips["mjpeg_avi"])][:3] == [0, 1, 2]


@pytest.mark.parametrize(
    ("name", "fps", "count"),
    [("h264_mp4", 25.0, 300), ("mjpeg_avi", 25.0, 90), ("opencv_mp4", 25.0, 90), ("short", 25.0, 5)],
)
def test_metadata(clips: dict[str, Path], name: str, fps: float, count: int) -> None:
    with VideoReader(str(clips[name])) as reader:
        assert reader.path == clips[name]
        assert (reader.width, reader.height) == SIZE
        assert reader.fps == pytest.approx(fps)
        assert reader.header_frame_count == count
        assert reader.frame_count == count
        assert reader.index is None or reader.index.frame_count == count


@pytest.mark.parametrize("name", ["h264_mp4", "h264_mkv", "mjpeg_avi", "opencv_mp4", "vfr_mp4"])
def test_iteration_yields_every_frame_and_records_index(clips: dict[str, Path], name: str) -> None:
    reader = VideoReader(clips[name])
    numbers = [videos.read_number(f) for f in reader]
    assert numbers == list(range(len(numbers)))
    assert reader.index is not None
    assert reader.frame_count == reader.index.frame_count == len(numbers)
    truth = videos.probe_timestamps(clips[name])
    np.testing.assert_allclose(reader.index.timestamps_s, truth - truth[0], atol=1e-3)


@pytest.mark.parametrize("name", ["h264_mp4", "h264_mkv", "mjpeg_avi", "opencv_mp4", "vfr_mkv"])
@pytest.mark.parametrize("indexed", [False, True])
def test_random_and_backward_access_is_exact(clips: dict[str, Path], name: str, indexed: bool) -> None:
    seq = sequential(clips[name])
    n = len(seq)
    index = VideoReader(clips[name]).build_index() if indexed else None
    reader = eager_seeker(clips[name], index)
    rng = np.random.default_rng(7)
    order = [*rng.integers(0, n, 12).tolist(), n - 1, 0, *range(n - 1, -1, -max(1, n // 9))]
    for i in order:
        assert np.array_equal(reader.frame(i), seq[i]), f"frame {i} of {name}"
    if name == "h264_mp4":
        assert reader._stats["seek"] > 0  # the hard path really ran


def test_frames_past_the_first_gop_are_exact_on_long_gop(clips: dict[str, Path]) -> None:
    seq = sequential(clips["h264_mp4"])
    reader = eager_seeker(clips["h264_mp4"])
    for i in (299, 250, 249, 251, 120, 262):  # around the only other keyframe, at 250
        assert np.array_equal(reader.frame(i), seq[i])


def test_frame_twice_is_cached_and_a_copy(clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    reader = VideoReader(clips["h264_mp4"])
    first = reader.frame(200)
    reader.frame(210)  # the decoder moves past 200: reading 200 again would mean decoding it again
    grabs: list[int] = []
    grab = video_module._Decoder.grab
    monkeypatch.setattr(video_module._Decoder, "grab", lambda dec: grabs.append(1) or grab(dec))
    first[:] = 0  # drawing on a returned frame must not reach the cache
    again = reader.frame(200)
    assert grabs == []  # served from the cache: nothing decoded
    assert videos.read_number(again) == 200
    again[:] = 0  # nor drawing on a frame served from the cache
    assert videos.read_number(reader.frame(200)) == 200


def test_iteration_is_independent_of_frame_access(clips: dict[str, Path]) -> None:
    reader = VideoReader(clips["h264_mkv"])
    for i, img in reader.iter_from(0):
        assert videos.read_number(img) == i
        assert videos.read_number(reader.frame(119 - i)) == 119 - i


def test_iter_from_is_exact(clips: dict[str, Path]) -> None:
    seq = sequential(clips["h264_mp4"])
    items = list(VideoReader(clips["h264_mp4"]).iter_from(263))
    assert [i for i, _ in items] == list(range(263, 300))
    assert all(np.array_equal(img, seq[i]) for i, img in items)
    reader = VideoReader(clips["h264_mp4"])
    reader.build_index()
    assert list(reader.iter_from(300)) == []
    with pytest.raises(VideoError, match="out of range"):
        list(reader.iter_from(301))


def test_vfr_clip_really_is_variable(clips: dict[str, Path]) -> None:
    gaps = np.diff(videos.probe_timestamps(clips["vfr_mkv"]))
    assert len(np.unique(np.round(gaps, 4))) > 1


@pytest.mark.parametrize("name", ["vfr_mkv", "vfr_mp4"])
def test_vfr_seconds_follow_real_timestamps(clips: dict[str, Path], name: str) -> None:
    reader = VideoReader(clips[name])
    index = reader.build_index()
    truth = videos.vfr_timestamps(80)
    assert index.frame_count == 80
    np.testing.assert_allclose(index.timestamps_s, truth, atol=1e-3)
    assert reader.seconds(41) == pytest.approx(truth[41], abs=1e-3)
    assert any(int(truth[k] * reader.fps) != k for k in range(80))  # n / fps would be wrong here
    # The end: the last frame lasts as long as the one before it (decoders do not report durations).
    assert reader.seconds(80) == pytest.approx(2 * truth[79] - truth[78], abs=1e-3)
    for k in range(80):
        assert reader.frame_at_seconds(reader.seconds(k)) == k
        assert reader.frame_at_seconds(truth[k] + 0.01) == k
    assert reader.frame_at_seconds(truth[3] + 0.07) == 3  # inside the long gap after frame 3
    assert reader.frame_at_seconds(-1.0) == 0
    assert reader.frame_at_seconds(1e6) == 79


def test_seconds_without_index_use_nominal_rate(clips: dict[str, Path]) -> None:
    reader = VideoReader(clips["opencv_mp4"])
    assert reader.index is None
    assert reader.seconds(50) == pytest.approx(2.0)
    assert all(reader.frame_at_seconds(reader.seconds(k)) == k for k in range(90))


def test_header_lies_on_a_file_that_decodes_partway(clips: dict[str, Path]) -> None:
    reader = VideoReader(clips["partial"])
    assert reader.header_frame_count == 300
    numbers = [videos.read_number(f) for f in reader]
    true_count = len(numbers)
    assert 0 < true_count < 300
    assert numbers == list(range(true_count))
    assert reader.frame_count == true_count
    with pytest.raises(VideoError, match="out of range") as err:
        reader.frame(true_count)
    assert "partial.mp4" in str(err.value)
    fresh = VideoReader(clips["partial"])  # not indexed: must find the end by decoding, not hang
    with pytest.raises(VideoError, match="cannot be decoded"):
        fresh.frame(true_count + 5)
    assert fresh.build_index().frame_count == true_count


def test_short_video_is_valid(clips: dict[str, Path]) -> None:
    reader = VideoReader(clips["short"])
    assert [videos.read_number(f) for f in reader] == [0, 1, 2, 3, 4]
    assert reader.frame_count == 5
    assert videos.read_number(reader.frame(4)) == 4


def test_saved_index_skips_reindexing(clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    index = VideoReader(clips["vfr_mp4"]).build_index()
    saved = VideoIndex(index.frame_count, np.array(index.timestamps_s))
    reader = VideoReader(clips["vfr_mp4"], index=saved)
    monkeypatch.setattr(video_module, "_Decoder", None)  # any new full decode would fail
    assert reader.build_index() is saved
    assert reader.frame_count == 80
    assert reader.seconds(5) == pytest.approx(videos.vfr_timestamps(80)[5], abs=1e-3)
    assert saved == index


def test_build_index_can_be_cancelled(clips: dict[str, Path]) -> None:
    cancel = threading.Event()
    cancel.set()
    reader = VideoReader(clips["h264_mp4"])
    with pytest.raises(Cancelled):
        reader.build_index(cancel)
    assert reader.index is None


def test_closed_reader_says_so(clips: dict[str, Path]) -> None:
    with VideoReader(clips["mjpeg_avi"]) as reader:
        pass
    with pytest.raises(VideoError, match="closed"):
        reader.frame(3)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: d / "missing.mp4", ["missing.mp4", "does not exist"]),
        (lambda d: write_empty(d / "empty.mp4"), ["empty.mp4", "empty (0 bytes)"]),
        (lambda d: videos.write_text_file(d / "notes.mp4"), ["notes.mp4", "cannot be opened"]),
        (lambda d: videos.write_still_image(d / "still.png"), ["still.png", "still image, not a video"]),
        (lambda d: videos.write_still_image(d / "still.jpg"), ["still.jpg", "still image, not a video"]),
        (lambda d: d, ["folder"]),
    ],
    ids=["missing", "empty", "text", "png", "jpg", "directory"],
)
def test_bad_input_gives_one_clear_sentence(
    tmp_path: Path, make: Callable[[Path], Path], words: list[str]
) -> None:
    path = make(tmp_path)
    with pytest.raises(VideoError) as err:
        VideoReader(path)
    message = str(err.value)
    for word in words:
        assert word in message
    assert str(path) in message
    assert "\n" not in message and message.count(". ") == 0


def test_truncated_mp4_without_its_index_is_rejected(clips: dict[str, Path], tmp_path: Path) -> None:
    cut = videos.truncate_copy(clips["h264_mp4"], tmp_path / "cut.mp4", 0.6)  # moov is at the end
    with pytest.raises(VideoError, match="cannot be opened") as err:
        VideoReader(cut)
    assert "cut.mp4" in str(err.value)
