"""Connecting to the store (SQLite file or PostgreSQL) and bringing its schema up to date.

SQLite runs in WAL mode with ``synchronous=NORMAL``: readers never block the single writer and a commit
costs no fsync (the WAL is synced at checkpoints), which is durable against a process crash, though the last
commits may be lost on power failure. PostgreSQL keeps its own defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.errors import StoreError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: How long a SQLite connection waits for another one's write lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 10_000

#: Arbitrary constant: the PostgreSQL advisory lock held while migrating, so workers never race.
_MIGRATION_LOCK_KEY = 0x5C3EE41


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the pragmas and pool this service expects."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 10})
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    return create_engine(parsed, pool_size=10, max_overflow=10, pool_pre_ping=True)


@contextmanager
def store_errors(action: str) -> Iterator[None]:
    """Turn database failures into StoreError naming what was being done."""
    try:
        yield
    except SQLAlchemyError as exc:
        # DBAPI errors carry the SQL and its parameters (record data) in str(exc); keep only the cause.
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        raise StoreError(f"store failed while {action}: {cause.__class__.__name__}: {cause}") from exc


class Database:
    """An engine and a session factory for one store URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def session(self, action: str) -> Iterator[Session]:
        """A session in a transaction, committed on success; database errors become StoreError."""
        with store_errors(action), self._sessions.begin() as session:
            yield session

    def ping(self) -> None:
        """Raise StoreError unless the store answers a trivial query."""
        with store_errors("checking the store"), self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config() -> Config:
    """An Alembic configuration pointing at the migrations shipped inside this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_database(url: str) -> None:
    """Create or migrate the store at ``url`` to the latest schema (safe to call on every start).

    On PostgreSQL an advisory lock makes concurrent callers (server workers starting together) wait for
    each other. On SQLite ``screening serve`` migrates once before starting its workers.
    """
    engine = make_engine(url)
    try:
        with store_errors("migrating the store"), engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Open the store at ``url``, migrating it first unless ``migrate`` is false."""
    if migrate:
        upgrade_database(url)
    return Database(url)
