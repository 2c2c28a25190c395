"""Every way labels change lands in the edit log, signed by who did it: the command line's
segment edits, imports, accepting predictions, deleting a class (and undoing that), restoring
a logged edit. On both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.model.spec import InputSpec
from core.project import actions, open_project
from core.store import Store, open_store
from core.store.records import ModelState, RunStatus
from main import main
from tests.core.interchange_helpers import add_video


@pytest.fixture
def shared(backend_url: str) -> Iterator[tuple[str, Store, int]]:
    store = open_store(backend_url)
    video = add_video(store)  # "clip one.mp4", 120 frames
    for name in ("walk", "run"):
        store.classes.add(name)
    version = store.models.add(
        "tiny",
        "/nowhere.safetensors",
        ["background", "walk", "run"],
        InputSpec().to_json(),
        "trunk",
        ModelState.READY,
    )
    store.models.set_active(version.id)
    starts = np.arange(0, 105, 8)
    probs = np.tile(np.float32([0.9, 0.05, 0.05]), (len(starts), 1))
    probs[(starts >= 56) & (starts < 88)] = [0.05, 0.05, 0.9]  # "run" around frames 56–103
    run = store.predictions.start_run(video.id, version.id, 8, len(starts))
    store.predictions.add_windows(run.id, starts, probs)
    store.predictions.finish(run.id, RunStatus.COMPLETE)
    try:
        yield backend_url, store, video.id
    finally:
        store.close()


def _cli(url: str, annotator: str, *argv: str) -> None:
    assert main(["--db", url, "--annotator", annotator, *argv]) == 0


def test_every_label_change_is_logged_with_its_author(
    shared: tuple[str, Store, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, store, video = shared

    def new_entries() -> list[tuple[str, str, int, int]]:
        entries = store.edit_log.list(video)[seen:]
        return [(e.annotator, e.action, e.start_frame, e.end_frame) for e in entries]

    seen = 0
    _cli(url, "ann", "segments", "add", str(video), "0", "20", "walk")
    assert new_entries() == [("ann", "Label frames", 0, 20)]
    seen += 1

    src = tmp_path / "in.csv"
    src.write_text("video,class,start_frame,end_frame\nclip one.mp4,walk,30,40\n")
    _cli(url, "bob", "import", "--format", "csv", str(src))
    assert new_entries() == [("bob", "Import labels", 30, 40)]
    seen += 1

    _cli(url, "carol", "accept-predictions", str(video), "--fill-unlabelled-only")
    entries = new_entries()
    assert entries and {(a, t) for a, t, _, _ in entries} == {("carol", "Fill unlabelled from predictions")}
    seen += len(entries)

    capsys.readouterr()
    _cli(url, "dan", "segments", "list", str(video))
    walk_id = next(
        line.split("\t")[0] for line in capsys.readouterr().out.splitlines() if "\twalk\t0\t20\t" in line
    )
    _cli(url, "dan", "segments", "remove", walk_id)
    assert new_entries() == [("dan", "Delete label", 0, 20)]
    seen += 1

    _cli(url, "erin", "log", "restore", str(store.edit_log.list(video)[-1].id))
    assert new_entries() == [("erin", f"Restore edit {store.edit_log.list(video)[-2].id}", 0, 20)]
    assert [(s.class_name, s.start_frame) for s in store.segments.list(video, 0, 20)] == [("walk", 0)]
    seen += 1

    _cli(url, "fay", "classes", "remove", "run")  # its accepted segments go with it
    (gone,) = new_entries()
    assert gone[:2] == ("fay", "Delete class run")
    assert all(s.class_name != "run" for s in store.segments.list(video))
    seen += 1

    gus = open_project(url, annotator="gus")  # the app's path: delete a class, then undo
    try:
        change = actions.delete_class(gus, store.classes.by_name("walk").id)
        assert change is not None
        gus.undo(change)
    finally:
        gus.close()
    assert [(a, t) for a, t, _, _ in new_entries()] == [
        ("gus", "Delete class walk"),
        ("gus", "Undo Delete class walk"),
    ]
    assert ("walk", 30, 40) in [
        (s.class_name, s.start_frame, s.end_frame) for s in store.segments.list(video)
    ]
