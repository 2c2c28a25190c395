"""Label classes: naming rules, colours, shortcuts, and deleting with or without reassigning."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.errors import StoreError
from core.store import Store, open_store
from core.store.classes import PALETTE
from core.store.records import BACKGROUND, NewSegment, SegmentSource


@pytest.fixture
def store(backend_url: str) -> Iterator[Store]:
    with open_store(backend_url) as opened:
        yield opened


def test_add_strips_names_and_picks_palette_colours(store: Store) -> None:
    walk = store.classes.add("  walk  ")
    run = store.classes.add("run", shortcut="r")
    assert walk.name == "walk"
    assert (walk.color, run.color) == PALETTE[:2]
    assert run.shortcut == "r"
    assert [c.name for c in store.classes.list()] == [BACKGROUND, "walk", "run"]
    assert store.classes.get(run.id) == run


def test_explicit_colour_is_validated(store: Store) -> None:
    assert store.classes.add("jump", color="#A0B0C0").color == "#a0b0c0"
    with pytest.raises(StoreError, match="#rrggbb"):
        store.classes.add("sit", color="red")


@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_empty_name_is_refused(store: Store, name: str) -> None:
    with pytest.raises(StoreError, match="needs a name"):
        store.classes.add(name)


@pytest.mark.parametrize("name", ["Walk", " WALK", "walk "])
def test_duplicate_name_ignores_case_and_spaces(store: Store, name: str) -> None:
    store.classes.add("walk")
    with pytest.raises(StoreError, match="already exists"):
        store.classes.add(name)
    with pytest.raises(StoreError, match="already exists"):
        store.classes.add("Background")


def test_by_name_is_case_and_space_insensitive(store: Store) -> None:
    walk = store.classes.add("slow walk")
    assert store.classes.by_name("  Slow   WALK ") == walk
    assert store.classes.by_name("run") is None


def test_rename_checks_duplicates_and_protects_background(store: Store) -> None:
    walk = store.classes.add("walk")
    store.classes.add("run")
    assert store.classes.rename(walk.id, "Walking").name == "Walking"
    assert store.classes.rename(walk.id, "WALKING").name == "WALKING"  # a change of case only is fine
    with pytest.raises(StoreError, match="already exists"):
        store.classes.rename(walk.id, "Run")
    background = store.classes.by_name(BACKGROUND)
    assert background is not None
    with pytest.raises(StoreError, match="cannot be renamed"):
        store.classes.rename(background.id, "nothing")


def test_update_colour_and_shortcut(store: Store) -> None:
    walk = store.classes.add("walk", shortcut="w")
    run = store.classes.add("run")
    assert store.classes.update(walk.id, color="#112233").color == "#112233"
    assert store.classes.get(walk.id).shortcut == "w"  # untouched when not given
    with pytest.raises(StoreError, match="already used by 'walk'"):
        store.classes.update(run.id, shortcut="w")
    assert store.classes.update(walk.id, shortcut=None).shortcut is None
    assert store.classes.update(run.id, shortcut="w").shortcut == "w"


def test_unknown_class_id_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no label class with id 999"):
        store.classes.get(999)


def test_background_cannot_be_deleted(store: Store) -> None:
    background = store.classes.by_name(BACKGROUND)
    assert background is not None
    with pytest.raises(StoreError, match="cannot be deleted"):
        store.classes.remove(background.id)


def test_remove_deletes_its_segments(store: Store) -> None:
    walk = store.classes.add("walk")
    run = store.classes.add("run")
    video = store.videos.add("/v/a.mp4", "h", 64, 48, 25.0, 100)
    store.segments.paint(video.id, [NewSegment(walk.id, 0, 10), NewSegment(run.id, 10, 20)])
    store.classes.remove(walk.id)
    assert [(s.class_name, s.start_frame) for s in store.segments.list(video.id)] == [("run", 10)]
    assert store.classes.by_name("walk") is None


def test_remove_with_reassign_moves_and_joins_segments(store: Store) -> None:
    walk = store.classes.add("walk")
    run = store.classes.add("run")
    video = store.videos.add("/v/a.mp4", "h", 64, 48, 25.0, 100)
    store.segments.paint(
        video.id,
        [NewSegment(walk.id, 0, 10), NewSegment(run.id, 10, 20), NewSegment(walk.id, 30, 40)],
    )
    with pytest.raises(StoreError, match="different class"):
        store.classes.remove(walk.id, reassign_to=walk.id)
    store.classes.remove(walk.id, reassign_to=run.id)
    spans = [(s.class_id, s.start_frame, s.end_frame) for s in store.segments.list(video.id)]
    assert spans == [(run.id, 0, 20), (run.id, 30, 40)]
    assert store.segments.list(video.id)[0].source is SegmentSource.HUMAN


def test_restore_brings_a_deleted_class_back_with_its_id_and_place(store) -> None:  # type: ignore[no-untyped-def]
    walk = store.classes.add("walk", shortcut="w")
    store.classes.add("run")
    store.classes.remove(walk.id)
    back = store.classes.restore(walk)
    assert back == walk
    assert [c.name for c in store.classes.list()] == ["background", "walk", "run"]
    with pytest.raises(StoreError, match="id is in use"):
        store.classes.restore(walk)
