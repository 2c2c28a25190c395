"""Faults and hostile files (issue 9): each case run as a CLI subprocess, printed as JSON.

For every case: the exit code, the message (the last line on stderr), how many lines stderr
had and whether one was a traceback, the peak RSS of the process (``os.wait4``'s rusage of
that one child: the same ``ru_maxrss`` as ``getrusage(RUSAGE_CHILDREN)``, but per case), wall
and CPU seconds, and whether every file the case was given is byte-identical afterwards.
``ok`` checks the issue's bar: the expected exit code, one line on stderr and no traceback,
< 1 GB, < 10 s (CPU seconds, since this machine is shared; wall seconds are printed too), and
files unchanged. The files are generated in a temporary folder (about 350 MB of it at once).

Usage: python benchmarks/hostile_files.py [--only SUBSTRING] [--out results.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.store import open_store  # noqa: E402
from tests.core.interchange_helpers import add_video, label  # noqa: E402
from tests.core.test_interchange_corpus import CASES as CORPUS_CASES  # noqa: E402
from tests.videos import write_mjpeg_avi  # noqa: E402

CORPUS = ROOT / "tests" / "corpus"
MB = 1 << 20


@dataclass
class Case:
    name: str
    argv: list[str]
    given: list[Path] = field(default_factory=list)
    expect_rc: int | None = None  # None: any non-zero
    stderr_lines: int | None = 1  # None: any number (progress, waits), but no traceback
    bounded: bool = True  # a hostile file: held to < 1 GB and < 10 s
    during: Callable[[subprocess.Popen], None] | None = None
    check: Callable[[], str] | None = None


def run_case(case: Case, env: dict[str, str]) -> dict:
    before = {p: _digest(p) for p in case.given}
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), *case.argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []
    readers = [
        threading.Thread(target=lambda: out_chunks.append(proc.stdout.read())),  # type: ignore[union-attr]
        threading.Thread(target=lambda: err_chunks.append(proc.stderr.read())),  # type: ignore[union-attr]
    ]
    for reader in readers:
        reader.start()
    if case.during is not None:
        case.during(proc)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - began
    for reader in readers:
        reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = b"".join(err_chunks).decode("utf-8", "replace")
    out_lines = b"".join(out_chunks).decode("utf-8", "replace").splitlines()
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    unchanged = all(_digest(p) == d for p, d in before.items())
    peak_mb = usage.ru_maxrss / 1024
    cpu_s = usage.ru_utime + usage.ru_stime
    rc_ok = proc.returncode == case.expect_rc if case.expect_rc is not None else proc.returncode != 0
    extra = case.check() if case.check is not None else ""
    traceback = "Traceback" in err
    result = {
        "case": case.name,
        "rc": proc.returncode,
        "message": lines[-1] if lines else "",
        "stderr_lines": len(lines),
        "stdout_lines": len(out_lines),
        "first_stdout_line": out_lines[0] if out_lines else "",  # an import's first problem
        "traceback": traceback,
        "peak_rss_mb": round(peak_mb),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_s, 2),
        "files_unchanged": unchanged,
        "note": extra,
    }
    result["ok"] = bool(
        rc_ok
        and not traceback
        and (case.stderr_lines is None or len(lines) == case.stderr_lines)
        and (not case.bounded or (peak_mb < 1024 and cpu_s < 10))
        and unchanged
        and not extra.startswith("FAIL")
    )
    return result


def _digest(path: Path) -> str:
    if not path.exists():
        return "absent"
    if path.is_dir():
        return "folder:" + ",".join(sorted(p.name for p in path.iterdir()))
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MB), b""):
            h.update(block)
    return h.hexdigest()


def _fresh_db(tmp: Path, name: str) -> str:
    return str(tmp / "stores" / f"{name}.sqlite3")


# -- generators ------------------------------------------------------------------------------


def real_checkpoint(tmp: Path) -> Path:
    """Made in a child process: a child's ``ru_maxrss`` starts from its parent's peak (the
    exec inherits the high-water mark), so this process must never hold a 312 MB model."""
    path = tmp / "real.safetensors"
    subprocess.run([sys.executable, __file__, "--make-checkpoint", str(path)], check=True, cwd=ROOT)
    return path


def _make_checkpoint(path: Path) -> None:
    from core.model.checkpoint import CheckpointMeta, save_checkpoint
    from core.model.network import new_model
    from core.model.spec import DEFAULT_SPEC

    meta = CheckpointMeta.create(["background", "walk"], DEFAULT_SPEC, name="real")
    save_checkpoint(path, new_model(2, seed=0), meta)


def nan_checkpoint(real: Path, out: Path) -> Path:
    shutil.copyfile(real, out)
    with open(out, "r+b") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        start, _ = header["fc8.bias"]["data_offsets"]
        f.seek(8 + header_len + start)
        f.write(struct.pack("<f", float("nan")))
    return out


def zip_declaring(path: Path, declared: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("archive/data/0", b"\0" * 4096)
    data = bytearray(path.read_bytes())
    for signature, size_at in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        at = data.rfind(signature)
        data[at + size_at : at + size_at + 4] = struct.pack("<I", declared)
    path.write_bytes(bytes(data))
    return path


def deflated_bomb(path: Path, unpacked: int) -> Path:
    """A real zip bomb in torch.save's layout: ``unpacked`` zero bytes deflated to ~1/1000."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        with archive.open("archive/data/0", "w", force_zip64=True) as member:
            block = b"\0" * (16 * MB)
            for _ in range(unpacked // len(block)):
                member.write(block)
    return path


def anet_many(path: Path, size: int) -> Path:
    with open(path, "w") as f:
        f.write('{"version": "1.3", "database": {')
        n = written = 0
        while written < size:
            entry = (
                f'"video_{n:07d}": {{"subset": "training", '
                '"annotations": [{"segment": [1.5, 3.25], "label": "walk"}]}'
            )
            f.write((", " if n else "") + entry)
            written += len(entry) + 2
            n += 1
        f.write("}}")
    return path


def _repeat(path: Path, head: str, unit: str, count: int, tail: str) -> None:
    """``head + unit * count + tail``, written in pieces so this process stays small."""
    with open(path, "w") as f:
        f.write(head)
        piece = unit * (MB // len(unit))
        for _ in range(count // (MB // len(unit))):
            f.write(piece)
        f.write(unit * (count % (MB // len(unit))))
        f.write(tail)


def foreign_sqlite(path: Path, *tables: str) -> Path:
    with sqlite3.connect(path) as conn:
        for table in tables:
            conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT)")
            conn.execute(f"INSERT INTO {table} (name) VALUES ('theirs')")
    conn.close()
    return path


def segments_csv(path: Path, video_path: str, count: int) -> Path:
    rows = [f"{video_path},walk,{i * 100},{i * 100 + 60}" for i in range(count)]
    path.write_text("video,class,start_frame,end_frame\n" + "\n".join(rows) + "\n")
    return path


# -- the cases -------------------------------------------------------------------------------


def build_cases(tmp: Path, only: str | None) -> list[Case]:
    """Every case in one list, read top to bottom."""
    files = tmp / "files"
    files.mkdir()
    (tmp / "stores").mkdir()
    cases: list[Case] = []

    def wanted(name: str) -> bool:
        return only is None or only in name

    def section(prefix: str) -> bool:
        """Build a section's (costly) files only when one of its cases will run."""
        return only is None or only in prefix or prefix in only

    def add(case: Case) -> None:
        if wanted(case.name):
            cases.append(case)

    def db(name: str) -> list[str]:
        return ["--db", _fresh_db(tmp, name)]

    # Model files
    if section("model:"):
        huge = files / "huge_header.safetensors"
        huge.write_bytes(struct.pack("<Q", 90_000_000) + b'{"a": 1}')
        add(
            Case(
                "model: header length 90,000,000, tiny file", [*db("m1"), "import-weights", str(huge)], [huge]
            )
        )
        real = real_checkpoint(files)
        cut = files / "cut_100MB.safetensors"
        with open(real, "rb") as src, open(cut, "wb") as dst:
            for _ in range(100):
                dst.write(src.read(MB))
        add(Case("model: real checkpoint cut at 100 MB", [*db("m2"), "import-weights", str(cut)], [cut]))
        cut_header = files / "cut_header.bin"
        with open(real, "rb") as src:
            head = src.read(4096)
        (header_len,) = struct.unpack("<Q", head[:8])
        cut_header.write_bytes(head[:8] + head[8 : 8 + min(header_len // 2, 2000)])
        add(
            Case(
                "model: cut header (.bin, via the Sports-1M path)",
                [*db("m3"), "import-weights", str(cut_header)],
                [cut_header],
            )
        )
        nan = nan_checkpoint(real, files / "nan_weights.safetensors")
        add(Case("model: NaN in fc8.bias", [*db("m4"), "import-weights", str(nan)], [nan]))
        real.unlink()
        declared = zip_declaring(files / "declares_4GB.pt", 0xF000_0000)
        add(
            Case(
                "model: zip declaring a 4 GB member (4 KB file)",
                [*db("m5"), "import-weights", str(declared)],
                [declared],
            )
        )
        bomb = deflated_bomb(files / "bomb_1GB.pt", 1 << 30)
        add(
            Case(
                f"model: zip bomb, 1 GiB deflated to {bomb.stat().st_size / MB:.1f} MB",
                [*db("m6"), "import-weights", str(bomb)],
                [bomb],
            )
        )
        folder = files / "weights_folder"
        folder.mkdir()
        add(
            Case(
                "model: a folder given as the weights file",
                [*db("m7"), "import-weights", str(folder)],
                [folder],
            )
        )

    # Stores
    theirs = foreign_sqlite(files / "theirs.db", "customers", "orders")
    add(Case("store: another app's SQLite (no clash)", ["--db", str(theirs), "classes", "list"], [theirs]))
    clash = foreign_sqlite(files / "clash.db", "segments")
    add(
        Case(
            "store: another app's SQLite (table 'segments')", ["--db", str(clash), "classes", "list"], [clash]
        )
    )
    text_db = files / "notes.txt"
    text_db.write_text("not a database\n" * 100)
    add(Case("store: a text file as --db", ["--db", str(text_db), "classes", "list"], [text_db]))
    empty = files / "empty.db"
    empty.touch()
    add(
        Case(
            "store: zero-byte file (used, with a note)", ["--db", str(empty), "classes", "list"], expect_rc=0
        )
    )
    for url in ("postgresql://user@localhost/labels", "mysql://user@localhost/labels", "foo://bar"):
        add(Case(f"store: {url.split('://')[0]}:// URL", ["--db", url, "classes", "list"]))

    base = tmp / "stores" / "base.sqlite3"
    with open_store(f"sqlite:///{base}") as store:
        video = store.videos.add("/v/long.mp4", "fp1:" + "cd" * 32, 64, 48, 25.0, 1_000_000)
        store.classes.add("walk")
    if section("store: busy"):
        busy = tmp / "stores" / "busy.sqlite3"
        shutil.copyfile(base, busy)

        def hold_lock(_proc: subprocess.Popen) -> None:
            conn = sqlite3.connect(busy, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            time.sleep(12)  # well past SQLite's 5 s busy timeout, after the CLI has started
            conn.execute("ROLLBACK")
            conn.close()

        add(
            Case(
                "store: busy for 12 s (another writer), then free",
                ["--db", str(busy), "segments", "add", str(video.id), "0", "10", "walk"],
                expect_rc=0,
                stderr_lines=None,  # the visible waits; the write then succeeds
                bounded=False,
                during=hold_lock,
            )
        )
    if section("store: 3,000"):
        concurrent = tmp / "stores" / "concurrent.sqlite3"
        shutil.copyfile(base, concurrent)
        big = segments_csv(files / "3000_segments.csv", video.path, 3000)
        late: dict[str, object] = {}

        def add_meanwhile(_proc: subprocess.Popen) -> None:
            time.sleep(1.0)
            late["result"] = subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "main.py"),
                    "--db",
                    str(concurrent),
                    "segments",
                    "add",
                    str(video.id),
                    "999000",
                    "999010",
                    "walk",
                ],
                capture_output=True,
                text=True,
                cwd=ROOT,
                check=False,
            )

        def concurrent_ok() -> str:
            other = late.get("result")
            if not isinstance(other, subprocess.CompletedProcess):
                return "FAIL: the concurrent add did not run"
            tail = other.stderr.strip().splitlines()[-1:] if other.stderr.strip() else []
            verdict = "ok" if other.returncode == 0 else "FAIL"
            return f"{verdict}: concurrent 'segments add' rc {other.returncode} {tail}"

        add(
            Case(
                "store: 3,000-segment import + a concurrent 'segments add'",
                ["--db", str(concurrent), "import", "--format", "csv", str(big)],
                [big],
                expect_rc=0,
                stderr_lines=None,
                bounded=False,
                during=add_meanwhile,
                check=concurrent_ok,
            )
        )
    clips = files / "clips"
    clips.mkdir()
    write_mjpeg_avi(clips / "a.avi", 8, size=(64, 48))
    (clips / "b.mp4").write_bytes(b"not a video" * 100)
    write_mjpeg_avi(clips / "c.avi", 8, size=(64, 48))
    add(
        Case(
            "store: 'videos add' on a folder with a bad file",
            [*db("v1"), "videos", "add", str(clips)],
            [clips / "b.mp4"],
        )
    )
    if section("infer: Ctrl+C"):
        infer_db = _fresh_db(tmp, "infer")
        clip = write_mjpeg_avi(files / "long.avi", 400, size=(112, 112))

        def interrupt(proc: subprocess.Popen) -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.5)
                if _runs(infer_db):
                    time.sleep(2)
                    proc.send_signal(signal.SIGINT)
                    return

        def cancelled() -> str:
            status = _runs(infer_db)
            return ("ok" if status == ["cancelled"] else "FAIL") + f": run status {status}"

        add(
            Case(
                "infer: Ctrl+C",
                ["--db", infer_db, "infer", str(clip), "--batch", "1", "--device", "cpu"],
                [clip],
                expect_rc=130,
                stderr_lines=None,
                bounded=False,
                during=interrupt,
                check=cancelled,
            )
        )

    # Exports
    blocker = files / "a_file.txt"
    blocker.write_text("mine\n")
    add(
        Case(
            "export: parent path is a file",
            [*db("e1"), "export", "--format", "csv", "--out", str(blocker / "x.csv")],
            [blocker],
        )
    )
    if os.geteuid() == 0 and shutil.which("mount"):
        small = tmp / "tiny_fs"
        small.mkdir()
        full_ok = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)], check=False
            ).returncode
            == 0
        )
        ro = tmp / "ro_fs"
        ro.mkdir()
        ro_ok = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)], check=False
            ).returncode
            == 0
        )
        if full_ok:
            (small / "filler").write_bytes(b"\0" * (60 << 10))
            old = small / "labels.csv"
            old.write_text("yesterday\n")
            edb = tmp / "stores" / "export_full.sqlite3"
            shutil.copyfile(base, edb)
            with open_store(f"sqlite:///{edb}") as store:
                label(store, store.videos.list()[0], *[("walk", i * 10, i * 10 + 5) for i in range(3000)])
            add(
                Case(
                    "export: full disk (64 KB tmpfs)",
                    ["--db", str(edb), "export", "--format", "csv", "--out", str(old)],
                    [old],
                    check=lambda: "ok" if not list(small.glob(".*.tmp")) else "FAIL: a .tmp was left",
                )
            )
        if ro_ok:
            add(
                Case(
                    "export: read-only folder",
                    [*db("e3"), "export", "--format", "csv", "--out", str(ro / "x.csv")],
                    [ro],
                )
            )
    else:
        ro = files / "locked"
        ro.mkdir(mode=0o555)
        add(
            Case(
                "export: unwritable folder",
                [*db("e3"), "export", "--format", "csv", "--out", str(ro / "x.csv")],
                [ro],
            )
        )
    mode_out = files / "mode.csv"

    def mode_ok() -> str:
        mode = mode_out.stat().st_mode & 0o777
        return ("ok" if mode == 0o666 & ~0o022 else "FAIL") + f": mode {mode:o} under umask 022"

    add(
        Case(
            "export: file mode follows the umask",
            [*db("e4"), "export", "--format", "csv", "--out", str(mode_out)],
            expect_rc=0,
            stderr_lines=0,
            check=mode_ok,
        )
    )

    # Label imports
    if section("labels:"):
        many = anet_many(files / "anet_many_50MB.json", 50_000_000)
        add(
            Case(
                "labels: ActivityNet 50 MB, ~495k entries",
                [*db("l1"), "import", "--format", "activitynet", str(many)],
                [many],
            )
        )
        one = files / "one_string_50MB.json"
        _repeat(one, '{"note": "', "x", 50 * MB, '"}')
        add(
            Case(
                "labels: JSON with one 50 MB string",
                [*db("l2"), "import", "--format", "activitynet", str(one)],
                [one],
            )
        )
        quotes = files / "escaped_quotes_200KB.json"
        _repeat(quotes, '["', '\\"', 100_000, "")
        add(
            Case(
                "labels: 200 KB of escaped quotes",
                [*db("l3"), "import", "--format", "activitynet", str(quotes)],
                [quotes],
            )
        )
        quotes50 = files / "escaped_quotes_50MB.json"
        _repeat(quotes50, '["', '\\"', 25 * MB, "")
        add(
            Case(
                "labels: 50 MB of escaped quotes",
                [*db("l4"), "import", "--format", "activitynet", str(quotes50)],
                [quotes50],
            )
        )
        deep = files / "deep_50MB.json"
        _repeat(deep, "", "[", 50 * MB, "")
        add(Case("labels: 50 MB of '['", [*db("l5"), "import", "--format", "activitynet", str(deep)], [deep]))
        garbage = files / "garbage_labels.csv"
        garbage.write_bytes(random.Random(0).randbytes(MB))
        add(
            Case(
                "labels: frames-csv on 1 MB of binary garbage",
                [*db("l6"), "import", "--format", "frames-csv", str(garbage)],
                [garbage],
            )
        )

    # The bad-input corpus, against a store that has the video and classes the files name
    corpus_base = tmp / "stores" / "corpus_base.sqlite3"
    with open_store(f"sqlite:///{corpus_base}") as store:
        clip_video = add_video(store)
        label(store, clip_video, ("walk", 0, 5), ("run", 60, 70))
    for name, fmt, _, _ in CORPUS_CASES:
        if not wanted(f"corpus: {name}"):
            continue
        copy = tmp / "stores" / f"corpus_{len(cases)}.sqlite3"
        shutil.copyfile(corpus_base, copy)
        add(
            Case(
                f"corpus: {name}",
                ["--db", str(copy), "import", "--format", fmt, str(CORPUS / name)],
                [CORPUS / name],
            )
        )
    return cases


def _runs(db: str) -> list[str]:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error:
        return []
    try:
        return [r[0] for r in conn.execute("SELECT status FROM prediction_runs")]
    except sqlite3.Error:
        return []
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run the cases whose name contains this")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--make-checkpoint", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_checkpoint:
        _make_checkpoint(args.make_checkpoint)
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_DATA_HOME": ""}
    os.umask(0o022)
    tmp = Path(tempfile.mkdtemp(prefix="hostile-"))
    env["XDG_DATA_HOME"] = str(tmp / "xdg")
    results = []
    try:
        for case in build_cases(tmp, args.only):
            result = run_case(case, env)
            print(
                f"{'ok ' if result['ok'] else 'BAD'} {result['case']}: {result['message'][:100]}",
                file=sys.stderr,
            )
            results.append(result)
    finally:
        for mount in (tmp / "tiny_fs", tmp / "ro_fs"):
            if mount.is_dir() and os.path.ismount(mount):
                subprocess.run(["umount", str(mount)], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()[0]
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = {
        "machine": {"cpus": os.cpu_count(), "load_average_1min": round(load, 1)},
        "launcher_peak_rss_mb": round(floor),  # a child's figure is never below this (see real_checkpoint)
        "cases": results,
    }
    text = json.dumps(report, indent=1, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
