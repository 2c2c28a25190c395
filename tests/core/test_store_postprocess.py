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
        assert again.postprocess.list() == [
            PostprocessSetting("run", 1, 0.5, 0.4, 1, 0),
            PostprocessSetting("walk", 3, 0.8, 0.35, 3, 0),
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
