"""Post-processing settings live in the project: saved per class, replaced on save, and a
project written before they existed gains the table without losing anything."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from core.store import Store, open_store
from core.store.migrate import alembic_config
from core.store.records import PostprocessSetting


def test_settings_are_saved_per_class_and_replaced(store: Store, db_url: str) -> None:
    assert store.postprocess.list() == []
    walk = PostprocessSetting("walk", 5, 0.7, 0.3, 4, 2)
    store.postprocess.save(walk)
    store.postprocess.save(PostprocessSetting("run", 1, 0.5, 0.4, 1, 0))
    store.postprocess.save(PostprocessSetting("walk", 3, 0.8, 0.35, 3, 0))
    with open_store(db_url) as again:
        first = again.tracks.default().id  # a setting saved without a track is the first track's
        assert again.postprocess.list() == [
            PostprocessSetting("run", 1, 0.5, 0.4, 1, 0, first),
            PostprocessSetting("walk", 3, 0.8, 0.35, 3, 0, first),
        ]


def test_a_project_from_before_gains_the_table_and_keeps_its_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        conn.execute(
            text(
                "INSERT INTO label_classes (name, name_key, color, position) "
                "VALUES ('walk', 'walk', '#ff0000', 1)"
            )
        )
    engine.dispose()
    with open_store(url) as store:
        assert "walk" in [c.name for c in store.classes.list()]
        store.postprocess.save(PostprocessSetting("walk", 1, 0.6, 0.2, 1, 0))
        assert [s.class_name for s in store.postprocess.list()] == ["walk"]
        with store.engine.connect() as conn:
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head


def test_settings_are_kept_per_track(backend_url: str) -> None:
    """Two tracks may both have a class "flash" (or their own "background"), tuned apart."""
    with open_store(backend_url) as store:
        light = store.tracks.add("light")
        store.postprocess.save(PostprocessSetting("background", 1, 0.6, 0.4, 1, 0))
        store.postprocess.save(PostprocessSetting("background", 5, 0.9, 0.2, 8, 3, track_id=light.id))
        first = store.tracks.default().id
        assert store.postprocess.list() == [PostprocessSetting("background", 1, 0.6, 0.4, 1, 0, first)]
        assert store.postprocess.list(light.id) == [
            PostprocessSetting("background", 5, 0.9, 0.2, 8, 3, light.id)
        ]
        store.tracks.remove(light.id)
        assert [s.track_id for s in store.postprocess.list()] == [first]


def test_settings_from_before_tracks_had_heads_belong_to_the_first_track(backend_url: str) -> None:
    engine = create_engine(backend_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0004")
        conn.execute(
            text(
                "INSERT INTO postprocess_settings (class_name, smoothing, open_threshold, close_threshold, "
                "min_length, fill_gaps) VALUES ('walk', 3, 0.7, 0.3, 2, 1)"
            )
        )
    engine.dispose()
    with open_store(backend_url) as store:
        first = store.tracks.default().id
        assert store.postprocess.list() == [PostprocessSetting("walk", 3, 0.7, 0.3, 2, 1, first)]
        second = store.tracks.add("head")
        store.postprocess.save(PostprocessSetting("walk", 1, 0.5, 0.4, 1, 0, second.id))
        assert len(store.postprocess.list(second.id)) == 1 and len(store.postprocess.list()) == 1
    engine = create_engine(backend_url)
    with engine.begin() as conn:  # and back: the first track's settings survive a downgrade
        command.downgrade(alembic_config(conn), "0004")
        rows = conn.execute(text("SELECT class_name, smoothing FROM postprocess_settings")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("walk", 3)]
