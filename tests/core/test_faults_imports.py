"""Imports hold the write lock only briefly: painted in memory, written in bulk, with the very
same result as painting label by label (checked against ``painting.write`` on random edits)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from core.store import open_store
from core.store.imports import ImportedSegment
from core.store.records import NewSegment, SegmentSource


def _state(store, video_id: int) -> list[tuple[str, int, int, str]]:  # type: ignore[no-untyped-def]
    return sorted(
        (s.class_name, s.start_frame, s.end_frame, s.source.value) for s in store.segments.list(video_id)
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bulk_import_paints_exactly_like_one_label_at_a_time(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    names = ["walk", "run", "sit"]
    stores = [open_store(f"sqlite:///{tmp_path / f'{k}.sqlite3'}") for k in ("bulk", "single")]
    try:
        videos = []
        for store in stores:
            for name in names[:2]:
                store.classes.add(name)
            videos.append(store.videos.add("/v/a.mp4", "h", 64, 48, 25.0, 400))
        ids = [{c.name: c.id for c in s.classes.list()} for s in stores]
        for _ in range(25):  # what the project already had, painted the usual way
            start = rng.randrange(0, 390)
            end = rng.randrange(start + 1, min(start + 40, 400) + 1)
            name = rng.choice(["background", *names[:2]])
            source = rng.choice(list(SegmentSource))
            for store, video, cls in zip(stores, videos, ids, strict=True):
                store.segments.add(video.id, NewSegment(cls[name], start, end, source))
        imported = []
        for _ in range(60):
            start = rng.randrange(0, 395)
            end = rng.randrange(start + 1, min(start + 30, 400) + 1)
            imported.append(ImportedSegment(rng.choice(names), start, end, rng.choice(list(SegmentSource))))
        bulk, single = stores
        assert bulk.imports.apply(["sit"], {videos[0].id: imported}) == len(imported)
        single.classes.add("sit")
        cls = {c.name: c.id for c in single.classes.list()}
        for seg in imported:
            single.segments.add(
                videos[1].id, NewSegment(cls[seg.class_name], seg.start_frame, seg.end_frame, seg.source)
            )
        assert _state(bulk, videos[0].id) == _state(single, videos[1].id)
        assert len(_state(bulk, videos[0].id)) > 10
    finally:
        for store in stores:
            store.close()


def test_import_touching_an_equal_label_joins_it_keeping_its_id(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'l.sqlite3'}") as store:
        walk = store.classes.add("walk")
        video = store.videos.add("/v/a.mp4", "h", 64, 48, 25.0, 100)
        first = store.segments.add(video.id, NewSegment(walk.id, 10, 20))
        store.imports.apply([], {video.id: [ImportedSegment("walk", 20, 30), ImportedSegment("walk", 5, 10)]})
        (joined,) = store.segments.list(video.id)
        assert (joined.id, joined.start_frame, joined.end_frame) == (first.id, 5, 30)
