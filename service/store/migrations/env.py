"""Alembic environment: migrations always run on a connection handed in by ``upgrade_database``.

Run from the command line instead with ``alembic -x url=... upgrade head`` and a configuration whose
``script_location`` points here; the URL then comes from ``-x url``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from service.store.database import make_engine
from service.store.tables import Base


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("pass the store URL with -x url=...")
    engine = make_engine(url)
    try:
        with engine.begin() as own_connection:
            _run(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; migrate a live store")
run_migrations_online()
