"""Desktop app quality bars, measured on the real widgets (offscreen unless a display is set).

Prints one JSON object:
- lateness_p95_ms / lateness_max_ms: how late a 16 ms QTimer fires while analysis runs;
- timeline_redraw_ms: median time to redraw the timeline of a one-hour 30 fps, 8-class video
  (108,000 frames) after a zoom or pan;
- seek_median_ms: median time from asking for a random frame of a 720p H.264 video (2 s
  keyframe interval) to having it painted, with the scrubbing proxy built; ``_long_gop``: the
  same with a 250-frame keyframe interval; ``_no_proxy``: both without the proxy, same run;
- proxy_build_fps: frames per second making those proxies (decode 720p, shrink, JPEG, write);
- load_average: the 1-minute load average at the end (these machines are shared);
- edit_ms: median GUI-thread time of one label edit on a one-hour video with 600 segments in a
  20-video project, from the call to the redrawn timeline and video list (one unit of work,
  the event's ranged re-read); full_reload_ms: what the old hub did after every edit instead
  (re-read every segment of the video and every video's list line), and their ratio.

Usage: python benchmarks/gui.py [--analysis-seconds 20] [--seeks 40] [--only seek|edit]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from core.analysis.postprocess import PostprocessParams
from core.analysis.predictions import VideoPredictions
from core.labels.overview import ensure_indexed
from core.media.demo import generate_demo_video
from core.media.library import add_video
from core.media.proxy import build_video_proxy
from core.project import Project
from core.store import open_store
from core.store.records import NewSegment, Video
from gui.dialogs import errors
from gui.main_window import MainWindow
from gui.state import AppModels
from gui.state.runner import ANALYSE_JOB

TICK_MS = 16


def wait_until(app: QApplication, condition: object, timeout_s: float) -> None:
    end = time.perf_counter() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.perf_counter() > end:
            raise TimeoutError("condition not met in time")
        app.processEvents()
        time.sleep(0.001)


def make_window(folder: Path) -> tuple[MainWindow, MainWindow]:
    store = open_store(f"sqlite:///{folder / 'bench.sqlite3'}")
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(AppModels.create(Project(store)), settings)
    window.resize(1600, 900)
    window.show()
    return window, window


def open_in(app: QApplication, window: MainWindow, state: MainWindow, path: Path) -> Video:
    video = ensure_indexed(state.project.store, add_video(state.project.store, path))
    state.project.refresh_videos()
    state.current.open_video(video.id)
    wait_until(app, lambda: window.player.view.shown_frame == 0, 60)
    return video


def lateness(app: QApplication, folder: Path, seconds: float) -> tuple[float, float, int]:
    window, state = make_window(folder / "lateness")
    clip = generate_demo_video(folder / "lateness.avi", seconds=40, size=(320, 240))
    video = open_in(app, window, state, clip.path)
    late: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        late.append(max(0.0, (now - last[0]) * 1000 - TICK_MS))
        last[0] = now

    state.current.analyse([video.id], stride=8, batch_size=4)
    wait_until(
        app, lambda: state.runner.analysing.get(video.id, 0.0) > 0.0, 300
    )  # model loaded, windows flowing
    timer = QTimer()
    timer.setTimerType(QTimer().timerType())
    timer.timeout.connect(tick)
    last[0] = time.perf_counter()
    timer.start(TICK_MS)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end and state.runner.jobs.is_running(ANALYSE_JOB):
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    windows = int(state.runner.analysing.get(video.id, 0.0))
    state.runner.cancel_analysis()
    wait_until(app, lambda: not state.runner.jobs.is_running(ANALYSE_JOB), 120)
    window.shutdown()
    window.close()
    arr = np.asarray(late[1:] or [0.0])
    return float(np.percentile(arr, 95)), float(arr.max()), windows


def timeline_redraw(app: QApplication, folder: Path) -> float:
    window, state = make_window(folder / "redraw")
    frames, classes = 108_000, 8
    store = state.project.store
    names = ["background"] + [f"class{i}" for i in range(1, classes)]
    for name in names[1:]:
        store.classes.add(name)
    state.project.refresh_classes()
    ts = np.arange(frames) / 30.0
    video = store.videos.add(folder / "hour.mp4", "h", 1280, 720, 30.0, frames)
    video = store.videos.set_index(video.id, frames, ts)
    rng = np.random.default_rng(0)
    bounds = np.sort(rng.choice(frames, 1200, replace=False))
    ids = [c.id for c in state.project.classes]
    store.segments.paint(
        video.id,
        [
            NewSegment(ids[int(k) % len(ids)], int(a), int(b))
            for k, (a, b) in enumerate(zip(bounds[::2], bounds[1::2], strict=True))
        ],
    )
    state.current.video = video
    state.current.video_changed.emit()
    state.current.reload_labels()
    starts = np.arange(0, frames - 16, 8)
    walk = np.cumsum(rng.normal(0, 0.3, size=(frames, classes)), axis=0)
    scores = np.exp(np.sin(walk / 20.0) * 3)
    scores /= scores.sum(axis=1, keepdims=True)
    state.current.predictions = VideoPredictions(1, tuple(names), False, starts, scores[starts], scores, True)
    state.current.params = {i: PostprocessParams(smoothing=15) for i in range(classes)}
    state.current.recompute_events()
    app.processEvents()
    times: list[float] = []
    ranges = [
        (0, frames),
        (50_000, 60_000),
        (52_000, 53_000),
        (52_400, 52_460),
        (0, frames),
        (80_000, 110_000),
    ]
    for k in range(30):
        lo, hi = ranges[k % len(ranges)]
        shift = (k // len(ranges)) * 500
        t0 = time.perf_counter()
        window.timeline.set_visible_range(lo + shift, hi + shift)
        app.processEvents()  # the range change has scheduled the repaint: this runs it
        times.append((time.perf_counter() - t0) * 1000)
    window.shutdown()
    window.close()
    return float(np.median(times))


def edit_latency(app: QApplication, folder: Path, edits: int = 30) -> tuple[float, float]:
    window, state = make_window(folder / "edit")
    frames = 108_000
    store = state.project.store
    walk = store.classes.add("walk")
    run = store.classes.add("run")
    videos = []
    for k in range(20):
        video = store.videos.add(folder / f"v{k}.mp4", f"h{k}", 1280, 720, 30.0, frames)
        videos.append(store.videos.set_index(video.id, frames, np.arange(frames) / 30.0))
    video = videos[0]
    store.segments.paint(
        video.id, [NewSegment((walk, run)[k % 2].id, 150 * k, 150 * k + 100) for k in range(600)]
    )
    state.project.refresh_videos()
    state.current.open_video(video.id)
    app.processEvents()
    edit: list[float] = []
    full: list[float] = []
    for k in range(edits):
        start = 150 * (k * 17 % 600) + 110
        t0 = time.perf_counter()
        state.current.create_segment(start, start + 20, walk.id)
        state.project.flush_statuses()  # the list line is normally redrawn once per burst of edits
        app.processEvents()
        edit.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        state.current.reload_labels()
        state.project.refresh_videos()
        app.processEvents()
        full.append((time.perf_counter() - t0) * 1000)
    window.shutdown()
    window.close()
    return float(np.median(edit)), float(np.median(full))


def _make_720p(folder: Path, name: str, gop: int) -> Path:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("ffmpeg is needed for the seek benchmark")
    path = folder / name
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=30",
         "-c:v", "libx264", "-preset", "veryfast", "-g", str(gop), "-keyint_min", str(gop),
         "-sc_threshold", "0", "-bf", "2", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _seek_median(app: QApplication, folder: Path, path: Path, count: int, proxies: bool) -> float:
    """Median ms from asking for a random frame to having it painted (the proxy's when there is one)."""
    window, state = make_window(folder)
    window.player.frames.proxies = proxies
    video = open_in(app, window, state, path)
    frames = video.best_frame_count
    rng = random.Random(0)
    times: list[float] = []
    for _ in range(count):
        target = rng.randrange(frames)
        t0 = time.perf_counter()
        state.current.set_frame(target)
        wait_until(app, lambda t=target: window.player.view.shown_frame == t, 30)
        window.player.view.repaint()
        times.append((time.perf_counter() - t0) * 1000)
    window.shutdown()
    window.close()
    return float(np.median(times))


def seek(app: QApplication, folder: Path, count: int) -> dict[str, float]:
    """Random seeks in 720p H.264 clips (2 s and 250-frame keyframe intervals), without and with
    the scrubbing proxy, in one run; the proxies are built here, timed, before the second pass."""
    result: dict[str, float] = {}
    built_frames, built_s = 0, 0.0
    for key, gop in (("seek_median_ms", 60), ("seek_median_ms_long_gop", 250)):
        work = folder / f"seek{gop}"
        path = _make_720p(folder, f"seek720_g{gop}.mp4", gop)
        result[f"{key}_no_proxy"] = _seek_median(app, work, path, count, proxies=False)
        store = open_store(f"sqlite:///{work / 'bench.sqlite3'}")
        video = ensure_indexed(store, add_video(store, path))
        build = build_video_proxy(store.files_dir, video)
        store.close()
        built_frames, built_s = built_frames + build.written, built_s + build.seconds
        result[key] = _seek_median(app, work, path, count, proxies=True)
        result[f"{key}_speedup"] = result[f"{key}_no_proxy"] / result[key]
    result["proxy_build_fps"] = built_frames / built_s
    return result


def _log_warning(_parent: object, text: str, details: str = "") -> None:
    print(f"warning shown: {text}", file=sys.stderr)  # a modal dialog would stall the benchmark


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--analysis-seconds", type=float, default=20.0)
    parser.add_argument("--seeks", type=int, default=40)
    parser.add_argument("--only", choices=["all", "seek", "edit"], default="all")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    errors.show_warning = _log_warning
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["XDG_DATA_HOME"] = str(folder / "data")
        result: dict[str, float] = {}
        if args.only == "all":
            result["timeline_redraw_ms"] = timeline_redraw(app, folder)
        if args.only in ("all", "edit"):
            result["edit_ms"], result["full_reload_ms"] = edit_latency(app, folder)
            result["edit_over_full_reload"] = result["edit_ms"] / result["full_reload_ms"]
        if args.only in ("all", "seek"):
            result.update(seek(app, folder, args.seeks))
        if args.only == "all":
            p95, worst, _ = lateness(app, folder, args.analysis_seconds)
            result["lateness_p95_ms"], result["lateness_max_ms"] = p95, worst
    result = {
        key: round(value, 3 if key.endswith("_over_full_reload") else 1) for key, value in result.items()
    }
    result["load_average"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
