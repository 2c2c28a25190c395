"""Shared fixtures: a real store in tmp_path, generated videos, one untrained model per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg_server import PostgresServer, find_pg_bin

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Converting the network for OpenVINO costs ~10-25 s per fresh project; tests of other features
# analyse through PyTorch. tests/core/test_openvino_backend.py lifts this for the engine's tests.
os.environ.setdefault("C3D_LABELLER_BACKEND", "torch")

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'labels.sqlite3'}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL cluster for the whole run; `make test` installs the server."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.fail("PostgreSQL's initdb and pg_ctl are missing: run `make postgres` (Debian's postgresql)")
    server = PostgresServer(bin_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test against the embedded SQLite store and a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'labels.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.new_url()


@pytest.fixture
def store(db_url: str) -> Iterator:
    from core.store import open_store

    s = open_store(db_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def untrained_model():  # type: ignore[no-untyped-def]
    """One seeded 4-class model for the whole run: building 78M parameters costs seconds."""
    from core.model.network import new_model

    return new_model(4, seed=0).eval()
