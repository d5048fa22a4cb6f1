"""Shared fixtures: one real embedded PostgreSQL per test session, a fresh database per test,
and federations of real gateway processes."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trustme

from gateway.store import EmbeddedPostgres, Store
from tests.federation.harness import Federation


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres") / "data")
    yield server
    server.stop()
    # A whole run leaves some 4 GB of test databases here, and pytest keeps the last three
    # runs' folders: removed now, so that runs in a row do not fill the disk.
    shutil.rmtree(server.data_dir, ignore_errors=True)


@pytest.fixture
async def database(postgres: EmbeddedPostgres) -> str:
    """DSN of a new, empty database."""
    return await postgres.ensure_database(f"test_{uuid.uuid4().hex[:16]}")


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    opened = await Store.connect(database)
    await opened.migrate()
    yield opened
    await opened.close()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def federation(
    tmp_path: Path, postgres: EmbeddedPostgres, ca: trustme.CA
) -> AsyncIterator[Federation]:
    federation = Federation(tmp_path, postgres, ca)
    yield federation
    federation.stop_all()
