"""Batch analysis on a Ray cluster: many videos, chunks spread over an actor pool.

The driver (this process) plans chunks of windows still missing from the store, hands them to
Ray Data, and follows the results: each worker writes its windows to the shared store and
files folder itself (``core.cluster.worker``), and returns only a small summary, so the driver
is never the bottleneck and a dead driver leaves every finished batch stored. The driver
merges each video's feature parts and closes its run once all its chunks are back.

``analyse_on_cluster`` is a generator of progress that stops when a ``threading.Event`` is
set, so the CLI prints it and the GUI's generic worker can run it unchanged.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from core.analysis.inference import eta_seconds
from core.analysis.run import LoadedModel
from core.analysis.windows import window_starts
from core.cluster.chunks import DEFAULT_CHUNK_WINDOWS, Chunk, plan_video
from core.cluster.worker import THREAD_ENV_VARS, ChunkWorker, EngineChoice, index_video
from core.errors import Cancelled, ClusterError, VideoError
from core.learning.feature_cache import LAYERS, FeatureCache, FeatureSink, feature_key
from core.store import Store
from core.store.records import PredictionRun, RunStatus, Video

log = logging.getLogger(__name__)

LOCAL = "local"
_CONNECT_TIMEOUT_S = 5.0
_INSTALL_HINT = "Analysing on a cluster needs Ray: pip install 'c3d-labeller[cluster]'."


@dataclass(frozen=True)
class ClusterSettings:
    address: str = LOCAL  # "local", "ray://HOST:10001" or "HOST:6379"
    stride: int = 8
    batch_size: int = 8
    workers: int | None = None  # default: one per GPU, else one per ``threads`` CPUs
    threads: int = 1  # torch threads of each CPU worker
    chunk_windows: int = DEFAULT_CHUNK_WINDOWS
    local_cpus: int | None = None  # CPUs a local Ray may use (default: all)
    worker_env: dict[str, str] = field(default_factory=dict)  # environment of the worker processes
    precision: str = "auto"  # what the user asked; the driver's loaded engine is what it resolved to
    progress_every_s: float = 1.0  # stored windows are re-counted this often between results


@dataclass(frozen=True)
class ClusterProgress:
    done: int  # windows stored, over every video
    total: int
    clips_per_s: float  # windows computed per second since the workers were asked
    videos_done: int
    videos_total: int
    workers: int

    @property
    def eta_s(self) -> float:
        return eta_seconds(self.done, self.total, self.clips_per_s)


@dataclass(frozen=True)
class ChunkStat:
    """One chunk as its worker reported it: what a benchmark needs to line workers up."""

    pid: int
    windows: int
    began_at: float  # wall clock
    seconds: float
    cpu_s: float
    ready_at: float  # when this worker had loaded its model (wall clock)
    engine: str = ""  # what computed it, e.g. "CPU · OpenVINO fp32"


@dataclass
class ClusterOutcome:
    runs: list[PredictionRun] = field(default_factory=list)
    windows_computed: int = 0
    start_s: float = 0.0  # connecting to Ray (a local one starts here)
    compute_s: float = 0.0  # from asking the workers to the last result
    workers_ready_s: float = 0.0  # from asking until the first worker had loaded the model
    workers: int = 0
    asked_at: float = 0.0  # wall clock when the pool was asked
    chunks: list[ChunkStat] = field(default_factory=list)

    @property
    def clips_per_s(self) -> float:
        return self.windows_computed / self.compute_s if self.compute_s > 0 else 0.0

    @property
    def steady_clips_per_s(self) -> float:
        """Windows per second once a worker was ready: the pool's start-up left out."""
        working = self.compute_s - self.workers_ready_s
        return self.windows_computed / working if working > 0 else 0.0

    @property
    def all_ready_at(self) -> float:
        """When the last worker had its model loaded (wall clock)."""
        return max((c.ready_at for c in self.chunks), default=self.asked_at)

    @property
    def pool_clips_per_s(self) -> float:
        """Windows per second while every worker was up: from the last worker's start to the
        last chunk's end, each chunk counted for the part of it inside that span. Neither
        Ray's start nor any worker's model loading is in it, so 1 and 2 workers compare."""
        if not self.chunks:
            return 0.0
        start = self.all_ready_at
        end = max(c.began_at + c.seconds for c in self.chunks)
        windows = 0.0
        for c in self.chunks:
            inside = min(c.began_at + c.seconds, end) - max(c.began_at, start)
            if c.seconds > 0 and inside > 0:
                windows += c.windows * inside / c.seconds
        return windows / (end - start) if end > start else 0.0

    @property
    def worker_engines(self) -> set[str]:
        """The engines the workers reported running: the driver's choice, or a GPU's PyTorch."""
        return {c.engine for c in self.chunks}

    def cpu_s_per_worker(self) -> dict[int, float]:
        """CPU seconds each worker process spent on its chunks (all threads, decode included)."""
        out: dict[int, float] = {}
        for c in self.chunks:
            out[c.pid] = out.get(c.pid, 0.0) + c.cpu_s
        return out


def resolve_address(value: str | None) -> str:
    """``--cluster`` as given, else ``$RAY_ADDRESS``, else a local Ray on this machine."""
    return value or os.environ.get("RAY_ADDRESS") or LOCAL


def ray_module() -> ModuleType:
    try:
        import ray
        import ray.data  # the extra ships Ray Data; a bare ray lacks it
    except ImportError as exc:
        raise ClusterError(_INSTALL_HINT) from exc
    return ray


@contextmanager
def ray_session(address: str, local_cpus: int | None = None) -> Iterator[tuple[ModuleType, bool]]:
    """Connect to (or start) Ray, and whether the session is ours to shut down.

    A session someone else opened (a test, a notebook) is used and left open.
    """
    ray = ray_module()
    if ray.is_initialized():
        yield ray, False
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if address == LOCAL:
        # "local" explicitly: with address None, Ray would follow $RAY_ADDRESS instead.
        kwargs.update(address="local", num_cpus=local_cpus or os.cpu_count(), _node_ip_address="127.0.0.1")
    else:
        import core

        # Workers run the driver's copy of ``core``, so a node never runs a different version.
        kwargs.update(address=address, runtime_env={"py_modules": [core]})
    try:
        _check_reachable(address)
        ray.init(**kwargs)
    except ClusterError:
        raise
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, TimeoutError, grpc errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(
            f"Cannot reach the Ray cluster at {address} ({first[:120]}); start it with `ray start --head` "
            "or check the address."
        ) from exc
    try:
        yield ray, True
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """Fail in seconds on a closed port instead of after Ray client's 30 s of retries."""
    if address in (LOCAL, "auto") or ("://" in address and not address.startswith("ray://")):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"'{address}' is not a Ray address; use ray://HOST:10001, HOST:6379 or 'local'.")
    try:
        socket.create_connection((host, int(port)), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ClusterError(
            f"Cannot reach the Ray cluster at {address} ({exc.strerror or exc}); start it with "
            "`ray start --head` or check the address."
        ) from exc


@dataclass
class _VideoPlan:
    video: Video
    run_id: int
    chunks_left: int
    total: int


def analyse_on_cluster(
    store: Store,
    videos: list[Video],
    loaded: LoadedModel,
    settings: ClusterSettings,
    cancel: threading.Event | None = None,
) -> Generator[ClusterProgress, None, ClusterOutcome]:
    """Analyse (or resume) ``videos`` on Ray, yielding progress; returns a ``ClusterOutcome``.

    Raises ``Cancelled`` once the workers have stopped, when ``cancel`` is set; windows stored
    by then are kept and the same call resumes.
    """
    cancel = cancel or threading.Event()
    outcome = ClusterOutcome()
    plans: dict[int, _VideoPlan] = {}
    chunks: list[Chunk] = []
    for video in videos:  # a missing file is the user's to fix, before any worker starts
        if not Path(video.path).exists():
            raise VideoError(f"The video file {video.path} is missing: relink it to its new location.")
    for video in videos:
        plan, video_chunks = _plan(store, video, loaded, settings)
        if video_chunks:
            plans[video.id] = plan
            chunks.extend(video_chunks)
        else:
            outcome.runs.append(store.predictions.finish(plan.run_id, RunStatus.COMPLETE))
    complete_before = list(outcome.runs)
    total = sum(p.total for p in plans.values()) + sum(r.windows_total for r in complete_before)
    done = _stored(store, plans, outcome)
    if not chunks:
        yield ClusterProgress(done, total, 0.0, len(videos), len(videos), 0)
        return outcome
    began = time.perf_counter()
    with ray_session(settings.address, settings.local_cpus) as (ray, owned):
        outcome.start_s = time.perf_counter() - began
        wanted, use_gpu = _pool_size(ray, settings)
        if use_gpu and settings.precision == "int8":
            raise ClusterError("int8 runs on CPU workers through OpenVINO: use --precision fp32 or auto.")
        if len(chunks) < wanted and any(c.whole_video for c in chunks):
            # Fewer chunks than workers because some videos were never decoded (one chunk each):
            # index those first, in parallel, so their chunks can spread over every worker.
            yield ClusterProgress(done, total, 0.0, len(videos) - len(plans), len(videos), 0)
            chunks = _index_then_replan(ray, store, loaded, settings, plans, chunks, cancel, use_gpu)
            total = sum(p.total for p in plans.values()) + sum(r.windows_total for r in complete_before)
        workers = max(min(wanted, len(chunks)), 1)
        outcome.workers = workers
        dataset = _dataset(ray, store, loaded, settings, chunks, workers, use_gpu)
        pump = _Pump(dataset, settings.progress_every_s)
        asked = time.perf_counter()
        asked_wall = outcome.asked_at = time.time()
        first_ready = float("inf")
        done_before = done
        yield ClusterProgress(done, total, 0.0, len(videos) - len(plans), len(videos), workers)
        try:
            for row in pump.rows(cancel):
                if row is not None:  # a chunk is back (None: time to re-count what is stored)
                    outcome.windows_computed += int(row["windows"])
                    first_ready = min(first_ready, float(row["ready_at"]))
                    outcome.chunks.append(_stat(row))
                    plan = plans[int(row["video_id"])]
                    plan.chunks_left -= 1
                    if plan.chunks_left == 0:
                        run = _finish_video(store, loaded, plan, settings.stride)
                        outcome.runs.append(run)
                done = _stored(store, plans, outcome)
                elapsed = time.perf_counter() - asked
                rate = max(done - done_before, 0) / elapsed if elapsed > 0 else 0.0
                finished = sum(1 for p in plans.values() if p.chunks_left == 0) + len(videos) - len(plans)
                total = sum(p.total for p in plans.values()) + sum(r.windows_total for r in complete_before)
                yield ClusterProgress(done, total, rate, finished, len(videos), workers)
        except BaseException as exc:
            # Ray Data logs the pool's teardown as errors; the user has been told what happened.
            logging.getLogger("ray.data").setLevel(logging.CRITICAL)
            cancelled = cancel.is_set() or isinstance(exc, KeyboardInterrupt)
            _close_unfinished(store, loaded, plans, RunStatus.CANCELLED if cancelled else RunStatus.FAILED)
            raise
        finally:
            # A session of our own is shut down on leaving (killing the workers at once);
            # in someone else's, the pool stops after the chunks it is computing.
            pump.stop(wait=not owned)
        outcome.compute_s = time.perf_counter() - asked
        if first_ready != float("inf"):
            outcome.workers_ready_s = max(first_ready - asked_wall, 0.0)
    pump.stop(wait=True)
    if cancel.is_set():
        _close_unfinished(store, loaded, plans, RunStatus.CANCELLED)
        raise Cancelled("Cluster analysis cancelled; the windows finished so far are kept.")
    return outcome


def run_on_cluster(
    store: Store,
    videos: list[Video],
    loaded: LoadedModel,
    settings: ClusterSettings,
    cancel: threading.Event | None = None,
    on_progress: Callable[[ClusterProgress], None] | None = None,
) -> ClusterOutcome:
    """``analyse_on_cluster`` driven to the end: the shape the GUI's generic worker runs."""
    progress = analyse_on_cluster(store, videos, loaded, settings, cancel)
    while True:
        try:
            p = next(progress)
        except StopIteration as stop:
            result: ClusterOutcome = stop.value
            return result
        if on_progress is not None:
            on_progress(p)


def _index_then_replan(
    ray: ModuleType,
    store: Store,
    loaded: LoadedModel,
    settings: ClusterSettings,
    plans: dict[int, _VideoPlan],
    chunks: list[Chunk],
    cancel: threading.Event,
    use_gpu: bool,
) -> list[Chunk]:
    """Index the whole-video chunks' videos on the cluster, then cut them into chunks.

    A video whose indexing fails keeps its whole-video chunk (the analysis then reports what
    is wrong with it, as it would have anyway).
    """
    whole = [c for c in chunks if c.whole_video]
    task = ray.remote(num_cpus=0 if use_gpu else settings.threads, max_retries=1)(index_video)
    refs = {task.remote(store.url, c.video_id): c for c in whole}
    pending = list(refs)
    while pending:
        if cancel.is_set():
            for ref in pending:
                ray.cancel(ref, force=True)
            _close_unfinished(store, loaded, plans, RunStatus.CANCELLED)
            raise Cancelled("Cluster analysis cancelled; the windows finished so far are kept.")
        _ready, pending = ray.wait(pending, num_returns=len(pending), timeout=0.2)
    replanned = [c for c in chunks if not c.whole_video]
    for ref, chunk in refs.items():
        try:
            ray.get(ref)
        except Exception as exc:  # Ray wraps the task's error; the analysis will report it
            log.warning("Indexing video %d on the cluster failed: %s", chunk.video_id, _first_line(exc))
            replanned.append(chunk)
            continue
        plan, video_chunks = _plan(store, store.videos.get(chunk.video_id), loaded, settings)
        if not video_chunks:  # every window already stored: the whole chunk finds nothing to do
            replanned.append(chunk)
            continue
        plans[chunk.video_id] = plan
        replanned.extend(video_chunks)
    return replanned


def _stat(row: dict[str, Any]) -> ChunkStat:
    return ChunkStat(
        pid=int(row["pid"]),
        windows=int(row["windows"]),
        began_at=float(row["began_at"]),
        seconds=float(row["seconds"]),
        cpu_s=float(row["cpu_s"]),
        ready_at=float(row["ready_at"]),
        engine=str(row["engine"]),
    )


def _plan(
    store: Store, video: Video, loaded: LoadedModel, settings: ClusterSettings
) -> tuple[_VideoPlan, list[Chunk]]:
    """The video's run (started or resumed) and the chunks of its windows not stored yet."""
    window, stride = loaded.spec.window, settings.stride
    total = len(window_starts(max(video.best_frame_count, 1), window, stride))
    run = store.predictions.start_run(video.id, loaded.version.id, stride, total)
    sink = FeatureSink(FeatureCache(store), video, loaded.trunk_hashes, loaded.spec, stride)
    done = store.predictions.done_starts(run.id) & sink.done_starts()
    _ensure_feature_entries(store, video, loaded, stride)
    frame_count = video.frame_count if video.indexed else None
    chunks = plan_video(
        video.id,
        run.id,
        frame_count,
        done,
        window=window,
        stride=stride,
        chunk_windows=settings.chunk_windows,
    )
    return _VideoPlan(video, run.id, len(chunks), total), chunks


def _ensure_feature_entries(store: Store, video: Video, loaded: LoadedModel, stride: int) -> None:
    """Created here, once, so workers only ever update them (no two inserts of one key race)."""
    cache = FeatureCache(store)
    for layer in LAYERS:
        key = feature_key(video, loaded.trunk_hashes[layer], loaded.spec, stride, layer)
        if store.features.get(*_key_tuple(key)) is None:
            folder = cache.root / key.folder_name()
            store.features.put(*_key_tuple(key), path=str(folder), windows=0, complete=False)
            folder.mkdir(parents=True, exist_ok=True)


def _key_tuple(key: Any) -> tuple[str, str, str, int, str]:
    return (key.video_hash, key.trunk_hash, key.spec_hash, key.stride, key.layer)


def _finish_video(store: Store, loaded: LoadedModel, plan: _VideoPlan, stride: int) -> PredictionRun:
    """All chunks are back: merge the feature parts and close the run with its true total."""
    video = store.videos.get(plan.video.id)  # a whole-video chunk has recorded the index
    total = len(window_starts(max(video.best_frame_count, 1), loaded.spec.window, stride))
    FeatureSink(FeatureCache(store), video, loaded.trunk_hashes, loaded.spec, stride).finish()
    n_classes = len(loaded.version.class_names)
    store.predictions.add_windows(plan.run_id, np.empty(0, np.int64), np.empty((0, n_classes), np.float32))
    done = store.predictions.done_starts(plan.run_id)
    expected = set(window_starts(max(video.best_frame_count, 1), loaded.spec.window, stride).tolist())
    status = RunStatus.COMPLETE if expected <= done else RunStatus.FAILED
    if status is RunStatus.FAILED:
        log.warning("Video %d: %d windows missing after its chunks came back", video.id, len(expected - done))
    plan.total = total
    return store.predictions.finish(plan.run_id, status, windows_total=total)


def _close_unfinished(
    store: Store, loaded: LoadedModel, plans: dict[int, _VideoPlan], status: RunStatus
) -> None:
    """Runs whose chunks did not all come back: their stored windows count, and a re-run resumes."""
    n_classes = len(loaded.version.class_names)
    for plan in plans.values():
        if plan.chunks_left > 0:
            store.predictions.add_windows(
                plan.run_id, np.empty(0, np.int64), np.empty((0, n_classes), np.float32)
            )
            store.predictions.finish(plan.run_id, status)


def _stored(store: Store, plans: dict[int, _VideoPlan], outcome: ClusterOutcome) -> int:
    """Windows stored so far, over the runs still open plus the ones closed."""
    open_runs = [p.run_id for p in plans.values() if p.chunks_left > 0]
    return store.predictions.windows_done_total(open_runs) + sum(
        min(r.windows_done, r.windows_total) for r in outcome.runs
    )


def _pool_size(ray: ModuleType, settings: ClusterSettings) -> tuple[int, bool]:
    """One actor per GPU on GPU clusters, else one per ``threads`` CPUs (before capping at chunks)."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    use_gpu = gpus > 0
    default = gpus if use_gpu else max(int(resources.get("CPU", 1)) // max(settings.threads, 1), 1)
    return max(settings.workers or default, 1), use_gpu


def _dataset(
    ray: ModuleType,
    store: Store,
    loaded: LoadedModel,
    settings: ClusterSettings,
    chunks: list[Chunk],
    workers: int,
    use_gpu: bool,
) -> Any:
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the CLI and the app show our own progress
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    # Long chunks first would be ideal; in order is close: a video's chunks are alike.
    items = [{"chunk": c.to_json()} for c in chunks]
    dataset = ray.data.from_items(items, override_num_blocks=len(items))
    resources: dict[str, Any] = {"num_gpus": 1} if use_gpu else {"num_cpus": settings.threads}
    env = {} if use_gpu else dict.fromkeys(THREAD_ENV_VARS, str(settings.threads))
    env.update(settings.worker_env)
    if env:
        resources["runtime_env"] = {"env_vars": env}
    return dataset.map_batches(
        ChunkWorker,
        fn_constructor_kwargs={
            "store_url": store.url,
            "files_dir": str(store.files_dir),
            "version_id": loaded.version.id,
            "stride": settings.stride,
            "batch_size": settings.batch_size,
            "threads": settings.threads,
            "use_gpu": use_gpu,
            "engine": EngineChoice.of(loaded.engine, store.files_dir, settings.precision),
            "trunk_hashes": dict(loaded.trunk_hashes),
        },
        batch_size=1,
        batch_format="numpy",
        # One chunk at a time per worker: a second one queued behind a busy worker would wait
        # there while another worker idles (Ray's default is two in flight per actor).
        compute=ray.data.ActorPoolStrategy(size=workers, max_tasks_in_flight_per_actor=1),
        **resources,
    )


class _Pump:
    """Reads the dataset's result rows on a thread, so the driver can notice a cancel at once."""

    _END = object()

    def __init__(self, dataset: Any, tick_s: float = 1.0) -> None:
        self._dataset = dataset
        self._tick_s = tick_s
        self._queue: queue.Queue[Any] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ray-results", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for row in self._dataset.iter_rows():
                self._queue.put(row)
                if self._stop.is_set():
                    break  # closing the iterator shuts the actor pool down
        except BaseException as exc:  # handed to the driver's thread, which raises it
            self._queue.put(exc)
        self._queue.put(self._END)

    def rows(self, cancel: threading.Event) -> Iterator[dict[str, Any] | None]:
        """Result rows as they come; ``None`` every ``tick_s`` while none does."""
        quiet_since = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                if cancel.is_set():
                    return
                if time.monotonic() - quiet_since >= self._tick_s:
                    quiet_since = time.monotonic()
                    yield None
                continue
            quiet_since = time.monotonic()
            if item is self._END or cancel.is_set():
                return
            if isinstance(item, BaseException):
                raise ClusterError(f"The cluster analysis failed: {_first_line(item)}") from item
            yield item

    def stop(self, wait: bool) -> None:
        """Ask the pool to stop; with ``wait``, until the chunks being computed are done."""
        self._stop.set()
        if wait:
            self._thread.join(timeout=600)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[-1] if text else type(exc).__name__)[:200]
