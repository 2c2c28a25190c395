"""Opening the label store: engine, SQLite settings, migrations, recovery from corruption.

The engine and session factory are built once here and shared by every repository; each
repository call is its own short transaction unless it runs inside ``store.unit()``, which
makes everything one action writes a single transaction. Any thread may use the store.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from core.atomic import remove_debris
from core.errors import StoreError
from core.paths import files_dir_for, sqlite_file, to_stored
from core.store import migrate
from core.store.classes import ClassRepository
from core.store.codings import CodingRepository
from core.store.editlog import EditLogRepository
from core.store.features import FeatureRepository
from core.store.feed import ChangeFeedRepository
from core.store.guard import APPLICATION_ID, check_sqlite_file, missing_driver_message
from core.store.imports import ImportRepository
from core.store.models import ModelRepository
from core.store.orm import FeatureCacheRow, ModelVersionRow, SettingsRow
from core.store.postprocess import PostprocessRepository
from core.store.predictions import PredictionRepository
from core.store.segments import SegmentRepository
from core.store.tracks import TrackRepository, ensure_defaults
from core.store.unit import READ_ONLY_OPTION, Listener, UnitOfWork, Units, explain, retry_busy, units_for
from core.store.videos import VideoRepository
from core.store.work import WorkRepository

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
"""SQLite's own wait for a competing writer; ``unit.retry_busy`` keeps waiting visibly after it."""

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",  # readers never block the writer
    "PRAGMA foreign_keys=ON",  # SQLite ignores ON DELETE CASCADE without it
    "PRAGMA synchronous=FULL",  # a power cut must not lose a committed label
)

_CORRUPT_MESSAGES = ("file is not a database", "database disk image is malformed")


@dataclass
class Store:
    """The open label store; build once at start-up and pass it to whoever needs it."""

    url: str
    engine: Engine
    session_factory: sessionmaker[Session]
    files_dir: Path
    tracks: TrackRepository
    classes: ClassRepository
    videos: VideoRepository
    segments: SegmentRepository
    models: ModelRepository
    predictions: PredictionRepository
    features: FeatureRepository
    imports: ImportRepository
    postprocess: PostprocessRepository
    recovered_from: Path | None = None
    """Where an unreadable database was moved before a fresh one was made, to tell the user."""
    notice: str | None = None
    """Something the user should hear about the file itself (an empty file became a store)."""

    @property
    def edit_log(self) -> EditLogRepository:
        """Who changed what, per video (team mode)."""
        return EditLogRepository(self.session_factory)

    @property
    def codings(self) -> CodingRepository:
        """Annotators' independent codings of a video, for agreement (team mode)."""
        return CodingRepository(self.session_factory)

    @property
    def work(self) -> WorkRepository:
        """The claim queue and to-label → labelled → reviewed states (team mode)."""
        return WorkRepository(self.session_factory)

    @property
    def change_feed(self) -> ChangeFeedRepository:
        """What each commit changed, for other apps; pruned as it ages (team mode)."""
        return ChangeFeedRepository(self.session_factory)

    @property
    def units(self) -> Units:
        return units_for(self.session_factory)

    @contextmanager
    def unit(self, action: str = "save the change") -> Iterator[UnitOfWork]:
        """One transaction for every repository call inside it on this thread (nested units join).

        It commits when the block ends and then tells the listeners what changed; an exception
        rolls everything back and tells no one. ``action`` completes "Could not …".
        """
        with self.units.unit(action) as unit:
            yield unit

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(changes)`` after each commit (on the committing thread)."""
        self.units.subscribe(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self.units.unsubscribe(listener)

    def close(self) -> None:
        self.units.close()
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_store(url: str) -> Store:
    """Open (creating or upgrading as needed) the store at any SQLAlchemy URL.

    A SQLite file that is neither new, empty nor ours is refused before it is touched.
    """
    db_file = sqlite_file(url)
    notice = None
    if db_file is not None:
        notice = check_sqlite_file(db_file)
        try:
            db_file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Could not create the folder for the label database {db_file}: {exc.strerror or exc}."
            ) from exc
    recovered_from: Path | None = None
    engine = _build_engine(url)
    try:
        _prepare(engine)
    except DatabaseError as exc:
        engine.dispose()
        if db_file is None or not _is_corruption(exc):
            raise explain(exc, f"open the label database at {url}") from exc
        recovered_from = _move_aside(db_file)
        engine = _build_engine(url)
        try:
            _prepare(engine)
        except SQLAlchemyError as exc2:
            engine.dispose()
            raise explain(exc2, f"create a new label database at {url}") from exc2
    except SQLAlchemyError as exc:
        engine.dispose()
        raise explain(exc, f"open the label database at {url}") from exc
    except StoreError:
        engine.dispose()
        raise

    files_dir = files_dir_for(url)
    try:
        retry_busy(lambda: _relativize_paths(engine, files_dir), "open the label database")
    except SQLAlchemyError as exc:
        engine.dispose()
        raise explain(exc, f"open the label database at {url}") from exc
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    log.info("Opened label store %s", engine.url.render_as_string(hide_password=True))
    freed = remove_debris(files_dir)
    if freed:
        log.warning("Removed %.1f MB of files left by interrupted writes in %s", freed / 1e6, files_dir)
    return Store(
        url=url,
        engine=engine,
        session_factory=factory,
        files_dir=files_dir,
        tracks=TrackRepository(factory),
        classes=ClassRepository(factory),
        videos=VideoRepository(factory),
        segments=SegmentRepository(factory),
        models=ModelRepository(factory, files_dir),
        predictions=PredictionRepository(factory),
        features=FeatureRepository(factory, files_dir),
        imports=ImportRepository(factory),
        postprocess=PostprocessRepository(factory),
        recovered_from=recovered_from,
        notice=notice,
    )


def _build_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"'{url}' is not a database URL or path; try sqlite:///path/to/labels.sqlite3."
        ) from exc
    if parsed.get_backend_name() != "sqlite":
        try:
            return create_engine(parsed)
        except (NoSuchModuleError, ImportError) as exc:
            raise StoreError(missing_driver_message(url, parsed.get_backend_name())) from exc
    kwargs: dict[str, Any] = {}
    if parsed.database in (None, "", ":memory:"):
        # One shared connection, or each pooled connection would see its own empty database.
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    engine = create_engine(parsed, **kwargs)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    """Runs for every new connection: PRAGMAs are per connection, not per file."""
    # Let SQLAlchemy's "begin" hook emit BEGIN, so reads are transactional too.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_MS)}")
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    """Writers take the lock up front, so busy_timeout applies instead of a failed upgrade."""
    read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _prepare(engine: Engine) -> None:
    """Migrate, stamp our application id and add the defaults, waiting out a busy writer."""

    def prepare_once() -> None:
        migrate.upgrade(engine)
        if engine.dialect.name == "sqlite":
            _stamp_application_id(engine)
        with Session(engine) as session, session.begin():
            _ensure_defaults(session)

    retry_busy(prepare_once, "open the label database")


def _stamp_application_id(engine: Engine) -> None:
    """Mark the file as ours, so a later open can tell it from another program's database."""
    with engine.connect().execution_options(**{READ_ONLY_OPTION: True}) as conn:
        if conn.exec_driver_sql("PRAGMA application_id").scalar() == APPLICATION_ID:
            return  # the usual case: no write lock taken
    with engine.begin() as conn:
        conn.exec_driver_sql(f"PRAGMA application_id={APPLICATION_ID}")


def _ensure_defaults(session: Session) -> None:
    """A default track, and in each track the background class every unlabelled frame means."""
    ensure_defaults(session)
    if session.get(SettingsRow, 1) is None:
        session.add(SettingsRow(id=1, active_model_version_id=None))


def _relativize_paths(engine: Engine, files_dir: Path) -> None:
    """Older projects stored checkpoint and cache paths absolute: make those under the files
    folder relative, so a moved project keeps its models. Idempotent; runs at every open."""
    with Session(engine) as session, session.begin():
        rows: list[ModelVersionRow | FeatureCacheRow] = [
            *session.scalars(select(ModelVersionRow)),
            *session.scalars(select(FeatureCacheRow)),
        ]
        for row in rows:
            stored = row.checkpoint_path if isinstance(row, ModelVersionRow) else row.path
            if not Path(stored).is_absolute():
                continue
            relative = to_stored(stored, files_dir)
            if relative != stored:
                log.info("Storing %s relative to the project's files folder", stored)
                if isinstance(row, ModelVersionRow):
                    row.checkpoint_path = relative
                else:
                    row.path = relative


def _is_corruption(exc: DatabaseError) -> bool:
    orig = exc.orig
    return isinstance(orig, sqlite3.DatabaseError) and any(m in str(orig).lower() for m in _CORRUPT_MESSAGES)


def _move_aside(db_file: Path) -> Path:
    """Keep the unreadable file for the user (and its WAL, which must not meet a fresh database)."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target = db_file.with_name(f"{db_file.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = db_file.with_name(db_file.name + suffix)
        if source.exists():
            source.rename(target.with_name(target.name + suffix))
    log.warning("The label database %s could not be read; moved it to %s and started afresh", db_file, target)
    return target
