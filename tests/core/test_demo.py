"""The demo video is ground truth for tests and benchmarks, so its pixels must match its events."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.errors import Cancelled
from core.media.demo import (
    BACKGROUND,
    DEMO_CLASSES,
    FLASH_PERIOD,
    DemoEvent,
    DemoVideo,
    generate_demo_video,
    label_prefix,
)

FPS = 25
MIN_GAP_S = 0.4


def _fast(path: Path, seed: int) -> DemoVideo:
    """Short events and gaps give every class several times in a few hundred small frames."""
    return generate_demo_video(
        path,
        seconds=16,
        fps=FPS,
        size=(160, 120),
        seed=seed,
        min_event_s=0.8,
        max_event_s=1.6,
        min_gap_s=MIN_GAP_S,
        max_gap_s=1.0,
    )


def _read_all(path: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return np.stack(frames)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoVideo:
    return _fast(tmp_path_factory.mktemp("demo") / "demo.avi", 3)


@pytest.fixture(scope="module")
def frames(demo: DemoVideo) -> np.ndarray:
    return _read_all(demo.path).astype(np.float64)


def test_frame_count_matches_what_opencv_reads(demo: DemoVideo, frames: np.ndarray) -> None:
    assert demo.frame_count == 400
    assert frames.shape == (400, demo.height, demo.width, 3)
    capture = cv2.VideoCapture(str(demo.path), cv2.CAP_FFMPEG)
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == demo.frame_count
    capture.release()


def test_same_seed_gives_same_frames_and_events(demo: DemoVideo, tmp_path: Path) -> None:
    again = _fast(tmp_path / "again.avi", 3)
    assert again.events == demo.events
    assert np.array_equal(_read_all(again.path), _read_all(demo.path))


def test_another_seed_gives_other_events(demo: DemoVideo, tmp_path: Path) -> None:
    other = _fast(tmp_path / "other.avi", 4)
    assert other.events != demo.events


def test_events_are_ordered_disjoint_and_separated_by_gaps(demo: DemoVideo) -> None:
    min_gap = round(MIN_GAP_S * FPS)
    assert demo.events[0].start_frame >= min_gap
    for before, after in zip(demo.events, demo.events[1:], strict=False):
        assert after.start_frame - before.end_frame >= min_gap
    assert demo.frame_count - demo.events[-1].end_frame >= min_gap
    for event in demo.events:
        assert 20 <= event.end_frame - event.start_frame <= 40


def test_every_class_appears_several_times(demo: DemoVideo) -> None:
    counts = {name: sum(e.class_name == name for e in demo.events) for name in DEMO_CLASSES}
    assert min(counts.values()) >= 2, counts


def test_gaps_and_events_tile_the_video(demo: DemoVideo) -> None:
    pieces = sorted(
        [(e.start_frame, e.end_frame) for e in demo.events] + demo.background_gaps(),
    )
    assert pieces[0][0] == 0 and pieces[-1][1] == demo.frame_count
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
    assert all(start < end for start, end in pieces)


def _lane(frame: np.ndarray) -> np.ndarray:
    """Brightness per column in the band the ball rolls along."""
    height = frame.shape[0]
    band = frame[height // 2 - height // 16 : height // 2 + height // 16]
    return np.asarray(band.mean(axis=(0, 2)))


def test_balls_are_bright_and_move_the_right_way(demo: DemoVideo, frames: np.ndarray) -> None:
    background = frames[demo.background_gaps()[0][0]]
    for event in demo.events:
        if event.class_name == "flash":
            continue
        length = event.end_frame - event.start_frame
        early = _lane(frames[event.start_frame + length // 4])
        late = _lane(frames[event.start_frame + 3 * length // 4])
        assert early.max() > _lane(background).max() + 60
        early_x, late_x = int(np.argmax(early)), int(np.argmax(late))
        if event.class_name == "ball_right":
            assert late_x - early_x > demo.width // 4
        else:
            assert early_x - late_x > demo.width // 4


def test_flash_blinks_in_the_centre(demo: DemoVideo, frames: np.ndarray) -> None:
    h, w = demo.height, demo.width
    centre = np.s_[h // 2 - h // 8 : h // 2 + h // 8, w // 2 - h // 8 : w // 2 + h // 8]
    background = frames[demo.background_gaps()[0][0]][centre].mean()
    flashes = [e for e in demo.events if e.class_name == "flash"]
    assert flashes
    for event in flashes:
        lit = frames[event.start_frame][centre].mean()
        dark = frames[event.start_frame + FLASH_PERIOD][centre].mean()
        assert lit > background + 100
        assert abs(dark - background) < 10


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.37, 0.5, 1.0])
def test_label_prefix_tiles_exactly_the_prefix(demo: DemoVideo, fraction: float) -> None:
    cut = round(fraction * demo.frame_count)
    prefix = label_prefix(demo, fraction)
    if cut == 0:
        assert prefix == []
        return
    assert prefix[0].start_frame == 0 and prefix[-1].end_frame == cut
    assert all(a.end_frame == b.start_frame for a, b in itertools.pairwise(prefix))
    assert all(p.start_frame < p.end_frame for p in prefix)
    assert {p.class_name for p in prefix} <= {*DEMO_CLASSES, BACKGROUND}
    # Every labelled event is (a prefix of) a true event.
    truth = {e.start_frame: e for e in demo.events}
    for piece in prefix:
        if piece.class_name != BACKGROUND:
            event = truth[piece.start_frame]
            assert event.class_name == piece.class_name
            assert piece.end_frame == min(event.end_frame, cut)


def test_label_prefix_rejects_a_fraction_outside_0_1(demo: DemoVideo) -> None:
    with pytest.raises(ValueError, match="fraction"):
        label_prefix(demo, 1.5)


def test_background_gaps_of_a_video_without_events() -> None:
    video = DemoVideo(Path("x.avi"), 10, 25.0, 16, 16, ())
    assert video.background_gaps() == [(0, 10)]
    assert label_prefix(video, 0.5) == [DemoEvent(BACKGROUND, 0, 5)]


def test_progress_reaches_the_total(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    generate_demo_video(
        tmp_path / "p.avi", seconds=12, size=(32, 32), progress=lambda d, t: calls.append((d, t))
    )
    assert calls[-1] == (300, 300)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_cancel_stops_and_removes_the_file(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        generate_demo_video(tmp_path / "c.avi", seconds=2, size=(32, 32), cancel=stop)
    assert not (tmp_path / "c.avi").exists()


def test_mp4_is_read_back_frame_exactly(tmp_path: Path) -> None:
    video = generate_demo_video(tmp_path / "d.mp4", seconds=3, size=(64, 48))
    assert _read_all(video.path).shape[0] == video.frame_count == 75


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seconds": 0}, "positive"),
        ({"min_event_s": 3.0, "max_event_s": 2.0}, "min_event_s"),
        ({"min_gap_s": 0.0}, "min_gap_s"),
        ({"size": (8, 8)}, "16×16"),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        generate_demo_video(tmp_path / "bad.avi", **kwargs)  # type: ignore[arg-type]


def test_unknown_container_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.avi"):
        generate_demo_video(tmp_path / "bad.mkv", seconds=1)
