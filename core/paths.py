"""Where the label store and its companion files live on disk.

The database URL decides everything else: model checkpoints and the feature cache sit
beside the database they belong to, so copying a project folder keeps it whole.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import platformdirs
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

log = logging.getLogger(__name__)

APP_NAME = "c3d-labeller"
DB_ENV_VAR = "C3D_LABELLER_DB"
DB_FILENAME = "labels.sqlite3"


def user_data_dir() -> Path:
    """The per-user data folder, created so callers can write into it straight away."""
    path = Path(platformdirs.user_data_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_url() -> str:
    """A SQLite file in the user data folder, so a first start needs no configuration."""
    return f"sqlite:///{(user_data_dir() / DB_FILENAME).as_posix()}"


def resolve_db_url(cli_value: str | None) -> str:
    """The command line wins over the environment, which wins over the default."""
    if cli_value:
        return _as_url(cli_value)
    env_value = os.environ.get(DB_ENV_VAR, "").strip()
    if env_value:
        return _as_url(env_value)
    return default_db_url()


def sqlite_file(url: str) -> Path | None:
    """The database file behind a file-based SQLite URL; None for memory or server databases."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def files_dir_for(url: str) -> Path:
    """Checkpoints and caches go beside a SQLite file (``<stem>_files/``), else in user data."""
    db_file = sqlite_file(url)
    if db_file is not None:
        path = db_file.absolute().parent / f"{db_file.stem}_files"
    else:
        path = user_data_dir() / "files" / _server_folder_name(url)
    path.mkdir(parents=True, exist_ok=True)
    return path


def to_stored(path: str | Path, files_dir: Path) -> str:
    """How the store records a file: relative (POSIX) when under the project's files folder.

    A project moved or copied with its files folder then still finds its models and caches;
    a file elsewhere keeps its absolute path.
    """
    absolute = Path(path).expanduser().absolute()
    try:
        return absolute.relative_to(files_dir.absolute()).as_posix()
    except ValueError:
        return str(absolute)


def from_stored(text: str, files_dir: Path) -> str:
    """The file a stored path means: relative ones are under the project's files folder."""
    path = Path(text)
    return str(path if path.is_absolute() else files_dir / path)


_UNSAFE_FILE_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f]+')


def safe_file_stem(name: str, fallback: str = "file") -> str:
    """``name`` made valid as a file name on Windows, macOS and Linux (no ``:``, ``/``, …)."""
    clean = _UNSAFE_FILE_CHARS.sub("-", name).strip(" .-")
    return clean[:100] or fallback


def _server_folder_name(url: str) -> str:
    """One folder per database, so two projects on one server never share checkpoints."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "other"
    parts = (parsed.get_backend_name(), parsed.host or "local", str(parsed.port or ""), parsed.database or "")
    return "-".join(re.sub(r"[^A-Za-z0-9_.]+", "_", p) for p in parts if p)


def _as_url(value: str) -> str:
    """Accept a bare file path as well as a URL, since users type paths far more often."""
    value = value.strip()
    if value.startswith(("postgresql://", "postgres://")):
        # We ship psycopg 3; SQLAlchemy's bare "postgresql://" would look for psycopg2.
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    if "://" in value:
        return value
    path = Path(value).expanduser().absolute()
    log.debug("Treating %s as a SQLite file path", path)
    return f"sqlite:///{path.as_posix()}"
