"""Team mode under load: 4 processes × 500 edits against a throwaway PostgreSQL server.

Two phases, each with 4 worker processes (one Project each, as four apps would be):
- ``overlapping``: every worker labels random ranges inside the same 600 frames of one video,
  each edit naming the segments it read just before (as the app does); conflicts are expected.
- ``separate``: each worker edits only its own 600 frames: no conflict is expected.

``lost_updates`` counts acknowledged edits whose log entry shows they replaced labels other
than the ones their author had read (someone's edit overwritten unseen), plus acknowledged
edits missing from the log; replaying the edit log must also give the final labels.
``commit_ms`` is the wall time of each edit action (lock, check, write, log, feed, commit).
``notify_ms``: during the load, a probe app in this process labels frames of a second video
every 100 ms; a listening app (another store object) records when it hears each probe.
``solo`` runs one worker alone for comparison (``contention_p95_ratio``).
``client_cpu_p50_ms``, ``in_statements_*``, ``lock_wait_p95_ms``: where an edit's time goes
(its process's CPU; waiting on the server; of that, waiting for the range lock).
``statements_per_edit``: the SQL statements one edit sends (``sql``; BEGIN and COMMIT are two
more round trips), counted on the connection in one process before the load.
Prints one JSON object. Run: ``PYTHONPATH=$PWD .venv/bin/python benchmarks/team.py``.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing as mp
import random
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.errors import ConflictError
from core.labels.editing import snapshot
from core.project import actions, open_project
from core.store.records import NewSegment
from tests.pg_server import PostgresServer, find_pg_bin

WORKERS = 4
EDITS = 500
SPAN = 600
FRAMES = 100_000


def worker(url: str, index: int, mode: str, seed: int, out: Any) -> None:
    project = open_project(url)
    rng = random.Random(seed)
    classes = [c.id for c in project.store.classes.list() if c.name != "background"]
    base = 0 if mode == "overlapping" else (index + 1) * 10 * SPAN
    acked: list[tuple[str, int, int, list[list[int]]]] = []
    conflicts = 0
    commit_ms: list[float] = []
    cpu_ms: list[float] = []  # this process's CPU per edit: what load cannot inflate much
    waits = {"db": 0.0, "lock": 0.0}  # per edit: time inside statements, inside the range lock
    db_ms: list[float] = []
    lock_ms: list[float] = []
    began: dict[str, float] = {}

    def before(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        began["t"] = time.perf_counter()

    def after(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        spent = time.perf_counter() - began.pop("t", time.perf_counter())
        waits["db"] += spent
        if "pg_advisory" in statement:
            waits["lock"] += spent

    from sqlalchemy import event

    event.listen(project.store.engine, "before_cursor_execute", before)
    event.listen(project.store.engine, "after_cursor_execute", after)
    for k in range(EDITS):
        start = base + rng.randrange(0, SPAN - 40)
        end = start + rng.randrange(5, 40)
        seen = project.store.segments.list(1, start, end)
        tag = f"w{index}:{k}"
        project.annotator = tag
        waits["db"] = waits["lock"] = 0.0
        c0, t0 = time.process_time(), time.perf_counter()
        try:
            change = actions.label_range(project, 1, start, end, rng.choice(classes), seen=seen)
        except ConflictError:
            conflicts += 1
            continue
        finally:
            commit_ms.append((time.perf_counter() - t0) * 1000)
            cpu_ms.append((time.process_time() - c0) * 1000)
            db_ms.append(waits["db"] * 1000)
            lock_ms.append(waits["lock"] * 1000)
        if change is not None:
            saw = [[s.class_id, s.start_frame, s.end_frame] for s in snapshot(seen, start, end)]
            acked.append((tag, start, end, saw))
    project.close()
    out.put(
        {
            "acked": acked,
            "conflicts": conflicts,
            "commit_ms": commit_ms,
            "cpu_ms": cpu_ms,
            "db_ms": db_ms,
            "lock_ms": lock_ms,
        }
    )


def replay(entries: Sequence[Any]) -> list[tuple[int, int, int]]:
    """Per-frame labels after applying every logged edit in order, as (class, start, end) runs."""
    frames = np.zeros(FRAMES, dtype=np.int64)
    for e in entries:
        frames[e.start_frame : e.end_frame] = 0
        for s in e.after:
            frames[s.start_frame : s.end_frame] = s.class_id
    runs: list[tuple[int, int, int]] = []
    change = np.flatnonzero(np.diff(frames)) + 1
    bounds = [0, *change.tolist(), FRAMES]
    for a, b in itertools.pairwise(bounds):
        if frames[a]:
            runs.append((int(frames[a]), a, b))
    return runs


def phase(url: str, mode: str, workers: int = WORKERS) -> dict[str, Any]:
    probe, listener = open_project(url, "probe"), open_project(url, "listener")
    heard: dict[tuple[int, int], float] = {}
    listener.events.segments.connect(
        lambda c: heard.setdefault((c.start, c.end), time.time()) if c.video_id == 2 else None
    )
    listener.listen_to_others(interval_s=0.5)
    time.sleep(1.0)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(url, i, mode, 1000 + i, out)) for i in range(workers)]
    t_start = time.perf_counter()
    for p in procs:
        p.start()
    sent: dict[tuple[int, int], float] = {}
    stop = threading.Event()
    walk = probe.store.classes.by_name("walk")
    assert walk is not None

    def probes() -> None:
        k = 0
        while not stop.is_set() and k < FRAMES // 20 - 1:
            start = k * 20
            probe.store.segments.add(2, NewSegment(walk.id, start, start + 10))
            sent[(start, start + 10)] = time.time()
            k += 1
            stop.wait(0.1)

    prober = threading.Thread(target=probes)
    prober.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    wall_s = time.perf_counter() - t_start
    stop.set()
    prober.join()
    time.sleep(1.5)
    listener.close()
    probe_store = probe.store
    log = {e.annotator: e for e in probe_store.edit_log.list(1)}
    lost = 0
    for r in results:
        for tag, _start, _end, saw in r["acked"]:
            entry = log.get(tag)
            if entry is None or [[s.class_id, s.start_frame, s.end_frame] for s in entry.before] != saw:
                lost += 1
    final = [(s.class_id, s.start_frame, s.end_frame) for s in probe_store.segments.list(1)]
    replay_ok = replay(sorted(log.values(), key=lambda e: e.id)) == final
    probe.close()
    commit = np.array([ms for r in results for ms in r["commit_ms"]])
    notify = np.array([(heard[key] - t) * 1000 for key, t in sent.items() if key in heard])
    return {
        "edits": len(commit),
        "acknowledged": sum(len(r["acked"]) for r in results),
        "conflicts": sum(r["conflicts"] for r in results),
        "lost_updates": lost,
        "log_replay_matches": replay_ok,
        "commit_p50_ms": round(float(np.percentile(commit, 50)), 2),
        "commit_p95_ms": round(float(np.percentile(commit, 95)), 2),
        # Where an edit's time goes: its own CPU (client side), waiting on the server's answers
        # (its statements; BEGIN and COMMIT not counted), and of that the wait for the range lock.
        "client_cpu_p50_ms": _p(results, "cpu_ms", 50),
        "in_statements_p50_ms": _p(results, "db_ms", 50),
        "in_statements_p95_ms": _p(results, "db_ms", 95),
        "lock_wait_p95_ms": _p(results, "lock_ms", 95),
        "notify_probes": len(sent),
        "notify_heard": len(notify),
        "notify_p50_ms": round(float(np.percentile(notify, 50)), 1) if len(notify) else None,
        "notify_p95_ms": round(float(np.percentile(notify, 95)), 1) if len(notify) else None,
        "wall_s": round(wall_s, 1),
        "edits_per_s": round(len(commit) / wall_s, 1),
    }


def statements_per_edit(url: str, edits: int = 20) -> dict[str, float]:
    """Mean SQL statements one label edit sends (after the first, which warms nothing up: each
    edit is a unit of its own), counted on the engine; the reads before it are not counted."""
    from sqlalchemy import event

    project = open_project(url, "counter")
    rng = random.Random(7)
    classes = [c.id for c in project.store.classes.list() if c.name != "background"]
    counted: list[str] = []
    transactions: list[int] = []
    counting = False

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if counting:
            counted.append(statement)

    def commit(_conn: Any) -> None:
        if counting:
            transactions.append(1)

    event.listen(project.store.engine, "before_cursor_execute", count)
    event.listen(project.store.engine, "commit", commit)
    for k in range(edits + 1):
        start = 50 * SPAN + rng.randrange(0, SPAN - 40)
        end = start + rng.randrange(5, 40)
        seen = project.store.segments.list(1, start, end)
        counting = k > 0
        actions.label_range(project, 1, start, end, rng.choice(classes), seen=seen)
        counting = False
    project.close()
    done = edits or 1
    return {"sql": round(len(counted) / done, 2), "transactions": round(len(transactions) / done, 2)}


def _p(results: Sequence[dict[str, Any]], key: str, q: float) -> float:
    values = np.array([v for r in results for v in r[key]])
    return round(float(np.percentile(values, q)), 2) if len(values) else float("nan")


def prepare(url: str) -> None:
    project = open_project(url)
    for name in ("a", "b"):
        video = project.store.videos.add(f"/nonexistent/{name}.avi", name, 64, 48, 25.0, FRAMES)
        project.store.videos.set_index(video.id, FRAMES, np.arange(FRAMES) / 25.0)
    for name in ("walk", "run", "rest"):
        project.store.classes.add(name)
    project.close()


def main() -> int:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        print(json.dumps({"error": "PostgreSQL's initdb/pg_ctl not found: run `make postgres`"}))
        return 1
    server = PostgresServer(bin_dir)
    server.start()
    try:
        report: dict[str, Any] = {"workers": WORKERS, "edits_per_worker": EDITS}
        url = server.new_url()
        prepare(url)
        report["statements_per_edit"] = statements_per_edit(url)
        for mode in ("overlapping", "separate"):
            url = server.new_url()
            prepare(url)
            report[mode] = phase(url, mode)
        url = server.new_url()  # the same edits from one process alone: what contention costs
        prepare(url)
        report["solo"] = phase(url, "separate", workers=1)
        report["contention_p95_ratio"] = round(
            report["separate"]["commit_p95_ms"] / report["solo"]["commit_p95_ms"], 2
        )
        report["lost_updates"] = sum(report[m]["lost_updates"] for m in ("overlapping", "separate"))
        report["commit_p95_ms"] = max(report[m]["commit_p95_ms"] for m in ("overlapping", "separate"))
        report["notify_p95_ms"] = max(
            report[m]["notify_p95_ms"] or float("inf") for m in ("overlapping", "separate")
        )
    finally:
        server.stop()
    print(json.dumps(report, indent=2))
    return 0 if report["lost_updates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
