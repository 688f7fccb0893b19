"""Real stores for tests: SQLite files and PostgreSQL schemas (used by tests/store, tests/api and later tests/review).

Every test session gets its own PostgreSQL schema, so parallel runs and other suites sharing the ``test``
database never see each other's rows; the schema is dropped at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from service.store import Base, Database, upgrade_database

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_test_url() -> str:
    """The server tests use: ``SCREENING_TEST_POSTGRES_URL`` or the local default."""
    return os.environ.get("SCREENING_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL)


def postgres_unreachable_reason(url: str) -> str | None:
    """Why PostgreSQL at ``url`` cannot be used, or None when it answers."""
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        return f"PostgreSQL at {make_url(url).render_as_string(hide_password=True)} is unreachable " \
               f"(set SCREENING_TEST_POSTGRES_URL): {str(exc.orig).strip().splitlines()[0]}"
    finally:
        engine.dispose()
    return None


@contextmanager
def scratch_postgres_schema(url: str) -> Iterator[str]:
    """Create a fresh schema on the server at ``url`` and yield a URL whose connections use it."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def empty_tables(url: str) -> None:
    """Delete every row of the store at ``url`` (children first), keeping the schema."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # The audit trail's triggers refuse deletes, on purpose; a test cleanup is the one place
                # allowed around them (replica mode skips ordinary triggers for this transaction only).
                connection.execute(text("SET LOCAL session_replication_role = replica"))
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
    finally:
        engine.dispose()


# --- fixtures (imported by the conftest.py of each suite that needs a store) -------------------------------


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    """A migrated PostgreSQL schema of its own for this test session (skips when no server answers)."""
    base = postgres_test_url()
    reason = postgres_unreachable_reason(base)
    if reason is not None:
        pytest.skip(reason)
    with scratch_postgres_schema(base) as url:
        upgrade_database(url)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated store: a fresh SQLite file, or the session's PostgreSQL schema emptied."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
        upgrade_database(url)
        return url
    url = str(request.getfixturevalue("postgres_schema_url"))
    empty_tables(url)
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """An open Database on ``database_url``."""
    db = Database(database_url)
    yield db
    db.dispose()
